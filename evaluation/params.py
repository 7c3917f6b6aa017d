"""Read, check and resolve a cohort's params file: the one place that knows keys, defaults and paths.

A params file (``params/<cohort>.yaml``) names the cohort and its data folder and may override any
default below. Unknown keys are errors (with a "did you mean" hint), so a typo never silently falls
back to a default. Notebooks receive the same keys from papermill and call :func:`from_namespace`.
"""
from __future__ import annotations

import copy
import datetime as dt
import difflib
import os
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from .errors import ParamsError

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTS_ENV = "CMM_REPORTS_DIR"  # overrides the reports root (tests point it at a temp folder)

GOAL_OPERATORS = ("<", "<=", ">", ">=")
CI_METHODS = ("log-log", "log")

# Every key a params file may hold, with its default. Sections are dicts whose keys are closed too.
DEFAULTS: dict[str, Any] = {
    "cohort_id": None,  # required
    "title": None,  # report title; default "Cohort <cohort_id>"
    "data_dir": None,  # required; relative to the repository root or absolute
    "output_dir": None,  # default reports/<cohort_id>; the runner sets a staging folder
    "as_of": None,  # date for "in the future" checks; default today
    "seed": 2015,  # for bootstraps and any other randomness
    "alpha": 0.05,
    "ci_method": "log-log",  # Kaplan-Meier CI: log-log (lifelines) or log (R survival)
    "suppress_below": 11,  # CMS cell-size rule: counts 1..10 are suppressed in funder outputs
    "goals": {
        "a1c": "< 8",
        "sbp": "< 140",
        "dbp": "< 90",
        "ldl": "< 100",
        "inr": "2-3",  # INR in therapeutic range
    },
    "combined_goals": {"bp": ["sbp", "dbp"]},  # BP at goal needs SBP and DBP at goal on the same day
    "subgroups": ["track", "condition"],  # strata reported after the `all` row
    "windows": {
        "baseline_days": 90,  # baseline: closest measurement in [enrolled - 90, enrolled + grace]
        "grace_days": 30,
        "followup_min_days": 90,  # follow-up: last measurement in [enrolled + 90, enrolled + 365]
        "followup_max_days": 365,
        "utilization_pre_days": 365,  # value: acute-care use in the year before vs after enrollment
        "utilization_post_days": 365,
    },
    "engagement": {
        "weights": {"attendance": 0.5, "milestones_done": 0.25, "milestones_on_time": 0.25},
        "event_kinds": ["monthly_call", "webinar", "coaching_call", "learning_session"],
    },
    "qualitative": {
        "code_rule": "any",  # any | all | majority | consensus
        "consensus_coder": None,
        "qdpx": None,  # a REFI-QDA project to read instead of the qualitative CSVs
        "bootstrap_samples": 1000,
        "coder_scope": "source",  # source: a coder who coded any excerpt of a transcript read all of it | excerpt
    },
    "spc": {
        "measures": None,  # monthly_reports measures to chart; None = all
        "baseline_points": None,  # freeze the centre line on the first k points; None = all points
        "min_points": 10,  # fewer useful points: no runs verdict
        "control_chart": "p",  # p or laney (p')
        "phases": None,  # months (YYYY-MM) that start a new phase: a list for every team, or {team_id: [months]}
    },
    "survival": {
        "competing_exit_reasons": ["died"],
        "horizons_days": [90, 180, 365],
        "inr_ttr_goal": 60,  # % time in range counted as INR at goal
        "inr_max_gap_days": 56,  # Rosendaal: do not interpolate across longer gaps
        "measures": None,  # time-to-goal measures; None = every goal, combined goals (bp) replacing their parts
        "mtp_horizons_days": [30, 90],  # % of MTPs confirmed resolved by these days after identification
    },
    "value": {
        "cost_per_event": {"ed_visit": None, "admission": None, "readmission": None},  # None = mean from data
        "attribution_shares": [0.25, 0.5, 0.75, 1.0],
        "cost_multipliers": [0.5, 0.75, 1.0, 1.25, 1.5],
        "rate_model": "poisson_robust",  # rate-ratio GLM: poisson_robust (SE clustered by patient) | poisson | negative_binomial
    },
}
SECTIONS = tuple(k for k, v in DEFAULTS.items() if isinstance(v, dict) and k not in ("goals",))
OPEN_SECTIONS = ("goals", "combined_goals")  # keys are measure names: any name is allowed


