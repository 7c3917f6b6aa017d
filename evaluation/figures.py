"""Draw and export figures: one house style, and one exporter every notebook uses.

Each exported figure is written as PNG (300 dpi), SVG and PDF (TrueType fonts embedded) under
``<report>/figures/`` with a sidecar record; ``figures/manifest.csv`` (figure_id, title, caption,
alt_text, notebook, files) is rebuilt from the sidecars so notebooks running in parallel never clash.
Files are written without timestamps so the same data gives the same files.

Figures may reach a funder, so no small count of patients is drawn or written (the CMS cell-size rule,
:mod:`evaluation.privacy`): titles, captions, alt text and every text drawn are passed through
:func:`~evaluation.privacy.suppress_text` on export; a figure that draws counts (the Kaplan-Meier numbers
table, bars of patients) hides the ones a reader could work out and records what it shows, with the facts
that tie its numbers together, in ``figures/<id>.counts.json`` for the gate to check.
"""
from __future__ import annotations

import functools
import json
import os
import textwrap
import weakref
from pathlib import Path
from typing import Callable, TypeVar

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.colors import TwoSlopeNorm
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text

from . import privacy
from .params import Params
from .report import atomic_write
from .spreadsheet import neutralise_formulas

# Okabe & Ito (2008) colour-blind-safe palette; black last.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
SEQUENTIAL = "cividis"  # perceptually uniform and readable with colour-vision deficiency
DIVERGING = "RdBu"
MANIFEST_COLUMNS = ["figure_id", "title", "caption", "alt_text", "notebook", "files"]
FORMATS = ("png", "svg", "pdf")
FORMATS_ENV = "CMM_FIGURE_FORMATS"  # e.g. "svg": a draft run that skips the slow formats (the cohort-shape tests)


def figure_formats() -> tuple[str, ...]:
    """The formats figures are exported in: all three, unless $CMM_FIGURE_FORMATS names fewer."""
    chosen = tuple(f.strip() for f in os.environ.get(FORMATS_ENV, "").split(",") if f.strip())
    bad = [f for f in chosen if f not in FORMATS]
    if bad:
        raise ValueError(f"${FORMATS_ENV} may name only {', '.join(FORMATS)}; got {', '.join(bad)}")
    return chosen or FORMATS

HOUSE_STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib, so every machine draws the same glyphs
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.prop_cycle": cycler(color=OKABE_ITO),
    "legend.frameon": False,
    "figure.dpi": 100,
    "figure.figsize": (7, 4.2),
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # TrueType, embedded
    "ps.fonttype": 42,
    "svg.fonttype": "path",  # glyphs as outlines: renders the same without the font installed
    "svg.hashsalt": "cmm-evaluation",  # fixed ids: identical SVG for identical figures
    "image.cmap": SEQUENTIAL,
}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}


F = TypeVar("F", bound=Callable)


def use_house_style() -> None:
    """Apply the house style to every later figure (for interactive work in JupyterLab)."""
    plt.rcParams.update(HOUSE_STYLE)


def house_style(draw: F) -> F:
    """Decorator: draw under the house style, whatever the caller's matplotlib settings."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(HOUSE_STYLE):
            return draw(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _output_dir(target: Params | str | Path) -> Path:
    return Path(target.output_dir if isinstance(target, Params) else target)


COUNTS_SUFFIX = ".counts.json"  # figures/<id>.counts.json: the counts a figure draws, for the gate
COUNT_GID = privacy.COUNT_GID  # SVG id prefix of a text drawing one recorded count
_COUNTS: "weakref.WeakKeyDictionary[plt.Figure, dict]" = weakref.WeakKeyDictionary()
_RESTATE: "weakref.WeakKeyDictionary[plt.Figure, dict]" = weakref.WeakKeyDictionary()


def attach_counts(fig: plt.Figure, cells: list[dict], relations: list, threshold: int | None,
                  mentions: list[dict] = (), note: str = "", restate: dict[str, str] | None = None) -> None:
    """Record on ``fig`` the counts it draws, for :func:`export_figure` to write as ``<id>.counts.json``.

    ``cells``: {id, shown, gid, label} (``gid``: the SVG id of the text drawing it, or None when it is not
    drawn as text, e.g. a total stated in the caption); ``mentions``: {gid, cell, contains}, texts that
    state a cell inside other words (a legend's "(n = 22)"); ``relations``: the
    :class:`~evaluation.privacy.Relation` facts a reader knows. No hidden value is recorded. ``restate``:
    phrases of the figure's title, caption or alt text that state a count the figure hides, and what to
    say instead; applied by :func:`export_figure` and never written.
    """
    _COUNTS[fig] = {"threshold": threshold, "note": note, "cells": list(cells), "mentions": list(mentions),
                    "relations": [r.to_json() for r in relations]}
    _RESTATE[fig] = dict(restate or {})


def figure_counts(fig: plt.Figure) -> dict | None:
    """The counts record :func:`attach_counts` put on ``fig`` (None for a figure that draws no counts)."""
    return _COUNTS.get(fig)


def _threshold(target: Params | str | Path, suppress_below: int | None) -> int:
    """The cohort's threshold; the CMS rule of 11 when the figure is written to a bare folder."""
    if suppress_below is not None:
        return int(suppress_below)
    return int(target.suppress_below) if isinstance(target, Params) else 11


def _suppress_drawn_text(fig: plt.Figure, threshold: int) -> None:
    """Every text drawn on the figure (titles, labels, legends, notes) with small counts written as <11."""
    for artist in fig.findobj(Text):
        text = artist.get_text()
        if text and any(ch.isdigit() for ch in text):
            safe = privacy.suppress_text(text, threshold)
            if safe != text:
                artist.set_text(safe)


def export_figure(fig: plt.Figure, target: Params | str | Path, figure_id: str, *, title: str, caption: str,
                  alt_text: str, notebook: str, suppress_below: int | None = None) -> plt.Figure:
    """Save ``fig`` as PNG/SVG/PDF with its manifest record; return it for display.

    ``title``, ``caption`` and ``alt_text`` are required: a grant writer must be able to use the figure
    without opening the notebook. They, and every text on the figure, are written with small counts of
    patients as ``<11`` (``suppress_below``, by default the cohort's ``params.suppress_below``), so the
    manifest, the pages, the DOCX and the notebook say the same. A figure that records its counts
    (:func:`attach_counts`) also gets ``<id>.counts.json``, listed with its files. The figure is closed so
    Jupyter shows it once (as the cell's result).
    """
    for name, text in (("title", title), ("caption", caption), ("alt_text", alt_text)):
        if not text or not str(text).strip():
            raise ValueError(f"figure {figure_id!r} needs a non-empty {name}")
    if not figure_id.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"figure_id may hold only letters, digits, - and _; got {figure_id!r}")
    threshold = _threshold(target, suppress_below)
    texts = []
    for text in (str(title), str(caption), str(alt_text)):
        for said, safe in _RESTATE.get(fig, {}).items():  # a count the figure hides is not in its caption either
            text = text.replace(said, safe)
        texts.append(privacy.suppress_text(text, threshold))
    title, caption, alt_text = texts
    folder = _output_dir(target) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    with plt.rc_context(HOUSE_STYLE):
        _suppress_drawn_text(fig, threshold)
        # the tight bounding box once, for all three formats: computing it is a full draw of the figure
        fig.draw_without_rendering()  # let a layout engine (constrained layout) place everything first
        bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
        for fmt in figure_formats():
            path = folder / f"{figure_id}.{fmt}"
            tmp = folder / f".{figure_id}.tmp.{fmt}"
            fig.savefig(tmp, format=fmt, metadata=_METADATA[fmt], bbox_inches=bbox)
            os.replace(tmp, path)
            files.append(f"figures/{path.name}")
    counts = figure_counts(fig)
    counts_path = folder / f"{figure_id}{COUNTS_SUFFIX}"
    if counts is not None:
        atomic_write(counts_path, json.dumps({"figure_id": figure_id, **counts}, indent=1, sort_keys=True) + "\n")
        files.append(f"figures/{counts_path.name}")
    elif counts_path.exists():
        counts_path.unlink()  # a record left from an earlier drawing of the figure would not match it
    record = {"figure_id": figure_id, "title": title, "caption": caption, "alt_text": alt_text,
              "notebook": notebook, "files": ";".join(files)}
    atomic_write(folder / f"{figure_id}.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    write_manifest(folder)
    plt.close(fig)
    return fig


def read_manifest(folder: str | Path) -> pd.DataFrame:
    """Every figure's record, sorted by notebook then figure id."""
    folder = Path(folder)
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))
               if not p.name.endswith(COUNTS_SUFFIX)]
    df = pd.DataFrame(records, columns=MANIFEST_COLUMNS)
    return df.sort_values(["notebook", "figure_id"], kind="stable").reset_index(drop=True)


def write_manifest(folder: str | Path) -> Path:
    """Rebuild ``manifest.csv`` from the sidecar records (atomic); no cell would run as a spreadsheet formula."""
    folder = Path(folder)
    path = folder / "manifest.csv"
    atomic_write(path, neutralise_formulas(read_manifest(folder)).to_csv(index=False, lineterminator="\n"))
    return path


# --- shared drawing helpers ------------------------------------------------------------------------

def count_label(n, suppress_below: int | None) -> str:
    """A count drawn on a figure: ``<11`` for 1..10 when figures may reach a funder (CMS cell-size rule)."""
    from .privacy import format_count

    return format_count(n, suppress_below) if suppress_below else f"{int(n):,}"


