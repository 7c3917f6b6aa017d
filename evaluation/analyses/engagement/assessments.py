"""Progress on IHI's Assessment Scale for Collaboratives (``assessments.csv``): each team's monthly scores, and
the share of teams at or above a level of the scale month by month.

The scale runs from 1.0 (forming team) to 5.0 (outstanding sustainable results) in half points; 4.0 is
*significant improvement*, the level collaboratives usually count teams at. The faculty (the collaborative
director or improvement advisor) rate every team each month, and teams may rate themselves on the same scale;
the two are kept apart, never averaged: a team's self-assessment is usually a little kinder, and the gap is a
finding of its own.
"""

from __future__ import annotations

import pandas as pd

from evaluation.core.dictionary import load_dictionary

SIGNIFICANT_IMPROVEMENT = 4.0  # the scale's level 4.0: the share of teams at or above it is the headline
TRAJECTORY_COLUMNS = ["team_id", "team_name", "month", "rater", "score"]
SHARE_COLUMNS = ["month", "teams_rated", "teams_at_or_above", "share"]


def raters() -> tuple[str, ...]:
    """The raters the data dictionary allows (team, faculty), in its order."""
    return load_dictionary()["assessments"].column("rater").allowed or ()


def _scale() -> tuple[float, float]:
    low, high = load_dictionary()["assessments"].column("score").range
    return float(low), float(high)


def _ratings(assessments: pd.DataFrame) -> pd.DataFrame:
    """team_id, month (``YYYY-MM`` text), rater, score, with blank scores left out and one rating per team, month
    and rater (the dictionary's key: a second one is an error)."""
    d = assessments[["team_id", "month", "rater", "score"]].copy()
    d["month"] = pd.to_datetime(d["month"]).dt.strftime("%Y-%m")
    d["score"] = pd.to_numeric(d["score"], errors="coerce").astype(float)
    d = d.dropna(subset=["team_id", "month", "rater", "score"])
    twice = d.duplicated(["team_id", "month", "rater"], keep=False)
    if twice.any():
        first = d[twice].iloc[0]
        raise ValueError(f"assessments has more than one rating of team {first['team_id']} for {first['month']} by "
                         f"{first['rater']}: one rating per team, month and rater")
    return d


def assessment_trajectories(assessments: pd.DataFrame, teams: pd.DataFrame) -> pd.DataFrame:
    """Every rating as a trajectory point: team_id, team_name, month (``YYYY-MM``), rater, score.

    Sorted by team, month and rater (the team's own rating before the faculty's); a team missing from ``teams``
    keeps a blank name. Blank scores are left out.
    """
    d = _ratings(assessments)
    names = teams.drop_duplicates("team_id").set_index("team_id")["team_name"]
    d["team_name"] = d["team_id"].map(names).astype(object)
    order = {r: i for i, r in enumerate(raters())}
    d = d.assign(_r=d["rater"].map(order).fillna(len(order))).sort_values(["team_id", "month", "_r"], kind="stable")
    return d[TRAJECTORY_COLUMNS].reset_index(drop=True)


def share_at_or_above(assessments: pd.DataFrame, threshold: float = SIGNIFICANT_IMPROVEMENT,
                      rater: str = "faculty") -> pd.DataFrame:
    """Per month: the teams ``rater`` rated, those rated at or above ``threshold``, and their share.

    A team's score for a month is the chosen rater's rating of it that month: the faculty's by default (the
    collaborative's own judgement, made the same way for every team), or the team's self-assessment with
    ``rater="team"``. The two are never combined. A team that rater did not rate that month counts in neither
    the numerator nor the denominator; a month nobody rated has no row.

    Columns: month (``YYYY-MM``), teams_rated, teams_at_or_above, share (0-1), by month.
    """
    allowed = raters()
    if rater not in allowed:
        raise ValueError(f"rater must be one of {', '.join(allowed)}; got {rater!r}")
    low, high = _scale()
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not low <= threshold <= high:
        raise ValueError(f"threshold must be a score of the assessment scale, {low:g} to {high:g}; got {threshold!r}")
    d = _ratings(assessments)
    d = d[d["rater"] == rater]
    g = d.assign(at=d["score"] >= threshold).groupby("month", sort=True)
    out = pd.DataFrame({"teams_rated": g["team_id"].size(), "teams_at_or_above": g["at"].sum()}).reset_index()
    out = out.astype({"teams_rated": int, "teams_at_or_above": int})
    out["share"] = out["teams_at_or_above"] / out["teams_rated"]
    return out[SHARE_COLUMNS]
