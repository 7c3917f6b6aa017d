"""Notebook 02's figures: what teams said (themes by team, track and phase, codes that go together) and how
reliably it was coded. Each function takes a result table and returns a :class:`FigureSpec` whose caption
and alt text state the numbers drawn; all belong to the report's ``themes`` section.
"""

from __future__ import annotations
import textwrap
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from .compute import PHASE_LABELS, presence_teams
from .reliability import OVERALL, ReliabilityResult
from evaluation.core.figures import OKABE_ITO, SEQUENTIAL, FigureSpec, house_style
from evaluation.core.groups import TeamCap
from evaluation.core.labels import group_name
from evaluation.stats.agreement import ALPHA_RELIABLE, ALPHA_TENTATIVE

SECTION = "themes"
NOTEBOOK = "02_focus_groups"


def _wrap(labels, width: int = 14) -> list[str]:
    return ["\n".join(textwrap.wrap(str(s), width)) or str(s) for s in labels]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _plain_axes(ax: plt.Axes) -> None:
    """A heatmap's axes: no axis titles, no grid (the cells are the grid)."""
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.grid(False)


# --- themes by team ---------------------------------------------------------------------------------

def themes_by_team(presence: pd.DataFrame) -> FigureSpec:
    """Teams x themes: excerpts in which each team voiced each theme (from :func:`~.compute.theme_presence`).

    Above :data:`~.compute.TEAMS_SHOWN` teams it draws those with the most excerpts
    (:func:`~.compute.presence_teams`) and the caption says where every team is.
    """
    cap = presence_teams(presence)
    spoke = presence[presence["spoke"]]
    teams, total = spoke["team_id"].nunique(), presence["team_id"].nunique()
    per_theme = spoke[spoke["voiced"]].groupby("theme")["team_id"].nunique().reindex(presence["theme"].unique(),
                                                                                      fill_value=0)
    lo, hi = (int(per_theme.min()), int(per_theme.max())) if len(per_theme) else (0, 0)
    top = per_theme.sort_values(ascending=False, kind="stable")
    if not hi:
        lead = "no theme was voiced"
    elif lo == hi:
        lead = f"every theme was voiced by {hi} of the {teams} teams that spoke"
    else:
        lead = f"themes were voiced by {lo} to {hi} of the {teams} teams that spoke, '{top.index[0]}' by the most"
    rows = (f"one row for each of the {len(cap.teams)} of {total:,} teams with the most excerpts (grouped by track)"
            if cap.capped else f"one row per team ({total}, grouped by track)")
    return FigureSpec(
        "qualitative_theme_presence_team", _draw_themes_by_team(presence, cap), "Themes voiced by each team",
        f"Excerpts per team and theme. {teams} of {total} teams spoke in a focus group or interview; {lead}."
        + cap.sentence("themes_by_team"),
        f"Heatmap with {rows} and one column per theme ({presence['theme'].nunique()}); each cell gives the number "
        f"of excerpts in which the team voiced the theme, darker for more. {lead}.",
        SECTION, NOTEBOOK)


@house_style
def _draw_themes_by_team(presence: pd.DataFrame, cap: TeamCap) -> plt.Figure:
    """Teams keep the table's order (grouped by track); a line separates the tracks; teams that spoke in no
    focus group or interview are marked, since their zeros mean "not asked", not "not raised"."""
    teams = cap.teams
    presence = presence[presence["team_id"].isin(teams)]
    themes = list(dict.fromkeys(presence["theme"]))
    matrix = presence.pivot(index="team_id", columns="theme", values="n_excerpts").reindex(index=teams, columns=themes)
    info = presence.drop_duplicates("team_id").set_index("team_id")
    labels = []
    for t in teams:
        name = info.at[t, "team_name"] if pd.notna(info.at[t, "team_name"]) else t
        track = f" ({info.at[t, 'track']})" if pd.notna(info.at[t, "track"]) else ""
        labels.append(f"{name}{track}" + ("" if info.at[t, "spoke"] else " - did not speak"))
    fig, ax = plt.subplots(figsize=(2.2 + 1.3 * len(themes), 1.2 + 0.34 * len(teams)))
    sns.heatmap(matrix, annot=True, fmt=".0f", cmap=SEQUENTIAL, linewidths=0.6, linecolor="white",
                cbar_kws={"label": "Excerpts"}, ax=ax, vmin=0)
    tracks = info["track"].reindex(teams).to_numpy()
    for i in range(1, len(teams)):
        if tracks[i] != tracks[i - 1]:
            ax.axhline(i, color="black", linewidth=1.2)
    ax.set_yticks(np.arange(len(teams)) + 0.5, labels, rotation=0)
    ax.set_xticks(np.arange(len(themes)) + 0.5, _wrap(themes), rotation=0)
    _plain_axes(ax)
    ax.set_title("Excerpts voicing each theme, by team")
    return fig


