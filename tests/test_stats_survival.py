"""The survival estimators of evaluation/stats/survival.py against R's survival package and lifelines.

Reference values come from R's survival package on the `lung` data (bundled with lifelines, which recodes
R's status 1 = censored / 2 = dead to 0 / 1: 165 deaths of 228, as in R), from lifelines where the statistic is
the same, or from arithmetic shown beside the test.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_lung
from scipy import stats

from evaluation.stats import survival as survival_stats

Z = 1.959963984540054  # qnorm(0.975)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = load_lung()
    assert len(d) == 228 and int(d["status"].sum()) == 165  # lifelines codes 1 = dead, 0 = censored
    return d


# --- Kaplan-Meier ---------------------------------------------------------------------------------------

def test_km_median_and_ci_match_r_log_log(lung):
    """R: survfit(Surv(time, status) ~ 1, data = lung, conf.type = "log-log") -> median 310, 95% CI 284 to 361."""
    km = survival_stats.KaplanMeier("log-log").fit(lung["time"], lung["status"])
    assert km.median_ == 310
    assert km.median_ci_ == (284, 361)
    assert km.summary["median_text"].iat[0] == "310 days (95% CI 284 to 361; log-log)"


def test_km_median_and_ci_match_r_log(lung):
    """R: survfit(Surv(time, status) ~ 1, data = lung) (default conf.type = "log") -> median 310, 95% CI 285 to 363."""
    km = survival_stats.KaplanMeier("log").fit(lung["time"], lung["status"])
    assert km.median_ == 310
    assert km.median_ci_ == (285, 363)


def test_km_log_log_band_matches_lifelines(lung):
    """Our log-log (exponential Greenwood) band equals lifelines' own KaplanMeierFitter CI at every time."""
    from lifelines import KaplanMeierFitter

    ours = survival_stats.KaplanMeier("log-log").fit(lung["time"], lung["status"]).table_.set_index("time")
    theirs = KaplanMeierFitter().fit(lung["time"], lung["status"])
    ci = theirs.confidence_interval_.loc[ours.index]
    # closed form in both (products and Greenwood sums): they differ by rounding only, ~1e-15 here
    assert np.allclose(ours["survival"], theirs.survival_function_.loc[ours.index].iloc[:, 0], rtol=0, atol=1e-12)
    assert np.allclose(ours["ci_low"], ci.iloc[:, 0], rtol=0, atol=1e-12)
    assert np.allclose(ours["ci_high"], ci.iloc[:, 1], rtol=0, atol=1e-12)


def test_km_log_ci_by_hand():
    """Times 1 (event), 2 (censored), 3 (event), 4 (censored).

    t=1: n=4, d=1 -> S = 3/4, Greenwood sum = 1/(4*3) = 1/12.
    t=3: n=2, d=1 -> S = 3/4 * 1/2 = 0.375, sum = 1/12 + 1/(2*1) = 7/12.
    log CI at t=3: 0.375 * exp(-z * sqrt(7/12)) = 0.08393, upper 0.375 * exp(+z * sqrt(7/12)) = 1.675 -> capped at 1.
    """
    km = survival_stats.KaplanMeier("log").fit([1, 2, 3, 4], [1, 0, 1, 0])
    row = km.table_.set_index("time").loc[3]
    assert row["survival"] == pytest.approx(0.375)
    assert row["ci_low"] == pytest.approx(0.375 * math.exp(-Z * math.sqrt(7 / 12)))
    assert row["ci_low"] == pytest.approx(0.08393, abs=5e-6)  # printed to 5 decimals
    assert row["ci_high"] == 1.0
    assert list(km.table_["at_risk"]) == [4, 3, 2, 1]


