"""The cohort report: what the report notebook calls, one module per concern.

* :mod:`.findings`: the key findings and the executive summary, one findings function per report section (each
  analysis owns its own); :mod:`.methods`: methods and limitations;
* :mod:`.funder`: the funder-table registry and the suppressed tables in ``funder/``;
* :mod:`.contents`: the performance story as one sequence of sections (figures placed by their section), and
  the names of the funder pack's files;
* its layouts: :mod:`.story_html` (``performance_story.html``), :mod:`.story_docx` with :mod:`.docx_parts` (Word),
  :mod:`.story_pdf` (PDF, typeset by Typst), :mod:`.slides` (the headline slides); :mod:`.workbook` (the funder
  tables as one Excel workbook); :mod:`.ooxml` (fixed dates inside Office files);
* :mod:`.pack`: the figure zip, the whole funder pack and its read-back check;
* :mod:`.gate` (with :mod:`.gate_rules`, the rules for one table or text, :mod:`.gate_tables`, a laid-out table
  tied back to its CSV, and :mod:`.extract`, what a funder reads in each kind of file): the disclosure gate.

The notebook's calls are importable from here (``from evaluation import report``; ``report.key_findings``);
each module loads on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"key_findings": "findings", "Findings": "findings", "funder_tables": "funder", "suppress_like": "funder",
         "figure_manifest": "contents", "performance_story": "contents", "build_funder_pack": "pack",
         "verify_pack": "pack", "write_figure_zip": "pack", "check_funder_outputs": "gate", "DisclosureError": "gate"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'evaluation.report' has no attribute {name!r}")
