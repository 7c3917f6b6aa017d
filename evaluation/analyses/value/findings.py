"""The report's sentences on value and ROI, in plain words, written from ``tables/value.csv`` (the value
notebook's long table) and ``tables/value_sensitivity.csv``: the change in acute-care use, the return on
investment and how it depends on the assumptions, and the medication therapy problems with their Kaplan-Meier
median time to resolution (notebook 04's estimate, unresolved problems censored: the one estimate every output
gives). A small count is never stated. Also the section's headlines for the executive summary."""
from __future__ import annotations

import math
from typing import Callable

from evaluation.analyses.wording import HeadlineText, level, money, number
from evaluation.core.disclosure import format_count, is_small
from evaluation.core.labels import event_kind_label
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import format_days, format_percent, not_analysed

STORY_ORDER = ("readmission", "admission", "ed_visit")  # a performance story leads with readmissions
FIGURES = {"use": "value_utilization_rates", "roi": "value_roi", "mtps": "value_mtps"}  # value figures by headline
Metric = Callable[[str], float]  # a metric of the whole cohort from tables/value.csv (NaN when absent)


def _metrics(params: Params) -> Metric | None:
    t = read_table(params, "value")
    if t is None:
        return None
    v = t[t["group"] == "all"].set_index("metric")["value"].astype(float)
    return lambda metric: float(v.get(metric, math.nan))


def _windows(params: Params) -> str:
    """``in the 365 days after enrollment compared with the 365 days before``."""
    pre, post = params.windows["utilization_pre_days"], params.windows["utilization_post_days"]
    return f"in the {post:,} days after enrollment compared with the {pre:,} days before"


def _change_ci(lo: float, hi: float, params: Params) -> str:
    """The rate ratio's CI as a change: ``95% confidence interval: a fall of 24% to 74%``."""
    a, b = 100 * (lo - 1), 100 * (hi - 1)
    if b < 0:
        span = f"a fall of {-b:.0f}% to {-a:.0f}%"
    elif a > 0:
        span = f"a rise of {a:.0f}% to {b:.0f}%"
    else:
        span = f"from a fall of {-a:.0f}% to a rise of {b:.0f}%"
    return f"{level(params)} confidence interval: {span}"


def _use(get: Metric, kind: str, params: Params) -> tuple[float, str] | None:
    """(change in %, the sentence) for one kind of acute-care use; None when it is not in the table; the change
    NaN when a window has a small count of events."""
    label = event_kind_label(kind)
    th = params.suppress_below
    pre, post = get(f"{kind}_pre_events"), get(f"{kind}_post_events")
    if math.isnan(pre):
        return None
    if is_small([pre, post], th).any():
        return math.nan, f"{label}: fewer than {th} events before or after enrollment, too few to report."
    change = get(f"{kind}_change_pct")
    if math.isnan(change):
        return None
    lo, hi = get(f"{kind}_rate_ratio_ci_low"), get(f"{kind}_rate_ratio_ci_high")
    ci = f" ({_change_ci(lo, hi, params)})" if not (math.isnan(lo) or math.isnan(hi)) else ""
    return change, (f"{label} {'fell' if change < 0 else 'rose'} by {abs(change):.0f}% {_windows(params)}, from "
                    f"{number(get(f'{kind}_pre_rate_per_1000_pm'))} to {number(get(f'{kind}_post_rate_per_1000_pm'))} "
                    f"per 1,000 patient-months{ci}.")


def _return(get: Metric) -> str | None:
    """The net return on the program cost, in words."""
    if math.isnan(get("net_return")):
        if math.isnan(get("cost_avoided")):
            return None
        return f"The acute care avoided is valued at {money(get('cost_avoided'))}; no program costs were given, so there is no return to state."
    net, roi = get("net_return"), get("net_roi_pct")
    per_dollar = f"${abs(roi) / 100:,.2f}"
    per_patient = f"{money(abs(get('roi_per_patient')))} per patient"
    what = (f"a net return of {money(net)} ({per_patient}), or {per_dollar} for every dollar the program cost "
            f"(a net return on investment of {number(roi, 0)}%)" if net >= 0 else
            f"a net loss of {money(-net)} ({per_patient}; a net return on investment of {number(roi, 0)}%)")
    return (f"The acute care avoided is valued at {money(get('cost_avoided'))} against a program cost of "
            f"{money(get('program_cost'))}: {what}.")


def _sensitivity(params: Params) -> str | None:
    """How many of the sensitivity table's assumptions give a positive return, and the least favourable one."""
    s = read_table(params, "value_sensitivity")
    if s is None or s.empty or not {"cost_multiplier", "attribution_share", "net_return", "net_roi_pct"} <= set(s.columns):
        return None
    worst = s.loc[s["net_roi_pct"].astype(float).idxmin()]
    return (f"Under the {len(s)} combinations of cost per event ({s['cost_multiplier'].min():g} to "
            f"{s['cost_multiplier'].max():g} times the estimate) and share of the change credited to the program "
            f"({format_percent(100 * s['attribution_share'].min())} to {format_percent(100 * s['attribution_share'].max())}), "
            f"the net return is positive in {int((s['net_return'].astype(float) > 0).sum())}; the least favourable "
            f"({worst.cost_multiplier:g} times the cost, {format_percent(100 * worst.attribution_share)} credited) "
            f"gives a net return on investment of {number(worst.net_roi_pct, 0)}%.")


