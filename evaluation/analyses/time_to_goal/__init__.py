"""Time to goal (notebook 04): how long patients who start above goal take to reach it, and how long MTPs take
to be confirmed resolved.

``compute`` (the follow-up rule), ``kaplan_meier`` (medians and shares by group), ``cox``, ``competing``
(cumulative incidence), ``mtp`` (MTP resolution), ``figures`` (each figure with its caption; the Kaplan-Meier
drawing is ``km_chart``) and ``findings`` (the report's sentences).
"""
