"""Engagement (notebook 01): attendance at collaborative events, the accountability pathway, the engagement
score and whether engagement goes with results. ``attendance`` and ``milestones`` count what each team did,
``compute`` scores teams and relates the score to results, ``figures`` draws the charts with their captions and
``findings`` gives the report its sentences."""
