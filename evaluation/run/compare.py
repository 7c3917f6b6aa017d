"""``python -m evaluation compare compare/<name>.yaml``: the cohorts of a comparison side by side, published to
``reports/compare/<name>/``.

The run checks the spec (every cohort's params with it), brings each cohort's report up to date (a cohort run:
nothing runs when its report is current, a missing or stale one runs), then executes the comparison notebook
(``notebooks/08_compare.ipynb``) in a staging folder on the cohorts' published tables, renders its pages, writes
the index and the provenance record, checks the funder outputs and publishes the folder in one step, as a cohort
run does. A comparison whose inputs (the notebook, the code, the spec and every cohort's report) are unchanged is
not run again. A failed run leaves the last published comparison as it was.

The notebook run alone (JupyterLab, papermill) finds the cohorts' reports itself (:func:`open_comparison`) and
writes to ``reports/scratch/compare-<name>/``.
"""

from __future__ import annotations
import datetime as dt
import hashlib
import html
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
import pandas as pd
from evaluation.analyses.compare.cohorts import CohortReport, Comparison
from evaluation.core.figures import write_manifest
from evaluation.core.paths import STAGING_DIR, scratch_dir, shown_path, workbench_dir
from evaluation.data.start import DISPLAY_OPTIONS
from evaluation.report.gate import check_funder_outputs
from .compare_spec import CompareSpec, load_compare_spec
from .execute import kernel_name, run_batch
from .notebooks import COMPARE_NAME, NOTEBOOK_DIR, NotebookRun
from .pages import figure_items, render_html
from .provenance import (PROVENANCE, changed_outside, code_fingerprint, notebook_fingerprint, provenance_digest,
                         published_hashes, read_provenance, report_name, run_environment)
from .publishing import check_replaceable, check_writable, new_staging_dir, publish, repair_reports
from .runner import raise_failed, run


@dataclass
class CompareResult:
    """What :func:`compare` did: the spec, where the comparison is, and whether its notebook ran or was reused."""

    spec: CompareSpec
    report_dir: Path
    status: str  # ran | reused
    seconds: float = 0.0
    cohorts: dict[str, Path] = field(default_factory=dict)  # label -> the cohort's report


def report_identity(spec: CompareSpec) -> str:
    """What the comparison's provenance names it by (``compare/<name>``): a publish replaces only its own folder."""
    return f"compare/{spec.name}"


def ensure_cohort_reports(spec: CompareSpec, jobs: int = 2, say: Callable[[str], None] = print,
                          in_process: bool = False) -> dict[str, Path]:
    """Each cohort's published report, brought up to date by a cohort run (nothing runs for a current one); label
    -> report folder. A cohort whose run fails stops the comparison with that run's error."""
    out = {}
    for cohort in spec.cohorts:
        say(f"{cohort.label}: {cohort.params_file}")
        result = run(cohort.params_file, jobs=jobs, say=lambda line: say(f"  {line}"), in_process=in_process)
        out[cohort.label] = result.report_dir
    return out


def comparison_of(spec: CompareSpec, reports: dict[str, str | Path], output_dir: str | Path) -> Comparison:
    """The :class:`Comparison` the notebook computes on: the spec's cohorts read from their reports."""
    return Comparison(spec.title, [CohortReport(c.label, Path(reports[c.label])) for c in spec.cohorts],
                      spec.reference, Path(output_dir), spec.measures, dict(spec.funnel))


def open_comparison(compare_file: str | Path, output_dir: str | Path | None = None,
                    cohort_reports: dict[str, str] | None = None) -> Comparison:
    """The comparison as the notebook opens it. In a comparison run the runner passes the cohorts' reports and its
    staging folder; run alone, the notebook brings the cohorts' reports up to date itself and writes to
    ``reports/scratch/compare-<name>/`` (never the published comparison, which belongs to the runner)."""
    spec = load_compare_spec(compare_file)
    for key, value in DISPLAY_OPTIONS.items():  # tables shown as every notebook shows them (stable for nbval)
        pd.set_option(key, value)
    if cohort_reports is None:
        print("Bringing each cohort's report up to date (a cohort run: nothing runs for a current report) ...")
        cohort_reports = ensure_cohort_reports(spec, say=lambda line: None)
        for label, folder in cohort_reports.items():
            print(f"  {label}: {report_name(folder)}")
    if output_dir is None or workbench_dir(output_dir) != STAGING_DIR:
        output_dir = scratch_dir(f"compare-{spec.name}")
        shutil.rmtree(output_dir, ignore_errors=True)
        Path(output_dir).mkdir(parents=True)
    return comparison_of(spec, cohort_reports, output_dir)


