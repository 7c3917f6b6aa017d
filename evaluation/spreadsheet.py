"""Text cells a spreadsheet would run as a formula, made inert before any CSV or workbook meant for people.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets skip
before reading one of those) is a formula to Excel, LibreOffice and Google Sheets: a team named
``=HYPERLINK("http://...")`` would run when the table is opened. The OWASP advice is followed: such a cell is
prefixed with an apostrophe, which spreadsheets show as text and never evaluate. Numbers are left alone
(``-0.5`` is a number, not a formula, in a numeric column or written as text).

A leaf module: every writer of a table can use it without import cycles.
"""
from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
INERT_PREFIX = "'"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


def neutralise_text(value):
    """One cell made inert: text starting like a formula gets a leading apostrophe; anything else (a number
    written as text, such as ``-0.5``, included) as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _is_number(value):
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
