"""The Word (OOXML) pieces of the funder DOCX that python-docx has no API for, and the table geometry.

* text measure: :func:`text_pt` from Helvetica's metrics (those of Arial and Liberation Sans, the table font);
* table geometry: :func:`fit_table` picks the font size and column widths (twips) so that every word of a
  header or cell fits its column, or splits a table too wide for any page into column panels;
* the table itself: :func:`table_element` builds a ``w:tbl`` with a fixed layout, a grid, repeated header
  row, rows that do not split and right-aligned numbers (raw XML: python-docx builds a cell at a time and
  rebuilds its grid on every call);
* fields (:func:`add_field`: SEQ, PAGE, NUMPAGES with their cached result), page setup (:func:`set_paper`,
  :func:`new_section`), styles the layout needs (:func:`ensure_style`), a user's template opened with its
  body emptied (:func:`open_template`).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.document import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.section import Section
from docx.shared import Inches, Length, Mm, Pt
from docx.styles.style import BaseStyle
from docx.text.paragraph import Paragraph

TWIPS_PER_PT = 20
# Paper sizes of ``report.paper`` and their margins: Letter with 1 in, A4 with 2.5 cm.
PAPERS = {"letter": (Inches(8.5), Inches(11), Inches(1)), "a4": (Mm(210), Mm(297), Mm(25))}
TABLE_FONT = "Arial"  # metric-compatible with Liberation Sans (LibreOffice) and Helvetica: what text_pt measures
TABLE_SIZES = (8.0, 7.0)  # points: a table too wide at 8 pt drops to 7 pt before any word would break
CELL_PAD_TWIPS = 58  # left and right cell margin (0.04 in): part of every column's width
SLACK = 1.06  # measured widths are widened by this much: bold in other sans fonts and rounding in renderers
HEADER_FILL = "D9D9D9"  # light grey behind the header row
BORDER_COLOR = "A6A6A6"

# Advance widths (1/1000 em) of the printable ASCII characters, space to tilde, from Adobe's Helvetica and
# Helvetica-Bold AFM metrics (matplotlib ships them: fonts/afm/phvr8a.afm, phvb8a.afm); Arial has the same.
_REGULAR = (
    278, 278, 355, 556, 556, 889, 667, 222, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667,
    556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 222, 556,
    556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722,
    500, 500, 500, 334, 260, 334, 584)
_BOLD = (
    278, 333, 474, 556, 556, 889, 722, 278, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722,
    611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 278, 556,
    611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778,
    556, 556, 500, 389, 280, 389, 584)
_OTHER = 640  # any other character (dashes, the minus sign, accented letters): a little wider than most
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold


def text_pt(text: str, size: float, *, bold: bool = False) -> float:
    """The width in points of ``text`` set in the table font at ``size`` points."""
    widths = _BOLD if bold else _REGULAR
    return size * sum(widths[o - 32] if 32 <= (o := ord(ch)) <= 126 else _OTHER for ch in text) / 1000


def xml_text(text: str) -> str:
    """``text`` without the characters an XML part cannot hold (a data value may carry them)."""
    return _XML_ILLEGAL.sub("", str(text))


# --- table geometry -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableFit:
    """How a table is set: its font size, and per panel the columns it shows and their widths in twips (one
    panel when the table fits; more when even the smallest size cannot fit every word across the page, each
    repeating the first column)."""

    font_pt: float
    panels: list[tuple[list[int], list[int]]]

    @property
    def fits(self) -> bool:
        """Whether the table is set whole (one panel)."""
        return len(self.panels) == 1


def min_widths(header: list[str], rows: list[list[str]], size: float) -> list[int]:
    """Per column the narrowest width (twips) that holds its longest unbreakable word, header (bold) or cell."""
    out = []
    for j, head in enumerate(header):
        words = [text_pt(w, size, bold=True) for w in head.split()]
        words += [text_pt(w, size) for r in rows for w in r[j].split()]
        out.append(round(max(words, default=0) * SLACK * TWIPS_PER_PT) + 2 * CELL_PAD_TWIPS)
    return out


def spread(shares: list[float], mins: list[int], total: int) -> list[int]:
    """Widths (twips) in proportion to ``shares`` over ``total``, none below its minimum (those at their minimum
    are fixed and the rest shared out again); they sum to at most ``total``."""
    fixed: set[int] = set()
    wide: dict[int, float] = {}
    while rest := [i for i in range(len(shares)) if i not in fixed]:
        free = total - sum(mins[i] for i in fixed)
        weight = sum(shares[i] for i in rest) or 1.0
        wide = {i: free * shares[i] / weight for i in rest}
        low = {i for i in rest if wide[i] < mins[i]}
        if not low:
            break
        fixed |= low
    out = [mins[i] if i in fixed else int(wide[i]) for i in range(len(shares))]
    if sum(out) > total:  # not even the minimums fit (one panel of a pathological table): scale down
        out = [int(w * total / sum(out)) for w in out]
    return out


def fit_table(header: list[str], rows: list[list[str]], shares: list[float], width: int) -> TableFit:
    """The font size and column widths of a table ``width`` twips across: the first of :data:`TABLE_SIZES` at
    which every word fits, with the spare width shared as ``shares`` say; else column panels at the smallest
    size, each led by the first column."""
    for size in TABLE_SIZES:
        mins = min_widths(header, rows, size)
        if sum(mins) <= width:
            return TableFit(size, [(list(range(len(header))), spread(shares, mins, width))])
    size = TABLE_SIZES[-1]
    mins = min_widths(header, rows, size)
    panels, current = [], [0]
    for j in range(1, len(header)):
        if len(current) > 1 and sum(mins[i] for i in current) + mins[j] > width:
            panels.append(current)
            current = [0]
        current.append(j)
    panels.append(current)
    return TableFit(size, [(cols, spread([shares[i] for i in cols], [mins[i] for i in cols], width)) for cols in panels])


# --- raw OOXML --------------------------------------------------------------------------------------------

def _sub(parent, tag: str, **attrs: str | int):
    """A child ``w:`` element with ``w:`` attributes, appended to ``parent``."""
    el = OxmlElement(tag, attrs={qn(f"w:{k}"): str(v) for k, v in attrs.items()})
    parent.append(el)
    return el


def _run(p, text: str, *, size_half_pt: int, bold: bool = False) -> None:
    """A run of ``text`` (line breaks kept) at a size in half points."""
    r = _sub(p, "w:r")
    rpr = _sub(r, "w:rPr")
    if bold:
        _sub(rpr, "w:b")
    _sub(rpr, "w:sz", val=size_half_pt)
    _sub(rpr, "w:szCs", val=size_half_pt)
    for k, line in enumerate(xml_text(text).split("\n")):
        if k:
            _sub(r, "w:br")
        t = _sub(r, "w:t")
        t.text = line
        if line != line.strip():
            t.set(qn("xml:space"), "preserve")


def table_element(header: list[str], rows: list[list[str]], widths: list[int], numeric: list[bool],
                  font_pt: float, *, text_style: str, heading_style: str):
    """A ``w:tbl``: fixed layout on a grid of ``widths`` (twips; table, grid and every cell say the same, so
    Word and LibreOffice both keep them), thin grey borders, the header row shaded, bold, repeated on every page,
    and no row split across pages; numeric columns right-aligned, header included."""
    tbl = OxmlElement("w:tbl")
    tblpr = _sub(tbl, "w:tblPr")
    _sub(tblpr, "w:tblW", w=sum(widths), type="dxa")
    borders = _sub(tblpr, "w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        _sub(borders, f"w:{edge}", val="single", sz=4, space=0, color=BORDER_COLOR)
    _sub(tblpr, "w:tblLayout", type="fixed")
    margins = _sub(tblpr, "w:tblCellMar")
    for edge, w in (("top", 15), ("left", CELL_PAD_TWIPS), ("bottom", 15), ("right", CELL_PAD_TWIPS)):
        _sub(margins, f"w:{edge}", w=w, type="dxa")
    _sub(tblpr, "w:tblLook", val="04A0", firstRow=1, lastRow=0, firstColumn=0, lastColumn=0, noHBand=1, noVBand=1)
    grid = _sub(tbl, "w:tblGrid")
    for w in widths:
        _sub(grid, "w:gridCol", w=w)
    size = round(font_pt * 2)
    for k, texts in enumerate([header, *rows]):
        tr = _sub(tbl, "w:tr")
        trpr = _sub(tr, "w:trPr")
        _sub(trpr, "w:cantSplit")
        if k == 0:
            _sub(trpr, "w:tblHeader")
        for text, w, right in zip(texts, widths, numeric):
            tc = _sub(tr, "w:tc")
            tcpr = _sub(tc, "w:tcPr")
            _sub(tcpr, "w:tcW", w=w, type="dxa")
            if k == 0:
                _sub(tcpr, "w:shd", val="clear", color="auto", fill=HEADER_FILL)
                _sub(tcpr, "w:vAlign", val="bottom")
            p = _sub(tc, "w:p")
            ppr = _sub(p, "w:pPr")
            _sub(ppr, "w:pStyle", val=heading_style if k == 0 else text_style)
            if right:
                _sub(ppr, "w:jc", val="right")
            _run(p, text, size_half_pt=size, bold=k == 0)
    return tbl


def add_field(paragraph: Paragraph, instruction: str, cached: str, *, bold: bool = False) -> None:
    """A Word field (``SEQ Figure \\* ARABIC``, ``PAGE``) in ``paragraph`` with ``cached`` as its shown result,
    so it reads right before any field is updated."""
    for kind in ("begin", "instr", "separate", "result", "end"):
        run = paragraph.add_run()
        run.bold = bold or None
        if kind == "instr":
            _sub(run._r, "w:instrText").text = f" {instruction} "
            run._r[-1].set(qn("xml:space"), "preserve")
        elif kind == "result":
            run.text = cached
        else:
            _sub(run._r, "w:fldChar", fldCharType=kind)


def has_field(part_element, name: str) -> bool:
    """Whether a header, footer or body element holds a field ``name`` (PAGE, SEQ ...)."""
    codes = [t.text or "" for t in part_element.iter(qn("w:instrText"))]
    codes += [f.get(qn("w:instr")) or "" for f in part_element.iter(qn("w:fldSimple"))]
    return any(c.split()[:1] == [name] for c in codes)


def has_content(part_element) -> bool:
    """Whether a header or footer shows anything (text, a picture or a drawing)."""
    return any((t.text or "").strip() for t in part_element.iter(qn("w:t"))) or any(
        True for tag in ("w:drawing", "w:pict", "w:object") for _ in part_element.iter(qn(tag)))


# --- page setup --------------------------------------------------------------------------------------------

def set_paper(section: Section, paper: str, *, margins: bool = True) -> None:
    """Portrait Letter or A4 (``report.paper``), with its margins unless a template sets its own."""
    width, height, margin = PAPERS[paper]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = width, height
    if margins:
        section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = margin
        section.header_distance = section.footer_distance = Length(int(margin) // 2)


def text_width(section: Section) -> int:
    """The width (twips) between the section's margins."""
    return (section.page_width - section.left_margin - section.right_margin) // 635  # 635 EMU to the twip


