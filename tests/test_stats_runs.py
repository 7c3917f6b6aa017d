"""The Anhøj rules and Laney's sigma_z.

Reference values: the Anhøj limits table (Anhøj & Olesen 2014, PLoS ONE 9:e113825, table 1; the same numbers
qicharts2 computes as round(log2(n)) + 3 and qbinom(0.05, n - 1, 0.5)); everything else by hand, with the
arithmetic in the docstrings.
"""
from __future__ import annotations

import numpy as np
import pytest

from evaluation.stats import runs


@pytest.mark.parametrize("n, longest, crossings", [
    (10, 6, 2), (12, 7, 3), (20, 7, 6), (24, 8, 8), (30, 8, 10), (50, 9, 19), (100, 10, 41),
])
def test_anhoej_limits_match_the_published_table(n, longest, crossings):
    """Anhøj & Olesen 2014 table 1 / qicharts2: longest run limit and crossings limit for n useful points."""
    assert runs.longest_run_limit(n) == longest
    assert runs.crossings_limit(n) == crossings


def test_runs_analysis_counts_by_hand():
    """12 points 1..12 around their median 6.5: six below, six above -> longest run 6 (limit 7), one
    crossing (limit 3) -> signal for too few crossings."""
    res = runs.runs_analysis(range(1, 13), 6.5)
    assert (res["n_useful"], res["longest_run"], res["n_crossings"]) == (12, 6, 1)
    assert (res["longest_run_max"], res["n_crossings_min"]) == (7, 3)
    assert res["runs_signal"] is True
    assert res["verdict"] == "non-random variation: 1 median crossings (at least 3 expected)"


def test_points_on_the_median_are_not_useful():
    """Values 1,3,2,3,1,2,3,1,2,3,1,2 around centre 2: the four 2s are dropped, leaving 8 useful points
    1,3,3,1,3,1,3,1 -> sides -,+,+,-,+,-,+,-: longest run 2 (the two 3s), 6 crossings."""
    res = runs.runs_analysis([1, 3, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2], 2, min_points=5)
    assert res["n_points"] == 12 and res["n_useful"] == 8
    assert res["longest_run"] == 2 and res["n_crossings"] == 6
    assert res["runs_signal"] is False and res["verdict"] == "random variation only"


def test_shift_signal_by_hand():
    """14 points: 0, 2, 0, 2, 0 alternate around centre 1, then nine 2s: longest run 9 > limit
    round(log2 14) + 3 = 4 + 3 = 7; 5 crossings, not fewer than qbinom(0.05, 13, 0.5) = 4."""
    values = [0, 2, 0, 2, 0] + [2] * 9
    res = runs.runs_analysis(values, 1)
    assert res["longest_run"] == 9 and res["longest_run_max"] == 7
    assert res["n_crossings"] == 5 and res["n_crossings_min"] == 4
    assert res["runs_signal"] is True and res["verdict"] == (
        "non-random variation: a run of 9 points on one side of the median (limit 7)")


def test_a_centre_per_point():
    """Centre 0 for the first six points and 10 for the last six: 1, -1 alternate around 0, then 11, 9
    around 10 -> every point on the other side of its own centre from the last: 11 crossings, longest run 1."""
    res = runs.runs_analysis([1, -1] * 3 + [11, 9] * 3, [0] * 6 + [10] * 6)
    assert (res["n_useful"], res["longest_run"], res["n_crossings"]) == (12, 1, 11)
    assert res["runs_signal"] is False


def test_fewer_than_min_points_gives_no_verdict_and_says_so():
    res = runs.runs_analysis([1, 2, 3, 4, 5, 6, 7, 8, 9], 5)  # 8 useful points (5 is on the centre)
    assert res["n_useful"] == 8 and res["runs_signal"] is None
    assert res["verdict"] == "only 8 useful points (fewer than 10): no runs verdict"
    assert res["longest_run"] == 4  # still counted, for the reader


def test_all_points_on_the_median():
    res = runs.runs_analysis([0.5] * 12, 0.5)
    assert res["n_useful"] == 0 and res["runs_signal"] is None and res["longest_run"] is None
    assert res["verdict"] == "all points on the median: no useful points, no runs verdict"
    assert runs.runs_analysis([], 0.5)["verdict"] == "no data"


def test_laney_screens_large_moving_ranges():
    """z = 0, 1, 0, 1, 0, 10: moving ranges 1, 1, 1, 1, 10; mean 2.8, screen at 3.267 * 2.8 = 9.1476
    drops the 10; sigma_z = mean(1, 1, 1, 1) / 1.128 = 0.8865248."""
    assert runs.laney_sigma_z([0, 1, 0, 1, 0, 10]) == pytest.approx(1 / 1.128)
    assert np.isnan(runs.laney_sigma_z([0.5]))  # one month: no moving range
