"""TODO docstring analyses/value/findings."""

from __future__ import annotations
import math
from .figures import _money
from evaluation.core.disclosure import format_count, is_small
from evaluation.core.outputs import _read_table
from evaluation.core.params import Params
from evaluation.core.text import not_analysed


def findings_value(params: Params) -> list[str]:

    t = _read_table(params, "value")
    if t is None:
        return [not_analysed("Value and ROI were", "value", "the value notebook did not run")]
    th = params.suppress_below
    v = t[t["group"] == "all"].set_index("metric")["value"].astype(float)
    get = lambda m: float(v.get(m, math.nan))  # noqa: E731
    out = []
    labels = {"readmission": "Readmissions", "admission": "Admissions", "ed_visit": "ED visits"}
    for kind, label in labels.items():
        pre, post = get(f"{kind}_pre_events"), get(f"{kind}_post_events")
        if math.isnan(pre):
            continue
        if is_small([pre, post], th).any():
            out.append(f"{label}: fewer than {th} events in a window; not reported.")
            continue
        change = get(f"{kind}_change_pct")
        if math.isnan(change):
            continue
        rr, lo, hi = get(f"{kind}_rate_ratio"), get(f"{kind}_rate_ratio_ci_low"), get(f"{kind}_rate_ratio_ci_high")
        ci = f"; rate ratio {rr:.2f}, 95% CI {lo:.2f} to {hi:.2f}" if not math.isnan(lo) else ""
        out.append(f"{label} {'fell' if change < 0 else 'rose'} {abs(change):.0f}% after enrollment, from "
                   f"{get(f'{kind}_pre_rate_per_1000_pm'):.1f} to {get(f'{kind}_post_rate_per_1000_pm'):.1f} per 1,000 "
                   f"patient-months{ci}.")
    if not math.isnan(get("net_return")):
        out.append(f"Cost avoided {_money(get('cost_avoided'))} against a program cost of {_money(get('program_cost'))}: "
                   f"a net return of {_money(get('net_return'))} (net ROI {get('net_roi_pct'):.0f}%), or "
                   f"{_money(get('roi_per_patient'))} per patient.")
    elif not math.isnan(get("cost_avoided")):
        out.append(f"Cost avoided {_money(get('cost_avoided'))}; no program costs were given, so no ROI.")
    if not math.isnan(get("mtps_identified")):
        ident, res = get("mtps_identified"), get("mtps_resolved")
        pct = get("mtps_resolved_pct")
        share = (f", {pct:.0f}% of them confirmed resolved" if not is_small([res, ident - res], th).any() else "")
        days = get("median_days_to_resolution")
        out.append(f"Pharmacists identified {format_count(ident, th)} medication therapy problems "
                   f"({get('mtps_per_patient'):.1f} per patient){share}"
                   + (f"; the median time to resolution was {days:.0f} days." if not math.isnan(days) else "."))
    return out or ["The value analysis had no utilization, cost or MTP data."]
