"""Drawing helpers several analyses share: counts drawn with small cells protected, and histograms whose
bins never hold a small count (the CMS cell-size rule applied to what a figure draws)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from evaluation.core.disclosure import COMPLEMENT_MARK, COUNT_GID, UNDRAWN, format_count, shown_number, small_mark
from evaluation.core.figures import OKABE_ITO, attach_counts
from evaluation.stats.figure_protection import Relation, protect_cells


def count_label(n, suppress_below: int | None) -> str:
    """A count drawn on a figure: ``<11`` for 1..10 when figures may reach a funder (CMS cell-size rule)."""
    return format_count(n, suppress_below) if suppress_below else f"{int(n):,}"


def hidden_note(threshold: int | None) -> str:
    """The note under a figure that hides counts."""
    return f"<{threshold or 11}: fewer than {threshold or 11}; * hidden so that a small count cannot be worked out"


def protected_counts(values: dict[str, float], relations: list[Relation], suppress_below: int | None,
                      locked: set[str] = frozenset()) -> dict[str, str]:
    """What a figure shows of each count: :func:`evaluation.stats.figure_protection.protect_cells` (or every count as it is
    when ``suppress_below`` is None)."""
    if not suppress_below:
        return {c: f"{int(v):,}" for c, v in values.items()}
    return protect_cells(values, relations, suppress_below, locked=locked)


def record_bars(fig: plt.Figure, values: dict[str, float], labels: dict[str, str], shown: dict[str, str],
                 gids: dict[str, str], relations: list[Relation], suppress_below: int | None) -> None:
    cells = [{"id": c, "label": labels[c], "shown": shown[c], "gid": gids.get(c)} for c in values]
    hidden = any(v in (COMPLEMENT_MARK, UNDRAWN) for v in shown.values())
    attach_counts(fig, cells, relations, suppress_below, note=hidden_note(suppress_below) if hidden else "")


def shown_number_or_nan(text: str) -> float:
    """What a bar is drawn to: the number its label shows, or NaN (not drawn) for a mark."""
    number = shown_number(text)
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


def safe_histogram(ax: plt.Axes, values, edges, suppress_below: int | None, *, per: float, fixed: tuple[float, ...] = (),
                    unit: str = "patients") -> tuple[dict[str, float], dict[str, str], dict[str, str], dict[str, str], list]:
    """Draw a histogram of patients whose bins hold no small count: small bins merged with a neighbour
    (:func:`merge_small_bins`), and any bin still small hidden (with one more when the total in the caption
    would give it away). A bar's height is its patients per ``per`` units of x (so a merged, wider bin is not
    drawn taller than its share) and its label the patients in it. Returns what :func:`record_bars` needs."""
    values = np.asarray(values, float)
    counts, _ = np.histogram(values, bins=edges)
    if suppress_below:
        counts, edges = merge_small_bins(counts, edges, suppress_below, fixed)
    ids = [f"bin:{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:])]
    cells = {"total": float(len(values)), **{c: float(n) for c, n in zip(ids, counts)}}
    labels = {"total": f"{unit} in the caption", **{c: f"{unit} from {a:g} to {b:g}" for c, a, b in
                                                    zip(ids, edges[:-1], edges[1:])}}
    relations = [Relation({**{c: 1.0 for c in ids}, "total": -1.0}, "==", 0.0,
                                  f"the bins add up to the {unit} in the caption")] if ids else []
    locked = {"total"}
    for k, edge in enumerate(fixed):  # the caption counts those at or above the line
        above = [c for c, a in zip(ids, edges[:-1]) if a >= edge]
        if above:
            cells[f"above:{k}"] = float((values >= edge).sum())
            labels[f"above:{k}"] = f"{unit} at or above {edge:g} (in the caption)"
            locked.add(f"above:{k}")
            relations.append(Relation({**{c: 1.0 for c in above}, f"above:{k}": -1.0}, "==", 0.0,
                                              f"the bins from {edge:g} up add up to the {unit} the caption counts there"))
    shown = protected_counts(cells, relations, suppress_below, locked)
    gids = {}
    top = max([float(n) * per / (b - a) for n, a, b in zip(counts, edges[:-1], edges[1:])] + [1.0])
    for c, a, b in zip(ids, edges[:-1], edges[1:]):
        v = shown_number_or_nan(shown[c])
        if v == v:
            if v > 0:  # an empty bin has no bar and no label
                height = v * per / (b - a)
                ax.bar(a, height, width=b - a, align="edge", color=OKABE_ITO[0], edgecolor="white")
                gids[c] = f"{COUNT_GID}{len(gids)}"
                ax.text((a + b) / 2, height, shown[c], ha="center", va="bottom", fontsize=6, gid=gids[c])
            continue
        ax.bar(a, top * 0.04, width=b - a, align="edge", color="#eeeeee", edgecolor="#999999", hatch="////",
               linewidth=0.3)  # a hidden count: a flat hatched box, its height says nothing
        if shown[c] != UNDRAWN:
            gids[c] = f"{COUNT_GID}{len(gids)}"
            ax.text((a + b) / 2, top * 0.04, shown[c], ha="center", va="bottom", fontsize=6, gid=gids[c])
    return cells, labels, shown, gids, relations


def histogram_note(shown: dict[str, str], suppress_below: int | None) -> str:
    if not suppress_below:
        return ""
    note = f"\n(bins of fewer than {suppress_below} patients merged; labels: patients in the bar)"
    hidden = any(v in (COMPLEMENT_MARK, small_mark(suppress_below), UNDRAWN) for v in shown.values())
    return note + (f"\n({hidden_note(suppress_below)})" if hidden else "")
