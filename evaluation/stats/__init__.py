"""Cohort-agnostic estimators and tests (Kaplan-Meier, Aalen-Johansen, log-rank, paired tests, mixed model, rates,
random-effects meta-analysis, differences between groups, agreement, runs rules, cell suppression, funnel plots),
each tested against R or a published value."""
