"""Benchmark the workbench: the demo and synthetic cohorts of 25,000, 100,000 and 250,000 patients (statewide).

For each size, in one run of this script: generate the cohort, then
- **first run**: for the demo and the statewide cohort, in a fresh copy of this checkout (what ``git ls-files``
  lists, uncommitted changes included, never ``.venv``, ``data`` or ``reports``) set up with ``make`` as a new user
  would (its own venv, kernel, bytecode and matplotlib font cache; ``MPLCONFIGDIR`` of its own), the first
  ``python -m evaluation run`` after set-up;
- **forced run**: ``run --force`` in the same checkout (every notebook executed again);
- **unchanged re-run**: ``run`` again (every notebook reused);
- **one notebook at a time** (the demo only): ``run --force --jobs 1``, each notebook's time in a warm kernel with
  no other notebook sharing the cores: its ratio to the in-process time is what the kernel itself adds;
- **in-process floor**: the cohort validated once and every notebook's code run one after another in one Python
  process (no kernel, no papermill, no HTML pages, no gate, no publishing): what the analyses themselves cost.

Writes ``benchmarks/results/benchmark.csv`` (one row per size: seconds, peak memory of the whole process tree,
and the ratios, which hold across machines of a kind where seconds do not) and
``benchmarks/results/benchmark_notebooks.csv`` (one row per size and notebook: seconds in the forced run, in
process, their ratio, peak memory), and prints both as Markdown for the README.

With ``--sweep sweeps/demo.yaml`` it benchmarks a parameter sweep instead: every variant of the spec run one
after another as single runs (``run --variant ... --force``, ``--jobs`` notebooks at a time: what a researcher
does without a sweep), then the same variants as one sweep on Dask (``--workers``, each variant ``--jobs 1``),
cold, and the sweep again unchanged; wall time and peak memory of each, and their ratio. Writes
``benchmarks/results/sweep_benchmark.csv``.

Usage: ``python benchmarks/run_benchmark.py [--sizes demo 25k 100k statewide] [--jobs 2] [--keep]``
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
    "25k": (100, 250),
    "100k": (400, 250),
    "statewide": (1000, 250),
}
FRESH_SIZES = ("demo", "statewide")  # measured from a fresh copy's first run too
# measured one notebook at a time too (``--jobs 1``): each notebook's time in a warm kernel with no other notebook
# sharing the cores, so its ratio to the in-process time is the kernel's own overhead, not the other kernel's load
SEQUENTIAL_SIZES = ("demo",)
SCALING = ("25k", "100k", "statewide")  # time per 100,000 patients, compared across these
COPY_NEVER = (".venv/", "data/", "reports/", "benchmarks/results/")


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


def measured(args: list[str], reports: Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command of the workbench in ``cwd`` with ``reports`` as the reports root; its wall seconds and peak
    memory (MB, sampled every 0.2 s over the whole process tree: runner, workers, kernels, a sweep's Dask cluster)."""
    env = dict(env or os.environ, CMM_REPORTS_DIR=str(reports))
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_memory_mb(proc.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            out.seek(0)
            raise SystemExit(f"{' '.join(args[1:4])} failed ({proc.returncode}):\n{out.read()[-5000:]}")
    return seconds, round(peak, 1)


def run_cli(python: Path, checkout: Path, params: Path, reports: Path, jobs: int, force: bool,
            env: dict[str, str]) -> tuple[float, float, dict]:
    """Run the evaluation as a user would; return wall seconds, the whole run's peak memory and its provenance."""
    args = [str(python), "-m", "evaluation", "run", str(params), "--jobs", str(jobs)] + (["--force"] if force else [])
    seconds, peak = measured(args, reports, cwd=checkout, env=env)
    cohort_id = yaml.safe_load(params.read_text())["cohort_id"]
    return seconds, peak, json.loads((reports / cohort_id / "provenance.json").read_text())


FLOOR = r"""
import dataclasses, json, sys, time
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
from evaluation.core.params import load_params, to_dict
from evaluation.data.loading import load_cohort, save_validated
from evaluation.data.start import resolve_with_data
from evaluation.run.execute import execute_in_process
from evaluation.run.notebooks import discover_notebooks
out = Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
started = time.perf_counter()
params = dataclasses.replace(load_params(sys.argv[1]), output_dir=out)
cohort = load_cohort(params, raise_on_error=False)
params = resolve_with_data(params, cohort)
save_validated(cohort, params, out)  # as the runner does: validated once, the notebooks load it
rows = [{"notebook": "validation", "in_process_seconds": round(time.perf_counter() - started, 2)}]
parameters = to_dict(params) | {"output_dir": str(out), "params_file": sys.argv[1]}  # as the runner passes them
for path in discover_notebooks():
    result = execute_in_process(str(path), str(out / path.name), parameters)
    if result["status"] != "ok":
        raise SystemExit(f"{path.stem}: {result['error']['ename']}: {result['error']['evalue']}")
    rows.append({"notebook": path.stem, "in_process_seconds": result["seconds"]})
print(json.dumps(rows))
"""


def in_process(python: Path, checkout: Path, params: Path, reports: Path, env: dict[str, str]) -> pd.DataFrame:
    """The in-process floor: the cohort validated once, then each notebook's code cells run one after another in
    one child process (no kernel, no papermill), each timed. Its folder is a staging folder of ``reports``, where
    a notebook writes (as in a run)."""
    folder = reports / ".staging" / f"floor-{params.stem}"
    done = subprocess.run([str(python), "-c", FLOOR, str(params), str(folder)], cwd=checkout, capture_output=True,
                          text=True, env=env | {"MPLBACKEND": "Agg", "CMM_REPORTS_DIR": str(reports)})
    if done.returncode != 0:
        raise SystemExit(f"in-process run failed:\n{done.stderr[-3000:]}")
    return pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))


