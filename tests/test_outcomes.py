"""Outcome change: baseline/follow-up rule, paired statistics, McNemar, mixed model, Rosendaal TTR.

Every number is checked against a value worked out by hand (arithmetic in the comments) or a published
reference (lme4 via statsmodels' own test suite for the dietox model).
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels

from evaluation.analyses.outcomes import compute as outcomes_compute
from evaluation.analyses.outcomes import figures as outcomes_figures
from evaluation.stats import mixed_model
from evaluation.stats import paired
from evaluation.stats import ttr as ttr_stats
from evaluation.core.errors import ParamsError
from evaluation.core.params import check

PARAMS = check({"cohort_id": "t", "data_dir": "/tmp"})
ENROLLED = pd.Timestamp("2015-03-01")


def day(offset: int) -> pd.Timestamp:
    return ENROLLED + pd.Timedelta(days=offset)


def frame(rows) -> pd.DataFrame:
    """measurements from (patient, measure, day offset from 2015-03-01, value) tuples."""
    return pd.DataFrame([(p, m, day(d), v) for p, m, d, v in rows],
                        columns=["patient_id", "measure", "measured_on", "value"])


def people(ids, teams=None, **flags) -> pd.DataFrame:
    teams = teams or ["T1"] * len(ids)
    d = pd.DataFrame({"patient_id": ids, "team_id": teams, "enrolled_on": ENROLLED})
    for name, values in flags.items():
        d[name] = pd.array(values, dtype="Int64")
    return d


TEAMS = pd.DataFrame({"team_id": ["T1", "T2", "T3"], "team_name": ["One", "Two", "Three"],
                      "track": ["initial", "advanced", "initial"]})


def pairs_for(measurements, patients, teams=TEAMS):
    return outcomes_compute.baseline_followup(measurements, patients, teams, windows=PARAMS.windows, goals=PARAMS.goals,
                                      combined_goals=PARAMS.combined_goals)


# --- baseline and follow-up rule -------------------------------------------------------------------

def test_baseline_prefers_on_or_before_and_followup_is_last_in_window():
    """Windows 90 before / 30 grace; follow-up 90..365 days. P1: -100 is outside, -28 is the latest
    on/before (chosen over +9, which is closer but after); +60 is in neither window; +300 is the last in
    90..365 (+400 is past it). P2 has nothing on/before, so its earliest grace-period value (+10) is used."""
    m = frame([("P1", "a1c", -100, 10.0), ("P1", "a1c", -28, 9.0), ("P1", "a1c", 9, 8.8), ("P1", "a1c", 60, 8.5),
               ("P1", "a1c", 120, 8.0), ("P1", "a1c", 300, 7.2), ("P1", "a1c", 400, 6.5),
               ("P2", "a1c", 10, 9.5), ("P2", "a1c", 20, 9.4), ("P2", "a1c", 200, 8.4)])
    pairs = pairs_for(m, people(["P1", "P2"])).set_index("patient_id")
    assert pairs.loc["P1", "baseline_on"] == day(-28) and pairs.loc["P1", "baseline_value"] == 9.0
    assert pairs.loc["P1", "followup_on"] == day(300) and pairs.loc["P1", "followup_value"] == 7.2
    assert pairs.loc["P1", "change"] == pytest.approx(7.2 - 9.0)
    assert pairs.loc["P2", "baseline_on"] == day(10) and pairs.loc["P2", "followup_on"] == day(200)
    assert bool(pairs.loc["P1", "followup_at_goal"]) and not bool(pairs.loc["P1", "baseline_at_goal"])


def test_window_edges_are_inclusive():
    """-90 and +365 are inside their windows; -91 and +366 are not."""
    m = frame([("P1", "ldl", -90, 130.0), ("P1", "ldl", 365, 90.0),
               ("P2", "ldl", -91, 130.0), ("P2", "ldl", 366, 90.0)])
    pairs = pairs_for(m, people(["P1", "P2"])).set_index("patient_id")
    assert pairs.loc["P1", "status"] == "paired"
    assert pairs.loc["P2", "status"] == "neither"


def test_patient_without_followup_is_excluded_and_counted():
    """P2 has a baseline but nothing in the follow-up window: not in n, counted in n_no_followup."""
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0), ("P2", "a1c", -5, 9.5), ("P2", "a1c", 45, 9.0),
               ("P3", "a1c", 0, 8.5), ("P3", "a1c", 200, 8.5)])
    patients = people(["P1", "P2", "P3"])
    pairs = pairs_for(m, patients)
    assert pairs.set_index("patient_id").loc["P2", "status"] == "no_followup"
    counts = outcomes_compute.pairing_counts(pairs, ["a1c"]).set_index("measure")
    assert counts.loc["a1c", "paired"] == 2 and counts.loc["a1c", "excluded_no_followup"] == 1
    table = outcomes_compute.change_table(pairs, patients, goals=PARAMS.goals, combined_goals=PARAMS.combined_goals,
                                  subgroups=[])
    row = table.set_index("measure").loc["a1c"]
    assert row["n"] == 2 and row["n_no_followup"] == 1
    assert row["baseline_mean"] == pytest.approx((9.0 + 8.5) / 2)  # P2's 9.5 is left out


def test_measure_nobody_has_keeps_a_row_with_n_zero():
    """LDL has a goal but no measurements: its `all` row says n = 0 and why; no strata rows."""
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0)])
    patients = people(["P1"], diabetes=[1])
    pairs = pairs_for(m, patients)
    table = outcomes_compute.change_table(pairs, patients, goals=PARAMS.goals, combined_goals=PARAMS.combined_goals)
    ldl = table[table["measure"] == "ldl"]
    assert ldl["group"].tolist() == ["all"]
    assert ldl["n"].iloc[0] == 0 and np.isnan(ldl["mean_change"].iloc[0])
    assert ldl["note"].iloc[0] == "no patient has this measure"
    assert outcomes_compute.pairing_counts(pairs, ["a1c", "ldl"]).set_index("measure").loc["ldl", "patients_measured"] == 0


def test_bp_goal_needs_sbp_and_dbp_at_goal_on_the_same_day():
    """Day 0: SBP 150 (not < 140), DBP 85 -> BP not at goal. Day 200: SBP 135, DBP 92 (not < 90) -> not at
    goal. Day 250: SBP 130 alone (no DBP that day) is no BP reading. Day 300: 132/84 -> at goal, and it is
    the last BP reading in the window, so follow-up BP is at goal."""
    m = frame([("P1", "sbp", 0, 150), ("P1", "dbp", 0, 85), ("P1", "sbp", 200, 135), ("P1", "dbp", 200, 92),
               ("P1", "sbp", 250, 130), ("P1", "sbp", 300, 132), ("P1", "dbp", 300, 84),
               ("P2", "sbp", 0, 135), ("P2", "dbp", 0, 85), ("P2", "sbp", 200, 135), ("P2", "dbp", 200, 95)])
    pairs = pairs_for(m, people(["P1", "P2"]))
    bp = pairs[pairs["measure"] == "bp"].set_index("patient_id")
    assert bp.loc["P1", "followup_on"] == day(300)
    assert not bool(bp.loc["P1", "baseline_at_goal"]) and bool(bp.loc["P1", "followup_at_goal"])
    assert bool(bp.loc["P2", "baseline_at_goal"]) and not bool(bp.loc["P2", "followup_at_goal"])
    sbp = pairs[pairs["measure"] == "sbp"].set_index("patient_id")
    assert sbp.loc["P1", "followup_on"] == day(300)
    table = outcomes_compute.change_table(pairs, people(["P1", "P2"]), goals=PARAMS.goals,
                                  combined_goals=PARAMS.combined_goals, subgroups=[]).set_index("measure")
    assert table.loc["bp", "n_goal_baseline"] == 1 and table.loc["bp", "n_goal_followup"] == 1
    assert table.loc["bp", "goal"] == "sbp < 140 and dbp < 90"
    assert np.isnan(table.loc["bp", "mean_change"])


# --- paired statistics -----------------------------------------------------------------------------

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


def test_one_pair_and_no_spread_give_nan_tests_not_errors():
    one = paired.paired_change([9.0], [8.0])
    assert one["mean_change"] == -1.0 and np.isnan(one["change_ci_low"]) and np.isnan(one["p_value"])
    same = paired.paired_change([9.0, 8.0], [9.0, 8.0])
    assert same["mean_change"] == 0 and np.isnan(same["t_stat"]) and np.isnan(same["wilcoxon_p"])


def test_mcnemar_exact_hand_values():
    """3 patients reach goal, 1 falls out: p = 2 * P(X <= 1 | n = 4, 1/2) = 2 * 5/16 = 0.625.
    5 reach goal, none fall out: p = 2 * (1/2)^5 = 0.0625. Nobody changes: p = 1."""
    before = [False, False, False, False, True, True]
    after = [True, True, True, False, True, False]
    assert paired.mcnemar_exact_p(before, after) == pytest.approx(0.625)
    assert paired.mcnemar_exact_p([False] * 5, [True] * 5) == pytest.approx(0.0625)
    assert paired.mcnemar_exact_p([True, False], [True, False]) == 1.0


def test_change_table_groups_and_columns():
    """`all` first, then track and condition strata; a patient can sit in two conditions."""
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0), ("P2", "a1c", 0, 10.0), ("P2", "a1c", 180, 7.0),
               ("P3", "a1c", 0, 8.4), ("P3", "a1c", 180, 7.9)])
    patients = people(["P1", "P2", "P3"], teams=["T1", "T1", "T2"], diabetes=[1, 1, 1], hypertension=[1, 0, 0])
    table = outcomes_compute.change_table(pairs_for(m, patients), patients, goals=PARAMS.goals,
                                  combined_goals=PARAMS.combined_goals, subgroups=["track", "condition"])
    brief = ["measure", "group", "n", "baseline_mean", "followup_mean", "mean_change", "change_ci_low",
             "change_ci_high", "t_stat", "p_value"]
    assert list(table.columns[: len(brief)]) == brief
    a1c = table[table["measure"] == "a1c"].set_index("group")
    assert list(a1c.index) == ["all", "track=advanced", "track=initial", "condition=diabetes", "condition=hypertension"]
    assert a1c.loc["track=initial", "n"] == 2 and a1c.loc["track=advanced", "n"] == 1
    assert a1c.loc["condition=hypertension", "mean_change"] == pytest.approx(-1.0)
    # % at goal among the paired: baseline none < 8; follow-up 8.0 (no), 7.0 and 7.9 (yes) -> 2 of 3
    assert a1c.loc["all", "pct_goal_baseline"] == 0 and a1c.loc["all", "pct_goal_followup"] == pytest.approx(200 / 3)
    assert a1c.loc["all", "mcnemar_p"] == pytest.approx(0.5)  # 2 discordant, both improved: 2 * (1/2)^2


def test_unknown_subgroup_names_the_allowed_values():
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0)])
    patients = people(["P1"])
    with pytest.raises(ParamsError, match=r"`subgroups` entries must be one of .*condition.*got 'colour'"):
        outcomes_compute.change_table(pairs_for(m, patients), patients, goals=PARAMS.goals, subgroups=["colour"])


def test_team_change_orders_measures_as_given_and_has_t_cis():
    """Team T1: changes -1 and -3 -> mean -2, SD sqrt(2), SE 1, t(0.975, 1) = 12.706205 -> CI -2 -/+ 12.706205."""
    m = frame([("P1", "sbp", 0, 150), ("P1", "sbp", 180, 149), ("P2", "sbp", 0, 150), ("P2", "sbp", 180, 147),
               ("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0)])
    team = outcomes_compute.team_change(pairs_for(m, people(["P1", "P2"])), TEAMS, measures=["a1c", "sbp"])
    assert team["measure"].tolist() == ["a1c", "sbp"]
    sbp = team.set_index("measure").loc["sbp"]
    assert sbp["mean_change"] == -2 and sbp["ci_high"] == pytest.approx(-2 + 12.706205, abs=1e-5)  # t to 6 decimals
    assert np.isnan(team.set_index("measure").loc["a1c", "ci_low"])  # one pair: no CI


# --- mixed model -----------------------------------------------------------------------------------

def dietox() -> pd.DataFrame:
    return pd.read_csv(Path(statsmodels.__file__).parent / "regression" / "tests" / "results" / "dietox.csv")


def test_random_intercept_model_matches_lme4_on_dietox():
    """lme4: lmer(Weight ~ Time + (1 | Pig), data = dietox) (REML), as quoted in statsmodels'
    regression/tests/test_lme.py::test_dietox: fixef 15.723523, 6.942505; pig variance 40.39395;
    residual variance 11.36692; so ICC = 40.39395 / (40.39395 + 11.36692) = 0.780397."""
    fit = mixed_model.RandomInterceptModel("Weight ~ Time", "Pig").fit(dietox())
    # lme4's REML optimum, quoted to 7 significant digits; both fits are optimisers and agree to ~4e-7 relative
    # on the variances here, so 1e-5 leaves room for where each one stops
    assert fit.fixed_effects_["estimate"].to_numpy() == pytest.approx([15.723523, 6.942505], rel=1e-5)
    assert fit.group_variance_ == pytest.approx(40.39395, rel=1e-5)
    assert fit.residual_variance_ == pytest.approx(11.36692, rel=1e-5)
    assert fit.icc_ == pytest.approx(0.780397, abs=1e-5)
    assert fit.converged_ and fit.n_groups_ == 72 and fit.n_obs_ == 861
    assert list(fit.summary.columns) == ["term", "estimate", "std_error", "ci_low", "ci_high", "p_value"]
    # Wald CI = estimate -/+ 1.959964 * SE; lme4's SEs 0.78805374, 0.03338727
    assert fit.summary["ci_low"].iloc[0] == pytest.approx(15.723523 - 1.959964 * 0.78805374, rel=1e-5)  # as above


def _change_cohort(n_teams: int, tracks=("initial", "advanced")):
    rng = np.random.default_rng(7)
    rows, ids, team_ids = [], [], []
    for t in range(n_teams):
        for i in range(8):
            pid = f"P{t}{i}"
            base = 8 + rng.normal(0, 1)
            rows += [(pid, "a1c", 0, base), (pid, "a1c", 180, base - 0.5 - 0.3 * (base - 8) + rng.normal(0, 0.3))]
            ids.append(pid)
            team_ids.append(f"T{t + 1}")
    teams = pd.DataFrame({"team_id": [f"T{t + 1}" for t in range(n_teams)],
                          "track": [tracks[t % len(tracks)] for t in range(n_teams)]})
    return pairs_for(frame(rows), people(ids, teams=team_ids), teams)


def test_change_model_terms_and_too_few_teams():
    """Three teams on two tracks: intercept, baseline and track terms. Two teams: not modelled, said so."""
    effects, models = outcomes_compute.fit_change_models(_change_cohort(3), ["a1c"])
    assert effects["term"].tolist() == ["intercept (change at mean baseline)", "track=advanced",
                                        "baseline (per unit above mean)"]
    # the simulated slope on baseline is -0.3: the estimate lands near it
    slope = effects.set_index("term").loc["baseline (per unit above mean)"]
    assert slope["ci_low"] < -0.3 < slope["ci_high"]
    assert models["in_words"].iloc[0].startswith("a1c:")
    effects, models = outcomes_compute.fit_change_models(_change_cohort(2), ["a1c"])
    assert effects.empty and models["in_words"].iloc[0].startswith("Not modelled: 16 paired patients in 2 team(s)")


def test_one_track_drops_the_track_term():
    effects, _ = outcomes_compute.fit_change_models(_change_cohort(3, tracks=("initial",)), ["a1c"])
    assert not any(effects["term"].str.startswith("track="))


def test_icc_in_words():
    assert outcomes_compute.icc_in_words("a1c", 0.18, 10) == (
        "a1c: 18% of the variation in change left after baseline and track lies between teams rather than "
        "between patients of the same team (ICC 0.18, 10 teams).")
    assert "hardly at all" in outcomes_compute.icc_in_words("sbp", 0.0, 10)


# --- INR time in therapeutic range (Rosendaal) -----------------------------------------------------

def inr(rows) -> pd.DataFrame:
    return frame([(p, "inr", d, v) for p, d, v in rows])


def test_rosendaal_hand_example():
    """Range 2-3, longest gap 56 days. P1: INR 1.5 (day 0) -> 2.5 (day 10): the line is in range from 2.0
    on, i.e. the last 5 of 10 days; 2.5 (day 10) -> 3.5 (day 20): in range up to 3.0, the first 5 of 10
    days; 3.5 (day 20) -> 2.5 (day 100): an 80-day gap, not interpolated. TTR = (5 + 5) / 20 = 50%.
    P2: 1.0 -> 4.0 over 30 days crosses the whole range: 1/3 of 30 = 10 days -> 33.33%.
    P3: 2.5 -> 2.5 over 14 days: 100%. P4: one INR: no TTR."""
    m = inr([("P1", 0, 1.5), ("P1", 10, 2.5), ("P1", 20, 3.5), ("P1", 100, 2.5),
             ("P2", 0, 1.0), ("P2", 30, 4.0), ("P3", 0, 2.5), ("P3", 14, 2.5), ("P4", 0, 2.2)])
    ttr = ttr_stats.time_in_therapeutic_range(m, 2.0, 3.0, 56).set_index("patient_id")
    assert ttr.loc["P1", "days_observed"] == 20 and ttr.loc["P1", "days_in_range"] == pytest.approx(10)
    assert ttr.loc["P1", "ttr_percent"] == pytest.approx(50.0)
    assert ttr.loc["P1", "gaps_skipped"] == 1 and ttr.loc["P1", "days_skipped"] == 80
    assert ttr.loc["P2", "ttr_percent"] == pytest.approx(100 / 3)
    assert ttr.loc["P3", "ttr_percent"] == 100.0
    assert np.isnan(ttr.loc["P4", "ttr_percent"]) and ttr.loc["P4", "n_inr"] == 1
    assert list(ttr.reset_index().columns) == ttr_stats.TTR_COLUMNS


def test_rosendaal_gap_limit_is_a_parameter():
    """With a 90-day limit P1's 80-day gap from 3.5 to 2.5 is interpolated: in range from 3.0 down, i.e.
    the last half, 40 days. TTR = (5 + 5 + 40) / 100 = 50%; nothing skipped."""
    m = inr([("P1", 0, 1.5), ("P1", 10, 2.5), ("P1", 20, 3.5), ("P1", 100, 2.5)])
    ttr = ttr_stats.time_in_therapeutic_range(m, 2.0, 3.0, 90).iloc[0]
    assert ttr["days_observed"] == 100 and ttr["days_in_range"] == pytest.approx(50) and ttr["gaps_skipped"] == 0


def test_rosendaal_rejects_bad_params():
    m = inr([("P1", 0, 2.5)])
    with pytest.raises(ParamsError, match="inr_max_gap_days"):
        ttr_stats.time_in_therapeutic_range(m, 2.0, 3.0, 0)
    with pytest.raises(ParamsError, match="low must not exceed high"):
        ttr_stats.time_in_therapeutic_range(m, 3.0, 2.0, 56)


def test_ttr_after_enrollment_and_summary():
    """INRs before enrollment are left out; the summary counts patients at the 60% goal."""
    m = inr([("P1", -20, 1.0), ("P1", 0, 2.5), ("P1", 14, 2.5), ("P2", 0, 1.0), ("P2", 30, 4.0)])
    patients = people(["P1", "P2"], teams=["T1", "T2"])
    ttr = outcomes_compute.ttr_after_enrollment(m, patients, PARAMS.goals["inr"], 56)
    assert ttr.set_index("patient_id").loc["P1", "ttr_percent"] == 100.0
    summary = outcomes_compute.ttr_summary(ttr, patients, TEAMS, goal_percent=60).set_index("group")
    assert summary.loc["all", "n"] == 2 and summary.loc["all", "n_at_goal"] == 1
    assert summary.loc["all", "mean_ttr"] == pytest.approx((100 + 100 / 3) / 2)
    assert summary.loc["track=initial", "n_at_goal"] == 1


# --- figures ---------------------------------------------------------------------------------------

def test_outcome_figures_draw_from_the_tables():
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0), ("P2", "a1c", 0, 10.0), ("P2", "a1c", 180, 7.0),
               ("P1", "sbp", 0, 150), ("P1", "dbp", 0, 95), ("P1", "sbp", 180, 135), ("P1", "dbp", 180, 85)])
    patients = people(["P1", "P2"], teams=["T1", "T2"])
    pairs = pairs_for(m, patients)
    table = outcomes_compute.change_table(pairs, patients, goals=PARAMS.goals, combined_goals=PARAMS.combined_goals, subgroups=[])
    team = outcomes_compute.team_change(pairs, TEAMS, measures=["a1c", "sbp"])
    for fig in (outcomes_figures.outcome_goal_chart(table), outcomes_figures.outcome_forest_chart(team, table)):
        assert fig.axes
        plt.close(fig)
    text = outcomes_figures.goal_chart_text(table)
    assert "HbA1c a % hidden (small count) to a % hidden (small count) (n = <11" in text["caption"]  # 2 patients
    assert "HbA1c 0% to a % hidden (small count) (n = 2" in outcomes_figures.goal_chart_text(table, suppress_below=2)["caption"]  # 1 of 2
    # each team has one HbA1c pair, so no CI, so no team counts as improved with a CI below zero
    assert "HbA1c: 0 of 2 teams improved with a CI below zero" in outcomes_figures.forest_text(team, table)["caption"]


def test_goal_chart_text_leaves_out_a_share_that_implies_a_small_count():
    """Of 100 patients, 5% at goal is 5 patients and 96% leaves 4 not at goal: both hidden; 40% (40 and 60) shown."""
    table = pd.DataFrame({"measure": ["a1c", "ldl"], "group": "all", "n": [100, 100], "goal": ["a1c < 8", "ldl < 100"],
                          "pct_goal_baseline": [5.0, 40.0], "pct_goal_followup": [96.0, 60.0], "mcnemar_p": [0.001, 0.2]})
    caption = outcomes_figures.goal_chart_text(table)["caption"]
    assert "HbA1c a % hidden (small count) to a % hidden (small count) (n = 100" in caption
    assert "40% to 60% (n = 100, McNemar p 0.200)" in caption


def test_no_inr_at_all_gives_empty_ttr_and_a_zero_summary():
    """A cohort without INR measurements: no TTR rows, and the summary's `all` row says n = 0."""
    m = frame([("P1", "a1c", 0, 9.0)])
    ttr = ttr_stats.time_in_therapeutic_range(m, 2.0, 3.0, 56)
    assert ttr.empty and list(ttr.columns) == ttr_stats.TTR_COLUMNS
    summary = outcomes_compute.ttr_summary(ttr, people(["P1"]), TEAMS)
    assert summary["group"].tolist() == ["all"] and summary["n"].iloc[0] == 0


