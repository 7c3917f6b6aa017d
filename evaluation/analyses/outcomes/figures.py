"""TODO docstring analyses/outcomes/figures."""

from __future__ import annotations
import textwrap
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd
from evaluation.analyses.charts import histogram_note, record_bars, safe_histogram, count_label
from .run_charts import RunChartResult, _per_team
from evaluation.core.disclosure import format_count, is_small
from evaluation.core.figures import OKABE_ITO, house_style
from evaluation.core.params import Goal
from evaluation.core.labels import measure_label


# --- outcomes ------------------------------------------------------------------------------------

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


@house_style
def outcome_goal_chart(change: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """% at goal at baseline (open) and follow-up (filled) per measure, cohort rows only (``group == 'all'``).

    Patient counts of 1 to ``suppress_below`` - 1 are drawn as ``<11`` (None draws them as they are), and a % is
    not drawn when it implies 1 to ``suppress_below`` - 1 patients at goal or not at goal."""

    rows = change[(change["group"] == "all") & change["pct_goal_baseline"].notna()].reset_index(drop=True)
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


def _forest_cohort_line(ax: plt.Axes, change: pd.DataFrame, measure: str) -> None:
    ax.axvline(0, color="black", lw=0.8)
    overall = change[(change["measure"] == measure) & (change["group"] == "all")]["mean_change"]
    if len(overall) and pd.notna(overall.iloc[0]):
        ax.axvline(overall.iloc[0], color="#666666", lw=0.8, ls="--")


def _forest_selected(team: pd.DataFrame, change: pd.DataFrame, measures: list[str], max_teams: int) -> plt.Figure:
    """The forest plot of a cohort with more than ``max_teams`` teams: per measure, its own rows from
    ``outcomes.forest_rows`` (lowest and highest mean change) with the team names, the gap between the two
    sets marked with how many teams are not drawn."""

    rows = forest_rows(team, max_teams)
    n_teams = team["team_id"].nunique()
    low_n = max_teams // 2
    ncols = min(2, len(measures))
    nrows = -(-len(measures) // ncols)
    panel_h = 0.17 * (max_teams + 1) + 0.9
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5 if ncols > 1 else 4.5, panel_h * nrows + 0.5), squeeze=False)
    tracks = sorted(team["track"].dropna().unique()) if "track" in team else []
    colours = {t: OKABE_ITO[i % len(OKABE_ITO)] for i, t in enumerate(tracks)}
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
    if len(tracks) > 1:
        handles = [plt.Line2D([], [], color=colours[t], marker="o", lw=1.3, label=f"{t} track") for t in tracks]
        fig.legend(handles=handles, loc="lower center", ncol=len(tracks), bbox_to_anchor=(0.5, 0), fontsize=7)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight() if len(tracks) > 1 else 0, 1, 1))
    return fig


