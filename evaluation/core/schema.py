"""The params schema, as data: every key of a params file with its default, its check (the allowed values)
and one line of meaning.

:data:`SCHEMA` maps each key to a :class:`Setting`; a section (``windows``, ``spc``, ...) maps to a dict of
them. A check takes the value as YAML gives it and returns it normalised, or raises :class:`Invalid` with the
end of a message that starts with the key ("`alpha` must be a number above 0 ..."); each check carries a
``describe`` text, which README's params table (:func:`settings_markdown`) shows as the allowed values.
Reading a params file against this schema is :mod:`evaluation.core.params`.

The schema is written by hand rather than with pydantic: its messages must name the YAML key in the user's
words with the allowed values and a did-you-mean, and README's params table is generated from it.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import yaml

from .dictionary import MONTH, load_dictionary
from .goals import parse_goal
from .labels import EVENT_KINDS
from .paths import SCRATCH_DIR

CI_METHODS = ("log-log", "log")
CONTROL_CHARTS = ("p", "laney")  # p-chart, or Laney p' for large denominators
ITS_MODELS = ("quasibinomial", "binomial", "quasipoisson", "linear")  # segmented regression of a monthly measure
ITS_AUTOCORRELATION = ("none", "newey-west", "ar1")
ITS_RULES = ("joined_on", "first_pdsa")  # the intervention month of each team: when it joined, its first PDSA cycle
RATE_MODELS = ("poisson_robust", "poisson", "negative_binomial")
CODE_RULES = ("any", "all", "majority", "consensus")
CODER_SCOPES = ("source", "excerpt")
SUBGROUPS = ("track", "condition", "setting", "state", "sex")  # strata every analysis can report after `all`
PAPER_SIZES = ("letter", "a4")
CMS_THRESHOLD = 11  # the CMS cell-size rule: counts of 1 to 10 are never shown
OPEN_KEYS = ("goals", "combined_goals")  # their keys are measure names: any name is allowed
# the reports root's own folders beside the cohorts' reports (reports/variants/<cohort_id>/<name>/, reports/sweeps/
# <name>/, reports/scratch/<cohort_id>/): a cohort of one of these names would publish its report over them
VARIANTS_DIR, SWEEPS_DIR, COMPARE_DIR = "variants", "sweeps", "compare"
RESERVED_COHORT_IDS = (VARIANTS_DIR, SWEEPS_DIR, COMPARE_DIR, SCRATCH_DIR)


class Invalid(ValueError):
    """A value that fails its check; the message completes "`key` ..."."""


Check = Callable[[Any], Any]  # takes a value as YAML gives it; returns it normalised or raises Invalid


def quoted(value: Any) -> str:
    """A value as a params message quotes it: as Python writes it, a date as YYYY-MM-DD."""
    return repr(value) if not isinstance(value, (dt.date,)) else value.isoformat()


def one_of(*choices: str) -> Check:
    """One of ``choices``, with a did-you-mean for a near miss."""
    def check(value):
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise Invalid(f"must be one of {', '.join(choices)}; got {quoted(value)}{hint}")
        return value
    check.describe = " | ".join(choices)
    return check


def is_number(value: Any) -> bool:
    """A finite int or float (a bool is not a number here, although Python says so)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and np.isfinite(value)


def number(low: float, high: float | None = None, *, above: bool = False) -> Check:
    """A number of at least ``low`` (above it with ``above``), and at most ``high`` when given."""
    def check(value):
        ok = is_number(value) and (low < value if above else low <= value) and (high is None or value <= high)
        if not ok:
            floor = f"above {low:g}" if above else f"of {low:g} or more"
            where = f"{floor} and at most {high:g}" if high is not None else floor
            raise Invalid(f"must be a number {where}; got {quoted(value)}")
        return int(value) if float(value).is_integer() and not isinstance(value, (float, np.floating)) else float(value)
    check.describe = f"number {'>' if above else '≥'} {low:g}" + (f", ≤ {high:g}" if high is not None else "")
    return check


def whole(low: int, high: int) -> Check:
    """A whole number from ``low`` to ``high`` (``3.0`` counts; ``3.5`` and ``True`` do not)."""
    def check(value):
        if not (is_number(value) and float(value).is_integer() and low <= value <= high):
            raise Invalid(f"must be a whole number between {low:g} and {high:g}; got {quoted(value)}")
        return int(value)
    check.describe = f"whole number {low}–{high}"
    return check


def text(value) -> str:
    """A piece of text that is not blank (a number is read as its text: a cohort may be called 2015)."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
        raise Invalid(f"must be a piece of text; got {quoted(value)}")
    return str(value)


text.describe = "text"


def web_address(value) -> str:
    """An http(s) address, as REDCap shows its API's (https://redcap.example.org/api/)."""
    text_value = text(value).strip()
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text_value):
        raise Invalid(f"must be a web address starting https:// (the project's API address); got {quoted(value)}")
    return text_value


web_address.describe = "https://… address"


