"""The disclosure gate: no funder output may disclose a patient.

:func:`check_funder_outputs` is the gate the runner calls after the report notebook. It reads what a funder
reads (:mod:`.extract`): the suppressed tables of ``funder/`` against ``funder/suppression.json``; the DOCX,
the PDF, the workbook and the slides, whatever their names (every page's text, cell, shape, speaker note,
alt text, bookmark and document property; their tables tied back to the funder CSV they show,
:mod:`.gate_tables`); the figure zip (the manifest's prose, and each SVG's text and numbers against its
counts record); and the index and performance-story pages. It fails the run when any of them carries a
patient identifier, a date of birth, an unsuppressed small count or a count that can be worked out
(:func:`figure_count_problems`), a formula, or a quote the identifier screen holds back
(:func:`quote_problems`), naming the file, where in it (row, paragraph, line, page, "sheet 'X', cell B7",
"slide N, shape 'name'", SVG element) and the column. Analysts' tables (``tables/``) may hold no identifier
column either, except the teams' internal patient list (``priority.csv``), which no funder file may carry or
be named after.

The rules themselves live where the outputs are made: :mod:`evaluation.core.disclosure` (small counts, in
tables and prose), :mod:`evaluation.stats.cell_suppression` (tables) and
:mod:`evaluation.stats.figure_protection` (figures); :mod:`.gate_rules` applies them to one table or one text.
Notebook pages (``NN_*.html``) are analysts' pages, not sent to funders: the gate does not read them.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Mapping

import pandas as pd

from evaluation.core.disclosure import COUNT_GID, NUMBERS_TABLE_TITLE, shown_number, small_counts_in_text
from evaluation.core.errors import EvaluationError
from evaluation.core.identifiers import screen_quote
from evaluation.core.params import Params
from evaluation.stats.cell_suppression import SPEC_FILE
from evaluation.stats.figure_protection import Relation, pinned_cells

from .extract import (SheetText, cell_name, docx_text, office_parts_text, page_text, pdf_text, read_text_table,
                      slides_text, svg_texts, workbook_text)
from .gate_rules import (QUOTE_COLUMNS, check_frame, identifier_names, ids_in_text, patient_ids, problem, quoted_spans,
                         text_problems)
from .gate_tables import grid_problems

__all__ = ["DisclosureError", "PAGES", "check_funder_outputs", "figure_count_problems", "identifier_names",
           "quote_problems"]


INTERNAL_TABLES = ("priority",)  # analyst tables with patient_id on purpose: the teams' lists, never for funders


def _internal_name(name: str) -> bool:
    """Whether a file name is one of the internal list's (``priority.csv``, ``priority_bands.png``...)."""
    stem = Path(name).stem.lower()
    return any(stem == t or stem.startswith(f"{t}_") for t in INTERNAL_TABLES)


def _zip_internal_problems(funder: Path, output_dir: Path) -> list[dict]:
    """A zip of the funder pack holding an internal list's file (a figure or the table)."""
    out = []
    for path in sorted(funder.glob("*.zip")) if funder.exists() else []:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if _internal_name(name):
                    out.append(problem(str(path.relative_to(output_dir)), name, "",
                                       "the teams' internal patient list (priority) in the funder pack"))
    return out


class DisclosureError(EvaluationError):
    """A funder output carries a patient identifier, a date of birth or an unsuppressed small count.

    ``problems`` is a table (file, row, column, problem); the message lists the first of them.
    """

    def __init__(self, problems: pd.DataFrame, output_dir: str = "", max_lines: int = 20):
        self.problems = problems
        self.output_dir = output_dir
        lines = []
        for p in problems.head(max_lines).itertuples(index=False):
            row = [f"row {p.row}" if isinstance(p.row, int) else str(p.row)] if p.row != "" else []  # "page 2", "slide 3, ..."
            where = [p.file] + row + ([f"column '{p.column}'"] if p.column else [])
            lines.append(", ".join(where) + f": {p.problem}")
        if len(problems) > max_lines:
            lines.append(f"... and {len(problems) - max_lines} more")
        super().__init__(f"{len(problems)} disclosure problem(s) in the funder outputs of {output_dir}; "
                         "nothing may leave the team until they are fixed:\n  " + "\n  ".join(lines))


PROBLEM_COLUMNS = ["file", "row", "column", "problem"]


