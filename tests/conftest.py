"""Shared fixtures: a tiny valid cohort folder built by hand, and a temporary reports root."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from evaluation.data.synth import generate_cohort
from evaluation.run.runner import run

TINY = {
    "teams.csv": (
        "team_id,team_name,state,setting,track,joined_on\n"
        "T01,Prairie Creek Pharmacy,IA,community_pharmacy,initial,2015-01-15\n"
        "T02,Lakeside Drug,MN,community_pharmacy,advanced,2015-01-15\n"
    ),
    "patients.csv": (
        "patient_id,team_id,enrolled_on,sex,birth_year,exited_on,exit_reason,diabetes,hypertension\n"
        "P001,T01,2015-02-01,F,1950,,,1,0\n"
        "P002,T01,2015-02-10,M,1961,2015-09-01,died,1,1\n"
        "P003,T02,2015-03-01,F,1948,,,0,1\n"
    ),
    "measurements.csv": (
        "patient_id,measure,measured_on,value\n"
        "P001,a1c,2015-01-20,9.1\n"
        "P001,a1c,2015-05-20,7.6\n"
        "P002,a1c,2015-02-10,10.2\n"
        "P002,sbp,2015-02-10,150\n"
        "P002,dbp,2015-02-10,95\n"
        "P003,sbp,2015-03-01,148\n"
        "P003,dbp,2015-03-01,88\n"
        "P003,sbp,2015-06-01,132\n"
        "P003,dbp,2015-06-01,82\n"
    ),
}


def write_cohort(folder: Path, files: dict[str, str]) -> Path:
    """Write ``{relative name: text}`` as a cohort folder (text written byte for byte)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return folder


@pytest.fixture
def tiny_cohort(tmp_path: Path) -> Path:
    """A valid three-patient cohort with only the required tables."""
    return write_cohort(tmp_path / "tiny", TINY)


@pytest.fixture(autouse=True)
def _reports_in_tmp(tmp_path: Path, monkeypatch) -> None:
    """Every test's reports root is its own temporary folder: the workbench writes nowhere else, so a test's
    ``output_dir`` under ``tmp_path`` lies inside it."""
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path))


@pytest.fixture
def reports_root(tmp_path: Path, monkeypatch) -> Path:
    """Point the reports root at a temporary folder for the test."""
    root = tmp_path / "reports"
    monkeypatch.setenv("CMM_REPORTS_DIR", str(root))
    return root


def run_notebook_cells(notebook: Path, **parameters) -> tuple[list, dict]:
    """Run a notebook's code cells in this process, as papermill would with ``parameters`` injected.

    Returns what each cell shows (its last expression) and the final namespace. Fast (no kernel), for
    tests of a notebook on a small or unusual cohort.
    """
    import ast

    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    namespace: dict = {"display": lambda *args, **kwargs: None}
    shown = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(parameters)
        if last is not None:
            shown.append(eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace))
    return shown, namespace


@pytest.fixture(scope="session")
def small_report(tmp_path_factory) -> Path:
    """A finished report of a small synthetic cohort dated 2022-2024 (4 teams of 12-30 patients, every table),
    run once per test session in process. Returns its params file; the report is ``reports/small`` under the
    fixture's own reports root. Copy the report before writing into it."""
    root = tmp_path_factory.mktemp("small_report")
    data = root / "data"
    generate_cohort(data, seed=41, n_teams=4, patients_per_team=(12, 30), start="2022-03-01")
    params_file = root / "small.yaml"
    params_file.write_text(f"cohort_id: small\ndata_dir: {data}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CMM_REPORTS_DIR", str(root / "reports"))
        run(params_file, in_process=True, say=lambda _: None)
    return params_file


def write_notebook(folder: Path, name: str, *cells: str) -> Path:
    """A notebook with a parameters cell (``cohort_id = None``) and ``cells``, written to ``folder/name``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("cohort_id = None", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / name
    nbformat.write(nb, path)
    return path
