"""Run every notebook for one cohort and publish the report atomically.

``python -m evaluation run params/<cohort>.yaml`` checks the params, validates the data (stopping with
file, row and column when it has errors), executes the notebooks with papermill in a staging folder (in
parallel up to ``--jobs``; the ``*_report`` notebook last), renders HTML, writes the provenance record,
and only then swaps the staging folder in for ``reports/<cohort_id>/``. A failed or interrupted run leaves
the previous report exactly as it was; its staging folder is kept for inspection.

A notebook is reused when nothing it read differs: as it runs, every params field it reads is recorded, and its
reuse key covers its source, the code, the data and the values of exactly those fields. So a run with another
``ci_method`` reruns the notebooks that read it (and the report notebook) and takes the others' outputs from its
own last report, or from another report of the same cohort and data named in ``reuse_from``.

A variant (``--set KEY=VALUE ... --variant NAME``) is the same run on the params file with those keys changed,
published to ``reports/variants/<cohort_id>/<NAME>/``: the main report is never touched by it, and always
reflects the params file as written (``--set`` without ``--variant`` is refused). The variant's title, index
page and provenance say what it changed. A variant reuses, by default, the notebooks of the cohort's main report
that read none of the keys it changed.

This module holds the order of the steps; the steps live beside it: the plan (which notebooks run, which are
reused, whether the report is up to date already) in :mod:`.plan`, executing notebooks in :mod:`.execute` (in the
warm kernels of :mod:`.kernels`), the provenance record and input keys in :mod:`.provenance`,
the HTML pages in :mod:`.pages`, and writing only inside the reports root, the atomic exchange, the journal and
its repair in :mod:`.publishing`.
"""

from __future__ import annotations
import contextlib
import dataclasses
import datetime as dt
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable
import pandas as pd
from evaluation.core.errors import DataValidationError, NotebookFailed, ParamsError
from evaluation.core.figures import write_manifest
from evaluation.core.outputs import save_table
from evaluation.core.params import Params, name_overrides, to_dict
from evaluation.core.paths import reports_root, shown_path
from evaluation.data.loading import CACHE_FILE, load_cohort, save_validated
from evaluation.data.start import resolve_with_data
from evaluation.data.validation import last_recorded_date
from evaluation.report.gate import check_funder_outputs
from .execute import (OUTPUTS_DIR, PARAMS_READ_DIR, NotebookPool, kernel_name, outputs_path, params_read_path,
                      run_batch)
from .notebooks import NotebookRun, expected_cost, runs_last
from .pages import render_html, write_index
from .plan import Plan, PreparedRun, RunResult, and_report, every_notebook, prepare, run_request
from .provenance import Variant, params_read_by, published_hashes, reuse_key, variant_record, write_provenance
from .publishing import WRITE_ERRORS, new_staging_dir, publish, refused_write, storage_error


def run(params_path: str | Path, only: list[str] | None = None, jobs: int = 2, force: bool = False,
        say: Callable[[str], None] = print, in_process: bool = False, overrides: dict[str, Any] | None = None,
        variant: str | None = None, reuse_from: list[str | Path] | None = None,
        prepared: PreparedRun | None = None) -> RunResult:
    """Run the evaluation for one cohort; raise an :class:`EvaluationError` if anything fails.

    ``variant`` names a variant of the cohort: the params file with ``overrides`` (dotted key -> value, as
    ``--set`` gives them) applied, its report published to ``reports/variants/<cohort_id>/<variant>/`` (or the
    ``output_dir`` an override sets). Overrides without a variant are a :class:`ParamsError`.

    A notebook whose inputs (see :func:`~evaluation.run.provenance.input_key`) are unchanged since the
    published report is not executed again: its outputs are reused. ``reuse_from`` names other reports of the
    same cohort and data a notebook may be reused from too (see :func:`~evaluation.run.plan.make_plan`). ``force``
    executes every chosen notebook and reuses nothing. A run that would publish the report as it is (see
    :func:`~evaluation.run.plan.up_to_date`) writes nothing and says the report is up to date.
    ``only`` limits the run to some notebooks; the others' outputs are kept from the last report. ``in_process``
    runs the notebooks' code in this process instead of kernels (fast, for tests: the executed notebooks keep
    no outputs and no HTML pages are rendered); everything else, publishing included, is the same. ``prepared``
    is this run already planned by :func:`~evaluation.run.plan.prepare` (as the command line does), not planned
    again; a plan made for other arguments is a ``ValueError``.

    Nothing is written outside the reports root, and nothing at ``output_dir`` but a report of this cohort is
    replaced. A write the file system refuses (read-only, full, no permission) raises
    :class:`~evaluation.run.publishing.ReportsNotWritable` naming the path, with the last report as it was.
    """
    made: list[Path] = []  # the staging folder, once there is one
    try:
        if prepared is None:
            prepared = prepare(params_path, only, force, overrides, variant, reuse_from, say)
        elif prepared.request != run_request(params_path, only, force, overrides, variant, reuse_from):
            raise ValueError(f"the run was planned for {prepared.request}, not for these arguments")
        return _run(prepared, only, jobs, say, in_process, made, overrides or {}, variant)
    except OSError as exc:
        if refused_write(exc) is None:
            raise
        # a refused write leaves a partial staging folder that cannot be inspected usefully and, on a full
        # disk, takes the space the next run needs: it goes, so "nothing was changed" holds
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        raise storage_error(exc, made[0] if made else reports_root()) from None


