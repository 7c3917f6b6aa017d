"""The funder tables as an Excel workbook (evaluation/report/workbook.py), read back with openpyxl: one sheet
per table with every row, frozen and filterable headers, numbers stored as numbers with their formats, marks
for suppressed cells, no formula from a text cell, and the same bytes from the same tables."""
from __future__ import annotations

import re
import time
import zipfile

import openpyxl
import pandas as pd
import pytest

from evaluation.core.outputs import save_table
from evaluation.core.params import check
from evaluation.report.funder import funder_tables, suppression_note
from evaluation.report.workbook import ABOUT_SHEET, HEADER_ROW, put, sheet_names, write_funder_workbook

INJECTIONS = ['=HYPERLINK("http://example.org/x","click")', "+1", "-2", "@SUM(A1:A2)", "\tT05", "=1+1"]


@pytest.fixture
def params(tmp_path, tiny_cohort):
    return check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "title": "Tiny cohort"})


@pytest.fixture
def tables(params):
    """Three funder tables built from result tables: outcome change (one group of 5 patients), return on
    investment (money), engagement by team (team ids that look like formulas)."""
    save_table(pd.DataFrame({
        "measure": ["a1c", "a1c", "a1c", "sbp"], "group": ["all", "track=advanced", "track=initial", "all"],
        "n": [1250, 5, 1245, 300], "baseline_mean": [9.0, 9.4, 9.0, 150.25], "followup_mean": [8.0, 8.1, 8.0, 140.5],
        "mean_change": [-1.0, -1.3, -1.0, -9.75], "change_ci_low": [-1.3, -2.0, -1.3, -12.5],
        "change_ci_high": [-0.7, -0.6, -0.7, -7.0], "p_value": [0.0000002, 0.04, 0.0000003, 0.2],
        "pct_goal_baseline": [30.0, 20.0, 30.1, 41.5], "pct_goal_followup": [55.5, 40.0, 55.6, 60.0]}),
        params, "outcome_change")
    save_table(pd.DataFrame({"group": ["all"], "patients": [1250], "cost_avoided": [831200.0],
                             "program_cost": [344896.0], "net_return": [486304.0], "net_roi_pct": [141.0],
                             "roi_per_patient": [389.0]}), params, "value_roi")
    save_table(pd.DataFrame({"team_id": INJECTIONS, "track": ["initial"] * len(INJECTIONS),
                             "events_offered": [29] * len(INJECTIONS), "events_attended": [25, 27, 19, 20, 21, 22],
                             "attendance_rate": [0.86, 0.93, 0.66, 0.69, 0.72, 0.76]}), params, "engagement_by_team")
    return funder_tables(params, write=False)


@pytest.fixture
def book(params, tables):
    return openpyxl.load_workbook(write_funder_workbook(params, tables))


def _sheet_of(book, tables, name):
    """The sheet of funder table ``name``: the About sheet lists sheet and file per table."""
    about = book[ABOUT_SHEET]
    rows = [[c.value for c in r] for r in about.iter_rows()]
    return book[next(r[0] for r in rows if r[3] == f"funder/{name}.csv")]


def test_one_sheet_per_table_after_the_about_sheet_with_every_row(book, tables):
    assert book.sheetnames[0] == ABOUT_SHEET
    assert len(book.sheetnames) == 1 + len(tables)
    for name, st in tables.items():
        ws = _sheet_of(book, tables, name)
        assert ws.max_row - HEADER_ROW == len(st.table)
        assert ws.max_column == len(st.table.columns)


def test_headers_are_frozen_filterable_and_labelled(book, tables):
    for name, st in tables.items():
        ws = _sheet_of(book, tables, name)
        assert ws.freeze_panes == f"A{HEADER_ROW + 1}"  # rows above the first data row stay put
        last = openpyxl.utils.get_column_letter(len(st.table.columns))
        assert ws.auto_filter.ref == f"A{HEADER_ROW}:{last}{HEADER_ROW + len(st.table)}"
        headers = [c.value for c in ws[HEADER_ROW]]
        assert all(isinstance(h, str) and h and "_" not in h for h in headers), headers  # no snake_case
        assert ws["A1"].value  # the table's title