def _prose_problems(df: pd.DataFrame, file: str, threshold: int, columns: Iterable[str]) -> list[dict]:
    """Small counts stated in the prose columns of a table (figure captions and alt text)."""
    problems = []
    for col in [c for c in columns if c in df.columns]:
        for i, text in df[col].items():
            for phrase in small_counts_in_text(text, threshold):
                problems.append(problem(file, int(i) + 2, col, f"unsuppressed small count in the text: '{phrase}'"))
    return problems


# --- quotes: the identifier screen ---------------------------------------------------------------------

ScreenQuote = Callable[..., list]  # like screen_quote(text, deny_terms=()) -> findings


def _approved_quotes(params: Params | None, output_dir: Path) -> list[str]:
    """The texts of the quotes the evaluator cleared for funders (``qualitative.approved_quotes``), from the
    analysts' theme table: it holds each exemplar's excerpt_id and text whatever the input (CSV, workbook,
    REFI-QDA project)."""
    approved = set((params.qualitative or {}).get("approved_quotes") or []) if params is not None else set()
    if not approved:
        return []
    themes = read_text_table(output_dir / "tables" / "themes.csv") if (output_dir / "tables" / "themes.csv").is_file() else None
    if themes is None or not {"exemplar_id", "exemplar"} <= set(themes.columns):
        return []
    chosen = themes[themes["exemplar_id"].isin(approved)]
    return [" ".join(t.split()) for t in dict.fromkeys(chosen["exemplar"]) if t]


def quote_problems(quotes: Iterable[tuple[str, object, str, str]], screen: ScreenQuote, *, deny_terms: Iterable[str] = (),
                   approved: Iterable[str] = ()) -> list[dict]:
    """Identifiers the quote screen finds in quotes a funder reads: (file, row, column, quote) in, problems out.

    ``screen`` is :func:`~evaluation.core.identifiers.screen_quote` (any callable ``screen(text, deny_terms=...)``
    returning a list of findings). A quote that is part of an excerpt the evaluator approved is let through
    (a quote cut short ends in "...").
    """
    deny_terms, approved = tuple(deny_terms), list(approved)
    problems = []
    for file, row, column, quote in quotes:
        text = " ".join(str(quote).split())
        if not text or any(text.removesuffix("...").strip() in a for a in approved):
            continue
        for finding in screen(text, deny_terms=deny_terms):
            problems.append(problem(file, row, column, f"quote held back by the identifier screen: {finding} "
                                                        f"(\u201c{text[:60]}{'...' if len(text) > 60 else ''}\u201d)"))
    return problems


# --- prose and numbers in what a funder reads: DOCX, HTML pages, SVG figures --------------------------

def _docx_problems(path: Path, file: str, threshold: int, ids: set[str], specs: dict,
                   csvs: Mapping[str, pd.DataFrame], quotes: list | None = None) -> list[dict]:
    """The DOCX's paragraphs, tables (each tied to its funder CSV, :func:`.gate_tables.grid_problems`, and each
    cell's prose), image alt text and headers and footers."""
    problems = []
    text = docx_text(path)
    for k, paragraph in enumerate(text.paragraphs, start=1):
        problems += [problem(file, f"paragraph {k}", "", f"unsuppressed small count in the text: '{phrase}' ({paragraph[:60]}...)")
                     for phrase in small_counts_in_text(paragraph, threshold)]
        problems += [problem(file, f"paragraph {k}", "", f"patient identifier '{token}' in the text")
                     for token in ids_in_text(paragraph, ids)]
        if quotes is not None:
            quotes += [(file, f"paragraph {k}", "", q) for q in quoted_spans(paragraph)]
    for k, rows in enumerate(text.tables, start=1):
        if rows:
            found, said = grid_problems(rows[0], rows[1:], f"{file} (table {k})", threshold, ids, specs, csvs,
                                        lambda i, j, rows=rows: (i + 2 if i != "" else "", str(rows[0][j])))
            problems += found
            quotes += said if quotes is not None else []
    for k, alt in enumerate(text.alt_texts, start=1):
        problems += text_problems(alt, file, f"image {k}", "alt text", threshold, ids)
    for where, margin in text.margins:
        problems += text_problems(margin, file, where, "", threshold, ids)
    return problems