@house_style
def bar_counts(series: pd.Series, *, title: str, xlabel: str = "", ylabel: str = "", horizontal: bool = True,
               ax: plt.Axes | None = None) -> plt.Figure:
    """A plain labelled bar chart of counts (index = category)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, max(2.0, 0.3 * len(series) + 1)) if horizontal else None)
    else:
        fig = ax.figure
    if horizontal:
        ax.barh(series.index.astype(str), series.to_numpy(), color=OKABE_ITO[0])
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        for y, v in enumerate(series.to_numpy()):
            ax.text(v, y, f" {v:,.0f}", va="center", fontsize=8)
    else:
        ax.bar(series.index.astype(str), series.to_numpy(), color=OKABE_ITO[0])
        ax.grid(axis="x", visible=False)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


# --- overview ------------------------------------------------------------------------------------

def hidden_note(threshold: int | None) -> str:
    """The note under a figure that hides counts."""
    return f"<{threshold or 11}: fewer than {threshold or 11}; * hidden so that a small count cannot be worked out"


def _protected_counts(values: dict[str, float], relations: list[privacy.Relation], suppress_below: int | None,
                      locked: set[str] = frozenset()) -> dict[str, str]:
    """What a figure shows of each count: :func:`evaluation.privacy.protect_cells` (or every count as it is
    when ``suppress_below`` is None)."""
    if not suppress_below:
        return {c: f"{int(v):,}" for c, v in values.items()}
    return privacy.protect_cells(values, relations, suppress_below, locked=locked)


def _record_bars(fig: plt.Figure, values: dict[str, float], labels: dict[str, str], shown: dict[str, str],
                 gids: dict[str, str], relations: list[privacy.Relation], suppress_below: int | None) -> None:
    cells = [{"id": c, "label": labels[c], "shown": shown[c], "gid": gids.get(c)} for c in values]
    hidden = any(v in (privacy.COMPLEMENT_MARK, privacy.UNDRAWN) for v in shown.values())
    attach_counts(fig, cells, relations, suppress_below, note=hidden_note(suppress_below) if hidden else "")


@house_style
def patients_per_team_chart(table: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """Horizontal bars: patients enrolled per team (from overview.patients_per_team), each labelled.

    The caption (``overview.patients_per_team_text``) states the total and the smallest and largest team,
    so a team of 1 to ``suppress_below`` - 1 patients is not drawn (labelled ``<11``) and, when the others
    would give it away, neither is the next smallest (``*``); bars of hidden counts are not drawn."""
    names = table["team_name"].astype(str).tolist()
    counts = pd.to_numeric(table["patients"], errors="coerce").fillna(0).to_numpy(float)
    ids = [f"team:{i}" for i in range(len(names))]
    values = {"total": float(counts.sum()), **dict(zip(ids, counts))}
    labels = {"total": "patients in the caption", **{c: f"{n}: patients" for c, n in zip(ids, names)}}
    locked = {"total"}
    if len(counts):  # the caption states the largest and (when not small) the smallest team
        locked |= {c for c, v in zip(ids, counts) if v in (counts.max(), counts.min())
                   and not (suppress_below and 1 <= v < suppress_below)}
    relations = [privacy.Relation({**{c: 1.0 for c in ids}, "total": -1.0}, "==", 0.0,
                                  "the teams add up to the patients in the caption")] if ids else []
    shown = _protected_counts(values, relations, suppress_below, locked)
    fig, ax = plt.subplots(figsize=(6, max(2.0, 0.3 * len(names) + 1)))
    drawn = np.array([_shown_number_or_nan(shown[c]) for c in ids], float)
    y = np.arange(len(names))
    ax.barh(y[~np.isnan(drawn)], drawn[~np.isnan(drawn)], color=OKABE_ITO[0])
    gids = {}
    for yy, c, v in zip(y, ids, drawn):
        if shown[c] != privacy.UNDRAWN:  # each label is exactly what the counts record says it shows
            gids[c] = f"{COUNT_GID}{len(gids)}"
            ax.text(0 if v != v else v, yy, f" {shown[c]}", va="center", fontsize=8, gid=gids[c])
    ax.set_yticks(y, names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # every team's row, drawn or not, top to bottom
    ax.grid(axis="y", visible=False)
    ax.set_title("Patients in the population of focus, by team")
    ax.set_xlabel("Patients" + (f"\n({hidden_note(suppress_below)})" if any(v != v for v in drawn) else ""))
    _record_bars(fig, values, labels, shown, gids, relations, suppress_below)
    return fig


def _shown_number_or_nan(text: str) -> float:
    """What a bar is drawn to: the number its label shows, or NaN (not drawn) for a mark."""
    number = privacy.shown_number(text)
    return float("nan") if number is None else number


def merge_small_bins(counts, edges, threshold: int, fixed: tuple[float, ...] = ()) -> tuple[list[int], list[float]]:
    """Histogram bins with 1 to ``threshold`` - 1 counts merged into a neighbour until none is small.

    A small bin joins its small neighbour first, else its smaller non-empty one, else an empty one; never
    across an edge in ``fixed`` (a goal line the caption counts patients on either side of). Bins left small
    (a whole side of a fixed edge holds fewer than ``threshold``) stay: the figure hides them."""
    counts, edges = [int(c) for c in counts], [float(e) for e in edges]

    def small(c: int) -> bool:
        return 1 <= c < threshold

    merged = True
    while merged:
        merged = False
        for i, c in enumerate(counts):
            if not small(c):
                continue
            options = [j for j, edge in ((i - 1, edges[i]), (i + 1, edges[i + 1]))
                       if 0 <= j < len(counts) and edge not in fixed]
            if not options:
                continue
            j = min(options, key=lambda j: (not small(counts[j]), counts[j] == 0, counts[j], j))
            lo, hi = min(i, j), max(i, j)
            counts[lo:hi + 1] = [counts[lo] + counts[hi]]
            del edges[hi]
            merged = True
            break
    return counts, edges


def _safe_histogram(ax: plt.Axes, values, edges, suppress_below: int | None, *, per: float, fixed: tuple[float, ...] = (),
                    unit: str = "patients") -> tuple[dict[str, float], dict[str, str], dict[str, str], dict[str, str], list]:
    """Draw a histogram of patients whose bins hold no small count: small bins merged with a neighbour
    (:func:`merge_small_bins`), and any bin still small hidden (with one more when the total in the caption
    would give it away). A bar's height is its patients per ``per`` units of x (so a merged, wider bin is not
    drawn taller than its share) and its label the patients in it. Returns what :func:`_record_bars` needs."""
    values = np.asarray(values, float)
    counts, _ = np.histogram(values, bins=edges)
    if suppress_below:
        counts, edges = merge_small_bins(counts, edges, suppress_below, fixed)
    ids = [f"bin:{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:])]
    cells = {"total": float(len(values)), **{c: float(n) for c, n in zip(ids, counts)}}
    labels = {"total": f"{unit} in the caption", **{c: f"{unit} from {a:g} to {b:g}" for c, a, b in
                                                    zip(ids, edges[:-1], edges[1:])}}
    relations = [privacy.Relation({**{c: 1.0 for c in ids}, "total": -1.0}, "==", 0.0,
                                  f"the bins add up to the {unit} in the caption")] if ids else []
    locked = {"total"}
    for k, edge in enumerate(fixed):  # the caption counts those at or above the line
        above = [c for c, a in zip(ids, edges[:-1]) if a >= edge]
        if above:
            cells[f"above:{k}"] = float((values >= edge).sum())
            labels[f"above:{k}"] = f"{unit} at or above {edge:g} (in the caption)"
            locked.add(f"above:{k}")
            relations.append(privacy.Relation({**{c: 1.0 for c in above}, f"above:{k}": -1.0}, "==", 0.0,
                                              f"the bins from {edge:g} up add up to the {unit} the caption counts there"))
    shown = _protected_counts(cells, relations, suppress_below, locked)
    gids = {}
    top = max([float(n) * per / (b - a) for n, a, b in zip(counts, edges[:-1], edges[1:])] + [1.0])
    for c, a, b in zip(ids, edges[:-1], edges[1:]):
        v = _shown_number_or_nan(shown[c])
        if v == v:
            if v > 0:  # an empty bin has no bar and no label
                height = v * per / (b - a)
                ax.bar(a, height, width=b - a, align="edge", color=OKABE_ITO[0], edgecolor="white")
                gids[c] = f"{COUNT_GID}{len(gids)}"
                ax.text((a + b) / 2, height, shown[c], ha="center", va="bottom", fontsize=6, gid=gids[c])
            continue
        ax.bar(a, top * 0.04, width=b - a, align="edge", color="#eeeeee", edgecolor="#999999", hatch="////",
               linewidth=0.3)  # a hidden count: a flat hatched box, its height says nothing
        if shown[c] != privacy.UNDRAWN:
            gids[c] = f"{COUNT_GID}{len(gids)}"
            ax.text((a + b) / 2, top * 0.04, shown[c], ha="center", va="bottom", fontsize=6, gid=gids[c])
    return cells, labels, shown, gids, relations


def _histogram_note(shown: dict[str, str], suppress_below: int | None) -> str:
    if not suppress_below:
        return ""
    note = f"\n(bins of fewer than {suppress_below} patients merged; labels: patients in the bar)"
    hidden = any(v in (privacy.COMPLEMENT_MARK, privacy.small_mark(suppress_below), privacy.UNDRAWN) for v in shown.values())
    return note + (f"\n({hidden_note(suppress_below)})" if hidden else "")


@house_style
def follow_up_histogram(follow_up: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """Histogram of days of follow-up per patient (from overview.follow_up_days), 30-day bins.

    Bins with 1 to ``suppress_below`` - 1 patients are merged with a neighbour (wider bars), so no bar is a
    small count; each bar is labelled with its patients."""
    days = follow_up["follow_up_days"].dropna()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    edges = list(range(0, int(days.max() if len(days) else 0) + 31, 30))
    values, labels, shown, gids, relations = _safe_histogram(ax, days, edges, suppress_below, per=30)
    if len(days):
        ax.axvline(days.median(), color=OKABE_ITO[3], linestyle="--", label=f"median {days.median():.0f} days")
        ax.legend()
    ax.set_title("Follow-up per patient: enrollment to last measurement")
    ax.set_xlabel("Days after enrollment" + _histogram_note(shown, suppress_below))
    ax.set_ylabel("Patients per 30 days")
    _record_bars(fig, values, labels, shown, gids, relations, suppress_below)
    return fig


# --- engagement ----------------------------------------------------------------------------------


ENGAGEMENT_KIND_LABELS = {"all": "All events", "monthly_call": "Monthly calls", "webinar": "Webinars",
                          "coaching_call": "Coaching calls", "learning_session": "Learning sessions",
                          "office_hours": "Office hours", "other": "Other events"}
MILESTONE_COLORS = {"done on time": OKABE_ITO[2], "done late": OKABE_ITO[1], "overdue": OKABE_ITO[3],
                    "not yet due": "#dddddd"}


def _team_ticks(ax: plt.Axes, labels: list[str]) -> None:
    ax.set_yticks(np.arange(len(labels)) + 0.5, labels, fontsize=7)


@house_style
def engagement_heatmap(by_month: pd.DataFrame) -> plt.Figure:
    """Team x month heatmaps of attendance, one panel per event kind (from engagement.attendance_by_month).

    Colour: attended / recorded. Text: attended/offered. Hatched grey: offered but attendance not
    recorded. Blank: nothing offered that month. Above ``engagement.TEAMS_SHOWN`` teams it draws the
    teams with the lowest and the highest attendance rate (:func:`evaluation.engagement.heatmap_teams`),
    under a top row of all teams pooled (its text: the pooled rate); a dashed line parts the two ends.
    """
    from .engagement import heatmap_teams

    kinds = ["all", *sorted(k for k in by_month["kind"].unique() if k != "all")]
    shown = heatmap_teams(by_month)
    teams, pooled = shown.teams, shown.capped
    labels = ([f"All {shown.total:,} teams"] if pooled else []) + teams
    months = sorted(by_month["month"].unique())
    ncols = 2
    nrows = int(np.ceil((len(kinds) + 1) / ncols))
    width = max(3.2, 0.32 * len(months) + 1.2)
    height = max(1.6, 0.24 * len(labels) + 0.9)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, layout="constrained")
    cmap = plt.get_cmap(SEQUENTIAL).copy()
    mesh = None
    for ax, kind in zip(axes.flat, kinds):
        sub = by_month[by_month["kind"] == kind]

        def grid(column: str) -> np.ndarray:
            return sub.pivot(index="team_id", columns="month", values=column).reindex(index=teams, columns=months).to_numpy(float)

        rate, offered, attended = grid("attendance_rate"), grid("events_offered"), grid("events_attended")
        if pooled:
            total = sub.groupby("month")[["events_attended", "events_recorded", "events_offered"]].sum().reindex(months)
            recorded = total["events_recorded"].to_numpy(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                pooled_rate = np.where(recorded > 0, total["events_attended"].to_numpy(float) / recorded, np.nan)
            rate = np.vstack([pooled_rate, rate])
            offered = np.vstack([total["events_offered"].to_numpy(float), offered])
            attended = np.vstack([total["events_attended"].to_numpy(float), attended])
        mesh = ax.pcolormesh(np.ma.masked_invalid(rate), cmap=cmap, vmin=0, vmax=1, edgecolors="white", linewidth=0.5)
        for i, j in zip(*np.nonzero(np.nan_to_num(offered) > 0)):
            r = rate[i, j]
            if np.isnan(r):
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor="#eeeeee", edgecolor="#999999", hatch="////",
                                       linewidth=0.3))
            text = f"{r:.0%}" if pooled and i == 0 and not np.isnan(r) else f"{int(attended[i, j])}/{int(offered[i, j])}"
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=5.5,
                    color="black" if np.isnan(r) or r > 0.55 else "white").set_in_layout(False)  # inside its cell
        if pooled:
            ax.axhline(1, color="black", linewidth=1.2)
            ax.axhline(1 + shown.split, color="black", linewidth=0.8, linestyle="--")
        ax.set_xticks(np.arange(len(months)) + 0.5, [m[2:] for m in months], rotation=90, fontsize=7)
        _team_ticks(ax, labels)
        ax.set_xlim(0, len(months))
        ax.set_ylim(len(labels), 0)
        ax.grid(False)
        ax.set_title(ENGAGEMENT_KIND_LABELS.get(kind, kind))
    for ax in list(axes.flat)[len(kinds):]:
        ax.axis("off")
    legend_ax = axes.flat[-1]  # always a spare panel: "all" plus one or more kinds, one slot kept free
    handles = [Patch(facecolor="#eeeeee", edgecolor="#999999", hatch="////", label="offered, attendance not recorded"),
               Patch(facecolor="white", edgecolor="#999999", label="nothing offered")]
    if mesh is not None:
        bar = fig.colorbar(mesh, ax=axes.ravel().tolist(), shrink=0.5)
        bar.set_label("Attended / recorded events")
        bar.ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    legend_ax.legend(handles=handles, loc="center", fontsize=7, title="Cell text: attended/offered",
                     title_fontsize=7)
    fig.suptitle("Attendance by team and month", fontweight="bold")
    return fig


@house_style
def engagement_trend_chart(trend) -> plt.Figure:
    """Cohort attendance rate per month with the fitted logistic trend (an engagement.AttendanceTrend)."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    d = trend.by_month.sort_values("cycle_month")
    x = d["cycle_month"].astype(int).to_numpy()
    ax.plot(x, d["attendance_rate"], marker="o", color=OKABE_ITO[0], label="attended / recorded events")
    for xi, rate, n in zip(x, d["attendance_rate"], d["events_recorded"]):
        if pd.notna(rate):
            ax.annotate(f"{int(n)}", (xi, rate), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=6,
                        color="#555555")  # recorded team-events (the caption says so): not a count of patients
    if "fitted" in d and d["fitted"].notna().any():
        ax.plot(x, d["fitted"], linestyle="--", color=OKABE_ITO[3], label="logistic trend")
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xticks(x, [f"{c}\n{m[2:]}" for c, m in zip(x, d["month"])], fontsize=7)
    ax.set_xlabel("Cycle month (year-month)")
    ax.set_ylabel("Attendance")
    ax.set_title("Cohort attendance across the cycle")
    ax.legend(loc="lower left", fontsize=7)
    return fig


