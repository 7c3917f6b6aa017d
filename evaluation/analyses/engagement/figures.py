"""Engagement figures: attendance by team and month and across the cycle, the accountability pathway, the
engagement score ranking, engagement against results, and progress on the IHI assessment scale.

Each notebook-facing function (:func:`heatmap`, :func:`trend`, :func:`milestones`, :func:`score`,
:func:`vs_outcome`, :func:`assessment_progress`) returns a :class:`~evaluation.core.figures.FigureSpec`: the chart with its title, caption
and alt text, computed from the same results, for the report's engagement section. The ``engagement_*``
functions draw the bare matplotlib figure.

Per-team figures (heatmap, pathway, score ranking) draw at most :data:`TEAMS_SHOWN` teams: at about a quarter
inch a row, 30 labelled rows fill a page. A statewide cohort's 1,000 rows would be a smear of colour and take
many seconds to draw; the tables (tables/engagement_by_team.csv, engagement_by_month.csv) keep every team, and
each caption says how many teams are drawn and how they were chosen (:class:`~evaluation.core.groups.TeamCap`).
"""

from __future__ import annotations
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from matplotlib.patches import Patch, Rectangle
from evaluation.core.figures import NOT_A_PANEL, OKABE_ITO, SEQUENTIAL, FigureSpec, house_style
from evaluation.core.groups import TeamCap, both_ends, first
from evaluation.core.params import Params
from evaluation.core.text import format_p, format_share
from .assessments import SIGNIFICANT_IMPROVEMENT
from .attendance import AttendanceTrend
from .compute import COMPONENTS, EngagementVsOutcome, score_weights

TEAMS_SHOWN = 30
NOTEBOOK = "01_engagement"
SECTION = "engagement"
TITLES = {
    "engagement_heatmap": "Attendance by team and month",
    "engagement_trend": "Cohort attendance across the cycle",
    "engagement_milestones": "Accountability pathway: milestone status by team",
    "engagement_score": "Engagement score by team",
    "engagement_vs_outcome": "Engagement and results by team",
    "engagement_assessments": "Team progress on the IHI assessment scale",
}
ATTENDANCE_GOAL = 0.8  # the heatmap caption counts the teams attending at least this share of recorded events


# --- which teams a per-team figure draws ---------------------------------------------------------------

def heatmap_teams(by_month: pd.DataFrame, n: int = TEAMS_SHOWN) -> TeamCap:
    """Teams of the attendance heatmap: all (by team id), or the ``n // 2`` with the lowest attendance rate
    (teams with nothing recorded first) and the ``n - n // 2`` with the highest, lowest first (ties by team id)."""
    teams = sorted(by_month["team_id"].unique())
    total = by_month[by_month["kind"] == "all"].groupby("team_id")[["events_attended", "events_recorded"]].sum()
    rate = (total["events_attended"] / total["events_recorded"].where(total["events_recorded"] > 0)).reindex(teams)
    ranked = (pd.DataFrame({"team_id": teams, "rate": rate.to_numpy(float)})
              .sort_values(["rate", "team_id"], na_position="first", kind="stable")["team_id"].tolist())
    cap = both_ends(ranked, n, rule=f"the {n // 2} with the lowest attendance rate and the {n - n // 2} with the "
                                    "highest (top row: all teams pooled)")
    return cap if cap.capped else TeamCap(teams, len(teams))


def pathway_teams(status: pd.DataFrame, n: int = TEAMS_SHOWN) -> TeamCap:
    """Teams of the accountability-pathway grid: all (by team id), or the ``n`` furthest behind (most overdue
    milestones, then most done late, then most days late; ties by team id), furthest behind first."""
    teams = sorted(status["team_id"].unique())
    behind = (status.assign(overdue=status["status"].eq("overdue"), late=status["status"].eq("done late"),
                            days=status["days_late"].where(status["status"].eq("done late"), 0.0))
              .groupby("team_id")[["overdue", "late", "days"]].sum().reindex(teams).reset_index())
    ranked = behind.sort_values(["overdue", "late", "days", "team_id"], ascending=[False, False, False, True],
                                kind="stable")["team_id"].tolist()
    cap = first(ranked, n, rule="the teams furthest behind (most overdue milestones, then most done late, then "
                                "most days late)")
    return cap if cap.capped else TeamCap(teams, len(teams))


