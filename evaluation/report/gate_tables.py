"""A funder table as a layout shows it, tied back to its CSV: the gate's check of tables in a workbook, a Word
file or a slide.

A layout shows a funder table with reader's labels ("Patients", "Mean change (%)") where ``funder/<name>.csv``
has column names (``patients``, ``mean_change``), and sometimes only the columns a reader needs. Each column
of the layout is tied to a column of the CSV by its label (the label without its unit, as a name) or, failing
that, by its cells (the CSV column holding the same values). Then the rules of :func:`.gate_rules.check_frame`
apply under the CSV's names (counts 1 to 10, values computed from a hidden count, identifiers), and a column
the CSV suppresses may show no number the CSV does not show: a cell shown where the CSV has ``<11`` or ``*``.
"""

from __future__ import annotations

import math
import re
import weakref
from collections import Counter
from typing import Callable, Mapping, Sequence

import pandas as pd

from evaluation.core.disclosure import COMPLEMENT_MARK, small_mark

from .gate_rules import BLANKS, QUOTE_COLUMNS, check_frame, problem, text_problems

MIN_AGREEMENT = 0.6  # share of a column's cells found in a CSV column for the two to be the same column
Place = Callable[[object, int], tuple[object, str]]  # (data row index or "", column index) -> (row, column) of a problem


def label_name(label: object) -> str:
    """A reader's label as a column name: ``Mean change (%)`` -> ``mean_change``, ``Patients`` -> ``patients``."""
    text = re.sub(r"\s*\([^)]*\)\s*$", "", str(label)).strip().casefold()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def cell_number(value: object) -> float | None:
    """The number a cell shows (``1,234``, ``\u22120.5``, ``$1,490``, ``12%`` as text too), None for text or a mark."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value).strip().replace("\u2212", "-").replace(",", "").replace("$", "").removesuffix("%").strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _key(value: object, scale: float = 1.0) -> str:
    number = cell_number(value)
    if number is not None:
        return f"{number * scale:.6g}"
    return " ".join(str(value).replace("\u2212", "-").split()).casefold()


_POOLS: dict[int, dict[str, Counter]] = {}  # id of a funder CSV's frame -> column -> its cells' keys, counted


def _pool(csv: pd.DataFrame, column: str) -> Counter:
    """The keys of a funder CSV column's cells, counted once per frame: every table of a workbook, Word file and
    slide deck is matched against every CSV (at statewide size a million keys, counted again for each table).
    The gate reads each CSV once and never changes it; a frame's entry goes when the frame does."""
    frame = id(csv)
    if frame not in _POOLS:
        _POOLS[frame] = {}
        weakref.finalize(csv, _POOLS.pop, frame, None)
    columns = _POOLS[frame]
    if column not in columns:
        columns[column] = Counter(_key(v) for v in csv[column])
    return columns[column]


def _agreement(values: Counter, scaled: Counter, pool: Counter) -> tuple[float, float]:
    """(share of a layout column's cells found in the CSV column, scale): ``values`` and ``scaled`` are the
    column's cell keys as they are and x100 (a percentage stored as a fraction), ``pool`` the CSV column's."""
    total = sum(values.values())
    if not total:
        return 0.0, 1.0
    plain, hundred = sum((values & pool).values()) / total, sum((scaled & pool).values()) / total
    return (plain, 1.0) if plain >= hundred else (hundred, 100.0)


def _filled(rows: Sequence[Sequence], j: int) -> list:
    return [r[j] for r in rows if j < len(r) and str(r[j]).strip() not in BLANKS]


def match_columns(labels: Sequence[str], rows: Sequence[Sequence], csv: pd.DataFrame | None,
                  names: Sequence[str]) -> tuple[dict[int, str], dict[int, float]]:
    """Which CSV column each layout column shows (by label, then by cells), and the scale of each matched by cells."""
    mapping = {j: n for j, label in enumerate(labels) for n in names if str(label).strip() == n or label_name(label) == n}
    scales: dict[int, float] = {}
    if csv is None or csv.empty:
        return mapping, scales
    left = [n for n in names if n in csv.columns and n not in mapping.values()]
    pools = {n: _pool(csv, n) for n in left}
    scored = []
    for j in [j for j in range(len(labels)) if j not in mapping]:
        values = _filled(rows, j)
        numbers = [v for v in values if cell_number(v) is not None]
        values = numbers or values  # a column of numbers by its numbers ("not reached" stands for a blank)
        plain, scaled = Counter(_key(v) for v in values), Counter(_key(v, 100.0) for v in values)
        for n in left:
            share, scale = _agreement(plain, scaled, pools[n])
            if share >= MIN_AGREEMENT:
                scored.append((-share, abs(j - list(names).index(n)), j, n, scale))
    for _, _, j, n, scale in sorted(scored):
        if j not in mapping and n not in mapping.values():
            mapping[j], scales[j] = n, scale
    return mapping, scales


