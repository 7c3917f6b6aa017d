"""The value notebook's figures, each with its caption: acute-care use before and after enrollment, the return
on investment, its sensitivity to the assumptions, and medication therapy problems by category.

Each notebook-facing function takes the :class:`~.compute.ValueAnalysis` (and the params, for the small-count
threshold and the confidence level) and returns a :class:`~evaluation.core.figures.FigureSpec` whose caption
states the numbers drawn; the ``*_chart`` functions draw the bare matplotlib figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from .compute import ValueAnalysis, resolution_phrase, sensitivity_grid
from evaluation.core.disclosure import format_count, is_small
from evaluation.core.figures import DIVERGING, OKABE_ITO, FigureSpec, house_style
from evaluation.core.labels import event_kind_label
from evaluation.core.params import Params
from evaluation.core.text import format_money

SECTION = "value"
NOTEBOOK = "05_value"
RATES_TITLE = "Acute-care use before and after enrollment"


def _small_kind(row, threshold: int) -> bool:
    """A kind with 1 to threshold - 1 events in either window is neither drawn nor described."""
    return bool(is_small([row.pre_events, row.post_events], threshold).any())


@house_style
def rates_chart(rates: pd.DataFrame, *, threshold: int = 11, group: str = "all") -> plt.Figure:
    """Grouped bars: events per 1,000 patient-months before vs after enrollment, per kind (from
    ``ValueAnalysis.rates_``), the change in percent above each pair. A kind with 1 to threshold - 1 events in
    a window is not drawn (small cell)."""
    r = rates[rates["group"] == group].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    x = np.arange(len(r))
    width = 0.38
    top = float(np.nanmax(r[["pre_rate", "post_rate"]].to_numpy(float))) if len(r) else 1.0
    top = top if top > 0 else 1.0
    for k, row in r.iterrows():
        if _small_kind(row, threshold):
            ax.text(x[k], top * 0.05, f"fewer than {threshold}\nevents: not shown", ha="center", va="bottom", fontsize=7)
            continue
        for offset, col, color, label in ((-width / 2, "pre_rate", OKABE_ITO[1], "Before enrollment"),
                                          (width / 2, "post_rate", OKABE_ITO[0], "After enrollment")):
            ax.bar(x[k] + offset, row[col], width, color=color, label=label)
            ax.text(x[k] + offset, row[col], f"{row[col]:.1f}", ha="center", va="bottom", fontsize=7)
        if row.change_pct == row.change_pct:
            ax.text(x[k], max(row.pre_rate, row.post_rate) + top * 0.09, f"{row.change_pct:+.0f}%", ha="center",
                    fontsize=9, fontweight="bold")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc="upper right")
    ax.set_xticks(x, [event_kind_label(k) for k in r["kind"]])
    ax.grid(axis="x", visible=False)
    ax.set_ylim(0, top * 1.25)
    ax.set_ylabel("Events per 1,000 patient-months")
    ax.set_title(RATES_TITLE)
    return fig


def rates_caption(rates: pd.DataFrame, threshold: int, group: str = "all", pre_days: int | None = None,
                  post_days: int | None = None) -> str:
    """The change of each kind's rate in words; a kind with a small count in a window is named, not described."""
    parts = []
    for row in rates[rates["group"] == group].itertuples(index=False):
        words = event_kind_label(row.kind, mid_sentence=True)
        if _small_kind(row, threshold):
            parts.append(f"{words}: based on fewer than {threshold} events, not shown")
            continue
        if np.isnan(row.change_pct):
            continue
        direction = "fell" if row.change_pct < 0 else "rose"
        parts.append(f"{words} {direction} {abs(row.change_pct):.0f}% "
                     f"(from {row.pre_rate:.1f} to {row.post_rate:.1f} per 1,000 patient-months)")
    if not parts:
        return "No acute-care use was recorded."
    windows = (f" in the {pre_days} days before and the {post_days} days after enrollment in CMM"
               if pre_days and post_days else " before and after enrollment in CMM")
    return f"Acute-care use per 1,000 patient-months{windows}: " + "; ".join(parts) + "."