def score_teams(team_table: pd.DataFrame, n: int = TEAMS_SHOWN) -> TeamCap:
    """Teams of the score ranking, lowest score first (no score first): all, or the ``n // 2`` lowest and the
    ``n - n // 2`` highest."""
    ranked = team_table.sort_values(["engagement_score", "team_id"], na_position="first", kind="stable")["team_id"].tolist()
    return both_ends(ranked, n, rule=f"the {n // 2} with the lowest and the {n - n // 2} with the highest "
                                     "engagement score")


# --- the figures as the notebook shows them --------------------------------------------------------------

def _spec(figure_id: str, figure: plt.Figure, caption: str, alt_text: str) -> FigureSpec:
    return FigureSpec(figure_id, figure, TITLES[figure_id], caption, alt_text, SECTION, NOTEBOOK)


def heatmap(team_table: pd.DataFrame, by_month: pd.DataFrame) -> FigureSpec:
    """The attendance heatmap (from attendance.attendance_by_month) with a caption from the team table: teams
    at or above 80% attendance, the lowest and highest team, and the offered team-events not recorded."""
    rated = team_table.dropna(subset=["attendance_rate"])
    high = int((rated["attendance_rate"] >= ATTENDANCE_GOAL).sum())
    offered = int(team_table["events_offered"].fillna(0).sum())
    unrecorded = int(team_table["events_not_recorded"].fillna(0).sum())
    kinds = [k.replace("_", " ") for k in sorted(by_month["kind"].unique()) if k != "all"]
    months = sorted(by_month["month"].unique())
    best = rated.sort_values(["attendance_rate", "team_id"], ascending=[False, True]).head(1)
    worst = rated.sort_values(["attendance_rate", "team_id"], ascending=[True, True]).head(1)
    extremes = ""
    if len(rated):
        extremes = (f" Team attendance ranged from {format_share(worst['attendance_rate'].iloc[0])} "
                    f"({worst['team_id'].iloc[0]}) to {format_share(best['attendance_rate'].iloc[0])} "
                    f"({best['team_id'].iloc[0]}).")
    goal = format_share(ATTENDANCE_GOAL)
    shown = heatmap_teams(by_month)
    caption = (f"Each cell is one team in one month; its colour is the share of recorded events the team attended and "
               f"its text is events attended/offered. {high} of {len(rated)} teams with recorded attendance attended at "
               f"least {goal} of their recorded events.{extremes} {unrecorded} of {offered} offered team-events "
               f"({format_share(unrecorded / offered if offered else np.nan)}) have no attendance record (hatched); "
               "they are reported as not recorded, not counted as absences. Events held before a team joined are not "
               "counted as offered to it." + shown.sentence("engagement_by_month"))
    rows = (f"{len(shown.teams)} of the {shown.total:,} teams (the lowest and highest attendance) and all teams pooled"
            if shown.capped else f"{shown.total} teams")  # the teams offered an event
    alt = (f"Grid of heatmaps, one for all events and one for each event kind ({', '.join(kinds)}), with "
           f"{rows} as rows and {len(months)} months from {months[0] if months else '-'} to "
           f"{months[-1] if months else '-'} as columns; darker cells mean lower attendance. {high} of "
           f"{len(rated)} teams with recorded attendance attended at least {goal} of their recorded events.{extremes}")
    return _spec("engagement_heatmap", engagement_heatmap(by_month), caption, alt)


def trend(result: AttendanceTrend) -> FigureSpec:
    """The cohort's attendance per cycle month with the logistic trend; the caption is the trend's statement."""
    d = result.by_month.sort_values("cycle_month")
    caption = (f"{result.statement} Points are the share of recorded team-events attended in each month of the cycle "
               "(n = recorded team-events); the dashed line is a logistic regression on the cycle month with standard "
               f"errors {result.standard_errors}. Events with no attendance record are left out.")
    alt = (f"Line chart of the cohort's monthly attendance over {len(d)} cycle months"
           + (f", from {format_share(d['attendance_rate'].iloc[0])} in {d['month'].iloc[0]} to "
              f"{format_share(d['attendance_rate'].iloc[-1])} in {d['month'].iloc[-1]}" if len(d) else "")
           + f", with a dashed trend line. {result.statement}")
    return _spec("engagement_trend", engagement_trend_chart(result), caption, alt)


