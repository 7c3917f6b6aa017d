"""Publishing: the runner writes only inside the reports root, never replaces a folder it did not publish,
leaves a complete report however it is killed, and meets a read-only or full disk with one line naming the path.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from evaluation import DataValidationError, ParamsError
from evaluation.__main__ import EXIT_PARAMS, EXIT_STORAGE, main
from evaluation.core.paths import REPO_ROOT
from evaluation.run import notebooks, publishing, runner
from tests.conftest import TINY, write_cohort

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # chmod does not stop root: refusals are simulated then


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file of a folder with its bytes (folders included, as None)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def entries(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if folder.is_dir() else []


@pytest.fixture
def small_run(tmp_path, tiny_cohort, reports_root, monkeypatch):
    """A params file for the tiny cohort and one quick notebook that writes a table, run in this process (also
    through the command line: the kernel is replaced by in-process execution)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("output_dir = None\ncohort_id = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from pathlib import Path\n(Path(output_dir) / 'tables').mkdir(exist_ok=True)\n"
                                  "(Path(output_dir) / 'tables' / 'hello.csv').write_text('a\\n1\\n')")])
    nbformat.write(nb, folder / "00_hello.ipynb")
    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(runner, "kernel_name", lambda: None)  # `main(["run", ...])` runs in this process too

    def write(**extra) -> Path:
        lines = ["cohort_id: tiny", f"data_dir: {tiny_cohort}", 'as_of: "2016-12-31"']
        path = tmp_path / "tiny.yaml"
        path.write_text("\n".join(lines + [f"{k}: {v}" for k, v in extra.items()]) + "\n")
        return path
    return write


def run_quietly(params: Path, **kwargs):
    return runner.run(params, say=lambda line: None, in_process=True, **kwargs)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


# --- 1. the reports root is the only place written -----------------------------------------------------------

@pytest.mark.parametrize("inside", [".staging/tiny", ".trash", ".publishing/tiny"])
def test_output_dir_in_the_workbench_folders_is_refused_before_anything_is_written(small_run, reports_root, capsys,
                                                                                  inside):
    params = small_run(output_dir=str(reports_root / inside))
    assert main(["run", str(params)]) == EXIT_PARAMS
    assert f"is inside the workbench's own {inside.split('/')[0]} folder" in one_line_error(capsys)
    assert not reports_root.exists()


def test_output_dir_equal_to_the_root_or_outside_it_is_refused(small_run, reports_root, tmp_path):
    for bad in (reports_root, tmp_path / "elsewhere"):
        with pytest.raises(ParamsError) as info:
            run_quietly(small_run(output_dir=str(bad)))
        assert info.value.key == "output_dir"
    assert not reports_root.exists() and not (tmp_path / "elsewhere").exists()


def test_the_runner_refuses_the_root_even_when_params_came_another_way(small_run, reports_root, monkeypatch):
    """The runner's own check, whatever made the params (here: the root moved after the params were read)."""
    from evaluation.core.params import load_params

    params = load_params(small_run())
    monkeypatch.setenv("CMM_REPORTS_DIR", str(params.output_dir))
    with pytest.raises(ParamsError, match="is the reports folder itself"):
        publishing.check_output_dir(params)


def test_output_dir_through_a_link_out_of_the_root_or_inside_another_report_is_refused(small_run, reports_root,
                                                                                       tmp_path):
    run_quietly(small_run())
    (tmp_path / "outside").mkdir()
    (reports_root / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ParamsError, match="leads out of the reports folder through a link"):
        run_quietly(small_run(output_dir=str(reports_root / "link" / "tiny")))
    with pytest.raises(ParamsError, match=r"is inside the report .*tiny: give it a folder of its own"):
        run_quietly(small_run(output_dir=str(reports_root / "tiny" / "again")))
    assert entries(tmp_path / "outside") == []


