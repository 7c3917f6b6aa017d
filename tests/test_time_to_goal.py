"""Time to goal: the follow-up rule, the Kaplan-Meier tables, Cox, the cumulative incidence and MTP resolution
(evaluation/analyses/time_to_goal).

The follow-up rule is checked on a hand-built cohort whose every patient's follow-up is worked out beside the
test, and on a seeded random cohort against a per-patient loop written from the rule as the notebook states
it. Cox reference values come from R's survival package on the `lung` data (bundled with lifelines, which
recodes R's status 1 = censored / 2 = dead to 0 / 1); others from arithmetic shown beside the test.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_lung

from evaluation import ParamsError, load_cohort
from evaluation.analyses.outcomes import compute as outcomes_compute
from evaluation.analyses.time_to_goal import competing as ttg_competing
from evaluation.analyses.time_to_goal import compute as ttg_compute
from evaluation.analyses.time_to_goal import cox as ttg_cox
from evaluation.analyses.time_to_goal import figures as ttg_figures
from evaluation.analyses.time_to_goal import kaplan_meier as ttg_km
from evaluation.analyses.time_to_goal import mtp as ttg_mtp
from evaluation.core.params import check
from evaluation.data.cohort import Cohort
from tests.conftest import write_cohort


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



# --- the follow-up rule on a hand-built cohort ------------------------------------------------------------

ENROLLED = dt.date(2015, 3, 1)


def day(n: int) -> str:
    return (ENROLLED + dt.timedelta(days=n)).isoformat()


def build_rule_cohort(tmp_path) -> tuple:
    """(params, cohort) of the hand-built cohort: every patient one case of the rule (comments beside each)."""
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
    write_cohort(tmp_path / "data", files)
    params = make_params(tmp_path)
    return params, load_cohort(params)


@pytest.fixture
def rule_cohort(tmp_path):
    return build_rule_cohort(tmp_path)



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
    params, cohort = rule_cohort
    pairs = outcomes_compute.cohort_pairs(cohort, params)
    theirs = pairs.dropna(subset=["baseline_on"]).set_index(["measure", "patient_id"])["baseline_on"]
    ours = ttg_compute.time_to_goal_data(cohort, params).dropna(subset=["baseline_on"]).set_index(["measure", "patient_id"])
    shared = ours.index.intersection(theirs.index)
    assert len(shared) == len(ours) == 9  # a1c: P01-P05, P07, P08; bp: P09; inr: P10
    assert (ours.loc[shared, "baseline_on"] == theirs.loc[shared]).all()


# --- the follow-up rule, written again one patient at a time ------------------------------------------------

AT_GOAL = {"a1c": lambda v: v < 8, "sbp": lambda v: v < 140, "dbp": lambda v: v < 90, "ldl": lambda v: v < 100,
           "inr": lambda v: 2 <= v <= 3}  # the default goals, written out


def followup_by_hand(patients: pd.DataFrame, measurements: pd.DataFrame, measure: str, *, baseline_days: int,
                     grace_days: int, competing: tuple[str, ...] = ("died",)) -> pd.DataFrame:
    """The rule as the notebook states it, patient by patient, with plain loops (no code of the analysis).

    Readings: values present, on or before the patient's exit; for bp, the days with both sbp and dbp (the first
    of each in the file that day), at goal when both are. Baseline: in [enrollment - baseline_days, enrollment +
    grace_days], the last reading on or before enrollment, else the first after it; two on one day: the first
    in the file. Followed: a baseline not at goal. Event: the first later reading at goal, days from
    enrollment. Censored: at the last reading (the baseline when none follows) or at exit if earlier, never
    before day 0. Competing: no goal and an exit for a competing reason, dated at the exit.
    """
    rows = []
    by_patient = {pid: m for pid, m in measurements.groupby("patient_id", sort=False)}
    for p in patients.itertuples(index=False):
        mine = by_patient.get(p.patient_id, measurements.iloc[:0])
        if measure == "bp":
            days: dict = {}
            for r in mine.itertuples(index=False):
                if r.measure in ("sbp", "dbp") and r.value == r.value:
                    days.setdefault(r.measured_on, {}).setdefault(r.measure, r.value)
            readings = [(d, v["sbp"], AT_GOAL["sbp"](v["sbp"]) and AT_GOAL["dbp"](v["dbp"]))
                        for d, v in days.items() if len(v) == 2]
        else:
            readings = [(r.measured_on, r.value, AT_GOAL[measure](r.value)) for r in mine.itertuples(index=False)
                        if r.measure == measure and r.value == r.value]
        exited = p.exited_on if pd.notna(p.exited_on) else None
        readings = [r for r in readings if exited is None or r[0] <= exited]
        if not readings:
            continue

        def rel(date) -> int:
            return (date - p.enrolled_on).days

        window = [r for r in readings if -baseline_days <= rel(r[0]) <= grace_days]
        on_or_before = [r for r in window if rel(r[0]) <= 0]
        after = [r for r in window if rel(r[0]) > 0]
        baseline = None
        if on_or_before:
            last_day = max(r[0] for r in on_or_before)
            baseline = next(r for r in on_or_before if r[0] == last_day)
        elif after:
            first_day = min(r[0] for r in after)
            baseline = next(r for r in after if r[0] == first_day)
        row = {"measure": measure, "patient_id": p.patient_id, "has_baseline": baseline is not None,
               "baseline_on": pd.NaT, "baseline_value": np.nan, "at_goal_baseline": pd.NA, "followed": False,
               "n_followup": 0, "goal_on": pd.NaT, "last_on": pd.NaT, "days": np.nan, "event": np.nan,
               "cause": np.nan, "cause_days": np.nan}
        if baseline is not None:
            later = [r for r in readings if r[0] > baseline[0]]
            goal_days = [r[0] for r in later if r[2]]
            row.update(baseline_on=baseline[0], baseline_value=baseline[1], at_goal_baseline=bool(baseline[2]),
                       followed=not baseline[2], n_followup=len(later), goal_on=min(goal_days, default=pd.NaT),
                       last_on=max((r[0] for r in later), default=pd.NaT))
        if row["followed"]:
            if goal_days:
                row.update(days=rel(min(goal_days)), event=1, cause=1, cause_days=rel(min(goal_days)))
            else:
                end = max(r[0] for r in readings if r[0] >= baseline[0])
                if exited is not None and exited < end:
                    end = exited
                row.update(days=max(0, rel(end)), event=0, cause=0)
                row["cause_days"] = row["days"]
                if exited is not None and p.exit_reason in competing:
                    row.update(cause=2, cause_days=max(0, rel(exited)))
        rows.append(row)
    return pd.DataFrame(rows)


def random_cohort(tmp_path, seed: int = 7, n: int = 300) -> Cohort:
    """Patients enrolled over two months, 30% exited (died or moved); 6,000 readings on 15-day steps (so many on
    one day), 3% without a value, some after exit, some of patients not in patients.csv, and most systolic
    readings with a diastolic one the same day, in random file order."""
    rng = np.random.default_rng(seed)
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
    days = rng.integers(-100, 400, rows) // 15 * 15
    measurements = pd.DataFrame({"patient_id": pid, "measure": measure,
                                 "measured_on": base + pd.to_timedelta(days, unit="D").to_numpy(), "value": value})
    sbp = measurements[(measurements["measure"] == "sbp") & (rng.random(rows) < 0.7)]  # most with a dbp that day
    dbp = sbp.assign(measure="dbp", value=rng.uniform(70, 100, len(sbp)))
    measurements = pd.concat([measurements, dbp]).sample(frac=1, random_state=seed).reset_index(drop=True)
    return Cohort(data_dir=tmp_path, tables={"patients": patients, "teams": teams, "measurements": measurements},
                  quality=pd.DataFrame())


def test_time_to_goal_data_follows_the_rule_patient_by_patient(tmp_path):
    """On a random cohort with every awkward case, the follow-up of every patient and measure equals the one
    worked out by :func:`followup_by_hand`; patients not followed have no days."""
    cohort = random_cohort(tmp_path)
    params = make_params(tmp_path)
    assert {m: str(g) for m, g in params.goals.items()} == {
        "a1c": "a1c < 8", "sbp": "sbp < 140", "dbp": "dbp < 90", "ldl": "ldl < 100", "inr": "inr 2-3"}
    data = ttg_compute.time_to_goal_data(cohort, params)
    assert list(dict.fromkeys(data["measure"])) == ["a1c", "bp", "ldl", "inr"]
    compared = ["has_baseline", "baseline_on", "baseline_value", "at_goal_baseline", "followed", "n_followup",
                "goal_on", "last_on"]
    outcome = ["days", "event", "cause", "cause_days"]
    cases = pd.DataFrame(0, index=["followed", "reached", "competing", "censored"], columns=list(data["measure"].unique()))
    for measure, ours in data.groupby("measure", sort=False):
        hand = followup_by_hand(cohort.patients, cohort.measurements, measure, baseline_days=params.windows["baseline_days"],
                                grace_days=params.windows["grace_days"]).set_index("patient_id")
        ours = ours.set_index("patient_id")
        assert sorted(ours.index) == sorted(hand.index) and ours.index.is_monotonic_increasing
        cases[measure] = [hand["followed"].sum(), *((hand["cause"] == c).sum() for c in (1, 2, 0))]
        hand = hand.loc[ours.index]
        for column in compared:
            pd.testing.assert_series_equal(ours[column].astype(object), hand[column].astype(object), check_names=False,
                                           obj=f"{measure}: {column}")
        followed = hand["followed"].astype(bool)
        pd.testing.assert_frame_equal(ours.loc[followed, outcome].astype(float), hand.loc[followed, outcome].astype(float),
                                      obj=f"{measure}: outcome")
        assert ours.loc[~followed, ["days", "cause_days"]].isna().all(axis=None)
    assert (cases > 0).all(axis=None) and cases.loc["followed"].sum() > 300  # every case, for every measure


# --- Kaplan-Meier tables --------------------------------------------------------------------------------

def test_time_to_goal_table_columns_and_rows(rule_cohort):
    params, cohort = rule_cohort
    table = ttg_km.time_to_goal_table(ttg_compute.time_to_goal_data(cohort, params), params)
    assert list(table.columns[:8]) == ttg_km.TIME_TO_GOAL_COLUMNS
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
    by_day = ttg_km.at_goal_by_day(ttg_compute.time_to_goal_data(cohort, params), params)
    row = by_day[(by_day["measure"] == "a1c") & (by_day["group"] == "all")].set_index("days")
    # At day 60: only P07 (day 50) reached goal; at risk at 50: P01, P02, P03, P07 (P08 gone at 0, P04 at 40)
    # -> S = 1 - 1/4 = 0.75 -> 25% at goal.
    assert row.loc[60, "pct_at_goal"] == pytest.approx(25.0)
    assert row.loc[60, "text"].endswith("; log)")
    assert row.loc[365, "text"] == "100.0% (the Kaplan-Meier curve reaches 100%; no CI)"  # P01, the last one, at day 120
    # Without P01 the last follow-up is P02's censoring on day 90: day 365 is beyond everyone's follow-up.
    data = ttg_compute.time_to_goal_data(cohort, params)
    by_day = ttg_km.at_goal_by_day(data[data["patient_id"] != "P01"], params)
    row = by_day[(by_day["measure"] == "a1c") & (by_day["group"] == "all")].set_index("days")
    assert row.loc[60, "pct_at_goal"] == pytest.approx(100 / 3)  # at risk at 50: P02, P03, P07 -> S = 2/3
    assert row.loc[365, "text"] == "not estimable (no one followed that long)"
    assert np.isnan(row.loc[365, "pct_at_goal"])


def test_measures_and_reported_subgroups_from_params(tmp_path):
    assert ttg_compute.analysed_measures(make_params(tmp_path)) == ["a1c", "bp", "ldl", "inr"]
    assert ttg_km.reported_subgroups(make_params(tmp_path)) == ["track", "team", "condition"]
    assert ttg_km.reported_subgroups(make_params(tmp_path, subgroups=["sex"])) == ["sex", "team"]
    with pytest.raises(ParamsError, match="`survival.measures` must name measures that have a goal .*got 'hba1c'"):
        ttg_compute.analysed_measures(make_params(tmp_path, survival={"measures": ["hba1c"]}))
    with pytest.raises(ParamsError, match="`subgroups`.* must be .*got 'region'"):
        make_params(tmp_path, subgroups=["region"])


def test_groups_of_every_subgroup_in_order(tmp_path, rule_cohort):
    """a1c followed: P01, P02, P03, P08 of T01 (initial, Iowa), P04 and P07 of T02 (advanced, Minnesota); all have
    diabetes but P07. ``all`` first, then each subgroup's groups sorted by value, team after track."""
    params, cohort = rule_cohort
    table = ttg_km.time_to_goal_table(ttg_compute.time_to_goal_data(cohort, params), params)
    a1c = table[table["measure"] == "a1c"]
    assert list(zip(a1c["group"], a1c["n"])) == [("all", 6), ("track=advanced", 2), ("track=initial", 4),
                                                 ("team=T01", 4), ("team=T02", 2), ("condition=diabetes", 5)]
    others = make_params(tmp_path, subgroups=["sex", "state", "setting"])
    table = ttg_km.time_to_goal_table(ttg_compute.time_to_goal_data(cohort, others), others)
    a1c = table[table["measure"] == "a1c"]
    assert list(zip(a1c["group"], a1c["n"])) == [("all", 6), ("sex=F", 6), ("state=IA", 4), ("state=MN", 2),
                                                 ("setting=community_pharmacy", 6), ("team=T01", 4), ("team=T02", 2)]


