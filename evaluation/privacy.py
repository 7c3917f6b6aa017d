"""Small-cell suppression for funder-facing tables, and the check that no funder output discloses a patient.

The rule is the CMS cell-size suppression policy: a count of 1 to 10 beneficiaries (or their events) is never
shown, and no other cell may let a reader work it out. Here that means:

* **primary** suppression: counts from 1 to ``threshold - 1`` are shown as ``<11`` (``threshold`` is the
  ``suppress_below`` param; 0 is shown, as CMS allows);
* **complementary** suppression: when a suppressed count could be recovered from a total (the ``all`` row is
  the sum of the ``track=`` rows, a total column is the sum of its parts), further cells are hidden (shown as
  ``*``), smallest first, until a linear program over every total confirms that no suppressed count can be
  pinned to one value, even knowing that ``<11`` means 1 to 10 and ``*`` means a count of at least 11;
* **derived** suppression: percentages, rates and other cells computed from a hidden count are hidden too,
  and so is a percentage that implies a small count (5% of 100 patients is 5 patients).

The same rule holds in prose ("T01 (n = 7)", "7 of 40 patients": :func:`suppress_text` writes "n < 11",
"<11 of 40 patients") and in figures: a figure that draws counts hides the ones a reader could work out from
the facts that tie them together (:func:`protect_cells`) and records what it shows (``<id>.counts.json``).

:func:`check_funder_outputs` is the gate the runner calls after the report notebook: it fails the run when a
funder output (tables, DOCX, figure zip with each SVG's text and numbers, the index and performance-story
pages) carries a patient identifier, a date of birth, an unsuppressed small count or a count that can be worked
out, or a quote the identifier screen holds back, naming the file, row (paragraph, line, SVG element) and
column.
"""
from __future__ import annotations

import html
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from .errors import EvaluationError
from .identifiers import screen_quote
from .params import Params

COMPLEMENT_MARK = "*"  # a cell hidden so that a small count cannot be worked out (or computed from one)
SPEC_FILE = "suppression.json"  # funder/suppression.json: which columns of each funder table are counts
OVERLAPPING_SUBGROUPS = ("condition",)  # a patient can have several conditions: those rows do not add up to `all`
# Column names that count patients or their events (n, n_goal_baseline, patients, pre_events...). Count-like
# columns that count something else (n_teams, n_excerpts, n_useful months) are exempted per table.
PATIENT_COUNT_NAME = re.compile(r"^(n|count|patients|events|at_risk)$|^n_|^patients_|_(patients|events|count)$")
PERCENT_NAME = re.compile(r"^(pct_.*|.*_pct|percent.*|.*_percent)$")
BIRTH_NAME = re.compile(r"(birth|^dob$|_dob$|^dob_)", re.IGNORECASE)
# Words for patients or their acute-care events (and the MTPs found in their medicines): a number before one
# of them in prose is a count of patients. Teams, coders, months, excerpts, codes, points and PDSA cycles are not.
PATIENT_NOUN = (r"(?:patients?|people|persons?|individuals?|beneficiar(?:y|ies)|enrollees?|deaths?|"
                r"(?:re-?)?admissions?|hospitali[sz]ations?|(?:ED|emergency(?:[- ]department)?|ER)[- ]visits?|"
                r"MTPs?|medication[- ]therapy[- ]problems?|(?:patient|acute[- ]care|adverse)[- ]events?)(?![\w-])")
_COUNT = r"\d+(?:,\d{3})*"
# "5 patients", "3 of 40 patients", "3 out of the 40 patients", "3/40 patients", "5 paired patients"
COUNT_PHRASE = re.compile(
    rf"(?<![\w.,$%/])(?P<n>{_COUNT})(?![.,]\d)"
    rf"(?:\s*/\s*(?P<slash>{_COUNT})|\s+(?:of|out\s+of)\s+(?:the\s+)?(?P<of>{_COUNT}))?(?![.,]\d)"
    rf"\s+(?:(?!(?:per|a|an|each|of|in|to|and|or|than)\b)[a-z-]+\s+)?{PATIENT_NOUN}", re.IGNORECASE)