def test_km_median_midpoint_rule_of_r():
    """R: survfit(Surv(1:4, rep(1, 4)) ~ 1) prints median 2.5: S is exactly 0.5 on [2, 3), R takes the midpoint."""
    km = survival_stats.KaplanMeier().fit([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.median_ == 2.5


def test_km_at_horizons_and_beyond_follow_up():
    """Times 10 (event), 20 (event), 30 (censored), 40 (event): S(15) = 3/4, S(25) = 3/4 * 2/3 = 1/2;
    S at 100 is 0 (the curve ended at 0 at t=40). With the last time censored, a later horizon is NaN."""
    km = survival_stats.KaplanMeier().fit([10, 20, 30, 40], [1, 1, 0, 1])
    at = km.at([0, 15, 25, 100])
    assert list(at["survival"]) == pytest.approx([1.0, 0.75, 0.5, 0.0])
    assert list(at["at_risk"]) == [4, 3, 2, 0]
    assert list(at["events"]) == [0, 1, 2, 3]
    censored_last = survival_stats.KaplanMeier().fit([10, 20], [1, 0])
    assert np.isnan(censored_last.at([365])["survival"].iat[0])


def test_km_event_on_day_zero_is_kept():
    """A same-day event (e.g. an MTP resolved the day it was found): 3 patients, one event at 0 -> S(0) = 2/3."""
    km = survival_stats.KaplanMeier().fit([0, 5, 9], [1, 0, 1])
    assert km.table_["time"].iat[0] == 0
    assert km.at([0])["survival"].iat[0] == pytest.approx(2 / 3)


def test_km_everybody_censored_reports_not_reached():
    km = survival_stats.KaplanMeier().fit([30, 60, 90], [0, 0, 0])
    assert np.isnan(km.median_)
    text = km.summary["median_text"].iat[0]
    assert text == "not reached (95% CI not reached to not reached; log-log)"
    assert "nan" not in text.lower()
    assert km.at([45])["survival"].iat[0] == 1.0


def test_km_single_patient():
    """One patient reaching goal on day 30: S drops to 0, median 30, the CI at S = 0 is undefined (R gives NA)."""
    km = survival_stats.KaplanMeier("log").fit([30], [1])
    assert km.median_ == 30
    assert km.summary["median_text"].iat[0] == "30 days (95% CI not estimable to not reached; log)"
    one_censored = survival_stats.KaplanMeier().fit([30], [0])
    assert np.isnan(one_censored.median_) and one_censored.events_ == 0


def test_km_rejects_bad_input():
    with pytest.raises(ValueError, match="ci_method must be one of log-log, log; got 'plain'"):
        survival_stats.KaplanMeier("plain")
    with pytest.raises(ValueError, match="non-negative"):
        survival_stats.KaplanMeier().fit([-1, 3], [1, 1])


def test_km_median_text_and_day_numbers():
    """A median between two days keeps its half day; a whole one prints without decimals."""
    assert survival_stats.format_day_number(310.0) == "310" and survival_stats.format_day_number(2.5) == "2.5"
    assert survival_stats.median_text(2.5, 1, float("nan"), "log", alpha=0.1) == "2.5 days (90% CI 1 to not reached; log)"
    assert survival_stats.KaplanMeier().fit([], []).median_text == survival_stats.NONE_FOLLOWED


# --- log-rank -------------------------------------------------------------------------------------------

def test_logrank_by_sex_matches_r(lung):
    """R: survdiff(Surv(time, status) ~ sex, data = lung) -> Chisq = 10.3267 on 1 df, p = 0.00131."""
    stat, df, p = survival_stats.logrank_test(lung["time"], lung["sex"], lung["status"])
    assert stat == pytest.approx(10.3267, abs=5e-5)  # survdiff's $chisq to 6 significant digits
    assert df == 1
    assert p == pytest.approx(0.001311, abs=5e-7)  # 4 significant digits


def test_logrank_test_matches_lifelines_including_empty_groups():
    """lifelines' multivariate_logrank_test is the reference (R survdiff's statistic), on random data with ties,
    a group censored at day 0 (nobody at risk at any event time: a zero row, handled as the pseudo-inverse does)
    and up to 12 groups."""
    from lifelines.statistics import multivariate_logrank_test

    rng = np.random.default_rng(2015)
    for trial in range(25):
        n, k = int(rng.integers(8, 300)), int(rng.integers(2, 12))
        days = rng.integers(0, 60, n).astype(float)
        event = rng.random(n) < 0.6
        group = rng.integers(0, k, n)
        if trial % 5 == 0:
            days[group == 0], event[group == 0] = 0.0, False
        if not event.any():
            continue
        ref = multivariate_logrank_test(days, group, event)
        stat, df, p = survival_stats.logrank_test(days, group, event)
        # closed form in both, by Cholesky here and a pseudo-inverse there: rounding times the covariance's
        # condition number, far below 1e-8
        assert stat == pytest.approx(ref.test_statistic, rel=1e-8)
        assert df == ref.degrees_of_freedom
        assert p == pytest.approx(ref.p_value, rel=1e-6, abs=1e-12)  # a tiny p magnifies the statistic's rounding


# --- Aalen-Johansen -------------------------------------------------------------------------------------

def test_aalen_johansen_with_day_zero_event():
    """Times [0, 2, 3, 4, 5, 6], causes [1, 0, 1, 2, 0, 0].

    t=0: n=6, one cause-1 event: CIF1 = 1/6, S = 5/6.   t=3: n=4, cause 1: CIF1 += 5/6 * 1/4 -> 0.375, S = 5/8.
    t=4: n=3, cause 2: CIF2 = 5/8 * 1/3 = 0.2083.       So CIF1(6) = 0.375 (lifelines 0.30 gives 0.208).
    """
    aj = survival_stats.AalenJohansen().fit([0, 2, 3, 4, 5, 6], [1, 0, 1, 2, 0, 0])
    assert aj.cumulative_incidence(1, [0, 6]) == pytest.approx([1 / 6, 0.375])
    assert aj.cumulative_incidence(2, [6])[0] == pytest.approx(5 / 24)
    assert aj.table_["event_free"].iat[-1] == pytest.approx(5 / 12)


def test_aalen_johansen_ties_are_exact():
    """Times [1, 1, 2], causes [1, 2, 1]: at t=1, n=3 -> CIF1 = CIF2 = 1/3, S = 1/3; at t=2, CIF1 = 1/3 + 1/3.
    Same answer every run (no jitter)."""
    for _ in range(3):
        aj = survival_stats.AalenJohansen().fit([1, 1, 2], [1, 2, 1])
        assert aj.cumulative_incidence(1, [1, 2]) == pytest.approx([1 / 3, 2 / 3])
        assert aj.cumulative_incidence(2, [2])[0] == pytest.approx(1 / 3)


def test_aalen_johansen_single_cause_equals_one_minus_km(lung):
    """With one cause the Aalen-Johansen estimator reduces to 1 - Kaplan-Meier (checked on lung)."""
    aj = survival_stats.AalenJohansen().fit(lung["time"], lung["status"])
    km = survival_stats.KaplanMeier().fit(lung["time"], lung["status"])
    t = km.table_["time"].to_numpy()
    # two closed forms (a sum and 1 - a product): rounding only, ~1e-15 here
    assert np.allclose(aj.cumulative_incidence(1, t), 1 - km.table_["survival"].to_numpy(), rtol=0, atol=1e-12)


def test_aalen_johansen_everybody_censored():
    aj = survival_stats.AalenJohansen().fit([3, 5], [0, 0])
    assert aj.causes_ == [] and list(aj.cumulative_incidence(1, [10])) == [0.0]


def test_aalen_johansen_of_nobody_is_not_estimable():
    """Fitted on no one, the cumulative incidence is NaN (0 would say that 0% reached goal)."""
    aj = survival_stats.AalenJohansen().fit([], [])
    assert np.isnan(aj.cumulative_incidence(1, [0, 365])).all()
    assert np.isnan(aj.cumulative_incidence(2, [365])).all()


# --- proportional hazards -------------------------------------------------------------------------------

# R survival's own check of cox.zph (tests/zph.R): the data of test1 (the row with a missing status dropped), whose
# Cox MLE and score test have closed forms
ZPH_TIME = [9, 1, 1, 6, 6, 8]
ZPH_STATUS = [1, 1, 0, 1, 1, 0]
ZPH_X = pd.DataFrame({"x": [0, 1, 1, 1, 0, 0]})


def _zph_by_hand(r: float, u: list[float], imat: list[float], g: np.ndarray) -> float:
    """R's sctest: with U and imat the score and information at each death time (1, 6, 6, 9), the score test of
    x·g(t) is solve(i2, u2) %*% u2, u2 = (sum U, sum g U), i2 = [[sum I, sum g I], [sum g I, sum g² I]]."""
    u, imat = np.array(u), np.array(imat)
    u2 = np.array([u.sum(), (g * u).sum()])
    i2 = np.array([[imat.sum(), (g * imat).sum()], [(g * imat).sum(), (g ** 2 * imat).sum()]])
    return float(np.linalg.solve(i2, u2) @ u2)


def test_cox_zph_is_rs_score_test_breslow_identity():
    """Breslow ties: the MLE of beta is log r, r = (3 + sqrt(33)) / 2; U = (1/(r+1), 3/(r+3), -r/(r+3), 0) and
    I = (r/(r+1)², 3r/(r+3)², 3r/(r+3)², 0) at the deaths 1, 6, 6, 9; transform identity (g = t)."""
    r = (3 + np.sqrt(33)) / 2
    expected = _zph_by_hand(r, [1 / (r + 1), 3 / (r + 3), -r / (r + 3), 0],
                            [r / (r + 1) ** 2, 3 * r / (r + 3) ** 2, 3 * r / (r + 3) ** 2, 0], np.array([1, 6, 6, 9.0]))
    got = survival_stats.cox_zph(ZPH_TIME, ZPH_STATUS, ZPH_X, [np.log(r)], transform="identity", ties="breslow")
    assert got.loc["x", "chisq"] == pytest.approx(expected, rel=1e-10)
    assert got.loc["x", "df"] == 1 and got.loc["GLOBAL", "chisq"] == pytest.approx(expected, rel=1e-10)
    assert got.loc["x", "p"] == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-10)


def test_cox_zph_is_rs_score_test_efron_log():
    """Efron ties: phi = acos((45/23) sqrt(3/23)), r = 2 sqrt(23/3) cos(phi/3); U = (1/(r+1), 3/(r+3),
    -r/(r+5), 0), I = (r/(r+1)², 3r/(r+3)², 5r/(r+5)², 0); transform log, g = log t centred."""
    phi = np.arccos((45 / 23) * np.sqrt(3 / 23))
    r = 2 * np.sqrt(23 / 3) * np.cos(phi / 3)
    g = np.log([1, 6, 6, 9.0])
    expected = _zph_by_hand(r, [1 / (r + 1), 3 / (r + 3), -r / (r + 5), 0],
                            [r / (r + 1) ** 2, 3 * r / (r + 3) ** 2, 5 * r / (r + 5) ** 2, 0], g - g.mean())
    got = survival_stats.cox_zph(ZPH_TIME, ZPH_STATUS, ZPH_X, [np.log(r)], transform="log")
    assert got.loc["x", "chisq"] == pytest.approx(expected, rel=1e-10)
    # lifelines' Efron fit finds the same MLE, log r, to its convergence tolerance
    fit = CoxPHFitter().fit(pd.DataFrame({"t": ZPH_TIME, "e": ZPH_STATUS, "x": ZPH_X["x"]}), "t", "e")
    assert fit.params_["x"] == pytest.approx(np.log(r), abs=1e-5)


def test_cox_zph_km_transform_and_terms():
    """The km transform is 1 - S(t-) of everyone's Kaplan-Meier. test1 by hand: 1 death of 6 at risk at day 1
    (S = 5/6), 2 of 4 at day 6 (S = 5/12), none of 2 at day 8, so S(1-) = 1, S(6-) = 5/6, S(8-) = S(9-) = 5/12.
    A two-column term gets df 2 and equals the global test when it is the whole model."""
    g = survival_stats._time_transform(np.array(ZPH_TIME, float), np.array(ZPH_STATUS, bool), "km")
    assert g.tolist() == pytest.approx([7 / 12, 0, 0, 1 / 6, 1 / 6, 7 / 12])
    x2 = ZPH_X.assign(z=[1, 0, 1, 0, 1, 1])
    got = survival_stats.cox_zph(ZPH_TIME, ZPH_STATUS, x2, [0.3, -0.2], terms={"both": ["x", "z"]})
    assert got.loc["both", "df"] == 2 and got.loc["both", "chisq"] == pytest.approx(got.loc["GLOBAL", "chisq"])


# --- bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("estimator, outcome", [(survival_stats.KaplanMeier, "events"), (survival_stats.AalenJohansen, "causes")])
def test_estimators_refuse_bad_durations(estimator, outcome):
    with pytest.raises(ValueError, match=f"durations and {outcome} must have the same length; got 2 and 3"):
        estimator().fit([1, 2], [1, 0, 1])
    for bad in ([1, -2], [1, np.nan]):
        with pytest.raises(ValueError, match="durations must be non-negative numbers"):
            estimator().fit(bad, [1, 0])
