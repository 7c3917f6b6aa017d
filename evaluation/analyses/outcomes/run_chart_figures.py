"""The run charts and control charts of notebook 03: one figure per monthly measure, one small panel per
team, each drawn beside its title, caption and alt text (report section ``run_charts``).

:func:`run_charts` and :func:`control_charts` take the :class:`~.run_charts.RunChartResult` and return one
:class:`~evaluation.core.figures.FigureSpec` per measure for ``ev.show``; :func:`run_chart_figure` and
:func:`control_chart_figure` draw one measure's bare figure. A cohort with more than :data:`PANELS_MAX`
teams draws a selection (:func:`run_chart_teams`, :func:`control_chart_teams`), and title and caption say which.
"""

from __future__ import annotations
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd
from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.groups import TeamCap, first
from evaluation.core.labels import measure_label
from .figures import NOTEBOOK
from .run_charts import RunChartResult, per_team

SECTION = "run_charts"
PANELS_MAX = 20  # team panels per run chart or control chart figure: 10 rows of 2, readable on one page
SIGNALS_TABLE = "run_chart_signals"


def run_chart_teams(signals: pd.DataFrame, measure: str, max_teams: int = PANELS_MAX) -> TeamCap:
    """Teams drawn in one measure's run charts, in panel order.

    Up to ``max_teams`` teams: all of them, by team_id. Above (a statewide cohort): the teams with a runs
    signal first, strongest first (the longest run furthest beyond its limit, then the median crossings
    furthest below theirs, then team_id), then teams with random variation only, then teams without a
    verdict, each by team_id; the first ``max_teams`` are drawn. Every team's verdict stays in the signals
    table."""
    per = per_team(signals[signals["measure"] == measure]).reset_index()
    if len(per) <= max_teams:
        return TeamCap(per["team_id"].tolist(), len(per))
    per["rank"] = np.select([per["signal"], per["verdict"]], [0, 1], 2)
    per = per.sort_values(["rank", "run_excess", "crossings_short", "team_id"], ascending=[True, False, False, True],
                          na_position="last", kind="stable")
    signal = int(per["signal"].sum())
    rule = (f"the {max_teams} with the strongest runs signals (the longest run furthest beyond its limit, then the "
            f"fewest median crossings against the expected)" if signal >= max_teams else
            f"the first {max_teams} by team id (none has a runs signal)" if signal == 0 else
            f"the {signal} with a runs signal, strongest first, then {max_teams - signal} without one, by team id")
    return first(per["team_id"].tolist(), max_teams, rule=rule)


def control_chart_teams(limits: pd.DataFrame, measure: str, max_teams: int = PANELS_MAX) -> TeamCap:
    """Teams drawn in one measure's control charts, in panel order: all of them by team_id up to
    ``max_teams``; above, the teams with the most months outside their limits first (then by team_id)."""
    lim = limits[limits["measure"] == measure]
    outside = lim.groupby("team_id", sort=True)["outside"].sum()
    if len(outside) <= max_teams:
        return TeamCap(outside.index.tolist(), len(outside))
    order = outside.reset_index().sort_values(["outside", "team_id"], ascending=[False, True], kind="stable")
    return first(order["team_id"].tolist(), max_teams,
                 rule="the teams with the most months outside their limits (ties by team id)")


