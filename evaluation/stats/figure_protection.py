"""Counts drawn in a figure, protected: which of them a figure may show so that no small count can be worked out.

A figure's numbers (a Kaplan-Meier numbers table, bars labelled with counts) come with facts any reader knows:
at risk + events + censored = n at every tick, cumulative counts never fall, the groups add up to the cohort.
Each figure states those facts as :class:`Relation` records (saved with its counts in
``figures/<id>.counts.json`` by :func:`evaluation.core.figures.export_figure`). The same integer programs
decide what the figure hides (:func:`protect_cells`, when it is drawn) and check what it shows
(:func:`pinned_cells`, in the disclosure gate): a reader reasons in whole numbers, knows that ``<11`` is 1 to
10 and ``*`` at least 11, and takes a near-equality for an equality wherever the numbers allow it.

Tables are protected by linear programs over their totals instead (:mod:`evaluation.stats.cell_suppression`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from evaluation.core.disclosure import COMPLEMENT_MARK, UNDRAWN, shown_number, small_mark


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
