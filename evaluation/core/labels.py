"""What a reader sees for a code: one home for measure labels and units, conditions, event kinds, group
names and the report's sections.

Measure labels and units come from the data dictionary (``data_dictionary/measurements.yaml``), so a
cohort that renames a measure there sees the new name in every table, figure and sentence.
"""
from __future__ import annotations

from functools import lru_cache

from .dictionary import load_dictionary

COMBINED_MEASURES = {"bp": "Blood pressure"}  # goals on two measures at once (params `combined_goals`)
MONTHLY_SUFFIXES = (("_at_goal", "at goal"), ("_in_range", "in range"))  # monthly_reports.csv measure codes
EVENT_KINDS = ("ed_visit", "admission", "readmission")  # utilization.csv `kind`, in report order
EVENT_KIND_LABELS = {"ed_visit": "ED visits", "admission": "Admissions", "readmission": "Readmissions"}
SECTIONS = {  # report section key -> heading, in report order; every figure and funder table names one
    "cohort": "The cohort",
    "engagement": "Engagement in the collaborative",
    "themes": "What teams said: focus groups and interviews",
    "outcomes": "Clinical outcomes",
    "run_charts": "Monthly measures: run charts",
    "time_to_goal": "Time to goal",
    "value": "Value and return on investment",
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
