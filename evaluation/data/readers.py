"""Reading a cohort's files as text cells: find the CSV, workbook or sheet that holds each table of the
contract, and read it as the same text cells whatever it came from, so every parse and validation rule of
:mod:`evaluation.data.loading` applies unchanged.

A table may come from its CSV (``patients.csv``), from a workbook named like it (``patients.xlsx``,
``qualitative/codings.xlsx``) or from a sheet named like it (``patients``, ``qualitative_codings`` or
``codings``) of a workbook in the data folder with any other name (``cohort.xlsx``). Two sources for one
table are an error naming both. Problems about a table are filed under its contract file (as for a CSV,
so cross-table rules still find them) and shown under the workbook and sheet they were read from.
Workbooks are read with python-calamine (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``, ``.ods``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.core.dictionary import TableSpec, load_dictionary
from evaluation.core.errors import character_name, shown_value
from evaluation.core.problems import Problems

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
EXPORT_HINT = "export it as CSV UTF-8 or .xlsx"
_EXACT_INT = 2 ** 53  # whole floats below this are written as integers ("12", not "12.0")
# Characters no cell may hold (XML 1.0 forbids them, so no report can show them): the C0 controls except tab,
# newline and carriage return, and the noncharacters U+FFFE and U+FFFF.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# What stripping a cell removes: white space, but not the control characters above (they are reported, not
# dropped, wherever they stand in the cell).
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and not FORBIDDEN_CHARACTERS.match(c))


@dataclass(frozen=True)
class Source:
    """Where one table is read from: a CSV (``sheet`` is None) or one sheet of a workbook."""

    path: Path
    label: str  # the file as the data-quality table and messages name it, e.g. "cohort.xlsx [sheet patients]"
    sheet: str | None = None
    book: Any = None  # the open workbook, for a sheet


def _rel(path: Path, data_dir: Path) -> str:
    return shown_value(path.relative_to(data_dir).as_posix(), limit=200)


def _sheet_label(path: Path, data_dir: Path, sheet: str) -> str:
    """A sheet as messages name it: ``cohort.xlsx [sheet patients]`` (the sheet name is from the file: bounded)."""
    return f"{_rel(path, data_dir)} [sheet {shown_value(sheet)}]"


def _visible_file(path: Path) -> bool:
    """Skip hidden files and the lock files Excel leaves beside an open workbook (``~$cohort.xlsx``)."""
    return not path.name.startswith((".", "~$"))


def _stem(spec: TableSpec) -> str:
    return Path(spec.file).name.split(".")[0].lower()


def _named_like(folder: Path, spec: TableSpec) -> list[Path]:
    """Entries of the table's folder whose name, before the first dot, is the table file's (any case)."""
    if not folder.is_dir():
        return []
    stem = _stem(spec)
    return sorted(p for p in folder.iterdir()
                  if _visible_file(p) and p.name.split(".")[0].lower() == stem and "." in p.name)


def _is_spreadsheet(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SPREADSHEET_SUFFIXES


def _root_workbooks(data_dir: Path, specs: dict[str, TableSpec]) -> list[Path]:
    """Workbooks in the data folder not named like a table: each may hold several tables, one per sheet."""
    stems = {_stem(s) for s in specs.values() if "/" not in s.file}
    return sorted(p for p in data_dir.iterdir()
                  if _visible_file(p) and _is_spreadsheet(p) and p.name.split(".")[0].lower() not in stems)


def workbook_files(data_dir: Path) -> list[Path]:
    """Every workbook the loader opens (for the input hashes of provenance and incremental runs)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return []
    specs = load_dictionary()
    files = set(_root_workbooks(data_dir, specs))
    for spec in specs.values():
        files.update(p for p in _named_like((data_dir / spec.file).parent, spec) if _is_spreadsheet(p))
    return sorted(files)


def _aliases(spec: TableSpec, specs: dict[str, TableSpec]) -> set[str]:
    """Sheet names that mean this table: its name, and its file's stem when no other table has it."""
    others = {n for s in specs.values() if s.name != spec.name for n in (s.name, _stem(s))}
    return {spec.name} | ({_stem(spec)} - others)


