"""The figures of the time-to-goal notebook show what their captions say (evaluation/analyses/time_to_goal/figures.py
and km_chart.py): ids, panels, curves, the numbers table's counts and the numbers in captions.

Most use the hand-built cohort of tests/test_time_to_goal.py. Its a1c follow-up, in days from enrollment:
P01 goal 120, P02 censored 90, P03 censored 60, P04 censored 40 (died on day 100), P07 goal 50, P08 censored 0;
P04 and P07 are of T02 (advanced track), the others of T01 (initial); all have diabetes but P07.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaluation import show
from evaluation.analyses.time_to_goal import competing as ttg_competing
from evaluation.analyses.time_to_goal import compute as ttg_compute
from evaluation.analyses.time_to_goal import cox as ttg_cox
from evaluation.analyses.time_to_goal import figures as ttg_figures
from evaluation.analyses.time_to_goal import kaplan_meier as ttg_km
from evaluation.analyses.time_to_goal import km_chart
from evaluation.analyses.time_to_goal import mtp as ttg_mtp
from evaluation.core import figures as figure_io
from tests.test_time_to_goal import build_rule_cohort, make_params


@pytest.fixture(autouse=True)
def svg_only(monkeypatch):
    monkeypatch.setenv(figure_io.FORMATS_ENV, "svg")


@pytest.fixture
def rule_cohort(tmp_path):
    return build_rule_cohort(tmp_path)


def shown_cells(fig) -> dict[str, str]:
    return {c["id"]: c["shown"] for c in figure_io.figure_counts(fig)["cells"]}


def test_km_figure_of_one_measure(rule_cohort):
    """a1c, all 6: S = 1 until day 50 (P08 censored at 0, P04 at 40); at 50, 4 at risk and P07 reaches goal
    (S = 3/4); P03 and P02 censored at 60 and 90; at 120 P01, the one left, reaches goal (S = 0, median 120).
    Numbers table at days 0, 90, 180: at risk 6, 2 (P02, P01), 0; events 0, 1, 2; censored 1 (P08 at day 0),
    4, 4."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    spec = ttg_figures.km_figure(ttg_km.kaplan_meier(data, params, "a1c"), params)
    assert (spec.figure_id, spec.section, spec.notebook) == ("survival_km_a1c", "time_to_goal", "04_time_to_goal")
    assert spec.title == "Time to goal: HbA1c (a1c < 8)"
    assert spec.caption.startswith("Cumulative percentage of the 6 patients not at goal at baseline who reached the "
                                   "goal, by days since enrollment (Kaplan-Meier; CI method log-log). All (n = 6): "
                                   "median 120 days (95% CI ")
    assert spec.caption.endswith("; an estimated 100% reached the goal within 365 days.")  # S = 0: no CI
    assert spec.alt_text.startswith("A step curve rising from 0% at enrollment to 100% by day 120, with a shaded "
                                    "confidence band; it crosses 50% at day 120.")
    curve = spec.figure.axes[0].get_lines()[0]
    assert list(curve.get_xdata()) == [0, 0, 40, 50, 60, 90, 120]
    assert list(curve.get_ydata()) == pytest.approx([0, 0, 0, 25, 25, 25, 100])
    fig = ttg_figures.survival_km_chart(ttg_km.kaplan_meier(data, params, "a1c"), suppress_below=None)
    cells = shown_cells(fig)
    assert [cells[f"0:at_risk:{t}"] for t in (0, 90, 180)] == ["6", "2", "0"]
    assert [cells[f"0:events:{t}"] for t in (0, 90, 180)] == ["0", "1", "2"]
    assert [cells[f"0:censored:{t}"] for t in (0, 90, 180)] == ["1", "4", "4"]
    drawn = sorted(t.get_text() for t in fig.axes[1].texts)
    assert drawn == sorted(["6", "2", "0", "0", "1", "2", "1", "4", "4"])
    plt.close(fig)
    shown = show(spec, params)  # one panel: the numbers table is not one; the caption is written as <11
    assert repr(shown).splitlines()[:2] == ["Figure survival_km_a1c (1 panel)", "Time to goal: HbA1c (a1c < 8)"]
    assert "the <11 patients not at goal at baseline" in shown.caption
    record = figure_io.read_manifest(params.figures_dir).set_index("figure_id").loc["survival_km_a1c"]
    assert record["section"] == "time_to_goal" and record["caption"] == shown.caption


