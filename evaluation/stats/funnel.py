"""Funnel plots: each unit's proportion or rate against the collaborative's, with limits that narrow as the
unit grows (Spiegelhalter 2005, Stat Med 24:1185-1202), widened for over-dispersion by an additive random
effect (Spiegelhalter 2005, Qual Saf Health Care 14:347-351), as NHS and PHE analysts draw them (R FunnelPlotR).

Cohort-agnostic: counts and denominators per unit (a team, a site) in, a :class:`Funnel` out: one row per
unit with its value, z-scores, limits at its own denominator and a flag, and a grid of limits for drawing.

Methods, with y_i = r_i / n_i (proportions) or O_i / T_i (events per unit of exposure) and target theta0,
the pooled value sum r / sum n (or sum O / sum T) unless a target is given:

* Exact limits (no over-dispersion): the p-quantile r_p of Binomial(n, theta0) (or Poisson(theta0 T)),
  interpolated so that the limits are smooth in n: alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)),
  limit = (r_p - alpha) / n (Stat Med 2005, appendix A.1.1 and A.1.2), and 0 where that falls below 0
  (r_p = 0: no unit can be below it). ``limits="normal"``:
  theta0 +/- z_p s(n) with the null standard error s = sqrt(theta0 (1 - theta0) / n) (or sqrt(theta0 / T)).
* Over-dispersion (QSHC 2005): z_i = (y_i - theta0) / s_i; the 10% Winsorised z (those below the 10th
  percentile set to it, those above the 90th set to it); phi = mean of their squares; when I phi > I - 1,
  tau2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w), w_i = 1 / s_i^2, else tau2 = 0. With tau2 > 0 the
  limits are theta0 +/- z_p sqrt(s^2 + tau2) and z_adjusted = (y_i - theta0) / sqrt(s_i^2 + tau2); with
  tau2 = 0 they are the unadjusted limits (exact or normal, as chosen). Units are flagged by the limits used.
* Percentiles for Winsorising are R's ``quantile(type = 7)`` (numpy's default "linear"): for I sorted
  z-scores the q-th is z_(h) interpolated linearly at h = (I - 1) q (0-based), as FunnelPlotR computes them;
  a z beyond the 10th/90th percentile is replaced by it; phi averages over all I units.

Scale: by default (``scale="identity"``) the additive model, y_i ~ N(theta_i, s_i^2) with theta_i ~
N(theta0, tau2), is fitted on the indicator's own scale. FunnelPlotR fits it on a variance-stabilised
scale: arcsine-square-root for proportions (y = asin(sqrt(r / n)), s = 1 / (2 sqrt n)) and, for
standardised ratios, square root (its "CQC" method) or log ("SHMI"). ``scale="arcsine"`` (proportions) and
``scale="sqrt"`` (rates: y = sqrt(O / T), s = 1 / (2 sqrt T)) do the same here: z, phi, tau2 and the normal
limits are computed on that scale and the limits transformed back. They keep the limits inside [0, 1]
(proportions) or above 0 (rates) where the untransformed ones are clipped there.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

LEVELS = (0.95, 0.998)  # Spiegelhalter 2005: about 2 and 3 standard errors
KINDS = ("proportion", "rate")
LIMIT_METHODS = ("exact", "normal")
SCALES = {"proportion": ("identity", "arcsine"), "rate": ("identity", "sqrt")}
WITHIN = "within"
SHOWN_PROBLEMS = 20  # problems a bad-input error lists before saying how many more there are


def level_label(level: float) -> str:
    """A limit's level as it is printed: 0.998 -> "99.8%", 0.95 -> "95%"."""
    return f"{round(level * 100, 10):g}%"


def level_suffix(level: float) -> str:
    """A limit's level as it ends a column name: 0.998 -> "998" (``lower_998``), 0.95 -> "95"."""
    return level_label(level).rstrip("%").replace(".", "")