def _run(prepared: PreparedRun, only: list[str] | None, jobs: int, say: Callable[[str], None], in_process: bool,
         made: list[Path], overrides: dict[str, Any], variant: str | None) -> RunResult:
    """:func:`run`'s work, once planned; the staging folder is appended to ``made`` as soon as it exists."""
    if prepared.up_to_date:
        return prepared.unchanged(say)
    t0 = prepared.started
    started = dt.datetime.now(dt.timezone.utc)
    # seconds of each step, for the provenance record (and the benchmark); after the plan, the command line loads
    # the rest of the workbench (this module's imports) only when the report is not up to date
    steps: dict[str, float] = {"plan": round(prepared.planned - t0, 2)}
    lap = _stopwatch(steps, prepared.planned)
    params, base, plan = prepared.params, prepared.base, prepared.plan
    lap("load_workbench")
    for note in plan.notes:
        say(f"  {note}")
    if plan.changed:
        shown = ", ".join(plan.changed[:5]) + (f" and {len(plan.changed) - 5} more" if len(plan.changed) > 5 else "")
        say(f"  changed since the report was published (outside a run): {shown}; every notebook runs again")
    report = params.output_dir
    staging = new_staging_dir(params.cohort_id if variant is None else f"{params.cohort_id}-variant-{variant}")
    made.append(staging)

    if plan.source is not None and (plan.reusable or only or len(plan.stale) < len(plan.every)):
        plan = _copy_source(plan, staging, say)  # keep the outputs of reused and other notebooks
        _clear_outputs(plan, staging)  # and only theirs
    lap("copy_report")
    kernel = None if in_process or not plan.stale else kernel_name()
    with contextlib.ExitStack() as kernels:
        # the warm kernels start now and import the notebooks' libraries while the data are validated
        pool = kernels.enter_context(NotebookPool(kernel, _workers(plan, jobs), plan.stale, staging / "logs")) \
            if kernel else None
        params, counts, last_recorded, base, runs = _validate_and_execute(plan, params, staging, say, overrides,
                                                                           jobs, kernel, pool, base, lap)
    lap("stop_kernels")
    runs = every_notebook(plan, runs, staging)
    _record_reuse(plan, runs, staging)
    if plan.stale and (staging / "figures").exists():
        write_manifest(staging / "figures")
    write_index(staging, params, runs, counts, started, variant_record(base, params) if base else None)
    lap("index")
    if (staging / "funder").exists():  # last, so it reads every page a funder may be sent, the index included
        check_funder_outputs(staging, params)
    lap("disclosure_gate")
    (staging / CACHE_FILE).unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    write_provenance(staging, params, plan.file_hashes, runs, started, seconds, base, last_recorded, steps)
    publish(staging, report)
    say(f"Report: {report / 'index.html'} ({seconds:.1f} s)")
    return RunResult(params, report, runs, seconds)


def _workers(plan: Plan, jobs: int) -> int:
    """How many warm kernels a run needs: ``jobs``, but no more than the notebooks that can run at once."""
    return max(1, min(jobs, len([p for p in plan.stale if not runs_last(p)])))