def text_height(section: Section) -> Length:
    """The height between the section's top and bottom margins."""
    return Length(section.page_height - section.top_margin - section.bottom_margin)


def new_section(document: Document, *, landscape: bool) -> Section:
    """A new section on a new page, turned to landscape (or back to portrait); its header and footer are the
    previous section's. The paragraph that ends the previous section is shrunk to 1 pt so that it cannot spill
    onto a page of its own after a full-page table."""
    section = document.add_section(WD_SECTION.NEW_PAGE)
    width, height = section.page_width, section.page_height
    if (width > height) != landscape:
        section.page_width, section.page_height = height, width  # margins stay: a letterhead keeps its room
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.different_first_page_header_footer = False
    end = Paragraph(document.element.body.sectPr.getprevious(), document._body)
    end.paragraph_format.space_before = end.paragraph_format.space_after = Pt(0)
    end.paragraph_format.line_spacing = Pt(1)
    mark = OxmlElement("w:rPr")
    _sub(mark, "w:sz", val=2)
    end._p.pPr.sectPr.addprevious(mark)
    return section


# --- styles, templates, the zip ------------------------------------------------------------------------

def ensure_style(document: Document, name: str, *, base: str = "Normal", outline: int | None = None,
                 kind: WD_STYLE_TYPE = WD_STYLE_TYPE.PARAGRAPH) -> tuple[BaseStyle, bool]:
    """The style ``name`` (a template's own when it has one) and whether it was added here; an added heading
    gets its outline level so the navigation pane and a table of contents find it."""
    names = {s.name for s in document.styles}
    if name in names:
        return document.styles[name], False
    style = document.styles.add_style(name, kind)
    if base in names:
        style.base_style = document.styles[base]
    if outline is not None:
        style.paragraph_format.keep_with_next = True
        _sub(style.element.get_or_add_pPr(), "w:outlineLvl", val=outline)
        style.font.bold = True
    return style, True


def open_template(path: Path) -> Document:
    """A user's ``.docx`` (or ``.dotx``) with its body emptied: its styles, page setup, headers, footers and logo
    stay; pictures and links only the old body used are dropped. Raises ValueError when it is not a Word file."""
    data = path.read_bytes()
    if path.suffix.lower() == ".dotx":  # a Word template opens as a document once its type says so
        data = _retype_template(data)
    document = docx.Document(io.BytesIO(data))
    body = document.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    used = set(body.xpath(".//@r:id | .//@r:embed | .//@r:link"))
    for rid, rel in list(document.part.rels.items()):
        if rid not in used and rel.reltype.rsplit("/", 1)[-1] in ("image", "hyperlink"):
            del document.part.rels[rid]
    return document


def _retype_template(data: bytes) -> bytes:
    """A ``.dotx``'s bytes with its main part typed as a document's."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            blob = src.read(info)
            if info.filename == "[Content_Types].xml":
                blob = re.sub(rb"wordprocessingml\.template\.main\+xml", b"wordprocessingml.document.main+xml", blob)
            dst.writestr(info, blob)
    return out.getvalue()