# --- statewide scale: vectorised rules agree with a plain reading; capped forest plot ---------------

def _rule_by_hand(m: pd.DataFrame, patients: pd.DataFrame, windows, goals, combined) -> dict:
    """The baseline/follow-up rule read literally, one patient and measure at a time (slow, obvious):
    {(patient, measure): (baseline_on, baseline_value, followup_on, followup_value)}."""
    enrolled = dict(zip(patients["patient_id"], patients["enrolled_on"]))
    rows = [r for r in m.itertuples(index=False) if r.patient_id in enrolled]
    readings = {}
    for i, r in enumerate(rows):
        readings.setdefault((r.patient_id, r.measure), []).append((i, r.measured_on, r.value))
    for name, parts in combined.items():  # a day on which every part was measured (first reading of each)
        by_day: dict = {}
        for r in rows:
            if r.measure in parts:
                by_day.setdefault((r.patient_id, r.measured_on), {}).setdefault(r.measure, r.value)
        for (pid, on), got in by_day.items():
            if len(got) == len(parts):
                readings.setdefault((pid, name), []).append((len(rows), on, np.nan))
    out = {}
    for (pid, measure), rs in readings.items():
        off = [(i, on, v, (on - enrolled[pid]).days) for i, on, v in rs]
        base = [x for x in off if -windows["baseline_days"] <= x[3] <= windows["grace_days"]]
        before = [x for x in base if x[3] <= 0]
        b = (max(before, key=lambda x: (x[3], -x[0])) if before else min(base, key=lambda x: (x[3], x[0]))) if base else None
        follow = [x for x in off if windows["followup_min_days"] <= x[3] <= windows["followup_max_days"]
                  and (b is None or x[1] > b[1])]
        f = max(follow, key=lambda x: (x[3], x[0])) if follow else None
        out[(pid, measure)] = (b[1] if b else pd.NaT, b[2] if b else np.nan, f[1] if f else pd.NaT, f[2] if f else np.nan)
    return out


