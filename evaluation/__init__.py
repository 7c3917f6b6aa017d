"""CMM collaborative evaluation workbench.

Notebooks call plain functions here: ``load_cohort`` reads and validates a cohort folder, one module per
analysis (engagement, qualitative, outcomes, spc, survival, value) computes tables and result objects,
``figures`` draws and exports them, and ``runner`` executes every notebook for a cohort.

The heavy parts (pandas, pandera, matplotlib) load on first use, so the command line starts fast.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import DataValidationError, EvaluationError, NotebookFailed, ParamsError
from .params import Params, from_namespace, load_params

__version__ = "0.1.0"
_LAZY = {"Cohort": "loading", "load_cohort": "loading", "start": "notebook"}
_SUBMODULES = {"figures", "report", "loading", "notebook"}  # notebooks call ev.figures.* and ev.report.*
__all__ = [
    "Cohort", "DataValidationError", "EvaluationError", "NotebookFailed", "Params", "ParamsError",
    "from_namespace", "load_cohort", "load_params", "start", "figures", "report", "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
