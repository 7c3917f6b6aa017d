"""Read, check and resolve a cohort's params file: the one place that knows every key, its default and its check.

A params file (``params/<cohort>.yaml``) names the cohort and its data folder and may override any default in
:data:`SCHEMA`. Every key *and value* is checked here, before any data is read or notebook started, and every
problem is reported at once (key, allowed values, bad value, a "did you mean"), so a run never fails minutes in
on a setting. What depends on the data (a team named in ``spc.phases``, a consensus coder) is checked by
:func:`check_against_data` once the data are loaded. The resolved params (:func:`to_dict`) are what the runner
hands every notebook and records in provenance.

The schema is written by hand rather than with pydantic: its messages must name the YAML key in the user's
words with the allowed values and a did-you-mean, and README's params table is generated from it.
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
from typing import Any, Callable, Mapping
import numpy as np
import yaml
from .dictionary import load_dictionary
from .errors import ParamsError
from .paths import DEMO_PARAMS, reports_root, resolve_path, shown_path, within_reports_root

__all__ = ["Params", "Goal", "SCHEMA", "DEFAULTS", "check", "load_params", "from_namespace", "to_dict",
           "check_against_data"]

GOAL_OPERATORS = ("<", "<=", ">", ">=")
CI_METHODS = ("log-log", "log")
CONTROL_CHARTS = ("p", "laney")  # p-chart, or Laney p' for large denominators
RATE_MODELS = ("poisson_robust", "poisson", "negative_binomial")
CODE_RULES = ("any", "all", "majority", "consensus")
CODER_SCOPES = ("source", "excerpt")
SUBGROUPS = ("track", "condition", "setting", "state", "sex")  # strata every analysis can report after `all`
ENGAGEMENT_PARTS = ("attendance", "milestones_done", "milestones_on_time")
UTILIZATION_KINDS = ("ed_visit", "admission", "readmission")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class Invalid(ValueError):
    """A value that fails its check; the message completes "`key` ..."."""


# --- the checks: each takes a value and returns it normalised, or raises Invalid ----------------------

Check = Callable[[Any], Any]


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, (dt.date,)) else value.isoformat()


def one_of(*choices: str) -> Check:
    def check(value):
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise Invalid(f"must be one of {', '.join(choices)}; got {_show(value)}{hint}")
        return value
    check.describe = " | ".join(choices)
    return check


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and np.isfinite(value)


def number(low: float, high: float | None = None, *, above: bool = False) -> Check:
    """A number of at least ``low`` (above it with ``above``), and at most ``high`` when given."""
    def check(value):
        ok = _is_number(value) and (low < value if above else low <= value) and (high is None or value <= high)
        if not ok:
            floor = f"above {low:g}" if above else f"of {low:g} or more"
            where = f"{floor} and at most {high:g}" if high is not None else floor
            raise Invalid(f"must be a number {where}; got {_show(value)}")
        return int(value) if float(value).is_integer() and not isinstance(value, (float, np.floating)) else float(value)
    check.describe = f"number {'>' if above else '≥'} {low:g}" + (f", ≤ {high:g}" if high is not None else "")
    return check


def whole(low: int, high: int) -> Check:
    def check(value):
        if not (_is_number(value) and float(value).is_integer() and low <= value <= high):
            raise Invalid(f"must be a whole number between {low:g} and {high:g}; got {_show(value)}")
        return int(value)
    check.describe = f"whole number {low}–{high}"
    return check


def text(value) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
        raise Invalid(f"must be a piece of text; got {_show(value)}")
    return str(value)


text.describe = "text"


def date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Invalid(f"must be a date written YYYY-MM-DD; got {_show(value)}")


date.describe = "date YYYY-MM-DD"


def month(value) -> str:
    if isinstance(value, dt.date):
        return f"{value:%Y-%m}"
    if isinstance(value, str) and _MONTH.match(value.strip()):
        return value.strip()
    raise Invalid(f"must be a month written YYYY-MM; got {_show(value)}")


def optional(inner: Check, meaning: str = "") -> Check:
    """``inner``, or None (null in YAML) for the default behaviour ``meaning``."""
    def check(value):
        return None if value is None else inner(value)
    check.describe = f"{getattr(inner, 'describe', '')} or null" + (f" ({meaning})" if meaning else "")
    return check


def list_of(inner: Check, *, min_items: int = 0, single: bool = True) -> Check:
    """A list of values each passing ``inner``; one bare value is read as a list of one when ``single``."""
    def check(value):
        if single and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise Invalid(f"must be a list; got {_show(value)}")
        out = []
        for i, item in enumerate(value):
            try:
                out.append(inner(item))
            except Invalid as exc:
                raise Invalid(f"item {i + 1} {exc}") from None
        if len(out) < min_items:
            raise Invalid(f"must hold at least {min_items} item{'s' if min_items != 1 else ''}; got {_show(value)}")
        return list(dict.fromkeys(out)) if all(isinstance(v, str) for v in out) else out
    check.describe = f"list of {getattr(inner, 'describe', 'values')}"
    return check


def goal_text(value) -> str:
    """A goal as written in params: '< 8', '2-3', {operator: '<', value: 8} or {between: [2, 3]}."""
    parse_goal("m", value)  # raises ParamsError, turned into Invalid below
    return value


goal_text.describe = "'< 8', '<= 8', '>= 60' or a range '2-3'"


# --- the schema: every key, its default, its check and what it means ---------------------------------

@dataclass(frozen=True)
class Setting:
    """One params key: its default, the check its value must pass, and one line of meaning."""

    default: Any
    check: Check
    doc: str


def _exit_reasons() -> tuple[str, ...]:
    return load_dictionary()["patients"].column("exit_reason").allowed or ()


def _event_kinds() -> tuple[str, ...]:
    return load_dictionary()["events"].column("kind").allowed or ()


def _from_dictionary(allowed: Callable[[], tuple[str, ...]], column: str) -> Check:
    """One of the values the data dictionary allows for ``column`` (the dictionary is their one source)."""
    def check(value):
        return one_of(*allowed())(value)
    check.describe = f"values of {column} in the data dictionary"
    return check


SCHEMA: dict[str, Any] = {
    "cohort_id": Setting(None, text, "the cohort's name (letters, digits, - and _); the report goes to reports/<cohort_id>/ (required)"),
    "data_dir": Setting(None, text, "the cohort's data folder, relative to the repository root or absolute (required)"),
    "title": Setting(None, optional(text), "report title; default `Cohort <cohort_id>`"),
    "output_dir": Setting(None, optional(text), "where the report is written, inside the reports folder; default reports/<cohort_id>"),
    "as_of": Setting(None, optional(date), "the date the data were extracted: later dates are errors, milestones due "
                     "by it count as due, follow-up ends at it; default the last date recorded in the data"),
    "seed": Setting(2015, whole(0, 2**32 - 1), "seed for bootstraps and anything random"),
    "alpha": Setting(0.05, number(0, 0.5, above=True), "significance level; CIs are 1 − alpha"),
    "ci_method": Setting("log-log", one_of(*CI_METHODS), "Kaplan–Meier CI transform: log-log (lifelines) or log (R survival)"),
    "suppress_below": Setting(11, whole(2, 1000), "funder outputs show counts 1 to suppress_below − 1 as `<N` "
                              "(CMS cell-size rule: 11); below 11 needs `suppress_below_reason`"),
    "suppress_below_reason": Setting(None, optional(text), "why funder outputs may show counts below 11 (e.g. the data use "
                                     "agreement that allows it); stated on every funder output"),
    "goals": Setting({"a1c": "< 8", "sbp": "< 140", "dbp": "< 90", "ldl": "< 100", "inr": "2-3"}, goal_text,
                     "goal per measure: `\"< 8\"`, `\"<= 8\"`, `\">= 60\"`, `\"2-3\"`"),
    "combined_goals": Setting({"bp": ["sbp", "dbp"]}, list_of(text, min_items=2, single=False),
                              "goals met only when all parts are met on the same day"),
    "subgroups": Setting(["track", "condition"], list_of(one_of(*SUBGROUPS)), "strata reported after the `all` row"),
    "windows": {
        "baseline_days": Setting(90, whole(0, 3650), "baseline: closest reading within this many days before enrollment"),
        "grace_days": Setting(30, whole(0, 3650), "... or this many days after it"),
        "followup_min_days": Setting(90, whole(0, 3650), "follow-up: the last reading from this many days after enrollment"),
        "followup_max_days": Setting(365, whole(0, 3650), "... up to this many"),
        "utilization_pre_days": Setting(365, whole(1, 3650), "value: acute-care use counted this many days before enrollment"),
        "utilization_post_days": Setting(365, whole(1, 3650), "... and after it"),
    },
    "engagement": {
        "weights": {
            "attendance": Setting(0.5, number(0), "weight of the attendance rate in the engagement score"),
            "milestones_done": Setting(0.25, number(0), "weight of the share of due milestones done"),
            "milestones_on_time": Setting(0.25, number(0), "weight of the share done on time"),
        },
        "event_kinds": Setting(["monthly_call", "webinar", "coaching_call", "learning_session"],
                               list_of(_from_dictionary(_event_kinds, 'events.kind'), min_items=1), "event kinds counted as engagement"),
    },
    "qualitative": {
        "code_rule": Setting("any", one_of(*CODE_RULES), "when a code counts on an excerpt: any coder, all, a majority, or the consensus coder"),
        "consensus_coder": Setting(None, optional(text), "the coder whose codes count when code_rule is consensus"),
        "qdpx": Setting(None, optional(text), "a REFI-QDA project (relative to the data folder) read instead of the qualitative CSVs"),
        "bootstrap_samples": Setting(1000, whole(0, 100_000), "bootstrap samples for Krippendorff's α CI (0: none)"),
        "approved_quotes": Setting([], list_of(text), "excerpt_ids of quotes the evaluator has read and cleared for funders "
                                   "although the identifier screen held them back"),
        "deny_terms": Setting([], list_of(text), "words that must never appear in a quote for funders (staff or patient "
                              "names, places); a quote holding one is held back"),
        "coder_scope": Setting("source", one_of(*CODER_SCOPES), "source: a coder who coded any excerpt of a transcript read all of it; excerpt: only those coded"),
    },
    "spc": {
        "measures": Setting(None, optional(list_of(text, min_items=1), "all"), "monthly_reports measures to chart"),
        "baseline_points": Setting(None, optional(whole(1, 1000), "all points"), "freeze the centre line on the first k points"),
        "min_points": Setting(10, whole(1, 1000), "fewer useful points: no runs verdict"),
        "control_chart": Setting("p", one_of(*CONTROL_CHARTS), "p-chart, or Laney p′ for large denominators"),
        "phases": Setting(None, None, "months (YYYY-MM) that start a new phase: a list for every team, or {team_id: [months]}"),
    },
    "survival": {
        "competing_exit_reasons": Setting(["died"], list_of(_from_dictionary(_exit_reasons, 'patients.exit_reason')), "exit reasons that compete with reaching goal"),
        "horizons_days": Setting([90, 180, 365], list_of(whole(1, 3650), min_items=1), "share at goal reported by these days"),
        "inr_ttr_goal": Setting(60, number(0, 100), "% time in therapeutic range counted as INR at goal"),
        "inr_max_gap_days": Setting(56, whole(1, 3650), "Rosendaal: no interpolation across longer gaps"),
        "measures": Setting(None, optional(list_of(text, min_items=1), "every goal, combined goals replacing their parts"),
                            "time-to-goal measures"),
        "mtp_horizons_days": Setting([30, 90], list_of(whole(1, 3650), min_items=1), "% of MTPs confirmed resolved by these days"),
    },
    "value": {
        "cost_per_event": {kind: Setting(None, optional(number(0), "mean cost in the data"), f"cost of one {kind.replace('_', ' ')}")
                           for kind in UTILIZATION_KINDS},
        "attribution_shares": Setting([0.25, 0.5, 0.75, 1.0], list_of(number(0, 1, above=True), min_items=1),
                                      "shares of the change attributed to the program, for the sensitivity table"),
        "cost_multipliers": Setting([0.5, 0.75, 1.0, 1.25, 1.5], list_of(number(0, 100, above=True), min_items=1),
                                    "multipliers of the cost per event, for the sensitivity table"),
        "rate_model": Setting("poisson_robust", one_of(*RATE_MODELS), "rate-ratio GLM: Poisson with SEs clustered by patient, plain Poisson, or negative binomial"),
    },
}
CMS_THRESHOLD = 11  # the CMS cell-size rule: counts of 1 to 10 are never shown
OPEN_KEYS = ("goals", "combined_goals")  # their keys are measure names: any name is allowed


def _defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _defaults(v) if isinstance(v, dict) else copy.deepcopy(v.default) for k, v in schema.items()}


DEFAULTS: dict[str, Any] = _defaults(SCHEMA)  # every key with its default
SECTIONS = tuple(k for k, v in SCHEMA.items() if isinstance(v, dict))


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

    @property
    def spec(self) -> str:
        """The goal as a params file writes it: '< 8' or '2-3'."""
        if self.operator is None:
            return f"{self.low:g}-{self.high:g}"
        return f"{self.operator} {self.threshold:g}"

    def __str__(self) -> str:
        return f"{self.measure} {self.spec}"


def parse_goal(measure: str, spec: Any, path: str | None = None) -> Goal:
    """Read '< 8', {'operator': '<', 'value': 8}, '2-3' or {'between': [2, 3]}."""
    where = f"goals.{measure}"
    if isinstance(spec, Mapping):
        if "between" in spec:
            bounds = spec["between"]
            if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
                raise ParamsError(f"goal range for `{measure}` must be two numbers like [2, 3]; got {bounds!r}",
                                  path=path, key=where)
            return _range_goal(measure, bounds[0], bounds[1], path)
        op, value = spec.get("operator"), spec.get("value")
    elif isinstance(spec, str):
        text_ = spec.strip()
        op = next((o for o in ("<=", ">=", "<", ">") if text_.startswith(o)), None)
        if op is None:
            if "-" in text_[1:]:
                low, high = text_.split("-", 1) if not text_.startswith("-") else (text_, "")
                return _range_goal(measure, low, high, path)
            bad = text_.split()[0] if text_.split() else text_
            raise ParamsError(
                f"goal operator for `{measure}` must be one of {', '.join(GOAL_OPERATORS)}; got '{bad}'",
                path=path, key=where)
        value = text_[len(op):].strip()
        if value[:1] in "<>=":
            raise ParamsError(
                f"goal operator for `{measure}` must be one of {', '.join(GOAL_OPERATORS)}; got '{text_.split()[0]}'",
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
    if not np.isfinite(threshold):
        raise ParamsError(f"goal threshold for `{measure}` must be a finite number; got {value!r}", path=path, key=where)
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
    survival: dict[str, Any]
    value: dict[str, Any]
    source: str | None = field(default=None, compare=False)  # the params file, when read from one
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the keys as given

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
    merged = _defaults(schema)
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

    sections = {name: _check_section(name, raw.get(name), SCHEMA[name], found) for name in SECTIONS}
    sections["spc"]["phases"] = _check_phases(sections["spc"]["phases"], found)
    _cross_checks(sections, goals, combined, found)

    output_dir = top.get("output_dir")
    if output_dir and not within_reports_root(resolve_path(output_dir)):
        found.add("output_dir", f"`output_dir` must be a folder inside the reports folder ({shown_path(reports_root())}); "
                  f"got {_show(output_dir)}: the workbench writes nowhere else")
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
    if all(_is_number(v) for v in weights.values()) and not any(v > 0 for v in weights.values()):
        found.add("engagement.weights", f"`engagement.weights` must have at least one weight above 0; got {weights!r}")
    chosen = sections["survival"]["measures"]
    known = list(goals) + list(combined)
    for m in chosen or []:
        if m not in known:
            found.add("survival.measures", f"`survival.measures` must name measures that have a goal ({', '.join(known)}); "
                      f"got {m!r}{_suggest(m, known) if difflib.get_close_matches(m, known, n=1) else ''}")


def load_params(path: str | os.PathLike, **overrides: Any) -> Params:
    """Read and check ``params/<cohort>.yaml``; ``overrides`` replace top-level keys."""
    path = str(path)
    try:
        with open(resolve_path(path), encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ParamsError("params file not found", path=path) from None
    except IsADirectoryError:
        raise ParamsError("is a folder, not a params file", path=path) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParamsError(f"not valid YAML: {exc}", path=path) from None
    if raw is not None and not isinstance(raw, Mapping):
        raise ParamsError("a params file must be a YAML mapping of keys to values", path=path)
    raw = dict(raw or {})
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return check(raw, path)


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
    for name in SECTIONS:
        out[name] = copy.deepcopy(getattr(params, name))
    return out


def check_against_data(params: Params, tables: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Settings that name things in the data, checked once the data are loaded: (key, message) pairs.

    ``tables`` maps table names to DataFrames (None when absent), as :class:`evaluation.loading.Cohort` holds.
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


def settings_table() -> list[dict[str, str]]:
    """Every key with its default, allowed values and meaning (for README and ``--help``)."""
    rows = []

    def walk(prefix: str, schema: Mapping[str, Any]) -> None:
        for key, s in schema.items():
            name = f"{prefix}{key}"
            if isinstance(s, dict):
                walk(f"{name}.", s)
            else:
                default = "" if s.default is None else yaml.safe_dump(s.default, default_flow_style=True, width=1000)
                rows.append({"key": name, "default": default.strip().removesuffix("...").strip(),
                             "allowed": getattr(s.check, "describe", "") if s.check else "", "meaning": s.doc})
    walk("", SCHEMA)
    return rows


def settings_markdown() -> str:
    """:func:`settings_table` as a Markdown table (README's Params section is this text)."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for row in settings_table():
        default = f"`{row['default']}`" if row["default"] else "—"
        cells = [f"`{row['key']}`", default, row["allowed"], row["meaning"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
