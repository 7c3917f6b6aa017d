"""The funder tables as one Excel workbook: ``funder/<cohort>_tables.xlsx``.

A first sheet "About" states the cohort, the data's as-of date and the disclosure rule, and lists the sheets;
then one sheet per funder table (every row and column of its CSV): the title in row 1, the reader's column
headings in row 2 (frozen, filterable, repeated on printed pages), numbers stored as numbers with the number
format of their column, codes by their names and p-values as text (``< 0.001``), all as the reader-label
registry says (``data_dictionary/results.yaml``, :mod:`evaluation.core.columns`), suppressed cells as the
marks ``<11`` and ``*`` (text). No text cell can run as a formula: text is always written as text, never
parsed, and text starting like a formula is also quote-prefixed, so that Excel keeps it text when the cell is
edited. The same tables give the same bytes (dated by ``as_of``).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from evaluation.core.columns import BLANK, ColumnFormat, format_cell, is_blank, table_formats
from evaluation.core.disclosure import COMPLEMENT_MARK, small_mark
from evaluation.core.labels import humanise
from evaluation.core.outputs import FORMULA_STARTS, INERT_PREFIX, atomic_write
from evaluation.core.params import Params
from evaluation.stats.cell_suppression import SuppressedTable

from .contents import workbook_name
from .funder import FUNDER_DIR, FUNDER_TABLES, suppression_note
from .ooxml import as_of_stamp, stable_zip

ABOUT_SHEET = "About"
TITLE_ROW, HEADER_ROW = 1, 2  # the table's title, then its column headings; data from row 3
SHEET_NAMES = {  # funder table -> its sheet (Excel allows 31 characters); others: the title, cut at a word
    "engagement_by_team": "Engagement", "themes": "Themes", "outcome_change": "Outcomes",
    "time_to_goal": "Time to goal", "value_utilization": "Acute-care use", "value_roi": "Return on investment",
    "value_sensitivity": "ROI sensitivity", "value_mtps": "MTPs", "value_mtp_categories": "MTP categories",
}
SHEET_NAME_MAX = 31
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")  # characters Excel refuses in a sheet name
COUNT_FORMAT = "#,##0"  # the About sheet's row counts
MIN_WIDTH, MAX_WIDTH = 6, 60  # column widths in characters; wider text wraps
HEADING_WIDTH = 16  # a longer heading wraps (over at most a few lines) unless its cells are wider
LINE_HEIGHT = 15  # points per line of 11-point text
ABOUT_WIDTHS = (20, 60, 8, 34, 60)  # the About sheet's columns A to E
BOLD = Font(bold=True)


def sheet_columns(name: str, st: SuppressedTable) -> list[ColumnFormat]:
    """Every column of the funder table ``name`` as the reader-label registry describes it (heading, number
    format), a column it does not list guessed from the table's values."""
    return table_formats(name, st.table)


def sheet_names(names: list[str]) -> list[str]:
    """One valid, unique sheet name per table (at most 31 characters, none of ``[]:*?/\\``, not ``About``)."""
    titles = {t.name: t.title for t in FUNDER_TABLES}
    used = {ABOUT_SHEET.lower()}
    out = []
    for name in names:
        base = SHEET_NAME_BAD.sub(" ", SHEET_NAMES.get(name) or titles.get(name) or humanise(name))
        base = re.sub(r"\s+", " ", base).strip().strip("'") or "Table"
        if len(base) > SHEET_NAME_MAX:
            base = base[:SHEET_NAME_MAX + 1].rsplit(" ", 1)[0][:SHEET_NAME_MAX].rstrip(" ,;-")
        candidate, n = base, 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{base[:SHEET_NAME_MAX - len(str(n)) - 1]} {n}"
        used.add(candidate.lower())
        out.append(candidate)
    return out


