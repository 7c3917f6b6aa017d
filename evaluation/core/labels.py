"""What a reader sees for a code: one home for measure labels and units, conditions, event kinds, group
names, the codes of result tables and the report's sections.

Measure labels and units come from the data dictionary (``data_dictionary/measurements.yaml``), so a
cohort that renames a measure there sees the new name in every table, figure and sentence. The labels of
result-table codes (``track=advanced`` -> ``Advanced track``, ``log-log`` -> ``Log-log``) come from
``data_dictionary/results.yaml`` (:func:`code_label`); a code it does not list is humanised.
"""
from __future__ import annotations

from functools import lru_cache

from .dictionary import load_dictionary, load_results

COMBINED_MEASURES = {"bp": "Blood pressure"}  # goals on two measures at once (params `combined_goals`)
MONTHLY_SUFFIXES = (("_at_goal", "at goal"), ("_in_range", "in range"))  # monthly_reports.csv measure codes
EVENT_KINDS = ("ed_visit", "admission", "readmission")  # utilization.csv `kind`, in report order
EVENT_KIND_LABELS = {"ed_visit": "ED visits", "admission": "Admissions", "readmission": "Readmissions"}
# Medication-related needs (Cipolle, Strand and Morley): each MTP category of mtps.csv answers one of four
# questions about the patient's drug therapy, in this order; "other" stays other.
MTP_NEEDS = {"unnecessary_drug_therapy": "indication", "needs_additional_drug_therapy": "indication",
             "ineffective_drug": "effectiveness", "dosage_too_low": "effectiveness",
             "adverse_drug_reaction": "safety", "dosage_too_high": "safety",
             "nonadherence": "adherence", "other": "other"}
NEEDS = ("indication", "effectiveness", "safety", "adherence", "other")
INTERNAL_SECTIONS = ("priority",)  # figures for the teams only: never in the story or the funder pack
SECTIONS = {  # report section key -> heading, in report order; every figure and funder table names one
    "cohort": "The cohort",
    "engagement": "Engagement in the collaborative",
    "themes": "What teams said: focus groups and interviews",
    "outcomes": "Clinical outcomes",
    "run_charts": "Monthly measures: run charts and interrupted time series",
    "time_to_goal": "Time to goal",
    "value": "Value and return on investment",
    "comparison": "Across cohorts and cycles",
}


@lru_cache(maxsize=1)
def conditions() -> tuple[str, ...]:
    """The condition flags of patients.csv (the dictionary's ``flag`` columns), in dictionary order."""
    return tuple(c.name for c in load_dictionary()["patients"].columns if c.type == "flag")


def measure_label(measure: str, *, unit: bool = False) -> str:
    """The reader's name of a measure code, from the data dictionary.

    ``a1c`` -> ``HbA1c`` (``HbA1c (%)`` with ``unit``), ``sbp`` -> ``Systolic blood pressure``, ``bp`` ->
    ``Blood pressure``; monthly codes: ``a1c_at_goal`` -> ``HbA1c at goal``; an unknown code is shown as
    it is, underscores as spaces."""
    known = load_dictionary()["measurements"].measures
    if measure in known:
        label = str(known[measure].get("label", measure))
        return f"{label} ({known[measure]['unit']})" if unit and known[measure].get("unit") else label
    if measure in COMBINED_MEASURES:
        return COMBINED_MEASURES[measure]
    for suffix, words in MONTHLY_SUFFIXES:
        base = measure[: -len(suffix)]
        if measure.endswith(suffix) and (base in known or base in COMBINED_MEASURES):
            return f"{measure_label(base)} {words}"
    return measure.replace("_", " ")


def event_kind_label(kind: str, *, mid_sentence: bool = False) -> str:
    """``ed_visit`` -> ``ED visits`` (``admission`` -> ``Admissions``, or ``admissions`` mid-sentence)."""
    label = EVENT_KIND_LABELS.get(kind, kind.replace("_", " "))
    return label if not mid_sentence or label[:2].isupper() else label[:1].lower() + label[1:]


def group_name(group: str) -> str:
    """A result-table group in prose: ``track=initial`` -> ``initial``, ``all`` -> ``All``."""
    return group.split("=", 1)[1] if "=" in group else group[:1].upper() + group[1:]


def humanise(code) -> str:
    """A code as words: ``needs_additional_drug_therapy`` -> ``Needs additional drug therapy``."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def code_label(column: str, value, *, unit: bool = False) -> str:
    """The reader's name of the code ``value`` of a result-table column.

    ``group``: :func:`group_label`; ``measure``: :func:`measure_label` (``unit``: ``HbA1c (%)``); ``kind``:
    :func:`event_kind_label`; any other column: its label in ``results.yaml`` ``codes`` (``sex`` ``F`` ->
    ``Female``, ``ci_method`` ``log-log`` -> ``Log-log``), else the code humanised."""
    text = str(value).strip()
    if column == "group":
        return group_label(text)
    if column == "measure":
        return measure_label(text, unit=unit)
    if column == "kind":
        return event_kind_label(text)
    codes = load_results()["codes"].get(column) or {}
    return str(codes[text]) if text in codes else humanise(text)


def group_label(group: str) -> str:
    """A result-table group as a table row names it: ``all`` -> ``All patients``, ``track=advanced`` ->
    ``Advanced track``, ``sex=F`` -> ``Female``, ``team=T01`` -> ``Team T01`` (patterns in ``results.yaml``
    ``groups``; a subgroup it does not list reads ``Age band: 65+``)."""
    patterns = load_results()["groups"]
    if "=" not in group:
        return str(patterns.get(group) or humanise(group))
    name, code = group.split("=", 1)
    pattern = str(patterns.get(name) or f"{humanise(name)}: {{value}}")
    return pattern.replace("{value}", code_label(name, code)).replace("{code}", code)
