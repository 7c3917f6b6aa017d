"""Sweeps: the spec file and its errors, the variants a grid makes and their names, the task a worker runs and
how it tells a failure worth retrying from one that is not, where the summary goes, kernels that never collide,
and a real two-variant sweep on a LocalCluster (run again: every variant reused, the summary the same bytes)."""
from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
from pathlib import Path

import nbformat
import pytest

from evaluation.__main__ import build_parser, main
from evaluation.core.errors import ParamsError
from evaluation.core.params import parse_overrides
from evaluation.data.synth import generate_cohort
from evaluation.run import sweep
from evaluation.run.execute import kernel_name, run_batch
from evaluation.run.kernels import SOCKETS_PREFIX, kernel_connection
from evaluation.run.sweep import (SweepTask, VariantFailed, expand_variants, load_spec, move_into, plan_tasks,
                                  run_variant, slug, variant_command, variant_name)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    """A params file of a cohort whose data folder exists (the spec checks need no data in it)."""
    (tmp_path / "data").mkdir()
    return write(tmp_path / "cohort.yaml", f"cohort_id: c1\ndata_dir: {tmp_path / 'data'}\n")


def spec(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    return write(tmp_path / "specs" / name, text)


# --- names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("< 7", "lt7"), ("<= 7", "le7"), ("> 5", "gt5"), (">= 5.5", "ge5.5"), ("2-3", "2-3"), ("log-log", "log-log"),
    (180, "180"), (0.05, "0.05"), (True, "true"), (["track", "sex"], "track.sex"), ("community pharmacy",
                                                                                    "community-pharmacy")])
def test_a_value_in_a_variant_name(value, expected):
    assert slug(value) == expected


def test_grid_makes_every_combination_first_key_slowest_named_from_its_settings():
    grid = {"goals.a1c": ["< 8", "< 7"], "ci_method": ["log-log", "log"]}
    named = [("short-followup", {"windows.followup_max_days": 180})]
    assert expand_variants(grid, named) == [
        ("base", {}),
        ("a1c-lt8_ci_method-log-log", {"goals.a1c": "< 8", "ci_method": "log-log"}),
        ("a1c-lt8_ci_method-log", {"goals.a1c": "< 8", "ci_method": "log"}),
        ("a1c-lt7_ci_method-log-log", {"goals.a1c": "< 7", "ci_method": "log-log"}),
        ("a1c-lt7_ci_method-log", {"goals.a1c": "< 7", "ci_method": "log"}),
        ("short-followup", {"windows.followup_max_days": 180}),
    ]
    assert expand_variants({}, named, include_base=False) == named
    assert variant_name({"subgroups": ["track", "condition"], "windows.followup_max_days": 180}) == \
        "subgroups-track.condition_followup_max_days-180"


def test_the_demo_sweep_runs_six_variants_of_the_demo():
    s = load_spec("sweeps/demo.yaml")
    assert s.name == "demo" and s.cohorts == ["params/demo.yaml"] and s.description
    assert [name for name, _ in s.variants] == ["base", "a1c-lt7_ci_method-log-log", "a1c-lt7_ci_method-log",
                                                "a1c-lt9_ci_method-log-log", "a1c-lt9_ci_method-log",
                                                "short-followup"]
    tasks = plan_tasks(s)
    assert [t.cohort_id for t in tasks] == ["demo"] * 6


