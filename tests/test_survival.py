"""Time to goal: Kaplan-Meier, log-rank, Cox, Aalen-Johansen and the follow-up rule.

Reference values come from R's survival package on the `lung` data (bundled with lifelines, which recodes
R's status 1 = censored / 2 = dead to 0 / 1: 165 deaths of 228, as in R) or from arithmetic shown beside
the test.
"""
from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_lung

from evaluation import ParamsError, load_cohort
from evaluation.analyses.time_to_goal import compute as ttg_compute
from evaluation.analyses.time_to_goal import figures as ttg_figures
from evaluation.core import figures as figure_io
from evaluation.stats import survival as survival_stats
from evaluation.core.params import check
from tests.conftest import write_cohort

Z = 1.959963984540054  # qnorm(0.975)


def make_params(tmp_path, **raw):
    base = {"cohort_id": "t", "data_dir": str(tmp_path / "data"), "output_dir": str(tmp_path / "out"),
            "as_of": "2016-12-31"}
    return check({**base, **raw})


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = load_lung()
    assert len(d) == 228 and int(d["status"].sum()) == 165  # lifelines codes 1 = dead, 0 = censored
    return d


def lung_data(lung: pd.DataFrame) -> pd.DataFrame:
    """The lung data shaped like time_to_goal_data (measure `lung`, everyone followed)."""
    return pd.DataFrame({
        "measure": "lung", "followed": True, "days": lung["time"].astype(float), "event": lung["status"].astype(int),
        "cause": lung["status"].astype(int), "cause_days": lung["time"].astype(float),
        "sex": lung["sex"].map({1: "M", 2: "F"}), "track": np.where(lung["sex"] == 2, "advanced", "initial"),
        "team_id": "T01", "baseline_value": lung["age"].astype(float), "age": 60.0})


@pytest.fixture
def lung_params(tmp_path):
    return make_params(tmp_path, goals={"lung": "< 1"}, combined_goals={}, subgroups=["sex"])


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
    with pytest.raises(ParamsError, match="`ci_method` must be one of log-log, log; got 'plain'"):
        survival_stats.KaplanMeier("plain")
    with pytest.raises(ValueError, match="non-negative"):
        survival_stats.KaplanMeier().fit([-1, 3], [1, 1])


# --- log-rank -------------------------------------------------------------------------------------------

def test_logrank_by_sex_matches_r(lung, lung_params):
    """R: survdiff(Surv(time, status) ~ sex, data = lung) -> Chisq = 10.3267 on 1 df, p = 0.00131."""
    km = ttg_compute.kaplan_meier(lung_data(lung), lung_params, "lung", by="sex")
    lr = km.logrank.iloc[0]
    assert lr["test_statistic"] == pytest.approx(10.3267, abs=5e-5)  # survdiff's $chisq to 6 significant digits
    assert lr["df"] == 1
    assert lr["p_value"] == pytest.approx(0.001311, abs=5e-7)  # 4 significant digits
    assert set(km.summary["group"]) == {"sex=F", "sex=M"}


def test_logrank_group_without_events_and_no_events_at_all(lung_params):
    """Men have no events: the test still runs (arithmetic below). With no event anywhere there is nothing to
    test, and the table says so instead of lifelines' p = 1."""
    data = pd.DataFrame({"measure": "lung", "followed": True, "days": [1.0, 2, 3, 4], "event": [1, 1, 0, 0],
                         "cause": [1, 1, 0, 0], "cause_days": [1.0, 2, 3, 4], "sex": ["F", "F", "M", "M"]})
    km = ttg_compute.kaplan_meier(data, lung_params, "lung", by="sex")
    # t=1: n=4 (2 F), d=1 -> E_F = 2/4, V = 1 * 2/4 * 2/4 * (4-1)/(4-1) = 1/4;
    # t=2: n=3 (1 F), d=1 -> E_F = 1/3, V = 1/3 * 2/3 = 2/9.  O_F - E_F = 2 - 5/6 = 7/6;
    # chi2 = (7/6)^2 / (1/4 + 2/9) = 49/17 = 2.8824.
    assert km.logrank["test_statistic"].iat[0] == pytest.approx((7 / 6) ** 2 / (1 / 4 + 2 / 9))
    males = km.summary.set_index("group").loc["sex=M"]
    assert males["events"] == 0 and males["median_text"].startswith("not reached")
    none = ttg_compute.kaplan_meier(data.assign(event=0, cause=0), lung_params, "lung", by="sex")
    assert np.isnan(none.logrank["p_value"].iat[0])
    assert none.logrank["note"].iat[0] == "no events: no test"


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


# --- Cox ------------------------------------------------------------------------------------------------

def test_cox_matches_r_coxph(lung, lung_params):
    """R: coxph(Surv(time, status) ~ age + sex, data = lung): coef age 0.017045 (HR 1.01719, se 0.009223),
    sex -0.513219 (HR 0.59857, 95% CI 0.4311 to 0.8311). Here sex 2 is `track = advanced`, lung age is the
    baseline value (step 1), and our constant age is left out with a note. Both fits iterate Newton-Raphson
    to far below the printed digits (R: relative change in log-likelihood < 1e-9), so R's rounding sets the
    tolerances."""
    hr, check_ph, notes = ttg_compute.cox_model(lung_data(lung), lung_params, "lung")
    hr = hr.set_index("covariate")
    assert hr.loc["track", "hazard_ratio"] == pytest.approx(0.59857, abs=1e-5)  # R prints 5 significant digits
    assert hr.loc["track", "ci_low"] == pytest.approx(0.4311, abs=5e-5)  # R prints 4 decimals
    assert hr.loc["track", "ci_high"] == pytest.approx(0.8311, abs=5e-5)
    assert hr.loc["baseline value", "hazard_ratio"] == pytest.approx(1.01719, abs=1e-5)
    # p = 2 * pnorm(-0.017045 / 0.009223) = 0.06459 from R's printed coef and se, which pin it to ~2e-5
    assert hr.loc["baseline value", "p_value"] == pytest.approx(0.06459, abs=5e-5)
    assert any("age left out" in n for n in notes)
    assert list(check_ph["covariate"]) == ["track", "baseline value"]


