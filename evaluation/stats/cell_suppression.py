"""Small-cell suppression of a table: what a funder table shows so that no count of 1 to 10 can be read or worked out.

The rule is the CMS cell-size suppression policy: a count of 1 to 10 beneficiaries (or their events) is never
shown, and no other cell may let a reader work it out. :func:`suppress` applies it to one table:

* **primary** suppression: counts from 1 to ``threshold - 1`` are shown as ``<11`` (``threshold`` is the
  ``suppress_below`` param; 0 is shown, as CMS allows);
* **complementary** suppression: when a suppressed count could be recovered from a total (the ``all`` row is
  the sum of the ``track=`` rows, a total column is the sum of its parts), further cells are hidden (shown as
  ``*``), smallest first, until a linear program over every total confirms that no suppressed count can be
  pinned to one value, even knowing that ``<11`` means 1 to 10 and ``*`` means a count of at least 11;
* **derived** suppression: percentages, rates and other cells computed from a hidden count are hidden too,
  and so is a percentage that implies a small count (5% of 100 patients is 5 patients).

Figures that draw counts follow the same rule with integer programs over the facts a reader knows
(:mod:`evaluation.stats.figure_protection`); prose follows it through
:func:`evaluation.core.disclosure.suppress_text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from evaluation.core.disclosure import COMPLEMENT_MARK, is_small, looks_like_patient_count, looks_like_percentage, small_mark

SPEC_FILE = "suppression.json"  # funder/suppression.json: which columns of each funder table are counts
OVERLAPPING_SUBGROUPS = ("condition",)  # a patient can have several conditions: those rows do not add up to `all`


@dataclass(frozen=True)
class SuppressionSpec:
    """Which columns of a table are counts, which cells are computed from them, and which cells are totals.

    ``counts``: columns counting patients or their events (suppressed when 1 to threshold - 1).
    ``derived``: shown column -> the count columns of the same row it is computed from (rates, means, ratios).
    ``percentages``: percent column (0-100) -> its denominator count column; the implied numerator is protected.
    ``hidden``: count columns used only for totals (e.g. unresolved = identified - resolved); never shown.
    ``column_totals``: total column -> its part columns, in every row.
    ``group_column`` / ``total_group``: rows whose group is ``all`` are the sum of the ``track=...`` rows (one
    partition per subgroup variable) within each ``block`` (e.g. per measure). Plain labels without ``=`` (e.g.
    MTP categories) form one partition of their own.
    """

    counts: tuple[str, ...] = ()
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    percentages: Mapping[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    column_totals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    block: tuple[str, ...] = ()
    group_column: str | None = "group"
    total_group: str = "all"
    overlapping: tuple[str, ...] = OVERLAPPING_SUBGROUPS
    complement_percentages: bool = True  # 95% of 100 resolved also reveals 5 unresolved

    def to_json(self) -> dict:
        return {"counts": list(self.counts), "derived": {k: list(v) for k, v in self.derived.items()},
                "percentages": dict(self.percentages)}


@dataclass
class SuppressedTable:
    """A table ready for a funder: ``table`` holds the marks; ``reasons`` says why each cell is hidden."""

    table: pd.DataFrame
    mask: pd.DataFrame
    reasons: pd.DataFrame
    threshold: int
    spec: SuppressionSpec

    @property
    def n_suppressed(self) -> int:
        return int(self.mask.to_numpy().sum())

    @property
    def summary(self) -> pd.DataFrame:
        return self.reasons

    def _repr_html_(self) -> str:  # a notebook cell ending with it shows the funder table
        return self.table._repr_html_()

    def __repr__(self) -> str:
        return repr(self.table)


Cell = tuple[int, int]  # (row position, count column position)


@dataclass(frozen=True)
class _Total:
    """``cells[0]`` (the total) minus the sum of the other cells equals ``residual`` (0 when the parts add up)."""

    total: Cell
    parts: tuple[Cell, ...]
    residual: float

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (self.total, *self.parts)


def _partition_key(label) -> str:
    text = str(label)
    return text.split("=", 1)[0] if "=" in text else ""


def _row_totals(df: pd.DataFrame, spec: SuppressionSpec) -> list[tuple[int, list[int]]]:
    """(total row, part rows) for every block and every non-overlapping subgroup variable."""
    g = spec.group_column
    if not g or g not in df.columns:
        return []
    out = []
    blocks = df.groupby(list(spec.block), sort=False, dropna=False).indices.values() if spec.block else [np.arange(len(df))]
    for rows in blocks:
        labels = df[g].iloc[rows].astype(str).to_numpy()
        totals = [r for r, lab in zip(rows, labels) if lab == spec.total_group]
        if len(totals) != 1:
            continue
        parts: dict[str, list[int]] = {}
        for r, lab in zip(rows, labels):
            key = _partition_key(lab)
            if lab != spec.total_group and key not in spec.overlapping:
                parts.setdefault(key, []).append(int(r))
        out += [(int(totals[0]), p) for p in parts.values() if p]
    return out


def _totals(values: np.ndarray, columns: list[str], df: pd.DataFrame, spec: SuppressionSpec) -> list[_Total]:
    found = []
    for total_row, part_rows in _row_totals(df, spec):
        for j in range(len(columns)):
            cells = [(total_row, j)] + [(r, j) for r in part_rows]
            found.append(cells)
    col_pos = {c: j for j, c in enumerate(columns)}
    for total_col, parts in spec.column_totals.items():
        if total_col not in col_pos or any(p not in col_pos for p in parts):
            continue
        for i in range(values.shape[0]):
            found.append([(i, col_pos[total_col])] + [(i, col_pos[p]) for p in parts])
    totals = []
    for cells in found:
        v = np.array([values[c] for c in cells])
        if np.isnan(v).any():
            continue  # a blank cell: no exact relation a reader could use
        totals.append(_Total(cells[0], tuple(cells[1:]), float(v[0] - v[1:].sum())))
    return totals


def _bounds(cell: Cell, values: np.ndarray, primary: np.ndarray, threshold: int) -> tuple[float, float | None]:
    """What a reader knows about a hidden cell: ``<11`` is 1..10; ``*`` is at least 11 (or exactly 0)."""
    if primary[cell]:
        return (1.0, threshold - 1.0)
    return (0.0, 0.0) if values[cell] == 0 else (float(threshold), None)


def _pinned(values: np.ndarray, primary: np.ndarray, mask: np.ndarray, totals: list[_Total],
            threshold: int) -> list[Cell]:
    """Small counts a reader could pin to one value from the totals (in the order of ``np.argwhere(mask)``).

    A small count is pinned when the smallest and the largest value consistent with every total differ by less
    than 0.5 (two linear programs). To stay fast on a statewide table (1,000 teams x measures: thousands of
    hidden cells), the programs are sparse and solved per connected group of hidden cells (cells sharing no
    total cannot constrain each other), and two programs per group, pushing all its small counts down and
    then up, first clear every count they move by 0.5 or more from its true value (the true values are
    consistent with the totals, so such a count has a range of at least 0.5). The pushes repeat on the counts
    not yet moved until a push down and a push up move none; only those get their own pair of programs.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    hidden = [tuple(c) for c in np.argwhere(mask)]
    index = {c: k for k, c in enumerate(hidden)}
    rows, cols, coefs, rhs = [], [], [], []
    for t in totals:
        known = t.residual
        entries: dict[int, float] = {}
        for sign, c in [(1.0, t.total)] + [(-1.0, p) for p in t.parts]:
            if c in index:
                entries[index[c]] = entries.get(index[c], 0.0) + sign
            else:
                known -= sign * values[c]
        entries = {k: v for k, v in entries.items() if v != 0}
        if entries:
            r = len(rhs)
            rows += [r] * len(entries)
            cols += list(entries)
            coefs += list(entries.values())
            rhs.append(known)
    if not rhs:
        return []
    a_eq = coo_matrix((coefs, (rows, cols)), shape=(len(rhs), len(hidden))).tocsr()
    b_eq = np.array(rhs)
    bounds = [_bounds(c, values, primary, threshold) for c in hidden]
    truth = np.array([values[c] for c in hidden])
    small = np.array([bool(primary[c]) for c in hidden])
    linked = (abs(a_eq).T @ abs(a_eq)).tocsr()  # cells sharing a total
    n_groups, group = connected_components(linked, directed=False)
    pinned = set()
    for g in range(n_groups):
        cells = np.flatnonzero(group == g)
        candidates = cells[small[cells]]
        if not len(candidates):
            continue
        eqs = np.unique(a_eq[:, cells].nonzero()[0])
        sub_a, sub_b = (a_eq[eqs][:, cells], b_eq[eqs]) if len(eqs) else (None, None)
        sub_bounds = [bounds[k] for k in cells]
        at = {k: i for i, k in enumerate(cells)}
        moved: set[int] = set()
        idle = 0  # programs in a row that cleared nothing: two (one down, one up) and the rest get their own
        for step in range(4 * len(candidates) + 2):
            left = [k for k in candidates if k not in moved]
            if not left or idle >= 2:
                break
            push = np.zeros(len(cells))
            push[[at[k] for k in left]] = 1.0 if step % 2 == 0 else -1.0
            res = linprog(push, A_eq=sub_a, b_eq=sub_b, bounds=sub_bounds, method="highs")
            cleared = {k for k in left if res.status == 0 and abs(res.x[at[k]] - truth[k]) >= 0.5 - 1e-9}
            moved |= cleared
            idle = 0 if cleared else idle + 1
        for k in candidates:
            if k in moved:
                continue
            objective = np.zeros(len(cells))
            objective[at[k]] = 1.0
            low = linprog(objective, A_eq=sub_a, b_eq=sub_b, bounds=sub_bounds, method="highs")
            high = linprog(-objective, A_eq=sub_a, b_eq=sub_b, bounds=sub_bounds, method="highs")
            if low.status != 0 or high.status != 0:
                continue  # unbounded above: cannot be pinned
            if -high.fun - low.fun < 0.5:  # integers: the cell has one possible value
                pinned.add(k)
    return [hidden[k] for k in sorted(pinned)]


