"""The report's sentences on outcome change and run charts, in plain words with units, read back from the saved
tables (``outcome_change``, ``run_chart_signals``, ``its``) so the report says what the notebook wrote, with small counts
left out; and each section's headline for the executive summary."""

from __future__ import annotations
import math
import numpy as np
import pandas as pd
from evaluation.analyses.wording import HeadlineText, change_words, goal_label, goal_words, mid_sentence, with_unit
from evaluation.core.columns import signed
from evaluation.core.disclosure import cohort_rows, format_count, is_small
from evaluation.core.labels import measure_label
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import as_number, format_percent, not_analysed

GOAL_FIGURE = "outcomes_goal_before_after"  # the share at goal at baseline and follow-up, per measure
RUN_CHART_FIGURE = "spc_run_chart_{}"  # one run chart figure per monthly measure


def _shares(r, n: float, th: int) -> tuple[float, float] | None:
    """The % at goal at baseline and follow-up, or None when there is none or either implies a small count
    of patients at goal or not at goal (5% of 100 is 5 patients)."""
    pb, pf = as_number(getattr(r, "pct_goal_baseline", math.nan)), as_number(getattr(r, "pct_goal_followup", math.nan))
    if math.isnan(pb) or math.isnan(pf):
        return None
    implied = [pb / 100 * n, (1 - pb / 100) * n, pf / 100 * n, (1 - pf / 100) * n]
    return None if is_small(np.round(implied), th).any() else (pb, pf)


def _share_words(shares: tuple[float, float]) -> str:
    pb, pf = shares
    verb = "rose" if round(pf) > round(pb) else "fell" if round(pf) < round(pb) else "stayed at"
    return (f"{verb} {format_percent(pb)}" if verb == "stayed at"
            else f"{verb} from {format_percent(pb)} to {format_percent(pf)}")


def findings_outcomes(params: Params) -> list[str]:
    """Per measure: the average at baseline and follow-up in its unit, the change with its CI, and the share at
    goal before and after, among the patients with a reading at both times. A measure whose patients are too
    few, or a share implying a small count, is said to be not reported."""
    t = read_table(params, "outcome_change")
    if t is None:
        return [not_analysed("Outcome change was", "outcome_change", "no paired baseline and follow-up measurements, or the outcomes notebook did not run")]
    out = []
    th = params.suppress_below
    for label, r, too_few in cohort_rows(t, ("n",), th):
        if too_few:
            out.append(f"{label}: fewer than {th} patients had a reading both at baseline and at follow-up, "
                       "too few to report.")
            continue
        n = as_number(r.n)
        who = f"the {format_count(n, th)} patients with a reading at both times"
        shares = _shares(r, n, th)
        goal = f"the share at goal ({goal_words(params, r.measure)})" if goal_words(params, r.measure) else "the share at goal"
        base, follow = as_number(r.baseline_mean), as_number(r.followup_mean)
        if not math.isnan(base) and not math.isnan(follow):
            change, lo, hi = as_number(r.mean_change), as_number(r.change_ci_low), as_number(r.change_ci_high)
            verb = "fell" if change < 0 else "rose" if change > 0 else "stayed"
            text = (f"Average {mid_sentence(label)} {verb} from {with_unit(base, r.measure)} at baseline to "
                    f"{with_unit(follow, r.measure)} at follow-up among {who} "
                    f"({change_words(change, lo, hi, r.measure, params)})")
            out.append(text + (f", and {goal} {_share_words(shares)}." if shares else "."))
        elif shares:
            out.append(f"The share of patients at their {goal_label(r.measure)} goal ({goal_words(params, r.measure)}) "
                       f"{_share_words(shares)} among {who}.")
    return out or ["No measure had patients with both a baseline and a follow-up value."]