def test_ph_check_in_plain_words(lung_params):
    """Crossing hazards (group A reaches goal only early, group B only late) break proportional hazards;
    two identical groups do not."""
    early = np.arange(1, 21, dtype=float)
    late = np.arange(101, 121, dtype=float)
    crossing = pd.DataFrame({"measure": "lung", "followed": True,
                             "days": np.r_[early, np.full(20, 200.0), np.full(20, 50.0), late],
                             "event": np.r_[np.ones(20), np.zeros(20), np.zeros(20), np.ones(20)].astype(int),
                             "track": ["initial"] * 40 + ["advanced"] * 40, "baseline_value": np.tile([1.0, 2.0], 40),
                             "age": 60.0, "team_id": "T01"})
    _, ph, _ = ttg_compute.cox_model(crossing, lung_params, "lung")
    track = ph.set_index("covariate").loc["track"]
    assert track["p_value"] < 0.001
    assert track["verdict"].startswith("The effect of track seems to change over follow-up")
    same = crossing.assign(days=np.tile(np.r_[early, late], 2), event=1)
    _, ph_same, _ = ttg_compute.cox_model(same, lung_params, "lung")
    assert ph_same.set_index("covariate").loc["track", "verdict"].startswith("No sign that the effect of track")
    assert ttg_compute.ph_verdict("age", 0.2, 0.05) == "No sign that the effect of age changes over follow-up (p = 0.200)."


def test_cox_too_few_events_is_a_note_not_an_error(lung_params):
    data = pd.DataFrame({"measure": "lung", "followed": True, "days": [10.0, 20, 30], "event": [0, 0, 0],
                         "track": ["initial", "advanced", "initial"], "baseline_value": [9.0, 10, 11], "age": [50.0, 60, 70],
                         "team_id": "T01"})
    hr, ph, notes = ttg_compute.cox_model(data, lung_params, "lung")
    assert hr.empty and ph.empty
    assert notes[-1] == "No Cox model: 0 event(s) in 3 patient(s) are too few."


# --- the follow-up rule on a hand-built cohort ------------------------------------------------------------

ENROLLED = dt.date(2015, 3, 1)


def day(n: int) -> str:
    return (ENROLLED + dt.timedelta(days=n)).isoformat()


@pytest.fixture
def rule_cohort(tmp_path):
    patients = [  # id, team, exited, reason, diabetes
        ("P01", "T01", "", "", 1), ("P02", "T01", "", "", 1), ("P03", "T01", day(150), "moved", 1),
        ("P04", "T02", day(100), "died", 1), ("P05", "T02", "", "", 1), ("P06", "T02", "", "", 1),
        ("P07", "T02", "", "", 0), ("P08", "T01", "", "", 1), ("P09", "T01", "", "", 0), ("P10", "T02", "", "", 0),
    ]
    readings = [
        ("P01", "a1c", -10, 9.0), ("P01", "a1c", 60, 8.5), ("P01", "a1c", 120, 7.5), ("P01", "a1c", 200, 7.0),
        ("P02", "a1c", -30, 9.2), ("P02", "a1c", 90, 8.5),
        ("P03", "a1c", -5, 9.1), ("P03", "a1c", 60, 8.9), ("P03", "a1c", 200, 7.0),  # goal after exit: not used
        ("P04", "a1c", 0, 9.5), ("P04", "a1c", 40, 9.0),  # died on day 100 before goal
        ("P05", "a1c", -20, 9.0), ("P05", "a1c", 0, 7.0), ("P05", "a1c", 60, 6.8),  # at goal on the enrollment day
        ("P06", "a1c", 60, 9.0), ("P06", "a1c", 90, 7.0),  # no reading in the baseline window
        ("P07", "a1c", 10, 9.0), ("P07", "a1c", 50, 7.0),  # baseline in the grace period after enrollment
        ("P08", "a1c", -5, 9.0),  # a baseline and nothing after
        ("P09", "sbp", 0, 150), ("P09", "dbp", 0, 85), ("P09", "sbp", 30, 135), ("P09", "dbp", 30, 95),
        ("P09", "sbp", 45, 120), ("P09", "sbp", 60, 130), ("P09", "dbp", 60, 80),
        ("P10", "inr", -3, 1.5), ("P10", "inr", 7, 2.5),
    ]
    files = {
        "teams.csv": "team_id,team_name,state,setting,track,joined_on\n"
                     "T01,Prairie Creek Pharmacy,IA,community_pharmacy,initial,2015-01-15\n"
                     "T02,Lakeside Drug,MN,community_pharmacy,advanced,2015-01-15\n",
        "patients.csv": "patient_id,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason,diabetes\n" + "".join(
            f"{p},{t},{ENROLLED.isoformat()},F,1950,{e},{r},{d}\n" for p, t, e, r, d in patients),
        "measurements.csv": "patient_id,measure,measured_on,value\n" + "".join(
            f"{p},{m},{day(n)},{v}\n" for p, m, n, v in readings),
        "mtps.csv": "patient_id,identified_on,category,resolved_on\n"
                    f"P01,{day(10)},nonadherence,{day(10)}\n"
                    f"P02,{day(10)},nonadherence,{day(20)}\n"
                    f"P03,{day(10)},dosage_too_low,\n",  # P03 exits on day 150: censored at 140 days
    }
    folder = write_cohort(tmp_path / "data", files)
    params = make_params(tmp_path)
    return params, load_cohort(params)


