"""Differences between two independent groups from their summaries, against published and independent values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evaluation.stats.differences import difference_in_means, difference_in_proportions, ratio_of_ratios


def test_difference_in_proportions_is_newcombes_method_10():
    """Newcombe (1998) Stat Med 17:873, Table II example (a): 56/70 - 48/80 = 0.2000, hybrid score (method 10)
    95% CI 0.0524 to 0.3339 (printed to 4 decimals)."""
    d = difference_in_proportions(48, 80, 56, 70)
    assert d.estimate == pytest.approx(0.2, abs=1e-12)
    assert (d.ci_low, d.ci_high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert 0 < d.p_value < 0.05
    assert math.isnan(difference_in_proportions(0, 0, 3, 10).estimate)


def test_difference_in_means_is_welchs_t_on_the_raw_data():
    """The summaries of two samples give what scipy's Welch t-test gives on the samples themselves."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(-0.8, 0.9, 40), rng.normal(-1.1, 1.3, 25)
    d = difference_in_means(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b), alpha=0.1)
    raw = stats.ttest_ind(b, a, equal_var=False)
    ci = raw.confidence_interval(0.9)
    assert d.estimate == pytest.approx(b.mean() - a.mean(), rel=1e-12)
    assert (d.ci_low, d.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert d.p_value == pytest.approx(raw.pvalue, rel=1e-10)
    assert math.isnan(difference_in_means(1.0, 1.0, 1, 2.0, 1.0, 5).estimate)  # one patient: no SD


def test_ratio_of_ratios_by_hand():
    """RR1 0.80 (0.64 to 1.00), RR2 0.60 (0.45 to 0.80): log SEs (ln 1.00 - ln 0.64) / 3.919928 = 0.113846 and
    (ln 0.80 - ln 0.45) / 3.919928 = 0.146782; ratio 0.75, log 0.75 = -0.287682, SE sqrt(0.113846^2 + 0.146782^2) =
    0.185756; CI exp(-0.287682 -/+ 1.959964 x 0.185756) = 0.5212 to 1.0793; z = 1.548712, p = 0.12145."""
    d = ratio_of_ratios(0.80, 0.64, 1.00, 0.60, 0.45, 0.80)
    assert d.estimate == pytest.approx(0.75, rel=1e-12)
    assert (d.ci_low, d.ci_high) == pytest.approx((0.5212, 1.0793), abs=1e-4)
    assert d.p_value == pytest.approx(0.12145, abs=1e-4)
    assert math.isnan(ratio_of_ratios(0.8, 0.0, 1.0, 0.6, 0.45, 0.8).estimate)  # no log of 0
