"""Key findings and the executive summary (evaluation/report/findings.py and each analysis' findings.py): plain
words with units and true minus signs, the summary's count rule, every headline tied to a figure that was
exported, and one MTP resolution estimate (notebook 04's Kaplan-Meier median) everywhere a funder reads it.

Numbers are recomputed here from the tables the notebooks saved (or written out by hand), never copied from the
code under test."""
from __future__ import annotations

import dataclasses
import math
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evaluation.core.disclosure import small_counts_in_text
from evaluation.core.outputs import save_table
from evaluation.core.params import check, load_params
from evaluation.report.findings import key_findings
from test_report import save_seed_value_tables

UNITS = {m: s.get("unit", "") for m, s in yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data_dictionary" / "measurements.yaml").read_text(encoding="utf-8")
)["measures"].items()}
MINUS = "\u2212"
REPORT_ORDER = ["cohort", "engagement", "themes", "outcomes", "run_charts", "time_to_goal", "value"]


@pytest.fixture
def params(tmp_path, tiny_cohort):
    return check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "title": "Tiny cohort"})


@pytest.fixture
def small(small_report, monkeypatch):
    """The params of the session's small synthetic report (read only)."""
    monkeypatch.setenv("CMM_REPORTS_DIR", str(small_report.parent / "reports"))
    return load_params(small_report)


def test_findings_say_when_an_analysis_did_not_run(params):
    findings = key_findings(params)
    f = findings.table
    assert set(f["section"]) == {"engagement", "themes", "outcomes", "run_charts", "time_to_goal", "value"}
    assert f["finding"].str.contains("not analysed for this cohort").all()
    assert "tables/engagement_by_team.csv was not produced" in f["finding"].iloc[0]
    # no analysis ran: the summary is one sentence, the first finding (which says why), with no figure
    assert [(h.section, h.text, h.figure_id) for h in findings.headlines] == [("engagement", f["finding"].iloc[0], None)]


def test_value_findings_state_the_seed_002_story(params):
    """Seed 002: readmissions down 59% (1 - 56/136), cost avoided 80 x $10,390 = $831,200 against $344,896: a net
    return of $486,304, 141% of the program cost ($1.41 per dollar), $4,863 per patient (100 patients)."""
    save_seed_value_tables(params)
    findings = key_findings(params)
    text = " ".join(findings.table.query("section == 'value'")["finding"])
    assert "Readmissions fell by 59% in the 365 days after enrollment compared with the 365 days before" in text
    assert "valued at $831,200 against a program cost of $344,896" in text
    assert "a net return of $486,304 ($4,863 per patient), or $1.41 for every dollar the program cost" in text
    assert "(a net return on investment of 141%)" in text
    value = [h for h in findings.headlines if h.section == "value"]
    assert value[0].text.startswith("Readmissions fell by 59% after enrollment")
    assert "exceeds the program cost of $344,896: a net return of $486,304 (141%)" in value[1].text
    assert all(h.figure_id is None for h in value)  # no figure was exported: no headline claims one