@dataclass(frozen=True)
class Goal:
    """A goal for one measure: ``value <op> threshold`` or ``low <= value <= high``."""

    measure: str
    operator: str | None = None
    threshold: float | None = None
    low: float | None = None
    high: float | None = None

    def met(self, values) -> np.ndarray:
        """Boolean array: which values meet the goal (NaN never does)."""
        v = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            if self.operator is None:
                return (v >= self.low) & (v <= self.high)
            return {
                "<": v < self.threshold,
                "<=": v <= self.threshold,
                ">": v > self.threshold,
                ">=": v >= self.threshold,
            }[self.operator]

    def __str__(self) -> str:
        if self.operator is None:
            return f"{self.measure} {self.low:g}-{self.high:g}"
        return f"{self.measure} {self.operator} {self.threshold:g}"


def parse_goal(measure: str, spec: Any, path: str | None = None) -> Goal:
    """Read '< 8', {'operator': '<', 'value': 8}, '2-3' or {'between': [2, 3]}."""
    where = f"goals.{measure}"
    if isinstance(spec, Mapping):
        if "between" in spec:
            low, high = spec["between"]
            return _range_goal(measure, low, high, path)
        op, value = spec.get("operator"), spec.get("value")
    elif isinstance(spec, str):
        text = spec.strip()
        op = next((o for o in ("<=", ">=", "<", ">") if text.startswith(o)), None)
        if op is None:
            if "-" in text[1:]:
                low, high = text.split("-", 1) if not text.startswith("-") else (text, "")
                return _range_goal(measure, low, high, path)
            bad = text.split()[0] if text.split() else text
            raise ParamsError(
                f"goal operator for `{measure}` must be one of {', '.join(GOAL_OPERATORS)}; got '{bad}'",
                path=path, key=where)
        value = text[len(op):].strip()
        if value[:1] in "<>=":
            raise ParamsError(
                f"goal operator for `{measure}` must be one of {', '.join(GOAL_OPERATORS)}; got '{text.split()[0]}'",
                path=path, key=where)
    else:
        raise ParamsError(f"goal for `{measure}` must look like '< 8' or '2-3'; got {spec!r}", path=path, key=where)
    if op not in GOAL_OPERATORS:
        raise ParamsError(
            f"goal operator for `{measure}` must be one of {', '.join(GOAL_OPERATORS)}; got '{op}'", path=path, key=where)
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise ParamsError(f"goal threshold for `{measure}` must be a number; got {value!r}", path=path, key=where) from None
    return Goal(measure, op, threshold)


def _range_goal(measure: str, low: Any, high: Any, path: str | None) -> Goal:
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        raise ParamsError(f"goal range for `{measure}` must be two numbers like '2-3'; got {low!r}-{high!r}",
                          path=path, key=f"goals.{measure}") from None
    if lo > hi:
        raise ParamsError(f"goal range for `{measure}` has low {lo:g} above high {hi:g}", path=path, key=f"goals.{measure}")
    return Goal(measure, None, None, lo, hi)


@dataclass(frozen=True)
class Params:
    """Checked, resolved params for one cohort. Sections are plain dicts with defaults filled in."""

    cohort_id: str
    data_dir: Path
    output_dir: Path
    title: str
    as_of: dt.date
    seed: int
    alpha: float
    ci_method: str
    suppress_below: int
    goals: dict[str, Goal]
    combined_goals: dict[str, list[str]]
    subgroups: list[str]
    windows: dict[str, Any]
    engagement: dict[str, Any]
    qualitative: dict[str, Any]
    spc: dict[str, Any]
    survival: dict[str, Any]
    value: dict[str, Any]
    source: str | None = None  # the params file, when read from one
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the keys as given, for provenance

    def goal_met(self, measure: str, values) -> np.ndarray:
        """Which values of ``measure`` meet its goal."""
        return self.goals[measure].met(values)

    @property
    def tables_dir(self) -> Path:
        return self.output_dir / "tables"

    @property
    def figures_dir(self) -> Path:
        return self.output_dir / "figures"