def _best_candidate(cells: Iterable[Cell], values: np.ndarray, mask: np.ndarray, total_cells: set[Cell]) -> Cell | None:
    """The cell to hide next: smallest non-zero part first; zeros and totals last (they protect least/cost most)."""
    options = [c for c in cells if not mask[c] and not np.isnan(values[c])]
    if not options:
        return None
    return min(options, key=lambda c: (values[c] == 0, c in total_cells, values[c], c))


def complementary_suppression(values: np.ndarray, primary: np.ndarray, totals: list[_Total], threshold: int,
                              max_rounds: int = 500) -> np.ndarray:
    """Hide more cells until no small count can be recovered from a total.

    First the classic rule (no total relation may hold exactly one hidden cell), then an exact audit: for
    each small count, a linear program finds the smallest and largest value consistent with every total and
    with what the marks say; while one is pinned, hide the smallest cell sharing a total with it.
    """
    mask = primary.copy()
    total_cells = {t.total for t in totals}
    for _ in range(max_rounds):
        changed = False
        for t in totals:
            if sum(mask[c] for c in t.cells) == 1:
                cand = _best_candidate(t.cells, values, mask, total_cells)
                if cand is not None:
                    mask[cand] = True
                    changed = True
        if changed:
            continue
        pinned = _pinned(values, primary, mask, totals, threshold)
        if not pinned:
            return mask
        cell = pinned[0]
        near = [c for t in totals if cell in t.cells for c in t.cells]
        cand = _best_candidate(near, values, mask, total_cells)
        if cand is None:  # widen to every total touching a hidden cell
            hidden = {tuple(c) for c in np.argwhere(mask)}
            cand = _best_candidate([c for t in totals if hidden & set(t.cells) for c in t.cells], values, mask, total_cells)
        if cand is None:
            return mask  # nothing left to hide near it; the audit in check_funder_outputs still applies
        mask[cand] = True
    return mask


