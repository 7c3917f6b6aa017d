"""Refresh the goldens: the stored outputs the nbval regression tests compare against, one executed copy of each
notebook in ``tests/goldens/``.

Why goldens kept apart from the working notebooks: JupyterLab stores a notebook's outputs whenever it is saved,
so if nbval compared against ``notebooks/*.ipynb`` itself, running and saving a notebook in Lab (on another
cohort, with another ``ci_method``) would silently rewrite what the tests check. Stripping outputs on save
instead (a Lab hook or a git filter) would leave nothing to compare against and depends on each user's set-up.
So the working notebooks are kept without outputs (their diffs show code only, and a Lab save changes nothing
the tests read), and the goldens change only here, by ``make regold``, in a folder whose diff is the review of
an intended change. ``tests/test_goldens.py`` fails when a notebook's cells and its golden's differ (a notebook
edited without a regold).

Each requested notebook is executed from ``notebooks/`` in a kernel with its own default parameters (the demo
cohort), in the goldens folder as nbval runs it, writing its tables and figures to a throw-away reports folder;
the executed copy, outputs kept, becomes its golden: exactly what nbval sees. ``notebooks/`` is never written.
A notebook that reads the other notebooks' tables (the report notebook) finds them as it does in a full run or
under nbval: the notebooks it depends on run first into the same folder, in this process and without touching
their goldens (only their tables and figures are wanted). Run it after an intended change and review the diff
of ``tests/goldens/`` before committing.
"""

from __future__ import annotations
import os
import tempfile
from pathlib import Path
from typing import Callable
from evaluation.core.errors import NotebookFailed
from evaluation.core.paths import REPORTS_ENV
from .execute import execute_in_process, kernel_name
from .kernels import CELL_TIMEOUT_SECONDS
from .notebooks import COMPARE_NAME, GOLDEN_DIR, compare_notebooks, dependencies, discover_notebooks, runs_last



def golden_path(notebook: Path) -> Path:
    """Where the golden of ``notebook`` (a working notebook, or its name) is kept."""
    return GOLDEN_DIR / Path(notebook).name


def regold_order(requested: list[Path], every: list[Path]) -> tuple[list[Path], list[Path]]:
    """(the notebooks to run only for the tables a requested one reads, the requested notebooks), each list in
    the order it runs: the notebooks that read the others' tables last."""
    names = {p.name for p in requested}
    needed = {d.name for p in requested for d in dependencies(p, every)} - names
    return [p for p in every if p.name in needed], sorted(requested, key=runs_last)


def _requested(names: list[str]) -> list[Path]:
    """The notebooks named (the comparison's among them: it brings the cohorts' reports it reads up to date itself,
    so it needs no other notebook run first)."""
    aliases = (COMPARE_NAME, Path(COMPARE_NAME).stem, "compare")
    rest = [n for n in names if n not in aliases]
    return (discover_notebooks(rest) if rest else []) + (compare_notebooks() if set(aliases) & set(names) else [])


def regold(notebooks: list[str] | None = None, say: Callable[[str], None] = print) -> int:
    """Write the goldens of ``notebooks`` (paths or names of working notebooks, or of their goldens; default:
    every notebook, and a golden whose notebook is gone is removed); raise :class:`NotebookFailed` when a
    notebook run only for its tables fails."""
    import nbformat
    from nbclient import NotebookClient

    every = discover_notebooks()
    requested = _requested([Path(p).name for p in notebooks]) if notebooks else every + compare_notebooks()
    first, paths = regold_order(requested, every)
    kernel = kernel_name()
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cmm-regold-") as reports:
        previous = os.environ.get(REPORTS_ENV)
        os.environ[REPORTS_ENV] = reports  # this process and the kernels write to the throw-away folder
        try:
            for path in first:
                done = execute_in_process(str(path), str(Path(reports) / path.name), {})
                if done["status"] != "ok":
                    err = done["error"]
                    error = NotebookFailed(f"notebooks/{path.name}", err["cell_index"], err["ename"], err["evalue"],
                                           err["source"])
                    error.traceback = err["traceback"]
                    raise error
                say(f"ran {path} for its tables ({done['seconds']:.1f} s; its golden unchanged)")
            for path in paths:
                nb = nbformat.read(path, as_version=4)
                NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT_SECONDS,
                               resources={"metadata": {"path": str(GOLDEN_DIR)}}).execute()
                for cell in nb.cells:
                    cell.get("metadata", {}).pop("execution", None)
                nb.metadata.pop("papermill", None)
                nbformat.write(nb, golden_path(path))
                say(f"refreshed {golden_path(path)}")
        finally:
            if previous is None:
                os.environ.pop(REPORTS_ENV, None)
            else:
                os.environ[REPORTS_ENV] = previous
    if not notebooks:
        for stale in sorted(set(GOLDEN_DIR.glob("*.ipynb")) - {golden_path(p) for p in every + compare_notebooks()}):
            stale.unlink()
            say(f"removed {stale}: no notebook of that name")
    return 0