# --- the spec's mistakes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, key, fragment", [
    ("cohorts: [{p}]\ngird: {{ci_method: [log]}}\n", "gird", "did you mean `grid`?"),
    ("grid: {{ci_method: [log]}}\n", "cohorts", "`cohorts` is required"),
    ("cohorts: {p}\ngrid: {{ci_method: [log]}}\n", "cohorts", "must be a list of params files"),
    ("cohorts: [params/nowhere.yaml]\n", "cohorts[0]", "params file params/nowhere.yaml not found"),
    ("cohorts: [{p}, {p}]\n", "cohorts[1]", "listed twice"),
    ("cohorts: [{p}]\ngrid: {{ci_method: log}}\n", "grid.ci_method", "must be a list of one or more values"),
    ("cohorts: [{p}]\ngrid: {{goals: {{a1c: ['< 7']}}}}\n", "grid.goals", "such as goals.a1c: [...]"),
    ("cohorts: [{p}]\ninclude_base: yes please\n", "include_base", "must be true or false"),
    ("cohorts: [{p}]\nname: ../up\n", "name", "`name` must be letters, digits"),
    ("cohorts: [{p}]\nvariants: [{{name: v1}}]\n", "variants[0].set", "must map one or more params keys"),
    ("cohorts: [{p}]\nvariants: [{{name: .hidden, set: {{ci_method: log}}}}]\n", "variants[0].name",
     "must be letters, digits"),
    ("cohorts: [{p}]\nvariants: [{{name: v1, sett: {{ci_method: log}}}}]\n", "variants[0].sett", "unknown key `sett`"),
    ("cohorts: [{p}]\ninclude_base: false\n", "include_base", "nothing to run"),
])
def test_a_spec_mistake_names_the_file_and_the_key(tmp_path, params_file, text, key, fragment):
    path = spec(tmp_path, text.format(p=params_file))
    with pytest.raises(ParamsError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert key in [k for k, _ in caught.value.problems]
    assert fragment in str(caught.value)


def test_a_missing_or_broken_spec_file_is_named(tmp_path):
    with pytest.raises(ParamsError, match="sweep spec not found"):
        load_spec(tmp_path / "none.yaml")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_spec(spec(tmp_path, "cohorts: [a\n"))
    with pytest.raises(ParamsError, match="a YAML mapping"):
        load_spec(spec(tmp_path, "- a\n- b\n"))


def test_two_variants_of_one_name_are_refused(tmp_path, params_file):
    path = spec(tmp_path, f"cohorts: [{params_file}]\ngrid: {{goals.a1c: ['< 7']}}\n"
                          "variants:\n  - {name: a1c-lt7, set: {ci_method: log}}\n  - {name: base, set: {seed: 3}}\n")
    with pytest.raises(ParamsError) as caught:
        load_spec(path)
    text = str(caught.value)
    assert "two variants are named a1c-lt7: the grid (goals.a1c: < 7) and variants[0]" in text
    assert "two variants are named base: the base (include_base) and variants[1]" in text


def test_a_setting_the_params_refuse_is_named_before_anything_runs(tmp_path, params_file):
    path = spec(tmp_path, f"cohorts: [{params_file}]\ngrid: {{ci_method: [log, plain], goals.a1c: ['< 7', '<< 3']}}\n")
    with pytest.raises(ParamsError) as caught:
        plan_tasks(load_spec(path))
    text = str(caught.value)
    assert text.startswith(f"{path}: 2 problems")
    assert (f"variants ci_method-plain_a1c-lt7, ci_method-plain_a1c-lt-3 of {params_file}: `--set ci_method`: "
            "`ci_method` must be one of log-log, log; got 'plain'") in text
    assert f"variants ci_method-log_a1c-lt-3, ci_method-plain_a1c-lt-3 of {params_file}: `--set goals.a1c`" in text
    path = spec(tmp_path, f"cohorts: [{params_file}]\nvariants: [{{name: v, set: {{windows.followup_max_dayz: 9}}}}]\n")
    with pytest.raises(ParamsError, match=r"variant v of .*did you mean 'windows.followup_max_days'\?"):
        plan_tasks(load_spec(path))
    assert not (Path(os.environ["CMM_REPORTS_DIR"]) / "sweeps").exists()  # nothing written


def test_two_params_files_of_one_cohort_are_refused(tmp_path, params_file):
    other = write(tmp_path / "again.yaml", params_file.read_text())
    with pytest.raises(ParamsError, match="are both cohort c1"):
        plan_tasks(load_spec(spec(tmp_path, f"cohorts: [{params_file}, {other}]\n")))


def test_the_spec_file_s_name_is_the_default_sweep_name(tmp_path, params_file):
    s = load_spec(spec(tmp_path, f"cohorts: [{params_file}]\n", name="goal-check.yaml"))
    assert s.name == "goal-check" and s.variants == [("base", {})]
    assert s.folder == Path(os.environ["CMM_REPORTS_DIR"]) / "sweeps" / "goal-check"


# --- the task --------------------------------------------------------------------------------------------------


def test_the_runner_reads_each_override_back_as_the_spec_wrote_it(tmp_path, params_file):
    overrides = {"goals.a1c": "< 7", "goals.inr": "2-3", "subgroups": ["track", "sex"],
                 "windows.followup_max_days": 180, "ci_method": "log-log", "suppress_below": 20, "title": "> 5 & yes"}
    task = SweepTask("c1", str(params_file), "v1", overrides, str(tmp_path / "r" / "v1"), str(tmp_path / "v1.log"),
                     str(tmp_path), str(tmp_path), "/usr/bin/python3")
    command = variant_command(task)
    assert command[:9] == ["/usr/bin/python3", "-m", "evaluation", "run", str(params_file), "--jobs", "1",
                           "--variant", "v1"]
    args = build_parser().parse_args(command[3:])
    assert args.jobs == 1 and args.variant == "v1" and not args.force
    assert parse_overrides(args.set) == {"output_dir": str(tmp_path / "r" / "v1"), **overrides}


def test_each_variant_waits_for_the_one_it_differs_least_from_and_reuses_from_it(tmp_path, params_file):
    """The demo's grid: base; a1c < 7 with log-log (the base's CI method), then with log; a1c < 9 likewise; a
    shorter follow-up. Each waits for (and reuses from) the earlier variant with the fewest settings that differ
    (on a tie the one closer to the base), and from its cohort's first variant; a second cohort's base runs from
    the start."""
    other = write(tmp_path / "other.yaml", f"cohort_id: c2\ndata_dir: {tmp_path / 'data'}\n")

    def task(params: Path, cohort: str, name: str, force: bool = False, **overrides) -> SweepTask:
        return SweepTask(cohort, str(params), name, overrides, f"/r/{cohort}/{name}", "", "", "", "python", force)

    grid = [{}, {"goals.a1c": "< 7", "ci_method": "log-log"}, {"goals.a1c": "< 7", "ci_method": "log"},
            {"goals.a1c": "< 9", "ci_method": "log-log"}, {"goals.a1c": "< 9", "ci_method": "log"},
            {"windows.followup_max_days": 180}]
    names = ["base", "lt7-ll", "lt7-log", "lt9-ll", "lt9-log", "short"]
    tasks = [task(params_file, "c1", n, **g) for n, g in zip(names, grid)] + [task(other, "c2", "base"),
                                                                              task(other, "c2", "x", seed=7)]
    ordered, roots, children = sweep.reuse_tree(tasks, workers=4)
    assert roots == [0, 6]
    # lt7-ll differs from the base in the A1c goal only (log-log is the base's CI method); lt7-log from lt7-ll in
    # the CI method only; lt9-ll in one setting from the base and from lt7-ll (the base is closer); lt9-log in one
    # from lt7-log and from lt9-ll (lt9-ll is closer); the short follow-up in one from the base only
    assert children == {0: [1, 3, 5], 1: [2], 3: [4], 6: [7]}
    assert [t.reuse_from for t in ordered] == [
        (), ("/r/c1/base",), ("/r/c1/lt7-ll", "/r/c1/base"), ("/r/c1/base",), ("/r/c1/lt9-ll", "/r/c1/base"),
        ("/r/c1/base",), (), ("/r/c2/base",)]
    assert [t.jobs for t in ordered] == [2, 1, 1, 1, 1, 1, 2, 1]  # the first variants get the idle cores
    assert [t.jobs for t in sweep.reuse_tree(tasks, workers=1)[0]] == [1] * 8  # fewer workers than cohorts
    assert [t.jobs for t in sweep.reuse_tree(tasks, workers=None)[0]] == [1] * 8  # a cluster's cores unknown
    args = build_parser().parse_args(variant_command(ordered[2])[3:])
    assert args.reuse_from == ["/r/c1/lt7-ll", "/r/c1/base"] and args.jobs == 1
    assert build_parser().parse_args(variant_command(ordered[0])[3:]).jobs == 2
    forced = [task(params_file, "c1", "base", True), task(params_file, "c1", "x", True, seed=7)]
    assert sweep.reuse_tree(forced, workers=2) == (forced, [0, 1], {})  # --force: every variant cold, at once


FAKE_RUN = """#!/bin/sh
# stands in for python: prints what a run would and exits as FAKE_EXIT says
echo "reports root $CMM_REPORTS_DIR, threads $OMP_NUM_THREADS, trim ${MALLOC_TRIM_THRESHOLD_:-unset}"
case "$FAKE_EXIT" in
  crash) echo "Traceback (most recent call last):"; echo "KeyError: 'x'"; exit 1 ;;
  kill) kill -9 $$ ;;
  once) if [ -e "$FAKE_MARK" ]; then exit 0; fi; touch "$FAKE_MARK"; echo "error: kernel died"; exit 3 ;;
  *) echo "error: the message of exit $FAKE_EXIT"; exit "$FAKE_EXIT" ;;
esac
"""


def fake_task(tmp_path: Path, name: str, how: str) -> SweepTask:
    """A task whose "python" is a shell script that exits as ``how`` says, its report folder under tmp_path."""
    python = tmp_path / "fake-python"
    if not python.exists():
        write(python, FAKE_RUN)
        python.chmod(python.stat().st_mode | stat.S_IEXEC)
    params, root = write(tmp_path / "x.yaml", ""), tmp_path / "root"
    root.mkdir(exist_ok=True)
    return SweepTask("c1", str(params), name, {}, str(tmp_path / "reports" / name), str(tmp_path / "logs" /
                     f"c1__{name}.log"), str(root), str(tmp_path), str(python), False,
                     {"FAKE_EXIT": how, "FAKE_MARK": str(tmp_path / f"{name}.mark"), "OMP_NUM_THREADS": "1"})


def provenance(folder: Path, statuses: list[str]) -> None:
    write(folder / "provenance.json", json.dumps({"cohort_id": "c1", "notebooks": [
        {"notebook": f"notebooks/{i}.ipynb", "status": s} for i, s in enumerate(statuses)]}))


def test_a_run_that_executed_nothing_is_reused_and_the_log_has_its_command_and_output(tmp_path):
    task = fake_task(tmp_path, "v1", "0")
    provenance(Path(task.report_dir), ["reused", "reused", "kept"])
    record = run_variant(task)
    assert (record["status"], record["exit_code"], record["error"]) == ("reused", 0, None)
    log = Path(task.log_path).read_text()
    assert f"$ {tmp_path / 'fake-python'} -m evaluation run {tmp_path / 'x.yaml'} --jobs 1 --variant v1" in log
    assert f"reports root {tmp_path / 'root'}, threads 1, trim unset" in log  # the reports root passed explicitly
    provenance(Path(task.report_dir), ["reused", "ran"])
    assert run_variant(task)["status"] == "ran"
    assert Path(task.log_path).read_text().count("$ ") == 2  # attempts append


def test_a_run_does_not_inherit_the_settings_dask_gives_its_workers(tmp_path, monkeypatch):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_ (and thread counts) in each worker; a variant's run sees the
    sweep's environment instead (the thread counts the sweep sets itself)."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    unset = sweep.dask_worker_settings({"OMP_NUM_THREADS": "1"})
    assert "MALLOC_TRIM_THRESHOLD_" in unset and "MKL_NUM_THREADS" in unset and "OMP_NUM_THREADS" not in unset
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000")  # the user's own setting is theirs: kept
    assert "MALLOC_TRIM_THRESHOLD_" not in sweep.dask_worker_settings({})

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as in a Dask worker
    task = fake_task(tmp_path, "v1", "0")
    provenance(Path(task.report_dir), ["ran"])
    run_variant(task)
    assert "trim 65536" in Path(task.log_path).read_text()
    run_variant(dataclasses.replace(task, unset=("MALLOC_TRIM_THRESHOLD_",)))
    assert Path(task.log_path).read_text().count("trim unset") == 1


@pytest.mark.parametrize("code, reason", [(1, "data errors"), (2, "a params mistake"), (4, "cannot be written")])
def test_a_failure_that_repeats_itself_is_a_record_not_a_retry(tmp_path, code, reason):
    record = run_variant(fake_task(tmp_path, "v1", str(code)))
    assert (record["status"], record["exit_code"]) == ("failed", code)
    assert record["error"] == f"the message of exit {code}"
    assert reason in sweep.DETERMINISTIC[code]


@pytest.mark.parametrize("how, code, fragment", [("3", 3, "the message of exit 3"), ("crash", 3, "crashed"),
                                                 ("kill", 3, "killed by signal 9"), ("7", 3, "exit 7")])
def test_a_failure_another_attempt_may_not_repeat_raises_for_a_retry(tmp_path, how, code, fragment):
    with pytest.raises(VariantFailed) as caught:
        run_variant(fake_task(tmp_path, "v1", how))
    assert caught.value.exit_code == code
    assert fragment in str(caught.value) and "c1/v1" in str(caught.value) and "c1__v1.log" in str(caught.value)


def test_dask_retries_a_task_and_reports_one_that_keeps_failing(tmp_path):
    """On an existing cluster (--scheduler): a task that fails once succeeds on its retry; one that fails every
    time is a failed record with its last error, each attempt in its log; the line per variant says which."""
    from dask.distributed import LocalCluster

    s = sweep.SweepSpec("t", tmp_path / "t.yaml", None, ["params/x.yaml"], [("once", {}), ("always", {})])
    tasks = [fake_task(tmp_path, "once", "once"), fake_task(tmp_path, "always", "3")]
    lines: list[str] = []
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with pytest.raises(ParamsError, match="must share this file system") as caught:
            from dask.distributed import Client
            with Client(cluster.scheduler_address) as client:
                sweep._check_shared_files(client, SweepTask("c1", "p.yaml", "v", {}, "", "", "/nowhere", str(tmp_path),
                                                            sys.executable))
        assert "/nowhere" in str(caught.value) and str(tmp_path) + "," not in str(caught.value)
        records = sweep._run_on_dask(s, tasks, 1, cluster.scheduler_address, 1, lines.append, False)
    assert records[0]["status"] == "ran" and records[0]["variant"] == "once"
    assert (records[1]["status"], records[1]["exit_code"]) == ("failed", 3)
    assert "the message of exit 3" in records[1]["error"]
    assert Path(tasks[1].log_path).read_text().count("$ ") == 2  # the first attempt and one retry
    assert sorted(line.split()[1] for line in lines) == ["failed", "ran"]
    assert any(line.startswith("[") and "c1/always" in line and "log: " in line for line in lines)


# --- the summary -------------------------------------------------------------------------------------------------


def test_a_new_summary_replaces_the_old_one_and_keeps_the_variants_and_logs(tmp_path):
    folder = tmp_path / "reports" / "sweeps" / "s"
    for name, text in {"index.html": "old", "stale.csv": "old", "figures/old.png": "old",
                       "variants/c1/base/index.html": "report", "logs/c1__base.log": "log"}.items():
        write(folder / name, text)
    staging = tmp_path / "reports" / ".staging" / "sweep-s"
    for name, text in {"index.html": "new", "sensitivity.csv": "new", "figures/new.png": "new"}.items():
        write(staging / name, text)
    move_into(staging, folder)
    found = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}
    assert found == {"index.html": "new", "sensitivity.csv": "new", "figures/new.png": "new",
                     "variants/c1/base/index.html": "report", "logs/c1__base.log": "log"}
    assert not staging.exists()


