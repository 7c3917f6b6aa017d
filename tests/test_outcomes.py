"""Outcome change (notebook 03): the baseline/follow-up pairs, the change table and its groups, team change,
the mixed model's terms, INR time in therapeutic range per group, and the figures (what each draws and says).

Every number is checked against a value worked out by hand (arithmetic in the docstrings and comments) or a
literal per-patient reading of the rule; the statistics' own references are in tests/test_stats_*.py.
"""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaluation.analyses.outcomes import compute as outcomes_compute
from evaluation.analyses.outcomes import figures as outcomes_figures
from evaluation.core.errors import ParamsError
from evaluation.core.params import check
from evaluation.stats import paired

PARAMS = check({"cohort_id": "t", "data_dir": "/tmp"})
ENROLLED = pd.Timestamp("2015-03-01")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def with_subgroups(*names: str):
    return dataclasses.replace(PARAMS, subgroups=list(names))


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


def pairs_for(measurements, patients, teams=TEAMS, params=PARAMS):
    return outcomes_compute.baseline_followup(measurements, patients, teams, params)


def change_for(pairs, patients, params=PARAMS, teams=TEAMS):
    return outcomes_compute.change_table(pairs, patients, teams, params)


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
    table = change_for(pairs, patients, with_subgroups())
    row = table.set_index("measure").loc["a1c"]
    assert row["n"] == 2 and row["n_no_followup"] == 1
    assert row["baseline_mean"] == pytest.approx((9.0 + 8.5) / 2)  # P2's 9.5 is left out


def test_measure_nobody_has_keeps_a_row_with_n_zero():
    """LDL has a goal but no measurements: its `all` row says n = 0 and why; no strata rows."""
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0)])
    patients = people(["P1"], diabetes=[1])
    pairs = pairs_for(m, patients)
    table = change_for(pairs, patients)
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
    table = change_for(pairs, people(["P1", "P2"]), with_subgroups()).set_index("measure")
    assert table.loc["bp", "n_goal_baseline"] == 1 and table.loc["bp", "n_goal_followup"] == 1
    assert table.loc["bp", "goal"] == "sbp < 140 and dbp < 90"
    assert np.isnan(table.loc["bp", "mean_change"])


# --- change table and team change ------------------------------------------------------------------

def test_change_table_groups_and_columns():
    """`all` first, then track and condition strata; a patient can sit in two conditions."""
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0), ("P2", "a1c", 0, 10.0), ("P2", "a1c", 180, 7.0),
               ("P3", "a1c", 0, 8.4), ("P3", "a1c", 180, 7.9)])
    patients = people(["P1", "P2", "P3"], teams=["T1", "T1", "T2"], diabetes=[1, 1, 1], hypertension=[1, 0, 0])
    table = change_for(pairs_for(m, patients), patients, with_subgroups("track", "condition"))
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
        change_for(pairs_for(m, patients), patients, with_subgroups("colour"))


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
    effects, models, _ = outcomes_compute.fit_change_models(_change_cohort(3), ["a1c"])
    assert effects["term"].tolist() == ["intercept (change at mean baseline)", "track=advanced",
                                        "baseline (per unit above mean)"]
    # the simulated slope on baseline is -0.3: the estimate lands near it
    slope = effects.set_index("term").loc["baseline (per unit above mean)"]
    assert slope["ci_low"] < -0.3 < slope["ci_high"]
    assert models["in_words"].iloc[0].startswith("HbA1c:")  # the measure's label, not its code
    _, _, teams = outcomes_compute.fit_change_models(_change_cohort(3), ["a1c"])
    assert teams["team_id"].tolist() == ["T1", "T2", "T3"] and (teams["measure"] == "a1c").all()
    assert (teams["ci_low"] < teams["effect"]).all() and (teams["effect"] < teams["ci_high"]).all()
    effects, models, _ = outcomes_compute.fit_change_models(_change_cohort(2), ["a1c"])
    assert effects.empty and models["in_words"].iloc[0].startswith("Not modelled: 16 paired patients in 2 team(s)")


def test_one_track_drops_the_track_term():
    effects, _, _ = outcomes_compute.fit_change_models(_change_cohort(3, tracks=("initial",)), ["a1c"])
    assert not any(effects["term"].str.startswith("track="))