def test_time_to_goal_rule(rule_cohort):
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params).set_index(["measure", "patient_id"])
    a1c = data.loc["a1c"]
    assert (a1c.loc["P01", "days"], a1c.loc["P01", "event"]) == (120, 1)  # first reading at goal, not the later one
    assert (a1c.loc["P02", "days"], a1c.loc["P02", "event"]) == (90, 0)  # censored at the last reading
    assert (a1c.loc["P03", "days"], a1c.loc["P03", "event"]) == (60, 0)  # the day-200 goal came after exit
    p4 = a1c.loc["P04"]  # died on day 100: censored at day 40 for KM, a competing event on day 100
    assert (p4["days"], p4["event"], p4["cause"], p4["cause_days"]) == (40, 0, ttg_compute.COMPETING, 100)
    assert a1c.loc["P03", "cause"] == ttg_compute.CENSORED  # moved is not a competing reason by default
    p5 = a1c.loc["P05"]  # the enrollment-day reading is the baseline: at goal, so not followed
    assert p5["baseline_on"] == pd.Timestamp(day(0)) and bool(p5["at_goal_baseline"]) and not p5["followed"]
    assert not a1c.loc["P06", "has_baseline"] and not a1c.loc["P06", "followed"]
    assert (a1c.loc["P07", "days"], a1c.loc["P07", "event"]) == (50, 1)
    assert (a1c.loc["P08", "days"], a1c.loc["P08", "event"]) == (0, 0)  # baseline only: censored at day 0
    bp = data.loc[("bp", "P09")]  # day 30 has DBP 95 and day 45 has SBP only: the first full day at goal is 60
    assert (bp["days"], bp["event"], bp["baseline_value"]) == (60, 1, 150)
    assert (data.loc[("inr", "P10"), "days"], data.loc[("inr", "P10"), "event"]) == (7, 1)
    flow = ttg_compute.flow(ttg_compute.time_to_goal_data(cohort, params), params).set_index("measure")
    assert flow.loc["a1c"].to_dict() == {
        "goal": "a1c < 8", "measured": 8, "no_baseline": 1, "at_goal_at_baseline": 1, "followed": 6,
        "reached_goal": 2, "competing_exit": 1, "censored": 3}


def test_competing_reasons_come_from_params(tmp_path, rule_cohort):
    params, cohort = rule_cohort
    moved_too = make_params(tmp_path, survival={"competing_exit_reasons": ["died", "moved"]})
    data = ttg_compute.time_to_goal_data(cohort, moved_too).set_index(["measure", "patient_id"])
    assert (data.loc[("a1c", "P03"), "cause"], data.loc[("a1c", "P03"), "cause_days"]) == (ttg_compute.COMPETING, 150)


def test_baseline_agrees_with_the_outcome_change_analysis(rule_cohort):
    """Both notebooks must agree on who has a baseline and which reading it is."""
    outcomes = pytest.importorskip("evaluation.outcomes")
    params, cohort = rule_cohort
    pairs = outcomes.baseline_followup(cohort.measurements, cohort.patients, cohort.teams, windows=params.windows,
                                       goals=params.goals, combined_goals=params.combined_goals)
    theirs = pairs.dropna(subset=["baseline_on"]).set_index(["measure", "patient_id"])["baseline_on"]
    ours = ttg_compute.time_to_goal_data(cohort, params).dropna(subset=["baseline_on"]).set_index(["measure", "patient_id"])
    shared = ours.index.intersection(theirs.index)
    assert len(shared) == len(ours)
    assert (ours.loc[shared, "baseline_on"] == theirs.loc[shared]).all()


def test_time_to_goal_table_columns_and_rows(rule_cohort):
    params, cohort = rule_cohort
    table = ttg_compute.time_to_goal_table(ttg_compute.time_to_goal_data(cohort, params), params)
    assert list(table.columns[:8]) == ttg_compute.TIME_TO_GOAL_COLUMNS
    a1c = table[table["measure"] == "a1c"].set_index("group")
    assert list(a1c.index[:3]) == ["all", "track=advanced", "track=initial"]
    # all: 6 followed. P08 censored at 0, P04 at 40; t=50: 4 at risk, P07 reaches goal -> S = 3/4;
    # P03 (60) and P02 (90) censored; t=120: 1 at risk, P01 reaches goal -> S = 0. First S <= 1/2: day 120.
    assert a1c.loc["all", "n"] == 6 and a1c.loc["all", "events"] == 2
    assert a1c.loc["all", "ci_method"] == "log-log"
    assert a1c.loc["all", "median_days"] == 120
    assert a1c.loc["team=T02", "competing"] == 1
    measures = list(dict.fromkeys(table["measure"]))
    assert measures == ["a1c", "bp", "ldl", "inr"]
    bp = table[table["measure"] == "bp"].set_index("group")  # a single patient (P09), at goal on day 60
    assert (bp.loc["all", "n"], bp.loc["all", "events"], bp.loc["all", "median_days"]) == (1, 1, 60)
    assert bp.loc["all", "median_text"] == "60 days (95% CI not estimable to not reached; log-log)"
    assert np.isnan(bp.loc["track=initial", "logrank_p"])  # one track only: no test
    ldl = table[table["measure"] == "ldl"]  # no LDL readings: a row that says so
    assert ldl["n"].tolist() == [0] and ldl["median_text"].iat[0] == "not estimable (none followed)"
    assert np.isnan(ldl["median_days"].iat[0])


