"""Random-effects meta-analysis and log risk ratios.

References: metafor's README and ``rma.uni`` output for the BCG vaccine trials (Colditz et al. 1994,
``dat.bcg``); metafor's and metRology's DerSimonian-Laird output for the CCQM-K25 PCB 28 interlaboratory data;
statsmodels' ``combine_effects`` (its own DerSimonian-Laird, checked by its authors against metafor); and hand
arithmetic written out in the docstrings.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from statsmodels.stats.meta_analysis import combine_effects

from evaluation.stats import meta_analysis
from evaluation.stats.meta_analysis import log_risk_ratios, random_effects

# dat.bcg: TB cases (pos) and non-cases (neg) among vaccinated (t) and control (c) participants of 13 trials
BCG = np.array([
    [4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619], [33, 5036, 47, 5761],
    [180, 1361, 372, 1079], [8, 2537, 10, 619], [505, 87886, 499, 87892], [29, 7470, 45, 7232],
    [17, 1699, 65, 1600], [186, 50448, 141, 27197], [5, 2493, 3, 2338], [27, 16886, 29, 17825],
])
# escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg), as metafor's README prints it
BCG_YI = [-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120, -0.4694, -1.3713, -0.3394, 0.4459,
          -0.0173]
BCG_VI = [0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564, 0.0730, 0.0124, 0.5325, 0.0714]
T_975_11 = 2.200985  # t(0.975, 11 df), printed t tables


def bcg_effects() -> tuple[np.ndarray, np.ndarray]:
    tpos, tneg, cpos, cneg = BCG.T
    return log_risk_ratios(tpos, tpos + tneg, cpos, cpos + cneg)


def test_log_risk_ratios_match_escalc_on_the_bcg_trials():
    """metafor README: escalc(measure = "RR", ...) on dat.bcg, yi and vi printed to 4 decimals."""
    yi, vi = bcg_effects()
    assert yi == pytest.approx(BCG_YI, abs=5e-5)
    assert vi == pytest.approx(BCG_VI, abs=5e-5)


def test_log_risk_ratios_add_a_half_to_a_table_with_a_zero_cell():
    """escalc's default add = 1/2, to = "only0": trial 1 has 0 of 10 treated with an event, so its cells become
    a = 0.5, b = 10.5, c = 3.5, d = 9.5 (n1 = 11, n2 = 13): yi = log(0.0454545 / 0.2692308) = log(0.168831) = -1.778856,
    vi = 1/0.5 - 1/11 + 1/3.5 - 1/13 = 2.117882. Trial 2 (all 5 treated had the event) is corrected too:
    a = 5.5, n1 = 6, c = 2.5, n2 = 9. Trial 3 has no zero cell: log((2/8) / (4/8)) = log(0.5), vi = 1/2 - 1/8 + 1/4 - 1/8."""
    yi, vi = log_risk_ratios([0, 5, 2], [10, 5, 8], [3, 2, 4], [12, 8, 8])
    assert yi[0] == pytest.approx(math.log((0.5 / 11) / (3.5 / 13)))
    assert yi[0] == pytest.approx(-1.778856, abs=1e-6)
    assert vi[0] == pytest.approx(2.117882, abs=1e-6)
    assert yi[1] == pytest.approx(math.log((5.5 / 6) / (2.5 / 9)))
    assert vi[1] == pytest.approx(1 / 5.5 - 1 / 6 + 1 / 2.5 - 1 / 9)
    assert (yi[2], vi[2]) == pytest.approx((math.log(0.5), 0.5))


def test_reml_reproduces_metafor_on_the_bcg_trials():
    """metafor: rma(yi, vi, data = dat) (REML, z test) on the escalc "RR" BCG data prints
    tau^2 = 0.3132, tau = 0.5597, I^2 = 92.22%, H^2 = 12.86, Q(df = 12) = 152.2330, p < .0001;
    estimate -0.7145, se 0.1798, zval -3.9744, pval < .0001, ci.lb -1.0669, ci.ub -0.3622.
    (The README's own fit adds test = "knha", which changes only the SE and CI: 0.1808, -1.1084 to -0.3206.)
    Prediction interval, ours with t(11): -0.7145 -/+ 2.200985 sqrt(0.3132 + 0.1798^2) = (-2.0083, 0.5793)."""
    yi, vi = bcg_effects()
    r = random_effects(yi, vi)
    assert r.method == "REML" and r.k == 13 and r.q_df == 12
    assert r.tau2 == pytest.approx(0.3132, abs=5e-5)
    assert r.tau == pytest.approx(0.5597, abs=5e-5)
    assert r.i2 == pytest.approx(92.22, abs=5e-3)
    assert r.h2 == pytest.approx(12.86, abs=5e-3)
    assert r.q == pytest.approx(152.2330, abs=5e-5)
    assert r.q_p_value < 1e-4
    assert r.estimate == pytest.approx(-0.7145, abs=5e-5)
    assert r.se == pytest.approx(0.1798, abs=5e-5)
    assert r.z == pytest.approx(-3.9744, abs=5e-5)
    assert r.p_value < 1e-4
    assert (r.ci_low, r.ci_high) == pytest.approx((-1.0669, -0.3622), abs=5e-5)
    half = T_975_11 * math.sqrt(0.3132 + 0.1798 ** 2)
    assert (r.pred_low, r.pred_high) == pytest.approx((-0.7145 - half, -0.7145 + half), abs=2e-4)


def test_reml_maximises_the_restricted_likelihood():
    """Independent of Fisher scoring: minus twice the REML log-likelihood of the intercept-only model,
    sum log(v + t) + log(sum w) + sum w (y - mu_w)^2 with w = 1 / (v + t) (constants dropped), minimised
    over t >= 0 by Brent's bounded search, is at the same tau^2 (BCG trials)."""
    yi, vi = bcg_effects()

    def minus_two_reml(t: float) -> float:
        w = 1 / (vi + t)
        mu = np.sum(w * yi) / np.sum(w)
        return np.sum(np.log(vi + t)) + np.log(np.sum(w)) + np.sum(w * (yi - mu) ** 2)

    best = optimize.minimize_scalar(minus_two_reml, bounds=(0, 5), method="bounded", options={"xatol": 1e-10})
    assert random_effects(yi, vi).tau2 == pytest.approx(best.x, abs=1e-7)


def test_reml_with_equal_variances_is_the_sample_variance_minus_v():
    """With equal sampling variances v the REML estimate is max(0, var(y) - v) in closed form.
    y = 1, 2, 4: mean 7/3, var = (16/9 + 1/9 + 25/9) / 2 = 7/3; v = 1/2 -> tau^2 = 7/3 - 1/2 = 11/6;
    then each weight is 1 / (1/2 + 11/6) = 3/7, the estimate is the plain mean 7/3 and SE = sqrt(7/9)."""
    r = random_effects([1, 2, 4], [0.5, 0.5, 0.5])
    assert r.tau2 == pytest.approx(11 / 6, abs=1e-9)
    assert r.estimate == pytest.approx(7 / 3)
    assert r.se == pytest.approx(math.sqrt(7 / 9), abs=1e-9)


def test_dl_matches_statsmodels_and_metafor_on_the_bcg_trials():
    """statsmodels combine_effects(yi, vi, method_re="chi2") is DerSimonian-Laird; metafor rma(yi, vi,
    method = "DL") prints tau^2 = 0.3088, estimate -0.7141, se 0.1787; I^2 = (Q - df) / Q
    = (152.2330 - 12) / 152.2330 = 92.12%."""
    yi, vi = bcg_effects()
    r = random_effects(yi, vi, method="DL")
    sm = combine_effects(yi, vi, method_re="chi2")
    assert r.estimate == pytest.approx(sm.mean_effect_re, rel=1e-12)
    assert r.se == pytest.approx(sm.sd_eff_w_re, rel=1e-12)
    assert r.tau2 == pytest.approx(sm.tau2, rel=1e-12)
    assert r.q == pytest.approx(sm.q, rel=1e-12)
    assert r.i2 == pytest.approx(100 * sm.i2, rel=1e-12)
    assert r.tau2 == pytest.approx(0.3088, abs=5e-5)
    assert r.estimate == pytest.approx(-0.7141, abs=5e-5)
    assert r.se == pytest.approx(0.1787, abs=5e-5)
    assert r.i2 == pytest.approx(100 * (152.2330 - 12) / 152.2330, abs=1e-4)


def test_dl_reproduces_metafor_on_the_ccqm_k25_pcb28_data():
    """PCB 28 mass fractions from six laboratories (key comparison CCQM-K25), x and standard uncertainty u:
    metafor rma(yi = x, sei = u, method = "DL"): tau^2 = 2.9289, tau = 1.7114, I^2 = 92.67%, H^2 = 13.64,
    Q(df = 5) = 68.2154 (p = 2.4092e-13), estimate 33.6004, se 0.7450, ci 32.1403 to 35.0606;
    metRology's dsl() gives 33.60043, u = 0.7449979."""
    x = [34.3, 32.9, 34.53, 32.42, 31.9, 35.8]
    u = np.array([1.03, 0.69, 0.83, 0.29, 0.4, 0.38])
    r = random_effects(x, u ** 2, method="DL", labels=["IRMM", "KRISS", "NARL", "NIST", "NMIJ", "NRC"])
    assert r.tau2 == pytest.approx(2.9289, abs=5e-5)
    assert r.tau == pytest.approx(1.7114, abs=5e-5)
    assert r.i2 == pytest.approx(92.67, abs=5e-3)
    assert r.h2 == pytest.approx(13.64, abs=5e-3)
    assert r.q == pytest.approx(68.2154, abs=5e-5)
    assert r.q_p_value == pytest.approx(2.4092e-13, rel=5e-5)
    assert r.estimate == pytest.approx(33.60043, abs=5e-6)
    assert r.se == pytest.approx(0.7449979, abs=5e-8)
    assert (r.ci_low, r.ci_high) == pytest.approx((32.1403, 35.0606), abs=5e-5)
    assert r.study_table()["label"].tolist() == ["IRMM", "KRISS", "NARL", "NIST", "NMIJ", "NRC"]


def test_dl_against_hand_arithmetic_on_three_studies():
    """y = 1, 2, 4 with v = 1/2, 1, 1. Fixed-effect weights w = 2, 1, 1 (sum 4): mean (2 + 2 + 4) / 4 = 2;
    Q = 2 (1 - 2)^2 + 1 (2 - 2)^2 + 1 (4 - 2)^2 = 6 on 2 df, p = exp(-6/2) = exp(-3) (chi-square with 2 df);
    C = 4 - (4 + 1 + 1) / 4 = 2.5; tau^2 = (6 - 2) / 2.5 = 1.6.
    Random-effects weights 1 / (v + 1.6) = 10/21, 5/13, 5/13, sum 340/273; estimate
    (10/21 + 2 * 5/13 + 4 * 5/13) / (340/273) = (760/273) / (340/273) = 38/17; SE = sqrt(273/340);
    weights in percent 100 * (13/34, 21/68, 21/68).
    I^2 = (Q - df) / Q = 4/6; H^2 = Q / df = 3.
    Prediction interval with t(1 df): its quantile is tan(pi (p - 1/2)) (t with 1 df is Cauchy), so
    38/17 -/+ tan(0.475 pi) sqrt(1.6 + 273/340)."""
    y = np.array([1.0, 2.0, 4.0])
    v = np.array([0.5, 1.0, 1.0])
    r = random_effects(y, v, method="DL", labels=["a", "b", "c"])
    w = 1 / v
    mean_fixed = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mean_fixed) ** 2)
    assert (mean_fixed, q) == pytest.approx((2.0, 6.0))
    tau2 = (q - 2) / (np.sum(w) - np.sum(w ** 2) / np.sum(w))
    assert tau2 == pytest.approx(1.6)
    assert r.q == pytest.approx(6.0) and r.q_df == 2
    assert r.q_p_value == pytest.approx(math.exp(-3))
    assert r.tau2 == pytest.approx(1.6) and r.tau == pytest.approx(math.sqrt(1.6))
    assert r.weights == pytest.approx((100 * 13 / 34, 100 * 21 / 68, 100 * 21 / 68))
    assert r.estimate == pytest.approx(38 / 17)
    se = math.sqrt(273 / 340)
    assert r.se == pytest.approx(se)
    z975 = 1.959963985  # normal 97.5% quantile
    assert (r.ci_low, r.ci_high) == pytest.approx((38 / 17 - z975 * se, 38 / 17 + z975 * se), abs=1e-8)
    assert r.z == pytest.approx(38 / 17 / se)
    assert r.p_value == pytest.approx(math.erfc(38 / 17 / se / math.sqrt(2)))
    assert r.i2 == pytest.approx(100 * 4 / 6) and r.h2 == pytest.approx(3.0)
    half = math.tan(0.475 * math.pi) * math.sqrt(1.6 + 273 / 340)
    assert (r.pred_low, r.pred_high) == pytest.approx((38 / 17 - half, 38 / 17 + half))
    studies = r.study_table()
    assert studies.columns.tolist() == ["label", "effect", "se", "ci_low", "ci_high", "weight_percent"]
    assert studies["label"].tolist() == ["a", "b", "c"]
    assert studies["se"].tolist() == pytest.approx([math.sqrt(0.5), 1.0, 1.0])
    assert studies["ci_low"].tolist() == pytest.approx([1 - z975 * math.sqrt(0.5), 2 - z975, 4 - z975], abs=1e-8)
    assert studies["weight_percent"].sum() == pytest.approx(100)


