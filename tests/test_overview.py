"""Cohort overview: teams, patients per team, measurements, follow-up and the data-quality counts, and the two
cohort figures with their captions.

Every number is a hand count on a small cohort written out below (the arithmetic is in the docstrings).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from evaluation import load_cohort  # noqa: E402
from evaluation.analyses.overview import compute as overview  # noqa: E402
from evaluation.analyses.overview import figures as overview_figures  # noqa: E402
from evaluation.core import figures as figure_io  # noqa: E402
from evaluation.core.params import check  # noqa: E402
from tests.conftest import write_cohort  # noqa: E402

# Three teams. T1: P1 measured before and after enrolling; P2 exits (died) before its last reading; P3 never measured.
# T2: P4 measured on its enrollment day only; P5 over 200 days. T3 has no patient.
COHORT = {
    "teams.csv": (
        "team_id,team_name,state,setting,track,joined_on\n"
        "T1,Alpha Pharmacy,IA,community_pharmacy,initial,2015-01-15\n"
        "T2,Beta Health,MN,health_system,advanced,2015-01-15\n"
        "T3,Gamma Drugs,IA,community_pharmacy,initial,2015-01-15\n"
    ),
    "patients.csv": (
        "patient_id,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason,diabetes,hypertension\n"
        "P1,T1,2015-02-01,F,1950,,,1,0\n"
        "P2,T1,2015-02-10,M,1961,2015-04-01,died,1,1\n"
        "P3,T1,2015-03-01,F,1948,,,0,1\n"
        "P4,T2,2015-03-05,M,1955,2015-09-01,moved,0,1\n"
        "P5,T2,2015-04-01,F,1945,,,1,1\n"
    ),
    "measurements.csv": (
        "patient_id,measure,measured_on,value\n"
        "P1,a1c,2015-01-20,9.0\n"
        "P1,a1c,2015-05-22,7.0\n"
        "P2,a1c,2015-02-10,10.0\n"
        "P2,a1c,2015-06-01,8.0\n"
        "P4,sbp,2015-03-05,150\n"
        "P5,sbp,2015-04-01,140\n"
        "P5,sbp,2015-10-28,130\n"
    ),
}


@pytest.fixture
def cohort(tmp_path: Path):
    folder = write_cohort(tmp_path / "cohort", COHORT)
    p = check({"cohort_id": "overview", "data_dir": str(folder), "as_of": "2015-12-31",
               "output_dir": str(tmp_path / "out")})
    return p, load_cohort(p)


def test_teams_summary_counts_teams_and_patients(cohort):
    """IA community pharmacies: T1 (3 patients) and T3 (none) = 2 teams, 3 patients; MN health system: T2, 2."""
    _, c = cohort
    out = overview.teams_summary(c)
    assert out.to_dict("records") == [
        {"state": "IA", "track": "initial", "setting": "community_pharmacy", "teams": 2, "patients": 3},
        {"state": "MN", "track": "advanced", "setting": "health_system", "teams": 1, "patients": 2}]


def test_patients_per_team_by_hand(cohort):
    """T1: 3 patients enrolled 1 Feb to 1 Mar, 1 exit (P2, died), diabetes P1 + P2 = 2, hypertension P2 + P3 = 2.
    T2: 2 patients, 1 exit (P4, moved, not a death), diabetes 1, hypertension 2. T3: no patient, every count 0.
    Only the condition flags the cohort has are columns (no dyslipidemia, no anticoagulation)."""
    _, c = cohort
    out = overview.patients_per_team(c).set_index("team_id")
    assert list(out.columns) == ["team_name", "state", "track", "patients", "first_enrolled", "last_enrolled",
                                 "exited", "died", "diabetes", "hypertension"]
    counts = out[["patients", "exited", "died", "diabetes", "hypertension"]].to_dict("index")
    assert counts == {"T1": {"patients": 3, "exited": 1, "died": 1, "diabetes": 2, "hypertension": 2},
                      "T2": {"patients": 2, "exited": 1, "died": 0, "diabetes": 1, "hypertension": 2},
                      "T3": {"patients": 0, "exited": 0, "died": 0, "diabetes": 0, "hypertension": 0}}
    assert (out.loc["T1", "first_enrolled"], out.loc["T1", "last_enrolled"]) == (pd.Timestamp("2015-02-01"),
                                                                                 pd.Timestamp("2015-03-01"))
    assert pd.isna(out.loc["T3", "first_enrolled"])


def test_measurements_summary_by_hand(cohort):
    """a1c: 4 readings of 2 patients (2 each); values 7, 8, 9, 10: median 8.5, 10th percentile 7 + 0.3 * 1 = 7.3,
    90th 9 + 0.7 * 1 = 9.7 (linear interpolation at positions 0.3 and 2.7). sbp: 3 readings of 2 patients
    (1 and 2: median 1.5), values 130, 140, 150."""
    _, c = cohort
    out = overview.measurements_summary(c).set_index("measure")
    a1c, sbp = out.loc["a1c"], out.loc["sbp"]
    assert (a1c["measurements"], a1c["patients"], a1c["per_patient_median"]) == (4, 2, 2)
    assert [a1c["value_median"], a1c["value_p10"], a1c["value_p90"]] == pytest.approx([8.5, 7.3, 9.7])
    assert (a1c["first_on"], a1c["last_on"]) == (pd.Timestamp("2015-01-20"), pd.Timestamp("2015-06-01"))
    assert (sbp["measurements"], sbp["patients"], sbp["per_patient_median"], sbp["value_median"]) == (3, 2, 1.5, 140)


def test_follow_up_days_by_hand(cohort):
    """Enrollment to the last reading, capped at exit: P1 1 Feb -> 22 May = 110 days (the January reading before
    enrollment does not count); P2 last read 1 Jun but exited 1 Apr: 10 Feb -> 1 Apr = 50 days; P3 never measured
    (missing); P4 read on its enrollment day only: 0; P5 1 Apr -> 28 Oct = 210 days."""
    _, c = cohort
    days = overview.follow_up_days(c).set_index("patient_id")["follow_up_days"]
    assert days.to_dict() == pytest.approx({"P1": 110, "P2": 50, "P3": np.nan, "P4": 0, "P5": 210}, nan_ok=True)


def test_follow_up_summary_by_hand(cohort):
    """T1: 110 and 50 (P3 never measured): median 80, quartiles 50 + 0.25 * 60 = 65 and 95. T2: 0 and 210: median
    105, quartiles 52.5 and 157.5. All: 0, 50, 110, 210: median 80, quartiles 37.5 and 135; 1 never measured."""
    _, c = cohort
    out = overview.follow_up_summary(c).set_index("team_id")
    assert list(out.index) == ["T1", "T2", "all"]  # a team with no patient has no follow-up
    assert out.loc["T1", ["patients", "never_measured"]].tolist() == [3, 1]
    assert out.loc["T1", ["median_days", "q1_days", "q3_days"]].tolist() == pytest.approx([80, 65, 95])
    assert out.loc["T2", ["median_days", "q1_days", "q3_days"]].tolist() == pytest.approx([105, 52.5, 157.5])
    assert out.loc["all", ["patients", "never_measured"]].tolist() == [5, 1]
    assert out.loc["all", ["median_days", "q1_days", "q3_days"]].tolist() == pytest.approx([80, 37.5, 135])


def test_quality_summary_counts_problems_per_file_and_severity():
    """Two patients warnings (the first one the example), one measurements warning, one patients error; groups in
    the order their first problem is listed."""
    quality = pd.DataFrame({"table": ["patients", "patients", "measurements", "patients"],
                            "severity": ["warning", "warning", "warning", "error"],
                            "problem": ["birth year 1890", "birth year 1899", "sbp 400", "duplicate P1"]})
    out = overview.quality_summary(quality)
    assert out.to_dict("records") == [
        {"table": "patients", "severity": "warning", "problems": 2, "example": "birth year 1890"},
        {"table": "measurements", "severity": "warning", "problems": 1, "example": "sbp 400"},
        {"table": "patients", "severity": "error", "problems": 1, "example": "duplicate P1"}]
    empty = overview.quality_summary(pd.DataFrame(columns=["table", "severity", "problem"]))
    assert empty.empty and list(empty.columns) == ["table", "severity", "problems", "example"]


# --- figures ----------------------------------------------------------------------------------------

def test_patients_per_team_figure_hides_small_teams_in_chart_and_caption(cohort):
    """Teams of 7, 30 and 45 patients (threshold 11): 82 patients, the smallest team shown as <11 in the caption
    and not drawn; the 30 would give the 7 away (82 - 45 - 30), so it is hidden too: one bar, of 45."""
    p, _ = cohort
    table = pd.DataFrame({"team_name": ["A", "B", "C"], "patients": [7, 30, 45]})
    spec = overview_figures.patients_per_team(table, p)
    ax = spec.figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B", "C"]
    assert [round(bar.get_width()) for bar in ax.patches] == [45]
    assert sorted(t.get_text() for t in ax.texts) == [" *", " 45", " <11"]
    assert spec.caption == "82 patients across 3 teams (<11 to 45 per team)."
    assert spec.alt_text == ("Horizontal bar chart of patients enrolled per team; 3 teams, from <11 to 45 patients "
                             "each, 82 in all.")
    shown = figure_io.show(spec, p)
    assert (shown.figure_id, shown.panels, shown.title) == ("overview_patients_per_team", 1,
                                                           "Patients in the population of focus, by team")
    record = figure_io.read_manifest(p.figures_dir).set_index("figure_id").loc["overview_patients_per_team"]
    assert (record["section"], record["notebook"], record["caption"]) == ("cohort", "00_data_quality", spec.caption)


def test_patients_per_team_figure_of_the_cohort(cohort):
    """The small cohort: 5 patients in 3 teams (0 to 3 each), every count small: the total too is <11."""
    p, c = cohort
    spec = overview_figures.patients_per_team(overview.patients_per_team(c), p)
    assert [t.get_text() for t in spec.figure.axes[0].get_yticklabels()] == ["Alpha Pharmacy", "Beta Health",
                                                                             "Gamma Drugs"]
    assert spec.caption == "<11 patients across 3 teams (0 to <11 per team)."


def test_patients_per_team_figure_draws_at_most_30_teams(cohort):
    """40 teams: team k has 12 + k patients, but team 7 has 5 (1,260 - 19 + 5 = 1,246 in all). Drawn: the 15 with
    the fewest (T07, T00-T06, T08-T14) and the 15 with the most (T25-T39), fewest first, with a gap row for the 10
    between. Only the 5 is hidden: the drawn teams do not add up to the total, so nothing gives it away."""
    p, _ = cohort
    sizes = [5 if k == 7 else 12 + k for k in range(40)]
    table = pd.DataFrame({"team_id": [f"T{k:02d}" for k in range(40)], "team_name": [f"Team {k:02d}" for k in range(40)],
                          "patients": sizes})
    spec = overview_figures.patients_per_team(table, p)
    ax = spec.figure.axes[0]
    expected = [7, *range(7), *range(8, 15), *range(25, 40)]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"Team {k:02d}" for k in expected]
    assert len(ax.patches) == 29 and sorted(round(b.get_width()) for b in ax.patches)[:2] == [12, 13]
    labels = [t.get_text() for t in ax.texts]
    assert " <11" in labels and " ... 10 teams in between ..." in labels and " 51" in labels and " 30" not in labels
    assert spec.figure.get_size_inches()[1] == pytest.approx(0.3 * 31 + 1)  # 30 rows and the gap
    assert spec.caption == ("1,246 patients across 40 teams (<11 to 51 per team). Shown: 30 of 40 teams, the 15 with "
                            "the fewest patients and the 15 with the most; every team is in "
                            "tables/patients_per_team.csv.")
    assert "the 30 of 40 teams with the fewest and the most patients" in spec.alt_text


@pytest.mark.parametrize(("days", "who", "median"), [
    # 12 + 12 measured, none missing: median of 10 (x12) and 21 (x12) = 15.5
    ([10.0] * 12 + [21.0] * 12, "all 24 patients", "15.5 days"),
    # 3 never measured of 35 (a small count): "all but <11", never "32 of 35", which would give the 3 away
    ([5.0] * 12 + [100.0] * 20 + [np.nan] * 3, "all but <11 of the 35 patients (the others have no measurement)",
     "100 days"),
    # 12 never measured of 47: both numbers stated
    ([5.0] * 15 + [100.0] * 20 + [np.nan] * 12, "35 of the 47 patients (12 have no measurement)", "100 days"),
])
def test_follow_up_caption_states_who_was_measured(cohort, days, who, median):
    p, _ = cohort
    spec = overview_figures.follow_up(pd.DataFrame({"follow_up_days": days}), p)
    assert spec.caption == f"Days from enrollment to the last measurement (or exit), {who}; median {median}."
    assert f"the median of {median} is marked with a dashed line" in spec.alt_text
    assert "a bin of fewer than 11 patients is merged" in spec.alt_text
    ax = spec.figure.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"median {median}"]


def test_follow_up_figure_bars_and_export(cohort):
    """12 patients at 5 days and 20 at 100 (30-day bins, none small): two bars labelled 12 and 20, in the cohort
    section of notebook 00."""
    p, _ = cohort
    spec = overview_figures.follow_up(pd.DataFrame({"follow_up_days": [5.0] * 12 + [100.0] * 20}), p)
    ax = spec.figure.axes[0]
    assert sorted(bar.get_height() for bar in ax.patches if bar.get_height() > 0) == [12, 20]
    assert sorted(t.get_text() for t in ax.texts) == ["12", "20"]
    assert ax.get_title() == "Follow-up per patient: enrollment to last measurement"
    shown = figure_io.show(spec, p)
    assert (shown.figure_id, shown.panels, shown.title) == ("overview_follow_up", 1, "Follow-up per patient")
    record = figure_io.read_manifest(p.figures_dir).set_index("figure_id").loc["overview_follow_up"]
    assert (record["section"], record["notebook"]) == ("cohort", "00_data_quality")
