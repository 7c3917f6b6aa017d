"""Where things are: the repository root, the reports root, and how a path written in params resolves.

A leaf module (no imports from the package), so every layer can ask for a path without import cycles.
"""

from __future__ import annotations
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORTS_ENV = "CMM_REPORTS_DIR"  # overrides the reports root (tests point it at a temporary folder)
DEMO_PARAMS = "params/demo.yaml"  # what a notebook opened with no params at all runs on
# the workbench's own folders inside the reports root: runs being built (and failed runs kept for inspection),
# replaced reports on their way out, and the journal of publishes in progress; never a report's output_dir
STAGING_DIR, TRASH_DIR, JOURNAL_DIR = ".staging", ".trash", ".publishing"
WORKBENCH_DIRS = (STAGING_DIR, TRASH_DIR, JOURNAL_DIR)
SCRATCH_DIR = "scratch"  # reports/scratch/<cohort_id>/: what a notebook run alone (Lab, papermill) writes


def resolve_path(value: str | os.PathLike) -> Path:
    """A path as written in params: absolute, or relative to the repository root."""
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else (REPO_ROOT / p)


def reports_root() -> Path:
    """Where cohort reports go: ``reports/`` in the repository, or $CMM_REPORTS_DIR."""
    env = os.environ.get(REPORTS_ENV)
    return Path(env) if env else REPO_ROOT / "reports"


def scratch_dir(cohort_id: str) -> Path:
    """Where a notebook run on its own writes: never the published report, which belongs to the runner."""
    return reports_root() / SCRATCH_DIR / cohort_id


def within_reports_root(path: str | os.PathLike) -> bool:
    """Whether ``path`` lies strictly inside the reports root (``..`` resolved; the last part may be a link)."""
    root = Path(os.path.abspath(reports_root()))
    target = Path(os.path.abspath(path))
    return target != root and root in target.parents


def workbench_dir(path: str | os.PathLike) -> str | None:
    """The workbench folder of the reports root (``.staging``, ``.trash``, ``.publishing``) that ``path`` is or
    lies in, else None."""
    root = Path(os.path.abspath(reports_root()))
    target = Path(os.path.abspath(path))
    if target == root or root not in target.parents:
        return None
    first = target.relative_to(root).parts[0]
    return first if first in WORKBENCH_DIRS else None


def shown_path(path: str | os.PathLike) -> str:
    """A path as a reader should see it: relative to the repository root when inside it (a relative path is one
    inside the repository, as :func:`resolve_path` reads it, whatever the working folder)."""
    p = resolve_path(path)
    try:
        return str(p.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)
