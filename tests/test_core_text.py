"""One formatter per kind (evaluation/core/text.py): the strings a reader sees, written out by hand."""
from __future__ import annotations

import math

import pytest

from evaluation.core.text import (as_number, format_days, format_money, format_p, format_percent, format_share,
                                  not_analysed)


@pytest.mark.parametrize("p, text, bare", [(0.04213, "p = 0.042", "0.042"), (0.0004, "p < 0.001", "< 0.001"),
                                           (1.0, "p = 1.000", "1.000"), (0.001, "p = 0.001", "0.001"),
                                           (math.nan, "n/a", "n/a"), (None, "n/a", "n/a"), ("", "n/a", "n/a")])
def test_p_values(p, text, bare):
    assert format_p(p) == text and format_p(p, prefix=False) == bare


def test_money_percent_share_days():
    assert format_money(1234.4) == "$1,234" and format_money(-50000) == "-$50,000" and format_money(None) == "n/a"
    assert format_money(math.nan, missing="") == ""
    assert format_percent(73.04) == "73%" and format_percent(7.25, 1) == "7.2%" and format_percent("x") == "n/a"
    assert format_share(0.731) == "73%" and format_share(None, missing="-") == "-"
    assert format_days(39) == "39 days" and format_days(1) == "1 day" and format_days(2.5) == "2.5 days"
    assert format_days(1200) == "1,200 days" and format_days(math.nan) == "n/a"


def test_numbers_read_back_from_csv_and_missing_analyses():
    assert as_number("3.5") == 3.5 and math.isnan(as_number("")) and math.isnan(as_number(None))
    assert not_analysed("Value was", "value", "no utilization.csv") == (
        "Value was not analysed for this cohort: tables/value.csv was not produced (no utilization.csv).")
