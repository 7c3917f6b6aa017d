"""A goal for one measure, as a params file writes it (``"< 8"``, ``"2-3"``) and as an analysis tests it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import ParamsError

GOAL_OPERATORS = ("<", "<=", ">", ">=")


@dataclass(frozen=True)
class Goal:
    """A goal for one measure: ``value <op> threshold`` or ``low <= value <= high``."""

    measure: str
    operator: str | None = None
    threshold: float | None = None
    low: float | None = None
    high: float | None = None

    def met(self, values) -> np.ndarray:
        """Boolean array: which values meet the goal (NaN never does)."""
        v = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            if self.operator is None:
                return (v >= self.low) & (v <= self.high)
            return {
                "<": v < self.threshold,
                "<=": v <= self.threshold,
                ">": v > self.threshold,
                ">=": v >= self.threshold,
            }[self.operator]

    def distance(self, values) -> np.ndarray:
        """How far each value lies outside the goal, in the measure's unit: 0 at goal (or on its bound), NaN for
        NaN. HbA1c 9.4 against ``< 8`` is 1.4; INR 1.6 against ``2-3`` is 0.4."""
        v = np.asarray(values, dtype=float)
        if self.operator is None:
            gap = np.maximum(self.low - v, v - self.high)
        elif self.operator in ("<", "<="):
            gap = v - self.threshold
        else:
            gap = self.threshold - v
        return np.where(np.isnan(v), np.nan, np.maximum(gap, 0.0))

    @property
    def spec(self) -> str:
        """The goal as a params file writes it: '< 8' or '2-3'."""
        if self.operator is None:
            return f"{self.low:g}-{self.high:g}"
        return f"{self.operator} {self.threshold:g}"

    def __str__(self) -> str:
        return f"{self.measure} {self.spec}"


def parse_goal(measure: str, spec: Any, path: str | None = None) -> Goal:
    """Read '< 8', {'operator': '<', 'value': 8}, '2-3' or {'between': [2, 3]}."""
    where = f"goals.{measure}"
    if isinstance(spec, Mapping):
        if "between" in spec:
            bounds = spec["between"]
            if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
                raise ParamsError(f"goal range for `{measure}` must be two numbers like [2, 3]; got {bounds!r}",
                                  path=path, key=where)
            return _range_goal(measure, bounds[0], bounds[1], path)
        op, value = spec.get("operator"), spec.get("value")
    elif isinstance(spec, str):
        text_ = spec.strip()
        op = next((o for o in ("<=", ">=", "<", ">") if text_.startswith(o)), None)
        if op is None:
            if "-" in text_[1:]:
                low, high = text_.split("-", 1) if not text_.startswith("-") else (text_, "")
                return _range_goal(measure, low, high, path)
            bad = text_.split()[0] if text_.split() else text_
            raise ParamsError(
                f"goal operator for `{measure}` must be one of {', '.join(GOAL_OPERATORS)}; got '{bad}'",
                path=path, key=where)
        value = text_[len(op):].strip()
        if value[:1] in "<>=":
            raise ParamsError(
                f"goal operator for `{measure}` must be one of {', '.join(GOAL_OPERATORS)}; got '{text_.split()[0]}'",
                path=path, key=where)
    else:
        raise ParamsError(f"goal for `{measure}` must look like '< 8' or '2-3'; got {spec!r}", path=path, key=where)
    if op not in GOAL_OPERATORS:
        raise ParamsError(
            f"goal operator for `{measure}` must be one of {', '.join(GOAL_OPERATORS)}; got '{op}'", path=path, key=where)
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise ParamsError(f"goal threshold for `{measure}` must be a number; got {value!r}", path=path, key=where) from None
    if not np.isfinite(threshold):
        raise ParamsError(f"goal threshold for `{measure}` must be a finite number; got {value!r}", path=path, key=where)
    return Goal(measure, op, threshold)


def _range_goal(measure: str, low: Any, high: Any, path: str | None) -> Goal:
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        raise ParamsError(f"goal range for `{measure}` must be two numbers like '2-3'; got {low!r}-{high!r}",
                          path=path, key=f"goals.{measure}") from None
    if lo > hi:
        raise ParamsError(f"goal range for `{measure}` has low {lo:g} above high {hi:g}", path=path, key=f"goals.{measure}")
    return Goal(measure, None, None, lo, hi)