@house_style
def engagement_milestone_chart(status: pd.DataFrame) -> plt.Figure:
    """Accountability pathway: team x milestone grid coloured by status (from engagement.milestone_status).

    Milestones run left to right by their median due date; cells show days late when done late. Above
    ``engagement.TEAMS_SHOWN`` teams it draws the teams furthest behind, furthest first
    (:func:`evaluation.engagement.pathway_teams`).
    """
    from .engagement import pathway_teams

    order = status.groupby("milestone")["due_on"].median().sort_values(kind="stable").index.tolist()
    teams = pathway_teams(status).teams
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(order) + 1.5), max(2.0, 0.28 * len(teams) + 1.2)))
    cells = status[status["team_id"].isin(teams)].drop_duplicates(["team_id", "milestone"])
    cells = cells.assign(row_i=cells["team_id"].map({t: i for i, t in enumerate(teams)}),
                         col_j=cells["milestone"].map({m: j for j, m in enumerate(order)}))
    for row in cells.sort_values(["row_i", "col_j"], kind="stable").itertuples(index=False):
        ax.add_patch(Rectangle((row.col_j, row.row_i), 1, 1, facecolor=MILESTONE_COLORS[row.status], edgecolor="white",
                               linewidth=1.5))
        if row.status == "done late":
            ax.text(row.col_j + 0.5, row.row_i + 0.5, f"+{row.days_late:.0f} d", ha="center", va="center", fontsize=6)
    ax.set_xlim(0, len(order))
    ax.set_ylim(len(teams), 0)
    ax.set_xticks(np.arange(len(order)) + 0.5, [m.replace("_", " ") for m in order], rotation=30, ha="right", fontsize=7)
    _team_ticks(ax, teams)
    ax.grid(False)
    ax.set_title("Accountability pathway: milestone status by team")
    ax.legend(handles=[Patch(facecolor=c, label=s) for s, c in MILESTONE_COLORS.items()], loc="upper left",
              bbox_to_anchor=(1.01, 1), fontsize=7)
    return fig


@house_style
def engagement_score_chart(team_table: pd.DataFrame, weights: dict | None = None) -> plt.Figure:
    """Teams ranked by engagement score, bars split into each component's points (from engagement_by_team).

    Above ``engagement.TEAMS_SHOWN`` teams it draws the lowest- and the highest-scoring teams
    (:func:`evaluation.engagement.score_teams`) with a marked gap for the teams in between.
    """
    from .engagement import score_teams

    shown = score_teams(team_table)
    d = team_table.set_index("team_id").loc[shown.teams].reset_index()
    y = np.arange(len(d), dtype=float)
    if shown.capped:  # a blank row between the two ends says how many teams lie between them
        y[shown.split:] += 1
    fig, ax = plt.subplots(figsize=(6.5, max(2.0, 0.3 * (y[-1] + 1 if len(y) else 0) + 1.2)), layout="constrained")
    labels = [f"{t} ({tr})" for t, tr in zip(d["team_id"], d["track"])]
    left = np.zeros(len(d))
    parts = [("contribution_attendance", "attendance"), ("contribution_milestones_done", "milestones done"),
             ("contribution_milestones_on_time", "milestones on time")]
    for color, (col, name) in zip(OKABE_ITO, parts):
        values = d[col].fillna(0).to_numpy(float)
        w = f" (weight {weights[col.removeprefix('contribution_')]:g})" if weights else ""
        ax.barh(y, values, left=left, color=color, label=name + w, height=0.8)
        left += values
    ax.set_yticks(y, labels, fontsize=8)
    for yy, score in zip(y, d["engagement_score"]):
        ax.text(0 if pd.isna(score) else score, yy, " no data" if pd.isna(score) else f" {score:.0f}", va="center",
                fontsize=7)
    if shown.capped:
        between = team_table["engagement_score"].median()
        ax.text(1, shown.split, f"... {shown.total - len(d):,} teams in between (median score of all teams "
                f"{between:.0f}) ...", va="center", fontsize=7, style="italic", color="#555555")
    ax.set_xlim(0, 108)
    ax.set_axisbelow(True)
    ax.set_xlabel("Engagement score (0-100)")
    ax.grid(axis="y", visible=False)
    ax.set_title("Engagement score by team")
    fig.legend(loc="outside lower center", ncol=3, fontsize=7)
    return fig


