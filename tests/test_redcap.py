"""The REDCap importer (evaluation.data.redcap): tiny exports written by hand, each expected table and problem
worked out by hand from the records shown in the test."""
from __future__ import annotations

import copy
import csv
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evaluation.core.dictionary import load_dictionary
from evaluation.core.errors import DataValidationError
from evaluation.core.params import check
from evaluation.core.problems import Problems
from evaluation.data.loading import input_files, load_cohort, parse_table, validation_key
from evaluation.data.redcap import (RedcapError, choice_codes, find_redcap_export, identifier_fields,
                                    load_redcap_tables, locate_problems, read_redcap_dictionary, redcap_tables)
from evaluation.data.synth import generate_cohort
from evaluation.data.synth.redcap import write_redcap
from evaluation.data.validation import check_cohort

UI = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
      "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
      "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
      "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
      "Matrix Ranking?", "Field Annotation"]
API = ["field_name", "form_name", "section_header", "field_type", "field_label", "select_choices_or_calculations",
       "field_note", "text_validation_type_or_show_slider_number", "text_validation_min", "text_validation_max",
       "identifier", "branching_logic", "required_field", "custom_alignment", "question_number",
       "matrix_group_name", "matrix_ranking", "field_annotation"]
SEX = "F, Female | M, Male | X, Another sex | U, Unknown"


def F(name, form, kind="text", choices="", validation="", identifier=""):
    """One data-dictionary field: name, instrument, type, choices, validation, Identifier?."""
    return (name, form, kind, choices, validation, identifier)


def dictionary_csv(fields, header=UI) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for name, form, kind, choices, validation, identifier in fields:
        writer.writerow([name, form, "", kind, name.replace("_", " ").title(), choices, "", validation, "", "",
                         identifier, "", "", "", "", "", "", ""])
    return buf.getvalue()


def write_export(folder: Path, fields, records: str, mapping: str | None = None,
                 names=("redcap_dictionary.csv", "redcap_records.csv")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / names[0]).write_text(dictionary_csv(fields), encoding="utf-8")
    (folder / names[1]).write_text(records, encoding="utf-8")
    if mapping is not None:
        (folder / "redcap.yaml").write_text(mapping, encoding="utf-8")
    return folder


def load(folder: Path):
    problems = Problems()
    tables = load_redcap_tables(folder, problems)
    return tables, problems.table()


def frame(rows: list[list[str]], columns: list[str]) -> pd.DataFrame:
    """The text cells a CSV of these rows reads as (rows numbered from 2, as readers.read_csv numbers them)."""
    return pd.DataFrame(rows, columns=columns, index=pd.RangeIndex(2, len(rows) + 2), dtype="str")


def problem_rows(quality: pd.DataFrame) -> list[tuple]:
    return [(r.table, None if pd.isna(r.row) else int(r.row), r.column or None, r.severity) for r in quality.itertuples()]


# --- the data dictionary -----------------------------------------------------------------------------------

DICTIONARY_FIELDS = [F("record_id", "enrollment"), F("full_name", "enrollment", identifier="y"),
                     F("sex", "enrollment", "radio", SEX), F("dob", "enrollment", validation="date_ymd"),
                     F("lab_a1c", "labs", validation="number")]
NORMALISED = pd.DataFrame({
    "field_name": ["record_id", "full_name", "sex", "dob", "lab_a1c"],
    "form_name": ["enrollment", "enrollment", "enrollment", "enrollment", "labs"],
    "field_type": ["text", "text", "radio", "text", "text"],
    "choices": ["", "", SEX, "", ""],
    "validation": ["", "", "", "date_ymd", "number"],
    "identifier": [False, True, False, False, False]})


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.astype({c: object for c in got.columns if c != "identifier"}),
                                  want.astype({c: object for c in want.columns if c != "identifier"}))


def test_the_data_dictionary_download_is_normalised(tmp_path):
    path = tmp_path / "MyProject_DataDictionary_2024-01-15.csv"
    path.write_bytes(b"\xef\xbb\xbf" + dictionary_csv(DICTIONARY_FIELDS).encode())  # REDCap writes a BOM
    _same(read_redcap_dictionary(path), NORMALISED)


def test_the_api_metadata_as_csv_and_as_json_read_the_same(tmp_path):
    csv_path = tmp_path / "redcap_dictionary.csv"
    csv_path.write_text(dictionary_csv(DICTIONARY_FIELDS, header=API))
    _same(read_redcap_dictionary(csv_path), NORMALISED)
    rows = [dict(zip(API, [n, f, "", k, n, c, "", v, "", "", i, "", "", "", "", "", "", ""]))
            for n, f, k, c, v, i in DICTIONARY_FIELDS]
    json_path = tmp_path / "redcap_dictionary.json"
    json_path.write_text(json.dumps(rows))
    _same(read_redcap_dictionary(json_path), NORMALISED)


@pytest.mark.parametrize("name, text, fragment", [
    ("redcap_dictionary.csv", "patient_id,team_id\nP1,T1\n", "neither 'Variable / Field Name'"),
    ("redcap_dictionary.csv", "Variable / Field Name,Form Name,Field Type\nrecord_id,a,text\n",
     "lacks 'Choices, Calculations, OR Slider Labels', 'Text Validation Type OR Show Slider Number', 'Identifier?'"),
    ("redcap_dictionary.txt", "field_name\n", "expected the Data Dictionary download (.csv)"),
    ("redcap_dictionary.json", "{not json", "JSON list of fields"),
])
def test_anything_else_is_refused_naming_the_file(tmp_path, name, text, fragment):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RedcapError, match=name.replace(".", r"\.")) as caught:
        read_redcap_dictionary(path)
    assert fragment in str(caught.value)


def test_an_identifier_flag_must_be_y_or_blank(tmp_path):
    path = tmp_path / "redcap_dictionary.csv"
    path.write_text(dictionary_csv([F("record_id", "a"), F("name", "a", identifier="maybe")]))
    with pytest.raises(RedcapError, match="row 3: Identifier\\? must be y or blank; got 'maybe'"):
        read_redcap_dictionary(path)


def test_choice_codes_keep_the_order_and_labels_with_commas():
    assert choice_codes("radio", "1, Yes, often | 2, No |3,Never") == {"1": "Yes, often", "2": "No", "3": "Never"}
    assert choice_codes("yesno", "") == {"1": "Yes", "0": "No"}
    assert choice_codes("calc", "[a] + [b]") == {}


# --- finding the export ----------------------------------------------------------------------------------------

def test_a_folder_without_an_export_has_none(tmp_path):
    (tmp_path / "patients.csv").write_text("patient_id\n")
    assert find_redcap_export(tmp_path) is None
    assert load_redcap_tables(tmp_path, Problems()) is None


