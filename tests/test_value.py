"""Value and ROI (evaluation/analyses/value/) and its figures, checked against hand arithmetic.

The anchor is seed 002 (AIMM A3 Collaborative, 2018): "90-day readmissions were reduced by 59%",
"Net Return on Investment (ROI) of $486,304 (141%)", "ROI of $500 per patient". The rate ratios' own
reference tests are in test_stats_rates.py.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from conftest import TINY, write_cohort
from evaluation import report
from evaluation.analyses.time_to_goal.mtp import mtp_resolution, mtp_resolution_data
from evaluation.analyses.value import figures as value_figures
from evaluation.analyses.value.compute import (DAYS_PER_MONTH, MTP_RESOLUTION_METHOD, ValueAnalysis, analyse,
                                               count_events, costs_per_event, exposure_windows, mtp_categories,
                                               mtp_summary, net_return, program_cost_by_group, readable,
                                               report_order, sensitivity, sensitivity_grid)
from evaluation.analyses.value.findings import findings_value
from evaluation.core.errors import ParamsError
from evaluation.core.outputs import save_table
from evaluation.core.params import check
from evaluation.data.loading import load_cohort


def seed_002_cohort():
    """100 patients observed 365 days before and after enrollment (no exits), two teams.

    Readmissions: 136 in the year before, 56 in the year after, each costing $10,390. Program costs: $300,000
    shared by the collaborative and $44,896 for team T1.
    """
    n = 100
    patients = pd.DataFrame({
        "patient_id": [f"P{i:03d}" for i in range(n)], "team_id": ["T1"] * 50 + ["T2"] * 50,
        "enrolled_on": pd.Timestamp("2015-03-01"), "exited_on": pd.NaT, "diabetes": [1] * 60 + [0] * 40,
    })
    teams = pd.DataFrame({"team_id": ["T1", "T2"], "track": ["initial", "advanced"]})
    rows = [(f"P{i % n:03d}", pd.Timestamp("2014-06-01"), "readmission", 10_390.0) for i in range(136)]
    rows += [(f"P{i % n:03d}", pd.Timestamp("2015-06-01"), "readmission", 10_390.0) for i in range(56)]
    utilization = pd.DataFrame(rows, columns=["patient_id", "occurred_on", "kind", "cost"])
    costs = pd.DataFrame({"team_id": [None, "T1"], "item": ["coaching", "pharmacist time"], "amount": [300_000.0, 44_896.0]})
    return patients, teams, utilization, costs


def test_seed_002_net_return_and_roi():
    """Seed 002: net return $486,304 at 141% ROI; readmissions down 59%.

    By hand: pre and post windows are both 365 days for all 100 patients, so patient-months are equal
    (100 x 365 / 30.4375 = 1,199.18) and cost avoided = (pre rate - post rate) x post patient-months x cost
    = (136 - 56) events x $10,390 = $831,200. Program cost = 300,000 + 44,896 = $344,896.
    Net return = 831,200 - 344,896 = $486,304; net ROI = 486,304 / 344,896 = 141.0%.
    Readmission reduction = 1 - 56/136 = 58.8%, i.e. 59%.
    """
    patients, teams, utilization, costs = seed_002_cohort()
    va = ValueAnalysis(pre_days=365, post_days=365, as_of="2016-12-31").fit(
        patients, utilization=utilization, program_costs=costs, teams=teams)
    head = va.headline()
    assert head["cost_avoided"] == pytest.approx(831_200, abs=1e-6)  # exact dollars; float rounding ~1e-10 here
    assert head["program_cost"] == pytest.approx(344_896, abs=1e-9)
    assert head["net_return"] == pytest.approx(486_304, abs=1e-6)
    assert round(head["net_roi_pct"]) == 141
    assert head["net_roi_pct"] == pytest.approx(100 * 486_304 / 344_896)
    assert head["roi_per_patient"] == pytest.approx(4_863.04)
    r = va.rates_.set_index(["kind", "group"]).loc[("readmission", "all")]
    assert r.pre_patient_months == pytest.approx(100 * 365 / DAYS_PER_MONTH)
    assert r.pre_rate == pytest.approx(1000 * 136 / (100 * 365 / DAYS_PER_MONTH))
    summary = va.summary.set_index(["metric", "group"])["value"]
    assert round(summary[("readmission_reduction_pct", "all")]) == 59
    assert summary[("readmission_reduction_pct", "all")] == pytest.approx(100 * (1 - 56 / 136))
    assert summary[("net_return", "all")] == pytest.approx(486_304, abs=1e-6)


def test_seed_002_roi_per_patient():
    """Seed 002, Midwest system: "Total cost avoided of $870,000 and a ROI of $500 per patient".

    With 1,000 patients that is a program cost of 870,000 - 500 x 1,000 = $370,000: net return $500,000,
    $500 per patient, net ROI 500,000 / 370,000 = 135.1%.
    """
    out = net_return(870_000, 370_000, 1_000)
    assert out["roi_per_patient"] == 500
    assert out["net_return"] == 500_000
    assert out["net_roi_pct"] == pytest.approx(135.135135, rel=1e-6)  # hand value printed to 6 decimals


def test_track_strata_split_shared_costs_by_patients():
    """Track strata: own team costs plus shared costs by share of patients (50/100 each).

    initial (T1): 44,896 + 300,000 x 0.5 = 194,896; advanced (T2): 0 + 150,000.
    Cost avoided by hand: T1 patients P000-P049 have pre readmissions 2 each for P000-P035 and 1 for
    P036-P049 (136 = 100 + 36: patients 0-35 got a second one) -> 36 x 2 + 14 = 86; post 50 (P000-P049, one each
    of the first 56 minus P050-P055) -> (86 - 50) x 10,390 = 374,040.
    """
    patients, teams, utilization, costs = seed_002_cohort()
    va = ValueAnalysis(as_of="2016-12-31").fit(patients, utilization=utilization, program_costs=costs, teams=teams)
    roi = va.roi_.set_index("group")
    assert roi.at["track=initial", "program_cost"] == pytest.approx(194_896)
    assert roi.at["track=advanced", "program_cost"] == pytest.approx(150_000)
    assert roi.at["track=initial", "cost_avoided"] == pytest.approx(374_040, abs=1e-6)
    assert roi.at["track=initial", "cost_avoided"] + roi.at["track=advanced", "cost_avoided"] == pytest.approx(831_200)
    assert np.isnan(roi.at["condition=diabetes", "program_cost"])  # a patient-level stratum has no program cost
    assert list(va.by_team_["team_id"]) == ["T1", "T2"]
    assert va.by_team_.set_index("team_id").at["T1", "net_return"] == pytest.approx(374_040 - 194_896, abs=1e-6)
    # the team rates behind it (by hand, above): T1's readmissions 86 before, 50 after, 50 patients x 365 days
    t1 = va.team_rates_.set_index(["kind", "team_id"]).loc[("readmission", "T1")]
    assert (t1.pre_events, t1.post_events, t1.patients) == (86, 50, 50)
    assert t1.pre_patient_months == pytest.approx(50 * 365 / DAYS_PER_MONTH)
    assert t1.pre_rate == pytest.approx(1000 * 86 / (50 * 365 / DAYS_PER_MONTH))


def test_windows_cut_at_exit_and_as_of():
    """Post window ends at min(enrolled + post_days, exit + 1 day, as_of + 1 day); pre window is [enrolled - pre_days, enrolled).

    P1: enrolled 2015-01-01, exited 2015-03-01 -> post is 2015-01-01..2015-03-01 = 59 + 1 = 60 days = 60/30.4375 months.
    P2: enrolled 2016-12-01, as of 2016-12-31 -> 31 days. P3: full 365 days.
    """
    patients = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "team_id": "T1",
                             "enrolled_on": pd.to_datetime(["2015-01-01", "2016-12-01", "2015-06-01"]),
                             "exited_on": pd.to_datetime(["2015-03-01", None, None])})
    w = exposure_windows(patients, pre_days=365, post_days=365, as_of="2016-12-31").set_index("patient_id")
    assert w.at["P1", "post_months"] == pytest.approx(60 / DAYS_PER_MONTH)
    assert w.at["P2", "post_months"] == pytest.approx(31 / DAYS_PER_MONTH)
    assert w.at["P3", "post_months"] == pytest.approx(365 / DAYS_PER_MONTH)
    assert w.at["P1", "pre_months"] == pytest.approx(365 / DAYS_PER_MONTH)
    events = pd.DataFrame({"patient_id": ["P1"] * 5, "kind": "ed_visit", "occurred_on": pd.to_datetime(
        ["2014-01-01",  # pre window starts 2014-01-01 (365 days before): in
         "2013-12-31",  # one day earlier: out
         "2015-01-01",  # enrollment day: post
         "2015-03-01",  # exit day: post
         "2015-03-02"])})  # after exit: out
    counts = count_events(events, w.reset_index()).set_index(["patient_id", "kind"])
    assert counts.loc[("P1", "ed_visit"), "pre_events"] == 1
    assert counts.loc[("P1", "ed_visit"), "post_events"] == 2
    assert counts.loc[("P3", "admission"), "pre_events"] == 0


def test_cost_per_event_from_data_or_params():
    util = pd.DataFrame({"patient_id": ["P1"] * 3, "kind": ["admission", "admission", "ed_visit"],
                         "cost": [10_000.0, 14_000.0, np.nan], "occurred_on": pd.Timestamp("2015-01-01")})
    c = costs_per_event(util, {"ed_visit": None, "readmission": 9_000}).set_index("kind")
    assert c.at["admission", "cost_per_event"] == 12_000  # (10,000 + 14,000) / 2
    assert np.isnan(c.at["ed_visit", "cost_per_event"])  # no cost in the data, none in params
    assert c.at["readmission", "cost_per_event"] == 9_000
    assert "params" in c.at["readmission", "source"]


def test_unknown_cost_is_left_out_with_a_note():
    patients, teams, utilization, costs = seed_002_cohort()
    utilization = utilization.assign(cost=np.nan)
    va = ValueAnalysis(as_of="2016-12-31").fit(patients, utilization=utilization, program_costs=costs, teams=teams)
    assert any("readmission" in n and "cost" in n for n in va.notes_)
    va = ValueAnalysis(as_of="2016-12-31", cost_per_event={"readmission": 5_000}).fit(
        patients, utilization=utilization, program_costs=costs, teams=teams)
    assert va.headline()["cost_avoided"] == pytest.approx(80 * 5_000)


def test_sensitivity_grid_by_hand():
    """Base cost avoided 2 events x $500 = $1,000; program $500. At 0.5 x cost and 50% attributed:
    1,000 x 0.5 x 0.5 = 250 avoided, net -250, ROI -50%. At 1.5 x and 100%: 1,500, net 1,000, ROI 200%."""
    s = sensitivity(pd.Series({"admission": 2.0}), pd.Series({"admission": 500.0}), 500.0,
                    cost_multipliers=[0.5, 1.5], attribution_shares=[0.5, 1.0], patients=10)
    s = s.set_index(["cost_multiplier", "attribution_share"])
    assert s.loc[(0.5, 0.5), "cost_avoided"] == 250
    assert s.loc[(0.5, 0.5), "net_roi_pct"] == -50
    assert s.loc[(1.5, 1.0), "net_roi_pct"] == 200
    assert s.loc[(1.5, 1.0), "roi_per_patient"] == 100


def test_program_cost_without_team_costs():
    patients = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "team_id": ["T1", "T1", "T2"]})
    groups = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P1", "P2", "P3"],
                           "group": ["all"] * 3 + ["track=initial"] * 2 + ["track=advanced"]})
    costs = pd.DataFrame({"team_id": [None], "item": ["coaching"], "amount": [300.0]})
    out = program_cost_by_group(costs, patients, groups).set_index("group")["program_cost"]
    assert out["all"] == 300 and out["track=initial"] == 200 and out["track=advanced"] == 100


def test_rate_model_param_is_checked():
    with pytest.raises(ParamsError, match="poisson_robust, poisson, negative_binomial; got 'quasi'"):
        ValueAnalysis(rate_model="quasi")
    with pytest.raises(ParamsError, match="cost_per_event"):
        ValueAnalysis(cost_per_event={"icu": 1})
    params = check({"cohort_id": "x", "data_dir": "data/x", "value": {"rate_model": "poisson"}})
    assert ValueAnalysis.from_params(params).rate_model == "poisson"


def test_missing_tables_leave_notes_not_errors():
    patients, teams, _, _ = seed_002_cohort()
    va = ValueAnalysis(as_of="2016-12-31").fit(patients, teams=teams)
    assert va.rates_.empty and va.roi_.empty and va.sensitivity_ is None and va.mtps_ is None
    assert va.note("rates") and va.note("mtps")
    assert list(va.summary.columns[:3]) == ["metric", "group", "value"]
    assert set(va.summary["metric"]) == {"patients"}


def test_value_table_has_the_brief_columns_and_all_first():
    patients, teams, utilization, costs = seed_002_cohort()
    va = ValueAnalysis(as_of="2016-12-31").fit(patients, utilization=utilization, program_costs=costs, teams=teams)
    s = va.summary
    assert list(s.columns[:3]) == ["metric", "group", "value"]
    assert s["group"].iloc[0] == "all"
    assert {"readmission_rate_ratio", "readmission_pre_rate_per_1000_pm", "cost_avoided", "program_cost",
            "net_roi_pct", "roi_per_patient"} <= set(s["metric"])
    assert va.note("roi") is None


def test_readable_formats_dollars_and_percentages():
    patients, teams, utilization, costs = seed_002_cohort()
    va = ValueAnalysis(as_of="2016-12-31").fit(patients, utilization=utilization, program_costs=costs, teams=teams)
    roi = readable(va.roi_).set_index("group")
    assert roi.at["all", "net_return"] == "$486,304" and roi.at["all", "net_roi_pct"] == "141.0%"
    long = readable(va.summary).set_index(["metric", "group"])["value"]
    assert long[("cost_avoided", "all")] == "$831,200" and long[("readmission_reduction_pct", "all")] == "58.8%"




def test_groups_come_from_the_params_subgroups_in_report_order():
    """``all`` first, then each subgroup's strata in the params' order, each sorted by name; a patient-level
    stratum (sex) sits beside the team-level one (track, from teams.csv)."""
    patients = pd.DataFrame({"patient_id": ["P1", "P2"], "team_id": ["T1", "T2"], "diabetes": [1, 0],
                             "hypertension": [1, 1], "sex": ["F", "M"], "enrolled_on": pd.Timestamp("2015-03-01")})
    teams = pd.DataFrame({"team_id": ["T1", "T2"], "track": ["initial", "advanced"]})
    va = ValueAnalysis(as_of="2016-12-31", subgroups=("track", "condition", "sex")).fit(patients, teams=teams)
    assert report_order(va.groups_["group"]) == ["all", "track=advanced", "track=initial", "condition=diabetes",
                                                 "condition=hypertension", "sex=F", "sex=M"]
    assert set(va.groups_.loc[va.groups_["patient_id"] == "P1", "group"]) == {
        "all", "track=initial", "condition=diabetes", "condition=hypertension", "sex=F"}
    assert list(va.summary["group"]) == report_order(va.groups_["group"])  # one `patients` row per group
    with pytest.raises(ParamsError, match="got 'colour'"):
        ValueAnalysis(subgroups=("colour",)).fit(patients, teams=teams)


def test_mtp_counts_by_hand():
    """3 patients, 4 MTPs (one open): 4/3 per patient, 75% resolved; the patient with no MTP stays in the
    denominator. Without resolution times the median is blank, never the resolved-only median."""
    groups = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "group": "all"})
    mtps = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2"], "category": ["nonadherence", "nonadherence", "other", "dosage_too_low"],
                         "identified_on": pd.to_datetime(["2015-01-01"] * 4),
                         "resolved_on": pd.to_datetime(["2015-01-11", "2015-01-21", "2015-02-10", None])})
    s = mtp_summary(mtps, groups).iloc[0]
    assert s.mtps_per_patient == pytest.approx(4 / 3)
    assert s.pct_resolved == 75
    assert s.patients_with_mtp == 2 and s.mtps_unresolved == 1
    assert np.isnan(s.median_days_to_resolution)
    cats = mtp_categories(mtps).set_index("category")
    assert cats.at["nonadherence", "identified"] == 2 and cats.at["all", "identified"] == 4
    assert cats.index[0] == "nonadherence" and cats.index[-1] == "all"
    assert cats.at["all", "unresolved"] == 1


MTPS_CSV = (
    "mtp_id,patient_id,identified_on,category,resolved_on\n"
    "M1,P001,2015-03-01,nonadherence,2015-03-11\n"
    "M2,P001,2015-03-01,nonadherence,2015-03-21\n"
    "M3,P003,2015-03-01,dosage_too_low,2015-03-31\n"
    "M4,P003,2015-03-01,other,\n"
    "M5,P003,2015-03-01,other,\n"
)


@pytest.fixture
def mtp_params(tmp_path):
    """The tiny cohort with five MTPs, all identified 2015-03-01: resolved after 10, 20 and 30 days, two still
    open at the data end (the last measurement, 2015-06-01: 92 days)."""
    folder = write_cohort(tmp_path / "tiny_mtps", TINY | {"mtps.csv": MTPS_CSV})
    return check({"cohort_id": "tiny", "data_dir": str(folder), "output_dir": str(tmp_path / "report"),
                  "as_of": "2016-12-31", "suppress_below": 2, "suppress_below_reason": "hand-made test cohort"})


def test_mtp_resolution_is_the_kaplan_meier_median_with_open_problems_censored(mtp_params):
    """By hand: 5 at risk; resolved at 10 (S = 4/5), 20 (S = 4/5 x 3/4 = 0.6), 30 (S = 0.6 x 2/3 = 0.4): the
    median is 30 days. The resolved-only median would be 20: it ignores the two problems still open at 92 days.
    Track initial (P001: 10 and 20 days) has S = 1/2 exactly from 10 to 20 days: the median is the midpoint, 15
    (R survival's convention); track advanced (P003: 30 days, two open) never falls to 1/2: not reached. The whole cohort's estimate is notebook 04's, to the day."""
    cohort = load_cohort(mtp_params)
    va = analyse(mtp_params, cohort)
    m = va.mtps_.set_index("group")
    assert m.at["all", "median_days_to_resolution"] == 30
    assert m.at["all", "mtps_identified"] == 5 and m.at["all", "mtps_resolved"] == 3
    assert m.at["track=initial", "median_days_to_resolution"] == 15
    assert np.isnan(m.at["track=advanced", "median_days_to_resolution"])
    assert (m["method"] == MTP_RESOLUTION_METHOD).all() and MTP_RESOLUTION_METHOD.startswith("Kaplan-Meier median")
    times = mtp_resolution_data(cohort, mtp_params)
    assert sorted(times.loc[times["event"] == 0, "days"]) == [92, 92]
    km = mtp_resolution(times, mtp_params).set_index("group").loc["all"]
    assert [m.at["all", "median_ci_low"], m.at["all", "median_ci_high"]] == pytest.approx(
        [km.median_ci_low, km.median_ci_high], nan_ok=True)  # the upper limit is not reached with 5 problems
    assert m.at["all", "median_ci_low"] <= 30
    summary = va.summary.set_index(["metric", "group"])["value"]
    assert summary[("median_days_to_resolution", "all")] == 30
    assert summary[("median_days_to_resolution_ci_low", "all")] == km.median_ci_low


def test_findings_state_the_kaplan_meier_median(mtp_params):
    va = analyse(mtp_params, load_cohort(mtp_params))
    save_table(va.summary, mtp_params, "value")
    text = " ".join(findings_value(mtp_params))
    assert "Pharmacists identified 5 medication therapy problems (1.7 per patient) and confirmed 60% of them resolved" in text
    assert "half were confirmed resolved within 30 days (the 95% confidence interval starts at " in text
    assert "counting each problem still open for as long as it was followed." in text
    assert "20 days" not in text  # the resolved-only median


def seed_params(tmp_path, **extra):
    return check({"cohort_id": "seed", "data_dir": "data/seed", "output_dir": str(tmp_path / "report"), **extra})


def seed_analysis(utilization=None, **fit) -> ValueAnalysis:
    patients, teams, seed_utilization, costs = seed_002_cohort()
    return ValueAnalysis(as_of="2016-12-31").fit(
        patients, utilization=seed_utilization if utilization is None else utilization, program_costs=costs,
        teams=teams, **fit)


def test_utilization_figure_draws_each_kind_before_and_after(tmp_path):
    """Seed 002: 136 readmissions before and 56 after in 1,199.18 patient-months each: 113.4 and 46.7 per
    1,000, down 59%; no ED visits or admissions (bars of height 0, no change stated)."""
    spec = value_figures.utilization_rates(seed_analysis(), seed_params(tmp_path))
    assert (spec.figure_id, spec.section, spec.notebook) == ("value_utilization_rates", "value", "05_value")
    ax = spec.figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ED visits", "Admissions", "Readmissions"]
    heights = [p.get_height() for p in ax.patches]
    months = 100 * 365 / DAYS_PER_MONTH
    assert heights == pytest.approx([0, 0, 0, 0, 1000 * 136 / months, 1000 * 56 / months])
    assert "-59%" in [t.get_text() for t in ax.texts]
    assert spec.caption == ("Acute-care use per 1,000 patient-months in the 365 days before and the 365 days after "
                            "enrollment in CMM: readmissions fell 59% (from 113.4 to 46.7 per 1,000 patient-months).")
    assert spec.alt_text.endswith(spec.caption)
    plt.close(spec.figure)


def test_utilization_figure_leaves_out_a_kind_with_a_small_count(tmp_path):
    """5 admissions before and 3 after (fewer than 11 in a window): neither drawn nor described."""
    _, _, utilization, _ = seed_002_cohort()
    extra = pd.DataFrame({"patient_id": ["P001"] * 8, "kind": "admission", "cost": 9_000.0,
                          "occurred_on": pd.to_datetime(["2014-06-01"] * 5 + ["2015-06-01"] * 3)})
    spec = value_figures.utilization_rates(seed_analysis(pd.concat([utilization, extra], ignore_index=True)),
                                           seed_params(tmp_path))
    ax = spec.figure.axes[0]
    assert len(ax.patches) == 4  # ED visits and readmissions, before and after
    assert "fewer than 11\nevents: not shown" in [t.get_text() for t in ax.texts]
    assert "admissions: based on fewer than 11 events, not shown" in spec.caption
    assert "; admissions fell" not in spec.caption and ": admissions fell" not in spec.caption
    plt.close(spec.figure)


def test_roi_figure_bars_and_caption(tmp_path):
    """Cost avoided $831,200 (all readmissions), program cost $344,896, net return $486,304 (141%), $4,863 per
    patient (test_seed_002_net_return_and_roi)."""
    spec = value_figures.roi(seed_analysis(), seed_params(tmp_path))
    assert spec.figure_id == "value_roi" and spec.section == "value"
    ax = spec.figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Cost avoided: ED visits", "Cost avoided: admissions", "Cost avoided: readmissions", "Cost avoided (total)",
        "Program cost", "Net return"]
    assert [p.get_width() for p in ax.patches] == pytest.approx([0, 0, 831_200, 831_200, 344_896, 486_304])
    assert " $486,304 " in [t.get_text() for t in ax.texts]
    assert ax.get_title() == "Return on investment: net ROI 141%"
    assert spec.caption == ("Cost avoided $831,200 against a program cost of $344,896: net return $486,304 "
                            "(net ROI 141%), $4,863 per patient.")
    plt.close(spec.figure)


