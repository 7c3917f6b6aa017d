"""TODO docstring stats/cell_suppression."""

from __future__ import annotations
from dataclasses import dataclass, field
from typing import Iterable, Mapping
import numpy as np
import pandas as pd
from scipy.optimize import linprog
from evaluation.core.disclosure import COMPLEMENT_MARK, UNDRAWN, is_small, looks_like_patient_count, looks_like_percentage, shown_number, small_mark
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


# --- complementary suppression -----------------------------------------------------------------------

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


# --- suppressing a table -----------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Relation:
    """A fact a reader knows about the numbers of one figure: ``sum(coef * cell) <op> rhs``.

    ``op`` is ``==``, ``<=`` or ``~=``: a reader takes ``~=`` for ``==``, but the left side may exceed ``rhs``
    (at risk at day t + events and censored by day t count patients whose day is t twice). ``why`` says in
    words what the fact is, for the gate's message.
    """

    terms: Mapping[str, float]
    op: str = "=="
    rhs: float = 0.0
    why: str = ""

    def to_json(self) -> dict:
        return {"terms": {k: float(v) for k, v in self.terms.items()}, "op": self.op, "rhs": float(self.rhs),
                "why": self.why}

    @classmethod
    def from_json(cls, record: Mapping) -> "Relation":
        return cls({str(k): float(v) for k, v in record["terms"].items()}, str(record.get("op", "==")),
                   float(record.get("rhs", 0.0)), str(record.get("why", "")))


def reader_bounds(shown: str, threshold: int) -> tuple[float, float | None]:
    """What a reader knows of a cell from what it shows: a number exactly; ``<11`` is 1 to 10; ``*`` is at
    least 11 (a figure never hides a 0 or a small count behind it); a cell left out is any count."""
    text = str(shown).strip()
    number = shown_number(text)
    if number is not None:
        return (number, number)
    if text == small_mark(threshold):
        return (1.0, threshold - 1.0)
    if text == COMPLEMENT_MARK:
        return (float(threshold), None)
    return (0.0, None)


