"""One label per code (evaluation/core/labels.py) and one label, unit and format per result-table column
(evaluation/core/columns.py), from the data dictionary and data_dictionary/results.yaml."""
from __future__ import annotations

import pandas as pd
import pytest

from evaluation.core.columns import KINDS, _from_entry, column_format, format_cell, parse_format, registry
from evaluation.core.dictionary import RESULTS_FILE, load_dictionary, load_results
from evaluation.core.labels import (SECTIONS, code_label, conditions, event_kind_label, group_label, group_name, humanise,
                                    measure_label)


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


# Result-table codes and columns (data_dictionary/results.yaml, evaluation/core/columns.py). Expected texts are
# written out by hand: what a reader should see, not what the code computes.

def test_group_codes_read_as_words():
    assert code_label("group", "all") == "All patients"
    assert code_label("group", "track=advanced") == "Advanced track" and group_label("track=initial") == "Initial track"
    assert code_label("group", "condition=diabetes") == "Diabetes"
    assert code_label("group", "setting=community_pharmacy") == "Community pharmacy"
    assert code_label("group", "setting=fqhc") == "FQHC"
    assert code_label("group", "state=IA") == "IA" and code_label("group", "sex=F") == "Female"
    assert code_label("group", "team=T01") == "Team T01"
    assert code_label("group", "age_band=65+") == "Age band: 65+"  # a subgroup results.yaml does not list


def test_other_codes_read_as_words():
    assert code_label("ci_method", "log-log") == "Log-log" and code_label("ci_method", "log") == "Log"
    assert code_label("measure", "a1c") == measure_label("a1c") == "HbA1c"
    assert code_label("measure", "sbp", unit=True) == "Systolic blood pressure (mmHg)"
    assert code_label("kind", "readmission") == "Readmissions" == event_kind_label("readmission")
    assert code_label("category", "needs_additional_drug_therapy") == "Needs additional drug therapy"
    assert code_label("category", "all") == "All categories"
    assert code_label("track", "advanced") == "Advanced"
    assert humanise("adverse_drug_reaction") == "Adverse drug reaction"


def test_every_mtp_category_of_the_dictionary_has_a_label():
    for category in load_dictionary()["mtps"].column("category").allowed:
        label = code_label("category", category)
        assert "_" not in label and label[0].isupper(), category


def test_the_results_registry_is_not_an_input_table():
    assert "results" not in load_dictionary() and RESULTS_FILE not in {s.file for s in load_dictionary().values()}
    doc = load_results()
    assert len(doc["columns"]) >= 60 and "time_to_goal" in doc["tables"]


def test_every_registry_format_parses_and_every_label_is_words():
    for (table, column), fmt in registry().items():
        assert fmt.kind in KINDS and fmt.known, (table, column)
        assert fmt.label != column and "_" not in fmt.label, (table, column)


def test_a_bad_format_names_what_is_allowed():
    with pytest.raises(ValueError, match=r"results.yaml: column `x` format must be one of count, number.*got 'percnt:1'"):
        parse_format("percnt:1", where="results.yaml: column `x` format")
    assert parse_format("number:3") == ("number", 3) and parse_format("share") == ("share", 0)
    assert parse_format("money") == ("money", 0)
    with pytest.raises(ValueError, match=r"`pre_rate`: an entry may say label, unit, format, blank, code_unit; got 000 patient-months"):
        _from_entry("pre_rate", {"label": "Rate", "unit": "per 1", "000 patient-months": None}, "`pre_rate`")
    assert registry()[(None, "pre_rate")].unit == "per 1,000 patient-months"


def test_a_table_entry_overrides_the_column_default():
    assert column_format("events").label == "Events"
    assert column_format("events", "time_to_goal").label == "Reached goal"
    assert column_format("median_days", "time_to_goal").heading == "Median time to goal (days)"
    assert column_format("measure", "outcome_change").code_unit and not column_format("measure").code_unit


def test_an_unknown_column_gets_a_humanised_label_and_a_guessed_format():
    assert column_format("weird_thing").label == "Weird thing" and not column_format("weird_thing").known
    assert column_format("pct_flagged").kind == "percent" and column_format("fisher_p").kind == "p_value"
    assert column_format("extra_cost").kind == "money" and column_format("n_flagged").kind == "count"
    assert column_format("cost_multiplier_2").kind == "ratio"  # a multiplier is not dollars
    assert column_format("note_text", values=["a", None]).kind == "text"
    assert column_format("whatever", values=[1.0, 3.0]).kind == "count"


def test_format_cell_numbers():
    f = column_format
    assert format_cell(-0.8185, f("mean_change")) == "\u22120.82"
    assert format_cell(0.8185, f("mean_change")) == "0.82"
    assert format_cell(-0.001, f("mean_change")) == "0.00"  # rounds to zero: no sign
    assert format_cell(12345, f("n")) == "12,345" and format_cell(12345.0, f("patients")) == "12,345"
    assert format_cell(0.862, f("attendance_rate")) == "86%"  # a share shown as a percent
    assert format_cell(58.58, f("pct_goal_followup")) == "58.6%" and format_cell(58.0, f("pct_goal_followup")) == "58.0%"
    assert format_cell(-16.8, f("change_pct")) == "\u221216.8%"
    assert format_cell(1187296.18, f("cost_avoided")) == "$1,187,296"
    assert format_cell(-363761, f("net_return")) == "\u2212$363,761"
    assert format_cell(4.67e-50, f("p_value")) == "< 0.001" and format_cell(0.0419, f("logrank_p")) == "0.042"
    assert format_cell(0.83, f("rate_ratio")) == "0.83" and format_cell(0.5, f("cost_multiplier")) == "0.50"
    assert format_cell(373.0, f("median_days", "time_to_goal")) == "373" and format_cell(38.5, f("median_days")) == "38.5"
    assert format_cell(1234.56, f("pre_rate")) == "1,234.6"
    assert format_cell("0.86", f("attendance_rate")) == "86%"  # a number read back from a CSV as text


def test_format_cell_marks_text_codes_and_blanks():
    f = column_format
    assert format_cell("<11", f("n")) == "<11" and format_cell("*", f("rate_ratio")) == "*"
    assert format_cell("< 0.001", f("p_value")) == "< 0.001"
    assert format_cell(None, f("n")) == "\u2013" and format_cell(float("nan"), f("mean_change")) == "\u2013"
    assert format_cell(pd.NA, f("n")) == "\u2013" and format_cell("  ", f("exemplar")) == "\u2013"
    assert format_cell(float("nan"), f("median_ci_high", "time_to_goal")) == "not reached"
    assert format_cell("-we said so", f("exemplar")) == "-we said so"  # text is never re-signed
    assert format_cell("track=advanced", f("group")) == "Advanced track"
    assert format_cell("a1c", f("measure", "outcome_change")) == "HbA1c (%)"
    assert format_cell("ed_visit", f("kind")) == "ED visits" and format_cell("T01", f("team_id")) == "T01"


def test_spreadsheet_number_formats_follow_the_column():
    f = column_format
    assert f("n").number_format == '#,##0;"\u2212"#,##0'
    assert f("mean_change").number_format == '#,##0.00;"\u2212"#,##0.00'
    assert f("attendance_rate").number_format == '0%;"\u2212"0%'
    assert f("net_return").number_format == '"$"#,##0;"\u2212$"#,##0'
    assert f("p_value").number_format == "@" and f("group").number_format == "@"
    assert f("attendance_rate").stored_decimals == 2 and f("pct_resolved").stored_decimals == 1
    assert f("p_value").stored_decimals is None and f("net_return").stored_decimals == 0