def test_failed_validation_keeps_its_staging_folder_inside_the_root(small_run, tiny_cohort, reports_root, tmp_path):
    """Today's bug: staging went beside output_dir (here reports/group/.staging); now it is always <root>/.staging."""
    (tiny_cohort / "patients.csv").write_text(TINY["patients.csv"].replace("P003,T02", "P003,T99"))
    params = small_run(output_dir=str(reports_root / "group" / "tiny"))
    with pytest.raises(DataValidationError) as info:
        run_quietly(params)
    staging = Path(info.value.staging_dir)
    assert staging.parent == reports_root / ".staging" and (staging / "tables" / "data_quality.csv").exists()
    assert entries(reports_root) == [".staging"]  # no reports/group/.staging
    assert ".staging" not in entries(tmp_path)


# --- 2. never delete or replace a folder it did not create ----------------------------------------------------

def test_a_users_folder_at_output_dir_is_left_byte_for_byte(small_run, reports_root, capsys):
    mine = reports_root / "tiny"
    (mine / "notes").mkdir(parents=True)
    (mine / "precious.txt").write_bytes(b"years of work\n")
    (mine / "notes" / "a.md").write_bytes(b"# mine\n")
    before, stat = snapshot(mine), os.stat(mine)
    assert main(["run", str(small_run())]) == EXIT_PARAMS
    message = one_line_error(capsys)
    assert f"`output_dir` {mine} is a folder the workbench did not publish" in message
    assert "nothing was touched" in message
    assert snapshot(mine) == before and os.stat(mine).st_mtime_ns == stat.st_mtime_ns
    assert entries(reports_root) == ["tiny"]  # no .staging, .trash or .publishing beside it


def test_another_cohorts_report_a_link_or_a_file_is_not_replaced(small_run, reports_root, tmp_path):
    run_quietly(small_run())
    other = json.loads((reports_root / "tiny" / "provenance.json").read_text())
    shutil.copytree(reports_root / "tiny", reports_root / "theirs")
    (reports_root / "theirs" / "provenance.json").write_text(json.dumps(other | {"cohort_id": "theirs"}))
    (reports_root / "linked").symlink_to(reports_root / "tiny")
    (reports_root / "file").write_text("x")
    for name, reason in [("theirs", "holds the report of cohort theirs, not tiny"), ("linked", "is a link"),
                         ("file", "is a file")]:
        before = snapshot(reports_root)
        with pytest.raises(ParamsError, match=reason):
            run_quietly(small_run(output_dir=str(reports_root / name)))
        assert snapshot(reports_root) == before


def test_a_folder_appearing_while_the_notebooks_ran_is_not_replaced(tmp_path, reports_root):
    staging, final = report_pair(reports_root)
    shutil.rmtree(final)
    final.mkdir()
    (final / "precious.txt").write_text("mine")
    with pytest.raises(ParamsError, match="did not publish"):
        publishing.publish(staging, final)
    assert entries(final) == ["precious.txt"] and (staging / "provenance.json").exists()


def test_reports_are_real_folders_and_old_ones_leave_no_trash(small_run, reports_root):
    params = small_run()
    for force in (False, True, True):
        run_quietly(params, force=force)
    report = reports_root / "tiny"
    assert report.is_dir() and not report.is_symlink() and (report / "tables" / "hello.csv").exists()
    assert entries(reports_root / ".trash") == [] and entries(reports_root / ".staging") == []
    assert entries(reports_root / ".publishing") == [".lock"]


def test_an_empty_folder_at_output_dir_may_be_replaced(small_run, reports_root):
    (reports_root / "tiny").mkdir(parents=True)
    run_quietly(small_run())
    assert (reports_root / "tiny" / "provenance.json").exists()


# --- 3. publishing has no instant without a report -----------------------------------------------------------

def fake_report(folder: Path, cohort: str, started: str) -> Path:
    """A small complete report: provenance.json and a few files in two folders, each naming the run."""
    (folder / "tables").mkdir(parents=True)
    (folder / "tables" / "t.csv").write_text(f"run\n{started}\n")
    (folder / "tables" / "u.csv").write_text(f"u\n{started}\n")
    (folder / "index.html").write_text(f"<p>{started}</p>")
    (folder / "provenance.json").write_text(json.dumps({"cohort_id": cohort, "started_utc": started}))
    return folder


