"""How a result-table column reads: its label, unit and number format, and each cell as text.

:func:`column_format` looks a column up in ``data_dictionary/results.yaml`` (a table's own entry first, then
the column's default); a column it does not list gets a humanised label and a format guessed from its name,
so a new column shows sensibly before anyone describes it. :func:`format_cell` writes one cell the way
every funder output prints it: thousands separators, the column's decimals, a true minus sign (U+2212) for
negatives, p-values, money and percentages by the formatters of :mod:`.text`, codes by their labels
(:func:`~evaluation.core.labels.code_label`), suppression marks (``<11``, ``*``) and other text as they are,
and a dash for a blank.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np
import pandas as pd

from .dictionary import RESULTS_FILE, load_results
from .labels import code_label, humanise
from .text import as_number, format_days, format_money, format_p, format_percent, format_share

MINUS = "\u2212"  # a true minus sign: does not break a line after it, as a hyphen does
BLANK = "\u2013"  # an en dash: an empty cell
# Formats of results.yaml (`format:`); the ones with decimals are written `number:2`.
KINDS = ("count", "number", "percent", "share", "money", "p_value", "ratio", "days", "text", "code")
DEFAULT_DECIMALS = {"number": 2, "percent": 1, "share": 0, "ratio": 2}
NUMERIC = frozenset(KINDS) - {"text", "code"}
# A column results.yaml does not list: (test on the name, format), first match wins.
_GUESSES = (
    (re.compile(r"^p_value$|_p$|^p$"), "p_value"),
    (re.compile(r"multiplier|_ratio$"), "ratio:2"),
    (re.compile(r"pct|percent"), "percent:1"),
    (re.compile(r"share"), "share:0"),
    (re.compile(r"cost|return|amount|dollars|roi_per_patient"), "money"),
    (re.compile(r"_rate$"), "number:1"),
    (re.compile(r"days"), "days"),
    (re.compile(r"^(?:n|count|patients|events|rank)$|^n_|_(?:count|patients|events)$"), "count"),
)


@dataclass(frozen=True)
class ColumnFormat:
    """One column as a reader sees it: its ``label`` and ``unit`` (the header is ``Label (unit)``), its
    format ``kind`` (one of :data:`KINDS`) with ``decimals``, what a ``blank`` cell says, whether a measure
    code carries its unit (``code_unit``), and whether ``results.yaml`` lists it (``known``)."""

    column: str
    label: str
    unit: str = ""
    kind: str = "number"
    decimals: int = 2
    blank: str = BLANK
    code_unit: bool = False
    known: bool = True

    @property
    def heading(self) -> str:
        """The header cell: ``Median time to goal (days)``, or the label alone when there is no unit."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def numeric(self) -> bool:
        """Whether the column holds numbers (right-aligned in every layout)."""
        return self.kind in NUMERIC

    @property
    def stored_decimals(self) -> int | None:
        """The decimals a table keeps so that it prints as the unrounded value does (a share shown as 86%
        keeps 0.86); None for p-values (kept as their text), text and codes."""
        return {"count": 0, "money": 0, "days": 1, "share": self.decimals + 2}.get(
            self.kind, self.decimals if self.kind in ("number", "percent", "ratio") else None)

    @property
    def number_format(self) -> str:
        """The spreadsheet number format of the column (``#,##0.00``, ``0%``, ``"$"#,##0``), negatives with a
        true minus sign; ``@`` (text) for p-values, text and codes."""
        places = "." + "0" * self.decimals if self.decimals else ""
        positive = {"count": "#,##0", "number": f"#,##0{places}", "ratio": f"0{places}", "percent": f'#,##0{places}"%"',
                    "share": f"0{places}%", "days": "#,##0"}.get(self.kind)
        if self.kind == "money":
            return f'"$"#,##0;"{MINUS}$"#,##0'
        return "@" if positive is None else f'{positive};"{MINUS}"{positive}'


def parse_format(text: str, *, where: str = "") -> tuple[str, int]:
    """``number:2`` -> ``("number", 2)``; ``money`` -> ``("money", 0)``; a kind with decimals and none given
    takes :data:`DEFAULT_DECIMALS`. An unknown kind raises ValueError naming ``where`` and the allowed kinds."""
    kind, _, places = str(text).partition(":")
    kind = kind.strip()
    if kind not in KINDS or (places and not places.strip().isdigit()):
        raise ValueError(f"{where or 'format'} must be one of {', '.join(KINDS)} (number, percent, share and ratio "
                         f"with :<decimals>, e.g. number:2); got {text!r}")
    return kind, int(places) if places else DEFAULT_DECIMALS.get(kind, 0)


ENTRY_KEYS = ("label", "unit", "format", "blank", "code_unit")  # what a column entry of results.yaml may say


