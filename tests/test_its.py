"""The interrupted time series of the monthly reports (evaluation/analyses/outcomes/its.py and its_figures.py):
intervention months, one team's fit through the analysis, the pooled rows, params refused, and the charts.

The segmented regression itself is checked against the Sicily example of Lopez Bernal et al. (2017) in
test_stats_its.py; here the expected values are worked by hand (ordinary least squares by numpy's lstsq, and the
random-effects pooling of two equally precise teams in closed form).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaluation.analyses.outcomes import its as outcomes_its
from evaluation.analyses.outcomes import its_figures
from evaluation.core.errors import ParamsError
from evaluation.core.params import check
from evaluation.core.schema import SCHEMA

DEFAULTS = {key: setting.default for key, setting in SCHEMA["its"].items()}
PATTERN = [0.8, -1.1, 0.4, 1.5, -0.6, -1.3, 0.9, 0.2, -0.7, 1.0, -0.4, 0.3]  # residuals, repeated


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def settings(**changes) -> dict:
    return {**DEFAULTS, **changes}


def teams(joined: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"team_id": list(joined), "team_name": [f"Team {t}" for t in joined],
                         "joined_on": pd.to_datetime(list(joined.values()))})


def linear_reports(team: str, level: float, *, start: str = "2014-01", months: int = 24, join_at: int = 12,
                   measure: str = "a1c_at_goal") -> pd.DataFrame:
    """A team's monthly percentage 30 + 0.5 t + level after the join month + 1.2 t' after it, with a fixed
    pattern of residuals; the denominator is 1,000 so the percentage has one exact decimal."""
    t = np.arange(months)
    after = t >= join_at
    percent = 30 + 0.5 * t + level * after + 1.2 * np.where(after, t - join_at, 0) + np.resize(PATTERN, months)
    return pd.DataFrame({"team_id": team, "month": pd.date_range(start + "-01", periods=months, freq="MS"),
                         "measure": measure, "numerator": np.round(10 * percent).astype(int), "denominator": 1000})


def ols_by_hand(frame: pd.DataFrame, join_at: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and standard errors of percent ~ 1 + t + after + t' by least squares: (X'X)^-1 s²."""
    y = 100 * frame["numerator"].to_numpy(float) / frame["denominator"].to_numpy(float)
    t = np.arange(len(y), dtype=float)
    after = (t >= join_at).astype(float)
    x = np.column_stack([np.ones_like(t), t, after, np.where(after == 1, t - join_at, 0.0)])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    s2 = resid @ resid / (len(y) - x.shape[1])
    return beta, np.sqrt(np.diag(np.linalg.inv(x.T @ x)) * s2)


def test_intervention_months_under_each_rule():
    """joined_on: the first of the month the team joined; first_pdsa: the month of its earliest cycle (a team
    without one has none); a month written YYYY-MM: that month for every team."""
    t = teams({"T1": "2015-02-17", "T2": "2015-04-01"})
    pdsa = pd.DataFrame({"team_id": ["T1", "T1"], "started_on": pd.to_datetime(["2015-06-09", "2015-05-30"])})
    joined = outcomes_its.intervention_months(t, pdsa, "joined_on").set_index("team_id")["intervention"]
    assert joined.to_dict() == {"T1": pd.Timestamp("2015-02-01"), "T2": pd.Timestamp("2015-04-01")}
    first = outcomes_its.intervention_months(t, pdsa, "first_pdsa").set_index("team_id")["intervention"]
    assert first["T1"] == pd.Timestamp("2015-05-01") and pd.isna(first["T2"])
    fixed = outcomes_its.intervention_months(t, pdsa, "2015-03").set_index("team_id")["intervention"]
    assert set(fixed) == {pd.Timestamp("2015-03-01")}


def test_first_pdsa_without_pdsa_cycles_names_the_param():
    with pytest.raises(ParamsError, match="first_pdsa") as err:
        outcomes_its.intervention_months(teams({"T1": "2015-01-05"}), None, "first_pdsa")
    assert err.value.key == "its.intervention"


