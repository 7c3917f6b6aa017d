"""TODO docstring core/text."""

from __future__ import annotations
import math


# --- key findings ------------------------------------------------------------------------------------

def _num(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _money(x: float) -> str:
    return "n/a" if math.isnan(x) else (f"-${abs(x):,.0f}" if x < 0 else f"${x:,.0f}")


def _absent(what: str, table: str, why: str) -> str:
    return f"{what} not analysed for this cohort: tables/{table}.csv was not produced ({why})."