@house_style
def engagement_vs_outcome_chart(result) -> plt.Figure:
    """Engagement score vs change in patients at goal, one point per team, with the least-squares line.

    ``result`` is an engagement.EngagementVsOutcome (points, slope, intercept, rho, p_value).
    """
    from .engagement import TEAMS_SHOWN

    points, slope, intercept = result.points, result.slope, result.intercept
    rho, p_value = result.rho, result.p_value
    fig, ax = plt.subplots(figsize=(6, 4.2))
    tracks = sorted(points["track"].dropna().unique())
    markers = ["o", "s", "^", "D"]
    for k, track in enumerate(tracks):
        d = points[points["track"] == track]
        ax.scatter(d["engagement_score"], d["goal_gain_points"], s=40, color=OKABE_ITO[k], marker=markers[k % 4],
                   label=f"{track} track", alpha=0.85, edgecolor="white")
        for _, r in (d.iterrows() if len(points) <= TEAMS_SHOWN else []):  # one point per team: labels while few
            ax.annotate(r["team_id"], (r["engagement_score"], r["goal_gain_points"]), textcoords="offset points",
                        xytext=(4, 3), fontsize=6)
    if np.isfinite(slope):
        xs = np.linspace(points["engagement_score"].min(), points["engagement_score"].max(), 50)
        ax.plot(xs, intercept + slope * xs, linestyle="--", color="#555555",
                label=f"least-squares line; Spearman rho = {rho:.2f}, p = {p_value:.2g}")
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.set_xlabel("Engagement score (0-100)")
    ax.set_ylabel("Change in patients at goal\n(percentage points, last vs first)")
    ax.set_title("Engagement and results by team")
    if len(points):
        ax.legend(fontsize=7, loc="best")
    else:
        ax.text(0.5, 0.5, "No team has patients with a first and a last reading\nof a measure with a goal",
                transform=ax.transAxes, ha="center", va="center", color="#555555")
    return fig


# --- qualitative ---------------------------------------------------------------------------------




def _wrap(labels, width: int = 14) -> list[str]:
    return ["\n".join(textwrap.wrap(str(s), width)) or str(s) for s in labels]


@house_style
def theme_presence_heatmap(presence: pd.DataFrame) -> plt.Figure:
    """Teams x themes: excerpts in which each team voiced each theme (from qualitative.theme_presence).

    Teams keep the table's order (grouped by track); a line separates the tracks; teams that spoke in no
    focus group or interview are marked, since their zeros mean "not asked", not "not raised". Above
    ``qualitative.TEAMS_SHOWN`` teams it draws those with the most excerpts (:func:`~evaluation.qualitative.presence_teams`).
    """
    from .qualitative import presence_teams

    teams = presence_teams(presence)
    presence = presence[presence["team_id"].isin(teams)]
    themes = list(dict.fromkeys(presence["theme"]))
    matrix = presence.pivot(index="team_id", columns="theme", values="n_excerpts").reindex(index=teams, columns=themes)
    info = presence.drop_duplicates("team_id").set_index("team_id")
    labels = []
    for t in teams:
        name = info.at[t, "team_name"] if pd.notna(info.at[t, "team_name"]) else t
        track = f" ({info.at[t, 'track']})" if pd.notna(info.at[t, "track"]) else ""
        labels.append(f"{name}{track}" + ("" if info.at[t, "spoke"] else " - did not speak"))
    fig, ax = plt.subplots(figsize=(2.2 + 1.3 * len(themes), 1.2 + 0.34 * len(teams)))
    sns.heatmap(matrix, annot=True, fmt=".0f", cmap=SEQUENTIAL, linewidths=0.6, linecolor="white",
                cbar_kws={"label": "Excerpts"}, ax=ax, vmin=0)
    tracks = info["track"].reindex(teams).to_numpy()
    for i in range(1, len(teams)):
        if tracks[i] != tracks[i - 1]:
            ax.axhline(i, color="black", linewidth=1.2)
    ax.set_yticks(np.arange(len(teams)) + 0.5, labels, rotation=0)
    ax.set_xticks(np.arange(len(themes)) + 0.5, _wrap(themes), rotation=0)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.grid(False)
    ax.set_title("Excerpts voicing each theme, by team")
    return fig


@house_style
def theme_track_heatmap(by_track: pd.DataFrame) -> plt.Figure:
    """Themes x groups (all teams, then each track): percent of the teams that spoke who voiced the theme."""
    themes = list(dict.fromkeys(by_track["theme"]))
    groups = list(dict.fromkeys(by_track["group"]))
    pct = by_track.pivot(index="theme", columns="group", values="pct_teams").reindex(index=themes, columns=groups)
    n = by_track.pivot(index="theme", columns="group", values="n_teams").reindex(index=themes, columns=groups)
    total = by_track.pivot(index="theme", columns="group", values="teams_total").reindex(index=themes, columns=groups)
    annot = pct.round(0).astype("Int64").astype(str) + "%\n(" + n.astype(int).astype(str) + " of " \
        + total.astype(int).astype(str) + ")"
    fig, ax = plt.subplots(figsize=(2.5 + 1.4 * len(groups), 1.0 + 0.55 * len(themes)))
    sns.heatmap(pct.astype(float), annot=annot.to_numpy(), fmt="", cmap=SEQUENTIAL, vmin=0, vmax=100,
                linewidths=0.6, linecolor="white", cbar_kws={"label": "% of teams"}, ax=ax)
    ax.set_xticks(np.arange(len(groups)) + 0.5, [g.replace("track=", "") + (" track" if g.startswith("track=") else " teams")
                                                 for g in groups], rotation=0)
    ax.set_yticks(np.arange(len(themes)) + 0.5, themes, rotation=0)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.grid(False)
    ax.set_title("Teams voicing each theme, by track")
    return fig


@house_style
def cooccurrence_heatmap(co: pd.DataFrame) -> plt.Figure:
    """Codes x codes: excerpts on which both count (lower triangle; the diagonal is each code's excerpts)."""
    codes = list(dict.fromkeys(co["code_a"]))
    matrix = co.pivot(index="code_a", columns="code_b", values="n_excerpts").reindex(index=codes, columns=codes)
    mask = np.triu(np.ones_like(matrix, dtype=bool), k=1)
    side = 2.5 + 0.42 * len(codes)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    sns.heatmap(matrix, mask=mask, annot=len(codes) <= 24, fmt=".0f", annot_kws={"fontsize": 7}, cmap=SEQUENTIAL,
                vmin=0, linewidths=0.4, linecolor="white", cbar_kws={"label": "Excerpts with both codes"},
                square=True, ax=ax)
    themes = co.drop_duplicates("code_a").set_index("code_a")["theme_a"].reindex(codes).to_numpy()
    for i in range(1, len(codes)):
        if themes[i] != themes[i - 1]:
            ax.axhline(i, xmax=i / len(codes), color="black", linewidth=1)
            ax.axvline(i, ymin=0, ymax=1 - i / len(codes), color="black", linewidth=1)
    ax.set_xticks(np.arange(len(codes)) + 0.5, [c.replace("_", " ") for c in codes], rotation=90)
    ax.set_yticks(np.arange(len(codes)) + 0.5, [c.replace("_", " ") for c in codes], rotation=0)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.grid(False)
    ax.set_title("Codes applied to the same excerpt")
    return fig


@house_style
def phase_comparison_chart(phases: pd.DataFrame) -> plt.Figure:
    """Themes x phases: percent of each phase's excerpts voicing the theme, as grouped horizontal bars."""
    from .qualitative import PHASE_LABELS

    themes = list(dict.fromkeys(phases["theme"]))
    order = [p for p in PHASE_LABELS if p in set(phases["phase"])]
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.7 * len(themes)))
    height = 0.8 / max(len(order), 1)
    y = np.arange(len(themes))
    for i, phase in enumerate(order):
        rows = phases[phases["phase"] == phase].set_index("theme").reindex(themes)
        pos = y - 0.4 + height * (i + 0.5)
        ax.barh(pos, rows["pct_excerpts"], height=height * 0.92, color=OKABE_ITO[i], label=PHASE_LABELS[phase])
        for yy, pct, n in zip(pos, rows["pct_excerpts"], rows["n_excerpts"]):
            if pd.notna(pct):
                ax.text(pct, yy, f" {pct:.0f}% ({n:.0f})", va="center", fontsize=8)
    ax.set_yticks(y, themes)
    ax.invert_yaxis()
    ax.set_xlim(0, max(100.0, float(phases["pct_excerpts"].max() or 0) * 1.15))
    ax.set_xlabel("% of the phase's excerpts voicing the theme (number of excerpts in brackets)")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right")
    ax.set_title("Themes at mid-cycle and at the end of the cycle")
    return fig


@house_style
def irr_chart(summary: pd.DataFrame) -> plt.Figure:
    """Per code: Krippendorff's alpha with its CI (dot and line) and Cohen's kappa (diamond); overall last."""
    from .qualitative import ALPHA_RELIABLE, ALPHA_TENTATIVE, OVERALL

    table = pd.concat([summary[summary["code"] != OVERALL], summary[summary["code"] == OVERALL]])
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.32 * len(table)))
    alpha, low, high = (table[c].astype(float).to_numpy() for c in ("krippendorff_alpha", "alpha_ci_low", "alpha_ci_high"))
    ok = np.isfinite(low) & np.isfinite(high)
    ax.hlines(y[ok], low[ok], high[ok], color=OKABE_ITO[0], linewidth=1.6, label="alpha bootstrap CI" if ok.any() else None)
    ax.plot(alpha, y, "o", color=OKABE_ITO[0], label="Krippendorff's alpha")
    ax.plot(table["cohen_kappa"].astype(float), y, "D", color=OKABE_ITO[1], markersize=5, label="Cohen's kappa")
    left = min(-0.1, np.nanmin(np.concatenate([low, alpha, table["cohen_kappa"].astype(float).to_numpy(), [0.0]])))
    for yy, a in zip(y, alpha):
        if not np.isfinite(a):
            ax.text(left + 0.02, yy, "not computable", va="center", fontsize=8, color="#555555")
    ax.axvline(ALPHA_TENTATIVE, color="#888888", linestyle=":", linewidth=1)
    ax.axvline(ALPHA_RELIABLE, color="#888888", linestyle="--", linewidth=1)
    ax.axvline(0, color="#bbbbbb", linewidth=0.8)
    if (table["code"] == OVERALL).any():
        ax.axhline(len(table) - 1.5, color="#bbbbbb", linewidth=0.8)
    ax.set_yticks(y, [c.replace("_", " ") for c in table["code"]])
    ax.invert_yaxis()
    ax.set_xlim(left, 1.02)
    ax.set_xlabel(f"Agreement beyond chance (dotted {ALPHA_TENTATIVE}: tentative; dashed {ALPHA_RELIABLE}: reliable)")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, fontsize=8)
    ax.set_title("Inter-rater reliability by code")
    return fig


# --- outcomes ------------------------------------------------------------------------------------