def flag_labels(levels: Iterable[float] = LEVELS) -> tuple[str, ...]:
    """The flags from highest to lowest: "above 99.8%", "above 95%", "within", "below 95%", "below 99.8%"."""
    ordered = sorted(levels, reverse=True)
    return (*(f"above {level_label(lv)}" for lv in ordered), WITHIN,
            *(f"below {level_label(lv)}" for lv in reversed(ordered)))


@dataclass(frozen=True)
class Funnel:
    """A funnel plot's numbers: the target, the over-dispersion estimates and one row per unit.

    ``target`` and ``tau2`` are on the indicator's own scale (a proportion 0-1, events per one unit of
    exposure; tau2 on the ``scale`` the adjustment was made), never multiplied by ``per``; the table's
    value and limits and the curve are multiplied by ``per``. ``overdispersion`` is True when the additive
    adjustment was applied (asked for and tau2 > 0); ``phi`` is NaN when it was not asked for.
    """

    kind: str
    target: float
    per: float
    overdispersion: bool
    phi: float
    tau2: float
    levels: tuple[float, ...]
    table: pd.DataFrame
    limits: str = "exact"
    scale: str = "identity"

    def curve(self, n_points: int = 200, max_denominator: float | None = None) -> pd.DataFrame:
        """The limits over a grid of denominators, for drawing the funnel: denominator, target, lower_95,
        upper_95, lower_998, upper_998 (x ``per``), by the same rule as the units' limits.

        The grid runs from half the smallest unit's denominator to ``max_denominator`` (default 1.1 x the
        largest), spaced geometrically so that its points are densest at the narrow end, where the funnel
        bends most; for proportions it holds whole numbers of patients only (the binomial needs them), so
        it may have fewer than ``n_points`` rows."""
        if n_points < 2:
            raise ValueError(f"a curve needs at least 2 points; got n_points={n_points}")
        denominators = self.table["denominator"].to_numpy(float)
        low = denominators.min() / 2
        high = 1.1 * denominators.max() if max_denominator is None else float(max_denominator)
        if self.kind == "proportion":
            low = max(1.0, math.floor(low))
        if not high > low:
            raise ValueError(f"max_denominator must be above the grid's start ({low:g}); got {max_denominator!r}")
        grid = np.geomspace(low, high, n_points)
        if self.kind == "proportion":
            grid = np.unique(np.round(grid))
        out = pd.DataFrame({"denominator": grid, "target": self.target * self.per})
        for level in self.levels:
            lower, upper = unit_limits(self.kind, self.target, grid, level, tau2=self.tau2,
                                       limits=self.limits, scale=self.scale)
            out[f"lower_{level_suffix(level)}"] = lower * self.per
            out[f"upper_{level_suffix(level)}"] = upper * self.per
        return out

    def flagged(self, level: float = 0.998) -> pd.DataFrame:
        """The table's rows outside that level's limits (above or below), by their flags: outside the 95% limits
        are the units flagged at 95% and those flagged at 99.8%."""
        if not any(math.isclose(level, lv) for lv in self.levels):
            raise ValueError(f"level must be one of {', '.join(f'{lv:g}' for lv in self.levels)}; got {level!r}")
        lv = next(lv for lv in self.levels if math.isclose(level, lv))
        beyond = {f"{side} {level_label(wider)}" for wider in self.levels if wider >= lv for side in ("above", "below")}
        return self.table[self.table["flag"].isin(beyond)]

    @property
    def summary(self) -> pd.DataFrame:
        """One row: kind, target (x per), per, units, phi, tau2, whether adjusted, and units per flag."""
        counts = self.table["flag"].value_counts()
        row = {"kind": self.kind, "target": self.target * self.per, "per": self.per, "units": len(self.table),
               "limits": "normal (over-dispersion)" if self.overdispersion else self.limits, "scale": self.scale,
               "phi": self.phi, "tau2": self.tau2, "overdispersion": self.overdispersion}
        row.update({flag: int(counts.get(flag, 0)) for flag in flag_labels(self.levels)})
        return pd.DataFrame([row])


