"""Kaplan-Meier of time to goal by group: the median days to goal (``tables/time_to_goal.csv``), the share at
goal by each horizon (``tables/time_to_goal_by_day.csv``) and the curves the figures draw.

Groups are ``all``, then one per value of each reported subgroup (:func:`reported_subgroups`: the params'
``subgroups`` with ``team`` always), parsed by :func:`evaluation.core.groups.subgroup_members`. The estimator
and the log-rank test are :mod:`evaluation.stats.survival`'s.
"""

from __future__ import annotations
import math
from dataclasses import dataclass, field
import numpy as np
import pandas as pd
from evaluation.core.groups import TEAM, subgroup_members
from evaluation.core.labels import conditions
from evaluation.core.params import Params
from evaluation.stats.survival import NONE_FOLLOWED, KaplanMeier, logrank_test
from .compute import COMPETING, analysed_measures, goal_text

TIME_TO_GOAL_COLUMNS = ["measure", "group", "n", "events", "median_days", "median_ci_low", "median_ci_high",
                        "ci_method"]
TOO_SHORT = "not estimable (no one followed that long)"  # a share at a day beyond everyone's follow-up


def reported_subgroups(params: Params) -> list[str]:
    """The subgroups reported after ``all``: the params' ``subgroups``, with ``team`` (always reported in time
    to goal) after ``track``, or last."""
    chosen = list(params.subgroups)
    if TEAM not in chosen:
        chosen.insert(chosen.index("track") + 1 if "track" in chosen else len(chosen), TEAM)
    return chosen


def row_groups(d: pd.DataFrame, by: str | None) -> list[tuple[str, np.ndarray]]:
    """``(group, row positions)`` of the rows of ``d`` (each row one unit: a patient of one measure, or one MTP):
    ``all``, or one per value of the subgroup ``by`` (``track=initial``, ``team=T01``, ``condition=diabetes``),
    in :func:`~evaluation.core.groups.subgroup_members`' order; groups with no row are left out. Conditions
    overlap (a patient can have several), so their groups are not a partition.

    The rows are the units given to the parser (their positions as ids), so a row's own value decides its
    group (an MTP's category, not its patient's) and the positions come straight from the parse: one pass
    however many groups (1,000 teams).
    """
    if by is None:
        return [("all", np.arange(len(d)))]
    if by == "condition":
        columns = [c for c in conditions() if c in d.columns]
    else:
        columns = ["team_id" if by == TEAM else by]
        if columns[0] not in d.columns:
            raise KeyError(f"cannot group by {by!r}: the data have no {columns[0]!r} column")
    units = pd.DataFrame({c: d[c].to_numpy() for c in columns}).assign(patient_id=np.arange(len(d)))
    members = subgroup_members(units, None, [by])
    members = members[members["group"] != "all"]
    return [(group, rows.to_numpy()) for group, rows in members.groupby("group", sort=False)["patient_id"]]


@dataclass
class KaplanMeierGroups:
    """Kaplan-Meier of one measure for ``all`` or for each group of one subgroup: tidy tables to draw."""

    measure: str
    by: str | None
    ci_method: str
    alpha: float
    summary: pd.DataFrame  # one row per group: n, events, median_days with CI, median_text
    curves: pd.DataFrame  # group, time, at_risk, events, censored, survival, ci_low, ci_high
    risk: pd.DataFrame  # group, time, at_risk, events, censored (cumulative) at the x-axis ticks
    logrank: pd.DataFrame  # comparison, test_statistic, df, p_value, note
    goal: str = ""
    fitters: dict[str, KaplanMeier] = field(default_factory=dict, repr=False)
    n_patients: int = 0  # patients analysed (across every group)
    n_groups: int = 0  # set when only some groups are drawn: how many groups the analysis has
    selection: str = ""  # set when only some groups are drawn: which, in words

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def tick_days(max_days: float) -> list[float]:
    """x-axis ticks (and at-risk table times): every 90 days, or 180 beyond two years."""
    step = 90 if max_days <= 730 else 180
    last = max(step, math.ceil(max(max_days, 1) / step) * step)
    return [float(t) for t in range(0, int(last) + 1, step)]


