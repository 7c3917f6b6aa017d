"""Value and ROI (evaluation/analyses/value/) and its figures, checked against hand arithmetic.

The anchor is seed 002 (AIMM A3 Collaborative, 2018): "90-day readmissions were reduced by 59%",
"Net Return on Investment (ROI) of $486,304 (141%)", "ROI of $500 per patient".
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from evaluation.analyses.value import compute as value_compute
from evaluation.analyses.value import figures as value_figures
from evaluation.core import figures as figure_io
from evaluation.core.errors import ParamsError
from evaluation.core.params import check
from evaluation.analyses.value.compute import DAYS_PER_MONTH, ValueAnalysis, count_events, costs_per_event, exposure_windows, mtp_categories, mtp_summary, net_return, patient_groups, program_cost_by_group, sensitivity
from evaluation.analyses.value.figures import describe_rates
from evaluation.stats.rates import rate_ratio

Z975 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)


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


def test_poisson_rate_ratio_matches_hand_computation():
    """Poisson GLM, model-based CI = exp(log RR +/- z sqrt(1/a + 1/b)) (Rothman, Modern Epidemiology, ch. 14).

    a = 20 events in 100 patient-months before, b = 10 in 125 after: RR = (10/125)/(20/100) = 0.4;
    SE(log RR) = sqrt(1/20 + 1/10) = 0.387298; CI = 0.4 x exp(-/+ 1.959964 x 0.387298) = 0.187237 to 0.854533;
    p = 2 x (1 - Phi(|log 0.4| / 0.387298)) = 2 x (1 - Phi(2.365865)) = 0.017989.
    """
    r = rate_ratio([2] * 10, [1] * 10, [10] * 10, [12.5] * 10, model="poisson")
    assert r.rate_ratio == pytest.approx(0.4)
    assert r.ci_low == pytest.approx(0.187237, abs=1e-6)  # hand values printed to 6 decimals (closed form)
    assert r.ci_high == pytest.approx(0.854533, abs=1e-6)
    assert r.p_value == pytest.approx(0.017989, abs=1e-6)


def test_robust_rate_ratio_matches_hand_sandwich():
    """Poisson GLM with SEs clustered by patient: the sandwich by hand (Cameron & Miller 2015, eq. 11).

    3 patients, 12 months in each window; counts before (2, 0, 4), after (1, 1, 0). Rates r0 = 6/36, r1 = 2/36,
    RR = 1/3. Per-patient score residuals u = (y_pre - 2, y_post - 2/3): (0, 1/3), (-2, 1/3), (2, -2/3).
    Meat: M00 = 8, M11 = 2/3, M01 = -2. Var(log RR) = M00/A^2 + M11/B^2 - 2 M01/(A B) with A = 6, B = 2:
    8/36 + (2/3)/4 + 4/12 = 0.722222; small-sample factor G/(G-1) x (N-1)/(N-K) = 3/2 x 5/4 = 1.875 (Stata's and
    statsmodels' convention) -> 1.354167, SE = 1.163687.
    """
    r = rate_ratio([2, 0, 4], [1, 1, 0], [12] * 3, [12] * 3, model="poisson_robust")
    se = math.sqrt((8 / 36 + (2 / 3) / 4 + 4 / 12) * 1.875)
    assert se == pytest.approx(1.163687, abs=1e-6)  # printed to 6 decimals
    assert r.rate_ratio == pytest.approx(1 / 3)
    assert r.ci_low == pytest.approx(math.exp(math.log(1 / 3) - Z975 * se), rel=1e-6)  # closed form: rounding only
    assert r.ci_high == pytest.approx(math.exp(math.log(1 / 3) + Z975 * se), rel=1e-6)


def test_negative_binomial_rate_ratio_matches_independent_fit():
    """NB2 with a binary period term and equal exposures: the MLE group means are the sample means, the
    dispersion alpha maximises sum log NB(y; mean, alpha) (fitted here with scipy.stats.nbinom), and
    Var(log mean_g) = (1 + alpha m_g) / (n_g m_g) (Hilbe, Negative Binomial Regression, 2011, sec. 8.2).
    """
    pre = np.array([0, 1, 5, 0, 2, 8, 0, 1, 3, 0])
    post = np.array([0, 0, 2, 1, 0, 3, 0, 0, 1, 1])
    r = rate_ratio(pre, post, [12] * 10, [12] * 10, model="negative_binomial")
    m0, m1 = pre.mean(), post.mean()  # 2.0 and 0.8
    y, mu = np.concatenate([pre, post]), np.repeat([m0, m1], 10)

    def minus_loglik(log_alpha):
        a = math.exp(log_alpha)
        return -stats.nbinom.logpmf(y, 1 / a, 1 / (1 + a * mu)).sum()

    alpha = math.exp(optimize.minimize_scalar(minus_loglik, bounds=(-10, 5), method="bounded",
                                              options={"xatol": 1e-10}).x)
    # statsmodels' NB fit stops at BFGS gtol 1e-5 on the mean log-likelihood of 20 rows: |score| up to 2e-4,
    # curvature >= 2, so alpha is good to ~1e-4 (4e-5 here); the reference (xatol 1e-10) is far tighter.
    # A wrong variance function (NB1, moments) is off by over 10%.
    assert r.dispersion == pytest.approx(alpha, rel=5e-4)
    assert r.rate_ratio == pytest.approx(m1 / m0)  # the group means are the MLE: exact up to rounding
    se = math.sqrt((1 + alpha * m0) / (10 * m0) + (1 + alpha * m1) / (10 * m1))
    # that alpha error moves the CI by ~0.3 x 1e-4 relative (1.4e-5 here); the CI is reported to 2 decimals
    assert r.ci_high == pytest.approx(0.4 * math.exp(Z975 * se), rel=1e-4)


def test_no_events_in_a_window_gives_no_interval():
    r = rate_ratio([0, 0], [1, 2], [12, 12], [12, 12])
    assert np.isnan(r.rate_ratio) and np.isnan(r.ci_low) and "no events" in r.note
    r = rate_ratio([1, 2], [0, 0], [12, 12], [12, 12])
    assert r.rate_ratio == 0 and np.isnan(r.ci_high)


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


def test_mtp_summary_by_hand():
    """3 patients, 4 MTPs: resolved after 10, 20 and 40 days, one open -> 4/3 per patient, 75% resolved,
    median 20 days; the patient with no MTP stays in the denominator."""
    groups = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "group": "all"})
    mtps = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P2"], "category": ["nonadherence", "nonadherence", "other", "dosage_too_low"],
                         "identified_on": pd.to_datetime(["2015-01-01"] * 4),
                         "resolved_on": pd.to_datetime(["2015-01-11", "2015-01-21", "2015-02-10", None])})
    s = mtp_summary(mtps, groups).iloc[0]
    assert s.mtps_per_patient == pytest.approx(4 / 3)
    assert s.pct_resolved == 75
    assert s.median_days_to_resolution == 20
    assert s.patients_with_mtp == 2
    cats = mtp_categories(mtps).set_index("category")
    assert cats.at["nonadherence", "identified"] == 2 and cats.at["all", "identified"] == 4
    assert cats.index[0] == "nonadherence" and cats.index[-1] == "all"
    assert cats.at["all", "unresolved"] == 1


def test_groups_from_params_subgroups():
    patients = pd.DataFrame({"patient_id": ["P1", "P2"], "team_id": ["T1", "T2"], "diabetes": [1, 0],
                             "hypertension": [1, 1], "sex": ["F", "M"]})
    teams = pd.DataFrame({"team_id": ["T1", "T2"], "track": ["initial", "advanced"]})
    g = patient_groups(patients, teams, ["track", "condition", "sex"])
    assert set(g.loc[g["patient_id"] == "P1", "group"]) == {"all", "track=initial", "condition=diabetes",
                                                             "condition=hypertension", "sex=F"}
    with pytest.raises(ParamsError, match="got 'colour'"):
        patient_groups(patients, teams, ["colour"])


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


def test_value_figures_export_with_captions(tmp_path):
    """Every value figure exports PNG/SVG/PDF with a manifest row; the PDF embeds TrueType fonts (FontFile2)."""
    patients, teams, utilization, costs = seed_002_cohort()
    mtps = pd.DataFrame({"patient_id": ["P000"] * 12 + ["P001"] * 3, "category": ["nonadherence"] * 12 + ["other"] * 3,
                         "identified_on": pd.Timestamp("2015-04-01"),
                         "resolved_on": pd.to_datetime(["2015-05-01"] * 14 + [None])})
    va = ValueAnalysis(as_of="2016-12-31").fit(patients, utilization=utilization, program_costs=costs, teams=teams, mtps=mtps)
    from evaluation.report.pack import suppress_like

    safe = suppress_like("value_mtp_categories", va.mtp_categories_, 11)
    figure_io.export_figure(value_figures.value_rates_chart(va.rates_), tmp_path, "value_utilization_rates", notebook="05_value",
                          **value_figures.describe_rates(va.rates_))
    figure_io.export_figure(value_figures.value_roi_chart(va.roi_, va.rates_), tmp_path, "value_roi", notebook="05_value",
                          **value_figures.describe_roi(va.roi_))
    figure_io.export_figure(value_figures.value_sensitivity_heatmap(va.sensitivity_), tmp_path, "value_sensitivity",
                          notebook="05_value", **value_figures.describe_sensitivity(va.sensitivity_))
    figure_io.export_figure(value_figures.value_mtp_chart(safe.table), tmp_path, "value_mtps", notebook="05_value",
                          **value_figures.describe_mtps(va.mtp_categories_))
    manifest = figure_io.read_manifest(tmp_path / "figures")
    assert len(manifest) == 4
    roi = manifest.set_index("figure_id").at["value_roi", "caption"]
    assert "$486,304" in roi and "141%" in roi
    assert "readmissions fell 59%" in manifest.set_index("figure_id").at["value_utilization_rates", "caption"]
    assert b"FontFile2" in (tmp_path / "figures" / "value_roi.pdf").read_bytes()
    assert safe.table.set_index("category").at["other", "identified"] == "<11"  # 3 problems: small


def test_readable_formats_dollars_and_percentages():
    patients, teams, utilization, costs = seed_002_cohort()
    va = ValueAnalysis(as_of="2016-12-31").fit(patients, utilization=utilization, program_costs=costs, teams=teams)
    from evaluation.analyses.value.compute import readable

    roi = readable(va.roi_).set_index("group")
    assert roi.at["all", "net_return"] == "$486,304" and roi.at["all", "net_roi_pct"] == "141.0%"
    long = readable(va.summary).set_index(["metric", "group"])["value"]
    assert long[("cost_avoided", "all")] == "$831,200" and long[("readmission_reduction_pct", "all")] == "58.8%"


def test_rates_caption_hides_small_kinds():
    rates = pd.DataFrame({"kind": ["readmission"], "group": ["all"], "pre_events": [8], "post_events": [3],
                          "pre_rate": [5.0], "post_rate": [2.0], "change_pct": [-60.0]})
    text = describe_rates(rates, 11)["caption"]
    assert "fewer than 11 events" in text and "60%" not in text


def test_rate_ratios_of_many_groups_equal_a_glm_per_group():
    """The closed form for every group at once equals statsmodels' Poisson GLM fitted per group, with SEs clustered
    by patient and model-based. The GLM stops when its deviance changes by less than tol (1e-14 here, below the
    deviance's own rounding of ~1e-13), which pins the coefficient only to about sqrt(1e-13 / information),
    ~1e-7: how close the last iterate lands depends on the machine's arithmetic (4e-10 seen on one, 3e-15 on
    another). A rate ratio is reported to 2 decimals."""
    import statsmodels.api as sm

    from evaluation.stats.rates import rate_ratios

    rng = np.random.default_rng(11)
    n, k = 600, 7
    group = rng.integers(0, k, n)
    pre, post = rng.poisson(rng.uniform(0.1, 2, n)), rng.poisson(rng.uniform(0.1, 1.5, n))
    e_pre, e_post = np.full(n, 12.0), rng.uniform(0, 12, n)
    e_post[rng.random(n) < 0.1] = 0
    post[e_post == 0] = 0
    for model in ("poisson_robust", "poisson"):
        ours = rate_ratios(pre, post, e_pre, e_post, group, k, model=model)
        for g in range(k):
            rows = group == g
            m = int(rows.sum())
            y, exposure = np.r_[pre[rows], post[rows]], np.r_[e_pre[rows], e_post[rows]]
            period, patient = np.r_[np.zeros(m), np.ones(m)], np.r_[np.arange(m), np.arange(m)]
            keep = exposure > 0
            glm = sm.GLM(y[keep], sm.add_constant(period[keep]), family=sm.families.Poisson(), exposure=exposure[keep])
            fit = (glm.fit(cov_type="cluster", cov_kwds={"groups": patient[keep]}, tol=1e-14, maxiter=100)
                   if model == "poisson_robust" else glm.fit(tol=1e-14, maxiter=100))
            # IRLS stopped on the deviance: coefficients to ~1e-7 (docstring)
            assert ours["rate_ratio"][g] == pytest.approx(np.exp(fit.params[1]), rel=1e-7)
            assert ours["ci_low"][g] == pytest.approx(np.exp(fit.conf_int()[1][0]), rel=1e-7)
            # p moves by about |z| x (coefficient error / SE), |z| < 5 here: up to ~5e-6 relative
            assert ours["p_value"][g] == pytest.approx(fit.pvalues[1], rel=1e-5)
