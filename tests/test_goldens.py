"""The goldens (tests/goldens/, what nbval compares against) are kept apart from the working notebooks: each
golden has its notebook's cells, and a regold writes the goldens only."""
from __future__ import annotations

import nbformat
import pytest

from evaluation.run import notebooks, regold
from evaluation.run.notebooks import NOTEBOOK_DIR
from evaluation.run.regold import GOLDEN_DIR

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
REGOLD_HINT = "run `make regold NOTEBOOKS=notebooks/{name}` and review the diff of tests/goldens/ before committing"


def cell_key(cell) -> tuple[str, str, tuple[str, ...]]:
    """What a golden must share with its notebook: the cell's type, its source and its tags (papermill's
    ``parameters``, nbval's markers)."""
    return cell.cell_type, cell.source, tuple(cell.get("metadata", {}).get("tags", []))


def cell_differences(notebook: nbformat.NotebookNode, golden: nbformat.NotebookNode) -> list[str]:
    """Where the golden's cells differ from the notebook's, in words (empty when they are the same)."""
    mine, stored = [cell_key(c) for c in notebook.cells], [cell_key(c) for c in golden.cells]
    out = [f"cell {i}: {'the ' + part if part != 'cell_type' else 'its type'} differs"
           for i, (a, b) in enumerate(zip(mine, stored))
           for part, x, y in zip(("cell_type", "source", "tags"), a, b) if x != y]
    if len(mine) != len(stored):
        out.append(f"the notebook has {len(mine)} cells, its golden {len(stored)}")
    return out


def stored_outputs(nb: nbformat.NotebookNode) -> list[int]:
    """Indexes of the code cells that store an output or an execution count."""
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]


def test_every_notebook_has_a_golden_and_every_golden_a_notebook():
    names = {p.name for p in NOTEBOOKS}
    goldens = {p.name for p in GOLDEN_DIR.glob("*.ipynb")}
    assert names, "no notebooks found"
    assert not names - goldens, f"notebooks without a golden: {sorted(names - goldens)}; run `make regold`"
    assert not goldens - names, (f"goldens without a notebook: {sorted(goldens - names)}; `make regold` removes them "
                                 "(or delete them from tests/goldens/)")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_golden_has_the_notebooks_cells(notebook):
    """A notebook edited without a regold: nbval would compare the new code with the old outputs."""
    golden = GOLDEN_DIR / notebook.name
    if not golden.exists():
        pytest.fail(f"tests/goldens/{notebook.name} is missing: {REGOLD_HINT.format(name=notebook.name)}")
    differences = cell_differences(nbformat.read(notebook, as_version=4), nbformat.read(golden, as_version=4))
    assert differences == [], (f"notebooks/{notebook.name} was changed since its golden was written "
                               f"({'; '.join(differences)}): {REGOLD_HINT.format(name=notebook.name)}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_golden_is_executed(notebook):
    """The golden holds every code cell's outputs (a cell never executed compares nothing). The working
    notebook may hold outputs a Lab save left: they are never compared, so they fail nothing."""
    golden = nbformat.read(GOLDEN_DIR / notebook.name, as_version=4)
    unexecuted = [i for i, c in enumerate(golden.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    assert unexecuted == [], f"tests/goldens/{notebook.name}: cells {unexecuted} were not executed; run `make regold`"
    assert any(c.get("outputs") for c in golden.cells), f"tests/goldens/{notebook.name} stores no output"


def test_cell_differences_name_the_cell_that_changed():
    """Worked by hand: a notebook of three cells whose golden has the second cell's old source, then a golden
    missing the last cell, then one whose parameters cell lost its tag."""
    cells = [nbformat.v4.new_markdown_cell("# T"),
             nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("x + 1")]
    notebook = nbformat.v4.new_notebook(cells=cells)
    golden = nbformat.v4.new_notebook(cells=[cells[0], cells[1], nbformat.v4.new_code_cell("x + 2", outputs=[
        nbformat.v4.new_output("execute_result", {"text/plain": "3"}, execution_count=2)])])
    assert cell_differences(notebook, golden) == ["cell 2: the source differs"]
    assert cell_differences(notebook, nbformat.v4.new_notebook(cells=cells[:2])) == [
        "the notebook has 3 cells, its golden 2"]
    untagged = nbformat.v4.new_notebook(cells=[cells[0], nbformat.v4.new_code_cell("x = 1"), cells[2]])
    assert cell_differences(notebook, untagged) == ["cell 1: the tags differs"]
    assert cell_differences(notebook, nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell("# T"), *cells[1:]])) \
        == ["cell 0: its type differs"]
    # outputs and execution counts are not the cells' content: a golden differs from its notebook only by them
    executed = nbformat.v4.new_notebook(cells=[*cells[:2], nbformat.v4.new_code_cell("x + 1", execution_count=2)])
    assert cell_differences(notebook, executed) == [] and stored_outputs(executed) == [2]


def test_regold_writes_the_golden_and_leaves_the_working_notebook_untouched(tmp_path, monkeypatch):
    """A tiny notebook regolded in a kernel: its golden stores the outputs (the kernel ran in the goldens
    folder, as under nbval), the working notebook keeps its bytes, nothing else is written beside them, and a
    golden whose notebook is gone is removed. Then the notebook is edited and regolded by its golden's path
    (`make regold NOTEBOOKS=tests/goldens/...`): the golden is refreshed from the working notebook."""
    work, goldens = tmp_path / "notebooks", tmp_path / "goldens"
    work.mkdir()
    goldens.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 20", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import os\nprint(os.getcwd())"),
        nbformat.v4.new_code_cell("x + 1")])
    nbformat.write(nb, work / "00_hello.ipynb")
    (goldens / "09_gone.ipynb").write_text("{}")
    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", work)
    monkeypatch.setattr(regold, "GOLDEN_DIR", goldens)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and goldens not in p.parents}
    said = []
    assert regold.regold(say=said.append) == 0
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and goldens not in p.parents} == before
    assert sorted(p.name for p in goldens.iterdir()) == ["00_hello.ipynb"]
    golden = nbformat.read(goldens / "00_hello.ipynb", as_version=4)
    assert [c.source for c in golden.cells] == [c.source for c in nb.cells]
    assert golden.cells[1].outputs[0]["text"] == f"{goldens}\n"
    assert golden.cells[2].outputs[0]["data"]["text/plain"] == "21"
    assert said == [f"refreshed {goldens / '00_hello.ipynb'}",
                    f"removed {goldens / '09_gone.ipynb'}: no notebook of that name"]
    edited = nbformat.read(work / "00_hello.ipynb", as_version=4)
    edited.cells[2].source = "x + 2"
    nbformat.write(edited, work / "00_hello.ipynb")
    assert regold.regold([str(goldens / "00_hello.ipynb")], say=said.append) == 0
    assert nbformat.read(goldens / "00_hello.ipynb", as_version=4).cells[2].outputs[0]["data"]["text/plain"] == "22"
    assert stored_outputs(nbformat.read(work / "00_hello.ipynb", as_version=4)) == []