@house_style
def outcome_forest_chart(team: pd.DataFrame, change: pd.DataFrame, max_teams: int | None = None) -> plt.Figure:
    """Forest plot: each team's mean change with its CI, one panel per measure; zero and cohort mean marked.

    Up to ``max_teams`` teams (default ``outcomes.FOREST_TEAMS_MAX`` = 30) one row per team, the same in
    every panel; a larger cohort draws per measure the teams with the lowest and the highest mean change
    (``outcomes.forest_rows``), and ``outcomes.forest_text`` says so in the caption."""

    measures = list(dict.fromkeys(team["measure"]))
    max_teams = FOREST_TEAMS_MAX if max_teams is None else max_teams
    if team["team_id"].nunique() > max_teams:
        return _forest_selected(team, change, measures, max_teams)
    labels = (team[["team_id", "team_name"]].drop_duplicates().sort_values("team_id")
              if "team_name" in team else team[["team_id"]].drop_duplicates().sort_values("team_id").assign(team_name=lambda d: d["team_id"]))
    order = {t: i for i, t in enumerate(labels["team_id"])}
    fig, axes = plt.subplots(1, max(1, len(measures)), figsize=(2.1 * max(1, len(measures)) + 2.2, 0.32 * len(order) + 1.4),
                             sharey=True, squeeze=False)
    tracks = sorted(team["track"].dropna().unique()) if "track" in team else []
    colours = {t: OKABE_ITO[i % len(OKABE_ITO)] for i, t in enumerate(tracks)}
    for ax, measure in zip(axes[0], measures):
        g = team[team["measure"] == measure]
        ys = g["team_id"].map(order).to_numpy()
        for (_, r), yy in zip(g.iterrows(), ys):
            colour = colours.get(r.get("track"), OKABE_ITO[0])
            if pd.notna(r["ci_low"]):
                ax.plot([r["ci_low"], r["ci_high"]], [yy, yy], color=colour, lw=1.3)
            ax.plot(r["mean_change"], yy, "o", color=colour, ms=4)
        ax.axvline(0, color="black", lw=0.8)
        overall = change[(change["measure"] == measure) & (change["group"] == "all")]["mean_change"]
        if len(overall) and pd.notna(overall.iloc[0]):
            ax.axvline(overall.iloc[0], color="#666666", lw=0.8, ls="--")
        ax.set_title(measure_label(measure, unit=True))
        ax.set_xlabel("mean change")
        ax.grid(axis="y", visible=False)
    axes[0][0].set_yticks(range(len(order)), labels["team_name"].tolist())
    axes[0][0].invert_yaxis()
    if len(tracks) > 1:
        handles = [plt.Line2D([], [], color=colours[t], marker="o", lw=1.3, label=f"{t} track") for t in tracks]
        fig.legend(handles=handles, loc="lower center", ncol=len(tracks), bbox_to_anchor=(0.5, -0.02), fontsize=7)
    fig.tight_layout(rect=(0, 0.05 if len(tracks) > 1 else 0, 1, 1))
    return fig


@house_style
def outcome_ttr_histogram(ttr: pd.DataFrame, goal_percent: float, suppress_below: int | None = 11) -> plt.Figure:
    """Histogram of per-patient INR time in therapeutic range (10-point bins) with the goal marked.

    The caption counts the patients reaching the goal, so bins never straddle it; bins with 1 to
    ``suppress_below`` - 1 patients are merged with a neighbour on the same side, and a side still small is
    hidden (:func:`safe_histogram`)."""
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


# --- spc -----------------------------------------------------------------------------------------

def _spc_grid(n_panels: int) -> tuple[plt.Figure, list]:
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


def _spc_annotate(ax: plt.Axes, team_id: str, measure: str, pdsa: pd.DataFrame | None, aims: pd.DataFrame | None) -> None:

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


def _spc_finish(fig: plt.Figure, axes: list, handles: list, title: str) -> plt.Figure:
    # Quarterly date ticks worked out once and fixed on every panel (they share the x axis): a date
    # locator and formatter per panel would be re-run on every draw, and export draws three times.
    from matplotlib import ticker as mticker

    axes[0].set_ylim(-3, 108)
    locator = mdates.MonthLocator(bymonth=(1, 4, 7, 10))
    locator.set_axis(axes[0].xaxis)
    lo, hi = axes[0].get_xlim()
    xticks = locator.tick_values(mdates.num2date(lo), mdates.num2date(hi))
    concise = mdates.ConciseDateFormatter(locator)
    xlabels = concise.format_ticks(xticks)
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


def _spc_team_names(teams: pd.DataFrame | None, team_ids: list[str], capped: bool) -> dict[str, str]:
    """Panel titles: the team's name; with a selection of teams also its id, to find it in the table."""
    names = dict(zip(teams["team_id"], teams["team_name"])) if teams is not None and "team_name" in teams else {}
    if not capped:
        return names
    return {t: f"{t} {names[t]}" if names.get(t) and names[t] != t else t for t in team_ids}


def _spc_title(title: str, shown: int, total: int, how: str) -> str:
    return title if shown >= total else f"{title} ({shown} of {total} teams: {how})"