def _validate_and_execute(plan: Plan, params: Params, staging: Path, say: Callable[[str], None],
                          overrides: dict[str, Any], jobs: int, kernel: str | None, pool: NotebookPool | None,
                          base: Variant | None, lap: Callable[[str], None]
                          ) -> tuple[Params, dict[str, int], dt.date | None, Variant | None, list[NotebookRun]]:
    """Validate the data (when a notebook runs) and execute the stale notebooks; the resolved params, the data
    quality counts, the last recorded date, the base of a variant resolved the same way, and the notebooks run."""
    if plan.stale:
        params, counts, last_recorded = _validate(params, staging, say, overrides)
        lap("validate")
    else:
        counts = pd.read_csv(staging / "tables" / "data_quality.csv")["severity"].value_counts().to_dict()
        # nothing runs: the params resolve as they did for the published report (same inputs, same data)
        as_of = (plan.record.get("params") or {}).get("as_of")
        if params.as_of is None and as_of:
            params = params.with_data_dates(dt.date.fromisoformat(as_of))
        last_recorded = _recorded_date(plan.record.get("data_last_recorded")) or params.as_of
    if base is not None:  # the base resolves as the variant does: as_of, when the file leaves it out, from the data
        base = Variant(base.name, base.base.with_data_dates(last_recorded), base.overrides)
    if plan.reusable:
        names = ', '.join(Path(n).stem for n in sorted(plan.reusable))
        if plan.source == params.output_dir:
            say(f"  unchanged since the last report, reused: {names}")
        else:
            say(f"  the params they read unchanged, reused from {plan.reused_from}: {names}")
    # every notebook receives every resolved param, so it cannot fall back on a value of its own
    parameters = to_dict(params) | {"output_dir": str(staging),
                                    "params_file": shown_path(params.source) if params.source else None}
    for records in (PARAMS_READ_DIR, OUTPUTS_DIR):  # a copied report's records: not this run's
        shutil.rmtree(staging.joinpath(*records), ignore_errors=True)
    runs = _execute(plan, staging, parameters, jobs, kernel, say, pool) if plan.stale else []
    lap("notebooks_and_pages")
    return params, counts, last_recorded, base, runs


def _stopwatch(steps: dict[str, float], start: float) -> Callable[[str], None]:
    """``lap(name)`` records in ``steps`` the seconds since the last lap (or since ``start``, a perf_counter time)."""
    last = [start]

    def lap(name: str) -> None:
        now = time.perf_counter()
        steps[name] = round(steps.get(name, 0.0) + now - last[0], 2)
        last[0] = now

    return lap


def _validate(params: Params, staging: Path, say: Callable[[str], None],
              overrides: dict[str, Any]) -> tuple[Params, dict[str, int], dt.date | None]:
    """Validate the cohort into the staging folder's data-quality table, stop on an error, resolve the params
    against the data and leave the validated cohort for the notebooks; the params, the counts by severity and
    the last date recorded in the data. A setting that names something the data lack and was given by an
    override says so (``--set KEY``)."""
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
    except ParamsError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise name_overrides(exc, overrides) from None
    save_validated(cohort, params, staging)  # the notebooks of this run reuse it
    return params, counts, last_recorded_date(cohort.tables)


def _recorded_date(text: str | None) -> dt.date | None:
    """A date a provenance record holds as text, or None."""
    try:
        return dt.date.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def _execute(plan: Plan, staging: Path, parameters: dict, jobs: int, kernel: str | None,
             say: Callable[[str], None], pool: NotebookPool | None = None) -> list[NotebookRun]:
    """Execute the stale notebooks, the slowest first and the report notebook last, and render their pages
    (the others' while the report notebook runs alone); raise :class:`NotebookFailed` for the first failure."""
    stale = plan.stale
    how = f"{jobs} at a time, kernel {kernel}" if kernel else "in this process"
    say(f"  running {len(stale)} notebook(s), {how}")
    first = sorted((p for p in stale if not runs_last(p)), key=lambda p: expected_cost(p, plan.previous), reverse=True)
    last = [p for p in stale if runs_last(p)]
    runs: list[NotebookRun] = []
    if first:
        run_batch(first, staging, parameters, jobs, kernel, say, runs, len(stale), pool)
        raise_failed(runs, staging)
    with ThreadPoolExecutor(max_workers=1) as background:  # a core is free while the report notebook runs
        pages = background.submit(render_html, staging, list(runs) if kernel else [])
        if last:
            run_batch(last, staging, parameters, jobs, kernel, say, runs, len(stale), pool)
        pages.result()
    raise_failed(runs, staging)
    render_html(staging, runs[len(first):] if kernel else [])
    for r in runs:
        r.status = "ran"
    return runs


