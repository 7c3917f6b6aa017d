"""The performance story as a Word file for funders: ``funder/<cohort>_performance_story.docx``.

It lays out the same :class:`~evaluation.report.contents.Story` as the page (:mod:`.story_html`): findings,
then per section every figure (alt text on the picture, caption under it) and every suppressed table; wide
tables get a landscape page of their own. The file is dated by the data's as-of date, not the run.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from evaluation.core.outputs import atomic_write
from evaluation.core.params import Params

from .contents import Story, StoryFigure, StoryTable, docx_name
from .funder import FUNDER_DIR

WIDE_TABLE_COLUMNS = 9  # wider tables get a landscape page of their own in the DOCX
TABLE_FONT_PT = 7


def _orientation(document, *, landscape: bool) -> None:
    """Start a new page in landscape (or back in portrait)."""
    from docx.enum.section import WD_ORIENT, WD_SECTION

    section = document.add_section(WD_SECTION.NEW_PAGE)
    width, height = section.page_width, section.page_height
    if (width > height) != landscape:
        section.page_width, section.page_height = height, width
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT


def _figure(document, params: Params, f: StoryFigure) -> None:
    from docx.shared import Inches

    if f.png:  # a draft run may export no PNG ($CMM_FIGURE_FORMATS): the caption still goes in
        document.add_picture(str(params.output_dir / f.png), width=Inches(6.0))
        picture = document.inline_shapes[-1]
        picture._inline.docPr.set("descr", f.alt_text)  # alt text for screen readers
        picture._inline.docPr.set("title", f.title)
    caption = document.add_paragraph()
    caption.add_run(f"Figure {f.number}. {f.title}. ").bold = True
    caption.add_run(f.caption)


def _table(document, t: StoryTable) -> None:
    from docx.shared import Pt

    wide = len(t.header) > WIDE_TABLE_COLUMNS
    if wide:
        _orientation(document, landscape=True)
    caption = document.add_paragraph()
    caption.add_run(f"Table {t.number}. {t.title}. ").bold = True
    caption.add_run(t.note)
    table = document.add_table(rows=1 + len(t.rows), cols=len(t.header))
    table.style = "Table Grid"
    # row by row: table.cell(i, j) rebuilds the whole grid on every call (quadratic in the rows)
    for row, texts in zip(table.rows, [t.header, *t.rows]):
        for cell, text in zip(row.cells, texts):
            cell.text = text
            for p in cell.paragraphs:
                for run in p.runs:
                    run.font.size = Pt(TABLE_FONT_PT)
    if wide:
        _orientation(document, landscape=False)


def write_story_docx(params: Params, story: Story) -> Path:
    """Write ``funder/<cohort>_performance_story.docx``; return its path."""
    import docx
    from docx.shared import Pt

    document = docx.Document()
    document.core_properties.title = f"{story.title}: performance story"
    document.core_properties.author = "CMM evaluation workbench"
    stamp = dt.datetime.combine(params.as_of, dt.time())
    document.core_properties.created = stamp
    document.core_properties.modified = stamp
    document.styles["Normal"].font.size = Pt(10)
    document.add_heading(story.title, level=0)
    document.add_paragraph(f"Performance story of cohort {story.cohort_id}, data as of {story.as_of}.")
    document.add_paragraph(story.disclosure_note)
    document.add_heading("Key findings", level=1)
    for sentence in (s for g in story.findings for s in g.sentences):
        document.add_paragraph(sentence, style="List Bullet")
    for section in story.sections:
        document.add_heading(section.heading, level=1)
        for f in section.figures:
            _figure(document, params, f)
        for t in section.tables:
            _table(document, t)
    document.add_heading("About these numbers", level=1)
    document.add_paragraph(story.disclosure_note)
    path = params.output_dir / FUNDER_DIR / docx_name(params)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = tempfile.SpooledTemporaryFile()
    document.save(buffer)
    buffer.seek(0)
    atomic_write(path, buffer.read())
    return path
