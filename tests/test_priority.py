"""The priority list (evaluation/analyses/priority/): a small cohort of 2021-22 whose every score, rank, band and
count is worked by hand below; the MTP needs; and the disclosure gate that keeps the list out of the funder pack.

The cohort, as of 2022-06-30 (default weights: 2 per measure not at goal, 2 more when far from it, 1 per
condition, ED visit 1 (6 months) + 1 (12 months), admission 2 + 1, open MTP 1, no reading in 90 days 2; bands
high >= 8, medium >= 4):

- P1 (T01; diabetes, hypertension): HbA1c 9.4 on 2022-05-01 (1.4 above < 8: not at goal, far), blood pressure
  150/85 the same day (systolic 10 above < 140: not at goal, not far); ED visits 2022-02-01 (in both windows)
  and 2021-09-01 (12 months only); an admission 2021-05-01 (outside both); one MTP open, one resolved
  2022-06-01. Points 2x2 + 2 + 2 + (1 + 2) + 1 + 0 = 12: high. Last contact 2022-06-01 (29 days).
- P2 (T01; hypertension): blood pressure 130/80 on 2021-12-01 (at goal), then a systolic 145 alone on
  2022-01-15: blood pressure is judged on the last day both parts were read (at goal), and the lone systolic is
  the latest reading (166 days: none in 90). Points 1 + 2 = 3: low.
- P3 (T01) moved away on 2022-01-01: not on the list.
- P4 (T02; diabetes, anticoagulation): INR 1.6 on 2022-01-10 (0.4 below 2-3: not at goal, not far; 171 days);
  an admission 2022-04-01 and a readmission 2022-05-01 (2 admissions in both windows). Points 2 + 2 + 2x2 + 2x1
  + 2 = 12: high; ties with P1 but ranks first in its own team.
- P6 (T02; no condition flagged, no reading): points 2 (no reading): low; last contact its enrollment.
"""
from __future__ import annotations

import json
import zipfile

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from conftest import write_cohort
from evaluation.analyses.priority import compute as priority_list
from evaluation.analyses.priority import figures as priority_figures
from evaluation.analyses.time_to_goal.mtp import mtp_needs, mtp_resolution_data
from evaluation.core.errors import ParamsError
from evaluation.core.figures import export_figure
from evaluation.core.goals import parse_goal
from evaluation.core.params import check
from evaluation.data.loading import load_cohort
from evaluation.report.contents import figure_manifest
from evaluation.report.gate import check_funder_outputs
from evaluation.run.pages import figure_items

COHORT = {
    "teams.csv": ("team_id,team_name,state,setting,track,joined_on\n"
                  "T01,Harbor Pharmacy,OR,community_pharmacy,initial,2021-01-10\n"
                  "T02,Mesa Clinic,AZ,clinic,advanced,2021-01-10\n"),
    "patients.csv": ("patient_id,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason,diabetes,hypertension,"
                     "dyslipidemia,anticoagulation\n"
                     "P1,T01,2021-02-01,F,1956,,,1,1,0,0\n"
                     "P2,T01,2021-03-01,M,1960,,,0,1,0,0\n"
                     "P3,T01,2021-04-01,F,1949,2022-01-01,moved,1,0,0,0\n"
                     "P4,T02,2021-05-01,M,1944,,,1,0,0,1\n"
                     "P6,T02,2021-06-01,F,1970,,,0,0,0,0\n"),
    "measurements.csv": ("patient_id,measure,measured_on,value\n"
                         "P1,a1c,2021-03-01,9.5\n"
                         "P1,a1c,2022-05-01,9.4\n"
                         "P1,sbp,2022-05-01,150\n"
                         "P1,dbp,2022-05-01,85\n"
                         "P2,sbp,2021-12-01,130\n"
                         "P2,dbp,2021-12-01,80\n"
                         "P2,sbp,2022-01-15,145\n"
                         "P3,a1c,2021-10-01,10.0\n"
                         "P4,inr,2022-01-10,1.6\n"),
    "utilization.csv": ("patient_id,occurred_on,kind,cost\n"
                        "P1,2022-02-01,ed_visit,900\n"
                        "P1,2021-09-01,ed_visit,900\n"
                        "P1,2021-05-01,admission,12000\n"
                        "P4,2022-04-01,admission,12000\n"
                        "P4,2022-05-01,readmission,12000\n"),
    "mtps.csv": ("mtp_id,patient_id,identified_on,category,resolved_on\n"
                 "M1,P1,2022-04-01,nonadherence,\n"
                 "M2,P1,2022-03-01,dosage_too_high,2022-06-01\n"
                 "M3,P4,2022-02-01,ineffective_drug,2022-02-11\n"),
}