def test_a_failed_variant_leaves_the_last_summary_and_names_its_log(tmp_path, params_file, monkeypatch, capsys):
    path = spec(tmp_path, f"name: s\ncohorts: [{params_file}]\ngrid: {{ci_method: [log]}}\n")
    folder = load_spec(path).folder
    write(folder / "index.html", "the last summary")

    def finished(spec, tasks, *args):  # stands in for the cluster: the grid variant failed on a data error
        return [{"cohort_id": "c1", "variant": t.variant, "seconds": 1.0, "report_dir": t.report_dir,
                 "log": t.log_path, **({"status": "ran", "exit_code": 0, "error": None} if t.variant == "base" else
                                       {"status": "failed", "exit_code": 1, "error": "1 data error(s) in data"})}
                for t in tasks]

    monkeypatch.setattr(sweep, "_run_on_dask", finished)
    assert main(["sweep", str(path)]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 variant(s) failed (1 ran, 1 failed)" in err
    assert "c1/ci_method-log: 1 data error(s) in data" in err
    assert f"log: {folder / 'logs' / 'c1__ci_method-log.log'}" in err
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "logs"]
    assert (folder / "index.html").read_text() == "the last summary"


def test_the_command_line_refuses_workers_with_a_scheduler(capsys):
    assert main(["sweep", "sweeps/demo.yaml", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "--workers sizes the local cluster" in capsys.readouterr().err


# --- kernels -----------------------------------------------------------------------------------------------------


def test_kernels_listen_on_sockets_in_a_folder_of_their_own(tmp_path):
    """The fix for kernels started at once taking each other's TCP ports: the kernel papermill starts uses the
    ipc transport, its sockets in a temporary folder of that notebook's own, removed after it."""
    from nbclient import NotebookClient

    manager = NotebookClient(nbformat.v4.new_notebook(), kernel_name="python3",
                             **kernel_connection(str(tmp_path))).create_kernel_manager()
    assert manager.transport == "ipc"
    assert manager.connection_file == str(tmp_path / "kernel.json") and manager.ip == str(tmp_path / "kernel-ipc")

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from ipykernel import get_connection_info\n"
                                          "info = get_connection_info(unpack=True)\n"
                                          "print(info['transport'], info['ip'])")]
    source = tmp_path / "probe.ipynb"
    nbformat.write(nb, source)
    done: list = []
    run_batch([source], tmp_path / "staging", {}, 1, kernel_name(), lambda _: None, done, 1)
    assert done[0].status == "ok", done[0].error
    out = nbformat.read(tmp_path / "staging" / "notebooks" / "probe.ipynb", as_version=4).cells[0].outputs
    transport, ip = out[0]["text"].split()
    assert transport == "ipc" and Path(ip).parent.name.startswith(SOCKETS_PREFIX)
    assert not Path(ip).parent.exists()  # removed with the kernel


