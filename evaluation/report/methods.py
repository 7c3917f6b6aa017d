"""Methods and limitations: the params that shape the numbers (data date, goals with their units, windows, the
tests and models used, the confidence-interval method, subgroups, the suppression rule) and what a reader should
keep in mind, stated at the end of every layout of the story.

A method is stated when the table it produced is in ``tables/`` (a cohort without utilization data gets no
rate-ratio note); limitations quote the cohort's own numbers where they can (patients without a follow-up
reading, the costs per event, the sensitivity of the return). The suppression rule is the funder outputs' own
sentence (:func:`~evaluation.report.funder.suppression_note`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from evaluation.analyses.wording import goal_words, level, long_date, mid_sentence, money
from evaluation.core.disclosure import cohort_rows, format_count
from evaluation.core.labels import EVENT_KINDS, event_kind_label, measure_label
from evaluation.core.outputs import read_table
from evaluation.core.params import Params

from .funder import suppression_note

RATE_MODELS = {  # value.rate_model -> the model in words
    "poisson_robust": "a Poisson model with standard errors clustered by patient (each patient counts in both periods)",
    "poisson": "a Poisson model",
    "negative_binomial": "a negative binomial model (which allows for counts more variable than a Poisson model)",
}
CI_METHODS = {  # ci_method -> the transform in words
    "log-log": "the log-log transform (as the lifelines package computes it; R's survival package uses the log transform by default)",
    "log": "the log transform (R's survival package default)",
}


@dataclass(frozen=True)
class MethodNote:
    """One entry of the methods-and-limitations section: what (``Goals``, ``Confidence intervals``) and how."""

    label: str
    text: str


def _listed(parts: list[str], joiner: str = "and") -> str:
    return ", ".join(parts[:-1]) + f" {joiner} " + parts[-1] if len(parts) > 1 else "".join(parts)


def _cohort_value(params: Params) -> pd.Series | None:
    """The whole cohort's metrics of tables/value.csv (metric -> value), or None."""
    t = read_table(params, "value")
    return None if t is None else t[t["group"] == "all"].set_index("metric")["value"].astype(float)


def _goals(params: Params) -> str:
    goals = [f"{measure_label(m)} {goal_words(params, m)}" for m in params.goals]
    goals += [f"{measure_label(m)}: {goal_words(params, m)} on the same day" for m in params.combined_goals]
    return "; ".join([goals[0], *(mid_sentence(g) for g in goals[1:])]) + "." if goals else "No goals were set."


def _windows(params: Params) -> str:
    w = params.windows
    return (f"Baseline is the reading closest to enrollment from {w['baseline_days']} days before it to "
            f"{w['grace_days']} days after (the latest on or before enrollment when there is one); follow-up is the "
            f"last reading {w['followup_min_days']} to {w['followup_max_days']} days after enrollment. Acute-care use "
            f"is counted in the {w['utilization_pre_days']} days before and the {w['utilization_post_days']} days "
            "after enrollment.")


def _mixed_model(t: pd.DataFrame) -> str:
    terms = [str(x) for x in t["term"].dropna().unique() if not str(x).startswith(("intercept", "baseline"))]
    covariates = list(dict.fromkeys(x.split("=", 1)[0] for x in terms))
    return ("A linear mixed model with a random intercept per team gives the change adjusted for the baseline value"
            + (f" and {_listed(covariates)}" if covariates else "") + ", allowing for patients of one team being alike.")


ITS_MODELS_IN_WORDS = {"quasibinomial": "a binomial regression of each month's numerator of its denominator with "
                                          "the Pearson dispersion (changes as odds ratios)",
                        "binomial": "a binomial regression of each month's numerator of its denominator (changes as "
                                    "odds ratios)",
                        "quasipoisson": "a quasi-Poisson regression of the numerator with the log denominator as "
                                        "offset (changes as rate ratios)",
                        "linear": "a linear regression of the monthly percentage (changes in percentage points)"}
ITS_ERRORS_IN_WORDS = {"newey-west": "Newey-West standard errors robust to autocorrelation",
                       "ar1": "first-order autoregressive errors"}