def test_row_groups_group_each_row_by_its_own_value():
    """An MTP's category is the row's, not its patient's: P1's two MTPs fall in two groups."""
    d = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "category": ["b", "a", "b"], "days": [1.0, 2, 3]})
    groups = ttg_km.row_groups(d, "category")
    assert [(g, list(rows)) for g, rows in groups] == [("category=a", [1]), ("category=b", [0, 2])]
    assert [(g, list(rows)) for g, rows in ttg_km.row_groups(d, None)] == [("all", [0, 1, 2])]


def test_logrank_by_sex_matches_r(lung, lung_params):
    """R: survdiff(Surv(time, status) ~ sex, data = lung) -> Chisq = 10.3267 on 1 df, p = 0.00131."""
    km = ttg_km.kaplan_meier(lung_data(lung), lung_params, "lung", by="sex")
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
    km = ttg_km.kaplan_meier(data, lung_params, "lung", by="sex")
    # t=1: n=4 (2 F), d=1 -> E_F = 2/4, V = 1 * 2/4 * 2/4 * (4-1)/(4-1) = 1/4;
    # t=2: n=3 (1 F), d=1 -> E_F = 1/3, V = 1/3 * 2/3 = 2/9.  O_F - E_F = 2 - 5/6 = 7/6;
    # chi2 = (7/6)^2 / (1/4 + 2/9) = 49/17 = 2.8824.
    assert km.logrank["test_statistic"].iat[0] == pytest.approx((7 / 6) ** 2 / (1 / 4 + 2 / 9))
    males = km.summary.set_index("group").loc["sex=M"]
    assert males["events"] == 0 and males["median_text"].startswith("not reached")
    none = ttg_km.kaplan_meier(data.assign(event=0, cause=0), lung_params, "lung", by="sex")
    assert np.isnan(none.logrank["p_value"].iat[0])
    assert none.logrank["note"].iat[0] == "no events: no test"


