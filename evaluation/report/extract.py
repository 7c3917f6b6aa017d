"""What a funder reads in each kind of file, as text: the disclosure gate checks these texts, not the files' bytes.

* an HTML page: one item per block of text (paragraph, list item, table cell with its column's header) and
  every alt, title and aria-label attribute (:func:`page_text`);
* an SVG figure: every text it draws, by element id (:func:`svg_texts`);
* a DOCX: paragraphs, tables, image alt texts, headers and footers (:func:`docx_text`);
* a PDF: each page's text, the document info and XMP metadata, the bookmarks, and the alt text of tagged
  figures and annotations (:func:`pdf_text`);
* an XLSX: every cell of every sheet with its type (a formula is kept as a formula), comments, headers and
  footers, defined names and frozen panes (:func:`workbook_text`);
* a PPTX: every shape's text on every slide (groups opened, tables by cell, chart titles), each shape's alt
  text and title, and the speaker notes (:func:`slides_text`);
* any Office file (DOCX, XLSX, PPTX): the text of every XML part, document properties included
  (:func:`office_parts_text`), where an identifier can hide outside what the other readers show;
* a CSV: text cells (:func:`read_text_table`).
"""

from __future__ import annotations

import html
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import docx
import openpyxl
import pandas as pd
import pypdf
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

_BLOCK_TAGS = {"p", "li", "figcaption", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "title", "div", "section",
               "figure", "tr", "table", "ul", "ol", "body", "head", "caption", "dt", "dd", "pre", "blockquote", "br",
               "thead", "tbody", "header", "footer", "main", "nav", "article", "aside"}


class _PageText(HTMLParser):
    """The text of an HTML page as a reader sees it: one item per block of text (a paragraph, a list item, a
    table cell), plus every alt and title attribute; table cells know their column's header."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[int, str, str, str]] = []  # (line, element, text, column header)
        self._buffer: list[str] = []
        self._where = ("body", 1)
        self._skip = 0
        self._headers: list[list[str]] = []
        self._column = -1

    def _flush(self) -> None:
        text = " ".join("".join(self._buffer).split())
        self._buffer = []
        if not text:
            return
        tag, line = self._where
        header = ""
        if tag == "td" and self._headers and 0 <= self._column < len(self._headers[-1]):
            header = self._headers[-1][self._column]
        if tag == "th" and self._headers:
            self._headers[-1].append(text)
        self.items.append((line, tag, text, header))

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("alt", "title", "aria-label") and value:
                self.items.append((self.getpos()[0], f"{tag} {name}", " ".join(value.split()), ""))
        if tag in _BLOCK_TAGS:
            self._flush()
            self._where = (tag, self.getpos()[0])
        if tag == "table":
            self._headers.append([])
        elif tag == "tr":
            self._column = -1
        elif tag in ("td", "th"):
            self._column += 1

    def handle_endtag(self, tag) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        if tag in _BLOCK_TAGS:
            self._flush()
            self._where = ("body", self.getpos()[0])
        if tag == "table" and self._headers:
            self._headers.pop()

    def handle_data(self, data) -> None:
        if not self._skip:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def page_text(page: str) -> list[tuple[int, str, str, str]]:
    """(line, element, text, column header) of every block of text and alt/title attribute of an HTML page."""
    parser = _PageText()
    parser.feed(page)
    parser.close()
    return parser.items


_SVG_COMMENT_TEXT = re.compile(r'<g id="(?P<id>[^"]+)">\s*<!--(?P<text>.*?)-->', re.S)  # svg.fonttype "path"
_SVG_TEXT_ELEMENT = re.compile(r"<text\b(?P<attrs>[^>]*)>(?P<text>.*?)</text>", re.S)  # svg.fonttype "none"


def svg_texts(svg: str) -> list[tuple[str, str]]:
    """(element id, text) of every text an SVG draws: matplotlib writes each string as an XML comment before
    its glyphs (or as a ``<text>`` element), which is what a reader's tools extract."""
    out = [(m["id"], html.unescape(m["text"]).strip()) for m in _SVG_COMMENT_TEXT.finditer(svg)]
    for m in _SVG_TEXT_ELEMENT.finditer(svg):
        found = re.search(r'\bid="([^"]+)"', m["attrs"])
        out.append((found.group(1) if found else "text", html.unescape(re.sub(r"<[^>]+>", "", m["text"])).strip()))
    return out