def _its(params: Params) -> str:
    """The segmented regression as the methods name it: model, intervention, season, errors and pooling."""
    its = params.its
    when = {"joined_on": "the month the team joined", "first_pdsa": "the month of the team's first PDSA cycle"}.get(
        its["intervention"], f"{its['intervention']} for every team")
    parts = [f"Segmented regression of each team's monthly measures (Wagner et al. 2002; Lopez Bernal et al. 2017): "
             f"{ITS_MODELS_IN_WORDS.get(its['model'], its['model'])}, with a level and a trend before {when} and a "
             + ("change in level and in trend from then on" if its["slope_change"] else "change in level from then on")]
    if its["harmonics"]:
        parts.append(f"{its['harmonics']} pair(s) of sine and cosine terms of the month for season")
    if its["autocorrelation"] != "none":
        parts.append(ITS_ERRORS_IN_WORDS.get(its["autocorrelation"], its["autocorrelation"]))
    return ("; ".join(parts) + ". The teams' changes are pooled by random-effects meta-analysis (REML); "
            f"a team with fewer than {its['min_points']} months on either side is flagged.")


def _time_to_goal(params: Params) -> str:
    competing = params.survival.get("competing_exit_reasons") or []
    return ("Kaplan-Meier estimates of the days from enrollment to the first reading at goal, among patients not at "
            "goal at baseline. A patient who has not reached the goal is censored at their last reading of the measure or their "
            "exit, whichever is earlier: counted for as long as they were followed, not as someone who never "
            "reaches it. The median is the day by which half are estimated to reach the goal; its confidence "
            f"interval uses {CI_METHODS.get(params.ci_method, params.ci_method)}."
            + (f" Exits because a patient {_listed(competing, 'or')} are competing events in the cumulative-incidence "
               "figure." if competing else ""))


def _costs(params: Params, v: pd.Series) -> str:
    given = params.value.get("cost_per_event") or {}
    parts = [f"{money(v[f'{k}_cost_per_event'])} per {event_kind_label(k, mid_sentence=True).removesuffix('s')}"
             + (" (set in the params)" if given.get(k) is not None else "")
             for k in EVENT_KINDS if not math.isnan(v.get(f"{k}_cost_per_event", math.nan))]
    return ("Cost avoided is the fall in the rate of each kind of acute care times the patient-months after "
            f"enrollment times its cost per event ({_listed(parts)}; the mean cost in the data unless set in the "
            "params); the net return is cost avoided minus the program cost, and the net return on investment is "
            "the net return as a share of the program cost.")


def methods(params: Params) -> list[MethodNote]:
    """The params and methods that matter to a reader, each in a sentence or two, for the analyses that ran."""
    notes = [MethodNote("Data as of", f"{long_date(params.as_of)}. Follow-up ends on this date, and a milestone due "
                                      "by it counts as due." if params.as_of else
                        "The last date recorded in the data: follow-up ends on it."),
             MethodNote("Goals", _goals(params)),
             MethodNote("Baseline and follow-up", _windows(params))]
    if read_table(params, "outcome_change") is not None:
        notes.append(MethodNote("Change in outcomes", "The mean change from baseline to follow-up among patients with "
                                "both readings, with a paired t-test and its confidence interval; the share at goal "
                                "before and after is compared with McNemar's exact test."))
    if (mixed := read_table(params, "outcome_mixed_model")) is not None and "term" in mixed.columns:
        notes.append(MethodNote("Mixed model", _mixed_model(mixed)))
    if read_table(params, "run_chart_signals") is not None:
        notes.append(MethodNote("Run charts", "Each team's monthly share at goal against its median, with the Anh\u00f8j "
                                "rules for change beyond month-to-month variation (a run on one side of the median "
                                "longer than chance allows, or too few crossings of it); a chart with fewer than "
                                f"{params.spc['min_points']} useful months gets no verdict."))
    if (its := read_table(params, "its")) is not None and len(its):
        notes.append(MethodNote("Interrupted time series", _its(params)))
    if read_table(params, "time_to_goal") is not None:
        notes.append(MethodNote("Time to goal", _time_to_goal(params)))
    v = _cohort_value(params)
    if v is not None and any(f"{k}_rate_ratio" in v.index for k in EVENT_KINDS):
        notes.append(MethodNote("Acute-care use", "Events per 1,000 patient-months before and after enrollment; the "
                                "rate ratio (after over before) and its confidence interval come from "
                                f"{RATE_MODELS.get(params.value['rate_model'], params.value['rate_model'])}."))
    if v is not None and any(f"{k}_cost_per_event" in v.index for k in EVENT_KINDS):
        notes.append(MethodNote("Cost and return", _costs(params, v)))
    if v is not None and "median_days_to_resolution" in v.index:
        notes.append(MethodNote("Medication therapy problems", "Days from identification to confirmed resolution, by "
                                "Kaplan-Meier: a problem still open is censored at the patient's exit or the data "
                                "date, whichever is earlier; the median is the day by which half are estimated "
                                "resolved (not the median of the resolved problems alone, which would leave out the "
                                "slow ones)."))
    notes.append(MethodNote("Confidence intervals", f"All confidence intervals are {level(params)} "
                                                    f"(significance level {params.alpha:g})."))
    if params.subgroups:
        notes.append(MethodNote("Subgroups", f"Results are also given by {_listed(list(params.subgroups))}."))
    notes.append(MethodNote("Small numbers", suppression_note(params)))
    return notes


