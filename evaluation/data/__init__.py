"""Reading a cohort: the file readers (CSV and workbooks), validation against the data dictionary, the validated
cohort, the qualitative tables (CSV or REFI-QDA), the synthetic cohort generator and a notebook's start.

- :mod:`.readers` finds each table's file or sheet and reads it as text cells; :mod:`.loading` parses them by
  the dictionary, runs the cross-table rules of :mod:`.validation` and returns a :class:`.cohort.Cohort`;
- :mod:`.qualitative`, :mod:`.refi_qda`: the qualitative tables, from CSVs or a REFI-QDA project;
- :mod:`.synth`: deterministic synthetic cohorts (the demo, or a statewide one);
- :mod:`.start`: ``ev.start(globals())``, a notebook's first line.
"""
