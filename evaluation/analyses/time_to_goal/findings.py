"""What the report says about time to goal: one sentence per measure, read back from ``tables/time_to_goal.csv``
(so the report needs only the table the notebook saved), with small counts written as ``<11``."""

from __future__ import annotations
import math
from evaluation.core.disclosure import cohort_rows, format_count
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import as_number, not_analysed


def findings_time_to_goal(params: Params) -> list[str]:
    """Per measure, the median time to goal of the patients not at goal at baseline (or that fewer than half
    reached it); a sentence saying so when the table is missing or has no one followed."""
    t = read_table(params, "time_to_goal")
    if t is None:
        return [not_analysed("Time to goal was", "time_to_goal", "the time-to-goal notebook did not run")]
    out = []
    th = params.suppress_below
    for label, r, too_few in cohort_rows(t, ("n", "events"), th):
        if too_few:
            out.append(f"{label}: fewer than {th} patients (or goals reached) to report a time to goal.")
            continue
        n, events = as_number(r.n), as_number(r.events)
        med, lo, hi = as_number(r.median_days), as_number(r.median_ci_low), as_number(r.median_ci_high)
        if math.isnan(med):
            out.append(f"{label}: fewer than half of the {format_count(n, th)} patients not at goal at baseline "
                       f"reached it during follow-up ({format_count(events, th)} did).")
        else:
            ci = (f" (95% CI {lo:.0f} to {hi:.0f} days, {r.ci_method})" if not math.isnan(lo) and not math.isnan(hi)
                  else f" (upper confidence limit not reached, {r.ci_method})" if not math.isnan(lo) else "")
            out.append(f"{label}: half of the {format_count(n, th)} patients not at goal at baseline reached it "
                       f"within {med:.0f} days{ci}.")
    return out or ["No patient was below goal at baseline with follow-up."]
