"""Engagement: attendance counts and their awkward cases, milestones, the score, the trend, engagement vs results.

Every number is checked against a hand count on a tiny cohort (arithmetic in the comments) or a closed-form
textbook value computed independently of the code under test.
"""
from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from scipy import stats

matplotlib.use("Agg")

from tests.conftest import run_notebook_cells  # noqa: E402
from evaluation import ParamsError, load_cohort
from evaluation.analyses.engagement import assessments, attendance, milestones
from evaluation.analyses.engagement import compute as engagement_compute
from evaluation.analyses.engagement import figures as engagement_figures
from evaluation.core import figures as figure_io
from evaluation.core.groups import TeamCap
from evaluation.core.paths import REPO_ROOT, REPORTS_ENV, scratch_dir
from evaluation.core.params import check
from evaluation.data.synth import generate_cohort
from tests.conftest import write_cohort  # noqa: E402

# Four teams. T1 joined mid-January, T2 on 1 March (the day of E4), T3 attends nothing, T4 joined after every event.
# E1 is held before T1 and T2 joined; E3 is a coaching call for T1 only; E6 is office hours (not a counted kind).
# T1 has no attendance row for E5 ("not recorded"); neither has T3. T1's row for E1 (before it joined) is ignored.
COHORT = {
    "teams.csv": (
        "team_id,team_name,state,setting,track,joined_on\n"
        "T1,Alpha Pharmacy,IA,community_pharmacy,initial,2015-01-15\n"
        "T2,Beta Health,MN,health_system,advanced,2015-03-01\n"
        "T3,Gamma Drugs,IN,community_pharmacy,initial,2015-01-01\n"
        "T4,Delta Clinic,SC,clinic,initial,2015-05-01\n"
    ),
    "patients.csv": (
        "patient_id,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason\n"
        "P1,T1,2015-01-20,F,1950,,\n"
        "P2,T1,2015-01-20,M,1960,,\n"
        "P3,T2,2015-03-05,F,1955,,\n"
        "P4,T2,2015-03-05,M,1945,,\n"
    ),
    "measurements.csv": (
        "patient_id,measure,measured_on,value\n"
        "P1,a1c,2015-02-01,9.0\n"
        "P1,a1c,2015-05-01,7.5\n"
        "P1,sbp,2015-02-01,150\n"
        "P1,sbp,2015-05-01,130\n"
        "P2,a1c,2015-02-01,7.0\n"
        "P2,a1c,2015-05-01,8.5\n"
        "P3,a1c,2015-03-10,9.0\n"
        "P3,a1c,2015-06-10,9.5\n"
        "P3,ldl,2015-03-10,120\n"
        "P3,ldl,2015-06-10,90\n"
        "P4,a1c,2015-03-10,9.0\n"
    ),
    "events.csv": (
        "event_id,event_on,kind,team_id\n"
        "E1,2015-01-10,monthly_call,\n"
        "E2,2015-02-05,webinar,\n"
        "E3,2015-02-20,coaching_call,T1\n"
        "E4,2015-03-01,monthly_call,\n"
        "E5,2015-04-10,learning_session,\n"
        "E6,2015-04-15,office_hours,\n"
    ),
    "attendance.csv": (
        "event_id,team_id,attended\n"
        "E1,T1,1\n"
        "E1,T3,0\n"
        "E2,T1,1\n"
        "E2,T3,0\n"
        "E3,T1,0\n"
        "E4,T1,1\n"
        "E4,T2,1\n"
        "E4,T3,0\n"
        "E5,T2,0\n"
        "E6,T1,1\n"
    ),
    "milestones.csv": (
        "team_id,milestone,due_on,completed_on\n"
        "T1,team_charter,2015-02-01,2015-01-30\n"
        "T1,aim_statement,2015-03-01,2015-03-11\n"
        "T1,population_defined,2015-04-01,\n"
        "T1,performance_story,2015-12-01,\n"
        "T2,team_charter,2015-03-15,2015-03-15\n"
        "T2,aim_statement,2015-04-15,2015-05-05\n"
        "T4,performance_story,2015-12-01,2015-06-01\n"
    ),
}
AS_OF = "2015-06-30"


def make(tmp_path: Path, drop: tuple[str, ...] = (), **params):
    """Params and loaded cohort for COHORT without the files in ``drop``."""
    files = {k: v for k, v in COHORT.items() if k not in drop}
    folder = write_cohort(tmp_path / "cohort", files)
    p = check({"cohort_id": "tiny", "data_dir": str(folder), "as_of": AS_OF, "output_dir": str(tmp_path / "out"),
               **params})
    return p, load_cohort(p)


@pytest.fixture
def tiny(tmp_path):
    return make(tmp_path)


def row(table: pd.DataFrame, team: str) -> pd.Series:
    return table.set_index("team_id").loc[team]


# --- the team table, every column, by hand ----------------------------------------------------------

