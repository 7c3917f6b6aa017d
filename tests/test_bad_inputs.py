"""Bad-input corpus: small broken variants of one valid cohort.

Each broken cohort must make `run` exit non-zero with a message naming the file, row and column (or,
where the data is still usable, pass with a warning), and must leave the previous report untouched.
Data errors stop the run before any notebook starts, so these tests need no kernel.
"""
from __future__ import annotations

import datetime as dt
import io
import math
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from evaluation.__main__ import main
from evaluation.core.dictionary import load_dictionary
from evaluation.data.synth import generate_cohort


@pytest.fixture(scope="module")
def valid_cohort(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("valid") / "cohort"
    generate_cohort(folder, seed=7, n_teams=3, patients_per_team=(6, 6))
    return folder


@pytest.fixture
def case(tmp_path, valid_cohort, monkeypatch):
    """A copy of the valid cohort, a params file for it, and a previous report that must survive."""
    data = tmp_path / "data"
    shutil.copytree(valid_cohort, data)
    reports = tmp_path / "reports"
    monkeypatch.setenv("CMM_REPORTS_DIR", str(reports))
    previous = reports / "broken"
    (previous / "tables").mkdir(parents=True)
    (previous / "index.html").write_text("<html>last good report</html>")
    (previous / "tables" / "data_quality.csv").write_text("table,row,column,severity,problem\n")
    (previous / "provenance.json").write_text('{"cohort_id": "broken"}')  # a report the runner published
    params = tmp_path / "broken.yaml"
    params.write_text(f"cohort_id: broken\ndata_dir: {data}\nas_of: '2016-12-31'\n")
    return data, params, previous


def edit_csv(folder: Path, file: str, change) -> None:
    """Apply ``change`` to the file's text cells (a DataFrame of strings) and write it back."""
    df = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
    changed = change(df)  # called once: a change that appends or inserts is not idempotent
    df = changed if changed is not None else df
    df.to_csv(folder / file, index=False, lineterminator="\n")


def set_cell(file_df: pd.DataFrame, column: str, value: str, row: int = 0) -> pd.DataFrame:
    file_df.loc[row, column] = value
    return file_df


def run_fails(params: Path, previous: Path, capsys, *expected: str, code: int = 1) -> str:
    before = {p: p.read_bytes() for p in previous.rglob("*") if p.is_file()}
    assert main(["run", str(params)]) == code
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, f"{text!r} not in:\n{err}"
    assert {p: p.read_bytes() for p in previous.rglob("*") if p.is_file()} == before, "previous report changed"
    return err


def validate_warns(target: Path, capsys, *expected: str) -> None:
    assert main(["validate", str(target)]) == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out}"


