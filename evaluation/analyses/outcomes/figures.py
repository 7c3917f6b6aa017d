"""The outcome-change figures of notebook 03: patients at goal before and after, each team's mean change
(forest plot) and INR time in therapeutic range, each drawn beside its title, caption and alt text.

A ``*_chart`` / ``*_histogram`` function draws the bare matplotlib figure (tests and other figures use it);
the notebook calls :func:`goal_chart`, :func:`forest` and :func:`ttr_histogram`, which return a
:class:`~evaluation.core.figures.FigureSpec` for ``ev.show``. Run charts and control charts are in
``run_chart_figures.py``.
"""

from __future__ import annotations
import textwrap
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from evaluation.analyses.charts import count_label, histogram_note, record_bars, safe_histogram
from evaluation.core.disclosure import format_count, is_small
from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.groups import TeamCap, both_ends
from evaluation.core.labels import measure_label
from evaluation.core.params import Params
from evaluation.core.text import format_p, format_percent

NOTEBOOK = "03_outcomes"
SECTION = "outcomes"
FOREST_TEAMS_MAX = 30  # team rows per forest-plot panel: readable labels on one page


def _goal_share(rows: pd.DataFrame, column: str, suppress_below: int | None) -> pd.Series:
    """A % at goal as drawn: NaN (not drawn) when n is small, or when the patients it implies at goal or not
    at goal are 1 to ``suppress_below`` - 1 (5% of 100 is 5 patients)."""
    pct = pd.to_numeric(rows[column], errors="coerce")
    if not suppress_below:
        return pct
    n = pd.to_numeric(rows["n"], errors="coerce")
    at_goal = (pct / 100 * n).round()
    hide = is_small(n, suppress_below) | is_small(at_goal, suppress_below) | is_small(n - at_goal, suppress_below)
    return pct.mask(pd.Series(hide, index=rows.index))


def _goal_rows(change: pd.DataFrame) -> pd.DataFrame:
    """The rows the goal chart draws: the whole cohort's (``group == 'all'``) of measures with a goal."""
    return change[(change["group"] == "all") & change["pct_goal_baseline"].notna()].reset_index(drop=True)


@house_style
def outcome_goal_chart(change: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """% at goal at baseline (open) and follow-up (filled) per measure, cohort rows only (``group == 'all'``).

    Patient counts of 1 to ``suppress_below`` - 1 are drawn as ``<11`` (None draws them as they are), and a % is
    not drawn when it implies 1 to ``suppress_below`` - 1 patients at goal or not at goal."""
    rows = _goal_rows(change)
    rows = rows.assign(pct_goal_baseline=_goal_share(rows, "pct_goal_baseline", suppress_below),
                       pct_goal_followup=_goal_share(rows, "pct_goal_followup", suppress_below))
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(rows) + 1.4))
    y = range(len(rows))
    for i, r in rows.iterrows():
        ax.plot([r.pct_goal_baseline, r.pct_goal_followup], [i, i], color="#999999", lw=1.5, zorder=1)
    ax.scatter(rows["pct_goal_baseline"], y, s=40, facecolor="white", edgecolor=OKABE_ITO[0], lw=1.5, zorder=2,
               label="baseline")
    ax.scatter(rows["pct_goal_followup"], y, s=40, color=OKABE_ITO[0], zorder=3, label="follow-up")
    for i, r in rows.iterrows():
        hidden = r.pct_goal_baseline != r.pct_goal_baseline or r.pct_goal_followup != r.pct_goal_followup
        at = np.nanmax([r.pct_goal_baseline, r.pct_goal_followup, 0.0])
        ax.text(at + 2, i, f"n = {count_label(r.n, suppress_below)}" + ("; a % hidden: small count" if hidden else ""),
                va="center", fontsize=7)
    ax.set_yticks(list(y), [f"{measure_label(m)}\n({g})" for m, g in zip(rows["measure"], rows["goal"])])
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("patients at goal (%)")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title("At goal at baseline and follow-up")
    return fig


