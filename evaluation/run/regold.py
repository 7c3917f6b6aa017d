"""Refresh the outputs stored in the notebooks, which the nbval regression tests compare against.

Each notebook is executed in place with its own default parameters (the demo cohort), writing its
tables and figures to a throw-away folder, so the stored outputs are exactly what nbval will see.
Run it after an intended change (``make regold``) and review the diff before committing.
"""

from __future__ import annotations
import os
import tempfile
from pathlib import Path
from evaluation.core.paths import REPORTS_ENV, REPO_ROOT
from .runner import NOTEBOOK_DIR, _kernel_name


def regold(notebooks: list[str] | None = None) -> int:
    import nbformat
    from nbclient import NotebookClient

    paths = [Path(p) for p in notebooks] if notebooks else sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    kernel = _kernel_name()
    with tempfile.TemporaryDirectory(prefix="cmm-regold-") as reports:
        previous = os.environ.get(REPORTS_ENV)
        os.environ[REPORTS_ENV] = reports  # the kernel inherits it: outputs go to the temp folder
        try:
            for path in paths:
                nb = nbformat.read(path, as_version=4)
                NotebookClient(nb, kernel_name=kernel, timeout=1800,
                               resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
                for cell in nb.cells:
                    cell.get("metadata", {}).pop("execution", None)
                nb.metadata.pop("papermill", None)
                nbformat.write(nb, path)
                print(f"refreshed {path}")
        finally:
            if previous is None:
                os.environ.pop(REPORTS_ENV, None)
            else:
                os.environ[REPORTS_ENV] = previous
    return 0