def suppress(df: pd.DataFrame, spec: SuppressionSpec, threshold: int = 11) -> SuppressedTable:
    """Suppress small counts in ``df`` and every cell that would reveal one.

    Returns the funder table (suppressed cells replaced by ``<11`` or ``*``, hidden columns dropped), a boolean
    mask of the shown columns and a ``reasons`` table (row, column, value, reason).
    """
    if not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise ValueError(f"`suppress_below` must be a whole number of at least 1; got {threshold!r}")
    df = df.reset_index(drop=True)
    count_cols = [c for c in dict.fromkeys((*spec.counts, *spec.hidden)) if c in df.columns]
    values = df[count_cols].apply(pd.to_numeric, errors="coerce").to_numpy(float) if count_cols else np.zeros((len(df), 0))
    primary = is_small(values.ravel(), threshold).reshape(values.shape) if values.size else np.zeros(values.shape, bool)
    totals = _totals(values, count_cols, df, spec)
    hidden_counts = complementary_suppression(values, primary, totals, threshold)

    mask = pd.DataFrame(False, index=df.index, columns=df.columns)
    reason = pd.DataFrame("", index=df.index, columns=df.columns, dtype=object)
    for j, col in enumerate(count_cols):
        mask[col] = hidden_counts[:, j]
        reason.loc[primary[:, j], col] = "small count"
        reason.loc[hidden_counts[:, j] & ~primary[:, j], col] = "complementary"
    for col, sources in spec.derived.items():
        if col not in df.columns:
            continue
        src = [s for s in sources if s in count_cols]
        if src:
            hit = mask[src].any(axis=1) & ~mask[col]
            mask.loc[hit, col] = True
            reason.loc[hit, col] = "computed from a hidden count"
    for col, denominator in spec.percentages.items():
        if col not in df.columns:
            continue
        pct = pd.to_numeric(df[col], errors="coerce")
        hit = pd.Series(False, index=df.index)
        if denominator in df.columns:
            n = pd.to_numeric(df[denominator], errors="coerce")
            implied = (pct / 100 * n).round()
            hit |= pd.Series(is_small(implied, threshold), index=df.index)
            if spec.complement_percentages:
                hit |= pd.Series(is_small(n - implied, threshold), index=df.index)
            if denominator in count_cols:
                hit |= mask[denominator]
        hit &= ~mask[col]
        mask.loc[hit, col] = True
        reason.loc[hit, col] = f"percentage implies a count below {threshold}"

    shown = [c for c in df.columns if c not in spec.hidden]
    table = df[shown].astype(object).copy()
    for col in shown:
        small = reason[col] == "small count"
        table.loc[small, col] = small_mark(threshold)
        table.loc[mask[col] & ~small, col] = COMPLEMENT_MARK
    rows = [{"row": int(i), "column": col, "value": df.at[i, col], "reason": reason.at[i, col]}
            for col in df.columns for i in df.index[mask[col]]]
    reasons = pd.DataFrame(rows, columns=["row", "column", "value", "reason"]).sort_values(["row", "column"]).reset_index(drop=True)
    return SuppressedTable(table.reset_index(drop=True), mask[shown], reasons, int(threshold), spec)


