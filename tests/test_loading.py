"""Loading and validation: each rule with a failing example, named by file, row and column."""
from __future__ import annotations

import pandas as pd
import pytest

from evaluation import DataValidationError, load_cohort
from tests.conftest import TINY, write_cohort


def problems_for(tmp_path, **changes) -> pd.DataFrame:
    """Data-quality table of the tiny cohort with some files replaced (None removes a file)."""
    files = {**TINY, **{k.replace("__", "/").replace("_csv", ".csv"): v for k, v in changes.items()}}
    files = {k: v for k, v in files.items() if v is not None}
    return load_cohort(write_cohort(tmp_path / "c", files), as_of="2016-12-31", raise_on_error=False).quality


def errors(q: pd.DataFrame) -> pd.DataFrame:
    return q[q["severity"] == "error"]


def only_problem(q: pd.DataFrame, severity: str = "error") -> pd.Series:
    rows = q[q["severity"] == severity]
    assert len(rows) == 1, rows.to_string()
    return rows.iloc[0]


def test_valid_cohort_loads_with_types(tiny_cohort):
    cohort = load_cohort(tiny_cohort, as_of="2016-12-31")
    assert errors(cohort.quality).empty
    assert len(cohort.patients) == 3 and len(cohort.measurements) == 9
    assert pd.api.types.is_datetime64_any_dtype(cohort.patients["enrolled_on"])
    assert cohort.measurements["value"].dtype == float
    assert cohort.patients["diabetes"].tolist() == [1, 1, 0]
    assert cohort.patients["row"].tolist() == [2, 3, 4]  # spreadsheet rows: header is row 1
    assert cohort.events is None and not cohort.has("events")
    assert "events.csv" in cohort.missing_note("events", "attendance")
    assert set(cohort.file_hashes) == {"teams.csv", "patients.csv", "measurements.csv"}


def test_missing_required_file(tmp_path):
    p = only_problem(problems_for(tmp_path, measurements_csv=None))
    assert (p.table, p.column) == ("measurements.csv", "")
    assert "required file is missing" in p.problem


def test_missing_required_column_names_the_column(tmp_path):
    text = TINY["patients.csv"].replace("birth_year", "birthyear")
    p = only_problem(problems_for(tmp_path, patients_csv=text))
    assert (p.table, p.row, p.column) == ("patients.csv", 1, "birth_year")


def test_malformed_date_names_row_and_column(tmp_path):
    text = TINY["patients.csv"].replace("2015-02-10,M", "02/10/2015,M")
    p = only_problem(problems_for(tmp_path, patients_csv=text))
    assert (p.table, p.row, p.column) == ("patients.csv", 3, "enrolled_on")
    assert "'02/10/2015' is not a date written YYYY-MM-DD" in p.problem


def test_spreadsheet_serial_date_is_explained(tmp_path):
    text = TINY["measurements.csv"].replace("2015-05-20", "42144")
    p = only_problem(problems_for(tmp_path, measurements_csv=text))
    assert (p.row, p.column) == (3, "measured_on") and "spreadsheet serial date" in p.problem


def test_non_numeric_value(tmp_path):
    text = TINY["measurements.csv"].replace("7.6", "7.6%")
    p = only_problem(problems_for(tmp_path, measurements_csv=text))
    assert (p.table, p.row, p.column) == ("measurements.csv", 3, "value") and "'7.6%' is not a number" in p.problem


def test_unquoted_comma_makes_a_ragged_row(tmp_path):
    text = TINY["measurements.csv"].replace("7.6", "7,6")
    p = only_problem(problems_for(tmp_path, measurements_csv=text))
    assert (p.table, p.row) == ("measurements.csv", 3) and "row has 5 fields but the header has 4" in p.problem


def test_wrong_integer(tmp_path):
    text = TINY["patients.csv"].replace("1950", "1950.5")
    p = only_problem(problems_for(tmp_path, patients_csv=text))
    assert (p.row, p.column) == (2, "birth_year") and "whole number" in p.problem


def test_unknown_team_id(tmp_path):
    text = TINY["patients.csv"].replace("P003,T02", "P003,T99")
    p = only_problem(problems_for(tmp_path, patients_csv=text))
    assert (p.table, p.row, p.column) == ("patients.csv", 4, "team_id") and "'T99' is not a team_id in teams.csv" in p.problem