def goal_chart(change: pd.DataFrame, params: Params) -> FigureSpec:
    """The % at goal before/after chart with its text. A % is left out of the caption, as in the chart, when
    it implies 1 to ``suppress_below`` - 1 patients at goal or not at goal (5% of 100 is 5 patients)."""
    suppress_below = params.suppress_below
    rows = _goal_rows(change)

    def share(pct: float, n: float) -> str:
        at_goal = round(pct / 100 * n)
        if is_small([n, at_goal, n - at_goal], suppress_below).any():
            return "a % hidden (small count)"
        return format_percent(pct)

    parts = [f"{measure_label(r.measure)} {share(r.pct_goal_baseline, r.n)} to {share(r.pct_goal_followup, r.n)} "
             f"(n = {format_count(r.n, suppress_below)}, McNemar {format_p(r.mcnemar_p)})" for r in rows.itertuples()]
    return FigureSpec(
        "outcomes_goal_before_after", outcome_goal_chart(change, suppress_below),
        title="Patients at goal at baseline and at follow-up",
        caption=("Share of paired patients at goal at baseline and at follow-up, per measure: " + "; ".join(parts) + ". "
                 "Goals: " + "; ".join(f"{r.goal}" for r in rows.itertuples()) + "."),
        alt_text=(f"Dot plot with one row per measure ({len(rows)} measures); each row joins the percentage at goal at "
                  "baseline (open circle) to the percentage at follow-up (filled circle): " + "; ".join(parts) + "."),
        section=SECTION, notebook=NOTEBOOK)


def forest_caps(team: pd.DataFrame, max_teams: int = FOREST_TEAMS_MAX) -> dict[str, TeamCap]:
    """Per measure, the teams its forest-plot panel draws, top to bottom.

    Up to ``max_teams`` teams in the cohort: every team, by team_id (the same rows in every panel). Above (a
    statewide cohort): the ``max_teams // 2`` teams with the lowest mean change (the largest fall, most
    negative first) and the rest of ``max_teams`` with the highest, ordered by mean change; teams without a
    mean change are left out. The table itself keeps every team."""
    ids = sorted(team["team_id"].unique())
    caps = {}
    for measure, g in team.groupby("measure", sort=False):
        if len(ids) <= max_teams:
            caps[measure] = TeamCap(ids, len(ids))
            continue
        ranked = g.dropna(subset=["mean_change"]).sort_values(["mean_change", "team_id"], kind="stable")["team_id"]
        caps[measure] = both_ends(ranked.tolist(), max_teams, total=len(g), rule=_forest_rule(max_teams))
    return caps


def _forest_rule(max_teams: int) -> str:
    low_n = max_teams // 2
    return f"the {low_n} with the lowest and the {max_teams - low_n} with the highest mean change"


def forest_rows(team: pd.DataFrame, max_teams: int = FOREST_TEAMS_MAX) -> pd.DataFrame:
    """The rows of the team change table a forest plot draws, with ``row`` (0 at the top) per measure
    (:func:`forest_caps`): one row per team; with the teams of two ends of a ranking, one empty row between them."""
    parts = []
    for measure, cap in forest_caps(team, max_teams).items():
        g = team[team["measure"] == measure].set_index("team_id")
        ids = [t for t in cap.teams if t in g.index]
        at = {t: i for i, t in enumerate(cap.teams)}
        row = [at[t] + (1 if cap.split is not None and at[t] >= cap.split else 0) for t in ids]
        parts.append(g.loc[ids].reset_index().assign(row=row))
    return pd.concat(parts, ignore_index=True)[[*team.columns, "row"]] if parts else team.assign(row=pd.Series(dtype=int))


def _forest_cohort_line(ax: plt.Axes, change: pd.DataFrame, measure: str) -> None:
    """Zero (solid) and the cohort's mean change (dashed)."""
    ax.axvline(0, color="black", lw=0.8)
    overall = change[(change["measure"] == measure) & (change["group"] == "all")]["mean_change"]
    if len(overall) and pd.notna(overall.iloc[0]):
        ax.axvline(overall.iloc[0], color="#666666", lw=0.8, ls="--")


def _track_colours(team: pd.DataFrame) -> dict[str, str]:
    tracks = sorted(team["track"].dropna().unique()) if "track" in team else []
    return {t: OKABE_ITO[i % len(OKABE_ITO)] for i, t in enumerate(tracks)}


def _track_legend(fig: plt.Figure, colours: dict[str, str], y: float) -> None:
    if len(colours) > 1:
        handles = [plt.Line2D([], [], color=c, marker="o", lw=1.3, label=f"{t} track") for t, c in colours.items()]
        fig.legend(handles=handles, loc="lower center", ncol=len(colours), bbox_to_anchor=(0.5, y), fontsize=7)


