"""Parameter sweeps: every cohort of a spec file run under every variant of a grid of settings, as tasks on Dask,
then one sensitivity summary of how the headline results move across them.

``python -m evaluation sweep sweeps/<name>.yaml`` reads the spec (:func:`~.sweep_spec.load_spec`), makes the variants
(:func:`~.sweep_spec.expand_variants`: the base, every combination of the grid's values, the named variants) and checks each
one's params before anything runs. Each (cohort, variant) is one task, :func:`run_variant`: the runner in a
subprocess (``python -m evaluation run PARAMS --jobs 1 --variant V --set output_dir=... --set KEY=VALUE ...``; a
Dask worker cannot fork a process pool, so the notebooks of one variant run one after another and the variants run
side by side), its report published to ``reports/sweeps/<name>/variants/<cohort_id>/<variant>/`` and its output
logged to ``reports/sweeps/<name>/logs/<cohort_id>__<variant>.log``. A variant whose inputs are unchanged since its
report was published is reused, like any run. When every variant has succeeded, the summary (index.html,
sensitivity.csv, conclusions.csv, figures/, sweep.json) is written into a fresh folder under the reports root's
``.staging/`` and moved into ``reports/sweeps/<name>/``; a sweep with a failed variant leaves the last summary as
it was and says which variants failed and where their logs are.

The tasks run on a ``dask.distributed.LocalCluster`` by default (one single-threaded worker process per core, or
``--workers N``), or on an existing cluster (``--scheduler tcp://host:8786``). The workers of an existing cluster
must share this machine's file system: the repository (with its ``.venv``), the cohorts' data and the reports
folder at the same paths, because each task runs this repository's Python on the params and data files the spec
names and writes into the same reports folder (``CMM_REPORTS_DIR`` is passed to every task). The sweep checks this
on every worker before it starts.

A task that failed in a way another attempt may not (a notebook failed, the process was killed or crashed, a
kernel did not start) raises, so Dask retries it (``--retries``, default 2); data errors, a params mistake and a
reports folder that cannot be written fail the same way every time and are reported at once.
"""

from __future__ import annotations
import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping
from tqdm import tqdm
from evaluation.core.errors import ParamsError
from evaluation.core.params import check_variant_name, flatten, load_params, to_dict
from evaluation.core.paths import REPO_ROOT, REPORTS_ENV, TRASH_DIR, reports_root, resolve_path, shown_path
from evaluation.report.sensitivity import SweepVariant, write_sensitivity_summary
from .execute import THREAD_VARIABLES
from .plan import UP_TO_DATE
from .provenance import read_provenance, shown_report_dir
from .publishing import ReportsNotWritable, check_writable, new_staging_dir, refused_write, storage_error
from .sweep_spec import (BASE, KEPT, LOGS, SWEEP_RECORD, VARIANTS, SweepSpec, expand_variants, load_spec, slug,  # noqa: F401
                         variant_name)  # the spec's names, for callers of the sweep
if TYPE_CHECKING:  # pragma: no cover
    from dask.distributed import Client

# the exit codes of `run` (see evaluation.__main__), which a sweep shares
EXIT_OK, EXIT_DATA, EXIT_PARAMS, EXIT_NOTEBOOK, EXIT_STORAGE = 0, 1, 2, 3, 4
DETERMINISTIC = {EXIT_DATA: "data errors", EXIT_PARAMS: "a params mistake",
                 EXIT_STORAGE: "the reports folder cannot be written"}  # another attempt fails the same way
EXIT_CODES = ("exit codes: 0 done, 1 data errors, 2 a params mistake (in the spec or a variant), 3 a notebook "
              "failed, 4 the reports folder cannot be written; with failed variants, the first failed one's")

LOCAL_LOGS = logging.ERROR  # the local cluster's own messages below this are not shown


@dataclass(frozen=True)
class SweepTask:
    """One (cohort, variant) run, everything a worker needs to run it (absolute paths: the workers share them)."""

    cohort_id: str
    params_file: str  # as the spec writes it (relative to the repository root, or absolute)
    variant: str
    overrides: dict[str, Any]
    report_dir: str
    log_path: str
    reports_root: str
    repo_root: str
    python: str
    force: bool = False
    environment: dict[str, str] = field(default_factory=dict)  # set in the run's environment (thread counts)
    jobs: int = 1  # notebooks run side by side (a cohort's first variant, while the workers would idle, gets more)
    reuse_from: tuple[str, ...] = ()  # reports it may take unchanged notebooks from (its cohort's first variant's)
    unset: tuple[str, ...] = ()  # variables of the worker's environment the run must not inherit (Dask's own)

    @property
    def label(self) -> str:
        return f"{self.cohort_id}/{self.variant}"


