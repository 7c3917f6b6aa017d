"""Run every notebook for one cohort and publish the report atomically.

``python -m evaluation run params/<cohort>.yaml`` checks the params, validates the data (stopping with
file, row and column when it has errors), executes the notebooks with papermill in a staging folder (in
parallel up to ``--jobs``; the ``*_report`` notebook last), renders HTML, writes the provenance record,
and only then swaps the staging folder in for ``reports/<cohort_id>/``. A failed or interrupted run leaves
the previous report exactly as it was; its staging folder is kept for inspection.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from .errors import DataValidationError, EvaluationError, NotebookFailed, ParamsError, format_problem
from .params import Params, load_params, to_dict
from .paths import REPO_ROOT, shown_path

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
    from . import __version__

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


def publish(staging: Path, final: Path) -> None:
    """Swap the staging folder in for the report; the old report is removed only after the swap."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.parent / ".trash" / f"{final.name}-{time.time_ns()}"
        old.parent.mkdir(parents=True, exist_ok=True)
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _staging_dir(params: Params) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = params.output_dir.parent / ".staging" / f"{params.cohort_id}-{stamp}-{os.getpid()}"
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
    """
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    params = load_params(params_path)
    every = discover_notebooks()
    chosen = discover_notebooks(only)
    if not params.data_dir.is_dir():
        raise DataValidationError(_folder_missing(params.data_dir), str(params.data_dir))
    from .loading import CACHE_FILE, input_files, load_cohort, save_validated, sha256  # here: workers need no pandas

    file_hashes = {str(p.relative_to(params.data_dir)): sha256(p) for p in input_files(params.data_dir)}
    from .qualitative import qdpx_path

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
    from .report import save_table

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
        from .notebook import resolve_with_data

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

    if stale and (staging / "funder").exists():  # reused outputs were checked when they were made
        from .privacy import check_funder_outputs

        check_funder_outputs(staging, params)
    if stale and (staging / "figures").exists():
        from .figures import write_manifest

        write_manifest(staging / "figures")
    write_index(staging, params, runs, counts, started)
    seconds = time.perf_counter() - t0
    write_provenance(staging, params, file_hashes, runs, started, seconds)
    (staging / CACHE_FILE).unlink(missing_ok=True)
    publish(staging, report)
    say(f"Report: {report / 'index.html'} ({seconds:.1f} s)")
    return RunResult(params, report, runs, seconds)


def _folder_missing(data_dir: Path):
    from .loading import Problems

    problems = Problems()
    problems.add(str(data_dir), None, None, "error", "data folder not found")
    return problems.table()