def group_logrank(d: pd.DataFrame, by: str | None, groups: list[tuple[str, np.ndarray]]) -> pd.DataFrame:
    """Log-rank across the groups of a partition; for overlapping conditions, each condition vs the rest."""
    columns = ["comparison", "groups", "test_statistic", "df", "p_value", "note"]
    if by is None:
        return pd.DataFrame(columns=columns)

    def test(comparison: str, durations, group_of, events) -> dict:
        present = pd.Series(group_of).nunique()
        if present < 2:
            return {"comparison": comparison, "groups": present, "test_statistic": np.nan, "df": np.nan,
                    "p_value": np.nan, "note": "fewer than two groups: no test"}
        if int(np.sum(events)) == 0:
            return {"comparison": comparison, "groups": present, "test_statistic": np.nan, "df": np.nan,
                    "p_value": np.nan, "note": "no events: no test"}
        stat, df, p = logrank_test(durations, group_of, events)
        return {"comparison": comparison, "groups": present, "test_statistic": stat, "df": df, "p_value": p, "note": ""}

    if by == "condition":
        rows = []
        for label, rows_in in groups:
            with_it = np.zeros(len(d), dtype=bool)
            with_it[rows_in] = True
            rows.append(test(f"{label} vs without", d["days"], np.where(with_it, "with", "without"), d["event"]))
    else:
        column = "team_id" if by == TEAM else by
        keep = d[column].notna()
        rows = [test(f"across {by}", d.loc[keep, "days"], d.loc[keep, column], d.loc[keep, "event"])]
    return pd.DataFrame(rows, columns=columns)


def _stack(parts: list[dict[str, np.ndarray]], labels: list[str], columns: list[str]) -> pd.DataFrame:
    """One tidy frame from per-group arrays (a ``group`` column first), built once rather than per group."""
    if not parts:
        return pd.DataFrame(columns=columns)
    sizes = [len(p["time"]) for p in parts]
    out = {"group": np.repeat(np.array(labels, dtype=object), sizes)}
    for col in columns[1:]:
        out[col] = np.concatenate([p[col] for p in parts])
    return pd.DataFrame(out, columns=columns)


def km_groups(d: pd.DataFrame, by: str | None, ci_method: str, alpha: float, name: str, goal: str = "",
              competing: pd.Series | None = None, logrank: bool = True) -> KaplanMeierGroups:
    """Kaplan-Meier of ``d`` (``days``, ``event``: one row per unit followed) overall or by ``by``.

    ``name`` is the measure (or ``mtp_resolution``); ``competing`` marks the rows that ended in a competing
    exit (counted per group in ``summary``); ``logrank=False`` leaves the log-rank test out.
    """
    groups = row_groups(d, by)
    days, event = d["days"].to_numpy(float), d["event"].to_numpy()
    comp = competing.to_numpy(bool) if competing is not None else None
    rows, curves, risks, fitters = [], [], [], {}
    ticks = tick_days(d["days"].max() if len(d) else 0)
    for label, at in groups:
        km = KaplanMeier(ci_method, alpha).fit(days[at], event[at], label=label)
        fitters[label] = km
        low, high = km.median_ci_
        row = {"measure": name, "group": label, "n": km.n_, "events": km.events_, "censored": int(len(at) - km.events_)}
        if comp is not None:
            row["competing"] = int(comp[at].sum())
        row |= {"median_days": km.median_, "median_ci_low": low, "median_ci_high": high, "ci_method": ci_method,
                "median_text": km.median_text}
        rows.append(row)
        curves.append(km.arrays)
        risks.append(km.at_arrays(ticks))
    labels = [label for label, _ in groups]
    summary = pd.DataFrame(rows) if rows else pd.DataFrame(columns=TIME_TO_GOAL_COLUMNS)
    curve_cols = ["group", "time", "at_risk", "events", "censored", "survival", "ci_low", "ci_high"]
    risk_cols = ["group", "time", "at_risk", "events", "censored"]
    return KaplanMeierGroups(
        measure=name, by=by, ci_method=ci_method, alpha=alpha, summary=summary,
        curves=_stack(curves, labels, curve_cols), risk=_stack(risks, labels, risk_cols),
        logrank=group_logrank(d, by if logrank else None, groups), goal=goal, fitters=fitters,
        n_patients=len(d))


def kaplan_meier(data: pd.DataFrame, params: Params, measure: str, by: str | None = None, *,
                 logrank: bool = True) -> KaplanMeierGroups:
    """Kaplan-Meier of time to goal for one measure, overall (``by=None``) or by a subgroup (track, team,
    condition...), from :func:`~evaluation.analyses.time_to_goal.compute.time_to_goal_data`.

    ``logrank=False`` leaves the log-rank test out (an empty ``logrank`` table), for callers that only read
    the curves.
    """
    d = data[(data["measure"] == measure) & data["followed"]]
    return km_groups(d, by, params.ci_method, params.alpha, measure, goal_text(params, measure),
                     competing=d["cause"] == COMPETING, logrank=logrank)


def km_by_measure(data: pd.DataFrame, params: Params, by: str | None = None) -> list[KaplanMeierGroups]:
    """:func:`kaplan_meier` for every analysed measure that has followed patients (for one figure each)."""
    out = [kaplan_meier(data, params, m, by) for m in analysed_measures(params)]
    return [km for km in out if km.n_patients > 0 and len(km.fitters) > 0]


