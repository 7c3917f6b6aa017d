"""Leaves every layer may use: paths, the params schema, the data dictionary and its labels, problems, outputs (atomic writes, tables, figures), text formatters and the small-count rules.

Nothing here imports from the layers above (data, stats, analyses, report, run)."""