def test_icc_in_words():
    assert outcomes_compute.icc_in_words("HbA1c", 0.18, 10) == (
        "HbA1c: 18% of the variation in change left after baseline and track lies between teams rather than "
        "between patients of the same team (ICC 0.18, 10 teams).")
    assert outcomes_compute.icc_in_words("SBP", 0.0, 10) == (
        "SBP: teams differ hardly at all once baseline and track are accounted for (ICC 0.00: under 1% of the "
        "remaining variation in change lies between the 10 teams).")
    assert outcomes_compute.icc_in_words("SBP", float("nan"), 10) == "SBP: the team share of variation could not be estimated."


# --- INR time in therapeutic range -----------------------------------------------------------------

def inr(rows) -> pd.DataFrame:
    return frame([(p, "inr", d, v) for p, d, v in rows])


def test_ttr_after_enrollment_and_summary():
    """INRs before enrollment are left out: P1 is 2.5 on days 0 and 14 (100%); P2 goes 1.0 -> 4.0 over 30
    days, in range for a third of the line (33.3%). The summary counts patients at the 60% goal, by track
    (T1 initial, T2 advanced)."""
    m = inr([("P1", -20, 1.0), ("P1", 0, 2.5), ("P1", 14, 2.5), ("P2", 0, 1.0), ("P2", 30, 4.0)])
    patients = people(["P1", "P2"], teams=["T1", "T2"])
    ttr = outcomes_compute.ttr_after_enrollment(m, patients, PARAMS.goals["inr"], 56)
    assert ttr.set_index("patient_id")["ttr_percent"].to_dict() == pytest.approx({"P1": 100.0, "P2": 100 / 3})
    summary = outcomes_compute.ttr_summary(ttr, patients, TEAMS, with_subgroups("track", "condition")).set_index("group")
    assert list(summary.index) == ["all", "track=advanced", "track=initial"]  # condition is not a TTR subgroup
    assert summary.loc["all", "n"] == 2 and summary.loc["all", "n_at_goal"] == 1
    assert summary.loc["all", "mean_ttr"] == pytest.approx((100 + 100 / 3) / 2)
    assert summary.loc["track=initial", "n_at_goal"] == 1 and summary.loc["track=advanced", "n_at_goal"] == 0


def test_ttr_needs_a_range_goal():
    with pytest.raises(ParamsError, match="`goals.inr` must be a range"):
        outcomes_compute.ttr_after_enrollment(inr([("P1", 0, 2.5)]), people(["P1"]), PARAMS.goals["a1c"], 56)


def test_no_inr_at_all_gives_empty_ttr_and_a_zero_summary():
    """A cohort without INR measurements: no TTR rows, the summary's `all` row says n = 0, and no histogram."""
    ttr = outcomes_compute.ttr_after_enrollment(frame([("P1", "a1c", 0, 9.0)]), people(["P1"]), PARAMS.goals["inr"], 56)
    assert ttr.empty
    summary = outcomes_compute.ttr_summary(ttr, people(["P1"]), TEAMS, PARAMS)
    assert summary["group"].tolist() == ["all"] and summary["n"].iloc[0] == 0
    assert outcomes_figures.ttr_histogram(ttr, PARAMS) is None


# --- statewide scale: the vectorised rule agrees with a plain reading -------------------------------