# (name, file, change, expected message parts) for cell-level breakage; row 2 is the first record.
CELL_CASES = [
    ("wrong type", "patients.csv", lambda d: set_cell(d, "birth_year", "nineteen fifty"),
     ["patients.csv, row 2, column 'birth_year'", "is not a whole number"]),
    ("malformed date", "patients.csv", lambda d: set_cell(d, "enrolled_on", "03/15/2015"),
     ["patients.csv, row 2, column 'enrolled_on'", "is not a date written YYYY-MM-DD"]),
    ("excel serial date", "measurements.csv", lambda d: set_cell(d, "measured_on", "42079"),
     ["measurements.csv, row 2, column 'measured_on'", "spreadsheet serial date"]),
    ("date in the future", "measurements.csv", lambda d: set_cell(d, "measured_on", "2031-01-01"),
     ["measurements.csv, row 2, column 'measured_on'", "is in the future"]),
    ("duplicated patient_id", "patients.csv", lambda d: set_cell(d, "patient_id", d.loc[0, "patient_id"], 1),
     ["patients.csv, row 3, column 'patient_id'", "duplicated key"]),
    ("orphan team_id", "patients.csv", lambda d: set_cell(d, "team_id", "T999"),
     ["patients.csv, row 2, column 'team_id'", "'T999' is not a team_id in teams.csv"]),
    ("orphan patient_id", "measurements.csv", lambda d: set_cell(d, "patient_id", "P999999"),
     ["measurements.csv, row 2, column 'patient_id'", "'P999999' is not a patient_id in patients.csv"]),
    ("implausible value", "measurements.csv",
     lambda d: set_cell(d, "value", "300", int(d.index[d["measure"] == "sbp"][0])),
     ["measurements.csv, row", "column 'value'", "'300' is implausible for sbp"]),
    ("unknown category", "teams.csv", lambda d: set_cell(d, "track", "beginner"),
     ["teams.csv, row 2, column 'track'", "must be one of: initial, advanced"]),
    ("blank required value", "patients.csv", lambda d: set_cell(d, "sex", ""),
     ["patients.csv, row 2, column 'sex'", "is blank"]),
    ("flag not 0/1", "attendance.csv", lambda d: set_cell(d, "attended", "yes"),
     ["attendance.csv, row 2, column 'attended'", "'yes' is not a 0/1 flag"]),
    ("malformed month", "monthly_reports.csv", lambda d: set_cell(d, "month", "March 2015"),
     ["monthly_reports.csv, row 2, column 'month'", "not a month written YYYY-MM"]),
    ("negative cost", "program_costs.csv", lambda d: set_cell(d, "amount", "-1200"),
     ["program_costs.csv, row 2, column 'amount'", "must be at least 0"]),
    ("numerator above denominator", "monthly_reports.csv",
     lambda d: set_cell(set_cell(d, "numerator", "9"), "denominator", "4"),
     ["monthly_reports.csv, row 2, column 'numerator'", "larger than the denominator"]),
    ("exit before enrollment", "patients.csv",
     lambda d: set_cell(set_cell(d, "exited_on", "2014-01-01"), "exit_reason", "moved"),
     ["patients.csv, row 2, column 'exited_on'", "before the enrollment date"]),
    ("mtp resolved before identified", "mtps.csv",
     lambda d: set_cell(d, "resolved_on", "2014-01-01"),
     ["mtps.csv, row 2, column 'resolved_on'", "resolved before it was identified"]),
    ("coding of an unknown excerpt", "qualitative/codings.csv", lambda d: set_cell(d, "excerpt_id", "X-404"),
     ["qualitative/codings.csv, row 2, column 'excerpt_id'", "'X-404' is not a excerpt_id"]),
    ("coding with a code not in the codebook", "qualitative/codings.csv", lambda d: set_cell(d, "code", "made_up"),
     ["qualitative/codings.csv, row 2, column 'code'", "'made_up' is not a code in qualitative/codebook.csv"]),
]


@pytest.mark.parametrize("name, file, change, expected", CELL_CASES, ids=[c[0] for c in CELL_CASES])
def test_broken_cell(name, file, change, expected, case, capsys):
    data, params, previous = case
    edit_csv(data, file, change)
    run_fails(params, previous, capsys, *expected)


def test_missing_required_file(case, capsys):
    data, params, previous = case
    (data / "patients.csv").unlink()
    run_fails(params, previous, capsys, "patients.csv: required file is missing")


def test_missing_column(case, capsys):
    data, params, previous = case
    edit_csv(data, "measurements.csv", lambda d: d.drop(columns="value"))
    run_fails(params, previous, capsys, "measurements.csv, row 1, column 'value': required column is missing")


def test_empty_required_table(case, capsys):
    data, params, previous = case
    (data / "teams.csv").write_text("team_id,team_name,state,setting,track,joined_on\n")
    run_fails(params, previous, capsys, "teams.csv: table has no rows, only a header; it is required")


def test_empty_file(case, capsys):
    data, params, previous = case
    (data / "measurements.csv").write_text("")
    run_fails(params, previous, capsys, "measurements.csv: file is empty")


def test_non_utf8_file(case, capsys):
    data, params, previous = case
    text = (data / "teams.csv").read_text().replace("Pharmacy", "Pharmac\u00eda", 1)
    (data / "teams.csv").write_bytes(text.encode("latin-1"))
    run_fails(params, previous, capsys, "teams.csv, row 2: is not UTF-8")


def test_ragged_row(case, capsys):
    data, params, previous = case
    with open(data / "measurements.csv", "a") as fh:
        fh.write("P000001,a1c,2015-06-01,7,9\n")
    run_fails(params, previous, capsys, "measurements.csv, row", "fields but the header has 4")


def test_duplicated_header(case, capsys):
    data, params, previous = case
    text = (data / "events.csv").read_text().replace("kind", "event_on", 1)
    (data / "events.csv").write_text(text)
    run_fails(params, previous, capsys, "events.csv, row 1, column 'event_on': column appears more than once")


def test_utf8_bom_is_read_with_a_warning(case, capsys):
    data, params, previous = case
    (data / "teams.csv").write_bytes(b"\xef\xbb\xbf" + (data / "teams.csv").read_bytes())
    validate_warns(data, capsys, "teams.csv: file starts with a UTF-8 byte-order mark")


def test_readmission_without_admission_is_a_warning(case, capsys):
    data, params, previous = case
    util = pd.read_csv(data / "utilization.csv", dtype=str, keep_default_na=False)
    util = util[util["kind"] != "admission"]
    util.to_csv(data / "utilization.csv", index=False, lineterminator="\n")
    validate_warns(data, capsys, "readmission with no earlier admission")