def milestones(status: pd.DataFrame, team_table: pd.DataFrame, params: Params) -> FigureSpec:
    """The accountability pathway (from milestones.milestone_status) on ``params.as_of``: teams that completed
    every milestone due, and the due milestones done on time, late and overdue."""
    due = int(status["is_due"].sum())
    on_time = int((status["on_time"] & status["is_due"]).sum())
    late = int((status["done"] & ~status["on_time"] & status["is_due"]).sum())
    overdue = int(status["status"].eq("overdue").sum())
    teams_due = team_table.loc[team_table["milestones_due"].fillna(0) > 0]
    all_done = int((teams_due["milestones_done_share"] == 1).sum())
    late_days = status.loc[status["done"] & ~status["on_time"], "days_late"]
    median_late = f" (median {late_days.median():.0f} days late)" if len(late_days) else ""
    as_of = pd.Timestamp(params.as_of).strftime("%Y-%m-%d")
    shown = pathway_teams(status)
    caption = (f"Status of each team's accountability-pathway milestones on {as_of}. {all_done} of {len(teams_due)} "
               f"teams completed every milestone due by then. Of {due} milestones due, {on_time} were done on time, "
               f"{late} late{median_late} and {overdue} {'is' if overdue == 1 else 'are'} overdue. Cells done late show the "
               "days late."
               + shown.sentence("engagement_by_team"))
    order = status.groupby("milestone")["due_on"].median().sort_values(kind="stable").index
    rows = (f"the {len(shown.teams)} of {shown.total:,} teams furthest behind" if shown.capped
            else f"{status['team_id'].nunique()} teams")
    alt = (f"Grid with {rows} as rows and {len(order)} milestones as columns "
           f"({', '.join(m.replace('_', ' ') for m in order)}), each cell coloured done on time, done late, "
           f"overdue or not yet due. {on_time} of {due} due milestones were done on time and {overdue} "
           f"{'is' if overdue == 1 else 'are'} overdue.")
    return _spec("engagement_milestones", engagement_milestone_chart(status), caption, alt)


def score(team_table: pd.DataFrame, params: Params) -> FigureSpec:
    """Teams ranked by engagement score, with the weights of ``params`` and the range of scores."""
    weights = score_weights(params)
    scored = team_table.dropna(subset=["engagement_score"]).sort_values(["engagement_score", "team_id"],
                                                                         ascending=[False, True])
    w = ", ".join(f"{name.replace('_', ' ')} {weights[name]:g}" for name in COMPONENTS)
    spread = ""
    if len(scored):
        spread = (f" Scores ranged from {scored['engagement_score'].iloc[-1]:.0f} ({scored['team_id'].iloc[-1]}) to "
                  f"{scored['engagement_score'].iloc[0]:.0f} ({scored['team_id'].iloc[0]}), median "
                  f"{scored['engagement_score'].median():.0f}.")
    missing = len(team_table) - len(scored)
    shown = score_teams(team_table)
    caption = (f"Engagement score (0-100): the weighted mean of the attendance rate, the share of due milestones done "
               f"and the share done on time (weights: {w}); each bar is split into the points each part contributes."
               f"{spread}" + (f" {missing} team(s) had no data for any part." if missing else "")
               + shown.sentence("engagement_by_team"))
    ranked = (f"the {len(shown.teams)} lowest- and highest-scoring of {shown.total:,} teams" if shown.capped
              else f"{len(team_table)} teams")
    alt = (f"Horizontal bar chart ranking {ranked} by engagement score, each bar split into attendance, "
           f"milestones done and milestones on time.{spread}")
    return _spec("engagement_score", engagement_score_chart(team_table, weights), caption, alt)


def vs_outcome(result: EngagementVsOutcome) -> FigureSpec:
    """Engagement score against the gain in patients at goal, one point per team, with the correlation."""
    caption = (f"{result.statement} Outcome: percentage-point change in the share of paired patient-measures at goal "
               "from baseline to follow-up (the outcome analysis' windows), pooled over every measure with a goal. "
               "One point per team; the dashed least-squares line guides the eye.")
    alt = (f"Scatter plot of {result.n_teams} teams, engagement score on the horizontal axis and change in patients at "
           f"goal on the vertical axis, marked by track, with a dashed fitted line. {result.statement}")
    return _spec("engagement_vs_outcome", engagement_vs_outcome_chart(result), caption, alt)


