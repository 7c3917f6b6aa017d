"""The disclosure gate: no funder output may disclose a patient.

:func:`check_funder_outputs` is the gate the runner calls after the report notebook. It reads what a funder
reads (:mod:`.extract`): the suppressed tables of ``funder/`` against ``funder/suppression.json``, the DOCX,
the figure zip (the manifest's prose, and each SVG's text and numbers against its counts record), and the
index and performance-story pages; it fails the run when any of them carries a patient identifier, a date of
birth, an unsuppressed small count or a count that can be worked out (:func:`figure_count_problems`), or a
quote the identifier screen holds back (:func:`quote_problems`), naming the file, row (paragraph, line, SVG
element) and column. Analysts' tables (``tables/``) may hold no identifier column either.

The rules themselves live where the outputs are made: :mod:`evaluation.core.disclosure` (small counts, in
tables and prose), :mod:`evaluation.stats.cell_suppression` (tables) and
:mod:`evaluation.stats.figure_protection` (figures).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from evaluation.core.dictionary import identifier_columns
from evaluation.core.disclosure import (BIRTH_NAME, COMPLEMENT_MARK, COUNT_GID, NUMBERS_TABLE_TITLE, QUOTED, is_small,
                                        looks_like_patient_count, shown_number, small_counts_in_text, small_mark)
from evaluation.core.errors import EvaluationError
from evaluation.core.identifiers import screen_quote
from evaluation.core.params import Params
from evaluation.stats.cell_suppression import SPEC_FILE
from evaluation.stats.figure_protection import Relation, pinned_cells

from .extract import docx_text, page_text, read_text_table, svg_texts


class DisclosureError(EvaluationError):
    """A funder output carries a patient identifier, a date of birth or an unsuppressed small count.

    ``problems`` is a table (file, row, column, problem); the message lists the first of them.
    """

    def __init__(self, problems: pd.DataFrame, output_dir: str = "", max_lines: int = 20):
        self.problems = problems
        self.output_dir = output_dir
        lines = []
        for p in problems.head(max_lines).itertuples(index=False):
            where = [p.file] + ([f"row {p.row}"] if p.row != "" else []) + ([f"column '{p.column}'"] if p.column else [])
            lines.append(", ".join(where) + f": {p.problem}")
        if len(problems) > max_lines:
            lines.append(f"... and {len(problems) - max_lines} more")
        super().__init__(f"{len(problems)} disclosure problem(s) in the funder outputs of {output_dir}; "
                         "nothing may leave the team until they are fixed:\n  " + "\n  ".join(lines))


PROBLEM_COLUMNS = ["file", "row", "column", "problem"]


def _patient_ids(params: Params | None) -> set[str]:
    """The cohort's patient ids (read straight from patients.csv; empty when it cannot be read)."""
    if params is None:
        return set()
    path = Path(params.data_dir) / "patients.csv"
    try:
        ids = pd.read_csv(path, dtype=str, usecols=["patient_id"], keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError):
        return set()
    return {s.strip() for s in ids["patient_id"] if s and s.strip()}


def identifier_names() -> set[str]:
    """Column names that identify a patient: the data dictionary's identifier columns and ``patient_id``."""
    return identifier_columns() | {"patient_id"}


_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_\-]*[A-Za-z0-9])?")


def _ids_in_text(text: str, ids: set[str]) -> list[str]:
    """Patient ids appearing as whole tokens in free text. All-digit ids are not looked for in text (they
    would match counts and dollars); they are caught in identifier-like columns instead."""
    if not ids or not text:
        return []
    return sorted(t for t in set(_TOKEN.findall(text)) if t in ids and not t.isdigit())


