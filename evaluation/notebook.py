"""What every notebook does first: check params, set display options, load and validate the cohort."""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from .loading import Cohort, load_validated
from .params import Params, from_namespace

DISPLAY_OPTIONS = {
    "display.precision": 3,  # stable, readable numbers (and stable nbval outputs)
    "display.max_rows": 60,
    "display.max_columns": 30,
    "display.width": 120,
}


def start(namespace: Mapping[str, Any]) -> tuple[Params, Cohort]:
    """Params from the notebook's variables (papermill injects them) and the validated cohort.

    Raises :class:`~evaluation.errors.DataValidationError` naming file, row and column when the data
    has errors, so a notebook never analyses data that failed validation. Inside a run, the cohort the
    runner validated is reused (when its inputs are unchanged) instead of being read again.
    """
    for key, value in DISPLAY_OPTIONS.items():
        pd.set_option(key, value)
    params = from_namespace(namespace)
    params.output_dir.mkdir(parents=True, exist_ok=True)
    return params, load_validated(params)
