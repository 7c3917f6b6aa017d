"""INR time in therapeutic range by Rosendaal's linear interpolation (Rosendaal et al. 1993, Thromb Haemost
69:236), checked against the method worked by hand (the arithmetic in each docstring)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.stats import ttr as ttr_stats

START = pd.Timestamp("2015-03-01")


def inr(rows) -> pd.DataFrame:
    """INR readings from (patient, day offset, value) tuples."""
    d = pd.DataFrame([(p, START + pd.Timedelta(days=d), v) for p, d, v in rows],
                     columns=["patient_id", "measured_on", "value"])
    return d.astype({"measured_on": "datetime64[ns]", "value": float})


def test_rosendaal_hand_example():
    """Range 2-3, longest gap 56 days. P1: INR 1.5 (day 0) -> 2.5 (day 10): the line is in range from 2.0
    on, i.e. the last 5 of 10 days; 2.5 (day 10) -> 3.5 (day 20): in range up to 3.0, the first 5 of 10
    days; 3.5 (day 20) -> 2.5 (day 100): an 80-day gap, not interpolated. TTR = (5 + 5) / 20 = 50%.
    P2: 1.0 -> 4.0 over 30 days crosses the whole range: 1/3 of 30 = 10 days -> 33.33%.
    P3: 2.5 -> 2.5 over 14 days: 100%. P4: one INR: no TTR."""
    m = inr([("P1", 0, 1.5), ("P1", 10, 2.5), ("P1", 20, 3.5), ("P1", 100, 2.5),
             ("P2", 0, 1.0), ("P2", 30, 4.0), ("P3", 0, 2.5), ("P3", 14, 2.5), ("P4", 0, 2.2)])
    ttr = ttr_stats.time_in_therapeutic_range(m, 2.0, 3.0, 56).set_index("patient_id")
    assert ttr.loc["P1", "days_observed"] == 20 and ttr.loc["P1", "days_in_range"] == pytest.approx(10)
    assert ttr.loc["P1", "ttr_percent"] == pytest.approx(50.0)
    assert ttr.loc["P1", "gaps_skipped"] == 1 and ttr.loc["P1", "days_skipped"] == 80
    assert ttr.loc["P2", "ttr_percent"] == pytest.approx(100 / 3)
    assert ttr.loc["P3", "ttr_percent"] == 100.0
    assert np.isnan(ttr.loc["P4", "ttr_percent"]) and ttr.loc["P4", "n_inr"] == 1
    assert list(ttr.reset_index().columns) == ttr_stats.TTR_COLUMNS


def test_readings_out_of_order_and_out_of_range_both_ways():
    """P1's readings given last-first: 3.5 (day 0) -> 1.5 (day 20) falls through the range, in range for the
    middle 1.0 of 2.0 INR units: 10 of 20 days; then 1.5 -> 1.8 (day 30) stays below: 0 of 10. TTR = 10/30."""
    m = inr([("P1", 30, 1.8), ("P1", 20, 1.5), ("P1", 0, 3.5)])
    ttr = ttr_stats.time_in_therapeutic_range(m, 2.0, 3.0, 56).iloc[0]
    assert ttr["days_observed"] == 30 and ttr["days_in_range"] == pytest.approx(10)
    assert ttr["first_on"] == START and ttr["last_on"] == START + pd.Timedelta(days=30)


def test_rosendaal_gap_limit_is_a_parameter():
    """With a 90-day limit P1's 80-day gap from 3.5 to 2.5 is interpolated: in range from 3.0 down, i.e.
    the last half, 40 days. TTR = (5 + 5 + 40) / 100 = 50%; nothing skipped."""
    m = inr([("P1", 0, 1.5), ("P1", 10, 2.5), ("P1", 20, 3.5), ("P1", 100, 2.5)])
    ttr = ttr_stats.time_in_therapeutic_range(m, 2.0, 3.0, 90).iloc[0]
    assert ttr["days_observed"] == 100 and ttr["days_in_range"] == pytest.approx(50) and ttr["gaps_skipped"] == 0


def test_rosendaal_rejects_bad_arguments():
    m = inr([("P1", 0, 2.5)])
    with pytest.raises(ValueError, match="max_gap_days must be a positive number of days"):
        ttr_stats.time_in_therapeutic_range(m, 2.0, 3.0, 0)
    with pytest.raises(ValueError, match="low must not exceed its high"):
        ttr_stats.time_in_therapeutic_range(m, 3.0, 2.0, 56)


def test_no_readings_give_an_empty_table_with_its_columns():
    ttr = ttr_stats.time_in_therapeutic_range(inr([]), 2.0, 3.0, 56)
    assert ttr.empty and list(ttr.columns) == ttr_stats.TTR_COLUMNS
