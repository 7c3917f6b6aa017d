"""Methods and limitations: the params that shape the numbers (goals, windows, CI method, suppression rule,
data as of) and what a reader should keep in mind, stated at the end of every layout of the story."""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.core.labels import measure_label
from evaluation.core.params import Params


@dataclass(frozen=True)
class MethodNote:
    """One entry of the methods-and-limitations section: what (``Goals``, ``Confidence intervals``) and how."""

    label: str
    text: str


def methods(params: Params) -> list[MethodNote]:
    """The params that matter to a reader, each in a sentence."""
    goals = "; ".join(f"{measure_label(m)} {g.spec}" for m, g in params.goals.items())
    w = params.windows
    return [
        MethodNote("Data", f"Data as of {params.as_of:%Y-%m-%d}."),
        MethodNote("Goals", goals),
        MethodNote("Windows", f"Baseline: the last reading up to {w['baseline_days']} days before enrollment (or "
                              f"{w['grace_days']} days after); follow-up: {w['followup_min_days']} to {w['followup_max_days']} "
                              "days after enrollment."),
        MethodNote("Confidence intervals", f"95% confidence intervals; Kaplan-Meier medians with the {params.ci_method} method."),
        MethodNote("Small numbers", f"Counts from 1 to {params.suppress_below - 1} are not shown."),
    ]


def limitations(params: Params) -> list[str]:
    """What the design cannot tell."""
    return ["The comparison is before and after enrollment in the same patients, with no comparison group: "
            "changes may partly reflect regression to the mean or secular trends."]