def test_outcome_and_time_to_goal_findings(params):
    """HbA1c by hand: 9.0% -> 8.0%, change -1.0 (CI -1.3 to -0.7): a drop of 1.0 percentage points, CI 0.7 to
    1.3; sbp has 6 patients (too few); time to goal: a1c median 120 days (98 to 150), ldl no median (12 of 30
    reached it), sbp 5 goals reached (too few), dbp nobody (no sentence)."""
    save_table(pd.DataFrame({
        "measure": ["a1c", "a1c", "sbp"], "group": ["all", "track=a", "all"], "n": [50, 40, 6],
        "baseline_mean": [9.0, 9.1, 150.0], "followup_mean": [8.0, 8.1, 140.0], "mean_change": [-1.0, -1.0, -10.0],
        "change_ci_low": [-1.3, -1.4, -20.0], "change_ci_high": [-0.7, -0.6, 0.0], "t_stat": [-6.0, -5.0, -2.0],
        "p_value": [0.0000002, 0.00001, 0.1]}), params, "outcome_change")
    save_table(pd.DataFrame({"measure": ["a1c", "ldl", "sbp", "dbp"], "group": "all", "n": [40, 30, 20, 0],
                             "events": [30, 12, 5, 0], "median_days": [120.0, None, 200.0, None],
                             "median_ci_low": [98.0, None, 150.0, None], "median_ci_high": [150.0, None, None, None],
                             "ci_method": "log-log"}), params, "time_to_goal")
    f = key_findings(params).table.set_index("section")["finding"]
    outcomes = " ".join(f.loc[["outcomes"]])
    assert ("Average HbA1c fell from 9.0% at baseline to 8.0% at follow-up among the 50 patients with a reading at "
            "both times (a drop of 1.0 percentage points; 95% confidence interval 0.7 to 1.3).") in outcomes
    assert "Systolic blood pressure: fewer than 11 patients had a reading" in outcomes  # sbp has n = 6
    times = " ".join(f.loc[["time_to_goal"]])
    assert ("Half of the 40 patients not at their HbA1c goal (below 8%) at enrollment reached it within 120 days "
            "(95% confidence interval 98 to 150 days).") in times
    assert ("Fewer than half of the 30 patients not at their LDL cholesterol goal (below 100 mg/dL) at enrollment "
            "reached it during follow-up (12 did)") in times
    assert "Systolic blood pressure: fewer than 11 patients were not at goal at enrollment, or fewer than 11 reached it" in times
    assert len(f.loc[["time_to_goal"]]) == 3  # dbp had no patient: no sentence
    assert "log-log" not in times  # the CI method is a methods note, not a finding


def test_a_change_whose_interval_holds_zero_keeps_true_minus_signs(params):
    """LDL -2.5 mg/dL (CI -6.0 to 1.0) holds no change; its signs are U+2212, never a hyphen before a digit."""
    save_table(pd.DataFrame({"measure": ["ldl"], "group": ["all"], "n": [40], "baseline_mean": [120.0],
                             "followup_mean": [117.5], "mean_change": [-2.5], "change_ci_low": [-6.0],
                             "change_ci_high": [1.0]}), params, "outcome_change")
    [sentence] = key_findings(params).table.query("section == 'outcomes'")["finding"]
    assert f"a change of {MINUS}2.5 mg/dL; 95% confidence interval {MINUS}6.0 to 1.0, which includes no change" in sentence
    assert not re.search(r"(?<![\w-])-\d", sentence)


def test_every_sentence_of_a_full_report_is_plain_and_safe(small):
    """The small report: each measure's outcome sentence names its dictionary unit; no sentence has a hyphen for a
    minus sign, jargon the methods carry (log-log, paired t-test) or a small count of patients."""
    f = key_findings(small)
    change = pd.read_csv(small.tables_dir / "outcome_change.csv")
    outcomes = f.table.query("section == 'outcomes'")["finding"].tolist()
    for measure in change.loc[(change["group"] == "all") & change["baseline_mean"].notna() & (change["n"] >= 11), "measure"]:
        unit = {"%": "%", "ratio": ""}.get(UNITS[measure], f" {UNITS[measure]}")
        said = [s for s in outcomes if s.startswith("Average")]
        base = change.set_index(["measure", "group"]).loc[(measure, "all"), "baseline_mean"]
        assert any(f"{base:,.1f}{unit} at baseline" in s for s in said), measure
    for text in [*f.table["finding"], *(h.text for h in f.headlines)]:
        assert not re.search(r"(?<![\w-])-\d", text), text
        assert "log-log" not in text and "t-test" not in text and "p <" not in text, text
        assert small_counts_in_text(text, small.suppress_below) == [], text


