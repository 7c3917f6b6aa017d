"""Read, check and resolve a cohort's params file against the schema.

A params file (``params/<cohort>.yaml``) names the cohort and its data folder and may override any default in
:data:`evaluation.core.schema.SCHEMA`. Every key *and value* is checked here, before any data is read or
notebook started, and every problem is reported at once (key, allowed values, bad value, a "did you mean"),
so a run never fails minutes in on a setting. What depends on the data (a team named in ``spc.phases``, a
consensus coder) is checked by :func:`check_against_data` once the data are loaded. The resolved params
(:func:`to_dict`) are what the runner hands every notebook and records in provenance.

A variant of a cohort is its params file with some keys changed on the command line (``--set goals.a1c='< 7'``):
:func:`parse_overrides` reads them, :func:`apply_overrides` writes them into the params as written, and
``load_params(path, overrides, variant=NAME)`` checks the result exactly like a params file, a problem naming the
``--set KEY`` that caused it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import os
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from .errors import ParamsError
from .goals import Goal, parse_goal
from .params_read import RecordedSection, note_read, recording
from .paths import DEMO_PARAMS, reports_root, resolve_path, shown_path, within_reports_root
from .schema import (CMS_THRESHOLD, DEFAULTS, OPEN_KEYS, PARAM_SECTIONS, RESERVED_COHORT_IDS, SCHEMA, VARIANTS_DIR,
                     Check, Invalid, defaults_of, is_number, list_of, month, quoted)

__all__ = ["Params", "check", "load_params", "from_namespace", "to_dict", "check_against_data", "parse_overrides",
           "apply_overrides", "name_overrides", "check_variant_name", "variant_dir", "flatten"]

VARIANT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # a variant's (and a sweep's) name: a folder name
OPEN_MAPPINGS = (*OPEN_KEYS, "spc.phases")  # mappings whose keys are not in the schema (measures, names, teams)
SECTION_FIELDS = ("goals", "combined_goals", *PARAM_SECTIONS)  # the mappings, read key by key
FIXED_KEYS = ("cohort_id",)  # what an override may not change: a variant belongs to its params file's cohort


@dataclass(frozen=True)
class Params:
    """Checked, resolved params for one cohort. Sections are plain dicts with defaults filled in.

    ``as_of`` is None until the data are read when the params file leaves it out: :meth:`with_data_dates`
    sets it to the last date recorded in the data (the runner and :func:`evaluation.start` do this).
    """

    cohort_id: str
    data_dir: Path
    output_dir: Path
    title: str
    as_of: dt.date | None
    seed: int
    alpha: float
    ci_method: str
    suppress_below: int
    suppress_below_reason: str | None
    goals: dict[str, Goal]
    combined_goals: dict[str, list[str]]
    subgroups: list[str]
    windows: dict[str, Any]
    engagement: dict[str, Any]
    qualitative: dict[str, Any]
    spc: dict[str, Any]
    its: dict[str, Any]
    priority: dict[str, Any]
    survival: dict[str, Any]
    value: dict[str, Any]
    report: dict[str, Any]
    redcap: dict[str, Any]
    source: str | None = field(default=None, compare=False)  # the params file, when read from one
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the keys as given

    def __post_init__(self) -> None:
        # the sections note which of their keys a notebook reads (see evaluation.core.params_read)
        for name in SECTION_FIELDS:
            value = object.__getattribute__(self, name)
            if not isinstance(value, RecordedSection):
                object.__setattr__(self, name, RecordedSection(name, value))

    def __getattribute__(self, name: str) -> Any:
        # while a notebook runs under the runner, every field read is recorded (a section records its own keys)
        if name in _NOTED and recording():
            note_read(*(PARAM_FIELDS if name == "__dict__" else (name,)))
        return object.__getattribute__(self, name)

    def goal_met(self, measure: str, values) -> np.ndarray:
        """Which values of ``measure`` meet its goal."""
        return self.goals[measure].met(values)

    def with_data_dates(self, last_recorded: dt.date | None) -> "Params":
        """These params with ``as_of`` resolved: as given, else the last date recorded in the data."""
        if self.as_of is not None:
            return self
        return dataclasses.replace(self, as_of=last_recorded or dt.date.today())

    @property
    def tables_dir(self) -> Path:
        return self.output_dir / "tables"

    @property
    def figures_dir(self) -> Path:
        return self.output_dir / "figures"


PARAM_FIELDS = tuple(f.name for f in dataclasses.fields(Params))
# ``__dict__`` (vars, pickle, copy) reads every field
_NOTED = frozenset(PARAM_FIELDS) - frozenset(SECTION_FIELDS) | {"__dict__"}


def _suggest(key: str, options) -> str:
    close = difflib.get_close_matches(str(key), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(map(str, options)))}"


class _Collector:
    """Every params problem found, as (key, message) pairs, so all are reported at once."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def value(self, key: str, check: Check, value: Any, default: Any) -> Any:
        try:
            return check(value)
        except Invalid as exc:
            self.add(key, f"`{key}` {exc}")
        except ParamsError as exc:
            self.add(key, str(exc))
        return copy.deepcopy(default)


