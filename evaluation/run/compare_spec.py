"""The comparison spec file (``compare/<name>.yaml``): the cohorts to set side by side, each a params file with a
label ("Cycle 2015"), the reference the differences are taken against, and the measures; read and checked here,
run by :mod:`.compare`.

```yaml
name: demo                      # the report folder: reports/compare/demo/ (default: the file's name)
title: Demo collaborative, cycles 2015 and 2016
cohorts:
  - {label: Cycle 2015, params: params/demo.yaml}
  - {label: Cycle 2016, params: params/demo_cycle2.yaml}
reference: Cycle 2015           # differences are each other cohort minus this one (default: the first)
measures: [a1c, bp, ldl]        # default: every measure the cohorts' outcome tables share
funnel: {measure: a1c, event: readmission}   # what the funnel plots compare (these are the defaults)
```
"""

from __future__ import annotations
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from evaluation.core.errors import ParamsError
from evaluation.core.params import Params, load_params, read_yaml_mapping
from evaluation.core.paths import reports_root, resolve_path, shown_path
from evaluation.core.schema import COMPARE_DIR
from .spec_files import check_keys, spec_name

SPEC_KEYS = ("name", "title", "description", "cohorts", "reference", "measures", "funnel")
COHORT_KEYS = ("label", "params")
FUNNEL_KEYS = ("measure", "event")
EVENTS = ("readmission", "admission", "ed_visit")  # the acute-care kinds a rate funnel may compare
DEFAULT_FUNNEL = {"measure": "a1c", "event": "readmission"}


@dataclass(frozen=True)
class CompareCohort:
    """One cohort of a comparison: its label, its params file (as written in the spec) and its checked params."""

    label: str
    params_file: str
    params: Params


@dataclass(frozen=True)
class CompareSpec:
    """A comparison spec, checked."""

    name: str
    source: Path
    title: str
    description: str | None
    cohorts: list[CompareCohort]
    reference: str  # the label the differences are taken against
    measures: list[str] | None  # None: the measures the cohorts share
    funnel: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FUNNEL))
    raw: dict[str, Any] = field(default_factory=dict)  # the spec as written, for the provenance record

    @property
    def folder(self) -> Path:
        """``reports/compare/<name>/``: where the comparison is published."""
        return reports_root() / COMPARE_DIR / self.name

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.cohorts]


def load_compare_spec(path: str | os.PathLike) -> CompareSpec:
    """Read and check a comparison spec: a :class:`ParamsError` naming the file and key for everything wrong in it
    at once (a params file's own problems name that file)."""
    shown = shown_path(resolve_path(path))
    raw = read_yaml_mapping(path, "comparison spec", shown)
    if raw is None:
        raise ParamsError("the comparison spec is empty: it needs `cohorts`, two or more params files with labels",
                          path=shown)
    problems: list[tuple[str, str]] = []

    def problem(key: str, message: str) -> None:
        problems.append((key, message))

    check_keys(raw, SPEC_KEYS, "comparison spec", problem)
    name = spec_name(raw, path, problem)
    for key in ("title", "description"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            problem(key, f"`{key}` must be text; got {raw.get(key)!r}")
    cohorts = _check_cohorts(raw.get("cohorts"), problem)
    labels = [c.label for c in cohorts]
    reference = raw.get("reference", labels[0] if labels else None)
    if "reference" in raw and reference not in labels:
        problem("reference", f"`reference` must be one of the cohorts' labels ({', '.join(map(repr, labels))}); "
                f"got {reference!r}")
    measures = raw.get("measures")
    if measures is not None and (not isinstance(measures, list) or not measures
                                 or not all(isinstance(m, str) and m for m in measures)):
        problem("measures", f"`measures` must be a list of measure codes, such as [a1c, bp]; got {measures!r}")
    funnel = _check_funnel(raw.get("funnel"), problem)
    if problems:
        raise ParamsError.many(problems, path=shown)
    title = raw.get("title") or " vs ".join(labels)
    return CompareSpec(str(name), Path(resolve_path(path)), title, raw.get("description"), cohorts, str(reference),
                       list(measures) if measures else None, funnel, raw)


def _check_cohorts(value: Any, problem: Callable[[str, str], None]) -> list[CompareCohort]:
    """``cohorts``: two or more {label, params}, labels and cohorts distinct, each params file valid."""
    example = "[{label: Cycle 2015, params: params/demo.yaml}, {label: Cycle 2016, params: params/demo_cycle2.yaml}]"
    if not isinstance(value, list) or len(value) < 2:
        problem("cohorts", f"`cohorts` must list two or more cohorts to compare, such as {example}; got {value!r}")
        return []
    out: list[CompareCohort] = []
    ids: dict[str, str] = {}
    for i, entry in enumerate(value):
        where = f"cohorts[{i}]"
        if not isinstance(entry, Mapping):
            problem(where, f"`{where}` must be a mapping with `label` and `params`; got {entry!r}")
            continue
        for key in entry:
            if key not in COHORT_KEYS:
                problem(f"{where}.{key}", f"`{where}`: unknown key `{key}`; a cohort has `label` and `params`")
        label, file = entry.get("label"), entry.get("params")
        if not isinstance(label, str) or not label.strip():
            problem(f"{where}.label", f"`{where}.label` must be a short text naming the cohort, such as Cycle 2015; "
                    f"got {label!r}")
            continue
        if label in [c.label for c in out]:
            problem(f"{where}.label", f"`{where}.label`: {label!r} is used twice; every cohort needs its own label")
            continue
        if not isinstance(file, str) or not file:
            problem(f"{where}.params", f"`{where}.params` must be a params file, such as params/demo.yaml; got {file!r}")
            continue
        if not resolve_path(file).is_file():
            problem(f"{where}.params", f"`{where}.params`: params file {file} not found")
            continue
        try:
            params = load_params(file)
        except ParamsError as exc:
            problem(f"{where}.params", f"`{where}.params`: {exc}")
            continue
        if params.cohort_id in ids:
            problem(f"{where}.params", f"`{where}.params`: {file} is cohort {params.cohort_id!r}, as "
                    f"{ids[params.cohort_id]} is: each cohort of a comparison is a cohort of its own")
            continue
        ids[params.cohort_id] = file
        out.append(CompareCohort(label.strip(), file, params))
    return out


def _check_funnel(value: Any, problem: Callable[[str, str], None]) -> dict[str, str]:
    """``funnel``: the measure whose share at goal, and the acute-care event whose rate, the funnel plots compare."""
    if value is None:
        return dict(DEFAULT_FUNNEL)
    if not isinstance(value, Mapping):
        problem("funnel", f"`funnel` must be a mapping such as {{measure: a1c, event: readmission}}; got {value!r}")
        return dict(DEFAULT_FUNNEL)
    for key in value:
        if key not in FUNNEL_KEYS:
            problem(f"funnel.{key}", f"`funnel`: unknown key `{key}`; it has {', '.join(FUNNEL_KEYS)}")
    out = dict(DEFAULT_FUNNEL) | {str(k): v for k, v in value.items() if k in FUNNEL_KEYS}
    if not isinstance(out["measure"], str) or not out["measure"]:
        problem("funnel.measure", f"`funnel.measure` must be a measure code such as a1c; got {out['measure']!r}")
    if out["event"] not in EVENTS:
        problem("funnel.event", f"`funnel.event` must be one of {', '.join(EVENTS)}; got {out['event']!r}")
    return out