def test_at_goal_by_day_texts_and_ci_method(tmp_path, rule_cohort):
    _, cohort = rule_cohort
    params = make_params(tmp_path, ci_method="log", survival={"horizons_days": [60, 365]})
    by_day = ttg_compute.at_goal_by_day(ttg_compute.time_to_goal_data(cohort, params), params)
    row = by_day[(by_day["measure"] == "a1c") & (by_day["group"] == "all")].set_index("days")
    # At day 60: only P07 (day 50) reached goal; at risk at 50: P01, P02, P03, P07 (P08 gone at 0, P04 at 40)
    # -> S = 1 - 1/4 = 0.75 -> 25% at goal.
    assert row.loc[60, "pct_at_goal"] == pytest.approx(25.0)
    assert row.loc[60, "text"].endswith("; log)")
    assert row.loc[365, "text"] == "100.0% (the Kaplan-Meier curve reaches 100%; no CI)"  # P01, the last one, at day 120
    # Without P01 the last follow-up is P02's censoring on day 90: day 365 is beyond everyone's follow-up.
    data = ttg_compute.time_to_goal_data(cohort, params)
    by_day = ttg_compute.at_goal_by_day(data[data["patient_id"] != "P01"], params)
    row = by_day[(by_day["measure"] == "a1c") & (by_day["group"] == "all")].set_index("days")
    assert row.loc[60, "pct_at_goal"] == pytest.approx(100 / 3)  # at risk at 50: P02, P03, P07 -> S = 2/3
    assert row.loc[365, "text"] == "not estimable (no one followed that long)"
    assert np.isnan(row.loc[365, "pct_at_goal"])


def test_strata_and_measures_params(tmp_path):
    assert ttg_compute.analysed_measures(make_params(tmp_path)) == ["a1c", "bp", "ldl", "inr"]
    assert ttg_compute.strata(make_params(tmp_path)) == ["track", "team", "condition"]
    with pytest.raises(ParamsError, match="`survival.measures` must name measures that have a goal .*got 'hba1c'"):
        ttg_compute.analysed_measures(make_params(tmp_path, survival={"measures": ["hba1c"]}))
    with pytest.raises(ParamsError, match="`subgroups`.* must be .*got 'region'"):  # by the params check or strata
        ttg_compute.strata(make_params(tmp_path, subgroups=["region"]))


def test_cumulative_incidence_on_the_cohort(rule_cohort):
    """a1c, followed: P01 goal 120, P02 cens 90, P03 cens 60, P04 died 100 (competing), P07 goal 50, P08 cens 0.
    AJ: t=0 censor; t=50: n=5 -> CIF_goal = 1/5, S = 4/5; t=60, 90: censored; t=100: n=2 -> CIF_comp = 4/5 * 1/2
    = 0.4, S = 0.4; t=120: n=1 -> CIF_goal = 0.2 + 0.4 = 0.6."""
    params, cohort = rule_cohort
    cif = ttg_compute.cumulative_incidence(ttg_compute.time_to_goal_data(cohort, params), params, "a1c").set_index("time")
    assert cif.loc[120, "cif_goal"] == pytest.approx(0.6)
    assert cif.loc[120, "cif_competing"] == pytest.approx(0.4)


# --- MTP resolution -------------------------------------------------------------------------------------

def test_mtp_resolution(tmp_path, rule_cohort):
    """MTPs: resolved the same day (0), after 10 days, unresolved and censored at the patient's exit (day 150,
    so 140 days). S(0) = 2/3, S(10) = 1/3 -> median 10; by day 5: 33.3% resolved, by day 30: 66.7%."""
    _, cohort = rule_cohort
    params = make_params(tmp_path, survival={"mtp_horizons_days": [5, 30]})
    data = ttg_compute.mtp_resolution_data(cohort, params)
    assert sorted(data["days"]) == [0, 10, 140]
    table = ttg_compute.mtp_resolution(data, params).set_index("group")
    assert table.loc["all", "median_days"] == 10
    assert table.loc["all", "pct_resolved_5d"] == pytest.approx(100 / 3)
    assert table.loc["all", "pct_resolved_30d"] == pytest.approx(200 / 3)
    assert table.loc["category=nonadherence", "resolved"] == 2


# --- figures --------------------------------------------------------------------------------------------

def test_figures_are_exported_with_caption_and_alt_text(rule_cohort):
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    assert [ttg_figures.figure_id(km) for km in ttg_compute.km_by_measure(data, params, by="track")] == [
        "survival_km_a1c_by_track", "survival_km_bp_by_track", "survival_km_inr_by_track"]  # no LDL data: no figure
    for km in (ttg_compute.kaplan_meier(data, params, "a1c"), ttg_compute.kaplan_meier(data, params, "a1c", by="track")):
        figure_io.export_figure(ttg_figures.survival_km_chart(km), params, ttg_figures.figure_id(km), notebook="04_time_to_goal",
                         **ttg_figures.km_text(km))
    cif = ttg_compute.cumulative_incidence(data, params)
    figure_io.export_figure(ttg_figures.survival_cif_chart(cif), params, "survival_cumulative_incidence", notebook="04_time_to_goal",
                     **ttg_figures.cif_text(cif, ttg_compute.cumulative_incidence_by_day(data, params), params))
    manifest = figure_io.read_manifest(params.figures_dir)
    assert set(manifest["figure_id"]) == {"survival_km_a1c", "survival_km_a1c_by_track", "survival_cumulative_incidence"}
    assert manifest["caption"].str.len().min() > 40 and manifest["alt_text"].str.len().min() > 40
    record = json.loads((params.figures_dir / "survival_km_a1c.json").read_text())
    assert "<11 patients not at goal at baseline" in record["caption"] and "log-log" in record["caption"]  # 6: suppressed


# --- statewide scale: the same numbers, fast --------------------------------------------------------------

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


def test_ph_test_matches_lifelines_on_rossi():
    """lifelines' proportional_hazard_test(cph, rossi, time_transform="km") is the reference; ours is the
    same statistic without lifelines' quadratic residual loop."""
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi
    from lifelines.statistics import proportional_hazard_test

    rossi = load_rossi()
    cph = CoxPHFitter().fit(rossi, "week", "arrest")
    ref = proportional_hazard_test(cph, rossi, time_transform="km").summary
    covariates = list(cph.params_.index)
    ours = survival_stats.ph_test(rossi["week"], rossi["arrest"], rossi[covariates], cph.params_, cph.variance_matrix_,
                      cph.standard_errors_).reindex(ref.index)
    # the same fitted model and the same closed-form statistic, summed in another order: rounding only
    assert np.allclose(ours["test_statistic"], ref["test_statistic"], rtol=1e-9)
    assert np.allclose(ours["p"], ref["p"], rtol=1e-9)