def _check_section(name: str, given: Any, schema: Mapping[str, Any], found: _Collector) -> dict[str, Any]:
    """A closed mapping of settings (a section, or a mapping inside one) merged over its defaults."""
    merged = defaults_of(schema)
    if given is None:
        return merged
    if not isinstance(given, Mapping):
        found.add(name, f"`{name}` must be a mapping of keys to values; got {given!r}")
        return merged
    for key, value in given.items():
        dotted = f"{name}.{key}"
        if key not in schema:
            found.add(dotted, f"unknown key `{dotted}`{_suggest(key, schema)}")
        elif isinstance(schema[key], dict):
            merged[key] = _check_section(dotted, value, schema[key], found)
        elif schema[key].check is None:  # checked by its own reader below
            merged[key] = value
        else:
            merged[key] = found.value(dotted, schema[key].check, value, schema[key].default)
    return merged


SECRET_KEYS = ("token", "api_token", "api_key", "password")  # what a params file must never hold


def _check_redcap(given: Any, found: _Collector) -> None:
    """An API token written in the ``redcap`` section is refused, so it never reaches a report's params record.
    (``redcap.mapping`` is checked against the export's data dictionary when the data are read.)"""
    for key in given if isinstance(given, Mapping) else ():
        if str(key).lower() in SECRET_KEYS:
            found.problems = [(k, m) for k, m in found.problems if k != f"redcap.{key}"]  # not just an unknown key
            found.add(f"redcap.{key}", f"`redcap.{key}`: never write the API token in a params file (it would be "
                                       "copied into every report's record); put it in the environment variable that "
                                       "`redcap.token_env` names")


