"""What the report says about time to goal, in plain words: one sentence per measure, read back from
``tables/time_to_goal.csv`` (so the report needs only the table the notebook saved), with small counts written
as ``<11``; and the section's headline for the executive summary, with the Kaplan-Meier figure that shows it."""

from __future__ import annotations
import math
from evaluation.analyses.wording import HeadlineText, goal_label, goal_words, level
from evaluation.core.disclosure import cohort_rows, format_count, is_small
from evaluation.core.outputs import read_table
from evaluation.core.params import Params
from evaluation.core.text import as_number, format_days, not_analysed

KM_FIGURE = "survival_km_{}"  # the whole cohort's Kaplan-Meier curve of one measure (figures.figure_id)


def _who(params: Params, measure: str, n: float) -> str:
    """``the 278 patients not at their HbA1c goal (below 8%) at enrollment``."""
    goal = goal_words(params, measure)
    return (f"the {format_count(n, params.suppress_below)} patients not at their {goal_label(measure)} goal"
            + (f" ({goal})" if goal else "") + " at enrollment")


def _median_sentence(params: Params, r, *, short: bool = False) -> str:
    """One measure's sentence: half reached goal within ... days, with what is known of the CI; or fewer than
    half reached it. ``short``: the goal's threshold and the CI left out (a headline)."""
    th = params.suppress_below
    n, events = as_number(r.n), as_number(r.events)
    who = (f"the {format_count(n, th)} patients not at their {goal_label(r.measure)} goal at enrollment" if short
           else _who(params, r.measure, n))
    med, lo, hi = as_number(r.median_days), as_number(r.median_ci_low), as_number(r.median_ci_high)
    if math.isnan(med):
        did = "" if is_small([n - events], th)[0] else f" ({format_count(events, th)} did)"  # n - events: not reached
        return (f"Fewer than half of {who} reached it during follow-up{did}, so the time by which half reach it "
                "cannot be estimated yet.")
    text = f"Half of {who} reached it within {format_days(med)}"
    ci = f"{level(params)} confidence interval"
    if short:
        return text + "."
    if not math.isnan(lo) and not math.isnan(hi):
        return f"{text} ({ci} {format_days(lo).split()[0]} to {format_days(hi)})."
    if not math.isnan(lo):
        return (f"{text} (the {ci} starts at {format_days(lo)}; its upper end could not be estimated because "
                "follow-up ended before enough patients reached the goal).")
    return f"{text} (its {ci} could not be estimated: too few patients reached the goal)."


def findings_time_to_goal(params: Params) -> list[str]:
    """Per measure, the time by which half the patients not at goal at enrollment reached it, with its CI (or
    that fewer than half reached it); a sentence saying so when the table is missing or has no one followed."""
    t = read_table(params, "time_to_goal")
    if t is None:
        return [not_analysed("Time to goal was", "time_to_goal", "the time-to-goal notebook did not run")]
    out = []
    th = params.suppress_below
    for label, r, too_few in cohort_rows(t, ("n", "events"), th):
        if too_few:
            out.append(f"{label}: fewer than {th} patients were not at goal at enrollment, or fewer than {th} "
                       "reached it, too few to report a time to goal.")
        else:
            out.append(_median_sentence(params, r))
    return out or ["No patient was not at goal at enrollment and followed afterwards."]


def headline_time_to_goal(params: Params) -> HeadlineText | None:
    """The first measure with a median time to goal (else the first one reportable), shown by its Kaplan-Meier
    figure; None without the table or a measure to report."""
    t = read_table(params, "time_to_goal")
    if t is None:
        return None
    rows = [r for _, r, too_few in cohort_rows(t, ("n", "events"), params.suppress_below) if not too_few]
    if not rows:
        return None
    r = next((r for r in rows if not math.isnan(as_number(r.median_days))), rows[0])
    return _median_sentence(params, r, short=True), KM_FIGURE.format(r.measure)
