"""Draw and export figures: one house style, and one exporter every notebook uses.

Each exported figure is written as PNG (300 dpi), SVG and PDF (TrueType fonts embedded) under
``<report>/figures/`` with a sidecar record; ``figures/manifest.csv`` (figure_id, title, caption,
alt_text, notebook, files) is rebuilt from the sidecars so notebooks running in parallel never clash.
Files are written without timestamps so the same data gives the same files.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import functools
from typing import Callable, TypeVar

import matplotlib.pyplot as plt
import pandas as pd
from cycler import cycler

from .params import Params

# Okabe & Ito (2008) colour-blind-safe palette; black last.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
SEQUENTIAL = "cividis"  # perceptually uniform and readable with colour-vision deficiency
DIVERGING = "RdBu"
MANIFEST_COLUMNS = ["figure_id", "title", "caption", "alt_text", "notebook", "files"]
FORMATS = ("png", "svg", "pdf")

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


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


def export_figure(fig: plt.Figure, target: Params | str | Path, figure_id: str, *, title: str, caption: str,
                  alt_text: str, notebook: str) -> plt.Figure:
    """Save ``fig`` as PNG/SVG/PDF with its manifest record; return it for display.

    ``title``, ``caption`` and ``alt_text`` are required: a grant writer must be able to use the figure
    without opening the notebook. The figure is closed so Jupyter shows it once (as the cell's result).
    """
    for name, text in (("title", title), ("caption", caption), ("alt_text", alt_text)):
        if not text or not str(text).strip():
            raise ValueError(f"figure {figure_id!r} needs a non-empty {name}")
    if not figure_id.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"figure_id may hold only letters, digits, - and _; got {figure_id!r}")
    folder = _output_dir(target) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    with plt.rc_context(HOUSE_STYLE):
        for fmt in FORMATS:
            path = folder / f"{figure_id}.{fmt}"
            tmp = folder / f".{figure_id}.tmp.{fmt}"
            fig.savefig(tmp, format=fmt, metadata=_METADATA[fmt])
            os.replace(tmp, path)
            files.append(f"figures/{path.name}")
    record = {"figure_id": figure_id, "title": title, "caption": caption, "alt_text": alt_text,
              "notebook": notebook, "files": ";".join(files)}
    _atomic_write_text(folder / f"{figure_id}.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    write_manifest(folder)
    plt.close(fig)
    return fig


def read_manifest(folder: str | Path) -> pd.DataFrame:
    """Every figure's record, sorted by notebook then figure id."""
    folder = Path(folder)
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    df = pd.DataFrame(records, columns=MANIFEST_COLUMNS)
    return df.sort_values(["notebook", "figure_id"], kind="stable").reset_index(drop=True)


def write_manifest(folder: str | Path) -> Path:
    """Rebuild ``manifest.csv`` from the sidecar records (atomic)."""
    folder = Path(folder)
    path = folder / "manifest.csv"
    _atomic_write_text(path, read_manifest(folder).to_csv(index=False, lineterminator="\n"))
    return path


# --- shared drawing helpers ------------------------------------------------------------------------

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

@house_style
def patients_per_team_chart(table: pd.DataFrame) -> plt.Figure:
    """Horizontal bars: patients enrolled per team (from overview.patients_per_team)."""
    series = table.set_index("team_name")["patients"]
    return bar_counts(series, title="Patients in the population of focus, by team", xlabel="Patients")


@house_style
def follow_up_histogram(follow_up: pd.DataFrame) -> plt.Figure:
    """Histogram of days of follow-up per patient (from overview.follow_up_days)."""
    days = follow_up["follow_up_days"].dropna()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(days, bins=range(0, int(days.max() if len(days) else 0) + 31, 30), color=OKABE_ITO[0], edgecolor="white")
    if len(days):
        ax.axvline(days.median(), color=OKABE_ITO[3], linestyle="--", label=f"median {days.median():.0f} days")
        ax.legend()
    ax.set_title("Follow-up per patient: enrollment to last measurement")
    ax.set_xlabel("Days after enrollment")
    ax.set_ylabel("Patients")
    return fig


# --- engagement ----------------------------------------------------------------------------------

# --- qualitative ---------------------------------------------------------------------------------

# --- outcomes ------------------------------------------------------------------------------------

# --- spc -----------------------------------------------------------------------------------------

# --- survival ------------------------------------------------------------------------------------

# --- value ---------------------------------------------------------------------------------------
