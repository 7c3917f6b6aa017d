"""The engagement sentences of the report's findings, read back from the saved team table."""

from __future__ import annotations
import pandas as pd
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import format_percent, not_analysed


def findings_engagement(params: Params) -> list[str]:
    """Teams attending at least 80% of the events offered, and milestones completed of those due
    (from tables/engagement_by_team.csv; a sentence saying why when it was not produced)."""
    t = read_table(params, "engagement_by_team")
    if t is None:
        return [not_analysed("Engagement was", "engagement_by_team", "no events or attendance data, or the engagement notebook did not run")]
    out = []
    rate = pd.to_numeric(t.get("attendance_rate"), errors="coerce")
    if rate is not None and rate.notna().any():
        scale = 100 if rate.max() <= 1 else 1
        rate = rate * scale
        out.append(f"{int((rate >= 80).sum())} of {int(rate.notna().sum())} teams attended at least 80% of the "
                   f"collaborative events offered (median attendance {format_percent(rate.median())}).")
    if {"milestones_due", "milestones_done"} <= set(t.columns):
        due, done = float(t["milestones_due"].sum()), float(t["milestones_done"].sum())
        if due:
            out.append(f"Teams completed {done:.0f} of the {due:.0f} milestones due ({format_percent(100 * done / due)}).")
    return out or ["Engagement: the engagement table has no attendance or milestone data."]
