"""Command line: ``python -m evaluation <command>``.

  run PARAMS [--only NAME ...] [--jobs N] [--force] [--reuse-from DIR ...] [--set KEY=VALUE ... --variant NAME]
                                            run every notebook for a cohort and publish its report (a variant:
                                            the params with KEY set to VALUE, in reports/variants/<cohort>/NAME/)
  sweep SPEC [--workers N] [--scheduler ADDRESS] [--retries N] [--force]
                                            every cohort of a sweep spec under a grid of settings, as tasks on Dask,
                                            and a sensitivity summary in reports/sweeps/<name>/
  compare SPEC [--jobs N] [--force]         cohorts or cycles side by side (each cohort's report brought up to date
                                            first), published to reports/compare/<name>/
  validate PARAMS|DIR                       check a cohort folder against the data dictionary
  synth --out DIR [--seed N] [--format F] ...  write a synthetic cohort (the demo, a statewide one; F redcap: as a
                                            REDCap export)
  redcap-pull PARAMS                        export the params' REDCap project through its API into the data folder
                                            (redcap.api_url; the token from $REDCAP_API_TOKEN, never written)
  dictionary [--check]                      regenerate data_dictionary/README.md (or check it is current)
  params                                    every params key: default, allowed values, meaning
  qdpx export|import SOURCE --out PATH      exchange focus-group coding with QDA tools (REFI-QDA)
  regold [NOTEBOOK ...]                     write the goldens (tests/goldens/) the nbval regression tests compare against

Exit codes of run and validate: 0 done, 1 data errors, 2 a params mistake, 3 a notebook failed, 4 the reports
folder cannot be written (read-only, full, or no permission; the message names the path).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .core.errors import DataValidationError, EvaluationError, NotebookFailed, ParamsError, format_problem

EXIT_DATA, EXIT_PARAMS, EXIT_NOTEBOOK, EXIT_STORAGE = 1, 2, 3, 4
EXIT_CODES = ("exit codes: 0 done, 1 data errors, 2 a params mistake, 3 a notebook failed, "
              "4 the reports folder cannot be written (read-only, full, or no permission)")


def _print_problems(exc: DataValidationError) -> None:
    """The data errors, where the full data-quality table is, and that the last report is untouched."""
    print(f"error: {exc}", file=sys.stderr)
    staging = getattr(exc, "staging_dir", None)
    if staging:
        print(f"The full data-quality table is in {staging}/tables/data_quality.csv", file=sys.stderr)
    print("The previous report (if any) was left untouched.", file=sys.stderr)


def _reported(work: Callable[[], int], what: str = "report") -> int:
    """Run ``work`` (a run or a comparison) and turn the workbench's errors into a message and an exit code; the
    previous ``what`` (report, comparison) is untouched by a failed run, and the message says so."""
    from .run.publishing import ReportsNotWritable

    try:
        return work()
    except ReportsNotWritable as exc:  # one line naming the path: what to fix is the disk, not the data
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PARAMS
    except DataValidationError as exc:
        _print_problems(exc)
        return EXIT_DATA
    except NotebookFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.source:
            print("  in this cell:\n    " + "\n    ".join(exc.source.splitlines()[:12]), file=sys.stderr)
        print(f"  executed notebook with the traceback: {exc.output_path}", file=sys.stderr)
        print(f"The previous {what} (if any) was left untouched.", file=sys.stderr)
        return EXIT_NOTEBOOK
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"The previous {what} (if any) was left untouched.", file=sys.stderr)
        return EXIT_NOTEBOOK


def cmd_run(args: argparse.Namespace) -> int:
    from .core.params import parse_overrides
    from .run.plan import prepare

    def work() -> int:
        overrides = parse_overrides(args.set or [], path=args.params)
        options = dict(only=args.only, force=args.force, overrides=overrides, variant=args.variant,
                       reuse_from=args.reuse_from)
        prepared = prepare(args.params, **options)
        if prepared.up_to_date:  # said without loading the rest of the workbench
            result = prepared.unchanged()
        else:
            from .run.runner import run

            result = run(args.params, jobs=args.jobs, prepared=prepared, **options)
        return 0 if result.ok else EXIT_NOTEBOOK

    return _reported(work)


def cmd_sweep(args: argparse.Namespace) -> int:
    from .run.sweep import cmd_sweep as sweep_command  # Dask and the sweep's modules load only for a sweep

    return sweep_command(args)


def cmd_compare(args: argparse.Namespace) -> int:
    """A comparison: the same errors and exit codes as a cohort run (a cohort's own problems name its files)."""
    from .run.compare import compare

    def work() -> int:
        compare(args.spec, jobs=args.jobs, force=args.force)
        return 0

    return _reported(work, "comparison")


def cmd_validate(args: argparse.Namespace) -> int:
    """Check the params (every key and value), then the data, then the settings that name things in the data:
    everything `run` would stop on, in one list."""
    from .core.params import load_params
    from .data.loading import load_cohort
    from .data.start import resolve_with_data
    from .run.publishing import ReportsNotWritable, check_output_dir, check_replaceable, repair_reports

    try:
        for line in repair_reports():  # a publish a killed run left half done is finished first
            print(line)
    except ReportsNotWritable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    try:
        source = load_params(args.target) if args.target.endswith((".yaml", ".yml")) else Path(args.target)
        if not isinstance(source, Path):  # the report folder `run` would publish to, checked as `run` checks it
            check_output_dir(source)
            check_replaceable(source.output_dir, source.cohort_id, source.source)
        cohort = load_cohort(source, raise_on_error=False)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PARAMS
    except DataValidationError as exc:
        _print_problems(exc)
        return EXIT_DATA
    q = cohort.quality
    for row in q.itertuples(index=False):
        print(f"{row.severity:8s} {format_problem(row, str(cohort.data_dir))}")
    n_err = int((q["severity"] == "error").sum())
    print(f"{n_err} error(s), {int((q['severity'] == 'warning').sum())} warning(s), "
          f"{int((q['severity'] == 'note').sum())} note(s) in {cohort.data_dir}")
    if not isinstance(source, Path):
        try:
            resolve_with_data(source, cohort)
        except ParamsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_PARAMS
    return EXIT_DATA if n_err else 0


def cmd_redcap_pull(args: argparse.Namespace) -> int:
    """The params' REDCap project exported through its API into the cohort's data folder (token from the
    environment, never written)."""
    from .core.params import load_params
    from .data.redcap_pull import PullFailed, pull_export

    try:
        params = load_params(args.params)
        pulled = pull_export(params)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PARAMS
    except PullFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("The data folder's previous export (if any) was left untouched.", file=sys.stderr)
        return EXIT_DATA
    print(f"Pulled {pulled.n_fields:,} fields and {pulled.n_records:,} records ({pulled.n_rows:,} rows) from "
          f"{pulled.host} into {pulled.records.parent} ({pulled.dictionary.name}, {pulled.records.name}); "
          f"`python -m evaluation validate {args.params}` checks them")
    return 0


def _cycle_number(text: str) -> int:
    """``--cycle``: a whole number, at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, at least 1 (the first cycle); got {text!r}")
    return int(text)


def cmd_synth(args: argparse.Namespace) -> int:
    from .data.synth import generate_cohort
    from .data.synth.redcap import write_redcap

    low, _, high = args.patients_per_team.partition("-")
    with tempfile.TemporaryDirectory(prefix="cmm-synth-") as scratch:
        folder = args.out if args.format == "csv" else Path(scratch) / "cohort"
        try:
            counts = generate_cohort(folder, seed=args.seed, n_teams=args.teams,
                                     patients_per_team=(int(low), int(high or low)), start=args.start,
                                     cycle=args.cycle, cycle_start=args.cycle_start)
        except ValueError as exc:  # a bad argument: say which, without a traceback
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_PARAMS
        if args.format == "redcap":
            write_redcap(folder, args.out)
    total = sum(counts.values())
    kind = "as a REDCap export (redcap_dictionary.csv, redcap_records.csv, redcap.yaml) " if args.format == "redcap" else ""
    print(f"Wrote a synthetic cohort {kind}to {args.out}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
          + f" ({total:,} rows)")
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    from .core.dictionary import DICTIONARY_DIR, render_markdown

    path = DICTIONARY_DIR / "README.md"
    text = render_markdown()
    if args.check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            print(f"{path} is stale: run `python -m evaluation dictionary`", file=sys.stderr)
            return 1
        print(f"{path} is current")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"Wrote {path}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from .core.schema import settings_markdown

    print(settings_markdown(), end="")
    return 0


def cmd_regold(args: argparse.Namespace) -> int:
    from .run.regold import regold

    try:
        return regold(args.notebooks)
    except NotebookFailed as exc:  # a notebook run for the tables another reads: nothing was stored
        print(f"error: {exc}", file=sys.stderr)
        if getattr(exc, "traceback", None):
            print(exc.traceback, file=sys.stderr, end="")
        return EXIT_NOTEBOOK


def cmd_qdpx(args: argparse.Namespace) -> int:
    from .core.params import load_params
    from .data.loading import load_cohort
    from .data.qualitative import write_qualitative_csvs
    from .data.refi_qda import read_qdpx
    from .data.refi_qda_writer import export_qdpx

    if args.action == "export":
        try:
            source = load_params(args.source) if args.source.endswith((".yaml", ".yml")) else Path(args.source)
            cohort = load_cohort(source)
        except (ParamsError, DataValidationError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_PARAMS if isinstance(exc, ParamsError) else EXIT_DATA
        path = export_qdpx(cohort, args.out)
        print(f"Wrote {path}: open it in QualCoder, NVivo, ATLAS.ti or MAXQDA (REFI-QDA project)")
        return 0
    tables = read_qdpx(args.source)
    for row in tables.problems.itertuples(index=False):
        print(f"{row.severity:8s} {format_problem(row)}", file=sys.stderr)
    if not tables.ok:
        return EXIT_DATA
    for path in write_qualitative_csvs(tables, args.out):
        print(f"Wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description="CMM collaborative evaluation workbench")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run every notebook for a cohort and publish reports/<cohort_id>/", epilog=EXIT_CODES)
    p.add_argument("params", help="params file, e.g. params/demo.yaml")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (e.g. engagement time_to_goal)")
    p.add_argument("--jobs", type=int, default=2, help="notebooks run at the same time (default 2)")
    p.add_argument("--force", action="store_true", help="run every notebook, even those whose inputs are unchanged")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a variant's setting: a dotted params key and a YAML value, e.g. --set 'goals.a1c=< 7' "
                        "--set windows.followup_max_days=180 --set 'subgroups=[track, sex]' (repeat it; needs --variant)")
    p.add_argument("--variant", metavar="NAME", help="publish a variant of the cohort (the params with --set applied) "
                   "to reports/variants/<cohort_id>/NAME/, leaving the main report untouched; NAME: letters, digits, "
                   "-, _ and .")
    p.add_argument("--reuse-from", action="append", metavar="DIR", default=[],
                   help="another report of the same cohort and data (e.g. reports/demo): a notebook that read no "
                   "param differing from it is copied from it instead of run (repeatable)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("sweep", help="run every cohort of a sweep spec under a grid of settings on Dask and "
                       "write a sensitivity summary to reports/sweeps/<name>/", epilog=EXIT_CODES)
    p.add_argument("spec", help="sweep spec, e.g. sweeps/demo.yaml")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes of the local cluster (default: one "
                   "per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask cluster's scheduler, e.g. "
                   "tcp://host:8786 (its workers must share this file system: repository, data, reports)")
    p.add_argument("--retries", type=int, default=2, metavar="N", help="further attempts of a variant whose "
                   "notebook failed or whose run was killed (default 2)")
    p.add_argument("--force", action="store_true", help="run every notebook of every variant, even unchanged ones")
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("compare", help="cohorts or cycles side by side, published to reports/compare/<name>/",
                       epilog=EXIT_CODES)
    p.add_argument("spec", help="comparison spec, e.g. compare/demo.yaml")
    p.add_argument("--jobs", type=int, default=2, help="notebooks a cohort run runs at the same time (default 2)")
    p.add_argument("--force", action="store_true", help="run the comparison notebook even when nothing it reads changed")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("validate", help="check a cohort folder (or the folder a params file names)", epilog=EXIT_CODES)
    p.add_argument("target", help="params file or data folder")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("synth", help="write a synthetic cohort")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--seed", type=int, default=2015)
    p.add_argument("--teams", type=int, default=10, help="number of teams (10 gives the demo's shape)")
    p.add_argument("--patients-per-team", default="40-80", help="N or MIN-MAX (default 40-80)")
    p.add_argument("--start", default="2015-02-01", help="first day of the first cycle (default 2015-02-01)")
    p.add_argument("--cycle", type=_cycle_number, default=1,
                   help="which cycle of the collaborative to write (default 1); a later cycle has about half of the "
                        "previous cycle's teams back (same ids and names), new teams with new ids, and new patients")
    p.add_argument("--cycle-start", default=None, metavar="YYYY-MM-DD",
                   help="first day of that cycle (default: --start plus 12 months per earlier cycle)")
    p.add_argument("--format", choices=("csv", "redcap"), default="csv",
                   help="csv: the data contract's files (default); redcap: the same cohort as a REDCap export "
                        "(data dictionary, raw records and the redcap.yaml that maps them)")
    p.set_defaults(func=cmd_synth)
    p = sub.add_parser("redcap-pull", help="export the params' REDCap project through its API into the data folder",
                       epilog="The API address is redcap.api_url; the token is read from the environment variable "
                              "redcap.token_env names (REDCAP_API_TOKEN) and never written. Needs PyCap: "
                              "pip install 'cmm-evaluation[redcap]'.")
    p.add_argument("params", help="params file")
    p.set_defaults(func=cmd_redcap_pull)
    p = sub.add_parser("dictionary", help="regenerate data_dictionary/README.md from the YAML files")
    p.add_argument("--check", action="store_true", help="only check that it is current")
    p.set_defaults(func=cmd_dictionary)
    p = sub.add_parser("params", help="list every params key with its default, allowed values and meaning")
    p.set_defaults(func=cmd_params)
    p = sub.add_parser("qdpx", help="exchange focus-group coding with QDA tools (REFI-QDA .qdpx)")
    p.add_argument("action", choices=["export", "import"],
                   help="export: a cohort's qualitative CSVs to a .qdpx; import: a .qdpx to qualitative/*.csv")
    p.add_argument("source", help="export: params file or data folder; import: the .qdpx file")
    p.add_argument("--out", required=True, help="export: the .qdpx to write; import: the cohort folder to write qualitative/ into")
    p.set_defaults(func=cmd_qdpx)
    p = sub.add_parser("regold", help="write the goldens (tests/goldens/) the nbval regression tests compare against")
    p.add_argument("notebooks", nargs="*", help="notebooks to refresh (default: all); the notebooks one of them reads "
                   "the tables of run first, their goldens unchanged")
    p.set_defaults(func=cmd_regold)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