def _goal_share(rows: pd.DataFrame, column: str, suppress_below: int | None) -> pd.Series:
    """A % at goal as drawn: NaN (not drawn) when n is small, or when the patients it implies at goal or not
    at goal are 1 to ``suppress_below`` - 1 (5% of 100 is 5 patients)."""
    pct = pd.to_numeric(rows[column], errors="coerce")
    if not suppress_below:
        return pct
    n = pd.to_numeric(rows["n"], errors="coerce")
    at_goal = (pct / 100 * n).round()
    hide = privacy.is_small(n, suppress_below) | privacy.is_small(at_goal, suppress_below) | privacy.is_small(n - at_goal, suppress_below)
    return pct.mask(pd.Series(hide, index=rows.index))


@house_style
def outcome_goal_chart(change: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """% at goal at baseline (open) and follow-up (filled) per measure, cohort rows only (``group == 'all'``).

    Patient counts of 1 to ``suppress_below`` - 1 are drawn as ``<11`` (None draws them as they are), and a % is
    not drawn when it implies 1 to ``suppress_below`` - 1 patients at goal or not at goal."""
    from .outcomes import measure_label

    rows = change[(change["group"] == "all") & change["pct_goal_baseline"].notna()].reset_index(drop=True)
    rows = rows.assign(pct_goal_baseline=_goal_share(rows, "pct_goal_baseline", suppress_below),
                       pct_goal_followup=_goal_share(rows, "pct_goal_followup", suppress_below))
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(rows) + 1.4))
    y = range(len(rows))
    for i, r in rows.iterrows():
        ax.plot([r.pct_goal_baseline, r.pct_goal_followup], [i, i], color="#999999", lw=1.5, zorder=1)
    ax.scatter(rows["pct_goal_baseline"], y, s=40, facecolor="white", edgecolor=OKABE_ITO[0], lw=1.5, zorder=2,
               label="baseline")
    ax.scatter(rows["pct_goal_followup"], y, s=40, color=OKABE_ITO[0], zorder=3, label="follow-up")
    for i, r in rows.iterrows():
        hidden = r.pct_goal_baseline != r.pct_goal_baseline or r.pct_goal_followup != r.pct_goal_followup
        at = np.nanmax([r.pct_goal_baseline, r.pct_goal_followup, 0.0])
        ax.text(at + 2, i, f"n = {count_label(r.n, suppress_below)}" + ("; a % hidden: small count" if hidden else ""),
                va="center", fontsize=7)
    ax.set_yticks(list(y), [f"{measure_label(m)}\n({g})" for m, g in zip(rows["measure"], rows["goal"])])
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("patients at goal (%)")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title("At goal at baseline and follow-up")
    return fig


def _forest_cohort_line(ax: plt.Axes, change: pd.DataFrame, measure: str) -> None:
    ax.axvline(0, color="black", lw=0.8)
    overall = change[(change["measure"] == measure) & (change["group"] == "all")]["mean_change"]
    if len(overall) and pd.notna(overall.iloc[0]):
        ax.axvline(overall.iloc[0], color="#666666", lw=0.8, ls="--")


def _forest_selected(team: pd.DataFrame, change: pd.DataFrame, measures: list[str], max_teams: int) -> plt.Figure:
    """The forest plot of a cohort with more than ``max_teams`` teams: per measure, its own rows from
    ``outcomes.forest_rows`` (lowest and highest mean change) with the team names, the gap between the two
    sets marked with how many teams are not drawn."""
    from .outcomes import forest_rows, measure_label

    rows = forest_rows(team, max_teams)
    n_teams = team["team_id"].nunique()
    low_n = max_teams // 2
    ncols = min(2, len(measures))
    nrows = -(-len(measures) // ncols)
    panel_h = 0.17 * (max_teams + 1) + 0.9
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5 if ncols > 1 else 4.5, panel_h * nrows + 0.5), squeeze=False)
    tracks = sorted(team["track"].dropna().unique()) if "track" in team else []
    colours = {t: OKABE_ITO[i % len(OKABE_ITO)] for i, t in enumerate(tracks)}
    for ax in axes.ravel()[len(measures):]:
        ax.set_visible(False)
    for ax, measure in zip(axes.ravel(), measures):
        g = rows[rows["measure"] == measure]
        measured = int(team.loc[team["measure"] == measure, "mean_change"].notna().sum())
        colour = [colours.get(t, OKABE_ITO[0]) for t in (g["track"] if "track" in g else [None] * len(g))]
        has_ci = g["ci_low"].notna().to_numpy()
        ax.hlines(g["row"][has_ci], g["ci_low"][has_ci], g["ci_high"][has_ci], colors=np.asarray(colour, dtype=object)[has_ci]
                  if len(g) else [], lw=1.3)
        ax.scatter(g["mean_change"], g["row"], color=colour, s=14, zorder=3)
        _forest_cohort_line(ax, change, measure)
        names = g["team_name"].fillna("") if "team_name" in g else [""] * len(g)
        labels = [f"{t} {textwrap.shorten(str(n), 22, placeholder='…')}".strip() for t, n in zip(g["team_id"], names)]
        ax.set_yticks(g["row"].tolist(), labels, fontsize=6.5)  # the id finds the team in the table
        if measured > len(g):
            ax.axhline(low_n, color="#bbbbbb", lw=0.8, ls=":")
            ax.text(0.5, low_n, f"{measured - len(g)} teams not drawn", transform=ax.get_yaxis_transform(),
                    ha="center", va="center", fontsize=6.5, color="#666666", backgroundcolor="white")
        ax.set_ylim(max_teams + 0.8, -0.8)
        ax.set_title(measure_label(measure, unit=True))
        ax.set_xlabel("mean change")
        ax.grid(axis="y", visible=False)
    fig.suptitle(f"{max_teams} of {n_teams} teams per measure: the {low_n} lowest and {max_teams - low_n} highest mean changes",
                 fontsize=9)
    if len(tracks) > 1:
        handles = [plt.Line2D([], [], color=colours[t], marker="o", lw=1.3, label=f"{t} track") for t in tracks]
        fig.legend(handles=handles, loc="lower center", ncol=len(tracks), bbox_to_anchor=(0.5, 0), fontsize=7)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight() if len(tracks) > 1 else 0, 1, 1))
    return fig


@house_style
def outcome_forest_chart(team: pd.DataFrame, change: pd.DataFrame, max_teams: int | None = None) -> plt.Figure:
    """Forest plot: each team's mean change with its CI, one panel per measure; zero and cohort mean marked.

    Up to ``max_teams`` teams (default ``outcomes.FOREST_TEAMS_MAX`` = 30) one row per team, the same in
    every panel; a larger cohort draws per measure the teams with the lowest and the highest mean change
    (``outcomes.forest_rows``), and ``outcomes.forest_text`` says so in the caption."""
    from .outcomes import FOREST_TEAMS_MAX, measure_label

    measures = list(dict.fromkeys(team["measure"]))
    max_teams = FOREST_TEAMS_MAX if max_teams is None else max_teams
    if team["team_id"].nunique() > max_teams:
        return _forest_selected(team, change, measures, max_teams)
    labels = (team[["team_id", "team_name"]].drop_duplicates().sort_values("team_id")
              if "team_name" in team else team[["team_id"]].drop_duplicates().sort_values("team_id").assign(team_name=lambda d: d["team_id"]))
    order = {t: i for i, t in enumerate(labels["team_id"])}
    fig, axes = plt.subplots(1, max(1, len(measures)), figsize=(2.1 * max(1, len(measures)) + 2.2, 0.32 * len(order) + 1.4),
                             sharey=True, squeeze=False)
    tracks = sorted(team["track"].dropna().unique()) if "track" in team else []
    colours = {t: OKABE_ITO[i % len(OKABE_ITO)] for i, t in enumerate(tracks)}
    for ax, measure in zip(axes[0], measures):
        g = team[team["measure"] == measure]
        ys = g["team_id"].map(order).to_numpy()
        for (_, r), yy in zip(g.iterrows(), ys):
            colour = colours.get(r.get("track"), OKABE_ITO[0])
            if pd.notna(r["ci_low"]):
                ax.plot([r["ci_low"], r["ci_high"]], [yy, yy], color=colour, lw=1.3)
            ax.plot(r["mean_change"], yy, "o", color=colour, ms=4)
        ax.axvline(0, color="black", lw=0.8)
        overall = change[(change["measure"] == measure) & (change["group"] == "all")]["mean_change"]
        if len(overall) and pd.notna(overall.iloc[0]):
            ax.axvline(overall.iloc[0], color="#666666", lw=0.8, ls="--")
        ax.set_title(measure_label(measure, unit=True))
        ax.set_xlabel("mean change")
        ax.grid(axis="y", visible=False)
    axes[0][0].set_yticks(range(len(order)), labels["team_name"].tolist())
    axes[0][0].invert_yaxis()
    if len(tracks) > 1:
        handles = [plt.Line2D([], [], color=colours[t], marker="o", lw=1.3, label=f"{t} track") for t in tracks]
        fig.legend(handles=handles, loc="lower center", ncol=len(tracks), bbox_to_anchor=(0.5, -0.02), fontsize=7)
    fig.tight_layout(rect=(0, 0.05 if len(tracks) > 1 else 0, 1, 1))
    return fig