def utilization_rates(va: ValueAnalysis, params: Params, group: str = "all") -> FigureSpec:
    """``value_utilization_rates``: ED visits, admissions and readmissions per 1,000 patient-months before and
    after enrollment."""
    threshold = params.suppress_below
    caption = rates_caption(va.rates_, threshold, group, va.pre_days, va.post_days)
    return FigureSpec(
        "value_utilization_rates", rates_chart(va.rates_, threshold=threshold, group=group), RATES_TITLE, caption,
        "Bar chart of ED visits, admissions and readmissions per 1,000 patient-months, before and after "
        "enrollment. " + caption, SECTION, NOTEBOOK)


@house_style
def roi_chart(roi: pd.DataFrame, rates: pd.DataFrame, *, group: str = "all") -> plt.Figure:
    """Horizontal bars in dollars: cost avoided by kind, total cost avoided, program cost and net return
    (from ``ValueAnalysis.roi_`` and ``rates_``); the title gives the net ROI."""
    row = roi.set_index("group").loc[group]
    by_kind = rates[rates["group"] == group].set_index("kind")["cost_avoided"].dropna()
    labels = [f"Cost avoided: {event_kind_label(k, mid_sentence=True)}" for k in by_kind.index]
    values = list(by_kind.to_numpy())
    colors = [OKABE_ITO[4]] * len(values)
    labels += ["Cost avoided (total)", "Program cost", "Net return"]
    values += [row.cost_avoided, row.program_cost, row.net_return]
    colors += [OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[2] if row.net_return >= 0 else OKABE_ITO[3]]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(values) + 1.2))
    y = np.arange(len(values))
    ax.barh(y, values, color=colors)
    span = max(abs(v) for v in values if v == v) or 1.0
    for yi, v in zip(y, values):
        ax.text(v + (span * 0.01 if v >= 0 else -span * 0.01), yi, f" {format_money(v)} ", va="center",
                ha="left" if v >= 0 else "right", fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.set_xlim(min(0, min(values)) - span * 0.05, max(0, max(values)) + span * 0.3)
    ax.xaxis.set_major_formatter(lambda v, _: f"{format_money(v / 1000)}k")
    ax.set_xlabel("US dollars")
    ax.set_title(f"Return on investment: net ROI {row.net_roi_pct:.0f}%")
    return fig


def roi(va: ValueAnalysis, params: Params, group: str = "all") -> FigureSpec:
    """``value_roi``: cost avoided against the program cost, and the net return."""
    r = va.roi_.set_index("group").loc[group]
    caption = (f"Cost avoided {format_money(r.cost_avoided)} against a program cost of {format_money(r.program_cost)}: "
               f"net return {format_money(r.net_return)} (net ROI {r.net_roi_pct:.0f}%), "
               f"{format_money(r.roi_per_patient)} per patient.")
    return FigureSpec(
        "value_roi", roi_chart(va.roi_, va.rates_, group=group), "Return on investment", caption,
        "Horizontal bars comparing cost avoided, program cost and net return in US dollars. " + caption,
        SECTION, NOTEBOOK)


@house_style
def sensitivity_heatmap(sens: pd.DataFrame) -> plt.Figure:
    """Net ROI (%) for each cost multiplier (columns) x share attributed to the program (rows) (from
    ``ValueAnalysis.sensitivity_``); blue = positive return, red = loss, white = break-even."""
    grid = sensitivity_grid(sens)
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * len(grid) + 1.6))
    values = grid.to_numpy(float)
    limit = float(np.nanmax(np.abs(values))) or 1.0
    image = ax.imshow(values, cmap=DIVERGING, norm=TwoSlopeNorm(vcenter=0, vmin=-limit, vmax=limit), aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:.0f}%", ha="center", va="center", fontsize=8,
                color="white" if abs(v) > 0.6 * limit else "black")
    ax.set_xticks(range(grid.shape[1]), [f"{c:g}x" for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [f"{100 * s:.0f}%" for s in grid.index])
    ax.set_xlabel("Cost per event, as a multiple of the base estimate")
    ax.set_ylabel("Share of the change attributed to CMM")
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="Net ROI (%)", shrink=0.9)
    ax.set_title("Net ROI under other assumptions")
    return fig