# Units of an "n = 7" that are not patients ("n = 7 teams").
NOT_PATIENTS = (r"teams?|coders?|months?|weeks?|days?|years?|excerpts?|codes?|themes?|points?|PDSA|cycles?|"
                r"sites?|pharmac(?:y|ies)|practices?|clinics?|milestones?|calls?|sessions?|webinars?|team-events?")
# "n = 7", "n=7", "N = 7" (a sample size is a count of patients unless it names another unit)
N_EQUALS = re.compile(rf"(?<![\w.])(?P<lead>[nN]\s*=\s*)(?P<n>{_COUNT})(?![.,]?\d)"
                      rf"(?!\s*(?:[a-z-]+\s+)?(?:{NOT_PATIENTS})(?![\w]))")
QUOTED = re.compile(r"\u201c[^\u201d]*\u201d|\"[^\"]*\"")  # quotations from focus groups are not counts


def small_mark(threshold: int) -> str:
    """How a small count is shown: ``<11`` for the CMS threshold of 11."""
    return f"<{threshold}"


def is_small(values, threshold: int) -> np.ndarray:
    """Which values are counts from 1 to ``threshold - 1`` (NaN and 0 are not)."""
    v = pd.to_numeric(pd.Series(np.atleast_1d(np.asarray(values, dtype=object))), errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        return (v >= 1) & (v < threshold)


def format_count(n, threshold: int) -> str:
    """A count as a funder may read it: ``<11`` when small, else with thousands separators."""
    if n is None or (isinstance(n, float) and np.isnan(n)) or pd.isna(n):
        return "n/a"
    return small_mark(threshold) if is_small([n], threshold)[0] else f"{int(round(float(n))):,}"


def looks_like_patient_count(column: str) -> bool:
    """Whether a column name says it counts patients or their events (``n``, ``patients``, ``pre_events``...)."""
    return bool(PATIENT_COUNT_NAME.match(str(column)))


def looks_like_percentage(column: str) -> bool:
    return bool(PERCENT_NAME.match(str(column)))


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


# --- counts drawn in a figure --------------------------------------------------------------------------
#
# A figure's numbers (a Kaplan-Meier numbers table, bars labelled with counts) come with facts any reader
# knows: at risk + events + censored = n at every tick, cumulative counts never fall, the groups add up to
# the cohort. Each figure records its cells (what it shows) and those facts in a counts record
# (figures/<id>.counts.json, see :func:`evaluation.figures.export_figure`); the same integer programs decide
# what the figure hides (:func:`protect_cells`) and check what it shows (:func:`pinned_cells`, in the gate).

UNDRAWN = ""  # a cell left out of the figure altogether: a reader knows only that it is a count


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


def shown_number(shown: str) -> float | None:
    """The number a cell of a figure shows ("1,234" -> 1234.0), or None for a mark (``<11``, ``*``) or a blank."""
    text = str(shown).strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


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


# --- the gate: no funder output may disclose a patient ------------------------------------------------

class DisclosureError(EvaluationError):
    """A funder output carries a patient identifier, a date of birth or an unsuppressed small count.

    ``problems`` is a table (file, row, column, problem); the message lists the first of them.
    """

    def __init__(self, problems: pd.DataFrame, output_dir: str = "", max_lines: int = 20):
        self.problems = problems
        self.output_dir = output_dir
        lines = []
        for p in problems.head(max_lines).itertuples(index=False):
            where = [p.file] + ([f"row {p.row}"] if p.row != "" else []) + ([f"column '{p.column}'"] if p.column else [])
            lines.append(", ".join(where) + f": {p.problem}")
        if len(problems) > max_lines:
            lines.append(f"... and {len(problems) - max_lines} more")
        super().__init__(f"{len(problems)} disclosure problem(s) in the funder outputs of {output_dir}; "
                         "nothing may leave the team until they are fixed:\n  " + "\n  ".join(lines))


PROBLEM_COLUMNS = ["file", "row", "column", "problem"]


def _patient_ids(params: Params | None) -> set[str]:
    """The cohort's patient ids (read straight from patients.csv; empty when it cannot be read)."""
    if params is None:
        return set()
    path = Path(params.data_dir) / "patients.csv"
    try:
        ids = pd.read_csv(path, dtype=str, usecols=["patient_id"], keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError):
        return set()
    return {s.strip() for s in ids["patient_id"] if s and s.strip()}


def _identifier_names() -> set[str]:
    from .dictionary import identifier_columns

    return identifier_columns() | {"patient_id"}


_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_\-]*[A-Za-z0-9])?")


