"""A run's plan: which notebooks it executes, which it takes from a published report, and whether the report is
already what the run would publish.

Light on purpose (the params, the input files' hashes and the provenance records; no analysis, no kernel, no
rendering): ``python -m evaluation run`` plans first, and when the report is up to date it says so without loading
the rest of the workbench. An up-to-date report is one whose every chosen notebook would be reused from the report
itself, with nothing in it changed outside a run, and made from the same resolved params and the same params file:
the run would publish it again byte for byte (but for its timestamps), so it publishes nothing and the report,
its provenance record included, stays as it was.
"""

from __future__ import annotations
import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
import pandas as pd
from evaluation.core.errors import DataValidationError, ParamsError
from evaluation.core.params import Params, load_params, to_dict
from evaluation.core.paths import reports_root, resolve_path
from evaluation.core.problems import Problems
from evaluation.data.loading import input_files, sha256
from evaluation.data.refi_qda import qdpx_path
from .notebooks import NotebookRun, discover_notebooks, notebook_name, runs_last
from .provenance import (FINISHED, PROVENANCE, Variant, changed_outside, code_fingerprint, finished_notebooks,
                         input_key, read_provenance, report_name, reuse_key)
from .publishing import check_output_dir, check_replaceable, check_writable, repair_reports

UP_TO_DATE = "up to date"  # what the runner's last line says of a report it left as it was (a sweep reads it)


@dataclass
class RunResult:
    """What :func:`run` did: the resolved params, where the report is, and each notebook's record."""

    params: Params
    report_dir: Path
    notebooks: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(n.status in FINISHED for n in self.notebooks)


@dataclass
class Plan:
    """Which notebooks a run executes and which it takes from the published report."""

    every: list[Path]  # the workbench's notebooks
    chosen: list[Path]  # those the run is about (``--only``), with the report notebook when it must rerun
    stale: list[Path]  # those to execute: chosen, and inputs changed (or ``force``)
    reusable: set[str]  # file names of chosen notebooks whose inputs are unchanged: their outputs are reused
    keys: dict[str, str]  # file name -> input key
    file_hashes: dict[str, str]  # input file -> sha256
    record: dict  # the published report's provenance record ({} when there is none)
    previous: dict[str, dict]  # its finished notebooks, by file name
    changed: list[str] = field(default_factory=list)  # its files changed since it was published (none reused then)
    # where the reused outputs come from: the report copied into staging (the run's own, or one of reuse_from)
    source: Path | None = None
    reused_from: str | None = None  # the source as provenance names it (reports/...)
    params: Params | None = None  # the params the keys were computed for (as of the plan: as_of maybe unresolved)
    code: str = ""  # the code fingerprint
    notes: list[str] = field(default_factory=list)  # reuse sources not used, and why


@dataclass
class ReuseSource:
    """A finished report a run may take notebooks' outputs from instead of running them: the run's own last
    report, or another report of the same cohort on the same data (``reuse_from``)."""

    folder: Path
    record: dict  # its provenance record
    finished: dict[str, dict]  # its finished notebooks, by file name
    own: bool = False


def make_plan(params: Params, only: list[str] | None, force: bool,
              reuse_from: list[str | Path] | None = None) -> Plan:
    """Which notebooks to execute and where the others' outputs come from.

    A notebook is reusable from a report when its reuse key (:func:`~evaluation.run.provenance.reuse_key`),
    recomputed for these params over the fields the report recorded it read, equals the key recorded there. The
    candidates are the published report at ``output_dir`` (for the chosen notebooks; the others are kept) and
    then the reports of ``reuse_from`` (for every notebook, so a report is never assembled from two); the one
    leaving the fewest notebooks to run is copied (on a tie the earlier). A report changed outside a run is
    never used. The report notebook runs whenever any other does (it reads their tables); ``force`` runs every
    chosen notebook.
    """
    every = discover_notebooks()
    chosen = discover_notebooks(only)
    if not params.data_dir.is_dir():
        raise DataValidationError(folder_missing(params.data_dir), str(params.data_dir))
    file_hashes = input_hashes(params)
    code = code_fingerprint()
    keys = {p.name: input_key(p, params, file_hashes, code) for p in every}
    record = read_provenance(params.output_dir) or {}
    previous = finished_notebooks(record)
    changed = changed_outside(params.output_dir, record) if previous else []
    if changed:  # a file of the report was edited, added or deleted outside the runner: nothing in it is trusted
        chosen, previous = every, {}
    candidates = [ReuseSource(params.output_dir, record, previous, own=True)] if previous else []
    others, notes = reuse_sources(params, [] if force else reuse_from or [], file_hashes)
    # (source, reusable, stale, the notebooks it is about): with no source, the chosen ones run
    best: tuple[ReuseSource | None, set[str], list[Path], list[Path]] = (None, set(), and_report(chosen, every), chosen)
    for source in candidates + others:
        among = chosen if source.own else every
        reusable = set() if force else {p.name for p in among
                                         if reusable_from(source, p, params, file_hashes, code, keys[p.name])}
        stale = and_report([p for p in among if p.name not in reusable], every)
        if source.own or (reusable and (best[0] is None or len(stale) < len(best[2]))):
            best = (source, reusable, stale, among)
    source, reusable, stale, among = best
    chosen = among + [p for p in stale if p not in among]
    return Plan(every, chosen, stale, reusable, keys, file_hashes, source.record if source else record,
                source.finished if source else previous, changed, source=source.folder if source else None,
                reused_from=report_name(source.folder) if source else None, params=params, code=code, notes=notes)