def test_table_is_one_row_with_the_agreed_columns():
    r = random_effects([1, 2, 4], [0.5, 1, 1], method="DL")
    table = r.table()
    assert table.columns.tolist() == ["method", "k", "estimate", "se", "ci_low", "ci_high", "p_value", "tau2", "i2",
                                      "q", "q_df", "q_p_value", "pred_low", "pred_high"]
    assert len(table) == 1 and table.loc[0, "method"] == "DL" and table.loc[0, "k"] == 3
    assert table.loc[0, "estimate"] == pytest.approx(38 / 17)
    pd.testing.assert_frame_equal(r.summary, table)
    assert "estimate 2.2353" in repr(r)  # 38/17, printed to 4 decimals


def test_alpha_sets_the_confidence_level():
    """alpha = 0.10: CI = estimate -/+ 1.644854 SE (the normal 95% quantile); y = 1, 2, 4 with v = 1/2, 1, 1
    (DL): estimate 38/17, SE sqrt(273/340) as in the hand example."""
    r = random_effects([1, 2, 4], [0.5, 1, 1], method="DL", alpha=0.10)
    se = math.sqrt(273 / 340)
    assert (r.ci_low, r.ci_high) == pytest.approx((38 / 17 - 1.644854 * se, 38 / 17 + 1.644854 * se), abs=1e-6)
    assert r.alpha == 0.10


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_homogeneous_studies_have_no_heterogeneity(method):
    """Equal effects: Q = 0, so tau^2 = 0 by either method; I^2 = 0 and H^2 = 1; the estimate is the common
    effect, SE = sqrt(1 / sum(1 / v)) = sqrt(1 / (1 + 2 + 4)). Effects 0.1, 0.2, 0.15 with v = 1 vary less
    than sampling would make them (var 0.0025 < 1): tau^2 = 0 too."""
    r = random_effects([0.3, 0.3, 0.3], [1, 0.5, 0.25], method=method)
    assert (r.tau2, r.i2, r.h2, r.q) == pytest.approx((0.0, 0.0, 1.0, 0.0), abs=1e-12)
    assert r.estimate == pytest.approx(0.3) and r.se == pytest.approx(math.sqrt(1 / 7))
    assert r.q_p_value == pytest.approx(1.0)
    spread = random_effects([0.1, 0.2, 0.15], [1, 1, 1], method=method)
    assert spread.tau2 == 0 and spread.i2 == 0
    assert spread.estimate == pytest.approx(0.15) and spread.se == pytest.approx(math.sqrt(1 / 3))


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_one_and_two_studies(method):
    """k = 1: the estimate is the study (SE sqrt(v)), tau^2 = Q = 0 on 0 df, and I^2, H^2, Q's p and the
    prediction interval are NaN. k = 2: estimable, but no prediction interval (t with k - 2 = 0 df)."""
    one = random_effects([0.4], [0.04], method=method, labels=["only"])
    assert (one.k, one.estimate, one.se, one.tau2, one.q, one.q_df) == pytest.approx((1, 0.4, 0.2, 0.0, 0.0, 0))
    assert all(math.isnan(x) for x in (one.i2, one.h2, one.q_p_value, one.pred_low, one.pred_high))
    assert one.weights == (100.0,) and one.labels == ("only",)
    two = random_effects([0.0, 1.0], [0.1, 0.1], method=method)
    assert two.labels == ("1", "2") and two.weights == pytest.approx((50.0, 50.0))
    assert two.q == pytest.approx(5.0)  # 10 (0 - 0.5)^2 + 10 (1 - 0.5)^2
    assert math.isnan(two.pred_low) and math.isnan(two.pred_high)


