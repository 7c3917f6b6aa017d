"""The command line: synth, qdpx export/import, dictionary check, regold."""
from __future__ import annotations

import shutil

import nbformat
import pandas as pd
import pytest

from evaluation.__main__ import main
from evaluation.run import notebooks
from evaluation.run.notebooks import NOTEBOOK_DIR, discover_notebooks
from evaluation.run import regold as regold_module
from evaluation.run.regold import regold_order


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


def test_synth_writes_a_later_cycle_and_names_a_bad_cycle_argument(tmp_path, capsys):
    """--cycle 2 starts 12 months after --start unless --cycle-start says otherwise; a bad value is named."""
    first, second = tmp_path / "c1", tmp_path / "c2"
    base = ["synth", "--teams", "4", "--patients-per-team", "2", "--seed", "3"]
    assert main([*base, "--out", str(first)]) == 0
    assert main([*base, "--out", str(second), "--cycle", "2", "--cycle-start", "2016-03-01"]) == 0
    one, two = pd.read_csv(first / "teams.csv"), pd.read_csv(second / "teams.csv")
    assert two["team_id"].isin(one["team_id"]).sum() == 2 and two["team_id"].tolist()[2:] == ["T05", "T06"]
    assert pd.read_csv(second / "patients.csv")["enrolled_on"].min() >= "2016-03-01"
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "x"), "--cycle", "2", "--cycle-start", "2016-02-30"]) == 2
    assert "cycle_start must be a date written YYYY-MM-DD; got '2016-02-30'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--out", str(tmp_path / "y"), "--cycle", "0"])
    assert exit_.value.code == 2
    assert "argument --cycle: must be a whole number, at least 1 (the first cycle); got '0'" in capsys.readouterr().err


def test_qdpx_import_of_a_broken_file_exits_non_zero(tmp_path, capsys):
    bad = tmp_path / "bad.qdpx"
    bad.write_bytes(b"not a zip")
    assert main(["qdpx", "import", str(bad), "--out", str(tmp_path / "x")]) == 1
    assert "is not a .qdpx project" in capsys.readouterr().err


def test_dictionary_check_passes_on_the_committed_readme(capsys):
    assert main(["dictionary", "--check"]) == 0


def test_a_params_file_carrying_code_runs_nothing(tmp_path, capsys, monkeypatch):
    """The payload from the safety audit: a `!!binary` title that papermill would have written unescaped into the
    parameters cell. `validate` and `run` stop at the params (exit 2, the key named); no file is created and no
    folder is written, in the working folder or the reports root."""
    import base64

    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "X"
    payload = base64.b64encode(f'"+str(__import__("os").system("touch {marker}"))+"'.encode()).decode()
    params = tmp_path / "payload.yaml"
    params.write_text(f"cohort_id: c1\ndata_dir: data/demo\ntitle: !!binary {payload}\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in ("validate", "run"):
        assert main([command, str(params)]) == 2
        err = capsys.readouterr().err
        assert "`title` must be a piece of text" in err and "Traceback" not in err
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # the reports root (tmp_path) holds nothing new


def test_validate_refuses_a_report_folder_run_would_refuse(tmp_path, capsys):
    """A user's own folder as output_dir: `validate` says what `run` would (exit 2), and touches nothing."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    params = tmp_path / "p.yaml"
    params.write_text(f"cohort_id: demo\ndata_dir: data/demo\noutput_dir: {folder}\n")
    assert main(["validate", str(params)]) == 2
    assert "is a folder the workbench did not publish" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["precious.txt"] and (folder / "precious.txt").read_text() == "keep me"


def test_regold_runs_the_notebooks_a_requested_one_reads_first():
    every = discover_notebooks()
    report, outcomes, engagement = (NOTEBOOK_DIR / name for name in
                                    ("07_report.ipynb", "03_outcomes.ipynb", "01_engagement.ipynb"))
    assert regold_order([report], every) == ([p for p in every if p != report], [report])
    assert regold_order([report, outcomes], every) == ([p for p in every if p not in (report, outcomes)],
                                                       [outcomes, report])
    assert regold_order([engagement], every) == ([], [engagement])
    assert regold_order(every, every) == ([], every)  # all of them: in order, the report notebook last


def test_regold_of_the_report_notebook_alone_stores_what_a_full_run_would(tmp_path, monkeypatch, capsys):
    """`make regold NOTEBOOKS=notebooks/07_report.ipynb` used to store "not analysed" for every table, since the
    report notebook read the others' tables from an empty folder. Now the others run first (in this process,
    their goldens untouched) and the demo, which has every table, leaves no "not analysed" line. Only the
    report notebook's golden is written; no working notebook changes.
    Runs the demo's analyses once (the notebooks in this process, the report notebook in a kernel): minutes."""
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, folder)
    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", folder)
    goldens = tmp_path / "goldens"
    monkeypatch.setattr(regold_module, "GOLDEN_DIR", goldens)
    report = folder / "07_report.ipynb"
    before = {p.name: p.read_bytes() for p in discover_notebooks()}
    assert main(["regold", str(report)]) == 0
    out = capsys.readouterr().out
    assert out.count("for its tables") == len(before) - 1 and f"refreshed {goldens / '07_report.ipynb'}" in out
    stored = [text for cell in nbformat.read(goldens / "07_report.ipynb", as_version=4).cells
              for output in cell.get("outputs", [])
              for text in (output.get("text", ""), output.get("data", {}).get("text/plain", ""))]
    assert stored and not any("not analysed" in "".join(text) for text in stored)
    assert {p.name: p.read_bytes() for p in discover_notebooks()} == before  # no working notebook was written
    assert [p.name for p in goldens.iterdir()] == ["07_report.ipynb"]  # only 07's golden