def _grid(n_panels: int) -> tuple[plt.Figure, list]:
    """Two columns of small panels (one for a single team) with fixed margins in inches: the grid is known,
    so no layout engine has to measure every panel's ticks and titles (slow with many panels)."""
    ncols = 1 if n_panels == 1 else 2
    nrows = max(1, -(-n_panels // ncols))
    width, height = 7.5, 1.75 * nrows + 0.9
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), sharex=True, sharey=True, squeeze=False)
    top, bottom, gap = 0.59, 0.72 if nrows > 1 else 0.44, 0.36  # inches: title, tick labels + legend, panel title
    panel = (height - top - bottom - gap * (nrows - 1)) / nrows
    fig.subplots_adjust(left=0.66 / width, right=1 - 0.14 / width, top=1 - top / height, bottom=bottom / height,
                        hspace=gap / panel, wspace=0.056)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def _annotate(ax: plt.Axes, team_id: str, measure: str, runs: RunChartResult) -> None:
    """The team's aim (green dashed) and its PDSA cycles (dotted purple, labelled P1, P2, ...)."""
    aims, pdsa = runs.aims, runs.pdsa
    if aims is not None and len(aims):
        for target in aims[(aims["team_id"] == team_id) & (aims["measure"] == measure)]["target"]:
            ax.axhline(100 * target, color=OKABE_ITO[2], ls=(0, (4, 2)), lw=1)
    if pdsa is not None and len(pdsa):
        mine = pdsa[(pdsa["team_id"] == team_id) & (pdsa["measure"].isna() | (pdsa["measure"] == measure))]
        trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        stacked: dict = {}
        for r in mine.itertuples():
            level = stacked[r.month] = stacked.get(r.month, -1) + 1  # labels of cycles in the same month stack
            ax.axvline(r.month, color=OKABE_ITO[5], ls=":", lw=0.8)
            ax.text(r.month, 1.0 - 0.11 * level, f" {r.label}", transform=trans, fontsize=6, color=OKABE_ITO[5], va="top")


def _finish(fig: plt.Figure, axes: list, handles: list, title: str) -> plt.Figure:
    """Shared axes, legend and title. Quarterly date ticks are worked out once and fixed on every panel (they
    share the x axis): a date locator and formatter per panel would be re-run on every draw, and export
    draws three times."""
    axes[0].set_ylim(-3, 108)
    locator = mdates.MonthLocator(bymonth=(1, 4, 7, 10))
    locator.set_axis(axes[0].xaxis)
    lo, hi = axes[0].get_xlim()
    xticks = locator.tick_values(mdates.num2date(lo), mdates.num2date(hi))
    xlabels = mdates.ConciseDateFormatter(locator).format_ticks(xticks)
    yticks = np.arange(0, 101, 20)  # the y range is fixed: 0-100% with a little room
    for ax in axes:
        ax.xaxis.set_major_locator(mticker.FixedLocator(xticks))
        ax.xaxis.set_major_formatter(mticker.FixedFormatter(xlabels))
        ax.yaxis.set_major_locator(mticker.FixedLocator(yticks))
        ax.tick_params(labelsize=7)
    fig.supylabel("patients (%)", fontsize=8)
    fig.suptitle(title, fontsize=10, fontweight="bold", y=1 - 0.08 / fig.get_figheight(), va="top")
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, bbox_to_anchor=(0.5, 0))
    return fig


def _panel_name(runs: RunChartResult, team_id: str, cap: TeamCap) -> str:
    """A panel's title: the team's name; with a selection of teams also its id, to find it in the table."""
    name = runs.team_names.get(team_id)
    if not cap.capped:
        return name or team_id
    return f"{team_id} {name}" if name and name != team_id else team_id


def _title(title: str, cap: TeamCap, how: str) -> str:
    return f"{title} ({len(cap.teams)} of {cap.total} teams: {how})" if cap.capped else title


def _month_span(points: pd.DataFrame) -> str:
    if points.empty:
        return "no months"
    return f"{points['month'].min():%b %Y} to {points['month'].max():%b %Y}"


def _control_kind(runs: RunChartResult) -> str:
    return "Laney p′ chart" if runs.chart == "laney" else "p-chart"


