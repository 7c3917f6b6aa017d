"""TODO docstring analyses/engagement/findings."""

from __future__ import annotations
import pandas as pd
from evaluation.core.outputs import _read_table
from evaluation.core.params import Params
from evaluation.core.text import not_analysed


def findings_engagement(params: Params) -> list[str]:
    t = _read_table(params, "engagement_by_team")
    if t is None:
        return [not_analysed("Engagement was", "engagement_by_team", "no events or attendance data, or the engagement notebook did not run")]
    out = []
    rate = pd.to_numeric(t.get("attendance_rate"), errors="coerce")
    if rate is not None and rate.notna().any():
        scale = 100 if rate.max() <= 1 else 1
        rate = rate * scale
        out.append(f"{int((rate >= 80).sum())} of {int(rate.notna().sum())} teams attended at least 80% of the "
                   f"collaborative events offered (median attendance {rate.median():.0f}%).")
    if {"milestones_due", "milestones_done"} <= set(t.columns):
        due, done = float(t["milestones_due"].sum()), float(t["milestones_done"].sum())
        if due:
            out.append(f"Teams completed {done:.0f} of the {due:.0f} milestones due ({100 * done / due:.0f}%).")
    return out or ["Engagement: the engagement table has no attendance or milestone data."]
