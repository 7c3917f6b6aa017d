"""Cohort overview (notebook 00): the data-quality problems, the teams, patients per team, the measurements
and each patient's follow-up. ``compute`` builds the tables, ``figures`` draws the two cohort charts with their
captions and ``findings`` gives the report its sentence about the cohort."""