def funnel_proportions(numerators, denominators, units, *, target: float | None = None, per: float = 1.0,
                       overdispersion: bool = True, limits: str = "exact", winsor: float = 0.1,
                       levels: tuple[float, ...] = LEVELS, scale: str = "identity") -> Funnel:
    """Funnel of proportions r_i / n_i (e.g. patients at goal / patients) against the pooled proportion.

    ``per`` = 100 shows percentages. ``target`` (a proportion, 0-1) replaces the pooled value. Exact limits
    are binomial with Spiegelhalter's interpolation; ``limits="normal"`` uses theta0 +/- z sqrt(theta0(1 -
    theta0) / n). ``overdispersion`` adds the random-effects variance tau2 when the Winsorised phi says
    there is more spread than chance (see the module docstring); ``scale="arcsine"`` does that on the
    arcsine-square-root scale, as FunnelPlotR does.
    """
    return _funnel("proportion", numerators, denominators, units, target=target, per=per,
                   overdispersion=overdispersion, limits=limits, winsor=winsor, levels=levels, scale=scale)


def funnel_rates(events, exposures, units, *, per: float = 1000.0, target: float | None = None,
                 overdispersion: bool = True, limits: str = "exact", winsor: float = 0.1,
                 levels: tuple[float, ...] = LEVELS, scale: str = "identity") -> Funnel:
    """Funnel of rates O_i / T_i (e.g. readmissions per patient-month, shown per 1,000) against sum O / sum T.

    ``target`` is per one unit of exposure (0.004 per patient-month, not 4 per 1,000). Exact limits are
    Poisson(theta0 T) with Spiegelhalter's interpolation; ``limits="normal"`` uses theta0 +/- z
    sqrt(theta0 / T). ``overdispersion`` and ``scale="sqrt"`` as in :func:`funnel_proportions`.
    """
    return _funnel("rate", events, exposures, units, target=target, per=per, overdispersion=overdispersion,
                   limits=limits, winsor=winsor, levels=levels, scale=scale)


def interpolated_limit(kind: str, p: float, denominators, target: float) -> np.ndarray:
    """Spiegelhalter's (2005, appendix A.1) exact p-limit: (r_p - alpha) / n, r_p the smallest count with
    F(r_p) >= p under Binomial(n, target) or Poisson(target T), alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)).
    Below zero (r_p = 0, where the interpolation reaches below the lowest count) it is 0."""
    den = np.asarray(denominators, dtype=float)
    dist = stats.binom(den, target) if kind == "proportion" else stats.poisson(target * den)
    r = dist.ppf(p)
    r = np.where(dist.cdf(r - 1) >= p, r - 1, r)  # guard against ppf's float tolerance either way
    r = np.where(dist.cdf(r) < p, r + 1, r)
    f_r, f_below = dist.cdf(r), dist.cdf(r - 1)
    alpha = (f_r - p) / (f_r - f_below)
    return np.maximum((r - alpha) / den, 0.0)