def test_vectorised_pairing_agrees_with_the_rule_read_patient_by_patient():
    """Random readings with same-day repeats (the first on/before, the last in follow-up win), missing
    values, a patient not in patients.csv and partial BP days: the integer-coded pairing gives exactly
    what a literal per-patient reading of the rule gives."""
    rng = np.random.default_rng(11)
    ids = [f"P{i:02d}" for i in range(40)]
    rows = []
    for pid in ids + ["P99"]:  # P99 is not a patient
        for _ in range(rng.integers(1, 12)):
            measure = str(rng.choice(["a1c", "sbp", "dbp", "ldl"]))
            offset = int(rng.choice([-95, -90, -40, -40, 0, 0, 12, 30, 31, 60, 90, 200, 200, 365, 366]))
            value = np.nan if rng.random() < 0.08 else float(rng.normal({"a1c": 8, "sbp": 140, "dbp": 88, "ldl": 110}[measure], 5))
            rows.append((pid, measure, offset, value))
            if measure == "sbp" and rng.random() < 0.7:
                rows.append((pid, "dbp", offset, float(rng.normal(88, 5))))
    m = frame(rows)
    patients = people(ids, teams=[["T1", "T2", "T3"][i % 3] for i in range(len(ids))])
    pairs = pairs_for(m, patients)
    expected = _rule_by_hand(m, patients, PARAMS.windows, PARAMS.goals, PARAMS.combined_goals)
    assert set(zip(pairs["patient_id"], pairs["measure"])) == set(expected)
    assert list(pairs["patient_id"] + "/" + pairs["measure"]) == sorted(pairs["patient_id"] + "/" + pairs["measure"])
    got = {(r.patient_id, r.measure): (r.baseline_on, r.baseline_value, r.followup_on, r.followup_value)
           for r in pairs.itertuples()}
    for key, want in expected.items():
        assert all((pd.isna(a) and pd.isna(b)) or a == b for a, b in zip(got[key], want)), (key, got[key], want)
    assert "P99" not in set(pairs["patient_id"])