def test_sensitivity_figure_grid_and_caption(tmp_path):
    """Net ROI = (831,200 x multiplier x share - 344,896) / 344,896: positive when multiplier x share > 0.415,
    which 12 of the 20 pairs are (by hand: 1 + 2 + 3 + 3 + 3 from 0.5x to 1.5x); the least favourable, 0.5x
    and 25%, gives (103,900 - 344,896) / 344,896 = -70%."""
    va = seed_analysis()
    spec = value_figures.roi_sensitivity(va, seed_params(tmp_path))
    assert spec.figure_id == "value_sensitivity"
    ax = spec.figure.axes[0]
    assert ax.images[0].get_array().shape == (4, 5)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["100%", "75%", "50%", "25%"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5x", "0.75x", "1x", "1.25x", "1.5x"]
    assert len(ax.texts) == 20 and ax.texts[15].get_text() == "-70%"  # row-major: the bottom row (25%) starts at 15
    assert list(sensitivity_grid(va.sensitivity_).index) == [1.0, 0.75, 0.5, 0.25]
    assert "the return is positive in 12 of 20" in spec.caption
    assert "the least favourable (0.5 x cost, 25% attributed) gives -70%" in spec.caption
    plt.close(spec.figure)


def test_mtp_figure_draws_the_suppressed_table_and_states_the_median(tmp_path):
    """24 nonadherence MTPs (12 resolved after 10 days, 12 after 50) and 3 open 'other' ones, open at 100 days.
    Kaplan-Meier: S = 15/27 after 10 days, 15/27 x 3/15 = 0.11 after 50: median 50 days (the resolved-only
    median would be 30). 3 open problems is a small count: the share resolved is not stated, and the
    suppressed cells are labelled, not drawn."""
    params = seed_params(tmp_path)
    ids = [f"P{i:03d}" for i in range(27)]
    resolved = pd.to_datetime(["2015-04-11"] * 12 + ["2015-05-21"] * 12 + [None] * 3)
    mtps = pd.DataFrame({"patient_id": ids, "category": ["nonadherence"] * 24 + ["other"] * 3,
                         "identified_on": pd.Timestamp("2015-04-01"), "resolved_on": resolved})
    times = mtps.assign(days=[10.0] * 12 + [50.0] * 12 + [100.0] * 3, event=[1] * 24 + [0] * 3)
    patients, teams, utilization, costs = seed_002_cohort()
    va = ValueAnalysis(as_of="2016-12-31", params=params).fit(
        patients, utilization=utilization, program_costs=costs, teams=teams, mtps=mtps, mtp_times=times)
    safe = report.suppress_like("value_mtp_categories", va.mtp_categories_, params.suppress_below).table
    spec = value_figures.mtps_by_category(safe, va, params)
    assert spec.figure_id == "value_mtps" and spec.section == "value"
    ax = spec.figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["nonadherence", "other"]
    cells = safe[safe["category"] != "all"][["identified", "resolved"]]
    shown = pd.to_numeric(cells.stack(), errors="coerce")
    assert len(ax.patches) == shown.notna().sum()  # one bar per number the funder sees
    assert sum("(suppressed)" in t.get_text() for t in ax.texts) == shown.isna().sum() > 0
    assert spec.caption.startswith("27 medication therapy problems identified, share resolved suppressed")
    assert "the median time to confirmed resolution was 50 days (95% CI " in spec.caption
    assert MTP_RESOLUTION_METHOD in spec.caption and "most frequent category was nonadherence" in spec.caption
    plt.close(spec.figure)


def test_readable_leaves_missing_money_blank():
    roi = pd.DataFrame({"group": ["all", "condition=diabetes"], "program_cost": [-1_500.0, np.nan],
                        "net_roi_pct": [12.345, np.nan]})
    out = readable(roi).set_index("group")
    assert out.at["all", "program_cost"] == "-$1,500" and out.at["condition=diabetes", "program_cost"] == ""
    assert out.at["all", "net_roi_pct"] == "12.3%" and out.at["condition=diabetes", "net_roi_pct"] == ""
