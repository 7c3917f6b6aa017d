"""The runner: a good run publishes a complete report; any failure leaves the last good report intact."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from evaluation import NotebookFailed
from evaluation.data import loading
from evaluation.__main__ import main
from evaluation.core.paths import REPO_ROOT
from evaluation.run import execute, notebooks, plan, runner
from tests.conftest import TINY


def params_file(tmp_path: Path, data_dir: Path, **extra) -> Path:
    lines = ["cohort_id: tiny", f"data_dir: {data_dir}", 'as_of: "2016-12-31"'] + [f"{k}: {v}" for k, v in extra.items()]
    path = tmp_path / "tiny.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def one_notebook(tmp_path, monkeypatch) -> Path:
    """Run only the data-quality notebook (fast), from a private notebooks folder."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(notebooks.NOTEBOOK_DIR / "00_data_quality.ipynb", folder)
    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", folder)
    return folder


def test_successful_run_publishes_the_report(tmp_path, tiny_cohort, reports_root, one_notebook):
    result = runner.run(params_file(tmp_path, tiny_cohort), say=lambda s: None)
    report = reports_root / "tiny"
    assert result.ok and result.report_dir == report
    for name in ["index.html", "00_data_quality.html", "notebooks/00_data_quality.ipynb", "tables/data_quality.csv",
                 "tables/patients_per_team.csv", "figures/manifest.csv", "figures/overview_follow_up.pdf",
                 "figures/overview_follow_up.svg", "figures/overview_follow_up.png", "provenance.json"]:
        assert (report / name).exists(), name
    prov = json.loads((report / "provenance.json").read_text())
    assert set(prov["input_files_sha256"]) == {"teams.csv", "patients.csv", "measurements.csv"}
    assert prov["notebooks"][0]["status"] == "ran" and prov["notebooks"][0]["seconds"] > 0
    assert "pandas" in prov["packages"] and prov["params"]["cohort_id"] == "tiny"
    assert not (reports_root / ".staging").exists() or not any((reports_root / ".staging").iterdir())
    assert not (report / ".validated_cohort.pickle").exists()  # the run's validation cache is not published


def test_bad_data_stops_before_notebooks_and_keeps_the_last_report(tmp_path, tiny_cohort, reports_root, one_notebook, capsys):
    params = params_file(tmp_path, tiny_cohort)
    runner.run(params, say=lambda s: None)
    before = snapshot(reports_root / "tiny")
    (tiny_cohort / "patients.csv").write_text(TINY["patients.csv"].replace("P003,T02", "P003,T99"))
    assert main(["run", str(params)]) == 1
    err = capsys.readouterr().err
    assert "patients.csv, row 4, column 'team_id': 'T99' is not a team_id in teams.csv" in err
    assert "left untouched" in err
    assert snapshot(reports_root / "tiny") == before


def test_failing_notebook_is_reported_with_its_cell_and_keeps_the_last_report(tmp_path, tiny_cohort, reports_root, one_notebook):
    params = params_file(tmp_path, tiny_cohort)
    runner.run(params, say=lambda s: None)
    before = snapshot(reports_root / "tiny")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("cohort_id = 'x'", metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, one_notebook / "01_boom.ipynb")
    with pytest.raises(NotebookFailed) as info:
        runner.run(params, say=lambda s: None)
    assert info.value.notebook == "notebooks/01_boom.ipynb"
    assert info.value.error_name == "ZeroDivisionError" and "1 / 0" in info.value.source
    assert Path(info.value.output_path).exists()  # the executed notebook with the traceback is kept
    assert snapshot(reports_root / "tiny") == before


def test_params_mistake_exits_2(tmp_path, tiny_cohort, reports_root, one_notebook, capsys):
    params = params_file(tmp_path, tiny_cohort, ci_methd="log")
    assert main(["run", str(params)]) == 2
    assert "unknown key `ci_methd`; did you mean 'ci_method'?" in capsys.readouterr().err


def test_missing_data_folder_is_named(tmp_path, reports_root, one_notebook, capsys):
    params = params_file(tmp_path, tmp_path / "nowhere")
    assert main(["run", str(params)]) == 1
    assert "nowhere: data folder not found" in capsys.readouterr().err