def test_team_table_matches_hand_count(tiny):
    """engagement_by_team on the tiny cohort equals a hand count for every team and every column.

    T1: offered E2, E3, E4, E5 (E1 was held before it joined; E6 is office hours) = 4; attended E2, E4 = 2;
        absent E3 = 1; E5 not recorded = 1; rate 2 / (2 + 1) = 0.667; attended_of_offered 2 / 4 = 0.5.
        Cycle months: E1 Jan = 1 ... E5 Apr = 4; halves split at ceil(4 / 2) = 2: first half E2, E3 -> 1/2,
        second half E4 (E5 unrecorded) -> 1/1.
        Milestones (as of 2015-06-30): listed 4; due 3 (story due in December); done 2; on time 1 (charter,
        2 days early); late 1 (aim, 10 days); overdue 1 (population); median days late median(0, 10) = 5;
        shares 2/3 done, 1/3 on time.
        Score = 100 * (0.5 * 2/3 + 0.25 * 2/3 + 0.25 * 1/3) / 1 = 58.333.
    T2: offered E4 (held the day it joined) and E5 = 2 (E1, E2 before it joined, E3 is T1's); attended 1, absent 1;
        rate 0.5; first half (months 1-2) nothing -> missing, second half 1/2. Milestones 2 due, 2 done, 1 on time,
        1 late by 20 days; median days late median(0, 20) = 10; shares 1 and 0.5.
        Score = 100 * (0.5 * 0.5 + 0.25 * 1 + 0.25 * 0.5) = 62.5.
    T3: offered E1, E2, E4, E5 = 4, attended none, absent 3, E5 not recorded; rate 0; no milestones listed:
        shares missing, so the score is attendance alone = 0.
    T4: joined after every event: offered 0, rate missing (not 0); one milestone done early but not due yet:
        done 1, due 0, shares missing; no component, so no score and no rank.
    Ranks: T2 (62.5) 1, T1 (58.3) 2, T3 (0) 3.
    """
    p, c = tiny
    table = engagement_compute.engagement_by_team(c, p)
    assert list(table.columns[:7]) == ["team_id", "track", "events_offered", "events_attended", "attendance_rate",
                                       "milestones_due", "milestones_done"]
    assert list(table["team_id"]) == ["T1", "T2", "T3", "T4"]
    nan = np.nan
    expected = {
        "T1": dict(track="initial", events_offered=4, events_attended=2, events_absent=1, events_not_recorded=1,
                   events_recorded=3, attendance_rate=2 / 3, attended_of_offered=0.5, rate_first_half=0.5,
                   rate_second_half=1.0, milestones_listed=4, milestones_due=3, milestones_done=2,
                   milestones_done_on_time=1, milestones_done_late=1, milestones_overdue=1, median_days_late=5.0,
                   milestones_done_share=2 / 3, milestones_on_time_share=1 / 3, contribution_attendance=100 / 3,
                   contribution_milestones_done=100 / 6, contribution_milestones_on_time=100 / 12,
                   engagement_score=175 / 3, components_used=3, rank=2),
        "T2": dict(track="advanced", events_offered=2, events_attended=1, events_absent=1, events_not_recorded=0,
                   events_recorded=2, attendance_rate=0.5, attended_of_offered=0.5, rate_first_half=nan,
                   rate_second_half=0.5, milestones_listed=2, milestones_due=2, milestones_done=2,
                   milestones_done_on_time=1, milestones_done_late=1, milestones_overdue=0, median_days_late=10.0,
                   milestones_done_share=1.0, milestones_on_time_share=0.5, contribution_attendance=25.0,
                   contribution_milestones_done=25.0, contribution_milestones_on_time=12.5,
                   engagement_score=62.5, components_used=3, rank=1),
        "T3": dict(track="initial", events_offered=4, events_attended=0, events_absent=3, events_not_recorded=1,
                   events_recorded=3, attendance_rate=0.0, attended_of_offered=0.0, rate_first_half=0.0,
                   rate_second_half=0.0, milestones_listed=0, milestones_due=0, milestones_done=0,
                   milestones_done_on_time=0, milestones_done_late=0, milestones_overdue=0, median_days_late=nan,
                   milestones_done_share=nan, milestones_on_time_share=nan, contribution_attendance=0.0,
                   contribution_milestones_done=0.0, contribution_milestones_on_time=0.0,
                   engagement_score=0.0, components_used=1, rank=3),
        "T4": dict(track="initial", events_offered=0, events_attended=0, events_absent=0, events_not_recorded=0,
                   events_recorded=0, attendance_rate=nan, attended_of_offered=nan, rate_first_half=nan,
                   rate_second_half=nan, milestones_listed=1, milestones_due=0, milestones_done=1,
                   milestones_done_on_time=1, milestones_done_late=0, milestones_overdue=0, median_days_late=0.0,
                   milestones_done_share=nan, milestones_on_time_share=nan, contribution_attendance=nan,
                   contribution_milestones_done=nan, contribution_milestones_on_time=nan,
                   engagement_score=nan, components_used=0, rank=pd.NA),
    }
    assert set(table.columns) == {"team_id", *expected["T1"]}
    for team, values in expected.items():
        got = row(table, team)
        for col, want in values.items():
            if want is pd.NA:
                assert pd.isna(got[col]), (team, col)
            elif isinstance(want, str):
                assert got[col] == want, (team, col)
            elif isinstance(want, float) and math.isnan(want):
                assert pd.isna(got[col]), (team, col, got[col])
            else:
                assert got[col] == pytest.approx(want), (team, col, got[col])


def test_scores_for_other_analyses(tiny):
    """engagement_scores has one row per team with the columns the survival model imports; values as above."""
    p, c = tiny
    scores = engagement_compute.engagement_scores(c, p)
    assert list(scores.columns) == ["team_id", "track", "engagement_score", "attendance_rate", "milestones_done_share",
                                    "milestones_on_time_share", "components_used", "rank"]
    assert scores.set_index("team_id")["engagement_score"].round(3).to_dict() == pytest.approx(
        {"T1": 58.333, "T2": 62.5, "T3": 0.0, "T4": np.nan}, nan_ok=True)


# --- the awkward cases, one test each ---------------------------------------------------------------

def test_event_before_joining_is_not_offered(tiny):
    """E1 (10 Jan) came before T1 joined (15 Jan): not offered, although attendance says T1 came.

    E4 is held on T2's joining day, so it is offered (on or after joining)."""
    p, c = tiny
    offered = attendance.offered_events(c, p)
    assert "E1" not in set(offered.loc[offered["team_id"] == "T1", "event_id"])
    assert "E1" in set(offered.loc[offered["team_id"] == "T3", "event_id"])
    assert set(offered.loc[offered["team_id"] == "T2", "event_id"]) == {"E4", "E5"}


def test_one_team_event_is_offered_to_that_team_only(tiny):
    p, c = tiny
    offered = attendance.offered_events(c, p)
    assert set(offered.loc[offered["event_id"] == "E3", "team_id"]) == {"T1"}


def test_missing_attendance_row_is_not_recorded_not_absent(tiny):
    """T1 has no row for E5: status "not recorded"; the rate is 2 attended / 3 recorded, not 2 / 4."""
    p, c = tiny
    offered = attendance.offered_events(c, p)
    status = offered.set_index(["team_id", "event_id"])["status"]
    assert status[("T1", "E5")] == "not recorded"
    assert status[("T1", "E3")] == "absent"
    t1 = row(engagement_compute.engagement_by_team(c, p), "T1")
    assert (t1["events_not_recorded"], t1["events_absent"]) == (1, 1)
    assert t1["attendance_rate"] == pytest.approx(2 / 3)


def test_team_that_attended_nothing_has_rate_zero(tiny):
    p, c = tiny
    t3 = row(engagement_compute.engagement_by_team(c, p), "T3")
    assert (t3["events_attended"], t3["attendance_rate"], t3["engagement_score"]) == (0, 0.0, 0.0)


def test_team_offered_nothing_has_no_rate(tiny):
    """T4 joined after the last event: rate unknown (missing), not 0."""
    p, c = tiny
    t4 = row(engagement_compute.engagement_by_team(c, p), "T4")
    assert t4["events_offered"] == 0 and pd.isna(t4["attendance_rate"])


def test_event_kinds_param_decides_what_counts(tmp_path):
    """Counting office hours too adds E6 for T1 (attended) and T3 (not recorded): T1 3 / 4 recorded."""
    p, c = make(tmp_path, engagement={"event_kinds": ["monthly_call", "webinar", "coaching_call",
                                                      "learning_session", "office_hours"]})
    t1 = row(engagement_compute.engagement_by_team(c, p), "T1")
    assert (t1["events_offered"], t1["events_attended"]) == (5, 3)
    assert t1["attendance_rate"] == pytest.approx(3 / 4)


def test_no_events_file(tmp_path):
    """Without events.csv: no offered events, event counts missing (not 0), score from milestones alone.

    T1: 100 * (0.25 * 2/3 + 0.25 * 1/3) / 0.5 = 50."""
    p, c = make(tmp_path, drop=("events.csv", "attendance.csv"))
    assert attendance.offered_events(c, p) is None
    table = engagement_compute.engagement_by_team(c, p)
    assert table["events_offered"].isna().all() and table["attendance_rate"].isna().all()
    assert row(table, "T1")["engagement_score"] == pytest.approx(50.0)
    assert c.missing_note("events").startswith("Skipped")
    assert attendance.attendance_by_month(None).empty
    assert attendance.attendance_trend(None).direction == "unknown"


def test_no_attendance_file_makes_every_event_not_recorded(tmp_path):
    p, c = make(tmp_path, drop=("attendance.csv",))
    t1 = row(engagement_compute.engagement_by_team(c, p), "T1")
    assert (t1["events_offered"], t1["events_not_recorded"], t1["events_attended"]) == (4, 4, 0)
    assert pd.isna(t1["attendance_rate"])


