"""Teams against the collaborative: funnel plots of each team's share at goal at follow-up and its readmissions per
1,000 patient-months, one panel per cohort, with Spiegelhalter's (2005) limits at 95% and 99.8% around the
cohort's own value and the additive overdispersion adjustment (:mod:`evaluation.stats.funnel`), and the teams
outside the limits in a table.

Analysts' and coaches' views: a team's counts are small, so the figures and the flagged-teams table stay in the
comparison's ``tables/`` and ``figures/``, never in ``funder/``.
"""

from __future__ import annotations
import pandas as pd
import matplotlib.pyplot as plt
from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.labels import event_kind_label, measure_label
from evaluation.stats.funnel import LEVELS, Funnel, funnel_proportions, funnel_rates, level_label, level_suffix
from .cohorts import Comparison

NOTEBOOK, SECTION = "08_compare", "comparison"
FLAG_COLUMNS = ["indicator", "cohort", "team_id", "team_name", "numerator", "denominator", "value", "target",
                "lower_95", "upper_95", "lower_998", "upper_998", "flag"]
COLOURS = {"above 99.8%": OKABE_ITO[3], "below 99.8%": OKABE_ITO[3], "above 95%": OKABE_ITO[1],
           "below 95%": OKABE_ITO[1], "within": OKABE_ITO[0]}


def goal_funnels(comparison: Comparison, measure: str | None = None) -> dict[str, Funnel]:
    """Per cohort (label -> :class:`Funnel`): each team's share of paired patients at goal at follow-up
    (``tables/outcome_goal_by_team.csv``) against the cohort's pooled share, in percent. A cohort without the
    table or the measure, or with fewer than two teams, is left out."""
    measure = measure or comparison.funnel["measure"]
    out = {}
    for c in comparison.cohorts:
        t = c.table("outcome_goal_by_team")
        if t is None:
            continue
        t = t[(t["measure"] == measure) & (t["n"] > 0)]
        if len(t) >= 2:
            out[c.label] = funnel_proportions(t["n_goal_followup"].to_numpy(), t["n"].to_numpy(),
                                              t["team_id"].astype(str).to_numpy(), per=100.0)
    return out


def rate_funnels(comparison: Comparison, event: str | None = None) -> dict[str, Funnel]:
    """Per cohort: each team's ``event`` (readmissions by default) per 1,000 patient-months after enrollment
    (``tables/value_utilization_by_team.csv``) against the cohort's pooled rate."""
    event = event or comparison.funnel["event"]
    out = {}
    for c in comparison.cohorts:
        t = c.table("value_utilization_by_team")
        if t is None:
            continue
        t = t[(t["kind"] == event) & (t["post_patient_months"] > 0)]
        if len(t) >= 2:
            out[c.label] = funnel_rates(t["post_events"].to_numpy(), t["post_patient_months"].to_numpy(),
                                        t["team_id"].astype(str).to_numpy(), per=1000.0)
    return out


def flagged_teams(funnels: dict[str, Funnel], comparison: Comparison, indicator: str) -> pd.DataFrame:
    """The teams outside their cohort's 95% limits (the 99.8% ones say so in ``flag``), with their names:
    ``tables/funnel_flagged.csv`` holds both indicators."""
    rows = []
    for label, f in funnels.items():
        names = _team_names(comparison, label)
        t = f.table[f.table["flag"] != "within"]
        for r in t.itertuples(index=False):
            rows.append({"indicator": indicator, "cohort": label, "team_id": r.unit, "team_name": names.get(r.unit, ""),
                         "numerator": r.numerator, "denominator": r.denominator, "value": r.value,
                         "target": f.target * f.per, "lower_95": r.lower_95, "upper_95": r.upper_95,
                         "lower_998": r.lower_998, "upper_998": r.upper_998, "flag": r.flag})
    return pd.DataFrame(rows, columns=FLAG_COLUMNS)


def funnel_table(funnels: dict[str, Funnel], indicator: str) -> pd.DataFrame:
    """Every team of every cohort with its value, limits and flag (``tables/funnel_<indicator>.csv``), and per
    cohort the overdispersion estimate (phi, tau2) the limits used."""
    frames = [f.table.assign(cohort=label, indicator=indicator, target=f.target * f.per, phi=f.phi, tau2=f.tau2,
                             overdispersion_adjusted=f.tau2 > 0)
              for label, f in funnels.items()]
    if not frames:
        return pd.DataFrame(columns=["indicator", "cohort", "unit"])
    out = pd.concat(frames, ignore_index=True)
    first = ["indicator", "cohort", "unit"]
    return out[first + [c for c in out.columns if c not in first]]


def _team_names(comparison: Comparison, label: str) -> dict[str, str]:
    cohort = next(c for c in comparison.cohorts if c.label == label)
    t = cohort.table("patients_per_team")
    return dict(zip(t["team_id"].astype(str), t["team_name"].astype(str))) if t is not None else {}


