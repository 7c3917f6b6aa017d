"""Every notebook runs on a cohort with only the required tables: absent analyses are skipped with a
note, never an error. (The nbval tests cover the full demo; these run the cells in-process, fast.)"""
from __future__ import annotations

import pytest

from evaluation.run.runner import NOTEBOOK_DIR
from tests.conftest import run_notebook_cells

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_required_tables_only(notebook, tiny_cohort, tmp_path):
    shown, namespace = run_notebook_cells(notebook, cohort_id="tiny", data_dir=str(tiny_cohort),
                                          output_dir=str(tmp_path / "out"), as_of="2016-12-31")
    assert namespace["params"].cohort_id == "tiny"
    assert shown, "the notebook showed nothing"


def test_notebook_parameters_cells_name_every_params_key():
    """papermill injects each key of a params file; every notebook declares all of them."""
    import nbformat

    from evaluation.core.params import SCHEMA

    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        declared = {line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line and not line.startswith("#")}
        assert declared == {"params_file", *SCHEMA}, f"{path.name}: {({'params_file', *SCHEMA}) ^ declared}"
