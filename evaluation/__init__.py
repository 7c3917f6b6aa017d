"""CMM collaborative evaluation workbench.

The package runs one way, each layer using only those before it: ``core`` (paths, params, the data
dictionary, labels, outputs) ← ``data`` (reading and validating a cohort) ← ``stats`` (cohort-agnostic
estimators) ← ``analyses`` (one package per notebook: compute, figures, findings) ← ``report`` (findings,
funder tables, the disclosure gate, the documents) ← ``run`` (plan, execute, publish).

A notebook starts with ``params, cohort = ev.start(globals())``, saves a table with ``ev.save_table`` and
shows a figure with ``ev.show(spec, params)``. The heavy parts load on first use, so the command line starts fast.
"""
from __future__ import annotations

import importlib
from typing import Any

from .core.errors import DataValidationError, EvaluationError, NotebookFailed, ParamsError
from .core.params import Params, from_namespace, load_params
from .core.version import __version__

_LAZY = {"Cohort": "data.cohort", "load_cohort": "data.loading", "start": "data.start",
         "save_table": "core.outputs", "show": "core.figures"}
_SUBPACKAGES = {"core", "data", "stats", "analyses", "report", "run"}
__all__ = [
    "Cohort", "DataValidationError", "EvaluationError", "NotebookFailed", "Params", "ParamsError",
    "from_namespace", "load_cohort", "load_params", "save_table", "show", "start", "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