def _suggest(key: str, options) -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(options))}"


def _merge_section(name: str, given: Any, default: dict, path: str | None) -> dict:
    if given is None:
        return copy.deepcopy(default)
    if not isinstance(given, Mapping):
        raise ParamsError(f"`{name}` must be a mapping of keys to values; got {type(given).__name__}", path=path, key=name)
    merged = copy.deepcopy(default)
    for key, value in given.items():
        if key not in default:
            raise ParamsError(f"unknown key `{name}.{key}`{_suggest(key, default)}", path=path, key=f"{name}.{key}")
        if isinstance(default[key], dict) and name not in OPEN_SECTIONS and value is not None:
            if not isinstance(value, Mapping):
                raise ParamsError(f"`{name}.{key}` must be a mapping; got {value!r}", path=path, key=f"{name}.{key}")
            unknown = [k for k in value if k not in default[key]]
            if unknown:
                raise ParamsError(f"unknown key `{name}.{key}.{unknown[0]}`{_suggest(unknown[0], default[key])}",
                                  path=path, key=f"{name}.{key}.{unknown[0]}")
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def resolve_path(value: str | os.PathLike) -> Path:
    """A path as written in params: absolute, or relative to the repository root."""
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else (REPO_ROOT / p)


def reports_root() -> Path:
    """Where cohort reports go: ``reports/`` in the repository, or $CMM_REPORTS_DIR."""
    env = os.environ.get(REPORTS_ENV)
    return Path(env) if env else REPO_ROOT / "reports"