def assessment_progress(trajectories: pd.DataFrame, shares: pd.DataFrame,
                        threshold: float = SIGNIFICANT_IMPROVEMENT, rater: str = "faculty") -> FigureSpec:
    """Each team's monthly score on the assessment scale by ``rater`` (from assessments.assessment_trajectories)
    and the share of teams rated at or above ``threshold`` each month (assessments.share_at_or_above, computed
    with the same threshold and rater); the caption compares the first and last month and, when teams also rated
    themselves, how far their own scores sit from the faculty's."""
    who = "faculty" if rater == "faculty" else "teams themselves"
    rated = trajectories[trajectories["rater"] == rater]
    level = f"{threshold:.1f}"
    caption = (f"Left: each thin line is one team's monthly score on IHI's Assessment Scale for Collaboratives as "
               f"rated by the {who} (1.0 forming team, 4.0 significant improvement, 5.0 outstanding sustainable "
               f"results); the thick line is the median of the teams rated that month. Right: the share of the teams "
               f"rated each month whose score was {level} or higher.")
    alt_share = ""
    if len(shares):
        first, last = shares.iloc[0], shares.iloc[-1]
        since = (f", against {int(first['teams_at_or_above'])} of {int(first['teams_rated'])} in {first['month']}"
                 if len(shares) > 1 else "")
        caption += (f" In {last['month']}, {int(last['teams_at_or_above'])} of {int(last['teams_rated'])} teams rated "
                    f"({format_share(last['share'])}) were at or above {level}{since}.")
        alt_share = (f", from {format_share(first['share'])} in {first['month']} to {format_share(last['share'])} in "
                     f"{last['month']}" if len(shares) > 1 else f": {format_share(last['share'])} in {last['month']}")
    else:
        caption += f" No team was rated by the {who}."
    pairs = (trajectories.pivot_table(index=["team_id", "month"], columns="rater", values="score")
             if {"team", "faculty"} <= set(trajectories["rater"]) else pd.DataFrame())
    pairs = pairs.dropna() if len(pairs) else pairs
    if len(pairs):
        gap = float((pairs["team"] - pairs["faculty"]).mean())
        caption += (f" Where a team also rated itself ({len(pairs):,} team-months), its own score was on average "
                    f"{abs(gap):.2f} points {'above' if gap >= 0 else 'below'} the faculty's.")
    months = sorted(rated["month"].unique())
    alt = (f"Two line charts. Left: the monthly assessment scores of {rated['team_id'].nunique()} teams, one thin line "
           f"each, from {months[0]} to {months[-1]}, on a scale of 0.5 to 5 with a dashed line at {level} and the "
           f"median team in bold. Right: the share of teams rated at or above {level} each month{alt_share}."
           if months else f"Two empty line charts: no team was rated by the {who}.")
    return _spec("engagement_assessments", engagement_assessment_chart(trajectories, shares, threshold, rater),
                 caption, alt)


# --- drawing ---------------------------------------------------------------------------------------------

ENGAGEMENT_KIND_LABELS = {"all": "All events", "monthly_call": "Monthly calls", "webinar": "Webinars",
                          "coaching_call": "Coaching calls", "learning_session": "Learning sessions",
                          "office_hours": "Office hours", "other": "Other events"}
MILESTONE_COLORS = {"done on time": OKABE_ITO[2], "done late": OKABE_ITO[1], "overdue": OKABE_ITO[3],
                    "not yet due": "#dddddd"}


def _team_ticks(ax: plt.Axes, labels: list[str]) -> None:
    """One team label per row of a grid whose rows are drawn at 0, 1, 2, ... (labels at the row centres)."""
    ax.set_yticks(np.arange(len(labels)) + 0.5, labels, fontsize=7)