def _ids_in_text(text: str, ids: set[str]) -> list[str]:
    """Patient ids appearing as whole tokens in free text. All-digit ids are not looked for in text (they
    would match counts and dollars); they are caught in identifier-like columns instead."""
    if not ids or not text:
        return []
    return sorted(t for t in set(_TOKEN.findall(text)) if t in ids and not t.isdigit())


def _number(text: str | None) -> int | None:
    return int(text.replace(",", "")) if text else None


def _count_phrases(text: str, threshold: int) -> list[tuple[int, int, str]]:
    """(start, end, safe replacement) of every phrase of ``text`` that states or implies a small count.

    "n = 7" becomes "n < 11"; "7 patients" becomes "<11 patients"; "3 of 7 patients" hides both numbers;
    "20 of 25 patients" also gives away the 5 who are not counted, and becomes "all but <11 of 25 patients".
    Quotations are skipped (a focus-group participant's words are not a count from the data).
    """
    def small(n: int | None) -> bool:
        return n is not None and 1 <= n < threshold

    plain = QUOTED.sub(lambda m: " " * len(m.group(0)), text)  # blanked in place: positions still match
    mark = small_mark(threshold)
    found = []
    for m in N_EQUALS.finditer(plain):
        if small(_number(m.group("n"))):
            found.append((m.start(), m.end(), m.group("lead").replace("=", "<") + str(threshold)))
    for m in COUNT_PHRASE.finditer(plain):
        n = _number(m.group("n"))
        whole = _number(m.group("slash") or m.group("of"))
        if small(n) or small(whole):
            out = m.group(0)
            spans = [(m.start("n"), m.end("n"), small(n))]
            spans += [(m.start(g), m.end(g), small(whole)) for g in ("slash", "of") if m.group(g)]
            for a, b, hide in sorted(spans, reverse=True):
                if hide:
                    out = out[:a - m.start()] + mark + out[b - m.start():]
            found.append((m.start(), m.end(), out))
        elif whole is not None and n is not None and small(whole - n):
            rest = m.group(0)[(m.end("slash") if m.group("slash") else m.end("of")) - m.start():]
            found.append((m.start(), m.end(), f"all but {mark} of {whole:,}{rest}"))
    found.sort()
    kept: list[tuple[int, int, str]] = []
    for item in found:  # an "n = 7 patients" is one phrase
        if not kept or item[0] >= kept[-1][1]:
            kept.append(item)
    return kept


def small_counts_in_text(text: str, threshold: int) -> list[str]:
    """Phrases of prose that state a small count of patients or their events ("5 patients", "3 deaths",
    "n = 7", "3/40 patients"), or give one away ("20 of 25 patients" leaves 5). Quotations are skipped."""
    text = str(text)
    return [text[a:b] for a, b, _ in _count_phrases(text, threshold)]


def suppress_text(text: str, threshold: int) -> str:
    """Prose made safe for a funder: a small count of patients or events becomes ``<11`` ("5 patients" ->
    "<11 patients", "n = 7" -> "n < 11"); quotations are left as they are."""
    text = str(text)
    for a, b, safe in reversed(_count_phrases(text, threshold)):
        text = text[:a] + safe + text[b:]
    return text