@house_style
def spc_run_chart(points: pd.DataFrame, signals: pd.DataFrame, *, measure: str, pdsa: pd.DataFrame | None = None,
                  aims: pd.DataFrame | None = None, teams: pd.DataFrame | None = None,
                  max_teams: int | None = None) -> plt.Figure:
    """Run charts of one measure, one panel per team: monthly %, median per phase (dashed orange when the
    Anhøj rules signal), baseline months shaded when the centre line is frozen, PDSA cycles and the aim.

    At most ``max_teams`` panels (default ``spc.PANELS_MAX`` = 20): a larger cohort shows the teams with
    the strongest runs signals first (:func:`evaluation.spc.run_chart_teams`), and the title says how many
    of how many teams are drawn; ``spc.run_chart_text`` says which in the caption."""

    pts = points[points["measure"] == measure]
    sig_all = signals[signals["measure"] == measure]
    team_ids = run_chart_teams(sig_all, measure, PANELS_MAX if max_teams is None else max_teams)
    total = sig_all["team_id"].nunique()
    names = _spc_team_names(teams, team_ids, len(team_ids) < total)
    by_team = dict(tuple(pts[pts["team_id"].isin(team_ids)].groupby("team_id", sort=False)))
    fig, axes = _spc_grid(len(team_ids))
    for ax, team_id in zip(axes, team_ids):
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
        ax.set_title(f"{names.get(team_id, team_id)} ({short})", fontsize=8, fontweight="normal", loc="left")
        _spc_annotate(ax, team_id, measure, pdsa, aims)
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1, label="month"),
               plt.Line2D([], [], color="#666666", lw=1, label="median"),
               plt.Line2D([], [], color=OKABE_ITO[3], ls="--", lw=1, label="median, runs signal"),
               plt.Line2D([], [], color=OKABE_ITO[2], ls=(0, (4, 2)), lw=1, label="aim"),
               plt.Line2D([], [], color=OKABE_ITO[5], ls=":", lw=0.8, label="PDSA cycle")]
    return _spc_finish(fig, axes, handles, _spc_title(f"Run charts: {measure_label(measure)}", len(team_ids), total,
                                                      "strongest signals first"))


@house_style
def spc_control_chart(limits: pd.DataFrame, *, measure: str, chart: str = "p", pdsa: pd.DataFrame | None = None,
                      aims: pd.DataFrame | None = None, teams: pd.DataFrame | None = None,
                      max_teams: int | None = None) -> plt.Figure:
    """p (or Laney p′) charts of one measure, one panel per team: monthly %, centre line, stepped 3-sigma
    limits, points outside the limits in orange, PDSA cycles and the aim.

    At most ``max_teams`` panels (default ``spc.PANELS_MAX`` = 20): a larger cohort shows the teams with
    the most months outside their limits first (:func:`evaluation.spc.control_chart_teams`), and the title
    says how many of how many teams are drawn."""

    lim = limits[limits["measure"] == measure]
    team_ids = control_chart_teams(lim, measure, PANELS_MAX if max_teams is None else max_teams)
    total = lim["team_id"].nunique()
    names = _spc_team_names(teams, team_ids, len(team_ids) < total)
    by_team = dict(tuple(lim[lim["team_id"].isin(team_ids)].groupby("team_id", sort=False)))
    fig, axes = _spc_grid(len(team_ids))
    for ax, team_id in zip(axes, team_ids):
        g = by_team[team_id]
        ax.plot(g["month"], 100 * g["proportion"], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1)
        out = g[g["outside"]]
        ax.plot(out["month"], 100 * out["proportion"], "o", color=OKABE_ITO[3], ms=4, zorder=3)
        for _, seg in g.groupby("phase"):
            ax.plot(seg["month"], 100 * seg["cl"], color="#666666", lw=1)
            ax.step(seg["month"], 100 * seg["ucl"], where="mid", color="#999999", lw=0.8)
            ax.step(seg["month"], 100 * seg["lcl"], where="mid", color="#999999", lw=0.8)
        ax.set_title(f"{names.get(team_id, team_id)}", fontsize=8, fontweight="normal", loc="left")
        _spc_annotate(ax, team_id, measure, pdsa, aims)
    kind = "Laney p′ charts" if chart == "laney" else "p-charts"
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], marker="o", ms=2.5, lw=1, label="month"),
               plt.Line2D([], [], color=OKABE_ITO[3], marker="o", ls="", ms=4, label="outside limits"),
               plt.Line2D([], [], color="#666666", lw=1, label="centre"),
               plt.Line2D([], [], color="#999999", lw=0.8, label="3-sigma limits"),
               plt.Line2D([], [], color=OKABE_ITO[2], ls=(0, (4, 2)), lw=1, label="aim"),
               plt.Line2D([], [], color=OKABE_ITO[5], ls=":", lw=0.8, label="PDSA cycle")]
    return _spc_finish(fig, axes, handles, _spc_title(f"{kind}: {measure_label(measure)}", len(team_ids), total,
                                                      "most months outside the limits first"))