def test_km_curves_by_track_one_figure_per_measure_with_the_logrank_p(rule_cohort):
    """By track: a1c advanced P04 (censored 40), P07 (goal 50); initial P01 (goal 120), P02, P03, P08 (censored).
    Log-rank: at 50, 1 advanced and 3 initial at risk, one event (advanced): E = 1/4, V = 1 * 1/4 * 3/4 = 3/16;
    at 120 only P01 (initial) is at risk: E = 0, V = 0. (1 - 1/4)^2 / (3/16) = 3 on 1 df: p = 0.083."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    specs = ttg_figures.km_curves(data, params, by="track")
    assert [s.figure_id for s in specs] == ["survival_km_a1c_by_track", "survival_km_bp_by_track",
                                            "survival_km_inr_by_track"]  # no LDL readings: no figure
    a1c = specs[0]
    assert a1c.title == "Time to goal: HbA1c (a1c < 8) by track"
    assert "advanced (n = 2): median 50 days" in a1c.caption and "initial (n = 4): median 120 days" in a1c.caption
    assert a1c.caption.endswith("Log-rank test across track: p = 0.083.")
    ax = a1c.figure.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["advanced (n = <11)", "initial (n = <11)"]
    assert "Log-rank p = 0.083" in " ".join(t.get_text() for t in ax.texts)
    assert a1c.alt_text.startswith("2 step curves, one per track, rising from 0%. The fastest to reach 50% is "
                                   "advanced (day 50); every curve reaches 50%.")
    for s in specs:
        plt.close(s.figure)


def test_km_curves_by_condition_test_each_condition_against_the_rest(rule_cohort):
    """diabetes (all but P07) against P07 alone: the same two event times as by track, mirrored: p = 0.083."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    km = ttg_km.kaplan_meier(data, params, "a1c", by="condition")
    fig = ttg_figures.survival_km_chart(km, suppress_below=None)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["diabetes (n = 5), p = 0.083 vs without"]
    spec = ttg_figures.km_figure(km, params)
    assert spec.figure_id == "survival_km_a1c_by_condition"
    assert spec.caption.endswith("Conditions overlap (a patient can have several); each is tested against patients "
                                 "without it.")
    plt.close(fig)
    plt.close(spec.figure)


def test_mtp_resolution_curves(tmp_path, rule_cohort):
    """MTPs by category: nonadherence resolved on days 0 and 10 (S = 1/2 exactly from 0 to 10: R's median is the
    midpoint, 5); dosage too low unresolved, censored at 140 days (P03's exit), so 0% resolved by day 30."""
    _, cohort = rule_cohort
    params = make_params(tmp_path, survival={"mtp_horizons_days": [10, 30]})
    spec = ttg_figures.mtp_resolution_curves(ttg_mtp.mtp_resolution_data(cohort, params), params)
    assert spec.figure_id == "survival_mtp_resolution_by_category"
    assert spec.title == "Time to confirmed MTP resolution by category"
    assert spec.caption.startswith("Cumulative percentage of the 3 medication therapy problems that were confirmed "
                                   "resolved, by days since identification")
    assert "dosage_too_low (n = 1): median not reached" in spec.caption
    assert "an estimated 0% were confirmed resolved within 30 days" in spec.caption
    assert "nonadherence (n = 2): median 5 days" in spec.caption
    assert "an estimated 100% were confirmed resolved within 30 days" in spec.caption
    ax = spec.figure.axes[0]
    assert ax.get_ylabel() == "MTPs confirmed resolved (%)" and ax.get_xlabel() == "Days since identification"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dosage too low (n = <11)", "nonadherence (n = <11)"]
    plt.close(spec.figure)


def test_competing_risks_figure(rule_cohort):
    """a1c by Aalen-Johansen: t=0 P08 censored; t=50: 5 at risk, P07 reaches goal (CIF 1/5, S = 4/5); t=100: 2 at
    risk, P04 dies (competing 4/5 * 1/2 = 2/5); t=120: P01 reaches goal (CIF 1/5 + 2/5 = 3/5). 1 - KM censors
    P04 and reaches 100% at 120. bp (P09, goal 60) and INR (P10, goal 7): 100%; no LDL readings."""
    params, cohort = rule_cohort
    data = ttg_compute.time_to_goal_data(cohort, params)
    by_day = ttg_competing.cumulative_incidence_by_day(data, params)
    spec = ttg_figures.competing_risks(data, by_day, params)
    assert (spec.figure_id, spec.title) == ("survival_cumulative_incidence",
                                            "Reaching goal with death or exit as a competing event")
    assert ("By day 365: HbA1c: 60% reached goal and 40% exited first (100% by 1 - Kaplan-Meier); Blood pressure: "
            "100% reached goal and 0% exited first (100% by 1 - Kaplan-Meier); LDL cholesterol: not estimable (none "
            "followed); INR: 100% reached goal and 0% exited first (100% by 1 - Kaplan-Meier).") in spec.caption
    assert spec.alt_text.startswith("3 panels, one per measure")
    panels = [ax for ax in spec.figure.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in panels] == ["HbA1c: a1c < 8", "Blood pressure: sbp < 140 and dbp < 90",
                                                           "INR: inr 2-3"]
    km, goal, competing = panels[0].get_lines()
    times = [0, 0, 50, 60, 90, 100, 120]
    assert list(goal.get_xdata()) == times
    assert list(goal.get_ydata()) == pytest.approx([0, 0, 20, 20, 20, 20, 60])
    assert list(competing.get_ydata()) == pytest.approx([0, 0, 0, 0, 0, 40, 40])
    assert list(km.get_ydata()) == pytest.approx([0, 0, 20, 20, 20, 20, 100])
    plt.close(spec.figure)