def test_one_team_linear_fit_matches_least_squares_by_hand():
    """The linear model on the percentage is ordinary least squares: the level change, the slope change and their
    Wald CIs (estimate ± 1.96 se) equal numpy's lstsq; 12 months on either side, so no warning."""
    monthly = linear_reports("T1", level=6.0)
    result = outcomes_its.analyse(monthly, settings(model="linear"), teams=teams({"T1": "2015-01-20"}))
    row = result.team_rows().iloc[0]
    beta, se = ols_by_hand(monthly, 12)
    assert (row["n_pre"], row["n_post"], row["intervention"], row["warning"]) == (12, 12, "2015-01", "")
    assert row["level_change"] == pytest.approx(beta[2], abs=1e-9)
    assert row["slope_change"] == pytest.approx(beta[3], abs=1e-9)
    z = 1.959963984540054
    assert (row["level_ci_low"], row["level_ci_high"]) == pytest.approx((beta[2] - z * se[2], beta[2] + z * se[2]))
    assert row["scale"] == "percentage points"
    assert list(result.table.columns[:13]) == ["team_id", "measure", "model", "n_pre", "n_post", "level_change",
                                               "level_ci_low", "level_ci_high", "slope_change", "slope_ci_low",
                                               "slope_ci_high", "p_level", "p_slope"]


def test_level_change_only_model_leaves_the_slope_out():
    monthly = linear_reports("T1", level=6.0)
    result = outcomes_its.analyse(monthly, settings(model="linear", slope_change=False),
                                  teams=teams({"T1": "2015-01-01"}))
    row = result.team_rows().iloc[0]
    y = monthly["numerator"].to_numpy(float) / 10
    t = np.arange(24.0)
    beta, *_ = np.linalg.lstsq(np.column_stack([np.ones(24), t, t >= 12]), y, rcond=None)
    assert row["level_change"] == pytest.approx(beta[2], abs=1e-9) and np.isnan(row["slope_change"])


def test_two_equally_precise_teams_pool_in_closed_form():
    """Team T2 is T1 with 10 more points after joining, so both fits have the same residuals and standard error
    v = se². With two equally precise estimates REML (like DerSimonian-Laird) has a closed form:
    tau² = max(0, (b1 - b2)²/2 - v), the pooled estimate (b1 + b2)/2 and its variance (v + tau²)/2."""
    monthly = pd.concat([linear_reports("T1", level=6.0), linear_reports("T2", level=16.0)], ignore_index=True)
    result = outcomes_its.analyse(monthly, settings(model="linear"),
                                  teams=teams({"T1": "2015-01-01", "T2": "2015-01-01"}))
    b1, se1 = ols_by_hand(monthly[monthly["team_id"] == "T1"], 12)
    b2, se2 = ols_by_hand(monthly[monthly["team_id"] == "T2"], 12)
    assert se1[2] == pytest.approx(se2[2])
    v = se1[2] ** 2
    tau2 = max(0.0, (b1[2] - b2[2]) ** 2 / 2 - v)
    assert tau2 > 0  # a 10-point difference against a standard error near 0.6
    pooled = result.pooled_rows().iloc[0]
    half_width = 1.959963984540054 * np.sqrt((v + tau2) / 2)
    assert pooled["team_id"] == "all" and pooled["teams"] == 2
    assert pooled["tau2"] == pytest.approx(tau2, rel=1e-4)
    assert pooled["level_change"] == pytest.approx((b1[2] + b2[2]) / 2, rel=1e-6)
    assert pooled["level_ci_high"] - pooled["level_ci_low"] == pytest.approx(2 * half_width, rel=1e-4)
    assert pooled["n_pre"] == 24 and pooled["n_post"] == 24


def test_pooled_odds_ratios_are_back_transformed():
    """Quasibinomial teams: the pooled level change is exp of the pooled log odds ratio, inside the teams' range."""
    rng = np.random.default_rng(3)
    rows = []
    for team, jump in (("T1", 0.4), ("T2", 0.6), ("T3", 0.5)):
        for i, month in enumerate(pd.date_range("2014-01-01", periods=24, freq="MS")):
            p = 1 / (1 + np.exp(-(-0.5 + 0.02 * i + jump * (i >= 12))))
            rows.append((team, month, "bp_at_goal", int(rng.binomial(200, p)), 200))
    monthly = pd.DataFrame(rows, columns=["team_id", "month", "measure", "numerator", "denominator"])
    result = outcomes_its.analyse(monthly, settings(), teams=teams(dict.fromkeys(["T1", "T2", "T3"], "2015-01-01")))
    team_or = result.team_rows()["level_change"]
    pooled = result.pooled_rows().iloc[0]
    assert team_or.min() <= pooled["level_change"] <= team_or.max()
    assert pooled["level_ci_low"] < pooled["level_change"] < pooled["level_ci_high"]
    assert pooled["scale"] == "odds ratio" and pooled["teams"] == 3