@house_style
def outcome_ttr_histogram(ttr: pd.DataFrame, goal_percent: float, suppress_below: int | None = 11) -> plt.Figure:
    """Histogram of per-patient INR time in therapeutic range (10-point bins) with the goal marked.

    The caption counts the patients reaching the goal, so bins never straddle it; bins with 1 to
    ``suppress_below`` - 1 patients are merged with a neighbour on the same side, and a side still small is
    hidden (:func:`_safe_histogram`)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    values = ttr["ttr_percent"].dropna()
    edges = sorted({*range(0, 101, 10), *([float(goal_percent)] if 0 < goal_percent < 100 else [])})
    fixed = (float(goal_percent),) if 0 < goal_percent < 100 else ()
    cells, labels, shown, gids, relations = _safe_histogram(ax, values, edges, suppress_below, per=10, fixed=fixed)
    ax.axvline(goal_percent, color=OKABE_ITO[3], ls="--", lw=1, label=f"goal {goal_percent:g}%")
    ax.set_xlim(0, 100)
    ax.set_xlabel("time in therapeutic range (%)" + _histogram_note(shown, suppress_below))
    ax.set_ylabel("patients per 10 points")
    ax.legend(fontsize=7)
    ax.set_title("INR time in therapeutic range")
    _record_bars(fig, cells, labels, shown, gids, relations, suppress_below)
    return fig


# --- spc -----------------------------------------------------------------------------------------

def _spc_grid(n_panels: int) -> tuple[plt.Figure, list]:
    """Two columns of small panels (one for a single team) with fixed margins in inches: the grid is known,
    so no layout engine has to measure every panel's ticks and titles (slow with many panels)."""
    ncols = 1 if n_panels == 1 else 2
    nrows = max(1, -(-n_panels // ncols))
    width, height = 7.5, 1.75 * nrows + 0.9
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), sharex=True, sharey=True, squeeze=False)
    top, bottom, gap = 0.59, 0.72 if nrows > 1 else 0.44, 0.36  # inches: title, tick labels + legend, panel title
    panel = (height - top - bottom - gap * (nrows - 1)) / nrows
    fig.subplots_adjust(left=0.66 / width, right=1 - 0.14 / width, top=1 - top / height, bottom=bottom / height,
                        hspace=gap / panel, wspace=0.056)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def _spc_annotate(ax: plt.Axes, team_id: str, measure: str, pdsa: pd.DataFrame | None, aims: pd.DataFrame | None) -> None:

    if aims is not None and len(aims):
        for target in aims[(aims["team_id"] == team_id) & (aims["measure"] == measure)]["target"]:
            ax.axhline(100 * target, color=OKABE_ITO[2], ls=(0, (4, 2)), lw=1)
    if pdsa is not None and len(pdsa):
        mine = pdsa[(pdsa["team_id"] == team_id) & (pdsa["measure"].isna() | (pdsa["measure"] == measure))]
        trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        stacked: dict = {}
        for r in mine.itertuples():
            level = stacked[r.month] = stacked.get(r.month, -1) + 1  # labels of cycles in the same month stack
            ax.axvline(r.month, color=OKABE_ITO[5], ls=":", lw=0.8)
            ax.text(r.month, 1.0 - 0.11 * level, f" {r.label}", transform=trans, fontsize=6, color=OKABE_ITO[5], va="top")


def _spc_finish(fig: plt.Figure, axes: list, handles: list, title: str) -> plt.Figure:
    # Quarterly date ticks worked out once and fixed on every panel (they share the x axis): a date
    # locator and formatter per panel would be re-run on every draw, and export draws three times.
    from matplotlib import ticker as mticker

    axes[0].set_ylim(-3, 108)
    locator = mdates.MonthLocator(bymonth=(1, 4, 7, 10))
    locator.set_axis(axes[0].xaxis)
    lo, hi = axes[0].get_xlim()
    xticks = locator.tick_values(mdates.num2date(lo), mdates.num2date(hi))
    concise = mdates.ConciseDateFormatter(locator)
    xlabels = concise.format_ticks(xticks)
    yticks = np.arange(0, 101, 20)  # the y range is fixed: 0-100% with a little room
    for ax in axes:
        ax.xaxis.set_major_locator(mticker.FixedLocator(xticks))
        ax.xaxis.set_major_formatter(mticker.FixedFormatter(xlabels))
        ax.yaxis.set_major_locator(mticker.FixedLocator(yticks))
        ax.tick_params(labelsize=7)
    fig.supylabel("patients (%)", fontsize=8)
    fig.suptitle(title, fontsize=10, fontweight="bold", y=1 - 0.08 / fig.get_figheight(), va="top")
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, bbox_to_anchor=(0.5, 0))
    return fig


def _spc_team_names(teams: pd.DataFrame | None, team_ids: list[str], capped: bool) -> dict[str, str]:
    """Panel titles: the team's name; with a selection of teams also its id, to find it in the table."""
    names = dict(zip(teams["team_id"], teams["team_name"])) if teams is not None and "team_name" in teams else {}
    if not capped:
        return names
    return {t: f"{t} {names[t]}" if names.get(t) and names[t] != t else t for t in team_ids}


def _spc_title(title: str, shown: int, total: int, how: str) -> str:
    return title if shown >= total else f"{title} ({shown} of {total} teams: {how})"


@house_style
def spc_run_chart(points: pd.DataFrame, signals: pd.DataFrame, *, measure: str, pdsa: pd.DataFrame | None = None,
                  aims: pd.DataFrame | None = None, teams: pd.DataFrame | None = None,
                  max_teams: int | None = None) -> plt.Figure:
    """Run charts of one measure, one panel per team: monthly %, median per phase (dashed orange when the
    Anhøj rules signal), baseline months shaded when the centre line is frozen, PDSA cycles and the aim.

    At most ``max_teams`` panels (default ``spc.PANELS_MAX`` = 20): a larger cohort shows the teams with
    the strongest runs signals first (:func:`evaluation.spc.run_chart_teams`), and the title says how many
    of how many teams are drawn; ``spc.run_chart_text`` says which in the caption."""
    from .spc import PANELS_MAX, measure_label, run_chart_teams

    pts = points[points["measure"] == measure]
    sig_all = signals[signals["measure"] == measure]
    team_ids = run_chart_teams(sig_all, measure, PANELS_MAX if max_teams is None else max_teams)
    total = sig_all["team_id"].nunique()
    names = _spc_team_names(teams, team_ids, len(team_ids) < total)
    by_team = dict(tuple(pts[pts["team_id"].isin(team_ids)].groupby("team_id", sort=False)))
    fig, axes = _spc_grid(len(team_ids))
    for ax, team_id in zip(axes, team_ids):
        g = by_team.get(team_id, pts.iloc[:0])
        ax.plot(g["month"], 100 * g["proportion"], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1)
        sig = sig_all[sig_all["team_id"] == team_id]
        for phase, seg in g.groupby("phase"):
            row = sig[sig["phase"] == phase]
            signal = bool(row["runs_signal"].fillna(False).iloc[0]) if len(row) else False
            ax.plot([seg["month"].min(), seg["month"].max()], [100 * seg["centre"].iloc[0]] * 2,
                    color=OKABE_ITO[3] if signal else "#666666", ls="--" if signal else "-", lw=1)
            if phase > 1:
                ax.axvline(seg["month"].min(), color="#444444", lw=0.8)
            frozen = seg[seg["baseline"]]
            if len(frozen) < seg["proportion"].notna().sum() and len(frozen):
                ax.axvspan(frozen["month"].min(), frozen["month"].max(), color="#eeeeee", zorder=0)
        verdicts = sig["runs_signal"]
        short = ("no verdict" if verdicts.isna().all() else
                 "signal" if verdicts.fillna(False).any() else "random")
        ax.set_title(f"{names.get(team_id, team_id)} ({short})", fontsize=8, fontweight="normal", loc="left")
        _spc_annotate(ax, team_id, measure, pdsa, aims)
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1, label="month"),
               plt.Line2D([], [], color="#666666", lw=1, label="median"),
               plt.Line2D([], [], color=OKABE_ITO[3], ls="--", lw=1, label="median, runs signal"),
               plt.Line2D([], [], color=OKABE_ITO[2], ls=(0, (4, 2)), lw=1, label="aim"),
               plt.Line2D([], [], color=OKABE_ITO[5], ls=":", lw=0.8, label="PDSA cycle")]
    return _spc_finish(fig, axes, handles, _spc_title(f"Run charts: {measure_label(measure)}", len(team_ids), total,
                                                      "strongest signals first"))


@house_style
def spc_control_chart(limits: pd.DataFrame, *, measure: str, chart: str = "p", pdsa: pd.DataFrame | None = None,
                      aims: pd.DataFrame | None = None, teams: pd.DataFrame | None = None,
                      max_teams: int | None = None) -> plt.Figure:
    """p (or Laney p′) charts of one measure, one panel per team: monthly %, centre line, stepped 3-sigma
    limits, points outside the limits in orange, PDSA cycles and the aim.

    At most ``max_teams`` panels (default ``spc.PANELS_MAX`` = 20): a larger cohort shows the teams with
    the most months outside their limits first (:func:`evaluation.spc.control_chart_teams`), and the title
    says how many of how many teams are drawn."""
    from .spc import PANELS_MAX, control_chart_teams, measure_label

    lim = limits[limits["measure"] == measure]
    team_ids = control_chart_teams(lim, measure, PANELS_MAX if max_teams is None else max_teams)
    total = lim["team_id"].nunique()
    names = _spc_team_names(teams, team_ids, len(team_ids) < total)
    by_team = dict(tuple(lim[lim["team_id"].isin(team_ids)].groupby("team_id", sort=False)))
    fig, axes = _spc_grid(len(team_ids))
    for ax, team_id in zip(axes, team_ids):
        g = by_team[team_id]
        ax.plot(g["month"], 100 * g["proportion"], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1)
        out = g[g["outside"]]
        ax.plot(out["month"], 100 * out["proportion"], "o", color=OKABE_ITO[3], ms=4, zorder=3)
        for _, seg in g.groupby("phase"):
            ax.plot(seg["month"], 100 * seg["cl"], color="#666666", lw=1)
            ax.step(seg["month"], 100 * seg["ucl"], where="mid", color="#999999", lw=0.8)
            ax.step(seg["month"], 100 * seg["lcl"], where="mid", color="#999999", lw=0.8)
        ax.set_title(f"{names.get(team_id, team_id)}", fontsize=8, fontweight="normal", loc="left")
        _spc_annotate(ax, team_id, measure, pdsa, aims)
    kind = "Laney p′ charts" if chart == "laney" else "p-charts"
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1, label="month"),
               plt.Line2D([], [], color=OKABE_ITO[3], marker="o", ls="", ms=4, label="outside limits"),
               plt.Line2D([], [], color="#666666", lw=1, label="centre"),
               plt.Line2D([], [], color="#999999", lw=0.8, label="3-sigma limits"),
               plt.Line2D([], [], color=OKABE_ITO[2], ls=(0, (4, 2)), lw=1, label="aim"),
               plt.Line2D([], [], color=OKABE_ITO[5], ls=":", lw=0.8, label="PDSA cycle")]
    return _spc_finish(fig, axes, handles, _spc_title(f"{kind}: {measure_label(measure)}", len(team_ids), total,
                                                      "most months outside the limits first"))


# --- survival ------------------------------------------------------------------------------------

_SURV_STYLES = ["-", "--", ":"]  # after the 8 Okabe-Ito colours, curves differ by line style


