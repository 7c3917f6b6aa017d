"""Milestones of the accountability pathway: which are due, done, on time, late or overdue, per team.

A milestone is *due* when ``due_on`` is on or before ``as_of``; *done* when ``completed_on`` is filled; *on
time* when done on or before ``due_on``; *overdue* when due and not done. Days late are ``completed_on -
due_on`` for done milestones, 0 when done early or on time.
"""

from __future__ import annotations
import numpy as np
import pandas as pd
from evaluation.core.params import Params
from evaluation.data.cohort import Cohort

# The milestone view of the team table (engagement_by_team) the notebook shows.
MILESTONE_COLUMNS = ["team_id", "track", "milestones_listed", "milestones_due", "milestones_done",
                     "milestones_done_on_time", "milestones_done_late", "milestones_overdue", "median_days_late"]


def milestone_status(cohort: Cohort, params: Params) -> pd.DataFrame | None:
    """One row per team and milestone: due?, done?, on time?, days late, and a status for the pathway chart.

    Status is one of done on time / done late / overdue / not yet due (see the module rules). None
    without a milestones file.
    """
    if not cohort.has("milestones"):
        return None
    as_of = pd.Timestamp(params.as_of)
    m = cohort.milestones[["team_id", "milestone", "due_on", "completed_on"]].merge(
        cohort.teams[["team_id", "track"]], on="team_id", how="left")
    done = m["completed_on"].notna()
    due = m["due_on"] <= as_of
    on_time = done & (m["completed_on"] <= m["due_on"])
    days = (m["completed_on"] - m["due_on"]).dt.days
    out = pd.DataFrame({
        "team_id": m["team_id"].astype(object), "track": m["track"].astype(object),
        "milestone": m["milestone"].astype(object), "due_on": m["due_on"], "completed_on": m["completed_on"],
        "is_due": due.to_numpy(), "done": done.to_numpy(), "on_time": on_time.to_numpy(),
        "days_late": days.clip(lower=0).astype(float).to_numpy(),
        "status": np.select([on_time, done, due], ["done on time", "done late", "overdue"], "not yet due"),
    })
    return out.sort_values(["team_id", "due_on", "milestone"], kind="stable").reset_index(drop=True)


def milestones_by_team(status: pd.DataFrame | None, teams: pd.DataFrame) -> pd.DataFrame:
    """Per team: milestones listed, due, done, done on time, done late, overdue; median days late; shares.

    ``milestones_done`` counts every completed milestone (also one finished before its due date);
    the shares are of due milestones: done-and-due / due and on-time-and-due / due. ``median_days_late``
    is over done milestones, counting early or on-time ones as 0 days late.
    """
    base = teams[["team_id", "track"]].astype(object).sort_values("team_id").reset_index(drop=True)
    cols = ["milestones_listed", "milestones_due", "milestones_done", "milestones_done_on_time",
            "milestones_done_late", "milestones_overdue"]
    if status is None:
        out = base.assign(**{c: pd.Series(pd.NA, index=base.index, dtype="Int64") for c in cols})
        return out.assign(median_days_late=np.nan, milestones_done_share=np.nan, milestones_on_time_share=np.nan)
    s = status.assign(
        milestones_listed=1, milestones_due=status["is_due"].astype(int), milestones_done=status["done"].astype(int),
        milestones_done_on_time=status["on_time"].astype(int),
        milestones_done_late=(status["done"] & ~status["on_time"]).astype(int),
        milestones_overdue=status["status"].eq("overdue").astype(int),
        _done_due=(status["done"] & status["is_due"]).astype(int),
        _on_time_due=(status["on_time"] & status["is_due"]).astype(int))
    counts = s.groupby("team_id")[cols + ["_done_due", "_on_time_due"]].sum()
    counts["median_days_late"] = s.loc[s["done"]].groupby("team_id")["days_late"].median()
    out = base.merge(counts.reset_index(), on="team_id", how="left")
    out[cols + ["_done_due", "_on_time_due"]] = out[cols + ["_done_due", "_on_time_due"]].fillna(0).astype(int)
    due = out["milestones_due"].where(out["milestones_due"] > 0)
    out["milestones_done_share"] = (out["_done_due"] / due).astype(float)
    out["milestones_on_time_share"] = (out["_on_time_due"] / due).astype(float)
    out["median_days_late"] = out["median_days_late"].astype(float)
    return out.drop(columns=["_done_due", "_on_time_due"])