FOREST_TEAMS_MAX = 30  # team rows per forest-plot panel: readable labels on one page


def forest_rows(team: pd.DataFrame, max_teams: int = FOREST_TEAMS_MAX) -> pd.DataFrame:
    """The rows of :func:`team_change` a forest plot draws, with ``row`` (0 at the top) per measure.

    Up to ``max_teams`` teams: every team, by team_id, on the same row in every panel. Above (a statewide
    cohort): per measure, the ``max_teams // 2`` teams with the lowest mean change (the largest fall, most
    negative first) and the rest of ``max_teams`` with the highest, ordered by mean change, the two sets
    one row apart; teams without a mean change are left out. The table itself keeps every team."""
    ids = sorted(team["team_id"].unique())
    if len(ids) <= max_teams:
        order = {t: i for i, t in enumerate(ids)}
        return team.assign(row=team["team_id"].map(order).astype(int))
    low_n = max_teams // 2
    parts = []
    for _, g in team.groupby("measure", sort=False):
        g = g.dropna(subset=["mean_change"]).sort_values(["mean_change", "team_id"], kind="stable")
        if len(g) <= max_teams:
            parts.append(g.assign(row=np.arange(len(g))))
            continue
        low, high = g.head(low_n), g.tail(max_teams - low_n)
        parts.append(pd.concat([low.assign(row=np.arange(low_n)),
                                high.assign(row=np.arange(low_n + 1, max_teams + 1))]))
    return pd.concat(parts, ignore_index=True) if parts else team.assign(row=pd.Series(dtype=int))


def goal_chart_text(change: pd.DataFrame, suppress_below: int = 11) -> dict[str, str]:
    """Title, caption and alt text for the % at goal before/after chart (the ``all`` rows).

    A % is left out, as in the chart, when it implies 1 to ``suppress_below`` - 1 patients at goal or not at goal
    (5% of 100 is 5 patients)."""
    rows = change[(change["group"] == "all") & change["pct_goal_baseline"].notna()]

    def share(pct: float, n: float) -> str:
        at_goal = round(pct / 100 * n)
        if is_small([n, at_goal, n - at_goal], suppress_below).any():
            return "a % hidden (small count)"
        return f"{pct:.0f}%"

    parts = [f"{measure_label(r.measure)} {share(r.pct_goal_baseline, r.n)} to {share(r.pct_goal_followup, r.n)} "
             f"(n = {format_count(r.n, suppress_below)}, McNemar p {_p_text(r.mcnemar_p)})" for r in rows.itertuples()]
    return {
        "title": "Patients at goal at baseline and at follow-up",
        "caption": ("Share of paired patients at goal at baseline and at follow-up, per measure: " + "; ".join(parts) + ". "
                    "Goals: " + "; ".join(f"{r.goal}" for r in rows.itertuples()) + "."),
        "alt_text": (f"Dot plot with one row per measure ({len(rows)} measures); each row joins the percentage at goal at "
                     "baseline (open circle) to the percentage at follow-up (filled circle): " + "; ".join(parts) + "."),
    }