def _html_problems(page: str, file: str, threshold: int, ids: set[str], quotes: list | None = None) -> list[dict]:
    """Small counts and patient identifiers in the text of a page (tags stripped, alt text included)."""
    problems = []
    for line, element, text, header in page_text(page):
        problems += text_problems(text, file, f"line {line}", f"<{element}>", threshold, ids)
        if quotes is not None:
            quotes += [(file, f"line {line}", f"<{element}>", q) for q in quoted_spans(text)]
            if header in QUOTE_COLUMNS:
                quotes.append((file, f"line {line}", header, text))
    return problems


def _relations_of(cell: str, relations: list[Relation]) -> str:
    return "; ".join(r.why for r in relations if cell in r.terms and r.why) or "the figure's totals"


def figure_count_problems(svg: str, counts: Mapping | None, file: str, threshold: int) -> list[dict]:
    """Problems in the numbers an SVG figure draws, checked against its counts record.

    The record (``figures/<id>.counts.json``) lists each count's cell, what it shows and the SVG id of the
    text drawing it, and the relations a reader knows (:class:`Relation`). The SVG must show what the record
    says (the SVG wins: it is what a reader reads); no shown count may be small; and no hidden count may be
    pinned to one value (:func:`pinned_cells`). A figure drawing a numbers table without a record fails:
    its hidden counts cannot be checked.
    """
    texts = svg_texts(svg)
    by_id = dict(texts)
    if counts is None:
        if any(NUMBERS_TABLE_TITLE in t for _, t in texts) or any(i.startswith(COUNT_GID) for i in by_id):
            return [problem(file, "", "", "a numbers table without its counts record (<figure>.counts.json): "
                                           "whether a hidden count can be worked out cannot be checked")]
        return []
    problems = []
    relations = [Relation.from_json(r) for r in counts.get("relations", [])]
    shown, labels, drawn = {}, {}, set()
    for cell in counts.get("cells", []):
        cid, gid, recorded = str(cell["id"]), cell.get("gid"), str(cell.get("shown", ""))
        labels[cid] = str(cell.get("label") or cid)
        shown[cid] = recorded
        if gid:
            drawn.add(gid)
            if gid not in by_id:
                problems.append(problem(file, f"element {gid}", "", f"'{labels[cid]}' is in the counts record but not in the SVG"))
                continue
            if by_id[gid] != recorded:
                problems.append(problem(file, f"element {gid}", "", f"'{labels[cid]}' shows '{by_id[gid]}' where the "
                                                                     f"counts record says '{recorded}'"))
            shown[cid] = by_id[gid]
    for mention in counts.get("mentions", []):
        gid = mention.get("gid")
        drawn.add(gid)
        if gid in by_id and str(mention.get("contains", "")) not in by_id[gid]:
            problems.append(problem(file, f"element {gid}", "", f"'{by_id[gid]}' does not show "
                                                                 f"'{mention.get('contains')}' as the counts record says"))
    for gid in by_id:
        if gid.startswith(COUNT_GID) and gid not in drawn:
            problems.append(problem(file, f"element {gid}", "", f"a count ('{by_id[gid]}') that is not in the counts record"))
    for cid, text in shown.items():
        number = shown_number(text)
        if number is not None and 1 <= number < threshold:
            problems.append(problem(file, "", labels[cid], f"unsuppressed small count {text} in the figure"))
    for cid, value in pinned_cells(shown, relations, threshold):
        problems.append(problem(file, "", labels[cid], f"the hidden count '{labels[cid]}' ({shown[cid] or 'left out'}) "
                                                        f"can be worked out: it must be {value}, from: "
                                                        f"{_relations_of(cid, relations)}"))
    return problems


def _svg_problems(svg: str, counts: Mapping | None, file: str, threshold: int, ids: set[str]) -> list[dict]:
    """An SVG figure as a reader's tools extract it: each text's prose, and its numbers against the record."""
    problems = []
    texts = svg_texts(svg)
    for element, text in texts:
        problems += text_problems(text, file, f"element {element}", "", threshold, ids, "the figure's text")
    in_texts = {t for _, text in texts for t in ids_in_text(text, ids)}
    problems += [problem(file, "", "", f"patient identifier '{token}'") for token in ids_in_text(svg, ids)
                 if token not in in_texts]  # anywhere else in the file (metadata, ids)
    return problems + figure_count_problems(svg, counts, file, threshold)


