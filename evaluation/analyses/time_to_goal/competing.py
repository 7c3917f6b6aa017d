"""Reaching goal when death or exit comes first: the cumulative incidence of reaching goal and of an exit for a
competing reason (``survival.competing_exit_reasons``), by the Aalen-Johansen estimator, beside 1 - Kaplan-Meier
(which censors those exits and so overstates the share reaching goal). ``tables/time_to_goal_competing.csv``.
"""

from __future__ import annotations
import numpy as np
import pandas as pd
from evaluation.core.params import Params
from evaluation.stats.survival import AalenJohansen, KaplanMeier
from .compute import COMPETING, GOAL, analysed_measures
from .kaplan_meier import reported_subgroups, row_groups

CURVE_COLUMNS = ["measure", "group", "time", "at_risk", "cif_goal", "cif_competing", "km_at_goal"]
BY_DAY_COLUMNS = ["measure", "group", "days", "n", "competing_exits", "pct_goal", "pct_competing_exit",
                  "pct_goal_ignoring_competing"]


def _fits(g: pd.DataFrame, label: str, params: Params) -> tuple[AalenJohansen, KaplanMeier]:
    """Aalen-Johansen of the causes and Kaplan-Meier of reaching goal (competing exits censored) of one group."""
    aj = AalenJohansen().fit(g["cause_days"], g["cause"], label=label)
    km = KaplanMeier(params.ci_method, params.alpha).fit(g["cause_days"], g["cause"] == GOAL)
    return aj, km


def cumulative_incidence(data: pd.DataFrame, params: Params, measure: str | None = None,
                         by: str | None = None) -> pd.DataFrame:
    """Aalen-Johansen curves of reaching goal and of a competing exit, and 1 - KM (which ignores competing exits).

    One measure, or every analysed measure when ``measure`` is None. Columns: measure, group, time, at_risk,
    cif_goal, cif_competing, km_at_goal (all as proportions).
    """
    if measure is None:
        frames = [cumulative_incidence(data, params, m, by) for m in analysed_measures(params)]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CURVE_COLUMNS)
    d = data[(data["measure"] == measure) & data["followed"]]
    frames = []
    for label, rows in row_groups(d, by):
        aj, km = _fits(d.iloc[rows], label, params)
        t = aj.table_["time"].to_numpy()
        frames.append(pd.DataFrame({"measure": measure, "group": label, "time": t, "at_risk": aj.table_["at_risk"],
                                    "cif_goal": aj.cumulative_incidence(GOAL, t),
                                    "cif_competing": aj.cumulative_incidence(COMPETING, t),
                                    "km_at_goal": 1 - km.at(t)["survival"].to_numpy()}))
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS] if frames else pd.DataFrame(columns=CURVE_COLUMNS)


def cumulative_incidence_by_day(data: pd.DataFrame, params: Params, by: str | None = None) -> pd.DataFrame:
    """% reaching goal and % exiting for a competing reason by each horizon, beside the 1 - KM figure.

    Not estimable (NaN, never 0) for a measure nobody was followed for, and at a horizon beyond everyone's
    follow-up (unless every patient had already reached goal or exited by then).
    """
    horizons = [float(h) for h in params.survival["horizons_days"]]
    rows = []
    for m in analysed_measures(params):
        d = data[(data["measure"] == m) & data["followed"]]
        for label, at in row_groups(d, by):
            g = d.iloc[at]
            aj, km = _fits(g, label, params)
            last = g["cause_days"].max()
            goal, comp = aj.cumulative_incidence(GOAL, horizons), aj.cumulative_incidence(COMPETING, horizons)
            ignoring = km.at(horizons)["survival"]
            for i, h in enumerate(horizons):
                late = not len(g) or (h > last and aj.table_["event_free"].iat[-1] > 0)
                rows.append({"measure": m, "group": label, "days": int(h), "n": len(g),
                             "competing_exits": int((g["cause"] == COMPETING).sum()),
                             "pct_goal": np.nan if late else 100 * goal[i],
                             "pct_competing_exit": np.nan if late else 100 * comp[i],
                             "pct_goal_ignoring_competing": 100 * (1 - ignoring.iat[i])})
    return pd.DataFrame(rows, columns=BY_DAY_COLUMNS)


def cumulative_incidence_by_group(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """``tables/time_to_goal_competing_by_group.csv``: :func:`cumulative_incidence_by_day` for ``all`` and then
    for each reported subgroup (track, team, condition, ...), every stratum's own Aalen-Johansen estimate."""
    frames = [cumulative_incidence_by_day(data, params, by) for by in [None, *reported_subgroups(params)]]
    frames = [f for f in frames if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BY_DAY_COLUMNS)
    order = {m: i for i, m in enumerate(analysed_measures(params))}
    return out.sort_values("measure", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
