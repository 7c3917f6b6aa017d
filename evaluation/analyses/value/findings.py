"""The report's sentences on value and ROI, written from ``tables/value.csv`` (the value notebook's long table):
the change in acute-care use, the return on investment, and the medication therapy problems with their
Kaplan-Meier median time to resolution. A small count is never stated."""
from __future__ import annotations

import math
from typing import Callable

from .compute import resolution_phrase
from evaluation.core.disclosure import format_count, is_small
from evaluation.core.labels import event_kind_label
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import format_money, not_analysed

STORY_ORDER = ("readmission", "admission", "ed_visit")  # a performance story leads with readmissions


def findings_value(params: Params) -> list[str]:
    """One sentence per kind of acute-care use, one on the return, one on MTPs (the whole cohort)."""
    t = read_table(params, "value")
    if t is None:
        return [not_analysed("Value and ROI were", "value", "the value notebook did not run")]
    th = params.suppress_below
    v = t[t["group"] == "all"].set_index("metric")["value"].astype(float)

    def get(metric: str) -> float:
        return float(v.get(metric, math.nan))

    out = []
    for kind in STORY_ORDER:
        label = event_kind_label(kind)
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
        ci = f"; rate ratio {rr:.2f}, {100 * (1 - params.alpha):g}% CI {lo:.2f} to {hi:.2f}" if not math.isnan(lo) else ""
        out.append(f"{label} {'fell' if change < 0 else 'rose'} {abs(change):.0f}% after enrollment, from "
                   f"{get(f'{kind}_pre_rate_per_1000_pm'):.1f} to {get(f'{kind}_post_rate_per_1000_pm'):.1f} per 1,000 "
                   f"patient-months{ci}.")
    if not math.isnan(get("net_return")):
        out.append(f"Cost avoided {format_money(get('cost_avoided'))} against a program cost of "
                   f"{format_money(get('program_cost'))}: a net return of {format_money(get('net_return'))} "
                   f"(net ROI {get('net_roi_pct'):.0f}%), or {format_money(get('roi_per_patient'))} per patient.")
    elif not math.isnan(get("cost_avoided")):
        out.append(f"Cost avoided {format_money(get('cost_avoided'))}; no program costs were given, so no ROI.")
    if not math.isnan(get("mtps_identified")):
        out.append(mtp_sentence(get, params))
    return out or ["The value analysis had no utilization, cost or MTP data."]


def mtp_sentence(get: Callable[[str], float], params: Params) -> str:
    """MTPs identified, the share resolved and the Kaplan-Meier median days to resolution (``get`` reads a
    metric of the whole cohort from tables/value.csv). The share and the median are left out when they rest
    on a small count."""
    th = params.suppress_below
    ident, res = get("mtps_identified"), get("mtps_resolved")
    share = (f", {get('mtps_resolved_pct'):.0f}% of them confirmed resolved"
             if not is_small([res, ident - res], th).any() else "")
    median = resolution_phrase(get("median_days_to_resolution"), get("median_days_to_resolution_ci_low"),
                               get("median_days_to_resolution_ci_high"), res, params)
    return (f"Pharmacists identified {format_count(ident, th)} medication therapy problems "
            f"({get('mtps_per_patient'):.1f} per patient){share}" + (f"; {median}." if median else "."))
