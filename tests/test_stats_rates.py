"""Rate ratios (evaluation/stats/rates.py) against hand computations and independent fits.

Each model has its own reference: the Poisson Wald interval and the clustered sandwich by hand, the negative
binomial against a maximum-likelihood fit written here with scipy, and the closed form for many groups
against statsmodels' Poisson GLM fitted group by group.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

from evaluation.core.errors import ParamsError
from evaluation.stats.rates import NOTE_NO_EVENTS, NOTE_NO_TIME, rate_ratio, rate_ratios

Z975 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)


def test_poisson_rate_ratio_matches_hand_computation():
    """Poisson GLM, model-based CI = exp(log RR +/- z sqrt(1/a + 1/b)) (Rothman, Modern Epidemiology, ch. 14).

    a = 20 events in 100 patient-months before, b = 10 in 125 after: RR = (10/125)/(20/100) = 0.4;
    SE(log RR) = sqrt(1/20 + 1/10) = 0.387298; CI = 0.4 x exp(-/+ 1.959964 x 0.387298) = 0.187237 to 0.854533;
    p = 2 x (1 - Phi(|log 0.4| / 0.387298)) = 2 x (1 - Phi(2.365865)) = 0.017989.
    """
    r = rate_ratio([2] * 10, [1] * 10, [10] * 10, [12.5] * 10, model="poisson")
    assert r.rate_ratio == pytest.approx(0.4)
    assert r.ci_low == pytest.approx(0.187237, abs=1e-6)  # hand values printed to 6 decimals (closed form)
    assert r.ci_high == pytest.approx(0.854533, abs=1e-6)
    assert r.p_value == pytest.approx(0.017989, abs=1e-6)
    assert r.model == "poisson" and r.note == ""


def test_robust_rate_ratio_matches_hand_sandwich():
    """Poisson GLM with SEs clustered by patient: the sandwich by hand (Cameron & Miller 2015, eq. 11).

    3 patients, 12 months in each window; counts before (2, 0, 4), after (1, 1, 0). Rates r0 = 6/36, r1 = 2/36,
    RR = 1/3. Per-patient score residuals u = (y_pre - 2, y_post - 2/3): (0, 1/3), (-2, 1/3), (2, -2/3).
    Meat: M00 = 8, M11 = 2/3, M01 = -2. Var(log RR) = M00/A^2 + M11/B^2 - 2 M01/(A B) with A = 6, B = 2:
    8/36 + (2/3)/4 + 4/12 = 0.722222; small-sample factor G/(G-1) x (N-1)/(N-K) = 3/2 x 5/4 = 1.875 (Stata's and
    statsmodels' convention) -> 1.354167, SE = 1.163687.
    """
    r = rate_ratio([2, 0, 4], [1, 1, 0], [12] * 3, [12] * 3, model="poisson_robust")
    se = math.sqrt((8 / 36 + (2 / 3) / 4 + 4 / 12) * 1.875)
    assert se == pytest.approx(1.163687, abs=1e-6)  # printed to 6 decimals
    assert r.rate_ratio == pytest.approx(1 / 3)
    assert r.ci_low == pytest.approx(math.exp(math.log(1 / 3) - Z975 * se), rel=1e-6)  # closed form: rounding only
    assert r.ci_high == pytest.approx(math.exp(math.log(1 / 3) + Z975 * se), rel=1e-6)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(math.log(3) / se), rel=1e-6)


def test_many_groups_at_once_equal_each_group_alone():
    """Two groups in one call give the hand values of each group alone: group 0 is the sandwich example above
    (SE 1.163687), group 1 the Poisson example's totals (20 events in 100 months before, 10 in 125 after) with
    model-based SE sqrt(1/20 + 1/10) = 0.387298."""
    pre = np.r_[[2, 0, 4], [2] * 10]
    post = np.r_[[1, 1, 0], [1] * 10]
    e_pre, e_post = np.r_[[12] * 3, [10] * 10], np.r_[[12] * 3, [12.5] * 10]
    group = np.r_[[0] * 3, [1] * 10]
    poisson = rate_ratios(pre, post, e_pre, e_post, group, 2, model="poisson")
    assert poisson["rate_ratio"] == pytest.approx([1 / 3, 0.4])
    assert poisson["ci_low"][1] == pytest.approx(0.187237, abs=1e-6)
    robust = rate_ratios(pre, post, e_pre, e_post, group, 2, model="poisson_robust")
    assert robust["ci_high"][0] == pytest.approx(math.exp(math.log(1 / 3) + Z975 * 1.163687), rel=1e-6)
    assert list(robust["note"]) == ["", ""]


def test_negative_binomial_rate_ratio_matches_independent_fit():
    """NB2 with a binary period term and equal exposures: the MLE group means are the sample means, the
    dispersion alpha maximises sum log NB(y; mean, alpha) (fitted here with scipy.stats.nbinom), and
    Var(log mean_g) = (1 + alpha m_g) / (n_g m_g) (Hilbe, Negative Binomial Regression, 2011, sec. 8.2).
    """
    pre = np.array([0, 1, 5, 0, 2, 8, 0, 1, 3, 0])
    post = np.array([0, 0, 2, 1, 0, 3, 0, 0, 1, 1])
    r = rate_ratio(pre, post, [12] * 10, [12] * 10, model="negative_binomial")
    m0, m1 = pre.mean(), post.mean()  # 2.0 and 0.8
    y, mu = np.concatenate([pre, post]), np.repeat([m0, m1], 10)

    def minus_loglik(log_alpha):
        a = math.exp(log_alpha)
        return -stats.nbinom.logpmf(y, 1 / a, 1 / (1 + a * mu)).sum()

    alpha = math.exp(optimize.minimize_scalar(minus_loglik, bounds=(-10, 5), method="bounded",
                                              options={"xatol": 1e-10}).x)
    # statsmodels' NB fit stops at BFGS gtol 1e-5 on the mean log-likelihood of 20 rows: |score| up to 2e-4,
    # curvature >= 2, so alpha is good to ~1e-4 (4e-5 here); the reference (xatol 1e-10) is far tighter.
    # A wrong variance function (NB1, moments) is off by over 10%.
    assert r.dispersion == pytest.approx(alpha, rel=5e-4)
    assert r.rate_ratio == pytest.approx(m1 / m0)  # the group means are the MLE: exact up to rounding
    se = math.sqrt((1 + alpha * m0) / (10 * m0) + (1 + alpha * m1) / (10 * m1))
    # that alpha error moves the CI by ~0.3 x 1e-4 relative (1.4e-5 here); the CI is reported to 2 decimals
    assert r.ci_high == pytest.approx(0.4 * math.exp(Z975 * se), rel=1e-4)
    assert r.ci_low == pytest.approx(0.4 * math.exp(-Z975 * se), rel=1e-4)


def test_no_events_in_a_window_gives_no_interval():
    """No events before: no ratio; none after: a ratio of 0 with no interval. Either way the note says why."""
    for model in ("poisson_robust", "poisson", "negative_binomial"):
        r = rate_ratio([0, 0], [1, 2], [12, 12], [12, 12], model=model)
        assert np.isnan(r.rate_ratio) and np.isnan(r.ci_low) and r.note == NOTE_NO_EVENTS
        r = rate_ratio([1, 2], [0, 0], [12, 12], [12, 12], model=model)
        assert r.rate_ratio == 0 and np.isnan(r.ci_high) and np.isnan(r.p_value)


def test_no_time_in_a_window_gives_no_ratio():
    for model in ("poisson_robust", "negative_binomial"):
        r = rate_ratio([1, 2], [0, 0], [12, 12], [0, 0], model=model)
        assert np.isnan(r.rate_ratio) and r.note == NOTE_NO_TIME


def test_unknown_model_is_refused():
    with pytest.raises(ParamsError, match="poisson_robust, poisson, negative_binomial; got 'quasi'"):
        rate_ratio([1], [1], [12], [12], model="quasi")
    with pytest.raises(ValueError, match="poisson or poisson_robust"):
        rate_ratios([1], [1], [12], [12], [0], 1, model="negative_binomial")


def test_rate_ratios_of_many_groups_equal_a_glm_per_group():
    """The closed form for every group at once equals statsmodels' Poisson GLM fitted per group, with SEs clustered
    by patient and model-based. The GLM stops when its deviance changes by less than tol (1e-14 here, below the
    deviance's own rounding of ~1e-13), which pins the coefficient only to about sqrt(1e-13 / information),
    ~1e-7: how close the last iterate lands depends on the machine's arithmetic (4e-10 seen on one, 3e-15 on
    another). A rate ratio is reported to 2 decimals."""
    rng = np.random.default_rng(11)
    n, k = 600, 7
    group = rng.integers(0, k, n)
    pre, post = rng.poisson(rng.uniform(0.1, 2, n)), rng.poisson(rng.uniform(0.1, 1.5, n))
    e_pre, e_post = np.full(n, 12.0), rng.uniform(0, 12, n)
    e_post[rng.random(n) < 0.1] = 0
    post[e_post == 0] = 0
    for model in ("poisson_robust", "poisson"):
        ours = rate_ratios(pre, post, e_pre, e_post, group, k, model=model)
        for g in range(k):
            rows = group == g
            m = int(rows.sum())
            y, exposure = np.r_[pre[rows], post[rows]], np.r_[e_pre[rows], e_post[rows]]
            period, patient = np.r_[np.zeros(m), np.ones(m)], np.r_[np.arange(m), np.arange(m)]
            keep = exposure > 0
            glm = sm.GLM(y[keep], sm.add_constant(period[keep]), family=sm.families.Poisson(), exposure=exposure[keep])
            fit = (glm.fit(cov_type="cluster", cov_kwds={"groups": patient[keep]}, tol=1e-14, maxiter=100)
                   if model == "poisson_robust" else glm.fit(tol=1e-14, maxiter=100))
            # IRLS stopped on the deviance: coefficients to ~1e-7 (docstring)
            assert ours["rate_ratio"][g] == pytest.approx(np.exp(fit.params[1]), rel=1e-7)
            assert ours["ci_low"][g] == pytest.approx(np.exp(fit.conf_int()[1][0]), rel=1e-7)
            # p moves by about |z| x (coefficient error / SE), |z| < 5 here: up to ~5e-6 relative
            assert ours["p_value"][g] == pytest.approx(fit.pvalues[1], rel=1e-5)
