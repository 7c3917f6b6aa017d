"""The comparison's findings in plain words: for each compared cohort, what changed against the reference (each
difference with its CI, and whether the CI excludes no difference), and which teams stand out."""

from __future__ import annotations
import math
import pandas as pd
from evaluation.core.labels import event_kind_label, measure_label
from .cohorts import Comparison


def _ci(r, level: str) -> str:
    return f"{level} CI {r.ci_low:+.1f} to {r.ci_high:+.1f}"


def _clear(r, null: float = 0.0) -> str:
    """Said when the CI excludes no difference (0; 1 for a ratio): the difference is unlikely to be chance alone."""
    if math.isnan(r.ci_low) or r.ci_low <= null <= r.ci_high:
        return ""
    return f"; the interval excludes {null:g}, so chance alone is an unlikely explanation"


def comparison_findings(values: pd.DataFrame, differences: pd.DataFrame, flagged: pd.DataFrame,
                        comparison: Comparison) -> list[str]:
    """Sentences for the comparison: % at goal at follow-up and mean change per measure, acute-care rate ratios,
    return on investment, and the teams outside their cohort's 99.8% funnel limits."""
    out = []
    ref = comparison.reference
    level = f"{100 * (1 - comparison.alpha):g}%"
    value = values.set_index(["metric", "measure", "cohort"])["value"]
    for r in differences.itertuples(index=False):
        a, b = value.get((r.metric, r.measure, ref), math.nan), value.get((r.metric, r.measure, r.cohort), math.nan)
        if r.metric == "pct_goal_followup":
            out.append(f"{measure_label(r.measure)} at goal at follow-up: {b:.0f}% in {r.cohort} against {a:.0f}% in "
                       f"{ref}, a difference of {r.difference:+.1f} percentage points ({_ci(r, level)}){_clear(r)}.")
        elif r.metric == "mean_change":
            out.append(f"{measure_label(r.measure)}: mean change {b:.2f} in {r.cohort} against {a:.2f} in {ref} "
                       f"(difference {r.difference:+.2f}, {level} CI {r.ci_low:+.2f} to {r.ci_high:+.2f}, Welch){_clear(r)}.")
        elif r.metric == "rate_ratio":
            out.append(f"{event_kind_label(r.measure)}: rate ratio after / before enrollment {b:.2f} in {r.cohort} "
                       f"against {a:.2f} in {ref}; their ratio {r.difference:.2f} ({level} CI {r.ci_low:.2f} to "
                       f"{r.ci_high:.2f}){_clear(r, 1.0)}.")
        elif r.metric == "net_roi_pct":
            out.append(f"Net return on investment {b:.0f}% in {r.cohort} against {a:.0f}% in {ref}.")
    wide = flagged[flagged["flag"].str.contains("99.8")] if len(flagged) else flagged
    if len(flagged) == 0:
        out.append("No team lies outside its cohort's 95% funnel limits.")
    for r in wide.itertuples(index=False):
        what = ("the share at goal" if r.indicator == "goal" else
                f"{event_kind_label(r.indicator, mid_sentence=True)} per 1,000 patient-months")
        out.append(f"{r.cohort}: team {r.team_id} lies {r.flag.split()[0]} its cohort's 99.8% limits for {what} "
                   f"({r.value:.1f} against {r.target:.1f}).")
    return out
