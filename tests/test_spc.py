"""Run charts and control charts: Anhøj rules, centre lines, phases, p and Laney p′ limits.

Reference values: the Anhøj limits table (Anhøj & Olesen 2014, PLoS ONE 9:e113825, table 1; the same numbers
qicharts2 computes as round(log2(n)) + 3 and qbinom(0.05, n - 1, 0.5)); everything else by hand, with the
arithmetic in the docstrings.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaluation.analyses.outcomes import figures as outcomes_figures
from evaluation.analyses.outcomes import run_charts as outcomes_run_charts
from evaluation.core import labels
from evaluation.stats import runs
from evaluation.core.errors import ParamsError


@pytest.mark.parametrize("n, longest, crossings", [
    (10, 6, 2), (12, 7, 3), (20, 7, 6), (24, 8, 8), (30, 8, 10), (50, 9, 19), (100, 10, 41),
])
def test_anhoej_limits_match_the_published_table(n, longest, crossings):
    """Anhøj & Olesen 2014 table 1 / qicharts2: longest run limit and crossings limit for n useful points."""
    assert runs.longest_run_limit(n) == longest
    assert runs.crossings_limit(n) == crossings


def test_runs_analysis_counts_by_hand():
    """12 points 1..12 around their median 6.5: six below, six above -> longest run 6 (limit 7), one
    crossing (limit 3) -> signal for too few crossings."""
    res = runs.runs_analysis(range(1, 13), 6.5)
    assert (res["n_useful"], res["longest_run"], res["n_crossings"]) == (12, 6, 1)
    assert (res["longest_run_max"], res["n_crossings_min"]) == (7, 3)
    assert res["runs_signal"] is True
    assert res["verdict"] == "non-random variation: 1 median crossings (at least 3 expected)"


def test_points_on_the_median_are_not_useful():
    """Values 1,3,2,3,1,2,3,1,2,3,1,2 around centre 2: the four 2s are dropped, leaving 8 useful points
    1,3,3,1,3,1,3,1 -> sides -,+,+,-,+,-,+,-: longest run 2 (the two 3s), 6 crossings."""
    res = runs.runs_analysis([1, 3, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2], 2, min_points=5)
    assert res["n_points"] == 12 and res["n_useful"] == 8
    assert res["longest_run"] == 2 and res["n_crossings"] == 6
    assert res["runs_signal"] is False and res["verdict"] == "random variation only"


def test_shift_signal_by_hand():
    """14 points: 0, 2, 0, 2, 0 alternate around centre 1, then nine 2s: longest run 9 > limit
    round(log2 14) + 3 = 4 + 3 = 7; 5 crossings, not fewer than qbinom(0.05, 13, 0.5) = 4."""
    values = [0, 2, 0, 2, 0] + [2] * 9
    res = runs.runs_analysis(values, 1)
    assert res["longest_run"] == 9 and res["longest_run_max"] == 7
    assert res["n_crossings"] == 5 and res["n_crossings_min"] == 4
    assert res["runs_signal"] is True and res["verdict"] == (
        "non-random variation: a run of 9 points on one side of the median (limit 7)")


def test_fewer_than_min_points_gives_no_verdict_and_says_so():
    res = runs.runs_analysis([1, 2, 3, 4, 5, 6, 7, 8, 9], 5)  # 8 useful points (5 is on the centre)
    assert res["n_useful"] == 8 and res["runs_signal"] is None
    assert res["verdict"] == "only 8 useful points (fewer than 10): no runs verdict"
    assert res["longest_run"] == 4  # still counted, for the reader


def test_all_points_on_the_median():
    res = runs.runs_analysis([0.5] * 12, 0.5)
    assert res["n_useful"] == 0 and res["runs_signal"] is None and res["longest_run"] is None
    assert res["verdict"] == "all points on the median: no useful points, no runs verdict"


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


def test_laney_screens_large_moving_ranges():
    """z = 0, 1, 0, 1, 0, 10: moving ranges 1, 1, 1, 1, 10; mean 2.8, screen at 3.267 * 2.8 = 9.1476
    drops the 10; sigma_z = mean(1, 1, 1, 1) / 1.128 = 0.8865248."""
    assert runs.laney_sigma_z([0, 1, 0, 1, 0, 10]) == pytest.approx(1 / 1.128)
    assert np.isnan(runs.laney_sigma_z([0.5]))  # one month: no moving range


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


def test_charts_draw_and_captions_count_teams():
    data = reports({"T1": [(i, 20) for i in range(1, 13)], "T2": [(5, 10)]})
    teams = pd.DataFrame({"team_id": ["T1", "T2"], "team_name": ["One", "Two"], "aim_measure": ["a1c_at_goal", None],
                          "aim_target": [0.5, None]})
    result = outcomes_run_charts.analyse(data, {"min_points": 10}, teams=teams)
    run = outcomes_figures.spc_run_chart(result.points, result.signals, measure="a1c_at_goal", pdsa=result.pdsa,
                                aims=result.aims, teams=teams)
    ctl = outcomes_figures.spc_control_chart(result.limits, measure="a1c_at_goal", pdsa=result.pdsa, aims=result.aims, teams=teams)
    assert len([a for a in run.axes if a.get_visible()]) == 2 and len([a for a in ctl.axes if a.get_visible()]) == 2
    plt.close(run)
    plt.close(ctl)
    text = outcomes_figures.run_chart_text(result, "a1c_at_goal")
    assert "1 of 1 teams with at least 10 useful points show non-random variation; 1 of 2 teams" in text["caption"]
    assert labels.measure_label("a1c_at_goal") == "HbA1c at goal" and labels.measure_label("bp_at_goal") == "Blood pressure at goal"


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


def test_charts_of_many_teams_draw_at_most_the_cap_and_say_so():
    """60 teams, 12 with a shift: the run charts draw PANELS_MAX (20) panels, the 12 teams with a signal
    first; the title and caption say 20 of 60 and where every team's verdict is. The control charts
    draw 20 panels too, teams with the most months outside the limits first."""
    result = outcomes_run_charts.analyse(_many_team_reports(60), {"min_points": 10})
    signalling = [f"T{t:03d}" for t in range(0, 60, 5)]
    chosen = outcomes_figures.run_chart_teams(result.signals, "a1c_at_goal")
    assert len(chosen) == outcomes_figures.PANELS_MAX == 20
    assert sorted(chosen[:12]) == signalling and chosen[12:] == [f"T{t:03d}" for t in range(1, 16) if t % 5][:8]
    run = outcomes_figures.spc_run_chart(result.points, result.signals, measure="a1c_at_goal")
    panels = [a for a in run.axes if a.get_visible()]
    assert len(panels) == 20 and panels[0].get_title(loc="left").endswith("(signal)")
    assert "(20 of 60 teams: strongest signals first)" in run._suptitle.get_text()
    plt.close(run)
    text = outcomes_figures.run_chart_text(result, "a1c_at_goal")
    assert ("20 of the 60 teams are drawn: the 12 with a runs signal, strongest first, then 8 without one, by team id; "
            "every team is in tables/run_chart_signals.csv.") in text["caption"]
    assert text["alt_text"].startswith("Grid of 20 small line charts, one per team (20 of 60 teams")
    ctl = outcomes_figures.spc_control_chart(result.limits, measure="a1c_at_goal")
    assert len([a for a in ctl.axes if a.get_visible()]) == 20
    plt.close(ctl)
    outside = result.limits.groupby("team_id")["outside"].sum()
    chosen = outcomes_figures.control_chart_teams(result.limits, "a1c_at_goal")
    assert outside[chosen].min() >= outside.drop(chosen).max()
    assert "20 of the 60 teams are drawn" in outcomes_figures.control_chart_text(result, "a1c_at_goal")["caption"]


def test_charts_up_to_the_cap_draw_every_team_in_team_order():
    result = outcomes_run_charts.analyse(_many_team_reports(20), {"min_points": 10})
    assert outcomes_figures.run_chart_teams(result.signals, "a1c_at_goal") == [f"T{t:03d}" for t in range(20)]
    assert "drawn" not in outcomes_figures.run_chart_text(result, "a1c_at_goal")["caption"]