def _rule_by_hand(m: pd.DataFrame, patients: pd.DataFrame, params) -> dict:
    """The baseline/follow-up rule read literally, one patient and measure at a time (slow, obvious):
    {(patient, measure): (baseline_on, baseline_value, baseline at goal, followup_on, followup_value, followup
    at goal)}. A row without a value is no reading (validation rejects such rows; a blank must not become a
    baseline "not at goal")."""
    windows, combined, goals = params.windows, params.combined_goals, params.goals
    enrolled = dict(zip(patients["patient_id"], patients["enrolled_on"]))
    rows = [r for r in m.itertuples(index=False) if r.patient_id in enrolled and not np.isnan(r.value)]
    readings = {}
    for i, r in enumerate(rows):
        readings.setdefault((r.patient_id, r.measure), []).append((i, r.measured_on, r.value, bool(goals[r.measure].met(r.value))))
    for name, parts in combined.items():  # a day on which every part was measured (first reading of each)
        by_day: dict = {}
        for r in rows:
            if r.measure in parts:
                by_day.setdefault((r.patient_id, r.measured_on), {}).setdefault(r.measure, r.value)
        for (pid, on), got in by_day.items():
            if len(got) == len(parts):
                met = all(goals[part].met(got[part]) for part in parts)
                readings.setdefault((pid, name), []).append((len(rows), on, np.nan, met))
    out = {}
    for (pid, measure), rs in readings.items():
        off = [(i, on, v, (on - enrolled[pid]).days, met) for i, on, v, met in rs]
        base = [x for x in off if -windows["baseline_days"] <= x[3] <= windows["grace_days"]]
        before = [x for x in base if x[3] <= 0]
        b = (max(before, key=lambda x: (x[3], -x[0])) if before else min(base, key=lambda x: (x[3], x[0]))) if base else None
        follow = [x for x in off if windows["followup_min_days"] <= x[3] <= windows["followup_max_days"]
                  and (b is None or x[1] > b[1])]
        f = max(follow, key=lambda x: (x[3], x[0])) if follow else None
        out[(pid, measure)] = (b[1] if b else pd.NaT, b[2] if b else np.nan, b[4] if b else pd.NA,
                               f[1] if f else pd.NaT, f[2] if f else np.nan, f[4] if f else pd.NA)
    return out


@pytest.mark.parametrize("followup_min_days", [90, 0])
def test_vectorised_pairing_agrees_with_the_rule_read_patient_by_patient(followup_min_days):
    """Random readings with same-day repeats (the first on/before, the last in follow-up win), rows without a
    value, a patient not in patients.csv and partial BP days: the integer-coded pairing gives exactly what a
    literal per-patient reading of the rule gives. With follow-up from day 0 the two windows overlap, and a
    follow-up must come after the baseline day."""
    params = dataclasses.replace(PARAMS, windows={**PARAMS.windows, "followup_min_days": followup_min_days})
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
    pairs = pairs_for(m, patients, params=params)
    expected = _rule_by_hand(m, patients, params)
    assert set(zip(pairs["patient_id"], pairs["measure"])) == set(expected)
    assert list(pairs["patient_id"] + "/" + pairs["measure"]) == sorted(pairs["patient_id"] + "/" + pairs["measure"])
    got = {(r.patient_id, r.measure): (r.baseline_on, r.baseline_value, r.baseline_at_goal, r.followup_on,
                                       r.followup_value, r.followup_at_goal) for r in pairs.itertuples()}
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


# --- figures ---------------------------------------------------------------------------------------

def _many_teams(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A team_change-shaped table of n teams for two measures (team Tk's mean change is -k / 10) and the
    matching cohort rows of the change table."""
    team = pd.DataFrame([{"measure": m, "team_id": f"T{k:03d}", "n": 20, "mean_change": -k / 10 * s,
                          "ci_low": -k / 10 * s - 0.2, "ci_high": -k / 10 * s + 0.2, "team_name": f"Team {k}",
                          "track": "initial" if k % 3 else "advanced"}
                         for m, s in (("a1c", 1), ("sbp", 10)) for k in range(1, n + 1)])
    change = pd.DataFrame({"measure": ["a1c", "sbp"], "group": "all", "mean_change": [-3.0, -30.0]})
    return team, change




def visible_panels(fig) -> list:
    return [a for a in fig.axes if a.get_visible()]


def small_cohort():
    """Two patients on two teams: HbA1c 9.0 -> 8.0 (P1) and 10.0 -> 7.0 (P2): at goal (< 8) 0 of 2 at
    baseline, 1 of 2 at follow-up; P1's BP 150/95 -> 135/85 (not at goal, then at goal)."""
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 8.0), ("P2", "a1c", 0, 10.0), ("P2", "a1c", 180, 7.0),
               ("P1", "sbp", 0, 150), ("P1", "dbp", 0, 95), ("P1", "sbp", 180, 135), ("P1", "dbp", 180, 85)])
    patients = people(["P1", "P2"], teams=["T1", "T2"])
    pairs = pairs_for(m, patients)
    return pairs, change_for(pairs, patients, with_subgroups())