# --- Cox ------------------------------------------------------------------------------------------------

def test_cox_matches_r_coxph(lung, lung_params):
    """R: coxph(Surv(time, status) ~ age + sex, data = lung): coef age 0.017045 (HR 1.01719, se 0.009223),
    sex -0.513219 (HR 0.59857, 95% CI 0.4311 to 0.8311). Here sex 2 is `track = advanced`, lung age is the
    baseline value (step 1), and our constant age is left out with a note. Both fits iterate Newton-Raphson
    to far below the printed digits (R: relative change in log-likelihood < 1e-9), so R's rounding sets the
    tolerances."""
    hr, check_ph, notes = ttg_cox.cox_model(lung_data(lung), lung_params, "lung")
    hr = hr.set_index("covariate")
    assert hr.loc["track", "hazard_ratio"] == pytest.approx(0.59857, abs=1e-5)  # R prints 5 significant digits
    assert hr.loc["track", "ci_low"] == pytest.approx(0.4311, abs=5e-5)  # R prints 4 decimals
    assert hr.loc["track", "ci_high"] == pytest.approx(0.8311, abs=5e-5)
    assert hr.loc["baseline value", "hazard_ratio"] == pytest.approx(1.01719, abs=1e-5)
    # p = 2 * pnorm(-0.017045 / 0.009223) = 0.06459 from R's printed coef and se, which pin it to ~2e-5
    assert hr.loc["baseline value", "p_value"] == pytest.approx(0.06459, abs=5e-5)
    assert any("age left out" in n for n in notes)
    assert list(check_ph["covariate"]) == ["track", "baseline value", "all covariates (global)"]


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
    _, ph, _ = ttg_cox.cox_model(crossing, lung_params, "lung")
    track = ph.set_index("covariate").loc["track"]
    assert track["p_value"] < 0.001
    assert track["verdict"].startswith("The effect of track seems to change over follow-up")
    same = crossing.assign(days=np.tile(np.r_[early, late], 2), event=1)
    _, ph_same, _ = ttg_cox.cox_model(same, lung_params, "lung")
    assert ph_same.set_index("covariate").loc["track", "verdict"].startswith("No sign that the effect of track")
    assert ttg_cox.ph_verdict("age", 0.2, 0.05) == "No sign that the effect of age changes over follow-up (p = 0.200)."