OLD_RUN, NEW_RUN = "2024-01-01T00:00:00Z", "2024-02-02T00:00:00Z"


def report_pair(root: Path, first: bool = False) -> tuple[Path, Path]:
    """(a staged new report, the published old one) inside ``root``; no old one when ``first``."""
    final = root / "tiny"
    if not first:
        fake_report(final, "tiny", OLD_RUN)
    return fake_report(root / ".staging" / "tiny-new", "tiny", NEW_RUN), final


# the calls that change the file system while publishing (the journal write's own steps included): the script
# counts them all, in order, and dies with os._exit(9) just before the k-th (or after the last when k is 0)
KILL_SCRIPT = r"""
import json, os, shutil, sys
from pathlib import Path
from evaluation.run import publishing

mode, action, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
steps, exchanged = [], []
if mode == "fallback":  # a system or file system without the exchange
    publishing.exchange_dirs = lambda a, b: False

def watch(owner, name):
    real = getattr(owner, name)
    def call(*args, **kwargs):
        steps.append(name)
        if len(steps) == kill_at:
            os._exit(9)
        result = real(*args, **kwargs)
        if name == "exchange_dirs":
            exchanged.append(result)
        return result
    setattr(owner, name, call)

for owner, name in [(os, "replace"), (os, "unlink"), (os, "rmdir"), (os, "mkdir"), (os, "fsync"),
                    (shutil, "rmtree"), (publishing, "exchange_dirs"), (publishing, "_write_journal")]:
    watch(owner, name)
if action == "publish":
    publishing.publish(Path(sys.argv[4]), Path(sys.argv[5]))
else:
    publishing.repair_reports()
if kill_at == 0:
    os._exit(9)
print(json.dumps({"steps": steps, "exchanged": exchanged}))
"""


