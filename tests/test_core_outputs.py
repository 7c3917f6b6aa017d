"""Tables written for people (evaluation/core/outputs.py): formula-like text made inert, checked cell by cell
against the OWASP rule, in what save_table writes too."""
from __future__ import annotations

import pandas as pd

from evaluation.core.outputs import neutralise_formulas, neutralise_text, save_table


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


def test_save_table_makes_text_that_a_spreadsheet_would_run_inert(tmp_path):
    """Team names typed as formulas reach tables/ with a leading apostrophe; numbers keep their sign."""
    names = ["=HYPERLINK(\"http://x\",\"a\")", "+1+1", "-2+3", "@SUM(A1)", "\tT05", "North"]
    df = pd.DataFrame({"team_name": names, "change": [-1.5, 2.0, -0.25, 0.0, 1.0, -4.0],
                       "ci": ["-1.2 to -0.3", "-0.5", "x", "y", "z", "v"]})
    save_table(df, tmp_path, "teams_typed")
    back = pd.read_csv(tmp_path / "tables" / "teams_typed.csv", keep_default_na=False)
    assert back["team_name"].tolist() == ["'" + n for n in names[:-1]] + ["North"]
    assert back["change"].tolist() == [-1.5, 2.0, -0.25, 0.0, 1.0, -4.0]
    assert back["ci"].tolist()[:2] == ["'-1.2 to -0.3", "-0.5"]  # text a spreadsheet would evaluate; a plain number