def time_to_goal_table(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """``tables/time_to_goal.csv``: per measure and group, n, events, median days to goal with CI.

    Extra columns: censored, competing (exits for a competing reason, censored here), median_text (a
    median or CI bound that is not reached says so) and the log-rank p of the group's subgroup.
    """
    frames = []
    for m in analysed_measures(params):
        for by in [None, *reported_subgroups(params)]:
            km = kaplan_meier(data, params, m, by)
            s = km.summary.copy()
            s["logrank_p"] = np.nan
            if by == "condition":
                for label, p in zip(km.summary["group"], km.logrank["p_value"]):
                    s.loc[s["group"] == label, "logrank_p"] = p
            elif by is not None and len(km.logrank):
                s["logrank_p"] = km.logrank["p_value"].iat[0]
            frames.append(s)
    out = pd.concat(frames, ignore_index=True)
    first = TIME_TO_GOAL_COLUMNS
    return out[first + [c for c in out.columns if c not in first]]


LOGRANK_METHOD = "log-rank test (R survdiff, rho = 0): chi-square of observed minus expected events"
LOGRANK_COLUMNS = ["measure", "subgroup", "comparison", "groups", "chisq", "df", "p_value", "method", "note"]


def logrank_table(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """``tables/time_to_goal_logrank.csv``: per measure and reported subgroup, the log-rank chi-square, its
    degrees of freedom and p (the p that ``time_to_goal.csv`` carries), with the method; for the overlapping
    conditions one test per condition against the patients without it."""
    frames = []
    for m in analysed_measures(params):
        for by in reported_subgroups(params):
            lr = kaplan_meier(data, params, m, by).logrank
            if len(lr):
                frames.append(lr.rename(columns={"test_statistic": "chisq"}).assign(measure=m, subgroup=by,
                                                                                   method=LOGRANK_METHOD))
    if not frames:
        return pd.DataFrame(columns=LOGRANK_COLUMNS)
    out = pd.concat(frames, ignore_index=True)[LOGRANK_COLUMNS]
    out["groups"] = out["groups"].astype("Int64")
    out["df"] = out["df"].astype("Int64")
    return out


def at_goal_by_day(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """``tables/time_to_goal_by_day.csv``: % at goal by each of ``survival.horizons_days`` (1 - KM) with its
    CI, per measure and group."""
    horizons = [float(h) for h in params.survival["horizons_days"]]
    rows = []
    for m in analysed_measures(params):
        for by in [None, *reported_subgroups(params)]:
            km = kaplan_meier(data, params, m, by, logrank=False)
            for label, fitter in km.fitters.items():
                at = fitter.at_arrays(horizons)
                for i, time in enumerate(at["time"]):
                    survival = at["survival"][i]
                    pct, low, high = 100 * (1 - survival), 100 * (1 - at["ci_high"][i]), 100 * (1 - at["ci_low"][i])
                    if not fitter.n_:
                        text = NONE_FOLLOWED
                    elif np.isnan(pct):
                        text = TOO_SHORT
                    elif survival <= 0:
                        text = "100.0% (the Kaplan-Meier curve reaches 100%; no CI)"
                    else:
                        lo = "not estimable" if np.isnan(low) else f"{low:.1f}"
                        hi = "not estimable" if np.isnan(high) else f"{high:.1f}"
                        text = f"{pct:.1f}% ({100 * (1 - params.alpha):g}% CI {lo} to {hi}; {params.ci_method})"
                    rows.append({"measure": m, "group": label, "days": int(time), "n": fitter.n_,
                                 "at_risk": int(at["at_risk"][i]), "pct_at_goal": pct, "pct_ci_low": low,
                                 "pct_ci_high": high, "ci_method": params.ci_method, "text": text})
    return pd.DataFrame(rows, columns=["measure", "group", "days", "n", "at_risk", "pct_at_goal", "pct_ci_low",
                                       "pct_ci_high", "ci_method", "text"])


def by_day_wide(by_day: pd.DataFrame, groups_shown: tuple[str, ...] = ("all", "track=")) -> pd.DataFrame:
    """The % at goal texts of :func:`at_goal_by_day` with one column per horizon, for the groups named in
    ``groups_shown`` (a name ending in ``=`` stands for every group of that subgroup)."""
    keep = by_day[by_day["group"].map(lambda g: any(g == s or (s.endswith("=") and g.startswith(s))
                                                    for s in groups_shown))]
    wide = keep.pivot(index=["measure", "group"], columns="days", values="text")
    wide.columns = [f"by day {d}" for d in wide.columns]
    order = {m: i for i, m in enumerate(dict.fromkeys(by_day["measure"]))}
    wide = wide.reset_index()
    wide["_order"] = wide["measure"].map(order)
    wide["_all"] = wide["group"] != "all"
    return wide.sort_values(["_order", "_all", "group"]).drop(columns=["_order", "_all"]).reset_index(drop=True)