def test_goal_for_a_measure_the_data_never_has_is_a_warning(case, capsys, tmp_path):
    data, params, previous = case
    params.write_text(params.read_text() + "goals:\n  a1c: '< 8'\n  hba1c: '< 8'\n")
    validate_warns(params, capsys, "params goals name 'hba1c', but no measurement has that measure")


def test_params_unknown_key(case, capsys):
    data, params, previous = case
    params.write_text(params.read_text() + "colour: blue\n")
    run_fails(params, previous, capsys, "broken.yaml: unknown key `colour`", code=2)


def test_params_typo_in_a_key(case, capsys):
    data, params, previous = case
    params.write_text(params.read_text() + "windows:\n  baseline_day: 60\n")
    run_fails(params, previous, capsys, "unknown key `windows.baseline_day`; did you mean 'baseline_days'?", code=2)


def test_params_bad_goal_operator(case, capsys):
    data, params, previous = case
    params.write_text(params.read_text() + "goals:\n  a1c: '=< 8'\n")
    run_fails(params, previous, capsys, "goal operator for `a1c` must be one of <, <=, >, >=; got '=<'", code=2)


def test_params_missing_data_folder(case, capsys, tmp_path):
    data, params, previous = case
    params.write_text(f"cohort_id: broken\ndata_dir: {tmp_path / 'no_such_folder'}\n")
    run_fails(params, previous, capsys, "no_such_folder: data folder not found")


def test_malformed_qdpx(case, capsys):
    data, params, previous = case
    (data / "coding.qdpx").write_bytes(b"this is not a zip file")
    params.write_text(params.read_text() + "qualitative:\n  qdpx: coding.qdpx\n")
    run_fails(params, previous, capsys, "coding.qdpx: is not a .qdpx project (not a zip file)")


def test_qdpx_with_a_broken_project_file(case, capsys):
    data, params, previous = case
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("project.qde", "<Project xmlns='urn:QDA-XML:project:1.0'><Unclosed></Project>")
    (data / "coding.qdpx").write_bytes(buffer.getvalue())
    params.write_text(params.read_text() + "qualitative:\n  qdpx: coding.qdpx\n")
    run_fails(params, previous, capsys, "coding.qdpx")


def test_qdpx_that_does_not_exist(case, capsys):
    data, params, previous = case
    params.write_text(params.read_text() + "qualitative:\n  qdpx: missing.qdpx\n")
    run_fails(params, previous, capsys, "missing.qdpx: the REFI-QDA project named by qualitative.qdpx was not found")