def _zip_problems(path: Path, file: str, threshold: int, ids: set[str], specs: dict) -> list[dict]:
    """The figure zip: file names, CSVs (the manifest's prose too), every SVG's text and numbers (with its
    counts record from the zip), and any other text file. A figure's PDF is drawn from the same figure object
    as its SVG (same texts, same numbers): the SVG, whose texts carry the ids its counts record names, stands
    for both."""
    problems = []
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for info in zf.infolist():
            name = f"{file}:{info.filename}"
            for token in ids_in_text(info.filename, ids):
                problems.append(problem(name, "", "", f"patient identifier '{token}' in a file name"))
            if info.filename.endswith(".csv"):
                df = read_text_table(io.BytesIO(zf.read(info)))
                problems += check_frame(df, name, threshold, ids, specs.get(Path(info.filename).stem))
                problems += _prose_problems(df, name, threshold, ("title", "caption", "alt_text"))
            elif info.filename.endswith(".svg"):
                record = info.filename[:-len(".svg")] + ".counts.json"
                counts = json.loads(zf.read(record)) if record in names else None
                problems += _svg_problems(zf.read(info).decode("utf-8", "replace"), counts, name, threshold, ids)
            elif info.filename.endswith((".txt", ".md", ".json", ".html")):
                for token in ids_in_text(zf.read(info).decode("utf-8", "replace"), ids):
                    problems.append(problem(name, "", "", f"patient identifier '{token}'"))
    return problems


# --- the PDF, the workbook and the slides ---------------------------------------------------------------

def _pdf_problems(path: Path, file: str, threshold: int, ids: set[str], quotes: list) -> list[dict]:
    """Every page's text ("page N"), the document properties and XMP metadata, the bookmarks, and the alt text
    of tagged figures and of annotations. A table's cells are read with the page's text, not by column: the
    same story tables are checked cell by cell, against their CSV, in the DOCX and the workbook."""
    text = pdf_text(path)
    problems = []
    for k, page in enumerate(text.pages, start=1):
        problems += text_problems(page, file, f"page {k}", "", threshold, ids)
        quotes += [(file, f"page {k}", "", q) for q in quoted_spans(page)]
    for name, value in text.info:
        problems += text_problems(value, file, "document properties", name, threshold, ids, "the document properties")
    for title in text.outline:
        problems += text_problems(title, file, "bookmarks", "", threshold, ids, "a bookmark")
    for page, what, value in text.alt_texts:
        problems += text_problems(value, file, f"page {page}" if page else "", what, threshold, ids, "the alt text")
    return problems


def _table_sheet(sheet: SheetText, specs: Mapping[str, dict]) -> str | None:
    """The funder table a sheet shows, when the workbook says: a defined name or the sheet's name that is the
    table's name, the table's title in row 1 (the longest title found), or the one table whose CSV a cell names."""
    for name in [*sheet.names, sheet.title]:
        if name in specs:
            return name
    first = " ".join(str(v) for r, _, v, _ in sheet.cells if r == 1).casefold()
    titled = [n for n, s in specs.items() if s.get("title") and str(s["title"]).casefold() in first]
    if titled:
        return max(titled, key=lambda n: len(str(specs[n]["title"])))
    named = {n for _, _, v, _ in sheet.cells if isinstance(v, str) for n in specs
             if v.strip() == n or re.search(rf"(?<![\w.]){re.escape(n)}\.csv(?!\w)", v)}
    return named.pop() if len(named) == 1 else None


def _sheet_problems(sheet: SheetText, file: str, threshold: int, ids: set[str], specs: Mapping[str, dict],
                    csvs: Mapping[str, pd.DataFrame], quotes: list) -> list[dict]:
    """One sheet: formulas, every text cell as prose, the sheet's name, comments, headers and footers, and its
    table (the header row above the frozen panes, else the first row of more than one cell; the data down to
    the first empty row) against the funder CSV it shows. Problems are placed as "sheet 'X', cell B7"."""
    at = f"sheet '{sheet.title}'"
    grid: dict[int, dict[int, object]] = {}
    for r, c, value, _ in sheet.cells:
        grid.setdefault(r, {})[c] = value
    problems = text_problems(sheet.title, file, at, "sheet name", threshold, ids, "the sheet's name")
    problems += [p for where, text in sheet.notes for p in text_problems(text, file, f"{at}, {where}", "", threshold, ids)]
    filled = sorted(grid)
    header = sheet.first_data_row - 1 if sheet.first_data_row > 1 else next(
        (r for r in filled if len(grid[r]) > 1), filled[1] if len(filled) > 1 else 0)
    data = []
    while header and header + 1 + len(data) in grid:
        data.append(header + 1 + len(data))
    table_cells = set()
    if header in grid and data:
        width = max(c for r in [header, *data] for c in grid[r])
        labels = [str(grid[header].get(c, "")) for c in range(1, width + 1)]
        rows = [[grid[r].get(c, "") for c in range(1, width + 1)] for r in data]
        table_cells = {(r, c) for r in data for c in range(1, width + 1)}

        def place(i, j):
            if i == "":
                return f"{at}, column {cell_name(header, j + 1).removesuffix(str(header))}", labels[j]
            return f"{at}, cell {cell_name(data[i], j + 1)}", labels[j]
        found, said = grid_problems(labels, rows, file, threshold, ids, specs, csvs, place, name=_table_sheet(sheet, specs))
        problems += found
        quotes += said
    for r, c, value, kind in sheet.cells:
        where = f"{at}, cell {cell_name(r, c)}"
        if kind == "f":
            problems.append(problem(file, where, "", f"a formula ({str(value)[:40]}): a funder's spreadsheet would run "
                                                     "it; a cell a funder is sent holds text or a number"))
        elif isinstance(value, str):
            problems += text_problems(value, file, where, "", threshold, set() if (r, c) in table_cells else ids)
            quotes += [(file, where, "", q) for q in quoted_spans(value)]
    return problems