def _copy_source(plan: Plan, staging: Path, say: Callable[[str], None]) -> Plan:
    """Copy the plan's source report into ``staging``; the plan to follow. When the copy does not hold exactly the
    files the source published (it was being replaced meanwhile), nothing of it is used: every notebook runs."""
    shutil.copytree(plan.source, staging, dirs_exist_ok=True)
    published = plan.record.get("published_files_sha256")
    if not isinstance(published, dict) or published_hashes(staging) == published:
        return plan
    say(f"  {plan.reused_from} changed while it was copied: nothing reused from it, every notebook runs")
    shutil.rmtree(staging)
    staging.mkdir()
    every = plan.every
    return dataclasses.replace(plan, chosen=every, stale=and_report(list(every), every), reusable=set(), previous={},
                               source=None, reused_from=None)


def _record_reuse(plan: Plan, runs: list[NotebookRun], staging: Path) -> None:
    """Each notebook's params read, reuse key and files written, and where its outputs came from: recorded as it
    ran, or carried over from the report its outputs were taken from."""
    notebooks = {p.name: p for p in plan.every}
    for r in runs:
        name = Path(r.path).name
        if r.status == "ran":
            r.params_read = params_read_by(notebooks[name], params_read_path(staging, notebooks[name]))
            r.reuse_key = reuse_key(notebooks[name], plan.params, plan.file_hashes, plan.code, r.params_read)
            r.outputs = _written(outputs_path(staging, notebooks[name]))
            continue
        entry = plan.previous.get(name, {})
        r.params_read, r.reuse_key, r.outputs = entry.get("params_read"), entry.get("reuse_key"), entry.get("outputs")
        r.reused_from = plan.reused_from if r.status == "reused" else entry.get("reused_from")


def _written(record: Path) -> list[str] | None:
    """The files a notebook noted it wrote (sorted, each once); None when it noted none (unknown)."""
    try:
        return sorted(set(record.read_text(encoding="utf-8").split()))
    except OSError:
        return None


def _clear_outputs(plan: Plan, staging: Path) -> list[str]:
    """Remove from the copied report the files the notebooks about to run wrote there, but those a notebook
    that is not run again also wrote: a notebook run again starts as if on an empty report, so a table or figure
    it no longer writes (a measure without a goal in this variant) is not left behind. Returns what was removed.
    A notebook of a report from before outputs were recorded removes nothing."""
    stale = {p.name for p in plan.stale}
    written = {name: entry.get("outputs") for name, entry in plan.previous.items() if isinstance(entry, dict)}
    kept = {f for name, files in written.items() if name not in stale and isinstance(files, list) for f in files}
    removed = []
    for name in sorted(stale):
        for file in written.get(name) or []:
            path = Path(str(file))
            if file in kept or path.is_absolute() or ".." in path.parts:
                continue
            if (staging / path).is_file():
                (staging / path).unlink()
                removed.append(path.as_posix())
    return removed


def raise_failed(runs: list[NotebookRun], staging: Path) -> None:
    """Raise for the first failed notebook: :class:`NotebookFailed` with its cell, or the OSError of a notebook
    stopped by a full or read-only disk (that is the disk, not a bug in the notebook)."""
    failed = [r for r in runs if r.status == "failed"]
    if not failed:
        return
    r = failed[0]
    err = r.error or {}
    refused = re.match(r"\[Errno (\d+)\] ([^:]*)(?:: '(.*)')?", str(err.get("evalue", "")))  # "[Errno 28] ...: 'path'"
    if err.get("ename") in ("OSError", "PermissionError") and refused and int(refused.group(1)) in WRITE_ERRORS:
        raise OSError(int(refused.group(1)), refused.group(2), refused.group(3) or str(staging))
    error = NotebookFailed(f"notebooks/{Path(r.path).name}", err.get("cell_index"), err.get("ename", "Error"),
                           err.get("evalue", ""), err.get("source", ""), str(staging / r.path))
    error.staging_dir = staging
    error.traceback = err.get("traceback")  # in-process runs keep it here (a kernel's is in the notebook)
    raise error