def test_hazard_ratios_figure():
    """Two hazard ratios: track 0.50 (CI 0.30 to 0.80, excludes 1) and age 1.10 (0.90 to 1.30, crosses 1)."""
    summary = pd.DataFrame({"measure": ["a1c", "a1c"], "covariate": ["track", "age"],
                            "per": ["advanced vs initial", "per 10 years"], "hazard_ratio": [0.5, 1.1],
                            "ci_low": [0.3, 0.9], "ci_high": [0.8, 1.3], "p_value": [0.004, 0.3], "n": 40,
                            "events": 30})
    cox = ttg_cox.CoxResult(summary, pd.DataFrame(), pd.DataFrame(), alpha=0.05)
    spec = ttg_figures.hazard_ratios(cox)
    assert (spec.figure_id, spec.section) == ("survival_cox_hazard_ratios", "time_to_goal")
    assert spec.caption == ("Hazard ratios of reaching goal from Cox models (one per measure) with 95% CIs; a ratio "
                            "above 1 means sooner. Covariates: track, age. CIs that exclude 1: HbA1c track HR 0.50 "
                            "(advanced vs initial).")
    assert spec.alt_text == ("A forest plot of 2 hazard ratios on a log scale around a vertical line at 1; 1 of them "
                             "have confidence intervals that do not cross 1.")
    ax = spec.figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["HbA1c: track (advanced vs initial)",
                                                            "HbA1c: age (per 10 years)"]
    assert list(ax.collections[1].get_offsets()[:, 0]) == pytest.approx([0.5, 1.1])  # the points
    assert list(ax.get_xticks()) == [0.2, 0.25, 0.5, 1]  # those from 0.3 / 1.5 to 1.3 * 1.5
    plt.close(spec.figure)


def test_km_by_team_above_the_cap_draws_the_pooled_cohort_and_the_extremes(tmp_path):
    """60 teams: the figure draws the pooled cohort and the 5 fastest and 5 slowest teams; the caption says
    so and where every team is; the log-rank test is still across all 60; 10 teams are drawn as they are."""
    rng = np.random.default_rng(3)
    teams = np.repeat([f"T{i:02d}" for i in range(60)], 20)
    speed = np.repeat(np.arange(60) * 4.0 + 20, 20)  # T00 fastest, T59 slowest
    data = pd.DataFrame({"measure": "lung", "followed": True, "team_id": teams,
                         "days": np.round(rng.exponential(speed)), "event": (rng.random(len(teams)) < 0.8).astype(int),
                         "cause": 1, "track": "initial"})
    params = make_params(tmp_path, goals={"lung": "< 1"}, combined_goals={}, subgroups=["track"])
    km = ttg_km.kaplan_meier(data, params, "lung", by="team")
    assert len(km.fitters) == 60 and km.logrank["groups"].iat[0] == 60
    shown = km_chart.drawn_groups(km)
    assert len(shown.fitters) == 1 + km_chart.GROUPS_DRAWN
    assert list(shown.summary["group"])[0] == "all 60 teams" and shown.summary["n"].iat[0] == len(data)
    assert shown.n_groups == 60 and set(shown.curves["group"]) == set(shown.summary["group"])
    fast, slow = list(shown.summary["group"])[1:6], list(shown.summary["group"])[6:]
    assert all(int(g[-2:]) < 20 for g in fast) and all(int(g[-2:]) >= 40 for g in slow)
    spec = ttg_figures.km_figure(km, params)
    assert "all 60 teams pooled, then the 5 teams with the shortest and the 5 with the longest median" in spec.caption
    assert "every one of the 60 is in tables/time_to_goal.csv" in spec.caption
    assert spec.alt_text.startswith("11 step curves rising from 0%: all 60 teams pooled, and the 10 fastest and "
                                    "slowest of them.")
    legend = [t.get_text() for t in spec.figure.axes[0].get_legend().get_texts()]
    assert len(legend) == 11 and legend[0] == "All 60 teams (n = 1,200)"
    few = ttg_km.kaplan_meier(data[data["team_id"] < "T10"], params, "lung", by="team")
    assert km_chart.drawn_groups(few) is few and "Drawn:" not in ttg_figures.km_figure(few, params).caption
    plt.close("all")
