"""The performance story as a Word file for funders: ``funder/<cohort>_performance_story.docx``.

It lays out the same :class:`~evaluation.report.contents.Story` as the page (:mod:`.story_html`), in the order a
grant writer sends it: a title page (title, cohort, data as of, who prepared it, the disclosure rule), the
executive summary, the findings grouped by section, then per section its figures (alt text on the picture, a
numbered caption under it) and its tables (caption above; header row repeated on every page; numbers
right-aligned; widths that fit the page, a landscape page only for a table too wide for portrait), then methods
and limitations. Captions are Word captions (style Caption with a SEQ field), headings are Heading 1 and 2, the
footer numbers the pages, so a reader can add a table of contents or a list of figures and tables in Word.

``report.paper`` sets the page (Letter or A4) and ``report.docx_template`` an optional ``.docx`` whose styles,
headers, footers and logo the file starts from. The file is dated by the data's as-of date and has fixed zip
timestamps: the same story gives the same bytes. The OOXML pieces are in :mod:`.docx_parts`.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.document import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.opc.exceptions import PackageNotFoundError
from docx.shared import Emu, Inches, Pt, RGBColor
from docx.text.paragraph import Paragraph

from evaluation.core.errors import ParamsError
from evaluation.core.outputs import atomic_write
from evaluation.core.params import Params
from evaluation.core.paths import resolve_path, shown_path

from .contents import Story, StoryFigure, StorySection, StoryTable, docx_name, zip_name
from .docx_parts import (TABLE_FONT, TableFit, add_field, ensure_style, fit_table, has_content, has_field,
                         new_section, open_template, set_paper, table_element, text_height, text_width)
from .funder import FUNDER_DIR
from .ooxml import as_of_stamp, stable_zip

LANDSCAPE_CHARS = 110  # a table wider than this (StoryTable.text_width) is too wide for a portrait page
BODY_PT = 10
CAPTION_PT = 9  # caption size in a blank document
CAPTION_ROOM = Inches(1.2)  # kept free under a figure on its page, for its caption (4 to 6 lines)
SHRINK = 0.75  # a figure a little too tall for half a page is set this much narrower (at least), two to a page
GREY = RGBColor(0x59, 0x59, 0x59)
AUTHOR = "CMM evaluation workbench"
# A cell that holds a number as a reader sees one: "590", "1,238", "−0.82", "< 0.001", "<11", "$1,144", "56%".
NUMBER = re.compile(r"^(?:[<>\u2264\u2265]\s?)?[\u2212+-]?\$?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d+)?%?$")
NOT_SHOWN = {"", "\u2013", "*"}  # a blank cell and a withheld one: neither decides a column's alignment
HYPHEN_MINUS = re.compile(r"(?<![\w.\u2212-])-(?=\.?\d)")  # a minus written as a hyphen: it would break a line
QUOTED = re.compile(r"(\u201c[^\u201d]*\u201d|\"[^\"]*\")")  # a participant's words, left as they were said


@dataclass(frozen=True)
class _Styles:
    """Names of the paragraph styles the layout uses (a template's own when it has them)."""

    table_text: str
    table_heading: str
    bullet_mark: str  # "" when the List Bullet style numbers its paragraphs itself


def reader_text(text: str) -> str:
    """Prose or a number as printed: a minus sign where a hyphen stands before a number (``-0.82`` -> ``−0.82``),
    except inside a quotation."""
    return "".join(part if k % 2 else HYPHEN_MINUS.sub("\u2212", part)
                   for k, part in enumerate(QUOTED.split(str(text))))


def numeric_column(t: StoryTable, j: int) -> bool:
    """Whether column ``j`` holds numbers (the story says so, or every cell shown reads as one)."""
    cells = [r[j].strip() for r in t.rows if r[j].strip() not in NOT_SHOWN]
    return t.columns[j].numeric or bool(cells) and all(
        NUMBER.match(reader_text(c)) and any(ch.isdigit() for ch in c) for c in cells)


def template_path(params: Params) -> Path | None:
    """The ``report.docx_template`` file (a relative path is read from the params file's folder, else the working
    folder), or None; a missing file is a params error naming the path."""
    name = params.report.get("docx_template")
    if not name:
        return None
    path = Path(os.path.expanduser(str(name)))
    if not path.is_absolute():
        path = (resolve_path(params.source).parent if params.source else Path.cwd()) / path
    if not path.is_file():
        where = "the params file's folder" if params.source else "the working folder"
        raise ParamsError(f"`report.docx_template` names {shown_path(path)}, which does not exist (a relative path "
                          f"is read from {where}); give the path of a Word .docx file, or leave the key out",
                          path=params.source, key="report.docx_template")
    return path


def _start(params: Params) -> tuple[Document, bool]:
    """The document to fill: the template with its body emptied, or a blank one; and whether it is a template."""
    path = template_path(params)
    if path is None:
        return docx.Document(), False
    try:
        return open_template(path), True
    except (ValueError, KeyError, zipfile.BadZipFile, PackageNotFoundError) as exc:
        raise ParamsError(f"`report.docx_template` {shown_path(path)} is not a Word .docx file ({exc})",
                          path=params.source, key="report.docx_template") from exc


def _styles(document: Document, *, own: bool) -> _Styles:
    """Every style the layout uses, added where the document lacks it; in a blank document also the look of the
    body text and captions (a template keeps its own)."""
    for name, outline in (("Title", None), ("Subtitle", None), ("Heading 1", 0), ("Heading 2", 1), ("Caption", None)):
        style, added = ensure_style(document, name, outline=outline)
        if name == "Caption" and (own or added):
            style.font.size, style.font.bold, style.font.italic = Pt(CAPTION_PT), False, False
            style.font.color.rgb = GREY
            style.paragraph_format.space_before, style.paragraph_format.space_after = Pt(3), Pt(10)
    bullet, bullet_added = ensure_style(document, "List Bullet")  # a template without one: a hanging "•"
    if bullet_added:
        bullet.paragraph_format.left_indent, bullet.paragraph_format.first_line_indent = Inches(0.25), Inches(-0.18)
    text, added = ensure_style(document, "Table text")
    if added:
        text.font.name, text.font.size = TABLE_FONT, Pt(8)
        fmt = text.paragraph_format
        fmt.space_before, fmt.space_after, fmt.line_spacing, fmt.widow_control = Pt(0), Pt(0), 1.0, False
    heading, added = ensure_style(document, "Table heading", base="Table text")
    if added:
        heading.font.bold = True
    if own:
        normal = document.styles["Normal"]
        normal.font.size = Pt(BODY_PT)
        normal.paragraph_format.space_after = Pt(6)
    return _Styles(text.style_id, heading.style_id, "\u2022\t" if bullet_added else "")


def _margins(document: Document, story: Story, *, own: bool) -> None:
    """The cohort title in the header and "Page X of Y" in the footer (a template's header or page number stays);
    a blank document's title page has neither."""
    section = document.sections[0]
    if own:
        section.different_first_page_header_footer = True
        section.first_page_header.is_linked_to_previous = False
        section.first_page_footer.is_linked_to_previous = False
    header = section.header
    if not has_content(header._element):
        p = header.paragraphs[0] if header.paragraphs else header.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        run = p.add_run(story.title)
        run.font.size, run.font.color.rgb = Pt(8), GREY
    footer = section.footer
    if not has_field(footer._element, "PAGE"):
        empty = [p for p in footer.paragraphs if not p.text.strip()]
        p = empty[0] if empty else footer.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.add_run("Page ")
        add_field(p, "PAGE", "1")
        p.add_run(" of ")
        add_field(p, "NUMPAGES", "1")
        for run in p.runs:
            run.font.size = Pt(8)


def _properties(document: Document, params: Params, story: Story) -> None:
    """Title, author and dates (the data's as-of date, never the clock)."""
    props = document.core_properties
    stamp = as_of_stamp(params)
    props.title = f"{story.title}: performance story"
    props.subject = "Performance story"
    props.author = props.last_modified_by = params.report.get("prepared_by") or AUTHOR
    props.created = props.modified = stamp
    props.revision = 1


def _title_page(document: Document, params: Params, story: Story) -> None:
    title = document.add_paragraph(story.title, style="Title")
    title.paragraph_format.space_before = Inches(1.8)
    document.add_paragraph("Performance story", style="Subtitle")
    who = document.add_paragraph(f"Cohort {story.cohort_id} \u00b7 data as of {story.as_of}")
    if params.report.get("prepared_by"):
        who.add_run().add_break(WD_BREAK.LINE)
        who.add_run(f"Prepared by {params.report['prepared_by']}")
    rule = document.add_paragraph(story.disclosure_note)
    rule.paragraph_format.space_before = Pt(24)
    files = document.add_paragraph(f"Every table is also a CSV file in the {FUNDER_DIR} folder, and every figure is "
                                   f"in {zip_name(params)} (PNG, SVG and PDF, with its caption and alt text).")
    for p in (rule, files):
        for run in p.runs:
            run.font.size, run.font.color.rgb = Pt(9), GREY


def _heading(document: Document, text: str, level: int, *, new_page: bool = False) -> Paragraph:
    """A Heading 1 or 2; ``new_page`` starts it on a new page unless a section break just did."""
    p = document.add_heading(text, level=level)
    if new_page and not _at_page_top(document, p):
        p.paragraph_format.page_break_before = True
    return p


def _at_page_top(document: Document, paragraph: Paragraph) -> bool:
    before = paragraph._p.getprevious()
    return before is not None and bool(before.xpath("./w:pPr/w:sectPr"))


def _bullet(document: Document, text: str, styles: _Styles) -> None:
    document.add_paragraph(styles.bullet_mark + reader_text(text), style="List Bullet")


def _caption(document: Document, label: str, number: int, title: str, text: str) -> Paragraph:
    """``Figure 3. Title. Caption text.`` in style Caption, its number a SEQ field showing ``number``."""
    p = document.add_paragraph(style="Caption")
    p.add_run(f"{label} ").bold = True
    add_field(p, f"SEQ {label} \\* ARABIC", str(number), bold=True)
    p.add_run(f". {reader_text(title).rstrip('.')}. ").bold = True
    if text:
        p.add_run(reader_text(text))
    return p


def _turn(document: Document, *, landscape: bool) -> None:
    """Continue on a landscape (or portrait) page, starting a new section only when the orientation changes."""
    last = document.sections[-1]
    if (last.page_width > last.page_height) != landscape:
        new_section(document, landscape=landscape)


def figure_size(width: int, height: int, across: int, room: int) -> tuple[int, int]:
    """The size (EMU) of a picture of ``width`` x ``height`` on a page ``across`` wide with ``room`` for figures
    and captions: the text width; a figure a little too tall for two to a page a little narrower so that two fit
    (no less than :data:`SHRINK` of the width); a tall one no taller than the page."""
    half = (room - 2 * CAPTION_ROOM) // 2
    h = height * across // width
    if h <= half:
        return across, h
    if h * SHRINK <= half:
        return width * half // height, half
    top = room - CAPTION_ROOM
    return (across, h) if h <= top else (width * top // height, top)


def _figure(document: Document, params: Params, f: StoryFigure) -> None:
    """The picture (:func:`figure_size`), kept with its caption below it; alt text and title on the picture for
    screen readers."""
    if f.png:  # a draft run may export no PNG ($CMM_FIGURE_FORMATS): the caption still goes in
        section = document.sections[-1]
        p = document.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.keep_with_next = True
        p.paragraph_format.space_before, p.paragraph_format.space_after = Pt(6), Pt(0)
        shape = p.add_run().add_picture(str(params.output_dir / f.png))
        w, h = figure_size(shape.width, shape.height, text_width(section) * 635, text_height(section))
        shape.width, shape.height = Emu(w), Emu(h)
        shape._inline.docPr.set("descr", reader_text(f.alt_text))
        shape._inline.docPr.set("title", reader_text(f.title))
    _caption(document, "Figure", f.number, f.title, f.caption)


def _plan(t: StoryTable, header: list[str], rows: list[list[str]], document: Document) -> tuple[bool, TableFit]:
    """Portrait or landscape, and the fit: landscape when the story says the table is wide or when it cannot be
    set whole across a portrait page."""
    first = document.sections[0]
    portrait = text_width(first)
    across = (first.page_height - first.left_margin - first.right_margin) // 635
    if t.text_width <= LANDSCAPE_CHARS:
        fit = fit_table(header, rows, t.widths(), portrait)
        if fit.fits:
            return False, fit
    return True, fit_table(header, rows, t.widths(), across)


def _table(document: Document, t: StoryTable, styles: _Styles) -> None:
    """Caption above, then the table (or its column panels, each led by the first column)."""
    header = [c.heading.replace("_", " ") for c in t.columns]
    numeric = [numeric_column(t, j) for j in range(len(t.columns))]
    rows = [[reader_text(c) if right else c for c, right in zip(r, numeric)] for r in t.rows]
    landscape, fit = _plan(t, header, rows, document)
    _turn(document, landscape=landscape)
    parts = "" if fit.fits else f" Shown in {len(fit.panels)} parts, each led by the first column."
    caption = _caption(document, "Table", t.number, t.title, t.note + parts)
    caption.paragraph_format.keep_with_next = True
    caption.paragraph_format.space_before = Pt(14)  # room under what came before (a table ends with no paragraph)
    body = document.element.body
    for k, (cols, widths) in enumerate(fit.panels):
        if k:
            more = document.add_paragraph(f"Table {t.number}, continued (part {k + 1} of {len(fit.panels)}).")
            more.paragraph_format.keep_with_next = True
            more.paragraph_format.space_before = Pt(10)
            more.runs[0].italic = True
        body.sectPr.addprevious(table_element([header[j] for j in cols], [[r[j] for j in cols] for r in rows], widths,
                                              [numeric[j] for j in cols], fit.font_pt, text_style=styles.table_text,
                                              heading_style=styles.table_heading))


def _section(document: Document, params: Params, section: StorySection, styles: _Styles) -> None:
    _turn(document, landscape=False)
    _heading(document, section.heading, 1, new_page=True)
    for f in section.figures:
        _figure(document, params, f)
    for t in section.tables:
        _table(document, t, styles)


def _front(document: Document, story: Story, styles: _Styles) -> None:
    """The executive summary (each headline with the figure that shows it) and the findings by section."""
    if story.summary:
        _heading(document, "Executive summary", 1, new_page=True)
        for h in story.summary:
            figure = story.figure(h.figure_id)
            text = reader_text(h.text) + (f" (Figure\u00a0{figure.number})" if figure else "")
            document.add_paragraph(text).paragraph_format.space_after = Pt(8)
    _heading(document, "Key findings", 1, new_page=not story.summary)
    for group in story.findings:
        _heading(document, group.heading, 2)
        for sentence in group.sentences:
            _bullet(document, sentence, styles)


def _methods(document: Document, story: Story, styles: _Styles) -> None:
    _turn(document, landscape=False)
    _heading(document, "Methods and limitations", 1, new_page=True)
    _heading(document, "Methods", 2)
    for note in story.methods:
        p = document.add_paragraph()
        p.add_run(f"{note.label}: ").bold = True
        p.add_run(reader_text(note.text))
    p = document.add_paragraph()
    p.add_run("Disclosure rule: ").bold = True
    p.add_run(story.disclosure_note)
    if story.limitations:
        _heading(document, "Limitations", 2)
        for text in story.limitations:
            _bullet(document, text, styles)


def story_document(params: Params, story: Story) -> Document:
    """The performance story as a python-docx Document (what :func:`write_story_docx` saves)."""
    document, templated = _start(params)
    styles = _styles(document, own=not templated)
    if not templated or "paper" in (params.raw.get("report") or {}):  # a template keeps its page unless told
        set_paper(document.sections[0], params.report.get("paper") or "letter", margins=not templated)
    _margins(document, story, own=not templated)
    _properties(document, params, story)
    _title_page(document, params, story)
    _front(document, story, styles)
    for section in story.sections:
        _section(document, params, section, styles)
    _methods(document, story, styles)
    return document


def write_story_docx(params: Params, story: Story) -> Path:
    """Write ``funder/<cohort>_performance_story.docx``; return its path."""
    document = story_document(params, story)
    path = params.output_dir / FUNDER_DIR / docx_name(params)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    document.save(buffer)
    atomic_write(path, stable_zip(buffer.getvalue(), as_of_stamp(params)))
    return path