def _check_frame(df: pd.DataFrame, file: str, threshold: int, ids: set[str], spec: dict | None,
                 row_offset: int = 2) -> list[dict]:
    """Problems in one funder table (rows numbered as a spreadsheet shows them: header = row 1)."""
    problems = []
    spec = spec or {}
    ident = _identifier_names()
    for col in df.columns:
        name = str(col)
        if name in ident:
            problems.append({"file": file, "row": "", "column": name, "problem": "patient identifier column"})
        elif BIRTH_NAME.search(name):
            problems.append({"file": file, "row": "", "column": name, "problem": "date-of-birth column"})
    text = df.astype(str)
    idcol = {c for c in df.columns if "id" in str(c).lower() or "patient" in str(c).lower()}
    for col in df.columns:
        for i, cell in text[col].items():
            cell = cell.strip()
            hit = cell in ids and (not cell.isdigit() or col in idcol)
            tokens = [] if hit else _ids_in_text(cell, ids)
            if hit or tokens:
                problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                                 "problem": f"patient identifier '{cell if hit else tokens[0]}'"})
    exempt = set(spec.get("exempt", []))
    counts = [c for c in df.columns if c not in exempt and (c in set(spec.get("counts", [])) or looks_like_patient_count(c))]
    marks = {small_mark(threshold), COMPLEMENT_MARK}
    for col in counts:
        small = is_small(df[col].to_numpy(), threshold)
        for i in np.flatnonzero(small):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"unsuppressed small count {df[col].iloc[i]} (counts of 1 to {threshold - 1} must show as {small_mark(threshold)})"})
    hidden = text.apply(lambda s: s.str.strip().isin(marks))
    for col, sources in spec.get("derived", {}).items():
        src = [s for s in sources if s in df.columns]
        if col not in df.columns or not src:
            continue
        leak = hidden[src].any(axis=1) & ~hidden[col] & ~text[col].str.strip().isin(["", "nan", "<NA>", "None"])
        for i in np.flatnonzero(leak.to_numpy()):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"shows a value computed from a suppressed count ({', '.join(src)})"})
    for col, denominator in spec.get("percentages", {}).items():
        if col not in df.columns or denominator not in df.columns:
            continue
        implied = (pd.to_numeric(df[col], errors="coerce") / 100 * pd.to_numeric(df[denominator], errors="coerce")).round()
        for i in np.flatnonzero(is_small(implied, threshold)):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"percentage implies a small count of {int(implied.iloc[i])} {denominator}"})
    return problems


def _problem(file: str, row, column: str, problem: str) -> dict:
    return {"file": file, "row": row, "column": column, "problem": problem}


def _text_problems(text: str, file: str, row, column: str, threshold: int, ids: set[str], what: str = "the text") -> list[dict]:
    """Small counts and patient identifiers in one piece of prose a funder reads."""
    problems = [_problem(file, row, column, f"unsuppressed small count in {what}: '{phrase}'")
                for phrase in small_counts_in_text(text, threshold)]
    problems += [_problem(file, row, column, f"patient identifier '{token}' in {what}") for token in _ids_in_text(text, ids)]
    return problems


def _prose_problems(df: pd.DataFrame, file: str, threshold: int, columns: Iterable[str]) -> list[dict]:
    """Small counts stated in the prose columns of a table (figure captions and alt text)."""
    problems = []
    for col in [c for c in columns if c in df.columns]:
        for i, text in df[col].items():
            for phrase in small_counts_in_text(text, threshold):
                problems.append(_problem(file, int(i) + 2, col, f"unsuppressed small count in the text: '{phrase}'"))
    return problems


# --- quotes: the identifier screen ---------------------------------------------------------------------

QUOTE_COLUMNS = ("exemplar", "quote")  # columns of funder tables that hold what a participant said
ScreenQuote = Callable[..., list]  # evaluation.identifiers.screen_quote(text, deny_terms=()) -> findings


def _approved_quotes(params: Params | None, output_dir: Path) -> list[str]:
    """The texts of the quotes the evaluator cleared for funders (``qualitative.approved_quotes``), from the
    analysts' theme table: it holds each exemplar's excerpt_id and text whatever the input (CSV, workbook,
    REFI-QDA project)."""
    approved = set((params.qualitative or {}).get("approved_quotes") or []) if params is not None else set()
    if not approved:
        return []
    themes = _read_text_table(output_dir / "tables" / "themes.csv") if (output_dir / "tables" / "themes.csv").is_file() else None
    if themes is None or not {"exemplar_id", "exemplar"} <= set(themes.columns):
        return []
    chosen = themes[themes["exemplar_id"].isin(approved)]
    return [" ".join(t.split()) for t in dict.fromkeys(chosen["exemplar"]) if t]