def test_no_milestones_file(tmp_path):
    """Milestone counts missing; the score is the attendance rate alone (T1: 100 * 2/3)."""
    p, c = make(tmp_path, drop=("milestones.csv",))
    table = engagement_compute.engagement_by_team(c, p)
    assert table["milestones_due"].isna().all()
    assert row(table, "T1")["engagement_score"] == pytest.approx(200 / 3)
    assert milestones.milestone_status(c, p) is None


def test_attendance_note_says_why_charts_are_skipped(tmp_path):
    """No files: the loader's note. No counted kind: says so. Events but no matching attendance rows: says so."""
    p, c = make(tmp_path / "a", drop=("attendance.csv",))
    assert attendance.attendance_note(c, attendance.offered_events(c, p)) == c.missing_note("events", "attendance")
    p, c = make(tmp_path / "b", engagement={"event_kinds": ["other"]})
    assert "no event of the counted kinds" in attendance.attendance_note(c, attendance.offered_events(c, p))
    p, c = make(tmp_path / "c")
    offered = attendance.offered_events(c, p)
    assert attendance.attendance_note(c, offered) is None
    assert "none of the offered events" in attendance.attendance_note(c, offered.assign(status="not recorded"))


def test_notebook_runs_without_events_and_says_why(tmp_path, monkeypatch):
    """The notebook's cells, run in-process on a cohort with no events file, show the skip note and do not fail
    (run alone, it writes to the cohort's scratch folder)."""
    p, c = make(tmp_path, drop=("events.csv", "attendance.csv"))
    monkeypatch.setenv(REPORTS_ENV, str(tmp_path / "reports"))
    shown, _ = run_notebook_cells(REPO_ROOT / "notebooks" / "01_engagement.ipynb", data_dir=str(p.data_dir),
                                  as_of=AS_OF, cohort_id="tiny")
    note = c.missing_note("events")
    assert note in shown and c.missing_note("events", "attendance") in shown
    out = scratch_dir("tiny")
    assert (out / "tables" / "engagement_by_team.csv").exists()
    assert not (out / "figures" / "engagement_heatmap.png").exists()


# --- by month ---------------------------------------------------------------------------------------

def test_by_month_counts(tiny):
    """T1 in February: E2 (webinar, attended) and E3 (coaching, absent): all 1/2; each kind 1 offered.
    T1 in April: E5 not recorded: offered 1, recorded 0, rate missing."""
    p, c = tiny
    by_month = attendance.attendance_by_month(attendance.offered_events(c, p)).set_index(["team_id", "month", "kind"])
    feb = by_month.loc[("T1", "2015-02", "all")]
    assert (feb["events_offered"], feb["events_attended"], feb["attendance_rate"]) == (2, 1, 0.5)
    assert by_month.loc[("T1", "2015-02", "webinar"), "events_attended"] == 1
    assert by_month.loc[("T1", "2015-02", "coaching_call"), "events_absent"] == 1
    apr = by_month.loc[("T1", "2015-04", "all")]
    assert (apr["events_offered"], apr["events_not_recorded"]) == (1, 1) and pd.isna(apr["attendance_rate"])
    assert by_month.loc[("T3", "2015-01", "all"), "cycle_month"] == 1
    assert by_month.loc[("T2", "2015-04", "all"), "cycle_month"] == 4


# --- params -----------------------------------------------------------------------------------------

def test_bad_weight_names_the_parameter(tiny):
    """Weights are checked with the params, before any data is read."""
    p, _ = tiny
    with pytest.raises(ParamsError, match=r"engagement\.weights\.attendance` must be a number of 0 or more; got -1"):
        check({**p.raw, "engagement": {"weights": {"attendance": -1}}})
    with pytest.raises(ParamsError, match="at least one weight above 0"):
        check({**p.raw, "engagement": {"weights": {"attendance": 0, "milestones_done": 0, "milestones_on_time": 0}}})


def test_bad_event_kind_names_allowed_values(tiny):
    p, _ = tiny
    with pytest.raises(ParamsError, match=r"event_kinds` item 2 must be one of monthly_call, .*other; got 'town_hall'"):
        check({**p.raw, "engagement": {"event_kinds": ["monthly_call", "town_hall"]}})


def test_weights_change_the_score(tmp_path):
    """Attendance weight 1, others 0: T2's score is its attendance rate, 100 * 0.5 = 50."""
    p, c = make(tmp_path, engagement={"weights": {"attendance": 1, "milestones_done": 0, "milestones_on_time": 0}})
    assert row(engagement_compute.engagement_scores(c, p), "T2")["engagement_score"] == pytest.approx(50.0)


# --- trend ------------------------------------------------------------------------------------------

def two_month_pairs(a: int, b: int, c: int, d: int) -> pd.DataFrame:
    """Recorded team-events: month 1 has a attended and b absent, month 2 has c attended and d absent.

    Teams rotate T1..T4 so every team has pairs in both months."""
    rows = []
    for month, attended, absent in ((1, a, b), (2, c, d)):
        rows += [("attended", month)] * attended + [("absent", month)] * absent
    df = pd.DataFrame(rows, columns=["status", "cycle_month"])
    df["team_id"] = [f"T{i % 4 + 1}" for i in range(len(df))]
    df["month"] = df["cycle_month"].map({1: "2015-01", 2: "2015-02"})
    return df


def test_trend_odds_ratio_matches_closed_form():
    """With two months, the logistic slope is the log odds ratio (c/d) / (a/b) (Agresti, Categorical Data
    Analysis, 3rd ed., 2013, section 5.1: the logit model with one binary predictor reproduces the sample odds ratio).
    a=18, b=2, c=10, d=10: OR = (10/10) / (18/2) = 1/9 = 0.1111."""
    trend = attendance.attendance_trend(two_month_pairs(18, 2, 10, 10))
    # the logistic GLM iterates (IRLS, statsmodels' deviance tol 1e-8): its last Newton step is at most ~1e-4,
    # leaving the slope good to ~1e-8; 1e-6 relative leaves margin (1e-15 seen)
    assert trend.odds_ratio == pytest.approx(1 / 9, rel=1e-6)
    assert (trend.early_rate, trend.late_rate) == (pytest.approx(0.9), pytest.approx(0.5))
    assert trend.by_month["fitted"].tolist() == pytest.approx([0.9, 0.5], rel=1e-6)


def test_trend_cluster_standard_error_matches_hand_sandwich():
    """The CI and p use the cluster-robust (Liang-Zeger) sandwich with Stata's small-sample factor
    G/(G-1) * (N-1)/(N-K) (Cameron & Miller 2015, J Human Resources 50:317, eq. 11), computed here by hand."""
    pairs = two_month_pairs(18, 2, 10, 10)
    trend = attendance.attendance_trend(pairs)
    x = np.column_stack([np.ones(len(pairs)), pairs["cycle_month"].to_numpy(float)])
    y = pairs["status"].eq("attended").to_numpy(float)
    beta = np.array([math.log(9) - math.log(1 / 9), math.log(1 / 9)])  # month 1 logit log(9) = b0 + b1
    prob = 1 / (1 + np.exp(-x @ beta))
    bread = np.linalg.inv(x.T @ (x * (prob * (1 - prob))[:, None]))
    meat = np.zeros((2, 2))
    for team in sorted(pairs["team_id"].unique()):
        g = (pairs["team_id"] == team).to_numpy()
        score = (x[g] * (y[g] - prob[g])[:, None]).sum(axis=0)
        meat += np.outer(score, score)
    n, k, groups = len(y), 2, 4
    se = math.sqrt((groups / (groups - 1) * (n - 1) / (n - k) * bread @ meat @ bread)[1, 1])
    z = stats.norm.ppf(0.975)
    # the sandwich here is at the exact MLE, the module's at the GLM's last iterate (slope to ~1e-8, above)
    assert trend.ci_low == pytest.approx(math.exp(math.log(1 / 9) - z * se), rel=1e-5)
    assert trend.ci_high == pytest.approx(math.exp(math.log(1 / 9) + z * se), rel=1e-5)
    assert trend.p_value == pytest.approx(2 * stats.norm.sf(abs(math.log(1 / 9)) / se), rel=1e-5)
    assert trend.direction == "fell" and trend.statement.startswith("Attendance fell")


