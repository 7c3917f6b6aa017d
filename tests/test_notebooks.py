"""The notebooks: every one runs on a cohort with only the required tables (absent analyses are skipped with a
note, never an error; these run the cells in-process, fast), declares every params key, keeps its code cells
short, and its golden stores each figure as its caption in text, which the nbval regression tests compare. Run
alone, a notebook never writes into a published report."""
from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from evaluation.core.params import check
from evaluation.core.schema import SCHEMA
from evaluation.core.paths import REPO_ROOT, scratch_dir
from evaluation.data.start import in_reports, where_to_write
from evaluation.run.notebooks import NOTEBOOK_DIR, discover_notebooks
from evaluation.run.regold import golden_path
from tests.conftest import run_notebook_cells

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))  # the comparison's among them
COHORT_NOTEBOOKS = discover_notebooks()  # those a cohort's run executes, on its params
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
    """(cell index, text/plain, has an image) of every output the notebook's golden stores that shows something."""
    return [(i, "".join(out.get("data", {}).get("text/plain", "")), "image/png" in out.get("data", {}))
            for i, cell in code_cells(golden_path(path)) for out in cell.get("outputs", []) if "data" in out]


@pytest.mark.parametrize("notebook", COHORT_NOTEBOOKS, ids=[p.stem for p in COHORT_NOTEBOOKS])
def test_notebook_runs_on_the_required_tables_only(notebook, tiny_cohort):
    shown, namespace = run_notebook_cells(notebook, cohort_id="tiny", data_dir=str(tiny_cohort), as_of="2016-12-31")
    assert namespace["params"].cohort_id == "tiny"
    assert shown, "the notebook showed nothing"


def test_notebook_parameters_cells_name_every_params_key():
    """papermill injects each key of a params file; every cohort notebook declares all of them."""
    for path in COHORT_NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        declared = {line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line and not line.startswith("#")}
        assert declared == {"params_file", *SCHEMA}, f"{path.name}: {({'params_file', *SCHEMA}) ^ declared}"


def bound_names(source: str) -> set[str]:
    """The names a cell's code binds at its top level: assignments and imports (``import a.b as c`` binds c)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def test_bound_names_sees_imports_and_assignments():
    assert bound_names("import evaluation as ev\nfrom evaluation import report\nx, (y, z) = 1, (2, 3)\n") == \
        {"ev", "report", "x", "y", "z"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_cell_rebinds_a_params_key(notebook):
    """A cell that binds a params key's name (``from evaluation import report``) replaces the value papermill
    injected for it before ``ev.start`` reads it: the runner's resolved section (a variant's ``--set
    report.paper=a4``) would be lost for the file's."""
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"
             and "parameters" not in c.metadata.get("tags", [])]
    rebound = sorted({name for c in cells for name in bound_names(c.source) if name in SCHEMA})
    assert rebound == [], f"{notebook.name} binds params keys {rebound}: import or name them otherwise"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_code_cells_are_short(notebook):
    """No code cell (the parameters cell aside) is longer than a few lines: no stitching, no loops in notebooks."""
    long = {i: n for i, cell in code_cells(notebook)
            if (n := sum(1 for line in cell.source.splitlines() if line.strip())) > MAX_CELL_LINES}
    assert long == {}, f"{notebook.name}: cells longer than {MAX_CELL_LINES} lines (cell: lines): {long}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_figures_are_stored_with_their_captions_as_text(notebook):
    """Every figure its golden stores has as text its id, panel count, title and caption (what nbval compares;
    it skips images), never a bare matplotlib repr that says nothing about what the figure shows."""
    figures = [(i, text) for i, text, image in shown_texts(notebook) if image or FIGURE_REPR.search(text)]
    bare = sorted({i for i, text in figures if not SHOWN_FIGURE.fullmatch(text.strip())})
    assert bare == [], f"tests/goldens/{notebook.name}: cells {bare} store a figure without its caption as text"
    captioned = {i for i, text in figures if SHOWN_FIGURE.fullmatch(text.strip())}
    silent = [i for i, cell in code_cells(notebook) if "ev.show(" in cell.source and i not in captioned]
    assert silent == [], f"tests/goldens/{notebook.name}: cells {silent} show a figure but store no caption"


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
                assert sanitize(text) == text, f"tests/goldens/{path.name} cell {i}: the sanitizer changes a figure"


def test_only_a_runners_staging_folder_is_written_as_given(reports_root, tmp_path):
    """A notebook writes to the output_dir it is given only when that is a runner's staging folder; the
    published report, a variant's folder, the runner's other folders and an unset output_dir all become
    reports/scratch/<cohort_id>/."""
    staging = reports_root / ".staging" / "c-20240101T000000-1"
    scratch = reports_root / "scratch" / "c"
    for given, expected in [(staging, staging), (staging / "sub", staging / "sub"), (None, scratch),
                            (reports_root / "c", scratch), (reports_root / "variants" / "c" / "v", scratch),
                            (reports_root / ".trash" / "c", scratch), (reports_root / "mine", scratch)]:
        params = check({"cohort_id": "c", "data_dir": str(tmp_path), **({"output_dir": str(given)} if given else {})})
        assert where_to_write(params) == expected, given
    assert scratch_dir("c") == scratch


def test_the_folder_a_notebook_names_is_no_machine_path(monkeypatch, tmp_path):
    """What a notebook run alone prints names the reports root as README does, or by the variable that moved it."""
    monkeypatch.delenv("CMM_REPORTS_DIR")
    assert in_reports(scratch_dir("demo")) == "reports/scratch/demo"
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "r"))
    assert in_reports(tmp_path / "r" / "scratch" / "demo") == "$CMM_REPORTS_DIR/scratch/demo"
    assert in_reports(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of a folder, by relative path, with its bytes and modification time (a file rewritten with
    the same bytes shows too)."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_notebook_told_to_write_into_the_published_report_writes_to_scratch(small_report, reports_root, capsys):
    """What the issue saw in JupyterLab: a notebook run alone with `ci_method = "log"` and output_dir the
    published report (as `papermill -f` with a params file naming it injects). The report keeps every byte;
    the tables and figures go to reports/scratch/<cohort_id>/, and the notebook says so."""
    shutil.copytree(small_report.parent / "reports", reports_root)
    published = reports_root / "small"
    before = snapshot(published)
    assert "provenance.json" in before and "tables/data_quality.csv" in before
    _, namespace = run_notebook_cells(NOTEBOOK_DIR / "00_data_quality.ipynb", params_file=str(small_report),
                                      output_dir=str(published), ci_method="log")
    assert namespace["params"].output_dir == reports_root / "scratch" / "small"
    assert namespace["params"].ci_method == "log"
    assert snapshot(published) == before
    written = snapshot(reports_root / "scratch" / "small")
    assert "tables/data_quality.csv" in written and any(name.startswith("figures/") for name in written)
    said = capsys.readouterr().out
    assert "writes its tables and figures to $CMM_REPORTS_DIR/scratch/small and not to $CMM_REPORTS_DIR/small " in said