def quote_problems(quotes: Iterable[tuple[str, object, str, str]], screen: ScreenQuote, *, deny_terms: Iterable[str] = (),
                   approved: Iterable[str] = ()) -> list[dict]:
    """Identifiers the quote screen finds in quotes a funder reads: (file, row, column, quote) in, problems out.

    ``screen`` is :func:`evaluation.identifiers.screen_quote` (any callable ``screen(text, deny_terms=...)``
    returning a list of findings). A quote that is part of an excerpt the evaluator approved is let through
    (a quote cut short ends in "...").
    """
    deny_terms, approved = tuple(deny_terms), list(approved)
    problems = []
    for file, row, column, quote in quotes:
        text = " ".join(str(quote).split())
        if not text or any(text.removesuffix("...").strip() in a for a in approved):
            continue
        for finding in screen(text, deny_terms=deny_terms):
            problems.append(_problem(file, row, column, f"quote held back by the identifier screen: {finding} "
                                                        f"(\u201c{text[:60]}{'...' if len(text) > 60 else ''}\u201d)"))
    return problems


def _quoted_spans(text: str) -> list[str]:
    return [m.group(0)[1:-1] for m in QUOTED.finditer(str(text))]


# --- what a funder reads: DOCX, HTML pages, SVG figures ---------------------------------------------------

def _docx_problems(path: Path, file: str, threshold: int, ids: set[str], specs: dict,
                   quotes: list | None = None) -> list[dict]:
    """The DOCX's paragraphs, tables (cells against the table's spec, and each cell's prose), image alt text
    and headers and footers."""
    import docx

    problems = []
    document = docx.Document(str(path))
    for k, paragraph in enumerate(document.paragraphs, start=1):
        text = paragraph.text
        problems += [_problem(file, f"paragraph {k}", "", f"unsuppressed small count in the text: '{phrase}' ({text[:60]}...)")
                     for phrase in small_counts_in_text(text, threshold)]
        problems += [_problem(file, f"paragraph {k}", "", f"patient identifier '{token}' in the text")
                     for token in _ids_in_text(text, ids)]
        if quotes is not None:
            quotes += [(file, f"paragraph {k}", "", q) for q in _quoted_spans(text)]
    by_header = {tuple(s.get("columns", [])): s for s in specs.values()}
    for k, table in enumerate(document.tables, start=1):
        rows = [[cell.text for cell in row.cells] for row in table.rows]
        if not rows:
            continue
        name = f"{file} (table {k})"
        frame = pd.DataFrame(rows[1:], columns=rows[0])
        problems += _check_frame(frame, name, threshold, ids, by_header.get(tuple(rows[0])))
        for r, cells in enumerate(rows[1:], start=2):
            for header, text in zip(rows[0], cells):
                problems += _text_problems(text, name, r, header, threshold, set())
                if quotes is not None and str(header) in QUOTE_COLUMNS:
                    quotes.append((name, r, header, text))
    for k, shape in enumerate(document.inline_shapes, start=1):
        alt = shape._inline.docPr.get("descr") or ""
        problems += _text_problems(alt, file, f"image {k}", "alt text", threshold, ids)
    for section in document.sections:
        for part, where in ((section.header, "header"), (section.footer, "footer")):
            for paragraph in part.paragraphs:
                problems += _text_problems(paragraph.text, file, where, "", threshold, ids)
    return problems


_BLOCK_TAGS = {"p", "li", "figcaption", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "title", "div", "section",
               "figure", "tr", "table", "ul", "ol", "body", "head", "caption", "dt", "dd", "pre", "blockquote", "br",
               "thead", "tbody", "header", "footer", "main", "nav", "article", "aside"}


