"""One exception family for the workbench, with structured fields (papermill's habit).

Catch :class:`EvaluationError` to catch anything the workbench raises on purpose.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .dictionary import table_file

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SHOWN_LIMIT = 80  # characters of a data value a message echoes
# Characters escaped when a value is echoed: the C0 controls (tab, newline and carriage return too: a message
# is one line), the other invisible ones (DEL, the C1 controls, line and paragraph separators) and the
# noncharacters U+FFFE and U+FFFF.
_ESCAPED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_C0_NAMES = ("NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "bell", "backspace", "tab", "newline",
             "vertical tab", "form feed", "carriage return", "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK",
             "SYN", "ETB", "CAN", "EM", "SUB", "escape", "file separator", "group separator", "record separator",
             "unit separator")


class EvaluationError(Exception):
    """Root of every error the workbench raises on purpose."""


class ParamsError(EvaluationError):
    """A params file is missing, malformed, or has a bad key or value."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None,
                 problems: list[tuple[str, str]] | None = None):
        self.path = path
        self.key = key
        self.problems = problems if problems is not None else [(key or "", message)]  # (key, message) pairs
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{message}")

    @classmethod
    def many(cls, problems: list[tuple[str, str]], path: str | None = None) -> "ParamsError":
        """One error listing every problem found (key, message), so all are fixed in one go."""
        if len(problems) == 1:
            return cls(problems[0][1], path=path, key=problems[0][0], problems=problems)
        lines = "\n  - ".join(message for _, message in problems)
        return cls(f"{len(problems)} problems in the params:\n  - {lines}", path=path, key=problems[0][0],
                   problems=problems)


class DataValidationError(EvaluationError):
    """The cohort data has errors; ``problems`` is the full data-quality table."""

    def __init__(self, problems: "pd.DataFrame", data_dir: str = "", max_lines: int = 20):
        self.problems = problems
        self.data_dir = data_dir
        errors = problems[problems["severity"] == "error"]
        lines = [format_problem(row, data_dir) for row in errors.head(max_lines).itertuples(index=False)]
        more = len(errors) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more error(s); see the data-quality table")
        super().__init__(
            f"{len(errors)} data error(s) in {data_dir or 'the cohort folder'}; fix them and run again:\n  "
            + "\n  ".join(lines)
        )


class NotebookFailed(EvaluationError):
    """A notebook raised while the runner executed it."""

    def __init__(self, notebook: str, cell_index: int | None, error_name: str, error_value: str,
                 source: str = "", output_path: str = ""):
        self.notebook = notebook
        self.cell_index = cell_index
        self.error_name = error_name
        self.error_value = error_value
        self.source = source
        self.output_path = output_path
        cell = f"cell {cell_index}" if cell_index is not None else "an unknown cell"
        super().__init__(f"{notebook} failed in {cell}: {error_name}: {error_value}")


def code_point(char: str) -> str:
    """A character as ``U+000B``, the way a message names an invisible character."""
    return f"U+{ord(char):04X}"


def character_name(char: str) -> str:
    """``U+000B (vertical tab)``: the code point and, for a control character, its name."""
    code = ord(char)
    name = _C0_NAMES[code] if code < 32 else {0x7F: "DEL", 0xFFFE: "noncharacter", 0xFFFF: "noncharacter"}.get(code)
    return f"{code_point(char)} ({name})" if name else code_point(char)


def shown_value(value, limit: int = SHOWN_LIMIT) -> str:
    """A data value as a message echoes it: at most ``limit`` characters, then "…", with control characters
    written as ``[U+000B]``.

    Every value from the data that goes into a message passes here, so a 10-MB cell or an invisible
    character can never make a message unreadable or break the report that shows it.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit and not _ESCAPED.search(text):
        return text
    head = text[: limit + 1]  # each character shows as at least one: no need to look further
    out: list[str] = []
    size = 0
    for char in head:
        piece = f"[{code_point(char)}]" if _ESCAPED.match(char) else char
        if size + len(piece) > limit:
            return "".join(out) + "…"
        out.append(piece)
        size += len(piece)
    return "".join(out)


def format_problem(row, data_dir: str = "") -> str:
    """One data-quality row as 'file, row N, column C: problem'."""
    import pandas as pd  # imported here: the command line imports this module and should start fast

    file = table_file(row.table)
    file = shown_value(file, limit=200)  # a workbook's label holds a sheet name from the file
    parts = [f"{data_dir.rstrip('/')}/{file}" if data_dir and not file.startswith("/") else file]
    if not pd.isna(row.row) and str(row.row) != "":
        parts.append(f"row {int(row.row)}")
    if row.column:
        parts.append(f"column '{shown_value(row.column, limit=200)}'")  # a REFI-QDA locator is longer than 80
    return ", ".join(parts) + f": {row.problem}"