@house_style
def engagement_heatmap(by_month: pd.DataFrame) -> plt.Figure:
    """Team x month heatmaps of attendance, one panel per event kind (from attendance.attendance_by_month).

    Colour: attended / recorded. Text: attended/offered. Hatched grey: offered but attendance not
    recorded. Blank: nothing offered that month. Above :data:`TEAMS_SHOWN` teams it draws the teams with
    the lowest and the highest attendance rate (:func:`heatmap_teams`), under a top row of all teams pooled
    (its text: the pooled rate); a dashed line parts the two ends. A spare slot of the grid holds the legend.
    """
    kinds = ["all", *sorted(k for k in by_month["kind"].unique() if k != "all")]
    shown = heatmap_teams(by_month)
    teams, pooled = shown.teams, shown.capped
    labels = ([f"All {shown.total:,} teams"] if pooled else []) + teams
    months = sorted(by_month["month"].unique())
    ncols = 2
    nrows = int(np.ceil((len(kinds) + 1) / ncols))
    width = max(3.2, 0.32 * len(months) + 1.2)
    height = max(1.6, 0.24 * len(labels) + 0.9)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, layout="constrained")
    cmap = plt.get_cmap(SEQUENTIAL).copy()
    mesh = None
    for ax, kind in zip(axes.flat, kinds):
        sub = by_month[by_month["kind"] == kind]

        def grid(column: str) -> np.ndarray:
            return sub.pivot(index="team_id", columns="month", values=column).reindex(index=teams, columns=months).to_numpy(float)

        rate, offered, attended = grid("attendance_rate"), grid("events_offered"), grid("events_attended")
        if pooled:
            total = sub.groupby("month")[["events_attended", "events_recorded", "events_offered"]].sum().reindex(months)
            recorded = total["events_recorded"].to_numpy(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                pooled_rate = np.where(recorded > 0, total["events_attended"].to_numpy(float) / recorded, np.nan)
            rate = np.vstack([pooled_rate, rate])
            offered = np.vstack([total["events_offered"].to_numpy(float), offered])
            attended = np.vstack([total["events_attended"].to_numpy(float), attended])
        mesh = ax.pcolormesh(np.ma.masked_invalid(rate), cmap=cmap, vmin=0, vmax=1, edgecolors="white", linewidth=0.5)
        for i, j in zip(*np.nonzero(np.nan_to_num(offered) > 0)):
            r = rate[i, j]
            if np.isnan(r):
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor="#eeeeee", edgecolor="#999999", hatch="////",
                                       linewidth=0.3))
            text = format_share(r) if pooled and i == 0 and not np.isnan(r) else f"{int(attended[i, j])}/{int(offered[i, j])}"
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=5.5,
                    color="black" if np.isnan(r) or r > 0.55 else "white").set_in_layout(False)  # inside its cell
        if pooled:
            ax.axhline(1, color="black", linewidth=1.2)
            ax.axhline(1 + shown.split, color="black", linewidth=0.8, linestyle="--")
        ax.set_xticks(np.arange(len(months)) + 0.5, [m[2:] for m in months], rotation=90, fontsize=7)
        _team_ticks(ax, labels)
        ax.set_xlim(0, len(months))
        ax.set_ylim(len(labels), 0)
        ax.grid(False)
        ax.set_title(ENGAGEMENT_KIND_LABELS.get(kind, kind))
    for ax in list(axes.flat)[len(kinds):-1]:
        ax.set_visible(False)
    legend_ax = axes.flat[-1]  # always a spare slot: "all" plus one or more kinds, one slot kept free
    legend_ax.axis("off")
    legend_ax.set_label(NOT_A_PANEL)
    handles = [Patch(facecolor="#eeeeee", edgecolor="#999999", hatch="////", label="offered, attendance not recorded"),
               Patch(facecolor="white", edgecolor="#999999", label="nothing offered")]
    if mesh is not None:
        bar = fig.colorbar(mesh, ax=axes.ravel().tolist(), shrink=0.5)
        bar.set_label("Attended / recorded events")
        bar.ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    legend_ax.legend(handles=handles, loc="center", fontsize=7, title="Cell text: attended/offered",
                     title_fontsize=7)
    fig.suptitle(TITLES["engagement_heatmap"], fontweight="bold")
    return fig


