"""Segmented regression (evaluation.stats.its) against the published worked example and hand computations."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.stats.its import fit_segmented, newey_west_lags, segmented_design

SICILY = pd.read_csv(Path(__file__).parent / "data" / "its" / "sicily.csv")


def sicily(**kw):
    d = SICILY
    return fit_segmented(d["aces"], d["stdpop"], d["time"], d["smokban"] == 1, model="quasipoisson",
                         month_of_year=d["month"], slope_change=False, **kw)


def test_sicily_smoking_ban_rate_ratio_as_lopez_bernal_2017():
    """The tutorial's model: quasi-Poisson, offset log(stdpop), level change only, time as the trend. Unadjusted
    RR 0.894 (0.839-0.953); adjusted for season with two harmonics RR 0.885 (0.839-0.933), to 3 decimals."""
    plain = sicily()
    assert (round(plain.level_change, 3), round(plain.level_ci_low, 3), round(plain.level_ci_high, 3)) == (0.894, 0.839, 0.953)
    seasonal = sicily(harmonics=2)
    assert (round(seasonal.level_change, 3), round(seasonal.level_ci_low, 3), round(seasonal.level_ci_high, 3)) == (0.885, 0.839, 0.933)
    assert seasonal.scale == "rate ratio" and (seasonal.n_pre, seasonal.n_post) == (36, 23)
    assert np.isnan(seasonal.slope_change_estimate) and np.isnan(seasonal.p_slope)  # the level-only model


def test_the_design_puts_the_level_change_at_the_first_point_after():
    x = segmented_design([0, 1, 2, 4, 5], [False, False, True, True, True], harmonics=1, month_of_year=[3, 4, 5, 7, 8])
    assert x["trend"].tolist() == [0, 0, 0, 2, 3] and x["level"].tolist() == [0, 0, 1, 1, 1]
    assert x["sin1"].iloc[0] == pytest.approx(np.sin(2 * np.pi * 3 / 12)) and x["cos1"].iloc[4] == pytest.approx(np.cos(2 * np.pi * 8 / 12))


def test_linear_model_recovers_exact_segments():
    """y = 20 + 1 t before; from t0 = 6 a jump of 5 points and a slope 2 more per month: exactly recovered."""
    t = np.arange(12.0)
    after = t >= 6
    y = 20 + t + np.where(after, 5 + 2 * (t - 6), 0)
    fit = fit_segmented(y, np.full(12, 100.0), t, after, model="linear", min_points=6)
    assert fit.level_change == pytest.approx(5) and fit.slope_change_estimate == pytest.approx(2)
    assert fit.counterfactual[-1] == pytest.approx(20 + 11) and fit.fitted[-1] == pytest.approx(20 + 11 + 5 + 10)
    assert fit.warnings == ()


def test_newey_west_standard_errors_by_hand():
    """OLS with HAC: bread (X'X)^-1, meat sum over lags l <= L of Bartlett weights (1 - l/(L+1)) on
    sum_t u_t u_{t-l} (x_t x_{t-l}' + x_{t-l} x_t'), written out with numpy."""
    rng = np.random.default_rng(4)
    t = np.arange(24.0)
    after = t >= 12
    y = 30 + 0.5 * t + np.where(after, 4 + 0.3 * (t - 12), 0) + rng.normal(0, 2, 24)
    fit = fit_segmented(y, np.full(24, 100.0), t, after, model="linear", autocorrelation="newey-west", hac_lags=2)
    x = segmented_design(t, after).to_numpy()
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    u = y - x @ beta
    meat = (x * u[:, None]).T @ (x * u[:, None])
    for lag in (1, 2):
        w = 1 - lag / 3
        g = (x[lag:] * u[lag:, None]).T @ (x[:-lag] * u[:-lag, None])
        meat += w * (g + g.T)
    bread = np.linalg.inv(x.T @ x)
    se = np.sqrt(np.diag(bread @ meat @ bread))
    assert fit.level_se == pytest.approx(se[2], rel=1e-6) and fit.slope_se == pytest.approx(se[3], rel=1e-6)
    assert fit.hac_lags == 2 and newey_west_lags(24) == 2  # floor(4 * 0.24^(2/9)) = floor(2.91)


def test_quasibinomial_dispersion_is_pearson_chi_square_over_df():
    rng = np.random.default_rng(9)
    t = np.arange(20.0)
    after = t >= 10
    den = np.full(20, 40.0)
    p = 1 / (1 + np.exp(-(-1 + 0.03 * t + np.where(after, 0.6, 0))))
    num = rng.binomial(40, p * rng.uniform(0.8, 1.2, 20).clip(0, 1 / p)).astype(float)
    quasi = fit_segmented(num, den, t, after, model="quasibinomial")
    plain = fit_segmented(num, den, t, after, model="binomial")
    phat = plain.fitted
    x2 = (((num - den * phat) ** 2) / (den * phat * (1 - phat))).sum() / (20 - 4)
    assert quasi.dispersion == pytest.approx(x2, rel=1e-6) and plain.dispersion == 1
    assert quasi.level_se == pytest.approx(plain.level_se * np.sqrt(x2), rel=1e-6)
    assert quasi.level_change == pytest.approx(plain.level_change) and quasi.scale == "odds ratio"


def test_durbin_watson_by_hand():
    t = np.arange(10.0)
    after = t >= 5
    y = 10 + t + np.where(after, 3, 0) + np.array([1, -1, 2, 0, -2, 1, 1, -1, 0, 0.5])
    fit = fit_segmented(y, np.full(10, 100.0), t, after, model="linear", min_points=5)
    x = segmented_design(t, after).to_numpy()
    u = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    assert fit.durbin_watson == pytest.approx(np.sum(np.diff(u) ** 2) / np.sum(u ** 2))


def test_ar1_errors_recover_the_known_changes_on_a_long_series():
    rng = np.random.default_rng(11)
    n = 400
    t = np.arange(float(n))
    after = t >= 200
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = 0.6 * e[i - 1] + rng.normal(0, 1)
    y = 40 + 0.02 * t + np.where(after, 6 + 0.01 * (t - 200), 0) + e
    fit = fit_segmented(y, np.full(n, 100.0), t, after, model="linear", autocorrelation="ar1")
    assert fit.ar1_rho == pytest.approx(0.6, abs=0.1)
    assert fit.level_ci_low < 6 < fit.level_ci_high and fit.slope_ci_low < 0.01 < fit.slope_ci_high
    with pytest.raises(ValueError, match="linear model"):
        fit_segmented(y, np.full(n, 100.0), t, after, model="quasibinomial", autocorrelation="ar1")


def test_short_and_one_sided_series_warn_and_do_not_fit():
    t = np.arange(6.0)
    fit = fit_segmented(np.full(6, 5.0), np.full(6, 10.0), t, t >= 3)
    assert any("fewer than 8 points before the intervention (3)" in w for w in fit.warnings)
    none_after = fit_segmented(np.full(6, 5.0), np.full(6, 10.0), t, np.zeros(6, bool))
    assert np.isnan(none_after.level_change) and any("no points after" in w for w in none_after.warnings)