@dataclass(frozen=True)
class DocxText:
    """The text of a Word file: ``tables`` as rows of cell texts (the first row is the header); ``margins``
    as (``header`` or ``footer``, text) for every page section."""

    paragraphs: list[str]
    tables: list[list[list[str]]]
    alt_texts: list[str]
    margins: list[tuple[str, str]]


def docx_text(path: str | Path) -> DocxText:
    """Everything a reader of the DOCX at ``path`` reads, image alt text included."""
    document = docx.Document(str(path))
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    margins = [(where, paragraph.text) for section in document.sections
               for part, where in ((section.header, "header"), (section.footer, "footer")) for paragraph in part.paragraphs]
    return DocxText([p.text for p in document.paragraphs], tables,
                    [shape._inline.docPr.get("descr") or "" for shape in document.inline_shapes], margins)


def read_text_table(source) -> pd.DataFrame:
    """A CSV as text cells; an empty file is an empty table (nothing in it to disclose)."""
    try:
        return pd.read_csv(source, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


# --- PDF, XLSX, PPTX and the XML parts of any Office file ----------------------------------------------

@dataclass(frozen=True)
class PdfText:
    """The text of a PDF: ``pages`` (page 1 first, as a text extractor gives it); ``info`` as (field, text)
    from the document info dictionary and the XMP metadata; ``outline`` the bookmark titles; ``alt_texts`` as
    (page number or None, what, text) of the alt text of tagged structure elements (a figure's /Alt,
    /ActualText, /E) and of annotations (/Contents)."""

    pages: list[str]
    info: list[tuple[str, str]]
    outline: list[str]
    alt_texts: list[tuple[int | None, str, str]]


def _xml_texts(data: bytes, attributes: tuple[str, ...] = ()) -> list[str]:
    """The text nodes of an XML document (and the values of the named attributes), each on its own: two
    fields next to each other ("5" pages, "Patients First" company) must not read as one phrase."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return [t for t in re.split(r"<[^>]*>", data.decode("utf-8", "replace")) if t.strip()]
    out = [" ".join(t.split()) for el in root.iter() for t in (el.text, el.tail) if t and t.strip()]
    out += [v for el in root.iter() for k, v in el.attrib.items() if k in attributes and v.strip()]
    return out


def _bookmarks(items) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, list):
            out += _bookmarks(item)
        else:
            out.append(str(item.get("/Title", "")))
    return out


_DELIMITERS = b" \t\r\n\f\x00[]<>()/{}%"  # what ends a token in a PDF content stream
_OPERATOR = re.compile(rb"(?:[qQ]|cm|Do|Tf|BT)(?![^\s\[\]<>()/{}%])")  # the operators text extraction needs
_LITERAL = rb"\((?>\\.|[^\\()]|\((?>\\.|[^\\()])*+\))*+\)"  # a string, "ET" inside it is not the end
_TEXT_END = re.compile(rb"(?>" + _LITERAL + rb"|[^(E]++|E)*?(?<![^\s\[\]<>()/{}%])ET(?![^\s\[\]<>()/{}%])", re.S)
_OPERAND = re.compile(rb"/[^\s\[\]<>()/{}%]+|[-+]?[\d.]+")
_OPERANDS = {b"cm": 6, b"Do": 1, b"Tf": 2, b"q": 0, b"Q": 0}


def text_operations(content: bytes) -> bytes:
    """A content stream cut to what its text needs: every text object (BT ... ET) whole, the graphics state
    around it (q, Q, cm), the fonts set outside one (Tf) and the forms it draws (Do); paths, colours and
    images dropped, and a q ... Q that holds no text left out. A page with a vector figure holds a hundred
    thousand path operations that a text extractor parses one by one; the text it gives is the same."""
    kept: list[bytes] = []
    pos = 0
    for m in _OPERATOR.finditer(content):
        start, op = m.start(), m.group(0)
        if start < pos or (start and content[start - 1] not in _DELIMITERS):
            continue
        if op == b"BT":
            end = _TEXT_END.match(content, m.end())
            kept.append(content[start:end.end() if end else len(content)])
            if end is None:
                break
            pos = end.end()
            continue
        if op == b"Q":
            j = len(kept) - 1
            while j >= 0 and kept[j].endswith((b" cm", b" Tf")):
                j -= 1
            if j >= 0 and kept[j] == b"q":  # a q ... Q with no text in it changes nothing a reader reads
                del kept[j:]
                continue
        n = _OPERANDS[op]
        operands = _OPERAND.findall(content[max(pos, start - 40 * n):start])[-n:] if n else []
        kept.append(b" ".join([*operands, op]))
    return b"\n".join(kept)


def _keep_text_only(reader: pypdf.PdfReader) -> None:
    """Each page's content (in memory) cut to its text operations, :func:`text_operations`."""
    for page in reader.pages:
        content = page.get_contents()
        if content is not None:
            stream = pypdf.generic.DecodedStreamObject()
            stream.set_data(text_operations(content.get_data()))
            page[pypdf.generic.NameObject("/Contents")] = stream


def pdf_text(path: str | Path) -> PdfText:
    """Everything a reader of the PDF at ``path`` can get as text (the pages, the properties a viewer shows,
    the bookmarks, and the alt text a screen reader reads)."""
    reader = pypdf.PdfReader(str(path))
    _keep_text_only(reader)
    pages = [page.extract_text() or "" for page in reader.pages]
    number = {page.indirect_reference.idnum: k for k, page in enumerate(reader.pages, start=1)
              if page.indirect_reference is not None}
    info = [(str(k), str(v)) for k, v in (reader.metadata or {}).items() if isinstance(v, str)]
    root = reader.trailer["/Root"]
    if "/Metadata" in root:
        info += [("XMP metadata", t) for t in _xml_texts(root["/Metadata"].get_object().get_data())]
    alt = [(k, "annotation", str(a.get_object()["/Contents"])) for k, page in enumerate(reader.pages, start=1)
           for a in (page.get("/Annots") or []) if "/Contents" in a.get_object()]
    stack, seen = [(root.raw_get("/StructTreeRoot"), None)] if "/StructTreeRoot" in root else [], set()
    while stack:  # the structure tree, depth first in document order; /Pg says the page of what follows
        node, page = stack.pop()
        if isinstance(node, pypdf.generic.IndirectObject):
            if node.idnum in seen:
                continue
            seen.add(node.idnum)
            node = node.get_object()
        if isinstance(node, list):
            stack += [(k, page) for k in reversed(node)]
        elif isinstance(node, dict):
            pg = node.raw_get("/Pg") if "/Pg" in node else None
            page = number.get(pg.idnum, page) if isinstance(pg, pypdf.generic.IndirectObject) else page
            alt += [(page, f"{str(node.get('/S', '')).lstrip('/') or 'element'} {key.lstrip('/')}", str(node[key]))
                    for key in ("/Alt", "/ActualText", "/E") if key in node]
            if "/K" in node:
                stack.append((node.raw_get("/K"), page))
    return PdfText(pages, info, _bookmarks(reader.outline), alt)


@dataclass(frozen=True)
class SheetText:
    """One sheet of a workbook: ``cells`` as (row, column, value, data type) of every cell holding something,
    row 1 first (a formula's value is its text and its type ``f``); ``notes`` as (where, text) for cell
    comments, headers and footers; ``first_data_row``: the first row below frozen panes (0 when none);
    ``names``: the defined names that point into it."""

    title: str
    cells: list[tuple[int, int, object, str]]
    notes: list[tuple[str, str]]
    first_data_row: int
    names: list[str] = field(default_factory=list)


_MARGINS = ("oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter")


def workbook_text(path: str | Path) -> list[SheetText]:
    """Every sheet of the workbook at ``path``, as it is stored (formulas as formulas, not their results)."""
    book = openpyxl.load_workbook(str(path), data_only=False)
    names: dict[str, list[str]] = {}
    scoped = [(n, d) for n, d in book.defined_names.items()]
    scoped += [(n, d) for ws in book.worksheets for n, d in ws.defined_names.items()]
    for name, definition in scoped:
        try:
            for title, _ in definition.destinations:
                names.setdefault(title, []).append(name)
        except (AttributeError, ValueError, TypeError):  # a constant, not a range: nothing to point at
            continue
    sheets = []
    for ws in book.worksheets:
        cells = [(c.row, c.column, getattr(c.value, "text", c.value), c.data_type)
                 for row in ws.iter_rows() for c in row if c.value is not None and str(c.value).strip() != ""]
        notes = [(f"cell {c.coordinate} comment", c.comment.text) for row in ws.iter_rows() for c in row if c.comment]
        for part in _MARGINS:
            margin, where = getattr(ws, part, None), re.sub("([A-Z])", r" \1", part).lower()  # "odd header"
            for side in ("left", "center", "right"):
                text = getattr(getattr(margin, side, None), "text", None)
                if text:
                    notes.append((f"{where} ({side})", text))
        frozen = ws.freeze_panes
        first = coordinate_to_tuple(frozen)[0] if frozen else 0
        sheets.append(SheetText(ws.title, cells, notes, first, names.get(ws.title, [])))
    return sheets


def cell_name(row: int, column: int) -> str:
    """A cell as a spreadsheet names it (row 7 of column 2 is ``B7``)."""
    return f"{get_column_letter(column)}{row}"


@dataclass(frozen=True)
class SlidesText:
    """The text of a presentation: ``items`` as (slide number, shape name, what, text), what being ``text``,
    ``alt text``, ``title`` (a shape's title attribute), ``chart`` or ``notes``; ``tables`` as (slide number,
    shape name, rows of cell texts, the first row the header)."""

    items: list[tuple[int, str, str, str]]
    tables: list[tuple[int, str, list[list[str]]]]


_P_NS = "{http://schemas.openxmlformats.org/presentationml/2006/main}"


def _shapes(shapes):
    for shape in shapes:
        yield shape
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shapes(shape.shapes)


def slides_text(path: str | Path) -> SlidesText:
    """Everything a reader of the PPTX at ``path`` reads: each shape's text, alt text and title, tables cell by
    cell, chart titles, categories and series names, and the speaker notes."""
    items, tables = [], []
    for k, slide in enumerate(Presentation(str(path)).slides, start=1):
        for shape in _shapes(slide.shapes):
            props = shape._element.find(f".//{_P_NS}cNvPr")  # the shape's non-visual properties: alt text and title
            if props is not None:
                items += [(k, shape.name, what, props.get(key)) for key, what in (("descr", "alt text"), ("title", "title"))
                          if (props.get(key) or "").strip()]
            if shape.has_text_frame and shape.text_frame.text.strip():
                items.append((k, shape.name, "text", shape.text_frame.text))
            if getattr(shape, "has_table", False) and shape.has_table:
                tables.append((k, shape.name, [[cell.text for cell in row.cells] for row in shape.table.rows]))
            if getattr(shape, "has_chart", False) and shape.has_chart:
                chart = shape.chart
                texts = [chart.chart_title.text_frame.text] if chart.has_title and chart.chart_title.has_text_frame else []
                for plot in chart.plots:
                    texts += [str(c) for c in plot.categories] + [s.name for s in plot.series if s.name]
                items += [(k, shape.name, "chart", t) for t in texts if t and str(t).strip()]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text
            if notes.strip():
                items.append((k, "notes", "notes", notes))
    return SlidesText(items, tables)


def office_parts_text(path: str | Path) -> list[tuple[str, list[str]]]:
    """(part, texts) of every XML part of an Office file (DOCX, XLSX, PPTX): its text nodes, and the names,
    titles and descriptions of its shapes and sheets. Document properties are ``docProps/*.xml``."""
    with zipfile.ZipFile(path) as zf:
        return [(info.filename, _xml_texts(zf.read(info), ("descr", "title", "name", "tooltip")))
                for info in zf.infolist() if info.filename.endswith(".xml")]