def test_orphan_patient_reference(tmp_path):
    text = TINY["measurements.csv"] + "P404,a1c,2015-05-20,8.0\n"
    p = only_problem(problems_for(tmp_path, measurements_csv=text))
    assert (p.row, p.column) == (11, "patient_id") and "P404" in p.problem


def test_duplicated_patient_id(tmp_path):
    text = TINY["patients.csv"] + "P001,T02,2015-03-01,F,1950,,,1,0\n"
    p = only_problem(problems_for(tmp_path, patients_csv=text))
    assert (p.table, p.row, p.column) == ("patients.csv", 5, "patient_id") and "duplicated key" in p.problem


def test_duplicated_composite_key(tmp_path):
    text = TINY["measurements.csv"] + "P001,a1c,2015-05-20,7.7\n"
    p = only_problem(problems_for(tmp_path, measurements_csv=text))
    assert (p.row, p.column) == (11, "patient_id")
    assert "duplicated key (patient_id, measure, measured_on) = (P001, a1c, 2015-05-20)" in p.problem


def test_category_not_allowed(tmp_path):
    text = TINY["teams.csv"].replace("initial", "beginner")
    p = only_problem(problems_for(tmp_path, teams_csv=text))
    assert (p.row, p.column) == (2, "track") and "must be one of: initial, advanced" in p.problem


def test_blank_required_value(tmp_path):
    text = TINY["patients.csv"].replace(",F,1950", ",,1950")
    p = only_problem(problems_for(tmp_path, patients_csv=text))
    assert (p.row, p.column) == (2, "sex") and "blank" in p.problem


def test_exit_before_enrollment(tmp_path):
    text = TINY["patients.csv"].replace("2015-09-01,died", "2015-01-01,died")
    p = only_problem(problems_for(tmp_path, patients_csv=text))
    assert (p.row, p.column) == (3, "exited_on") and "before the enrollment" in p.problem


def test_implausible_hba1c_and_sbp(tmp_path):
    text = TINY["measurements.csv"].replace("9.1", "25").replace("150", "300")
    q = errors(problems_for(tmp_path, measurements_csv=text))
    assert q[["row", "column"]].values.tolist() == [[2, "value"], [5, "value"]]
    assert "implausible for a1c (expected 3-20 %)" in q.iloc[0].problem
    assert "implausible for sbp (expected 60-260 mmHg)" in q.iloc[1].problem


def test_unknown_measure_is_a_warning_not_an_error(tmp_path):
    text = TINY["measurements.csv"] + "P001,weight,2015-05-20,80\n"
    q = problems_for(tmp_path, measurements_csv=text)
    assert errors(q).empty
    assert "measure 'weight' is not in the data dictionary" in only_problem(q, "warning").problem


def test_date_in_the_future(tmp_path):
    text = TINY["measurements.csv"].replace("2015-05-20", "2031-05-20")
    p = only_problem(problems_for(tmp_path, measurements_csv=text))
    assert (p.row, p.column) == (3, "measured_on") and "in the future" in p.problem


def test_mtp_resolved_before_identified(tmp_path):
    mtps = "patient_id,identified_on,category,resolved_on\nP001,2015-03-01,nonadherence,2015-02-01\n"
    p = only_problem(problems_for(tmp_path, mtps_csv=mtps))
    assert (p.table, p.row, p.column) == ("mtps.csv", 2, "resolved_on")


def test_readmission_without_admission_is_a_warning(tmp_path):
    util = ("patient_id,occurred_on,kind,cost\n"
            "P001,2015-04-01,readmission,14000\n"
            "P002,2015-03-01,admission,12000\n"
            "P002,2015-04-01,readmission,14000\n")
    q = problems_for(tmp_path, utilization_csv=util)
    p = only_problem(q, "warning")
    assert (p.table, p.row, p.column) == ("utilization.csv", 2, "kind")


def test_numerator_above_denominator(tmp_path):
    reports = "team_id,month,measure,numerator,denominator\nT01,2015-03,a1c_at_goal,12,10\nT01,2015-04,a1c_at_goal,8,10\n"
    p = only_problem(problems_for(tmp_path, monthly_reports_csv=reports))
    assert (p.table, p.row, p.column) == ("monthly_reports.csv", 2, "numerator")