# --- themes by track --------------------------------------------------------------------------------

def themes_by_track(by_track: pd.DataFrame) -> FigureSpec:
    """Themes x groups (all teams, then each track): percent of the teams that spoke who voiced the theme
    (from :func:`~.compute.theme_by_track`)."""
    overall = by_track[by_track["group"] == "all"]
    tracks = [group_name(g) for g in by_track["group"].unique() if g != "all"]
    top = overall.sort_values(["pct_teams", "theme"], ascending=[False, True], kind="stable").head(1)
    lead = (f"'{top['theme'].iloc[0]}' was voiced by {int(top['n_teams'].iloc[0])} of {int(top['teams_total'].iloc[0])} "
            f"teams" if len(top) else "no theme was voiced")
    return FigureSpec(
        "qualitative_theme_presence_track", _draw_themes_by_track(by_track),
        "Share of teams voicing each theme, by track",
        f"Percent of the teams that spoke who voiced each theme, all teams and by track. {lead}.",
        f"Heatmap with one row per theme and one column per group (all teams, {', '.join(tracks) or 'no tracks'}); "
        f"each cell gives the percent of teams voicing the theme. {lead}.",
        SECTION, NOTEBOOK)


@house_style
def _draw_themes_by_track(by_track: pd.DataFrame) -> plt.Figure:
    """Each cell: the percent, and "n of total" teams under it."""
    themes = list(dict.fromkeys(by_track["theme"]))
    groups = list(dict.fromkeys(by_track["group"]))
    pct = by_track.pivot(index="theme", columns="group", values="pct_teams").reindex(index=themes, columns=groups)
    n = by_track.pivot(index="theme", columns="group", values="n_teams").reindex(index=themes, columns=groups)
    total = by_track.pivot(index="theme", columns="group", values="teams_total").reindex(index=themes, columns=groups)
    annot = pct.round(0).astype("Int64").astype(str) + "%\n(" + n.astype(int).astype(str) + " of " \
        + total.astype(int).astype(str) + ")"
    fig, ax = plt.subplots(figsize=(2.5 + 1.4 * len(groups), 1.0 + 0.55 * len(themes)))
    sns.heatmap(pct.astype(float), annot=annot.to_numpy(), fmt="", cmap=SEQUENTIAL, vmin=0, vmax=100,
                linewidths=0.6, linecolor="white", cbar_kws={"label": "% of teams"}, ax=ax)
    ax.set_xticks(np.arange(len(groups)) + 0.5,
                  [f"{group_name(g)} track" if "=" in g else f"{g} teams" for g in groups], rotation=0)
    ax.set_yticks(np.arange(len(themes)) + 0.5, themes, rotation=0)
    _plain_axes(ax)
    ax.set_title("Teams voicing each theme, by track")
    return fig


# --- codes that occur together ----------------------------------------------------------------------

def code_cooccurrence(co: pd.DataFrame) -> FigureSpec:
    """Codes x codes: excerpts on which both count (from :func:`~.compute.code_cooccurrence`)."""
    off = co[co["code_a"] < co["code_b"]].sort_values(["n_excerpts", "code_a", "code_b"],
                                                       ascending=[False, True, True], kind="stable")
    n = int(off["n_excerpts"].iloc[0]) if len(off) else 0
    lead = (f"the most frequent pair is '{off['code_a'].iloc[0]}' with '{off['code_b'].iloc[0]}' "
            f"({n} excerpt{'s' if n != 1 else ''})" if n else "no two codes share an excerpt")
    return FigureSpec(
        "qualitative_cooccurrence", _draw_code_cooccurrence(co), "Codes applied to the same excerpt",
        f"Excerpts on which both codes count; the diagonal gives each code's excerpts. {_sentence(lead)}.",
        f"Lower-triangle heatmap of {co['code_a'].nunique()} codes by the same codes, grouped by theme; "
        f"each cell gives the number of excerpts with both codes. {_sentence(lead)}.",
        SECTION, NOTEBOOK)


