"""Benchmark the workbench on three cohort sizes: the demo, 100 teams x 250 patients, 1,000 x 250.

For each size: generate the synthetic cohort, run the full evaluation cold (``--force``), run it again
unchanged (every notebook reused), then run the same notebooks' code in one Python process without
papermill or a kernel, to show what the notebooks themselves cost. Writes
``benchmarks/results/benchmark.csv`` (one row per size and notebook) and prints a Markdown table.

With ``--sweep sweeps/demo.yaml`` it benchmarks a parameter sweep instead: every variant of the spec run one
after another as single runs (``run --variant ... --force``, ``--jobs`` notebooks at a time: what a researcher
does without a sweep), then the same variants as one sweep on Dask (``--workers``, each variant ``--jobs 1``),
cold, and the sweep again unchanged; wall time and peak memory of each, and their ratio. Writes
``benchmarks/results/sweep_benchmark.csv``.

Usage: ``python benchmarks/run_benchmark.py [--sizes demo medium statewide] [--jobs 2]``
       ``python benchmarks/run_benchmark.py --sweep sweeps/demo.yaml [--workers 2] [--jobs 2]``
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from evaluation.data.synth import generate_cohort
from evaluation.run.sweep import load_spec, plan_tasks, variant_command

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZES = {  # name: (teams, patients per team)
    "demo": (10, None),
    "medium": (100, 250),
    "statewide": (1000, 250),
}


def generate(size: str, folder: Path) -> dict[str, int]:
    """Write the synthetic cohort of one benchmark size; the rows written per file."""
    teams, per_team = SIZES[size]
    if per_team is None:
        return generate_cohort(folder, seed=2015)
    return generate_cohort(folder, seed=2015, n_teams=teams, patients_per_team=(per_team, per_team))


def tree_memory_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants now (runner, workers and notebook kernels)."""
    import psutil  # installed with ipykernel

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def measured(args: list[str], reports: Path) -> tuple[float, float]:
    """Run a command of the workbench with ``reports`` as the reports root; its wall seconds and peak memory (MB,
    sampled every 0.2 s over the whole process tree: runner, workers, kernels, a sweep's Dask cluster)."""
    env = dict(os.environ, CMM_REPORTS_DIR=str(reports))
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_memory_mb(proc.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            out.seek(0)
            raise SystemExit(f"{' '.join(args[1:4])} failed ({proc.returncode}):\n{out.read()[-5000:]}")
    return seconds, round(peak, 1)


def run_cli(params: Path, reports: Path, jobs: int, force: bool) -> tuple[float, float, dict]:
    """Run the evaluation as a user would; return wall seconds, the whole run's peak memory and its provenance."""
    args = [sys.executable, "-m", "evaluation", "run", str(params), "--jobs", str(jobs)] + (["--force"] if force else [])
    seconds, peak = measured(args, reports)
    cohort_id = yaml.safe_load(params.read_text())["cohort_id"]
    return seconds, peak, json.loads((reports / cohort_id / "provenance.json").read_text())


def in_process(params: Path, reports: Path) -> pd.DataFrame:
    """Execute each notebook's code cells in one child process (no kernel, no papermill), as the runner's
    in-process mode does; time each."""
    script = r'''
import json, sys
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
from evaluation.core.params import load_params, to_dict
from evaluation.run.execute import execute_in_process
from evaluation.run.notebooks import discover_notebooks
out = Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
params = to_dict(load_params(sys.argv[1])) | {"output_dir": str(out), "params_file": sys.argv[1]}  # as the runner passes
rows = []
for path in discover_notebooks():
    result = execute_in_process(str(path), str(out / path.name), params)
    if result["status"] != "ok":
        raise SystemExit(f"{path.stem}: {result['error']['ename']}: {result['error']['evalue']}")
    rows.append({"notebook": path.stem, "in_process_seconds": result["seconds"]})
print(json.dumps(rows))
'''
    done = subprocess.run([sys.executable, "-c", script, str(params), str(reports / "in_process")], cwd=ROOT,
                          capture_output=True, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg", CMM_REPORTS_DIR=str(reports)))
    if done.returncode != 0:
        raise SystemExit(f"in-process run failed:\n{done.stderr[-3000:]}")
    return pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))


def bench(size: str, jobs: int, work: Path) -> pd.DataFrame:
    data = work / f"data_{size}"
    t0 = time.perf_counter()
    counts = generate(size, data)
    gen_seconds = time.perf_counter() - t0
    params = work / f"{size}.yaml"
    params.write_text(yaml.safe_dump({"cohort_id": f"bench_{size}", "data_dir": str(data), "as_of": "2016-12-31"}))
    reports = work / "reports"
    cold, cold_peak, prov = run_cli(params, reports, jobs, force=True)
    warm, _, prov_warm = run_cli(params, reports, jobs, force=False)
    inproc = in_process(params, reports)
    nb = pd.DataFrame(prov["notebooks"])[["notebook", "seconds", "peak_memory_mb"]]
    nb["notebook"] = nb["notebook"].map(lambda p: Path(p).stem)
    out = nb.merge(inproc, on="notebook", how="left")
    out.insert(0, "size", size)
    out["patients"] = counts.get("patients.csv")
    out["measurements"] = counts.get("measurements.csv")
    out["rows_in_cohort"] = sum(counts.values())
    out["generate_seconds"] = round(gen_seconds, 1)
    out["cold_run_seconds"] = round(cold, 1)
    out["cold_run_peak_memory_mb"] = cold_peak
    out["unchanged_run_seconds"] = round(warm, 1)
    out["reused_on_rerun"] = len(prov_warm.get("reused_notebooks", []))
    out["notebook_overhead_ratio"] = (out["seconds"] / out["in_process_seconds"]).round(2)
    return out


