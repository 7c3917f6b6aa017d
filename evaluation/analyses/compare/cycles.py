"""Cycles side by side: the collaborative's monthly measures (every team's monthly report pooled,
``tables/monthly_collaborative.csv``) as run charts, a row per cohort and a column per measure, on the same axes
(month of the cycle, 0-100%), each with its median as the centre line.
"""

from __future__ import annotations
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from evaluation.analyses.outcomes.run_charts import cycle_months
from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.labels import measure_label
from .cohorts import Comparison

NOTEBOOK, SECTION = "08_compare", "comparison"


def monthly_series(comparison: Comparison) -> pd.DataFrame:
    """Every cohort's pooled monthly series, with the cohort's label (``tables/comparison_monthly.csv``)."""
    frames = [t.assign(cohort=c.label) for c in comparison.cohorts
              if (t := c.table("monthly_collaborative")) is not None and len(t)]
    if not frames:
        return pd.DataFrame(columns=["cohort", "measure", "month", "cycle_month", "teams_reporting", "numerator",
                                     "denominator", "percent"])
    out = pd.concat(frames, ignore_index=True)
    return out[["cohort", *[c for c in out.columns if c != "cohort"]]]


def medians(series: pd.DataFrame) -> pd.DataFrame:
    """Each cohort's and measure's median monthly percentage (the run charts' centre lines) and the months."""
    return (series.dropna(subset=["percent"]).groupby(["cohort", "measure"], sort=False)
            .agg(months=("percent", "size"), median_percent=("percent", "median")).reset_index())


@house_style
def draw_cycles(series: pd.DataFrame, cohorts: list[str], measures: list[str]) -> plt.Figure:
    """Small multiples: a row per cohort, a column per measure, shared axes."""
    fig, axes = plt.subplots(len(cohorts), len(measures), figsize=(2.6 * len(measures) + 0.6, 1.9 * len(cohorts) + 0.6),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    last = int(series["cycle_month"].max())
    for i, cohort in enumerate(cohorts):
        for j, measure in enumerate(measures):
            ax = axes[i][j]
            d = series[(series["cohort"] == cohort) & (series["measure"] == measure)].dropna(subset=["percent"])
            if len(d):
                ax.plot(d["cycle_month"], d["percent"], "-o", color=OKABE_ITO[i % len(OKABE_ITO)], markersize=3,
                        linewidth=1.2)
                ax.axhline(float(np.median(d["percent"])), color="#555555", linewidth=0.9)
            else:
                ax.text(0.5, 0.5, "not reported", ha="center", va="center", transform=ax.transAxes, fontsize=8,
                        color="#777777")
            ax.set_ylim(0, 100)
            ax.set_xlim(0.5, last + 0.5)
            if i == 0:
                ax.set_title(measure_label(measure), fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{cohort}\n% of patients", fontsize=8)
            if i == len(cohorts) - 1:
                ax.set_xlabel("Month of the cycle")
    return fig


def cycles_figure(series: pd.DataFrame, comparison: Comparison) -> FigureSpec | str:
    """The run charts of the cohorts' monthly measures, a row per cohort, with a caption stating each median."""
    if series.empty:
        return "No monthly measures to compare: no cohort's report has tables/monthly_collaborative.csv."
    measures = list(dict.fromkeys(series["measure"]))
    cohorts = [c for c in comparison.labels if c in set(series["cohort"])]
    fig = draw_cycles(series, cohorts, measures)
    m = medians(series)
    said = "; ".join(f"{measure_label(r.measure)}: " + ", ".join(
        f"{x.cohort} {x.median_percent:.0f}%" for x in m[m["measure"] == r.measure].itertuples(index=False))
        for r in m.drop_duplicates("measure").itertuples(index=False))
    caption = ("The collaborative's monthly measures (every team's monthly report pooled: patients at goal over "
               "patients reported), a row per cohort on the same axes; month 1 is the cohort's first reported month, "
               f"and the grey line is the cohort's median month. Medians: {said}.")
    alt = (f"Run charts in a grid, a row per cohort ({', '.join(cohorts)}) and a column per measure "
           f"({', '.join(measure_label(x) for x in measures)}), percent by month of the cycle. Medians: {said}.")
    return FigureSpec("compare_cycles", fig, "The cycles' monthly measures side by side", caption, alt, SECTION,
                      NOTEBOOK)


ASSESSMENT_LEVEL = 4.0  # "significant improvement" on IHI's assessment scale: the share the engagement notebook keeps


def assessment_share(comparison: Comparison) -> pd.DataFrame:
    """Every cohort's share of teams the faculty rated 4.0 or above on the assessment scale, by month of the cycle
    (the cohorts' ``tables/engagement_assessments.csv``; month 1 is the cohort's first rated month):
    ``tables/comparison_assessments.csv``."""
    frames = []
    for c in comparison.cohorts:
        t = c.table("engagement_assessments")
        if t is None or t.empty:
            continue
        frames.append(t.assign(cohort=c.label, cycle_month=cycle_months(t["month"])))
    columns = ["cohort", "month", "cycle_month", "teams_rated", "teams_at_or_above", "share"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


@house_style
def draw_assessment_share(shares: pd.DataFrame, cohorts: list[str]) -> plt.Figure:
    """One line per cohort: the share of teams at 4.0 or above by month of the cycle."""
    fig, ax = plt.subplots(figsize=(6.0, 3.4), layout="constrained")
    for i, cohort in enumerate(cohorts):
        d = shares[shares["cohort"] == cohort]
        ax.plot(d["cycle_month"], 100 * d["share"], "-o", markersize=3, color=OKABE_ITO[i % len(OKABE_ITO)],
                label=cohort)
    ax.set_ylim(0, 100)
    ax.set_xlabel("Month of the cycle")
    ax.set_ylabel(f"% of teams rated {ASSESSMENT_LEVEL:.1f} or above")
    ax.legend(fontsize=8)
    return fig


def assessment_figure(shares: pd.DataFrame, comparison: Comparison) -> FigureSpec | str:
    """The cohorts' share of teams at 4.0 or above by month, on one chart, with the last month of each stated."""
    if shares.empty:
        return "No assessment-scale ratings to compare: no cohort has assessments.csv."
    cohorts = [c for c in comparison.labels if c in set(shares["cohort"])]
    fig = draw_assessment_share(shares, cohorts)
    last = shares.sort_values("cycle_month").groupby("cohort", sort=False).tail(1).set_index("cohort")
    said = "; ".join(f"{c}: {100 * last.loc[c, 'share']:.0f}% of {int(last.loc[c, 'teams_rated'])} teams in month "
                     f"{int(last.loc[c, 'cycle_month'])}" for c in cohorts)
    caption = (f"The share of teams the faculty rated {ASSESSMENT_LEVEL:.1f} (significant improvement) or above on "
               "IHI's Assessment Scale for Collaboratives, by month of the cycle, a line per cohort. At the last month "
               f"rated: {said}.")
    alt = f"Line chart of the share of teams rated {ASSESSMENT_LEVEL:.1f} or above by month, one line per cohort. {said}."
    return FigureSpec("compare_assessments", fig, "Teams at 4.0 or above on the assessment scale", caption, alt,
                      SECTION, NOTEBOOK)