def _number(name: str, value: Any, path: str | None, low: float, high: float, integer: bool = False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        kind = "a whole number" if integer else "a number"
        raise ParamsError(f"`{name}` must be {kind} between {low:g} and {high:g}; got {value!r}", path=path, key=name)
    return int(value) if integer else float(value)


def check(raw: Mapping[str, Any], path: str | None = None) -> Params:
    """Check a params mapping against the known keys and return resolved :class:`Params`."""
    if not isinstance(raw, Mapping):
        raise ParamsError("a params file must be a YAML mapping of keys to values", path=path)
    for key in raw:
        if key not in DEFAULTS:
            raise ParamsError(f"unknown key `{key}`{_suggest(str(key), DEFAULTS)}", path=path, key=str(key))
    for key in ("cohort_id", "data_dir"):
        if raw.get(key) in (None, ""):
            raise ParamsError(f"`{key}` is required", path=path, key=key)
    cohort_id = str(raw["cohort_id"])
    if not cohort_id.replace("-", "").replace("_", "").isalnum():
        raise ParamsError(f"`cohort_id` may hold only letters, digits, - and _; got {cohort_id!r}", path=path, key="cohort_id")

    ci_method = raw.get("ci_method", DEFAULTS["ci_method"])
    if ci_method not in CI_METHODS:
        raise ParamsError(f"`ci_method` must be one of {', '.join(CI_METHODS)}; got {ci_method!r}", path=path, key="ci_method")
    alpha = _number("alpha", raw.get("alpha", DEFAULTS["alpha"]), path, 1e-6, 0.5)
    suppress_below = _number("suppress_below", raw.get("suppress_below", DEFAULTS["suppress_below"]), path, 0, 10_000, True)
    seed = _number("seed", raw.get("seed", DEFAULTS["seed"]), path, 0, 2**32 - 1, True)

    as_of = raw.get("as_of")
    if as_of is None:
        as_of = dt.date.today()
    elif isinstance(as_of, str):
        try:
            as_of = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ParamsError(f"`as_of` must be a date written YYYY-MM-DD; got {as_of!r}", path=path, key="as_of") from None
    elif not isinstance(as_of, dt.date):
        raise ParamsError(f"`as_of` must be a date written YYYY-MM-DD; got {as_of!r}", path=path, key="as_of")

    goals_raw = raw.get("goals")
    if goals_raw is None:
        goals_raw = DEFAULTS["goals"]
    if not isinstance(goals_raw, Mapping):
        raise ParamsError("`goals` must map each measure to a goal such as '< 8'", path=path, key="goals")
    goals = {str(m): parse_goal(str(m), spec, path) for m, spec in goals_raw.items()}
    if raw.get("combined_goals") is None:  # default combinations apply only where their parts have goals
        combined = {k: v for k, v in DEFAULTS["combined_goals"].items() if all(p in goals for p in v)}
    else:
        combined = raw["combined_goals"]
    for name, parts in combined.items():
        missing = [p for p in parts if p not in goals]
        if missing:
            raise ParamsError(f"`combined_goals.{name}` needs a goal for {', '.join(missing)}", path=path, key=f"combined_goals.{name}")

    subgroups = raw.get("subgroups", DEFAULTS["subgroups"]) or []
    if isinstance(subgroups, str):
        subgroups = [subgroups]

    sections = {name: _merge_section(name, raw.get(name), DEFAULTS[name], path) for name in SECTIONS if name != "combined_goals"}
    rule = sections["qualitative"]["code_rule"]
    if rule not in ("any", "all", "majority", "consensus"):
        raise ParamsError(f"`qualitative.code_rule` must be one of any, all, majority, consensus; got {rule!r}",
                          path=path, key="qualitative.code_rule")
    if rule == "consensus" and not sections["qualitative"]["consensus_coder"]:
        raise ParamsError("`qualitative.code_rule` is consensus, so `qualitative.consensus_coder` must name the coder",
                          path=path, key="qualitative.consensus_coder")
    windows = sections["windows"]
    for key, value in windows.items():
        _number(f"windows.{key}", value, path, 0, 3650, True)
    if windows["followup_min_days"] > windows["followup_max_days"]:
        raise ParamsError("`windows.followup_min_days` must not exceed `windows.followup_max_days`", path=path, key="windows")

    output_dir = raw.get("output_dir")
    output = resolve_path(output_dir) if output_dir else reports_root() / cohort_id
    return Params(
        cohort_id=cohort_id,
        data_dir=resolve_path(raw["data_dir"]),
        output_dir=output,
        title=str(raw.get("title") or f"Cohort {cohort_id}"),
        as_of=as_of,
        seed=seed,
        alpha=alpha,
        ci_method=ci_method,
        suppress_below=suppress_below,
        goals=goals,
        combined_goals={k: list(v) for k, v in combined.items()},
        subgroups=list(subgroups),
        source=path,
        raw=dict(raw),
        **sections,
    )


def load_params(path: str | os.PathLike, **overrides: Any) -> Params:
    """Read and check ``params/<cohort>.yaml``; ``overrides`` replace top-level keys."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ParamsError("params file not found", path=path) from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"not valid YAML: {exc}", path=path) from None
    raw = dict(raw or {})
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return check(raw, path)


def from_namespace(namespace: Mapping[str, Any]) -> Params:
    """Params from a notebook's variables (papermill injects one per key of the params file)."""
    # a notebook may import a module under a section's name (``from evaluation import survival``): not a param
    raw = {k: namespace[k] for k in DEFAULTS
           if namespace.get(k) is not None and not isinstance(namespace[k], types.ModuleType)}
    return check(raw)


def to_yaml_dict(params: Params) -> dict[str, Any]:
    """The params as plain data (for provenance and for passing to papermill)."""
    raw = dict(params.raw)
    raw["cohort_id"] = params.cohort_id
    raw["data_dir"] = str(params.data_dir)
    raw["output_dir"] = str(params.output_dir)
    if isinstance(raw.get("as_of"), dt.date):
        raw["as_of"] = raw["as_of"].isoformat()
    return raw