# --- safe by construction: what the corpus found accepted, each now an error in CSV files and in a workbook ---

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _typed(text: str, kind: str):
    """A CSV cell as a registry's Excel export holds it: dates and numbers as typed cells where they parse,
    text otherwise; a control character written the way Excel stores it (_x000B_)."""
    if text == "":
        return None
    if kind == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return dt.datetime.fromisoformat(text)
    if kind in ("integer", "flag") and re.fullmatch(r"-?\d+", text):
        return int(text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and not _CONTROL.search(text):
            return number
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def as_workbook(folder: Path, target: Path) -> Path:
    """The cohort as one workbook, a sheet per table (named like the table)."""
    target.mkdir(parents=True)
    with pd.ExcelWriter(target / "cohort.xlsx", engine="openpyxl") as book:
        for spec in load_dictionary().values():
            if not (folder / spec.file).exists():
                continue
            df = pd.read_csv(folder / spec.file, dtype=str, keep_default_na=False)
            kinds = {c.name: c.type for c in spec.columns}
            df = pd.DataFrame({c: [_typed(v, kinds.get(c, "string")) for v in df[c]] for c in df.columns},
                              columns=df.columns, dtype=object)
            df.to_excel(book, sheet_name=spec.name, index=False)
    return target


def add_row(file_df: pd.DataFrame, **cells: str) -> pd.DataFrame:
    """A new last row (spreadsheet row len + 2) with these cells, the others blank."""
    file_df.loc[len(file_df)] = {c: cells.get(c, "") for c in file_df.columns}
    return file_df


def insert_text(column: str, after: str, text: str, row: int = 0):
    def change(file_df: pd.DataFrame) -> pd.DataFrame:
        file_df.loc[row, column] = file_df.loc[row, column].replace(after, after + text, 1)
        return file_df
    return change


# (name, file, change, (row, column) or None for the whole file, message fragment, number of errors). The valid
# cohort's first patient P000001 is born 1930 and enrolled 2015-03-16; P000002 (utilization's first row) is born
# 1952 and enrolled 2015-03-21; row 2 is the first record, "last" the row a case appends.
SAFE_CASES = [
    ("measurement before the birth year", "measurements.csv", lambda d: set_cell(d, "measured_on", "1929-06-01"),
     (2, "measured_on"), "'1929-06-01' is before the patient's birth year (1930, patients.csv row 2); "
                         "check this date and the birth year", 1),
    ("mtp before the birth year", "mtps.csv", lambda d: set_cell(d, "identified_on", "1929-06-01"),
     (2, "identified_on"), "'1929-06-01' is before the patient's birth year (1930, patients.csv row 2)", 1),
    ("utilization before the birth year", "utilization.csv", lambda d: set_cell(d, "occurred_on", "1950-01-01"),
     (2, "occurred_on"), "'1950-01-01' is before the patient's birth year (1952, patients.csv row 3)", 1),
    ("enrolled before the birth year", "patients.csv", lambda d: set_cell(d, "enrolled_on", "1929-03-16"),
     (2, "enrolled_on"), "'1929-03-16' is before the patient's birth year (1930); check the enrollment date", 1),
    ("measurement 15 years before enrollment", "measurements.csv", lambda d: set_cell(d, "measured_on", "2000-03-08"),
     (2, "measured_on"), "'2000-03-08' is 5486 days (15.0 years) before the patient's enrollment on 2015-03-16; "
                         "no analysis looks back more than 3650 days (10 years)", 1),
    ("utilization 15 years before enrollment", "utilization.csv", lambda d: set_cell(d, "occurred_on", "2000-01-01"),
     (2, "occurred_on"), "'2000-01-01' is 5558 days (15.2 years) before the patient's enrollment on 2015-03-21", 1),
    ("birth year in the future", "patients.csv", lambda d: set_cell(d, "birth_year", "2030"),
     (2, "birth_year"), "'2030' is a year of birth in the future: after 2016, the year of the as-of date "
                        "(2016-12-31, when the data were extracted); check it", 1),
    ("denominator 0", "monthly_reports.csv", lambda d: set_cell(set_cell(d, "numerator", "0"), "denominator", "0"),
     (2, "denominator"), "denominator is 0: a month with no eligible patients has no rate; leave that month's row out", 1),
    ("required table with no rows", "measurements.csv", lambda d: d.iloc[:0],
     None, "table has no rows, only a header; it is required: export it again with its records", 1),
    ("vertical tab in excerpt text", "qualitative/excerpts.csv", insert_text("text", "four staff", "\x0b"),
     (2, "text"), "contains the control character U+000B (vertical tab) at character 22: "
                  "'Two of our four staff[U+000B] changed during", 1),
    ("NUL in team_name", "teams.csv", insert_text("team_name", "Summit", "\x00"),
     (2, "team_name"), "contains the control character U+0000 (NUL) at character 7: 'Summit[U+0000] Point", 1),
    ("form feed and escape in a number", "measurements.csv", lambda d: set_cell(d, "value", "8\x1b.5\x0c"),
     (2, "value"), "contains the control characters U+000C (form feed), U+001B (escape) first at character 2: "
                   "'8[U+001B].5[U+000C]'; delete them", 1),
    ("inf as the value of an unlisted measure", "measurements.csv",
     lambda d: add_row(d, patient_id="P000001", measure="weight", measured_on="2015-05-01", value="inf"),
     ("last", "value"), "'inf' must be a finite number; write the actual value (leave out a row that has none)", 1),
    ("nan as a value", "measurements.csv", lambda d: set_cell(d, "value", "nan"),
     (2, "value"), "'nan' must be a finite number", 1),
    ("-inf as an amount", "program_costs.csv", lambda d: set_cell(d, "amount", "-inf"),
     (2, "amount"), "'-inf' must be a finite number", 1),
    ("infinity as a cost", "utilization.csv", lambda d: set_cell(d, "cost", "Infinity"),
     (2, "cost"), "'Infinity' must be a finite number; leave the cell blank when the value is unknown", 1),
]


def _expected_line(label: str, where, fragment: str, last_row: int) -> str:
    if where is None:
        return f"{label}: {fragment}"
    row, column = where
    return f"{label}, row {last_row if row == 'last' else row}, column '{column}': {fragment}"


@pytest.mark.parametrize("name, file, change, where, fragment, n_errors", SAFE_CASES, ids=[c[0] for c in SAFE_CASES])
def test_safe_by_construction_csv(name, file, change, where, fragment, n_errors, case, capsys):
    data, params, previous = case
    edit_csv(data, file, change)
    last = len(pd.read_csv(data / file, dtype=str, keep_default_na=False)) + 1
    err = run_fails(params, previous, capsys, _expected_line(file, where, fragment, last))
    assert f"{n_errors} data error(s)" in err


@pytest.mark.parametrize("name, file, change, where, fragment, n_errors", SAFE_CASES, ids=[c[0] for c in SAFE_CASES])
def test_safe_by_construction_workbook(name, file, change, where, fragment, n_errors, case, capsys, tmp_path):
    data, _, _ = case
    edit_csv(data, file, change)
    last = len(pd.read_csv(data / file, dtype=str, keep_default_na=False)) + 1
    book = as_workbook(data, tmp_path / "excel")
    params = tmp_path / "excel.yaml"
    params.write_text(f"cohort_id: excel\ndata_dir: {book}\nas_of: '2016-12-31'\n")
    assert main(["validate", str(params)]) == 1
    out = capsys.readouterr().out
    sheet = next(s.name for s in load_dictionary().values() if s.file == file)
    assert _expected_line(f"{book}/cohort.xlsx [sheet {sheet}]", where, fragment, last) in out, out
    assert f"\n{n_errors} error(s), " in out


def test_newlines_tabs_and_carriage_returns_in_text_are_fine(case, capsys):
    data, params, previous = case
    edit_csv(data, "qualitative/excerpts.csv", insert_text("text", "four staff", "\r\n\tand then\n"))
    validate_warns(params, capsys, "0 error(s)")


def test_a_ten_megabyte_cell_is_echoed_in_80_characters(case, capsys):
    """Each message echoes at most 80 characters of a value, then "…" (a 10-MB cell was echoed whole)."""
    data, params, previous = case
    huge = "x" * 10_000_000
    edit_csv(data, "measurements.csv", lambda d: set_cell(set_cell(d, "measured_on", "2015-" + huge), "value", huge, 1))
    edit_csv(data, "patients.csv", lambda d: set_cell(set_cell(d, "sex", huge), "team_id", huge, 1))
    edit_csv(data, "qualitative/excerpts.csv", lambda d: set_cell(d, "text", huge + "\x0c"))
    err = run_fails(params, previous, capsys)
    lines = [line for line in err.splitlines() if ", row " in line]
    expected = {
        "measurements.csv, row 2, column 'measured_on'": "'2015-xxx",
        "measurements.csv, row 3, column 'value'": "' is not a number",
        "patients.csv, row 2, column 'sex'": "' must be one of: F, M, X, U",
        "patients.csv, row 3, column 'team_id'": "' is not a team_id in teams.csv",
        "qualitative/excerpts.csv, row 2, column 'text'": "at character 10000001: '…xxx",
    }
    assert len(lines) == len(expected), err[:3000]
    for where, fragment in expected.items():
        line = next((line for line in lines if f"/{where}: " in line), None)
        assert line is not None, f"{where} not in:\n{err[:3000]}"
        problem = line.split(f"/{where}: ", 1)[1]
        assert fragment in problem and "…" in problem and len(problem) < 300, problem
    assert "x" * 81 not in err
    assert "xxx[U+000C]'" in next(line for line in lines if "excerpts.csv, row 2" in line)


# --- none of it touches valid data ------------------------------------------------------------------------------

SYNTHETIC = [
    ("demo", dict(seed=2015)),  # data/demo: `make demo`
    ("four teams of 75", dict(seed=7, n_teams=4, patients_per_team=(75, 75))),
    ("2022 cycle", dict(seed=11, n_teams=3, patients_per_team=(6, 9), start="2022-03-01")),
    ("1998 cycle, tiny teams", dict(seed=3, n_teams=2, patients_per_team=(1, 2), start="1998-01-01")),
    ("twenty-five teams", dict(seed=99, n_teams=25, patients_per_team=(40, 120))),
]


@pytest.mark.parametrize("name, options", SYNTHETIC, ids=[s[0] for s in SYNTHETIC])
def test_synthetic_cohorts_validate_without_a_problem(name, options, tmp_path, capsys):
    folder = tmp_path / "cohort"
    generate_cohort(folder, **options)
    assert main(["validate", str(folder)]) == 0
    assert capsys.readouterr().out.endswith(f"0 error(s), 0 warning(s), 0 note(s) in {folder}\n")


def test_synthetic_cohort_as_one_workbook_validates_without_a_problem(valid_cohort, tmp_path, capsys):
    book = as_workbook(valid_cohort, tmp_path / "excel")
    assert main(["validate", str(book)]) == 0
    assert capsys.readouterr().out.endswith(f"0 error(s), 0 warning(s), 0 note(s) in {book}\n")
