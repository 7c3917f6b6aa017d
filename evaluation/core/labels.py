"""TODO docstring core/labels."""

from __future__ import annotations
from .dictionary import load_dictionary


# --- labels and figure text ----------------------------------------------------------------------

def measure_label(measure: str, unit: bool = False) -> str:
    """'a1c' -> 'HbA1c' (or 'HbA1c (%)' with ``unit``), from the data dictionary; 'bp' -> 'BP'."""

    known = load_dictionary()["measurements"].measures
    if measure in known:
        label = known[measure].get("label", measure)
        short = {"Systolic blood pressure": "SBP", "Diastolic blood pressure": "DBP", "LDL cholesterol": "LDL"}
        label = short.get(label, label)
        return f"{label} ({known[measure]['unit']})" if unit and known[measure].get("unit") else label
    return {"bp": "BP (SBP and DBP)"}.get(measure, measure.replace("_", " "))


def _measure_label(measure: str) -> str:

    info = load_dictionary().get("measurements")
    known = (info.measures if info else {}) | {"bp": {"label": "Blood pressure (SBP and DBP)"}}
    return str(known.get(measure, {}).get("label", measure))

def monthly_measure_label(measure: str) -> str:
    """'a1c_at_goal' -> 'HbA1c at goal', 'inr_in_range' -> 'INR in range' (labels from the data dictionary)."""

    for suffix, words in (("_at_goal", "at goal"), ("_in_range", "in range")):
        if measure.endswith(suffix):
            return f"{measure_label(measure[: -len(suffix)]).replace(' (SBP and DBP)', '')} {words}"
    return measure.replace("_", " ")