# --- a real sweep --------------------------------------------------------------------------------------------------


def summary_files(folder: Path) -> dict[str, bytes]:
    """The summary's files (what a sweep replaces), by path inside the sweep's folder."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.relative_to(folder).parts[0] not in ("variants", "logs")}


def test_a_two_variant_sweep_on_a_local_cluster_then_reused(tmp_path):
    """Two variants of a small cohort on a LocalCluster of 2 workers: both reports (provenance saying what each
    changed), the summary; again: both reused, the summary the same bytes; a spec with a variant that fails on
    its data: the last summary untouched."""
    data = tmp_path / "data"
    generate_cohort(data, seed=41, n_teams=4, patients_per_team=(12, 30), start="2022-03-01")
    params = write(tmp_path / "small.yaml", f"cohort_id: small\ndata_dir: {data}\n")
    path = spec(tmp_path, f"name: ci\ndescription: Two variants\ncohorts: [{params}]\n"
                          "grid: {goals.a1c: ['< 7']}\n")
    result = sweep.run_sweep(path, workers=2, progress=False, say=lambda _: None)
    folder = Path(os.environ["CMM_REPORTS_DIR"]) / "sweeps" / "ci"
    assert result.exit_code == 0, result.records
    assert [(r["variant"], r["status"]) for r in result.records] == [("base", "ran"), ("a1c-lt7", "ran")]
    base = json.loads((folder / "variants/small/base/provenance.json").read_text())
    a1c = json.loads((folder / "variants/small/a1c-lt7/provenance.json").read_text())
    # the sweep gives each variant its folder with --set output_dir (a folder is never a difference from the base)
    assert base["variant"]["name"] == "base"
    assert base["variant"]["overrides"] == {"output_dir": str(folder / "variants/small/base")}
    assert base["variant"]["differs_from_base"] == []
    assert a1c["variant"]["overrides"] == {"output_dir": str(folder / "variants/small/a1c-lt7"), "goals.a1c": "< 7"}
    assert {"key": "goals.a1c", "base": "< 8", "variant": "< 7"} in a1c["variant"]["differs_from_base"]
    assert a1c["params"]["output_dir"] == "reports/sweeps/ci/variants/small/a1c-lt7"
    # the variant ran after the base and took from it what the A1c goal does not reach (the focus groups)
    origin = {n["name"]: (n["status"], n.get("reused_from")) for n in a1c["notebooks"]}
    assert origin["focus_groups"] == ("reused", "reports/sweeps/ci/variants/small/base")
    assert origin["time_to_goal"] == ("ran", None) and origin["report"] == ("ran", None)
    for name in ("index.html", "sensitivity.csv", "conclusions.csv", "sweep.json"):
        assert (folder / name).is_file(), name
    assert any((folder / "figures").iterdir())
    assert result.summary == folder / "index.html"
    record = json.loads((folder / "sweep.json").read_text())
    assert record["spec"]["grid"] == {"goals.a1c": ["< 7"]}
    assert [(v["variant"], v["overrides"], v["status"], v["report"]) for v in record["variants"]] == [
        ("base", {}, "ran", "reports/sweeps/ci/variants/small/base"),
        ("a1c-lt7", {"goals.a1c": "< 7"}, "ran", "reports/sweeps/ci/variants/small/a1c-lt7")]
    assert "data are valid" in (folder / "logs/small__a1c-lt7.log").read_text()
    first = summary_files(folder)

    again = sweep.run_sweep(path, workers=2, progress=False, say=lambda _: None)
    assert [r["status"] for r in again.records] == ["reused", "reused"]
    second = summary_files(folder)
    assert {k: v for k, v in second.items() if k != "sweep.json"} == {k: v for k, v in first.items()
                                                                      if k != "sweep.json"}
    runs = [json.loads(b) for b in (first["sweep.json"], second["sweep.json"])]
    for r in runs:
        for v in r["variants"]:
            del v["status"], v["seconds"]  # what this run did, and how long it took
    assert runs[0] == runs[1]

    broken = spec(tmp_path, f"name: ci\ncohorts: [{params}]\n"
                            f"variants: [{{name: no-data, set: {{data_dir: {tmp_path / 'missing'}}}}}]\n")
    failed = sweep.run_sweep(broken, workers=2, progress=False, say=lambda _: None)
    assert [(r["variant"], r["status"], r["exit_code"]) for r in failed.records] == [("base", "reused", 0),
                                                                                     ("no-data", "failed", 1)]
    assert failed.summary is None and summary_files(folder) == second
    assert "data folder not found" in (folder / "logs/small__no-data.log").read_text()