@house_style
def _draw_code_cooccurrence(co: pd.DataFrame) -> plt.Figure:
    """The lower triangle (the diagonal is each code's excerpts); lines separate the themes."""
    codes = list(dict.fromkeys(co["code_a"]))
    matrix = co.pivot(index="code_a", columns="code_b", values="n_excerpts").reindex(index=codes, columns=codes)
    mask = np.triu(np.ones_like(matrix, dtype=bool), k=1)
    side = 2.5 + 0.42 * len(codes)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    sns.heatmap(matrix, mask=mask, annot=len(codes) <= 24, fmt=".0f", annot_kws={"fontsize": 7}, cmap=SEQUENTIAL,
                vmin=0, linewidths=0.4, linecolor="white", cbar_kws={"label": "Excerpts with both codes"},
                square=True, ax=ax)
    themes = co.drop_duplicates("code_a").set_index("code_a")["theme_a"].reindex(codes).to_numpy()
    for i in range(1, len(codes)):
        if themes[i] != themes[i - 1]:
            ax.axhline(i, xmax=i / len(codes), color="black", linewidth=1)
            ax.axvline(i, ymin=0, ymax=1 - i / len(codes), color="black", linewidth=1)
    ax.set_xticks(np.arange(len(codes)) + 0.5, [c.replace("_", " ") for c in codes], rotation=90)
    ax.set_yticks(np.arange(len(codes)) + 0.5, [c.replace("_", " ") for c in codes], rotation=0)
    _plain_axes(ax)
    ax.set_title("Codes applied to the same excerpt")
    return fig


# --- mid-cycle and end of cycle ---------------------------------------------------------------------

def themes_by_phase(phases: pd.DataFrame) -> FigureSpec:
    """Themes x phases: percent of each phase's excerpts voicing the theme (from
    :func:`~.compute.phase_comparison`); the caption names the theme that rose and the one that fell most."""
    wide = phases.pivot_table(index="theme", columns="phase", values="pct_excerpts")
    if {"mid_cycle", "end_of_cycle"} <= set(wide.columns) and len(wide):
        diff = (wide["end_of_cycle"] - wide["mid_cycle"]).sort_values(kind="stable")
        rise, fall = diff.index[-1], diff.index[0]
        lead = (f"'{rise}' rose most ({wide.at[rise, 'mid_cycle']:.0f}% to {wide.at[rise, 'end_of_cycle']:.0f}% of "
                f"excerpts) and '{fall}' fell most ({wide.at[fall, 'mid_cycle']:.0f}% to "
                f"{wide.at[fall, 'end_of_cycle']:.0f}%)")
    else:
        lead = "only one phase has excerpts, so there is nothing to compare"
    return FigureSpec(
        "qualitative_phases", _draw_themes_by_phase(phases), "Themes at mid-cycle and at the end of the cycle",
        f"Percent of each phase's excerpts that voice each theme. From mid-cycle to the end, {lead}.",
        f"Horizontal grouped bar chart, one group per theme ({phases['theme'].nunique()}), one bar per "
        f"phase, giving the percent of that phase's excerpts voicing the theme. {_sentence(lead)}.",
        SECTION, NOTEBOOK)


@house_style
def _draw_themes_by_phase(phases: pd.DataFrame) -> plt.Figure:
    """Grouped horizontal bars, one per phase, each labelled with its percent and (excerpts)."""
    themes = list(dict.fromkeys(phases["theme"]))
    order = [p for p in PHASE_LABELS if p in set(phases["phase"])]
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.7 * len(themes)))
    height = 0.8 / max(len(order), 1)
    y = np.arange(len(themes))
    for i, phase in enumerate(order):
        rows = phases[phases["phase"] == phase].set_index("theme").reindex(themes)
        pos = y - 0.4 + height * (i + 0.5)
        ax.barh(pos, rows["pct_excerpts"], height=height * 0.92, color=OKABE_ITO[i], label=PHASE_LABELS[phase])
        for yy, pct, n in zip(pos, rows["pct_excerpts"], rows["n_excerpts"]):
            if pd.notna(pct):
                ax.text(pct, yy, f" {pct:.0f}% ({n:.0f})", va="center", fontsize=8)
    ax.set_yticks(y, themes)
    ax.invert_yaxis()
    ax.set_xlim(0, max(100.0, float(phases["pct_excerpts"].max() or 0) * 1.15))
    ax.set_xlabel("% of the phase's excerpts voicing the theme (number of excerpts in brackets)")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right")
    ax.set_title("Themes at mid-cycle and at the end of the cycle")
    return fig