def test_cox_too_few_events_is_a_note_not_an_error(lung_params):
    data = pd.DataFrame({"measure": "lung", "followed": True, "days": [10.0, 20, 30], "event": [0, 0, 0],
                         "track": ["initial", "advanced", "initial"], "baseline_value": [9.0, 10, 11], "age": [50.0, 60, 70],
                         "team_id": "T01"})
    hr, ph, notes = ttg_cox.cox_model(data, lung_params, "lung")
    assert hr.empty and ph.empty
    assert notes[-1] == "No Cox model: 0 event(s) in 3 patient(s) are too few."


def lung_by_sex(lung: pd.DataFrame) -> pd.DataFrame:
    """lung_data with a constant baseline value and age: the model is time to goal ~ track (sex 2 = advanced)."""
    return lung_data(lung).assign(baseline_value=1.0)


def test_cox_leaves_out_a_covariate_nobody_has_and_keeps_everyone(lung, lung_params):
    """R: coxph(Surv(time, status) ~ sex, data = lung) prints exp(coef) 0.588, lower .95 0.4237, upper .95 0.816
    (coef -0.5310, 165 events in 228). An engagement score missing for every team must give that same fit,
    bit for bit, with a note, instead of dropping all 228 patients for a missing covariate."""
    alone, _, alone_notes = ttg_cox.cox_model(lung_by_sex(lung), lung_params, "lung")
    nobody = pd.DataFrame({"team_id": ["T01"], "engagement_score": [np.nan]})
    hr, ph, notes = ttg_cox.cox_model(lung_by_sex(lung), lung_params, "lung", nobody)
    track = hr.set_index("covariate").loc["track"]
    assert track["hazard_ratio"] == pytest.approx(0.588, abs=5e-4)  # R prints 3 decimals
    assert track["ci_low"] == pytest.approx(0.4237, abs=5e-5)  # R prints 4 decimals
    assert track["ci_high"] == pytest.approx(0.816, abs=5e-4)
    assert (track["n"], track["events"]) == (228, 165)
    pd.testing.assert_frame_equal(hr, alone)  # the same fit, exactly
    assert list(hr["covariate"]) == ["track"] and list(ph["covariate"]) == ["track", "all covariates (global)"]
    assert "team engagement score left out of the Cox model: no patient has a value." in notes
    assert not any("missing covariate" in n for n in notes)
    assert notes == alone_notes + ["team engagement score left out of the Cox model: no patient has a value."]


