"""One label per code (evaluation/core/labels.py), from the data dictionary."""
from __future__ import annotations

from evaluation.core.labels import SECTIONS, conditions, event_kind_label, group_name, measure_label


def test_one_label_per_measure_from_the_dictionary():
    assert measure_label("a1c") == "HbA1c" and measure_label("a1c", unit=True) == "HbA1c (%)"
    assert measure_label("sbp") == "Systolic blood pressure" and measure_label("sbp", unit=True) == "Systolic blood pressure (mmHg)"
    assert measure_label("bp") == "Blood pressure"
    assert measure_label("bp_at_goal") == "Blood pressure at goal" and measure_label("inr_in_range") == "INR in range"
    assert measure_label("weight_kg") == "weight kg"  # unknown: shown as it is
    assert measure_label("mtps_resolved") == "mtps resolved"


def test_conditions_kinds_groups_and_sections():
    assert conditions() == ("diabetes", "hypertension", "dyslipidemia", "anticoagulation")
    assert event_kind_label("ed_visit") == "ED visits" and event_kind_label("admission", mid_sentence=True) == "admissions"
    assert event_kind_label("ed_visit", mid_sentence=True) == "ED visits"
    assert group_name("track=initial") == "initial" and group_name("all") == "All"
    assert list(SECTIONS)[:2] == ["cohort", "engagement"] and "run_charts" in SECTIONS
