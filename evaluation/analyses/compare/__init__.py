"""Across cohorts and cycles (notebook 07): ``cohorts`` (the cohorts' published tables), ``side_by_side`` (the
headline table and the differences with their CIs), ``funnels`` (teams against the collaborative, Spiegelhalter
limits), ``pooling`` (random-effects meta-analysis of team changes, the caterpillar of team effects), ``cycles``
(the collaborative's monthly measures, a row per cycle) and ``findings`` (the sentences)."""