def auto_spec(df: pd.DataFrame, *, counts: Iterable[str] = (), exempt: Iterable[str] = (), keys: Iterable[str] = (),
              block: Iterable[str] = (), derive_rest: bool = True, **extra) -> SuppressionSpec:
    """A spec for a table whose extra columns are not known in advance.

    Count-like names (:func:`looks_like_patient_count`) and ``counts`` are counts; percent-like names are
    percentages of the first count (its implied numerator is protected); with ``derive_rest`` every other
    numeric column (means, CIs, p-values) is treated as computed from the first count, the table's ``n``.
    """
    exempt, keys = set(exempt), set(keys) | set(block) | {"group"}
    counts = list(counts)
    count_cols = [c for c in counts if c in df.columns and c not in exempt]
    count_cols += [c for c in df.columns if c not in exempt and c not in count_cols and looks_like_patient_count(c)]
    first = count_cols[0] if count_cols else None
    percentages = {c: first for c in df.columns if first and c not in exempt and c not in count_cols and looks_like_percentage(c)}
    derived = {}
    if derive_rest and first:
        for c in df.columns:
            if c in exempt or c in keys or c in count_cols or c in percentages:
                continue
            if pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
                derived[c] = (first,)
    derived.update(extra.pop("derived", {}))
    percentages.update(extra.pop("percentages", {}))
    return SuppressionSpec(counts=tuple(count_cols), derived=derived, percentages=percentages, block=tuple(block), **extra)