def _xlsx_problems(path: Path, file: str, threshold: int, ids: set[str], specs: Mapping[str, dict],
                   csvs: Mapping[str, pd.DataFrame], quotes: list) -> list[dict]:
    """Every cell of every sheet (:func:`_sheet_problems`)."""
    return [p for sheet in workbook_text(path) for p in _sheet_problems(sheet, file, threshold, ids, specs, csvs, quotes)]


def _pptx_problems(path: Path, file: str, threshold: int, ids: set[str], specs: Mapping[str, dict],
                   csvs: Mapping[str, pd.DataFrame], quotes: list) -> list[dict]:
    """Every shape's text, alt text and title on every slide, tables cell by cell (tied to their funder CSV),
    chart titles and labels, and the speaker notes; placed as "slide N, shape 'name'" or "slide N, notes"."""
    text = slides_text(path)
    problems = []
    for slide, shape, what, value in text.items:
        where = f"slide {slide}, notes" if what == "notes" else f"slide {slide}, shape '{shape}'"
        said = {"notes": "the speaker notes", "alt text": "the alt text", "title": "the shape's title"}.get(what, "the text")
        problems += text_problems(value, file, where, "" if what in ("text", "notes") else what, threshold, ids, said)
        quotes += [(file, where, "", q) for q in quoted_spans(value)]
    for slide, shape, rows in text.tables:
        if rows:
            found, said = grid_problems(rows[0], rows[1:], file, threshold, ids, specs, csvs,
                                        lambda i, j, s=slide, n=shape, h=rows[0]: (
                                            f"slide {s}, shape '{n}'" + (f", row {i + 2}" if i != "" else ""), str(h[j])))
            problems += found
            quotes += said
    return problems


_IDENTIFIER = re.compile(r"patient identifier '([^']+)'")
PROPERTIES = ("docProps/core.xml", "docProps/custom.xml")  # the title, subject, keywords, comments a viewer shows


def _office_problems(path: Path, file: str, threshold: int, ids: set[str], found: Iterable[dict]) -> list[dict]:
    """An Office file's document properties, read as prose, and any patient id in any of its XML parts that the
    readers of its pages, sheets or slides did not show (``found``: their problems)."""
    seen = {m.group(1) for p in found if (m := _IDENTIFIER.search(p["problem"]))}
    problems = []
    for part, texts in office_parts_text(path):
        if part in PROPERTIES:
            problems += [p for t in texts for p in text_problems(t, file, part, "", threshold, ids, "the document properties")]
        else:
            problems += [problem(file, part, "", f"patient identifier '{token}'")
                         for token in sorted({t for x in texts for t in ids_in_text(x, ids)} - seen)]
    return problems


OFFICE = {".docx": _docx_problems, ".xlsx": _xlsx_problems, ".pptx": _pptx_problems}  # each also gets _office_problems
PAGES = ("index.html", "performance_story.html")  # pages at the top of a report a funder may be sent (contents.STORY_FILE)