def single_run_commands(spec_path: Path, reports: Path, jobs: int) -> list[tuple[str, list[str]]]:
    """(variant label, command) for each variant of a sweep spec run as a single cold run, ``jobs`` notebooks at
    a time, each into its own folder under ``reports``: the sweep's own commands with ``--jobs`` changed."""
    previous = os.environ.get("CMM_REPORTS_DIR")
    os.environ["CMM_REPORTS_DIR"] = str(reports)  # the variants' report folders are planned inside ``reports``
    try:
        tasks = plan_tasks(load_spec(spec_path), force=True)
    finally:
        if previous is None:
            os.environ.pop("CMM_REPORTS_DIR")
        else:
            os.environ["CMM_REPORTS_DIR"] = previous
    commands = []
    for task in tasks:
        command = variant_command(task)
        command[command.index("--jobs") + 1] = str(jobs)
        commands.append((task.label, command))
    return commands


def bench_sweep(spec_path: Path, workers: int, jobs: int, work: Path) -> pd.DataFrame:
    """The variants of a sweep as one sweep into an empty reports folder (each cohort's first variant first, the
    others reusing what their settings do not reach), again unchanged, and with ``--force`` (every variant cold,
    side by side); then as cold single runs one after another: seconds, peak memory and each sweep's ratio to
    the single runs, all measured in this one run."""
    sweeps = []
    sweep = [sys.executable, "-m", "evaluation", "sweep", str(spec_path), "--workers", str(workers)]
    for what, extra in [(f"sweep on {workers} Dask workers, into an empty reports folder", []),
                        ("sweep again, unchanged (every variant reused)", []),
                        ("sweep --force (every variant cold, side by side)", ["--force"])]:
        print(f"  {what} ...", flush=True)
        seconds, peak = measured(sweep + extra, work / "sweep")
        sweeps.append({"what": what, "seconds": round(seconds, 1), "peak_memory_mb": peak})
    rows = []
    single = work / "single_runs"
    for label, command in single_run_commands(spec_path, single, jobs):
        print(f"  single run {label} ...", flush=True)
        seconds, peak = measured(command, single)
        rows.append({"what": f"single run {label}", "seconds": round(seconds, 1), "peak_memory_mb": peak})
    sequential = sum(r["seconds"] for r in rows)
    rows.append({"what": f"{len(rows)} single runs one after another (--jobs {jobs}, --force)",
                 "seconds": round(sequential, 1), "peak_memory_mb": max(r["peak_memory_mb"] for r in rows)})
    for row in sweeps:
        row["ratio_to_single_runs"] = round(row["seconds"] / sequential, 3)
    return pd.DataFrame(rows + sweeps)


def markdown(df: pd.DataFrame) -> str:
    """A Markdown table for the README (pandas' to_markdown needs the optional tabulate package)."""
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the generated cohorts and reports")
    parser.add_argument("--sweep", type=Path, metavar="SPEC", help="benchmark this sweep spec instead of the sizes")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers of the sweep (default 2)")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cmm-bench-"))
    if args.sweep:
        print(f"benchmark: sweep {args.sweep} ...", flush=True)
        table = bench_sweep(args.sweep, args.workers, args.jobs, work)
        table.to_csv(RESULTS / "sweep_benchmark.csv", index=False)
        print(markdown(table.fillna("")))
        print(f"\nResults: {RESULTS / 'sweep_benchmark.csv'}")
        shutil.rmtree(work, ignore_errors=True)
        return 0
    frames = []
    for size in args.sizes:
        print(f"benchmark: {size} ...", flush=True)
        frames.append(bench(size, args.jobs, work))
        pd.concat(frames).to_csv(RESULTS / "benchmark.csv", index=False)
    table = pd.concat(frames, ignore_index=True)
    summary = table.groupby("size", sort=False).agg(
        patients=("patients", "first"), measurements=("measurements", "first"),
        cold_run_s=("cold_run_seconds", "first"), unchanged_run_s=("unchanged_run_seconds", "first"),
        run_peak_memory_mb=("cold_run_peak_memory_mb", "first"),
        slowest_notebook_s=("seconds", "max"), notebook_peak_memory_mb=("peak_memory_mb", "max"),
        notebooks_s=("seconds", "sum"), in_process_s=("in_process_seconds", "sum"))
    summary["notebook_overhead"] = (summary["notebooks_s"] / summary["in_process_s"]).round(2)
    summary[["notebooks_s", "in_process_s"]] = summary[["notebooks_s", "in_process_s"]].round(1)
    print(markdown(summary.reset_index()))
    print(table.to_string(index=False))
    print(f"\nResults: {RESULTS / 'benchmark.csv'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
