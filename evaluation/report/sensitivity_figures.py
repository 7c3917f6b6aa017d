"""Figures of a sweep's sensitivity summary: one per headline result per measure (per cohort), the estimate and its
CI in each variant, each written beside its numbered caption and alt text.

Each figure is a dot plot with a row per variant (labelled by name, in the sweep's order), the base variant
highlighted (bold label, vermilion) and a dashed line at no effect (a change of 0, a rate ratio of 1, a return of
0); % at goal shows baseline (open) and follow-up (filled) in one figure per measure. A CI whose upper limit was not
reached is drawn to the edge with an arrow; a rate ratio is drawn on a logarithmic axis. Points the variant's funder tables suppress are left out, and the
caption and alt text say so; a median not reached has no point and says so at its row. The patients counted (``n``)
get no figure: a count belongs in the table, where the suppression marks stay.

Written as PNG (house style, 300 dpi, no timestamp or software in the metadata, so the same numbers give the same
bytes) to ``figures/``, with ``figures/manifest.csv`` (file, caption, alt_text).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

from evaluation.core.disclosure import suppress_text
from evaluation.core.figures import HOUSE_STYLE, OKABE_ITO, house_style
from evaluation.core.outputs import atomic_write, neutralise_formulas

FIGURES_DIR = "figures"
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ["file", "caption", "alt_text"]
BASE = "base"
BASE_COLOUR, OTHER_COLOUR, MUTED = OKABE_ITO[3], OKABE_ITO[0], "#666666"
PNG_METADATA = {"Software": None}  # matplotlib writes its version otherwise; no date is written
PCT_GOAL = "pct_goal"  # the figure that shows pct_goal_baseline and pct_goal_followup together
NO_FIGURE = ("n",)
RATIO_TICKS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4, 5, 10, 20)
NULL_WORDS = {0.0: "no change", 1.0: "no change (a ratio of 1)"}


@dataclass(frozen=True)
class SweepFigure:
    """A written figure: its file (relative to the summary folder), numbered caption and alt text, and what it shows."""

    number: int
    file: str
    caption: str
    alt_text: str
    cohort_id: str
    result: str
    measure: str


def mid_sentence(text: str) -> str:
    """``Systolic blood pressure`` -> ``systolic blood pressure`` inside a sentence; ``HbA1c``, ``LDL cholesterol``
    and ``INR`` stay as they are (a first word with a capital after its first letter is a name)."""
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first[1:] == first[1:].lower() else text


def figure_id(cohort_id: str, result: str, measure: str) -> str:
    """A figure's file stem: ``demo_mean_change_a1c`` (anything but letters, digits, - and _ as -)."""
    stem = "_".join(p for p in (cohort_id, result, measure) if p)
    return re.sub(r"[^A-Za-z0-9_-]", "-", stem)


def _row_of(rows: pd.DataFrame, name: str) -> pd.Series | None:
    pick = rows[rows["variant"] == name]
    return pick.iloc[0] if not pick.empty else None


def _style_labels(ax: plt.Axes, order: list[str]) -> None:
    ax.set_yticks(range(len(order)), order)
    for tick, name in zip(ax.get_yticklabels(), order):
        if name == BASE:
            tick.set_fontweight("bold")
            tick.set_color(BASE_COLOUR)
    ax.set_ylim(len(order) - 0.5, -0.5)  # the first variant on top
    ax.grid(axis="y", visible=False)


def _size(order: list[str]) -> tuple[float, float]:
    return 6.5, max(1.8, 0.9 + 0.34 * len(order))


