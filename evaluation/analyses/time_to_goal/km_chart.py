"""The Kaplan-Meier figure: the cumulative % reaching the event, with a numbers table (at risk, events,
censored) under the plot that hides every count a reader could work out, and at most ``GROUPS_DRAWN`` curves.

:func:`survival_km_chart` draws the bare figure from a :class:`~.kaplan_meier.KaplanMeierGroups`;
:func:`drawn_groups` chooses the groups it draws. The figure spec with its caption is
:func:`evaluation.analyses.time_to_goal.figures.km_figure`.
"""

from __future__ import annotations
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from evaluation.core.disclosure import COMPLEMENT_MARK, COUNT_GID, NUMBERS_TABLE_TITLE, UNDRAWN
from evaluation.core.figures import NOT_A_PANEL, OKABE_ITO, attach_counts, house_style
from evaluation.core.groups import TEAM, both_ends
from evaluation.core.labels import group_name, measure_label
from evaluation.core.text import format_p
from evaluation.stats.figure_protection import Relation, protect_cells
from evaluation.stats.survival import KaplanMeier
from .kaplan_meier import KaplanMeierGroups, km_groups

GROUPS_DRAWN = 10  # a Kaplan-Meier figure draws at most this many group curves (beyond it they are unreadable)
_LINE_STYLES = ["-", "--", ":"]  # after the 8 Okabe-Ito colours, curves differ by line style