def tables_digest(folder: Path) -> str:
    """sha256 over a cohort report's ``tables/`` (names and bytes) and the params its notebooks ran with: what a
    comparison reads of it. A cohort run that reused every notebook republishes the same tables (the provenance
    record, with its times, is new), so the comparison stays current."""
    h = hashlib.sha256()
    for path in sorted((Path(folder) / "tables").glob("*.csv")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps((read_provenance(folder) or {}).get("params"), sort_keys=True, default=str).encode())
    return h.hexdigest()


def comparison_key(spec: CompareSpec, reports: dict[str, Path], code: str) -> str:
    """The comparison's inputs in one hash: the notebook's cells, the code, the spec as written, and what it reads
    of each cohort's report (:func:`tables_digest`)."""
    blob = json.dumps({"notebook": notebook_fingerprint(NOTEBOOK_DIR / COMPARE_NAME), "code": code, "spec": spec.raw,
                       "cohorts": [[label, report_name(folder), tables_digest(folder)]
                                   for label, folder in reports.items()]}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def compare(spec_path: str | Path, jobs: int = 2, force: bool = False, say: Callable[[str], None] = print,
            in_process: bool = False) -> CompareResult:
    """Run a comparison and publish it; raise an :class:`~evaluation.core.errors.EvaluationError` if anything fails
    (a spec or params mistake, a cohort's data errors, a failed notebook), the last comparison left as it was.
    ``force`` runs the comparison notebook even when its inputs are unchanged (the cohorts' runs reuse as always)."""
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    spec = load_compare_spec(spec_path)
    final = spec.folder
    identity = report_identity(spec)
    check_replaceable(final, identity, shown_path(spec.source))
    for line in repair_reports():
        say(line)
    check_writable(final)
    say(f"Comparison {spec.name}: {', '.join(spec.labels)}")
    reports = ensure_cohort_reports(spec, jobs, say, in_process)
    key = comparison_key(spec, reports, code_fingerprint())
    record = read_provenance(final) or {}
    if not force and record.get("comparison_key") == key and not changed_outside(final, record):
        seconds = time.perf_counter() - t0
        say(f"  unchanged since the comparison was published, reused: {final / 'index.html'} ({seconds:.1f} s)")
        return CompareResult(spec, final, "reused", seconds, reports)

    staging = new_staging_dir(f"compare-{spec.name}")
    parameters = {"compare_file": shown_path(spec.source), "output_dir": str(staging),
                  "cohort_reports": {label: str(folder) for label, folder in reports.items()}}
    kernel = None if in_process else kernel_name()
    runs: list[NotebookRun] = []
    run_batch([NOTEBOOK_DIR / COMPARE_NAME], staging, parameters, 1, kernel, say, runs, 1)
    raise_failed(runs, staging)
    runs[0].status, runs[0].input_key = "ran", key
    if kernel:
        render_html(staging, runs)
    if (staging / "figures").exists():
        write_manifest(staging / "figures")
    write_compare_index(staging, spec, reports, runs[0], started)
    for cohort in spec.cohorts:  # each cohort's identifiers and threshold: a funder file may carry neither
        check_funder_outputs(staging, cohort.params)
    seconds = time.perf_counter() - t0
    write_compare_provenance(staging, spec, reports, runs[0], key, started, seconds)
    publish(staging, final, identity)
    say(f"Comparison: {final / 'index.html'} ({seconds:.1f} s)")
    return CompareResult(spec, final, "ran", seconds, reports)


def write_compare_provenance(staging: Path, spec: CompareSpec, reports: dict[str, Path], notebook: NotebookRun,
                             key: str, started: dt.datetime, seconds: float) -> Path:
    """The comparison's provenance: the spec, each cohort's report (and which run of it: its provenance digest),
    the notebook's timing, code and package versions, and the sha256 of every file published."""
    record = {
        "cohort_id": report_identity(spec),
        "compare_file": shown_path(spec.source),
        "spec_as_written": json.loads(json.dumps(spec.raw, default=str)),
        "cohorts": [{"label": c.label, "params_file": c.params_file, "cohort_id": c.params.cohort_id,
                     "report": report_name(reports[c.label]), "report_provenance_sha256": provenance_digest(reports[c.label]),
                     "tables_sha256": tables_digest(reports[c.label])}
                    for c in spec.cohorts],
        "reference": spec.reference,
        "comparison_key": key,
        **run_environment(started, seconds),
        "notebooks": [{"name": notebook.name, "notebook": notebook.path, "status": notebook.status,
                       "seconds": notebook.seconds, "peak_memory_mb": notebook.peak_memory_mb, "input_key": key}],
        "published_files_sha256": published_hashes(staging),
    }
    path = staging / PROVENANCE
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def write_compare_index(staging: Path, spec: CompareSpec, reports: dict[str, Path], notebook: NotebookRun,
                        started: dt.datetime) -> Path:
    """The comparison's front page: the cohorts (linked to their reports), the notebook's pages, the funder table,
    the tables and the figures with their captions."""
    e = html.escape
    stem = Path(notebook.path).stem
    pages = " &middot; ".join(f'<a href="{e(name)}">{e(text)}</a>' for name, text in
                              ((f"{stem}.reader.html", "read"), (f"{stem}.html", "with code"))
                              if (staging / name).exists()) or "(run in process: no pages)"
    cohorts = "".join(
        f'<li>{e(c.label)}: cohort <code>{e(c.params.cohort_id)}</code> ({e(c.params_file)}), '
        f'<a href="{e(_relative(reports[c.label], spec.folder))}/index.html">its report</a>'
        f'{" (the reference)" if c.label == spec.reference else ""}</li>' for c in spec.cohorts)
    tables = sorted(p.name for p in (staging / "tables").glob("*.csv"))
    figures = figure_items(staging)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(spec.title)}: comparison</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
