"""Assessments: each team's monthly score on IHI's Assessment Scale for Collaboratives, rated by the faculty
and by the team itself, and ``assessments.csv``.

A team's progress rises from where it starts (1.0, a forming team; higher for a team back for another cycle)
toward a ceiling set by its engagement (as it fades over the year) and its clinical effect, so the scale agrees
with what the team's data show. The faculty rate every month with a little noise; a team rates itself less
regularly (more often when engaged) and a little more generously. Scores are rounded to the scale's half points
and clipped to 0.5-5.0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import CYCLE_MONTHS, Calendar
from .columns import label_column, month_column, number_column, repeat_ranges, team_ids
from .teams import Teams

RATERS = ("team", "faculty")       # the order rows are written in, within a team and month
SCALE = (0.5, 5.0)                 # the scale's lowest and highest point
STEP = 0.5
FIRST_LEVEL = 1.0                  # forming team
RETURNING_FIRST_LEVEL = 2.0        # a team back for another cycle starts with its team and measures in place
CEILING = (1.5, 5.0)               # the level a team tends to: capacity 0 -> 1.5, capacity 1 -> 5.0
EFFECT_SCALE = 0.8                 # an effect this large counts as full capacity (the demo's strongest team)
TAU_MONTHS = (3.0, 6.0)            # months to close ~63% of the gap to the ceiling
FACULTY_NOISE, TEAM_NOISE = 0.2, 0.35
TEAM_OPTIMISM = 0.3                # teams rate themselves this much higher than the faculty, on average
TEAM_RATES_BASE, TEAM_RATES_PER_ENGAGEMENT = 0.35, 0.6   # chance a team sends its self-assessment in a month


def to_scale(values: np.ndarray) -> np.ndarray:
    """Values rounded to the nearest half point and clipped to the scale."""
    return np.clip(np.rint(np.asarray(values, dtype=float) / STEP) * STEP, *SCALE)


def assessments_frame(rng: np.random.Generator, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """``assessments.csv``: one faculty rating per team and month from the month the team joined to the end of
    the cycle, and the team's own rating in most of those months."""
    first = teams.joined.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    last = cal.start_month + CYCLE_MONTHS - 1
    owner, step = repeat_ranges(np.maximum(last - first + 1, 0))
    month = first[owner] + step
    days = month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)   # each month's first day
    year_frac = np.clip((days - cal.start) / 365.0, 0.0, 1.0)
    engagement = teams.engagement[owner] * (1.0 - teams.fade[owner] * year_frac)
    capacity = np.clip(0.5 * engagement + 0.5 * teams.effect[owner] / EFFECT_SCALE, 0.0, 1.0)
    ceiling = CEILING[0] + (CEILING[1] - CEILING[0]) * capacity
    start = np.where(teams.returning, RETURNING_FIRST_LEVEL, FIRST_LEVEL)[owner]
    tau = rng.uniform(*TAU_MONTHS, teams.n)[owner]
    level = start + (ceiling - start) * (1.0 - np.exp(-step / tau))
    faculty = to_scale(level + rng.normal(0.0, FACULTY_NOISE, len(level)))
    own = to_scale(level + TEAM_OPTIMISM + rng.normal(0.0, TEAM_NOISE, len(level)))
    sent = rng.random(len(level)) < np.clip(TEAM_RATES_BASE + TEAM_RATES_PER_ENGAGEMENT * engagement, 0.1, 0.95)
    # rows: (team, month) in order, the team's own rating (when sent) before the faculty's
    pair = np.concatenate([np.flatnonzero(sent), np.arange(len(level))])
    rater = np.concatenate([np.zeros(int(sent.sum()), np.int64), np.ones(len(level), np.int64)])
    score = np.concatenate([own[sent], faculty])
    order = np.lexsort((rater, pair))
    pair, rater, score = pair[order], rater[order], score[order]
    return pd.DataFrame({
        "team_id": team_ids(owner[pair], teams.n),
        "month": month_column(month[pair]),
        "score": number_column(score, 1),
        "rater": label_column(rater, RATERS),
    })