def _colour_and_style(i: int) -> tuple[str, str]:
    """The i-th curve's colour and line style: the eight Okabe-Ito colours, then again dashed, then dotted."""
    return OKABE_ITO[i % len(OKABE_ITO)], _LINE_STYLES[(i // len(OKABE_ITO)) % len(_LINE_STYLES)]


def _styles(km) -> list[tuple[str, str, float]]:
    """(colour, line style, width) per group; the pooled curve of a selection (``drawn_groups``) is thick black."""
    out, k = [], 0
    for g in km.summary["group"]:
        if km.selection and g == km.summary["group"].iat[0]:
            out.append(("#000000", "-", 2.2))
            continue
        if km.selection:  # black is the pooled curve's: the others cycle through the seven colours
            out.append((OKABE_ITO[k % 7], _LINE_STYLES[(k // 7) % len(_LINE_STYLES)], 1.4))
        else:
            out.append((*_colour_and_style(k), 1.4))
        k += 1
    return out


def _table_rows(km, labels: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(group, column, row label, colour) rows of the table under the plot: at risk / events / censored."""
    groups = list(km.summary["group"])
    styles = _styles(km)
    rows = []
    for i, g in enumerate(groups):
        colour = styles[i][0] if len(groups) > 1 else "#222222"
        if len(groups) > 3:  # many groups: at risk only, or the table would outgrow the plot
            rows.append((g, "at_risk", labels[g], colour))
            continue
        prefix = "" if len(groups) == 1 else f"{labels[g]}: "
        rows += [(g, "at_risk", f"{prefix}at risk", colour), (g, "events", f"{prefix}events", colour),
                 (g, "censored", f"{prefix}censored", colour)]
    return rows


KM_HIDDEN_NOTE = "* hidden so that a small count cannot be worked out"
_COLUMN_WORDS = {"at_risk": "at risk", "events": "events", "censored": "censored"}


def _cell(gi: int, column: str, t: float) -> str:
    """The id of one count of the numbers table: group position, column, day (``0:at_risk:90``)."""
    return f"{gi}:{column}:{t:g}"


def _shown_counts(km, rows: list[tuple[str, str, str, str]], ticks: list[float], labels: dict[str, str],
                  suppress_below: int | None) -> tuple[dict[str, str], list[dict], list[Relation], dict[str, str]]:
    """What the numbers table and the legend show of each count, the facts a reader knows about them, and
    how the caption must state the n's the figure hides.

    Per group and tick, a reader takes n (the legend's, = at risk at day 0) = at risk + events + censored (the
    sum is larger by the patients whose day is the tick: ``~=``); cumulative events and censored never fall
    and at risk never rises; the groups of a partition add up to the patients in the caption; with a
    selection of groups, the drawn groups are part of the pooled one. Small counts show as ``<11`` and
    further cells as ``*`` until no hidden count can be pinned
    (:func:`evaluation.stats.figure_protection.protect_cells`); the caption's total is never hidden. Returns (cell -> shown, cell records, relations, caption phrase ->
    safe phrase).
    """
    groups = list(km.summary["group"])
    risk = {g: frame.set_index("time") for g, frame in km.risk.groupby("group", sort=False)}
    values: dict[str, float] = {"total": float(km.n_patients)}
    info = [{"id": "total", "label": "patients in the caption", "gid": None}]
    relations: list[Relation] = []
    n_cells = []
    for gi, g in enumerate(groups):
        n = float(km.summary.loc[km.summary["group"] == g, "n"].iat[0])
        columns = [column for gg, column, _, _ in rows if gg == g]
        for column in columns:
            for t in ticks:
                if g in risk and t in risk[g].index:
                    cell = _cell(gi, column, t)
                    values[cell] = float(risk[g].at[t, column])
                    info.append({"id": cell, "label": f"{labels[g]}: {_COLUMN_WORDS[column]}, day {t:g}", "gid": None})
            present = [t for t in ticks if _cell(gi, column, t) in values]
            sign = 1.0 if column == "at_risk" else -1.0  # at risk never rises; events and censored never fall
            for a, b in zip(present, present[1:]):
                relations.append(Relation({_cell(gi, column, b): sign, _cell(gi, column, a): -sign}, "<=", 0.0,
                                          f"{labels[g]}: {_COLUMN_WORDS[column]} by day {b:g} and by day {a:g}"))
        n_cell = _cell(gi, "at_risk", 0.0)  # the legend's n is the number at risk at day 0
        if values.get(n_cell) != n:
            n_cell = f"{gi}:n"
            values[n_cell] = n
            info.append({"id": n_cell, "label": f"{labels[g]}: n", "gid": None})
        n_cells.append(n_cell)
        if {"events", "censored"} <= set(columns):
            for t in ticks:
                cells = [_cell(gi, c, t) for c in ("at_risk", "events", "censored")]
                if all(c in values for c in cells):
                    terms = {c: 1.0 for c in cells}
                    terms[n_cell] = terms.get(n_cell, 0.0) - 1.0
                    relations.append(Relation({c: v for c, v in terms.items() if v}, "~=", 0.0,
                                              f"{labels[g]}: at risk + events + censored = n at day {t:g}"))
    if km.selection:  # the pooled curve first, then some of its groups: those are part of it
        for t in ticks:
            for column in ("at_risk", "events", "censored"):
                whole, pieces = _cell(0, column, t), [_cell(gi, column, t) for gi in range(1, len(groups))]
                if whole in values and all(c in values for c in pieces):
                    relations.append(Relation({**{c: 1.0 for c in pieces}, whole: -1.0}, "<=", 0.0,
                                              f"the groups drawn are part of the pooled cohort ({_COLUMN_WORDS[column]}, day {t:g})"))
    elif km.by != "condition":  # groups of one partition (conditions overlap)
        op = "==" if sum(values[c] for c in n_cells) == values["total"] else "<="
        relations.append(Relation({**{c: 1.0 for c in n_cells}, "total": -1.0}, op, 0.0,
                                  "the groups' n add up to the patients in the caption"))
    if suppress_below:
        shown = protect_cells(values, relations, suppress_below, locked={"total"})
    else:
        shown = {c: f"{int(v):,}" for c, v in values.items()}
    for gi in range(len(groups)):
        shown[f"{gi}:n"] = shown[n_cells[gi]]
    restate = {}
    for gi, g in enumerate(groups):  # the caption (figures.km_figure) states each n as "<name> (n = <n>)"
        if shown[n_cells[gi]] == COMPLEMENT_MARK:
            restate[f"{group_name(g)} (n = {int(values[n_cells[gi]])})"] = f"{group_name(g)} (n = {COMPLEMENT_MARK})"
    return shown, info, relations, restate


@house_style
def survival_km_chart(km, *, ylabel: str = "Patients at goal (%)", xlabel: str = "Days since enrollment",
                      title: str | None = None, suppress_below: int | None = 11) -> plt.Figure:
    """Kaplan-Meier drawn as the cumulative % reaching the event, with a numbers table under the plot.

    ``km`` is a :class:`~.kaplan_meier.KaplanMeierGroups` (tidy ``summary``, ``curves``, ``risk``,
    ``logrank``). Shows the CI band (up to 3 groups), censor ticks, a dotted median line per group, the
    log-rank p and the CI method; the table gives, at each x tick, the number at risk and the cumulative
    events and censored (at risk only when there are more than 3 groups). Counts of 1 to ``suppress_below`` - 1
    are drawn as ``<11`` so the figure is safe for funders (None draws them as they are).

    With more than :data:`GROUPS_DRAWN` groups (a statewide cohort's 1,000 teams) it draws the pooled cohort and
    the fastest and slowest groups (:func:`drawn_groups`); the caption (:func:`.figures.km_figure`) says so.
    """
    km = drawn_groups(km)
    summary = km.summary
    groups = list(summary["group"])
    styles = _styles(km)
    labels = {g: curve_label(g) for g in groups}
    if km.selection:
        labels[groups[0]] = labels[groups[0]].capitalize()
    rows = _table_rows(km, labels)
    ticks = sorted(km.risk["time"].unique()) if len(km.risk) else [0.0]
    shown, cells, relations, restate = _shown_counts(km, rows, ticks, labels, suppress_below)
    table_height = 0.17 * len(rows) + 0.35
    fig = plt.figure(figsize=(7, 3.4 + table_height))
    grid = fig.add_gridspec(2, 1, height_ratios=[3.4, table_height], hspace=0.45)
    ax = fig.add_subplot(grid[0])
    tab = fig.add_subplot(grid[1], sharex=ax, label=NOT_A_PANEL)
    bands = len(groups) <= 3
    lr = km.logrank
    condition_p = {}
    if km.by == "condition" and len(lr):
        condition_p = {c.split(" vs ")[0]: p for c, p in zip(lr["comparison"], lr["p_value"])}
    for i, g in enumerate(groups):
        colour, style, width = styles[i]
        c = km.curves[km.curves["group"] == g]
        s = summary[summary["group"] == g].iloc[0]
        x = np.r_[0.0, c["time"].to_numpy(float)]
        y = 100 * (1 - np.r_[1.0, c["survival"].to_numpy(float)])
        label = f"{labels[g]} (n = {shown[f'{i}:n']})"
        if g in condition_p and condition_p[g] == condition_p[g]:
            label += f", {format_p(condition_p[g])} vs without"
        ax.step(x, y, where="post", color=colour, ls=style, lw=width, label=label)
        if bands:
            low = 100 * (1 - np.r_[1.0, c["ci_high"].to_numpy(float)])
            high = 100 * (1 - np.r_[1.0, c["ci_low"].to_numpy(float)])
            ax.fill_between(x, low, high, step="post", color=colour, alpha=0.18, linewidth=0)
        cens = c[c["censored"] > 0]
        if not (km.selection and i == 0):  # the pooled curve of a statewide cohort would be all ticks
            ax.plot(cens["time"], 100 * (1 - cens["survival"]), ls="none", marker="|", ms=6, mew=1, color=colour)
        median = s["median_days"]
        if median == median:  # reached
            ax.plot([0, median], [50, 50], ls=":", lw=0.9, color="#555555")
            ax.plot([median, median], [0, 50], ls=":", lw=0.9, color=colour)
    notes = []
    if km.by is not None and km.by != "condition" and len(lr):
        p = lr["p_value"].iat[0]
        notes.append(f"Log-rank {format_p(p)}" if p == p else f"Log-rank: {lr['note'].iat[0]}")
    level = f"{100 * (1 - km.alpha):g}% CI"
    notes.append(f"Shaded: {level} ({km.ci_method})" if bands else f"{level}s ({km.ci_method}) in the table")
    notes.append("Ticks: censored; dotted: median")
    # cumulative curves rise from the lower left to the upper right: the other two corners stay free
    ax.text(0.99, 0.03, "\n".join(notes), transform=ax.transAxes, va="bottom", ha="right", fontsize=7.5,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5})
    ax.set_ylim(0, 100)
    ax.set_xlim(0, ticks[-1] if ticks[-1] > 0 else 1)
    ax.set_xticks(ticks)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    if title is None:
        name = "MTPs" if km.measure == "mtp_resolution" else measure_label(km.measure)
        title = f"{name}: {km.goal}" + (f", by {km.by}" if km.by else "")
    ax.set_title(title)
    if len(groups) > 3:  # many curves: the legend goes beside the plot, not over it
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    elif len(groups) > 1 or condition_p:  # one condition still gets its legend: it carries the p vs without
        ax.legend(loc="upper left", fontsize=7)
    mentions = []
    if ax.get_legend() is not None:
        for i, text in enumerate(ax.get_legend().get_texts()):
            gid = f"{COUNT_GID}legend-{i}"
            text.set_gid(gid)
            n_cell = next((c["id"] for c in cells if c["id"] in (_cell(i, "at_risk", 0.0), f"{i}:n")), f"{i}:n")
            mentions.append({"gid": gid, "cell": n_cell, "contains": f"(n = {shown[f'{i}:n']})"})
    # the numbers table
    tab.set_ylim(len(rows) - 0.5, -0.5)
    index = {g: i for i, g in enumerate(groups)}
    gids = {}
    for r, (g, column, _, colour) in enumerate(rows):
        for t in ticks:
            cell = _cell(index[g], column, t)
            if shown.get(cell, UNDRAWN) != UNDRAWN:
                gids[cell] = f"{COUNT_GID}{len(gids)}"
                tab.text(t, r, shown[cell], ha="center", va="center", fontsize=7, color=colour, gid=gids[cell])
    for cell in cells:
        cell["shown"] = shown[cell["id"]]
        cell["gid"] = gids.get(cell["id"])  # None: not drawn as a text of its own (the caption's total)
    tab.set_yticks(range(len(rows)))
    tab.set_yticklabels([label for _, _, label, _ in rows], fontsize=7)
    for ticklabel, (_, _, _, colour) in zip(tab.get_yticklabels(), rows):
        ticklabel.set_color(colour)
    tab.tick_params(axis="both", length=0)
    day0 = [shown.get(_cell(i, "at_risk", ticks[0]), "") for i in range(len(groups))]
    tab.tick_params(axis="y", pad=max(16, 2.6 * max(map(len, day0), default=0) + 4))  # row labels clear of day-0 numbers
    tab.tick_params(axis="x", labelbottom=False)
    tab.grid(False)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    hidden = any(v == COMPLEMENT_MARK for v in shown.values())
    left_out = any(v == UNDRAWN for c, v in shown.items() if c.count(":") == 2)
    note = "; ".join([KM_HIDDEN_NOTE] * hidden + ["blank: left out for the same reason"] * left_out)
    tab.set_title(NUMBERS_TABLE_TITLE + ("" if len(groups) > 3 else ", and events and censored so far")
                  + (f" ({note})" if note else ""), fontsize=8, fontweight="normal", loc="left")
    attach_counts(fig, cells, relations, suppress_below, mentions, note, restate=restate)
    return fig


def curve_label(group: str) -> str:
    """A group as the legend and the numbers table name it: ``track=initial`` -> ``initial``,
    ``setting=community_pharmacy`` -> ``community pharmacy``; ``all`` stays as it is."""
    return group_name(group).replace("_", " ") if "=" in group else group


def group_unit(by: str | None) -> str:
    """The groups of a subgroup in words: ``teams``, ``state groups``."""
    return {TEAM: "teams"}.get(str(by), f"{by} groups")


def _pace(fitter: KaplanMeier) -> tuple[float, float]:
    """Sort key, fastest first: the median (not reached: slowest), then the share still without the event."""
    survival = fitter.arrays["survival"]
    return (fitter.median_ if fitter.median_ == fitter.median_ else np.inf,
            float(survival[-1]) if len(survival) else 1.0)


def drawn_groups(km: KaplanMeierGroups, cap: int = GROUPS_DRAWN) -> KaplanMeierGroups:
    """The groups a figure draws: every group when there are at most ``cap``; else the pooled cohort plus the
    ``cap // 2`` fastest and the ``cap - cap // 2`` slowest groups (:func:`evaluation.core.groups.both_ends`
    of the groups ranked by pace).

    Fastest and slowest go by the median time to the event; groups whose median is not reached count as the
    slowest, the fewer reaching the event the slower; ties by label. A statewide cohort of 1,000 teams
    otherwise draws 1,000 curves (and a numbers table of 1,000 rows). The result keeps the log-rank test
    across every group and says in ``selection`` what is drawn; ``n_groups`` is the number of groups
    analysed. Overlapping groups (conditions) are never pooled: they are few.
    """
    if km.n_groups or len(km.fitters) <= cap or km.by in (None, "condition"):
        return km
    unit = group_unit(km.by)
    ranked = sorted(km.fitters, key=lambda g: (*_pace(km.fitters[g]), g))
    chosen = both_ends(ranked, cap, rule="the fastest and the slowest by median time")
    fast, slow = chosen.teams[:chosen.split], chosen.teams[chosen.split:]
    label = f"all {len(km.fitters):,} {unit}"
    durations = np.concatenate([f.durations for f in km.fitters.values()])
    events = np.concatenate([f.events for f in km.fitters.values()]).astype(int)
    pooled = km_groups(pd.DataFrame({"days": durations, "event": events}), None, km.ci_method, km.alpha,
                       km.measure, km.goal, logrank=False)
    pooled.fitters["all"].label = label
    order = {g: i for i, g in enumerate(chosen.teams)}

    def pick(frame: pd.DataFrame, pooled_frame: pd.DataFrame) -> pd.DataFrame:
        mine = frame[frame["group"].isin(order)]
        mine = mine.iloc[np.argsort(mine["group"].map(order).to_numpy(), kind="stable")]
        return pd.concat([pooled_frame.assign(group=label), mine], ignore_index=True)[frame.columns]

    summary = pick(km.summary, pooled.summary)
    if "competing" in summary:
        summary.loc[0, "competing"] = km.summary["competing"].sum()
    table = "mtp_resolution" if km.measure == "mtp_resolution" else "time_to_goal"
    selection = (f"Drawn: all {len(km.fitters):,} {unit} pooled, then the {len(fast)} {unit} with the shortest and "
                 f"the {len(slow)} with the longest median time (a median not reached counts as longest); every "
                 f"one of the {len(km.fitters):,} is in tables/{table}.csv")
    return KaplanMeierGroups(
        measure=km.measure, by=km.by, ci_method=km.ci_method, alpha=km.alpha, summary=summary,
        curves=pick(km.curves, pooled.curves), risk=pick(km.risk, pooled.risk), logrank=km.logrank, goal=km.goal,
        fitters={label: pooled.fitters["all"], **{g: km.fitters[g] for g in chosen.teams}}, n_patients=km.n_patients,
        n_groups=len(km.fitters), selection=selection)