def test_redcaps_own_file_names_are_found(tmp_path):
    write_export(tmp_path, [F("record_id", "a")], "record_id\n1\n",
                 names=("Registry_DataDictionary_2024-01-15.csv", "Registry_DATA_2024-01-15_1030.csv"))
    export = find_redcap_export(tmp_path)
    assert (export.dictionary_file.name, export.records_file.name, export.mapping_file) == (
        "Registry_DataDictionary_2024-01-15.csv", "Registry_DATA_2024-01-15_1030.csv", None)
    assert export.record_id == "record_id"


@pytest.mark.parametrize("files, fragment", [
    ({"redcap_dictionary.csv": "d", "Reg_DATA_LABELS_2024-01-15.csv": "r"}, "holds choice labels, not codes"),
    ({"redcap_dictionary.csv": "d", "redcap_records.csv": "r", "Reg_DataDictionary_2024.csv": "d"},
     "holds 2 REDCap data dictionaries (Reg_DataDictionary_2024.csv, redcap_dictionary.csv); keep only one"),
    ({"redcap_dictionary.csv": "d"}, "needs its records (redcap_records.csv)"),
    ({"redcap_records.csv": "r"}, "needs its data dictionary (redcap_dictionary.csv)"),
    ({"redcap.yaml": "tables: {}"}, "a REDCap mapping without an export"),
])
def test_half_an_export_or_two_of_a_kind_is_an_error(tmp_path, files, fragment):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(RedcapError) as caught:
        find_redcap_export(tmp_path)
    assert fragment in str(caught.value)
    problems = Problems()
    assert load_redcap_tables(tmp_path, problems) == {}  # the loader files it as an error instead
    assert [fragment in p for p in problems.table()["problem"]] == [True]


# --- the default layout ----------------------------------------------------------------------------------------

DEFAULT_FIELDS = [
    F("record_id", "patients"), F("enrolled_on", "patients", validation="date_ymd"), F("sex", "patients", "radio", SEX),
    F("birth_year", "patients", validation="integer"), F("exited_on", "patients", validation="date_ymd"),
    F("exit_reason", "patients", "dropdown", "died, Died | moved, Moved"), F("diabetes", "patients", "yesno"),
    F("measure", "measurements"), F("measured_on", "measurements", validation="date_ymd"),
    F("value", "measurements", validation="number")]
DEFAULT_RECORDS = (
    "record_id,redcap_repeat_instrument,redcap_repeat_instance,redcap_data_access_group,enrolled_on,sex,birth_year,"
    "exited_on,exit_reason,diabetes,patients_complete,measure,measured_on,value,measurements_complete\n"
    "P1,,,t01,2015-02-01,F,1950,,,1,2,,,,\n"                        # row 2
    "P1,measurements,1,t01,,,,,,,,a1c,2015-02-01,9.1,2\n"            # row 3
    "P1,measurements,2,t01,,,,,,,,a1c,2015-05-01,7.6,2\n"            # row 4
    "P2,,,t02,2015-03-01,M,1961,2015-09-01,died,0,2,,,,\n"          # row 5
    "P2,measurements,1,t02,,,,,,,,sbp,2015-03-01, 148 ,2\n")         # row 6 (a padded cell is stripped)


def test_the_default_layout_reads_instruments_named_like_tables(tmp_path):
    problems = Problems()
    tables = redcap_tables(find_redcap_export(write_export(tmp_path, DEFAULT_FIELDS, DEFAULT_RECORDS)), problems)
    quality = problems.table()
    assert list(tables) == ["patients", "measurements"]
    pd.testing.assert_frame_equal(tables["patients"], frame(  # patient_id: the record id; team_id: the group
        [["P1", "t01", "2015-02-01", "F", "1950", "", "", "1"], ["P2", "t02", "2015-03-01", "M", "1961", "2015-09-01", "died", "0"]],
        ["patient_id", "team_id", "enrolled_on", "sex", "birth_year", "exited_on", "exit_reason", "diabetes"]))
    pd.testing.assert_frame_equal(tables["measurements"], frame(
        [["P1", "a1c", "2015-02-01", "9.1"], ["P1", "a1c", "2015-05-01", "7.6"], ["P2", "sbp", "2015-03-01", "148"]],
        ["patient_id", "measure", "measured_on", "value"]))
    assert quality.empty
    origin = tables.origins["measurements"]
    assert list(origin.rows["row"]) == [3, 4, 6]
    assert list(origin.rows["label"]) == ["redcap_records.csv [record P1, instrument measurements, instance 1]",
                                          "redcap_records.csv [record P1, instrument measurements, instance 2]",
                                          "redcap_records.csv [record P2, instrument measurements, instance 1]"]


def test_the_tables_parse_and_validate_like_a_csvs(tmp_path):
    tables, _ = load(write_export(tmp_path, DEFAULT_FIELDS, DEFAULT_RECORDS))
    problems = Problems()
    specs = load_dictionary()
    typed = {name: parse_table(tables[name], spec, problems) if name in tables else None for name, spec in specs.items()}
    assert list(typed["patients"]["row"]) == [2, 3] and typed["patients"]["birth_year"].tolist() == [1950, 1961]
    check_cohort(typed, problems, as_of=None)
    # the only problem: no teams table for team_id to refer to; it is about the whole table, so it moves to the
    # instrument, and team_id came from the data access group
    quality = problems.table()
    assert problem_rows(quality) == [("patients.csv", None, "team_id", "error")]
    assert problem_rows(locate_problems(quality, tables)) == [
        ("redcap_records.csv [instrument patients]", None, "redcap_data_access_group", "error")]


def test_a_column_may_come_from_a_field_prefixed_with_its_instrument(tmp_path):
    """REDCap names a field once per project: events.kind beside utilization.kind is events_kind."""
    fields = [F("record_id", "events"), F("event_id", "events"), F("event_on", "events", validation="date_ymd"),
              F("events_kind", "events", "dropdown", "webinar, Webinar | monthly_call, Monthly call")]
    records = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,event_id,event_on,events_kind\n"
               "C,events,1,E1,2015-02-05,webinar\nC,events,2,E2,2015-03-05,monthly_call\n")
    tables, quality = load(write_export(tmp_path, fields, records))
    pd.testing.assert_frame_equal(tables["events"], frame(
        [["E1", "2015-02-05", "webinar"], ["E2", "2015-03-05", "monthly_call"]], ["event_id", "event_on", "kind"]))
    assert quality.empty


def test_a_required_column_without_a_field_is_an_error_with_the_nearest_field(tmp_path):
    fields = [F("record_id", "patients"), F("enrolled_on", "patients"), F("sex", "patients"), F("birth_yr", "patients"),
              F("exited_on", "patients"), F("exit_reason", "patients")]
    records = "record_id,enrolled_on,sex,birth_yr,exited_on,exit_reason\nP1,2015-02-01,F,1950,,\n"
    tables, quality = load(write_export(tmp_path, fields, records))
    assert "patients" not in tables
    # team_id: no field and no data access group column; birth_year: no field, birth_yr is close
    assert problem_rows(quality) == [("redcap_records.csv [instrument patients]", None, "birth_year", "error"),
                                     ("redcap_records.csv [instrument patients]", None, "team_id", "error")]
    assert quality["problem"][0].endswith("has no field birth_year (or patients_birth_year) and redcap.yaml maps none "
                                          "to it; did you mean 'birth_yr'?")