def raw_params(folder, **extra) -> dict:
    return {"cohort_id": "c2022", "data_dir": str(folder), "output_dir": str(folder.parent / "report"),
            "as_of": "2022-06-30", **extra}


@pytest.fixture
def cohort_params(tmp_path):
    params = check(raw_params(write_cohort(tmp_path / "cohort2022", COHORT)))
    return params, load_cohort(params)


def test_the_list_scores_ranks_and_bands_by_hand(cohort_params):
    params, cohort = cohort_params
    table = priority_list.priority_list(cohort, params).set_index("patient_id")
    assert list(table.index) == ["P1", "P2", "P4", "P6"]  # P3 exited before as_of; ranked within team
    assert table["rank"].tolist() == [1, 2, 1, 2]
    assert table["score"].tolist() == [12.0, 3.0, 12.0, 2.0]
    assert table["band"].tolist() == ["high", "low", "high", "low"]
    p1 = table.loc["P1"]
    assert (p1["points_not_at_goal"], p1["points_far_from_goal"], p1["points_conditions"], p1["points_acute_care"],
            p1["points_open_mtps"], p1["points_no_recent_reading"]) == (4.0, 2.0, 2.0, 3.0, 1.0, 0.0)
    assert p1["measures_not_at_goal"] == "a1c; bp" and p1["n_far_from_goal"] == 1
    assert (p1["ed_visits_6m"], p1["ed_visits_12m"], p1["admissions_6m"], p1["admissions_12m"]) == (1, 2, 0, 0)
    assert p1["a1c_latest"] == 9.4 and p1["a1c_from_goal"] == pytest.approx(1.4)
    assert p1["sbp_from_goal"] == pytest.approx(10.0) and p1["dbp_from_goal"] == 0
    assert p1["days_since_reading"] == 60 and p1["last_contact_on"] == "2022-06-01" and p1["days_since_contact"] == 29
    p2 = table.loc["P2"]
    assert bool(p2["bp_at_goal"]) and p2["bp_on"] == "2021-12-01" and p2["sbp_latest"] == 145
    assert p2["n_not_at_goal"] == 0 and p2["days_since_reading"] == 166 and bool(p2["no_recent_reading"])
    p4 = table.loc["P4"]
    assert p4["inr_from_goal"] == pytest.approx(0.4) and p4["measures_not_at_goal"] == "inr"
    assert (p4["admissions_6m"], p4["admissions_12m"], p4["points_acute_care"]) == (2, 2, 6.0)
    assert pd.isna(p4["a1c_at_goal"]) and p4["days_since_reading"] == 171
    p6 = table.loc["P6"]
    assert p6["n_conditions"] == 0 and pd.isna(p6["days_since_reading"]) and bool(p6["no_recent_reading"])
    assert p6["last_contact_on"] == "2021-06-01" and p6["days_since_contact"] == 394