def test_cox_with_one_track_leaves_track_out(lung, lung_params):
    """One track for everyone: track is left out (a constant covariate makes the fit singular), the rest fitted.
    R: coxph(Surv(time, status) ~ age, data = lung) prints exp(coef) 1.0189, 95% CI 1.0007 to 1.0374, p 0.0419."""
    data = lung_data(lung).assign(track="initial")
    hr, _, notes = ttg_cox.cox_model(data, lung_params, "lung")
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
    hr, _, notes = ttg_cox.cox_model(data, lung_params, "lung", scores)
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
    hr, ph, notes = ttg_cox.cox_model(data, lung_params, "lung")
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
    covariate = ttg_cox.engagement_covariate(cohort, params)
    assert covariate.scores is None
    note = ("team engagement score left out of the Cox model: this cohort has no events.csv or attendance.csv, "
            "and no milestones.csv (or the file is empty), which the score needs.")
    assert covariate.note == note
    cox = ttg_cox.cox_models(ttg_compute.time_to_goal_data(cohort, params), params, covariate)
    assert cox.notes[cox.notes["measure"] == "all"]["note"].tolist() == [note]
    assert not cox.notes["note"].str.contains("engagement score left out of the Cox model: no patient").any()


def test_engagement_covariate_from_attendance(tmp_path, rule_cohort):
    """T01 attended 2 of 2 recorded events (score 100), T02 1 of 2 (50): only attendance counts, milestones absent."""
    params, _ = rule_cohort
    cohort = with_files(tmp_path, params, ENGAGEMENT_FILES)
    covariate = ttg_cox.engagement_covariate(cohort, params)
    assert covariate.note is None
    scores = covariate.scores.set_index("team_id")["engagement_score"].to_dict()
    assert scores == pytest.approx({"T01": 100.0, "T02": 50.0})
    only_events = with_files(tmp_path, params, {"attendance.csv": "event_id,team_id,attended\n"})
    note = ttg_cox.engagement_covariate(only_events, params).note
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
        ttg_cox.engagement_covariate(cohort, zero)

    def broken(cohort, params):
        raise EvaluationError("events.csv: something the engagement analysis refuses")

    monkeypatch.setattr(ttg_cox, "engagement_scores", broken)
    with pytest.raises(EvaluationError, match="something the engagement analysis refuses"):
        ttg_cox.engagement_covariate(cohort, params)