def _solve(c: np.ndarray, a_eq, b_eq, a_ub, b_ub, bounds):
    """An integer program over the hidden cells: the values of x (None when infeasible), and whether the
    objective is unbounded."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    constraints = []
    if len(b_eq):
        constraints.append(LinearConstraint(a_eq, b_eq, b_eq))
    if len(b_ub):
        constraints.append(LinearConstraint(a_ub, -np.inf, b_ub))
    lo = np.array([b[0] for b in bounds], float)
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds], float)
    res = milp(c, constraints=constraints, integrality=np.ones(len(c)), bounds=Bounds(lo, hi))
    if res.status == 0:
        return res.x, False
    return None, res.status == 3  # 3: unbounded (2: infeasible)


def _programs(shown: Mapping[str, str], relations: list[Relation], threshold: int):
    """Unknown cells, their bounds, and the linear system a reader holds, as a function of which ``~=``
    relations the reader takes as ``==`` (the others: the left side is at least the right)."""
    cells = list(dict.fromkeys([*shown, *(c for r in relations for c in r.terms)]))
    known = {c: shown_number(shown[c]) for c in cells if c in shown and shown_number(shown[c]) is not None}
    unknown = [c for c in cells if c not in known]
    index = {c: k for k, c in enumerate(unknown)}
    bounds = [reader_bounds(shown.get(c, UNDRAWN), threshold) for c in unknown]

    def system(equal: set[int]):
        eq, ub = [], []
        for i, r in enumerate(relations):
            row = np.zeros(len(unknown))
            rhs = r.rhs
            for c, coef in r.terms.items():
                if c in index:
                    row[index[c]] += coef
                else:
                    rhs -= coef * known[c]
            if not row.any():
                continue
            if r.op == "<=":
                ub.append((row, rhs))
            elif r.op == "==" or i in equal:
                eq.append((row, rhs))
            else:  # the left side is rhs or more
                ub.append((-row, -rhs))

        def as_arrays(rows):
            return (np.array([r for r, _ in rows], float).reshape(len(rows), len(unknown)),
                    np.array([b for _, b in rows], float))

        return (*as_arrays(eq), *as_arrays(ub))

    return unknown, bounds, system


def _feasible(program, bounds) -> bool:
    a_eq, b_eq, a_ub, b_ub = program
    x, unbounded = _solve(np.zeros(len(bounds)), a_eq, b_eq, a_ub, b_ub, bounds)
    return x is not None or unbounded


def _reader_ties(relations: list[Relation], system, bounds) -> set[int]:
    """The ``~=`` relations a reader takes as ``==``: all of them when that has a solution; else, in order,
    each one that still leaves a solution (a reader assumes no ties wherever the numbers allow it)."""
    loose = [i for i, r in enumerate(relations) if r.op == "~="]
    if not loose or _feasible(system(set(loose)), bounds):
        return set(loose)
    equal: set[int] = set()
    for i in loose:
        if _feasible(system(equal | {i}), bounds):
            equal.add(i)
    return equal


def _pins_in(unknown: list[str], bounds, program, candidates: list[int]):
    """Candidates (positions in ``unknown``) that take one value in every solution of ``program``: (k, value).
    None when the program has no solution. From one solution, pushing all open candidates down, then up,
    clears at once every candidate that moves; the ones left get a pair of programs of their own each."""
    a_eq, b_eq, a_ub, b_ub = program
    n = len(unknown)
    start, _ = _solve(np.zeros(n), a_eq, b_eq, a_ub, b_ub, bounds)
    if start is None:
        return None
    moved: set[int] = set()
    idle = 0
    for step in range(4 * len(candidates) + 2):
        left = [k for k in candidates if k not in moved]
        if not left or idle >= 2:
            break
        c = np.zeros(n)
        c[left] = 1.0 if step % 2 == 0 else -1.0
        x, unbounded = _solve(c, a_eq, b_eq, a_ub, b_ub, bounds)
        if unbounded:  # some open candidate can grow without end: find which, one by one below
            idle += 1
            continue
        cleared = {k for k in left if x is not None and abs(x[k] - start[k]) >= 0.5}
        moved |= cleared
        idle = 0 if cleared else idle + 1
    pins = []
    for k in candidates:
        if k in moved:
            continue
        c = np.zeros(n)
        c[k] = 1.0
        low, _ = _solve(c, a_eq, b_eq, a_ub, b_ub, bounds)
        high, unbounded = _solve(-c, a_eq, b_eq, a_ub, b_ub, bounds)
        if low is None or high is None or unbounded:
            continue
        if high[k] - low[k] < 0.5:
            pins.append((k, int(round(low[k]))))
    return pins


def pinned_cells(shown: Mapping[str, str], relations: Iterable[Relation], threshold: int,
                 truth: Mapping[str, float] | None = None) -> list[tuple[str, int]]:
    """Hidden small counts of a figure that a reader can work out exactly: (cell, value) pairs.

    ``shown``: cell -> what the figure shows (a number, ``<11``, ``*``, or ``""`` when left out). A reader is
    assumed to know every relation and to reason in whole numbers (an integer program per cell: the
    smallest and the largest value the relations allow). A ``~=`` relation (a sum that patients tied at a
    tick make larger) is taken as ``==`` wherever the numbers allow it (:func:`_reader_ties`); a value
    pinned that way is reported even when ties make it wrong: a reader would take it for the count.

    Without ``truth`` (the gate: only what the figure shows), the cells shown ``<11`` are checked, and the
    cells left out whose one possible value is small. With ``truth`` (the figure deciding what to hide),
    every hidden cell whose true value is small, also against a reader who guesses right where there are
    no ties (every ``~=`` that truly holds as ``==``).
    """
    relations = list(relations)
    unknown, bounds, system = _programs(shown, relations, threshold)
    if not unknown:
        return []
    mark = small_mark(threshold)
    if truth is None:
        candidates = [k for k, c in enumerate(unknown) if str(shown.get(c, UNDRAWN)).strip() in (mark, UNDRAWN)]
    else:
        candidates = [k for k, c in enumerate(unknown) if c in truth and 1 <= truth[c] < threshold]
    if not candidates:
        return []
    models = [_reader_ties(relations, system, bounds)]
    if truth is not None:
        exact = {i for i, r in enumerate(relations) if r.op == "~=" and all(c in truth for c in r.terms)
                 and abs(sum(v * truth[c] for c, v in r.terms.items()) - r.rhs) < 0.5}
        if exact != models[0]:
            models.append(exact)
    found: dict[str, int] = {}
    for equal in models:
        for k, value in _pins_in(unknown, bounds, system(equal), candidates) or []:
            c = unknown[k]
            if truth is None and str(shown.get(c, UNDRAWN)).strip() == UNDRAWN and not 1 <= value < threshold:
                continue  # a left-out cell that is 0 or large: nothing small to disclose
            found.setdefault(c, value)
    return [(c, found[c]) for c in unknown if c in found]


def protect_cells(values: Mapping[str, float], relations: Iterable[Relation], threshold: int, *,
                  locked: Iterable[str] = (), max_rounds: int = 500) -> dict[str, str]:
    """What a figure shows of each of its counts so that no small one can be worked out.

    Counts of 1 to ``threshold - 1`` show as ``<11`` (primary suppression). While :func:`pinned_cells` finds
    a hidden count a reader could pin, one more cell sharing a relation with it is hidden as ``*``, the
    smallest first; ``locked`` cells are never hidden (they are stated elsewhere, e.g. a total in the
    caption), and neither are zeros and small counts (``*`` means at least 11). When no such cell is left, the cells of
    the relations the pinned count is in are left out of the figure (``""``). A NaN value is not drawn.
    """
    relations = list(relations)
    locked = set(locked)
    mark = small_mark(threshold)
    truth = {c: float(v) for c, v in values.items() if v == v}
    shown = {c: (UNDRAWN if v != v else mark if 1 <= v < threshold else f"{int(round(v)):,}") for c, v in values.items()}
    linked: dict[str, list[Relation]] = {}
    for r in relations:
        for c in r.terms:
            linked.setdefault(c, []).append(r)

    order = {c: i for i, c in enumerate(values)}

    def component(cell: str) -> list[str]:
        seen, todo = {cell}, [cell]
        while todo:
            for r in linked.get(todo.pop(), []):
                for c in r.terms:
                    if c not in seen:
                        seen.add(c)
                        todo.append(c)
        return sorted(seen, key=lambda c: order.get(c, len(order)))

    for _ in range(max_rounds):
        pins = pinned_cells(shown, relations, threshold, truth)
        if not pins:
            return shown
        cell = pins[0][0]
        near_eq = [c for r in linked.get(cell, []) if r.op != "<=" for c in r.terms]
        near = [c for r in linked.get(cell, []) for c in r.terms]
        hidden = False
        for pool in (near_eq, near, component(cell)):
            options = [c for c in dict.fromkeys(pool) if c in truth and c not in locked
                       and shown_number(shown[c]) is not None and truth[c] >= threshold]
            if options:
                shown[min(options, key=lambda c: (truth[c], order[c]))] = COMPLEMENT_MARK
                hidden = True
                break
        if hidden:
            continue
        for pool in (near_eq or near, component(cell)):
            options = [c for c in dict.fromkeys(pool) if c in shown and c not in locked and shown[c] != UNDRAWN]
            if options:
                for c in options:
                    shown[c] = UNDRAWN
                hidden = True
                break
        if not hidden:
            return shown  # nothing left to hide: the gate names what is still pinned
    return shown
