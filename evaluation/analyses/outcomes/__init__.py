"""Notebook 03, outcome change and run charts: ``compute`` (baseline/follow-up pairs, the change table, the
mixed model, team change, INR time in therapeutic range), ``run_charts`` (Anhøj runs analysis and control
limits of the monthly reports), ``figures`` and ``run_chart_figures`` (each chart with its caption), and
``findings`` (the report's sentences)."""