@house_style
def engagement_trend_chart(trend: AttendanceTrend) -> plt.Figure:
    """Cohort attendance rate per month with the fitted logistic trend; each point is labelled with its
    recorded team-events."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    d = trend.by_month.sort_values("cycle_month")
    x = d["cycle_month"].astype(int).to_numpy()
    ax.plot(x, d["attendance_rate"], marker="o", color=OKABE_ITO[0], label="attended / recorded events")
    for xi, rate, n in zip(x, d["attendance_rate"], d["events_recorded"]):
        if pd.notna(rate):
            ax.annotate(f"{int(n)}", (xi, rate), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=6,
                        color="#555555")  # recorded team-events (the caption says so): not a count of patients
    if "fitted" in d and d["fitted"].notna().any():
        ax.plot(x, d["fitted"], linestyle="--", color=OKABE_ITO[3], label="logistic trend")
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xticks(x, [f"{c}\n{m[2:]}" for c, m in zip(x, d["month"])], fontsize=7)
    ax.set_xlabel("Cycle month (year-month)")
    ax.set_ylabel("Attendance")
    ax.set_title(TITLES["engagement_trend"])
    ax.legend(loc="lower left", fontsize=7)
    return fig


@house_style
def engagement_milestone_chart(status: pd.DataFrame) -> plt.Figure:
    """Accountability pathway: team x milestone grid coloured by status (from milestones.milestone_status).

    Milestones run left to right by their median due date; cells show days late when done late. Above
    :data:`TEAMS_SHOWN` teams it draws the teams furthest behind, furthest first (:func:`pathway_teams`).
    """
    order = status.groupby("milestone")["due_on"].median().sort_values(kind="stable").index.tolist()
    teams = pathway_teams(status).teams
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(order) + 1.5), max(2.0, 0.28 * len(teams) + 1.2)))
    cells = status[status["team_id"].isin(teams)].drop_duplicates(["team_id", "milestone"])
    cells = cells.assign(row_i=cells["team_id"].map({t: i for i, t in enumerate(teams)}),
                         col_j=cells["milestone"].map({m: j for j, m in enumerate(order)}))
    for row in cells.sort_values(["row_i", "col_j"], kind="stable").itertuples(index=False):
        ax.add_patch(Rectangle((row.col_j, row.row_i), 1, 1, facecolor=MILESTONE_COLORS[row.status], edgecolor="white",
                               linewidth=1.5))
        if row.status == "done late":
            ax.text(row.col_j + 0.5, row.row_i + 0.5, f"+{row.days_late:.0f} d", ha="center", va="center", fontsize=6)
    ax.set_xlim(0, len(order))
    ax.set_ylim(len(teams), 0)
    ax.set_xticks(np.arange(len(order)) + 0.5, [m.replace("_", " ") for m in order], rotation=30, ha="right", fontsize=7)
    _team_ticks(ax, teams)
    ax.grid(False)
    ax.set_title(TITLES["engagement_milestones"])
    ax.legend(handles=[Patch(facecolor=c, label=s) for s, c in MILESTONE_COLORS.items()], loc="upper left",
              bbox_to_anchor=(1.01, 1), fontsize=7)
    return fig


@house_style
def engagement_score_chart(team_table: pd.DataFrame, weights: dict | None = None) -> plt.Figure:
    """Teams ranked by engagement score, bars split into each component's points (from engagement_by_team).

    Above :data:`TEAMS_SHOWN` teams it draws the lowest- and the highest-scoring teams (:func:`score_teams`)
    with a marked gap for the teams in between.
    """
    shown = score_teams(team_table)
    d = team_table.set_index("team_id").loc[shown.teams].reset_index()
    y = np.arange(len(d), dtype=float)
    if shown.capped:  # a blank row between the two ends says how many teams lie between them
        y[shown.split:] += 1
    fig, ax = plt.subplots(figsize=(6.5, max(2.0, 0.3 * (y[-1] + 1 if len(y) else 0) + 1.2)), layout="constrained")
    labels = [f"{t} ({tr})" for t, tr in zip(d["team_id"], d["track"])]
    left = np.zeros(len(d))
    parts = [("contribution_attendance", "attendance"), ("contribution_milestones_done", "milestones done"),
             ("contribution_milestones_on_time", "milestones on time")]
    for color, (col, name) in zip(OKABE_ITO, parts):
        values = d[col].fillna(0).to_numpy(float)
        w = f" (weight {weights[col.removeprefix('contribution_')]:g})" if weights else ""
        ax.barh(y, values, left=left, color=color, label=name + w, height=0.8)
        left += values
    ax.set_yticks(y, labels, fontsize=8)
    for yy, score in zip(y, d["engagement_score"]):
        ax.text(0 if pd.isna(score) else score, yy, " no data" if pd.isna(score) else f" {score:.0f}", va="center",
                fontsize=7)
    if shown.capped:
        between = team_table["engagement_score"].median()
        ax.text(1, shown.split, f"... {shown.total - len(d):,} teams in between (median score of all teams "
                f"{between:.0f}) ...", va="center", fontsize=7, style="italic", color="#555555")
    ax.set_xlim(0, 108)
    ax.set_axisbelow(True)
    ax.set_xlabel("Engagement score (0-100)")
    ax.grid(axis="y", visible=False)
    ax.set_title(TITLES["engagement_score"])
    fig.legend(loc="outside lower center", ncol=3, fontsize=7)
    return fig


@house_style
def engagement_vs_outcome_chart(result: EngagementVsOutcome) -> plt.Figure:
    """Engagement score vs change in patients at goal, one point per team (labelled while there are at most
    :data:`TEAMS_SHOWN`), with the least-squares line."""
    points, slope, intercept = result.points, result.slope, result.intercept
    rho, p_value = result.rho, result.p_value
    fig, ax = plt.subplots(figsize=(6, 4.2))
    tracks = sorted(points["track"].dropna().unique())
    markers = ["o", "s", "^", "D"]
    for k, track in enumerate(tracks):
        d = points[points["track"] == track]
        ax.scatter(d["engagement_score"], d["goal_gain_points"], s=40, color=OKABE_ITO[k], marker=markers[k % 4],
                   label=f"{track} track", alpha=0.85, edgecolor="white")
        for _, r in (d.iterrows() if len(points) <= TEAMS_SHOWN else []):  # one point per team: labels while few
            ax.annotate(r["team_id"], (r["engagement_score"], r["goal_gain_points"]), textcoords="offset points",
                        xytext=(4, 3), fontsize=6)
    if np.isfinite(slope):
        xs = np.linspace(points["engagement_score"].min(), points["engagement_score"].max(), 50)
        ax.plot(xs, intercept + slope * xs, linestyle="--", color="#555555",
                label=f"least-squares line; Spearman rho = {rho:.2f}, {format_p(p_value)}")
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.set_xlabel("Engagement score (0-100)")
    ax.set_ylabel("Change in patients at goal\n(percentage points, follow-up vs baseline)")
    ax.set_title(TITLES["engagement_vs_outcome"])
    if len(points):
        ax.legend(fontsize=7, loc="best")
    else:
        ax.text(0.5, 0.5, "No team has patients with a baseline and a follow-up reading\nof a measure with a goal",
                transform=ax.transAxes, ha="center", va="center", color="#555555")
    return fig


@house_style
def engagement_assessment_chart(trajectories: pd.DataFrame, shares: pd.DataFrame,
                                threshold: float = SIGNIFICANT_IMPROVEMENT, rater: str = "faculty") -> plt.Figure:
    """Two panels on one month axis: every team's scores by ``rater`` as thin lines with the monthly median in
    bold and the threshold dashed; then the share of rated teams at or above the threshold by month."""
    rated = trajectories[trajectories["rater"] == rater]
    months = sorted(set(rated["month"]) | set(shares["month"]))
    x_of = {m: i for i, m in enumerate(months)}
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
    n_teams = rated["team_id"].nunique()
    alpha = 0.6 if n_teams <= TEAMS_SHOWN else max(0.05, 0.6 * TEAMS_SHOWN / n_teams)  # many teams: a haze
    for _, team in rated.groupby("team_id", sort=True):
        left.plot(team["month"].map(x_of), team["score"], color=OKABE_ITO[4], linewidth=0.8, alpha=alpha)
    median = rated.groupby("month")["score"].median()
    left.plot(median.index.map(x_of), median.to_numpy(), color=OKABE_ITO[0], linewidth=2.4, label="median team")
    left.axhline(threshold, color=OKABE_ITO[3], linestyle="--", linewidth=1,
                 label=f"{threshold:.1f} significant improvement" if threshold == SIGNIFICANT_IMPROVEMENT
                 else f"{threshold:.1f}")
    left.set_ylim(0.4, 5.1)
    left.set_yticks(np.arange(0.5, 5.5, 0.5))
    left.set_ylabel(f"Score ({'faculty' if rater == 'faculty' else 'self'}-rated)")
    left.set_title("Each team's score")
    left.legend(loc="lower right", fontsize=7)
    right.plot(shares["month"].map(x_of), shares["share"], marker="o", color=OKABE_ITO[2])
    right.set_ylim(0, 1.05)
    right.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    right.set_ylabel(f"Teams at or above {threshold:.1f}")
    right.set_title(f"Share of teams at {threshold:.1f} or higher")
    step = max(1, int(np.ceil(len(months) / 12)))  # at most about 12 labelled months
    for ax in (left, right):
        ax.set_xticks(range(0, len(months), step), [m[2:] for m in months[::step]], rotation=90, fontsize=7)
        ax.set_xlim(-0.5, max(len(months) - 0.5, 0.5))
        ax.set_xlabel("Month")
    fig.suptitle(TITLES["engagement_assessments"], fontweight="bold")
    return fig
