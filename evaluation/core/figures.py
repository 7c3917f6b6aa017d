"""Draw and export figures: one house style, and one exporter every notebook uses.

Each exported figure is written as PNG (300 dpi), SVG and PDF (TrueType fonts embedded) under
``<report>/figures/`` with a sidecar record; ``figures/manifest.csv`` (figure_id, title, caption,
alt_text, notebook, section, files) is rebuilt from the sidecars so notebooks running in parallel never clash.
Files are written without timestamps so the same data gives the same files.

Figures may reach a funder, so no small count of patients is drawn or written (the CMS cell-size rule,
:mod:`evaluation.core.disclosure`): titles, captions, alt text and every text drawn are passed through
:func:`~evaluation.core.disclosure.suppress_text` on export; a figure that draws counts (the Kaplan-Meier numbers
table, bars of patients) hides the ones a reader could work out and records what it shows, with the facts
that tie its numbers together, in ``figures/<id>.counts.json`` for the gate to check.
"""

from __future__ import annotations
import contextlib
import functools
import io
import json
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TypeVar
import matplotlib.pyplot as plt
import pandas as pd
from cycler import cycler
from fontTools import subset
from IPython.display import display
from matplotlib.text import Text
from PIL import Image
from .disclosure import suppress_text
from .labels import INTERNAL_SECTIONS, SECTIONS
from .outputs import atomic_write, neutralise_formulas
from .params import Params

# Okabe & Ito (2008) colour-blind-safe palette; black last.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
SEQUENTIAL = "cividis"  # perceptually uniform and readable with colour-vision deficiency
DIVERGING = "RdBu"
MANIFEST_COLUMNS = ["figure_id", "title", "caption", "alt_text", "notebook", "section", "files"]
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
DISPLAY_DPI = 100  # the image a notebook (and its page) shows: the exported PNG at a third of its resolution
LAYOUT_TABLES = ["GSUB", "GPOS", "GDEF"]  # OpenType layout tables: matplotlib has placed every glyph already


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
_COUNTS: "weakref.WeakKeyDictionary[plt.Figure, dict]" = weakref.WeakKeyDictionary()
_RESTATE: "weakref.WeakKeyDictionary[plt.Figure, dict]" = weakref.WeakKeyDictionary()
_EXPORTED_PNG: "weakref.WeakKeyDictionary[plt.Figure, bytes]" = weakref.WeakKeyDictionary()