def roi_sensitivity(va: ValueAnalysis, params: Params) -> FigureSpec:
    """``value_sensitivity``: the net ROI for every cost multiplier and share of the change attributed."""
    sens = va.sensitivity_
    positive = int((sens["net_return"] > 0).sum())
    worst = sens.loc[sens["net_roi_pct"].idxmin()]
    caption = (f"Net ROI under {len(sens)} assumptions (cost per event x {sens['cost_multiplier'].min():g} to "
               f"{sens['cost_multiplier'].max():g}; {100 * sens['attribution_share'].min():.0f}% to "
               f"{100 * sens['attribution_share'].max():.0f}% of the change attributed to the program): the return is "
               f"positive in {positive} of {len(sens)}; the least favourable ({worst.cost_multiplier:g} x cost, "
               f"{100 * worst.attribution_share:.0f}% attributed) gives {worst.net_roi_pct:.0f}%.")
    return FigureSpec(
        "value_sensitivity", sensitivity_heatmap(sens), "How the ROI depends on the assumptions", caption,
        "Heat map of net ROI in percent by cost multiplier (columns) and share attributed to the program (rows). "
        + caption, SECTION, NOTEBOOK)


@house_style
def mtp_chart(categories: pd.DataFrame) -> plt.Figure:
    """Horizontal bars: MTPs identified and confirmed resolved by category, from the *suppressed* category table
    (the funder table's suppression): a suppressed cell is labelled, not drawn."""
    t = categories[categories["category"].astype(str) != "all"].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, 0.42 * len(t) + 1.4))
    y = np.arange(len(t))
    height = 0.38
    numbers = {c: pd.to_numeric(t[c], errors="coerce") for c in ("identified", "resolved")}
    span = float(np.nanmax(numbers["identified"].to_numpy(float))) if numbers["identified"].notna().any() else 1.0
    for offset, col, color, label in ((-height / 2, "identified", OKABE_ITO[0], "Identified"),
                                      (height / 2, "resolved", OKABE_ITO[2], "Confirmed resolved")):
        vals = numbers[col]
        ax.barh(y[vals.notna()] + offset, vals[vals.notna()], height, color=color, label=label)
        for yi, shown, v in zip(y, t[col], vals):
            text = f" {v:,.0f}" if v == v else f" {shown} (suppressed)"
            ax.text(0 if v != v else v, yi + offset, text, va="center", fontsize=7)
    ax.set_yticks(y, [str(c).replace("_", " ") for c in t["category"]])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlim(0, span * 1.2)
    ax.set_xlabel("Medication therapy problems")
    ax.legend(loc="lower right")
    ax.set_title("Medication therapy problems by category")
    return fig


def mtps_by_category(safe_categories: pd.DataFrame, va: ValueAnalysis, params: Params) -> FigureSpec:
    """``value_mtps``: MTPs identified and resolved by category, drawn from ``safe_categories`` (the category
    table after the funder table's suppression); the caption adds the share resolved and the Kaplan-Meier
    median days to resolution of the whole cohort."""
    threshold = params.suppress_below
    categories = va.mtp_categories_
    total = categories[categories["category"] == "all"].iloc[0]
    top = categories[categories["category"] != "all"].iloc[0]
    both = min(total.resolved, total.unresolved)
    resolved = (f"{total.pct_resolved:.0f}% confirmed resolved" if both >= threshold or both == 0
                else "share resolved suppressed (a count below the threshold)")
    median = ""
    if va.mtps_ is not None:
        row = va.mtps_.set_index("group").loc["all"]
        median = resolution_phrase(row.median_days_to_resolution, row.median_ci_low, row.median_ci_high,
                                   row.mtps_resolved, params)
    caption = (f"{format_count(total.identified, threshold)} medication therapy problems identified, {resolved}"
               + (f"; {median}" if median else "")
               + f"; the most frequent category was {str(top.category).replace('_', ' ')}. "
               f"Counts below {threshold} are suppressed.")
    return FigureSpec(
        "value_mtps", mtp_chart(safe_categories), "Medication therapy problems identified and resolved", caption,
        "Horizontal bar chart of medication therapy problems by category, identified and resolved. " + caption,
        SECTION, NOTEBOOK)
