"""The comparison of cohorts and cycles: the spec, the headline table and its differences, the funnels and the
pooled team changes on hand-made reports, and the command on the two-cycle demo."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.analyses.compare import cycles, findings, funnels, pooling, side_by_side as side
from evaluation.analyses.compare.cohorts import CohortReport, Comparison
from evaluation.core.errors import ParamsError
from evaluation.core.paths import REPO_ROOT
from evaluation.run.compare_spec import load_compare_spec

DEMO_PARAMS = ("params/demo.yaml", "params/demo_cycle2.yaml")


def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cmp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the spec ----------------------------------------------------------------------------------------------

def test_the_demo_spec_reads_with_its_labels_and_reference():
    spec = load_compare_spec(REPO_ROOT / "compare" / "demo.yaml")
    assert spec.name == "demo" and spec.labels == ["Cycle 2015", "Cycle 2016"] and spec.reference == "Cycle 2015"
    assert [c.params.cohort_id for c in spec.cohorts] == ["demo", "demo_cycle2"]
    assert spec.funnel == {"measure": "a1c", "event": "readmission"}
    assert spec.folder.parts[-2:] == ("compare", "demo")


def test_every_spec_mistake_is_named_at_once(tmp_path):
    path = write_spec(tmp_path, "cohort: []\ncohorts:\n  - {label: A, params: params/demo.yaml}\n"
                                "  - {label: A, params: params/nowhere.yaml}\nreference: Z\nfunnel: {event: deaths}\n")
    with pytest.raises(ParamsError) as caught:
        load_compare_spec(path)
    text = str(caught.value)
    assert "cmp.yaml" in text
    assert "unknown key `cohort`; did you mean `cohorts`?" in text
    assert "`cohorts[1].label`: 'A' is used twice" in text
    assert "`reference` must be one of the cohorts' labels ('A'); got 'Z'" in text
    assert "`funnel.event` must be one of readmission, admission, ed_visit; got 'deaths'" in text


def test_a_spec_needs_two_distinct_cohorts(tmp_path):
    with pytest.raises(ParamsError, match=r"`cohorts` must list two or more cohorts"):
        load_compare_spec(write_spec(tmp_path, "cohorts:\n  - {label: A, params: params/demo.yaml}\n"))
    with pytest.raises(ParamsError, match=r"`cohorts\[1\].params`: params/demo.yaml is cohort 'demo', as "
                                          r"params/demo.yaml is"):
        load_compare_spec(write_spec(tmp_path, "cohorts:\n  - {label: A, params: params/demo.yaml}\n"
                                               "  - {label: B, params: params/demo.yaml}\n"))
    with pytest.raises(ParamsError, match=r"`cohorts\[1\].params`: params file params/x.yaml not found"):
        load_compare_spec(write_spec(tmp_path, "cohorts:\n  - {label: A, params: params/demo.yaml}\n"
                                               "  - {label: B, params: params/x.yaml}\n"))


# --- hand-made reports --------------------------------------------------------------------------------------

def make_report(folder: Path, cohort_id: str, tables: dict[str, pd.DataFrame], alpha: float = 0.05) -> Path:
    (folder / "tables").mkdir(parents=True)
    for name, df in tables.items():
        df.to_csv(folder / "tables" / f"{name}.csv", index=False)
    (folder / "provenance.json").write_text(json.dumps({"cohort_id": cohort_id, "params": {"alpha": alpha,
                                                        "suppress_below": 11}}), encoding="utf-8")
    return folder


def change_row(n, goal_base, goal_follow, mean, sd):
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return {"measure": "a1c", "group": "all", "n": n, "mean_change": mean, "change_ci_low": mean - half,
            "change_ci_high": mean + half, "sd_change": sd, "goal": "a1c < 8", "n_goal_baseline": goal_base,
            "n_goal_followup": goal_follow, "pct_goal_baseline": 100 * goal_base / n,
            "pct_goal_followup": 100 * goal_follow / n}


def utilization_row(rr, low, high):
    return {"kind": "readmission", "group": "all", "patients": 200, "rate_ratio": rr, "ci_low": low, "ci_high": high,
            "model": "poisson_robust"}


@pytest.fixture
def two_cycles(tmp_path) -> Comparison:
    """Cycle A: 50 of 100 at goal at follow-up, mean change -0.8 (SD 1.0); readmission RR 0.80 (0.64 to 1.00).
    Cycle B: 60 of 100, -1.0 (SD 1.2); RR 0.60 (0.45 to 0.80)."""
    a = make_report(tmp_path / "a", "a", {"outcome_change": pd.DataFrame([change_row(100, 30, 50, -0.8, 1.0)]),
                                          "value_utilization": pd.DataFrame([utilization_row(0.80, 0.64, 1.00)]),
                                          "patients_per_team": pd.DataFrame({"team_id": ["T1", "T2"], "team_name": ["One", "Two"],
                                                                             "patients": [60, 40]})})
    b = make_report(tmp_path / "b", "b", {"outcome_change": pd.DataFrame([change_row(100, 35, 60, -1.0, 1.2)]),
                                          "value_utilization": pd.DataFrame([utilization_row(0.60, 0.45, 0.80)]),
                                          "patients_per_team": pd.DataFrame({"team_id": ["T1", "T3", "T4"],
                                                                             "team_name": ["One", "Three", "Four"],
                                                                             "patients": [50, 30, 20]})})
    return Comparison("A vs B", [CohortReport("A", a), CohortReport("B", b)], "A", tmp_path / "out")


def test_headline_differences_by_hand(two_cycles):
    """B - A at goal at follow-up: 60% - 50% = +10 points (Newcombe 1998 method 10, by its formula: Wilson limits
    of each proportion, then diff -/+ sqrt((p1 - l1)^2 + (u2 - p2)^2)...); mean change: Welch, -1.0 - (-0.8) = -0.2,
    SE sqrt(1.0^2/100 + 1.2^2/100) = 0.156205, df = 0.0244^2 / (0.01^2/99 + 0.0144^2/99) = 191.63;
    rate ratios: 0.60 / 0.80 = 0.75 (0.5212 to 1.0793, as in test_stats_differences)."""
    values = side.headline_values(two_cycles)
    assert values.query("metric == 'patients'")["value"].tolist() == [100, 100]
    assert values.query("metric == 'teams'")["value"].tolist() == [2, 3]
    diff = side.headline_differences(two_cycles, values).set_index(["metric", "measure"])
    # Newcombe by hand: Wilson 95% limits of 60/100 and of 50/100
    z = stats.norm.ppf(0.975)

    def wilson(x, n):
        p = x / n
        centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    (l2, u2), (l1, u1) = wilson(60, 100), wilson(50, 100)
    goal = diff.loc[("pct_goal_followup", "a1c")]
    assert goal["difference"] == pytest.approx(10.0)
    assert goal["ci_low"] == pytest.approx(100 * (0.1 - math.sqrt((0.6 - l2) ** 2 + (u1 - 0.5) ** 2)), rel=1e-9)
    assert goal["ci_high"] == pytest.approx(100 * (0.1 + math.sqrt((u2 - 0.6) ** 2 + (0.5 - l1) ** 2)), rel=1e-9)
    change = diff.loc[("mean_change", "a1c")]
    se, df = math.sqrt(0.01 + 0.0144), 0.0244 ** 2 / (0.01 ** 2 / 99 + 0.0144 ** 2 / 99)
    assert change["difference"] == pytest.approx(-0.2)
    assert change["ci_high"] == pytest.approx(-0.2 + stats.t.ppf(0.975, df) * se, rel=1e-9)
    rr = diff.loc[("rate_ratio", "readmission")]
    assert (rr["difference"], rr["ci_low"], rr["ci_high"]) == pytest.approx((0.75, 0.5212, 1.0793), abs=1e-4)
    teams = diff.loc[("teams", "")]
    assert teams["difference"] == 1 and math.isnan(teams["ci_low"]) and teams["method"].startswith("no CI")
    shown = side.side_by_side(values, side.headline_differences(two_cycles, values), two_cycles).set_index("headline")
    assert shown.loc["HbA1c: at goal at follow-up", "B vs A"].startswith("+10.0 (")
    assert shown.loc["HbA1c: at goal at follow-up", "B vs A"].endswith(" points")
    assert shown.loc["Readmissions: rate ratio, after / before enrollment", "B vs A"] == "× 0.75 (0.52 to 1.08)"


def test_the_rate_funnel_flags_the_team_outside_the_998_limits_by_hand(tmp_path):
    """Eight teams, 1,000 to 2,400 patient-months, 4 to 6 readmissions each but T06 with 30 in 2,000 (15 per 1,000):
    the pooled rate is 65 / 13,700. By hand (Spiegelhalter 2005): z_i = (y_i - theta) / sqrt(theta / T_i), winsorised
    at their 10th and 90th percentiles, phi = mean(z_w^2), tau2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w) with
    w = T / theta; the 99.8% limits theta -/+ z(0.999) sqrt(theta / T + tau2). Cycle B's even teams: no overdispersion,
    the exact Poisson limits, no team outside."""
    months = np.array([1000, 1200, 1400, 1600, 1800, 2000, 2300, 2400], dtype=float)
    events = np.array([5, 4, 6, 5, 4, 30, 6, 5])
    t = pd.DataFrame({"kind": "readmission", "team_id": [f"T{i:02d}" for i in range(1, 9)], "patients": 40,
                      "post_events": events, "post_patient_months": months})
    report = make_report(tmp_path / "a", "a", {"value_utilization_by_team": t})
    other = make_report(tmp_path / "b", "b", {"value_utilization_by_team": t.assign(post_events=[5, 5, 5, 5, 5, 6, 6, 6])})
    comparison = Comparison("x", [CohortReport("A", report), CohortReport("B", other)], "A", tmp_path / "out")
    rates = funnels.rate_funnels(comparison)
    theta = events.sum() / months.sum()
    z = (events / months - theta) / np.sqrt(theta / months)
    low, high = np.percentile(z, [10, 90])
    phi = np.mean(np.clip(z, low, high) ** 2)
    w = months / theta
    tau2 = (8 * phi - 7) / (w.sum() - (w ** 2).sum() / w.sum())
    assert rates["A"].target == pytest.approx(theta) and rates["A"].phi == pytest.approx(phi, rel=1e-9)
    assert tau2 > 0 and rates["A"].tau2 == pytest.approx(tau2, rel=1e-9)
    upper = 1000 * (theta + stats.norm.ppf(0.999) * np.sqrt(theta / months + tau2))
    table = rates["A"].table.set_index("unit")
    assert table["upper_998"].to_numpy() == pytest.approx(upper, rel=1e-9)
    outside = [f"T{i + 1:02d}" for i in range(8) if 1000 * events[i] / months[i] > upper[i]]
    assert outside == ["T06"]
    flagged = funnels.flagged_teams(rates, comparison, "readmission")
    assert flagged[["cohort", "team_id", "flag"]].values.tolist() == [["A", "T06", "above 99.8%"]]
    assert flagged["team_name"].tolist() == [""]  # no patients_per_team table in these reports
    assert rates["B"].tau2 == 0 and (rates["B"].table["flag"] == "within").all()
    spec = funnels.rate_funnel_figure(rates, comparison)
    assert "A: T06 above 99.8% limits" in spec.caption and "B: no team outside the 95% limits" in spec.caption


def test_pooled_team_changes_use_each_teams_variance_from_its_t_interval(tmp_path):
    """A team with n patients and CI (lo, hi) has SE (hi - lo) / (2 t(0.975, n - 1)); a team of one is left out.
    Three teams with equal variances: DL's estimate is their plain mean."""
    half = stats.t.ppf(0.975, 9) * 1.0 / math.sqrt(10)
    team = pd.DataFrame({"measure": "a1c", "team_id": ["T1", "T2", "T3", "T4"], "n": [10, 10, 10, 1],
                         "mean_change": [-0.5, -1.0, -1.5, -3.0], "ci_low": [-0.5 - half, -1.0 - half, -1.5 - half, np.nan],
                         "ci_high": [-0.5 + half, -1.0 + half, -1.5 + half, np.nan]})
    variances = pooling.team_variances(team, 0.05)
    assert variances["team_id"].tolist() == ["T1", "T2", "T3"]
    assert variances["variance"].to_numpy() == pytest.approx([0.1, 0.1, 0.1], rel=1e-12)  # SD 1, n 10
    a = make_report(tmp_path / "a", "a", {"outcome_change_by_team": team,
                                          "outcome_change": pd.DataFrame([change_row(31, 10, 15, -1.0, 1.0)])})
    b = make_report(tmp_path / "b", "b", {"outcome_change_by_team": team,
                                          "outcome_change": pd.DataFrame([change_row(31, 10, 15, -1.0, 1.0)])})
    comparison = Comparison("x", [CohortReport("A", a), CohortReport("B", b)], "A", tmp_path / "out")
    pooled = pooling.pooled_team_changes(comparison).set_index(["cohort", "method"])
    assert pooled.loc[("A", "DL"), "estimate"] == pytest.approx(-1.0, abs=1e-12)
    # Q = sum (y - ybar)^2 / v = (0.25 + 0 + 0.25) / 0.1 = 5 on 2 df; DL tau2 = (5 - 2) / (30 - 300/30) = 0.15
    assert pooled.loc[("A", "DL"), "q"] == pytest.approx(5.0) and pooled.loc[("A", "DL"), "tau2"] == pytest.approx(0.15)