def attach_counts(fig: plt.Figure, cells: list[dict], relations: list, threshold: int | None,
                  mentions: list[dict] = (), note: str = "", restate: dict[str, str] | None = None) -> None:
    """Record on ``fig`` the counts it draws, for :func:`export_figure` to write as ``<id>.counts.json``.

    ``cells``: {id, shown, gid, label} (``gid``: the SVG id of the text drawing it, or None when it is not
    drawn as text, e.g. a total stated in the caption); ``mentions``: {gid, cell, contains}, texts that
    state a cell inside other words (a legend's "(n = 22)"); ``relations``: the
    :class:`~evaluation.stats.figure_protection.Relation` facts a reader knows. No hidden value is recorded. ``restate``:
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
            safe = suppress_text(text, threshold)
            if safe != text:
                artist.set_text(safe)


def export_figure(fig: plt.Figure, target: Params | str | Path, figure_id: str, *, title: str, caption: str,
                  alt_text: str, notebook: str, section: str, suppress_below: int | None = None) -> plt.Figure:
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
    if section not in SECTIONS and section not in INTERNAL_SECTIONS:
        raise ValueError(f"figure {figure_id!r}: section must be one of {', '.join([*SECTIONS, *INTERNAL_SECTIONS])}; "
                         f"got {section!r}")
    if not figure_id.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"figure_id may hold only letters, digits, - and _; got {figure_id!r}")
    threshold = _threshold(target, suppress_below)
    texts = []
    for text in (str(title), str(caption), str(alt_text)):
        for said, safe in _RESTATE.get(fig, {}).items():  # a count the figure hides is not in its caption either
            text = text.replace(said, safe)
        texts.append(suppress_text(text, threshold))
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
            buffer = io.BytesIO()
            with _fonts_embedded_without_layout_tables() if fmt == "pdf" else contextlib.nullcontext():
                fig.savefig(buffer, format=fmt, metadata=_METADATA[fmt], bbox_inches=bbox)
            atomic_write(path, buffer.getvalue())
            if fmt == "png":
                _EXPORTED_PNG[fig] = buffer.getvalue()  # what show() reduces for the notebook
            files.append(f"figures/{path.name}")
    counts = figure_counts(fig)
    counts_path = folder / f"{figure_id}{COUNTS_SUFFIX}"
    if counts is not None:
        atomic_write(counts_path, json.dumps({"figure_id": figure_id, **counts}, indent=1, sort_keys=True) + "\n")
        files.append(f"figures/{counts_path.name}")
    elif counts_path.exists():
        counts_path.unlink()  # a record left from an earlier drawing of the figure would not match it
    record = {"figure_id": figure_id, "title": title, "caption": caption, "alt_text": alt_text,
              "notebook": notebook, "section": section, "files": ";".join(files)}
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


@dataclass
class FigureSpec:
    """A drawn figure with everything a reader and the report need: what an analysis' figure function returns.

    ``section`` is the report section it belongs in (a key of :data:`evaluation.core.labels.SECTIONS`, or an
    internal section of :data:`~evaluation.core.labels.INTERNAL_SECTIONS`, never in the story or the funder pack);
    ``notebook`` the notebook that draws it. Caption and alt text state the numbers the figure shows.
    """

    figure_id: str
    figure: plt.Figure
    title: str
    caption: str
    alt_text: str
    section: str
    notebook: str


@dataclass
class ShownFigure:
    """A figure as a notebook shows it: the image, and as text its id, panels, title and caption (the text is
    what the regression tests compare, so a changed caption or a lost panel shows in review)."""

    figure_id: str
    title: str
    caption: str
    panels: int
    png: bytes

    def __repr__(self) -> str:
        return (f"Figure {self.figure_id} ({self.panels} panel{'s' if self.panels != 1 else ''})\n"
                f"{self.title}\n{self.caption}")

    def _repr_png_(self) -> bytes:
        return self.png


def _panels(fig: plt.Figure) -> int:
    """Axes that draw data (a colour bar or the table under a Kaplan-Meier plot is not a panel)."""
    return sum(1 for ax in fig.axes if ax.get_visible() and ax.get_label() not in ("<colorbar>", NOT_A_PANEL))


NOT_A_PANEL = "not a panel"  # the label of an axes that only holds a table or a legend


def show(spec: FigureSpec | Iterable[FigureSpec] | str, target: Params | str | Path) -> ShownFigure | str | None:
    """Export a figure spec to the report with :func:`export_figure` and return what a notebook shows (the
    cell's result). Given several specs (one per measure), each is exported and displayed in turn; given a
    sentence (an analysis' "nothing to draw: ..."), it is returned as it is."""
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, FigureSpec):
        for one in spec:
            display(show(one, target))
        return None
    fig = spec.figure
    panels = _panels(fig)
    export_figure(fig, target, spec.figure_id, title=spec.title, caption=spec.caption, alt_text=spec.alt_text,
                  notebook=spec.notebook, section=spec.section)
    record = json.loads((_output_dir(target) / "figures" / f"{spec.figure_id}.json").read_text(encoding="utf-8"))
    return ShownFigure(spec.figure_id, record["title"], record["caption"], panels, display_png(fig))


def display_png(fig: plt.Figure) -> bytes:
    """The PNG a notebook shows of an exported figure: its exported PNG reduced to :data:`DISPLAY_DPI` (averaging
    each block of pixels: sharper than drawing it again at that resolution, and no second drawing), or, when no PNG
    was exported (``$CMM_FIGURE_FORMATS``), the figure drawn at that resolution."""
    exported = _EXPORTED_PNG.pop(fig, None)
    buffer = io.BytesIO()
    if exported is None:
        with plt.rc_context(HOUSE_STYLE):
            fig.savefig(buffer, format="png", dpi=DISPLAY_DPI, metadata=_METADATA["png"])
        return buffer.getvalue()
    with Image.open(io.BytesIO(exported)) as image:
        image.reduce(max(1, round(HOUSE_STYLE["savefig.dpi"] / DISPLAY_DPI))).save(
            buffer, format="png", dpi=(DISPLAY_DPI, DISPLAY_DPI))
    return buffer.getvalue()


@contextlib.contextmanager
def _fonts_embedded_without_layout_tables():
    """While a PDF is written, the font subsets it embeds leave out the OpenType layout tables: a PDF reader never
    uses them (matplotlib has placed every glyph), and fontTools decompiling them was a third of the time of every
    PDF. matplotlib offers no option for the subset it asks fontTools for, so fontTools' default list of tables
    to drop is extended meanwhile (tests/test_figures.py checks the PDFs still carry their text)."""
    default = subset.Options._drop_tables_default
    subset.Options._drop_tables_default = default + [t for t in LAYOUT_TABLES if t not in default]
    try:
        yield
    finally:
        subset.Options._drop_tables_default = default