def and_report(stale: list[Path], every: list[Path]) -> list[Path]:
    """``stale`` with the report notebook when anything runs: it reads the others' tables."""
    return stale + [p for p in every if runs_last(p) and p not in stale] if stale else []


def reusable_from(source: ReuseSource, notebook: Path, params: Params, file_hashes: dict[str, str], code: str,
                  key: str) -> bool:
    """Whether ``source`` holds the outputs a run of ``params`` would compute for ``notebook``: its recorded reuse
    key matches, recomputed over the params it read (``key``, the full input key, for the run's own report of
    before params were recorded)."""
    entry = source.finished.get(notebook.name)
    if entry is None or not (source.folder / "notebooks" / notebook.name).exists():
        return False
    read = entry.get("params_read")
    if entry.get("reuse_key") and isinstance(read, list):
        return reuse_key(notebook, params, file_hashes, code, read) == entry["reuse_key"]
    return source.own and entry.get("input_key") == key


def variant_reuse_from(cohort_id: str, reuse_from: list[str | Path] | None) -> list[str | Path]:
    """Where a variant run may reuse notebooks from: the reports named, then the cohort's main report
    (``reports/<cohort_id>/``) when there is one, so a variant reruns only what its overrides reach."""
    main = reports_root() / cohort_id
    return list(reuse_from or []) + ([main] if (main / PROVENANCE).is_file() else [])


def reuse_sources(params: Params, folders: list[str | Path],
                  file_hashes: dict[str, str]) -> tuple[list[ReuseSource], list[str]]:
    """The reports of ``folders`` a run of ``params`` may reuse notebooks from (a report of the same cohort on the
    same data, unchanged since it was published), and a note for each other one saying why it is not used."""
    sources, notes = [], []
    for folder in folders:
        folder = resolve_path(folder)
        if Path(os.path.abspath(folder)) == Path(os.path.abspath(params.output_dir)):
            continue  # the run's own report is a candidate anyway
        shown = report_name(folder)
        record = read_provenance(folder)
        if record is None:
            notes.append(f"--reuse-from {shown}: not a report (no provenance.json), nothing reused from it")
        elif record.get("cohort_id") != params.cohort_id:
            notes.append(f"--reuse-from {shown}: a report of cohort {record.get('cohort_id')!r}, not "
                         f"{params.cohort_id!r}; nothing reused from it")
        elif record.get("input_files_sha256") != file_hashes:
            notes.append(f"--reuse-from {shown}: run on other data files; nothing reused from it")
        elif not isinstance(record.get("published_files_sha256"), dict):
            notes.append(f"--reuse-from {shown}: published before reports recorded their files; nothing reused from it")
        elif changed := changed_outside(folder, record):
            listed = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
            notes.append(f"--reuse-from {shown}: changed since it was published (outside a run: {listed}); "
                         "nothing reused from it")
        else:
            sources.append(ReuseSource(folder, record, finished_notebooks(record)))
    return sources, notes


def input_hashes(params: Params) -> dict[str, str]:
    """sha256 of every input file of the cohort: the data folder's files, and a REFI-QDA project outside it."""
    hashes = {str(p.relative_to(params.data_dir)): sha256(p) for p in input_files(params.data_dir)}
    qdpx = qdpx_path(params)
    if qdpx is not None and qdpx.is_file():  # a project outside the data folder is an input too
        hashes.setdefault(str(qdpx), sha256(qdpx))
    return hashes


def folder_missing(data_dir: Path) -> pd.DataFrame:
    """The data-quality table of a data folder that does not exist."""
    problems = Problems()
    problems.add(str(data_dir), None, None, "error", "data folder not found")
    return problems.table()


@dataclass(frozen=True)
class PreparedRun:
    """A run checked and planned, nothing written yet (see :func:`prepare`): the command line plans first, says
    an up-to-date report is so without loading the rest of the workbench, and otherwise hands this to the runner,
    which then does not plan again (hashing every input file and published file twice)."""

    params: Params
    base: Variant | None  # a variant's params file as written, with its overrides
    plan: Plan
    started: float  # time.perf_counter() when the planning began: the run's seconds count from here
    planned: float  # and when it ended
    request: tuple  # what it was planned for: (params file, only, force, overrides, variant, reuse_from)

    @property
    def up_to_date(self) -> bool:
        return up_to_date(self.params, self.base, self.plan)

    def unchanged(self, say: Callable[[str], None] = print) -> RunResult:
        """The result of the run, when the report is up to date: nothing written, said as the runner says it."""
        return unchanged_result(self.params, self.plan, say, self.started)


