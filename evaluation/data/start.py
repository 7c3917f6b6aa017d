"""What every notebook does first: resolve params, set display options, load and validate the cohort."""

from __future__ import annotations
import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping
import pandas as pd
from evaluation.core.errors import ParamsError
from evaluation.core.params import Params, check_against_data, from_namespace
from evaluation.core.params_read import PARAMS_READ_VARIABLE, record_params_reads
from evaluation.core.paths import REPORTS_ENV, STAGING_DIR, reports_root, scratch_dir, shown_path, workbench_dir
from .cohort import Cohort
from .loading import load_validated
from .validation import last_recorded_date

DISPLAY_OPTIONS = {
    "display.precision": 3,  # stable, readable numbers (and stable nbval outputs)
    "display.max_rows": 60,
    "display.max_columns": 30,
    "display.width": 120,
}


def resolve_with_data(params: Params, cohort: Cohort) -> Params:
    """The params once the data are read: settings that name things in the data are checked (every problem at
    once, as a :class:`ParamsError`), and ``as_of`` left out of the params becomes the last recorded date."""
    problems = check_against_data(params, cohort.tables)
    if problems:
        raise ParamsError.many(problems, path=params.source)
    # inside a run the runner has resolved as_of already: the data are scanned for their last date only once
    return params if params.as_of is not None else params.with_data_dates(last_recorded_date(cohort.tables))


def where_to_write(params: Params) -> Path:
    """The folder a notebook writes its tables and figures to: the ``output_dir`` it was given when that is a
    runner's staging folder (inside the reports root's ``.staging/``), else ``reports/scratch/<cohort_id>/``.

    Only the runner writes the published report: it checks the files against what it published and re-runs
    what changed. A notebook run alone (JupyterLab, papermill) that wrote there, even when told to by an
    ``output_dir`` in its params, would leave the tables of one setting beside the story of another."""
    if workbench_dir(params.output_dir) == STAGING_DIR:
        return params.output_dir
    return scratch_dir(params.cohort_id)


def in_reports(path: Path) -> str:
    """A folder of the reports root as a reader should see it: ``reports/scratch/demo``, or
    ``$CMM_REPORTS_DIR/scratch/demo`` when the root is moved (so a notebook's outputs name no machine path)."""
    root, target = Path(os.path.abspath(reports_root())), Path(os.path.abspath(path))
    if not os.environ.get(REPORTS_ENV) or root not in target.parents:
        return shown_path(target)
    return f"${REPORTS_ENV}/{target.relative_to(root).as_posix()}"


def start(namespace: Mapping[str, Any]) -> tuple[Params, Cohort]:
    """Params from the notebook's variables (papermill injects them) and the validated cohort.

    The params resolve exactly as the runner resolves them (:func:`evaluation.core.params.from_namespace`, then
    :func:`resolve_with_data`). Raises :class:`~evaluation.core.errors.DataValidationError` naming file, row and
    column when the data has errors, so a notebook never analyses data that failed validation. Run on its own,
    a notebook writes to ``reports/scratch/<cohort_id>/`` whatever ``output_dir`` says (see
    :func:`where_to_write`) and prints where. Inside a run, the cohort the runner validated is reused (when its
    inputs are unchanged) instead of being read again, and every params field the notebook reads from here on is
    recorded for the runner's reuse (:func:`evaluation.core.params_read.record_params_reads`).
    """
    record = os.environ.get(PARAMS_READ_VARIABLE)
    if record:  # set by the runner for this notebook only
        record_params_reads(record)
    for key, value in DISPLAY_OPTIONS.items():
        pd.set_option(key, value)
    params = from_namespace(namespace)
    folder = where_to_write(params)
    if folder != params.output_dir:  # run alone (JupyterLab, papermill): the published report is the runner's
        print(f"Run alone, this notebook writes its tables and figures to {in_reports(folder)} and not to "
              f"{in_reports(params.output_dir)} since only `python -m evaluation run` publishes reports.")
        params = dataclasses.replace(params, output_dir=folder)
    params.output_dir.mkdir(parents=True, exist_ok=True)
    cohort = load_validated(params)
    return resolve_with_data(params, cohort), cohort
