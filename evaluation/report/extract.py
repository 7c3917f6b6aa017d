"""What a funder reads in each kind of file, as text: the disclosure gate checks these texts, not the files' bytes.

* an HTML page: one item per block of text (paragraph, list item, table cell with its column's header) and
  every alt, title and aria-label attribute (:func:`page_text`);
* an SVG figure: every text it draws, by element id (:func:`svg_texts`);
* a DOCX: paragraphs, tables, image alt texts, headers and footers (:func:`docx_text`);
* a CSV: text cells (:func:`read_text_table`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

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
    import docx

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