def _reference_time_to_goal_data(cohort, params) -> pd.DataFrame:
    """The follow-up rule written plainly with pandas (the workbench's first version, kept as the reference
    for the vectorised one)."""
    patients = ttg_compute._patients(cohort)
    competing = set(params.survival["competing_exit_reasons"] or [])
    before, after = params.windows["baseline_days"], params.windows["grace_days"]
    frames = []
    for measure in ttg_compute.analysed_measures(params):
        if measure in params.combined_goals:
            parts = params.combined_goals[measure]
            m = cohort.measurements[cohort.measurements["measure"].isin(parts)]
            wide = m.pivot_table(index=["patient_id", "measured_on"], columns="measure", values="value",
                                 aggfunc="first").reindex(columns=parts).dropna().reset_index()
            r = pd.DataFrame({"patient_id": wide["patient_id"], "measured_on": wide["measured_on"],
                              "value": wide[parts[0]], "at_goal": np.logical_and.reduce(
                                  [params.goal_met(p, wide[p]) for p in parts])})
        else:
            m = cohort.measurements[cohort.measurements["measure"] == measure]
            r = pd.DataFrame({"patient_id": m["patient_id"], "measured_on": m["measured_on"], "value": m["value"],
                              "at_goal": params.goal_met(measure, m["value"])})
        r = r.dropna(subset=["value"]).sort_values(["patient_id", "measured_on"]).reset_index(drop=True)
        r = r.merge(patients[["patient_id", "enrolled_on", "exited_on"]], on="patient_id", how="inner")
        r = r[r["exited_on"].isna() | (r["measured_on"] <= r["exited_on"])]
        r = r.assign(day=(r["measured_on"] - r["enrolled_on"]).dt.days)
        window = r[(r["day"] >= -before) & (r["day"] <= after)]
        base = (window.assign(after=window["day"] > 0, distance=window["day"].abs())
                .sort_values(["patient_id", "after", "distance"]).drop_duplicates("patient_id")
                .rename(columns={"measured_on": "baseline_on", "value": "baseline_value", "at_goal": "at_goal_baseline"})
                [["patient_id", "baseline_on", "baseline_value", "at_goal_baseline"]])
        later = r.merge(base[["patient_id", "baseline_on"]], on="patient_id")
        later = later[later["measured_on"] > later["baseline_on"]]
        follow = pd.DataFrame({"n_followup": later.groupby("patient_id").size(),
                               "goal_on": later[later["at_goal"]].groupby("patient_id")["measured_on"].min(),
                               "last_on": later.groupby("patient_id")["measured_on"].max()})
        d = patients[patients["patient_id"].isin(r["patient_id"])].merge(base, on="patient_id", how="left")
        d = d.merge(follow, left_on="patient_id", right_index=True, how="left")
        d["measure"] = measure
        d["has_baseline"] = d["baseline_on"].notna()
        d["at_goal_baseline"] = d["at_goal_baseline"].astype("boolean")
        d["followed"] = d["has_baseline"] & ~d["at_goal_baseline"].fillna(True).astype(bool)
        d["n_followup"] = d["n_followup"].fillna(0).astype(int)
        reached = d["goal_on"].notna()
        last_seen = d["last_on"].fillna(d["baseline_on"])
        end = last_seen.where(d["exited_on"].isna() | (last_seen <= d["exited_on"]), d["exited_on"])
        end = d["goal_on"].where(reached, end)
        d["days"] = (end - d["enrolled_on"]).dt.days.clip(lower=0).astype(float)
        d["event"] = reached.astype(int)
        exit_competing = ~reached & d["exited_on"].notna() & d["exit_reason"].isin(competing)
        d["cause"] = np.select([reached, exit_competing], [ttg_compute.GOAL, ttg_compute.COMPETING], ttg_compute.CENSORED).astype(int)
        exit_days = (d["exited_on"] - d["enrolled_on"]).dt.days.clip(lower=0).astype(float)
        d["cause_days"] = exit_days.where(exit_competing, d["days"])
        d.loc[~d["followed"], ["days", "cause_days"]] = np.nan
        frames.append(d[ttg_compute.DATA_COLUMNS])
    order = {m: i for i, m in enumerate(ttg_compute.analysed_measures(params))}
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["measure", "patient_id"], key=lambda s: s.map(order) if s.name == "measure" else s)
    return out.reset_index(drop=True)


