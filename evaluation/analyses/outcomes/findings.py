"""The report's sentences on outcome change and run charts, read back from the saved tables
(``outcome_change``, ``run_chart_signals``) so the report says what the notebook wrote, with small counts left out."""

from __future__ import annotations
import math
import numpy as np
from evaluation.core.disclosure import cohort_rows, format_count, is_small
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import as_number, format_p, not_analysed


def findings_outcomes(params: Params) -> list[str]:
    """Per measure: mean at baseline and follow-up with the change, its CI and p, and the % at goal (a measure
    whose n, or a % implying a small count, is too small is said to be not reported)."""
    t = read_table(params, "outcome_change")
    if t is None:
        return [not_analysed("Outcome change was", "outcome_change", "no paired baseline and follow-up measurements, or the outcomes notebook did not run")]
    out = []
    th = params.suppress_below
    for label, r, too_few in cohort_rows(t, ("n",), th):
        if too_few:
            out.append(f"{label}: fewer than {th} patients had a baseline and a follow-up value; not reported.")
            continue
        n = as_number(r.n)
        base, follow = as_number(r.baseline_mean), as_number(r.followup_mean)
        if not math.isnan(base) and not math.isnan(follow):
            change, lo, hi = as_number(r.mean_change), as_number(r.change_ci_low), as_number(r.change_ci_high)
            p = as_number(getattr(r, "p_value", math.nan))
            text = (f"{label}: mean {base:.1f} at baseline and {follow:.1f} at follow-up, a change of {change:+.2f} "
                    f"(95% CI {lo:+.2f} to {hi:+.2f}")
            out.append(text + (f"; paired t-test {format_p(p)}" if not math.isnan(p) else "") + f"; n = {format_count(n, th)}).")
        pb, pf = as_number(getattr(r, "pct_goal_baseline", math.nan)), as_number(getattr(r, "pct_goal_followup", math.nan))
        if not math.isnan(pb) and not math.isnan(pf):
            implied = [pb / 100 * n, (1 - pb / 100) * n, pf / 100 * n, (1 - pf / 100) * n]
            if not is_small(np.round(implied), th).any():
                out.append(f"{label} at goal: {pb:.0f}% of patients at baseline, {pf:.0f}% at follow-up (n = {format_count(n, th)}).")
    return out or ["No measure had patients with both a baseline and a follow-up value."]


def findings_run_charts(params: Params) -> list[str]:
    """How many team run charts with enough points show a non-random signal."""
    t = read_table(params, "run_chart_signals")
    if t is None:
        return [not_analysed("Run charts were", "run_chart_signals", "no monthly reports, or the run-chart notebook did not run")]
    signal = t["runs_signal"].map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))
    judged = t["runs_signal"].notna() & (t["runs_signal"].astype(str).str.strip() != "")
    return [f"{int(signal.sum())} of {int(judged.sum())} team run charts with enough points showed a non-random "
            "signal (Anh\u00f8j rules: an unusually long run on one side of the median or too few crossings)."]