# --- competing risks ------------------------------------------------------------------------------------

def test_cumulative_incidence_on_the_cohort(rule_cohort):
    """a1c, followed: P01 goal 120, P02 cens 90, P03 cens 60, P04 died 100 (competing), P07 goal 50, P08 cens 0.
    AJ: t=0 censor; t=50: n=5 -> CIF_goal = 1/5, S = 4/5; t=60, 90: censored; t=100: n=2 -> CIF_comp = 4/5 * 1/2
    = 0.4, S = 0.4; t=120: n=1 -> CIF_goal = 0.2 + 0.4 = 0.6."""
    params, cohort = rule_cohort
    cif = ttg_competing.cumulative_incidence(ttg_compute.time_to_goal_data(cohort, params), params, "a1c").set_index("time")
    assert cif.loc[120, "cif_goal"] == pytest.approx(0.6)
    assert cif.loc[120, "cif_competing"] == pytest.approx(0.4)


# --- MTP resolution -------------------------------------------------------------------------------------

def test_mtp_resolution(tmp_path, rule_cohort):
    """MTPs: resolved the same day (0), after 10 days, unresolved and censored at the patient's exit (day 150,
    so 140 days). S(0) = 2/3, S(10) = 1/3 -> median 10; by day 5: 33.3% resolved, by day 30: 66.7%."""
    _, cohort = rule_cohort
    params = make_params(tmp_path, survival={"mtp_horizons_days": [5, 30]})
    data = ttg_mtp.mtp_resolution_data(cohort, params)
    assert sorted(data["days"]) == [0, 10, 140]
    table = ttg_mtp.mtp_resolution(data, params).set_index("group")
    assert table.loc["all", "median_days"] == 10
    assert table.loc["all", "pct_resolved_5d"] == pytest.approx(100 / 3)
    assert table.loc["all", "pct_resolved_30d"] == pytest.approx(200 / 3)
    assert table.loc["category=nonadherence", "resolved"] == 2