def identify_table(labels: Sequence[str], rows: Sequence[Sequence], specs: Mapping[str, dict],
                   csvs: Mapping[str, pd.DataFrame]) -> str | None:
    """The funder table a layout table shows when nothing names it: the one whose columns its labels and cells
    match best (at least two columns and half of the layout's)."""
    best, name = 0, None
    for candidate, spec in specs.items():
        mapping, _ = match_columns(labels, rows, csvs.get(candidate), spec.get("columns", []))
        if len(mapping) > best:
            best, name = len(mapping), candidate
    return name if best >= max(2, len(labels) / 2) else None


def _unmatched(shown: list[tuple[int, float]], pool: list[float]) -> list[tuple[int, float]]:
    """The shown numbers (row, value) that no number of the pool gives at the decimals shown, each pool value used once."""
    left = Counter(pool)
    out, rounded = [], []
    for row, value in shown:  # exact matches first: a shown -0.8 must not take the pool's -0.84 from a shown -0.84
        if left[value] > 0:
            left[value] -= 1
        else:
            rounded.append((row, value))
    for row, value in rounded:  # then the closest pool value at the decimals shown (a layout may drop a trailing 0)
        decimals = max(0, min(6, len(f"{value:.6f}".rstrip("0").split(".")[1])))
        tolerance = 0.5 * 10 ** -decimals + 1e-9
        near = [w for w in left if left[w] > 0 and abs(w - value) <= tolerance]
        if not near:
            out.append((row, value))
        else:
            left[min(near, key=lambda w: abs(w - value))] -= 1
    return out


def grid_problems(labels: Sequence[str], rows: Sequence[Sequence], file: str, threshold: int, ids: set[str],
                  specs: Mapping[str, dict], csvs: Mapping[str, pd.DataFrame], place: Place, *,
                  name: str | None = None) -> tuple[list[dict], list[tuple]]:
    """Problems of one layout table (``labels`` its header, ``rows`` its data rows) and its quotes (file, row,
    column, text) for the identifier screen. ``name``: the funder table it shows, when the layout says so;
    otherwise found from its labels and cells. Each problem is placed by ``place(row index, column index)``."""
    labels = [str(label) for label in labels]
    if name is None:
        name = next((n for n, s in specs.items() if list(s.get("columns", [])) == labels), None)
        name = name or identify_table(labels, rows, specs, csvs)
    spec = specs.get(name) if name else None
    csv = csvs.get(name) if name else None
    mapping, scales = match_columns(labels, rows, csv, (spec or {}).get("columns", []))
    columns, seen = [], set()
    for j, label in enumerate(labels):
        column = mapping.get(j) or label_name(label) or f"column_{j + 1}"
        while column in seen:
            column += "_"
        seen.add(column)
        columns.append(column)
    width = len(labels)
    frame = pd.DataFrame([list(r[:width]) + [""] * (width - len(r)) for r in rows], columns=columns, dtype=object)
    problems, index, flagged = [], {c: j for j, c in enumerate(columns)}, set()
    for p in check_frame(frame, file, threshold, ids, spec, row_offset=0):
        row, column = place(p["row"], index[p["column"]])
        problems.append(problem(file, row, column, p["problem"]))
        flagged.add((p["row"], index[p["column"]]))
    marks = {small_mark(threshold), COMPLEMENT_MARK}
    for j, n in mapping.items():  # a column the CSV suppresses shows no number the CSV does not show
        if csv is None or n not in csv.columns or not csv[n].astype(str).str.strip().isin(marks).any():
            continue
        pool = [x for x in (cell_number(v) for v in csv[n]) if x is not None]
        shown = [(i, x * scales.get(j, 1.0)) for i, r in enumerate(rows) if j < len(r) and (x := cell_number(r[j])) is not None]
        for i, value in [(i, v) for i, v in _unmatched(shown, pool) if (i, j) not in flagged]:
            row, column = place(i, j)
            problems.append(problem(file, row, column, f"shows {rows[i][j]}, a number funder/{name}.csv does not show in "
                                                       f"'{n}' (a cell it suppresses as {' or '.join(sorted(marks))}?)"))
    quotes = []
    for i, r in enumerate(rows):
        for j, cell in enumerate(r[:width]):
            if isinstance(cell, str):
                row, column = place(i, j)
                problems += text_problems(cell, file, row, column, threshold, set())
                if columns[j] in QUOTE_COLUMNS:
                    quotes.append((file, row, column, cell))
    return problems, quotes
