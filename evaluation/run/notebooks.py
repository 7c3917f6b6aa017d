"""The workbench's notebooks: which there are, their short names, which read the others' tables, and what a run
records of each.

Light on purpose (the standard library and two leaf modules): the worker processes that execute notebooks
import it.
"""

from __future__ import annotations
from dataclasses import dataclass
from pathlib import Path
from evaluation.core.errors import EvaluationError
from evaluation.core.paths import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
GOLDEN_DIR = REPO_ROOT / "tests" / "goldens"  # one executed copy of each notebook: what nbval compares against
RUNS_LAST = ("report",)  # notebooks that read the others' tables: they run after every other notebook
COMPARE_NAME = "08_compare.ipynb"  # the comparison's notebook: run by `compare` on cohorts' reports, never in a cohort's run


@dataclass
class NotebookRun:
    """One notebook in a run: how it ended, how long it took, and the key of the inputs it ran on."""

    name: str
    path: str
    status: str = "pending"  # ran | reused (inputs unchanged) | kept (not chosen by --only) | failed
    seconds: float = 0.0
    error: dict | None = None
    input_key: str | None = None
    peak_memory_mb: float | None = None  # the notebook kernel's peak resident memory
    params_read: list[str] | None = None  # the params fields the notebook read (recorded as it ran)
    reuse_key: str | None = None  # the input key narrowed to those fields: what another run may reuse it by
    reused_from: str | None = None  # the report its outputs were copied from, when reused
    outputs: list[str] | None = None  # the files it wrote, relative to the report (noted as it ran)


def notebook_name(path: Path) -> str:
    """``01_engagement.ipynb`` -> ``engagement``."""
    stem = path.stem
    return stem.split("_", 1)[1] if stem[:2].isdigit() and "_" in stem else stem


def discover_notebooks(only: list[str] | None = None) -> list[Path]:
    """The cohort notebooks in order (not the comparison's); ``only`` picks by name (``engagement``) or file stem."""
    paths = sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb") if p.name != COMPARE_NAME)
    if not only:
        return paths
    chosen = [p for p in paths if notebook_name(p) in only or p.stem in only or p.name in only]
    unknown = set(only) - {notebook_name(p) for p in chosen} - {p.stem for p in chosen} - {p.name for p in chosen}
    if unknown:
        names = ", ".join(notebook_name(p) for p in paths)
        raise EvaluationError(f"--only: no notebook named {', '.join(sorted(unknown))}; the notebooks are: {names}")
    return chosen


def compare_notebooks() -> list[Path]:
    """The comparison's notebook, in a list (empty where there is none, as in a folder of test notebooks)."""
    path = NOTEBOOK_DIR / COMPARE_NAME
    return [path] if path.exists() else []


def runs_last(notebook: Path) -> bool:
    """Whether ``notebook`` reads the other notebooks' tables (the report notebook does)."""
    return notebook_name(notebook) in RUNS_LAST


def dependencies(notebook: Path, every: list[Path]) -> list[Path]:
    """The notebooks of ``every`` whose tables ``notebook`` reads, so they must run before it: for the report
    notebook every notebook that does not itself run last; for the others none."""
    return [p for p in every if not runs_last(p)] if runs_last(notebook) else []


def expected_cost(notebook: Path, previous: dict[str, dict]) -> tuple[float, int]:
    """How long a notebook is expected to take, to start the slowest first (the run ends sooner): its time in
    the last report, and before any report the size of its golden (tests/goldens/: its outputs are mostly figures)."""
    golden = GOLDEN_DIR / notebook.name
    return float(previous.get(notebook.name, {}).get("seconds") or 0), (golden if golden.exists() else notebook).stat().st_size