def unit_limits(kind: str, target: float, denominators, level: float, *, tau2: float = 0.0,
                limits: str = "exact", scale: str = "identity") -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits at each denominator (on the indicator's scale, not x per): exact or normal when
    tau2 = 0, else target +/- z sqrt(s^2 + tau2) on ``scale`` and transformed back; within [0, 1] for
    proportions and at least 0 for rates."""
    den = np.asarray(denominators, dtype=float)
    p_low, p_high = (1 - level) / 2, (1 + level) / 2
    if tau2 == 0 and limits == "exact":
        return interpolated_limit(kind, p_low, den, target), interpolated_limit(kind, p_high, den, target)
    centre, s = _transform(scale, target), _null_se(kind, scale, target, den)
    half = stats.norm.ppf(p_high) * np.sqrt(s ** 2 + tau2)
    return _back(kind, scale, centre - half), _back(kind, scale, centre + half)


def winsorised_phi(z, winsor: float = 0.1) -> float:
    """Spiegelhalter's (2005) over-dispersion factor: the mean square of the z-scores after those below the
    ``winsor`` quantile are set to it and those above the 1 - ``winsor`` quantile to it (quantiles as R's
    type 7, numpy's "linear", as FunnelPlotR)."""
    z = np.asarray(z, dtype=float)
    low, high = np.quantile(z, [winsor, 1 - winsor])
    return float(np.mean(np.clip(z, low, high) ** 2))


def additive_tau2(phi: float, se) -> float:
    """Between-unit variance of the additive random-effects model (a DerSimonian-Laird-type moment estimate,
    Spiegelhalter 2005): (I phi - (I - 1)) / (sum w - sum w^2 / sum w), w = 1 / se^2; 0 when I phi <= I - 1
    (to within rounding: a residue of 1e-16 would otherwise switch exact limits to normal ones)."""
    w = 1 / np.asarray(se, dtype=float) ** 2
    n_units = len(w)
    excess = n_units * phi - (n_units - 1)
    if excess <= 1e-12 * n_units:
        return 0.0
    return float(excess / (w.sum() - (w ** 2).sum() / w.sum()))


def _transform(scale: str, y):
    if scale == "arcsine":
        return np.arcsin(np.sqrt(y))
    if scale == "sqrt":
        return np.sqrt(y)
    return y


def _back(kind: str, scale: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if scale == "arcsine":
        return np.sin(np.clip(x, 0, np.pi / 2)) ** 2
    if scale == "sqrt":
        return np.maximum(x, 0) ** 2
    return np.clip(x, 0, 1) if kind == "proportion" else np.maximum(x, 0)


def _null_se(kind: str, scale: str, target: float, den) -> np.ndarray:
    """Standard error of a unit's value at its denominator under the target alone, on ``scale``."""
    den = np.asarray(den, dtype=float)
    if scale in ("arcsine", "sqrt"):
        return 1 / (2 * np.sqrt(den))  # delta method: var(asin sqrt p) = 1/(4n), var(sqrt(O/T)) = 1/(4T)
    variance = target * (1 - target) if kind == "proportion" else target
    return np.sqrt(variance / den)


def _funnel(kind, numerators, denominators, units, *, target, per, overdispersion, limits, winsor, levels,
            scale) -> Funnel:
    levels = _check_options(kind, per, limits, winsor, levels, scale)
    names, num, den = _check_units(kind, numerators, denominators, units)
    theta0 = num.sum() / den.sum() if target is None else _check_target(kind, target)
    if theta0 <= 0 or (kind == "proportion" and theta0 >= 1):
        what = "no unit has any events" if theta0 <= 0 else "every patient in every unit is counted"
        allowed = "strictly between 0 and 1" if kind == "proportion" else "above 0"
        raise ValueError(f"{what}: the pooled {kind} is {theta0:g}, so every unit's limits collapse onto it and "
                         f"there is nothing to compare; give a target {allowed}")
    y = num / den
    s = _null_se(kind, scale, theta0, den)
    z = (_transform(scale, y) - _transform(scale, theta0)) / s
    phi = winsorised_phi(z, winsor) if overdispersion else float("nan")
    tau2 = additive_tau2(phi, s) if overdispersion else 0.0
    z_adjusted = (_transform(scale, y) - _transform(scale, theta0)) / np.sqrt(s ** 2 + tau2)
    table = pd.DataFrame({"unit": names, "numerator": num, "denominator": den, "value": y * per, "z": z,
                          "z_adjusted": z_adjusted})
    flag = np.full(len(y), WITHIN, dtype=object)
    for level in sorted(levels):  # narrowest first, so a unit keeps the widest limit it is beyond
        lower, upper = unit_limits(kind, theta0, den, level, tau2=tau2, limits=limits, scale=scale)
        table[f"lower_{level_suffix(level)}"] = lower * per
        table[f"upper_{level_suffix(level)}"] = upper * per
        flag[y > upper] = f"above {level_label(level)}"
        flag[y < lower] = f"below {level_label(level)}"
    table["flag"] = flag
    ordered = ["unit", "numerator", "denominator", "value", "z", "z_adjusted",
               *(f"{side}_{level_suffix(lv)}" for lv in levels for side in ("lower", "upper")), "flag"]
    return Funnel(kind=kind, target=float(theta0), per=float(per), overdispersion=bool(tau2 > 0),
                  phi=float(phi), tau2=float(tau2), levels=levels, table=table[ordered], limits=limits, scale=scale)


def _check_options(kind, per, limits, winsor, levels, scale) -> tuple[float, ...]:
    if limits not in LIMIT_METHODS:
        raise ValueError(f"limits must be one of {', '.join(LIMIT_METHODS)}; got {limits!r}")
    if scale not in SCALES[kind]:
        raise ValueError(f"scale for {kind}s must be one of {', '.join(SCALES[kind])}; got {scale!r}")
    if not (isinstance(per, numbers.Real) and math.isfinite(per) and per > 0):
        raise ValueError(f"per must be a positive number (1, 100, 1000); got {per!r}")
    if not (isinstance(winsor, numbers.Real) and 0 <= winsor < 0.5):
        raise ValueError(f"winsor must be at least 0 and below 0.5 (0.1 Winsorises 10% at each end); got {winsor!r}")
    levels = tuple(float(lv) for lv in levels)
    if not levels or any(not 0 < lv < 1 for lv in levels) or len({level_suffix(lv) for lv in levels}) < len(levels):
        raise ValueError(f"levels must be distinct numbers between 0 and 1 (e.g. 0.95, 0.998); got {levels!r}")
    return levels


def _check_target(kind: str, target) -> float:
    target = float(target)
    if kind == "proportion" and not 0 < target < 1:
        raise ValueError(f"target for proportions must be strictly between 0 and 1 (not x per); got {target:g}")
    if kind == "rate" and not (math.isfinite(target) and target > 0):
        raise ValueError(f"target for rates must be a positive rate per one unit of exposure; got {target:g}")
    return target


def _check_units(kind: str, numerators, denominators, units) -> tuple[list, np.ndarray, np.ndarray]:
    """Units' names and counts as arrays, or one ValueError naming every unit that is wrong and how."""
    names = pd.Series(list(units), dtype=object).tolist()
    num_name, den_name = ("numerator", "denominator") if kind == "proportion" else ("events", "exposure")
    num = pd.to_numeric(pd.Series(list(numerators), dtype=object), errors="coerce").to_numpy(float)
    den = pd.to_numeric(pd.Series(list(denominators), dtype=object), errors="coerce").to_numpy(float)
    if not len(names) == len(num) == len(den):
        raise ValueError(f"units, {num_name}s and {den_name}s must be the same length; got {len(names)} units, "
                         f"{len(num)} {num_name}s and {len(den)} {den_name}s")
    if len(names) < 2:
        raise ValueError(f"a funnel plot compares units: it needs at least 2; got {len(names)}")
    problems = []
    seen = pd.Series(names).duplicated(keep=False)
    if seen.any():
        repeated = dict.fromkeys(name for name, twice in zip(names, seen) if twice)
        problems.append(f"units named more than once: {', '.join(map(repr, repeated))}")
    for name, r, n in zip(names, num, den):
        if name is None or (isinstance(name, float) and math.isnan(name)):
            problems.append(f"a unit has no name ({num_name} {r:g}, {den_name} {n:g})")
            continue
        who = f"unit {name!r}"
        if not math.isfinite(r):
            problems.append(f"{who}: {num_name} is missing or not a number")
        elif r < 0:
            problems.append(f"{who}: {num_name} is negative ({r:g})")
        elif r != round(r):
            problems.append(f"{who}: {num_name} must be a whole number of events; got {r:g}")
        if not math.isfinite(n):
            problems.append(f"{who}: {den_name} is missing or not a number")
        elif n <= 0:
            problems.append(f"{who}: {den_name} is {n:g}; every unit needs a positive {den_name}")
        elif kind == "proportion" and n != round(n):
            problems.append(f"{who}: denominator must be a whole number of patients; got {n:g}")
        if kind == "proportion" and math.isfinite(r) and math.isfinite(n) and r > n:
            problems.append(f"{who}: numerator {r:g} is greater than denominator {n:g}")
    if problems:
        shown = problems[:SHOWN_PROBLEMS]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise ValueError(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in the funnel's input:\n  - "
                         + "\n  - ".join(shown) + more)
    return names, num, den