def _check_frame(df: pd.DataFrame, file: str, threshold: int, ids: set[str], spec: dict | None,
                 row_offset: int = 2) -> list[dict]:
    """Problems in one funder table (rows numbered as a spreadsheet shows them: header = row 1)."""
    problems = []
    spec = spec or {}
    ident = identifier_names()
    for col in df.columns:
        name = str(col)
        if name in ident:
            problems.append({"file": file, "row": "", "column": name, "problem": "patient identifier column"})
        elif BIRTH_NAME.search(name):
            problems.append({"file": file, "row": "", "column": name, "problem": "date-of-birth column"})
    text = df.astype(str)
    idcol = {c for c in df.columns if "id" in str(c).lower() or "patient" in str(c).lower()}
    for col in df.columns:
        for i, cell in text[col].items():
            cell = cell.strip()
            hit = cell in ids and (not cell.isdigit() or col in idcol)
            tokens = [] if hit else _ids_in_text(cell, ids)
            if hit or tokens:
                problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                                 "problem": f"patient identifier '{cell if hit else tokens[0]}'"})
    exempt = set(spec.get("exempt", []))
    counts = [c for c in df.columns if c not in exempt and (c in set(spec.get("counts", [])) or looks_like_patient_count(c))]
    marks = {small_mark(threshold), COMPLEMENT_MARK}
    for col in counts:
        small = is_small(df[col].to_numpy(), threshold)
        for i in np.flatnonzero(small):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"unsuppressed small count {df[col].iloc[i]} (counts of 1 to {threshold - 1} must show as {small_mark(threshold)})"})
    hidden = text.apply(lambda s: s.str.strip().isin(marks))
    for col, sources in spec.get("derived", {}).items():
        src = [s for s in sources if s in df.columns]
        if col not in df.columns or not src:
            continue
        leak = hidden[src].any(axis=1) & ~hidden[col] & ~text[col].str.strip().isin(["", "nan", "<NA>", "None"])
        for i in np.flatnonzero(leak.to_numpy()):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"shows a value computed from a suppressed count ({', '.join(src)})"})
    for col, denominator in spec.get("percentages", {}).items():
        if col not in df.columns or denominator not in df.columns:
            continue
        implied = (pd.to_numeric(df[col], errors="coerce") / 100 * pd.to_numeric(df[denominator], errors="coerce")).round()
        for i in np.flatnonzero(is_small(implied, threshold)):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"percentage implies a small count of {int(implied.iloc[i])} {denominator}"})
    return problems


def _problem(file: str, row, column: str, problem: str) -> dict:
    return {"file": file, "row": row, "column": column, "problem": problem}


def _text_problems(text: str, file: str, row, column: str, threshold: int, ids: set[str], what: str = "the text") -> list[dict]:
    """Small counts and patient identifiers in one piece of prose a funder reads."""
    problems = [_problem(file, row, column, f"unsuppressed small count in {what}: '{phrase}'")
                for phrase in small_counts_in_text(text, threshold)]
    problems += [_problem(file, row, column, f"patient identifier '{token}' in {what}") for token in _ids_in_text(text, ids)]
    return problems


def _prose_problems(df: pd.DataFrame, file: str, threshold: int, columns: Iterable[str]) -> list[dict]:
    """Small counts stated in the prose columns of a table (figure captions and alt text)."""
    problems = []
    for col in [c for c in columns if c in df.columns]:
        for i, text in df[col].items():
            for phrase in small_counts_in_text(text, threshold):
                problems.append(_problem(file, int(i) + 2, col, f"unsuppressed small count in the text: '{phrase}'"))
    return problems


# --- quotes: the identifier screen ---------------------------------------------------------------------

QUOTE_COLUMNS = ("exemplar", "quote")  # columns of funder tables that hold what a participant said
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
            problems.append(_problem(file, row, column, f"quote held back by the identifier screen: {finding} "
                                                        f"(\u201c{text[:60]}{'...' if len(text) > 60 else ''}\u201d)"))
    return problems


def _quoted_spans(text: str) -> list[str]:
    return [m.group(0)[1:-1] for m in QUOTED.finditer(str(text))]


# --- prose and numbers in what a funder reads: DOCX, HTML pages, SVG figures --------------------------

def _docx_problems(path: Path, file: str, threshold: int, ids: set[str], specs: dict,
                   quotes: list | None = None) -> list[dict]:
    """The DOCX's paragraphs, tables (cells against the table's spec, and each cell's prose), image alt text
    and headers and footers."""
    problems = []
    text = docx_text(path)
    for k, paragraph in enumerate(text.paragraphs, start=1):
        problems += [_problem(file, f"paragraph {k}", "", f"unsuppressed small count in the text: '{phrase}' ({paragraph[:60]}...)")
                     for phrase in small_counts_in_text(paragraph, threshold)]
        problems += [_problem(file, f"paragraph {k}", "", f"patient identifier '{token}' in the text")
                     for token in _ids_in_text(paragraph, ids)]
        if quotes is not None:
            quotes += [(file, f"paragraph {k}", "", q) for q in _quoted_spans(paragraph)]
    by_header = {tuple(s.get("columns", [])): s for s in specs.values()}
    for k, rows in enumerate(text.tables, start=1):
        if not rows:
            continue
        name = f"{file} (table {k})"
        frame = pd.DataFrame(rows[1:], columns=rows[0])
        problems += _check_frame(frame, name, threshold, ids, by_header.get(tuple(rows[0])))
        for r, cells in enumerate(rows[1:], start=2):
            for header, cell in zip(rows[0], cells):
                problems += _text_problems(cell, name, r, header, threshold, set())
                if quotes is not None and str(header) in QUOTE_COLUMNS:
                    quotes.append((name, r, header, cell))
    for k, alt in enumerate(text.alt_texts, start=1):
        problems += _text_problems(alt, file, f"image {k}", "alt text", threshold, ids)
    for where, margin in text.margins:
        problems += _text_problems(margin, file, where, "", threshold, ids)
    return problems