def test_cycles_series_and_figure(tmp_path):
    monthly = pd.DataFrame({"measure": "a1c_at_goal", "month": ["2015-02", "2015-03"], "cycle_month": [1, 2],
                            "teams_reporting": [2, 2], "numerator": [4, 6], "denominator": [10, 10],
                            "percent": [40.0, 60.0]})
    a = make_report(tmp_path / "a", "a", {"monthly_collaborative": monthly})
    b = make_report(tmp_path / "b", "b", {"monthly_collaborative": monthly.assign(percent=[50.0, 70.0])})
    comparison = Comparison("x", [CohortReport("A", a), CohortReport("B", b)], "A", tmp_path / "out")
    series = cycles.monthly_series(comparison)
    assert series["cohort"].tolist() == ["A", "A", "B", "B"]
    spec = cycles.cycles_figure(series, comparison)
    assert "HbA1c at goal: A 50%, B 60%" in spec.caption  # the medians of 40, 60 and of 50, 70


# --- the command on the two-cycle demo ------------------------------------------------------------------------

@pytest.mark.skipif(not all((REPO_ROOT / d / "teams.csv").exists() for d in ("data/demo", "data/demo-cycle2")),
                    reason="the demo cohorts are made by `make demo` / `make test`")
def test_the_demo_comparison_publishes_and_is_reused_when_nothing_changed(reports_root):
    """The two-cycle demo, cohort runs and the comparison notebook in this process: the comparison is published
    with its tables, figures and funder table; the same command again reuses it. The readmission funnel's flags
    are those of a hand computation on the cohorts' team table (Spiegelhalter 2005 limits, as above)."""
    from evaluation.run.compare import compare

    said: list[str] = []
    first = compare(REPO_ROOT / "compare" / "demo.yaml", in_process=True, say=said.append)
    folder = reports_root / "compare" / "demo"
    assert first.status == "ran" and first.report_dir == folder
    for name in ("comparison_values", "comparison_differences", "funnel_goal", "funnel_rates", "funnel_flagged",
                 "comparison_pooled_change", "comparison_monthly", "comparison_assessments"):
        assert (folder / "tables" / f"{name}.csv").is_file(), name
    manifest = pd.read_csv(folder / "figures" / "manifest.csv")
    assert set(manifest["figure_id"]) == {"compare_funnel_a1c", "compare_funnel_readmission", "compare_caterpillar_a1c",
                                          "compare_cycles", "compare_assessments"}
    assert (manifest["section"] == "comparison").all() and manifest["alt_text"].str.len().gt(40).all()
    record = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    assert [c["cohort_id"] for c in record["cohorts"]] == ["demo", "demo_cycle2"]
    funder = pd.read_csv(folder / "funder" / "comparison.csv", dtype=str)
    assert "team_id" not in funder.columns and set(funder["cohort"]) == {"Cycle 2015", "Cycle 2016"}

    # the readmission funnel of each cycle's teams, by hand from the cohort report's team table
    rates = pd.read_csv(folder / "tables" / "funnel_rates.csv")
    flagged = pd.read_csv(folder / "tables" / "funnel_flagged.csv")
    for label, cohort_id in (("Cycle 2015", "demo"), ("Cycle 2016", "demo_cycle2")):
        t = pd.read_csv(reports_root / cohort_id / "tables" / "value_utilization_by_team.csv").query("kind == 'readmission'")
        o, e = t["post_events"].to_numpy(float), t["post_patient_months"].to_numpy(float)
        theta = o.sum() / e.sum()
        z = (o / e - theta) / np.sqrt(theta / e)
        lo, hi = np.percentile(z, [10, 90])
        phi = np.mean(np.clip(z, lo, hi) ** 2)
        w = e / theta
        tau2 = max(0.0, (len(z) * phi - (len(z) - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
        if tau2 > 0:
            upper = theta + stats.norm.ppf(0.999) * np.sqrt(theta / e + tau2)
            lower = np.maximum(0, theta - stats.norm.ppf(0.999) * np.sqrt(theta / e + tau2))
        else:  # exact Poisson limits with Spiegelhalter's interpolation
            def limit(p, mu):
                r = stats.poisson.ppf(p, mu)
                a = (stats.poisson.cdf(r, mu) - p) / (stats.poisson.cdf(r, mu) - stats.poisson.cdf(r - 1, mu))
                return max(0.0, (r - a)) / (mu / theta)
            upper = np.array([limit(0.999, theta * x) for x in e])
            lower = np.array([limit(0.001, theta * x) for x in e])
        outside = sorted(t["team_id"][(o / e > upper) | (o / e < lower)])
        mine = rates[rates["cohort"] == label].set_index("unit")
        assert mine.loc[t["team_id"], "upper_998"].to_numpy() == pytest.approx(1000 * upper, rel=1e-6)
        shown = flagged[(flagged["cohort"] == label) & (flagged["indicator"] == "readmission")
                        & flagged["flag"].str.contains("99.8")]
        assert sorted(shown["team_id"]) == outside

    said.clear()
    again = compare(REPO_ROOT / "compare" / "demo.yaml", in_process=True, say=said.append)
    assert again.status == "reused" and any("unchanged since the comparison was published" in s for s in said)


def test_assessment_share_aligns_the_cycles_by_month(tmp_path):
    """Cycle A rated from 2015-03, cycle B from 2016-02: each one's first rated month is month 1."""
    a = make_report(tmp_path / "a", "a", {"engagement_assessments": pd.DataFrame(
        {"month": ["2015-03", "2015-04"], "teams_rated": [10, 10], "teams_at_or_above": [1, 3], "share": [0.1, 0.3]})})
    b = make_report(tmp_path / "b", "b", {"engagement_assessments": pd.DataFrame(
        {"month": ["2016-02", "2016-03", "2016-05"], "teams_rated": [8, 8, 8], "teams_at_or_above": [2, 4, 6],
         "share": [0.25, 0.5, 0.75]})})
    comparison = Comparison("x", [CohortReport("A", a), CohortReport("B", b)], "A", tmp_path / "out")
    shares = cycles.assessment_share(comparison)
    assert shares["cycle_month"].tolist() == [1, 2, 1, 2, 4]
    spec = cycles.assessment_figure(shares, comparison)
    assert "A: 30% of 10 teams in month 2; B: 75% of 8 teams in month 4" in spec.caption


def test_findings_say_the_difference_and_the_team_that_stands_out(two_cycles):
    values = side.headline_values(two_cycles)
    differences = side.headline_differences(two_cycles, values)
    flagged = pd.DataFrame([{"indicator": "readmission", "cohort": "B", "team_id": "T13", "flag": "above 99.8%",
                             "value": 18.44, "target": 4.36}])
    said = findings.comparison_findings(values, differences, flagged, two_cycles)
    assert any(s.startswith("HbA1c at goal at follow-up: 60% in B against 50% in A, a difference of +10.0 percentage "
                            "points (95% CI") for s in said)
    assert said[-1] == ("B: team T13 lies above its cohort's 99.8% limits for readmissions per 1,000 patient-months "
                        "(18.4 against 4.4).")


def test_the_command_exits_2_on_a_spec_mistake_and_touches_nothing(tmp_path, reports_root, capsys):
    from evaluation.__main__ import main

    spec = write_spec(tmp_path, "cohorts:\n  - {label: A, params: params/demo.yaml}\n")
    assert main(["compare", str(spec)]) == 2
    assert "`cohorts` must list two or more cohorts" in capsys.readouterr().err
    assert not (reports_root / "compare").exists()
