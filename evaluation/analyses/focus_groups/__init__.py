"""Notebook 02, focus groups and interviews: ``compute`` (which codings count, the theme table and its
exemplar quotes, presence by team, track and phase, co-occurrence), ``reliability`` (inter-rater
reliability per code), ``figures`` (one figure spec per chart) and ``findings`` (the report's sentences)."""