class VariantFailed(Exception):
    """A variant's run failed in a way another attempt may not: Dask retries the task. ``exit_code`` is run's."""

    def __init__(self, message: str, exit_code: int = EXIT_NOTEBOOK):
        super().__init__(message, exit_code)
        self.message, self.exit_code = message, exit_code

    def __str__(self) -> str:
        return self.message


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: a record per (cohort, variant), in the spec's order, and the summary's page."""

    spec: SweepSpec
    records: list[dict[str, Any]]
    summary: Path | None
    seconds: float

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every variant succeeded, else the first failed variant's exit code (as run's)."""
        return self.failed[0]["exit_code"] if self.failed else EXIT_OK


# ---------------------------------------------------------------------------------------------------------------
# The tasks


def plan_tasks(spec: SweepSpec, force: bool = False, environment: Mapping[str, str] | None = None) -> list[SweepTask]:
    """Every (cohort, variant) task of the spec, cohorts first then variants, each variant's params checked as
    its run will check them (before anything runs: a ParamsError naming the spec, the variant and the params
    file, with every problem found)."""
    tasks = []
    problems: list[tuple[str, str]] = []
    refused: dict[tuple[str, str], list[str]] = {}  # (params file, message) -> the variants it refuses
    seen: dict[str, str] = {}
    for params_file in spec.cohorts:
        try:
            cohort_id = load_params(params_file).cohort_id
        except ParamsError as exc:
            problems.append(("cohorts", f"{params_file}: {_without_path(exc)}"))
            continue
        if cohort_id in seen:
            problems.append(("cohorts", f"{seen[cohort_id]} and {params_file} are both cohort {cohort_id}: their "
                             "variants would share report folders; sweep one of them"))
            continue
        seen[cohort_id] = params_file
        for name, overrides in spec.variants:
            report_dir = spec.folder / VARIANTS / cohort_id / name
            given = {"output_dir": str(report_dir), **overrides}
            try:
                check_variant_name(name, params_file)
                load_params(params_file, given, variant=name)
            except ParamsError as exc:
                for _, message in exc.problems:
                    refused.setdefault((params_file, message), []).append(name)
                continue
            tasks.append(SweepTask(cohort_id, params_file, name, dict(overrides), str(report_dir),
                                   str(spec.folder / LOGS / f"{cohort_id}__{name}.log"), str(reports_root()),
                                   str(REPO_ROOT), sys.executable, force, dict(environment or {})))
    for (params_file, message), names in refused.items():  # one line per mistake, however many variants it hits
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        problems.append(("variants", f"variant{'s' if len(names) > 1 else ''} {shown} of {params_file}: {message}"))
    if problems:
        raise ParamsError.many(problems, path=shown_path(spec.source))
    return tasks


def _without_path(exc: ParamsError) -> str:
    """A ParamsError's message without the file it begins with (the caller names it)."""
    text = str(exc)
    return text[len(f"{exc.path}: "):] if exc.path and text.startswith(f"{exc.path}: ") else text


def variant_command(task: SweepTask) -> list[str]:
    """The runner's command line for a task: ``--jobs`` (1, one kernel, unless the task is given the cores of
    idle workers), the variant, its report folder and each override as ``--set KEY=VALUE``, the value written as
    JSON (which YAML reads back as the same value: ``"< 7"`` text, ``7`` a number, ``["track", "sex"]`` a list),
    and ``--reuse-from`` each report it may reuse notebooks from."""
    command = [task.python, "-m", "evaluation", "run", task.params_file, "--jobs", str(task.jobs),
               "--variant", task.variant, "--set", f"output_dir={json.dumps(task.report_dir)}"]
    for key, value in task.overrides.items():
        command += ["--set", f"{key}={json.dumps(value, ensure_ascii=False)}"]
    for folder in task.reuse_from:
        command += ["--reuse-from", folder]
    return command + (["--force"] if task.force else [])


