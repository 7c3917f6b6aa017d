"""Cycles side by side: the collaborative's monthly measures (every team's monthly report pooled,
``tables/monthly_collaborative.csv``) as run charts, a row per cohort and a column per measure, on the same axes
(month of the cycle, 0-100%), each with its median as the centre line.
"""

from __future__ import annotations
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.labels import measure_label
from .cohorts import Comparison

NOTEBOOK, SECTION = "07_compare", "comparison"


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