@pytest.mark.parametrize("effects, variances, message", [
    ([], [], "no studies"),
    ([0.1, 0.2], [0.1], "effects has 2 values but variances has 1"),
    ([0.1, float("nan"), 0.2], [0.1, 0.1, 0.1], "effect at index 1"),
    ([0.1, 0.2, 0.3], [0.1, 0.1, float("nan")], "variance at index 2 is nan"),
    ([0.1, 0.2, 0.3], [0.1, -0.1, 0.1], "variance at index 1 is -0.1"),
    ([0.1, 0.2], [0.0, 0.1], "variance at index 0 is 0.0"),
    ([0.1, 0.2], [0.1, float("inf")], "variance at index 1 is inf"),
])
def test_bad_effects_or_variances_say_what_is_wrong(effects, variances, message):
    with pytest.raises(ValueError, match=message):
        random_effects(effects, variances)


def test_bad_options_say_what_is_wrong():
    with pytest.raises(ValueError, match="method must be one of REML, DL; got 'ML'"):
        random_effects([0.1, 0.2], [0.1, 0.1], method="ML")
    with pytest.raises(ValueError, match="alpha must be between 0 and 1; got 5"):
        random_effects([0.1, 0.2], [0.1, 0.1], alpha=5)
    with pytest.raises(ValueError, match="labels has 1 entries for 2 studies"):
        random_effects([0.1, 0.2], [0.1, 0.1], labels=["a"])


def test_reml_that_does_not_converge_says_so(monkeypatch):
    """On the BCG trials Fisher scoring needs more than one step from Hedges' start; allowed only one it stops."""
    monkeypatch.setattr(meta_analysis, "REML_MAX_ITER", 1)
    yi, vi = bcg_effects()
    with pytest.raises(ValueError, match="did not converge in 1 iterations"):
        random_effects(yi, vi)


def test_bad_counts_say_what_is_wrong():
    with pytest.raises(ValueError, match="treated counts at index 1 are 7 events of 5"):
        log_risk_ratios([1, 7], [5, 5], [1, 1], [5, 5])
    with pytest.raises(ValueError, match="control counts at index 0 are -1 events"):
        log_risk_ratios([1], [5], [-1], [5])
    with pytest.raises(ValueError, match="control counts at index 0 are 0 events of 0"):
        log_risk_ratios([1], [5], [0], [0])
    with pytest.raises(ValueError, match="differ in length"):
        log_risk_ratios([1, 2], [5, 5], [1], [5])
