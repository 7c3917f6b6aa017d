"""The priority notebook's summary figure: per team, its enrolled patients in each priority band, and the share
of its patients not at goal without a recent reading. Report section ``priority`` is internal: the figure is
exported for the teams and the evaluator, never drawn into the story or the funder pack (it counts patients per
team, often fewer than the small-cell threshold)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.params import Params
from .compute import BANDS

SECTION = "priority"
NOTEBOOK = "06_priority"
BAND_COLOURS = {"high": OKABE_ITO[3], "medium": OKABE_ITO[1], "low": OKABE_ITO[4]}
TEAMS_MAX = 40  # above, the teams with the most high-priority patients


@house_style
def bands_chart(bands: pd.DataFrame, max_teams: int = TEAMS_MAX) -> plt.Figure:
    """Horizontal stacked bars, a team per row (the most high-priority patients on top, at most ``max_teams``):
    patients per band, and at the right the % of the team's not-at-goal patients without a recent reading."""
    teams = bands[bands["team_id"] != "all"].sort_values(["high", "team_id"], ascending=[False, True],
                                                         kind="stable").head(max_teams)
    teams = teams.iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.5, max(2.4, 0.28 * len(teams) + 1.2)))
    y = np.arange(len(teams))
    left = np.zeros(len(teams))
    for band in BANDS:
        values = teams[band].to_numpy(dtype=float)
        ax.barh(y, values, left=left, color=BAND_COLOURS[band], label=f"{band} priority", height=0.7)
        left += values
    top = float(left.max()) if len(left) else 1.0
    for yi, total, pct in zip(y, left, teams["pct_not_at_goal_no_recent_reading"]):
        if pct == pct:
            ax.text(total + top * 0.01, yi, f"{pct:.0f}%", va="center", fontsize=7)
    ax.set_yticks(y, teams["team_id"])
    ax.set_xlim(0, top * 1.12 if top > 0 else 1)
    ax.set_xlabel("enrolled patients")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title("Patients by priority band, per team")
    return fig


def bands_figure(bands: pd.DataFrame, params: Params) -> FigureSpec | str:
    """The bands chart with its caption (the cohort's counts and how the score is made)."""
    every = bands[bands["team_id"] == "all"]
    if every.empty or int(every["patients"].iloc[0]) == 0:
        return "No patient is enrolled on the as-of date: no priority list."
    a = every.iloc[0]
    n_teams = int((bands["team_id"] != "all").sum())
    shown = min(n_teams, TEAMS_MAX)
    stale = (f"; of the {int(a['not_at_goal']):,} not at goal on some measure, {int(a['not_at_goal_no_recent_reading']):,} "
             f"({a['pct_not_at_goal_no_recent_reading']:.0f}%, the figure at the right of each bar) had no goal-measure "
             f"reading in the {params.priority['stale_days']} days up to {params.as_of:%B %-d, %Y}"
             if int(a["not_at_goal"]) else "")
    bands_cut = params.priority["bands"]
    caption = (f"Patients enrolled on {params.as_of:%B %-d, %Y} by priority band: {int(a['high']):,} high "
               f"(score {bands_cut['high']:g} or more), {int(a['medium']):,} medium ({bands_cut['medium']:g} or more) "
               f"and {int(a['low']):,} low, of {int(a['patients']):,}{stale}. The score adds points for each measure "
               f"not at goal and far from it, each condition, recent ED visits and admissions, open medication "
               f"therapy problems and no recent reading (weights in params `priority`)."
               + (f" The {shown} teams with the most high-priority patients of {n_teams} are drawn; every team is in "
                  f"tables/priority_bands.csv." if shown < n_teams else "")
               + " For the teams only: not part of the funder pack.")
    return FigureSpec("priority_bands", bands_chart(bands), title="Patients by priority band, per team",
                      caption=caption,
                      alt_text=("Horizontal stacked bars, one per team, of enrolled patients in the high, medium and "
                                "low priority bands, with the share of not-at-goal patients lacking a recent reading."),
                      section=SECTION, notebook=NOTEBOOK)