@house_style
def draw_funnels(funnels: dict[str, Funnel], *, y_label: str, x_label: str) -> plt.Figure:
    """One funnel per cohort side by side, on the same axes: teams as points (orange outside 95%, vermilion outside
    99.8%), the cohort's value as a line, the limits as dashed (95%) and dotted (99.8%) curves."""
    n = len(funnels)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), sharey=True, squeeze=False, layout="constrained")
    top = max(f.table["denominator"].max() for f in funnels.values()) * 1.1
    for ax, (label, f) in zip(axes[0], funnels.items()):
        curve = f.curve(max_denominator=top)
        ax.axhline(f.target * f.per, color="#555555", linewidth=1)
        for level, style in zip(LEVELS, ("--", ":")):
            key = level_suffix(level)
            ax.plot(curve["denominator"], curve[f"lower_{key}"], style, color="#555555", linewidth=0.9)
            ax.plot(curve["denominator"], curve[f"upper_{key}"], style, color="#555555", linewidth=0.9,
                    label=f"{level_label(level)} limits")
        t = f.table
        ax.scatter(t["denominator"], t["value"], s=22, c=[COLOURS.get(x, OKABE_ITO[0]) for x in t["flag"]], zorder=3)
        for r in t[t["flag"] != "within"].itertuples(index=False):
            ax.annotate(str(r.unit), (r.denominator, r.value), xytext=(3, 3), textcoords="offset points", fontsize=7)
        adjusted = f" (overdispersion: tau² {f.tau2:.3g})" if f.tau2 > 0 else ""
        ax.set_title(f"{label}{adjusted}", fontsize=9)
        ax.set_xlabel(x_label)
        ax.set_xlim(0, top)
    axes[0][0].set_ylabel(y_label)
    axes[0][-1].legend(fontsize=7, loc="best")
    return fig


def _flag_words(funnels: dict[str, Funnel]) -> str:
    """"Cycle 2015: T04 above the 99.8% limits; Cycle 2016: none outside the 95% limits"."""
    parts = []
    for label, f in funnels.items():
        t = f.table[f.table["flag"] != "within"]
        if t.empty:
            parts.append(f"{label}: no team outside the 95% limits")
        else:
            parts.append(f"{label}: " + ", ".join(f"{r.unit} {r.flag.replace('%', '% limits')}"
                                                  for r in t.itertuples(index=False)))
    return "; ".join(parts)


def _method_words(funnels: dict[str, Funnel]) -> str:
    adjusted = [label for label, f in funnels.items() if f.tau2 > 0]
    words = ("Limits at 95% and 99.8% around each cohort's own value (Spiegelhalter 2005), exact where no "
             "overdispersion was found")
    if adjusted:
        words += ("; widened for overdispersion (additive random effects, z-scores winsorised 10% at each end) in "
                  + ", ".join(adjusted))
    return words + "."


def goal_funnel_figure(funnels: dict[str, Funnel], comparison: Comparison, measure: str | None = None) -> FigureSpec | str:
    """The funnel of teams' share at goal at follow-up, one panel per cohort, with its caption."""
    measure = measure or comparison.funnel["measure"]
    if not funnels:
        return (f"No funnel of {measure_label(measure)} at goal: no cohort has two or more teams with paired "
                "patients (tables/outcome_goal_by_team.csv).")
    label = measure_label(measure)
    fig = draw_funnels(funnels, y_label=f"% at {label} goal at follow-up", x_label="Paired patients in the team")
    caption = (f"Each point is a team: its share of paired patients at the {label} goal at follow-up, against the "
               f"number of its paired patients. {_method_words(funnels)} Outside the limits: {_flag_words(funnels)}.")
    alt = (f"Funnel plots, one per cohort ({', '.join(funnels)}), of teams' share at the {label} goal at follow-up "
           f"against team size, with 95% and 99.8% limits. {_flag_words(funnels)}.")
    return FigureSpec(f"compare_funnel_{measure}", fig, f"Teams against the collaborative: {label} at goal", caption,
                      alt, SECTION, NOTEBOOK)


def rate_funnel_figure(funnels: dict[str, Funnel], comparison: Comparison, event: str | None = None) -> FigureSpec | str:
    """The funnel of teams' acute-care rate per 1,000 patient-months after enrollment, one panel per cohort."""
    event = event or comparison.funnel["event"]
    what = event_kind_label(event, mid_sentence=True)  # "readmissions"
    if not funnels:
        return (f"No funnel of {what}: no cohort has utilization for two or more teams "
                "(tables/value_utilization_by_team.csv).")
    fig = draw_funnels(funnels, y_label=f"{event_kind_label(event)} per 1,000 patient-months",
                       x_label="Patient-months after enrollment")
    caption = (f"Each point is a team: its {what} per 1,000 patient-months after enrollment, against its "
               f"patient-months. {_method_words(funnels)} Outside the limits: {_flag_words(funnels)}.")
    alt = (f"Funnel plots, one per cohort ({', '.join(funnels)}), of teams' {what} per 1,000 patient-months "
           f"against patient-months, with 95% and 99.8% limits. {_flag_words(funnels)}.")
    return FigureSpec(f"compare_funnel_{event}", fig, f"Teams against the collaborative: {what}", caption, alt,
                      SECTION, NOTEBOOK)
