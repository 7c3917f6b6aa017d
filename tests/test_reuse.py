"""Fine-grained reuse: a notebook is reused when none of the params it read differs, from the run's own last
report or from another report of the same cohort and data (``reuse_from``)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evaluation.__main__ import build_parser
from evaluation.core.params import PARAM_FIELDS, load_params
from evaluation.core.params_read import record_params_reads, stop_recording_params_reads
from evaluation.run import notebooks, plan, runner
from evaluation.run.provenance import params_read_by, params_read_in_code, reuse_key
from tests.conftest import write_notebook

START = "import evaluation as ev\nimport pandas as pd\nparams, cohort = ev.start(globals())"


@pytest.fixture
def two_notebooks(tmp_path, monkeypatch) -> Path:
    """The workbench's notebooks are two: one saving the seed, one saving the CI method."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder, "00_seed.ipynb", START,
                   "ev.save_table(pd.DataFrame({'seed': [params.seed]}), params, 'seed')")
    write_notebook(folder, "01_ci.ipynb", START,
                   "ev.save_table(pd.DataFrame({'ci_method': [params.ci_method]}), params, 'ci')")
    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(plan, "code_fingerprint", lambda: "code-v1")
    return folder


def tiny_params(tmp_path: Path, data_dir: Path, name: str, **extra) -> Path:
    lines = ["cohort_id: tiny", f"data_dir: {data_dir}", 'as_of: "2016-12-31"']
    lines += [f"{k}: {v}" for k, v in extra.items()]
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def statuses(result) -> dict[str, str]:
    return {r.name: r.status for r in result.notebooks}


def provenance(folder: Path) -> dict:
    return json.loads((folder / "provenance.json").read_text())


def quiet(_: str) -> None:
    pass


def test_the_recorder_writes_the_fields_read(tmp_path):
    params = load_params(tiny_params(tmp_path, tmp_path, "p"))
    record = tmp_path / "logs" / "read.json"
    params.seed  # before recording: not recorded
    record_params_reads(record)
    try:
        assert json.loads(record.read_text()) == {"params_read": []}  # recording ran, nothing read yet
        params.ci_method
        params.goal_met("a1c", [7.0])  # a method reads the goals
        params.tables_dir  # a property reads output_dir
        assert json.loads(record.read_text()) == {"params_read": ["ci_method", "goals.a1c", "output_dir"]}
        record_params_reads(record)  # started again (start called twice): what was recorded stays
        params.alpha
        assert json.loads(record.read_text())["params_read"] == ["alpha", "ci_method", "goals.a1c", "output_dir"]
        vars(params)  # the whole object: every field
        assert set(PARAM_FIELDS) <= set(json.loads(record.read_text())["params_read"])
    finally:
        assert stop_recording_params_reads() == set(PARAM_FIELDS) | {"goals.a1c"}
    record.unlink()
    params.seed  # after: nothing recorded
    assert not record.exists()


def test_params_read_as_variables_are_found_in_the_code(tmp_path):
    every = set(PARAM_FIELDS)
    assert params_read_in_code(write_notebook(tmp_path, "a.ipynb", START, "params.seed")) == set()
    assert params_read_in_code(write_notebook(tmp_path, "b.ipynb", START, "x = ci_method.upper()")) == {"ci_method"}
    assert params_read_in_code(write_notebook(tmp_path, "c.ipynb", "print(params_file)")) == {"source"}
    query = write_notebook(tmp_path, "d.ipynb", "df.query('n > @suppress_below')")
    assert params_read_in_code(query) == {"suppress_below"}
    assert params_read_in_code(write_notebook(tmp_path, "e.ipynb", "ci_method = 'log'")) == set()  # assigned, not read
    assert params_read_in_code(write_notebook(tmp_path, "f.ipynb", START, "g = globals()")) == every
    assert params_read_in_code(write_notebook(tmp_path, "g.ipynb", "df.query(expression)")) == every
    assert params_read_in_code(write_notebook(tmp_path, "h.ipynb", "%matplotlib inline")) == every


def test_a_notebook_that_recorded_nothing_read_every_field(tmp_path):
    nb = write_notebook(tmp_path, "a.ipynb", "x = seed")
    assert params_read_by(nb, tmp_path / "missing.json") == sorted(PARAM_FIELDS)
    (tmp_path / "r.json").write_text('{"params_read": ["alpha"]}')
    assert params_read_by(nb, tmp_path / "r.json") == ["alpha", "seed"]  # recorded, and read as a variable