def test_suppressed_cells_read_as_their_marks_and_numbers_as_numbers(book, tables):
    """Every cell of every sheet against the suppressed table: a hidden cell holds its mark as text, a shown
    number the same number (numeric, not text)."""
    marks = checked = 0
    for name, st in tables.items():
        ws = _sheet_of(book, tables, name)
        for i in range(len(st.table)):
            for j, col in enumerate(st.table.columns):
                value, cell = st.table.iloc[i, j], ws.cell(HEADER_ROW + 1 + i, j + 1)
                if st.mask.iloc[i, j]:
                    assert cell.value == value and cell.data_type == "s" and value in ("<11", "*"), (name, i, col)
                    marks += 1
                elif isinstance(value, (int, float)) and not pd.isna(value) and col != "p_value":
                    assert cell.data_type == "n" and cell.value == pytest.approx(float(value)), (name, i, col)
                    checked += 1
    assert marks >= 2 and checked > 20
    ws = _sheet_of(book, tables, "outcome_change")
    small = ws.cell(HEADER_ROW + 2, list(tables["outcome_change"].table.columns).index("n") + 1)
    assert small.value == "<11"  # the advanced track's 5 patients
    assert 5 not in [c.value for r in ws.iter_rows() for c in r]  # the hidden count is nowhere in the sheet


def test_each_column_has_its_number_format(book, tables):
    ws = _sheet_of(book, tables, "outcome_change")
    at = {c: i + 1 for i, c in enumerate(tables["outcome_change"].table.columns)}
    first = HEADER_ROW + 1  # the "all" row of HbA1c
    assert ws.cell(first, at["n"]).value == 1250 and ws.cell(first, at["n"]).number_format.split(";")[0] == "#,##0"
    mean = ws.cell(first, at["baseline_mean"])
    assert mean.value == 9.0 and re.fullmatch(r"(#,##)?0\.00", mean.number_format.split(";")[0])
    change = ws.cell(first, at["mean_change"])
    assert change.value == -1.0 and change.number_format.split(";")[0].endswith("0.00")
    pct = ws.cell(first, at["pct_goal_baseline"])
    assert pct.value == 30.0 and ".0" in pct.number_format.split(";")[0] and "$" not in pct.number_format
    p = ws.cell(first, at["p_value"])
    assert p.value == "< 0.001" and p.data_type == "s"  # a p-value is its text
    roi = _sheet_of(book, tables, "value_roi")
    money = [c for c in roi[HEADER_ROW + 1] if c.value == 831200]
    assert money and money[0].data_type == "n" and "$" in money[0].number_format and "#,##0" in money[0].number_format


def test_text_that_looks_like_a_formula_stays_text(book, tables, params):
    ws = _sheet_of(book, tables, "engagement_by_team")
    cells = [ws.cell(HEADER_ROW + 1 + i, 1) for i in range(len(INJECTIONS))]
    assert [c.value for c in cells] == INJECTIONS
    assert {c.data_type for c in cells} == {"s"}
    path = params.output_dir / "funder" / "tiny_tables.xlsx"
    with zipfile.ZipFile(path) as zf:
        sheets = [zf.read(n).decode("utf-8") for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
    assert not any("<f>" in s or "<f " in s for s in sheets)  # no formula anywhere in the file


def test_column_widths_fit_the_longest_cell(book, tables):
    ws = _sheet_of(book, tables, "engagement_by_team")
    longest = max(len(t) for t in INJECTIONS)
    assert ws.column_dimensions["A"].width >= longest


def test_about_sheet_states_the_rule_and_lists_the_sheets(book, tables, params):
    about = book[ABOUT_SHEET]
    texts = [c.value for r in about.iter_rows() for c in r if isinstance(c.value, str)]
    assert suppression_note(params) in texts
    assert "2016-12-31" in texts and "tiny" in texts
    assert set(book.sheetnames[1:]) <= set(texts)


def test_same_tables_give_the_same_bytes_whatever_the_clock(params, tables, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)  # zip entries are stamped with time.time()
    first = write_funder_workbook(params, tables).read_bytes()
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    second = write_funder_workbook(params, tables).read_bytes()
    assert first == second
    with zipfile.ZipFile(write_funder_workbook(params, tables)) as zf:
        core = zf.read("docProps/core.xml").decode("utf-8")
    assert core.count("2016-12-31T00:00:00Z") == 2  # created and modified: the data's as-of date


def test_sheet_names_are_valid_and_unique():
    names = sheet_names(["outcome_change", "a_very_long_table_name_with_many_words_in_it", "what?/[x]:*",
                         "a_very_long_table_name_with_many_words_in_it", "about"])
    assert len(set(n.lower() for n in names)) == len(names) and "about" not in {n.lower() for n in names}
    assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names), names


def test_a_formula_written_directly_stays_text_and_quote_prefixed(tmp_path):
    wb = openpyxl.Workbook()
    for i, text in enumerate(INJECTIONS, start=1):
        put(wb.active, i, 1, text)
    wb.save(tmp_path / "x.xlsx")
    back = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    assert [back.cell(i, 1).value for i in range(1, len(INJECTIONS) + 1)] == INJECTIONS
    assert all(back.cell(i, 1).data_type == "s" and back.cell(i, 1).quotePrefix for i in range(1, len(INJECTIONS) + 1))