def _check_phases(value: Any, found: _Collector) -> Any:
    """``spc.phases``: a list of months for every team, or {team_id: [months]} (teams checked against the data)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(team): found.value(f"spc.phases.{team}", list_of(month), months or [], [])
                for team, months in value.items()}
    if isinstance(value, (list, tuple)):
        return found.value("spc.phases", list_of(month, single=False), value, None)
    found.add("spc.phases", f"`spc.phases` must be a list of months (YYYY-MM) or a mapping team_id -> months; got {value!r}")
    return None


def check(raw: Mapping[str, Any], path: str | None = None) -> Params:
    """Check a params mapping against :data:`SCHEMA` and return resolved :class:`Params`.

    Every problem is collected; if there is any, one :class:`ParamsError` lists them all.
    """
    if not isinstance(raw, Mapping):
        raise ParamsError("a params file must be a YAML mapping of keys to values", path=path)
    found = _Collector()
    for key in raw:
        if key not in SCHEMA:
            found.add(str(key), f"unknown key `{key}`{_suggest(key, SCHEMA)}")
    for key in ("cohort_id", "data_dir"):
        if raw.get(key) in (None, ""):
            found.add(key, f"`{key}` is required")
    top = {key: found.value(key, SCHEMA[key].check, raw[key], SCHEMA[key].default)
           for key in SCHEMA if not isinstance(SCHEMA[key], dict) and key not in OPEN_KEYS and raw.get(key) is not None}
    cohort_id = str(top.get("cohort_id") or "")
    if cohort_id and not re.fullmatch(r"[A-Za-z0-9_-]+", cohort_id):
        found.add("cohort_id", f"`cohort_id` may hold only letters, digits, - and _; got {cohort_id!r}")
    if cohort_id.casefold() in RESERVED_COHORT_IDS:  # casefold: on a case-blind disk Variants/ is variants/
        found.add("cohort_id", f"`cohort_id` {cohort_id!r} is reserved: reports/{cohort_id.casefold()}/ is the reports "
                  f"folder's own ({', '.join(RESERVED_COHORT_IDS)} are); choose another name")

    goals: dict[str, Goal] = {}
    goals_raw = raw.get("goals")
    if goals_raw is None:
        goals_raw = DEFAULTS["goals"]
    if not isinstance(goals_raw, Mapping) or not goals_raw:
        found.add("goals", f"`goals` must map each measure to a goal such as '< 8'; got {goals_raw!r}")
        goals_raw = {}
    for measure, spec in goals_raw.items():
        try:
            goals[str(measure)] = parse_goal(str(measure), spec)
        except ParamsError as exc:
            found.add(f"goals.{measure}", str(exc))
    combined_raw = raw.get("combined_goals")
    if combined_raw is None:  # default combinations apply only where their parts have goals
        combined_raw = {k: v for k, v in DEFAULTS["combined_goals"].items() if all(p in goals_raw for p in v)}
    combined: dict[str, list[str]] = {}
    if not isinstance(combined_raw, Mapping):
        found.add("combined_goals", f"`combined_goals` must map a name to the measures it combines; got {combined_raw!r}")
        combined_raw = {}
    for name, parts in combined_raw.items():
        parts = found.value(f"combined_goals.{name}", SCHEMA["combined_goals"].check, parts, [])
        missing = [p for p in parts if p not in goals]
        if missing and goals_raw:
            found.add(f"combined_goals.{name}", f"`combined_goals.{name}` needs a goal for {', '.join(missing)}")
        if name in goals:
            found.add(f"combined_goals.{name}", f"`combined_goals.{name}` has the name of a measure with its own goal")
        combined[str(name)] = list(parts)

    sections = {name: _check_section(name, raw.get(name), SCHEMA[name], found) for name in PARAM_SECTIONS}
    sections["spc"]["phases"] = _check_phases(sections["spc"]["phases"], found)
    _check_redcap(raw.get("redcap"), found)
    _cross_checks(sections, goals, combined, found)

    output_dir = top.get("output_dir")
    if output_dir and not within_reports_root(resolve_path(output_dir)):
        found.add("output_dir", f"`output_dir` must be a folder inside the reports folder ({shown_path(reports_root())}); "
                  f"got {quoted(output_dir)}: the workbench writes nowhere else")
    threshold = top.get("suppress_below", DEFAULTS["suppress_below"])
    if isinstance(threshold, int) and threshold < CMS_THRESHOLD and not top.get("suppress_below_reason"):
        found.add("suppress_below", f"`suppress_below` is {threshold}, below the CMS cell-size rule of {CMS_THRESHOLD}: "
                  "say why in `suppress_below_reason` (e.g. the data use agreement that allows it); it is stated on "
                  "every funder output")
    if found.problems:
        raise ParamsError.many(found.problems, path=path)
    return Params(
        cohort_id=cohort_id,
        data_dir=resolve_path(top["data_dir"]),
        output_dir=resolve_path(output_dir) if output_dir else reports_root() / cohort_id,
        title=str(top.get("title") or f"Cohort {cohort_id}"),
        as_of=top.get("as_of"),
        seed=top.get("seed", DEFAULTS["seed"]),
        alpha=top.get("alpha", DEFAULTS["alpha"]),
        ci_method=top.get("ci_method", DEFAULTS["ci_method"]),
        suppress_below=threshold,
        suppress_below_reason=top.get("suppress_below_reason"),
        goals=goals,
        combined_goals=combined,
        subgroups=list(top.get("subgroups", DEFAULTS["subgroups"])),
        source=path,
        raw=dict(raw),
        **sections,
    )


def _cross_checks(sections: dict[str, dict], goals: Mapping[str, Goal], combined: Mapping[str, list[str]],
                  found: _Collector) -> None:
    """Rules that join two settings."""
    q = sections["qualitative"]
    if q["code_rule"] == "consensus" and not q["consensus_coder"]:
        found.add("qualitative.consensus_coder",
                  "`qualitative.code_rule` is consensus, so `qualitative.consensus_coder` must name the coder")
    w = sections["windows"]
    if w["followup_min_days"] > w["followup_max_days"]:
        found.add("windows.followup_min_days", f"`windows.followup_min_days` ({w['followup_min_days']}) must not exceed "
                  f"`windows.followup_max_days` ({w['followup_max_days']})")
    weights = sections["engagement"]["weights"]
    if all(is_number(v) for v in weights.values()) and not any(v > 0 for v in weights.values()):
        found.add("engagement.weights", f"`engagement.weights` must have at least one weight above 0; got {weights!r}")
    chosen = sections["survival"]["measures"]
    known = list(goals) + list(combined)
    for m in chosen or []:
        if m not in known:
            found.add("survival.measures", f"`survival.measures` must name measures that have a goal ({', '.join(known)}); "
                      f"got {m!r}{_suggest(m, known) if difflib.get_close_matches(m, known, n=1) else ''}")


def read_yaml_mapping(path: str | os.PathLike, kind: str, shown: str | None = None) -> dict[str, Any] | None:
    """A YAML file of keys and values (a params file, a sweep spec), or None when it is empty; a ParamsError
    naming the file (as ``shown``, else as given) when it is missing, a folder, not YAML, not UTF-8 or not a
    mapping. ``kind`` names the file in those messages: "params file not found"."""
    shown = str(path) if shown is None else shown
    try:
        with open(resolve_path(path), encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ParamsError(f"{kind} not found", path=shown) from None
    except IsADirectoryError:
        raise ParamsError(f"is a folder, not a {kind}", path=shown) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParamsError(f"not valid YAML: {exc}", path=shown) from None
    if raw is not None and not isinstance(raw, Mapping):
        raise ParamsError(f"a {kind} must be a YAML mapping of keys to values", path=shown)
    return None if raw is None else dict(raw)


def read_params_file(path: str | os.PathLike) -> dict[str, Any]:
    """The params file as written (an empty file is an empty mapping)."""
    return read_yaml_mapping(path, "params file") or {}


def load_params(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None, variant: str | None = None,
                **given: Any) -> Params:
    """Read and check ``params/<cohort>.yaml``; ``given`` replace top-level keys (a notebook's injected values).

    ``overrides`` (dotted key -> value, as ``--set`` gives them) are applied to the file as written and checked
    with it: a problem they cause names its ``--set KEY`` and the file. ``variant`` names a variant of the cohort:
    its report goes to ``reports/variants/<cohort_id>/<variant>/`` (unless an override sets ``output_dir``, even
    when the file sets one: that is the main report's) and its title ends ``(variant NAME)``.
    """
    path = str(path)
    overrides = dict(overrides or {})
    if variant is not None:
        check_variant_name(variant, path)
    raw = read_params_file(path)
    raw.update({k: v for k, v in given.items() if v is not None})
    raw = apply_overrides(raw, overrides, path)
    try:
        params = check(raw, path)
    except ParamsError as exc:
        raise name_overrides(exc, overrides) from None
    if variant is None:
        return params
    output_dir = params.output_dir if "output_dir" in overrides else variant_dir(params.cohort_id, variant)
    return dataclasses.replace(params, output_dir=output_dir, title=f"{params.title} (variant {variant})")


def check_variant_name(name: str, path: str | None = None) -> str:
    """A variant's name as given, or a ParamsError: it names a folder, so letters, digits, -, _ and . only (and
    not a leading ., which would hide the folder or climb out of it)."""
    if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
        raise ParamsError(f"`--variant` must be letters, digits, -, _ and . (not starting with .); got {name!r}",
                          path=path, key="--variant")
    return name


def variant_dir(cohort_id: str, name: str) -> Path:
    """Where a variant's report goes by default: ``reports/variants/<cohort_id>/<name>/``, beside the main report."""
    return reports_root() / VARIANTS_DIR / cohort_id / name


def parse_overrides(texts: list[str], path: str | None = None) -> dict[str, Any]:
    """``--set KEY=VALUE`` texts as {dotted key: value}, in the order given; each VALUE read as YAML (``7`` a
    number, ``[track, condition]`` a list, ``< 7`` and ``log-log`` text). A value starting with ``>`` or ``|`` is
    the text as written (a goal such as ``> 5``: YAML would begin a block of text there)."""
    out: dict[str, Any] = {}
    for text in texts:
        key, sep, value = str(text).partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ParamsError(f"`--set {text}` must be written KEY=VALUE, such as --set 'goals.a1c=< 7'",
                              path=path, key="--set")
        if key in out:
            raise ParamsError(f"`--set {key}` is given twice: give each key once", path=path, key=key)
        if value.startswith((">", "|")):
            out[key] = value
            continue
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            why = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ParamsError(f"`--set {key}`: {value!r} is not a YAML value ({why}); quote it to give it as text",
                              path=path, key=key) from None
    return out


def _key_options(prefix: str, schema: Mapping[str, Any]) -> list[str]:
    """Every dotted key an override may name under ``schema`` (sections, their keys, and the default goals)."""
    out = []
    for key, value in schema.items():
        name = f"{prefix}{key}"
        out.append(name)
        if isinstance(value, dict):
            out += _key_options(f"{name}.", value)
        elif name == "goals":
            out += [f"goals.{m}" for m in DEFAULTS["goals"]]
    return out


OVERRIDE_KEYS = tuple(_key_options("", SCHEMA))  # for a did-you-mean on a mistyped --set key


def _override_key_problem(key: str) -> str | None:
    """What is wrong with a dotted key an override names (its message completes "`--set KEY`: "), else None.

    Sections are closed like a params file's; goals, combined goals and phases take any name one level down."""
    parts = key.split(".")
    if "" in parts:
        return f"`{key}` is not a params key (parts are joined by dots, such as goals.a1c)"
    if key in FIXED_KEYS:
        return f"`{key}` cannot be set: a variant belongs to its params file's cohort (write a params file instead)"
    node: Any = SCHEMA
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth])
        if isinstance(node, dict):
            if part not in node:
                alike = [k for k in OVERRIDE_KEYS if k.count(".") == key.count(".")]  # as deep: not "windows"
                close = difflib.get_close_matches(key, alike, n=1, cutoff=0.6)
                known = sorted(f"{here}.{k}" if here else k for k in node)
                hint = (f"; did you mean '{close[0]}'?" if close else
                        f"; known keys{f' of `{here}`' if here else ''}: {', '.join(known)}")
                return f"unknown key `{key}`{hint}"
            node = node[part]
        elif here in OPEN_MAPPINGS and depth == len(parts) - 1:
            return None
        else:
            return f"unknown key `{key}`: `{here}` has no keys of its own; set it whole (--set '{here}=...')"
    return None