def test_the_reuse_key_covers_only_the_fields_read(tmp_path):
    nb = write_notebook(tmp_path, "a.ipynb", START)
    base = load_params(tiny_params(tmp_path, tmp_path, "a"))
    log = load_params(tiny_params(tmp_path, tmp_path, "b", ci_method="log"))
    files = {"patients.csv": "abc"}
    key = lambda params, read, files=files, code="c1": reuse_key(nb, params, files, code, read)  # noqa: E731
    assert key(base, ["seed", "goals"]) == key(log, ["seed", "goals"])
    assert key(base, ["seed", "ci_method"]) != key(log, ["seed", "ci_method"])
    assert key(base, ["seed"]) != key(base, ["seed", "goals"])
    assert key(base, ["seed"]) != key(base, ["seed"], files={"patients.csv": "abd"})
    assert key(base, ["seed"]) != key(base, ["seed"], code="c2")
    moved = load_params(tiny_params(tmp_path, tmp_path, "c", output_dir=tmp_path / "elsewhere"))
    assert key(base, ["seed", "output_dir"]) == key(moved, ["seed", "output_dir"])  # where it writes is no input


def test_a_notebook_is_reused_from_another_report_when_the_params_it_read_agree(tmp_path, tiny_cohort, reports_root,
                                                                                 two_notebooks):
    main = runner.run(tiny_params(tmp_path, tiny_cohort, "main"), in_process=True, say=quiet)
    assert statuses(main) == {"seed": "ran", "ci": "ran"}
    recorded = {n["name"]: n["params_read"] for n in provenance(main.report_dir)["notebooks"]}
    assert "seed" in recorded["seed"] and "ci_method" not in recorded["seed"]
    assert "ci_method" in recorded["ci"] and "seed" not in recorded["ci"]

    said: list[str] = []
    log = runner.run(tiny_params(tmp_path, tiny_cohort, "log", ci_method="log", output_dir=reports_root / "v" / "log"),
                     in_process=True, say=said.append, reuse_from=[main.report_dir])
    assert statuses(log) == {"seed": "reused", "ci": "ran"}
    assert any("reused from" in line and "00_seed" in line for line in said), said
    tables = log.report_dir / "tables"
    assert pd.read_csv(tables / "ci.csv")["ci_method"].tolist() == ["log"]
    assert pd.read_csv(tables / "seed.csv")["seed"].tolist() == [main.params.seed]
    entries = {n["name"]: n for n in provenance(log.report_dir)["notebooks"]}
    assert entries["seed"]["reused_from"] == "reports/tiny" and entries["ci"]["reused_from"] is None
    assert entries["seed"]["params_read"] == recorded["seed"]
    assert provenance(log.report_dir)["reused_notebooks"] == ["seed"]

    seed7_params = tiny_params(tmp_path, tiny_cohort, "seed7", seed=7, output_dir=reports_root / "v" / "seed7")
    seed7 = runner.run(seed7_params, in_process=True, say=quiet, reuse_from=[main.report_dir])
    assert statuses(seed7) == {"seed": "ran", "ci": "reused"}
    assert pd.read_csv(seed7.report_dir / "tables" / "seed.csv")["seed"].tolist() == [7]
    assert pd.read_csv(seed7.report_dir / "tables" / "ci.csv")["ci_method"].tolist() == ["log-log"]

    # its own last report comes first: run again unchanged, it is up to date and nothing is written
    before = (seed7.report_dir / "provenance.json").read_bytes()
    again = runner.run(seed7_params, in_process=True, say=quiet, reuse_from=[main.report_dir])
    assert statuses(again) == {"seed": "reused", "ci": "reused"}
    assert (again.report_dir / "provenance.json").read_bytes() == before
    # with a setting no notebook reads changed it is published again, every notebook reused from its own report
    again = runner.run(tiny_params(tmp_path, tiny_cohort, "seed7", seed=7, output_dir=reports_root / "v" / "seed7",
                                   alpha=0.1), in_process=True, say=quiet, reuse_from=[main.report_dir])
    assert statuses(again) == {"seed": "reused", "ci": "reused"}
    assert {n["reused_from"] for n in provenance(again.report_dir)["notebooks"]} == {"reports/v/seed7"}


