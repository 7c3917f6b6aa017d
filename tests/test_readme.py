"""README's and ``--help``'s examples work as written, and README's params table is the schema's."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.__main__ import build_parser, main
from evaluation.core.schema import settings_markdown
from evaluation.core.paths import REPO_ROOT
from evaluation.run.runner import discover_notebooks

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


def test_readme_papermill_command_runs(tmp_path):
    """README's `papermill ... -p params_file params/demo.yaml` (the output notebook moved to tmp)."""
    line = next(l for l in _shell_lines() if "papermill" in l and "params_file" in l)
    words = shlex.split(line)
    words[0] = str(Path(sys.executable).parent / "papermill")
    words[2] = str(tmp_path / "run.ipynb")
    done = subprocess.run(words, cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Passed unknown parameter" not in done.stderr
    # run alone, the notebook writes to the scratch folder: the published report (the runner's) is not created
    assert (tmp_path / "scratch" / "demo" / "tables" / "outcome_change.csv").is_file()
    assert not (tmp_path / "demo").exists()
