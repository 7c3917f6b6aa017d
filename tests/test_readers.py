"""Excel input: a cohort given as workbooks loads exactly as the same cohort given as CSVs, and problems in
a workbook are named by file, sheet, row and column."""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evaluation import DataValidationError, load_cohort
from evaluation.core.dictionary import load_dictionary
from evaluation.core.errors import format_problem
from evaluation.data.loading import input_files
from evaluation.data.readers import cell_text, column_letter
from evaluation.data.synth import generate_cohort
from tests.conftest import TINY, write_cohort

AS_OF = "2016-12-31"
SPECS = {s.file: s for s in load_dictionary().values()}


def typed_cell(text: str, kind: str):
    """A CSV cell as Excel would hold it: dates as real date cells, numbers as numeric cells."""
    if text == "":
        return None
    if kind in ("date", "month"):
        return dt.datetime.fromisoformat(text if kind == "date" else text[:7] + "-01")
    if kind in ("integer", "flag"):
        return int(text)
    if kind == "number":
        return float(text)  # 150 -> 150.0: must still read as "150"
    return text


def fill_sheet(ws, file: str, text: str) -> None:
    """Write one CSV of the contract into a worksheet with typed cells."""
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    kinds = {c.name: c.type for c in SPECS[file].columns}
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append([typed_cell(v, kinds.get(c, "string")) for c, v in zip(df.columns, row)])