class _PageText(HTMLParser):
    """The text of an HTML page as a reader sees it: one item per block of text (a paragraph, a list item, a
    table cell), plus every alt and title attribute; table cells know their column's header."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[int, str, str, str]] = []  # (line, element, text, column header)
        self._buffer: list[str] = []
        self._where = ("body", 1)
        self._skip = 0
        self._headers: list[list[str]] = []
        self._column = -1

    def _flush(self) -> None:
        text = " ".join("".join(self._buffer).split())
        self._buffer = []
        if not text:
            return
        tag, line = self._where
        header = ""
        if tag == "td" and self._headers and 0 <= self._column < len(self._headers[-1]):
            header = self._headers[-1][self._column]
        if tag == "th" and self._headers:
            self._headers[-1].append(text)
        self.items.append((line, tag, text, header))

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("alt", "title", "aria-label") and value:
                self.items.append((self.getpos()[0], f"{tag} {name}", " ".join(value.split()), ""))
        if tag in _BLOCK_TAGS:
            self._flush()
            self._where = (tag, self.getpos()[0])
        if tag == "table":
            self._headers.append([])
        elif tag == "tr":
            self._column = -1
        elif tag in ("td", "th"):
            self._column += 1

    def handle_endtag(self, tag) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        if tag in _BLOCK_TAGS:
            self._flush()
            self._where = ("body", self.getpos()[0])
        if tag == "table" and self._headers:
            self._headers.pop()

    def handle_data(self, data) -> None:
        if not self._skip:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def page_text(page: str) -> list[tuple[int, str, str, str]]:
    """(line, element, text, column header) of every block of text and alt/title attribute of an HTML page."""
    parser = _PageText()
    parser.feed(page)
    parser.close()
    return parser.items


def _html_problems(page: str, file: str, threshold: int, ids: set[str], quotes: list | None = None) -> list[dict]:
    """Small counts and patient identifiers in the text of a page (tags stripped, alt text included)."""
    problems = []
    for line, element, text, header in page_text(page):
        problems += _text_problems(text, file, f"line {line}", f"<{element}>", threshold, ids)
        if quotes is not None:
            quotes += [(file, f"line {line}", f"<{element}>", q) for q in _quoted_spans(text)]
            if header in QUOTE_COLUMNS:
                quotes.append((file, f"line {line}", header, text))
    return problems


COUNT_GID = "cmm-count-"  # the SVG id of a text that draws one count recorded in figures/<id>.counts.json
_SVG_COMMENT_TEXT = re.compile(r'<g id="(?P<id>[^"]+)">\s*<!--(?P<text>.*?)-->', re.S)  # svg.fonttype "path"
_SVG_TEXT_ELEMENT = re.compile(r"<text\b(?P<attrs>[^>]*)>(?P<text>.*?)</text>", re.S)  # svg.fonttype "none"
NUMBERS_TABLE_TITLE = "Number at risk"  # the title of the Kaplan-Meier numbers table


def svg_texts(svg: str) -> list[tuple[str, str]]:
    """(element id, text) of every text an SVG draws: matplotlib writes each string as an XML comment before
    its glyphs (or as a ``<text>`` element), which is what a reader's tools extract."""
    out = [(m["id"], html.unescape(m["text"]).strip()) for m in _SVG_COMMENT_TEXT.finditer(svg)]
    for m in _SVG_TEXT_ELEMENT.finditer(svg):
        found = re.search(r'\bid="([^"]+)"', m["attrs"])
        out.append((found.group(1) if found else "text", html.unescape(re.sub(r"<[^>]+>", "", m["text"])).strip()))
    return out


def _relations_of(cell: str, relations: list[Relation]) -> str:
    return "; ".join(r.why for r in relations if cell in r.terms and r.why) or "the figure's totals"


