"""Running a cohort: the plan and the order of the steps (``runner``), executing notebooks (``execute``), the
provenance record and input keys (``provenance``), the HTML pages (``pages``), publishing atomically inside the
reports root (``publishing``), the notebook list (``notebooks``), and refreshing the stored outputs (``regold``).

Imports nothing itself: worker processes import :mod:`evaluation.run.execute` and stay light.
"""
