"""The Anhøj rules for run charts and Laney's sigma_z for p′ charts, as R's qicharts2 computes them.

A run chart's points vary only by chance unless the longest run on one side of the centre line is longer
than ``round(log2(n)) + 3`` (Schilling 2012; Anhøj & Olesen 2014) or the line crosses the centre fewer times
than the 5th percentile of Binomial(n - 1, 0.5) (Chen 2010), n being the useful points (those off the
centre line). No maintained Python package implements qicharts2's runs analysis, so it is written here.
Cohort-agnostic: series of numbers in, counts and a verdict out.
"""

from __future__ import annotations
import functools
import math
from typing import Any, Iterable
import numpy as np
from scipy import stats


def longest_run_limit(n_useful: int) -> int:
    """Longest run allowed on one side of the median before it signals a shift."""
    return int(round(math.log2(n_useful))) + 3  # Schilling 2012; Anhøj & Olesen 2014 (qicharts2)


@functools.lru_cache(maxsize=None)  # called once per team, measure and phase: thousands of times statewide
def crossings_limit(n_useful: int) -> int:
    """Fewest median crossings expected by chance; fewer signals a shift or trend."""
    return int(stats.binom.ppf(0.05, n_useful - 1, 0.5))  # Chen 2010; qicharts2: qbinom(0.05, n - 1, 0.5)


def runs_analysis(values: Iterable[float], centre: float | Iterable[float], min_points: int = 10) -> dict[str, Any]:
    """Anhøj runs analysis of ``values`` around ``centre`` (a number or one per value).

    Returns n_points, n_useful, longest_run, longest_run_max, n_crossings, n_crossings_min, runs_signal
    (True / False, or None when there are fewer than ``min_points`` useful points) and a plain verdict."""
    y = np.asarray(list(values), dtype=float)
    cl = np.broadcast_to(np.asarray(centre, dtype=float), y.shape)
    side = np.sign(y - cl)
    side = side[~np.isnan(side) & (side != 0)]  # points on the centre line are not useful
    n_points = int((~np.isnan(y)).sum())
    n = len(side)
    out: dict[str, Any] = {"n_points": n_points, "n_useful": n, "longest_run": None, "longest_run_max": None,
                           "n_crossings": None, "n_crossings_min": None, "runs_signal": None}
    if n == 0:
        out["verdict"] = ("no data" if n_points == 0 else "all points on the median: no useful points, no runs verdict")
        return out
    breaks = np.flatnonzero(np.diff(side) != 0)
    run_lengths = np.diff(np.concatenate([[0], breaks + 1, [n]]))
    out.update(longest_run=int(run_lengths.max()), longest_run_max=longest_run_limit(n),
               n_crossings=int(len(breaks)), n_crossings_min=crossings_limit(n))
    if n < min_points:
        out["verdict"] = f"only {n} useful point{'s' if n != 1 else ''} (fewer than {min_points}): no runs verdict"
        return out
    shift = out["longest_run"] > out["longest_run_max"]
    few = out["n_crossings"] < out["n_crossings_min"]
    out["runs_signal"] = bool(shift or few)
    reasons = []
    if shift:
        reasons.append(f"a run of {out['longest_run']} points on one side of the median (limit {out['longest_run_max']})")
    if few:
        reasons.append(f"{out['n_crossings']} median crossings (at least {out['n_crossings_min']} expected)")
    out["verdict"] = ("non-random variation: " + " and ".join(reasons)) if reasons else "random variation only"
    return out


def laney_sigma_z(z: Iterable[float]) -> float:
    """Between-subgroup spread of z-scores for Laney's p′: average moving range / 1.128 (d2 for n = 2),
    after dropping moving ranges of at least 3.267 × their mean (Nelson 1982; qicharts2's default
    ``qic.screenedmr = TRUE``)."""
    z = np.asarray(list(z), dtype=float)
    mr = np.abs(np.diff(z))
    mr = mr[~np.isnan(mr)]
    if len(mr) == 0:
        return float("nan")
    amr = mr.mean()
    mr = mr[mr < 3.267 * amr]  # 3.267 = D4 for moving ranges of 2 (Montgomery 2009)
    return float(mr.mean() / 1.128) if len(mr) else float("nan")