def test_team_change_matches_paired_change_team_by_team():
    """The one-pass team statistics equal :func:`paired_change` run on each team's pairs."""
    rng = np.random.default_rng(5)
    rows, ids, teams = [], [], []
    for i in range(60):
        pid = f"P{i:02d}"
        base = float(rng.normal(8, 1))
        rows += [(pid, "a1c", 0, base), (pid, "a1c", 180, base + float(rng.normal(-0.5, 0.4)))]
        ids.append(pid)
        teams.append(["T1", "T2", "T3"][min(i // 25, 2)] if i != 59 else "T3")
    pairs = pairs_for(frame(rows), people(ids, teams=teams))
    team = outcomes_compute.team_change(pairs, TEAMS, measures=["a1c"], alpha=0.1).set_index("team_id")
    for team_id, g in pairs.groupby("team_id"):
        s = paired.paired_change(g["baseline_value"], g["followup_value"], alpha=0.1)
        assert team.loc[team_id, "n"] == s["n"]
        # the same closed form, summed in one pass rather than per team: rounding only
        assert team.loc[team_id, ["mean_change", "ci_low", "ci_high"]].tolist() == pytest.approx(
            [s["mean_change"], s["change_ci_low"], s["change_ci_high"]], rel=1e-12)


def test_variance_ratio_start_is_the_reml_optimum():
    """dietox (lme4 REML): pig variance / residual variance = 40.39395 / 11.36692 = 3.553617, found by the
    one-dimensional search alone. Three one-track teams whose REML optimum is a zero team variance: the
    fit lands on the boundary, with a REML log-likelihood at least statsmodels' own default fit's."""
    import statsmodels.formula.api as smf

    model = smf.mixedlm("Weight ~ Time", dietox(), groups=dietox()["Pig"])
    # lme4's optimum at 7 significant digits; the search stops within ~6e-7 of it here
    assert mixed_model._variance_ratio_start(model).cov_re[0, 0] == pytest.approx(40.39395 / 11.36692, rel=1e-5)
    d = outcomes_compute.change_model_data(_change_cohort(3, tracks=("initial",)), "a1c")
    fit = mixed_model.RandomInterceptModel("change ~ baseline_centred", "team_id").fit(d)
    with pytest.warns(Warning):
        default = smf.mixedlm("change ~ baseline_centred", d, groups=d["team_id"]).fit(reml=True)
    assert fit.converged_ and fit.group_variance_ < 1e-6 and fit.icc_ < 1e-4
    assert fit.result_.llf >= default.llf - 1e-9  # rounding slack only: the default fit stops 0.07 lower here


def _many_teams(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A team_change-shaped table of n teams for two measures (team Tk's mean change is -k / 10) and the
    matching cohort rows of the change table."""
    team = pd.DataFrame([{"measure": m, "team_id": f"T{k:03d}", "n": 20, "mean_change": -k / 10 * s,
                          "ci_low": -k / 10 * s - 0.2, "ci_high": -k / 10 * s + 0.2, "team_name": f"Team {k}",
                          "track": "initial" if k % 3 else "advanced"}
                         for m, s in (("a1c", 1), ("sbp", 10)) for k in range(1, n + 1)])
    change = pd.DataFrame({"measure": ["a1c", "sbp"], "group": "all", "mean_change": [-3.0, -30.0]})
    return team, change


def test_forest_plot_of_many_teams_draws_the_extremes_and_says_so():
    """60 teams, cap 30: each panel has the 15 lowest mean changes (T060 .. T046, the largest falls) and
    the 15 highest (T015 .. T001); the caption and alt text say how many of how many and where the rest are."""
    team, change = _many_teams(60)
    rows = outcomes_figures.forest_rows(team)
    a1c = rows[rows["measure"] == "a1c"].sort_values("row")
    assert len(a1c) == outcomes_figures.FOREST_TEAMS_MAX == 30
    assert a1c["team_id"].head(15).tolist() == [f"T{k:03d}" for k in range(60, 45, -1)]
    assert a1c["team_id"].tail(15).tolist() == [f"T{k:03d}" for k in range(15, 0, -1)]
    assert a1c["row"].tolist() == list(range(15)) + list(range(16, 31))  # one empty row between the two sets
    fig = outcomes_figures.outcome_forest_chart(team, change)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 2 and all(len(ax.get_yticks()) == 30 for ax in panels)
    assert panels[0].get_yticklabels()[0].get_text() == "T060 Team 60"
    assert any("30 teams not drawn" in t.get_text() for t in panels[0].texts)
    plt.close(fig)
    text = outcomes_figures.forest_text(team, change)
    assert ("With 60 teams, each panel draws the 15 teams with the lowest and the 15 with the highest mean change, "
            "ordered by it; every team is in tables/outcome_change_by_team.csv.") in text["caption"]
    assert "HbA1c: 58 of 60 teams improved with a CI below zero" in text["caption"]  # all teams: T001, T002 reach 0
    assert "rows for the 15 teams with the lowest and the 15 with the highest mean change of 60 teams" in text["alt_text"]


def test_forest_plot_up_to_the_cap_keeps_one_row_per_team():
    team, change = _many_teams(30)
    assert "draws" not in outcomes_figures.forest_text(team, change)["caption"]
    fig = outcomes_figures.outcome_forest_chart(team, change)
    assert len(fig.axes[0].get_yticks()) == 30 and fig.axes[0].get_yticklabels()[0].get_text() == "Team 1"
    plt.close(fig)
