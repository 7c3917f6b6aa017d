"""Differences between two independent groups (two cohorts, two cycles), from their summaries: a difference in
proportions, a difference in means, and a ratio of two ratios. Cohort-agnostic: numbers in, an estimate with
its CI and p out.

Why from summaries: a comparison of cohorts reads each cohort's published tables, not its patients again.
"""

from __future__ import annotations
import math
from dataclasses import dataclass
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep


@dataclass(frozen=True)
class Difference:
    """An estimate of a difference (or a ratio) between two groups, its CI at 1 - alpha, its p, and the method."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str


NAN = Difference(math.nan, math.nan, math.nan, math.nan, "")


def difference_in_proportions(x1: int, n1: int, x2: int, n2: int, *, alpha: float = 0.05) -> Difference:
    """p2 - p1 with Newcombe's hybrid score interval (1998, method 10; statsmodels ``newcomb``) and the score
    test's p: it keeps its coverage with small counts and proportions near 0 or 1, where the Wald interval does not."""
    if min(n1, n2) <= 0:
        return NAN
    low, high = confint_proportions_2indep(x2, n2, x1, n1, method="newcomb", compare="diff", alpha=alpha)
    p = test_proportions_2indep(x2, n2, x1, n1, method="score", compare="diff").pvalue
    return Difference(x2 / n2 - x1 / n1, float(low), float(high), float(p), "Newcombe hybrid score CI; score test")


def difference_in_means(mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int, *,
                        alpha: float = 0.05) -> Difference:
    """mean2 - mean1 with Welch's t interval and test (unequal variances, Satterthwaite's degrees of freedom)."""
    if min(n1, n2) < 2 or not all(map(math.isfinite, (mean1, sd1, mean2, sd2))):
        return NAN
    v1, v2 = sd1 ** 2 / n1, sd2 ** 2 / n2
    se = math.sqrt(v1 + v2)
    if se == 0:
        return NAN
    df = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
    d = mean2 - mean1
    half = stats.t.ppf(1 - alpha / 2, df) * se
    p = 2 * stats.t.sf(abs(d) / se, df)
    return Difference(d, d - half, d + half, float(p), "Welch t")


def ratio_of_ratios(ratio1: float, low1: float, high1: float, ratio2: float, low2: float, high2: float, *,
                    ci_alpha: float = 0.05, alpha: float = 0.05) -> Difference:
    """ratio2 / ratio1 of two independent ratios (rate ratios), each given with its Wald CI at 1 - ``ci_alpha`` on the
    log scale: log SE_i = (log high_i - log low_i) / (2 z), and the ratio's CI exp(log r2 - log r1 -/+ z sqrt(SE_1^2 +
    SE_2^2)), with the z test's p (Altman & Bland 2003, "Interaction revisited", BMJ 326:219)."""
    values = (ratio1, low1, high1, ratio2, low2, high2)
    if not all(math.isfinite(v) and v > 0 for v in values):
        return NAN
    z_in = stats.norm.ppf(1 - ci_alpha / 2)
    se1 = (math.log(high1) - math.log(low1)) / (2 * z_in)
    se2 = (math.log(high2) - math.log(low2)) / (2 * z_in)
    d = math.log(ratio2) - math.log(ratio1)
    se = math.hypot(se1, se2)
    z = stats.norm.ppf(1 - alpha / 2)
    p = 2 * stats.norm.sf(abs(d) / se) if se > 0 else math.nan
    return Difference(math.exp(d), math.exp(d - z * se), math.exp(d + z * se), float(p),
                      "ratio of rate ratios (Altman & Bland 2003)")