def check_funder_outputs(output_dir: str | Path, params: Params | None = None, *, raise_on_problem: bool = True,
                         screen: ScreenQuote | None = None) -> pd.DataFrame:
    """Fail when a funder output carries a patient identifier, a date of birth or an unsuppressed small count.

    Reads what a funder reads: every file of ``<output_dir>/funder/`` (CSV tables against ``suppression.json``
    and their quotes; the DOCX's paragraphs, tables, alt text, headers and footers; the PDF's pages, properties,
    bookmarks and alt text; every cell of every sheet of a workbook, formulas included; every shape, table,
    alt text and speaker note of the slides; the document properties and every XML part of the Office files
    for identifiers; the figure zip's manifest
    and each SVG's text and numbers against its counts record, see :func:`figure_count_problems`), and
    ``index.html`` and ``performance_story.html`` at the top of the output folder (text with the tags
    stripped, alt text included); and the column names of every analyst table in ``tables/``. Quotes (the
    ``exemplar`` column, quoted speech in the DOCX and the pages) go through the identifier screen
    (``screen``; by default :func:`~evaluation.core.identifiers.screen_quote` with ``qualitative.deny_terms``),
    except those the evaluator approved. Returns the problems table (empty when all is well); raises
    :class:`DisclosureError` naming file, row (paragraph, line, page, sheet and cell, slide and shape, or SVG
    element) and column otherwise.
    """
    output_dir = Path(output_dir)
    threshold = params.suppress_below if params is not None else 11
    ids = patient_ids(params, output_dir)
    screen = screen or screen_quote
    quotes: list = []
    problems: list[dict] = []
    funder = output_dir / "funder"
    specs: dict = {}
    if (funder / SPEC_FILE).exists():
        specs = json.loads((funder / SPEC_FILE).read_text(encoding="utf-8")).get("tables", {})
    csvs = {name: read_text_table(funder / f"{name}.csv") for name in specs if (funder / f"{name}.csv").is_file()}
    for path in sorted(funder.rglob("*")) if funder.exists() else []:
        if not path.is_file():
            continue
        file = str(path.relative_to(output_dir))
        suffix = path.suffix.lower()
        if suffix == ".csv":
            df = read_text_table(path)
            problems += check_frame(df, file, threshold, ids, specs.get(path.stem))
            quotes += [(file, int(i) + 2, c, q) for c in df.columns if c in QUOTE_COLUMNS for i, q in df[c].items()]
        elif suffix in OFFICE:
            found = OFFICE[suffix](path, file, threshold, ids, specs, csvs, quotes)
            problems += found + _office_problems(path, file, threshold, ids, found)
        elif suffix == ".pdf":
            problems += _pdf_problems(path, file, threshold, ids, quotes)
        elif suffix == ".zip":
            problems += _zip_problems(path, file, threshold, ids, specs)
        elif suffix == ".html":
            problems += _html_problems(path.read_text(encoding="utf-8", errors="replace"), file, threshold, ids, quotes)
        elif suffix in (".json", ".txt", ".md", ".svg"):
            for token in ids_in_text(path.read_text(encoding="utf-8", errors="replace"), ids):
                problems.append(problem(file, "", "", f"patient identifier '{token}'"))
    for name in PAGES:
        if (output_dir / name).is_file():
            problems += _html_problems((output_dir / name).read_text(encoding="utf-8", errors="replace"), name,
                                       threshold, ids, quotes)
    if quotes:
        deny = (params.qualitative or {}).get("deny_terms") or () if params is not None else ()
        problems += quote_problems(quotes, screen, deny_terms=deny, approved=_approved_quotes(params, output_dir))
    for path in sorted(funder.rglob("*")) if funder.exists() else []:
        if _internal_name(path.name):
            problems.append(problem(str(path.relative_to(output_dir)), "", "",
                                     "the teams' internal patient list (priority) in the funder pack"))
    problems += _zip_internal_problems(funder, output_dir)
    ident = identifier_names() | ids.fields  # with a REDCap export's identifier fields
    for path in sorted((output_dir / "tables").glob("*.csv")):
        if path.stem in INTERNAL_TABLES:  # the teams' patient list carries the pseudonymous ids they work from
            continue
        try:
            header = pd.read_csv(path, nrows=0).columns
        except pd.errors.EmptyDataError:  # no header at all: nothing it could identify
            continue
        for col in header:
            if col in ident:
                problems.append(problem(str(path.relative_to(output_dir)), "", col,
                                         "patient identifier column in an analyst table (tables/ must hold none)"))
    table = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    if raise_on_problem and len(table):
        raise DisclosureError(table, str(output_dir))
    return table