def _resolution(get: Metric, params: Params, *, short: bool = False) -> str:
    """``half were confirmed resolved within 39 days (95% confidence interval 37 to 42 days)``: the Kaplan-Meier
    median of tables/value.csv, unresolved problems censored; "" when there is none or it rests on a small
    count of resolved problems (the rule of the value figure's caption)."""
    med, lo, hi = (get("median_days_to_resolution"), get("median_days_to_resolution_ci_low"),
                   get("median_days_to_resolution_ci_high"))
    resolved = get("mtps_resolved")
    if math.isnan(resolved) or is_small([resolved], params.suppress_below)[0]:
        return ""
    if math.isnan(med):
        return "fewer than half were confirmed resolved during follow-up"
    text = f"half were confirmed resolved within {format_days(med)}"
    ci = f"{level(params)} confidence interval"
    if not (math.isnan(lo) or math.isnan(hi)):
        text += f" ({ci} {format_days(lo).split()[0]} to {format_days(hi)})"
    elif not math.isnan(lo):
        text += f" (the {ci} starts at {format_days(lo)}; its upper end could not be estimated)"
    return text if short else text + ", counting each problem still open for as long as it was followed"


def _mtps(get: Metric, params: Params, *, short: bool = False) -> str:
    """MTPs identified (per patient), the share confirmed resolved and how soon half were."""
    th = params.suppress_below
    ident, res = get("mtps_identified"), get("mtps_resolved")
    per = f" ({number(get('mtps_per_patient'))} per patient)" if not short else ""
    share = (f" and confirmed {format_percent(get('mtps_resolved_pct'))} of them resolved"
             if not short and not is_small([res, ident - res], th).any() else "")
    median = _resolution(get, params, short=short)
    return (f"Pharmacists identified {format_count(ident, th)} medication therapy problems{per}{share}"
            + (f"; {median}." if median else "."))


def findings_value(params: Params) -> list[str]:
    """One sentence per kind of acute-care use, one on the return, one on its sensitivity, one on MTPs (the
    whole cohort)."""
    get = _metrics(params)
    if get is None:
        return [not_analysed("Value and ROI were", "value", "the value notebook did not run")]
    out = [said for kind in STORY_ORDER if (said := _use(get, kind, params))]
    out = [sentence for _, sentence in out]
    if (roi := _return(get)) is not None:
        out.append(roi)
        if not math.isnan(get("net_return")) and (sens := _sensitivity(params)):
            out.append(sens)
    if not math.isnan(get("mtps_identified")):
        out.append(_mtps(get, params))
    return out or ["The value analysis had no utilization, cost or MTP data."]


def headline_value(params: Params) -> list[HeadlineText]:
    """Up to three headlines, each with its figure: the change in acute-care use, the return, and the MTPs
    (with the Kaplan-Meier median days to resolution). Empty without the value table."""
    get = _metrics(params)
    if get is None:
        return []
    out = []
    changes = [(kind, said[0]) for kind in STORY_ORDER if (said := _use(get, kind, params)) and not math.isnan(said[0])]
    if changes:
        kind, first = changes[0]
        parts = [f"{event_kind_label(kind)} {'fell' if first < 0 else 'rose'} by {abs(first):.0f}% after enrollment "
                 f"(from {number(get(f'{kind}_pre_rate_per_1000_pm'))} to "
                 f"{number(get(f'{kind}_post_rate_per_1000_pm'))} per 1,000 patient-months)"]
        verbs = ["fell" if c < 0 else "rose" for _, c in changes]
        parts += [f"{event_kind_label(k, mid_sentence=True)}{'' if verbs[i] == verbs[i - 1] else ' ' + verbs[i]} by "
                  f"{abs(c):.0f}%" for i, (k, c) in enumerate(changes) if i]
        out.append((", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + ".", FIGURES["use"]))
    if not math.isnan(get("net_return")):
        net = get("net_return")
        verb, what = ("exceeds", f"a net return of {money(net)} ({number(get('net_roi_pct'), 0)}%)") if net >= 0 else (
            "falls short of", f"a net loss of {money(-net)}")
        out.append((f"The acute care avoided, valued at {money(get('cost_avoided'))}, {verb} the program cost of "
                    f"{money(get('program_cost'))}: {what}.", FIGURES["roi"]))
    if not math.isnan(get("mtps_identified")):
        out.append((_mtps(get, params, short=True), FIGURES["mtps"]))
    return out