def _from_entry(column: str, entry: dict, where: str) -> ColumnFormat:
    unknown = sorted(set(map(str, entry)) - set(ENTRY_KEYS))
    if unknown:  # a typo, or an unquoted comma that split a value ("unit: per 1,000 ...")
        raise ValueError(f"{where}: an entry may say {', '.join(ENTRY_KEYS)}; got {', '.join(unknown)}")
    kind, decimals = parse_format(entry.get("format", "number"), where=f"{where} format")
    return ColumnFormat(column, str(entry.get("label") or humanise(column)), str(entry.get("unit") or ""), kind, decimals,
                        str(entry.get("blank") or BLANK), bool(entry.get("code_unit", False)))


@lru_cache(maxsize=None)
def registry() -> dict[tuple[str | None, str], ColumnFormat]:
    """Every column of ``results.yaml``: ``(None, column)`` for a default, ``(table, column)`` for a table's
    own entry. A bad format stops here, naming the file and the column."""
    doc = load_results()
    out = {(None, c): _from_entry(c, e or {}, f"{RESULTS_FILE}: column `{c}`") for c, e in doc["columns"].items()}
    for table, columns in doc["tables"].items():
        for c, e in (columns or {}).items():
            out[(table, c)] = _from_entry(c, e or {}, f"{RESULTS_FILE}: table `{table}` column `{c}`")
    return out


def _guess(column: str, values: Iterable | None) -> tuple[str, int]:
    cells = None if values is None else pd.Series(list(values), dtype=object)
    numbers = None if cells is None else pd.to_numeric(cells, errors="coerce")
    if cells is not None and cells.notna().any() and numbers.isna().all():
        return "text", 0
    for pattern, fmt in _GUESSES:
        if pattern.search(column):
            return parse_format(fmt)
    if numbers is not None and numbers.notna().any() and (numbers.dropna() % 1 == 0).all():
        return "count", 0
    return "number", 2


def column_format(column: str, table: str | None = None, values: Iterable | None = None) -> ColumnFormat:
    """How ``column`` (of the result table ``table``) reads: the table's entry in ``results.yaml``, else the
    column's default, else a humanised label with a format guessed from the name (``*_p`` a p-value,
    ``pct_*`` a percent, ``*cost*`` money, ``n_*`` a count ...) and from ``values`` when given (text when none
    is a number). Never raises for an unknown column."""
    known = registry()
    column = str(column)
    if (table, column) in known:
        return known[(table, column)]
    if (None, column) in known:
        return known[(None, column)]
    kind, decimals = _guess(column, values)
    return ColumnFormat(column, humanise(column), "", kind, decimals, known=False)


def table_formats(table: str | None, frame: pd.DataFrame, columns: Iterable[str] | None = None) -> list[ColumnFormat]:
    """The format of each of ``columns`` (default: every column) of ``frame``, a result table named ``table``;
    an unlisted column is guessed from its values (suppression marks left out)."""
    out = []
    for c in (frame.columns if columns is None else columns):
        values = frame[c].map(lambda v: None if isinstance(v, str) and _is_mark(v) else v)
        out.append(column_format(str(c), table, values))
    return out


def _is_mark(text: str) -> bool:
    """A suppression mark (``<11``, ``*``) or a p-value's text (``< 0.001``)."""
    return text.strip() == "*" or text.strip().startswith("<")


def is_blank(value) -> bool:
    """None, NaN, NA or an empty string: a cell with nothing in it."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def signed(text: str) -> str:
    """A formatted number with a true minus sign (``-0.82`` -> ``−0.82``, ``-$1,234`` -> ``−$1,234``); a
    negative that rounds to zero (``-0.00``) loses its sign."""
    if not text.startswith("-"):
        return text
    body = text[1:]
    return MINUS + body if re.search(r"[1-9]", body) else body


def _number(x: float, decimals: int) -> str:
    return f"{x:,.{decimals}f}"


def format_cell(value, fmt: ColumnFormat) -> str:
    """One cell as every funder output prints it (see the module docstring): ``format_cell(-0.8185, number:2)``
    is ``−0.82``; a share 0.862 is ``86%``; ``<11`` stays ``<11``; a blank is ``fmt.blank`` (a dash)."""
    if is_blank(value):
        return fmt.blank
    if fmt.kind == "code":
        return code_label(fmt.column, value, unit=fmt.code_unit)
    if isinstance(value, (bool, np.bool_)) or fmt.kind == "text":
        return str(value)
    x = as_number(value)
    if math.isnan(x):  # a mark, a p-value already written out, or text in a number column
        return str(value)
    if math.isinf(x):
        return signed("-\u221e") if x < 0 else "\u221e"
    kind = fmt.kind
    if kind == "p_value":
        return format_p(x, prefix=False)
    if kind == "money":
        text = format_money(x)
    elif kind == "percent":
        text = format_percent(x, fmt.decimals)
    elif kind == "share":
        text = format_share(x, fmt.decimals)
    elif kind == "days":
        text = format_days(x).rsplit(" ", 1)[0]  # the unit is in the header
    elif kind == "count":
        text = _number(x, 0)
    else:
        text = _number(x, fmt.decimals)
    return signed(text)
