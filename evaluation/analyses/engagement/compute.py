"""The engagement score of each team, and whether engagement goes with results.

The team table (:func:`engagement_by_team`) joins each team's attendance (:mod:`.attendance`) and milestones
(:mod:`.milestones`) and adds the engagement score (0-100): a weighted mean of three shares, with weights
``engagement.weights``: attendance rate, share of due milestones done, and share of due milestones done on
time. A component a team has no data for (e.g. no milestone due yet) is left out and the remaining weights
are rescaled, so the score is always on the same 0-100 scale; ``components_used`` says how many went in.

The dose-response check relates each team's score to the change in its patients at goal between baseline
and follow-up, read with the outcome analysis' own pairing (:func:`team_outcome_change`), and compares the
initial and advanced tracks.
"""

from __future__ import annotations
from dataclasses import dataclass
from typing import Mapping
import numpy as np
import pandas as pd
from scipy import stats
from evaluation.analyses.outcomes.compute import cohort_pairs
from evaluation.core.dictionary import load_dictionary
from evaluation.core.errors import ParamsError
from evaluation.core.labels import group_name
from evaluation.core.params import Params
from evaluation.core.text import format_p
from evaluation.data.cohort import Cohort
from .attendance import attendance_by_team, offered_events
from .milestones import milestone_status, milestones_by_team

# Score components: params weight key -> column of the team table holding the share (0-1).
COMPONENTS = {
    "attendance": "attendance_rate",
    "milestones_done": "milestones_done_share",
    "milestones_on_time": "milestones_on_time_share",
}
TEAM_COLUMNS = ["team_id", "track", "events_offered", "events_attended", "attendance_rate", "milestones_due",
                "milestones_done"]  # the brief's columns of tables/engagement_by_team.csv, in order
# The score view of the team table the notebook shows.
SCORE_COLUMNS = ["rank", "team_id", "track", "engagement_score", "attendance_rate", "milestones_done_share",
                 "milestones_on_time_share", "components_used"]


def score_weights(params: Params) -> dict[str, float]:
    """The engagement-score weights: non-negative numbers, at least one above zero."""
    weights = params.engagement["weights"]
    out = {}
    for key in COMPONENTS:
        value = weights.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ParamsError(f"`engagement.weights.{key}` must be a number of 0 or more; got {value!r}",
                              key=f"engagement.weights.{key}")
        out[key] = float(value)
    if sum(out.values()) <= 0:
        raise ParamsError(f"`engagement.weights` must have at least one weight above 0; got {weights!r}",
                          key="engagement.weights")
    return out


# The tables each component of the engagement score is computed from (see engagement_by_team): the attendance
# rate needs the events offered and their attendance records; the milestone shares, milestones.
SCORE_TABLES = {"attendance": ("events", "attendance"), "milestones_done": ("milestones",),
                "milestones_on_time": ("milestones",)}


def score_missing_tables(cohort: Cohort, params: Params) -> str | None:
    """None when some weighted part of the engagement score has its tables; else the files that are missing
    ("events.csv or attendance.csv, and no milestones.csv"), since then no team can have a score."""
    needed = sorted({SCORE_TABLES[k] for k, w in score_weights(params).items() if w > 0})
    if any(cohort.has(*tables) for tables in needed):
        return None
    files = load_dictionary()
    return ", and no ".join(" or ".join(files[t].file for t in tables if not cohort.has(t)) for tables in needed)


def score_note(cohort: Cohort, params: Params) -> str | None:
    """A sentence when the cohort has no data for the engagement score (its sections are skipped), else None."""
    missing = score_missing_tables(cohort, params)
    return None if missing is None else (f"Skipped: this cohort has no {missing} (or the file is empty), which the "
                                         "engagement score needs.")