def figure_count_problems(svg: str, counts: Mapping | None, file: str, threshold: int) -> list[dict]:
    """Problems in the numbers an SVG figure draws, checked against its counts record.

    The record (``figures/<id>.counts.json``) lists each count's cell, what it shows and the SVG id of the
    text drawing it, and the relations a reader knows (:class:`Relation`). The SVG must show what the record
    says (the SVG wins: it is what a reader reads); no shown count may be small; and no hidden count may be
    pinned to one value (:func:`pinned_cells`). A figure drawing a numbers table without a record fails:
    its hidden counts cannot be checked.
    """
    texts = svg_texts(svg)
    by_id = dict(texts)
    if counts is None:
        if any(NUMBERS_TABLE_TITLE in t for _, t in texts) or any(i.startswith(COUNT_GID) for i in by_id):
            return [_problem(file, "", "", "a numbers table without its counts record (<figure>.counts.json): "
                                           "whether a hidden count can be worked out cannot be checked")]
        return []
    problems = []
    relations = [Relation.from_json(r) for r in counts.get("relations", [])]
    shown, labels, drawn = {}, {}, set()
    for cell in counts.get("cells", []):
        cid, gid, recorded = str(cell["id"]), cell.get("gid"), str(cell.get("shown", ""))
        labels[cid] = str(cell.get("label") or cid)
        shown[cid] = recorded
        if gid:
            drawn.add(gid)
            if gid not in by_id:
                problems.append(_problem(file, f"element {gid}", "", f"'{labels[cid]}' is in the counts record but not in the SVG"))
                continue
            if by_id[gid] != recorded:
                problems.append(_problem(file, f"element {gid}", "", f"'{labels[cid]}' shows '{by_id[gid]}' where the "
                                                                     f"counts record says '{recorded}'"))
            shown[cid] = by_id[gid]
    for mention in counts.get("mentions", []):
        gid = mention.get("gid")
        drawn.add(gid)
        if gid in by_id and str(mention.get("contains", "")) not in by_id[gid]:
            problems.append(_problem(file, f"element {gid}", "", f"'{by_id[gid]}' does not show "
                                                                 f"'{mention.get('contains')}' as the counts record says"))
    for gid in by_id:
        if gid.startswith(COUNT_GID) and gid not in drawn:
            problems.append(_problem(file, f"element {gid}", "", f"a count ('{by_id[gid]}') that is not in the counts record"))
    for cid, text in shown.items():
        number = shown_number(text)
        if number is not None and 1 <= number < threshold:
            problems.append(_problem(file, "", labels[cid], f"unsuppressed small count {text} in the figure"))
    for cid, value in pinned_cells(shown, relations, threshold):
        problems.append(_problem(file, "", labels[cid], f"the hidden count '{labels[cid]}' ({shown[cid] or 'left out'}) "
                                                        f"can be worked out: it must be {value}, from: "
                                                        f"{_relations_of(cid, relations)}"))
    return problems


def _svg_problems(svg: str, counts: Mapping | None, file: str, threshold: int, ids: set[str]) -> list[dict]:
    """An SVG figure as a reader's tools extract it: each text's prose, and its numbers against the record."""
    problems = []
    texts = svg_texts(svg)
    for element, text in texts:
        problems += _text_problems(text, file, f"element {element}", "", threshold, ids, "the figure's text")
    in_texts = {t for _, text in texts for t in _ids_in_text(text, ids)}
    problems += [_problem(file, "", "", f"patient identifier '{token}'") for token in _ids_in_text(svg, ids)
                 if token not in in_texts]  # anywhere else in the file (metadata, ids)
    return problems + figure_count_problems(svg, counts, file, threshold)


