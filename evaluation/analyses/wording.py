"""Plain words for the findings: a number with its measure's unit, a change and its confidence interval, a goal
in words, a date as a reader writes it, and true minus signs.

Every analysis' ``findings.py`` and the report's methods write with these, so "8.6%", "147.1 mmHg", "below
8%" and "−$12,300" read the same in every sentence (the minus sign is the tables' own,
:func:`evaluation.core.columns.signed`). Units come from the data dictionary
(``data_dictionary/measurements.yaml``). A headline is a plain ``(sentence, figure_id)`` pair here: the report
turns it into its :class:`~evaluation.report.findings.Headline`.
"""
from __future__ import annotations

import datetime as dt
import math

from evaluation.core.columns import signed
from evaluation.core.dictionary import load_dictionary
from evaluation.core.labels import COMBINED_MEASURES, measure_label
from evaluation.core.params import Params
from evaluation.core.text import format_money

NO_UNIT = ("", "ratio")  # dictionary units a number is written without ("INR 2.5", not "2.5 ratio")
HeadlineText = tuple[str, str | None]  # (sentence, figure_id of the figure that shows it, or None)
GOAL_WORDS = {"<": "below {}", "<=": "{} or below", ">": "above {}", ">=": "{} or above"}


def number(x: float, decimals: int = 1) -> str:
    """``x`` with thousands separators and ``decimals``, a negative number with a true minus sign."""
    return signed(f"{x:,.{decimals}f}")


def money(x: float) -> str:
    """Whole dollars (``$1,234``), a loss with a true minus sign (``−$1,234``)."""
    return signed(format_money(x))


def level(params: Params) -> str:
    """The confidence level as a reader writes it: ``95%``."""
    return f"{100 * (1 - params.alpha):g}%"


def unit_of(measure: str) -> str:
    """A measure's unit from the data dictionary (``%``, ``mmHg``; "" when it has none or is unknown)."""
    spec = load_dictionary()["measurements"].measures.get(measure) or {}
    return str(spec.get("unit") or "")


def with_unit(x: float, measure: str, decimals: int = 1) -> str:
    """A value of ``measure`` with its unit: ``8.6%``, ``147.1 mmHg``, ``2.5`` (an INR ratio has none)."""
    unit = unit_of(measure)
    text = number(x, decimals)
    return text if unit in NO_UNIT else f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def change_unit(measure: str) -> str:
    """The unit of a change in ``measure``: a change in a percentage is in percentage points."""
    unit = unit_of(measure)
    return "" if unit in NO_UNIT else "percentage points" if unit == "%" else unit


def change_decimals(*values: float) -> int:
    """One decimal, or as many more (up to 3) as the smallest nonzero value needs to show a digit."""
    small = min((abs(v) for v in values if v and not math.isnan(v)), default=1.0)
    return next((d for d in (1, 2, 3) if round(small, d) != 0), 3)


def mid_sentence(label: str) -> str:
    """A label inside a sentence: ``Systolic blood pressure`` -> ``systolic blood pressure``; an acronym or a
    name with capitals inside (``HbA1c``, ``LDL cholesterol``, ``INR``) stays as it is."""
    first = label.split(" ", 1)[0]
    return label[:1].lower() + label[1:] if first[1:].islower() and first.isalpha() else label


def goal_words(params: Params, measure: str) -> str:
    """A measure's goal in words with its unit: ``below 8%``, ``2 to 3``; a combined goal names its parts
    (without the words of its own name): ``systolic below 140 mmHg and diastolic below 90 mmHg``."""
    if measure in params.combined_goals:
        whole = f" {goal_label(measure)}"
        return " and ".join(f"{mid_sentence(measure_label(part)).removesuffix(whole)} {goal_words(params, part)}"
                            for part in params.combined_goals[measure])
    goal = params.goals.get(measure)
    if goal is None:
        return ""
    if goal.operator is None:
        return f"{number(goal.low, _places(goal.low))} to {with_unit(goal.high, measure, _places(goal.high))}"
    return GOAL_WORDS[goal.operator].format(with_unit(goal.threshold, measure, _places(goal.threshold)))


def _places(x: float) -> int:
    return 0 if float(x).is_integer() else len(f"{x:g}".split(".")[1])


def goal_label(measure: str) -> str:
    """The name of a measure's goal mid-sentence: ``HbA1c``, ``blood pressure`` (a combined goal)."""
    return mid_sentence(COMBINED_MEASURES.get(measure) or measure_label(measure))


def change_words(change: float, low: float, high: float, measure: str, params: Params) -> str:
    """A mean change with its CI in plain words: ``a drop of 0.8 percentage points; 95% confidence interval
    0.7 to 0.9``; a CI that holds zero keeps the signs: ``a change of −0.2 mmHg; 95% confidence interval −0.5
    to 0.1, which includes no change``."""
    unit = change_unit(measure)
    d = change_decimals(change, low, high)
    tail = f" {unit}" if unit else ""
    ci = f"{level(params)} confidence interval"
    if math.isnan(low) or math.isnan(high):
        word = "drop" if change < 0 else "rise"
        return f"a {word} of {number(abs(change), d)}{tail}"
    if low < 0 < high or change == 0:
        return (f"a change of {number(change, d)}{tail}; {ci} {number(low, d)} to {number(high, d)}, "
                "which includes no change")
    word = "drop" if change < 0 else "rise"
    a, b = sorted((abs(low), abs(high)))
    return f"a {word} of {number(abs(change), d)}{tail}; {ci} {number(a, d)} to {number(b, d)}"


def long_date(day: dt.date | str | None) -> str:
    """A date as a reader writes it: ``December 31, 2016`` ("" for no date)."""
    if day is None or (isinstance(day, float) and math.isnan(day)):
        return ""
    day = dt.date.fromisoformat(str(day)[:10]) if not isinstance(day, dt.date) else day
    return f"{day:%B} {day.day}, {day.year}"


def date_range(first: dt.date | str, last: dt.date | str) -> str:
    """``between February 3 and July 30, 2015`` (the year once when both dates share it)."""
    a, b = long_date(first), long_date(last)
    if a[-4:] == b[-4:]:
        a = a[:-6]
    return f"between {a} and {b}"