def _seed(name: str, merged: Mapping[str, Any]) -> dict[str, Any]:
    """What a mapping the params leave out holds before an override writes into it: the default goals (``--set
    goals.a1c=...`` changes one goal, keeping the others), the default combinations of goals that apply, and
    nothing for a section (its defaults fill in when it is checked)."""
    if name == "goals":
        return copy.deepcopy(DEFAULTS["goals"])
    if name == "combined_goals":
        goals = merged.get("goals") or DEFAULTS["goals"]
        return {k: list(v) for k, v in DEFAULTS["combined_goals"].items() if all(p in goals for p in v)}
    return {}


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any], path: str | None = None) -> dict[str, Any]:
    """The params as written with each override (dotted key -> value) written in, as a new mapping; a ParamsError
    naming every ``--set KEY`` that names no params key (with a did-you-mean) or writes into a value that is not
    a mapping. The values are checked with the rest by :func:`check`."""
    merged = copy.deepcopy(dict(raw))
    problems: list[tuple[str, str]] = []
    for key, value in overrides.items():
        problem = _override_key_problem(key)
        if problem:
            problems.append((key, f"`--set {key}`: {problem}"))
            continue
        parts = key.split(".")
        node = merged
        for depth, part in enumerate(parts[:-1]):
            name = ".".join(parts[:depth + 1])
            child = node.get(part)
            if child is None:
                child = _seed(name, merged)
            elif not isinstance(child, Mapping):
                problems.append((key, f"`--set {key}`: `{name}` is {quoted(child)} in the params, not a mapping; "
                                      f"set it whole (--set '{name}=...')"))
                break
            node[part] = child = dict(child)
            node = child
        else:
            node[parts[-1]] = copy.deepcopy(value)
    if problems:
        raise ParamsError.many(problems, path=path)
    return merged