def test_time_to_goal_data_equals_the_plain_pandas_rule(tmp_path):
    """Random cohort with same-day repeats, missing values, a part of bp missing on some days, readings after
    exit, unknown patients and deaths: the vectorised follow-up data equals the plain pandas version."""
    from evaluation.data.cohort import Cohort

    rng = np.random.default_rng(7)
    n = 300
    ids = [f"P{i:04d}" for i in rng.permutation(n)]
    enrolled = pd.Timestamp("2015-03-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    exited = pd.Series(enrolled + pd.to_timedelta(rng.integers(30, 400, n), unit="D")).where(rng.random(n) < 0.3)
    patients = pd.DataFrame({"patient_id": ids, "team_id": rng.choice(["T01", "T02", "T03"], n),
                             "enrolled_on": enrolled, "sex": "F", "birth_year": 1950, "exited_on": exited,
                             "exit_reason": np.where(exited.notna(), rng.choice(["died", "moved"], n), None),
                             "diabetes": 1})
    teams = pd.DataFrame({"team_id": ["T01", "T02", "T03"], "team_name": ["A", "B", "C"], "state": "IA",
                          "setting": "community_pharmacy", "track": ["initial", "advanced", "initial"]})
    rows = 6000
    who = rng.integers(0, n + 5, rows)  # a few readings of patients not in patients.csv
    pid = np.array(ids + ["X1", "X2", "X3", "X4", "X5"], dtype=object)[who]
    base = np.r_[enrolled.to_numpy(), np.repeat(np.datetime64("2015-03-01"), 5)][who]
    measure = rng.choice(["a1c", "sbp", "dbp", "ldl", "inr"], rows)
    value = np.select([measure == "a1c", measure == "sbp", measure == "dbp", measure == "ldl"],
                      [rng.uniform(6, 11, rows), rng.uniform(110, 170, rows), rng.uniform(70, 100, rows),
                       rng.uniform(60, 160, rows)], rng.uniform(1, 4, rows))
    value[rng.random(rows) < 0.03] = np.nan
    measurements = pd.DataFrame({"patient_id": pid, "measure": measure,
                                 "measured_on": base + pd.to_timedelta(rng.integers(-100, 400, rows) // 15 * 15, unit="D").to_numpy(),
                                 "value": value})
    cohort = Cohort(data_dir=tmp_path, tables={"patients": patients, "teams": teams, "measurements": measurements},
                    quality=pd.DataFrame())
    params = make_params(tmp_path)
    pd.testing.assert_frame_equal(ttg_compute.time_to_goal_data(cohort, params), _reference_time_to_goal_data(cohort, params))


def test_km_by_team_above_the_cap_draws_the_pooled_cohort_and_the_extremes(tmp_path):
    """60 teams: the figure draws the pooled cohort and the 5 fastest and 5 slowest teams; the caption says
    so and where every team is; the log-rank test is still across all 60; 10 teams are drawn as they are."""
    rng = np.random.default_rng(3)
    teams = np.repeat([f"T{i:02d}" for i in range(60)], 20)
    speed = np.repeat(np.arange(60) * 4.0 + 20, 20)  # T00 fastest, T59 slowest
    data = pd.DataFrame({"measure": "lung", "followed": True, "team_id": teams,
                         "days": np.round(rng.exponential(speed)), "event": (rng.random(len(teams)) < 0.8).astype(int),
                         "cause": 1, "track": "initial"})
    params = make_params(tmp_path, goals={"lung": "< 1"}, combined_goals={}, subgroups=["track"])
    km = ttg_compute.kaplan_meier(data, params, "lung", by="team")
    assert len(km.fitters) == 60 and km.logrank["groups"].iat[0] == 60
    shown = ttg_figures.drawn_groups(km)
    assert len(shown.fitters) == 1 + ttg_figures.GROUPS_DRAWN
    assert list(shown.summary["group"])[0] == "all 60 teams" and shown.summary["n"].iat[0] == len(data)
    assert shown.n_groups == 60 and set(shown.curves["group"]) == set(shown.summary["group"])
    fast = list(shown.summary["group"])[1:6]
    assert all(int(g[-2:]) < 20 for g in fast)  # the fastest come from the fast end
    text = ttg_figures.km_text(km)
    assert "all 60 teams pooled, then the 5 teams with the shortest and the 5 with the longest median" in text["caption"]
    assert "every one of the 60 is in tables/time_to_goal.csv" in text["caption"]
    fig = ttg_figures.survival_km_chart(km)
    assert len([line for line in fig.axes[0].get_lines() if line.get_label().startswith(("All 60", "team=", "T"))]) == 11
    few = ttg_compute.kaplan_meier(data[data["team_id"] < "T10"], params, "lung", by="team")
    assert ttg_figures.drawn_groups(few) is few and "Drawn:" not in ttg_figures.km_text(few)["caption"]


@pytest.mark.parametrize("estimator, outcome", [(survival_stats.KaplanMeier, "events"), (survival_stats.AalenJohansen, "causes")])
def test_estimators_refuse_bad_durations(estimator, outcome):
    with pytest.raises(ValueError, match=f"durations and {outcome} must have the same length; got 2 and 3"):
        estimator().fit([1, 2], [1, 0, 1])
    for bad in ([1, -2], [1, np.nan]):
        with pytest.raises(ValueError, match="durations must be non-negative numbers"):
            estimator().fit(bad, [1, 0])


# --- Cox: covariates missing for everyone, constant, or for some ----------------------------------------------

def lung_by_sex(lung: pd.DataFrame) -> pd.DataFrame:
    """lung_data with a constant baseline value and age: the model is time to goal ~ track (sex 2 = advanced)."""
    return lung_data(lung).assign(baseline_value=1.0)


def test_cox_leaves_out_a_covariate_nobody_has_and_keeps_everyone(lung, lung_params):
    """R: coxph(Surv(time, status) ~ sex, data = lung) prints exp(coef) 0.588, lower .95 0.4237, upper .95 0.816
    (coef -0.5310, 165 events in 228). An engagement score missing for every team must give that same fit,
    bit for bit, with a note, instead of dropping all 228 patients for a missing covariate."""
    alone, _, alone_notes = ttg_compute.cox_model(lung_by_sex(lung), lung_params, "lung")
    nobody = pd.DataFrame({"team_id": ["T01"], "engagement_score": [np.nan]})
    hr, ph, notes = ttg_compute.cox_model(lung_by_sex(lung), lung_params, "lung", nobody)
    track = hr.set_index("covariate").loc["track"]
    assert track["hazard_ratio"] == pytest.approx(0.588, abs=5e-4)  # R prints 3 decimals
    assert track["ci_low"] == pytest.approx(0.4237, abs=5e-5)  # R prints 4 decimals
    assert track["ci_high"] == pytest.approx(0.816, abs=5e-4)
    assert (track["n"], track["events"]) == (228, 165)
    pd.testing.assert_frame_equal(hr, alone)  # the same fit, exactly
    assert list(hr["covariate"]) == ["track"] and list(ph["covariate"]) == ["track"]
    assert "team engagement score left out of the Cox model: no patient has a value." in notes
    assert not any("missing covariate" in n for n in notes)
    assert notes == alone_notes + ["team engagement score left out of the Cox model: no patient has a value."]


def test_cox_with_one_track_leaves_track_out(lung, lung_params):
    """One track for everyone: track is left out (a constant covariate makes the fit singular), the rest fitted.
    R: coxph(Surv(time, status) ~ age, data = lung) prints exp(coef) 1.0189, 95% CI 1.0007 to 1.0374, p 0.0419."""
    data = lung_data(lung).assign(track="initial")
    hr, _, notes = ttg_compute.cox_model(data, lung_params, "lung")
    age = hr.set_index("covariate").loc["baseline value"]  # lung's age is the baseline value here (step 1)
    assert age["hazard_ratio"] == pytest.approx(1.0189, abs=5e-5)  # R prints 4 decimals
    assert age["ci_low"] == pytest.approx(1.0007, abs=5e-5)
    assert age["ci_high"] == pytest.approx(1.0374, abs=5e-5)
    assert age["p_value"] == pytest.approx(0.0419, abs=1e-4)  # R prints 3 significant digits (lifelines: 0.04185)
    assert list(hr["covariate"]) == ["baseline value"]
    assert "track left out of the Cox model: it has one value only." in notes
    assert "age left out of the Cox model: it has one value only." in notes


def test_cox_drops_only_the_patients_missing_a_kept_covariate_and_counts_them(lung, lung_params):
    """Three teams by row (0, 1, 2, 0, ...): T01 and T02 have scores, T03 (76 of the 228 rows) has none; 3 other
    patients lack a baseline value, one of them in T03. Left out: 76 + 2 = 78 patients. The fit equals
    lifelines' on the 150 complete rows, fitted directly."""
    from lifelines import CoxPHFitter

    data = lung_data(lung).assign(team_id=np.array(["T01", "T02", "T03"])[np.arange(228) % 3])
    data.loc[[0, 1, 2], "baseline_value"] = np.nan  # rows 0 (T01), 1 (T02), 2 (T03)
    scores = pd.DataFrame({"team_id": ["T01", "T02"], "engagement_score": [40.0, 60.0]})
    hr, _, notes = ttg_compute.cox_model(data, lung_params, "lung", scores)
    assert "78 patient(s) left out of the Cox model for a missing covariate (3 with no baseline value; "\
           "76 with no team engagement score)." in notes
    assert set(hr["n"]) == {150}
    complete = data[data["team_id"] != "T03"].dropna(subset=["baseline_value"])
    x = pd.DataFrame({"days": complete["days"], "event": complete["event"],
                      "track_advanced": (complete["track"] == "advanced").astype(float),
                      "baseline_value": complete["baseline_value"],
                      "engagement_score": complete["team_id"].map({"T01": 4.0, "T02": 6.0})})
    ref = CoxPHFitter().fit(x, "days", "event").summary["exp(coef)"]
    ours = hr.set_index("covariate")["hazard_ratio"]
    # the same fitter on the same rows: equal to rounding of the Newton steps' arithmetic
    assert ours["track"] == pytest.approx(ref["track_advanced"], rel=1e-12)
    assert ours["team engagement score"] == pytest.approx(ref["engagement_score"], rel=1e-12)


def test_cox_measure_nobody_was_followed_for(lung_params):
    data = pd.DataFrame({"measure": "lung", "followed": [False, False], "days": np.nan, "event": 0,
                         "track": "initial", "baseline_value": 1.0, "age": 60.0, "team_id": "T01"})
    hr, ph, notes = ttg_compute.cox_model(data, lung_params, "lung")
    assert hr.empty and ph.empty
    assert notes == ["No Cox model: no patient was followed for this measure."]


# --- the engagement covariate ---------------------------------------------------------------------------------

ENGAGEMENT_FILES = {
    "events.csv": "event_id,event_on,kind,team_id\nE1,2015-02-01,monthly_call,\nE2,2015-03-01,webinar,\n",
    "attendance.csv": "event_id,team_id,attended\nE1,T01,1\nE2,T01,1\nE1,T02,1\nE2,T02,0\n",
}


def with_files(tmp_path, params, files: dict[str, str]):
    """The rule cohort's folder with more files, loaded again."""
    write_cohort(tmp_path / "data", files)
    return load_cohort(params)


def test_engagement_covariate_absent_only_without_its_tables(rule_cohort):
    """The rule cohort has no events, attendance or milestones: no covariate, and the note says which files."""
    params, cohort = rule_cohort
    covariate = ttg_compute.engagement_covariate(cohort, params)
    assert covariate.scores is None
    note = ("team engagement score left out of the Cox model: this cohort has no events.csv or attendance.csv, "
            "and no milestones.csv (or the file is empty), which the score needs.")
    assert covariate.note == note
    cox = ttg_compute.cox_models(ttg_compute.time_to_goal_data(cohort, params), params, covariate)
    assert cox.notes[cox.notes["measure"] == "all"]["note"].tolist() == [note]
    assert not cox.notes["note"].str.contains("engagement score left out of the Cox model: no patient").any()


def test_engagement_covariate_from_attendance(tmp_path, rule_cohort):
    """T01 attended 2 of 2 recorded events (score 100), T02 1 of 2 (50): only attendance counts, milestones absent."""
    params, _ = rule_cohort
    cohort = with_files(tmp_path, params, ENGAGEMENT_FILES)
    covariate = ttg_compute.engagement_covariate(cohort, params)
    assert covariate.note is None
    scores = covariate.scores.set_index("team_id")["engagement_score"].to_dict()
    assert scores == pytest.approx({"T01": 100.0, "T02": 50.0})
    only_events = with_files(tmp_path, params, {"attendance.csv": "event_id,team_id,attended\n"})
    note = ttg_compute.engagement_covariate(only_events, params).note
    assert note.startswith("team engagement score left out of the Cox model: this cohort has no attendance.csv, "
                           "and no milestones.csv")


def test_engagement_covariate_raises_the_engagement_analysis_errors(tmp_path, rule_cohort, monkeypatch):
    """A bad weight (params that skipped the check) or any other error of the engagement analysis is raised, not
    taken for absent data."""
    import dataclasses

    from evaluation import EvaluationError

    params, _ = rule_cohort
    cohort = with_files(tmp_path, params, ENGAGEMENT_FILES)
    zero = dataclasses.replace(params, engagement={**params.engagement, "weights": {
        "attendance": 0, "milestones_done": 0, "milestones_on_time": 0}})
    with pytest.raises(ParamsError, match="at least one weight above 0"):
        ttg_compute.engagement_covariate(cohort, zero)

    def broken(cohort, params):
        raise EvaluationError("events.csv: something the engagement analysis refuses")

    monkeypatch.setattr(ttg_compute, "engagement_scores", broken)
    with pytest.raises(EvaluationError, match="something the engagement analysis refuses"):
        ttg_compute.engagement_covariate(cohort, params)


# --- not estimable, never 0: nobody followed, or no one followed that long ----------------------------------

def test_aalen_johansen_of_nobody_is_not_estimable():
    """Fitted on no one, the cumulative incidence is NaN (0 would say that 0% reached goal)."""
    aj = survival_stats.AalenJohansen().fit([], [])
    assert np.isnan(aj.cumulative_incidence(1, [0, 365])).all()
    assert np.isnan(aj.cumulative_incidence(2, [365])).all()


def test_measure_nobody_was_followed_for_is_not_estimable(rule_cohort):
    """No LDL readings at all, and a1c kept to P05 (at goal at baseline, so not followed): both measures have
    nobody followed. Every share and median is NaN, and every text built from them says "not estimable"."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    data = data[(data["measure"] != "a1c") | (data["patient_id"] == "P05")]
    assert not data[data["measure"].isin(["a1c", "ldl"])]["followed"].any()
    competing = ttg_compute.cumulative_incidence_by_day(data, params)
    for m in ("a1c", "ldl"):
        rows = competing[(competing["measure"] == m) & (competing["group"] == "all")]
        assert len(rows) == 3 and (rows["n"] == 0).all()
        assert rows[["pct_goal", "pct_competing_exit", "pct_goal_ignoring_competing"]].isna().all(axis=None)
    caption = ttg_figures.cif_text(ttg_compute.cumulative_incidence(data, params), competing, params)["caption"]
    assert "a1c: not estimable (none followed)" in caption and "ldl: not estimable (none followed)" in caption
    assert "a1c: 0%" not in caption and "nan" not in caption.lower()
    by_day = ttg_compute.at_goal_by_day(data, params)
    a1c = by_day[(by_day["measure"] == "a1c") & (by_day["group"] == "all")]
    assert a1c["pct_at_goal"].isna().all() and (a1c["text"] == "not estimable (none followed)").all()
    table = ttg_compute.time_to_goal_table(data, params).set_index(["measure", "group"])
    assert np.isnan(table.loc[("a1c", "all"), "median_days"])
    assert table.loc[("a1c", "all"), "median_text"] == "not estimable (none followed)"
    text = ttg_figures.km_text(ttg_compute.kaplan_meier(data, params, "a1c"))
    assert "All (n = 0): median and share at 365 days not estimable (none followed)." in text["caption"]
    assert "0%" not in text["caption"] and text["alt_text"] == "An empty chart: no patients not at goal at baseline."
    empty_mtps = ttg_compute.mtp_resolution(ttg_compute.mtp_resolution_data(cohort, params).iloc[:0], params).set_index("group")
    assert empty_mtps.loc["all", "median_text"] == "not estimable (none followed)"
    assert np.isnan(empty_mtps.loc["all", "pct_resolved_30d"])


def test_horizon_beyond_follow_up_is_not_estimable_in_the_cumulative_incidence(rule_cohort):
    """a1c without P01 and P04: P08 censored at 0; t=50: 3 at risk (P02, P03, P07), P07 at goal -> 1/3; P03
    censored at 60, P02 at 90. By day 365 no one is still followed and 2 of the 3 left without an outcome: not
    estimable, not the 1/3 reached by day 90.

    Without P01 only (P04 kept, died on day 100): at 100 the one patient at risk exits, so everyone has an
    outcome: CIF_goal(365) = 1/4 (t=50: 4 at risk), CIF_competing = 3/4 * 1/1 = 3/4; 1 - Kaplan-Meier censors
    P04 and is beyond its last time (S = 3/4 > 0): not estimable."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    a1c = data["measure"] == "a1c"
    short = data[~(a1c & data["patient_id"].isin(["P01", "P04"]))]
    competing = ttg_compute.cumulative_incidence_by_day(short, params).set_index(["measure", "group", "days"])
    assert np.isnan(competing.loc[("a1c", "all", 365), "pct_goal"])
    assert competing.loc[("a1c", "all", 90), "pct_goal"] == pytest.approx(100 / 3)
    caption = ttg_figures.cif_text(ttg_compute.cumulative_incidence(short, params), competing.reset_index(), params)["caption"]
    assert "a1c: not estimable (no one followed that long)" in caption
    done = data[~(a1c & (data["patient_id"] == "P01"))]
    competing = ttg_compute.cumulative_incidence_by_day(done, params).set_index(["measure", "group", "days"])
    row = competing.loc[("a1c", "all", 365)]
    assert (row["pct_goal"], row["pct_competing_exit"]) == pytest.approx((25.0, 75.0))
    assert np.isnan(row["pct_goal_ignoring_competing"])
    caption = ttg_figures.cif_text(ttg_compute.cumulative_incidence(done, params), competing.reset_index(), params)["caption"]
    assert "a1c: 25% reached goal and 75% exited first (1 - Kaplan-Meier not estimable: no one followed that long)" \
        in caption
    assert "nan" not in caption.lower()


def test_km_caption_beyond_follow_up_says_not_estimable(rule_cohort):
    """a1c without P01: the last follow-up is P02's censoring on day 90, so the share at 365 days is not estimable."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    km = ttg_compute.kaplan_meier(data[data["patient_id"] != "P01"], params, "a1c")
    assert "the share at 365 days is not estimable (no one followed that long)." in ttg_figures.km_text(km)["caption"]