def _forest_selected(team: pd.DataFrame, change: pd.DataFrame, measures: list[str], max_teams: int) -> plt.Figure:
    """The forest plot of a cohort with more than ``max_teams`` teams: per measure, its own rows from
    :func:`forest_rows` (lowest and highest mean change) with the team names, the gap between the two
    sets marked with how many teams are not drawn."""
    rows = forest_rows(team, max_teams)
    n_teams = team["team_id"].nunique()
    low_n = max_teams // 2
    ncols = min(2, len(measures))
    nrows = -(-len(measures) // ncols)
    panel_h = 0.17 * (max_teams + 1) + 0.9
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5 if ncols > 1 else 4.5, panel_h * nrows + 0.5), squeeze=False)
    colours = _track_colours(team)
    for ax in axes.ravel()[len(measures):]:
        ax.set_visible(False)
    for ax, measure in zip(axes.ravel(), measures):
        g = rows[rows["measure"] == measure]
        measured = int(team.loc[team["measure"] == measure, "mean_change"].notna().sum())
        colour = [colours.get(t, OKABE_ITO[0]) for t in (g["track"] if "track" in g else [None] * len(g))]
        has_ci = g["ci_low"].notna().to_numpy()
        ax.hlines(g["row"][has_ci], g["ci_low"][has_ci], g["ci_high"][has_ci], colors=np.asarray(colour, dtype=object)[has_ci]
                  if len(g) else [], lw=1.3)
        ax.scatter(g["mean_change"], g["row"], color=colour, s=14, zorder=3)
        _forest_cohort_line(ax, change, measure)
        names = g["team_name"].fillna("") if "team_name" in g else [""] * len(g)
        labels = [f"{t} {textwrap.shorten(str(n), 22, placeholder='…')}".strip() for t, n in zip(g["team_id"], names)]
        ax.set_yticks(g["row"].tolist(), labels, fontsize=6.5)  # the id finds the team in the table
        if measured > len(g):
            ax.axhline(low_n, color="#bbbbbb", lw=0.8, ls=":")
            ax.text(0.5, low_n, f"{measured - len(g)} teams not drawn", transform=ax.get_yaxis_transform(),
                    ha="center", va="center", fontsize=6.5, color="#666666", backgroundcolor="white")
        ax.set_ylim(max_teams + 0.8, -0.8)
        ax.set_title(measure_label(measure, unit=True))
        ax.set_xlabel("mean change")
        ax.grid(axis="y", visible=False)
    fig.suptitle(f"{max_teams} of {n_teams} teams per measure: the {low_n} lowest and {max_teams - low_n} highest mean changes",
                 fontsize=9)
    _track_legend(fig, colours, 0)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight() if len(colours) > 1 else 0, 1, 1))
    return fig


@house_style
def outcome_forest_chart(team: pd.DataFrame, change: pd.DataFrame, max_teams: int | None = None) -> plt.Figure:
    """Forest plot: each team's mean change with its CI, one panel per measure; zero and cohort mean marked.

    Up to ``max_teams`` teams (default :data:`FOREST_TEAMS_MAX` = 30) one row per team, the same in every
    panel; a larger cohort draws per measure the teams with the lowest and the highest mean change
    (:func:`forest_caps`), and :func:`forest` says so in the caption."""
    measures = list(dict.fromkeys(team["measure"]))
    max_teams = FOREST_TEAMS_MAX if max_teams is None else max_teams
    if team["team_id"].nunique() > max_teams:
        return _forest_selected(team, change, measures, max_teams)
    labels = (team[["team_id", "team_name"]].drop_duplicates().sort_values("team_id")
              if "team_name" in team else team[["team_id"]].drop_duplicates().sort_values("team_id").assign(team_name=lambda d: d["team_id"]))
    order = {t: i for i, t in enumerate(labels["team_id"])}
    fig, axes = plt.subplots(1, max(1, len(measures)), figsize=(2.1 * max(1, len(measures)) + 2.2, 0.32 * len(order) + 1.4),
                             sharey=True, squeeze=False)
    colours = _track_colours(team)
    for ax, measure in zip(axes[0], measures):
        g = team[team["measure"] == measure]
        ys = g["team_id"].map(order).to_numpy()
        for (_, r), yy in zip(g.iterrows(), ys):
            colour = colours.get(r.get("track"), OKABE_ITO[0])
            if pd.notna(r["ci_low"]):
                ax.plot([r["ci_low"], r["ci_high"]], [yy, yy], color=colour, lw=1.3)
            ax.plot(r["mean_change"], yy, "o", color=colour, ms=4)
        _forest_cohort_line(ax, change, measure)
        ax.set_title(measure_label(measure, unit=True))
        ax.set_xlabel("mean change")
        ax.grid(axis="y", visible=False)
    axes[0][0].set_yticks(range(len(order)), labels["team_name"].tolist())
    axes[0][0].invert_yaxis()
    _track_legend(fig, colours, -0.02)
    fig.tight_layout(rect=(0, 0.05 if len(colours) > 1 else 0, 1, 1))
    return fig