def test_only_keeps_the_other_notebooks_outputs(tmp_path, tiny_cohort, reports_root, one_notebook):
    """A second notebook writes tables/kept.csv; `--only data_quality` (forced, so it runs) keeps that table and
    records the other notebook as kept. (A file written into the report by hand is not kept: see
    test_a_report_changed_outside_a_run_is_not_reused.)"""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("output_dir = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from pathlib import Path\n(Path(output_dir) / 'tables').mkdir(exist_ok=True)\n"
                                  "(Path(output_dir) / 'tables' / 'kept.csv').write_text('a\\n1\\n')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, one_notebook / "01_marker.ipynb")
    params = params_file(tmp_path, tiny_cohort)
    runner.run(params, say=lambda s: None, in_process=True)
    assert (reports_root / "tiny" / "tables" / "kept.csv").read_text() == "a\n1\n"
    result = runner.run(params, only=["data_quality"], force=True, say=lambda s: None, in_process=True)
    assert [(r.name, r.status) for r in result.notebooks] == [("data_quality", "ran"), ("marker", "kept")]
    assert (reports_root / "tiny" / "tables" / "kept.csv").read_text() == "a\n1\n"
    with pytest.raises(Exception, match="no notebook named nonsense"):
        runner.run(params, only=["nonsense"], say=lambda s: None)


def test_validate_command(tiny_cohort, capsys):
    assert main(["validate", str(tiny_cohort)]) == 0
    assert "0 error(s)" in capsys.readouterr().out


def test_unchanged_inputs_are_reused_and_changes_rerun(tmp_path, tiny_cohort, reports_root, one_notebook, monkeypatch):
    monkeypatch.setattr(plan, "code_fingerprint", lambda: "code-v1")
    params = params_file(tmp_path, tiny_cohort)
    first = runner.run(params, say=lambda s: None)
    assert [r.status for r in first.notebooks] == ["ran"]
    published = {p: p.read_bytes() for p in (reports_root / "tiny").rglob("*") if p.is_file()}
    said: list[str] = []
    again = runner.run(params, say=said.append)
    assert [r.status for r in again.notebooks] == ["reused"]
    # up to date: nothing is written, the provenance record included, and the runner says so
    assert {p: p.read_bytes() for p in (reports_root / "tiny").rglob("*") if p.is_file()} == published
    assert said[-1].startswith("Report: ") and "(up to date: nothing it is made from changed since " in said[-1]
    assert not list((reports_root / ".staging").glob("tiny*"))
    forced = runner.run(params, force=True, say=lambda s: None)
    assert [r.status for r in forced.notebooks] == ["ran"]
    (tiny_cohort / "measurements.csv").write_text(TINY["measurements.csv"] + "P001,a1c,2015-08-20,7.1\n")
    changed = runner.run(params, say=lambda s: None)
    assert [r.status for r in changed.notebooks] == ["ran"]
    assert [r.status for r in runner.run(params, say=lambda s: None).notebooks] == ["reused"]
    # a param the notebook reads reruns it; one it never reads (the data-quality notebook has no test) does not
    params.write_text(params.read_text() + "suppress_below: 12\n")
    assert [r.status for r in runner.run(params, say=lambda s: None).notebooks] == ["ran"]
    read = json.loads((reports_root / "tiny" / "provenance.json").read_text())["notebooks"][0]["params_read"]
    assert "suppress_below" in read and "alpha" not in read
    params.write_text(params.read_text() + "alpha: 0.1\n")
    assert [r.status for r in runner.run(params, say=lambda s: None).notebooks] == ["reused"]
    monkeypatch.setattr(plan, "code_fingerprint", lambda: "code-v2")
    assert [r.status for r in runner.run(params, say=lambda s: None).notebooks] == ["ran"]


def test_a_run_handed_its_plan_does_not_plan_again(tmp_path, tiny_cohort, reports_root, one_notebook, monkeypatch):
    params = params_file(tmp_path, tiny_cohort)
    prepared = plan.prepare(params, say=lambda s: None)
    assert not prepared.up_to_date  # no report yet
    hashed: list[Path] = []
    monkeypatch.setattr(plan, "sha256", lambda path: hashed.append(path) or "x")  # any second plan would hash
    result = runner.run(params, say=lambda s: None, in_process=True, prepared=prepared)
    assert result.ok and hashed == []
    prov = json.loads((reports_root / "tiny" / "provenance.json").read_text())
    assert 0 <= prov["step_seconds"]["plan"] <= prov["wall_seconds"]
    with pytest.raises(ValueError, match="planned for"):  # a plan made for another run is refused
        runner.run(params, force=True, say=lambda s: None, in_process=True, prepared=prepared)


def test_a_report_changed_outside_a_run_is_not_reused(tmp_path, tiny_cohort, reports_root, one_notebook, monkeypatch):
    """The published report belongs to the runner: provenance records the sha256 of every file it published, and
    a table edited, deleted or added afterwards (a notebook saved over it, a hand edit) makes the next run execute
    every notebook again instead of re-publishing the mixed state."""
    monkeypatch.setattr(plan, "code_fingerprint", lambda: "code-v1")
    params = params_file(tmp_path, tiny_cohort)
    runner.run(params, say=lambda s: None)
    report = reports_root / "tiny"
    published = json.loads((report / "provenance.json").read_text())["published_files_sha256"]
    assert published["tables/data_quality.csv"] == hashlib.sha256((report / "tables" / "data_quality.csv").read_bytes()).hexdigest()
    assert "provenance.json" not in published and not any(f.startswith("logs/") for f in published)
    assert [r.status for r in runner.run(params, say=lambda s: None).notebooks] == ["reused"]

    for change in (lambda: (report / "tables" / "data_quality.csv").write_text("table,row,column,severity,problem\n"),
                   lambda: (report / "tables" / "data_quality.csv").unlink(),
                   lambda: (report / "tables" / "extra.csv").write_text("a\n1\n")):
        change()
        said = []
        assert [r.status for r in runner.run(params, say=said.append).notebooks] == ["ran"]
        assert any("changed since the report was published" in line for line in said), said
        assert [r.status for r in runner.run(params, say=lambda s: None).notebooks] == ["reused"]
    assert not (report / "tables" / "extra.csv").exists()  # the rerun publishes only what the notebooks wrote


def test_notebooks_reuse_the_runners_validation(tmp_path, tiny_cohort, reports_root, monkeypatch):
    """The runner leaves the validated cohort for its notebooks; it is used only while its inputs match."""
    from evaluation.core.params import load_params

    params = load_params(params_file(tmp_path, tiny_cohort), output_dir=str(reports_root / "out"))
    params.output_dir.mkdir(parents=True)
    cohort = loading.load_cohort(params)
    cohort.tables["teams"] = cohort.teams.assign(team_name="from the cache")
    loading.save_validated(cohort, params, params.output_dir)
    assert loading.load_validated(params).teams["team_name"].eq("from the cache").all()
    (tiny_cohort / "teams.csv").write_text(TINY["teams.csv"].replace("Lakeside Drug", "Lakeside Pharmacy"))
    fresh = loading.load_validated(params)  # the data changed: validated again, not taken from the cache
    assert fresh.teams["team_name"].tolist() == ["Prairie Creek Pharmacy", "Lakeside Pharmacy"]


def test_a_notebook_runs_alone_with_the_papermill_cli(tmp_path, tiny_cohort, reports_root):
    """The README's command: `papermill notebooks/X.ipynb out.ipynb -f params/<cohort>.yaml`."""
    import subprocess
    import sys

    params = params_file(tmp_path, tiny_cohort)
    out = tmp_path / "out.ipynb"
    done = subprocess.run([sys.executable, "-m", "papermill", str(notebooks.NOTEBOOK_DIR / "00_data_quality.ipynb"),
                           str(out), "-f", str(params)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    # run alone, it writes to the scratch folder; the published report is the runner's
    assert (reports_root / "scratch" / "tiny" / "tables" / "data_quality.csv").exists()
    assert not (reports_root / "tiny").exists()
    assert "Passed unknown parameter" not in done.stderr


@pytest.mark.parametrize("user_setting", [None, "3"])
def test_kernels_get_their_share_of_the_cores_for_linear_algebra(tmp_path, tiny_cohort, reports_root, monkeypatch,
                                                                 user_setting):
    """Each kernel's OpenBLAS/OpenMP/MKL threads are cores // notebooks at once (two kernels each starting one
    thread per core oversubscribe a 2-core machine); a value the user set is left alone."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("cohort_id = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import os\nprint([os.environ.get(v) for v in "
                                          "('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')])")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "00_threads.ipynb")
    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", folder)
    for name in execute.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if user_setting:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", user_setting)
    runner.run(params_file(tmp_path, tiny_cohort), say=lambda s: None)
    printed = nbformat.read(reports_root / "tiny" / "notebooks" / "00_threads.ipynb", as_version=4).cells[-1].outputs
    share = str(execute.kernel_threads(1))  # one notebook: one worker
    assert printed[0]["text"].strip() == str([user_setting or share, share, share])


def test_kernel_threads_divides_the_cores(monkeypatch):
    monkeypatch.setattr(execute.os, "cpu_count", lambda: 8)
    assert [execute.kernel_threads(w) for w in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setattr(execute.os, "cpu_count", lambda: None)
    assert execute.kernel_threads(2) == 1


def test_the_slowest_notebooks_start_first(tmp_path):
    """By the last report's timings; before any report, by stored notebook size (mostly its figures)."""
    small, big = tmp_path / "01_small.ipynb", tmp_path / "02_big.ipynb"
    small.write_text("x" * 10)
    big.write_text("x" * 1000)
    first = lambda previous: sorted([small, big], key=lambda p: notebooks.expected_cost(p, previous), reverse=True)  # noqa: E731
    assert first({}) == [big, small]
    assert first({"01_small.ipynb": {"seconds": 30.0}, "02_big.ipynb": {"seconds": 5.0}}) == [small, big]