def test_trend_flat_and_too_short():
    """Everyone attended every event: no change, no model. A single month: unknown."""
    flat = attendance.attendance_trend(two_month_pairs(5, 0, 5, 0))
    assert flat.direction == "no detectable change" and np.isnan(flat.odds_ratio)
    assert "did not change" in flat.statement
    one = attendance.attendance_trend(two_month_pairs(5, 5, 0, 0))
    assert one.direction == "unknown" and one.statement.startswith("Too few")


# --- engagement vs results --------------------------------------------------------------------------

def test_team_outcome_change_by_hand(tiny):
    """Baseline vs follow-up per patient and measure, the outcome analysis' windows (baseline within 90 days before
    to 30 after enrollment, follow-up the last reading 90 to 365 days after); goals a1c < 8, sbp < 140, ldl < 100.

    T1 (enrolled 20 Jan): baseline 1 Feb (day 12), follow-up 1 May (day 101). P1 a1c 9.0 -> 7.5 (no -> yes),
        P1 sbp 150 -> 130 (no -> yes), P2 a1c 7.0 -> 8.5 (yes -> no): 3 pairs, 1 at goal at baseline, 2 at
        follow-up: 100 * (2 - 1) / 3 = 33.33 points; a1c alone 1 -> 1 = 0 points.
    T2 (enrolled 5 Mar): baseline 10 Mar (day 5), follow-up 10 Jun (day 97). P3 a1c 9.0 -> 9.5 (no -> no),
        P3 ldl 120 -> 90 (no -> yes); P4 has a baseline a1c only (left out): 2 pairs, 0 -> 1: 50 points.
    T3, T4: no patients, so no pairs and no gain; every goal measure has a row for every team."""
    p, c = tiny
    out = engagement_compute.team_outcome_change(c, p)
    assert list(out.columns) == ["team_id", "track", "measure", "n_pairs", "at_goal_baseline", "at_goal_followup",
                                 "pct_at_goal_baseline", "pct_at_goal_followup", "goal_gain_points"]
    assert len(out) == 4 * (1 + len(p.goals))
    out = out.set_index(["team_id", "measure"])
    t1 = out.loc[("T1", "all")]
    assert (t1["n_pairs"], t1["at_goal_baseline"], t1["at_goal_followup"]) == (3, 1, 2)
    assert (t1["pct_at_goal_baseline"], t1["pct_at_goal_followup"]) == (pytest.approx(100 / 3), pytest.approx(200 / 3))
    assert t1["goal_gain_points"] == pytest.approx(100 / 3)
    assert out.loc[("T1", "a1c"), "goal_gain_points"] == 0
    assert out.loc[("T2", "all"), "goal_gain_points"] == pytest.approx(50.0)
    assert out.loc[("T2", "a1c"), "n_pairs"] == 1
    assert out.loc[("T3", "all"), "n_pairs"] == 0 and pd.isna(out.loc[("T3", "all"), "goal_gain_points"])


def test_team_outcome_change_ignores_a_reading_outside_the_windows(tmp_path):
    """A reading long before enrollment is no baseline: P4's a1c of 7.0 on 2012-01-01 (over three years before it
    enrolled on 2015-03-05, outside the 90-day baseline window) leaves P4 with a baseline (9.0 on 10 Mar) and no
    follow-up, so T2 keeps 2 pairs, 0 -> 1 at goal, 50 points. Pairing the first and the last reading instead would
    pair P4 (7.0 at goal -> 9.0 not): 3 pairs, 1 -> 1 at goal, 0 points."""
    files = {**COHORT, "measurements.csv": COHORT["measurements.csv"] + "P4,a1c,2012-01-01,7.0\n"}
    folder = write_cohort(tmp_path / "cohort", files)
    p = check({"cohort_id": "tiny", "data_dir": str(folder), "as_of": AS_OF, "output_dir": str(tmp_path / "out")})
    out = engagement_compute.team_outcome_change(load_cohort(p), p).set_index(["team_id", "measure"])
    t2 = out.loc[("T2", "all")]
    assert (t2["n_pairs"], t2["at_goal_baseline"], t2["at_goal_followup"]) == (2, 0, 1)
    assert t2["goal_gain_points"] == pytest.approx(50.0)


def test_spearman_matches_hand_formula():
    """rho = 1 - 6 sum(d^2) / (n (n^2 - 1)) without ties; p from t = rho sqrt((n-2)/(1-rho^2)) on n-2 df,
    as R's cor.test(x, y, method = "spearman", exact = FALSE).
    Scores 10, 20, 30, 40, 50 (ranks 1-5) vs gains 5, 1, 4, 8, 9 (ranks 3, 1, 2, 4, 5):
    d = -2, 1, 1, 0, 0; sum d^2 = 6; rho = 1 - 36 / 120 = 0.7; t = 0.7 sqrt(3 / 0.51) = 1.6977.
    Least squares (x mean 30, y mean 5.4): x - 30 = -20, -10, 0, 10, 20; y - 5.4 = -0.4, -4.4, -1.4, 2.6, 3.6;
    Sxy = 8 + 44 + 0 + 26 + 72 = 150, Sxx = 1000: slope 0.15, intercept 5.4 - 0.15 * 30 = 0.9."""
    scores = pd.DataFrame({"team_id": list("ABCDE"), "track": "initial", "engagement_score": [10, 20, 30, 40, 50.0]})
    outcome = pd.DataFrame({"team_id": list("ABCDE"), "measure": "all", "goal_gain_points": [5, 1, 4, 8, 9.0],
                            "n_pairs": 12})
    result = engagement_compute.engagement_vs_outcome(scores, outcome)
    assert result.rho == pytest.approx(0.7)
    t = 0.7 * math.sqrt(3 / 0.51)
    assert result.p_value == pytest.approx(2 * stats.t.sf(t, 3), rel=1e-9)  # closed form: rounding only
    assert (result.slope, result.intercept) == (pytest.approx(0.15), pytest.approx(0.9))
    assert "no detectable association" in result.statement


def test_too_few_teams_for_a_correlation(tiny):
    p, c = tiny
    result = engagement_compute.engagement_vs_outcome(engagement_compute.engagement_scores(c, p), engagement_compute.team_outcome_change(c, p))
    assert result.n_teams == 2 and np.isnan(result.rho) and result.statement.startswith("Too few teams (2)")