.muted {{ color: #666; font-size: 0.9em; }}
figure {{ display: inline-block; width: 28rem; max-width: 100%; margin: 0.5rem; vertical-align: top; }}
figure img {{ width: 100%; border: 1px solid #ddd; }} figcaption {{ font-size: 0.85em; }}
</style></head><body>
<h1>{e(spec.title)}</h1>
<p class="muted">Comparison <code>{e(spec.name)}</code> ({e(shown_path(spec.source))}) &middot; run started
{started:%Y-%m-%d %H:%M} UTC &middot; <a href="provenance.json">provenance</a></p>
{f"<p>{e(spec.description)}</p>" if spec.description else ""}
<h2>Cohorts</h2><ul>{cohorts}</ul>
<h2>The comparison</h2><p>{pages} <span class="muted">({notebook.seconds:.1f} s). The evaluation team's page: its
team-level tables are not suppressed. For funders: <a href="funder/comparison.csv">funder/comparison.csv</a>
(small counts suppressed).</span></p>
<h2>Tables</h2>
<ul>{''.join(f'<li><a href="tables/{e(t)}">{e(t)}</a></li>' for t in tables)}</ul>
<h2>Figures</h2>
<p class="muted">PNG (300 dpi), SVG and PDF; captions and alt text in <a href="figures/manifest.csv">figures/manifest.csv</a>.</p>
{''.join(figures)}
</body></html>
"""
    path = staging / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _relative(folder: Path, start: Path) -> str:
    """``folder`` relative to ``start`` (both in the reports root), for a link that works wherever it is copied."""
    return Path(os.path.relpath(Path(folder).resolve(), Path(start).resolve())).as_posix()
