"""Formula-like text made inert (evaluation/spreadsheet.py), checked cell by cell against the OWASP rule."""
from __future__ import annotations

import pandas as pd

from evaluation.core.outputs import neutralise_formulas, neutralise_text


def test_cells_starting_like_a_formula_get_an_apostrophe():
    for risky in ("=1+1", "+1+1", "-2+3", "@SUM(A1)", "\tT05", "\r=1", "-1.2 to -0.3", "=cmd|' /C calc'!A0"):
        assert neutralise_text(risky) == "'" + risky
    for safe in ("North", "T01", "<11", "*", "", "-0.5", "+3", "1e-3", " =x", 7, -1.5, None):
        assert neutralise_text(safe) == safe


def test_frames_keep_their_numbers_and_their_types():
    df = pd.DataFrame({"team": ["=A1", "B"], "change": [-1.0, 2.0], "n": [3, 4]})
    out = neutralise_formulas(df)
    assert out["team"].tolist() == ["'=A1", "B"]
    assert out["change"].dtype == float and out["change"].tolist() == [-1.0, 2.0]
    assert out["n"].dtype == df["n"].dtype
    assert df["team"].tolist() == ["=A1", "B"]  # the caller's frame is left alone
    assert neutralise_formulas(pd.DataFrame({"=bad": [1]})).columns.tolist() == ["'=bad"]