def name_overrides(error: ParamsError, overrides: Mapping[str, Any]) -> ParamsError:
    """``error`` with each problem an override caused saying which: "`--set goals.a1c`: ..." before its message
    (the problem's key is the override's, inside it or around it, or the message names the override's key)."""
    if not overrides:
        return error
    problems = []
    for key, message in error.problems:
        given = next((o for o in overrides if key == o or key.startswith(f"{o}.") or o.startswith(f"{key}.")
                      or f"`{o}`" in message), None)
        named = given is not None and not message.startswith("`--set ")
        problems.append((key, f"`--set {given}`: {message}" if named else message))
    return ParamsError.many(problems, path=error.path)


def from_namespace(namespace: Mapping[str, Any]) -> Params:
    """Params from a notebook's variables: the keys papermill injected over the file named by ``params_file``.

    The runner injects every resolved key (and ``params_file``); ``papermill -f params/x.yaml`` injects the
    file's keys; ``-p params_file params/x.yaml`` names the file. A notebook opened with neither runs on the
    demo's params, so it works as it stands in JupyterLab.
    """
    # a notebook may import a module under a section's name (``from evaluation import survival``): not a param
    given = {k: namespace[k] for k in SCHEMA
             if namespace.get(k) is not None and not isinstance(namespace[k], types.ModuleType)}
    params_file = namespace.get("params_file")
    if params_file is None and not given:
        params_file = DEMO_PARAMS
    if params_file is None:
        return check(given)
    return load_params(params_file, **given)