def forest(team: pd.DataFrame, change: pd.DataFrame, params: Params, max_teams: int = FOREST_TEAMS_MAX) -> FigureSpec:
    """The team forest plot with its text: every team's count in the sentences; above ``max_teams`` teams
    the caption says which rows are drawn (:func:`forest_caps`)."""
    level = format_percent(100 * (1 - params.alpha))
    parts = []
    for measure, g in team.groupby("measure", sort=False):
        fell = int((g["ci_high"] < 0).sum())
        parts.append(f"{measure_label(measure)}: {fell} of {len(g)} teams improved with a CI below zero")
    measures = list(dict.fromkeys(team["measure"]))
    ids = sorted(team["team_id"].unique())
    cap = both_ends(ids, max_teams, rule=f"per measure {_forest_rule(max_teams)}")
    rows = (f"rows for {_forest_rule(max_teams)} of {len(ids)} teams, each" if cap.capped else "one row per team")
    return FigureSpec(
        "outcomes_team_forest", outcome_forest_chart(team, change, max_teams),
        title="Mean change from baseline to follow-up, by team",
        caption=(f"Mean change (follow-up minus baseline) per team with {level} t-based CIs; the dashed line is the "
                 f"cohort mean change. " + "; ".join(parts) + "." + cap.sentence("outcome_change_by_team")),
        alt_text=(f"Forest plot with {len(measures)} panels ({', '.join(measure_label(m) for m in measures)}), {rows} "
                  f"showing its mean change as a dot with a horizontal CI line, a solid line at zero and a dashed "
                  f"line at the cohort mean. " + "; ".join(parts) + "."),
        section=SECTION, notebook=NOTEBOOK)


@house_style
def outcome_ttr_histogram(ttr: pd.DataFrame, goal_percent: float, suppress_below: int | None = 11) -> plt.Figure:
    """Histogram of per-patient INR time in therapeutic range (10-point bins) with the goal marked.

    The caption counts the patients reaching the goal, so bins never straddle it; bins with 1 to
    ``suppress_below`` - 1 patients are merged with a neighbour on the same side, and a side still small is
    hidden (:func:`~evaluation.analyses.charts.safe_histogram`)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    values = ttr["ttr_percent"].dropna()
    edges = sorted({*range(0, 101, 10), *([float(goal_percent)] if 0 < goal_percent < 100 else [])})
    fixed = (float(goal_percent),) if 0 < goal_percent < 100 else ()
    cells, labels, shown, gids, relations = safe_histogram(ax, values, edges, suppress_below, per=10, fixed=fixed)
    ax.axvline(goal_percent, color=OKABE_ITO[3], ls="--", lw=1, label=f"goal {goal_percent:g}%")
    ax.set_xlim(0, 100)
    ax.set_xlabel("time in therapeutic range (%)" + histogram_note(shown, suppress_below))
    ax.set_ylabel("patients per 10 points")
    ax.legend(fontsize=7)
    ax.set_title("INR time in therapeutic range")
    record_bars(fig, cells, labels, shown, gids, relations, suppress_below)
    return fig


def ttr_histogram(ttr: pd.DataFrame, params: Params) -> FigureSpec | None:
    """The TTR histogram with its text; None when no patient has a TTR (no INR range goal, or nobody with two
    INRs from enrollment on)."""
    v = ttr["ttr_percent"].dropna()
    goal = params.goals.get("inr")
    if v.empty or goal is None or goal.operator is not None:
        return None
    goal_percent = params.survival["inr_ttr_goal"]
    at_goal = int((v >= goal_percent).sum())
    med = format_percent(v.median())
    return FigureSpec(
        "outcomes_inr_ttr", outcome_ttr_histogram(ttr, goal_percent, params.suppress_below),
        title="INR time in therapeutic range per patient",
        caption=(f"Time in therapeutic range (INR {goal.low:g}-{goal.high:g}) from enrollment on, by Rosendaal linear "
                 f"interpolation, for {len(v)} patients with two or more INRs; median {med}. {at_goal} of {len(v)} "
                 f"patients reached {goal_percent:g}% (dashed line)."),
        alt_text=(f"Histogram of per-patient time in therapeutic range in 10-point bins (a bin of few patients merged "
                  f"with its neighbour on the same side of the goal), {len(v)} patients, median {med}; a dashed vertical "
                  f"line marks the {goal_percent:g}% goal, reached by {at_goal} of {len(v)} patients."),
        section=SECTION, notebook=NOTEBOOK)
