"""The interrupted-time-series charts of notebook 03: one figure per monthly measure, a panel per team with the
observed months, the fitted segments before and after the team's intervention month and the counterfactual (the
pre-intervention segment carried on), each figure beside its title, caption (the teams' level and slope changes
with their CIs, and the pooled change) and alt text (report section ``run_charts``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.groups import TeamCap, first
from evaluation.core.labels import measure_label
from evaluation.core.text import format_p
from evaluation.analyses.wording import mid_sentence
from .figures import NOTEBOOK
from .its import ALL_TEAMS, ITSResult
from .run_chart_figures import PANELS_MAX, SECTION, _finish, _grid

ITS_TABLE = "its"


def its_teams(result: ITSResult, measure: str, max_teams: int = PANELS_MAX) -> TeamCap:
    """Teams drawn for one measure: all of them by team_id up to ``max_teams``; above, the clearest level changes
    first (smallest p, then team_id)."""
    rows = result.team_rows()
    rows = rows[rows["measure"] == measure]
    if len(rows) <= max_teams:
        return TeamCap(rows["team_id"].tolist(), len(rows))
    order = rows.assign(p=rows["p_level"].astype(float).fillna(2.0)).sort_values(["p", "team_id"], kind="stable")
    return first(order["team_id"].tolist(), max_teams, rule="the smallest p for the level change first")


def _change(value: float, low: float, high: float, scale: str, *, per_month: bool = False) -> str:
    """A change as a caption writes it: a ratio ``×1.82 (1.21–2.74)``, or percentage points ``+6.1 pp (1.2 to 11.0)``."""
    if not np.isfinite(value):
        return "not estimated"
    unit = " per month" if per_month else ""
    if scale == "percentage points":
        return f"{value:+.1f} pp{unit} ({low:.1f} to {high:.1f})"
    return f"×{value:.2f}{unit} ({low:.2f}–{high:.2f})"


def change_sentence(row: pd.Series, alpha: float) -> str:
    """One team's (or the pooled) level and slope change in words, with the CI level."""
    level = _change(row["level_change"], row["level_ci_low"], row["level_ci_high"], row["scale"])
    text = f"level {level}, {format_p(row['p_level'])}"
    if np.isfinite(float(row["slope_change"])):
        slope = _change(row["slope_change"], row["slope_ci_low"], row["slope_ci_high"], row["scale"], per_month=True)
        text += f"; slope {slope}, {format_p(row['p_slope'])}"
    return text


def _scale_words(scale: str) -> str:
    return {"odds ratio": "odds ratios", "rate ratio": "rate ratios"}.get(scale, "percentage points")


@house_style
def its_figure(result: ITSResult, measure: str, cap: TeamCap | None = None) -> plt.Figure:
    """One measure's segmented regressions, a panel per team of ``cap`` (default :func:`its_teams`): the months
    (open before the intervention, filled after), the fit in each segment and the counterfactual dashed."""
    series = result.series[result.series["measure"] == measure]
    cap = cap or its_teams(result, measure)
    by_team = dict(tuple(series[series["team_id"].isin(cap.teams)].groupby("team_id", sort=False)))
    fig, axes = _grid(len(cap.teams))
    for ax, team_id in zip(axes, cap.teams):
        g = by_team.get(team_id, series.iloc[:0])
        month = pd.to_datetime(g["month"].astype(str).str[:7] + "-01")
        after = g["after"].to_numpy(dtype=bool)
        ax.plot(month[~after], g["percent"][~after], "o", mfc="white", color=OKABE_ITO[0], ms=2.5)
        ax.plot(month[after], g["percent"][after], "o", color=OKABE_ITO[0], ms=2.5)
        for part in (~after, after):
            ax.plot(month[part], g["fitted"][part], color=OKABE_ITO[4], lw=1.2)
        ax.plot(month[after], g["counterfactual"][after], color=OKABE_ITO[4], ls="--", lw=1)
        if after.any():
            ax.axvline(month[after].min(), color="#444444", lw=0.8, ls=":")
        name = result.team_names.get(team_id) or team_id
        ax.set_title(name if not cap.capped else f"{team_id} {name}", fontsize=8, fontweight="normal", loc="left")
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], marker="o", mfc="white", ls="", ms=2.5, label="month before"),
               plt.Line2D([], [], color=OKABE_ITO[0], marker="o", ls="", ms=2.5, label="month after"),
               plt.Line2D([], [], color=OKABE_ITO[4], lw=1.2, label="fitted"),
               plt.Line2D([], [], color=OKABE_ITO[4], ls="--", lw=1, label="without the change"),
               plt.Line2D([], [], color="#444444", ls=":", lw=0.8, label="intervention")]
    title = f"Interrupted time series: {measure_label(measure)}"
    return _finish(fig, axes, handles, title if not cap.capped else f"{title} ({len(cap.teams)} of {cap.total} teams)")