def run_request(params_path: str | Path, only: list[str] | None, force: bool, overrides: dict[str, Any] | None,
                variant: str | None, reuse_from: list[str | Path] | None) -> tuple:
    """A run's arguments as :attr:`PreparedRun.request` holds them (comparable: the runner checks that the plan
    it is handed is for the run it was asked for)."""
    return (str(params_path), tuple(only or ()), force, tuple((overrides or {}).items()), variant,
            tuple(map(str, reuse_from or ())))


def prepare(params_path: str | Path, only: list[str] | None = None, force: bool = False,
            overrides: dict[str, Any] | None = None, variant: str | None = None,
            reuse_from: list[str | Path] | None = None, say: Callable[[str], None] = print) -> PreparedRun:
    """What every run does before it writes anything: the params (a variant's with its overrides, and its base),
    the checks of where it will publish, a publish a killed run left half done finished, and the plan."""
    started = time.perf_counter()
    request = run_request(params_path, only, force, overrides, variant, reuse_from)
    if overrides and variant is None:
        raise ParamsError(f"--set ({', '.join(overrides)}) needs --variant NAME: the main report always reflects the "
                          "params file as written; a run with settings changed is a variant, published to "
                          "reports/variants/<cohort_id>/NAME/", path=str(params_path), key="--set")
    params = load_params(params_path, overrides or {}, variant)
    base = Variant(variant, load_params(params_path), overrides or {}) if variant is not None else None
    check_output_dir(params)  # before anything is written
    check_replaceable(params.output_dir, params.cohort_id, params.source)
    for line in repair_reports():
        say(line)
    check_writable(params.output_dir)
    if variant is not None:  # a variant reruns only what its overrides reach: the rest comes from the main report
        reuse_from = variant_reuse_from(params.cohort_id, reuse_from)
    plan = make_plan(params, only, force, reuse_from)
    return PreparedRun(params, base, plan, started, time.perf_counter(), request)


def _as_recorded(value: Any) -> Any:
    """A value as a provenance record holds it (JSON: dates as text, tuples as lists)."""
    return json.loads(json.dumps(value, default=str))


def up_to_date(params: Params, base: Variant | None, plan: Plan) -> bool:
    """Whether the published report is what this run would publish: nothing to execute, every chosen notebook
    reused from the report itself (unchanged outside a run), and the same resolved params, params file and (for a
    variant) params file as written as it records."""
    if plan.stale or plan.changed or plan.source is None or plan.source != params.output_dir:
        return False
    record = plan.record
    as_of = (record.get("params") or {}).get("as_of")
    if params.as_of is None and as_of:  # resolved from the data as the report was: the data are the same
        params = params.with_data_dates(dt.date.fromisoformat(as_of))
    without_folder = lambda d: {k: v for k, v in (d or {}).items() if k != "output_dir"}  # noqa: E731
    written = base.base.raw if base is not None else params.raw
    return (without_folder(_as_recorded(to_dict(params))) == without_folder(record.get("params"))
            and record.get("params_file") == params.source
            and _as_recorded(written) == record.get("params_as_written"))


def every_notebook(plan: Plan, runs: list[NotebookRun], staging: Path) -> list[NotebookRun]:
    """The executed notebooks ``runs`` with the reused and kept ones (kept: in ``staging``, the report being made), in
    notebook order, each with its input key."""
    previous = plan.previous
    for p in plan.every:
        if p.name in plan.reusable:
            runs.append(NotebookRun(notebook_name(p), f"notebooks/{p.name}", "reused",
                                    previous[p.name].get("seconds", 0.0)))
        elif p not in plan.chosen and (staging / "notebooks" / p.name).exists():
            runs.append(NotebookRun(notebook_name(p), f"notebooks/{p.name}", "kept",
                                    previous.get(p.name, {}).get("seconds", 0.0)))
    order = {p.name: i for i, p in enumerate(plan.every)}
    runs.sort(key=lambda r: order[Path(r.path).name])
    for r in runs:
        name = Path(r.path).name
        r.input_key = plan.keys[name] if r.status in ("ran", "reused") else previous.get(name, {}).get("input_key")
    return runs


def unchanged_result(params: Params, plan: Plan, say: Callable[[str], None], started: float) -> RunResult:
    """The result of a run that found its report up to date: every notebook as the report records it (reused, or
    kept when the run was about others), said in the runner's words, nothing written."""
    runs = every_notebook(plan, [], params.output_dir)
    if plan.reusable:
        say(f"  unchanged since the last report, reused: {', '.join(Path(n).stem for n in sorted(plan.reusable))}")
    seconds = time.perf_counter() - started
    say(f"Report: {params.output_dir / 'index.html'} ({UP_TO_DATE}: nothing it is made from changed since "
        f"{plan.record.get('started_utc', 'it was published')}; {seconds:.1f} s)")
    return RunResult(params, params.output_dir, runs, seconds)
