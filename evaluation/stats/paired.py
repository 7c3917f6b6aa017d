"""Paired before/after statistics: mean change with its t-based CI, the paired t-test, the Wilcoxon
signed-rank test and Cohen's d_z for values, and the exact McNemar test for yes/no outcomes.

Each matches R's default (``t.test(paired = TRUE)``, ``wilcox.test(paired = TRUE)``, and for McNemar the
exact binomial test on the discordant pairs, ``binom.test(b, b + c)``). Cohort-agnostic: arrays in, numbers out.
"""

from __future__ import annotations
import math
from typing import Iterable
import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar


def wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p as R's wilcox.test(paired = TRUE) computes it by default: zero
    differences dropped; exact when fewer than 50 remain and there are no ties or zeros, otherwise the
    normal approximation with continuity correction."""
    nonzero = diff[diff != 0]
    if len(nonzero) == 0:
        return float("nan")
    exact = len(nonzero) < 50 and len(np.unique(np.abs(nonzero))) == len(nonzero) and len(nonzero) == len(diff)
    res = stats.wilcoxon(nonzero, zero_method="wilcox", correction=not exact, method="exact" if exact else "approx")
    return float(res.pvalue)


def _array(values: Iterable, dtype) -> np.ndarray:
    """Values (an array, Series, list or any iterable) as a numpy array, without a Python-level copy."""
    return np.asarray(values if hasattr(values, "__len__") else list(values), dtype=dtype)


def mcnemar_exact_p(before: Iterable[bool], after: Iterable[bool]) -> float:
    """Exact (binomial) McNemar p for paired yes/no outcomes; 1 when no pair changed."""
    b = _array(before, bool)
    a = _array(after, bool)
    table = [[int((b & a).sum()), int((b & ~a).sum())], [int((~b & a).sum()), int((~b & ~a).sum())]]
    if table[0][1] + table[1][0] == 0:
        return 1.0
    return float(mcnemar(table, exact=True).pvalue)


def mcnemar_corrected(before: Iterable[bool], after: Iterable[bool]) -> tuple[float, float]:
    """McNemar's chi-square with the continuity correction, R's ``mcnemar.test`` default:
    (|b - c| - 1)² / (b + c) on 1 df, b and c the discordant pairs; (NaN, NaN) when no pair changed (as R)."""
    b_ = _array(before, bool)
    a_ = _array(after, bool)
    b, c = int((b_ & ~a_).sum()), int((~b_ & a_).sum())
    if b + c == 0:
        return float("nan"), float("nan")
    chi2 = (abs(b - c) - 1) ** 2 / (b + c)
    return float(chi2), float(stats.chi2.sf(chi2, 1))


def paired_change(baseline: Iterable[float], followup: Iterable[float], alpha: float = 0.05) -> dict[str, float]:
    """Mean change (follow-up minus baseline) with its t-based CI, paired t, Wilcoxon p and Cohen's d_z
    (mean change / SD of change). Statistics that need two or more pairs (or a non-zero SD) are NaN."""
    b = _array(baseline, float)
    f = _array(followup, float)
    keep = ~(np.isnan(b) | np.isnan(f))
    b, f = b[keep], f[keep]
    d = f - b
    n = len(d)
    out = {"n": n, "baseline_mean": np.nan, "followup_mean": np.nan, "mean_change": np.nan, "sd_change": np.nan,
           "change_ci_low": np.nan, "change_ci_high": np.nan, "t_stat": np.nan, "p_value": np.nan,
           "wilcoxon_p": np.nan, "cohen_dz": np.nan}
    if n == 0:
        return out
    out.update(baseline_mean=b.mean(), followup_mean=f.mean(), mean_change=d.mean())
    if n < 2:
        return out
    sd = d.std(ddof=1)
    se = sd / math.sqrt(n)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * se
    out.update(sd_change=sd, change_ci_low=d.mean() - half, change_ci_high=d.mean() + half)
    if sd > 0:
        res = stats.ttest_rel(f, b)
        out.update(t_stat=float(res.statistic), p_value=float(res.pvalue), cohen_dz=d.mean() / sd)
    out["wilcoxon_p"] = wilcoxon_p(d)
    return out
