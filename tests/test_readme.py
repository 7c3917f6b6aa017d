"""README's and ``--help``'s examples work as written, and README's params table is the schema's."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from evaluation.__main__ import build_parser, main
from evaluation.core.schema import settings_markdown
from evaluation.core.paths import REPO_ROOT
from evaluation.data.loading import load_cohort
from evaluation.run.notebooks import discover_notebooks
from evaluation.run.runner import run

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _shell_lines() -> list[str]:
    """Every command line in README's ```sh blocks, and the alternatives their comments give ("# or: ...")."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("  #")
            for text in (command, comment.partition("or:")[2]):
                if text.strip() and not text.strip().startswith("#"):
                    lines.append(text.strip())
    return lines


def _cli_commands() -> list[list[str]]:
    """README's ``python -m evaluation ...`` commands, as argument lists."""
    out = []
    for line in _shell_lines():
        words = shlex.split(line)
        if "evaluation" in words and words[words.index("evaluation") - 1] == "-m":
            out.append(words[words.index("evaluation") + 1:])
    return out


def test_readme_params_table_is_the_schema():
    """README's Params section is `python -m evaluation params`: every key, its default and its check."""
    assert settings_markdown() in README, "README's params table is stale: paste `python -m evaluation params`"


def test_readme_commands_parse_and_name_real_notebooks():
    commands = _cli_commands()
    assert {"run", "validate", "synth"} <= {c[0] for c in commands}, commands
    parser = build_parser()
    for args in commands:
        ns = parser.parse_args(args)  # exits (fails the test) on an option README made up
        if getattr(ns, "only", None):
            discover_notebooks(ns.only)
    for match in re.findall(r"`--only ([a-z_ ]+)`", README):
        discover_notebooks(match.split())


def test_help_examples_name_real_notebooks(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    example = re.search(r"\(e\.g\. ([a-z_ ]+)\)", text)
    assert example, text
    discover_notebooks(example.group(1).split())


def test_readme_validate_and_synth_commands_run(tmp_path, capsys):
    """`validate` on the demo's params and `synth` as README writes them (the output folder moved to tmp)."""
    assert main(["validate", "params/demo.yaml"]) == 0
    synth = next(c for c in _cli_commands() if c[0] == "synth")
    synth[synth.index("--out") + 1] = str(tmp_path / "demo")
    assert main(synth) == 0
    assert main(["validate", str(tmp_path / "demo")]) == 0


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of a folder, by relative path, with its bytes and modification time."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_readme_papermill_command_leaves_the_published_report_as_it_was(small_report, reports_root):
    """README's `papermill ... -p params_file ...` on a cohort with a published report (the small one, its
    params file in place of the demo's, the output notebook moved to tmp), told moreover to write into that
    report with another ci_method: every file of the report keeps its bytes, the tables go to the scratch
    folder, the notebook says where, and the next run reuses every notebook (nothing published changed)."""
    shutil.copytree(small_report.parent / "reports", reports_root)
    published = reports_root / "small"
    run(small_report, in_process=True, say=lambda _: None)  # reuses all (re-runs only if the code changed since)
    before = snapshot(published)
    line = next(l for l in _shell_lines() if "papermill" in l and "params_file" in l)
    words = shlex.split(line)
    words[0] = str(Path(sys.executable).parent / "papermill")
    words[2] = str(reports_root.parent / "run.ipynb")
    words[words.index("params_file") + 1] = str(small_report)
    words += ["-p", "output_dir", str(published), "-p", "ci_method", "log"]
    done = subprocess.run(words, cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Passed unknown parameter" not in done.stderr
    assert snapshot(published) == before
    assert (reports_root / "scratch" / "small" / "tables" / "outcome_change.csv").is_file()
    said = "".join(out.get("text", "") for cell in nbformat.read(words[2], as_version=4).cells
                   for out in cell.get("outputs", []))
    assert "writes its tables and figures to $CMM_REPORTS_DIR/scratch/small and not to $CMM_REPORTS_DIR/small " in said
    tables = {k: v[0] for k, v in before.items() if k.startswith(("tables/", "funder/", "figures/"))}
    result = run(small_report, in_process=True, say=lambda _: None)
    assert {n.name: n.status for n in result.notebooks} == {n["name"]: "reused" for n in
                                                            json.loads(before["provenance.json"][0])["notebooks"]}
    assert {k: v[0] for k, v in snapshot(published).items() if k in tables} == tables


def _redcap_example() -> tuple[str, str, str]:
    """README's worked REDCap example: its data dictionary, records and redcap.yaml, as written."""
    section = README[README.index("## REDCap exports"):README.index("## Variants and sweeps")]
    dictionary, records = re.findall(r"```csv\n(.*?)```", section, flags=re.S)
    (mapping,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    return dictionary, records, mapping


def test_readme_redcap_example_gives_the_tables_it_says(tmp_path):
    dictionary, records, mapping = _redcap_example()
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "redcap_dictionary.csv").write_text(dictionary, encoding="utf-8")
    (folder / "redcap_records.csv").write_text(records, encoding="utf-8")
    (folder / "redcap.yaml").write_text(mapping, encoding="utf-8")
    (folder / "teams.csv").write_text("team_id,team_name,state,setting,track,joined_on\n"
                                      "T01,North Clinic,MN,clinic,initial,2024-01-15\n"
                                      "T02,River Pharmacy,MN,community_pharmacy,initial,2024-01-15\n", encoding="utf-8")
    cohort = load_cohort(folder)
    patients = cohort.patients[["patient_id", "team_id", "sex", "birth_year", "diabetes", "hypertension"]]
    assert patients.astype(str).values.tolist() == [["1001", "T01", "F", "1950", "1", "0"],
                                                    ["1002", "T02", "M", "1961", "1", "1"]]
    assert cohort.patients["enrolled_on"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-01", "2024-03-01"]
    assert cohort.patients["exit_reason"].fillna("").tolist() == ["", "moved"]
    assert cohort.patients["exited_on"].dt.strftime("%Y-%m-%d").fillna("").tolist() == ["", "2024-09-01"]
    measurements = cohort.measurements.assign(measured_on=cohort.measurements["measured_on"].dt.strftime("%Y-%m-%d"))
    assert measurements[["patient_id", "measure", "measured_on", "value"]].values.tolist() == [
        ["1001", "a1c", "2024-02-01", 9.1], ["1001", "a1c", "2024-05-02", 7.6], ["1002", "a1c", "2024-03-01", 10.2],
        ["1002", "sbp", "2024-03-01", 150.0], ["1002", "dbp", "2024-03-01", 95.0]]
    cells = {str(c) for table in cohort.tables.values() if table is not None for c in table.to_numpy().ravel()}
    assert not {"MRN0045521", "MRN0045877", "1950-03-14", "1961-11-30"} & cells
    assert cohort.sources["teams"] == "teams.csv" and cohort.sources["patients"] == "redcap_records.csv [instrument enrollment]"
    (folder / "redcap_records.csv").write_text(records.replace(",150,95,", ",15O,95,"), encoding="utf-8")
    quality = load_cohort(folder, raise_on_error=False).quality
    said = re.search(r"`(redcap_records\.csv \[record 1002, instrument labs, instance 1\]),\nrow (\d+), column '(\w+)': "
                     r"'15O' is not a number`", README)
    assert said, "README's example of a problem in an export is not where the test looks for it"
    error = quality[quality["severity"] == "error"].iloc[0]
    assert [error["table"], int(error["row"]), error["column"], error["problem"]] == \
        [said.group(1), int(said.group(2)), said.group(3), "'15O' is not a number"]
