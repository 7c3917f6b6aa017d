"""The funder pack: the performance story as a page, a Word file, a PDF and slides, the tables as a workbook,
the figure zip, and the read-back check.

:func:`build_funder_pack` lays out one :class:`~evaluation.report.contents.Story` as ``performance_story.html``
(:mod:`.story_html`), the DOCX (:mod:`.story_docx`), the PDF (:mod:`.story_pdf`) and the headline slides
(:mod:`.slides`); writes the funder tables as one workbook (:mod:`.workbook`) and ``funder/<cohort>_figures.zip``
(every figure file with the manifest and the disclosure rule); the suppressed CSVs are already in ``funder/``
(:mod:`.funder`). :func:`verify_pack` reads every file back so the report notebook shows that each figure,
section, table and headline made it in.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Mapping

import docx
import openpyxl
import pandas as pd
import pptx
import pypdf
from pptx.enum.shapes import MSO_SHAPE_TYPE

from evaluation.core.figures import MANIFEST_COLUMNS
from evaluation.core.outputs import atomic_write, neutralise_formulas
from evaluation.core.params import Params
from evaluation.stats.cell_suppression import SuppressedTable

from .contents import (STORY_FILE, Story, docx_name, figure_manifest, pdf_name, performance_story, slides_name,
                       workbook_name, zip_name)
from .findings import Findings
from .funder import FUNDER_DIR, README_FILE, suppression_note
from .slides import write_slides
from .story_docx import write_story_docx
from .story_html import write_story_html
from .story_pdf import write_story_pdf
from .workbook import write_funder_workbook

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # every zip entry's timestamp: the same figures give the same zip


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_figure_zip(params: Params) -> Path:
    """``funder/<cohort>_figures.zip``: every figure file (PNG, SVG, PDF) and ``manifest.csv`` (fixed timestamps,
    sorted entries: the same figures give the same zip)."""
    manifest = figure_manifest(params)
    path = params.output_dir / FUNDER_DIR / zip_name(params)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted({f for files in manifest["files"] for f in str(files).split(";") if f}):
            zf.writestr(_zip_entry(name), (params.output_dir / name).read_bytes())
        zf.writestr(_zip_entry("manifest.csv"),
                    neutralise_formulas(manifest[MANIFEST_COLUMNS]).to_csv(index=False, lineterminator="\n"))
        zf.writestr(_zip_entry(README_FILE), suppression_note(params) + "\n")
    atomic_write(path, buffer.getvalue())
    return path


def build_funder_pack(params: Params, findings: Findings | pd.DataFrame, tables: Mapping[str, SuppressedTable]) -> pd.DataFrame:
    """Write the performance story page, the DOCX and the figure zip; return what was written (relative paths)."""
    story = performance_story(params, findings, tables)
    written = [
        (write_story_html(params, story), "performance story page (linked first from index.html)"),
        (write_story_docx(params, story), "performance story for funders (Word)"),
        (write_story_pdf(params, story), "performance story for funders (PDF)"),
        (write_slides(params, story), "headline findings, one slide each with its figure (PowerPoint)"),
        (write_funder_workbook(params, tables), "funder tables, one sheet each (Excel)"),
        (write_figure_zip(params), "every figure (PNG 300 dpi, SVG, PDF) and manifest.csv"),
    ]
    written += [(params.output_dir / FUNDER_DIR / f"{name}.csv", "suppressed table") for name in tables]
    return pd.DataFrame([{"file": str(p.relative_to(params.output_dir)), "what": what} for p, what in written])


def _outline_titles(outline) -> list[str]:
    """Every bookmark title of a PDF outline (nested lists flattened)."""
    return [t for item in outline for t in (_outline_titles(item) if isinstance(item, list) else [item.title])]


def verify_pack(params: Params, findings: Findings | pd.DataFrame | None = None,
                tables: Mapping[str, SuppressedTable] | None = None) -> pd.DataFrame:
    """Read the pack back: every manifest figure is on the page, in the DOCX and the zip; the PDF has a bookmark
    per section; the workbook a sheet per funder table; the slides one per headline (with its picture).

    One row per check (check, expected, found, ok), so a notebook shows the acceptance of the pack. Without
    ``findings`` and ``tables`` the checks that need the story are left out.
    """
    folder = params.output_dir / FUNDER_DIR
    manifest = figure_manifest(params)
    page = (params.output_dir / STORY_FILE).read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', page)
    document = docx.Document(str(folder / docx_name(params)))
    with zipfile.ZipFile(folder / zip_name(params)) as zf:
        names = set(zf.namelist())
    files = {f for fs in manifest["files"] for f in str(fs).split(";") if f}
    rows = [
        ("figures in the manifest shown on the page", len(manifest), len(set(sources) & set(manifest["png"]))),
        ("images on the page whose file exists", len(sources), sum((params.output_dir / s).is_file() for s in sources)),
        ("figures in the DOCX", len(manifest), len(document.inline_shapes)),
        ("figure files in the zip (PNG, SVG, PDF)", len(files), len(files & names)),
        ("manifest.csv in the zip", 1, int("manifest.csv" in names)),
    ]
    if findings is not None and tables is not None:
        rows += _story_checks(params, performance_story(params, findings, tables))
    out = pd.DataFrame(rows, columns=["check", "expected", "found"])
    out["ok"] = out["expected"] == out["found"]
    return out


def _story_checks(params: Params, story: Story) -> list[tuple[str, int, int]]:
    """The PDF, workbook and slides read back against the story they were made from."""
    folder = params.output_dir / FUNDER_DIR
    pdf = pypdf.PdfReader(folder / pdf_name(params))
    bookmarks = set(_outline_titles(pdf.outline))
    book = openpyxl.load_workbook(folder / workbook_name(params), read_only=True)
    sheets = len(book.sheetnames)
    book.close()
    deck = pptx.Presentation(str(folder / slides_name(params)))
    slide_texts = [" ".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame) for slide in deck.slides]
    pictures = sum(1 for slide in deck.slides for sh in slide.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE)
    with_figure = [h for h in story.summary if story.figure(h.figure_id) is not None and story.figure(h.figure_id).png]
    return [
        ("section bookmarks in the PDF", len(story.sections), sum(s.heading in bookmarks for s in story.sections)),
        ("sheets in the workbook (About and one per funder table)", 1 + len(story.table_names), sheets),
        ("headline slides (one per sentence of the executive summary)", len(story.summary),
         sum(any(h.text[:60] in t for t in slide_texts) for h in story.summary)),
        ("figures on the headline slides", len(with_figure), pictures),
    ]