def test_goal_chart_draws_one_row_per_measure_with_its_n_and_says_the_shares():
    """Measures with a goal and pairs, in table order: HbA1c, SBP, DBP, BP (n = 2, 1, 1, 1; LDL has none). With the CMS threshold of
    11 every n is small, so no % is drawn and the caption hides them; with a threshold of 2, HbA1c's 0 of 2
    at baseline (0%) shows and 1 of 2 at follow-up (a count of 1) is hidden."""
    pairs, table = small_cohort()
    spec = outcomes_figures.goal_chart(table, PARAMS)
    assert (spec.figure_id, spec.section, spec.notebook) == ("outcomes_goal_before_after", "outcomes", "03_outcomes")
    [ax] = visible_panels(spec.figure)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "HbA1c\n(a1c < 8)", "Systolic blood pressure\n(sbp < 140)", "Diastolic blood pressure\n(dbp < 90)",
        "Blood pressure\n(sbp < 140 and dbp < 90)"]
    assert [t.get_text() for t in ax.texts] == ["n = <11; a % hidden: small count"] * 4
    assert "HbA1c a % hidden (small count) to a % hidden (small count) (n = <11, McNemar p = 1.000)" in spec.caption
    assert spec.caption.endswith("Goals: a1c < 8; sbp < 140; dbp < 90; sbp < 140 and dbp < 90.")
    assert spec.alt_text.startswith("Dot plot with one row per measure (4 measures)")
    lenient = outcomes_figures.goal_chart(table, dataclasses.replace(PARAMS, suppress_below=2))
    assert "HbA1c 0% to a % hidden (small count) (n = 2, McNemar p = 1.000)" in lenient.caption
    baseline = lenient.figure.axes[0].collections[0].get_offsets()
    assert baseline[0, 0] == 0  # HbA1c's 0% at baseline is drawn


def test_goal_chart_leaves_out_a_share_that_implies_a_small_count():
    """Of 100 patients, 5% at goal is 5 patients and 96% leaves 4 not at goal: both hidden; 40% (40 and 60)
    and 60% shown, with the McNemar p as ``format_p`` writes it."""
    table = pd.DataFrame({"measure": ["a1c", "ldl"], "group": "all", "n": [100, 100], "goal": ["a1c < 8", "ldl < 100"],
                          "pct_goal_baseline": [5.0, 40.0], "pct_goal_followup": [96.0, 60.0], "mcnemar_p": [0.0001, 0.2]})
    spec = outcomes_figures.goal_chart(table, PARAMS)
    assert "HbA1c a % hidden (small count) to a % hidden (small count) (n = 100, McNemar p < 0.001)" in spec.caption
    assert "LDL cholesterol 40% to 60% (n = 100, McNemar p = 0.200)" in spec.caption
    baseline, followup = (c.get_offsets() for c in spec.figure.axes[0].collections)
    assert list(np.ma.getmaskarray(baseline[:, 0])) == [True, False] and followup[1, 0] == 60.0


def test_forest_plot_draws_each_team_and_counts_the_improved():
    """Each team has one HbA1c pair, so no CI, so no team counts as improved with a CI below zero."""
    pairs, table = small_cohort()
    team = outcomes_compute.team_change(pairs, TEAMS, measures=["a1c", "sbp"])
    spec = outcomes_figures.forest(team, table, PARAMS)
    assert (spec.figure_id, spec.section) == ("outcomes_team_forest", "outcomes")
    panels = visible_panels(spec.figure)
    assert [a.get_title() for a in panels] == ["HbA1c (%)", "Systolic blood pressure (mmHg)"]
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["One", "Two"]
    assert "with 95% t-based CIs" in spec.caption
    assert "HbA1c: 0 of 2 teams improved with a CI below zero; Systolic blood pressure: 0 of 1 teams" in spec.caption
    assert "Shown" not in spec.caption
    assert spec.alt_text.startswith("Forest plot with 2 panels (HbA1c, Systolic blood pressure), one row per team")
    assert "with 90% t-based CIs" in outcomes_figures.forest(team, table, dataclasses.replace(PARAMS, alpha=0.1)).caption


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
    spec = outcomes_figures.forest(team, change, PARAMS)
    panels = visible_panels(spec.figure)
    assert len(panels) == 2 and all(len(ax.get_yticks()) == 30 for ax in panels)
    assert panels[0].get_yticklabels()[0].get_text() == "T060 Team 60"
    assert any("30 teams not drawn" in t.get_text() for t in panels[0].texts)
    assert spec.caption.endswith(" Shown: 30 of 60 teams, per measure the 15 with the lowest and the 15 with the "
                                 "highest mean change; every team is in tables/outcome_change_by_team.csv.")
    assert "HbA1c: 58 of 60 teams improved with a CI below zero" in spec.caption  # all teams: T001, T002 reach 0
    assert "rows for the 15 with the lowest and the 15 with the highest mean change of 60 teams" in spec.alt_text