def reuse_tree(tasks: list[SweepTask], workers: int | None) -> tuple[list[SweepTask], list[int], dict[int, list[int]]]:
    """The order the tasks run in, as a tree: each cohort's first variant (its base, when the spec includes it)
    first; every other variant once the variant it differs least from has finished (of those before it in the
    spec, counting the settings whose values differ; on a tie the one fewer steps from the first variant, so
    that no variant waits longer than it must, then the later), reusing from that variant's report, and from
    the first variant's, every notebook that read none of the settings they differ in. Returns the tasks set for this, the first variants' indexes, and {index: the
    indexes of the variants that wait for it}.

    So in the demo's grid ``a1c-lt7_ci_method-log`` waits for ``a1c-lt7_ci_method-log-log`` and reruns only what
    reads the CI method. While the first variants run, the workers the cohorts leave idle lend them their cores
    (``jobs``: ``workers`` // cohorts, at least 1; 1 on a cluster given by address, whose workers' cores are
    unknown). ``--force`` runs every variant cold: nothing waits, nothing is reused.
    """
    if not tasks or tasks[0].force:
        return tasks, list(range(len(tasks))), {}
    cohorts: dict[str, list[int]] = {}
    for i, task in enumerate(tasks):
        cohorts.setdefault(task.cohort_id, []).append(i)
    jobs = max(1, (workers or 1) // len(cohorts))
    out, roots, children = list(tasks), [], {}
    for indexes in cohorts.values():
        lead = indexes[0]
        roots.append(lead)
        out[lead] = dataclasses.replace(tasks[lead], jobs=jobs)
        try:  # the params file's own values, which an override may repeat (checked already by plan_tasks)
            written = flatten(to_dict(load_params(tasks[lead].params_file)))
        except ParamsError:  # a task made by hand: compare the overrides alone
            written = {}
        settings = {i: {**written, **tasks[i].overrides} for i in indexes}
        depth = {lead: 0}
        for n, i in enumerate(indexes[1:], 1):
            keys = set(tasks[i].overrides).union(*(tasks[j].overrides for j in indexes[:n]))
            differ = {j: sum(settings[i].get(k) != settings[j].get(k) for k in keys) for j in indexes[:n]}
            parent = min(indexes[:n], key=lambda j: (differ[j], depth[j], -j))
            depth[i] = depth[parent] + 1
            sources = dict.fromkeys([tasks[parent].report_dir, tasks[lead].report_dir])
            out[i] = dataclasses.replace(tasks[i], reuse_from=tuple(sources))
            children.setdefault(parent, []).append(i)
    return out, roots, children


def run_variant(task: SweepTask) -> dict[str, Any]:
    """Run one (cohort, variant) with the runner in a subprocess (in the repository, with the reports root
    passed explicitly), its output appended to the task's log; return its record (status ran, reused or failed,
    seconds, exit code). A failure another attempt may not repeat (a notebook failed, the run was killed or
    crashed) raises :class:`VariantFailed`, so Dask retries the task; data errors, a params mistake and a reports
    folder that cannot be written return a failed record at once."""
    started = time.perf_counter()
    log = Path(task.log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = variant_command(task)
    environment = {k: v for k, v in os.environ.items() if k not in task.unset}
    environment |= {**task.environment, REPORTS_ENV: task.reports_root}
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"=== {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} on {socket.gethostname()}\n"
                  f"$ {shlex.join(command)}\n")
        out.flush()
        offset = out.tell()
        code = subprocess.run(command, cwd=task.repo_root, env=environment, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT).returncode
    seconds = round(time.perf_counter() - started, 1)
    record = {"cohort_id": task.cohort_id, "variant": task.variant, "seconds": seconds, "exit_code": code,
              "report_dir": task.report_dir, "log": task.log_path, "error": None}
    output = _read_from(log, offset)
    if code == EXIT_OK:
        return record | {"status": _ran_or_reused(Path(task.report_dir), output)}
    crashed = "Traceback (most recent call last)" in output  # an uncaught error exits 1, like data errors
    if code in DETERMINISTIC and not crashed:
        return record | {"status": "failed", "error": _error_line(output) or DETERMINISTIC[code]}
    why = (f"killed by signal {-code}" if code < 0 else "crashed" if crashed and code != EXIT_NOTEBOOK else
           _error_line(output) or f"exit {code}")
    raise VariantFailed(f"{task.label}: {why} (exit {code}; log {task.log_path})", EXIT_NOTEBOOK)


def _read_from(path: Path, offset: int) -> str:
    """What a log holds from ``offset`` on (this attempt's output)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        fh.seek(offset)
        return fh.read()


def _error_line(output: str) -> str | None:
    """The first ``error: ...`` line the runner printed (at most 300 characters), else None."""
    for line in output.splitlines():
        if line.startswith("error: "):
            return line[len("error: "):][:300]
    return None


def _ran_or_reused(report_dir: Path, output: str) -> str:
    """``reused`` when the run found its report up to date (its last line says so) or published one that executed
    no notebook (all were unchanged), else ``ran``."""
    if any(line.startswith("Report: ") and f"({UP_TO_DATE}:" in line for line in output.splitlines()):
        return "reused"
    record = read_provenance(report_dir) or {}
    notebooks = record.get("notebooks") or []
    return "reused" if notebooks and all(n.get("status") != "ran" for n in notebooks) else "ran"


# ---------------------------------------------------------------------------------------------------------------
# Running the tasks on Dask


def run_sweep(spec_path: str | os.PathLike, workers: int | None = None, scheduler: str | None = None,
              retries: int = 2, force: bool = False, say: Callable[[str], None] | None = None,
              progress: bool | None = None) -> SweepResult:
    """Run every variant of a sweep spec on Dask and, when all succeeded, place the sensitivity summary.

    ``scheduler`` (``tcp://host:8786``) runs the tasks on an existing cluster whose workers share this file
    system; else a LocalCluster of ``workers`` single-threaded processes (default one per core, at most one per
    task). ``retries``: further attempts of a task that failed in a way another attempt may not. ``progress``:
    the progress bar on stderr (default: when stderr is a terminal). ``say`` gets one line per finished variant
    (default: written under the progress bar). A params mistake in the spec or a variant raises ParamsError
    before anything runs; a reports folder that cannot be written raises ReportsNotWritable.
    """
    t0 = time.perf_counter()
    spec = load_spec(spec_path)
    cores = os.cpu_count() or 1
    n_workers = max(1, workers or cores)
    # a kernel's linear algebra gets its worker's share of the cores (as the runner's kernel_threads), unless set
    environment = {} if scheduler else {name: os.environ.get(name, str(max(1, cores // n_workers)))
                                        for name in THREAD_VARIABLES}
    tasks = plan_tasks(spec, force, environment)
    try:
        check_writable(spec.folder)
        (spec.folder / LOGS).mkdir(parents=True, exist_ok=True)
        for task in tasks:  # each log holds the attempts of this sweep only
            Path(task.log_path).unlink(missing_ok=True)
    except OSError as exc:
        if refused_write(exc) is None:
            raise
        raise storage_error(exc, spec.folder) from None
    records = _run_on_dask(spec, tasks, n_workers, scheduler, retries, say, progress)
    seconds = round(time.perf_counter() - t0, 1)
    summary = place_summary(spec, tasks, records) if all(r["status"] != "failed" for r in records) else None
    return SweepResult(spec, records, summary, seconds)


def _run_on_dask(spec: SweepSpec, tasks: list[SweepTask], n_workers: int, scheduler: str | None, retries: int,
                 say: Callable[[str], None] | None, progress: bool | None) -> list[dict[str, Any]]:
    """Submit every task, report each as it finishes (a progress bar with an ETA on stderr, a line per variant);
    the records in the tasks' order."""
    # imported here: the command line builds its parser from this module and starts every command fast
    from dask.distributed import Client, LocalCluster, as_completed

    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        cluster = LocalCluster(n_workers=min(n_workers, len(tasks)), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=LOCAL_LOGS)
        client = Client(cluster)
    try:
        if scheduler:
            _check_shared_files(client, tasks[0])
        token = uuid.uuid4().hex[:8]  # two sweeps on one scheduler never share a task's key
        tasks, roots, children = reuse_tree(tasks, None if scheduler else n_workers)
        tasks = [dataclasses.replace(t, unset=dask_worker_settings(t.environment)) for t in tasks]

        def submit(i: int) -> Any:
            task = tasks[i]
            return client.submit(run_variant, task, key=f"sweep-{spec.name}-{task.cohort_id}-{task.variant}-{token}",
                                 retries=retries, pure=False)

        futures = {submit(i): i for i in roots}
        pending = as_completed(list(futures))
        records: list[dict[str, Any] | None] = [None] * len(tasks)
        bar = tqdm(total=len(tasks), desc=f"sweep {spec.name}", unit="variant", file=sys.stderr,
                   disable=None if progress is None else not progress, dynamic_ncols=True)
        tell = say or (lambda line: tqdm.write(line, file=sys.stderr))
        with bar:
            for count, future in enumerate(pending, 1):
                i = futures[future]
                records[i] = _record_of(future, tasks[i])
                for child in children.get(i, []):  # the variants that reuse from this one, now that it has finished
                    futures[later := submit(child)] = child
                    pending.add(later)
                bar.update(1)
                tell(_finished_line(records[i], count, len(tasks)))
        return [r for r in records if r is not None]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dask_worker_settings(environment: Mapping[str, str]) -> tuple[str, ...]:
    """The variables Dask's nanny sets in each worker process (``distributed.nanny.pre-spawn-environ`` and
    ``environ``) that the sweep's own environment does not have and the task does not set, for the run to drop:
    it should see the environment the sweep was started in, as a single run would (the nanny's
    ``MALLOC_TRIM_THRESHOLD_=65536`` tunes the worker's own memory, not the notebooks')."""
    import dask
    import distributed  # noqa: F401  (importing it puts its settings in dask's config)

    names: set[str] = set()
    for key in ("distributed.nanny.pre-spawn-environ", "distributed.nanny.environ"):
        names |= set(dask.config.get(key, default={}) or {})
    return tuple(sorted(n for n in names if n not in os.environ and n not in environment))


def _record_of(future: Any, task: SweepTask) -> dict[str, Any]:
    """A finished future's record: the task's own, or a failed one from the error that ended its last attempt."""
    if future.status == "finished":
        return future.result()
    try:
        exc = future.exception()
    except BaseException as cancelled:  # a cancelled task (its cluster went away) has no error of its own
        exc = cancelled
    code = exc.exit_code if isinstance(exc, VariantFailed) else EXIT_NOTEBOOK
    message = str(exc) if isinstance(exc, VariantFailed) else f"{task.label}: {type(exc).__name__}: {exc}"
    return {"cohort_id": task.cohort_id, "variant": task.variant, "status": "failed", "seconds": None,
            "exit_code": code, "report_dir": task.report_dir, "log": task.log_path, "error": message}


def _finished_line(record: dict[str, Any], count: int, total: int) -> str:
    """``[2/6] ran     demo/a1c-lt7 (81.4 s)``; a failure with its reason and log."""
    label = f"{record['cohort_id']}/{record['variant']}"
    seconds = f" ({record['seconds']:.1f} s)" if record.get("seconds") is not None else ""
    line = f"[{count}/{total}] {record['status']:<7s} {label}{seconds}"
    if record["status"] == "failed":
        line += f": {record['error']}; log: {shown_path(record['log'])}"
    return line


def _probe_paths(paths: list[str]) -> list[str]:
    """Which of ``paths`` a worker cannot see (run on every worker of an existing cluster)."""
    return [p for p in paths if not os.path.exists(p)]


def _check_shared_files(client: Client, task: SweepTask) -> None:
    """Refuse a cluster whose workers do not see the repository, its Python, the data and the reports folder at
    the paths this machine has (a ParamsError naming the workers and the paths)."""
    paths = [task.repo_root, task.python, str(resolve_path(task.params_file)), task.reports_root]
    missing = {worker: found for worker, found in client.run(_probe_paths, paths).items() if found}
    if missing:
        shown = "; ".join(f"{w} lacks {', '.join(found)}" for w, found in sorted(missing.items()))
        raise ParamsError(f"the cluster's workers must share this file system (the repository, its Python, the "
                          f"data and the reports folder at the same paths): {shown}", key="--scheduler")


# ---------------------------------------------------------------------------------------------------------------
# The summary


def place_summary(spec: SweepSpec, tasks: list[SweepTask], records: list[dict[str, Any]]) -> Path:
    """Write the sensitivity summary and sweep.json into a fresh folder under the reports root's ``.staging/``,
    then move them into ``reports/sweeps/<name>/`` (each file and folder in one step, index.html last; the
    variants' reports and logs kept, what the last summary had and this one has not removed); its index.html."""
    staging = new_staging_dir(f"sweep-{spec.name}")
    variants = [SweepVariant(t.cohort_id, t.variant, dict(t.overrides), Path(t.report_dir)) for t in tasks]
    # the page links each variant's report relative to where it will be read: the sweep's folder
    write_sensitivity_summary(staging, spec.name, variants, spec.description, published_dir=spec.folder)
    write_sweep_record(staging / SWEEP_RECORD, spec, tasks, records)
    clash = [p.name for p in staging.iterdir() if p.name in KEPT]
    if clash:
        raise RuntimeError(f"the summary may not write {', '.join(clash)}: the sweep's own folders")
    move_into(staging, spec.folder)
    return spec.folder / "index.html"


def write_sweep_record(path: Path, spec: SweepSpec, tasks: list[SweepTask], records: list[dict[str, Any]]) -> None:
    """sweep.json: the spec as written, and per (cohort, variant) its params file, overrides, status, seconds and
    report (paths as a reader sees them: the report under reports/, the log inside the sweep's folder)."""
    entries = []
    for task, record in zip(tasks, records):
        entries.append({"cohort_id": task.cohort_id, "variant": task.variant, "params_file": task.params_file,
                        "overrides": task.overrides, "status": record["status"], "seconds": record["seconds"],
                        "report": shown_report_dir(Path(task.report_dir)),
                        "log": Path(os.path.relpath(task.log_path, spec.folder)).as_posix()})
    text = json.dumps({"name": spec.name, "spec_file": shown_path(spec.source), "description": spec.description,
                       "spec": spec.raw, "variants": entries}, indent=1, ensure_ascii=False, default=str)
    path.write_text(text + "\n", encoding="utf-8")


def move_into(staging: Path, folder: Path) -> None:
    """Move the staged summary's files into ``folder``: each replaced in one rename (a folder's old copy to the
    trash first), index.html last, the old summary's files this one lacks to the trash; ``variants/`` and
    ``logs/`` never touched. The staging folder is removed."""
    folder.mkdir(parents=True, exist_ok=True)
    trash = reports_root() / TRASH_DIR / f"sweep-{folder.name}-{time.time_ns()}-{os.getpid()}"
    new = sorted(staging.iterdir(), key=lambda p: (p.name == "index.html", p.name))
    names = {p.name for p in new}
    for old in sorted(folder.iterdir()):
        if old.name not in KEPT and old.name not in names:
            trash.mkdir(parents=True, exist_ok=True)
            os.replace(old, trash / old.name)
    for entry in new:
        target = folder / entry.name
        if target.is_dir() and not target.is_symlink():
            trash.mkdir(parents=True, exist_ok=True)
            os.replace(target, trash / entry.name)
        os.replace(entry, target)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(trash, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# The command line


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep; print where the summary is, or which variants failed and where their logs are."""
    if args.workers is not None and args.scheduler:
        print("error: --workers sizes the local cluster; an existing cluster (--scheduler) has its own workers",
              file=sys.stderr)
        return EXIT_PARAMS
    if (args.workers is not None and args.workers < 1) or args.retries < 0:
        print("error: --workers must be 1 or more and --retries 0 or more", file=sys.stderr)
        return EXIT_PARAMS
    try:
        result = run_sweep(args.spec, workers=args.workers, scheduler=args.scheduler, retries=args.retries,
                           force=args.force)
    except ReportsNotWritable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PARAMS
    except OSError as exc:  # the scheduler cannot be reached
        if not args.scheduler:
            raise
        print(f"error: cannot use the Dask scheduler at {args.scheduler}: {exc}", file=sys.stderr)
        return EXIT_PARAMS
    counts = {s: sum(r["status"] == s for r in result.records) for s in ("ran", "reused", "failed")}
    done = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if result.failed:
        print(f"error: {len(result.failed)} of {len(result.records)} variant(s) failed ({done}); the last summary "
              f"in {shown_path(result.spec.folder)} was left as it was:", file=sys.stderr)
        for r in result.failed:
            print(f"  {r['cohort_id']}/{r['variant']}: {r['error']}\n    log: {shown_path(r['log'])}", file=sys.stderr)
        return result.exit_code
    print(f"Summary: {shown_path(result.summary)} ({len(result.records)} variants: {done}; {result.seconds:.1f} s)")
    return EXIT_OK