def test_band_counts_and_the_share_without_a_recent_reading(cohort_params):
    """T01: P1 not at goal, read 60 days ago (0 of 1 stale); T02: P4 not at goal, 171 days (1 of 1); all: 1 of 2."""
    params, cohort = cohort_params
    bands = priority_list.band_counts(priority_list.priority_list(cohort, params), cohort.teams).set_index("team_id")
    assert bands.loc["T01", ["patients", "high", "medium", "low", "not_at_goal"]].tolist() == [2, 1, 0, 1, 1]
    assert bands.loc["T01", "pct_not_at_goal_no_recent_reading"] == 0
    assert bands.loc["T02", "not_at_goal_no_recent_reading"] == 1 and bands.loc["T02", "pct_not_at_goal_no_recent_reading"] == 100
    assert bands.loc["all", ["patients", "high", "low", "not_at_goal", "not_at_goal_no_recent_reading"]].tolist() == [4, 2, 2, 2, 1]
    assert bands.loc["all", "pct_not_at_goal_no_recent_reading"] == 50 and bands.loc["all", "median_score"] == 7.5
    assert bands.loc["T01", "median_score"] == 7.5 and bands.loc["T02", "median_score"] == 7.0


def test_weights_and_stale_days_are_params(cohort_params):
    """No points for acute care and a 200-day staleness window: P4 loses 6 and its 2 for no reading (171 days):
    4 = medium; P2 (166 days) loses its 2: 1, low."""
    params, cohort = cohort_params
    changed = check(raw_params(cohort.data_dir, priority={
        "weights": {"admission_6m": 0, "admission_12m": 0, "ed_visit_6m": 0, "ed_visit_12m": 0}, "stale_days": 200}))
    table = priority_list.priority_list(cohort, changed).set_index("patient_id")
    assert table.loc["P4", "score"] == 4.0 and table.loc["P4", "band"] == "medium"
    assert table.loc["P2", "score"] == 1.0 and table.loc["P1", "score"] == 9.0


def test_bands_must_be_ordered(cohort_params):
    params, cohort = cohort_params
    bad = check(raw_params(cohort.data_dir, priority={"bands": {"high": 3, "medium": 5}}))
    with pytest.raises(ParamsError, match="must be above") as err:
        priority_list.priority_list(cohort, bad)
    assert err.value.key == "priority.bands.high"


def test_goal_distance_by_hand():
    assert parse_goal("a1c", "< 8").distance([9.4, 7.0, 8.0, np.nan]).tolist()[:3] == pytest.approx([1.4, 0, 0])
    assert np.isnan(parse_goal("a1c", "< 8").distance([np.nan])[0])
    assert parse_goal("inr", "2-3").distance([1.6, 2.5, 3.7]).tolist() == pytest.approx([0.4, 0, 0.7])
    assert parse_goal("egfr", ">= 60").distance([45, 75]).tolist() == pytest.approx([15, 0])


def test_without_optional_tables_the_list_still_ranks(tmp_path):
    """Only the required tables (teams, patients, measurements): P1 loses its acute-care and MTP points (12 - 4 =
    8), P4 its acute-care points (12 - 6 = 6)."""
    folder = write_cohort(tmp_path / "bare", {k: COHORT[k] for k in ("teams.csv", "patients.csv", "measurements.csv")})
    params = check({"cohort_id": "bare", "data_dir": str(folder), "as_of": "2022-06-30"})
    cohort = load_cohort(params)
    table = priority_list.priority_list(cohort, params).set_index("patient_id")
    assert table["score"].to_dict() == {"P1": 8.0, "P2": 3.0, "P4": 6.0, "P6": 2.0}
    assert (table["open_mtps"] == 0).all() and (table["ed_visits_12m"] == 0).all()


def test_mtp_needs_by_hand(cohort_params):
    """Three MTPs: adherence open (censored at the data end 2022-06-01, 61 days), safety resolved in 92 days,
    effectiveness in 10; indication has none and is left out."""
    params, cohort = cohort_params
    needs = mtp_needs(mtp_resolution_data(cohort, params), params).set_index("need")
    assert list(needs.index) == ["all", "effectiveness", "safety", "adherence"]
    assert needs.loc["all", ["n", "resolved", "patients"]].tolist() == [3, 2, 2]
    assert needs.loc["effectiveness", "median_days"] == 10 and needs.loc["safety", "median_days"] == 92
    assert np.isnan(needs.loc["adherence", "median_days"]) and needs.loc["adherence", "resolved"] == 0
    assert needs.loc["effectiveness", "categories"] == "ineffective_drug; dosage_too_low"