def run_script(root: Path, mode: str, action: str, kill_at: int, *paths: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CMM_REPORTS_DIR=str(root))
    return subprocess.run([sys.executable, "-c", KILL_SCRIPT, mode, action, str(kill_at), *map(str, paths)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def steps_of(root: Path, mode: str, action: str, *paths: Path) -> list[str]:
    """The publish's (or repair's) steps, from one run to the end."""
    return run_to_the_end(root, mode, action, *paths)["steps"]


def run_to_the_end(root: Path, mode: str, action: str, *paths: Path) -> dict:
    """The steps of one publish (or repair) left to finish, and what each exchange of folders returned."""
    done = run_script(root, mode, action, -1, *paths)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def kill_cases(tmp_path: Path, mode: str, first: bool = False) -> list[tuple[Path, Path, Path, int]]:
    """One fresh root per kill point: before every step of a publish, and after its last."""
    probe = tmp_path / "probe"
    done = run_to_the_end(probe, mode, "publish", *report_pair(probe, first))
    assert done["exchanged"] == ([] if first else [mode == "exchange"])  # the path under test is the one taken
    steps = done["steps"]
    cases = []
    for k in [*range(1, len(steps) + 1), 0]:
        root = tmp_path / f"kill-{k}"
        cases.append((root, *report_pair(root, first), k))
    return cases


def journals(root: Path) -> list[str]:
    return [n for n in entries(root / ".publishing") if n != ".lock"]


@pytest.mark.parametrize("mode, first", [("exchange", False), ("fallback", False), ("exchange", True)],
                         ids=["exchange", "two-renames", "first-publish"])
def test_a_publish_killed_at_any_step_leaves_one_complete_report(tmp_path, monkeypatch, capsys, mode, first):
    """Killed before each step (and after the last), publish leaves the old or the new report whole; the next
    validate finishes it: the new report when the journal was on disk, the journal and the trash gone."""
    if mode == "exchange" and not exchange_available(tmp_path):
        pytest.skip("this system cannot exchange two directories in one step")
    cases = kill_cases(tmp_path, mode, first)
    old = None if first else snapshot(fake_report(tmp_path / "old", "tiny", OLD_RUN))
    new = snapshot(fake_report(tmp_path / "new", "tiny", NEW_RUN))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        killed = list(pool.map(lambda c: run_script(c[0], mode, "publish", c[3], c[1], c[2]), cases))
    cohort = write_cohort(tmp_path / "cohort", TINY)
    for (root, staging, final, k), done in zip(cases, killed):
        where = f"killed before step {k}" if k else "killed after the last step"
        assert done.returncode == 9, (where, done.stderr)
        now = snapshot(final) if final.exists() else None
        assert now in (old, new) or now is None, where  # every file of the old or of the new report, or ...
        pending = any(name.endswith(".json") for name in journals(root))
        if now is None and not first:  # ... only between two renames, both reports whole where the journal says
            assert mode == "fallback" and pending, where
            record = json.loads((root / ".publishing" / "tiny.json").read_text())
            assert snapshot(root / record["old"]) == old and snapshot(root / record["new"]) == new, where
        expected = new if pending else now  # a journal on disk: the new report was complete, it goes in
        monkeypatch.setenv("CMM_REPORTS_DIR", str(root))
        assert main(["validate", str(cohort)]) == 0, where
        out = capsys.readouterr().out
        assert (snapshot(final) if final.exists() else None) == expected, where
        assert ("repaired an interrupted publish" in out) == pending, (where, out)
        if pending:
            assert f"repaired an interrupted publish of {final}: the new report (run started {NEW_RUN}) is in place" in out
        assert journals(root) == [] and entries(root / ".trash") == [], where
        assert first or (final.is_dir() and not final.is_symlink()), where


def exchange_available(tmp_path: Path) -> bool:
    a, b = tmp_path / "swap-a", tmp_path / "swap-b"
    a.mkdir()
    b.mkdir()
    try:
        return publishing.exchange_dirs(a, b)
    finally:
        a.rmdir()
        b.rmdir()


def test_the_exchange_path_is_taken_where_the_system_has_it(tmp_path):
    if not (sys.platform.startswith("linux") or sys.platform == "darwin"):
        pytest.skip("no directory exchange on this system")
    staging, final = report_pair(tmp_path)
    assert run_to_the_end(tmp_path, "exchange", "publish", staging, final)["exchanged"] == [exchange_available(tmp_path)]
    assert snapshot(final) == snapshot(fake_report(tmp_path / "new", "tiny", NEW_RUN))
    assert entries(tmp_path / ".trash") == [] and journals(tmp_path) == [] and not staging.exists()


def test_exchange_swaps_two_folders_or_says_it_cannot(tmp_path, monkeypatch):
    a, b = fake_report(tmp_path / "a", "tiny", "A"), fake_report(tmp_path / "b", "tiny", "B")
    if publishing.exchange_dirs(a, b):
        assert "B" in (a / "index.html").read_text() and "A" in (b / "index.html").read_text()

    def refusing(code):
        def call(x, y):
            ctypes.set_errno(code)
            return -1
        return lambda: call
    for code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # file systems without it: two renames instead
        monkeypatch.setattr(publishing, "_exchange_call", refusing(code))
        assert publishing.exchange_dirs(a, b) is False
    monkeypatch.setattr(publishing, "_exchange_call", refusing(errno.EACCES))
    with pytest.raises(PermissionError):
        publishing.exchange_dirs(a, b)


def step_between_renames(probe: Path) -> int:
    """The step of a publish by two renames that moves the staged report in (the old one is in the trash)."""
    steps = steps_of(probe, "fallback", "publish", *report_pair(probe))
    return [i for i, step in enumerate(steps, 1) if step == "replace"][2]  # after the journal's and the old one's


def killed_between_renames(root: Path, step: int) -> tuple[Path, Path]:
    """A publish by two renames killed between them: no report at its folder, the journal saying where both are."""
    staging, final = report_pair(root)
    done = run_script(root, "fallback", "publish", step, staging, final)
    assert done.returncode == 9 and not final.exists() and journals(root), done.stderr
    return staging, final


def test_a_repair_killed_at_any_step_is_finished_by_the_next(tmp_path, monkeypatch):
    step = step_between_renames(tmp_path / "probe-publish")
    killed_between_renames(tmp_path / "probe", step)
    steps = steps_of(tmp_path / "probe", "fallback", "repair")
    new = snapshot(fake_report(tmp_path / "new", "tiny", NEW_RUN))
    roots = [tmp_path / f"repair-{k}" for k in [*range(1, len(steps) + 1), 0]]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        finals = [final for _, final in pool.map(lambda root: killed_between_renames(root, step), roots)]
        killed = list(pool.map(lambda root: run_script(root, "fallback", "repair", int(root.name[7:])), roots))
    for root, final, done in zip(roots, finals, killed):
        assert done.returncode == 9, (root.name, done.stderr)
        now = snapshot(final) if final.exists() else None
        assert now == new or (now is None and journals(root)), root.name  # never a partial report or a lost record
        monkeypatch.setenv("CMM_REPORTS_DIR", str(root))
        assert publishing.repair_reports() in ([], [f"repaired an interrupted publish of {final}: the new report "
                                                    f"(run started {NEW_RUN}) is in place"])
        assert snapshot(final) == new and journals(root) == [] and entries(root / ".trash") == [], root.name


def test_an_incomplete_new_report_puts_the_previous_one_back(tmp_path, monkeypatch):
    """Killed between the two renames, and the staged report then damaged: the old one is the newest complete."""
    staging, final = killed_between_renames(tmp_path / "reports", step_between_renames(tmp_path / "probe"))
    (staging / "provenance.json").write_text("{}")
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "reports"))
    assert publishing.repair_reports() == [f"repaired an interrupted publish of {final}: the new report was "
                                           f"incomplete, so the previous report (run started {OLD_RUN}) is in place"]
    assert snapshot(final) == snapshot(fake_report(tmp_path / "old", "tiny", OLD_RUN))
    assert journals(tmp_path / "reports") == [] and entries(tmp_path / "reports" / ".trash") == []