def headline_outcomes(params: Params) -> HeadlineText | None:
    """The share at goal before and after for each goal (a combined goal, such as blood pressure, standing for
    its parts), shown by the before-and-after goal chart; None without the table or a share to state."""
    t = read_table(params, "outcome_change")
    if t is None or "pct_goal_baseline" not in t.columns:
        return None
    th = params.suppress_below
    shown = {r.measure: s for _, r, too_few in cohort_rows(t, ("n",), th)
             if not too_few and (s := _shares(r, as_number(r.n), th))}
    covered = {p for name, parts in params.combined_goals.items() if name in shown for p in parts}
    said, last_verb = [], None
    for measure, s in shown.items():
        if measure in covered:
            continue
        words = _share_words(s)
        verb = words.split(" ", 1)[0]
        said.append(f"{words if verb != last_verb else words.split(' ', 1)[1]} for {goal_label(measure)}")
        last_verb = verb
    if not said:
        return None
    listed = ", ".join(said[:-1]) + (" and " if len(said) > 1 else "") + said[-1]
    return f"Among patients with a reading before and after enrollment, the share at goal {listed}.", GOAL_FIGURE


def _signals(t: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    signal = t["runs_signal"].map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))
    judged = t["runs_signal"].notna() & (t["runs_signal"].astype(str).str.strip() != "")
    return signal, judged


def findings_run_charts(params: Params) -> list[str]:
    """How many team run charts with enough monthly points show change beyond month-to-month variation."""
    t = read_table(params, "run_chart_signals")
    if t is None:
        return [not_analysed("Run charts were", "run_chart_signals", "no monthly reports, or the run-chart notebook did not run")]
    signal, judged = _signals(t)
    return [f"Of the {int(judged.sum())} team run charts with at least {params.spc['min_points']} useful months, "
            f"{int(signal.sum())} showed change beyond month-to-month variation (Anh\u00f8j rules: an unusually long "
            "run of months on one side of the median, or too few crossings of it)."] + findings_its(params)


def _its_change(value: float, low: float, high: float, level: int, ratio: bool) -> str:
    """A pooled change as the findings write it: ``\u00d71.10 (95% CI 1.06\u20131.13)`` or ``+2.1 percentage points (...)``."""
    if ratio:
        return f"\u00d7{value:.2f} ({level}% CI {low:.2f}\u2013{high:.2f})"
    return (f"{signed(f'{value:+.1f}')} percentage points ({level}% CI {signed(f'{low:.1f}')} to "
            f"{signed(f'{high:.1f}')})")


def findings_its(params: Params) -> list[str]:
    """The pooled interrupted time series (``tables/its.csv``, rows ``team_id = all``): per measure the change in
    level at the intervention and in the monthly trend after it, with the model and the pooling named."""
    t = read_table(params, "its")
    if t is None or t.empty:
        return []
    pooled = t[(t["team_id"].astype(str) == "all") & t["level_change"].notna()]
    if pooled.empty:
        return []
    level = int(round(100 * (1 - params.alpha)))
    first = pooled.iloc[0]
    ratio = str(first["scale"]) != "percentage points"
    parts = []
    for r in pooled.itertuples(index=False):
        text = (f"{mid_sentence(measure_label(r.measure))}: level "
                f"{_its_change(r.level_change, r.level_ci_low, r.level_ci_high, level, ratio)}")
        if not math.isnan(float(r.slope_change)):
            text += f", trend {_its_change(r.slope_change, r.slope_ci_low, r.slope_ci_high, level, ratio)} per month"
        parts.append(text)
    model = str(first["model"]).split(",", 1)[0]
    scale = f"{first['scale']}s" if ratio else "percentage points"
    return [f"Interrupted time series of the monthly reports (segmented {model} regression at each team's "
            f"intervention month, pooled across {int(first['teams'])} teams by random-effects meta-analysis; "
            f"changes as {scale}): " + "; ".join(parts) + "."]


def headline_run_charts(params: Params) -> HeadlineText | None:
    """The run charts' signal count, shown by the run charts of the measure with the most signals."""
    t = read_table(params, "run_chart_signals")
    if t is None or t.empty:
        return None
    signal, judged = _signals(t)
    if not judged.any():
        return None
    top = t.loc[signal].groupby("measure").size().sort_values(ascending=False, kind="stable")
    measure = str(top.index[0]) if len(top) else str(t["measure"].iloc[0])
    return (f"{int(signal.sum())} of {int(judged.sum())} team run charts of monthly measures showed change beyond "
            f"month-to-month variation, most often for {mid_sentence(measure_label(measure))}.", RUN_CHART_FIGURE.format(measure))