def _is_number(value) -> bool:
    """A finite int or float (numpy's too), not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(value)


def safe_text(value) -> str:
    """Text as a cell may hold it: characters XML cannot carry are dropped."""
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def put(ws: Worksheet, row: int, column: int, value, number_format: str | None = None):
    """Write one cell: a finite number as a number, anything else as text that never runs as a formula
    (``=HYPERLINK(...)``, ``+1``, ``-2``, ``@SUM`` stay the text they are)."""
    cell = ws.cell(row=row, column=column)
    if value is None:
        return cell
    if _is_number(value):
        cell.value = value.item() if isinstance(value, (np.integer, np.floating)) else value
        if number_format:
            cell.number_format = number_format
        return cell
    text = safe_text(value)
    if text.startswith(INERT_PREFIX) and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]  # a CSV's guard (see neutralise_text); the cell below is guarded its own way
    cell.value = text
    cell.data_type = "s"  # openpyxl would make "=..." a formula
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True  # Excel keeps it text when the cell is edited
    return cell


def _cell_value(value, fmt: ColumnFormat):
    """What a table cell holds in the sheet: a number as it is; a p-value, a code or a mark as the story
    words it (``< 0.001``, ``Advanced track``, ``<11``); a blank as empty, or as what it means (``not reached``)."""
    if is_blank(value):
        return None if fmt.blank == BLANK else fmt.blank
    if _is_number(value) and fmt.numeric and fmt.kind != "p_value":
        return value
    return format_cell(value, fmt)


def _wrap_words(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` characters at spaces (a longer word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _table_sheet(ws: Worksheet, title: str, st: SuppressedTable, columns: list[ColumnFormat]) -> None:
    """One funder table: title, headings (frozen, filterable), every row."""
    put(ws, TITLE_ROW, 1, title).font = Font(bold=True, size=12)
    right = Alignment(horizontal="right", vertical="top")
    widths = []
    for j, col in enumerate(columns, start=1):
        cell = put(ws, HEADER_ROW, j, col.heading)
        cell.font = BOLD
        cell.alignment = Alignment(horizontal="right" if col.numeric else "left", vertical="bottom", wrap_text=True)
        widths.append(max(max((len(w) for w in col.heading.split()), default=0), min(len(col.heading), HEADING_WIDTH)))
    for i, row in enumerate(st.table.itertuples(index=False), start=HEADER_ROW + 1):
        for j, (value, col) in enumerate(zip(row, columns), start=1):
            shown = _cell_value(value, col)
            cell = put(ws, i, j, shown, col.number_format)
            if shown is None:
                continue
            if col.numeric:
                cell.alignment = right
            elif isinstance(shown, str) and len(shown) > MAX_WIDTH:
                _wrapped(ws, i, j, shown, MAX_WIDTH)
            text = shown if isinstance(shown, str) else format_cell(shown, col)
            widths[j - 1] = max(widths[j - 1], max((len(line) for line in text.splitlines()), default=0))
    widths = [min(max(w + 2, MIN_WIDTH), MAX_WIDTH) for w in widths]
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    lines = max((len(_wrap_words(c.heading, w - 1)) for c, w in zip(columns, widths)), default=1)
    ws.row_dimensions[HEADER_ROW].height = LINE_HEIGHT * lines
    last = get_column_letter(max(len(columns), 1))
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + len(st.table)}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _wrapped(ws: Worksheet, row: int, column: int, text: str, width: int) -> None:
    """A text cell that wraps, its row made tall enough for it (spreadsheets do not grow a row for wrapped
    text on their own)."""
    put(ws, row, column, text).alignment = Alignment(wrap_text=True, vertical="top")
    lines = sum(max(1, math.ceil(len(part) / max(width - 1, 1))) for part in str(text).splitlines() or [""])
    current = ws.row_dimensions[row].height or LINE_HEIGHT
    ws.row_dimensions[row].height = max(current, LINE_HEIGHT * lines)


def _about_sheet(ws: Worksheet, params: Params, listed: list[tuple[str, str, str, int, str]]) -> None:
    """The cover sheet: what the workbook is, the rule its small numbers follow, and its sheets (linked)."""
    put(ws, 1, 1, f"{params.title}: funder tables").font = Font(bold=True, size=14)
    facts = [("Cohort", params.cohort_id), ("Data as of", f"{params.as_of:%Y-%m-%d}")]
    if params.report.get("prepared_by"):
        facts.append(("Prepared by", params.report["prepared_by"]))
    facts += [("Small numbers", suppression_note(params)),
              ("Marks", f"{small_mark(params.suppress_below)}: a count from 1 to {params.suppress_below - 1}; "
                        f"{COMPLEMENT_MARK}: a cell withheld so that a small count cannot be worked out; "
                        "a blank cell: no value.")]
    widths = dict(zip("ABCDE", ABOUT_WIDTHS))
    row = 3
    for label, text in facts:
        cell = put(ws, row, 1, label)
        cell.font, cell.alignment = BOLD, Alignment(vertical="top")
        _wrapped(ws, row, 2, text, widths["B"])
        row += 1
    row += 1
    for j, heading in enumerate(("Sheet", "Table", "Rows", "File", "Note"), start=1):
        put(ws, row, j, heading).font = BOLD
    for sheet, title, file, rows, note in listed:
        row += 1
        link = put(ws, row, 1, sheet)
        link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{sheet}'!A1", display=sheet)
        link.font = Font(underline="single", color="0563C1")
        _wrapped(ws, row, 2, title, widths["B"])
        put(ws, row, 3, rows, COUNT_FORMAT).alignment = Alignment(vertical="top")
        put(ws, row, 4, file).alignment = Alignment(vertical="top")
        if note:
            _wrapped(ws, row, 5, note, widths["E"])
        link.alignment = Alignment(vertical="top")
    for letter, width in widths.items():
        ws.column_dimensions[letter].width = width
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def funder_workbook(params: Params, tables: Mapping[str, SuppressedTable]) -> Workbook:
    """The workbook of the funder tables (About sheet first, then one sheet per table, in ``tables`` order)."""
    registry = {t.name: t for t in FUNDER_TABLES}
    wb = Workbook()
    about = wb.active
    about.title = ABOUT_SHEET
    listed = []
    for name, sheet in zip(tables, sheet_names(list(tables))):
        st = tables[name]
        entry = registry.get(name)
        title = entry.title if entry else humanise(name)
        _table_sheet(wb.create_sheet(sheet), title, st, sheet_columns(name, st))
        listed.append((sheet, title, f"{FUNDER_DIR}/{name}.csv", len(st.table), entry.note if entry else ""))
    _about_sheet(about, params, listed)
    stamp = as_of_stamp(params)
    wb.properties.created = wb.properties.modified = stamp
    wb.properties.creator = wb.properties.lastModifiedBy = "CMM evaluation workbench"
    wb.properties.title = f"{params.title}: funder tables"
    return wb


def write_funder_workbook(params: Params, tables: Mapping[str, SuppressedTable]) -> Path:
    """Write ``funder/<cohort>_tables.xlsx`` (the same tables give the same bytes); return its path."""
    buffer = io.BytesIO()
    # ExcelWriter, not Workbook.save: save() dates the file by the clock (properties.modified = now)
    ExcelWriter(funder_workbook(params, tables), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)).save()
    path = params.output_dir / FUNDER_DIR / workbook_name(params)
    atomic_write(path, stable_zip(buffer.getvalue(), as_of_stamp(params)))
    return path