def test_unknown_columns_unused_and_empty_instruments_are_reported(tmp_path):
    fields = [F("record_id", "patients"), F("enrolled_on", "patients"), F("sex", "patients"), F("birth_year", "patients"),
              F("exited_on", "patients"), F("exit_reason", "patients"), F("team_id", "patients"),
              F("note", "followup"), F("mtp_id", "mtps"), F("identified_on", "mtps"), F("category", "mtps"),
              F("resolved_on", "mtps")]
    records = ("record_id,redcap_survey_identifier,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason,"
               "patients_timestamp,patients_complete,note,followup_complete,mtp_id,identified_on,category,resolved_on,"
               "mtps_complete,extra\nP1,,T1,2015-02-01,F,1950,,,,2,called,2,,,,,0,x\n")
    tables, quality = load(write_export(tmp_path, fields, records))
    assert list(tables) == ["patients", "mtps"] and tables["mtps"].empty and list(tables["mtps"].columns) == [
        "mtp_id", "patient_id", "identified_on", "category", "resolved_on"]
    assert problem_rows(quality) == [("redcap_records.csv [instrument mtps]", None, None, "warning"),
                                     ("redcap_records.csv", 1, "extra", "warning"),
                                     ("redcap_records.csv [instrument followup]", None, None, "note")]
    assert list(quality["problem"]) == [
        "no record holds the instrument mtps, so mtps has no rows; the analyses that need it are skipped",
        "column is not a field of the data dictionary; not read",
        "the instrument is not a table of the data contract and redcap.yaml maps none to it; not read"]


def test_a_choice_field_whose_codes_are_not_the_contracts_is_named(tmp_path):
    fields = [F("record_id", "patients"), F("team_id", "patients"), F("enrolled_on", "patients"),
              F("sex", "patients", "radio", "1, Female | 2, Male | U, Unknown"), F("birth_year", "patients"),
              F("exited_on", "patients"), F("exit_reason", "patients")]
    records = "record_id,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason\nP1,T1,2015-02-01,1,1950,,\n"
    tables, quality = load(write_export(tmp_path, fields, records))
    assert tables["patients"]["sex"].tolist() == ["1"]  # raw codes are kept: the validator then rejects '1'
    assert problem_rows(quality) == [("redcap_dictionary.csv", None, "sex", "warning")]
    assert quality["problem"][0] == ("the field's choice codes 1, 2 are not codes of patients.sex (F, M, X, U); "
                                     "give the field the contract's codes in REDCap")


PATIENT_FIELDS = [F("record_id", "patients"), F("team_id", "patients"), F("enrolled_on", "patients"),
                  F("sex", "patients"), F("birth_year", "patients"), F("exited_on", "patients"), F("exit_reason", "patients")]


@pytest.mark.parametrize("records, mapping, want", [
    (b"record_id,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason\nP1,T\xe9,2015-02-01,F,1950,,\n", None,
     [("redcap_records.csv", None, None, "error", "is not UTF-8; export the records from REDCap again as CSV")]),
    (b"team_id,enrolled_on,sex,birth_year,exited_on,exit_reason\nT1,2015-02-01,F,1950,,\n", None,
     [("redcap_records.csv", 1, "record_id", "error", "the record id field is not a column of the records; export "
                                                      "them with it (it is the first column REDCap writes)")]),
    (b"record_id,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason\n,T1,2015-02-01,F,1950,,\nP2,T1,2015-02-01,M,1951,,\n",
     None, [("redcap_records.csv", 2, "record_id", "error", "row has no record id; it is not read")]),
    (b"record_id,team_id,enrolled_on,sex,birth_year,exited_on\nP1,T1,2015-02-01,F,1950,\n",
     "tables:\n  patients: {instrument: patients, columns: {exit_reason: exit_reason}}\n",
     [("redcap_records.csv [instrument patients]", None, "exit_reason", "error", "redcap.yaml maps the field "
       "exit_reason to patients exit_reason, but the records have no such column; export them with it")]),
])
def test_records_that_cannot_be_read_whole_are_reported(tmp_path, records, mapping, want):
    folder = write_export(tmp_path, PATIENT_FIELDS, "", mapping)
    (folder / "redcap_records.csv").write_bytes(records)
    tables, quality = load(folder)
    assert [(*r, p) for r, p in zip(problem_rows(quality), quality["problem"])] == want
    if "no record id" in want[0][-1]:
        assert tables["patients"]["patient_id"].tolist() == ["P2"]
    else:
        assert "patients" not in tables


def test_a_checkbox_exported_before_redcap_5_5_21_loses_its_underscores(tmp_path):
    fields = [F("record_id", "qualitative_codings"), F("excerpt_id", "qualitative_codings"),
              F("coder", "qualitative_codings"), F("code", "qualitative_codings", "checkbox", "peer_support, P | Payment, Pay")]
    records = ("record_id,excerpt_id,coder,code___peersupport,code___payment\n"
               "X,X0001,coder_a,1,1\n")
    tables, quality = load(write_export(tmp_path, fields, records))
    assert tables["qualitative_codings"]["code"].tolist() == ["peer_support,Payment"]  # the codes as the dictionary has them
    assert quality.empty


# --- a mapping with melt and melt_pairs ---------------------------------------------------------------------------

MAPPED_FIELDS = [
    F("record_id", "enrollment"), F("full_name", "enrollment", identifier="y"),
    F("phone", "enrollment", validation="phone", identifier="y"), F("enroll_date", "enrollment", validation="date_ymd"),
    F("dob", "enrollment", validation="date_ymd"), F("sex", "enrollment", "radio", SEX),
    F("exit_date", "enrollment", validation="date_ymd"), F("exit_reason", "enrollment", "dropdown", "died, Died | moved, Moved"),
    F("lab_date", "labs", validation="date_ymd"), F("lab_a1c", "labs", validation="number"),
    F("lab_sbp", "labs", validation="integer"), F("lab_dbp", "labs", validation="integer"),
    F("report_month", "monthly_report"), F("a1c_num", "monthly_report"), F("a1c_den", "monthly_report"),
    F("bp_num", "monthly_report"), F("bp_den", "monthly_report")]