def test_nothing_to_repair_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "reports"))
    assert publishing.repair_reports() == [] and not (tmp_path / "reports").exists()


# --- 4. read-only or full disks: one line naming the path, the previous report intact -----------------------

def test_a_read_only_reports_root(small_run, reports_root, monkeypatch, capsys):
    params = small_run()
    run_quietly(params)
    before = snapshot(reports_root)
    if AS_ROOT:  # chmod does not stop root: the file system's answer is simulated
        real_mkdir = os.mkdir

        def read_only(path, *args, **kwargs):
            if str(path).startswith(str(reports_root)):
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            return real_mkdir(path, *args, **kwargs)
        monkeypatch.setattr(os, "mkdir", read_only)
        reason, named = "read-only file system", f"{reports_root}/.staging/tiny-"
    else:
        reports_root.chmod(0o555)
        reason, named = "permission denied", f"{reports_root}:"
    try:
        assert main(["run", str(params), "--force"]) == EXIT_STORAGE
    finally:
        reports_root.chmod(0o755)
    message = one_line_error(capsys)
    assert message.startswith(f"error: cannot write to {named}") and reason in message, message
    assert message.endswith("(nothing was changed; the last report is as it was)")
    assert snapshot(reports_root) == before


def test_a_read_only_report_folder(small_run, reports_root, monkeypatch, capsys):
    params = small_run()
    run_quietly(params)
    report = reports_root / "tiny"
    before = snapshot(report)
    if AS_ROOT:  # the kernel refuses to move a folder that is not writable (its '..' entry changes)
        def refuse(a, b):
            raise OSError(errno.EACCES, "Permission denied", str(b))
        monkeypatch.setattr(publishing, "exchange_dirs", refuse)
    else:
        report.chmod(0o555)
    try:
        assert main(["run", str(params), "--force"]) == EXIT_STORAGE
    finally:
        report.chmod(0o755)
    assert one_line_error(capsys) == (f"error: cannot write to {report}: permission denied "
                                      "(nothing was changed; the last report is as it was)")
    assert snapshot(report) == before
    assert entries(reports_root / ".staging") == [] and journals(reports_root) == []