def environment_variable(value) -> str:
    """The name of an environment variable: letters, digits and _, not starting with a digit."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise Invalid(f"must be the name of an environment variable (letters, digits and _); got {quoted(value)}")
    return value


environment_variable.describe = "a variable name"


def keyed(value) -> dict:
    """A mapping of keys to values (its keys are checked by the reader that knows them)."""
    if not isinstance(value, Mapping):
        raise Invalid(f"must be a mapping of keys to values; got {quoted(value)}")
    return dict(value)


keyed.describe = "a mapping"


def boolean(value) -> bool:
    """true or false (YAML's yes/no arrive as booleans too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise Invalid(f"must be true or false; got {quoted(value)}")
    return bool(value)


boolean.describe = "true | false"


def date(value) -> dt.date:
    """A date written YYYY-MM-DD (or a date YAML already read as one)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Invalid(f"must be a date written YYYY-MM-DD; got {quoted(value)}")


date.describe = "date YYYY-MM-DD"


def month(value) -> str:
    """A month written YYYY-MM (or YYYY-MM-01, or a date YAML read), returned as YYYY-MM."""
    if isinstance(value, dt.date):
        return f"{value:%Y-%m}"
    found = MONTH.match(value.strip()) if isinstance(value, str) else None
    if found:
        return f"{found[1]}-{found[2]}"
    raise Invalid(f"must be a month written YYYY-MM; got {quoted(value)}")


def intervention(value) -> str:
    """When each team's intervention starts: a rule (``joined_on``, ``first_pdsa``) or one month for every team."""
    if isinstance(value, str) and value.strip() in ITS_RULES:
        return value.strip()
    try:
        return month(value)
    except Invalid:
        close = difflib.get_close_matches(str(value), ITS_RULES, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise Invalid(f"must be {' or '.join(ITS_RULES)}, or a month written YYYY-MM; got {quoted(value)}{hint}") from None


intervention.describe = f"{' | '.join(ITS_RULES)} | YYYY-MM"


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
            raise Invalid(f"must be a list; got {quoted(value)}")
        out = []
        for i, item in enumerate(value):
            try:
                out.append(inner(item))
            except Invalid as exc:
                raise Invalid(f"item {i + 1} {exc}") from None
        if len(out) < min_items:
            raise Invalid(f"must hold at least {min_items} item{'s' if min_items != 1 else ''}; got {quoted(value)}")
        return list(dict.fromkeys(out)) if all(isinstance(v, str) for v in out) else out
    check.describe = f"list of {getattr(inner, 'describe', 'values')}"
    return check


def goal_text(value) -> str:
    """A goal as written in params: '< 8', '2-3', {operator: '<', value: 8} or {between: [2, 3]}."""
    parse_goal("m", value)  # raises a ParamsError naming the goal, reported as it stands
    return value


goal_text.describe = "'< 8', '<= 8', '>= 60' or a range '2-3'"


@dataclass(frozen=True)
class Setting:
    """One params key: its default, the check its value must pass, and one line of meaning."""

    default: Any
    check: Check | None  # None: the key has its own reader in evaluation.core.params (spc.phases)
    doc: str


def _exit_reasons() -> tuple[str, ...]:
    """The exit reasons patients.csv allows."""
    return load_dictionary()["patients"].column("exit_reason").allowed or ()


def _event_kinds() -> tuple[str, ...]:
    """The event kinds events.csv allows."""
    return load_dictionary()["events"].column("kind").allowed or ()


def _from_dictionary(allowed: Callable[[], tuple[str, ...]], column: str) -> Check:
    """One of the values the data dictionary allows for ``column`` (the dictionary is their one source)."""
    def check(value):
        return one_of(*allowed())(value)
    check.describe = f"values of {column} in the data dictionary"
    return check


SCHEMA: dict[str, Any] = {
    "cohort_id": Setting(None, text, "the cohort's name (letters, digits, - and _; not variants, sweeps, compare or scratch); "
                         "the report goes to reports/<cohort_id>/ (required)"),
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
        "min_coder_excerpts": Setting(10, whole(2, 100_000), "a coder who read fewer of the excerpts two or more "
                                      "coders read gets a warning: too few for a per-code alpha to mean much"),
        "coder_scope": Setting("source", one_of(*CODER_SCOPES), "source: a coder who coded any excerpt of a transcript read all of it; excerpt: only those coded"),
    },
    "spc": {
        "measures": Setting(None, optional(list_of(text, min_items=1), "all"), "monthly_reports measures to chart"),
        "baseline_points": Setting(None, optional(whole(1, 1000), "all points"), "freeze the centre line on the first k points"),
        "min_points": Setting(10, whole(1, 1000), "fewer useful points: no runs verdict"),
        "control_chart": Setting("p", one_of(*CONTROL_CHARTS), "p-chart, or Laney p′ for large denominators"),
        "phases": Setting(None, None, "months (YYYY-MM) that start a new phase: a list for every team, or {team_id: [months]}"),
    },
    "its": {
        "intervention": Setting("joined_on", intervention, "when the change starts, per team: the month it joined, "
                                "the month of its first PDSA cycle, or one month (YYYY-MM) for every team; months from "
                                "it on are after"),
        "model": Setting("quasibinomial", one_of(*ITS_MODELS), "segmented regression: binomial GLM of numerator of "
                         "denominator (quasi: dispersion estimated), quasi-Poisson with log-denominator offset, or "
                         "linear on the percentage (Wagner 2002)"),
        "slope_change": Setting(True, boolean, "fit a change of slope as well as of level (false: level change only)"),
        "harmonics": Setting(0, whole(0, 6), "seasonality: pairs of sine and cosine terms of the month (period 12)"),
        "autocorrelation": Setting("none", one_of(*ITS_AUTOCORRELATION), "standard errors: model-based, Newey-West "
                                   "(HAC), or AR(1) errors (linear model only)"),
        "hac_lags": Setting(None, optional(whole(1, 24), "floor(4 (n/100)^(2/9))"), "lags of the Newey-West covariance"),
        "min_points": Setting(8, whole(2, 1000), "fewer months on either side of the intervention: a warning"),
        "measures": Setting(None, optional(list_of(text, min_items=1), "the charted measures"), "monthly_reports measures to model"),
    },
    "priority": {
        "weights": {
            "not_at_goal": Setting(2.0, number(0), "points per measure not at goal at the patient's latest reading"),
            "far_from_goal": Setting(2.0, number(0), "more points per measure at least priority.far_from_goal from goal"),
            "condition": Setting(1.0, number(0), "points per condition flagged in patients.csv (diabetes, hypertension, ...)"),
            "ed_visit_6m": Setting(1.0, number(0), "points per ED visit in the 6 months up to as_of"),
            "ed_visit_12m": Setting(1.0, number(0), "points per ED visit in the 12 months up to as_of (a recent visit counts in both)"),
            "admission_6m": Setting(2.0, number(0), "points per admission or readmission in the 6 months up to as_of"),
            "admission_12m": Setting(1.0, number(0), "points per admission or readmission in the 12 months up to as_of"),
            "open_mtp": Setting(1.0, number(0), "points per medication therapy problem open at as_of"),
            "no_recent_reading": Setting(2.0, number(0), "points when no goal measure was read in priority.stale_days"),
        },
        "far_from_goal": {measure: Setting(gap, number(0, above=True), f"{measure}: this far outside the goal "
                                           f"({unit}) counts as far from goal")
                          for measure, gap, unit in (("a1c", 1.0, "%"), ("sbp", 20.0, "mmHg"), ("dbp", 10.0, "mmHg"),
                                                     ("ldl", 30.0, "mg/dL"), ("inr", 0.5, "ratio"))},
        "bands": {
            "high": Setting(8.0, number(0, above=True), "a score of at least this is high priority"),
            "medium": Setting(4.0, number(0, above=True), "at least this (and below high) is medium; below it, low"),
        },
        "stale_days": Setting(90, whole(1, 3650), "a patient without a goal-measure reading in this many days has "
                              "no recent reading"),
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
                           for kind in EVENT_KINDS},
        "attribution_shares": Setting([0.25, 0.5, 0.75, 1.0], list_of(number(0, 1, above=True), min_items=1),
                                      "shares of the change attributed to the program, for the sensitivity table"),
        "cost_multipliers": Setting([0.5, 0.75, 1.0, 1.25, 1.5], list_of(number(0, 100, above=True), min_items=1),
                                    "multipliers of the cost per event, for the sensitivity table"),
        "rate_model": Setting("poisson_robust", one_of(*RATE_MODELS), "rate-ratio GLM: Poisson with SEs clustered by patient, plain Poisson, or negative binomial"),
    },
    "report": {
        "paper": Setting("letter", one_of(*PAPER_SIZES), "page size of the funder DOCX and PDF: letter (US) or a4"),
        "prepared_by": Setting(None, optional(text), "who prepared the report (the evaluation team), on the title page"),
        "docx_template": Setting(None, optional(text), "a .docx whose styles, header and logo the funder DOCX uses "
                                 "(relative to the params file's folder)"),
    },
    "redcap": {
        "mapping": Setting(None, optional(keyed), "how the data folder's REDCap export becomes the contract's tables, written here "
                           "instead of in a redcap.yaml beside it (same schema; README, \"REDCap exports\")"),
        "api_url": Setting(None, optional(web_address), "the REDCap API (https://…/api/) that `python -m evaluation "
                           "redcap-pull` reads the export from into the data folder"),
        "token_env": Setting("REDCAP_API_TOKEN", environment_variable, "the environment variable holding the API "
                             "token; the token itself is never written in params, the report or anywhere"),
    },
}


def defaults_of(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Every key of ``schema`` (a section, or the whole schema) with a fresh copy of its default."""
    return {k: defaults_of(v) if isinstance(v, dict) else copy.deepcopy(v.default) for k, v in schema.items()}


DEFAULTS: dict[str, Any] = defaults_of(SCHEMA)  # every key with its default
PARAM_SECTIONS = tuple(k for k, v in SCHEMA.items() if isinstance(v, dict))  # windows, engagement, ... value


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