def test_forest_plot_up_to_the_cap_keeps_one_row_per_team():
    team, change = _many_teams(30)
    rows = outcomes_figures.forest_rows(team)
    assert rows.groupby("measure")["row"].apply(list).tolist() == [list(range(30))] * 2  # by team id, both panels
    spec = outcomes_figures.forest(team, change, PARAMS)
    assert "Shown" not in spec.caption
    ax = spec.figure.axes[0]
    assert len(ax.get_yticks()) == 30 and ax.get_yticklabels()[0].get_text() == "Team 1"


def test_ttr_histogram_counts_the_patients_at_goal():
    """Twelve patients at 100% and twelve at 25%: median 62.5 (written 62%, Python rounds half to even), 12 of
    24 at the 60% goal; two bars of 12 (the 20-30 and 90-100 bins: no small bin to merge), the goal line at 60."""
    ttr = pd.DataFrame({"patient_id": [f"P{i:02d}" for i in range(24)], "ttr_percent": [100.0] * 12 + [25.0] * 12})
    spec = outcomes_figures.ttr_histogram(ttr, PARAMS)
    assert (spec.figure_id, spec.section) == ("outcomes_inr_ttr", "outcomes")
    assert ("Time in therapeutic range (INR 2-3) from enrollment on, by Rosendaal linear interpolation, for 24 patients "
            "with two or more INRs; median 62%. 12 of 24 patients reached 60% (dashed line).") == spec.caption
    [ax] = visible_panels(spec.figure)
    assert sorted(t.get_text() for t in ax.texts) == ["12", "12"]
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [60]


def test_team_goal_counts_count_paired_patients_at_goal_by_team():
    """By hand (default goals: a1c < 8; bp = sbp < 140 and dbp < 90): T1's P1 9.0 -> 7.5 (reaches goal), P2
    7.9 -> 8.2 (loses it); T2's P3 8.5 -> 7.0 (reaches it); P4 has no follow-up and is left out. So a1c: T1 n 2,
    1 at goal at baseline and 1 at follow-up (50%); T2 n 1, 0 and 1 (100%). bp: P1 150/95 -> 130/80 at goal."""
    m = frame([("P1", "a1c", 0, 9.0), ("P1", "a1c", 180, 7.5), ("P2", "a1c", 0, 7.9), ("P2", "a1c", 180, 8.2),
               ("P3", "a1c", 0, 8.5), ("P3", "a1c", 180, 7.0), ("P4", "a1c", 0, 9.5),
               ("P1", "sbp", 0, 150), ("P1", "dbp", 0, 95), ("P1", "sbp", 180, 130), ("P1", "dbp", 180, 80)])
    pairs = pairs_for(m, people(["P1", "P2", "P3", "P4"], teams=["T1", "T1", "T2", "T2"]))
    got = outcomes_compute.team_goal_counts(pairs, TEAMS, measures=["a1c", "bp"])
    assert got[["measure", "team_id", "n", "n_goal_baseline", "n_goal_followup"]].values.tolist() == [
        ["a1c", "T1", 2, 1, 1], ["a1c", "T2", 1, 0, 1], ["bp", "T1", 1, 0, 1]]
    assert got["pct_goal_followup"].tolist() == [50.0, 100.0, 100.0]
    assert got["team_name"].tolist() == ["One", "Two", "One"]
