"""The funder pack: the performance story page and Word file, the figure zip, and the read-back check.

:func:`build_funder_pack` writes ``performance_story.html`` (:mod:`.story_html`), the DOCX (:mod:`.story_docx`)
from one :class:`~evaluation.report.contents.Story`, and ``funder/<cohort>_figures.zip`` (every figure file with
the manifest and the disclosure rule); the suppressed tables are already in ``funder/`` (:mod:`.funder`).
:func:`verify_pack` reads the pack back so the report notebook shows that every figure made it in.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Mapping

import pandas as pd

from evaluation.core.figures import MANIFEST_COLUMNS
from evaluation.core.outputs import atomic_write, neutralise_formulas
from evaluation.core.params import Params
from evaluation.stats.cell_suppression import SuppressedTable

from .contents import STORY_FILE, docx_name, figure_manifest, performance_story, zip_name
from .findings import Findings
from .funder import FUNDER_DIR, README_FILE, suppression_note
from .story_docx import write_story_docx
from .story_html import write_story_html

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
        (write_figure_zip(params), "every figure (PNG 300 dpi, SVG, PDF) and manifest.csv"),
    ]
    written += [(params.output_dir / FUNDER_DIR / f"{name}.csv", "suppressed table") for name in tables]
    return pd.DataFrame([{"file": str(p.relative_to(params.output_dir)), "what": what} for p, what in written])


def verify_pack(params: Params) -> pd.DataFrame:
    """Read the pack back: every manifest figure is in the DOCX and the zip, and every image of the page loads.

    One row per check (check, expected, found, ok), so a notebook shows the acceptance of the pack.
    """
    import docx

    manifest = figure_manifest(params)
    page = (params.output_dir / STORY_FILE).read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', page)
    document = docx.Document(str(params.output_dir / FUNDER_DIR / docx_name(params)))
    with zipfile.ZipFile(params.output_dir / FUNDER_DIR / zip_name(params)) as zf:
        names = set(zf.namelist())
    files = {f for fs in manifest["files"] for f in str(fs).split(";") if f}
    rows = [
        ("figures in the manifest shown on the page", len(manifest), len(set(sources) & set(manifest["png"]))),
        ("images on the page whose file exists", len(sources), sum((params.output_dir / s).is_file() for s in sources)),
        ("figures in the DOCX", len(manifest), len(document.inline_shapes)),
        ("figure files in the zip (PNG, SVG, PDF)", len(files), len(files & names)),
        ("manifest.csv in the zip", 1, int("manifest.csv" in names)),
    ]
    out = pd.DataFrame(rows, columns=["check", "expected", "found"])
    out["ok"] = out["expected"] == out["found"]
    return out