def test_the_source_leaving_fewest_notebooks_to_run_is_used(tmp_path, tiny_cohort, reports_root, two_notebooks):
    main = runner.run(tiny_params(tmp_path, tiny_cohort, "main"), in_process=True, say=quiet)
    both = runner.run(tiny_params(tmp_path, tiny_cohort, "both", seed=7, ci_method="log",
                                  output_dir=reports_root / "v" / "both"), in_process=True, say=quiet)
    # seed 7 with log-log: the main report has ci, the other has seed; an earlier source wins a tie
    params = tiny_params(tmp_path, tiny_cohort, "mix", seed=7, output_dir=reports_root / "v" / "mix")
    mixed = runner.run(params, in_process=True, say=quiet, reuse_from=[both.report_dir, main.report_dir])
    assert statuses(mixed) == {"seed": "reused", "ci": "ran"}
    shutil.rmtree(mixed.report_dir)
    mixed = runner.run(params, in_process=True, say=quiet, reuse_from=[main.report_dir, both.report_dir])
    assert statuses(mixed) == {"seed": "ran", "ci": "reused"}


def test_a_source_changed_outside_a_run_or_of_other_data_is_not_used(tmp_path, tiny_cohort, reports_root,
                                                                      two_notebooks):
    main = runner.run(tiny_params(tmp_path, tiny_cohort, "main"), in_process=True, say=quiet)
    (main.report_dir / "tables" / "seed.csv").write_text("seed\n99\n")  # a hand edit of the source
    said: list[str] = []
    params = tiny_params(tmp_path, tiny_cohort, "log", ci_method="log", output_dir=reports_root / "v" / "log")
    log = runner.run(params, in_process=True, say=said.append, reuse_from=[main.report_dir])
    assert statuses(log) == {"seed": "ran", "ci": "ran"}
    assert any("changed since it was published" in line and "tables/seed.csv" in line for line in said), said
    assert pd.read_csv(log.report_dir / "tables" / "seed.csv")["seed"].tolist() == [main.params.seed]

    other = tmp_path / "other_data"
    shutil.copytree(tiny_cohort, other)
    (other / "teams.csv").write_text((other / "teams.csv").read_text().replace("Lakeside Drug", "Lakeside Pharmacy"))
    elsewhere = runner.run(tiny_params(tmp_path, other, "other"), in_process=True, say=quiet)
    said.clear()
    shutil.rmtree(log.report_dir)
    log = runner.run(params, in_process=True, say=said.append, reuse_from=[elsewhere.report_dir, tmp_path / "nowhere"])
    assert statuses(log) == {"seed": "ran", "ci": "ran"}
    assert any("run on other data files" in line for line in said), said
    assert any("not a report" in line for line in said), said


def test_a_notebook_run_again_leaves_no_file_it_no_longer_writes(tmp_path, tiny_cohort, reports_root, two_notebooks):
    """The seed notebook writes extra.csv unless the seed is 7: a variant with seed 7, assembled from the main
    report, has the ci notebook's table (reused) and not the seed notebook's extra.csv of the main report."""
    write_notebook(two_notebooks, "00_seed.ipynb", START,
                   "ev.save_table(pd.DataFrame({'seed': [params.seed]}), params, 'seed')",
                   "if params.seed != 7:\n    ev.save_table(pd.DataFrame({'x': [1]}), params, 'extra')")
    main = runner.run(tiny_params(tmp_path, tiny_cohort, "main"), in_process=True, say=quiet)
    written = {n["name"]: n["outputs"] for n in provenance(main.report_dir)["notebooks"]}
    assert written == {"seed": ["tables/extra.csv", "tables/seed.csv"], "ci": ["tables/ci.csv"]}
    seed7 = runner.run(tiny_params(tmp_path, tiny_cohort, "seed7", seed=7, output_dir=reports_root / "v" / "seed7"),
                       in_process=True, say=quiet, reuse_from=[main.report_dir])
    assert statuses(seed7) == {"seed": "ran", "ci": "reused"}
    assert sorted(p.name for p in (seed7.report_dir / "tables").iterdir()) == ["ci.csv", "data_quality.csv", "seed.csv"]
    entries = {n["name"]: n["outputs"] for n in provenance(seed7.report_dir)["notebooks"]}
    assert entries == {"seed": ["tables/seed.csv"], "ci": ["tables/ci.csv"]}  # the reused one's, carried over
    assert (main.report_dir / "tables" / "extra.csv").is_file()  # the source is never touched


def test_force_reuses_nothing_from_another_report(tmp_path, tiny_cohort, reports_root, two_notebooks):
    main = runner.run(tiny_params(tmp_path, tiny_cohort, "main"), in_process=True, say=quiet)
    params = tiny_params(tmp_path, tiny_cohort, "log", ci_method="log", output_dir=reports_root / "v" / "log")
    forced = runner.run(params, in_process=True, say=quiet, reuse_from=[main.report_dir], force=True)
    assert statuses(forced) == {"seed": "ran", "ci": "ran"}