@house_style
def run_chart_figure(runs: RunChartResult, measure: str, cap: TeamCap | None = None) -> plt.Figure:
    """Run charts of one measure, one panel per team of ``cap`` (default :func:`run_chart_teams`): monthly %,
    median per phase (dashed orange when the Anhøj rules signal), baseline months shaded when the centre line
    is frozen, PDSA cycles and the aim; a capped selection says so in the title."""
    pts = runs.points[runs.points["measure"] == measure]
    sig_all = runs.signals[runs.signals["measure"] == measure]
    cap = cap or run_chart_teams(runs.signals, measure)
    by_team = dict(tuple(pts[pts["team_id"].isin(cap.teams)].groupby("team_id", sort=False)))
    fig, axes = _grid(len(cap.teams))
    for ax, team_id in zip(axes, cap.teams):
        g = by_team.get(team_id, pts.iloc[:0])
        ax.plot(g["month"], 100 * g["proportion"], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1)
        sig = sig_all[sig_all["team_id"] == team_id]
        for phase, seg in g.groupby("phase"):
            row = sig[sig["phase"] == phase]
            signal = bool(row["runs_signal"].fillna(False).iloc[0]) if len(row) else False
            ax.plot([seg["month"].min(), seg["month"].max()], [100 * seg["centre"].iloc[0]] * 2,
                    color=OKABE_ITO[3] if signal else "#666666", ls="--" if signal else "-", lw=1)
            if phase > 1:
                ax.axvline(seg["month"].min(), color="#444444", lw=0.8)
            frozen = seg[seg["baseline"]]
            if len(frozen) < seg["proportion"].notna().sum() and len(frozen):
                ax.axvspan(frozen["month"].min(), frozen["month"].max(), color="#eeeeee", zorder=0)
        verdicts = sig["runs_signal"]
        short = ("no verdict" if verdicts.isna().all() else
                 "signal" if verdicts.fillna(False).any() else "random")
        ax.set_title(f"{_panel_name(runs, team_id, cap)} ({short})", fontsize=8, fontweight="normal", loc="left")
        _annotate(ax, team_id, measure, runs)
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1, label="month"),
               plt.Line2D([], [], color="#666666", lw=1, label="median"),
               plt.Line2D([], [], color=OKABE_ITO[3], ls="--", lw=1, label="median, runs signal"),
               plt.Line2D([], [], color=OKABE_ITO[2], ls=(0, (4, 2)), lw=1, label="aim"),
               plt.Line2D([], [], color=OKABE_ITO[5], ls=":", lw=0.8, label="PDSA cycle")]
    return _finish(fig, axes, handles, _title(f"Run charts: {measure_label(measure)}", cap, "strongest signals first"))


def run_charts(runs: RunChartResult, max_teams: int = PANELS_MAX) -> list[FigureSpec]:
    """One run-chart figure per measure (``spc_run_chart_<measure>``) with its text: the teams with a runs
    signal, with random variation only and without a verdict, the PDSA cycles and aims drawn."""
    specs = []
    for measure in runs.measures:
        sig = runs.signals[runs.signals["measure"] == measure]
        per = per_team(sig)
        teams, signal, verdict = len(per), int(per["signal"].sum()), int(per["verdict"].sum())
        label = measure_label(measure)
        span = _month_span(runs.points[runs.points["measure"] == measure])
        aims = runs.aims[runs.aims["measure"] == measure]
        n_pdsa = len(runs.pdsa[runs.pdsa["team_id"].isin(sig["team_id"])
                               & (runs.pdsa["measure"].isna() | (runs.pdsa["measure"] == measure))])
        cap = run_chart_teams(runs.signals, measure, max_teams)
        shown = len(cap.teams)
        specs.append(FigureSpec(
            f"spc_run_chart_{measure}", run_chart_figure(runs, measure, cap),
            title=f"Run charts: {label}, by team",
            caption=(f"Monthly percentage of patients with {label} per team ({span}), with the median as centre "
                     f"line (dashed orange when the Anhøj rules signal non-random variation), {n_pdsa} PDSA cycles marked "
                     f"P1, P2, ... and {len(aims)} team aim(s) as green dashed lines. {signal} of {verdict} teams with at "
                     f"least {runs.min_points} useful points show non-random variation; {teams - verdict} of {teams} teams "
                     f"have too few points for a verdict." + cap.sentence(SIGNALS_TABLE)),
            alt_text=(f"Grid of {shown} small line charts, one per team"
                      + (f" ({shown} of {teams} teams, the strongest runs signals first)" if cap.capped else "")
                      + f", of the monthly percentage with {label} from {span}, each with a horizontal median line. "
                      f"{signal} teams show a shift or too few median crossings; {verdict - signal} show only random "
                      f"variation; {teams - verdict} have no verdict."),
            section=SECTION, notebook=NOTEBOOK))
    return specs


