"""Writing and reading the report's files: atomic writes, the tables a notebook saves, and formula-safe cells.

:func:`save_table` writes ``tables/<name>.csv`` (what ``ev.save_table`` is); :func:`read_table` reads one back
for the findings; :func:`atomic_write` is how every file of a report is written (readers see the old or the
new content, never half of it). Under the runner, each file a notebook writes is noted in a record of its
outputs (:func:`note_written`), so that a notebook run again in a report assembled from another starts without
the files it wrote there: a figure it no longer draws is not left behind.

Text cells a spreadsheet would run as a formula are made inert before any CSV or workbook meant for people:
a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets skip
before reading one of those) is a formula to Excel, LibreOffice and Google Sheets, so a team named
``=HYPERLINK("http://...")`` would run when the table is opened. The OWASP advice is followed: such a cell is
prefixed with an apostrophe, which spreadsheets show as text and never evaluate. Numbers are left alone
(``-0.5`` is a number, not a formula, in a numeric column or written as text).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from .params import Params

FLOAT_FORMAT = "%.10g"
# the file a notebook process notes the files it writes in (one path a line); the runner sets it per notebook
OUTPUTS_VARIABLE = "CMM_OUTPUTS_WRITTEN"


def note_written(path: Path) -> None:
    """Note ``path`` in the record of this notebook's outputs, when the runner asked for one: as a path
    relative to the report folder the record is in (``<report>/logs/outputs/<notebook>.txt``)."""
    record = os.environ.get(OUTPUTS_VARIABLE)
    if not record:
        return
    report = Path(record).parents[2]
    try:
        name = Path(os.path.abspath(path)).relative_to(os.path.abspath(report)).as_posix()
    except ValueError:
        return  # written outside the report (a notebook run alone): not an output of the report
    with open(record, "a", encoding="utf-8") as fh:
        fh.write(name + "\n")


def save_table(df: pd.DataFrame, target: Params | str | Path, name: str) -> pd.DataFrame:
    """Write ``df`` to ``tables/<name>.csv`` (atomic) and return it, so a notebook cell can show it.

    A table with no rows is written with its header; one with no columns is a mistake in the analysis
    (readers could not tell what it was), so it is refused.
    """
    if len(df.columns) == 0:
        raise ValueError(f"table {name!r} has no columns: an analysis must write its header even when it has no rows")
    folder = Path(target.output_dir if isinstance(target, Params) else target) / "tables"
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    # a team named "=HYPERLINK(...)" must not run when the table is opened in a spreadsheet
    out = neutralise_formulas(out)
    atomic_write(folder / f"{name}.csv", out.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n"))
    return df


def read_table(params: Params | str | Path, name: str) -> pd.DataFrame | None:
    """A table a notebook saved (``tables/<name>.csv`` of the report), or None when it is absent or empty."""
    path = Path(params.output_dir if isinstance(params, Params) else params) / "tables" / f"{name}.csv"
    if not path.exists():
        return None
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:  # a table written before headers were required
        return None
    return df if len(df.columns) else None


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a file so that readers see the old or the new content, never half of it.

    A temporary file in the same folder is renamed over the target; it gets the usual permissions
    (mkstemp would leave it readable by its owner only).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, path)
    note_written(path)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
INERT_PREFIX = "'"


def _numeric_text(text: str) -> bool:
    """Is the text a number as written (``-0.5``), with no space around it?"""
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


def neutralise_text(value):
    """One cell made inert: text starting like a formula gets a leading apostrophe; anything else (a number
    written as text, such as ``-0.5``, included) as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _numeric_text(value):
        return INERT_PREFIX + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` in which no text cell (nor column name) would run as a formula in a spreadsheet.

    Only text columns are touched, so numbers keep their type and their sign.
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_text)
    out.columns = [neutralise_text(c) for c in out.columns]
    return out