def to_dict(params: Params) -> dict[str, Any]:
    """The resolved params as plain data, every key with its value: what every notebook receives and what
    provenance records. ``check(to_dict(p))`` gives ``p`` back."""
    out: dict[str, Any] = {
        "cohort_id": params.cohort_id,
        "data_dir": str(params.data_dir),
        "title": params.title,
        "output_dir": str(params.output_dir),
        "as_of": params.as_of.isoformat() if params.as_of else None,
        "seed": params.seed,
        "alpha": params.alpha,
        "ci_method": params.ci_method,
        "suppress_below": params.suppress_below,
        "suppress_below_reason": params.suppress_below_reason,
        "goals": {m: g.spec for m, g in params.goals.items()},
        "combined_goals": {k: list(v) for k, v in params.combined_goals.items()},
        "subgroups": list(params.subgroups),
    }
    for name in PARAM_SECTIONS:
        out[name] = copy.deepcopy(getattr(params, name))
    return out


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as {dotted key: value} (``{"goals": {"a1c": "< 8"}}`` -> ``{"goals.a1c": "< 8"}``), in
    order; lists and other values are kept whole, an empty mapping leaves no key."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def check_against_data(params: Params, tables: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Settings that name things in the data, checked once the data are loaded: (key, message) pairs.

    ``tables`` maps table names to DataFrames (None when absent), as :class:`evaluation.data.cohort.Cohort` holds.
    """
    problems: list[tuple[str, str]] = []
    monthly = tables.get("monthly_reports")
    phases = params.spc.get("phases")
    if isinstance(phases, Mapping) and phases:
        known = sorted(set(monthly["team_id"].dropna())) if monthly is not None else []
        unknown = [t for t in phases if t not in known]
        if unknown:
            where = f"known teams are {', '.join(known)}" if known else "this cohort has no monthly_reports.csv"
            problems.append(("spc.phases", f"`spc.phases` names teams that have no monthly reports: "
                             f"{', '.join(map(str, unknown))}; {where}"))
    measures = params.spc.get("measures")
    if measures and monthly is not None:
        known = sorted(set(monthly["measure"].dropna()))
        for m in measures:
            if m not in known:
                problems.append(("spc.measures", f"`spc.measures` names {m!r}, which monthly_reports.csv does not have; "
                                 f"its measures are {', '.join(known) or 'none'}{_suggest(m, known) if known else ''}"))
    q = params.qualitative
    if q["code_rule"] == "consensus" and q["consensus_coder"] and not q["qdpx"]:
        codings = tables.get("qualitative_codings")
        coders = sorted(set(codings["coder"].dropna())) if codings is not None else []
        if codings is not None and q["consensus_coder"] not in coders:
            problems.append(("qualitative.consensus_coder", f"`qualitative.consensus_coder` is {q['consensus_coder']!r}, "
                             f"who coded nothing in qualitative/codings.csv; the coders are {', '.join(coders)}"))
    return problems
