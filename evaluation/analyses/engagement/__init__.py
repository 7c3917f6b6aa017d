"""Engagement (notebook 01): attendance at collaborative events, the accountability pathway, the engagement
score, whether engagement goes with results, and progress on IHI's assessment scale. ``attendance`` and
``milestones`` count what each team did, ``compute`` scores teams and relates the score to results,
``assessments`` follows the teams' monthly scale ratings, ``figures`` draws the charts with their captions and
``findings`` gives the report its sentences."""