def test_few_months_on_one_side_are_flagged():
    """Five months before joining and 19 after: the row says so, and the chart's caption warns."""
    monthly = linear_reports("T1", level=6.0, join_at=5)
    result = outcomes_its.analyse(monthly, settings(), teams=teams({"T1": "2014-06-01"}))
    row = result.team_rows().iloc[0]
    assert row["n_pre"] == 5 and "fewer than 8 points before the intervention (5)" in row["warning"]
    spec = its_figures.its_charts(result)[0]
    assert "1 team(s) have fewer than 8 months on one side" in spec.caption


def test_team_without_an_intervention_month_is_left_out_with_a_note():
    monthly = pd.concat([linear_reports("T1", 6.0), linear_reports("T2", 6.0)], ignore_index=True)
    pdsa = pd.DataFrame({"team_id": ["T1"], "started_on": pd.to_datetime(["2015-01-10"])})
    result = outcomes_its.analyse(monthly, settings(intervention="first_pdsa"),
                                  teams=teams({"T1": "2015-01-01", "T2": "2015-01-01"}), pdsa_cycles=pdsa)
    assert result.team_rows()["team_id"].tolist() == ["T1"]
    assert any(note.startswith("T2 has no intervention month") for note in result.notes)
    assert "1 team(s) with an estimated level change: none pooled" in result.pooled_rows()["warning"].iloc[0]


def test_ar1_with_a_binomial_model_is_a_params_error():
    with pytest.raises(ParamsError, match="newey-west") as err:
        outcomes_its.analyse(linear_reports("T1", 6.0), settings(autocorrelation="ar1"),
                             teams=teams({"T1": "2015-01-01"}))
    assert err.value.key == "its.autocorrelation"


def test_unknown_measure_is_a_params_error():
    with pytest.raises(ParamsError, match="a1c_at_goal"):
        outcomes_its.analyse(linear_reports("T1", 6.0), settings(measures=["a1c_in_range"]),
                             teams=teams({"T1": "2015-01-01"}))


def test_chart_draws_every_team_and_the_caption_carries_the_numbers():
    monthly = pd.concat([linear_reports("T1", 6.0), linear_reports("T2", 16.0)], ignore_index=True)
    result = outcomes_its.analyse(monthly, settings(model="linear"),
                                  teams=teams({"T1": "2015-01-01", "T2": "2015-01-01"}))
    spec = its_figures.its_charts(result)[0]
    row = result.team_rows().set_index("team_id").loc["T1"]
    assert spec.figure_id == "its_a1c_at_goal" and len([a for a in spec.figure.axes if a.has_data()]) == 2
    assert f"Team T1: level {row['level_change']:+.1f} pp ({row['level_ci_low']:.1f} to {row['level_ci_high']:.1f})" \
        in spec.caption
    assert "Pooled across 2 teams" in spec.caption and "percentage points" in spec.caption
    counterfactual = result.series[(result.series["team_id"] == "T1") & result.series["after"]]["counterfactual"]
    beta, _ = ols_by_hand(monthly[monthly["team_id"] == "T1"], 12)
    assert counterfactual.iloc[0] == pytest.approx(beta[0] + 12 * beta[1])  # the pre-intervention line carried on


def test_its_params_are_checked_before_any_data_is_read():
    with pytest.raises(ParamsError) as err:
        check({"cohort_id": "c1", "data_dir": "data/c1",
               "its": {"intervention": "2015-13", "harmonics": 9, "model": "poison"}})
    assert sorted(key for key, _ in err.value.problems) == ["its.harmonics", "its.intervention", "its.model"]
    assert "must be joined_on or first_pdsa, or a month written YYYY-MM; got '2015-13'" in str(err.value)