def forest_text(team: pd.DataFrame, change: pd.DataFrame, alpha: float = 0.05,
                max_teams: int = FOREST_TEAMS_MAX) -> dict[str, str]:
    """Title, caption and alt text for the team forest plot (every team's count in the sentences; above
    ``max_teams`` teams the caption says which rows are drawn: see :func:`forest_rows`)."""
    level = f"{100 * (1 - alpha):.0f}%"
    parts = []
    for measure, g in team.groupby("measure", sort=False):
        fell = int((g["ci_high"] < 0).sum())
        parts.append(f"{measure_label(measure)}: {fell} of {len(g)} teams improved with a CI below zero")
    measures = list(dict.fromkeys(team["measure"]))
    n_teams = team["team_id"].nunique()
    capped = n_teams > max_teams
    low_n = max_teams // 2
    shown = (f" With {n_teams} teams, each panel draws the {low_n} teams with the lowest and the {max_teams - low_n} with "
             f"the highest mean change, ordered by it; every team is in tables/outcome_change_by_team.csv." if capped else "")
    rows = (f"rows for the {low_n} teams with the lowest and the {max_teams - low_n} with the highest mean change "
            f"of {n_teams} teams, each" if capped else "one row per team")
    return {
        "title": "Mean change from baseline to follow-up, by team",
        "caption": (f"Mean change (follow-up minus baseline) per team with {level} t-based CIs; the dashed line is the "
                    f"cohort mean change. " + "; ".join(parts) + "." + shown),
        "alt_text": (f"Forest plot with {len(measures)} panels ({', '.join(measure_label(m) for m in measures)}), {rows} "
                     f"showing its mean change as a dot with a horizontal CI line, a solid line at zero and a dashed "
                     f"line at the cohort mean. " + "; ".join(parts) + "."),
    }


def ttr_text(ttr: pd.DataFrame, goal: Goal, goal_percent: float) -> dict[str, str]:
    """Title, caption and alt text for the TTR histogram."""
    v = ttr["ttr_percent"].dropna()
    at_goal = int((v >= goal_percent).sum())
    med = f"{v.median():.0f}%" if len(v) else "n/a"
    return {
        "title": "INR time in therapeutic range per patient",
        "caption": (f"Time in therapeutic range (INR {goal.low:g}-{goal.high:g}) from enrollment on, by Rosendaal linear "
                    f"interpolation, for {len(v)} patients with two or more INRs; median {med}. {at_goal} of {len(v)} "
                    f"patients reached {goal_percent:g}% (dashed line)."),
        "alt_text": (f"Histogram of per-patient time in therapeutic range in 10-point bins (a bin of few patients merged "
                     f"with its neighbour on the same side of the goal), {len(v)} patients, median {med}; a dashed vertical "
                     f"line marks the {goal_percent:g}% goal, reached by {at_goal} of {len(v)} patients."),
    }


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


# --- which teams a chart draws -------------------------------------------------------------------

PANELS_MAX = 20  # team panels per run chart or control chart figure: 10 rows of 2, readable on one page


def run_chart_teams(signals: pd.DataFrame, measure: str, max_teams: int = PANELS_MAX) -> list[str]:
    """Teams drawn in one measure's run charts, in panel order.

    Up to ``max_teams`` teams: all of them, by team_id. Above (a statewide cohort): the teams with a runs
    signal first, strongest first (the longest run furthest beyond its limit, then the median crossings
    furthest below theirs, then team_id), then teams with random variation only, then teams without a
    verdict, each by team_id; the first ``max_teams`` are drawn. Every team's verdict stays in the signals
    table."""
    per = _per_team(signals[signals["measure"] == measure]).reset_index()
    if len(per) <= max_teams:
        return per["team_id"].tolist()
    per["rank"] = np.select([per["signal"], per["verdict"]], [0, 1], 2)
    per = per.sort_values(["rank", "run_excess", "crossings_short", "team_id"], ascending=[True, False, False, True],
                          na_position="last", kind="stable")
    return per["team_id"].head(max_teams).tolist()


def control_chart_teams(limits: pd.DataFrame, measure: str, max_teams: int = PANELS_MAX) -> list[str]:
    """Teams drawn in one measure's control charts, in panel order: all of them by team_id up to
    ``max_teams``; above, the teams with the most months outside their limits first (then by team_id)."""
    lim = limits[limits["measure"] == measure]
    outside = lim.groupby("team_id", sort=True)["outside"].sum()
    if len(outside) <= max_teams:
        return outside.index.tolist()
    order = outside.reset_index().sort_values(["outside", "team_id"], ascending=[False, True], kind="stable")
    return order["team_id"].head(max_teams).tolist()


def _month_span(points: pd.DataFrame) -> str:
    if points.empty:
        return "no months"
    first, last = points["month"].min(), points["month"].max()
    return f"{first:%b %Y} to {last:%b %Y}"