MAPPED_RECORDS = (
    "record_id,redcap_repeat_instrument,redcap_repeat_instance,redcap_data_access_group,full_name,phone,enroll_date,"
    "dob,sex,exit_date,exit_reason,enrollment_complete,lab_date,lab_a1c,lab_sbp,lab_dbp,labs_complete,report_month,"
    "a1c_num,a1c_den,bp_num,bp_den,monthly_report_complete\n"
    "1001,,,t01,Ann Example,555-0101,2015-02-01,1950-03-14,F,,,2,,,,,,,,,,,\n"              # row 2
    "1001,labs,1,t01,,,,,,,,,2015-02-01,9.1,150,95,2,,,,,,\n"                                # row 3
    "1001,labs,2,t01,,,,,,,,,2015-05-01,7.6,,,2,,,,,,\n"                                     # row 4
    "1002,,,t02,Bob Example,555-0102,2015-03-01,1961-11-30,M,2015-09-01,died,2,,,,,,,,,,,\n"  # row 5
    "1002,labs,1,t02,,,,,,,,,2015-03-01,,148,88,2,,,,,,\n"                                   # row 6
    "T01,monthly_report,1,t01,,,,,,,,,,,,,,2015-03,7,20,5,18,2\n"                            # row 7
    "T01,monthly_report,2,t01,,,,,,,,,,,,,,2015-04,8,21,,,2\n"                               # row 8
    "T01,monthly_report,3,t01,,,,,,,,,,,,,,2015-05,9,,,,2\n")                                # row 9
MAPPING = """\
record_id: record_id
data_access_groups: {t01: T01, t02: T02}
tables:
  patients:
    instrument: enrollment
    columns: {patient_id: record_id, team_id: redcap_data_access_group, enrolled_on: enroll_date,
              birth_year: {field: dob, as: year}, sex: sex, exited_on: exit_date, exit_reason: exit_reason}
  measurements:
    instrument: labs
    columns: {patient_id: record_id, measured_on: lab_date}
    melt: {a1c: lab_a1c, sbp: lab_sbp, dbp: lab_dbp}
  monthly_reports:
    instrument: monthly_report
    columns: {team_id: redcap_data_access_group, month: report_month}
    melt_pairs: {a1c_at_goal: [a1c_num, a1c_den], bp_at_goal: [bp_num, bp_den]}
"""


@pytest.fixture
def mapped(tmp_path):
    return write_export(tmp_path / "mapped", MAPPED_FIELDS, MAPPED_RECORDS, MAPPING)


def test_a_mapping_renames_melts_and_pairs(mapped):
    tables, quality = load(mapped)
    pd.testing.assert_frame_equal(tables["patients"], frame(
        [["1001", "T01", "2015-02-01", "F", "1950", "", ""], ["1002", "T02", "2015-03-01", "M", "1961", "2015-09-01", "died"]],
        ["patient_id", "team_id", "enrolled_on", "sex", "birth_year", "exited_on", "exit_reason"]))
    # one row per filled lab field, each instance's measures together in the mapping's order
    pd.testing.assert_frame_equal(tables["measurements"], frame(
        [["1001", "a1c", "2015-02-01", "9.1"], ["1001", "sbp", "2015-02-01", "150"], ["1001", "dbp", "2015-02-01", "95"],
         ["1001", "a1c", "2015-05-01", "7.6"], ["1002", "sbp", "2015-03-01", "148"], ["1002", "dbp", "2015-03-01", "88"]],
        ["patient_id", "measure", "measured_on", "value"]))
    # a pair with both cells blank gives no row; a pair with one filled gives a row with the other blank
    pd.testing.assert_frame_equal(tables["monthly_reports"], frame(
        [["T01", "2015-03", "a1c_at_goal", "7", "20"], ["T01", "2015-03", "bp_at_goal", "5", "18"],
         ["T01", "2015-04", "a1c_at_goal", "8", "21"], ["T01", "2015-05", "a1c_at_goal", "9", ""]],
        ["team_id", "month", "measure", "numerator", "denominator"]))
    assert list(tables.origins["measurements"].rows["row"]) == [3, 3, 3, 4, 6, 6]
    assert list(tables.origins["monthly_reports"].rows["melt"]) == ["a1c_at_goal", "bp_at_goal", "a1c_at_goal", "a1c_at_goal"]
    assert problem_rows(quality) == [("redcap_records.csv", None, None, "note")]
    assert quality["problem"][0] == ("2 identifier column(s) (Identifier? = y in the data dictionary) dropped on "
                                     "import: full_name, phone")


def test_dob_gives_birth_year_and_the_full_date_never_survives(mapped):
    tables, quality = load(mapped)
    cells = {c for df in tables.values() for c in df.to_numpy().ravel()}
    assert tables["patients"]["birth_year"].tolist() == ["1950", "1961"]
    assert not {"1950-03-14", "1961-11-30"} & cells


def test_a_date_of_birth_marked_identifier_gives_its_year_alone(tmp_path):
    """Projects often mark dob Identifier? = y: `as: year` still gives birth_year, and nothing else of the date
    is read; a cell that is not a date is an error that does not show it."""
    fields = [F("dob", "enrollment", validation="date_ymd", identifier="y") if f[0] == "dob" else f for f in MAPPED_FIELDS]
    tables, quality = load(write_export(tmp_path / "a", fields, MAPPED_RECORDS, MAPPING))
    assert tables["patients"]["birth_year"].tolist() == ["1950", "1961"]
    cells = {c for df in tables.values() for c in df.to_numpy().ravel()}
    assert not {"1950-03-14", "1961-11-30"} & cells and "1961-11-30" not in quality.to_csv()
    assert quality["problem"].tolist() == ["3 identifier column(s) (Identifier? = y in the data dictionary) dropped on "
                                           "import: full_name, phone, dob; of dob only the year is kept (`as: year` "
                                           "in the mapping)"]
    tables, quality = load(write_export(tmp_path / "b", fields, MAPPED_RECORDS.replace("1961-11-30", "11/30/1961"), MAPPING))
    assert tables["patients"]["birth_year"].tolist() == ["1950", ""]
    errors = quality[quality["severity"] == "error"]
    assert problem_rows(errors)[0] == ("redcap_records.csv [record 1002]", 5, "dob", "error")
    assert "11/30/1961" not in quality.to_csv() and "the cell is not shown" in errors["problem"].iloc[0]
    as_date = MAPPING.replace("enrolled_on: enroll_date", "enrolled_on: dob")  # read whole: still refused
    _, quality = load(write_export(tmp_path / "c", fields, MAPPED_RECORDS, as_date))
    assert "redcap.yaml maps the identifier field dob (Identifier? = y) to patients enrolled_on: refused" in quality.to_csv()


def test_later_problems_are_moved_to_the_record_instrument_instance_and_field(mapped):
    tables, _ = load(mapped)
    problems = Problems()
    parse_table(tables["monthly_reports"], load_dictionary()["monthly_reports"], problems)
    quality = problems.table()
    assert problem_rows(quality) == [("monthly_reports.csv", 5, "denominator", "error")]  # as the parser files it
    located = locate_problems(quality, tables)
    assert problem_rows(located) == [
        ("redcap_records.csv [record T01, instrument monthly_report, instance 3]", 9, "a1c_den", "error")]
    assert located["problem"][0] == "is blank; a value is required"