def fresh_checkout(work: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A copy of this checkout as a fresh clone has it (plus uncommitted changes), set up with ``make``; its folder
    and the environment its commands run in (a matplotlib config folder of its own, so its font cache is new)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    checkout = work / f"checkout_{name}"
    for rel in filter(None, listed):
        source = ROOT / rel
        if rel.startswith(COPY_NEVER) or not source.is_file():
            continue
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, checkout / rel)
    env = dict(os.environ, MPLCONFIGDIR=str(work / f"mplconfig_{name}"))
    print(f"  setting up a fresh checkout ({name}) ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(["make", ".venv/.installed-stamp"], cwd=checkout, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    print(f"  set up in {time.perf_counter() - t0:.0f} s", flush=True)
    return checkout, env


def bench(size: str, jobs: int, work: Path) -> tuple[dict, pd.DataFrame]:
    """One size: its summary row and its per-notebook rows."""
    data = work / f"data_{size}"
    t0 = time.perf_counter()
    counts = generate(size, data)
    gen_seconds = time.perf_counter() - t0
    params = work / f"bench_{size}.yaml"
    params.write_text(yaml.safe_dump({"cohort_id": f"bench_{size}", "data_dir": str(data)}))  # as a user writes it
    reports = work / f"reports_{size}"
    row: dict = {"size": size, "patients": counts.get("patients.csv"), "measurements": counts.get("measurements.csv"),
                 "generate_s": round(gen_seconds, 1)}
    if size in FRESH_SIZES:
        checkout, env = fresh_checkout(work, size)
        python = checkout / ".venv" / "bin" / "python"
        print("  first run after set-up ...", flush=True)
        first, row["first_run_peak_mb"], prov_first = run_cli(python, checkout, params, reports, jobs, False, env)
        row["first_run_s"] = round(first, 1)
        row["first_steps_s"] = json.dumps(prov_first.get("step_seconds", {}))
        row["first_notebooks_s"] = json.dumps({Path(n["notebook"]).stem: n["seconds"] for n in prov_first["notebooks"]})
    else:
        checkout, env, python = ROOT, dict(os.environ), Path(sys.executable)
    print("  forced run ...", flush=True)
    forced, row["forced_run_peak_mb"], prov = run_cli(python, checkout, params, reports, jobs, True, env)
    print("  unchanged re-run ...", flush=True)
    unchanged, _, prov_again = run_cli(python, checkout, params, reports, jobs, False, env)
    sequential = None
    if size in SEQUENTIAL_SIZES:
        print("  forced run, one notebook at a time ...", flush=True)
        seconds, _, prov_one = run_cli(python, checkout, params, reports, 1, True, env)
        row["one_at_a_time_run_s"] = round(seconds, 1)
        sequential = pd.DataFrame(prov_one["notebooks"])[["notebook", "seconds"]].rename(
            columns={"seconds": "one_at_a_time_seconds"})
        sequential["notebook"] = sequential["notebook"].map(lambda p: Path(p).stem)
    print("  in-process floor ...", flush=True)
    floor = in_process(python, checkout, params, reports, env)
    row |= {"forced_run_s": round(forced, 1), "unchanged_run_s": round(unchanged, 2),
            "floor_s": round(floor["in_process_seconds"].sum(), 1),
            # an up-to-date report is left as it was: the re-run published nothing, its provenance is the forced run's
            "rerun_published_nothing": prov_again.get("started_utc") == prov.get("started_utc"),
            "steps_s": json.dumps(prov.get("step_seconds", {}))}
    notebooks = pd.DataFrame(prov["notebooks"])[["notebook", "seconds", "peak_memory_mb"]]
    notebooks["notebook"] = notebooks["notebook"].map(lambda p: Path(p).stem)
    notebooks = notebooks.merge(floor, on="notebook", how="outer")
    notebooks["overhead_ratio"] = (notebooks["seconds"] / notebooks["in_process_seconds"]).round(2)
    if sequential is not None:
        notebooks = notebooks.merge(sequential, on="notebook", how="left")
        notebooks["one_at_a_time_overhead_ratio"] = (notebooks["one_at_a_time_seconds"]
                                                     / notebooks["in_process_seconds"]).round(2)
        row["worst_notebook_overhead_one_at_a_time"] = worst_notebook(notebooks, "one_at_a_time_overhead_ratio")
    notebooks.insert(0, "size", size)
    row |= {"run_to_floor": round(forced / row["floor_s"], 2),
            "first_to_forced": round(row["first_run_s"] / forced, 2) if "first_run_s" in row else None,
            "unchanged_to_forced": round(unchanged / forced, 3),
            "worst_notebook_overhead": worst_notebook(notebooks, "overhead_ratio"),
            "notebook_peak_mb": notebooks["peak_memory_mb"].max(),
            "forced_s_per_100k_patients": round(forced / row["patients"] * 100_000, 1)}
    return row, notebooks


def worst_notebook(notebooks: pd.DataFrame, ratio: str) -> str:
    """The highest ``ratio`` of the per-notebook rows and its notebook: ``1.21 (06_priority)``."""
    worst = notebooks.dropna(subset=[ratio]).sort_values(ratio).iloc[-1]
    return f"{worst[ratio]} ({worst['notebook']})"


def scaling_columns(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with the marginal time per 100,000 patients of each scaling size: its forced run's seconds
    over the next smaller size's, per 100,000 patients more. The raw time per 100,000 patients falls with size
    while a run's fixed cost (the kernels, every figure's export, the pages) is spread over more patients; the
    marginal figure is what stays flat when the work grows linearly with the cohort."""
    summary = summary.copy()
    scaling = summary[summary["size"].isin(SCALING)].sort_values("patients")
    more = scaling["patients"].diff()
    marginal = scaling["forced_run_s"].diff() / more * 100_000
    summary["marginal_s_per_100k_patients"] = marginal.round(1)  # aligned on the index: NaN for the first and others
    return summary


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
    rows, notebooks = [], []
    for size in args.sizes:
        print(f"benchmark: {size} ...", flush=True)
        row, per_notebook = bench(size, args.jobs, work)
        rows.append(row)
        notebooks.append(per_notebook)
        pd.DataFrame(rows).to_csv(RESULTS / "benchmark.csv", index=False)
        pd.concat(notebooks).to_csv(RESULTS / "benchmark_notebooks.csv", index=False)
    summary = scaling_columns(pd.DataFrame(rows))
    summary.to_csv(RESULTS / "benchmark.csv", index=False)
    scaling = summary[summary["size"].isin(SCALING)]
    if len(scaling) > 1:
        for column in ("forced_s_per_100k_patients", "marginal_s_per_100k_patients"):
            per = scaling[column].dropna()
            print(f"{column} from {scaling['size'].iloc[0]} to {scaling['size'].iloc[-1]}: {per.min()}-{per.max()} s "
                  f"(max/min {per.max() / per.min():.2f})")
    print(markdown(summary.drop(columns=["steps_s", "first_steps_s", "first_notebooks_s"], errors="ignore")
                   .astype(object).fillna("")))
    print()
    print(markdown(pd.concat(notebooks).astype(object).fillna("")))
    print(f"\nResults: {RESULTS / 'benchmark.csv'}, {RESULTS / 'benchmark_notebooks.csv'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
