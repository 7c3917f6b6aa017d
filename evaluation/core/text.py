"""Numbers in words: one formatter per kind (p-values, money, percentages, days, missing analyses).

Every caption, finding and page uses these, so a p-value or a dollar amount reads the same everywhere.
"""
from __future__ import annotations

import math

NOT_AVAILABLE = "n/a"


def as_number(x) -> float:
    """``x`` as a float, NaN when it is blank or not a number (a table cell read back from CSV)."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or (x != x)


def format_p(p, *, prefix: bool = True) -> str:
    """``p = 0.042`` / ``p < 0.001`` (``prefix=False``: ``0.042`` / ``< 0.001``, for a table column); ``n/a``
    when there is no p-value. Three decimals, as APA style and R's ``format.pval(digits = 3)`` give."""
    p = as_number(p)
    if math.isnan(p) or math.isinf(p):
        return NOT_AVAILABLE
    text = "< 0.001" if p < 0.001 else f"{p:.3f}"
    if not prefix:
        return text
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_money(x, *, missing: str = NOT_AVAILABLE) -> str:
    """``$1,234`` / ``-$1,234`` (whole dollars); ``missing`` for a blank."""
    x = as_number(x)
    if math.isnan(x):
        return missing
    return f"-${abs(x):,.0f}" if x < 0 else f"${x:,.0f}"


def format_percent(x, decimals: int = 0, *, missing: str = NOT_AVAILABLE) -> str:
    """``73%`` from 73.0 (a value already in percent; ``1,250%`` with a thousands separator); ``missing`` for
    a blank."""
    x = as_number(x)
    return missing if math.isnan(x) else f"{x:,.{decimals}f}%"


def format_share(x, decimals: int = 0, *, missing: str = NOT_AVAILABLE) -> str:
    """``73%`` from 0.73 (a share between 0 and 1); ``missing`` for a blank."""
    x = as_number(x)
    return missing if math.isnan(x) else format_percent(100 * x, decimals)


def format_days(x, *, missing: str = NOT_AVAILABLE) -> str:
    """``39 days`` / ``1 day`` / ``2.5 days`` (a half day is kept: a median can fall between two days)."""
    x = as_number(x)
    if math.isnan(x):
        return missing
    value = f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"
    return f"{value} day" + ("" if value == "1" else "s")


def not_analysed(what: str, table: str, why: str) -> str:
    """The sentence for an analysis that did not run: what, the table it would have written, and why."""
    return f"{what} not analysed for this cohort: tables/{table}.csv was not produced ({why})."
