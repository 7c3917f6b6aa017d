"""The sweep spec file: reading and checking it, and the variants it makes (the base, every combination of the grid,
the named variants), each with a name made from its settings. :mod:`.sweep` runs them."""

from __future__ import annotations
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from evaluation.core.errors import ParamsError
from evaluation.core.params import VARIANT_NAME, read_yaml_mapping
from evaluation.core.paths import reports_root, resolve_path, shown_path
from evaluation.core.schema import SWEEPS_DIR
from .spec_files import check_keys, spec_name


SPEC_KEYS = ("name", "description", "cohorts", "include_base", "grid", "variants")
VARIANT_KEYS = ("name", "set")
BASE = "base"  # the variant with no overrides: the params files as written
VARIANTS, LOGS, SWEEP_RECORD = "variants", "logs", "sweep.json"  # in reports/sweeps/<name>/
KEPT = (VARIANTS, LOGS)  # what a new summary never replaces
# a grid value in a variant's name: comparisons as words (`< 7` -> lt7), the rest as written (`2-3`, `log-log`)
OPERATORS = (("<=", "le"), (">=", "ge"), ("==", "eq"), ("!=", "ne"), ("<", "lt"), (">", "gt"), ("=", "eq"))
LIST_JOIN = "."  # a list's items in a name ([track, sex] -> track.sex): a variant name has no other separator left


@dataclass(frozen=True)
class SweepSpec:
    """A sweep spec file, checked: its name, the cohorts' params files (as written), and the variants to run."""

    name: str
    source: Path
    description: str | None
    cohorts: list[str]
    variants: list[tuple[str, dict[str, Any]]]  # (name, overrides) in the order they run
    raw: dict[str, Any] = field(default_factory=dict)  # the spec as written, for sweep.json

    @property
    def folder(self) -> Path:
        """``reports/sweeps/<name>/``: the summary, the variants' reports and their logs."""
        return reports_root() / SWEEPS_DIR / self.name




def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and check a sweep spec; a :class:`ParamsError` naming the file and the key for anything wrong in it
    (every problem at once), and naming the variant and the params file for an override the params refuse."""
    shown = shown_path(resolve_path(path))
    raw = _read_yaml(path, shown)
    problems: list[tuple[str, str]] = []

    def problem(key: str, message: str) -> None:
        problems.append((key, message))

    check_keys(raw, SPEC_KEYS, "sweep spec", problem)
    name = spec_name(raw, path, problem)
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        problem("description", f"`description` must be text; got {description!r}")
    include_base = raw.get("include_base", True)
    if not isinstance(include_base, bool):
        problem("include_base", f"`include_base` must be true or false; got {include_base!r}")
    cohorts = _check_cohorts(raw.get("cohorts"), problem)
    grid = _check_grid(raw.get("grid"), problem)
    named = _check_named(raw.get("variants"), problem)
    if problems:
        raise ParamsError.many(problems, path=shown)

    variants = expand_variants(grid, named, include_base is True)
    if not variants:
        raise ParamsError("nothing to run: give a `grid`, `variants`, or include_base: true", path=shown,
                          key="include_base")
    _check_unique(variants, _origins(grid, named, include_base is True), shown)
    return SweepSpec(name, Path(resolve_path(path)), description, cohorts, variants, raw)


def _read_yaml(path: str | os.PathLike, shown: str) -> dict[str, Any]:
    """The spec file as a mapping; a ParamsError naming it when it is missing, empty, not YAML or not a mapping."""
    raw = read_yaml_mapping(path, "sweep spec", shown)
    if raw is None:
        raise ParamsError("the sweep spec is empty: it needs at least `cohorts` and a `grid` or `variants`",
                          path=shown)
    return raw


def _check_cohorts(value: Any, problem: Callable[[str, str], None]) -> list[str]:
    """``cohorts``: one or more params files, each found."""
    if value is None:
        problem("cohorts", "`cohorts` is required: the params files to sweep, such as [params/demo.yaml]")
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problem("cohorts", f"`cohorts` must be a list of params files, such as [params/demo.yaml]; got {value!r}")
        return []
    for i, file in enumerate(value):
        if not resolve_path(file).is_file():
            problem(f"cohorts[{i}]", f"`cohorts[{i}]`: params file {file} not found")
        elif value.index(file) != i:
            problem(f"cohorts[{i}]", f"`cohorts[{i}]`: {file} is listed twice")
    return list(value)


def _check_grid(value: Any, problem: Callable[[str, str], None]) -> dict[str, list[Any]]:
    """``grid``: dotted params keys, each with a list of one or more values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problem("grid", f"`grid` must map params keys to lists of values, such as goals.a1c: [\"< 8\", \"< 7\"]; "
                f"got {value!r}")
        return {}
    grid = {}
    for key, values in value.items():
        if isinstance(values, Mapping):
            problem(f"grid.{key}", f"`grid.{key}` is a mapping: write each key to vary dotted, such as "
                    f"{key}.{next(iter(values), 'key')}: [...]")
        elif not isinstance(values, list) or not values:
            problem(f"grid.{key}", f"`grid.{key}` must be a list of one or more values, such as [a, b]; got "
                    f"{values!r} (a list value itself is a list in the list: [[track, sex]])")
        else:
            grid[str(key)] = values
    return grid