# --- inter-rater reliability ------------------------------------------------------------------------

def irr_by_code(irr: ReliabilityResult) -> FigureSpec:
    """Per code: Krippendorff's alpha with its CI and Cohen's kappa (from
    :func:`~.reliability.inter_rater_reliability`, when computable); the overall row last."""
    t = irr.summary
    per_code = t[t["code"] != OVERALL]
    overall = t[t["code"] == OVERALL].iloc[0]
    reliable = int((per_code["alpha_verdict"] == "reliable").sum())
    undefined = int(per_code["krippendorff_alpha"].isna().sum())
    pct = round(100 * (1 - irr.settings.alpha))
    lead = (f"{reliable} of {len(per_code)} codes reach alpha >= {ALPHA_RELIABLE:.3f}; overall alpha "
            f"{overall['krippendorff_alpha']:.2f} and kappa {overall['cohen_kappa']:.2f} ({overall['landis_koch']})")
    extra = f"; {undefined} {'codes are' if undefined > 1 else 'code is'} not computable" if undefined else ""
    read = "both" if len(irr.coders) == 2 else "two or more of them"
    return FigureSpec(
        "qualitative_irr", _draw_irr_by_code(t), "Inter-rater reliability by code",
        f"Krippendorff's alpha (nominal) with {pct}% bootstrap CI, and Cohen's kappa, per code: {len(irr.coders)} "
        f"coders, on the {irr.n_shared} excerpts {read} read. {lead}{extra}.",
        f"Dot plot with one row per code: alpha as a dot with a horizontal CI line and kappa as a "
        f"diamond, with reference lines at {ALPHA_TENTATIVE} and {ALPHA_RELIABLE}. {lead}{extra}.",
        SECTION, NOTEBOOK)


@house_style
def _draw_irr_by_code(summary: pd.DataFrame) -> plt.Figure:
    """Alpha as a dot with its CI line, kappa as a diamond; dotted and dashed lines at the alpha thresholds."""
    table = pd.concat([summary[summary["code"] != OVERALL], summary[summary["code"] == OVERALL]])
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.32 * len(table)))
    alpha, low, high = (table[c].astype(float).to_numpy() for c in ("krippendorff_alpha", "alpha_ci_low", "alpha_ci_high"))
    kappa = table["cohen_kappa"].astype(float).to_numpy()
    ok = np.isfinite(low) & np.isfinite(high)
    ax.hlines(y[ok], low[ok], high[ok], color=OKABE_ITO[0], linewidth=1.6, label="alpha bootstrap CI" if ok.any() else None)
    ax.plot(alpha, y, "o", color=OKABE_ITO[0], label="Krippendorff's alpha")
    ax.plot(kappa, y, "D", color=OKABE_ITO[1], markersize=5, label="Cohen's kappa")
    left = min(-0.1, np.nanmin(np.concatenate([low, alpha, kappa, [0.0]])))
    for yy, a in zip(y, alpha):
        if not np.isfinite(a):
            ax.text(left + 0.02, yy, "not computable", va="center", fontsize=8, color="#555555")
    ax.axvline(ALPHA_TENTATIVE, color="#888888", linestyle=":", linewidth=1)
    ax.axvline(ALPHA_RELIABLE, color="#888888", linestyle="--", linewidth=1)
    ax.axvline(0, color="#bbbbbb", linewidth=0.8)
    if (table["code"] == OVERALL).any():
        ax.axhline(len(table) - 1.5, color="#bbbbbb", linewidth=0.8)
    ax.set_yticks(y, [c.replace("_", " ") for c in table["code"]])
    ax.invert_yaxis()
    ax.set_xlim(left, 1.02)
    ax.set_xlabel(f"Agreement beyond chance (dotted {ALPHA_TENTATIVE}: tentative; dashed {ALPHA_RELIABLE}: reliable)")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, fontsize=8)
    ax.set_title("Inter-rater reliability by code")
    return fig