def test_summary_is_five_to_seven_headlines_each_tied_to_an_exported_figure(small):
    """Every analysis ran: 7 headlines in report order (themes and run charts left out for the 3 of value), each
    figure one the notebooks exported (manifest.csv), with the numbers of the tables."""
    headlines = key_findings(small).headlines
    assert 5 <= len(headlines) <= 7
    assert [h.section for h in headlines] == ["cohort", "engagement", "outcomes", "time_to_goal", "value", "value", "value"]
    exported = set(pd.read_csv(small.figures_dir / "manifest.csv")["figure_id"])
    assert all(h.figure_id in exported for h in headlines), [h.figure_id for h in headlines]
    text = {h.section: h.text for h in headlines}
    teams = pd.read_csv(small.tables_dir / "patients_per_team.csv")
    assert f"{len(teams)} teams enrolled {teams['patients'].sum():,} patients" in text["cohort"]
    ttg = pd.read_csv(small.tables_dir / "time_to_goal.csv")
    first = ttg[(ttg["group"] == "all") & ttg["median_days"].notna() & (ttg["n"] >= 11) & (ttg["events"] >= 11)].iloc[0]
    assert f"within {first.median_days:g} days" in text["time_to_goal"]
    assert headlines[3].figure_id == f"survival_km_{first.measure}"


def test_an_analysis_that_did_not_run_leaves_its_headline_out(small, tmp_path):
    """Without tables/value.csv the value headlines go and the summary has room for themes and run charts; the
    sections follow report order."""
    copy = tmp_path / "small"
    shutil.copytree(small.output_dir, copy)
    (copy / "tables" / "value.csv").unlink()
    p = dataclasses.replace(small, output_dir=copy)
    sections = [h.section for h in key_findings(p).headlines]
    assert sections == ["cohort", "engagement", "themes", "outcomes", "run_charts", "time_to_goal"]
    assert sections == sorted(sections, key=REPORT_ORDER.index)


def test_one_mtp_resolution_estimate_everywhere(small):
    """Notebook 04's Kaplan-Meier median (tables/mtp_resolution.csv, unresolved censored), notebook 05's
    (value_mtps.csv and value.csv), the value figure's caption, the finding and the headline give the same days
    and CI; none gives the median of the resolved problems alone (computed here from mtps.csv)."""
    km = pd.read_csv(small.tables_dir / "mtp_resolution.csv").set_index("group").loc["all"]
    days = (float(km.median_days), float(km.median_ci_low), float(km.median_ci_high))
    mtps = pd.read_csv(small.tables_dir / "value_mtps.csv").set_index("group").loc["all"]
    assert (mtps.median_days_to_resolution, mtps.median_ci_low, mtps.median_ci_high) == pytest.approx(days, nan_ok=True)
    value = pd.read_csv(small.tables_dir / "value.csv").query("group == 'all'").set_index("metric")["value"]
    assert tuple(value[f"median_days_to_resolution{s}"] for s in ("", "_ci_low", "_ci_high")) == pytest.approx(days, nan_ok=True)
    median, low, high = (f"{d:g}" for d in days)
    caption = pd.read_csv(small.figures_dir / "manifest.csv").set_index("figure_id").at["value_mtps", "caption"]
    assert f"{median} days (95% CI {low} to {high}" in caption
    f = key_findings(small)
    said = " ".join(f.table.query("section == 'value'")["finding"])
    stated = f"half were confirmed resolved within {median} days (95% confidence interval {low} to {high} days)"
    assert stated in said and stated in f.headlines[-1].text and f.headlines[-1].figure_id == "value_mtps"
    raw = pd.read_csv(small.data_dir / "mtps.csv", parse_dates=["identified_on", "resolved_on"])
    resolved_only = (raw["resolved_on"] - raw["identified_on"]).dt.days.dropna().median()
    if not math.isclose(resolved_only, days[0]):
        assert f"within {resolved_only:g} days" not in said + caption