@house_style
def draw_interval(rows: pd.DataFrame, order: list[str], label: str, null: float, log: bool = False) -> plt.Figure:
    """Estimate (dot) and CI (bar) per variant; suppressed points left out, a median not reached said at its row;
    ``log``: a logarithmic axis (a ratio, whose CI is symmetric on that scale)."""
    fig, ax = plt.subplots(figsize=_size(order))
    row_at = blended_transform_factory(ax.transAxes, ax.transData)
    shown = [r for r in (_row_of(rows, n) for n in order) if r is not None and not r["suppressed"]]
    values = [x for r in shown for x in (r["estimate"], r["ci_low"], r["ci_high"]) if not math.isnan(x)]
    if not math.isnan(null):
        values.append(null)
    if log:
        values = [x for x in values if x > 0]
    span = (max(values) - min(values)) if values else 1.0
    right = (max(values) + 0.08 * (span or 1.0)) if values else 1.0
    if log and values:
        right = max(values) * 1.12
    for y, name in enumerate(order):
        r = _row_of(rows, name)
        colour = BASE_COLOUR if name == BASE else OTHER_COLOUR
        if r is None or r["suppressed"]:
            ax.text(0.01, y, "not shown: suppressed" if r is not None else "not available", transform=row_at,
                    va="center", ha="left", color=MUTED, fontsize=8, style="italic")
            continue
        low, high, x = r["ci_low"], r["ci_high"], r["estimate"]
        if not math.isnan(low) and not math.isnan(high):
            ax.plot([low, high], [y, y], color=colour, linewidth=2, solid_capstyle="butt")
        elif not math.isnan(low) and "median" in r["result"]:  # upper limit not reached: to the edge, with an arrow
            ax.annotate("", xy=(right, y), xytext=(low, y), arrowprops={"arrowstyle": "->", "color": colour, "lw": 2})
        if math.isnan(x):
            ax.text(0.99, y - 0.22, "median not reached", transform=row_at, va="bottom", ha="right", color=MUTED,
                    fontsize=8, style="italic")
        else:
            ax.plot([x], [y], "o", color=colour, markersize=7 if name == BASE else 6, zorder=3)
    if not math.isnan(null):
        ax.axvline(null, color="#444444", linestyle="--", linewidth=1)
    if log and values:
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 1.12, right * 1.03)
        lo, hi = ax.get_xlim()
        ticks = [t for t in RATIO_TICKS if lo <= t <= hi]
        ax.xaxis.set_major_locator(FixedLocator(ticks[:: max(1, math.ceil(len(ticks) / 8))]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
    elif values:
        ax.set_xlim(min(values) - 0.08 * (span or 1.0), right + 0.02 * (span or 1.0))
    _style_labels(ax, order)
    ax.set_xlabel(label)
    fig.tight_layout()
    return fig


@house_style
def draw_goal_shares(baseline: pd.DataFrame, followup: pd.DataFrame, order: list[str], label: str) -> plt.Figure:
    """% at goal at baseline (open circle) and at follow-up (filled) per variant, joined by a line."""
    fig, ax = plt.subplots(figsize=_size(order))
    row_at = blended_transform_factory(ax.transAxes, ax.transData)
    for y, name in enumerate(order):
        b, f = _row_of(baseline, name), _row_of(followup, name)
        colour = BASE_COLOUR if name == BASE else OTHER_COLOUR
        points = [(r["estimate"], fill) for r, fill in ((b, False), (f, True))
                  if r is not None and not r["suppressed"] and not math.isnan(r["estimate"])]
        if not points:
            ax.text(0.01, y, "not shown: suppressed", transform=row_at, va="center", ha="left", color=MUTED,
                    fontsize=8, style="italic")
            continue
        if len(points) == 2:
            ax.plot([p[0] for p in points], [y, y], color=colour, linewidth=1.2)
        for x, fill in points:
            ax.plot([x], [y], "o", markersize=7, color=colour, markerfacecolor=colour if fill else "white",
                    markeredgewidth=1.5, zorder=3)
    ax.plot([], [], "o", color=MUTED, markerfacecolor="white", markeredgewidth=1.5, label="at baseline")
    ax.plot([], [], "o", color=MUTED, label="at follow-up")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2, fontsize=8, borderaxespad=0)
    _style_labels(ax, order)
    ax.set_xlabel(label)
    fig.tight_layout()
    return fig


def _suppressed_names(rows: pd.DataFrame, order: list[str]) -> list[str]:
    return [n for n in order if (r := _row_of(rows, n)) is not None and r["suppressed"]]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _conclusion_sentence(conclusions: pd.DataFrame, cohort_id: str, result: str, measure: str) -> str:
    pick = conclusions[(conclusions["cohort_id"] == cohort_id) & (conclusions["result"] == result)
                       & (conclusions["measure"] == measure)]
    if pick.empty:
        return ""
    c = pick.iloc[0]
    if c["holds"]:
        return f"The conclusion ({c['conclusion']}) is the same in every variant."
    return f"The conclusion ({c['conclusion']}) differs in {_join(str(c['differs_in']).split(';'))}."


def _alt_values(rows: pd.DataFrame, order: list[str], ci_label: str) -> str:
    parts = []
    for n in order:
        r = _row_of(rows, n)
        if r is None:
            parts.append(f"{n} not available")
        elif r["suppressed"]:
            parts.append(f"{n} suppressed, not shown")
        else:
            text = str(r["estimate_text"]).replace("(", f"({ci_label} ", 1)
            parts.append(f"{n} {text}")
    return "; ".join(parts)


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with plt.rc_context(HOUSE_STYLE):
        fig.savefig(tmp, format="png", metadata=PNG_METADATA)
    tmp.replace(path)
    plt.close(fig)


def write_figures(table: pd.DataFrame, folder: Path, *, sweep_name: str, order: dict[str, list[str]],
                  nulls: dict[str, float], conclusions: pd.DataFrame, threshold: int,
                  ci_label: str = "95% CI") -> list[SweepFigure]:
    """A figure per (cohort, headline result, measure) of the sensitivity ``table`` (with its ``estimate_text``
    column), written to ``folder`` with ``manifest.csv``; the figures in order, numbered from 1. ``order``: each
    cohort's variants in sweep order; ``nulls``: each result's value of no effect; captions and alt text are
    written with small counts of patients as ``<threshold``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    several = len(order) > 1
    out: list[SweepFigure] = []
    for cohort_id, names in order.items():
        mine = table[table["cohort_id"] == cohort_id]
        keys = mine.loc[~mine["result"].isin(NO_FIGURE) & (mine["result"] != "pct_goal_baseline"),
                        ["result", "measure", "label"]].drop_duplicates(["result", "measure"])
        k = len(names)
        where = f" (cohort {cohort_id})" if several else ""
        highlighted = "; the base variant is highlighted" if BASE in names else ""
        for key in keys.itertuples(index=False):
            rows = mine[(mine["result"] == key.result) & (mine["measure"] == key.measure)]
            number = len(out) + 1
            if key.result == "pct_goal_followup":
                before = mine[(mine["result"] == "pct_goal_baseline") & (mine["measure"] == key.measure)]
                label = key.label.replace(" at goal at follow-up (%)", " at goal (%)")
                fig = draw_goal_shares(before, rows, names, label)
                hidden = sorted(set(_suppressed_names(before, names)) | set(_suppressed_names(rows, names)),
                                key=names.index)
                caption = (f"{label} at baseline (open circle) and at follow-up (filled) in each of the {k} variants "
                           f"of sweep {sweep_name}{where}{highlighted}.")
                alt = (f"Dot plot of {mid_sentence(label)}, one row per variant. At baseline: "
                       f"{_alt_values(before, names, ci_label)}. At follow-up: {_alt_values(rows, names, ci_label)}.")
                stem = figure_id(cohort_id, PCT_GOAL, key.measure)
            else:
                null = nulls.get(key.result, math.nan)
                log = null == 1.0  # a ratio
                fig = draw_interval(rows, names, key.label, null, log=log)
                hidden = _suppressed_names(rows, names)
                line = f" The dashed line marks {NULL_WORDS.get(null, 'no effect')}." if not math.isnan(null) else ""
                reached = ("; an arrow: a CI whose upper limit was not reached"
                           if "median" in key.result else "")
                scale = ", on a logarithmic scale" if log else ""
                caption = (f"{key.label}: estimate (dot) and {ci_label} (bar) in each of the {k} variants of "
                           f"sweep {sweep_name}{where}{scale}{highlighted}{reached}.{line}")
                alt = (f"Dot plot of {mid_sentence(key.label)} with {ci_label}, one row per variant: "
                       f"{_alt_values(rows, names, ci_label)}.")
                stem = figure_id(cohort_id, key.result, key.measure)
            said = _conclusion_sentence(conclusions, cohort_id, key.result, key.measure)
            if said:
                caption += f" {said}"
            if hidden:
                caption += (f" Not shown: {_join(hidden)}, where the variant's funder tables suppress the value "
                            f"(a small count of patients).")
            caption = suppress_text(f"Figure {number}. {caption}", threshold)
            alt = suppress_text(alt, threshold)
            file = f"{FIGURES_DIR}/{stem}.png"
            _save(fig, folder / f"{stem}.png")
            out.append(SweepFigure(number, file, caption, alt, cohort_id, key.result, key.measure))
    manifest = pd.DataFrame([{"file": f.file, "caption": f.caption, "alt_text": f.alt_text} for f in out],
                            columns=MANIFEST_COLUMNS)
    atomic_write(folder / MANIFEST, neutralise_formulas(manifest).to_csv(index=False, lineterminator="\n"))
    return out
