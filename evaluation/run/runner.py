"""Run every notebook for one cohort and publish the report atomically.

``python -m evaluation run params/<cohort>.yaml`` checks the params, validates the data (stopping with
file, row and column when it has errors), executes the notebooks with papermill in a staging folder (in
parallel up to ``--jobs``; the ``*_report`` notebook last), renders HTML, writes the provenance record,
and only then swaps the staging folder in for ``reports/<cohort_id>/``. A failed or interrupted run leaves
the previous report exactly as it was; its staging folder is kept for inspection.

Everything is written inside the reports root: staging folders in ``<root>/.staging/``, replaced reports in
``<root>/.trash/``, the journal of a publish in progress in ``<root>/.publishing/``. A folder at
``output_dir`` that is not a report this runner published is never moved, replaced or deleted. Publishing
exchanges the two folders in one step where the system can, so a killed run leaves one complete report, and
the next run (or ``validate``) finishes any publish a killed run left half done.
"""

from __future__ import annotations
import contextlib
import ctypes
import datetime as dt
import errno
import functools
import hashlib
import html
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable
from evaluation.core.errors import DataValidationError, EvaluationError, NotebookFailed, ParamsError
from evaluation.core.figures import write_manifest
from evaluation.core.outputs import save_table
from evaluation.core.params import Params, load_params, to_dict
from evaluation.core.paths import REPO_ROOT, reports_root, shown_path, within_reports_root, workbench_dir
from evaluation.core.problems import Problems
from evaluation.data.loading import CACHE_FILE, input_files, load_cohort, save_validated, sha256
from evaluation.data.refi_qda import qdpx_path
from evaluation.data.start import resolve_with_data
from evaluation.report.gate import check_funder_outputs
from evaluation.core.paths import JOURNAL_DIR, STAGING_DIR, TRASH_DIR
from evaluation.core.version import __version__
try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system: publishes are not locked against each other
    fcntl = None

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
KERNEL_NAME = "cmm-evaluation"
CELL_TIMEOUT_SECONDS = 1800
RUNS_LAST = ("report",)  # notebooks that read the others' tables


@dataclass
class NotebookRun:
    name: str
    path: str
    status: str = "pending"  # ran | reused (inputs unchanged) | kept (not chosen by --only) | failed
    seconds: float = 0.0
    error: dict | None = None
    input_key: str | None = None
    peak_memory_mb: float | None = None  # the notebook kernel's peak resident memory


@dataclass
class RunResult:
    params: Params
    report_dir: Path
    notebooks: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(n.status in ("ran", "reused", "kept") for n in self.notebooks)


def notebook_name(path: Path) -> str:
    """``01_engagement.ipynb`` -> ``engagement``."""
    stem = path.stem
    return stem.split("_", 1)[1] if stem[:2].isdigit() and "_" in stem else stem


def discover_notebooks(only: list[str] | None = None) -> list[Path]:
    """The workbench's notebooks in order; ``only`` picks by name (``engagement``) or file stem."""
    paths = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return paths
    chosen = [p for p in paths if notebook_name(p) in only or p.stem in only or p.name in only]
    unknown = set(only) - {notebook_name(p) for p in chosen} - {p.stem for p in chosen} - {p.name for p in chosen}
    if unknown:
        names = ", ".join(notebook_name(p) for p in paths)
        raise EvaluationError(f"--only: no notebook named {', '.join(sorted(unknown))}; the notebooks are: {names}")
    return chosen