def its_charts(result: ITSResult, max_teams: int = PANELS_MAX) -> list[FigureSpec] | str:
    """One figure per measure (``its_<measure>``) with its text: each drawn team's level and slope changes and the
    pooled change, on the model's scale."""
    if result.table.empty:
        return "No interrupted time series to draw: no team has monthly reports on both sides of its intervention."
    specs = []
    level = int(round(100 * (1 - result.alpha)))
    model = result.settings["model"]
    for measure in result.measures:
        rows = result.team_rows()
        rows = rows[rows["measure"] == measure].set_index("team_id")
        pooled = result.pooled_rows()
        pooled = pooled[pooled["measure"] == measure]
        cap = its_teams(result, measure, max_teams)
        label = mid_sentence(measure_label(measure))
        scale = rows["scale"].iloc[0] if len(rows) else ""
        teams = "; ".join(f"{result.team_names.get(t) or t}: {change_sentence(rows.loc[t], result.alpha)}"
                          for t in cap.teams)
        pooled_text = (f" Pooled across {int(pooled['teams'].iloc[0])} teams ({pooled['model'].iloc[0].split(': ', 1)[-1]}): "
                       f"{change_sentence(pooled.iloc[0], result.alpha)}."
                       if len(pooled) and np.isfinite(float(pooled["level_change"].iloc[0])) else "")
        short = int(((rows["n_pre"] < result.settings["min_points"]) | (rows["n_post"] < result.settings["min_points"])).sum())
        specs.append(FigureSpec(
            f"its_{measure}", its_figure(result, measure, cap),
            title=f"Interrupted time series: {measure_label(measure)}, by team",
            caption=(f"Monthly percentage with {label} per team, with a segmented regression ({model}"
                     f"{', ' + str(result.settings['harmonics']) + ' harmonic(s) for season' if result.settings['harmonics'] else ''}"
                     f"{', ' + result.settings['autocorrelation'] + ' standard errors' if result.settings['autocorrelation'] != 'none' else ''}) "
                     f"fitted before and after each team's intervention month and, dashed, the pre-intervention "
                     f"trend carried on. Changes at the intervention as {_scale_words(scale)} with {level}% CIs: "
                     f"{teams}.{pooled_text}"
                     + (f" {short} team(s) have fewer than {result.settings['min_points']} months on one side: read "
                        f"their estimates with care." if short else "")
                     + cap.sentence(ITS_TABLE)),
            alt_text=(f"Grid of {len(cap.teams)} small charts, one per team, of the monthly percentage with {label}: "
                      f"points before and after the team's intervention month, a fitted line in each period and a "
                      f"dashed line where the earlier trend would have gone."),
            section=SECTION, notebook=NOTEBOOK))
    return specs


def pooled_table(result: ITSResult) -> pd.DataFrame:
    """The pooled rows, for the notebook: per measure the level and slope changes across teams (tau² to 4 and I² to
    1 decimal)."""
    cols = ["measure", "teams", "level_change", "level_ci_low", "level_ci_high", "p_level", "slope_change",
            "slope_ci_low", "slope_ci_high", "p_slope", "scale", "tau2", "i2"]
    rows = result.table[result.table["team_id"] == ALL_TEAMS]
    # tau2 at REML's boundary is 0 up to the optimiser's last digits, which differ between machines
    return rows[cols].round({"tau2": 4, "i2": 1}).reset_index(drop=True)
