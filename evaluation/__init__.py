"""CMM collaborative evaluation workbench.

Notebooks call plain functions here: ``load_cohort`` reads and validates a cohort folder, one module per
analysis (engagement, qualitative, outcomes, spc, survival, value) computes tables and result objects,
``figures`` draws and exports them, and ``runner`` executes every notebook for a cohort.
"""
from .errors import DataValidationError, EvaluationError, NotebookFailed, ParamsError
from .loading import Cohort, load_cohort
from .notebook import start
from . import figures, report  # noqa: E402  (notebooks call ev.figures.* and ev.report.*)
from .params import Params, from_namespace, load_params

__version__ = "0.1.0"
__all__ = [
    "Cohort", "DataValidationError", "EvaluationError", "NotebookFailed", "Params", "ParamsError",
    "from_namespace", "load_cohort", "load_params", "start", "__version__",
]
