"""Bad-input corpus: small broken variants of one valid cohort.

Each broken cohort must make `run` exit non-zero with a message naming the file, row and column (or,
where the data is still usable, pass with a warning), and must leave the previous report untouched.
Data errors stop the run before any notebook starts, so these tests need no kernel.
"""
from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from evaluation.__main__ import main
from evaluation.synth import generate_cohort


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
    params = tmp_path / "broken.yaml"
    params.write_text(f"cohort_id: broken\ndata_dir: {data}\nas_of: '2016-12-31'\n")
    return data, params, previous


def edit_csv(folder: Path, file: str, change) -> None:
    """Apply ``change`` to the file's text cells (a DataFrame of strings) and write it back."""
    df = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
    df = change(df) if change(df) is not None else df
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
    run_fails(params, previous, capsys, "teams.csv: table has a header but no rows")


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