def _check_named(value: Any, problem: Callable[[str, str], None]) -> list[tuple[str, dict[str, Any]]]:
    """``variants``: a list of {name, set: {dotted key: value}}."""
    if value is None:
        return []
    if not isinstance(value, list):
        problem("variants", f"`variants` must be a list of {{name: ..., set: {{key: value}}}}; got {value!r}")
        return []
    named = []
    for i, entry in enumerate(value):
        where = f"variants[{i}]"
        if not isinstance(entry, Mapping):
            problem(where, f"`{where}` must be a mapping with `name` and `set`; got {entry!r}")
            continue
        for key in entry:
            if key not in VARIANT_KEYS:
                problem(f"{where}.{key}", f"`{where}`: unknown key `{key}`; a variant has `name` and `set`")
        name, settings = entry.get("name"), entry.get("set")
        if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
            problem(f"{where}.name", f"`{where}.name` must be letters, digits, -, _ and . (not starting with .); "
                    f"got {name!r}")
        if not isinstance(settings, Mapping) or not settings:
            problem(f"{where}.set", f"`{where}.set` must map one or more params keys to values, such as "
                    f"{{windows.followup_max_days: 180}}; got {settings!r}")
            continue
        named.append((str(name), {str(k): v for k, v in settings.items()}))
    return named


def expand_variants(grid: Mapping[str, list[Any]], named: list[tuple[str, dict[str, Any]]],
                    include_base: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """The variants a spec runs, as (name, overrides): the base (no overrides), every combination of the grid's
    values (the first key varying slowest) named by :func:`variant_name`, then the named variants."""
    out = [(BASE, {})] if include_base else []
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)) if keys else []:
        overrides = dict(zip(keys, values))
        out.append((variant_name(overrides), overrides))
    return out + [(name, dict(settings)) for name, settings in named]


def variant_name(overrides: Mapping[str, Any]) -> str:
    """A grid variant's name from its overrides: per key, the key's last part, ``-`` and the value slugged; the
    keys joined by ``_`` (``{"goals.a1c": "< 7", "ci_method": "log"}`` -> ``a1c-lt7_ci_method-log``)."""
    return "_".join(f"{key.split('.')[-1]}-{slug(value)}" for key, value in overrides.items())


def slug(value: Any) -> str:
    """A value as it appears in a variant's name: ``< 7`` -> ``lt7``, ``<= 7`` -> ``le7``, ``> 5`` -> ``gt5``,
    ``2-3`` and ``log-log`` as written, a list's items joined by ``.``, anything but letters, digits, ``.``,
    ``_`` and ``-`` as ``-``."""
    if isinstance(value, (list, tuple)):
        return LIST_JOIN.join(slug(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return LIST_JOIN.join(f"{k}-{slug(v)}" for k, v in value.items()) or "none"
    text = "true" if value is True else "false" if value is False else "null" if value is None else str(value)
    text = text.strip()
    for operator, word in OPERATORS:
        if text.startswith(operator):
            text = word + text[len(operator):].strip()
            break
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "empty"


def _origins(grid: Mapping[str, list[Any]], named: list[tuple[str, dict[str, Any]]], include_base: bool) -> list[str]:
    """Where each variant :func:`expand_variants` makes comes from, in its order (for a message)."""
    base = ["the base (include_base)"] if include_base else []
    combos = [", ".join(f"{k}: {v}" for k, v in o.items()) for _, o in expand_variants(grid, [], False)]
    return base + [f"the grid ({c})" for c in combos] + [f"variants[{i}]" for i in range(len(named))]


def _check_unique(variants: list[tuple[str, dict[str, Any]]], origins: list[str], shown: str) -> None:
    """Refuse two variants of one name (they would share a report folder), saying where each comes from."""
    first: dict[str, str] = {}
    problems = []
    for (name, _), origin in zip(variants, origins):
        if name in first:
            problems.append(("variants", f"two variants are named {name}: {first[name]} and {origin}; every "
                             "variant needs a name of its own (it names its report's folder): rename one"))
        else:
            first[name] = origin
    if problems:
        raise ParamsError.many(problems, path=shown)


