"""Funder tables as a reader sees them (evaluation/report/contents.py story_table, funder.py FUNDER_TABLES):
labelled columns from data_dictionary/results.yaml, the columns a reader needs, and every cell formatted
(decimals per column, true minus signs, shares as percentages, codes by name, suppression marks kept).

Expected cells are computed here from the table's own counts, not by the formatting code."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from evaluation.core.columns import column_format
from evaluation.core.outputs import save_table
from evaluation.core.params import check
from evaluation.report.contents import StoryTable, story_table
from evaluation.report.funder import FUNDER_TABLES, funder_tables
from test_report import save_seed_value_tables

MINUS = "\u2212"
# A demo-shaped engagement table (tables/engagement_by_team.csv, 26 columns): T03 has 2 events with no record.
ENGAGEMENT = pd.DataFrame({
    "team_id": ["T01", "T02", "T03"], "track": ["initial", "initial", "advanced"],
    "events_offered": [29, 29, 29], "events_attended": [25, 27, 19], "attendance_rate": [25 / 29, 27 / 29, 19 / 27],
    "milestones_due": [5, 5, 5], "milestones_done": [4, 3, 3], "events_absent": [4, 2, 8],
    "events_not_recorded": [0, 0, 2], "events_recorded": [29, 29, 27],
    "attended_of_offered": [25 / 29, 27 / 29, 19 / 29], "rate_first_half": [13 / 14, 1.0, 0.75],
    "rate_second_half": [0.8, 13 / 15, 2 / 3], "milestones_listed": [5, 5, 5], "milestones_done_on_time": [2, 1, 3],
    "milestones_done_late": [2, 2, 0], "milestones_overdue": [1, 2, 2], "median_days_late": [8.0, 8.0, 0.0],
    "milestones_done_share": [0.8, 0.6, 0.6], "milestones_on_time_share": [0.4, 0.2, 0.6],
    "contribution_attendance": [43.103448, 46.551724, 35.185185], "contribution_milestones_done": [20.0, 15.0, 15.0],
    "contribution_milestones_on_time": [10.0, 5.0, 15.0], "engagement_score": [73.103448, 66.551724, 65.185185],
    "components_used": [3, 3, 3], "rank": [1, 2, 3]})


@pytest.fixture
def params(tmp_path, tiny_cohort):
    return check({"cohort_id": "tiny", "data_dir": str(tiny_cohort), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "title": "Tiny cohort"})


def _shown(params, name: str) -> StoryTable:
    tables = funder_tables(params)
    number = list(tables).index(name) + 1
    return story_table(number, name, tables[name])


def _column(t: StoryTable, key: str) -> list[str]:
    i = [c.key for c in t.columns].index(key)
    return [r[i] for r in t.rows]


def test_engagement_shows_the_columns_a_reader_needs_with_attendance_as_a_percent(params):
    save_table(ENGAGEMENT, params, "engagement_by_team")
    t = _shown(params, "engagement_by_team")
    assert len(ENGAGEMENT.columns) == 26 and 7 <= len(t.columns) <= 9
    assert t.header[:5] == ["Team", "Track", "Events offered", "Events attended", "Attendance of recorded events"]
    assert "Engagement score (0–100)" in t.header and "Rank" in t.header
    recorded = ENGAGEMENT["events_attended"] / (ENGAGEMENT["events_offered"] - ENGAGEMENT["events_not_recorded"])
    assert _column(t, "attendance_rate") == [f"{round(100 * r)}%" for r in recorded] == ["86%", "93%", "70%"]
    full = ENGAGEMENT["events_not_recorded"] == 0  # every event recorded: attendance is attended of offered
    offered = (100 * ENGAGEMENT["events_attended"] / ENGAGEMENT["events_offered"]).round()
    assert [c for c, f in zip(_column(t, "attendance_rate"), full) if f] == [f"{v:.0f}%" for v in offered[full]]
    assert _column(t, "track") == ["Initial", "Initial", "Advanced"]
    assert _column(t, "engagement_score") == ["73.1", "66.6", "65.2"]
    assert {c.key: c.numeric for c in t.columns} == {
        "team_id": False, "track": False, "events_offered": True, "events_attended": True, "attendance_rate": True,
        "milestones_due": True, "milestones_done": True, "engagement_score": True, "rank": True}
    assert "17 more columns are in funder/engagement_by_team.csv." in t.note
    csv = pd.read_csv(params.output_dir / "funder" / "engagement_by_team.csv")
    assert len(csv.columns) == 26  # the CSV keeps every column
    assert csv["attendance_rate"].tolist() == [0.86, 0.93, 0.7]  # kept to what 86% needs, not 0.9


def test_every_reader_column_of_every_funder_table_has_a_reader_label():
    for entry in FUNDER_TABLES:
        for column in entry.reader_columns or entry.columns or ():
            fmt = column_format(column, entry.name)
            assert fmt.known, f"{entry.name}.{column} is not in data_dictionary/results.yaml"
            assert fmt.label != column and "_" not in fmt.label, f"{entry.name}.{column}"


def test_value_tables_label_every_column_and_keep_marks(params):
    """The seed-002 value tables: every column written is in the registry; a small count stays <11 and its
    complement *; groups, kinds and money read as words and dollars."""
    save_seed_value_tables(params)
    tables = funder_tables(params)
    for name, st in tables.items():
        for column in st.table.columns:
            assert column_format(column, name).known, f"{name}.{column}"
    t = story_table(1, "value_utilization", tables["value_utilization"])
    raw = tables["value_utilization"].table
    row = raw.index[(raw["kind"] == "readmission") & (raw["group"] == "track=advanced")][0]
    assert raw.at[row, "post_events"] == "<11"
    shown = dict(zip([c.key for c in t.columns], t.rows[list(raw.index).index(row)]))
    assert shown["kind"] == "Readmissions" and shown["group"] == "Advanced track"
    assert shown["post_events"] == "<11" and shown["rate_ratio"] == "*"
    assert "All patients" in _column(t, "group") and "track=advanced" not in _column(t, "group")
    roi = story_table(2, "value_roi", tables["value_roi"])
    net = dict(zip(_column(roi, "group"), _column(roi, "net_return")))
    assert net["All patients"] == "$486,304"  # the value test's net return, in dollars
    sens = story_table(3, "value_sensitivity", tables["value_sensitivity"])
    multipliers = pd.to_numeric(pd.read_csv(params.output_dir / "tables" / "value_sensitivity.csv")["cost_multiplier"])
    assert _column(sens, "cost_multiplier") == [f"{m:.2f}" for m in multipliers]  # 0.5 stays 0.50, not 0
    negative = [c for c in _column(sens, "net_return") if not c.startswith("$")]
    assert negative and all(c.startswith(MINUS + "$") for c in negative)


def test_outcome_cells_carry_units_minus_signs_and_p_values(params):
    save_table(pd.DataFrame({"measure": ["a1c", "a1c", "sbp"], "group": ["all", "track=advanced", "all"],
                             "n": [367, 33, 290], "baseline_mean": [8.619073569, 8.760606061, 141.25],
                             "followup_mean": [7.800544959, 7.572727273, 133.5], "mean_change": [-0.8185286104, -1.187878788, -7.75],
                             "change_ci_low": [-0.9107618289, -1.647794057, -9.1], "change_ci_high": [-0.7262953918, -0.727963519, -6.4],
                             "p_value": [4.67e-50, 9.3e-06, 0.0123], "cohen_dz": [-0.91, -0.92, -0.5],
                             "pct_goal_baseline": [33.24250681, 33.33333333, 40.0], "pct_goal_followup": [58.58310627, 63.63636364, 52.5],
                             "mcnemar_p": [5.1e-25, 0.00195, 0.2]}), params, "outcome_change")
    t = _shown(params, "outcome_change")
    assert t.header[:3] == ["Measure", "Group", "Patients"] and "Mean at baseline" in t.header
    assert _column(t, "measure") == ["HbA1c (%)", "HbA1c (%)", "Systolic blood pressure (mmHg)"]
    assert _column(t, "mean_change") == [MINUS + "0.82", MINUS + "1.19", MINUS + "7.75"]
    assert _column(t, "p_value") == ["< 0.001", "< 0.001", "0.012"]
    assert _column(t, "pct_goal_followup") == ["58.6%", "63.6%", "52.5%"]
    assert _column(t, "group") == ["All patients", "Advanced track", "All patients"]
    assert "cohen_dz" not in [c.key for c in t.columns]  # analysts' columns stay in the CSV


def test_time_to_goal_says_not_reached_and_names_the_method(params):
    save_table(pd.DataFrame({"measure": "a1c", "group": ["all", "track=advanced", "track=initial"], "n": [278, 25, 253],
                             "events": [114, 11, 103], "censored": [164, 14, 150], "median_days": [373.0, None, 373.0],
                             "median_ci_low": [289.0, 186.0, 282.0], "median_ci_high": [None, None, 410.5],
                             "ci_method": "log-log", "logrank_p": [None, 0.9427674769, 0.9427674769]}), params, "time_to_goal")
    t = _shown(params, "time_to_goal")
    assert "Median time to goal (days)" in t.header and "Reached goal" in t.header
    assert _column(t, "median_days") == ["373", "not reached", "373"]
    assert _column(t, "median_ci_high") == ["not reached", "not reached", "410.5"]
    assert _column(t, "logrank_p") == ["\u2013", "0.943", "0.943"]
    assert "ci_method" not in [c.key for c in t.columns] and "Not reached" in t.note


def test_numbers_of_a_column_have_one_number_of_decimals(params):
    """Every number cell of a numeric column has the same decimals (marks, dashes and words left out)."""
    save_seed_value_tables(params)
    save_table(ENGAGEMENT, params, "engagement_by_team")
    tables = funder_tables(params)
    for name, st in tables.items():
        t = story_table(1, name, st)
        for i, col in enumerate(t.columns):
            if not col.numeric or column_format(col.key, name).kind in ("p_value", "days"):
                continue
            places = {len(m.group(1) or "") for r in t.rows if (m := re.fullmatch(r"[\u2212$]*[\d,]+(?:\.(\d+))?%?", r[i].replace("$", "")))}
            assert len(places) <= 1, (name, col.key, places)