def _read_text_table(source) -> pd.DataFrame:
    """A CSV as text cells; an empty file is an empty table (nothing in it to disclose)."""
    try:
        return pd.read_csv(source, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _zip_problems(path: Path, file: str, threshold: int, ids: set[str], specs: dict) -> list[dict]:
    """The figure zip: file names, CSVs (the manifest's prose too), every SVG's text and numbers (with its
    counts record from the zip), and any other text file. PDFs are drawn from the same figure objects as the
    SVGs (same texts, same numbers); no PDF text extractor is installed, so the SVG stands for both."""
    problems = []
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for info in zf.infolist():
            name = f"{file}:{info.filename}"
            for token in _ids_in_text(info.filename, ids):
                problems.append(_problem(name, "", "", f"patient identifier '{token}' in a file name"))
            if info.filename.endswith(".csv"):
                df = _read_text_table(io.BytesIO(zf.read(info)))
                problems += _check_frame(df, name, threshold, ids, specs.get(Path(info.filename).stem))
                problems += _prose_problems(df, name, threshold, ("title", "caption", "alt_text"))
            elif info.filename.endswith(".svg"):
                record = info.filename[:-len(".svg")] + ".counts.json"
                counts = json.loads(zf.read(record)) if record in names else None
                problems += _svg_problems(zf.read(info).decode("utf-8", "replace"), counts, name, threshold, ids)
            elif info.filename.endswith((".txt", ".md", ".json", ".html")):
                for token in _ids_in_text(zf.read(info).decode("utf-8", "replace"), ids):
                    problems.append(_problem(name, "", "", f"patient identifier '{token}'"))
    return problems


PAGES = ("index.html", "performance_story.html")  # pages at the top of a report a funder may be sent


def check_funder_outputs(output_dir: str | Path, params: Params | None = None, *, raise_on_problem: bool = True,
                         screen: ScreenQuote | None = None) -> pd.DataFrame:
    """Fail when a funder output carries a patient identifier, a date of birth or an unsuppressed small count.

    Reads what a funder reads: every file of ``<output_dir>/funder/`` (CSV tables against ``suppression.json``
    and their quotes; the DOCX's paragraphs, tables, alt text, headers and footers; the figure zip's manifest
    and each SVG's text and numbers against its counts record, see :func:`figure_count_problems`), and
    ``index.html`` and ``performance_story.html`` at the top of the output folder (text with the tags
    stripped, alt text included); and the column names of every analyst table in ``tables/``. Quotes (the
    ``exemplar`` column, quoted speech in the DOCX and the pages) go through the identifier screen
    (``screen``; by default :func:`evaluation.identifiers.screen_quote` with ``qualitative.deny_terms``),
    except those the evaluator approved. Returns the problems table (empty when all is well); raises
    :class:`DisclosureError` naming file, row (paragraph, line or SVG element) and column otherwise.
    """
    output_dir = Path(output_dir)
    threshold = params.suppress_below if params is not None else 11
    ids = _patient_ids(params)
    screen = screen or screen_quote
    quotes: list = []
    problems: list[dict] = []
    funder = output_dir / "funder"
    specs: dict = {}
    if (funder / SPEC_FILE).exists():
        specs = json.loads((funder / SPEC_FILE).read_text(encoding="utf-8")).get("tables", {})
    for path in sorted(funder.rglob("*")) if funder.exists() else []:
        if not path.is_file():
            continue
        file = str(path.relative_to(output_dir))
        suffix = path.suffix.lower()
        if suffix == ".csv":
            df = _read_text_table(path)
            problems += _check_frame(df, file, threshold, ids, specs.get(path.stem))
            quotes += [(file, int(i) + 2, c, q) for c in df.columns if c in QUOTE_COLUMNS for i, q in df[c].items()]
        elif suffix == ".docx":
            problems += _docx_problems(path, file, threshold, ids, specs, quotes)
        elif suffix == ".zip":
            problems += _zip_problems(path, file, threshold, ids, specs)
        elif suffix == ".html":
            problems += _html_problems(path.read_text(encoding="utf-8", errors="replace"), file, threshold, ids, quotes)
        elif suffix in (".json", ".txt", ".md", ".svg"):
            for token in _ids_in_text(path.read_text(encoding="utf-8", errors="replace"), ids):
                problems.append(_problem(file, "", "", f"patient identifier '{token}'"))
    for name in PAGES:
        if (output_dir / name).is_file():
            problems += _html_problems((output_dir / name).read_text(encoding="utf-8", errors="replace"), name,
                                       threshold, ids, quotes)
    if quotes:
        deny = (params.qualitative or {}).get("deny_terms") or () if params is not None else ()
        problems += quote_problems(quotes, screen, deny_terms=deny, approved=_approved_quotes(params, output_dir))
    ident = _identifier_names()
    for path in sorted((output_dir / "tables").glob("*.csv")):
        try:
            header = pd.read_csv(path, nrows=0).columns
        except pd.errors.EmptyDataError:  # no header at all: nothing it could identify
            continue
        for col in header:
            if col in ident:
                problems.append(_problem(str(path.relative_to(output_dir)), "", col,
                                         "patient identifier column in an analyst table (tables/ must hold none)"))
    table = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    if raise_on_problem and len(table):
        raise DisclosureError(table, str(output_dir))
    return table
