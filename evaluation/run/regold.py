"""Refresh the outputs stored in the notebooks, which the nbval regression tests compare against.

Each requested notebook is executed in a kernel with its own default parameters (the demo cohort), writing its
tables and figures to a throw-away reports folder, and its outputs are stored in place: exactly what nbval
sees. A notebook that reads the other notebooks' tables (the report notebook) finds them as it does in a full
run or under nbval: the notebooks it depends on run first into the same folder, in this process and without
touching their stored outputs (only their tables and figures are wanted). Run it after an intended change
(``make regold``) and review the diff before committing.
"""

from __future__ import annotations
import os
import tempfile
from pathlib import Path
from typing import Callable
from evaluation.core.errors import NotebookFailed
from evaluation.core.paths import REPO_ROOT, REPORTS_ENV
from .execute import CELL_TIMEOUT_SECONDS, execute_in_process, kernel_name
from .notebooks import dependencies, discover_notebooks, runs_last


def regold_order(requested: list[Path], every: list[Path]) -> tuple[list[Path], list[Path]]:
    """(the notebooks to run only for the tables a requested one reads, the requested notebooks), each list in
    the order it runs: the notebooks that read the others' tables last."""
    names = {p.name for p in requested}
    needed = {d.name for p in requested for d in dependencies(p, every)} - names
    return [p for p in every if p.name in needed], sorted(requested, key=runs_last)


def regold(notebooks: list[str] | None = None, say: Callable[[str], None] = print) -> int:
    """Refresh the stored outputs of ``notebooks`` (default: every notebook); raise :class:`NotebookFailed`
    when a notebook run only for its tables fails."""
    import nbformat
    from nbclient import NotebookClient

    every = discover_notebooks()
    first, paths = regold_order([Path(p) for p in notebooks] if notebooks else every, every)
    kernel = kernel_name()
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
                say(f"ran {path} for its tables ({done['seconds']:.1f} s; stored outputs unchanged)")
            for path in paths:
                nb = nbformat.read(path, as_version=4)
                NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT_SECONDS,
                               resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
                for cell in nb.cells:
                    cell.get("metadata", {}).pop("execution", None)
                nb.metadata.pop("papermill", None)
                nbformat.write(nb, path)
                say(f"refreshed {path}")
        finally:
            if previous is None:
                os.environ.pop(REPORTS_ENV, None)
            else:
                os.environ[REPORTS_ENV] = previous
    return 0
