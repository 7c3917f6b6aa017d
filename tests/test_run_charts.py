"""Run charts and control charts of the monthly reports: centre lines, phases, p and Laney p′ limits, the
signals table, and the figures (panels, titles, captions).

The Anhøj rules themselves are checked against the published table in test_stats_runs.py; here every value
is worked by hand, with the arithmetic in the docstrings.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaluation.analyses.outcomes import run_chart_figures
from evaluation.analyses.outcomes import run_charts as outcomes_run_charts
from evaluation.core import labels
from evaluation.core.errors import ParamsError
from evaluation.stats import runs


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def reports(team_rows: dict[str, list[tuple[int, int]]], measure: str = "a1c_at_goal", start: str = "2015-01") -> pd.DataFrame:
    rows = []
    for team, pairs in team_rows.items():
        for month, (num, den) in zip(pd.date_range(start + "-01", periods=len(pairs), freq="MS"), pairs):
            rows.append((team, month, measure, num, den))
    return pd.DataFrame(rows, columns=["team_id", "month", "measure", "numerator", "denominator"])


def test_team_with_one_month_of_data():
    """One month: the point is its own median, so no useful points; the table says why."""
    result = outcomes_run_charts.analyse(reports({"T1": [(3, 10)]}), {"min_points": 10, "control_chart": "p"})
    row = result.signals.iloc[0]
    assert row["n_points"] == 1 and row["n_useful"] == 0 and pd.isna(row["runs_signal"])
    assert row["verdict"] == "one month of data: no runs verdict"
    assert result.limits["ucl"].iloc[0] == pytest.approx(0.3 + 3 * np.sqrt(0.3 * 0.7 / 10))


def test_signals_table_has_the_brief_columns_and_types():
    result = outcomes_run_charts.analyse(reports({"T1": [(i, 20) for i in range(1, 13)], "T2": [(5, 10)] * 3}),
                         {"min_points": 10, "control_chart": "p"})
    brief = ["team_id", "measure", "n_useful", "longest_run", "longest_run_max", "n_crossings", "n_crossings_min",
             "runs_signal"]
    assert list(result.signals.columns[: len(brief)]) == brief
    assert result.signals["runs_signal"].dtype == "boolean"
    t1 = result.signals.set_index("team_id").loc["T1"]
    assert t1["centre_line"] == pytest.approx(6.5 / 20) and bool(t1["runs_signal"])
    counts = outcomes_run_charts.signal_counts(result.signals).iloc[0]
    assert (counts["teams"], counts["with_verdict"], counts["runs_signal"], counts["no_verdict"]) == (2, 1, 1, 1)


def test_baseline_freeze_uses_the_first_k_points():
    """Proportions 0.1, 0.3, 0.2 then 0.9 x 9: frozen on 3 points the median is 0.2 (not 0.9), and every
    later point sits above it: a run of 10 (0.3 and the nine 0.9s) > limit 7 (11 useful points)."""
    pts = [(1, 10), (3, 10), (2, 10)] + [(9, 10)] * 9
    result = outcomes_run_charts.analyse(reports({"T1": pts}), {"baseline_points": 3, "min_points": 10, "control_chart": "p"})
    row = result.signals.iloc[0]
    assert row["centre_line"] == pytest.approx(0.2) and row["baseline_points"] == 3
    assert row["n_useful"] == 11 and row["longest_run"] == 10 and bool(row["runs_signal"])
    assert result.points["baseline"].tolist() == [True] * 3 + [False] * 9
    # p-chart centre frozen too: pooled (1 + 3 + 2) / 30 = 0.2
    assert result.limits["cl"].iloc[0] == pytest.approx(0.2)


def test_phases_get_their_own_median():
    """A new phase from 2015-04: phase 1 = 0.1, 0.2, 0.3 (median 0.2); phase 2 = 0.6, 0.8 (median 0.7)."""
    pts = [(1, 10), (2, 10), (3, 10), (6, 10), (8, 10)]
    result = outcomes_run_charts.analyse(reports({"T1": pts}), {"phases": ["2015-04"], "min_points": 2, "control_chart": "p"})
    assert result.signals["phase"].tolist() == [1, 2]
    assert result.signals["centre_line"].tolist() == pytest.approx([0.2, 0.7])
    per_team = outcomes_run_charts.analyse(reports({"T1": pts, "T2": pts}), {"phases": {"T2": ["2015-04"]}, "min_points": 2})
    assert per_team.signals.groupby("team_id").size().to_dict() == {"T1": 1, "T2": 2}


def test_bad_params_name_the_key_and_allowed_values():
    data = reports({"T1": [(1, 10)] * 3})
    with pytest.raises(ParamsError, match=r"`spc.control_chart` must be one of p, laney; got 'u'"):
        outcomes_run_charts.analyse(data, {"control_chart": "u"})
    with pytest.raises(ParamsError, match=r"`spc.phases` names teams that have no monthly reports: T9"):
        outcomes_run_charts.analyse(data, {"phases": {"T9": ["2015-02"]}})
    with pytest.raises(ParamsError, match=r"`spc.measures` must be among .*a1c_at_goal.*got bp"):
        outcomes_run_charts.analyse(data, {"measures": ["bp"]})
    with pytest.raises(ParamsError, match=r"`spc.baseline_points` must be a whole number"):
        outcomes_run_charts.analyse(data, {"baseline_points": 0})


def test_p_chart_limits_by_hand():
    """10/50, 20/50, 15/100: pooled p = 45/200 = 0.225. n = 50: SD = sqrt(0.225*0.775/50) = sqrt(0.0034875)
    = 0.05905506, limits 0.225 -/+ 0.17716518 = (0.04783482, 0.40216518); n = 100: SD = sqrt(0.00174375)
    = 0.04175823, limits 0.225 -/+ 0.12527470 = (0.09972530, 0.35027470). A fourth month 45/100 = 0.45 > 0.3502747 is outside (pooled p then 90/300 = 0.3, so use
    the first three as the baseline)."""
    data = reports({"T1": [(10, 50), (20, 50), (15, 100), (45, 100)]})
    lim = outcomes_run_charts.control_limits(outcomes_run_charts.prepare_points(data), chart="p", baseline_points=3)
    assert lim["cl"].iloc[0] == pytest.approx(0.225)
    # hand values printed to 8 decimals
    assert lim["lcl"].tolist() == pytest.approx([0.04783482, 0.04783482, 0.09972530, 0.09972530], abs=1e-8)
    assert lim["ucl"].tolist() == pytest.approx([0.40216518, 0.40216518, 0.35027470, 0.35027470], abs=1e-8)
    assert lim["outside"].tolist() == [False, False, False, True]


def test_laney_limits_by_hand():
    """Same three months. z = (p - 0.225)/SD: -0.025/0.05905506 = -0.4233338,
    0.175/0.05905506 = 2.9633363, -0.075/0.04175823 = -1.7960530. Moving ranges 3.3866701 and 4.7593893,
    mean 4.0730297 (none above 3.267 x mean), sigma_z = 4.0730297 / 1.128 = 3.6108419.
    UCL for n = 50: 0.225 + 3 * 0.05905506 * 3.6108419 = 0.8647154; LCL clipped at 0."""
    data = reports({"T1": [(10, 50), (20, 50), (15, 100)]})
    lim = outcomes_run_charts.control_limits(outcomes_run_charts.prepare_points(data), chart="laney")
    assert lim["sigma_z"].iloc[0] == pytest.approx(3.6108419, abs=1e-6)  # hand values to 7 decimals, chained
    assert lim["ucl"].iloc[0] == pytest.approx(0.8647154, abs=1e-6)
    assert lim["lcl"].iloc[0] == 0


def test_zero_denominator_is_not_a_point():
    data = reports({"T1": [(0, 0)] + [(i, 10) for i in range(1, 11)]})
    result = outcomes_run_charts.analyse(data, {"min_points": 10})
    assert np.isnan(result.points["proportion"].iloc[0])
    assert result.signals["n_points"].iloc[0] == 10


def test_pdsa_labels_and_aims():
    cycles = pd.DataFrame({"team_id": ["T1", "T1", "T2"],
                           "started_on": pd.to_datetime(["2015-05-20", "2015-02-03", "2015-03-01"]),
                           "change_idea": ["b", "a", "c"], "decision": ["adopt", None, "abandon"],
                           "measure": [None, "a1c_at_goal", None]})
    notes = outcomes_run_charts.pdsa_annotations(cycles)
    assert notes["label"].tolist() == ["P1", "P2", "P1"]
    assert notes["month"].tolist() == list(pd.to_datetime(["2015-02-01", "2015-05-01", "2015-03-01"]))
    teams = pd.DataFrame({"team_id": ["T1", "T2"], "aim_measure": ["a1c_at_goal", None], "aim_target": [0.7, None],
                          "aim_by": pd.to_datetime(["2016-01-31", None])})
    aims = outcomes_run_charts.aims(teams)
    assert aims.to_dict("records") == [{"team_id": "T1", "measure": "a1c_at_goal", "target": 0.7,
                                        "by": pd.Timestamp("2016-01-31")}]
    assert outcomes_run_charts.aims(None).empty and outcomes_run_charts.pdsa_annotations(None).empty


def test_signal_counts_count_teams_not_phases():
    """T1 has two phases (signal in the first only) and counts once; T2 has one phase and too few points."""
    signals = pd.DataFrame({"team_id": ["T1", "T1", "T2"], "measure": ["m"] * 3,
                            "runs_signal": pd.array([True, False, pd.NA], dtype="boolean"),
                            "n_outside_limits": pd.array([0, 2, 0], dtype="Int64")})
    counts = outcomes_run_charts.signal_counts(signals).iloc[0]
    assert (counts["teams"], counts["with_verdict"], counts["runs_signal"], counts["no_verdict"],
            counts["outside_limits"]) == (2, 1, 1, 1, 1)


# --- statewide scale ---------------------------------------------------------------------------------

def _many_team_reports(n_teams: int) -> pd.DataFrame:
    """n teams. Every fifth team (T000, T005, ...) has 8 low months then 8 high ones (runs of 8 on either
    side of the median, limit round(log2 16) + 3 = 7: a shift signal); the others zigzag around their median
    for 14 months (random variation)."""
    data = {}
    for t in range(n_teams):
        if t % 5 == 0:
            data[f"T{t:03d}"] = [(2, 20)] * 8 + [(12 + (t % 3), 20)] * 8
        else:
            data[f"T{t:03d}"] = [((5 if i % 2 else 8) + (i % 3), 20) for i in range(14)]
    return reports(data)


def test_vectorised_series_match_runs_analysis_series_by_series():
    """Centre lines, baseline flags, runs verdicts and Laney limits computed for all series at once equal
    those of runs_analysis / laney_sigma_z applied to each team's series alone (phases and a frozen
    baseline included)."""
    data = _many_team_reports(12)
    opts = {"baseline_points": 4, "phases": {"T003": ["2015-08"]}, "min_points": 5, "control_chart": "laney"}
    result = outcomes_run_charts.analyse(data, opts)
    for (team_id, phase), g in result.limits.groupby(["team_id", "phase"]):
        p = g["proportion"].to_numpy()
        base = np.arange(len(p)) < 4 if phase == 1 else np.ones(len(p), bool)
        centre = np.median(p[base])
        assert (g["centre"] == centre).all() and g["baseline"].tolist() == base.tolist()
        row = result.signals[(result.signals["team_id"] == team_id) & (result.signals["phase"] == phase)].iloc[0]
        expected = runs.runs_analysis(p, centre, min_points=5)
        assert (row["longest_run"], row["n_crossings"], row["verdict"]) == (
            expected["longest_run"], expected["n_crossings"], expected["verdict"])
        cl = g["numerator"][base].sum() / g["denominator"][base].sum()
        sd = np.sqrt(cl * (1 - cl) / 20)
        sigma_z = runs.laney_sigma_z((p[base] - cl) / sd)
        assert g["cl"].iloc[0] == pytest.approx(cl) and g["sigma_z"].iloc[0] == pytest.approx(sigma_z, nan_ok=True)


# --- figures -------------------------------------------------------------------------------------------

def visible_panels(fig) -> list:
    return [a for a in fig.axes if a.get_visible()]


def two_team_result(chart: str = "p"):
    """T1: 12 months 1/20 .. 12/20 (a verdict: too few crossings, a signal) with an aim of 50% and two PDSA
    cycles; T2: one month (no verdict)."""
    data = reports({"T1": [(i, 20) for i in range(1, 13)], "T2": [(5, 10)]})
    teams = pd.DataFrame({"team_id": ["T1", "T2"], "team_name": ["One", "Two"], "aim_measure": ["a1c_at_goal", None],
                          "aim_target": [0.5, None]})
    cycles = pd.DataFrame({"team_id": ["T1", "T1"], "started_on": pd.to_datetime(["2015-03-10", "2015-06-02"]),
                           "change_idea": ["a", "b"], "decision": ["adopt", None], "measure": [None, "a1c_at_goal"]})
    return outcomes_run_charts.analyse(data, {"min_points": 10, "control_chart": chart}, teams=teams, pdsa_cycles=cycles)


def test_run_charts_show_one_panel_per_team_with_verdict_aim_and_cycles():
    result = two_team_result()
    [spec] = run_chart_figures.run_charts(result)
    assert (spec.figure_id, spec.section, spec.notebook) == ("spc_run_chart_a1c_at_goal", "run_charts", "03_outcomes")
    panels = visible_panels(spec.figure)
    assert [a.get_title(loc="left") for a in panels] == ["One (signal)", "Two (no verdict)"]
    assert spec.figure._suptitle.get_text() == f"Run charts: {labels.measure_label('a1c_at_goal')}" == "Run charts: HbA1c at goal"
    assert [t.get_text() for t in panels[0].texts] == [" P1", " P2"] and not panels[1].texts
    # the median line of a signalling series is dashed orange; the aim a horizontal line at 50%
    assert any(line.get_linestyle() == "--" and line.get_ydata()[0] == pytest.approx(100 * 6.5 / 20)
               for line in panels[0].get_lines())
    assert any(list(line.get_ydata()) == [50, 50] for line in panels[0].get_lines())
    assert spec.title == "Run charts: HbA1c at goal, by team"
    assert "(Jan 2015 to Dec 2015)" in spec.caption and "2 PDSA cycles" in spec.caption and "1 team aim(s)" in spec.caption
    assert "1 of 1 teams with at least 10 useful points show non-random variation; 1 of 2 teams have too few" in spec.caption
    assert "Shown" not in spec.caption
    assert spec.alt_text.startswith("Grid of 2 small line charts, one per team, of the monthly percentage with HbA1c at goal")
    assert "1 teams show a shift or too few median crossings; 0 show only random variation; 1 have no verdict" in spec.alt_text


def test_control_charts_show_limits_and_the_months_outside():
    """T1's pooled p = 78/240 = 0.325; n = 20 gives limits 0.325 -/+ 3 * sqrt(0.325 * 0.675 / 20) = 0.325 -/+
    0.314: 1/20 = 0.05 and 12/20 = 0.6 lie inside (0.011 .. 0.639), so no month is outside."""
    result = two_team_result()
    [spec] = run_chart_figures.control_charts(result)
    assert (spec.figure_id, spec.section) == ("spc_control_chart_a1c_at_goal", "run_charts")
    panels = visible_panels(spec.figure)
    assert [a.get_title(loc="left") for a in panels] == ["One", "Two"]
    assert spec.title == "P-charts: HbA1c at goal, by team"
    assert "0 month(s) in 0 of 2 teams fall outside the limits" in spec.caption
    laney = run_chart_figures.control_charts(two_team_result("laney"))[0]
    assert laney.title == "Laney p′ charts: HbA1c at goal, by team"
    assert laney.figure._suptitle.get_text() == "Laney p′ charts: HbA1c at goal"


def test_charts_of_many_teams_draw_at_most_the_cap_and_say_so():
    """60 teams, 12 with a shift: the run charts draw PANELS_MAX (20) panels, the 12 teams with a signal
    first; the title and caption say 20 of 60 and where every team's verdict is. The control charts
    draw 20 panels too, teams with the most months outside the limits first."""
    result = outcomes_run_charts.analyse(_many_team_reports(60), {"min_points": 10})
    signalling = [f"T{t:03d}" for t in range(0, 60, 5)]
    cap = run_chart_figures.run_chart_teams(result.signals, "a1c_at_goal")
    assert len(cap.teams) == run_chart_figures.PANELS_MAX == 20 and cap.total == 60
    assert sorted(cap.teams[:12]) == signalling and cap.teams[12:] == [f"T{t:03d}" for t in range(1, 16) if t % 5][:8]
    [spec] = run_chart_figures.run_charts(result)
    panels = visible_panels(spec.figure)
    assert len(panels) == 20 and all(a.get_title(loc="left").endswith("(signal)") for a in panels[:12])
    assert not any(a.get_title(loc="left").endswith("(signal)") for a in panels[12:])
    assert "(20 of 60 teams: strongest signals first)" in spec.figure._suptitle.get_text()
    assert spec.caption.endswith(" Shown: 20 of 60 teams, the 12 with a runs signal, strongest first, then 8 without "
                                 "one, by team id; every team is in tables/run_chart_signals.csv.")
    assert "12 of 60 teams with at least 10 useful points show non-random variation; 0 of 60 teams" in spec.caption
    assert spec.alt_text.startswith("Grid of 20 small line charts, one per team (20 of 60 teams")
    [ctl] = run_chart_figures.control_charts(result)
    assert len(visible_panels(ctl.figure)) == 20
    outside = result.limits.groupby("team_id")["outside"].sum()
    chosen = run_chart_figures.control_chart_teams(result.limits, "a1c_at_goal").teams
    assert outside[chosen].min() >= outside.drop(chosen).max()
    assert [a.get_title(loc="left") for a in visible_panels(ctl.figure)] == chosen  # no team names: ids only
    assert ("Shown: 20 of 60 teams, the teams with the most months outside their limits (ties by team id)"
            in ctl.caption)
    assert f"{int(outside.sum())} month(s) in {int((outside > 0).sum())} of 60 teams fall outside" in ctl.caption


def test_charts_up_to_the_cap_draw_every_team_in_team_order():
    result = outcomes_run_charts.analyse(_many_team_reports(20), {"min_points": 10})
    cap = run_chart_figures.run_chart_teams(result.signals, "a1c_at_goal")
    assert cap.teams == [f"T{t:03d}" for t in range(20)] and not cap.capped
    [spec] = run_chart_figures.run_charts(result)
    assert [a.get_title(loc="left").split(" ")[0] for a in visible_panels(spec.figure)] == cap.teams
    assert "Shown" not in spec.caption and "(20 of" not in spec.figure._suptitle.get_text()


def test_a_capped_chart_with_no_signal_says_it_draws_the_first_teams_by_id():
    """25 teams that all zigzag (no runs signal): the cap draws T000..T019 and says so plainly."""
    data = reports({f"T{t:03d}": [((5 if i % 2 else 8) + (i % 3), 20) for i in range(14)] for t in range(25)})
    result = outcomes_run_charts.analyse(data, {"min_points": 10})
    cap = run_chart_figures.run_chart_teams(result.signals, "a1c_at_goal")
    assert cap.teams == [f"T{t:03d}" for t in range(20)]
    assert cap.sentence("run_chart_signals") == (" Shown: 20 of 25 teams, the first 20 by team id (none has a runs "
                                                 "signal); every team is in tables/run_chart_signals.csv.")


def test_collaborative_series_pools_the_teams_by_month():
    """By hand: 2015-02 a1c: (1 + 3) / (4 + 6) = 40%, 2 teams; 2015-04 (month 3 of the cycle): T1 alone 2/5 = 40%;
    a month with a zero denominator pooled with none is NaN."""
    monthly = pd.DataFrame({"team_id": ["T1", "T2", "T1", "T1"], "month": ["2015-02", "2015-02", "2015-04", "2015-05"],
                            "measure": "a1c_at_goal", "numerator": [1, 3, 2, 0], "denominator": [4, 6, 5, 0]})
    got = outcomes_run_charts.collaborative_series(outcomes_run_charts.prepare_points(monthly))
    assert got["month"].tolist() == ["2015-02", "2015-04", "2015-05"]
    assert got["cycle_month"].tolist() == [1, 3, 4]
    assert got["teams_reporting"].tolist() == [2, 1, 1]
    assert got["percent"].iloc[:2].tolist() == pytest.approx([40.0, 40.0]) and np.isnan(got["percent"].iloc[2])


def test_baseline_months_before_a_team_joined_are_marked_and_left_out_of_the_collaborative_series():
    """T1 joined on 2015-03-12 and T2 on 2015-02-01: T1's 2015-02 report is a baseline month (before its month of
    joining), T2's is not; the collaborative's series starts with T2 alone (3/6 = 50%) and counts cycle months from
    2015-02, and T1's 2015-03 counts (joined during the month)."""
    monthly = pd.DataFrame({"team_id": ["T1", "T2", "T1"], "month": ["2015-02", "2015-02", "2015-03"],
                            "measure": "a1c_at_goal", "numerator": [1, 3, 2], "denominator": [4, 6, 5]})
    teams = pd.DataFrame({"team_id": ["T1", "T2"], "joined_on": pd.to_datetime(["2015-03-12", "2015-02-01"])})
    points = outcomes_run_charts.prepare_points(monthly, teams=teams)
    assert points["before_joining"].tolist() == [True, False, False]
    got = outcomes_run_charts.collaborative_series(points)
    assert got["month"].tolist() == ["2015-02", "2015-03"] and got["teams_reporting"].tolist() == [1, 1]
    assert got["percent"].tolist() == pytest.approx([50.0, 40.0])
    assert not outcomes_run_charts.prepare_points(monthly)["before_joining"].any()  # without teams: none


def test_control_limits_table_by_hand():
    """Three months 3/10, 5/10, 2/10: the centre line is 10/30 = 1/3 and sigma sqrt(1/3 · 2/3 / 10) = 0.14907, so
    the upper limit is 1/3 + 3 · 0.14907 = 0.78054 and the lower one is clipped at 0; no month is outside."""
    result = outcomes_run_charts.analyse(reports({"T1": [(3, 10), (5, 10), (2, 10)]}), {"min_points": 10, "control_chart": "p"})
    table = outcomes_run_charts.limits_table(result.limits, result.chart)
    assert list(table.columns) == outcomes_run_charts.LIMIT_COLUMNS
    assert table["month"].tolist() == ["2015-01", "2015-02", "2015-03"]
    assert table["cl"].tolist() == pytest.approx([1 / 3] * 3)
    assert table["ucl"].tolist() == pytest.approx([1 / 3 + 3 * np.sqrt(2 / 90)] * 3) and (table["lcl"] == 0).all()
    assert not table["outside"].any() and table["method"].iloc[0].startswith("p-chart")