def _sheet_key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _open(path: Path) -> tuple[Any, str | None]:
    """The workbook, or None and why it cannot be read (a sentence for the data-quality table)."""
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError

    try:
        return CalamineWorkbook.from_path(str(path)), None
    except PasswordError:
        return None, "cannot be read: the workbook is password-protected; remove the password or " + EXPORT_HINT
    except (CalamineError, OSError, ValueError):
        pass
    try:  # the content may be another workbook format than its name says (an .xlsx saved as .xls)
        with open(path, "rb") as fh:
            return CalamineWorkbook.from_filelike(fh), None
    except (CalamineError, OSError, ValueError):
        pass
    with open(path, "rb") as fh:
        head = fh.read(4096)
    kind = "it holds text, not a workbook" if head and b"\x00" not in head else "it is damaged or not a workbook"
    return None, f"cannot be read as a spreadsheet ({kind}); {EXPORT_HINT}"


def _worksheets(book: Any) -> list[str]:
    from python_calamine import SheetTypeEnum

    return [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]


def _sheet_height(book: Any, name: str) -> int:
    try:
        return book.get_sheet_by_name(name).height
    except Exception:  # noqa: BLE001 - an unreadable sheet is reported when it is read
        return 1


def _pick_sheet(book: Any, spec: TableSpec, specs: dict[str, TableSpec]) -> tuple[str | None, str | None]:
    """The sheet of a workbook named like the table: the only one, the one named like the table, or the
    only one holding anything. Else None and why."""
    names = _worksheets(book)
    if len(names) == 1:
        return names[0], None
    if not names:
        return None, "has no worksheet"
    named = [n for n in names if _sheet_key(n) in _aliases(spec, specs)]
    if len(named) == 1:
        return named[0], None
    filled = [n for n in names if _sheet_height(book, n) > 0]
    if len(filled) <= 1:
        return (filled or names)[0], None
    return None, (f"has {len(filled)} sheets with data ({shown_value(', '.join(filled), limit=200)}); name the one to "
                  f"read '{spec.name}' or delete the others")