def test_compare_tracks_exact_mann_whitney():
    """Scores 1, 2 (initial) vs 3, 4, 5 (advanced): U = 0; exact two-sided p = 2 * 1 / C(5, 2) = 0.2
    (R: wilcox.test(c(1, 2), c(3, 4, 5))$p.value = 0.2)."""
    table = pd.DataFrame({"team_id": list("ABCDE"), "track": ["initial"] * 2 + ["advanced"] * 3,
                          "engagement_score": [1, 2, 3, 4, 5.0], "attendance_rate": [0.1, 0.2, 0.3, 0.4, 0.5],
                          "milestones_done_share": 1.0})
    result = engagement_compute.compare_tracks(table)
    assert result.p_value == pytest.approx(0.2)
    s = result.summary.set_index("group")
    assert list(s.index) == ["all", "track=advanced", "track=initial"]
    assert s.loc["track=advanced", "median_engagement_score"] == 4
    assert s.loc["track=initial", "mean_attendance_rate"] == pytest.approx(0.15)


def test_compare_tracks_one_advanced_team_is_descriptive(tiny):
    p, c = tiny
    result = engagement_compute.compare_tracks(engagement_compute.engagement_by_team(c, p), engagement_compute.team_outcome_change(c, p))
    assert np.isnan(result.p_value) and "descriptively" in result.statement
    assert result.summary.set_index("group").loc["track=advanced", "mean_goal_gain_points"] == pytest.approx(50.0)


# --- figures ----------------------------------------------------------------------------------------

@pytest.fixture
def results(tiny):
    """Params, team table, by-month counts, trend, milestone status and outcome change of the tiny cohort."""
    p, c = tiny
    offered = attendance.offered_events(c, p)
    return (p, engagement_compute.engagement_by_team(c, p), attendance.attendance_by_month(offered),
            attendance.attendance_trend(offered), milestones.milestone_status(c, p),
            engagement_compute.team_outcome_change(c, p))


def cell_texts(ax) -> dict[tuple[str, str], str]:
    """The text drawn in each cell of a team x column grid: (row label, column label) -> text."""
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    return {(rows[int(t.get_position()[1])], cols[int(t.get_position()[0])]): t.get_text() for t in ax.texts}


def test_heatmap_shows_a_panel_per_kind_and_each_cell_counted(results):
    """All events and the four kinds offered (E6, office hours, is not counted): 5 panels, the legend in the spare
    slot. Rows: the teams offered something (T4 joined after the last event). All-events cells, attended/offered:
    T1 February E2 attended, E3 absent: 1/2; March E4: 1/1; April E5 not recorded: 0/1, hatched. T2 March E4
    attended 1/1, April E5 absent 0/1. T3 attended nothing: 0/1 in each month, April hatched (E5 not recorded).
    Caption: rates 2/3, 1/2 and 0, so none of 3 at 80%; lowest T3 (0%), highest T1 (67%); E5 unrecorded for T1
    and T3: 2 of the 4 + 2 + 4 offered team-events (20%)."""
    p, table, by_month, _, _, _ = results
    spec = engagement_figures.heatmap(table, by_month)
    panels = [ax for ax in spec.figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["All events", "Coaching calls", "Learning sessions", "Monthly calls",
                                                 "Webinars"]
    assert cell_texts(panels[0]) == {
        ("T1", "15-02"): "1/2", ("T1", "15-03"): "1/1", ("T1", "15-04"): "0/1",
        ("T2", "15-03"): "1/1", ("T2", "15-04"): "0/1",
        ("T3", "15-01"): "0/1", ("T3", "15-02"): "0/1", ("T3", "15-03"): "0/1", ("T3", "15-04"): "0/1"}
    assert cell_texts(panels[1]) == {("T1", "15-02"): "0/1"}  # E3, T1's own coaching call
    hatched = [(patch.get_x(), patch.get_y()) for patch in panels[0].patches if patch.get_hatch()]
    assert sorted(hatched) == [(3, 0), (3, 2)]  # April (column 3) of T1 (row 0) and T3 (row 2)
    assert "0 of 3 teams with recorded attendance attended at least 80%" in spec.caption
    assert "Team attendance ranged from 0% (T3) to 67% (T1)." in spec.caption
    assert "2 of 10 offered team-events (20%)" in spec.caption
    assert "Shown:" not in spec.caption  # every team drawn
    assert "with 3 teams as rows and 4 months from 2015-01 to 2015-04" in spec.alt_text
    assert figure_io.show(spec, p).panels == 5


def test_trend_chart_shows_monthly_rates_and_recorded_events(results):
    """Recorded team-events per month (not-recorded E5 left out): January T3 absent (0 of 1); February T1 attended
    E2, absent E3, T3 absent E2 (1 of 3); March T1, T2 attended E4, T3 absent (2 of 3); April T2 absent E5 (0 of 1).
    Each point is labelled with its recorded team-events; the caption is the trend's statement."""
    p, _, _, trend, _, _ = results
    spec = engagement_figures.trend(trend)
    ax = spec.figure.axes[0]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0, 1 / 3, 2 / 3, 0])
    assert [t.get_text() for t in ax.texts] == ["1", "3", "3", "1"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1\n15-01", "2\n15-02", "3\n15-03", "4\n15-04"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["attended / recorded events", "logistic trend"]
    assert spec.caption.startswith(trend.statement) and "standard errors clustered by team" in spec.caption
    assert "over 4 cycle months, from 0% in 2015-01 to 0% in 2015-04" in spec.alt_text
    assert figure_io.show(spec, p).panels == 1


def test_milestone_chart_colours_each_milestone_by_status(results):
    """As of 2015-06-30. Columns by median due date: charter (1 Feb, 15 Mar), aim (1 Mar, 15 Apr), population
    (1 Apr), story (1 Dec). T1: charter done 2 days early (on time), aim 10 days late, population overdue, story not
    yet due; T2: charter on its due day (on time), aim 20 days late; T4: story done early (on time). Due: T1 3, T2 2;
    only T2 did all it owed (1 of 2 teams); of 5 due, 2 on time, 2 late (median of 10 and 20 = 15 days), 1 overdue."""
    p, table, _, _, status, _ = results
    spec = engagement_figures.milestones(status, table, p)
    ax = spec.figure.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == ["T1", "T2", "T4"]
    assert cols == ["team charter", "aim statement", "population defined", "performance story"]
    colour = {to_hex(c): s for s, c in engagement_figures.MILESTONE_COLORS.items()}
    cells = {(rows[int(r.get_y())], cols[int(r.get_x())]): colour[to_hex(r.get_facecolor())]
             for r in ax.patches}
    assert cells == {("T1", "team charter"): "done on time", ("T1", "aim statement"): "done late",
                     ("T1", "population defined"): "overdue", ("T1", "performance story"): "not yet due",
                     ("T2", "team charter"): "done on time", ("T2", "aim statement"): "done late",
                     ("T4", "performance story"): "done on time"}
    assert cell_texts(ax) == {("T1", "aim statement"): "+10 d", ("T2", "aim statement"): "+20 d"}
    assert "on 2015-06-30. 1 of 2 teams completed every milestone due by then." in spec.caption
    assert "Of 5 milestones due, 2 were done on time, 2 late (median 15 days late) and 1 is overdue." in spec.caption
    assert figure_io.show(spec, p).panels == 1


def test_score_chart_ranks_teams_and_splits_each_bar(results):
    """Scores from the hand count above: T4 none, T3 0, T1 58.3, T2 62.5, drawn lowest first (no score first), each
    bar split into its parts: T1 100 * 0.5 * 2/3 = 33.3 attendance, 100 * 0.25 * 2/3 = 16.7 done, 100 * 0.25 * 1/3
    = 8.3 on time. Caption: 0 (T3) to 62 (T2), median of 0, 58.3 and 62.5 = 58; T4 has no part."""
    p, table, _, _, _, _ = results
    spec = engagement_figures.score(table, p)
    ax = spec.figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["T4 (initial)", "T3 (initial)", "T1 (initial)",
                                                            "T2 (advanced)"]
    assert [t.get_text() for t in ax.texts] == [" no data", " 0", " 58", " 62"]
    t1 = sorted((bar.get_x(), bar.get_width()) for bar in ax.patches if bar.get_y() == pytest.approx(2 - 0.4))
    assert [w for _, w in t1] == pytest.approx([100 / 3, 100 / 6, 100 / 12])
    assert [t.get_text() for t in spec.figure.legends[0].get_texts()] == [
        "attendance (weight 0.5)", "milestones done (weight 0.25)", "milestones on time (weight 0.25)"]
    assert "(weights: attendance 0.5, milestones done 0.25, milestones on time 0.25)" in spec.caption
    assert "Scores ranged from 0 (T3) to 62 (T2), median 58. 1 team(s) had no data for any part." in spec.caption
    assert figure_io.show(spec, p).panels == 1


def test_vs_outcome_chart_shows_each_team_and_the_line(tiny):
    """The five teams of the Spearman test below: one labelled point each, the least-squares line 0.9 + 0.15 x
    (2.4 at score 10, 8.4 at 50) and rho 0.70, p = 2 P(t_3 > 1.6977) = 0.188 in the legend and the caption."""
    p, _ = tiny
    scores = pd.DataFrame({"team_id": list("ABCDE"), "track": "initial", "engagement_score": [10, 20, 30, 40, 50.0]})
    outcome = pd.DataFrame({"team_id": list("ABCDE"), "measure": "all", "goal_gain_points": [5, 1, 4, 8, 9.0],
                            "n_pairs": 12})
    spec = engagement_figures.vs_outcome(engagement_compute.engagement_vs_outcome(scores, outcome))
    ax = spec.figure.axes[0]
    assert ax.collections[0].get_offsets().tolist() == [[10, 5], [20, 1], [30, 4], [40, 8], [50, 9]]
    assert [t.get_text() for t in ax.texts] == list("ABCDE")
    line = ax.lines[0]
    assert (line.get_ydata()[0], line.get_ydata()[-1]) == (pytest.approx(2.4), pytest.approx(8.4))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "initial track", "least-squares line; Spearman rho = 0.70, p = 0.188"]
    assert spec.caption.startswith("Across 5 teams there is no detectable association between engagement and the "
                                   "gain in patients at goal (Spearman's rho = 0.70, p = 0.188).")
    assert "from baseline to follow-up" in spec.caption and "Scatter plot of 5 teams" in spec.alt_text
    assert figure_io.show(spec, p).panels == 1


