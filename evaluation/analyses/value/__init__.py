"""Value and return on investment (notebook 05): ``compute`` (acute-care use before and after enrollment, cost
avoided, ROI, its sensitivity, MTPs), ``figures`` (each chart with its caption) and ``findings`` (the report's
sentences from tables/value.csv)."""
