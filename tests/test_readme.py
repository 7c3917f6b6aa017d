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
from evaluation.run.runner import discover_notebooks, run

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