def _join(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def find_sources(data_dir: Path, problems: Problems, elsewhere: dict[str, str] | None = None) -> dict[str, Source | None]:
    """Where each table of the dictionary is read from (None: absent or unreadable, already reported).

    ``elsewhere`` names the tables another source of the folder gives (a REDCap export: table -> its instrument,
    as messages name it): such a table is None here and must not also be a file or a sheet. A dict, even empty,
    says the folder holds such a source, so a missing required table is reported against both."""
    data_dir = Path(data_dir)
    specs = load_dictionary()
    books: dict[Path, Any] = {}
    in_books: dict[str, list[tuple[Path, str]]] = {name: [] for name in specs}
    for path in _root_workbooks(data_dir, specs):
        book, why = _open(path)
        label = _rel(path, data_dir)
        if book is None:
            problems.add(label, None, None, "warning", why)
            continue
        books[path] = book
        for sheet in _worksheets(book):
            tables = [n for n, s in specs.items() if _sheet_key(sheet) in _aliases(s, specs)]
            if tables:
                in_books[tables[0]].append((path, sheet))
            elif _sheet_height(book, sheet) > 0:
                problems.add(_sheet_label(path, data_dir, sheet), None, None, "note",
                             "sheet is not a table of the data dictionary; not read")
    sources: dict[str, Source | None] = {}
    for name, spec in specs.items():
        sources[name] = _source_for(data_dir, spec, specs, books, in_books[name], problems, elsewhere)
    return sources


def _source_for(data_dir: Path, spec: TableSpec, specs: dict[str, TableSpec], books: dict[Path, Any],
                sheets: list[tuple[Path, str]], problems: Problems, elsewhere: dict[str, str] | None) -> Source | None:
    """The one source of a table, or None after reporting why there is none (or more than one)."""
    csv_path = data_dir / spec.file
    named = _named_like(csv_path.parent, spec)
    own_books = [p for p in named if _is_spreadsheet(p)]
    found = (([spec.file] if csv_path.is_file() else []) + [_rel(p, data_dir) for p in own_books]
             + [_sheet_label(p, data_dir, s) for p, s in sheets])
    if elsewhere and spec.name in elsewhere:
        found.append(elsewhere[spec.name])
    if len(found) > 1:
        problems.add(spec.file, None, None, "error", f"this table is in both {_join(found)}; keep only one of them")
        return None
    if elsewhere and spec.name in elsewhere:
        return None
    if csv_path.is_file():
        return Source(csv_path, spec.file)
    if own_books:
        return _own_book_source(own_books[0], data_dir, spec, specs, problems)
    if sheets:
        path, sheet = sheets[0]
        source = Source(path, found[0], sheet, books[path])
        problems.labels[spec.file] = source.label
        return source
    others = [p for p in named if p != csv_path]
    if others:
        csv_like = [p for p in others if p.name.lower() == csv_path.name.lower()]
        hint = (f"found {_rel(csv_like[0], data_dir)}: rename it {csv_path.name}" if csv_like
                else f"found {_join([_rel(p, data_dir) for p in others])}: {EXPORT_HINT}")
        problems.add(spec.file, None, None, "error", ("required file is missing; " if spec.required else "not read; ") + hint)
    elif spec.required:
        hint = "".join(f" ({_rel(p, data_dir)} has no sheet named {spec.name}; its sheets: "
                       f"{shown_value(', '.join(_worksheets(b)), limit=200)})" for p, b in books.items())
        if elsewhere is not None:
            hint += (f", and the REDCap export has no instrument {spec.name} (redcap.yaml can map another one to it)"
                     if elsewhere else ", and no table could be read from the REDCap export (see its errors)")
        problems.add(spec.file, None, None, "error", "required file is missing from the data folder" + hint)
    return None


def _own_book_source(path: Path, data_dir: Path, spec: TableSpec, specs: dict[str, TableSpec],
                     problems: Problems) -> Source | None:
    """A workbook named like the table: open it and pick its sheet, or report why not."""
    label = _rel(path, data_dir)
    problems.labels[spec.file] = label
    book, why = _open(path)
    sheet = None
    if book is not None:
        sheet, why = _pick_sheet(book, spec, specs)
    if sheet is None:
        problems.add(spec.file, None, None, "error", why)
        return None
    source = Source(path, _sheet_label(path, data_dir, sheet), sheet, book)
    problems.labels[spec.file] = source.label
    return source


def _check_header(raw: pd.DataFrame, header: list[str], spec: TableSpec, problems: Problems) -> pd.DataFrame | None:
    """Checks every reader shares: no repeated column, every required column, some rows. Numbers the rows
    as a spreadsheet shows them (header = row 1)."""
    file = spec.file
    for name in header:
        found = FORBIDDEN_CHARACTERS.search(name)
        if found:
            problems.add(file, 1, shown_value(name), "error", f"header cell '{shown_value(name)}' contains the control "
                         f"character {character_name(found.group())}; delete it (it is invisible in most editors)")
    dupes = sorted({c for c in header if header.count(c) > 1})
    for c in dupes:
        problems.add(file, 1, shown_value(c), "error", "column appears more than once in the header")
    if dupes:
        return None
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    for name in missing:
        close = [c for c in raw.columns if c.lower().replace(" ", "_") == name]
        hint = f" (found '{shown_value(close[0])}': rename it)" if close else ""
        problems.add(file, 1, name, "error", f"required column is missing from the header{hint}")
    if missing:
        return None
    if raw.empty:  # a required table must have records; an optional one without any is as good as absent
        problems.add(file, None, None, "error" if spec.required else "warning",
                     "table has no rows, only a header; " + ("it is required: export it again with its records"
                                                             if spec.required else "the analyses that need it are skipped"))
    raw.index = pd.RangeIndex(2, len(raw) + 2)  # spreadsheet rows: header is row 1
    return raw


def _is_padded(text: str) -> bool:
    """Does any cell start or end with a space or tab? (Substring tests: fast on a statewide file.)"""
    return text[:1] in (" ", "\t") or any(
        pad in text for pad in (", ", " ,", " \n", "\n ", ",\t", "\t,", "\t\n", "\n\t", " \r\n", "\t\r\n"))


def _csv_text(path: Path, file: str, problems: Problems) -> str | None:
    """A CSV file's text: a byte-order mark is dropped with a warning; a file that is not UTF-8 is an error."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        problems.add(file, None, None, "warning", "file starts with a UTF-8 byte-order mark (BOM); read anyway")
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.add(file, line, None, "error",
                     f"is not UTF-8 (byte 0x{data[exc.start]:02x} at row {line}); save the file as CSV UTF-8")
        return None


def read_csv(path: Path, spec: TableSpec, problems: Problems) -> pd.DataFrame | None:
    """Read a CSV as text cells, checking encoding, shape and header."""
    file = spec.file
    text = _csv_text(path, file, problems)
    if text is None:
        return None
    if not text.strip():
        problems.add(file, None, None, "error" if spec.required else "warning",
                     "file is empty (no header row)" + ("" if spec.required else "; the analyses that need it are skipped"))
        return None
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                          skipinitialspace=True)
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = map(int, match.groups())
            problems.add(file, line, None, "error", f"row has {saw} fields but the header has {expected} "
                         "(a value holding a comma must be in double quotes)")
        else:
            problems.add(file, None, None, "error", f"is not a well-formed CSV file: {shown_value(exc, limit=200)}")
        return None
    header = [c.strip(WHITESPACE) for c in next(csv.reader(io.StringIO(text)))]  # pandas would rename a repeated name
    raw.columns = (header[: len(raw.columns)] if len(header) >= len(raw.columns)
                   else [str(c).strip(WHITESPACE) for c in raw.columns])
    raw = _check_header(raw, header, spec, problems)
    if raw is not None and _is_padded(text):  # strip cells only when some cell is padded: stripping is slow on big tables
        raw = raw.apply(lambda s: s.str.strip(WHITESPACE))  # spaces, not control characters: those are reported
    return raw


def column_letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV export would hold: dates YYYY-MM-DD, whole numbers without
    ".0", other numbers in their shortest form, booleans 1/0, blanks "", text stripped."""
    if isinstance(value, str):
        return value.strip(WHITESPACE)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < _EXACT_INT else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if value is None:
        return ""
    return str(value).strip(WHITESPACE)


def read_sheet(source: Source, spec: TableSpec, problems: Problems) -> pd.DataFrame | None:
    """Read one sheet as text cells, with the header checks of a CSV (header = row 1, records from row 2).

    Trailing empty rows and columns are ignored; a column with data under an empty header is an error.
    """
    from python_calamine import CalamineError

    file = spec.file
    try:
        cells = source.book.get_sheet_by_name(source.sheet).to_python(skip_empty_area=False)
    except (CalamineError, OSError, ValueError) as exc:
        problems.add(file, None, None, "error", f"sheet cannot be read ({shown_value(exc, limit=200)}); {EXPORT_HINT}")
        return None
    rows = [[cell_text(v) for v in row] for row in cells]
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        problems.add(file, None, None, "error" if spec.required else "warning",
                     "sheet is empty (no header row)" + ("" if spec.required else "; the analyses that need it are skipped"))
        return None
    width = max(max((j + 1 for j, v in enumerate(row) if v), default=0) for row in rows)
    rows = [row[:width] + [""] * (width - len(row)) for row in rows]
    header = rows[0]
    if not any(header):
        problems.add(file, 1, None, "error", "row 1 is empty; the header must be in row 1")
        return None
    keep, broken = [], False
    for j, name in enumerate(header):
        if name:
            keep.append(j)
        elif any(row[j] for row in rows[1:]):
            letter, broken = column_letter(j), True
            problems.add(file, 1, None, "error",
                         f"header cell {letter}1 is empty but column {letter} holds data; name the column or delete it")
    if broken:
        return None
    names = [header[j] for j in keep]
    raw = pd.DataFrame([[row[j] for j in keep] for row in rows[1:]], columns=range(len(keep)), dtype=str)
    raw.columns = names
    return _check_header(raw, names, spec, problems)


def read_source(source: Source, spec: TableSpec, problems: Problems) -> pd.DataFrame | None:
    """A table's text cells from where :func:`find_sources` found it (its CSV, or a workbook's sheet)."""
    return read_csv(source.path, spec, problems) if source.sheet is None else read_sheet(source, spec, problems)