def test_months_are_yyyy_mm_or_the_first_of_the_month(tmp_path):
    reports = ("team_id,month,measure,numerator,denominator\nT01,2015-03,a1c_at_goal,5,10\n"
               "T01,2015-04-01,a1c_at_goal,6,10\nT01,2015-13,a1c_at_goal,7,10\nT01,2015-05-02,bp_at_goal,8,10\n")
    bad = errors(problems_for(tmp_path, monthly_reports_csv=reports))
    assert bad[["row", "column"]].values.tolist() == [[4, "month"], [5, "month"]]
    assert bad["problem"].tolist() == ["'2015-13' is not a month written YYYY-MM", "'2015-05-02' is not a month written YYYY-MM"]


def test_negative_cost_is_an_error(tmp_path):
    costs = "team_id,item,amount\nT01,pharmacist time,-5000\n"
    p = only_problem(problems_for(tmp_path, program_costs_csv=costs))
    assert (p.row, p.column) == (2, "amount") and "at least 0" in p.problem


def test_codings_pointing_to_unknown_excerpt_and_code(tmp_path):
    q = problems_for(tmp_path, **{
        "qualitative__sources_csv": "source_id,kind,held_on,team_id\nS1,focus_group,2015-07-01,\n",
        "qualitative__excerpts_csv": "excerpt_id,source_id,team_id,text\nE1,S1,T01,The monthly calls kept us on track.\n",
        "qualitative__codebook_csv": "code,theme,definition\nmonthly_calls,Collaborative design,Value of calls\n",
        "qualitative__codings_csv": "excerpt_id,coder,code\nE1,ana,monthly_calls\nE9,ana,monthly_calls\nE1,ben,networking\n",
    })
    e = errors(q)
    assert e[["table", "row", "column"]].values.tolist() == [
        ["qualitative/codings.csv", 3, "excerpt_id"], ["qualitative/codings.csv", 4, "code"]]


def test_non_utf8_file(tmp_path):
    text = TINY["teams.csv"].replace("Lakeside", "Lakesid\u00e9").encode("latin-1")
    p = only_problem(problems_for(tmp_path, teams_csv=text))
    assert p.table == "teams.csv" and p.row == 3 and "not UTF-8" in p.problem


def test_utf8_bom_is_a_warning_and_the_file_is_read(tmp_path):
    q = problems_for(tmp_path, teams_csv="\ufeff" + TINY["teams.csv"])
    assert errors(q).empty
    assert "byte-order mark" in only_problem(q, "warning").problem


def test_empty_optional_table_is_a_warning(tmp_path):
    q = problems_for(tmp_path, events_csv="event_id,event_on,kind\n")
    assert errors(q).empty and "no rows" in only_problem(q, "warning").problem


def test_all_problems_collected_then_raised(tmp_path):
    teams = TINY["teams.csv"].replace("initial", "beginner")
    patients = TINY["patients.csv"].replace("2015-02-10,M", "2015-13-10,M")
    folder = write_cohort(tmp_path / "bad", {**TINY, "teams.csv": teams, "patients.csv": patients})
    with pytest.raises(DataValidationError) as info:
        load_cohort(folder, as_of="2016-12-31")
    message = str(info.value)
    assert "2 data error(s)" in message
    assert "teams.csv, row 2, column 'track'" in message
    assert "patients.csv, row 3, column 'enrolled_on'" in message
    assert len(info.value.problems) == 2


def test_readmission_when_nobody_was_admitted(tmp_path):
    util = "patient_id,occurred_on,kind,cost\nP001,2015-04-01,readmission,14000\nP002,2015-04-01,ed_visit,900\n"
    p = only_problem(problems_for(tmp_path, utilization_csv=util), "warning")
    assert (p.row, p.column) == (2, "kind")


def test_padded_cells_are_stripped(tmp_path):
    text = TINY["teams.csv"].replace("T01,", "T01 ,").replace(",IA,", ", IA,")
    folder = write_cohort(tmp_path / "padded", {**TINY, "teams.csv": text})
    teams = load_cohort(folder, as_of="2016-12-31").teams
    assert teams["team_id"].tolist() == ["T01", "T02"] and teams["state"].tolist() == ["IA", "MN"]