# --- longitudinal projects, repeating instances, located problems --------------------------------------------------

LONGITUDINAL_FIELDS = [F("record_id", "patients"), F("enrolled_on", "patients"), F("sex", "patients", "radio", SEX),
                       F("birth_year", "patients"), F("exited_on", "patients"), F("exit_reason", "patients"),
                       F("measure", "measurements"), F("measured_on", "measurements"), F("value", "measurements")]
LONGITUDINAL_RECORDS = (
    "record_id,redcap_event_name,redcap_data_access_group,enrolled_on,sex,birth_year,exited_on,exit_reason,"
    "patients_complete,measure,measured_on,value,measurements_complete\n"
    "1,baseline_arm_1,t01,2015-02-01,F,1950,,,2,a1c,2015-02-01,9.1,2\n"    # row 2
    "1,month_3_arm_1,t01,,,,,,,a1c,2015-05-01,7..7,2\n"                    # row 3: a typo
    "2,baseline_arm_1,t01,2015-02-10,M,1961,,,2,a1c,2015-02-10,10.2,2\n"   # row 4
    "2,month_3_arm_1,t01,,,,,,,,,,0\n")                                    # row 5: nothing entered


def test_a_longitudinal_project_gives_a_row_per_event_that_holds_the_instrument(tmp_path):
    tables, quality = load(write_export(tmp_path, LONGITUDINAL_FIELDS, LONGITUDINAL_RECORDS))
    assert tables["patients"]["patient_id"].tolist() == ["1", "2"]
    pd.testing.assert_frame_equal(tables["measurements"], frame(
        [["1", "a1c", "2015-02-01", "9.1"], ["1", "a1c", "2015-05-01", "7..7"], ["2", "a1c", "2015-02-10", "10.2"]],
        ["patient_id", "measure", "measured_on", "value"]))
    problems = Problems()
    parse_table(tables["measurements"], load_dictionary()["measurements"], problems)
    located = locate_problems(problems.table(), tables)
    assert problem_rows(located) == [
        ("redcap_records.csv [record 1, event month_3_arm_1, instrument measurements]", 3, "value", "error")]
    assert located["problem"][0] == "'7..7' is not a number"


def test_repeating_instances_are_rows_and_problems_name_the_instance(tmp_path):
    fields = [F("record_id", "patients"), F("mtp_id", "mtps"), F("identified_on", "mtps", validation="date_ymd"),
              F("category", "mtps", "dropdown", "nonadherence, Nonadherence | other, Other"),
              F("resolved_on", "mtps", validation="date_ymd")]
    records = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,mtp_id,identified_on,category,resolved_on\n"
               "P1,mtps,1,M1,2015-02-01,other,2015-03-01\n"        # row 2
               "P1,mtps,2,M2,2015-04-01,nonadherence,2015-03-01\n"  # row 3: resolved before it was identified
               "P2,mtps,1,M3,2015-05-01,other,\n")                  # row 4
    tables, quality = load(write_export(tmp_path, fields, records))
    pd.testing.assert_frame_equal(tables["mtps"], frame(
        [["M1", "P1", "2015-02-01", "other", "2015-03-01"], ["M2", "P1", "2015-04-01", "nonadherence", "2015-03-01"],
         ["M3", "P2", "2015-05-01", "other", ""]], ["mtp_id", "patient_id", "identified_on", "category", "resolved_on"]))
    problems = Problems()
    typed = {n: None for n in load_dictionary()}
    typed["mtps"] = parse_table(tables["mtps"], load_dictionary()["mtps"], problems)
    check_cohort(typed, problems, as_of=None)
    located = locate_problems(problems.table(), tables)
    wrong = located[located["column"] == "resolved_on"]
    assert problem_rows(wrong) == [("redcap_records.csv [record P1, instrument mtps, instance 2]", 3, "resolved_on", "error")]


# --- checkbox fields, data access groups, fields of another instrument ------------------------------------------

def test_a_checkbox_field_becomes_the_codes_ticked(tmp_path):
    fields = [F("record_id", "qualitative_codings"), F("excerpt_id", "qualitative_codings"),
              F("coder", "qualitative_codings"),
              F("code", "qualitative_codings", "checkbox", "peer_support, Peer support | time_constraints, Time | payment, Payment")]
    records = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,excerpt_id,coder,code___peer_support,"
               "code___time_constraints,code___payment,code___other,qualitative_codings_complete\n"
               "X,qualitative_codings,1,X0001,coder_a,1,0,1,0,2\n"   # row 2: two boxes
               "X,qualitative_codings,2,X0001,coder_b,0,0,0,0,2\n"   # row 3: none
               "X,qualitative_codings,3,X0002,coder_a,0,2,0,0,2\n")  # row 4: '2' is no box value
    tables, quality = load(write_export(tmp_path, fields, records))
    pd.testing.assert_frame_equal(tables["qualitative_codings"], frame(
        [["X0001", "coder_a", "peer_support,payment"], ["X0001", "coder_b", ""], ["X0002", "coder_a", ""]],
        ["excerpt_id", "coder", "code"]))
    assert problem_rows(quality) == [
        ("redcap_records.csv [record X, instrument qualitative_codings, instance 3]", 4, "code___time_constraints", "error"),
        ("redcap_records.csv", 1, "code___other", "warning")]
    assert quality["problem"][0] == "'2' is not a ticked (1) or unticked (0) box"
    assert quality["problem"][1].startswith("column is not a choice of the checkbox field code; the codes are: ")


TEAMS_AND_PATIENTS = [F("record_id", "teams"), F("team_id", "teams"), F("team_name", "teams"), F("state", "teams"),
                      F("setting", "teams"), F("track", "teams"), F("joined_on", "teams"), F("enrolled_on", "patients"),
                      F("sex", "patients"), F("birth_year", "patients"), F("exited_on", "patients"),
                      F("exit_reason", "patients")]
TEAMS_AND_PATIENTS_RECORDS = (
    "record_id,redcap_data_access_group,team_id,team_name,state,setting,track,joined_on,enrolled_on,sex,birth_year,"
    "exited_on,exit_reason\n"
    "T01,t01,T01,Wabash,IN,clinic,initial,2015-01-05,,,,,\n"
    "T02,t02,T02,Prairie,IA,clinic,initial,2015-01-05,,,,,\n"
    "P1,t01,,,,,,,2015-02-01,F,1950,,\n"
    "P2,t02,,,,,,,2015-02-01,M,1951,,\n"
    "P3,t03,,,,,,,2015-02-01,M,1952,,\n")


def test_a_data_access_group_is_the_team_with_its_id_in_any_case(tmp_path):
    tables, quality = load(write_export(tmp_path, TEAMS_AND_PATIENTS, TEAMS_AND_PATIENTS_RECORDS))
    assert tables["teams"]["team_id"].tolist() == ["T01", "T02"]
    assert tables["patients"]["team_id"].tolist() == ["T01", "T02", "t03"]  # t03 is no team: kept for the validator
    assert quality.empty


