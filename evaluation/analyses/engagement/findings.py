"""The engagement sentences of the report's findings, in plain words, read back from the saved team table; and
the section's headline for the executive summary, with the attendance figure that shows it."""

from __future__ import annotations
import pandas as pd
from evaluation.analyses.wording import HeadlineText, long_date
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import format_percent, not_analysed

ATTENDANCE_FIGURE = "engagement_heatmap"  # attendance by team and month; its caption counts the teams at 80%
GOOD_ATTENDANCE = 80  # % of events attended that the collaborative asks of a team


def _attendance(t: pd.DataFrame) -> pd.Series | None:
    """Each team's attendance rate in percent (of the events with an attendance record), or None."""
    rate = pd.to_numeric(t.get("attendance_rate"), errors="coerce")
    if rate is None or not rate.notna().any():
        return None
    return rate * (100 if rate.max() <= 1 else 1)


def _not_recorded(t: pd.DataFrame) -> int:
    return int(pd.to_numeric(t.get("events_not_recorded", pd.Series(dtype=float)), errors="coerce").fillna(0).sum())


def findings_engagement(params: Params) -> list[str]:
    """Teams attending at least 80% of the events offered, the median team's attendance, and the milestones
    done of those due by the data date (from tables/engagement_by_team.csv; a sentence saying why when it was
    not produced)."""
    t = read_table(params, "engagement_by_team")
    if t is None:
        return [not_analysed("Engagement was", "engagement_by_team", "no events or attendance data, or the engagement notebook did not run")]
    out = []
    rate = _attendance(t)
    if rate is not None:
        missing = _not_recorded(t)
        out.append(f"Of the {int(rate.notna().sum())} teams, {int((rate >= GOOD_ATTENDANCE).sum())} attended at least "
                   f"{GOOD_ATTENDANCE}% of the collaborative events offered to them, and the median team attended "
                   f"{format_percent(rate.median())}" + (f" (the {missing:,} team-events with no attendance record are "
                                                          "left out)." if missing else "."))
    if {"milestones_due", "milestones_done"} <= set(t.columns):
        due, done = float(t["milestones_due"].sum()), float(t["milestones_done"].sum())
        if due:
            by = f" by {long_date(params.as_of)}" if params.as_of else ""
            on_time = (f", {t['milestones_done_on_time'].sum():.0f} of them on time"
                       if "milestones_done_on_time" in t.columns else "")
            out.append(f"Teams completed {done:.0f} of the {due:.0f} accountability milestones due{by} "
                       f"({format_percent(100 * done / due)}){on_time}.")
    return out or ["Engagement: the engagement table has no attendance or milestone data."]


def headline_engagement(params: Params) -> HeadlineText | None:
    """The median team's attendance and the teams at 80% or more, shown by the attendance heatmap."""
    t = read_table(params, "engagement_by_team")
    rate = None if t is None else _attendance(t)
    if rate is None:
        return None
    return (f"The median team attended {format_percent(rate.median())} of the collaborative's events, and "
            f"{int((rate >= GOOD_ATTENDANCE).sum())} of the {int(rate.notna().sum())} teams attended at least "
            f"{GOOD_ATTENDANCE}%.", ATTENDANCE_FIGURE)
