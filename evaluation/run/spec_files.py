"""What every spec file of the workbench (a sweep spec, a comparison spec) checks the same way: its keys, each one
known (a near miss named), and its name, which names its report folder."""

from __future__ import annotations
import difflib
import os
from pathlib import Path
from typing import Any, Callable, Mapping
from evaluation.core.params import VARIANT_NAME

Problem = Callable[[str, str], None]  # (key, message): collects a spec's problems, to report them all at once


def check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], kind: str, problem: Problem) -> None:
    """Each key of ``raw`` is one of ``allowed``; an unknown one is named with its nearest allowed key."""
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else f"; a {kind} has {', '.join(allowed)}"
            problem(str(key), f"unknown key `{key}`{hint}")


def spec_name(raw: Mapping[str, Any], path: str | os.PathLike, problem: Problem) -> Any:
    """The spec's ``name`` (default: the file's name), which must be letters, digits, -, _ and . (a folder name)."""
    name = raw.get("name", Path(path).stem)
    if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
        problem("name", f"`name` must be letters, digits, -, _ and . (not starting with .); got {name!r}"
                + ("" if "name" in raw else " (the file's name: give `name`)"))
    return name
