"""The command line: synth, qdpx export/import, dictionary check."""
from __future__ import annotations

import pandas as pd

from evaluation.__main__ import main


def test_synth_then_qdpx_round_trip(tmp_path, capsys):
    data = tmp_path / "cohort"
    assert main(["synth", "--out", str(data), "--teams", "3", "--patients-per-team", "5", "--seed", "3"]) == 0
    assert "patients.csv 15" in capsys.readouterr().out
    project = tmp_path / "coding.qdpx"
    assert main(["qdpx", "export", str(data), "--out", str(project)]) == 0
    back = tmp_path / "back"
    assert main(["qdpx", "import", str(project), "--out", str(back)]) == 0
    key = ["excerpt_id", "coder", "code"]
    before = pd.read_csv(data / "qualitative" / "codings.csv").sort_values(key).reset_index(drop=True)
    after = pd.read_csv(back / "qualitative" / "codings.csv").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(before[key], after[key])


def test_qdpx_import_of_a_broken_file_exits_non_zero(tmp_path, capsys):
    bad = tmp_path / "bad.qdpx"
    bad.write_bytes(b"not a zip")
    assert main(["qdpx", "import", str(bad), "--out", str(tmp_path / "x")]) == 1
    assert "is not a .qdpx project" in capsys.readouterr().err


def test_dictionary_check_passes_on_the_committed_readme(capsys):
    assert main(["dictionary", "--check"]) == 0