def test_every_figure_is_in_the_engagement_section(results):
    """Each figure is exported under its id with notebook 01 and section engagement, its caption and alt text in
    full; with two teams paired the scatter has no line and says too few teams."""
    p, table, by_month, trend, status, outcome = results
    vs = engagement_compute.engagement_vs_outcome(table, outcome)
    specs = [engagement_figures.heatmap(table, by_month), engagement_figures.trend(trend),
             engagement_figures.milestones(status, table, p), engagement_figures.score(table, p),
             engagement_figures.vs_outcome(vs)]
    assert vs.points["team_id"].tolist() == ["T1", "T2"]
    assert [line.get_linestyle() for line in specs[-1].figure.axes[0].lines] == ["-"]  # the zero line, no fit
    assert specs[-1].caption.startswith("Too few teams (2)")
    figure_io.show(specs, p)
    manifest = figure_io.read_manifest(p.figures_dir).set_index("figure_id")
    assert sorted(manifest.index) == ["engagement_heatmap", "engagement_milestones", "engagement_score",
                                      "engagement_trend", "engagement_vs_outcome"]
    assert set(manifest["section"]) == {"engagement"} and set(manifest["notebook"]) == {"01_engagement"}
    for spec in specs:
        assert manifest.loc[spec.figure_id, ["title", "caption", "alt_text"]].tolist() == [
            spec.title, spec.caption, spec.alt_text]


# --- the demo cohort, recounted from the raw CSV files ----------------------------------------------

