"""Running a cohort: plan, validate, execute the notebooks, publish atomically; provenance, index page, regold."""