# --- not estimable, never 0: nobody followed, or no one followed that long ----------------------------------

def test_measure_nobody_was_followed_for_is_not_estimable(rule_cohort):
    """No LDL readings at all, and a1c kept to P05 (at goal at baseline, so not followed): both measures have
    nobody followed. Every share and median is NaN, and every text built from them says "not estimable"."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    data = data[(data["measure"] != "a1c") | (data["patient_id"] == "P05")]
    assert not data[data["measure"].isin(["a1c", "ldl"])]["followed"].any()
    competing = ttg_competing.cumulative_incidence_by_day(data, params)
    for m in ("a1c", "ldl"):
        rows = competing[(competing["measure"] == m) & (competing["group"] == "all")]
        assert len(rows) == 3 and (rows["n"] == 0).all()
        assert rows[["pct_goal", "pct_competing_exit", "pct_goal_ignoring_competing"]].isna().all(axis=None)
    caption = ttg_figures.competing_risks(data, competing, params).caption
    assert "HbA1c: not estimable (none followed)" in caption and "LDL cholesterol: not estimable (none followed)" in caption
    assert "HbA1c: 0%" not in caption and "nan" not in caption.lower()
    by_day = ttg_km.at_goal_by_day(data, params)
    a1c = by_day[(by_day["measure"] == "a1c") & (by_day["group"] == "all")]
    assert a1c["pct_at_goal"].isna().all() and (a1c["text"] == "not estimable (none followed)").all()
    table = ttg_km.time_to_goal_table(data, params).set_index(["measure", "group"])
    assert np.isnan(table.loc[("a1c", "all"), "median_days"])
    assert table.loc[("a1c", "all"), "median_text"] == "not estimable (none followed)"
    spec = ttg_figures.km_figure(ttg_km.kaplan_meier(data, params, "a1c"), params)
    assert "All (n = 0): median and share at 365 days not estimable (none followed)." in spec.caption
    assert "0%" not in spec.caption and spec.alt_text == "An empty chart: no patients not at goal at baseline."
    empty_mtps = ttg_mtp.mtp_resolution(ttg_mtp.mtp_resolution_data(cohort, params).iloc[:0], params).set_index("group")
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
    competing = ttg_competing.cumulative_incidence_by_day(short, params).set_index(["measure", "group", "days"])
    assert np.isnan(competing.loc[("a1c", "all", 365), "pct_goal"])
    assert competing.loc[("a1c", "all", 90), "pct_goal"] == pytest.approx(100 / 3)
    caption = ttg_figures.competing_risks(short, competing.reset_index(), params).caption
    assert "HbA1c: not estimable (no one followed that long)" in caption
    done = data[~(a1c & (data["patient_id"] == "P01"))]
    competing = ttg_competing.cumulative_incidence_by_day(done, params).set_index(["measure", "group", "days"])
    row = competing.loc[("a1c", "all", 365)]
    assert (row["pct_goal"], row["pct_competing_exit"]) == pytest.approx((25.0, 75.0))
    assert np.isnan(row["pct_goal_ignoring_competing"])
    caption = ttg_figures.competing_risks(done, competing.reset_index(), params).caption
    assert "HbA1c: 25% reached goal and 75% exited first (1 - Kaplan-Meier not estimable: no one followed that long)" \
        in caption
    assert "nan" not in caption.lower()


def test_km_caption_beyond_follow_up_says_not_estimable(rule_cohort):
    """a1c without P01: the last follow-up is P02's censoring on day 90, so the share at 365 days is not estimable."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    km = ttg_km.kaplan_meier(data[data["patient_id"] != "P01"], params, "a1c")
    assert "the share at 365 days is not estimable (no one followed that long)." in ttg_figures.km_figure(km, params).caption