def test_a_kernel_records_the_params_its_notebook_reads(tmp_path, tiny_cohort, reports_root, two_notebooks):
    """The runner names the record file in the worker's environment; the kernel inherits it."""
    (two_notebooks / "01_ci.ipynb").unlink()
    result = runner.run(tiny_params(tmp_path, tiny_cohort, "main"), jobs=1, say=quiet)
    (entry,) = provenance(result.report_dir)["notebooks"]
    assert entry["status"] == "ran" and "seed" in entry["params_read"] and "ci_method" not in entry["params_read"]
    assert len(entry["params_read"]) < len(PARAM_FIELDS)


def test_reuse_from_on_the_command_line():
    args = build_parser().parse_args(["run", "params/demo.yaml", "--reuse-from", "reports/a", "--reuse-from", "b"])
    assert args.reuse_from == ["reports/a", "b"]
    assert build_parser().parse_args(["run", "params/demo.yaml"]).reuse_from == []


def test_a_variant_reuses_what_its_settings_do_not_reach_and_matches_a_cold_run(small_report, tmp_path):
    """The real notebooks: a run with another CI method and another A1c goal takes every notebook that read
    neither (and is not the report notebook) from the main report, and its tables are exactly those of a full
    cold run. Every notebook checks which measures have goals; that alone does not tie it to the A1c goal."""
    main_dir = small_report.parent / "reports" / "small"
    main = provenance(main_dir)
    recorded = {n["name"]: set(n["params_read"]) for n in main["notebooks"]}
    # what the data-quality notebook can depend on, and what it cannot
    assert {"data_dir", "as_of", "keys(goals)", "suppress_below", "output_dir"} <= recorded["data_quality"]
    assert not {"ci_method", "alpha", "seed", "survival", "value", "title", "windows", "goals", "goals.a1c"} & \
        recorded["data_quality"]
    assert "ci_method" in recorded["time_to_goal"] and "goals.a1c" in recorded["time_to_goal"]
    reaches = {"ci_method", "goals", "goals.a1c"}

    text = small_report.read_text()
    settings = "ci_method: log\ngoals:\n  a1c: '< 7'\n  sbp: '< 140'\n  dbp: '< 90'\n  ldl: '< 100'\n  inr: 2-3\n"
    assert "goals:" not in text  # the small cohort's params leave goals at their defaults (those above, a1c < 8)
    variant = tmp_path / "variant.yaml"
    variant.write_text(text + settings + f"output_dir: {tmp_path / 'variants' / 'v'}\n")
    said: list[str] = []
    reused = runner.run(variant, in_process=True, say=said.append, reuse_from=[main_dir])
    expected = {name: "ran" if read & reaches or name == "report" else "reused" for name, read in recorded.items()}
    assert statuses(reused) == expected, said
    assert {"data_quality", "focus_groups"} <= {n for n, s in expected.items() if s == "reused"}
    ttg, ttg_main = (pd.read_csv(d / "tables" / "time_to_goal.csv") for d in (reused.report_dir, main_dir))
    assert set(ttg["ci_method"]) == {"log"} and set(ttg_main["ci_method"]) == {"log-log"}
    assert not ttg["median_ci_low"].equals(ttg_main["median_ci_low"])  # the CI method matters for these

    cold_params = tmp_path / "cold.yaml"
    cold_params.write_text(text + settings + f"output_dir: {tmp_path / 'variants' / 'cold'}\n")
    cold = runner.run(cold_params, in_process=True, say=quiet, force=True)
    assert all(r.status == "ran" for r in cold.notebooks)
    tables = lambda d: {p.name: p.read_bytes() for p in sorted((d / "tables").iterdir())}  # noqa: E731
    assert tables(reused.report_dir) == tables(cold.report_dir)
    figures = lambda d: sorted(p.name for p in (d / "figures").iterdir())  # noqa: E731
    assert figures(reused.report_dir) == figures(cold.report_dir)
    assert (reused.report_dir / "figures" / "manifest.csv").read_bytes() == \
        (cold.report_dir / "figures" / "manifest.csv").read_bytes()


def test_a_variant_reuses_from_the_cohorts_main_report_when_there_is_one(tmp_path, tiny_cohort, reports_root,
                                                                         two_notebooks):
    assert plan.variant_reuse_from("tiny", ["reports/x"]) == ["reports/x"]  # no main report yet
    main = runner.run(tiny_params(tmp_path, tiny_cohort, "main"), in_process=True, say=quiet)
    assert plan.variant_reuse_from("tiny", ["reports/x"]) == ["reports/x", main.report_dir]
    assert plan.variant_reuse_from("tiny", None) == [main.report_dir]