@house_style
def control_chart_figure(runs: RunChartResult, measure: str, cap: TeamCap | None = None) -> plt.Figure:
    """p (or Laney p′) charts of one measure, one panel per team of ``cap`` (default
    :func:`control_chart_teams`): monthly %, centre line, stepped 3-sigma limits, points outside the limits
    in orange, PDSA cycles and the aim; a capped selection says so in the title."""
    lim = runs.limits[runs.limits["measure"] == measure]
    cap = cap or control_chart_teams(runs.limits, measure)
    by_team = dict(tuple(lim[lim["team_id"].isin(cap.teams)].groupby("team_id", sort=False)))
    fig, axes = _grid(len(cap.teams))
    for ax, team_id in zip(axes, cap.teams):
        g = by_team[team_id]
        ax.plot(g["month"], 100 * g["proportion"], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1)
        out = g[g["outside"]]
        ax.plot(out["month"], 100 * out["proportion"], "o", color=OKABE_ITO[3], ms=4, zorder=3)
        for _, seg in g.groupby("phase"):
            ax.plot(seg["month"], 100 * seg["cl"], color="#666666", lw=1)
            ax.step(seg["month"], 100 * seg["ucl"], where="mid", color="#999999", lw=0.8)
            ax.step(seg["month"], 100 * seg["lcl"], where="mid", color="#999999", lw=0.8)
        ax.set_title(_panel_name(runs, team_id, cap), fontsize=8, fontweight="normal", loc="left")
        _annotate(ax, team_id, measure, runs)
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1, label="month"),
               plt.Line2D([], [], color=OKABE_ITO[3], marker="o", ls="", ms=4, label="outside limits"),
               plt.Line2D([], [], color="#666666", lw=1, label="centre"),
               plt.Line2D([], [], color="#999999", lw=0.8, label="3-sigma limits"),
               plt.Line2D([], [], color=OKABE_ITO[2], ls=(0, (4, 2)), lw=1, label="aim"),
               plt.Line2D([], [], color=OKABE_ITO[5], ls=":", lw=0.8, label="PDSA cycle")]
    title = f"{_control_kind(runs)}s: {measure_label(measure)}"
    return _finish(fig, axes, handles, _title(title, cap, "most months outside the limits first"))


def control_charts(runs: RunChartResult, max_teams: int = PANELS_MAX) -> list[FigureSpec]:
    """One p (or p′) chart figure per measure (``spc_control_chart_<measure>``) with its text: the months and
    teams outside the limits."""
    specs = []
    kind = _control_kind(runs)
    for measure in runs.measures:
        lim = runs.limits[runs.limits["measure"] == measure]
        teams = lim["team_id"].nunique()
        n_out = int(lim["outside"].sum())
        teams_out = int(lim.groupby("team_id")["outside"].any().sum())
        label = measure_label(measure)
        cap = control_chart_teams(runs.limits, measure, max_teams)
        shown = len(cap.teams)
        specs.append(FigureSpec(
            f"spc_control_chart_{measure}", control_chart_figure(runs, measure, cap),
            title=f"{kind[:1].upper() + kind[1:]}s: {label}, by team",
            caption=(f"{kind[:1].upper() + kind[1:]} of the monthly percentage with {label} per team "
                     f"({_month_span(lim)}): centre line at the pooled proportion and 3-sigma limits that widen in "
                     f"months with fewer patients. {n_out} month(s) in {teams_out} of {teams} teams fall outside the "
                     f"limits (orange)." + cap.sentence(SIGNALS_TABLE)),
            alt_text=(f"Grid of {shown} small control charts, one per team"
                      + (f" ({shown} of {teams} teams, the most months outside the limits first)" if cap.capped else "")
                      + f", of the monthly percentage with {label}, each with a centre line and stepped upper and "
                      f"lower limits; {n_out} points in {teams_out} teams lie outside their limits."),
            section=SECTION, notebook=NOTEBOOK))
    return specs