def _shown_text(shown: int, teams: int, how: str, table: str) -> str:
    """The caption sentence of a capped chart: how many teams are drawn, which, and where the rest are."""
    if shown >= teams:
        return ""
    return f" {shown} of the {teams} teams are drawn: {how}; every team is in {table}."


def run_chart_text(result: RunChartResult, measure: str, max_teams: int = PANELS_MAX) -> dict[str, str]:
    """Title, caption and alt text for one measure's run charts (one panel per team, at most ``max_teams``
    panels: see :func:`run_chart_teams`)."""
    sig = result.signals[result.signals["measure"] == measure]
    pts = result.points[result.points["measure"] == measure]
    per = _per_team(sig)
    teams = len(per)
    signal = int(per["signal"].sum())
    verdict = int(per["verdict"].sum())
    label = measure_label(measure)
    aims = result.aims[result.aims["measure"] == measure]
    n_pdsa = len(result.pdsa[result.pdsa["team_id"].isin(sig["team_id"])
                             & (result.pdsa["measure"].isna() | (result.pdsa["measure"] == measure))])
    shown = len(run_chart_teams(sig, measure, max_teams))
    how = (f"the {shown} with the strongest runs signals (the longest run furthest beyond its limit, then the fewest "
           f"median crossings against the expected)" if signal >= shown else
           f"the {signal} with a runs signal, strongest first, then {shown - signal} without one, by team id")
    return {
        "title": f"Run charts: {label}, by team",
        "caption": (f"Monthly percentage of patients with {label} per team ({_month_span(pts)}), with the median as centre "
                    f"line (dashed orange when the Anhøj rules signal non-random variation), {n_pdsa} PDSA cycles marked "
                    f"P1, P2, ... and {len(aims)} team aim(s) as green dashed lines. {signal} of {verdict} teams with at "
                    f"least {result.min_points} useful points show non-random variation; {teams - verdict} of {teams} teams "
                    f"have too few points for a verdict."
                    + _shown_text(shown, teams, how, "tables/run_chart_signals.csv")),
        "alt_text": (f"Grid of {shown} small line charts, one per team"
                     + (f" ({shown} of {teams} teams, the strongest runs signals first)" if shown < teams else "")
                     + f", of the monthly percentage with {label} from "
                     f"{_month_span(pts)}, each with a horizontal median line. {signal} teams show a shift or too few median "
                     f"crossings; {verdict - signal} show only random variation; {teams - verdict} have no verdict."),
    }


def control_chart_text(result: RunChartResult, measure: str, max_teams: int = PANELS_MAX) -> dict[str, str]:
    """Title, caption and alt text for one measure's p (or p′) charts (at most ``max_teams`` panels: see
    :func:`control_chart_teams`)."""
    lim = result.limits[result.limits["measure"] == measure]
    teams = lim["team_id"].nunique()
    n_out = int(lim["outside"].sum())
    teams_out = int(lim.groupby("team_id")["outside"].any().sum())
    label = measure_label(measure)
    kind = "Laney p′ chart" if result.chart == "laney" else "p-chart"
    shown = len(control_chart_teams(lim, measure, max_teams))
    how = "the teams with the most months outside their limits (ties by team id)"
    return {
        "title": f"{kind.capitalize() if kind == 'p-chart' else kind}s: {label}, by team",
        "caption": (f"{kind} of the monthly percentage with {label} per team ({_month_span(lim)}): centre line at the pooled "
                    f"proportion and 3-sigma limits that widen in months with fewer patients. {n_out} month(s) in "
                    f"{teams_out} of {teams} teams fall outside the limits (orange)."
                    + _shown_text(shown, teams, how, "tables/run_chart_signals.csv (n_outside_limits)")),
        "alt_text": (f"Grid of {shown} small control charts, one per team"
                     + (f" ({shown} of {teams} teams, the most months outside the limits first)" if shown < teams else "")
                     + f", of the monthly percentage with {label}, each with "
                     f"a centre line and stepped upper and lower limits; {n_out} points in {teams_out} teams lie outside "
                     f"their limits."),
    }