def _html_problems(page: str, file: str, threshold: int, ids: set[str], quotes: list | None = None) -> list[dict]:
    """Small counts and patient identifiers in the text of a page (tags stripped, alt text included)."""
    problems = []
    for line, element, text, header in page_text(page):
        problems += _text_problems(text, file, f"line {line}", f"<{element}>", threshold, ids)
        if quotes is not None:
            quotes += [(file, f"line {line}", f"<{element}>", q) for q in _quoted_spans(text)]
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
            return [_problem(file, "", "", "a numbers table without its counts record (<figure>.counts.json): "
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
                problems.append(_problem(file, f"element {gid}", "", f"'{labels[cid]}' is in the counts record but not in the SVG"))
                continue
            if by_id[gid] != recorded:
                problems.append(_problem(file, f"element {gid}", "", f"'{labels[cid]}' shows '{by_id[gid]}' where the "
                                                                     f"counts record says '{recorded}'"))
            shown[cid] = by_id[gid]
    for mention in counts.get("mentions", []):
        gid = mention.get("gid")
        drawn.add(gid)
        if gid in by_id and str(mention.get("contains", "")) not in by_id[gid]:
            problems.append(_problem(file, f"element {gid}", "", f"'{by_id[gid]}' does not show "
                                                                 f"'{mention.get('contains')}' as the counts record says"))
    for gid in by_id:
        if gid.startswith(COUNT_GID) and gid not in drawn:
            problems.append(_problem(file, f"element {gid}", "", f"a count ('{by_id[gid]}') that is not in the counts record"))
    for cid, text in shown.items():
        number = shown_number(text)
        if number is not None and 1 <= number < threshold:
            problems.append(_problem(file, "", labels[cid], f"unsuppressed small count {text} in the figure"))
    for cid, value in pinned_cells(shown, relations, threshold):
        problems.append(_problem(file, "", labels[cid], f"the hidden count '{labels[cid]}' ({shown[cid] or 'left out'}) "
                                                        f"can be worked out: it must be {value}, from: "
                                                        f"{_relations_of(cid, relations)}"))
    return problems


def _svg_problems(svg: str, counts: Mapping | None, file: str, threshold: int, ids: set[str]) -> list[dict]:
    """An SVG figure as a reader's tools extract it: each text's prose, and its numbers against the record."""
    problems = []
    texts = svg_texts(svg)
    for element, text in texts:
        problems += _text_problems(text, file, f"element {element}", "", threshold, ids, "the figure's text")
    in_texts = {t for _, text in texts for t in _ids_in_text(text, ids)}
    problems += [_problem(file, "", "", f"patient identifier '{token}'") for token in _ids_in_text(svg, ids)
                 if token not in in_texts]  # anywhere else in the file (metadata, ids)
    return problems + figure_count_problems(svg, counts, file, threshold)


def _zip_problems(path: Path, file: str, threshold: int, ids: set[str], specs: dict) -> list[dict]:
    """The figure zip: file names, CSVs (the manifest's prose too), every SVG's text and numbers (with its
    counts record from the zip), and any other text file. PDFs are drawn from the same figure objects as the
    SVGs (same texts, same numbers); no PDF text extractor is installed, so the SVG stands for both."""
    problems = []
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for info in zf.infolist():
            name = f"{file}:{info.filename}"
            for token in _ids_in_text(info.filename, ids):
                problems.append(_problem(name, "", "", f"patient identifier '{token}' in a file name"))
            if info.filename.endswith(".csv"):
                df = read_text_table(io.BytesIO(zf.read(info)))
                problems += _check_frame(df, name, threshold, ids, specs.get(Path(info.filename).stem))
                problems += _prose_problems(df, name, threshold, ("title", "caption", "alt_text"))
            elif info.filename.endswith(".svg"):
                record = info.filename[:-len(".svg")] + ".counts.json"
                counts = json.loads(zf.read(record)) if record in names else None
                problems += _svg_problems(zf.read(info).decode("utf-8", "replace"), counts, name, threshold, ids)
            elif info.filename.endswith((".txt", ".md", ".json", ".html")):
                for token in _ids_in_text(zf.read(info).decode("utf-8", "replace"), ids):
                    problems.append(_problem(name, "", "", f"patient identifier '{token}'"))
    return problems


PAGES = ("index.html", "performance_story.html")  # pages at the top of a report a funder may be sent (contents.STORY_FILE)


def check_funder_outputs(output_dir: str | Path, params: Params | None = None, *, raise_on_problem: bool = True,
                         screen: ScreenQuote | None = None) -> pd.DataFrame:
    """Fail when a funder output carries a patient identifier, a date of birth or an unsuppressed small count.

    Reads what a funder reads: every file of ``<output_dir>/funder/`` (CSV tables against ``suppression.json``
    and their quotes; the DOCX's paragraphs, tables, alt text, headers and footers; the figure zip's manifest
    and each SVG's text and numbers against its counts record, see :func:`figure_count_problems`), and
    ``index.html`` and ``performance_story.html`` at the top of the output folder (text with the tags
    stripped, alt text included); and the column names of every analyst table in ``tables/``. Quotes (the
    ``exemplar`` column, quoted speech in the DOCX and the pages) go through the identifier screen
    (``screen``; by default :func:`~evaluation.core.identifiers.screen_quote` with ``qualitative.deny_terms``),
    except those the evaluator approved. Returns the problems table (empty when all is well); raises
    :class:`DisclosureError` naming file, row (paragraph, line or SVG element) and column otherwise.
    """
    output_dir = Path(output_dir)
    threshold = params.suppress_below if params is not None else 11
    ids = _patient_ids(params)
    screen = screen or screen_quote
    quotes: list = []
    problems: list[dict] = []
    funder = output_dir / "funder"
    specs: dict = {}
    if (funder / SPEC_FILE).exists():
        specs = json.loads((funder / SPEC_FILE).read_text(encoding="utf-8")).get("tables", {})
    for path in sorted(funder.rglob("*")) if funder.exists() else []:
        if not path.is_file():
            continue
        file = str(path.relative_to(output_dir))
        suffix = path.suffix.lower()
        if suffix == ".csv":
            df = read_text_table(path)
            problems += _check_frame(df, file, threshold, ids, specs.get(path.stem))
            quotes += [(file, int(i) + 2, c, q) for c in df.columns if c in QUOTE_COLUMNS for i, q in df[c].items()]
        elif suffix == ".docx":
            problems += _docx_problems(path, file, threshold, ids, specs, quotes)
        elif suffix == ".zip":
            problems += _zip_problems(path, file, threshold, ids, specs)
        elif suffix == ".html":
            problems += _html_problems(path.read_text(encoding="utf-8", errors="replace"), file, threshold, ids, quotes)
        elif suffix in (".json", ".txt", ".md", ".svg"):
            for token in _ids_in_text(path.read_text(encoding="utf-8", errors="replace"), ids):
                problems.append(_problem(file, "", "", f"patient identifier '{token}'"))
    for name in PAGES:
        if (output_dir / name).is_file():
            problems += _html_problems((output_dir / name).read_text(encoding="utf-8", errors="replace"), name,
                                       threshold, ids, quotes)
    if quotes:
        deny = (params.qualitative or {}).get("deny_terms") or () if params is not None else ()
        problems += quote_problems(quotes, screen, deny_terms=deny, approved=_approved_quotes(params, output_dir))
    ident = identifier_names()
    for path in sorted((output_dir / "tables").glob("*.csv")):
        try:
            header = pd.read_csv(path, nrows=0).columns
        except pd.errors.EmptyDataError:  # no header at all: nothing it could identify
            continue
        for col in header:
            if col in ident:
                problems.append(_problem(str(path.relative_to(output_dir)), "", col,
                                         "patient identifier column in an analyst table (tables/ must hold none)"))
    table = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    if raise_on_problem and len(table):
        raise DisclosureError(table, str(output_dir))
    return table
