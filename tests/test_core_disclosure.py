"""The small-count rules (evaluation/core/disclosure.py): what a small count is, how it is shown, and prose made
safe for a funder. Expected texts are written out by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from evaluation.core.disclosure import (cohort_rows, format_count, is_small, looks_like_patient_count,
                                        looks_like_percentage, shown_number, small_counts_in_text, suppress_text)


def test_format_count_follows_the_threshold():
    assert format_count(7, 5) == "7" and format_count(4, 5) == "<5" and format_count(1234, 11) == "1,234"
    assert format_count(0, 11) == "0" and format_count(float("nan"), 11) == "n/a"


def test_column_names_that_count_patients():
    for name in ("n", "patients", "events", "at_risk", "n_goal_baseline", "patients_with_mtp", "pre_events",
                 "post_events", "readmission_count", "n_patients"):
        assert looks_like_patient_count(name), name
    for name in ("mean_change", "pct_goal", "events_avoided", "team_id", "rate_ratio", "median_days"):
        assert not looks_like_patient_count(name), name
    assert looks_like_percentage("pct_goal_baseline") and looks_like_percentage("change_pct")
    assert not looks_like_percentage("p_value")


def test_the_number_a_figure_cell_shows():
    assert shown_number("1,234") == 1234.0 and shown_number(" 7 ") == 7.0
    assert shown_number("<11") is None and shown_number("*") is None and shown_number("") is None


def test_cohort_rows_give_each_measure_its_label_and_whether_it_is_too_small():
    """a1c has 40 patients and 12 events (reported), sbp 40 and 5 events (too few), dbp none (skipped); team
    rows are not the cohort."""
    t = pd.DataFrame({"measure": ["a1c", "a1c", "sbp", "dbp"], "group": ["all", "track=a", "all", "all"],
                      "n": [40, 30, 40, 0], "events": [12, 10, 5, 0]})
    rows = [(label, r.measure, small) for label, r, small in cohort_rows(t, ("n", "events"), 11)]
    assert rows == [("HbA1c", "a1c", False), ("Systolic blood pressure", "sbp", True)]


def test_is_small_ignores_text_and_blanks():
    assert list(is_small(["<11", None, "3", 0, 10.0, 11], 11)) == [False, False, True, False, True, False]


def test_small_counts_in_prose():
    assert small_counts_in_text("585 patients; 5 patients have no measurement", 11) == ["5 patients"]
    assert small_counts_in_text("3 of 40 patients reached goal", 11) == ["3 of 40 patients"]
    assert small_counts_in_text("7 of 10 teams; 2.1 per patient; fewer than 11 patients", 11) == []
    assert small_counts_in_text("a pharmacist said \u201cI saw 5 patients\u201d", 11) == []


def test_small_counts_in_prose_are_rewritten_for_funders():
    text = "585 patients; 5 patients have no measurement; 3 of 40 patients; 2.1 per patient; \u201c5 patients\u201d"
    assert suppress_text(text, 11) == ("585 patients; <11 patients have no measurement; <11 of 40 patients; "
                                       "2.1 per patient; \u201c5 patients\u201d")
    assert suppress_text("7 deaths", 5) == "7 deaths"


@pytest.mark.parametrize("text, phrases, safe", [
    ("T01 (n = 7): median 20 days", ["n = 7"], "T01 (n < 11): median 20 days"),
    ("T01 (n=7)", ["n=7"], "T01 (n<11)"),
    ("N = 7 in all", ["N = 7"], "N < 11 in all"),
    ("Of them (7 patients) died", ["7 patients"], "Of them (<11 patients) died"),
    ("7 of 40 patients reached goal", ["7 of 40 patients"], "<11 of 40 patients reached goal"),
    ("7/40 patients reached goal", ["7/40 patients"], "<11/40 patients reached goal"),
    ("3 of 7 patients", ["3 of 7 patients"], "<11 of <11 patients"),  # the 7 is a small count too
    ("0 of 7 paired patients", ["0 of 7 paired patients"], "0 of <11 paired patients"),
    ("20 of 25 patients reached goal", ["20 of 25 patients"], "all but <11 of 25 patients reached goal"),  # 5 did not
    ("2 deaths, 3 readmissions, 4 admissions and 5 ED visits", ["2 deaths", "3 readmissions", "4 admissions", "5 ED visits"],
     "<11 deaths, <11 readmissions, <11 admissions and <11 ED visits"),
    ("6 hospitalisations; 8 MTPs; 9 medication therapy problems; 1 beneficiary; 2 people",
     ["6 hospitalisations", "8 MTPs", "9 medication therapy problems", "1 beneficiary", "2 people"],
     "<11 hospitalisations; <11 MTPs; <11 medication therapy problems; <11 beneficiary; <11 people"),
    ("n = 7 patients", ["n = 7"], "n < 11 patients"),  # one phrase, rewritten once
])
def test_small_counts_in_prose_new_phrases(text, phrases, safe):
    assert small_counts_in_text(text, 11) == phrases
    assert suppress_text(text, 11) == safe
    assert small_counts_in_text(safe, 11) == []  # the rewritten text passes the gate


@pytest.mark.parametrize("text", [
    "4 of 10 teams with recorded attendance", "3 month(s) in 2 of 10 teams fall outside the limits",
    "n = 7 teams", "n = 3 coders", "(5 excerpts)", "2 coders", "4 of 16 codes", "10 points", "36 PDSA cycles",
    "7 of 282 offered team-events (2%)", "5 patient-months", "n = 7.5", "T01 (n = <11)", "(n = recorded team-events)",
    "22 of 83 patients reached 60%", "n = 1,234", "fewer than 11 patients", "a pharmacist said \u201cn = 7 of us\u201d",
])
def test_what_is_not_a_small_count_of_patients(text):
    assert small_counts_in_text(text, 11) == []
    assert suppress_text(text, 11) == text


@pytest.mark.parametrize("text", ["reached by 11 of 14 patients.", "20 of 25 patients", "3 of 40 patients",
                                  "n = 7 patients", "5 deaths and 12 of 19 admissions", "12/15 patients"])
def test_suppressed_prose_passes_the_check_it_was_made_for(text):
    """What suppress_text writes ("all but <11 of 14 patients") is safe by the same rule the gate applies: a
    caption on a small cohort ("11 of 14 patients", 3 not counted) must not pass suppression and fail the gate."""
    safe = suppress_text(text, 11)
    assert safe != text
    assert small_counts_in_text(safe, 11) == []


def test_a_small_bound_other_than_the_mark_is_still_a_small_count():
    assert small_counts_in_text("<5 of 14 patients", 11) == ["5 of 14 patients"]
    assert small_counts_in_text("all but <11 of 14 patients", 11) == []