def _kernel_name() -> str:
    """The project's kernel when it is registered (``make`` does), else this interpreter's own."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


# linear-algebra libraries start one thread per core in every kernel; with notebooks running side by side that
# oversubscribes the cores (OpenBLAS slowed the mixed models up to 50-fold on 2 cores), so each kernel gets its share
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def kernel_threads(workers: int) -> int:
    """Threads each notebook kernel's linear algebra may use when ``workers`` kernels run at once."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def execute_notebook(source: str, target: str, parameters: dict, kernel: str, log_path: str, threads: int = 1) -> dict:
    """Run one notebook with papermill (in a worker process); return its status, never raise.

    The kernel inherits this worker's environment, where the thread variables are set to ``threads`` unless the
    user has set them.
    """
    # jsonschema, under nbformat, compiles an IRI grammar on import (0.7 s in every worker) that notebook
    # validation never uses; this process only runs papermill, so it goes without
    sys.modules.setdefault("rfc3987_syntax", None)
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))

    started = time.perf_counter()
    result: dict = {"status": "ok", "error": None}
    with open(log_path, "w", encoding="utf-8") as log:
        os.dup2(log.fileno(), 2)  # this worker's (and its kernel's) stderr noise goes to the log, not the console
        try:
            pm.execute_notebook(source, target, parameters=parameters, kernel_name=kernel, cwd=str(REPO_ROOT),
                                progress_bar=False, log_output=True, stdout_file=log, stderr_file=log,
                                execution_timeout=CELL_TIMEOUT_SECONDS)
        except PapermillExecutionError as exc:
            result = {"status": "failed", "error": {"cell_index": exc.cell_index, "source": exc.source,
                                                    "ename": exc.ename, "evalue": exc.evalue}}
        except Exception as exc:  # kernel died, timeout, unreadable notebook: still report it, not crash
            result = {"status": "failed", "error": {"cell_index": None, "source": "", "ename": type(exc).__name__,
                                                    "evalue": str(exc)}}
    result["seconds"] = round(time.perf_counter() - started, 2)
    # this worker runs one notebook (max_tasks_per_child=1), so its largest child is that notebook's kernel
    result["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return result


def execute_in_process(source: str, target: str, parameters: dict) -> dict:
    """Run one notebook's code cells in this process, as papermill would with ``parameters`` injected after the
    ``parameters`` cell; write the notebook (without outputs) to ``target``; return its status, never raise.

    No kernel and no figures kept: for the cohort-shape tests and the benchmark's in-process floor.
    """
    import ast
    import contextlib
    import io
    import traceback

    import nbformat
    from IPython.display import display

    started = time.perf_counter()
    nb = nbformat.read(source, as_version=4)
    namespace: dict = {"__name__": "__main__", "display": display}  # what a kernel provides as a builtin
    result: dict = {"status": "ok", "error": None}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # what cells print is a kernel's output, not ours
                exec(compile(ast.parse(cell.source), f"<{Path(source).stem} cell {index}>", "exec"), namespace)
        except Exception as exc:  # a notebook error is reported like papermill's, with the cell and the traceback
            result = {"status": "failed", "error": {"cell_index": index, "source": cell.source, "ename": type(exc).__name__,
                                                    "evalue": str(exc), "traceback": traceback.format_exc()}}
            break
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(parameters)
    import matplotlib.pyplot as plt

    plt.close("all")
    nbformat.write(nb, target)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _run_in_process(batch: list[Path], staging: Path, parameters: dict, say: Callable[[str], None],
                    done: list[NotebookRun], total: int) -> None:
    """Run notebooks one after another in this process (``run(..., in_process=True)``)."""
    for path in batch:
        res = execute_in_process(str(path), str(staging / "notebooks" / path.name), parameters)
        run = NotebookRun(notebook_name(path), f"notebooks/{path.name}", res["status"], res["seconds"], res["error"])
        done.append(run)
        say(f"  [{len(done)}/{total}] {'done    ' if run.status == 'ok' else 'FAILED  '}{path.stem} ({run.seconds:.1f} s)")
        if run.status != "ok":
            break


def _run_batch(batch: list[Path], staging: Path, parameters: dict, jobs: int, kernel: str | None,
               say: Callable[[str], None], done: list[NotebookRun], total: int) -> None:
    """Run notebooks, at most ``jobs`` at a time, reporting each as it starts and ends (in this process, one
    after another, when ``kernel`` is None)."""
    (staging / "notebooks").mkdir(parents=True, exist_ok=True)
    (staging / "logs").mkdir(parents=True, exist_ok=True)
    if kernel is None:
        return _run_in_process(batch, staging, parameters, say, done, total)
    ctx = multiprocessing.get_context("spawn")
    waiting = list(batch)
    workers = max(1, min(jobs, len(batch)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, max_tasks_per_child=1) as pool:
        running: dict = {}

        def start_next() -> None:
            path = waiting.pop(0)
            say(f"  started  {path.stem}")
            future = pool.submit(execute_notebook, str(path), str(staging / "notebooks" / path.name), parameters,
                                 kernel, str(staging / "logs" / f"{path.stem}.log"), kernel_threads(workers))
            running[future] = path

        while waiting and len(running) < jobs:
            start_next()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                path = running.pop(future)
                res = future.result()
                run = NotebookRun(notebook_name(path), f"notebooks/{path.name}", res["status"], res["seconds"],
                                  res["error"], peak_memory_mb=res.get("peak_memory_mb"))
                if run.status != "ok":
                    run.status = "failed"
                done.append(run)
                mark = "done    " if run.status == "ok" else "FAILED  "
                say(f"  [{len(done)}/{total}] {mark}{path.stem} ({run.seconds:.1f} s)")
                if waiting and run.status == "ok":
                    start_next()
                elif run.status != "ok":
                    waiting.clear()  # stop early: the run fails anyway, the others' results would be thrown away


def expected_cost(notebook: Path, previous: dict[str, dict]) -> tuple[float, int]:
    """How long a notebook is expected to take, to start the slowest first (the run ends sooner): its time in
    the last report, and before any report the size of the stored notebook (its outputs are mostly figures)."""
    return float(previous.get(notebook.name, {}).get("seconds") or 0), notebook.stat().st_size


def _render_html(staging: Path, runs: list[NotebookRun]) -> None:
    if not runs:
        return
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    for run in runs:
        nb_path = staging / run.path
        if nb_path.exists():
            body, _ = exporter.from_notebook_node(nbformat.read(nb_path, as_version=4))
            (staging / f"{nb_path.stem}.html").write_text(body, encoding="utf-8")


def package_versions() -> dict[str, str]:
    """Every installed distribution and its version (sorted): the environment the report came from."""
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            versions[name.lower()] = dist.version
    return dict(sorted(versions.items()))


def code_version() -> dict[str, str | bool | None]:
    """The git commit of the workbench and whether the tree had uncommitted changes."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "evaluation", "notebooks", "params", "data_dictionary")

    return {"package_version": __version__, "git_commit": commit, "uncommitted_changes": bool(dirty) if dirty is not None else None}


def write_provenance(staging: Path, params: Params, file_hashes: dict[str, str], runs: list[NotebookRun],
                     started: dt.datetime, seconds: float) -> Path:
    """The provenance record: the resolved params (every key, as the notebooks received them), input hashes,
    code and package versions, and each notebook's timing and peak memory."""
    record = {
        "cohort_id": params.cohort_id,
        "params_file": params.source,
        "params_as_written": _plain(params.raw),
        "params": to_dict(params) | {"output_dir": f"reports/{params.cohort_id}"},
        "data_dir": str(params.data_dir),
        "input_files_sha256": file_hashes,
        "code": code_version(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_seconds": round(seconds, 2),
        "notebooks": [{"name": r.name, "notebook": r.path, "status": r.status, "seconds": r.seconds,
                       "peak_memory_mb": r.peak_memory_mb, "input_key": r.input_key} for r in runs],
        "reused_notebooks": [r.name for r in runs if r.status == "reused"],
    }
    path = staging / "provenance.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def write_index(staging: Path, params: Params, runs: list[NotebookRun], quality_counts: dict[str, int],
                started: dt.datetime) -> Path:
    """The report's front page: links to the performance story, every notebook, tables and figures."""
    e = html.escape
    items = []
    for r in runs:
        stem = Path(r.path).stem
        items.append(f'<li><a href="{e(stem)}.html">{e(stem.replace("_", " ", 1))}</a> '
                     f'<span class="muted">({r.status}, {r.seconds:.1f} s)</span></li>')
    story = ""
    if (staging / "performance_story.html").exists():
        story = '<p class="lead"><a href="performance_story.html">Read the performance story</a> (key findings, figures and tables for funders).</p>'
    tables = sorted(p.name for p in (staging / "tables").glob("*.csv"))
    figures = []
    manifest = staging / "figures" / "manifest.csv"
    if manifest.exists():
        import pandas as pd

        for row in pd.read_csv(manifest, keep_default_na=False).itertuples(index=False):
            png = next((f for f in row.files.split(";") if f.endswith(".png")), "")
            figures.append(f'<figure><a href="{e(png)}"><img src="{e(png)}" alt="{e(row.alt_text)}" loading="lazy"></a>'
                           f'<figcaption><b>{e(row.title)}.</b> {e(row.caption)} '
                           f'<span class="muted">[{e(row.notebook)}; '
                           + " ".join(f'<a href="{e(f)}">{e(f.rsplit(".", 1)[1].upper())}</a>' for f in row.files.split(";"))
                           + "]</span></figcaption></figure>")
    q = quality_counts
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(params.title)}: evaluation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
.muted {{ color: #666; font-size: 0.9em; }} .lead {{ font-size: 1.15em; }}
figure {{ display: inline-block; width: 28rem; max-width: 100%; margin: 0.5rem; vertical-align: top; }}
figure img {{ width: 100%; border: 1px solid #ddd; }} figcaption {{ font-size: 0.85em; }}
</style></head><body>
<h1>{e(params.title)}</h1>
<p class="muted">Cohort <code>{e(params.cohort_id)}</code> &middot; run started {started:%Y-%m-%d %H:%M} UTC &middot;
<a href="provenance.json">provenance</a> (params, input file hashes, package and code versions, timings)</p>
{story}
<h2>Data quality</h2>
<p>{q.get('error', 0)} errors, {q.get('warning', 0)} warnings, {q.get('note', 0)} notes:
<a href="tables/data_quality.csv">tables/data_quality.csv</a> (table, row, column, severity, problem).</p>
<h2>Notebooks</h2>
<ul>{''.join(items)}</ul>
<h2>Tables</h2>
<ul>{''.join(f'<li><a href="tables/{e(t)}">{e(t)}</a></li>' for t in tables)}</ul>
<h2>Figures</h2>
<p class="muted">Each figure as PNG (300 dpi), SVG and PDF; captions and alt text in
<a href="figures/manifest.csv">figures/manifest.csv</a>.</p>
{''.join(figures)}
</body></html>
"""
    path = staging / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


# --- writing only inside the reports root, never over a folder the runner did not publish ----------------------

# the errors of a file system that refuses a write: one line naming the path, never a traceback
WRITE_ERRORS = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on device",
                getattr(errno, "EDQUOT", -1): "disk quota exceeded"}
NOTHING_CHANGED = "nothing was changed; the last report is as it was"
REPAIR_PENDING = "nothing was changed; an interrupted publish is finished once the folder is writable"


class ReportsNotWritable(EvaluationError):
    """The reports folder (or a file a run reads) cannot be written: read-only, full, or no permission."""

    def __init__(self, path: str | os.PathLike, code: int, outcome: str = NOTHING_CHANGED):
        self.path = str(path)
        self.errno = code
        inside = within_reports_root(path) or os.path.abspath(path) == os.path.abspath(reports_root())
        verb = "write to" if inside else "read"  # the workbench writes only inside the reports root
        reason = WRITE_ERRORS.get(code) or os.strerror(code).lower()
        super().__init__(f"cannot {verb} {shown_path(path)}: {reason} ({outcome})")


def _refused_write(exc: OSError) -> tuple[int, str | None] | None:
    """(errno, path) of a refused write when ``exc`` is one, else None; a copytree's collected errors included."""
    if isinstance(exc, shutil.Error):  # copytree gathers (source, target, "[Errno N] ...") for every file it failed
        for entry in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
            found = re.search(r"\[Errno (\d+)\]", str(entry[-1])) if isinstance(entry, tuple) else None
            if found and int(found.group(1)) in WRITE_ERRORS:
                return int(found.group(1)), str(entry[1]) if len(entry) == 3 else None
        return None
    if exc.errno in WRITE_ERRORS:
        return exc.errno, os.fsdecode(exc.filename) if exc.filename else None
    return None


def _write_errno(exc: OSError) -> int | None:
    refused = _refused_write(exc)
    return refused[0] if refused else None


def _storage_error(exc: OSError, fallback: Path) -> ReportsNotWritable:
    """``exc`` (a refused write) as the one-line error, naming its file, or ``fallback`` when the system named
    none (a write that found the disk full)."""
    code, path = _refused_write(exc) or (exc.errno or errno.EIO, None)
    return ReportsNotWritable(path or fallback, code)


def check_output_dir(params: Params) -> None:
    """Refuse (ParamsError on ``output_dir``, before anything is written) a report folder that is not a folder
    of its own inside the reports root: the root itself, the workbench's own folders, a place a link leads out
    of the root to, or a folder inside another report."""
    root, out = Path(os.path.abspath(reports_root())), Path(os.path.abspath(params.output_dir))

    def refuse(message: str) -> None:
        raise ParamsError(message, path=params.source, key="output_dir")

    if out == root:
        refuse(f"`output_dir` is the reports folder itself ({shown_path(root)}): a report needs a folder of its own "
               f"inside it, such as {shown_path(root / params.cohort_id)}")
    if root not in out.parents:
        refuse(f"`output_dir` must be a folder inside the reports folder ({shown_path(root)}); got {shown_path(out)}: "
               "the workbench writes nowhere else")
    own = workbench_dir(out)
    if own:
        refuse(f"`output_dir` {shown_path(out)} is inside the workbench's own {own} folder: choose another folder "
               f"inside {shown_path(root)}")
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(out.parent)]) != real_root:
        refuse(f"`output_dir` {shown_path(out)} leads out of the reports folder through a link: the workbench "
               "writes nowhere else")
    for above in out.parents:
        if above == root:
            break
        if _provenance(above) is not None:
            refuse(f"`output_dir` {shown_path(out)} is inside the report {shown_path(above)}: give it a folder of "
                   "its own")


# A report is recognised by its provenance.json naming the cohort (rather than by a marker file of its own):
# the runner writes it into every report it publishes, last, and has always done so, so reports published
# before this check keep being updated; the journal tells the new report from the old by its hash.
PROVENANCE = "provenance.json"


def _provenance(folder: Path) -> dict | None:
    """The provenance record of a real (not linked) report folder, else None."""
    if os.path.islink(folder) or not os.path.isdir(folder):
        return None
    try:
        record = json.loads((Path(folder) / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _provenance_digest(folder: Path) -> str | None:
    """sha256 of a folder's provenance.json (None when it has none): which run's report the folder holds."""
    if os.path.islink(folder):
        return None
    try:
        return hashlib.sha256((Path(folder) / PROVENANCE).read_bytes()).hexdigest()
    except OSError:
        return None


def is_report(folder: Path, cohort_id: str) -> bool:
    """Whether ``folder`` is a report the runner published for ``cohort_id`` (so it may replace it)."""
    record = _provenance(folder)
    return record is not None and record.get("cohort_id") == cohort_id


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as found:
        return next(found, None) is None


def check_replaceable(final: Path, cohort_id: str, source: str | None = None) -> None:
    """Refuse to publish over anything at ``final`` but a report of this cohort (or an empty folder, which holds
    nothing to lose): a user's folder is never moved, replaced or deleted."""
    if not os.path.lexists(final):
        return
    shown = shown_path(final)
    if os.path.islink(final) or not os.path.isdir(final):
        what = "a link" if os.path.islink(final) else "a file"
        problem = f"`output_dir` {shown} is {what}, not a report folder"
    elif _is_empty(final) or is_report(final, cohort_id):
        return
    else:
        other = (_provenance(final) or {}).get("cohort_id")
        problem = (f"`output_dir` {shown} holds the report of cohort {other}, not {cohort_id}" if other else
                   f"`output_dir` {shown} is a folder the workbench did not publish (it has no {PROVENANCE} of "
                   f"cohort {cohort_id})")
    raise ParamsError(f"{problem}: nothing was touched; move it away or set `output_dir` to another folder",
                      path=source, key="output_dir")


def check_writable(final: Path) -> None:
    """Stop before the notebooks run (not minutes later, at publishing) when the report or a folder the publish
    moves things in is read-only or not ours to write: raise the OSError the publish would meet."""
    root = reports_root()
    for path in (final, final.parent, root / STAGING_DIR, root / TRASH_DIR, root / JOURNAL_DIR, root):
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        if hasattr(os, "statvfs") and os.statvfs(path).f_flag & os.ST_RDONLY:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        if not os.access(path, os.W_OK | os.X_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))


# --- publishing: at every instant reports/<cohort>/ is one complete report, the old or the new (where the
# system cannot exchange two folders, the instant between two renames is covered by the journal) ------------

AT_FDCWD = -100  # <fcntl.h> on Linux
RENAME_EXCHANGE = 2  # renameat2 flag, <linux/fs.h>
RENAME_SWAP = 2  # renamex_np flag, <stdio.h> on macOS
# what a system or file system answers when it cannot exchange two directories: two renames do instead
NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP}


@functools.lru_cache(maxsize=1)
def _exchange_call() -> Callable[[bytes, bytes], int] | None:
    """The C library's directory exchange as ``call(a, b) -> 0 | -1`` (errno set), or None where there is none
    (renameat2 is in glibc from 2.28; macOS has renamex_np)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        func = libc.renameat2
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
        return lambda a, b: func(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        func = libc.renamex_np
        func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
        return lambda a, b: func(a, b, RENAME_SWAP)
    return None


def exchange_dirs(a: Path, b: Path) -> bool:
    """Swap two existing directories in one step; False when this system or file system cannot (the caller
    then moves them with two renames). Any other refusal raises the OSError."""
    call = _exchange_call()
    if call is None:
        return False
    ctypes.set_errno(0)
    if call(os.fsencode(a), os.fsencode(b)) == 0:
        return True
    code = ctypes.get_errno()
    if code in NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


LOCK_FILE = ".lock"


@contextlib.contextmanager
def _publish_lock(root: Path):
    """Hold the reports root's publish lock: a run publishing and another repairing never move the same
    folders at once. The system drops it when the holder dies, so a killed run never leaves it taken."""
    folder = root / JOURNAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a", encoding="utf-8") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _journal_path(root: Path, final: Path) -> Path:
    """``<root>/.publishing/<report folder>.json``: one journal per report folder."""
    name = urllib.parse.quote(os.path.relpath(os.path.abspath(final), os.path.abspath(root)), safe="")
    return root / JOURNAL_DIR / f"{name}.json"


def _write_journal(path: Path, record: dict) -> None:
    """Write a journal whole or not at all (a temporary file synced, then renamed over), before any move."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError:  # a full disk: no journal, nothing moved
        partial.unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (the journal must be on disk before the first move)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename still happened
    finally:
        os.close(fd)


def _put_in_place(new: Path, final: Path, trash: Path) -> Path | None:
    """Move the report ``new`` to ``final``; return where the old report went (None when there was none).

    Exchanged in one step where the system can; else ``final`` goes to ``trash`` and ``new`` to ``final``, the
    journal saying where each is meanwhile. Raises OSError with nothing moved (or, if even putting the old
    report back failed, with the journal left for :func:`repair_reports`).
    """
    if not os.path.lexists(final):  # the first publish: one rename
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, final)
        return None
    if exchange_dirs(new, final):
        return new  # the old report is where the new one was
    trash.parent.mkdir(parents=True, exist_ok=True)
    os.replace(final, trash)
    try:
        os.replace(new, final)
    except OSError:
        os.replace(trash, final)  # put the old report back: nothing changed
        raise
    return trash


def _trash_path(root: Path, final: Path) -> Path:
    return root / TRASH_DIR / f"{final.name}-{time.time_ns()}-{os.getpid()}"


def publish(staging: Path, final: Path, cohort_id: str | None = None) -> None:
    """Put the staged report in place of ``final``: the old report stays whole until the new one is in place.

    A journal in ``<root>/.publishing/`` records the new report's folder and hash and where the old one goes
    before anything moves; then the two folders are exchanged in one step (or moved by two renames where the
    system cannot), the old report goes to ``<root>/.trash/``, the journal is removed, and the old report is
    deleted last. A run killed at any step leaves a complete report (or, between two renames, both reports
    whole where the journal says), and the next run or ``validate`` finishes the publish
    (:func:`repair_reports`). Anything at ``final`` but a report of this cohort is refused.
    """
    root = reports_root()
    cohort_id = cohort_id or (_provenance(staging) or {}).get("cohort_id", "")
    trash = _trash_path(root, final)
    with _publish_lock(root):
        check_replaceable(final, cohort_id)  # again: a folder may have appeared there while the notebooks ran
        journal = _journal_path(root, final)
        relative = lambda p: os.path.relpath(os.path.abspath(p), os.path.abspath(root))  # noqa: E731
        _write_journal(journal, {"cohort_id": cohort_id, "final": relative(final), "new": relative(staging),
                                 "old": relative(trash), "new_provenance_sha256": _provenance_digest(staging),
                                 "started_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        try:
            old = _put_in_place(staging, final, trash)
        except OSError as exc:
            if not os.path.lexists(final):  # even the old report could not be put back: the journal stays
                code = _write_errno(exc) or errno.EIO
                raise ReportsNotWritable(exc.filename or final, code, f"{shown_path(final)} is missing until the "
                                         "next run or validate puts a complete report back") from exc
            journal.unlink(missing_ok=True)
            raise
        # the new report is in place; what follows only tidies up, and the next run's repair finishes it if cut short
        try:
            if old == staging:
                trash.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging, trash)  # out of .staging in one step, so a half-deleted report never lies there
                old = trash
            journal.unlink()
        except OSError:
            return
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)  # outside the lock: a large old report takes a while


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(folder))
    except OSError:
        return []


def repair_reports() -> list[str]:
    """Finish every publish a killed run left half done and delete the trash of completed ones; one line per
    report repaired. Writes nothing when there is nothing to repair (a read-only reports folder is fine)."""
    root = reports_root()
    try:
        return _repair(root)
    except OSError as exc:
        refused = _refused_write(exc)
        if refused is None:
            raise
        raise ReportsNotWritable(refused[1] or root, refused[0], REPAIR_PENDING) from None


def _repair(root: Path) -> list[str]:
    journals = [p for p in _entries(root / JOURNAL_DIR) if p.name != LOCK_FILE]
    if not journals:
        if _entries(root / TRASH_DIR):
            with contextlib.suppress(OSError):  # only trash: nothing is at risk, so a read-only root may keep it
                _repair_locked(root)
        return []
    return _repair_locked(root)


def _repair_locked(root: Path) -> list[str]:
    lines: list[str] = []
    with _publish_lock(root):
        unresolved = False
        for path in _entries(root / JOURNAL_DIR):
            if path.name == LOCK_FILE:
                continue
            if path.name.endswith(".tmp"):  # a journal write cut short: nothing had moved yet
                path.unlink(missing_ok=True)
                continue
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                lines.append(f"cannot read the publish journal {shown_path(path)}; left it and the trash as they are")
                unresolved = True
                continue
            lines.append(_repair_one(root, path, record))
        garbage = [] if unresolved else _entries(root / TRASH_DIR)  # no journal points into the trash any more
    for folder in garbage:
        shutil.rmtree(folder, ignore_errors=True)
    return lines


def _repair_one(root: Path, journal: Path, record: dict) -> str:
    """Settle one interrupted publish: the newest complete report ends at its folder (the new one, when it is
    whole, else the old one), the other goes to the trash, the journal is removed."""
    final, new, old = (root / record[key] for key in ("final", "new", "old"))
    cohort, digest = record.get("cohort_id", ""), record.get("new_provenance_sha256")
    shown = shown_path(final)
    if digest and _provenance_digest(final) != digest and _provenance_digest(new) == digest:
        if os.path.lexists(final) and not is_report(final, cohort) and not _is_empty(final):
            journal.unlink()
            return (f"an interrupted publish of {shown} left its new report in {shown_path(new)}: {shown} is not "
                    "a report the workbench published, so it was left as it is")
        _put_in_place(new, final, old if not os.path.lexists(old) else _trash_path(root, final))
    if digest and _provenance_digest(final) == digest:
        which = "the new report"
        if os.path.lexists(new):  # the old report, exchanged out of its place
            trash = _trash_path(root, final)
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(new, trash)
    elif not os.path.lexists(final) and is_report(old, cohort):
        os.replace(old, final)
        which = "the new report was incomplete, so the previous report"
    elif os.path.lexists(final):
        which = "the new report was incomplete, so the previous report"
    else:
        journal.unlink()
        return f"an interrupted publish of {shown} left no complete report: run again to make one"
    journal.unlink()
    started = (_provenance(final) or {}).get("started_utc", "at an unknown time")
    return f"repaired an interrupted publish of {shown}: {which} (run started {started}) is in place"


def _staging_dir(params: Params) -> Path:
    """A new staging folder, inside the reports root (``<root>/.staging/``) whatever ``output_dir`` is."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = reports_root() / STAGING_DIR / f"{params.cohort_id}-{stamp}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


def code_fingerprint() -> str:
    """sha256 over the workbench's code, data dictionary and lock file: what a notebook's results depend on."""
    h = hashlib.sha256()
    files = sorted((REPO_ROOT / "evaluation").rglob("*.py")) + sorted((REPO_ROOT / "data_dictionary").glob("*.yaml"))
    files += [REPO_ROOT / "requirements.lock"]
    for path in files:
        if path.exists():
            h.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def input_key(notebook: Path, params: Params, file_hashes: dict[str, str], code: str) -> str:
    """A notebook's inputs in one hash: its source, the code, the params, the data files, the lock file.

    When it matches the key recorded in the last report, the notebook's outputs are reused.
    """
    settings = {k: v for k, v in to_dict(params).items() if k != "output_dir"}
    blob = json.dumps({"notebook": hashlib.sha256(notebook.read_bytes()).hexdigest(), "code": code,
                       "params": settings, "files": file_hashes}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain(raw: dict) -> dict:
    """The params as written, with dates as text (for the JSON record)."""
    return json.loads(json.dumps(raw, default=str))


def _previous_record(report: Path) -> dict:
    """The published report's provenance record ({} when there is none)."""
    try:
        return json.loads((report / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _previous_runs(record: dict) -> dict[str, dict]:
    """Notebook records of a provenance record, by notebook file name."""
    return {Path(n["notebook"]).name: n for n in record.get("notebooks", []) if n.get("status") in ("ran", "reused", "kept")}


def _raise_failed(runs: list[NotebookRun], staging: Path) -> None:
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        r = failed[0]
        err = r.error or {}
        # a notebook stopped by a full or read-only disk is that, not a bug in the notebook: "[Errno 28] ...: 'path'"
        refused = re.match(r"\[Errno (\d+)\] ([^:]*)(?:: '(.*)')?", str(err.get("evalue", "")))
        if err.get("ename") in ("OSError", "PermissionError") and refused and int(refused.group(1)) in WRITE_ERRORS:
            raise OSError(int(refused.group(1)), refused.group(2), refused.group(3) or str(staging))
        error = NotebookFailed(f"notebooks/{Path(r.path).name}", err.get("cell_index"), err.get("ename", "Error"),
                               err.get("evalue", ""), err.get("source", ""), str(staging / r.path))
        error.staging_dir = staging
        error.traceback = err.get("traceback")  # in-process runs keep it here (a kernel's is in the notebook)
        raise error


def run(params_path: str | Path, only: list[str] | None = None, jobs: int = 2, force: bool = False,
        say: Callable[[str], None] = print, in_process: bool = False) -> RunResult:
    """Run the evaluation for one cohort; raise an :class:`EvaluationError` if anything fails.

    A notebook whose inputs (see :func:`input_key`) are unchanged since the published report is not
    executed again: its outputs are reused. ``force`` executes every chosen notebook. ``only`` limits the
    run to some notebooks; the others' outputs are kept from the last report. ``in_process`` runs the
    notebooks' code in this process instead of kernels (fast, for tests: the executed notebooks keep no
    outputs and no HTML pages are rendered); everything else, publishing included, is the same.

    Nothing is written outside the reports root, and nothing at ``output_dir`` but a report of this cohort is
    replaced. A write the file system refuses (read-only, full, no permission) raises
    :class:`ReportsNotWritable` naming the path, with the last report as it was.
    """
    made: list[Path] = []  # the staging folder, once there is one
    try:
        return _run(params_path, only, jobs, force, say, in_process, made)
    except OSError as exc:
        if _write_errno(exc) is None:
            raise
        # a refused write leaves a partial staging folder that cannot be inspected usefully and, on a full
        # disk, takes the space the next run needs: it goes, so "nothing was changed" holds
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        raise _storage_error(exc, made[0] if made else reports_root()) from None


def _run(params_path: str | Path, only: list[str] | None, jobs: int, force: bool, say: Callable[[str], None],
         in_process: bool, made: list[Path]) -> RunResult:
    """:func:`run`'s work; the staging folder is appended to ``made`` as soon as it exists."""
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    params = load_params(params_path)
    check_output_dir(params)  # before anything is written
    check_replaceable(params.output_dir, params.cohort_id, params.source)
    for line in repair_reports():
        say(line)
    check_writable(params.output_dir)
    every = discover_notebooks()
    chosen = discover_notebooks(only)
    if not params.data_dir.is_dir():
        raise DataValidationError(_folder_missing(params.data_dir), str(params.data_dir))

    file_hashes = {str(p.relative_to(params.data_dir)): sha256(p) for p in input_files(params.data_dir)}

    qdpx = qdpx_path(params)
    if qdpx is not None and qdpx.is_file():  # a project outside the data folder is an input too
        file_hashes.setdefault(str(qdpx), sha256(qdpx))
    code = code_fingerprint()
    keys = {p.name: input_key(p, params, file_hashes, code) for p in every}
    report = params.output_dir
    record = _previous_record(report)
    previous = _previous_runs(record)
    reusable = set() if force else {
        p.name for p in chosen
        if previous.get(p.name, {}).get("input_key") == keys[p.name] and (report / "notebooks" / p.name).exists()}
    stale = [p for p in chosen if p.name not in reusable]
    if stale:  # the report notebook reads the others' tables: it reruns whenever any of them does, chosen or not
        stale += [p for p in every if notebook_name(p) in RUNS_LAST and p not in stale]
        chosen = chosen + [p for p in stale if p not in chosen]
    staging = _staging_dir(params)
    made.append(staging)

    if previous and report.exists() and (reusable or only or len(stale) < len(every)):
        shutil.copytree(report, staging, dirs_exist_ok=True)  # keep the outputs of reused and other notebooks
    if stale:
        say(f"Cohort {params.cohort_id}: validating {params.data_dir}")
        cohort = load_cohort(params, raise_on_error=False)
        quality = cohort.quality
        save_table(quality, staging, "data_quality")
        counts = quality["severity"].value_counts().to_dict()
        if counts.get("error", 0):
            error = DataValidationError(quality, str(params.data_dir))
            error.staging_dir = staging
            raise error
        say(f"  data are valid ({counts.get('warning', 0)} warnings, {counts.get('note', 0)} notes)")

        try:
            params = resolve_with_data(params, cohort)  # settings naming things in the data; as_of from the data
        except ParamsError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        save_validated(cohort, params, staging)  # the notebooks of this run reuse it
    else:
        import pandas as pd

        counts = pd.read_csv(staging / "tables" / "data_quality.csv")["severity"].value_counts().to_dict()
        # nothing runs: the params resolve as they did for the published report (same inputs, same data)
        as_of = (record.get("params") or {}).get("as_of")
        if params.as_of is None and as_of:
            params = params.with_data_dates(dt.date.fromisoformat(as_of))
    if reusable:
        say(f"  unchanged since the last report, reused: {', '.join(Path(n).stem for n in sorted(reusable))}")

    # every notebook receives every resolved param, so it cannot fall back on a value of its own
    parameters = to_dict(params) | {"output_dir": str(staging), "params_file": shown_path(params.source) if params.source else None}
    kernel = None if in_process else _kernel_name()
    runs: list[NotebookRun] = []
    if stale:
        say(f"  running {len(stale)} notebook(s), " + (f"{jobs} at a time, kernel {kernel}" if kernel else "in this process"))
        first = sorted((p for p in stale if notebook_name(p) not in RUNS_LAST),
                       key=lambda p: expected_cost(p, previous), reverse=True)
        last = [p for p in stale if notebook_name(p) in RUNS_LAST]
        if first:
            _run_batch(first, staging, parameters, jobs, kernel, say, runs, len(stale))
            _raise_failed(runs, staging)
        # the report notebook runs alone, so a core is free: the others' HTML pages are rendered meanwhile
        with ThreadPoolExecutor(max_workers=1) as background:
            pages = background.submit(_render_html, staging, list(runs) if kernel else [])
            if last:
                _run_batch(last, staging, parameters, jobs, kernel, say, runs, len(stale))
            pages.result()
        _raise_failed(runs, staging)
        _render_html(staging, runs[len(first):] if kernel else [])
        for r in runs:
            r.status = "ran"
    for p in every:
        if p.name in reusable:
            runs.append(NotebookRun(notebook_name(p), f"notebooks/{p.name}", "reused", previous[p.name].get("seconds", 0.0)))
        elif p not in chosen and (staging / "notebooks" / p.name).exists():
            runs.append(NotebookRun(notebook_name(p), f"notebooks/{p.name}", "kept", previous.get(p.name, {}).get("seconds", 0.0)))
    order = {p.name: i for i, p in enumerate(every)}
    runs.sort(key=lambda r: order[Path(r.path).name])
    for r in runs:
        r.input_key = keys[Path(r.path).name] if r.status in ("ran", "reused") else previous.get(Path(r.path).name, {}).get("input_key")

    if stale and (staging / "figures").exists():

        write_manifest(staging / "figures")
    write_index(staging, params, runs, counts, started)
    if (staging / "funder").exists():  # last, so it reads every page a funder may be sent, the index included

        check_funder_outputs(staging, params)
    seconds = time.perf_counter() - t0
    write_provenance(staging, params, file_hashes, runs, started, seconds)
    (staging / CACHE_FILE).unlink(missing_ok=True)
    publish(staging, report)
    say(f"Report: {report / 'index.html'} ({seconds:.1f} s)")
    return RunResult(params, report, runs, seconds)


def _folder_missing(data_dir: Path):

    problems = Problems()
    problems.add(str(data_dir), None, None, "error", "data folder not found")
    return problems.table()
