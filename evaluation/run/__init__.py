"""Running a cohort: the plan and the order of the steps (``runner``), executing notebooks (``execute``) in warm
kernels (``kernels``, ``kernel_state``), the provenance record and input keys (``provenance``), the HTML pages
(``pages``), publishing atomically inside the reports root (``publishing``), the notebook list (``notebooks``), and
refreshing the stored outputs (``regold``).

Imports nothing itself: worker processes import :mod:`evaluation.run.execute` and stay light. One thing it does:
jsonschema, which nbformat imports, compiles an IRI grammar on import (0.7-2.5 s in every process: the runner, each
worker) for a string format that notebook validation never checks, so these processes go without it.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # `import rfc3987_syntax` fails: jsonschema leaves the format out
