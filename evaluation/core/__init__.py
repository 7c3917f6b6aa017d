"""The leaves every layer may use; nothing here imports from the layers above (data, stats, analyses, report, run).

- :mod:`.paths` (repository and reports folders), :mod:`.errors` (the exception family, bounded echoes of data
  values), :mod:`.version`;
- :mod:`.dictionary` (the data dictionary: every table's columns and checks), :mod:`.problems` (the
  data-quality table);
- :mod:`.schema` (every params key with its default, allowed values and meaning), :mod:`.goals`,
  :mod:`.params` (reading and checking a params file);
- :mod:`.labels` (one label per measure and code, report sections), :mod:`.columns` (each result-table
  column's label, unit and format; cells as text), :mod:`.text` (formatters), :mod:`.groups`
  (subgroups, team caps), :mod:`.disclosure` (the small-count rules), :mod:`.identifiers` (the quote screen);
- :mod:`.outputs` (atomic writes, saved tables) and :mod:`.figures` (house style, figure specs, export).
"""