def test_the_mappings_data_access_groups_name_each_groups_team(tmp_path):
    mapping = "data_access_groups: {t01: T01, t03: T03}\n"
    tables, quality = load(write_export(tmp_path, TEAMS_AND_PATIENTS, TEAMS_AND_PATIENTS_RECORDS, mapping))
    assert tables["patients"]["team_id"].tolist() == ["T01", "t02", "T03"]
    assert problem_rows(quality) == [("redcap_records.csv", None, "redcap_data_access_group", "error")]
    assert quality["problem"][0] == "the data access group 't02' has no team in redcap.yaml's data_access_groups; add it"


def test_a_field_of_another_instrument_is_read_from_the_same_record(tmp_path):
    fields = [F("record_id", "site"), F("site_team", "site"), F("event_id", "events"), F("event_on", "events"),
              F("kind", "events")]
    mapping = "tables:\n  events:\n    instrument: events\n    columns: {team_id: site_team}\n"
    records = ("record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,site_team,event_id,event_on,kind\n"
               "S1,setup_arm_1,,,T01,,,\n"                                  # row 2
               "S1,setup_arm_1,events,1,,E1,2015-02-05,coaching_call\n"     # row 3
               "S2,setup_arm_1,,,T02,,,\n"                                  # row 4
               "S2,year_2_arm_1,,,T09,,,\n"                                 # row 5: another team in another event
               "S2,setup_arm_1,events,1,,E2,2015-02-06,coaching_call\n")    # row 6
    tables, quality = load(write_export(tmp_path, fields, records, mapping))
    pd.testing.assert_frame_equal(tables["events"], frame(
        [["E1", "2015-02-05", "coaching_call", "T01"], ["E2", "2015-02-06", "coaching_call", ""]],
        ["event_id", "event_on", "kind", "team_id"]))
    assert problem_rows(quality) == [("redcap_records.csv [record S2]", None, "site_team", "error")]
    assert quality["problem"][0] == ("the field has several values in this record (T02, T09: in several events or "
                                     "instances), so the rows of events take none; map a field of events instead")


def test_as_month_and_as_date_shorten_dates_and_a_non_date_is_located(tmp_path):
    fields = [F("record_id", "review"), F("review_date", "review"), F("review_score", "review"), F("reviewer", "review"),
              F("call_time", "calls", validation="datetime_ymd"), F("call_id", "calls"), F("call_kind", "calls")]
    mapping = """\
tables:
  assessments:
    instrument: review
    columns: {team_id: record_id, month: {field: review_date, as: month}, score: review_score, rater: reviewer}
  events:
    instrument: calls
    columns: {event_id: call_id, event_on: {field: call_time, as: date}, kind: call_kind}
"""
    records = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,review_date,review_score,reviewer,call_time,"
               "call_id,call_kind\n"
               "T01,review,1,2015-03-15,2.5,faculty,,,\n"              # row 2
               "T01,review,2,March 2015,3.0,faculty,,,\n"              # row 3: no date
               "T01,calls,1,,,,2015-02-05 14:30,E1,coaching_call\n")   # row 4
    tables, quality = load(write_export(tmp_path, fields, records, mapping))
    pd.testing.assert_frame_equal(tables["assessments"], frame(
        [["T01", "2015-03", "2.5", "faculty"], ["T01", "", "3.0", "faculty"]], ["team_id", "month", "score", "rater"]))
    assert tables["events"]["event_on"].tolist() == ["2015-02-05"]
    assert problem_rows(quality) == [("redcap_records.csv [record T01, instrument review, instance 2]", 3, "review_date", "error")]
    assert quality["problem"][0] == ("'March 2015' is not a date or month written YYYY-MM-DD or YYYY-MM, so `as: month` "
                                     "cannot read it; correct it in REDCap")
    # the parser then finds the blank month too; the importer's message, which shows the cell, is the one kept
    problems = Problems()
    parse_table(tables["assessments"], load_dictionary()["assessments"], problems)
    for row in quality.itertuples():
        problems.add(row.table, row.row, row.column, row.severity, row.problem)
    located = locate_problems(problems.table(), tables)
    assert problem_rows(located) == problem_rows(quality)


# --- identifiers ------------------------------------------------------------------------------------------------

IDENTIFIER_VALUES = ("Ann Example", "Bob Example", "555-0101", "555-0102")


def test_identifier_fields_are_listed_and_never_read_even_when_mapped(mapped):
    (mapped / "redcap.yaml").write_text(MAPPING.replace("exit_reason: exit_reason}", "exit_reason: exit_reason,\n"
                                                        "              diabetes: phone}"))
    assert identifier_fields(find_redcap_export(mapped)) == {"full_name", "phone"}
    tables, quality = load(mapped)
    assert list(tables["patients"].columns) == ["patient_id", "team_id", "enrolled_on", "sex", "birth_year",
                                                "exited_on", "exit_reason"]
    cells = {c for df in tables.values() for c in df.to_numpy().ravel()}
    assert not set(IDENTIFIER_VALUES) & cells
    assert not any(v in quality.to_csv() for v in IDENTIFIER_VALUES)
    refused = quality[quality["severity"] == "error"]
    assert problem_rows(refused) == [("redcap_records.csv [instrument enrollment]", None, "phone", "error")]
    assert refused["problem"].iloc[0].startswith("redcap.yaml maps the identifier field phone (Identifier? = y) to "
                                                 "patients diabetes: refused")


def test_a_required_column_mapped_to_an_identifier_leaves_the_table_out(mapped):
    (mapped / "redcap.yaml").write_text(MAPPING.replace("patient_id: record_id, team_id", "patient_id: full_name, team_id"))
    tables, quality = load(mapped)
    assert "patients" not in tables and "measurements" in tables
    assert problem_rows(quality[quality["severity"] == "error"]) == [
        ("redcap_records.csv [instrument enrollment]", None, "full_name", "error")]


def test_an_identifier_checkbox_is_dropped_and_a_record_id_marked_identifier_stops_the_import(tmp_path):
    fields = [F("record_id", "patients"), F("race", "patients", "checkbox", "1, A | 2, B", identifier="y"),
              F("team_id", "patients"), F("enrolled_on", "patients"), F("sex", "patients"), F("birth_year", "patients"),
              F("exited_on", "patients"), F("exit_reason", "patients")]
    records = "record_id,race___1,race___2,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason\nP1,1,0,T1,2015-02-01,F,1950,,\n"
    tables, quality = load(write_export(tmp_path / "a", fields, records))
    assert tables["patients"]["patient_id"].tolist() == ["P1"] and "race" not in tables["patients"]
    assert quality["problem"].tolist() == ["2 identifier column(s) (Identifier? = y in the data dictionary) dropped on "
                                           "import: race___1, race___2"]
    fields[0] = F("record_id", "patients", identifier="y")
    tables, quality = load(write_export(tmp_path / "b", fields, records))
    assert tables == {}
    assert problem_rows(quality[quality["severity"] == "error"]) == [("redcap_records.csv", None, "record_id", "error")]


