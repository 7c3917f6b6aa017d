"""The notebooks: every one runs on a cohort with only the required tables (absent analyses are skipped with a
note, never an error; these run the cells in-process, fast), declares every params key, keeps its code cells
short, and stores each figure as its caption in text, which the nbval regression tests compare."""
from __future__ import annotations

import re

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from evaluation.core.schema import SCHEMA
from evaluation.core.paths import REPO_ROOT
from evaluation.run.notebooks import NOTEBOOK_DIR
from tests.conftest import run_notebook_cells

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
MAX_CELL_LINES = 6  # a notebook cell is a call or two; what takes longer belongs in the package
# what ev.show displays as text: "Figure <id> (N panels)", the title, the caption
SHOWN_FIGURE = re.compile(r"Figure (?P<id>[\w-]+) \((?P<panels>\d+) panels?\)\n(?P<title>[^\n]+)\n(?P<caption>\S.*)",
                          re.DOTALL)
FIGURE_REPR = re.compile(r"<Figure size [\d.]+x[\d.]+ with \d+ Axes>")


def code_cells(path):
    """The notebook's code cells but the parameters cell (which lists every params key, one a line)."""
    nb = nbformat.read(path, as_version=4)
    return [(i, c) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]


def shown_texts(path):
    """(cell index, text/plain, has an image) of every stored output of the notebook that shows something."""
    return [(i, "".join(out.get("data", {}).get("text/plain", "")), "image/png" in out.get("data", {}))
            for i, cell in code_cells(path) for out in cell.get("outputs", []) if "data" in out]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_required_tables_only(notebook, tiny_cohort, tmp_path):
    shown, namespace = run_notebook_cells(notebook, cohort_id="tiny", data_dir=str(tiny_cohort),
                                          output_dir=str(tmp_path / "out"), as_of="2016-12-31")
    assert namespace["params"].cohort_id == "tiny"
    assert shown, "the notebook showed nothing"


def test_notebook_parameters_cells_name_every_params_key():
    """papermill injects each key of a params file; every notebook declares all of them."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        declared = {line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line and not line.startswith("#")}
        assert declared == {"params_file", *SCHEMA}, f"{path.name}: {({'params_file', *SCHEMA}) ^ declared}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_code_cells_are_short(notebook):
    """No code cell (the parameters cell aside) is longer than a few lines: no stitching, no loops in notebooks."""
    long = {i: n for i, cell in code_cells(notebook)
            if (n := sum(1 for line in cell.source.splitlines() if line.strip())) > MAX_CELL_LINES}
    assert long == {}, f"{notebook.name}: cells longer than {MAX_CELL_LINES} lines (cell: lines): {long}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_figures_are_stored_with_their_captions_as_text(notebook):
    """Every stored figure's text is its id, panel count, title and caption (what nbval compares; it skips
    images), never a bare matplotlib repr that says nothing about what the figure shows."""
    figures = [(i, text) for i, text, image in shown_texts(notebook) if image or FIGURE_REPR.search(text)]
    bare = sorted({i for i, text in figures if not SHOWN_FIGURE.fullmatch(text.strip())})
    assert bare == [], f"{notebook.name}: cells {bare} store a figure without its caption as text"
    captioned = {i for i, text in figures if SHOWN_FIGURE.fullmatch(text.strip())}
    silent = [i for i, cell in code_cells(notebook) if "ev.show(" in cell.source and i not in captioned]
    assert silent == [], f"{notebook.name}: cells {silent} show a figure but store no caption"


def test_the_regression_sanitizer_erases_paths_and_times_but_no_caption():
    """nbval replaces these patterns before comparing: paths, timestamps, durations and addresses go; every
    stored figure text (panel count, title, caption) passes through unchanged."""
    patterns = get_sanitize_patterns((REPO_ROOT / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8"))

    def sanitize(text: str) -> str:
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    assert sanitize("wrote /home/me/reports/demo/tables/a.csv at 2024-01-02T03:04:05Z in 12.3 s") == \
        "wrote <PATH> at <TIMESTAMP> in <DURATION>"
    assert sanitize("<object at 0x7f12ab34cd56>") == "<object at <ADDRESS>>"
    caption = "Figure outcomes_forest (3 panels)\nChange in HbA1c\nIn the 1990s, 3 sites; patient/home visits; 20s."
    assert sanitize(caption) == caption
    for path in NOTEBOOKS:
        for i, text, _ in shown_texts(path):
            if SHOWN_FIGURE.fullmatch(text.strip()):
                assert sanitize(text) == text, f"{path.name} cell {i}: the sanitizer changes a figure's text"