def _surv_color(i: int) -> tuple[str, str]:
    return OKABE_ITO[i % len(OKABE_ITO)], _SURV_STYLES[(i // len(OKABE_ITO)) % len(_SURV_STYLES)]


def _surv_styles(km) -> list[tuple[str, str, float]]:
    """(colour, line style, width) per group; the pooled curve of a selection (``drawn_groups``) is thick black."""
    out, k = [], 0
    for g in km.summary["group"]:
        if km.selection and g == km.summary["group"].iat[0]:
            out.append(("#000000", "-", 2.2))
            continue
        if km.selection:  # black is the pooled curve's: the others cycle through the seven colours
            out.append((OKABE_ITO[k % 7], _SURV_STYLES[(k // 7) % len(_SURV_STYLES)], 1.4))
        else:
            out.append((*_surv_color(k), 1.4))
        k += 1
    return out


def _surv_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _surv_risk_rows(km, labels: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(group, column, row label, colour) rows of the table under the plot: at risk / events / censored."""
    groups = list(km.summary["group"])
    styles = _surv_styles(km)
    rows = []
    for i, g in enumerate(groups):
        colour = styles[i][0] if len(groups) > 1 else "#222222"
        if len(groups) > 3:  # many groups: at risk only, or the table would outgrow the plot
            rows.append((g, "at_risk", labels[g], colour))
            continue
        prefix = "" if len(groups) == 1 else f"{labels[g]}: "
        rows += [(g, "at_risk", f"{prefix}at risk", colour), (g, "events", f"{prefix}events", colour),
                 (g, "censored", f"{prefix}censored", colour)]
    return rows


KM_HIDDEN_NOTE = "* hidden so that a small count cannot be worked out"
_KM_WORDS = {"at_risk": "at risk", "events": "events", "censored": "censored"}


def _surv_cell(gi: int, column: str, t: float) -> str:
    return f"{gi}:{column}:{t:g}"


def _surv_counts(km, rows: list[tuple[str, str, str, str]], ticks: list[float], labels: dict[str, str],
                 suppress_below: int | None) -> tuple[dict[str, str], list[dict], list[privacy.Relation], dict[str, str]]:
    """What the numbers table and the legend show of each count, the facts a reader knows about them, and
    how the caption must state the n's the figure hides.

    Per group and tick, a reader takes n (the legend's, = at risk at day 0) = at risk + events + censored (the
    sum is larger by the patients whose day is the tick: ``~=``); cumulative events and censored never fall
    and at risk never rises; the groups of a partition add up to the patients in the caption; with a
    selection of groups, the drawn groups are part of the pooled one. Small counts show as ``<11`` and
    further cells as ``*`` until no hidden count can be pinned (:func:`evaluation.privacy.protect_cells`);
    the caption's total is never hidden. Returns (cell -> shown, cell records, relations, caption phrase ->
    safe phrase).
    """
    from .survival import _group_name

    groups = list(km.summary["group"])
    risk = {g: frame.set_index("time") for g, frame in km.risk.groupby("group", sort=False)}
    values: dict[str, float] = {"total": float(km.n_patients)}
    info = [{"id": "total", "label": "patients in the caption", "gid": None}]
    relations: list[privacy.Relation] = []
    n_cells = []
    for gi, g in enumerate(groups):
        n = float(km.summary.loc[km.summary["group"] == g, "n"].iat[0])
        columns = [column for gg, column, _, _ in rows if gg == g]
        for column in columns:
            for t in ticks:
                if g in risk and t in risk[g].index:
                    cell = _surv_cell(gi, column, t)
                    values[cell] = float(risk[g].at[t, column])
                    info.append({"id": cell, "label": f"{labels[g]}: {_KM_WORDS[column]}, day {t:g}", "gid": None})
            present = [t for t in ticks if _surv_cell(gi, column, t) in values]
            sign = 1.0 if column == "at_risk" else -1.0  # at risk never rises; events and censored never fall
            for a, b in zip(present, present[1:]):
                relations.append(privacy.Relation({_surv_cell(gi, column, b): sign, _surv_cell(gi, column, a): -sign},
                                                  "<=", 0.0, f"{labels[g]}: {_KM_WORDS[column]} by day {b:g} and by day {a:g}"))
        n_cell = _surv_cell(gi, "at_risk", 0.0)  # the legend's n is the number at risk at day 0
        if values.get(n_cell) != n:
            n_cell = f"{gi}:n"
            values[n_cell] = n
            info.append({"id": n_cell, "label": f"{labels[g]}: n", "gid": None})
        n_cells.append(n_cell)
        if {"events", "censored"} <= set(columns):
            for t in ticks:
                cells = [_surv_cell(gi, c, t) for c in ("at_risk", "events", "censored")]
                if all(c in values for c in cells):
                    terms = {c: 1.0 for c in cells}
                    terms[n_cell] = terms.get(n_cell, 0.0) - 1.0
                    relations.append(privacy.Relation({c: v for c, v in terms.items() if v}, "~=", 0.0,
                                                      f"{labels[g]}: at risk + events + censored = n at day {t:g}"))
    if km.selection:  # the pooled curve first, then some of its groups: those are part of it
        for t in ticks:
            for column in ("at_risk", "events", "censored"):
                whole, pieces = _surv_cell(0, column, t), [_surv_cell(gi, column, t) for gi in range(1, len(groups))]
                if whole in values and all(c in values for c in pieces):
                    relations.append(privacy.Relation({**{c: 1.0 for c in pieces}, whole: -1.0}, "<=", 0.0,
                                                      f"the groups drawn are part of the pooled cohort ({_KM_WORDS[column]}, day {t:g})"))
    elif km.by != "condition":  # groups of one partition (conditions overlap)
        op = "==" if sum(values[c] for c in n_cells) == values["total"] else "<="
        relations.append(privacy.Relation({**{c: 1.0 for c in n_cells}, "total": -1.0}, op, 0.0,
                                          "the groups' n add up to the patients in the caption"))
    if suppress_below:
        shown = privacy.protect_cells(values, relations, suppress_below, locked={"total"})
    else:
        shown = {c: f"{int(v):,}" for c, v in values.items()}
    for gi in range(len(groups)):
        shown[f"{gi}:n"] = shown[n_cells[gi]]
    restate = {}
    for gi, g in enumerate(groups):  # the caption (survival.km_text) states each n as "<name> (n = <n>)"
        if shown[n_cells[gi]] == privacy.COMPLEMENT_MARK:
            restate[f"{_group_name(g)} (n = {int(values[n_cells[gi]])})"] = f"{_group_name(g)} (n = {privacy.COMPLEMENT_MARK})"
    return shown, info, relations, restate


@house_style
def survival_km_chart(km, *, ylabel: str = "Patients at goal (%)", xlabel: str = "Days since enrollment",
                      title: str | None = None, suppress_below: int | None = 11) -> plt.Figure:
    """Kaplan-Meier drawn as the cumulative % reaching the event, with a numbers table under the plot.

    ``km`` is a :class:`evaluation.survival.KaplanMeierGroups` (tidy ``summary``, ``curves``, ``risk``,
    ``logrank``). Shows the CI band (up to 3 groups), censor ticks, a dotted median line per group, the
    log-rank p and the CI method; the table gives, at each x tick, the number at risk and the cumulative
    events and censored (at risk only when there are more than 3 groups). Counts of 1 to ``suppress_below`` - 1
    are drawn as ``<11`` so the figure is safe for funders (None draws them as they are).

    With more than ``survival.GROUPS_DRAWN`` groups (a statewide cohort's 1,000 teams) it draws the pooled
    cohort and the fastest and slowest groups (:func:`evaluation.survival.drawn_groups`); the caption from
    ``survival.km_text`` says so.
    """
    from .survival import drawn_groups

    km = drawn_groups(km)
    summary = km.summary
    groups = list(summary["group"])
    styles = _surv_styles(km)
    labels = {g: (g.split("=", 1)[1] if "=" in g else g).replace("_", " ") for g in groups}
    if km.selection:
        labels[groups[0]] = labels[groups[0]].capitalize()
    rows = _surv_risk_rows(km, labels)
    ticks = sorted(km.risk["time"].unique()) if len(km.risk) else [0.0]
    shown, cells, relations, restate = _surv_counts(km, rows, ticks, labels, suppress_below)
    table_height = 0.17 * len(rows) + 0.35
    fig = plt.figure(figsize=(7, 3.4 + table_height))
    grid = fig.add_gridspec(2, 1, height_ratios=[3.4, table_height], hspace=0.45)
    ax = fig.add_subplot(grid[0])
    tab = fig.add_subplot(grid[1], sharex=ax)
    bands = len(groups) <= 3
    lr = km.logrank
    condition_p = {}
    if km.by == "condition" and len(lr):
        condition_p = {c.split(" vs ")[0]: p for c, p in zip(lr["comparison"], lr["p_value"])}
    for i, g in enumerate(groups):
        colour, style, width = styles[i]
        c = km.curves[km.curves["group"] == g]
        s = summary[summary["group"] == g].iloc[0]
        x = np.r_[0.0, c["time"].to_numpy(float)]
        y = 100 * (1 - np.r_[1.0, c["survival"].to_numpy(float)])
        label = f"{labels[g]} (n = {shown[f'{i}:n']})"
        if g in condition_p and condition_p[g] == condition_p[g]:
            label += f", {_surv_p(condition_p[g])} vs without"
        ax.step(x, y, where="post", color=colour, ls=style, lw=width, label=label)
        if bands:
            low = 100 * (1 - np.r_[1.0, c["ci_high"].to_numpy(float)])
            high = 100 * (1 - np.r_[1.0, c["ci_low"].to_numpy(float)])
            ax.fill_between(x, low, high, step="post", color=colour, alpha=0.18, linewidth=0)
        cens = c[c["censored"] > 0]
        if not (km.selection and i == 0):  # the pooled curve of a statewide cohort would be all ticks
            ax.plot(cens["time"], 100 * (1 - cens["survival"]), ls="none", marker="|", ms=6, mew=1, color=colour)
        median = s["median_days"]
        if median == median:  # reached
            ax.plot([0, median], [50, 50], ls=":", lw=0.9, color="#555555")
            ax.plot([median, median], [0, 50], ls=":", lw=0.9, color=colour)
    notes = []
    if km.by is not None and km.by != "condition" and len(lr):
        p = lr["p_value"].iat[0]
        notes.append(f"Log-rank {_surv_p(p)}" if p == p else f"Log-rank: {lr['note'].iat[0]}")
    level = f"{100 * (1 - km.alpha):g}% CI"
    notes.append(f"Shaded: {level} ({km.ci_method})" if bands else f"{level}s ({km.ci_method}) in the table")
    notes.append("Ticks: censored; dotted: median")
    # cumulative curves rise from the lower left to the upper right: the other two corners stay free
    ax.text(0.99, 0.03, "\n".join(notes), transform=ax.transAxes, va="bottom", ha="right", fontsize=7.5,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5})
    ax.set_ylim(0, 100)
    ax.set_xlim(0, ticks[-1] if ticks[-1] > 0 else 1)
    ax.set_xticks(ticks)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    if title is None:
        from .survival import measure_label

        name = "MTPs" if km.measure == "mtp_resolution" else measure_label(km.measure)
        title = f"{name}: {km.goal}" + (f", by {km.by}" if km.by else "")
    ax.set_title(title)
    if len(groups) > 3:  # many curves: the legend goes beside the plot, not over it
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    elif len(groups) > 1:
        ax.legend(loc="upper left", fontsize=7)
    mentions = []
    if ax.get_legend() is not None:
        for i, text in enumerate(ax.get_legend().get_texts()):
            gid = f"{COUNT_GID}legend-{i}"
            text.set_gid(gid)
            n_cell = next((c["id"] for c in cells if c["id"] in (_surv_cell(i, "at_risk", 0.0), f"{i}:n")), f"{i}:n")
            mentions.append({"gid": gid, "cell": n_cell, "contains": f"(n = {shown[f'{i}:n']})"})
    # the numbers table
    tab.set_ylim(len(rows) - 0.5, -0.5)
    index = {g: i for i, g in enumerate(groups)}
    gids = {}
    for r, (g, column, _, colour) in enumerate(rows):
        for t in ticks:
            cell = _surv_cell(index[g], column, t)
            if shown.get(cell, privacy.UNDRAWN) != privacy.UNDRAWN:
                gids[cell] = f"{COUNT_GID}{len(gids)}"
                tab.text(t, r, shown[cell], ha="center", va="center", fontsize=7, color=colour, gid=gids[cell])
    for cell in cells:
        cell["shown"] = shown[cell["id"]]
        cell["gid"] = gids.get(cell["id"])  # None: not drawn as a text of its own (the caption's total)
    tab.set_yticks(range(len(rows)))
    tab.set_yticklabels([label for _, _, label, _ in rows], fontsize=7)
    for ticklabel, (_, _, _, colour) in zip(tab.get_yticklabels(), rows):
        ticklabel.set_color(colour)
    tab.tick_params(axis="both", length=0)
    day0 = [shown.get(_surv_cell(i, "at_risk", ticks[0]), "") for i in range(len(groups))]
    tab.tick_params(axis="y", pad=max(16, 2.6 * max(map(len, day0), default=0) + 4))  # row labels clear of day-0 numbers
    tab.tick_params(axis="x", labelbottom=False)
    tab.grid(False)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    hidden = any(v == privacy.COMPLEMENT_MARK for v in shown.values())
    left_out = any(v == privacy.UNDRAWN for c, v in shown.items() if c.count(":") == 2)
    note = "; ".join([KM_HIDDEN_NOTE] * hidden + ["blank: left out for the same reason"] * left_out)
    tab.set_title("Number at risk" + ("" if len(groups) > 3 else ", and events and censored so far")
                  + (f" ({note})" if note else ""), fontsize=8, fontweight="normal", loc="left")
    attach_counts(fig, cells, relations, suppress_below, mentions, note, restate=restate)
    return fig


@house_style
def survival_cif_chart(curves: pd.DataFrame, goals: dict[str, str] | None = None) -> plt.Figure:
    """Cumulative incidence of reaching goal and of a competing exit (Aalen-Johansen), one panel per measure,
    with 1 - Kaplan-Meier (competing exits censored) dashed for comparison."""
    measures = list(dict.fromkeys(curves["measure"]))
    ncols = 1 if len(measures) == 1 else 2
    nrows = max(1, -(-len(measures) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(7, 2.5 * nrows + 0.6), squeeze=False, sharey=True)
    flat = list(axes.ravel())
    for ax in flat[len(measures):]:
        ax.set_visible(False)
    for ax, m in zip(flat, measures):
        c = curves[(curves["measure"] == m) & (curves["group"] == "all")]
        x = [0.0, *c["time"]]
        ax.step(x, [0.0, *(100 * c["km_at_goal"])], where="post", color="#777777", ls="--", lw=1)
        ax.step(x, [0.0, *(100 * c["cif_goal"])], where="post", color=OKABE_ITO[0], lw=1.4)
        ax.step(x, [0.0, *(100 * c["cif_competing"])], where="post", color=OKABE_ITO[3], lw=1.4)
        ax.set_title(f"{m}: {(goals or {}).get(m, '')}".rstrip(": "), fontsize=9, loc="left")
        ax.set_ylim(0, 100)
        ax.set_xlim(left=0)
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], lw=1.4, label="reached goal (Aalen-Johansen)"),
               plt.Line2D([], [], color=OKABE_ITO[3], lw=1.4, label="competing exit (e.g. died)"),
               plt.Line2D([], [], color="#777777", ls="--", lw=1, label="1 - Kaplan-Meier (exits censored)")]
    fig.supxlabel("Days since enrollment", fontsize=9)
    fig.supylabel("Cumulative incidence (%)", fontsize=9)
    fig.suptitle("Reaching goal, with death or exit as a competing event", fontsize=10, fontweight="bold")
    fig.legend(handles=handles, loc="upper center", ncol=3, fontsize=7, bbox_to_anchor=(0.5, 0.955))
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


@house_style
def survival_hazard_ratio_chart(summary: pd.DataFrame) -> plt.Figure:
    """Forest plot of Cox hazard ratios with CIs (log scale), one row per measure and covariate.

    A hazard ratio above 1 means patients reach goal sooner."""
    d = summary.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(d) + 1.2))
    y = np.arange(len(d))
    measures = list(dict.fromkeys(d["measure"]))
    colours = [OKABE_ITO[measures.index(m) % len(OKABE_ITO)] for m in d["measure"]]
    ax.hlines(y, d["ci_low"], d["ci_high"], colors=colours, lw=1.4)
    ax.scatter(d["hazard_ratio"], y, color=colours, s=18, zorder=3)
    ax.axvline(1, color="#555555", lw=0.8)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    low, high = float(d["ci_low"].min()), float(d["ci_high"].max())
    ticks = [t for t in (0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10) if low / 1.5 <= t <= high * 1.5] or [1]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y)
    ax.set_yticklabels([f"{m}: {c} ({p})" for m, c, p in zip(d["measure"], d["covariate"], d["per"])], fontsize=7)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Hazard ratio of reaching goal (log scale; > 1 = sooner)")
    ax.set_title("Cox model of time to goal")
    return fig

# --- value ---------------------------------------------------------------------------------------


VALUE_KIND_LABELS = {"ed_visit": "ED visits", "admission": "Admissions", "readmission": "Readmissions"}
VALUE_KIND_WORDS = {"ed_visit": "ED visits", "admission": "admissions", "readmission": "readmissions"}  # mid-sentence


def _is_small_count(n, threshold: int) -> bool:
    return bool(n == n and 1 <= n < threshold)


@house_style
def value_rates_chart(rates: pd.DataFrame, *, threshold: int = 11, group: str = "all") -> plt.Figure:
    """Grouped bars: events per 1,000 patient-months before vs after enrollment, per kind (from
    ``ValueAnalysis.rates_``). A kind with 1 to threshold - 1 events in a window is not drawn (small cell)."""
    r = rates[rates["group"] == group].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    x = np.arange(len(r))
    width = 0.38
    top = float(np.nanmax(r[["pre_rate", "post_rate"]].to_numpy())) if len(r) else 1.0
    top = top if top > 0 else 1.0
    for k, row in r.iterrows():
        small = _is_small_count(row.pre_events, threshold) or _is_small_count(row.post_events, threshold)
        if small:
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
    ax.set_xticks(x, [VALUE_KIND_LABELS.get(k, k) for k in r["kind"]])
    ax.grid(axis="x", visible=False)
    ax.set_ylim(0, top * 1.25)
    ax.set_ylabel("Events per 1,000 patient-months")
    ax.set_title("Acute-care use before and after enrollment")
    return fig


@house_style
def value_roi_chart(roi: pd.DataFrame, rates: pd.DataFrame, *, group: str = "all") -> plt.Figure:
    """Horizontal bars in dollars: cost avoided by kind, total cost avoided, program cost and net return
    (from ``ValueAnalysis.roi_`` and ``rates_``)."""
    row = roi.set_index("group").loc[group]
    by_kind = rates[rates["group"] == group].set_index("kind")["cost_avoided"].dropna()
    labels = [f"Cost avoided: {VALUE_KIND_WORDS.get(k, k)}" for k in by_kind.index]
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
        text = f"-${abs(v):,.0f}" if v < 0 else f"${v:,.0f}"
        ax.text(v + (span * 0.01 if v >= 0 else -span * 0.01), yi, f" {text} ", va="center",
                ha="left" if v >= 0 else "right", fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.set_xlim(min(0, min(values)) - span * 0.05, max(0, max(values)) + span * 0.3)
    ax.xaxis.set_major_formatter(lambda v, _: f"${v / 1000:,.0f}k")
    ax.set_xlabel("US dollars")
    ax.set_title(f"Return on investment: net ROI {row.net_roi_pct:.0f}%")
    return fig


@house_style
def value_sensitivity_heatmap(sens: pd.DataFrame) -> plt.Figure:
    """Net ROI (%) for each cost multiplier (columns) x share attributed to the program (rows) (from
    ``ValueAnalysis.sensitivity_``); blue = positive return, red = loss, white = break-even."""
    grid = sens.pivot(index="attribution_share", columns="cost_multiplier", values="net_roi_pct").sort_index(ascending=False)
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


@house_style
def value_mtp_chart(categories: pd.DataFrame, *, threshold: int = 11) -> plt.Figure:
    """Horizontal bars: MTPs identified and resolved by category, from the *suppressed* category table
    (``privacy.suppress``): suppressed cells are labelled, not drawn."""
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