def test_demo_table_matches_recount_for_two_teams(tmp_path):
    """For two demo teams, recount offered / attended / milestones straight from the CSV text with the stated rules
    (an independent implementation: csv module, string dates) and compare with engagement_by_team."""
    folder = tmp_path / "demo"
    generate_cohort(folder)
    p = check({"cohort_id": "demo", "data_dir": str(folder), "as_of": "2016-12-31", "output_dir": str(tmp_path / "o")})
    table = engagement_compute.engagement_by_team(load_cohort(p), p).set_index("team_id")

    def read(name):
        with open(folder / name, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    joined = {t["team_id"]: t["joined_on"] for t in read("teams.csv")}
    kinds = set(p.engagement["event_kinds"])
    attended = {(a["event_id"], a["team_id"]): a["attended"] for a in read("attendance.csv")}
    for team in sorted(joined)[:2]:
        offered = [e["event_id"] for e in read("events.csv") if e["kind"] in kinds
                   and e["event_on"] >= joined[team] and e["team_id"] in ("", team)]
        came = sum(attended.get((e, team)) == "1" for e in offered)
        recorded = sum((e, team) in attended for e in offered)
        miles = [m for m in read("milestones.csv") if m["team_id"] == team]
        got = table.loc[team]
        assert got["events_offered"] == len(offered) and got["events_attended"] == came
        assert got["attendance_rate"] == pytest.approx(came / recorded)
        assert got["milestones_due"] == sum(m["due_on"] <= "2016-12-31" for m in miles)
        assert got["milestones_done"] == sum(m["completed_on"] != "" for m in miles)


# --- a statewide cohort: per-team figures draw at most TEAMS_SHOWN teams ----------------------------

def _many_teams(n: int = 60):
    """n teams over 4 months: team k attends k of every 60 recorded events' worth (rate k / n), T00 records nothing
    in month 1; milestone lateness grows with k."""
    months = ["2015-02", "2015-03", "2015-04", "2015-05"]
    rows = []
    for k in range(n):
        team = f"T{k:02d}"
        for c, month in enumerate(months, start=1):
            recorded = 0 if (k == 0 and c == 1) else 10
            attended = round(recorded * k / n)
            rows.append({"team_id": team, "track": "initial", "month": month, "cycle_month": c, "kind": "all",
                         "events_offered": 10, "events_attended": attended, "events_absent": recorded - attended,
                         "events_not_recorded": 10 - recorded, "events_recorded": recorded,
                         "attendance_rate": attended / recorded if recorded else np.nan,
                         "attended_of_offered": attended / 10})
    by_month = pd.DataFrame(rows)
    due = pd.Timestamp("2015-06-01")
    status = pd.DataFrame({"team_id": [f"T{k:02d}" for k in range(n)], "track": "initial", "milestone": "plan",
                           "due_on": due, "completed_on": [due + pd.Timedelta(days=k) for k in range(n)],
                           "is_due": True, "done": True, "on_time": [k == 0 for k in range(n)],
                           "days_late": [float(k) for k in range(n)],
                           "status": ["done on time" if k == 0 else "done late" for k in range(n)]})
    table = pd.DataFrame({"team_id": [f"T{k:02d}" for k in range(n)], "track": "initial",
                          "engagement_score": [100.0 * k / n for k in range(n)], "attendance_rate": 0.5,
                          "milestones_done_share": 1.0, "milestones_on_time_share": 0.5,
                          "contribution_attendance": 10.0, "contribution_milestones_done": 10.0,
                          "contribution_milestones_on_time": 10.0, "events_offered": 40, "events_not_recorded": 0,
                          "milestones_due": 1})
    return by_month, status, table


def test_per_team_figures_draw_at_most_the_cap_and_say_so():
    """60 teams: each per-team figure draws TEAMS_SHOWN (30) of them and its caption says which and where every
    team is; the heatmap adds a pooled row; the tables stay whole."""
    by_month, status, table = _many_teams(60)
    cap = engagement_figures.TEAMS_SHOWN
    p = check({"cohort_id": "x", "data_dir": ".", "as_of": "2016-12-31"})

    heat = engagement_figures.heatmap_teams(by_month)
    assert isinstance(heat, TeamCap) and (len(heat.teams), heat.total, heat.split) == (cap, 60, 15)
    assert heat.teams[:2] == ["T00", "T01"] and heat.teams[-1] == "T59"  # lowest rates first, highest last
    spec = engagement_figures.heatmap(table, by_month)
    labels = [t.get_text() for t in spec.figure.axes[0].get_yticklabels()]
    assert labels[0] == "All 60 teams" and labels[1:] == heat.teams
    assert "Shown: 30 of 60 teams, the 15 with the lowest attendance rate and the 15 with the highest" in spec.caption
    assert "every team is in tables/engagement_by_month.csv" in spec.caption
    assert "30 of the 60 teams (the lowest and highest attendance) and all teams pooled as rows" in spec.alt_text

    path = engagement_figures.pathway_teams(status)
    assert path.teams[:3] == ["T59", "T58", "T57"] and len(path.teams) == cap  # most days late first
    spec = engagement_figures.milestones(status, table, p)
    assert [t.get_text() for t in spec.figure.axes[0].get_yticklabels()] == path.teams
    assert "Shown: 30 of 60 teams, the teams furthest behind" in spec.caption
    assert "every team is in tables/engagement_by_team.csv" in spec.caption

    ranked = engagement_figures.score_teams(table)
    assert ranked.teams[:15] == [f"T{k:02d}" for k in range(15)] and ranked.teams[15:] == [f"T{k:02d}" for k in range(45, 60)]
    spec = engagement_figures.score(table, p)
    assert len(spec.figure.axes[0].get_yticklabels()) == cap
    assert any("30 teams in between" in t.get_text() for t in spec.figure.axes[0].texts)
    assert "Shown: 30 of 60 teams, the 15 with the lowest and the 15 with the highest engagement score" in spec.caption

    few = _many_teams(8)
    assert engagement_figures.heatmap_teams(few[0]) == TeamCap([f"T{k:02d}" for k in range(8)], 8)  # by team id
    assert engagement_figures.pathway_teams(few[1]) == TeamCap([f"T{k:02d}" for k in range(8)], 8)
    assert "Shown:" not in engagement_figures.heatmap(few[2], few[0]).caption


def test_engagement_vs_outcome_chart_without_pairs_says_so():
    """No team has a baseline and a follow-up reading: the chart says so instead of an empty legend."""
    empty = engagement_compute.EngagementVsOutcome(points=pd.DataFrame(columns=["team_id", "track", "engagement_score",
                                                                                "goal_gain_points", "n_pairs"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = engagement_figures.engagement_vs_outcome_chart(empty)
    ax = fig.axes[0]
    assert ax.get_legend() is None
    assert [t.get_text() for t in ax.texts] == ["No team has patients with a baseline and a follow-up reading\n"
                                                "of a measure with a goal"]


def test_score_tables_cover_every_component_of_the_score():
    assert set(engagement_compute.SCORE_TABLES) == set(engagement_compute.COMPONENTS)


def test_a_cohort_without_engagement_data_has_no_score(tiny_cohort):
    """Only the required tables: no part of the score has data, so the score sections are skipped with the files named."""
    p = check({"cohort_id": "t", "data_dir": str(tiny_cohort)})
    assert engagement_compute.score_note(load_cohort(p), p) == ("Skipped: this cohort has no events.csv or attendance.csv, and no "
                                                 "milestones.csv (or the file is empty), which the engagement score needs.")
    milestones_only = check({"cohort_id": "t", "data_dir": str(tiny_cohort),
                             "engagement": {"weights": {"attendance": 1, "milestones_done": 0, "milestones_on_time": 0}}})
    assert "no events.csv or attendance.csv (or" in engagement_compute.score_note(load_cohort(milestones_only), milestones_only)


def test_attendance_trend_of_one_team_uses_model_based_errors():
    """One team is one cluster: the cluster correction (teams / (teams - 1)) is undefined, so the GLM's own SEs are
    used. With attendance 1,1,0 / 1,0,0 in months 1 and 2 (logit fit by hand: OR = exp(-1.386) = 0.25)."""
    offered = pd.DataFrame({"team_id": "T1", "month": ["2015-01"] * 3 + ["2015-02"] * 3, "cycle_month": [1] * 3 + [2] * 3,
                            "status": [attendance.ATTENDED, attendance.ATTENDED, attendance.ABSENT, attendance.ATTENDED, attendance.ABSENT, attendance.ABSENT]})
    trend = attendance.attendance_trend(offered)
    assert trend.standard_errors == "model-based (one team)"
    assert trend.odds_ratio == pytest.approx(0.25, rel=1e-6)  # IRLS converges to ~1e-8 on this two-point fit
    assert "errors model-based (one team)" in engagement_figures.trend(trend).caption


# --- progress on the IHI assessment scale ------------------------------------------------------------------

# Three teams, two months (and an April only T1 rated itself in). Faculty ratings: Feb T1 3.5, T2 4.5 (T3 has only
# its own rating); Mar T1 4.0, T2 3.0, T3 4.0. Self-ratings: Feb T1 4.0, T3 5.0; Mar T1 4.5, T2 4.0; Apr T1 4.5.
ASSESSMENTS = (
    "team_id,month,score,rater\n"
    "T1,2015-02,3.5,faculty\n"
    "T1,2015-02,4.0,team\n"
    "T2,2015-02,4.5,faculty\n"
    "T3,2015-02,5.0,team\n"
    "T1,2015-03,4.0,faculty\n"
    "T1,2015-03,4.5,team\n"
    "T2,2015-03,3.0,faculty\n"
    "T2,2015-03,4.0,team\n"
    "T3,2015-03-01,4.0,faculty\n"
    "T1,2015-04,4.5,team\n"
)


@pytest.fixture
def rated(tmp_path):
    """The tiny cohort with ASSESSMENTS, as loaded (months parsed to their first day)."""
    folder = write_cohort(tmp_path / "rated", {**COHORT, "assessments.csv": ASSESSMENTS})
    p = check({"cohort_id": "tiny", "data_dir": str(folder), "as_of": AS_OF, "output_dir": str(tmp_path / "out")})
    return p, load_cohort(p)


def test_trajectories_are_every_rating_by_team_month_and_rater(rated):
    _, c = rated
    t = assessments.assessment_trajectories(c.assessments, c.teams)
    assert t.columns.tolist() == ["team_id", "team_name", "month", "rater", "score"]
    assert t.values.tolist() == [
        ["T1", "Alpha Pharmacy", "2015-02", "team", 4.0], ["T1", "Alpha Pharmacy", "2015-02", "faculty", 3.5],
        ["T1", "Alpha Pharmacy", "2015-03", "team", 4.5], ["T1", "Alpha Pharmacy", "2015-03", "faculty", 4.0],
        ["T1", "Alpha Pharmacy", "2015-04", "team", 4.5],
        ["T2", "Beta Health", "2015-02", "faculty", 4.5],
        ["T2", "Beta Health", "2015-03", "team", 4.0], ["T2", "Beta Health", "2015-03", "faculty", 3.0],
        ["T3", "Gamma Drugs", "2015-02", "team", 5.0], ["T3", "Gamma Drugs", "2015-03", "faculty", 4.0]]


def test_share_at_or_above_by_hand(rated):
    """Faculty, 4.0: Feb T1 3.5 < 4, T2 4.5 >= 4 -> 1 of 2 = 0.5 (T3's own 5.0 is not the faculty's); Mar 4.0, 3.0,
    4.0 -> 2 of 3. April has no faculty rating: no row. Teams' own, 4.0: Feb 4.0, 5.0 -> 2 of 2; Mar 4.5, 4.0 -> 2 of 2;
    Apr 4.5 -> 1 of 1. Faculty, 4.5: Feb 1 of 2; Mar 0 of 3."""
    _, c = rated
    faculty = assessments.share_at_or_above(c.assessments)
    assert faculty.columns.tolist() == ["month", "teams_rated", "teams_at_or_above", "share"]
    assert faculty[["month", "teams_rated", "teams_at_or_above"]].values.tolist() == [["2015-02", 2, 1],
                                                                                     ["2015-03", 3, 2]]
    assert faculty["share"].tolist() == [pytest.approx(1 / 2), pytest.approx(2 / 3)]
    own = assessments.share_at_or_above(c.assessments, rater="team")
    assert own.values.tolist() == [["2015-02", 2, 2, 1.0], ["2015-03", 2, 2, 1.0], ["2015-04", 1, 1, 1.0]]
    high = assessments.share_at_or_above(c.assessments, threshold=4.5)
    assert high.values.tolist() == [["2015-02", 2, 1, 0.5], ["2015-03", 3, 0, 0.0]]
    empty = assessments.share_at_or_above(c.assessments.iloc[:0])
    assert empty.empty and empty.columns.tolist() == ["month", "teams_rated", "teams_at_or_above", "share"]


def test_share_at_or_above_names_a_bad_rater_threshold_or_a_second_rating(rated):
    _, c = rated
    with pytest.raises(ValueError, match="rater must be one of team, faculty; got 'coach'"):
        assessments.share_at_or_above(c.assessments, rater="coach")
    with pytest.raises(ValueError, match=r"threshold must be a score of the assessment scale, 0.5 to 5; got 6"):
        assessments.share_at_or_above(c.assessments, threshold=6)
    twice = pd.concat([c.assessments, c.assessments.iloc[[0]]])
    with pytest.raises(ValueError, match="more than one rating of team T1 for 2015-02 by faculty"):
        assessments.share_at_or_above(twice)


def test_assessment_figure_draws_each_team_the_median_and_the_share(rated):
    """Left: one thin line per faculty-rated team (T1 Feb-Mar, T2 Feb-Mar, T3 Mar), the median (Feb median(3.5, 4.5)
    = 4.0; Mar median(4.0, 3.0, 4.0) = 4.0) and the dashed 4.0; right: the shares 0.5 and 2/3. The caption says the
    last and first month and the self-rating gap: pairs T1 Feb 4.0-3.5, T1 Mar 4.5-4.0, T2 Mar 4.0-3.0 -> mean
    (0.5 + 0.5 + 1.0) / 3 = 0.67 above."""
    p, c = rated
    t = assessments.assessment_trajectories(c.assessments, c.teams)
    shares = assessments.share_at_or_above(c.assessments)
    spec = engagement_figures.assessment_progress(t, shares)
    left, right = spec.figure.axes
    lines = [(np.asarray(line.get_xdata(), float).tolist(), np.asarray(line.get_ydata(), float).tolist())
             for line in left.lines]
    # months on the axis: 2015-02 (0), 2015-03 (1); the team's own April rating is not drawn
    assert lines[:3] == [([0, 1], [3.5, 4.0]), ([0, 1], [4.5, 3.0]), ([1], [4.0])]
    assert lines[3] == ([0, 1], [4.0, 4.0]) and left.lines[4].get_linestyle() == "--"
    assert np.asarray(right.lines[0].get_ydata(), float).tolist() == [pytest.approx(0.5), pytest.approx(2 / 3)]
    assert ("In 2015-03, 2 of 3 teams rated (67%) were at or above 4.0, against 1 of 2 in 2015-02." in spec.caption)
    assert spec.caption.endswith("Where a team also rated itself (3 team-months), its own score was on average 0.67 "
                                 "points above the faculty's.")
    assert "the monthly assessment scores of 3 teams" in spec.alt_text and "from 50% in 2015-02 to 67% in 2015-03" in spec.alt_text
    assert (spec.figure_id, spec.section, spec.notebook) == ("engagement_assessments", "engagement", "01_engagement")
    assert figure_io.show(spec, p).panels == 2


def test_notebook_draws_the_scale_or_says_there_is_none(tmp_path, monkeypatch):
    """With assessments.csv the section saves the monthly shares and exports the figure; without it the section
    shows the loader's note and writes neither."""
    p, c = make(tmp_path / "plain")
    monkeypatch.setenv(REPORTS_ENV, str(tmp_path / "reports"))
    folder = write_cohort(tmp_path / "rated", {**COHORT, "assessments.csv": ASSESSMENTS})
    shown, _ = run_notebook_cells(REPO_ROOT / "notebooks" / "01_engagement.ipynb", data_dir=str(folder),
                                  as_of=AS_OF, cohort_id="rated")
    out = scratch_dir("rated")
    assert pd.read_csv(out / "tables" / "engagement_assessments.csv").values.tolist() == [
        ["2015-02", 2, 1, 0.5], ["2015-03", 3, 2, pytest.approx(2 / 3)]]
    assert shown[-1].figure_id == "engagement_assessments" and (out / "figures" / "engagement_assessments.svg").exists()
    shown, _ = run_notebook_cells(REPO_ROOT / "notebooks" / "01_engagement.ipynb", data_dir=str(p.data_dir),
                                  as_of=AS_OF, cohort_id="plain")
    assert shown[-1] == c.missing_note("assessments") == (
        "Skipped: this cohort has no assessments.csv (or the file is empty), which this analysis needs.")
    assert not (scratch_dir("plain") / "tables" / "engagement_assessments.csv").exists()


def test_assessment_figure_without_a_faculty_rating_says_so(rated):
    """Only self-ratings in February: the faculty view draws nothing and says so; the teams' view of one month
    has no 'against' clause (T1 4.0 and T3 5.0 -> 2 of 2)."""
    _, c = rated
    feb_own = c.assessments[(c.assessments["rater"] == "team") & (c.assessments["month"] == "2015-02-01")]
    t = assessments.assessment_trajectories(feb_own, c.teams)
    faculty = engagement_figures.assessment_progress(t, assessments.share_at_or_above(feb_own))
    assert faculty.caption.endswith("No team was rated by the faculty.")
    assert faculty.alt_text == "Two empty line charts: no team was rated by the faculty."
    own = engagement_figures.assessment_progress(t, assessments.share_at_or_above(feb_own, rater="team"), rater="team")
    assert "as rated by the teams themselves" in own.caption
    assert own.caption.endswith("In 2015-02, 2 of 2 teams rated (100%) were at or above 4.0.")