def score_table(team_table: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """Add the engagement score (0-100), each component's contribution in points, and the rank.

    score = 100 * sum(w_k * share_k) / sum(w_k) over the components the team has data for;
    ``contribution_<k>`` are the summands, so they add up to the score (used by the ranking chart).
    """
    out = team_table.copy()
    shares = pd.DataFrame({k: out[col].astype(float) for k, col in COMPONENTS.items()})
    w = pd.Series(weights, dtype=float)
    used = shares.notna() & (w > 0)
    total = used.mul(w).sum(axis=1)
    contrib = shares.fillna(0).mul(w).div(total.where(total > 0), axis=0) * 100
    for k in COMPONENTS:
        out[f"contribution_{k}"] = contrib[k].where(used[k], 0.0).where(total > 0)
    out["engagement_score"] = contrib.where(used).sum(axis=1, min_count=1).where(total > 0)
    out["components_used"] = used.sum(axis=1).astype(int)
    out["rank"] = out["engagement_score"].rank(ascending=False, method="min").astype("Int64")
    return out


def engagement_by_team(cohort: Cohort, params: Params) -> pd.DataFrame:
    """The team table behind ``tables/engagement_by_team.csv``: attendance, milestones and the score.

    Starts with the brief's columns (team_id, track, events_offered, events_attended, attendance_rate,
    milestones_due, milestones_done), then the rest. Without an events file the event counts are missing
    (not 0); without a milestones file the milestone counts are.
    """
    teams = cohort.teams
    offered = offered_events(cohort, params)
    att = attendance_by_team(offered, teams)
    if offered is None:
        for col in ("events_offered", "events_attended", "events_absent", "events_not_recorded", "events_recorded"):
            att[col] = pd.Series(pd.NA, index=att.index, dtype="Int64")
    mil = milestones_by_team(milestone_status(cohort, params), teams)
    table = att.merge(mil.drop(columns="track"), on="team_id", how="left")
    table = score_table(table, score_weights(params))
    rest = [c for c in table.columns if c not in TEAM_COLUMNS]
    return table[TEAM_COLUMNS + rest]


def engagement_scores(cohort: Cohort, params: Params) -> pd.DataFrame:
    """One row per team: team_id, track, engagement_score (0-100), its components and rank.

    For other analyses (e.g. the Cox model of time to goal) that use engagement as a team covariate.
    Columns: team_id, track, engagement_score, attendance_rate, milestones_done_share,
    milestones_on_time_share, components_used, rank.
    """
    table = engagement_by_team(cohort, params)
    cols = ["team_id", "track", "engagement_score", *COMPONENTS.values(), "components_used", "rank"]
    return table[cols].reset_index(drop=True)



def team_outcome_change(cohort: Cohort, params: Params) -> pd.DataFrame:
    """Per team and measure: percentage points of paired patients at goal at follow-up minus at baseline.

    Baseline and follow-up are the outcome analysis' (:func:`evaluation.analyses.outcomes.compute.cohort_pairs`:
    the reading closest to enrollment in the baseline window, the last one in the follow-up window), so this
    notebook and the outcomes notebook count the same patients at goal. For each measure with a goal of its own
    in ``params.goals`` (a combined goal such as bp is left out: its parts are in), ``n_pairs`` counts the
    patients with both readings and ``goal_gain_points = pct_at_goal_followup - pct_at_goal_baseline``;
    ``measure = all`` pools every patient-measure pair of the team. Every team has a row per measure; with no
    pair the percentages and the gain are missing. This only ranks teams for the dose-response check; the
    outcomes notebook holds the full analysis.
    """
    teams = cohort.teams[["team_id", "track"]].astype(object)
    measures = sorted(set(params.goals))
    pairs = cohort_pairs(cohort, params)
    pairs = pairs.loc[pairs["status"].eq("paired") & pairs["measure"].isin(measures)
                      & pairs["baseline_at_goal"].notna() & pairs["followup_at_goal"].notna()]
    pairs = pd.DataFrame({"team_id": pairs["team_id"].astype(object), "measure": pairs["measure"].astype(object),
                          "at_goal_baseline": pairs["baseline_at_goal"].astype(bool).astype(int),
                          "at_goal_followup": pairs["followup_at_goal"].astype(bool).astype(int)})
    both = pd.concat([pairs, pairs.assign(measure="all")], ignore_index=True)
    agg = both.groupby(["team_id", "measure"]).agg(
        n_pairs=("team_id", "size"), at_goal_baseline=("at_goal_baseline", "sum"),
        at_goal_followup=("at_goal_followup", "sum"))
    grid = pd.MultiIndex.from_product([sorted(teams["team_id"]), ["all", *measures]], names=["team_id", "measure"])
    out = agg.reindex(grid).fillna(0).astype(int).reset_index()
    n = out["n_pairs"].where(out["n_pairs"] > 0)
    out["pct_at_goal_baseline"] = 100 * out["at_goal_baseline"] / n
    out["pct_at_goal_followup"] = 100 * out["at_goal_followup"] / n
    out["goal_gain_points"] = out["pct_at_goal_followup"] - out["pct_at_goal_baseline"]
    out.insert(1, "track", out["team_id"].map(teams.set_index("team_id")["track"]))
    return out


@dataclass
class EngagementVsOutcome:
    """Team engagement score against team outcome improvement: Spearman's rho and a fitted line.

    rho and its p-value are scipy's ``spearmanr`` (t approximation, as R's
    ``cor.test(x, y, method = "spearman", exact = FALSE)``); the line is ordinary least squares, drawn
    only to guide the eye. Teams without a score or without any patient pair are left out.
    """

    points: pd.DataFrame  # team_id, track, engagement_score, goal_gain_points, n_pairs
    measure: str = "all"
    rho: float = np.nan
    p_value: float = np.nan
    slope: float = np.nan
    intercept: float = np.nan
    alpha: float = 0.05

    @property
    def n_teams(self) -> int:
        return len(self.points)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"measure": self.measure, "n_teams": self.n_teams, "spearman_rho": self.rho,
                              "p_value": self.p_value, "slope_points_per_score_point": self.slope,
                              "intercept": self.intercept}])

    @property
    def statement(self) -> str:
        if np.isnan(self.rho):
            return (f"Too few teams ({self.n_teams}) with both an engagement score and outcome data to relate "
                    "engagement to results (at least 3 are needed).")
        sign = "more" if self.rho > 0 else "less"
        stat = f"Spearman's rho = {self.rho:.2f}, {format_p(self.p_value)}"
        if self.p_value < self.alpha:
            return (f"Across {self.n_teams} teams, more engaged teams gained {sign} in patients at goal ({stat}).")
        return (f"Across {self.n_teams} teams there is no detectable association between engagement and the gain in "
                f"patients at goal ({stat}).")

    def __repr__(self) -> str:
        return f"{self.statement}\n{self.summary.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p>{self.statement}</p>" + self.summary.to_html(index=False)


