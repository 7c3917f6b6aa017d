"""Rules that keep impossible data out of every analysis, at their edges, and the bounded echo of values in
messages. Cohort-level cases (a run stopped, CSV and workbook) are in test_bad_inputs.py."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from evaluation import load_cohort
from evaluation.data import validation
from evaluation.core.errors import character_name, format_problem, shown_value
from evaluation.core.problems import MESSAGE_LIMIT, Problems
from evaluation.data.readers import cell_text
from tests.conftest import TINY, write_cohort

# TINY: P001 born 1950, enrolled 2015-02-01 (measurements rows 2-3); P002 born 1961, enrolled 2015-02-10
# (rows 4-6); P003 born 1948, enrolled 2015-03-01 (rows 7-10).


def quality(tmp_path, as_of="2016-12-31", **files: str) -> pd.DataFrame:
    """Data-quality table of the tiny cohort with some files replaced or added (``mtps_csv=...``)."""
    changed = {k.replace("__", "/").replace("_csv", ".csv"): v for k, v in files.items()}
    return load_cohort(write_cohort(tmp_path / "c", {**TINY, **changed}), as_of=as_of, raise_on_error=False).quality


def errors(q: pd.DataFrame) -> list[list]:
    e = q[q["severity"] == "error"]
    return e[["table", "row", "column", "problem"]].astype(object).values.tolist()


def with_measurement(date: str, patient: str = "P001") -> str:
    return TINY["measurements.csv"] + f"{patient},ldl,{date},120\n"


# --- dates before birth and long before enrollment -------------------------------------------------------

def test_a_measurement_in_the_birth_year_is_fine_the_year_before_is_not(tmp_path):
    assert errors(quality(tmp_path, measurements_csv=with_measurement("1950-01-01"))) == [
        ["measurements.csv", 11, "measured_on",
         "'1950-01-01' is 23772 days (65.1 years) before the patient's enrollment on 2015-02-01; no analysis looks "
         "back more than 3650 days (10 years): correct the date (or the patient_id), or leave the row out"]]
    assert errors(quality(tmp_path / "b", measurements_csv=with_measurement("1949-12-31"))) == [
        ["measurements.csv", 11, "measured_on",
         "'1949-12-31' is before the patient's birth year (1950, patients.csv row 2); check this date and the "
         "birth year"]]


def test_look_back_is_3650_days_at_most(tmp_path):
    enrolled = dt.date(2015, 2, 1)
    at_limit = (enrolled - dt.timedelta(days=3650)).isoformat()
    beyond = (enrolled - dt.timedelta(days=3651)).isoformat()
    assert errors(quality(tmp_path, measurements_csv=with_measurement(at_limit))) == []
    [[table, row, column, problem]] = errors(quality(tmp_path / "b", measurements_csv=with_measurement(beyond)))
    assert (table, row, column) == ("measurements.csv", 11, "measured_on")
    assert problem.startswith(f"'{beyond}' is 3651 days (10.0 years) before the patient's enrollment on 2015-02-01")


def test_every_dated_table_about_patients_is_checked(tmp_path):
    q = quality(tmp_path,
                mtps_csv="patient_id,identified_on,category,resolved_on\n"
                         "P001,2015-03-01,nonadherence,1949-05-01\n"  # resolved before birth (and before identified)
                         "P002,2001-01-01,other,\n",
                utilization_csv="patient_id,occurred_on,kind,cost\nP003,1947-12-31,ed_visit,900\n")
    assert [e[:3] for e in errors(q)] == [
        ["mtps.csv", 2, "resolved_on"], ["mtps.csv", 2, "resolved_on"], ["mtps.csv", 3, "identified_on"],
        ["utilization.csv", 2, "occurred_on"]]
    problems = [e[3] for e in errors(q)]
    assert "before the patient's birth year (1950, patients.csv row 2)" in problems[0] + problems[1]
    assert "resolved before it was identified" in problems[0] + problems[1]
    assert problems[2].startswith("'2001-01-01' is 5153 days (14.1 years) before the patient's enrollment on 2015-02-10")
    assert problems[3].startswith("'1947-12-31' is before the patient's birth year (1948, patients.csv row 4)")


def test_enrollment_before_the_birth_year(tmp_path):
    patients = TINY["patients.csv"].replace("P003,T02,2015-03-01,F,1948", "P003,T02,1947-03-01,F,1948")
    q = quality(tmp_path, patients_csv=patients)
    assert errors(q) == [["patients.csv", 4, "enrolled_on", "'1947-03-01' is before the patient's birth year (1948); "
                                                             "check the enrollment date and the birth year"]]


def test_a_wrong_birth_year_or_enrollment_is_one_error_not_one_per_measurement(tmp_path):
    patients = (TINY["patients.csv"].replace("2015-02-01,F,1950", "2015-02-01,F,2031")  # P001: out of range
                .replace("P003,T02,2015-03-01", "P003,T02,2035-03-01"))  # P003: enrolled in the future
    assert [e[:3] for e in errors(quality(tmp_path, patients_csv=patients))] == [
        ["patients.csv", 2, "birth_year"], ["patients.csv", 4, "enrolled_on"]]


# --- year of birth in the future ---------------------------------------------------------------------------

def test_birth_year_after_the_as_of_year(tmp_path):
    born = lambda year: TINY["patients.csv"].replace("P002,T01,2015-02-10,M,1961", f"P002,T01,2015-02-10,M,{year}")
    assert errors(quality(tmp_path / "a", patients_csv=born(2016))) == [  # not in the future; but born after enrollment
        ["patients.csv", 3, "enrolled_on", "'2015-02-10' is before the patient's birth year (2016); check the enrollment "
                                           "date and the birth year"]]  # one error: not one more per measurement
    assert errors(quality(tmp_path / "b", patients_csv=born(2017))) == [
        ["patients.csv", 3, "birth_year", "'2017' is a year of birth in the future: after 2016, the year of the as-of "
                                          "date (2016-12-31, when the data were extracted); check it"]]


def test_birth_year_in_the_future_without_an_as_of_date_is_after_this_year(tmp_path):
    year = dt.date.today().year + 1
    patients = TINY["patients.csv"].replace(",M,1961,", f",M,{year},")
    [[table, row, column, problem]] = errors(quality(tmp_path, as_of=None, patients_csv=patients))
    assert (table, row, column) == ("patients.csv", 3, "birth_year")
    assert problem == f"'{year}' is a year of birth in the future: after this year ({year - 1}); check it"


# --- monthly reports ----------------------------------------------------------------------------------------

def test_denominator_zero_is_one_error_and_a_blank_numerator_does_not_break_the_rule(tmp_path):
    reports = ("team_id,month,measure,numerator,denominator\n"
               "T01,2015-03,a1c_at_goal,3,0\n"
               "T01,2015-04,a1c_at_goal,,10\n"
               "T01,2015-05,a1c_at_goal,0,10\n")
    assert errors(quality(tmp_path, monthly_reports_csv=reports)) == [
        ["monthly_reports.csv", 2, "denominator", "denominator is 0: a month with no eligible patients has no rate; "
                                                  "leave that month's row out (a team with nobody to report on reports nothing)"],
        ["monthly_reports.csv", 3, "numerator", "is blank; a value is required"]]


# --- cells: control characters and numbers that are not finite -----------------------------------------------

@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f", "\ufffe", "\uffff"])
def test_every_forbidden_character_is_an_error(tmp_path, char):
    teams = TINY["teams.csv"].replace("Lakeside Drug", f"Lakeside{char}Drug")
    assert errors(quality(tmp_path, teams_csv=teams)) == [
        ["teams.csv", 3, "team_name", f"contains the control character {character_name(char)} at character 9: "
                                      f"'Lakeside[U+{ord(char):04X}]Drug'; delete it (only tab, newline and carriage "
                                      "return may appear in a cell: the others are invisible and break the reports)"]]


def test_tab_newline_and_carriage_return_are_fine_in_text(tmp_path):
    teams = TINY["teams.csv"].replace("Lakeside Drug", '"Lakeside\tDrug\r\nof the\nlakes"')
    q = quality(tmp_path, teams_csv=teams)
    assert errors(q) == []


def test_a_control_character_is_reported_wherever_it_stands_and_not_stripped_away(tmp_path):
    """Padding is stripped (a space, a no-break space), a control character never silently: it is reported."""
    teams = TINY["teams.csv"].replace("T01,", "T01\u00a0,").replace("MN,", "MN\x0b,").replace("Lakeside", " Lakeside")
    q = quality(tmp_path, teams_csv=teams)
    assert [e[:3] for e in errors(q)] == [["teams.csv", 3, "state"]]
    assert "U+000B (vertical tab) at character 3: 'MN[U+000B]'" in errors(q)[0][3]


def test_a_control_character_in_a_header_cell(tmp_path):
    teams = TINY["teams.csv"].replace("team_name", "team\x0cname")
    assert [e[2:] for e in errors(quality(tmp_path, teams_csv=teams))] == [
        ["team[U+000C]name", "header cell 'team[U+000C]name' contains the control character U+000C (form feed); "
                             "delete it (it is invisible in most editors)"],
        ["team_name", "required column is missing from the header"]]


@pytest.mark.parametrize("text", ["inf", "-inf", "+inf", "Infinity", "-INFINITY", "nan", "NaN", "1e999"])
def test_a_number_must_be_finite(tmp_path, text):
    measurements = TINY["measurements.csv"] + f"P001,weight,2015-05-20,{text}\n"
    q = quality(tmp_path, measurements_csv=measurements)
    assert errors(q) == [["measurements.csv", 11, "value", f"'{text}' must be a finite number; write the actual "
                                                           "value (leave out a row that has none)"]]


def test_a_whole_number_must_be_finite_too(tmp_path):
    patients = TINY["patients.csv"].replace(",M,1961,", ",M,inf,")
    assert errors(quality(tmp_path, patients_csv=patients)) == [
        ["patients.csv", 3, "birth_year", "'inf' must be a finite number; write the actual value (leave out a row "
                                          "that has none)"]]


def test_a_required_table_with_only_a_header_is_an_error_an_optional_one_a_warning(tmp_path):
    q = quality(tmp_path, measurements_csv="patient_id,measure,measured_on,value\n",
                pdsa_cycles_csv="team_id,started_on,change_idea,decision\n")
    rows = q[["table", "severity", "problem"]].values.tolist()
    assert rows == [
        ["measurements.csv", "error", "table has no rows, only a header; it is required: export it again with its records"],
        ["pdsa_cycles.csv", "warning", "table has no rows, only a header; the analyses that need it are skipped"]]


# --- values echoed in messages -------------------------------------------------------------------------------

def test_shown_value_is_bounded_and_shows_invisible_characters():
    assert shown_value("P001") == "P001"
    assert shown_value(12.5) == "12.5"
    assert shown_value("x" * 80) == "x" * 80
    assert shown_value("x" * 81) == "x" * 80 + "…"
    assert shown_value("x" * 10_000_000) == "x" * 80 + "…"
    assert shown_value("a\x0bb\tc\nd\x00") == "a[U+000B]b[U+0009]c[U+000A]d[U+0000]"
    assert shown_value("x" * 75 + "\x0b" + "y") == "x" * 75 + "…"  # an escape is never cut in two
    assert shown_value("abc", limit=2) == "ab…"


def test_format_problem_bounds_a_column_named_by_the_file():
    row = SimpleNamespace(table="teams.csv", row=1, column="c" * 500 + "\x00", problem="column appears more than once")
    assert format_problem(row) == f"teams.csv, row 1, column '{'c' * 200}…': column appears more than once"


def test_problems_bound_a_message_built_from_an_unbounded_value():
    problems = Problems()
    problems.add("x.qdpx", None, "TextSource '" + "n" * 1000 + "'", "error", "bad: " + "v" * 5000)
    row = problems.table().iloc[0]
    assert len(row["column"]) == 201 and len(row["problem"]) == MESSAGE_LIMIT + 1 and row["problem"].endswith("…")


def test_a_repeated_header_cell_is_named_in_80_characters(tmp_path):
    long = "n" * 5000
    teams = TINY["teams.csv"].replace("team_name,", f"{long},").replace(",joined_on", f",joined_on,{long}")
    assert [e[2:] for e in errors(quality(tmp_path, teams_csv=teams))] == [
        ["n" * 80 + "…", "column appears more than once in the header"]]


def test_goal_warning_lists_the_measures_in_the_data_bounded(tmp_path):
    measurements = TINY["measurements.csv"] + "".join(f"P001,m{'z' * 60}{i:02d},2015-05-20,1\n" for i in range(30))
    folder = write_cohort(tmp_path / "c", {**TINY, "measurements.csv": measurements})
    cohort = load_cohort(folder, as_of="2016-12-31", raise_on_error=False)
    problems = Problems()
    validation.check_goals(cohort.tables, problems, {"hba1c": "< 8"})
    [text] = problems.table()["problem"].tolist()
    assert text.startswith("params goals name 'hba1c', but no measurement has that measure (measures in the data: ")
    assert text.endswith(f", {'m' + 'z' * 29}… and 25 more)")  # 3 + 30 measures, 8 shown and len(text) < MESSAGE_LIMIT


def test_cell_text_keeps_a_control_character_for_the_check():
    assert cell_text(" P001\u00a0\t") == "P001"
    assert cell_text("P001\x0b") == "P001\x0b"


def test_a_huge_number_out_of_range_is_echoed_bounded(tmp_path):
    costs = "team_id,item,amount\nT01,pharmacist time,-1e300\n"
    [[table, row, column, problem]] = errors(quality(tmp_path, program_costs_csv=costs))
    assert (table, row, column) == ("program_costs.csv", 2, "amount")
    assert problem == f"'{str(int(-1e300))[:80]}…' must be at least 0"


# --- assessments (IHI Assessment Scale for Collaboratives) -----------------------------------------------------

ASSESSMENTS_HEADER = "team_id,month,score,rater\n"


def test_assessments_on_the_scale_are_fine_in_either_month_format(tmp_path):
    rows = ("T01,2015-02,0.5,team\n"          # the lowest point
            "T01,2015-02,1,faculty\n"         # a whole point written without a decimal
            "T02,2015-03-01,4.5,faculty\n"    # a first-of-month date is read as its month
            "T02,2015-04,5.0,team\n")         # the highest point
    q = quality(tmp_path, assessments_csv=ASSESSMENTS_HEADER + rows)
    assert errors(q) == []
    assert q[q["table"] == "assessments.csv"].empty


def test_an_assessment_score_between_two_points_of_the_scale(tmp_path):
    rows = "T01,2015-02,4.3,faculty\nT01,2015-03,4.5,faculty\nT01,2015-04,0.75,team\n"
    assert errors(quality(tmp_path, assessments_csv=ASSESSMENTS_HEADER + rows)) == [
        ["assessments.csv", 2, "score", "'4.3' is not a point of the assessment scale: scores go in steps of 0.5 "
                                        "(0.5, 1.0, 1.5, ..., 5.0); the nearest points are 4.0 and 4.5"],
        ["assessments.csv", 4, "score", "'0.75' is not a point of the assessment scale: scores go in steps of 0.5 "
                                        "(0.5, 1.0, 1.5, ..., 5.0); the nearest points are 0.5 and 1.0"]]


def test_an_assessment_score_outside_the_scale_is_one_error(tmp_path):
    """5.5 and 0 are multiples of 0.5 outside 0.5-5.0; 5.3 is off both ways and still gets one error (the range)."""
    rows = "T01,2015-02,5.5,team\nT01,2015-03,0,team\nT01,2015-04,5.3,team\n"
    assert errors(quality(tmp_path, assessments_csv=ASSESSMENTS_HEADER + rows)) == [
        ["assessments.csv", 2, "score", "'5.5' must be at most 5"],
        ["assessments.csv", 3, "score", "'0' must be at least 0.5"],
        ["assessments.csv", 4, "score", "'5.3' must be at most 5"]]


def test_an_assessment_by_an_unknown_rater_or_of_an_unknown_team(tmp_path):
    rows = "T01,2015-02,3.0,coach\nT99,2015-02,3.0,faculty\n"
    assert errors(quality(tmp_path, assessments_csv=ASSESSMENTS_HEADER + rows)) == [
        ["assessments.csv", 2, "rater", "'coach' must be one of: team, faculty"],
        ["assessments.csv", 3, "team_id", "'T99' is not a team_id in teams.csv"]]


def test_one_rating_per_team_month_and_rater(tmp_path):
    """The team's and the faculty's ratings of a month are two rows; the same rater twice is a duplicate."""
    rows = "T01,2015-02,3.0,team\nT01,2015-02,2.5,faculty\nT01,2015-02-01,3.5,team\n"
    assert errors(quality(tmp_path, assessments_csv=ASSESSMENTS_HEADER + rows)) == [
        ["assessments.csv", 4, "team_id",
         "duplicated key (team_id, month, rater) = (T01, 2015-02-01, team): the same key is on an earlier row"]]
