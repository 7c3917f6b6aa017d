"""Set-up files stay in step: environment.yml and pyproject.toml list the same dependencies; the lock
pins every one of them with plain name==version lines (no URLs or local paths)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_deps() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_name(d): d.replace(" ", "") for d in deps}


def conda_deps() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = [d for d in env["dependencies"] if isinstance(d, str) and _name(d) not in ("python", "pip")]
    specs += [d.split("#")[0] for entry in env["dependencies"] if isinstance(entry, dict)  # from PyPI (pip:)
              for d in entry.get("pip", []) if not d.startswith("-")]
    return {_name(d): d.replace(" ", "") for d in specs}


def test_environment_yml_matches_pyproject():
    assert conda_deps() == pyproject_deps()


def test_lock_pins_every_direct_dependency_without_urls():
    text = (ROOT / "requirements.lock").read_text()
    assert "http://" not in text and "https://" not in text and "file:" not in text
    pins = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9._-]+(\[[^\]]+\])?==[^\s;]+(\s*;.*)?", line), line
            pins[_name(line)] = line
    missing = set(pyproject_deps()) - set(pins)
    assert not missing, f"not pinned in requirements.lock: {missing}"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / "README.md").read_text()
    ci = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert ci[-1].strip() == "make test"