def _no_followup(params: Params) -> str | None:
    """Patients with a baseline but no follow-up reading, per measure (small counts as <11). The patients with a
    baseline are not stated: with the paired n of the findings they would give a small count away."""
    t = read_table(params, "outcome_change")
    if t is None or "n_no_followup" not in t.columns:
        return None
    th = params.suppress_below
    parts = []
    for label, r, too_few in cohort_rows(t, ("n",), th):
        missing = float(r.n_no_followup) if r.n_no_followup == r.n_no_followup else 0.0
        if not too_few and missing:
            parts.append(f"{label}: {format_count(missing, th)} patients")
    if not parts:
        return None
    return ("Patients with a baseline reading but none at follow-up are left out of the before-and-after comparisons "
            f"({'; '.join(parts)}); if they fared differently, the changes shown are biased.")


def _cost_assumptions(params: Params) -> str | None:
    s = read_table(params, "value_sensitivity")
    if _cohort_value(params) is None:
        return None
    text = ("The cost avoided assumes that the whole fall in acute-care use is due to the program and that each "
            "event avoided would have cost the average given in the methods")
    if s is None or s.empty or "net_return" not in s.columns:
        return text + "."
    return (text + f"; crediting the program with {100 * s['attribution_share'].min():.0f}% to "
            f"{100 * s['attribution_share'].max():.0f}% of the change and costs {s['cost_multiplier'].min():g} to "
            f"{s['cost_multiplier'].max():g} times these, the net return is positive in "
            f"{int((s['net_return'].astype(float) > 0).sum())} of {len(s)} combinations.")


def limitations(params: Params) -> list[str]:
    """What the design cannot tell, one sentence each (4 to 8), with the cohort's numbers where there are some."""
    out = ["The comparison is before and after enrollment in the same patients, with no comparison group, so changes "
           "cannot be credited to the program alone: trends in care and other programs may contribute.",
           "Patients often start care when their values are high, and high values tend to come down on remeasurement "
           "anyway (regression to the mean), so part of each drop may have happened without the program.",
           "Teams that take part in a collaborative may be more motivated than others, so their results may not "
           "carry over to other teams."]
    if (missing := _no_followup(params)) is not None:
        out.append(missing)
    if read_table(params, "time_to_goal") is not None:
        out.append("A goal reached between readings counts from the first reading at goal, so times to goal depend "
                   "on how often patients were measured and may be longer than the true times.")
    if (costs := _cost_assumptions(params)) is not None:
        out.append(costs)
    v = _cohort_value(params)
    if v is not None and "mtps_identified" in v.index:
        out.append("Only the medication therapy problems pharmacists documented are counted, and a problem resolved "
                   "without a recorded resolution counts as still open.")
    out.append(f"Results for a team or subgroup with fewer than {params.suppress_below} patients or events are not "
               "shown, so small teams are missing from some tables and figures.")
    return out