def save_books(folder: Path, books: dict[str, dict[str, tuple[str, str]]]) -> Path:
    """``{workbook name: {sheet name: (contract file, csv text)}}`` written with openpyxl."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, sheets in books.items():
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for sheet, (file, text) in sheets.items():
            fill_sheet(wb.create_sheet(sheet), file, text)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        wb.save(path)
    return folder


def per_table(files: dict[str, str]) -> dict:
    """One workbook per table, named like it (patients.xlsx, qualitative/codings.xlsx), sheet 'Sheet1'."""
    return {f[:-4] + ".xlsx": {"Sheet1": (f, text)} for f, text in files.items()}


def one_book(files: dict[str, str], name: str = "cohort.xlsx") -> dict:
    """One workbook, one sheet per table: qualitative tables by their file stem (codings), others by name."""
    sheets = {}
    for f, text in files.items():
        sheets[Path(f).stem if f.startswith("qualitative/") else SPECS[f].name] = (f, text)
    return {name: sheets}


def load(folder: Path):
    return load_cohort(folder, as_of=AS_OF, raise_on_error=False)


def csv_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.csv"))}


def assert_same_cohort(from_csv, from_xlsx, labels: dict[str, str]) -> None:
    assert set(from_xlsx.tables) == set(from_csv.tables)
    for name, df in from_csv.tables.items():
        if df is None:
            assert from_xlsx.tables[name] is None, name
        else:
            pd.testing.assert_frame_equal(from_xlsx.tables[name], df, obj=name)
    assert from_xlsx.sources == labels
    back = {label: SPECS_BY_NAME[name].file for name, label in labels.items()}
    quality = from_xlsx.quality.assign(table=from_xlsx.quality["table"].replace(back))
    pd.testing.assert_frame_equal(quality, from_csv.quality)


SPECS_BY_NAME = load_dictionary()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synth") / "cohort"
    generate_cohort(folder, seed=7, n_teams=3, patients_per_team=(6, 6))
    return folder


# --- the same cohort as workbooks --------------------------------------------------------------------

def test_tiny_cohort_one_workbook_per_table_loads_like_the_csvs(tmp_path):
    from_csv = load(write_cohort(tmp_path / "csv", TINY))
    from_xlsx = load(save_books(tmp_path / "xlsx", per_table(TINY)))
    assert (from_xlsx.quality["severity"] == "error").sum() == 0
    assert_same_cohort(from_csv, from_xlsx, {"teams": "teams.xlsx [sheet Sheet1]",
                                             "patients": "patients.xlsx [sheet Sheet1]",
                                             "measurements": "measurements.xlsx [sheet Sheet1]"})
    assert from_xlsx.patients["birth_year"].tolist() == [1950, 1961, 1948]
    assert from_xlsx.measurements["value"].tolist() == [9.1, 7.6, 10.2, 150.0, 95.0, 148.0, 88.0, 132.0, 82.0]
    assert sorted(from_xlsx.file_hashes) == ["measurements.xlsx", "patients.xlsx", "teams.xlsx"]


def test_tiny_cohort_one_workbook_with_a_sheet_per_table_loads_like_the_csvs(tmp_path):
    from_csv = load(write_cohort(tmp_path / "csv", TINY))
    from_xlsx = load(save_books(tmp_path / "xlsx", one_book(TINY)))
    assert from_xlsx.quality.empty
    assert_same_cohort(from_csv, from_xlsx, {"teams": "cohort.xlsx [sheet teams]",
                                             "patients": "cohort.xlsx [sheet patients]",
                                             "measurements": "cohort.xlsx [sheet measurements]"})
    assert list(from_xlsx.file_hashes) == ["cohort.xlsx"]


@pytest.mark.parametrize("layout", ["per_table", "one_book"])
def test_every_table_of_the_synthetic_cohort_loads_like_the_csvs(tmp_path, synthetic, layout):
    """All sixteen tables (dates, months, flags, numbers, scores in half points, free text, the qualitative folder)."""
    files = csv_files(synthetic)
    assert len(files) == 16
    from_csv = load(synthetic)
    folder = save_books(tmp_path / "xlsx", per_table(files) if layout == "per_table" else one_book(files))
    from_xlsx = load(folder)
    if layout == "per_table":
        labels = {SPECS[f].name: f[:-4] + ".xlsx [sheet Sheet1]" for f in files}
    else:
        labels = {SPECS[f].name: f"cohort.xlsx [sheet {Path(f).stem}]" for f in files}
    assert labels["qualitative_codings"] in ("qualitative/codings.xlsx [sheet Sheet1]", "cohort.xlsx [sheet codings]")
    assert_same_cohort(from_csv, from_xlsx, labels)
    assert len(input_files(folder)) == (16 if layout == "per_table" else 1)


def test_sheet_may_be_named_like_the_qualitative_table(tmp_path, synthetic):
    files = csv_files(synthetic)
    book = {"export.xlsx": {("qualitative_codings" if f == "qualitative/codings.csv" else Path(f).stem): (f, t)
                            for f, t in files.items()}}
    cohort = load(save_books(tmp_path / "x", book))
    assert cohort.sources["qualitative_codings"] == "export.xlsx [sheet qualitative_codings]"
    assert cohort.sources["qualitative_codebook"] == "export.xlsx [sheet codebook]"
    assert (cohort.quality["severity"] == "error").sum() == 0


def test_workbook_mixed_with_csvs_and_booleans_for_flags(tmp_path):
    folder = write_cohort(tmp_path / "c", {k: v for k, v in TINY.items() if k != "patients.csv"})
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["patient_id", "team_id", "enrolled_on", "sex", "birth_year", "exited_on", "exit_reason", "diabetes",
               "hypertension"])
    ws.append(["P001", "T01", dt.date(2015, 2, 1), "F", 1950.0, None, None, True, False])
    ws.append(["P002", "T01", dt.datetime(2015, 2, 10), "M", 1961, dt.date(2015, 9, 1), "died", True, True])
    ws.append(["  P003 ", "T02", dt.datetime(2015, 3, 1), "F", 1948, None, "", False, True])
    wb.save(folder / "Patients.xlsx")
    cohort = load(folder)
    assert cohort.quality.empty
    assert cohort.sources["patients"] == "Patients.xlsx [sheet Sheet]"
    assert cohort.patients["patient_id"].tolist() == ["P001", "P002", "P003"]
    assert cohort.patients["diabetes"].tolist() == [1, 1, 0]
    assert cohort.patients["hypertension"].tolist() == [0, 1, 1]
    assert cohort.patients["enrolled_on"].dt.strftime("%Y-%m-%d").tolist() == ["2015-02-01", "2015-02-10", "2015-03-01"]
    assert sorted(cohort.file_hashes) == ["Patients.xlsx", "measurements.csv", "teams.csv"]


def test_trailing_empty_rows_and_columns_are_ignored(tmp_path):
    folder = save_books(tmp_path / "c", one_book(TINY))
    wb = openpyxl.load_workbook(folder / "cohort.xlsx")
    ws = wb["patients"]
    ws["M30"] = "   "  # a blank far away: stretches the used range
    ws["L9"].fill = openpyxl.styles.PatternFill("solid", fgColor="FFFF00")
    wb.save(folder / "cohort.xlsx")
    cohort = load(folder)
    assert cohort.quality.empty
    assert cohort.patients["row"].tolist() == [2, 3, 4]


def test_lock_file_of_an_open_workbook_is_not_read(tmp_path):
    folder = save_books(tmp_path / "c", one_book(TINY))
    (folder / "~$cohort.xlsx").write_bytes(b"\x00" * 165)
    cohort = load(folder)
    assert cohort.quality.empty
    assert [p.name for p in input_files(folder)] == ["cohort.xlsx"]


# --- problems named by workbook, sheet, row and column ---------------------------------------------------

def test_broken_cell_names_workbook_sheet_row_and_column(tmp_path):
    folder = save_books(tmp_path / "c", one_book(TINY))
    wb = openpyxl.load_workbook(folder / "cohort.xlsx")
    assert wb["patients"]["E1"].value == "birth_year" and wb["patients"]["A3"].value == "P002"
    wb["patients"]["E3"] = "abc"
    wb.save(folder / "cohort.xlsx")
    q = load(folder).quality
    assert q[["table", "row", "column", "severity", "problem"]].values.tolist() == [
        ["cohort.xlsx [sheet patients]", 3, "birth_year", "error", "'abc' is not a whole number"]]
    assert format_problem(next(q.itertuples(index=False))) == \
        "cohort.xlsx [sheet patients], row 3, column 'birth_year': 'abc' is not a whole number"
    with pytest.raises(DataValidationError) as info:
        load_cohort(folder, as_of=AS_OF)
    assert f"{folder}/cohort.xlsx [sheet patients], row 3, column 'birth_year': 'abc' is not a whole number" in str(info.value)


def test_broken_cell_in_a_per_table_workbook(tmp_path):
    folder = save_books(tmp_path / "c", per_table(TINY))
    wb = openpyxl.load_workbook(folder / "measurements.xlsx")
    wb["Sheet1"]["D7"] = "95 mmHg"
    wb.save(folder / "measurements.xlsx")
    q = load(folder).quality
    assert q[["table", "row", "column", "problem"]].values.tolist() == [
        ["measurements.xlsx [sheet Sheet1]", 7, "value", "'95 mmHg' is not a number"]]


def test_cross_table_problems_are_named_by_the_workbook(tmp_path):
    files = {**TINY, "measurements.csv": TINY["measurements.csv"].replace("P003,sbp,2015-06-01", "P009,sbp,2015-06-01")}
    q = load(save_books(tmp_path / "c", one_book(files))).quality
    assert q[["table", "row", "column", "problem"]].values.tolist() == [
        ["cohort.xlsx [sheet measurements]", 9, "patient_id", "'P009' is not a patient_id in patients.csv"]]


def test_date_with_a_time_and_serial_numbers_get_the_date_messages(tmp_path):
    folder = save_books(tmp_path / "c", one_book(TINY))
    wb = openpyxl.load_workbook(folder / "cohort.xlsx")
    ws = wb["patients"]
    ws["C2"] = dt.datetime(2015, 2, 1, 9, 30)
    ws["C3"] = "42044"  # text holding a serial number
    ws["C4"] = 42064  # a number cell not formatted as a date (2015-03-01 as a number)
    ws["C4"].number_format = "General"
    wb.save(folder / "cohort.xlsx")
    q = load(folder).quality
    assert q[["row", "column", "problem"]].values.tolist() == [
        [2, "enrolled_on", "'2015-02-01 09:30:00' is not a date written YYYY-MM-DD"],
        [3, "enrolled_on", "'42044' looks like a spreadsheet serial date; write dates as YYYY-MM-DD"],
        [4, "enrolled_on", "'42064' looks like a spreadsheet serial date; write dates as YYYY-MM-DD"]]
    assert set(q["table"]) == {"cohort.xlsx [sheet patients]"}


def test_empty_header_cell_with_data_names_the_column_letter(tmp_path):
    folder = save_books(tmp_path / "c", one_book(TINY))
    wb = openpyxl.load_workbook(folder / "cohort.xlsx")
    wb["teams"]["C1"] = None
    wb.save(folder / "cohort.xlsx")
    q = load(folder).quality
    assert q[["table", "row", "column", "severity", "problem"]].values.tolist() == [
        ["cohort.xlsx [sheet teams]", 1, "", "error",
         "header cell C1 is empty but column C holds data; name the column or delete it"]]


def test_repeated_and_missing_columns_as_for_a_csv(tmp_path):
    folder = save_books(tmp_path / "c", per_table(TINY))
    wb = openpyxl.load_workbook(folder / "patients.xlsx")
    wb["Sheet1"]["E1"] = "Birth Year"
    wb.save(folder / "patients.xlsx")
    q = load(folder).quality
    assert q[["table", "row", "column", "problem"]].values.tolist() == [
        ["patients.xlsx [sheet Sheet1]", 1, "birth_year", "required column is missing from the header (found 'Birth Year': rename it)"]]


def test_empty_sheet_and_header_only_sheet(tmp_path):
    mtps = "patient_id,identified_on,category,resolved_on\n"
    folder = save_books(tmp_path / "c", one_book({**TINY, "mtps.csv": mtps}))
    wb = openpyxl.load_workbook(folder / "cohort.xlsx")
    wb.remove(wb["teams"])
    wb.create_sheet("teams")
    wb["measurements"].delete_rows(2, 20)
    wb.save(folder / "cohort.xlsx")
    q = load(folder).quality
    rows = q[q["table"].str.startswith("cohort.xlsx")][["table", "severity", "problem"]].values.tolist()
    assert rows == [
        ["cohort.xlsx [sheet teams]", "error", "sheet is empty (no header row)"],
        ["cohort.xlsx [sheet measurements]", "error",  # required: an error
         "table has no rows, only a header; it is required: export it again with its records"],
        ["cohort.xlsx [sheet mtps]", "warning",  # optional: as good as absent
         "table has no rows, only a header; the analyses that need it are skipped"]]


# --- which file holds a table ------------------------------------------------------------------------------

def test_numbers_file_is_named_not_called_missing(tmp_path):
    files = {k: v for k, v in TINY.items() if k != "patients.csv"}
    folder = write_cohort(tmp_path / "c", {**files, "patients.numbers": b"PK\x03\x04 not for us"})
    q = load(folder).quality
    assert q[["table", "row", "column", "severity", "problem"]].astype(object).values.tolist() == [
        ["patients.csv", pd.NA, "", "error", "required file is missing; found patients.numbers: export it as CSV UTF-8 or .xlsx"]]
    assert format_problem(next(q.itertuples(index=False))) == \
        "patients.csv: required file is missing; found patients.numbers: export it as CSV UTF-8 or .xlsx"


def test_tsv_and_txt_are_named_and_an_optional_table_too(tmp_path):
    folder = write_cohort(tmp_path / "c", {**{k: v for k, v in TINY.items() if k != "patients.csv"},
                                           "patients.tsv": "x", "patients.txt": "y", "mtps.numbers": "z"})
    q = load(folder).quality
    assert q[["table", "problem"]].values.tolist() == [
        ["patients.csv", "required file is missing; found patients.tsv and patients.txt: export it as CSV UTF-8 or .xlsx"],
        ["mtps.csv", "not read; found mtps.numbers: export it as CSV UTF-8 or .xlsx"]]


def test_csv_named_in_another_case_is_named(tmp_path):
    files = {("Patients.CSV" if k == "patients.csv" else k): v for k, v in TINY.items()}
    folder = write_cohort(tmp_path / "c", files)
    if (folder / "patients.csv").exists():  # a case-insensitive file system reads it as it is
        pytest.skip("case-insensitive file system")
    q = load(folder).quality
    assert q["problem"].tolist() == ["required file is missing; found Patients.CSV: rename it patients.csv"]


@pytest.mark.parametrize("content, why", [
    (TINY["patients.csv"].encode(), "it holds text, not a workbook"),
    (b"\xd0\xcf\x11\xe0\x00\x00\x01\x02garbage", "it is damaged or not a workbook"),
])
def test_unreadable_xls_is_named(tmp_path, content, why):
    files = {k: v for k, v in TINY.items() if k != "patients.csv"}
    folder = write_cohort(tmp_path / "c", {**files, "patients.xls": content})
    q = load(folder).quality
    assert q[["table", "severity", "problem"]].values.tolist() == [
        ["patients.xls", "error", f"cannot be read as a spreadsheet ({why}); export it as CSV UTF-8 or .xlsx"]]
    assert [p.name for p in input_files(folder)] == ["teams.csv", "measurements.csv", "patients.xls"]


def test_xlsx_content_under_an_xls_name_is_read(tmp_path):
    folder = save_books(tmp_path / "c", per_table(TINY))
    (folder / "patients.xlsx").rename(folder / "patients.xls")
    cohort = load(folder)
    assert cohort.quality.empty
    assert cohort.sources["patients"] == "patients.xls [sheet Sheet1]"


def test_csv_and_xlsx_for_one_table_is_an_error_naming_both(tmp_path):
    folder = write_cohort(tmp_path / "c", TINY)
    save_books(folder, {"patients.xlsx": per_table(TINY)["patients.xlsx"]})
    q = load(folder).quality
    assert q[["table", "severity", "problem"]].values.tolist() == [
        ["patients.csv", "error", "this table is in both patients.csv and patients.xlsx; keep only one of them"]]
    with pytest.raises(DataValidationError, match="patients.csv: this table is in both patients.csv and patients.xlsx"):
        load_cohort(folder, as_of=AS_OF)


def test_csv_and_a_sheet_of_the_cohort_workbook_is_an_error_naming_both(tmp_path):
    folder = write_cohort(tmp_path / "c", TINY)
    save_books(folder, {"cohort.xlsx": {"patients": ("patients.csv", TINY["patients.csv"])}})
    q = load(folder).quality
    assert q["problem"].tolist() == [
        "this table is in both patients.csv and cohort.xlsx [sheet patients]; keep only one of them"]


def test_workbook_without_the_sheet_says_which_sheets_it_has(tmp_path):
    book = one_book({k: v for k, v in TINY.items() if k != "patients.csv"})
    book["cohort.xlsx"]["Patient list"] = ("patients.csv", TINY["patients.csv"])
    q = load(save_books(tmp_path / "c", book)).quality
    assert q[["table", "severity", "problem"]].values.tolist() == [
        ["patients.csv", "error", "required file is missing from the data folder (cohort.xlsx has no sheet named "
                                  "patients; its sheets: teams, measurements, Patient list)"],
        ["cohort.xlsx [sheet Patient list]", "note", "sheet is not a table of the data dictionary; not read"]]


def test_per_table_workbook_with_several_sheets(tmp_path):
    books = per_table(TINY)
    books["patients.xlsx"] = {"notes": ("patients.csv", TINY["patients.csv"]),
                              "patients": ("patients.csv", TINY["patients.csv"])}
    cohort = load(save_books(tmp_path / "a", books))
    assert cohort.sources["patients"] == "patients.xlsx [sheet patients]" and cohort.quality.empty
    books["patients.xlsx"] = {"export 1": ("patients.csv", TINY["patients.csv"]),
                              "export 2": ("patients.csv", TINY["patients.csv"])}
    q = load(save_books(tmp_path / "b", books)).quality
    assert q[["table", "problem"]].values.tolist() == [
        ["patients.xlsx", "has 2 sheets with data (export 1, export 2); name the one to read 'patients' or delete the others"]]


# --- cells ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (dt.date(2015, 2, 1), "2015-02-01"),
    (dt.datetime(2015, 2, 1), "2015-02-01"),
    (dt.datetime(2015, 2, 1, 10, 30), "2015-02-01 10:30:00"),
    (12.0, "12"), (-3.0, "-3"), (1950, "1950"), (9.1, "9.1"), (0.1 + 0.2, "0.30000000000000004"), (1e20, "1e+20"),
    (True, "1"), (False, "0"), ("", ""), (None, ""), ("  P001\t", "P001"), ("42005", "42005"),
    (dt.time(9, 30), "09:30:00"),
])
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_column_letter():
    assert [column_letter(i) for i in (0, 2, 25, 26, 27, 701, 702)] == ["A", "C", "Z", "AA", "AB", "ZZ", "AAA"]
