"""Groups of patients and caps on teams drawn: one subgroup parser and one kind of team selection.

Every analysis reports ``all`` first, then one group per value of each of the params' ``subgroups``
(``track=initial``, ``condition=diabetes``, ``sex=F``...). A per-team figure with more teams than fit on a
page draws a selection, and its caption says which (:class:`TeamCap`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from .errors import ParamsError
from .labels import conditions

TEAM = "team"  # the subgroup name of one group per team (its values are team_id)


def subgroup_members(patients: pd.DataFrame, teams: pd.DataFrame | None = None,
                     subgroups: Iterable[str] = ()) -> pd.DataFrame:
    """One row per (patient, group): ``all`` for everyone, then per subgroup one group per value, sorted.

    ``condition`` gives one group per condition flag set to 1 (a patient can be in several: these groups
    overlap); ``team`` one per team_id; any other name is a column of patients.csv, or of teams.csv joined
    on team_id (``setting``, ``state``). A patient with no value is in no group of that subgroup.
    """
    ids = patients["patient_id"].to_numpy()
    frames = [pd.DataFrame({"patient_id": ids, "group": "all"})]
    team_info = teams.drop_duplicates("team_id").set_index("team_id") if teams is not None else pd.DataFrame()
    for name in subgroups:
        if name == "condition":
            for flag in (c for c in conditions() if c in patients.columns):
                has = pd.to_numeric(patients[flag], errors="coerce").fillna(0).to_numpy() == 1
                frames.append(pd.DataFrame({"patient_id": ids[has], "group": f"condition={flag}"}))
            continue
        column = "team_id" if name == TEAM else name
        if column in patients.columns:
            values = patients[column]
        elif column in team_info.columns:
            values = patients["team_id"].map(team_info[column])
        else:
            known = sorted({"condition", TEAM, *patients.columns, *team_info.columns} - {"patient_id", "row", "team_id"})
            raise ParamsError(f"`subgroups` entries must be one of {', '.join(known)}; got {name!r}", key="subgroups")
        keep = values.notna().to_numpy()
        labels = values[keep].astype(str).to_numpy()
        order = np.argsort(labels, kind="stable")
        frames.append(pd.DataFrame({"patient_id": ids[keep][order], "group": (f"{name}=" + pd.Series(labels[order])).to_numpy()}))
    return pd.concat(frames, ignore_index=True).drop_duplicates().reset_index(drop=True)


def group_rows(patient_ids: Iterable, members: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """``(group, row positions)`` of a table's rows (one patient id per row; a patient may have several rows)
    in each group of :func:`subgroup_members`, in its order; groups with no row are left out.

    One join and one sort, whatever the number of groups (1,000 teams of a statewide cohort)."""
    ids = pd.Series(list(patient_ids), dtype=object)
    group_codes, group_names = pd.factorize(members["group"], sort=False)
    rows = pd.DataFrame({"patient_id": ids.to_numpy(), "row": np.arange(len(ids))})
    joined = rows.merge(pd.DataFrame({"patient_id": members["patient_id"].to_numpy(), "code": group_codes}),
                        on="patient_id", how="inner")
    code = joined["code"].to_numpy()
    row = joined["row"].to_numpy()
    order = np.lexsort((row, code))
    code, row = code[order], row[order]
    bounds = np.searchsorted(code, np.arange(len(group_names) + 1))
    return [(str(name), row[bounds[i]:bounds[i + 1]]) for i, name in enumerate(group_names) if bounds[i + 1] > bounds[i]]


def group_masks(patient_ids: Iterable, members: pd.DataFrame, index: pd.Index | None = None) -> list[tuple[str, pd.Series]]:
    """As :func:`group_rows`, with a boolean mask per group (on ``index``) instead of positions; the ``all``
    group is kept even when the table has no rows."""
    ids = list(patient_ids)
    index = index if index is not None else pd.RangeIndex(len(ids))
    rows = dict(group_rows(ids, members))
    out = []
    for group in pd.unique(members["group"]):
        mask = np.zeros(len(ids), dtype=bool)
        mask[rows.get(group, [])] = True
        if mask.any() or group == "all":
            out.append((group, pd.Series(mask, index=index)))
    return out


@dataclass(frozen=True)
class TeamCap:
    """The teams a per-team figure draws, in drawing order, and the rule that chose them.

    When every team fits (``total`` <= the cap), ``teams`` is all of them and ``rule`` is empty. Otherwise
    ``teams[:split]`` is one end of a ranking and ``teams[split:]`` the other (``split`` None: one end only).
    """

    teams: list[str]
    total: int
    rule: str = ""
    split: int | None = None

    @property
    def capped(self) -> bool:
        return len(self.teams) < self.total

    def sentence(self, table: str) -> str:
        """' Shown: 30 of 1,000 teams, <rule>; every team is in tables/<table>.csv.' ('' when all are drawn)."""
        if not self.capped:
            return ""
        return f" Shown: {len(self.teams)} of {self.total:,} teams, {self.rule}; every team is in tables/{table}.csv."


def both_ends(ranked: list[str], n: int, *, total: int | None = None, rule: str = "") -> TeamCap:
    """The first ``n // 2`` and last ``n - n // 2`` of a ranking (all of it when it fits)."""
    total = len(ranked) if total is None else total
    if len(ranked) <= n:
        return TeamCap(list(ranked), total)
    return TeamCap(ranked[: n // 2] + ranked[len(ranked) - (n - n // 2):], total, rule, split=n // 2)


def first(ranked: list[str], n: int, *, total: int | None = None, rule: str = "") -> TeamCap:
    """The first ``n`` of a ranking (all of it when it fits)."""
    total = len(ranked) if total is None else total
    return TeamCap(list(ranked[:n]), total, rule if len(ranked) > n else "")