def test_the_writable_check_names_the_report_before_any_notebook_runs(small_run, reports_root, monkeypatch):
    run_quietly(small_run())
    report = reports_root / "tiny"
    monkeypatch.setattr(os, "access", lambda path, mode: os.path.abspath(path) != str(report))
    with pytest.raises(publishing.ReportsNotWritable, match=f"cannot write to {report}: permission denied"):
        run_quietly(small_run(), force=True)
    assert not (reports_root / ".staging").exists() or entries(reports_root / ".staging") == []


def test_a_full_disk_while_writing_the_report(small_run, reports_root, monkeypatch, capsys):
    params = small_run()
    run_quietly(params)
    before = snapshot(reports_root / "tiny")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")  # a write() names no file
    monkeypatch.setattr(runner, "write_provenance", full)
    assert main(["run", str(params), "--force"]) == EXIT_STORAGE
    message = one_line_error(capsys)
    assert message.startswith(f"error: cannot write to {reports_root}/.staging/tiny-"), message
    assert message.endswith(": no space left on device (nothing was changed; the last report is as it was)")
    assert snapshot(reports_root / "tiny") == before
    assert entries(reports_root / ".staging") == []  # the partial staging folder went: it takes the space


def test_a_full_disk_inside_a_notebook(small_run, reports_root, capsys):
    params = small_run()
    run_quietly(params)
    before = snapshot(reports_root / "tiny")
    nb = nbformat.read(notebooks.NOTEBOOK_DIR / "00_hello.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "raise OSError(28, 'No space left on device', str(Path(output_dir) / 'tables' / 'big.csv'))"))
    nbformat.write(nb, notebooks.NOTEBOOK_DIR / "00_hello.ipynb")
    assert main(["run", str(params)]) == EXIT_STORAGE
    message = one_line_error(capsys)
    assert message.startswith(f"error: cannot write to {reports_root}/.staging/tiny-"), message
    assert "/tables/big.csv: no space left on device" in message
    assert snapshot(reports_root / "tiny") == before


def test_a_full_disk_while_copying_the_last_report(small_run, reports_root, monkeypatch, capsys):
    """copytree gathers its errors into one shutil.Error: still one line, naming the file it could not write."""
    params = small_run()
    run_quietly(params)
    (notebooks.NOTEBOOK_DIR / "01_more.ipynb").write_bytes((notebooks.NOTEBOOK_DIR / "00_hello.ipynb").read_bytes())
    before = snapshot(reports_root / "tiny")
    real_copy = shutil.copyfile

    def full(src, dst, **kwargs):
        if os.fspath(src).endswith("hello.csv"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_copy(src, dst, **kwargs)
    monkeypatch.setattr(shutil, "copyfile", full)
    assert main(["run", str(params), "--only", "more"]) == EXIT_STORAGE
    assert "/tables/hello.csv: no space left on device" in one_line_error(capsys)
    assert snapshot(reports_root / "tiny") == before


def test_validate_on_a_read_only_root_with_a_publish_to_repair(tmp_path, monkeypatch, capsys):
    root = tmp_path / "reports"
    staging, final = killed_between_renames(root, step_between_renames(tmp_path / "probe"))
    monkeypatch.setenv("CMM_REPORTS_DIR", str(root))
    before = snapshot(root)

    def read_only(source, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(source))
    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", read_only)
        assert main(["validate", str(write_cohort(tmp_path / "cohort", TINY))]) == EXIT_STORAGE
    assert one_line_error(capsys) == (f"error: cannot write to {staging}: read-only file system (nothing was "
                                      "changed; an interrupted publish is finished once the folder is writable)")
    assert snapshot(root) == before
    assert len(publishing.repair_reports()) == 1 and (final / "provenance.json").exists()


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "4 the reports folder cannot be written" in " ".join(capsys.readouterr().out.split())
