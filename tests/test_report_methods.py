"""Methods and limitations (evaluation/report/methods.py): the params that shape the numbers, stated with their
units and the methods actually used, and limitations that quote the cohort's own numbers.

Expected values come from the params given here, the data dictionary's YAML and tables written by hand."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evaluation.core.outputs import save_table
from evaluation.core.params import check
from evaluation.report.funder import suppression_note
from evaluation.report.methods import limitations, methods
from test_report import save_seed_value_tables

UNITS = {m: s.get("unit", "") for m, s in yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data_dictionary" / "measurements.yaml").read_text(encoding="utf-8")
)["measures"].items()}


@pytest.fixture
def params(tmp_path, tiny_cohort):
    return check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "goals": {"a1c": "< 8", "ldl": "<= 100", "sbp": "< 140", "dbp": "< 90", "inr": "2-3"},
                  "windows": {"baseline_days": 60, "grace_days": 14, "followup_min_days": 120, "followup_max_days": 300}})


def notes(params) -> dict[str, str]:
    return {n.label: n.text for n in methods(params)}


def test_methods_state_the_params_with_their_units(params):
    m = notes(params)
    assert m["Data as of"].startswith("December 31, 2016.")
    assert m["Goals"].startswith(f"HbA1c below 8{UNITS['a1c']}; ")
    assert f"LDL cholesterol 100 {UNITS['ldl']} or below" in m["Goals"]
    assert f"systolic blood pressure below 140 {UNITS['sbp']}" in m["Goals"]
    assert "INR 2 to 3;" in m["Goals"] and "ratio" not in m["Goals"]  # a ratio is written without a unit
    assert f"blood pressure: systolic below 140 {UNITS['sbp']} and diastolic below 90 {UNITS['dbp']} on the same day" in m["Goals"]
    w = m["Baseline and follow-up"]
    assert "from 60 days before it to 14 days after" in w and "last reading 120 to 300 days after enrollment" in w
    assert m["Confidence intervals"] == "All confidence intervals are 95% (significance level 0.05)."
    assert m["Subgroups"] == "Results are also given by track and condition."
    assert m["Small numbers"] == suppression_note(params)  # the funder outputs' own sentence, not a second one
    assert "Time to goal" not in m and "Acute-care use" not in m  # those analyses did not run


def test_methods_name_the_ci_method_censoring_and_models_that_ran(params):
    save_table(pd.DataFrame({"measure": ["a1c"], "group": ["all"], "n": [40], "events": [20], "median_days": [90.0]}),
               params, "time_to_goal")
    save_table(pd.DataFrame({"measure": ["a1c", "a1c", "a1c"], "term": ["intercept (change at mean baseline)",
                             "track=advanced", "baseline (per unit above mean)"], "estimate": [-0.7, -0.3, -0.2]}),
               params, "outcome_mixed_model")
    save_seed_value_tables(params)
    m = notes(params)
    assert "log-log transform" in m["Time to goal"] and "censored at their last reading" in m["Time to goal"]
    assert "counted for as long as they were followed" in m["Time to goal"]
    assert "Exits because a patient died are competing events" in m["Time to goal"]
    assert "random intercept per team" in m["Mixed model"] and "baseline value and track" in m["Mixed model"]
    assert "Poisson model with standard errors clustered by patient" in m["Acute-care use"]
    assert "$10,390 per readmission" in m["Cost and return"]  # seed 002: every readmission cost $10,390
    log = dataclasses.replace(params, ci_method="log", value={**params.value, "rate_model": "negative_binomial"})
    m = notes(log)
    assert "uses the log transform" in m["Time to goal"] and "log-log" not in m["Time to goal"]
    assert "negative binomial model" in m["Acute-care use"] and "Poisson model with" not in m["Acute-care use"]


def test_limitations_are_short_sentences_with_the_cohort_numbers(params):
    """Patients without follow-up, by hand: HbA1c 45, LDL 7 (a small count: <11); sbp has 5 paired patients, so it
    is not reported at all. Sensitivity (seed 002):
    the net return is positive in as many combinations as the saved table says."""
    base = list(limitations(params))
    assert 4 <= len(base) <= 8
    assert "no comparison group" in base[0] and any("regression to the mean" in s for s in base)
    save_table(pd.DataFrame({"measure": ["a1c", "ldl", "sbp"], "group": "all", "n": [95, 60, 5],
                             "n_no_followup": [45, 7, 3]}), params, "outcome_change")
    save_seed_value_tables(params)
    found = limitations(params)
    assert 4 <= len(found) <= 8
    for sentence in found:
        assert sentence.endswith(".") and not re.search(r"\.\s+[A-Z]", sentence[:-1]), sentence  # one sentence each
    [missing] = [s for s in found if "none at follow-up" in s]
    assert "HbA1c: 45 patients; LDL cholesterol: <11 patients" in missing
    assert "140" not in missing and "67" not in missing  # with the paired 60 of the findings, 67 would give the 7 away
    assert "systolic" not in missing  # 5 paired patients: the measure is not reported, nor its gap
    sens = pd.read_csv(params.tables_dir / "value_sensitivity.csv")
    [costs] = [s for s in found if s.startswith("The cost avoided assumes")]
    assert f"positive in {int((sens['net_return'] > 0).sum())} of {len(sens)} combinations" in costs
    assert f"{100 * sens['attribution_share'].min():.0f}% to {100 * sens['attribution_share'].max():.0f}%" in costs