# --- the mapping's mistakes -------------------------------------------------------------------------------------

def test_bad_mapping_keys_and_values_are_refused_with_did_you_mean(mapped):
    (mapped / "redcap.yaml").write_text("""\
record_ids: record_id
tables:
  patient: {instrument: enrollment}
  measurements:
    instrument: lab
    columns: {measured_date: lab_date, value: lab_a1c}
    melt: {a1c: lab_a1cc}
  patients:
    instrument: enrollment
    colums: {}
    columns: {birth_year: {field: dob, as: years}, sex: {fields: sex}}
    melt_pairs: {x: [a1c_num, a1c_den]}
  monthly_reports:
    instrument: monthly_report
    melt_pairs: {a1c_at_goal: [a1c_num]}
""")
    with pytest.raises(RedcapError) as caught:
        find_redcap_export(mapped)
    assert caught.value.problems == [
        ("record_ids", "`record_ids`: unknown key; did you mean 'record_id'?"),
        ("tables.patient", "`tables.patient`: 'patient' is not a table of the data contract; did you mean 'patients'?"),
        ("tables.measurements.instrument", "`tables.measurements.instrument`: 'lab' is not an instrument of the data "
                                           "dictionary; did you mean 'labs'?"),
        ("tables.measurements.melt.a1c", "`tables.measurements.melt.a1c`: 'lab_a1cc' is not a field of the data "
                                         "dictionary; did you mean 'lab_a1c'?"),
        ("tables.measurements.columns.measured_date", "`tables.measurements.columns.measured_date`: 'measured_date' is not a column of "
                                                 "measurements; did you mean 'measured_on'?"),
        ("tables.measurements.columns.value", "`tables.measurements.columns.value`: the column value is set by `melt`; "
                                              "remove it here"),
        ("tables.patients.colums", "`tables.patients.colums`: unknown key; did you mean 'columns'?"),
        ("tables.patients.melt_pairs", "`tables.patients.melt_pairs`: the table patients has no measure and numerator "
                                       "and denominator columns, so `melt_pairs` cannot fill it; use `columns` or `melt`"),
        ("tables.patients.columns.birth_year.as", "`tables.patients.columns.birth_year.as`: must be one of year, month, "
                                                  "date; got 'years'; did you mean 'year'?"),
        ("tables.patients.columns.sex.fields", "`tables.patients.columns.sex.fields`: unknown key; did you mean 'field'?"),
        ("tables.patients.columns.sex", "`tables.patients.columns.sex`: needs `field` (the REDCap field the column is "
                                        "read from)"),
        ("tables.monthly_reports.melt_pairs.a1c_at_goal", "`tables.monthly_reports.melt_pairs.a1c_at_goal`: must be a "
                                                          "list of two fields, [numerator, denominator]; got ['a1c_num']"),
    ]
    assert str(caught.value).startswith("redcap.yaml: 12 problems:\n  - `record_ids`: unknown key")
    problems = Problems()
    assert load_redcap_tables(mapped, problems) == {}
    quality = problems.table()
    assert set(quality["table"]) == {"redcap.yaml"} and len(quality) == 12 and set(quality["severity"]) == {"error"}
    assert quality.loc[quality["column"] == "record_ids", "problem"].tolist() == [
        "`record_ids`: unknown key; did you mean 'record_id'?"]


def test_a_mapping_that_is_not_yaml_names_its_line(mapped):
    (mapped / "redcap.yaml").write_text("tables:\n  patients: [unclosed\n")
    with pytest.raises(RedcapError, match="redcap.yaml: is not readable YAML at line 3"):
        find_redcap_export(mapped)


# --- the synthetic cohort, there and back -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_round_trip(tmp_path_factory):
    """The demo cohort (data/demo: seed 2015), written as a REDCap export and read back."""
    root = tmp_path_factory.mktemp("redcap_demo")
    generate_cohort(root / "demo", seed=2015)
    write_redcap(root / "demo", root / "export")
    problems = Problems()
    return root, load_redcap_tables(root / "export", problems), problems.table()


def test_the_demo_round_trips_table_by_table(demo_round_trip):
    root, tables, quality = demo_round_trip
    specs = load_dictionary()
    assert list(tables) == list(specs)  # all sixteen tables
    for name, spec in specs.items():
        csv_cells = pd.read_csv(root / "demo" / spec.file, dtype=str, keep_default_na=False)
        columns = [c for c in spec.column_names if c in csv_cells.columns]
        assert list(tables[name].columns) == columns, name
        want = csv_cells[columns].sort_values(columns).reset_index(drop=True).astype(object)
        got = tables[name][columns].sort_values(columns).reset_index(drop=True).astype(object)
        pd.testing.assert_frame_equal(got, want, obj=name)
    assert quality["problem"].tolist() == ["2 identifier column(s) (Identifier? = y in the data dictionary) "
                                           "dropped on import: patient_name, patient_phone"]


def test_the_demo_export_uses_melt_melt_pairs_and_made_up_identifiers(demo_round_trip):
    root, tables, _ = demo_round_trip
    export = find_redcap_export(root / "export")
    assert export.mapping.tables["measurements"].melt == {m: f"lab_{m}" for m in ("a1c", "sbp", "dbp", "ldl", "inr")}
    assert export.mapping.tables["monthly_reports"].melt_pairs == {
        "a1c_at_goal": ("a1c_num", "a1c_den"), "bp_at_goal": ("bp_num", "bp_den"),
        "ldl_at_goal": ("ldl_num", "ldl_den"), "inr_in_range": ("inr_num", "inr_den")}
    assert identifier_fields(export) == {"patient_name", "patient_phone"}
    raw = pd.read_csv(export.records_file, dtype=str, keep_default_na=False)
    names = set(raw["patient_name"]) - {""}
    assert len(names) > 50
    cells = {c for df in tables.values() for c in df.to_numpy().ravel()}
    assert not (names | set(raw["patient_phone"]) - {""}) & cells


def test_the_demo_export_validates_without_a_problem(demo_round_trip):
    _, tables, _ = demo_round_trip
    problems = Problems()
    typed = {name: parse_table(tables[name], spec, problems) for name, spec in load_dictionary().items()}
    check_cohort(typed, problems, as_of=None)
    assert problems.table().empty


# --- an export as a cohort's data folder (load_cohort) -------------------------------------------------------------

@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory) -> Path:
    """A small synthetic cohort dated 2022-2024 (3 teams of 6-9 patients), every table, as CSVs."""
    folder = tmp_path_factory.mktemp("redcap_small") / "csv"
    generate_cohort(folder, seed=11, n_teams=3, patients_per_team=(6, 9), start="2022-03-01")
    return folder


def _records(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "redcap_records.csv", dtype=str, keep_default_na=False)


