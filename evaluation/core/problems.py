"""The data-quality table: every problem found in a cohort's data, one row each (``table, row, column,
severity, problem``), collected as the readers and rules find them and reported all at once.

``row`` is the row as a spreadsheet shows it (the header is row 1). Severity: *error* stops the run, *warning*
is worth a look, *note* is for information. Every message is bounded here, whatever value built it.
"""

from __future__ import annotations

import pandas as pd

from .dictionary import load_dictionary
from .errors import shown_value

QUALITY_COLUMNS = ["table", "row", "column", "severity", "problem"]
MESSAGE_LIMIT = 400  # a message longer than this was built from an unbounded value: cut it (a backstop)
COLUMN_LIMIT = 200  # the same for the column field (a REFI-QDA element's locator is longer than a cell's echo)


class Problems:
    """Collects data-quality rows as they are found."""

    def __init__(self) -> None:
        self._rows: list[dict] = []
        # A table's file -> the workbook and sheet it was read from: rows are filed under the file (so every
        # rule finds them) and shown under the workbook.
        self.labels: dict[str, str] = {}

    def add(self, table: str, row, column: str | None, severity: str, problem: str) -> None:
        """One data-quality row. The column (a header cell of the file, for a repeated one) and the message
        are bounded here too, whatever built them."""
        self._rows.append({"table": table, "row": row,
                           "column": shown_value(column, limit=COLUMN_LIMIT) if column else "",
                           "severity": severity, "problem": shown_value(problem, limit=MESSAGE_LIMIT)})

    def add_rows(self, table: str, rows, column: str | None, severity: str, problems) -> None:
        """Add one problem per row; ``problems`` is one string or one per row."""
        rows = list(rows)
        texts = [problems] * len(rows) if isinstance(problems, str) else list(problems)
        for r, text in zip(rows, texts):
            self.add(table, r, column, severity, text)

    def table(self) -> pd.DataFrame:
        """The data-quality table: errors first, whole-file problems before rows, files in dictionary order."""
        df = pd.DataFrame(self._rows, columns=QUALITY_COLUMNS)
        df["row"] = df["row"].astype("Int64")
        severity = {"error": 0, "warning": 1, "note": 2}
        files = {spec.file: i for i, spec in enumerate(load_dictionary().values())}
        # errors first; within them, whole-file problems first, then files in dictionary order, then rows
        df = df.assign(_sev=df["severity"].map(severity), _whole=df["row"].notna(),
                       _file=df["table"].map(files).fillna(len(files))).sort_values(
            ["_sev", "_whole", "_file", "table", "row", "column"], kind="stable").drop(columns=["_sev", "_whole", "_file"])
        if self.labels:
            df["table"] = df["table"].replace(self.labels)
        return df.reset_index(drop=True)

    def has_error(self, table: str, row=None, column: str | None = None) -> bool:
        """Is there already an error for this file (and row and column, when given)?"""
        return any(r["severity"] == "error" and r["table"] == table
                   and (row is None or r["row"] == row) and (column is None or r["column"] == column)
                   for r in self._rows)

    def error_cells(self, table: str) -> set[tuple]:
        """(row, column) of every error already filed for this file (a cell reported once, not twice)."""
        return {(r["row"], r["column"]) for r in self._rows if r["table"] == table and r["severity"] == "error"}

    def error_rows(self, table: str, column: str) -> set[int]:
        """The rows of this file whose cell in ``column`` already has an error (to avoid a second error
        about the same mistake)."""
        return {int(r["row"]) for r in self._rows if r["severity"] == "error" and r["table"] == table
                and r["column"] == column and r["row"] is not None and not pd.isna(r["row"])}

    @property
    def has_errors(self) -> bool:
        """Is any problem an error (so the run stops)?"""
        return any(r["severity"] == "error" for r in self._rows)
