"""Paired statistics: mean change, paired t, Wilcoxon signed-rank, Cohen's d_z and the exact McNemar test.

References: R's output for the ``sleep`` data (Student 1908; ``t.test`` and ``wilcox.test`` with ``paired =
TRUE`` as printed in R's documentation and every R introduction), and hand arithmetic in the docstrings.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.stats import paired

# R's datasets::sleep: extra hours of sleep of 10 patients under drug 1 and drug 2
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_paired_change_matches_r_on_the_sleep_data():
    """R: t.test(extra ~ group, data = sleep, paired = TRUE): t = -4.0621, df = 9, p-value = 0.002833,
    95 percent CI -2.4598858 -0.7001142, mean difference -1.58 (group 1 minus group 2; here follow-up minus
    baseline, so the signs flip). wilcox.test(..., paired = TRUE): V = 0, p-value = 0.009091 (a zero and
    ties, so the normal approximation with continuity correction)."""
    s = paired.paired_change(SLEEP_1, SLEEP_2)
    assert s["n"] == 10 and s["mean_change"] == pytest.approx(1.58)
    assert s["t_stat"] == pytest.approx(4.0621, abs=5e-5)  # R prints 5 significant digits
    assert s["p_value"] == pytest.approx(0.002833, abs=5e-7)
    assert (s["change_ci_low"], s["change_ci_high"]) == pytest.approx((0.7001142, 2.4598858), abs=5e-8)
    assert s["wilcoxon_p"] == pytest.approx(0.009091, abs=5e-7)


def test_paired_change_against_hand_arithmetic():
    """baseline 8, 9, 7.5, 10; follow-up 7, 8.5, 7.5, 8 -> changes -1, -0.5, 0, -2.
    mean = -3.5 / 4 = -0.875; squared deviations 0.015625 + 0.140625 + 0.765625 + 1.265625 = 2.1875;
    SD = sqrt(2.1875 / 3) = 0.853913; SE = 0.853913 / 2 = 0.4269565; t = -0.875 / 0.426956 = -2.049390;
    t(0.975, 3) = 3.182446 (printed t table) -> CI -0.875 -/+ 3.182446 * 0.4269565 = -0.875 -/+ 1.358766 = (-2.233766, 0.483766);
    two-sided p from the closed-form t(3) CDF F(t) = 1/2 + (1/pi)[u/(1 + u^2) + atan(u)], u = t / sqrt(3);
    d_z = -0.875 / 0.853913 = -1.024695.
    Wilcoxon (as R's wilcox.test(paired = TRUE)): the zero is dropped, so the normal approximation with
    continuity correction: V = 0, n = 3, E = 3, Var = 3*4*7/24 = 3.5, z = (0 - 3 + 0.5)/sqrt(3.5)
    = -1.336306, p = 2 * Phi(-1.336306) = 0.181449."""
    s = paired.paired_change([8, 9, 7.5, 10], [7, 8.5, 7.5, 8])
    assert s["n"] == 4
    assert s["mean_change"] == pytest.approx(-0.875)
    assert s["sd_change"] == pytest.approx(0.853913, abs=1e-6)  # hand values printed to 6 decimals
    assert s["t_stat"] == pytest.approx(-2.049390, abs=1e-6)
    assert (s["change_ci_low"], s["change_ci_high"]) == pytest.approx((-2.233766, 0.483766), abs=1e-6)
    u = -2.049390 / math.sqrt(3)
    p = 2 * (0.5 + (u / (1 + u * u) + math.atan(u)) / math.pi)
    assert s["p_value"] == pytest.approx(p, abs=1e-6)
    assert s["cohen_dz"] == pytest.approx(-1.024695, abs=1e-6)
    z = -2.5 / math.sqrt(3.5)
    assert s["wilcoxon_p"] == pytest.approx(math.erfc(-z / math.sqrt(2)), abs=1e-6)
    assert s["wilcoxon_p"] == pytest.approx(0.181449, abs=1e-6)
    assert (s["baseline_mean"], s["followup_mean"]) == pytest.approx((8.625, 7.75))


def test_wilcoxon_exact_without_ties_or_zeros():
    """Changes 1..5, all positive, no ties: exact two-sided p = 2 * (1/2^5) = 0.0625 (R: wilcox.test)."""
    s = paired.paired_change([0, 0, 0, 0, 0], [1, 2, 3, 4, 5])
    assert s["wilcoxon_p"] == pytest.approx(0.0625)
    # 1, -2, 3, 4, 5: V = 1 + 3 + 4 + 5 = 13; of the 32 equally likely sign patterns V >= 13 for three (negative
    # ranks {}, {1}, {2}), so p = 2 * 3/32 = 0.1875
    assert paired.wilcoxon_p(np.array([1.0, -2.0, 3.0, 4.0, 5.0])) == pytest.approx(0.1875)


def test_one_pair_and_no_spread_give_nan_tests_not_errors():
    one = paired.paired_change([9.0], [8.0])
    assert one["mean_change"] == -1.0 and np.isnan(one["change_ci_low"]) and np.isnan(one["p_value"])
    same = paired.paired_change([9.0, 8.0], [9.0, 8.0])
    assert same["mean_change"] == 0 and np.isnan(same["t_stat"]) and np.isnan(same["wilcoxon_p"])
    none = paired.paired_change([], [])
    assert none["n"] == 0 and np.isnan(none["baseline_mean"])


def test_missing_values_drop_the_pair():
    s = paired.paired_change([8.0, np.nan, 9.0], [7.0, 6.0, np.nan])
    assert s["n"] == 1 and s["mean_change"] == -1.0


def test_mcnemar_exact_hand_values():
    """3 patients reach goal, 1 falls out: p = 2 * P(X <= 1 | n = 4, 1/2) = 2 * 5/16 = 0.625.
    5 reach goal, none fall out: p = 2 * (1/2)^5 = 0.0625. Nobody changes: p = 1."""
    before = [False, False, False, False, True, True]
    after = [True, True, True, False, True, False]
    assert paired.mcnemar_exact_p(before, after) == pytest.approx(0.625)
    assert paired.mcnemar_exact_p([False] * 5, [True] * 5) == pytest.approx(0.0625)
    assert paired.mcnemar_exact_p([True, False], [True, False]) == 1.0


def test_mcnemar_corrected_is_rs_default():
    """The same 1 lost and 3 gained: R's mcnemar.test(matrix(c(1, 3, 1, 1), 2)) gives McNemar's chi-squared
    = 0.25, df = 1, p-value = 0.6171 ((|1 - 3| - 1)² / 4 = 0.25). Nobody changes: NaN, as R."""
    before = [False, False, False, False, True, True]
    after = [True, True, True, False, True, False]
    chi2, p = paired.mcnemar_corrected(before, after)
    assert chi2 == pytest.approx(0.25) and p == pytest.approx(0.6170751, abs=1e-7)
    assert all(np.isnan(paired.mcnemar_corrected([True], [True])))