def test_a_cohort_loads_from_an_export_as_from_its_csvs(small_cohort, tmp_path):
    export = write_redcap(small_cohort, tmp_path / "export")
    from_csv, from_redcap = load_cohort(small_cohort), load_cohort(export)
    for name in load_dictionary():
        want, got = from_csv.tables[name], from_redcap.tables[name]
        key = [c for c in want.columns if c != "row"]
        pd.testing.assert_frame_equal(got[key].sort_values(key).reset_index(drop=True),
                                      want[key].sort_values(key).reset_index(drop=True), obj=name)
    assert from_redcap.sources["measurements"] == "redcap_records.csv [instrument labs]"
    assert from_redcap.identifier_fields == ["patient_name", "patient_phone"]
    assert set(from_redcap.file_hashes) == {"redcap.yaml", "redcap_dictionary.csv", "redcap_records.csv"}
    assert from_redcap.quality[["table", "severity"]].values.tolist() == [["redcap_records.csv", "note"]]


def test_identifiers_never_leave_the_importer(small_cohort, tmp_path):
    """No cell, column or message of the loaded cohort holds an identifier field's name or any of its values."""
    export = write_redcap(small_cohort, tmp_path / "export")
    raw = _records(export)
    values = (set(raw["patient_name"]) | set(raw["patient_phone"])) - {""}
    assert len(values) >= 2 * 18  # a name and a phone per patient
    cohort = load_cohort(export)
    for name, table in cohort.tables.items():
        assert not {"patient_name", "patient_phone"} & set(table.columns), name
        cells = set(table.astype(str).to_numpy().ravel())
        assert not values & cells, name
    text = cohort.quality.to_csv(index=False)
    assert not any(v in text for v in values)


def test_problems_in_an_export_are_filed_against_its_record_instrument_and_field(small_cohort, tmp_path):
    export = write_redcap(small_cohort, tmp_path / "export")
    raw = _records(export)
    lab = raw.index[raw["redcap_repeat_instrument"] == "labs"][3]
    raw.loc[lab, "lab_sbp"] = "high"
    raw.to_csv(export / "redcap_records.csv", index=False)
    with pytest.raises(DataValidationError) as info:
        load_cohort(export)
    quality = info.value.problems
    errors = quality[quality["severity"] == "error"]
    where = (f"redcap_records.csv [record {raw.loc[lab, 'record_id']}, instrument labs, "
             f"instance {raw.loc[lab, 'redcap_repeat_instance']}]")
    assert errors[["table", "row", "column", "problem"]].values.tolist() == [[where, lab + 2, "lab_sbp",
                                                                              "'high' is not a number"]]


def test_an_export_and_csvs_may_share_a_folder_but_not_a_table(small_cohort, tmp_path):
    source = tmp_path / "source"
    shutil.copytree(small_cohort, source)
    qualitative = source / "qualitative"
    shutil.move(qualitative, tmp_path / "qualitative")
    export = write_redcap(source, tmp_path / "export")
    shutil.copytree(tmp_path / "qualitative", export / "qualitative")  # the coding comes from the QDA tool
    cohort = load_cohort(export)
    assert cohort.sources["qualitative_codings"] == "qualitative/codings.csv"
    assert cohort.sources["patients"] == "redcap_records.csv [instrument patients]"
    assert len(cohort.qualitative_codings) == len(load_cohort(small_cohort).qualitative_codings)
    shutil.copy(small_cohort / "patients.csv", export / "patients.csv")
    quality = load_cohort(export, raise_on_error=False).quality
    assert quality.loc[quality["severity"] == "error", ["table", "problem"]].values.tolist() == [
        ["redcap_records.csv [instrument patients]", "this table is in both patients.csv and redcap_records.csv "
                                                     "[instrument patients]; keep only one of them"]]


def test_a_required_table_in_neither_names_the_csv_and_the_export(small_cohort, tmp_path):
    source = tmp_path / "source"
    shutil.copytree(small_cohort, source)
    export = write_redcap(source, tmp_path / "export")
    dictionary = pd.read_csv(export / "redcap_dictionary.csv", dtype=str, keep_default_na=False)
    dictionary["Form Name"] = dictionary["Form Name"].replace("teams", "sites")  # an instrument of another name
    dictionary.to_csv(export / "redcap_dictionary.csv", index=False)
    quality = load_cohort(export, raise_on_error=False).quality
    assert ["teams.csv", "required file is missing from the data folder, and the REDCap export has no instrument "
                         "teams (redcap.yaml can map another one to it)"] in \
        quality.loc[quality["severity"] == "error", ["table", "problem"]].values.tolist()


def test_the_validated_cohort_is_stale_when_the_export_changes(small_cohort, tmp_path):
    export = write_redcap(small_cohort, tmp_path / "export")
    params = check({"cohort_id": "rc", "data_dir": str(export)})
    before = validation_key(params)
    (export / "redcap.yaml").write_text((export / "redcap.yaml").read_text() + "\n# a comment\n")
    assert validation_key(params) != before
    assert {p.name for p in input_files(export)} == {"redcap.yaml", "redcap_dictionary.csv", "redcap_records.csv"}


def test_the_mapping_may_be_written_in_the_params_file_instead(small_cohort, tmp_path):
    export = write_redcap(small_cohort, tmp_path / "export")
    mapping = yaml.safe_load((export / "redcap.yaml").read_text())
    (export / "redcap.yaml").unlink()
    params = check({"cohort_id": "rc", "data_dir": str(export), "redcap": {"mapping": mapping}})
    cohort = load_cohort(params)
    assert len(cohort.measurements) == len(load_cohort(small_cohort).measurements)
    assert cohort.sources["monthly_reports"] == "redcap_records.csv [instrument monthly_report]"
    wrong = copy.deepcopy(mapping)
    wrong["tables"]["measurements"]["instrument"] = "lab"
    quality = load_cohort(check({"cohort_id": "rc", "data_dir": str(export), "redcap": {"mapping": wrong}}),
                          raise_on_error=False).quality
    mistake = quality[quality["table"] == "params"]  # the params file's name (these params were given as a dict)
    assert mistake["column"].tolist() == ["redcap.mapping.tables.measurements.instrument"]
    assert mistake["problem"].iloc[0] == ("`redcap.mapping.tables.measurements.instrument`: 'lab' is not an instrument "
                                          "of the data dictionary; did you mean 'labs'?")
    assert quality.loc[quality["table"] == "teams.csv", "problem"].tolist() == [
        "required file is missing from the data folder, and no table could be read from the REDCap export (see its errors)"]
    (export / "redcap.yaml").write_text(yaml.safe_dump(mapping))
    quality = load_cohort(params, raise_on_error=False).quality
    assert quality.loc[quality["table"] == "redcap.yaml", "problem"].tolist() == [
        "the REDCap mapping is both in this file and in the params file's redcap.mapping; keep only one of them"]