def engagement_vs_outcome(scores: pd.DataFrame, outcome: pd.DataFrame, measure: str = "all",
                          alpha: float = 0.05) -> EngagementVsOutcome:
    """Relate each team's engagement score to its ``goal_gain_points`` for ``measure`` (dose-response)."""
    known = sorted(outcome["measure"].unique())
    if measure not in known:
        raise ValueError(f"measure must be one of {', '.join(known)}; got {measure!r}")
    out = outcome.loc[outcome["measure"] == measure, ["team_id", "goal_gain_points", "n_pairs"]]
    points = scores[["team_id", "track", "engagement_score"]].merge(out, on="team_id", how="inner")
    points = points.dropna(subset=["engagement_score", "goal_gain_points"]).sort_values("team_id").reset_index(drop=True)
    result = EngagementVsOutcome(points=points, measure=measure, alpha=alpha)
    x, y = points["engagement_score"].to_numpy(float), points["goal_gain_points"].to_numpy(float)
    if len(points) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        rho, p = stats.spearmanr(x, y)
        line = stats.linregress(x, y)
        result.rho, result.p_value = float(rho), float(p)
        result.slope, result.intercept = float(line.slope), float(line.intercept)
    return result


@dataclass
class TrackComparison:
    """Initial vs advanced track: team counts, engagement and results per group (``all``, ``track=...``).

    When both tracks have at least two teams, ``p_value`` is the exact two-sided Mann-Whitney U test of
    the engagement scores (scipy ``mannwhitneyu``, as R's ``wilcox.test(x, y, exact = TRUE)`` without ties).
    """

    summary: pd.DataFrame
    u_stat: float = np.nan
    p_value: float = np.nan

    @property
    def statement(self) -> str:
        counts = dict(zip(self.summary["group"], self.summary["n_teams"]))
        if np.isnan(self.p_value):
            small = ", ".join(f"{group_name(g)} {n}" for g, n in counts.items() if g != "all")
            return f"Tracks are compared descriptively only: a test needs at least two teams per track ({small})."
        return f"Engagement scores of the two tracks compared by Mann-Whitney U = {self.u_stat:g}, {format_p(self.p_value)}."

    def __repr__(self) -> str:
        return f"{self.statement}\n{self.summary.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p>{self.statement}</p>" + self.summary.to_html(index=False)


def compare_tracks(team_table: pd.DataFrame, outcome: pd.DataFrame | None = None) -> TrackComparison:
    """Per group (all, then each track): teams, median score, mean attendance, milestone share, goal gain."""
    table = team_table
    if outcome is not None:
        gain = outcome.loc[outcome["measure"] == "all"].set_index("team_id")["goal_gain_points"]
        table = table.assign(goal_gain_points=table["team_id"].map(gain))
    rows = []
    groups = [("all", table)] + [(f"track={t}", g) for t, g in table.groupby("track", sort=True)]
    for name, g in groups:
        row = {"group": name, "n_teams": len(g),
               "median_engagement_score": g["engagement_score"].median(),
               "mean_attendance_rate": g["attendance_rate"].mean(),
               "mean_milestones_done_share": g["milestones_done_share"].mean()}
        if "goal_gain_points" in g:
            row["mean_goal_gain_points"] = g["goal_gain_points"].mean()
        rows.append(row)
    result = TrackComparison(summary=pd.DataFrame(rows))
    scores = {t: g["engagement_score"].dropna().to_numpy() for t, g in table.groupby("track", sort=True)}
    if len(scores) == 2 and all(len(v) >= 2 for v in scores.values()):
        a, b = scores.values()
        test = stats.mannwhitneyu(a, b, alternative="two-sided", method="exact" if
                                  len(np.unique(np.r_[a, b])) == len(a) + len(b) else "asymptotic")
        result.u_stat, result.p_value = float(test.statistic), float(test.pvalue)
    return result