def test_bands_figure_is_internal_and_states_the_counts(cohort_params):
    params, cohort = cohort_params
    bands = priority_list.band_counts(priority_list.priority_list(cohort, params), cohort.teams)
    spec = priority_figures.bands_figure(bands, params)
    assert spec.section == "priority" and spec.figure_id == "priority_bands"
    assert "2 high (score 8 or more), 0 medium (4 or more) and 2 low, of 4" in spec.caption
    assert "of the 2 not at goal on some measure, 1 (50%" in spec.caption


def test_the_gate_keeps_the_list_in_tables_and_out_of_the_funder_pack(tmp_path):
    """tables/priority.csv may carry patient_id; any priority file in funder/ (or in its figure zip) fails."""
    report = tmp_path / "report"
    (report / "tables").mkdir(parents=True)
    (report / "funder").mkdir()
    pd.DataFrame({"team_id": ["T01"], "patient_id": ["P1"], "score": [12]}).to_csv(report / "tables" / "priority.csv", index=False)
    assert check_funder_outputs(report, raise_on_problem=False).empty
    pd.DataFrame({"team_id": ["T01"], "patient_id": ["P1"]}).to_csv(report / "tables" / "other.csv", index=False)
    problems = check_funder_outputs(report, raise_on_problem=False)
    assert problems["file"].tolist() == ["tables/other.csv"]  # the exemption is for the list only
    (report / "tables" / "other.csv").unlink()
    pd.DataFrame({"team_id": ["T01"], "high": [20]}).to_csv(report / "funder" / "priority_bands.csv", index=False)
    with zipfile.ZipFile(report / "funder" / "demo_figures.zip", "w") as zf:
        zf.writestr("priority_bands.png", b"")
        zf.writestr("manifest.csv", "figure_id\n")
    problems = check_funder_outputs(report, raise_on_problem=False)
    internal = problems[problems["problem"].str.contains("internal patient list")]
    assert sorted(internal["file"]) == ["funder/demo_figures.zip", "funder/priority_bands.csv"]


def test_internal_figures_stay_out_of_the_story_manifest(cohort_params):
    """A figure exported with section priority is in figures/ but not in the manifest the story and pack read."""
    params, cohort = cohort_params
    bands = priority_list.band_counts(priority_list.priority_list(cohort, params), cohort.teams)
    spec = priority_figures.bands_figure(bands, params)
    export_figure(spec.figure, params, spec.figure_id, title=spec.title, caption=spec.caption, alt_text=spec.alt_text,
                  notebook=spec.notebook, section=spec.section)
    assert (params.figures_dir / "priority_bands.png").is_file()
    assert figure_manifest(params).empty
    assert json.loads((params.figures_dir / "priority_bands.json").read_text())["section"] == "priority"


def test_the_index_page_leaves_the_teams_figures_out(cohort_params):
    """The index page is read as a funder reads it (the gate checks it): the priority figure, which counts
    patients per team, is shown on its notebook's page only."""
    params, cohort = cohort_params
    bands = priority_list.band_counts(priority_list.priority_list(cohort, params), cohort.teams)
    spec = priority_figures.bands_figure(bands, params)
    export_figure(spec.figure, params, spec.figure_id, title=spec.title, caption=spec.caption, alt_text=spec.alt_text,
                  notebook=spec.notebook, section=spec.section)
    export_figure(plt.subplots()[0], params, "cohort_chart", title="A cohort chart", caption="Every patient.",
                  alt_text="Bars.", notebook="00_data_quality", section="cohort")
    items = figure_items(params.output_dir)
    assert len(items) == 1 and "A cohort chart" in items[0] and "priority" not in items[0]
