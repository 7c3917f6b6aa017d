"""Cohort figures: patients per team and follow-up per patient.

:func:`patients_per_team` and :func:`follow_up` return the figure spec the notebook shows (chart, title,
caption, alt text, section ``cohort``); :func:`patients_per_team_chart` and :func:`follow_up_histogram` draw
the bare figure. Both draw counts of patients, so neither draws nor states a small count: a small team's bar
is hidden (with the one that would give it away), small histogram bins are merged with a neighbour.

The patients-per-team chart draws at most :data:`TEAMS_SHOWN` teams, as the other per-team figures do: a
statewide cohort's 1,000 rows would make a figure 300 inches tall (at 300 dpi, a 650 MB image and most of the
notebook's time and memory). Above that it draws the teams with the fewest and the most patients, the two that
the caption names among them; tables/patients_per_team.csv keeps every team, and the caption says so.
"""

from __future__ import annotations
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from evaluation.analyses.charts import (hidden_note, histogram_note, protected_counts, record_bars, safe_histogram,
                                        shown_number_or_nan)
from evaluation.core.disclosure import COUNT_GID, UNDRAWN, format_count, is_small
from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.groups import TeamCap, both_ends
from evaluation.core.params import Params
from evaluation.core.text import format_days
from evaluation.stats.figure_protection import Relation

NOTEBOOK = "00_data_quality"
SECTION = "cohort"
PATIENTS_TITLE = "Patients in the population of focus, by team"
FOLLOW_UP_TITLE = "Follow-up per patient: enrollment to last measurement"
TEAMS_SHOWN = 30  # team rows the patients-per-team chart draws at most (about a page)


def shown_teams(table: pd.DataFrame, n: int = TEAMS_SHOWN) -> TeamCap:
    """Teams of the patients-per-team chart (from compute.patients_per_team): all, in the table's order (by team
    id), or the ``n // 2`` with the fewest patients and the ``n - n // 2`` with the most (ties by team id), fewest
    first."""
    key = _team_key(table)
    ranked = table.assign(_n=pd.to_numeric(table["patients"], errors="coerce").fillna(0)) \
        .sort_values(["_n", key], kind="stable")[key].astype(str).tolist()
    cap = both_ends(ranked, n, rule=f"the {n // 2} with the fewest patients and the {n - n // 2} with the most")
    return cap if cap.capped else TeamCap(table[key].astype(str).tolist(), len(table))


def _team_key(table: pd.DataFrame) -> str:
    """The column naming a team: its id, or its name in a table without ids."""
    return "team_id" if "team_id" in table.columns else "team_name"


def patients_per_team(table: pd.DataFrame, params: Params) -> FigureSpec:
    """Patients per team (from compute.patients_per_team); the caption states the total and the smallest and
    largest team, each shown as <11 when small (``params.suppress_below``)."""
    threshold = params.suppress_below
    n, teams = int(table["patients"].sum()), len(table)
    lo, hi = (format_count(v, threshold) for v in (table["patients"].min(), table["patients"].max()))
    total = format_count(n, threshold)
    shown = shown_teams(table)
    drawn = (f"the {len(shown.teams)} of {teams:,} teams with the fewest and the most patients" if shown.capped
             else f"{teams} teams")
    return FigureSpec(
        "overview_patients_per_team", patients_per_team_chart(table, threshold), PATIENTS_TITLE,
        f"{total} patients across {teams:,} teams ({lo} to {hi} per team)." + shown.sentence("patients_per_team"),
        f"Horizontal bar chart of patients enrolled per team; {drawn}, from {lo} to {hi} patients each, "
        f"{total} in all.", SECTION, NOTEBOOK)


def follow_up(days: pd.DataFrame, params: Params) -> FigureSpec:
    """The follow-up histogram (from compute.follow_up_days); the caption states who has a measurement and
    the median follow-up.

    The cohort's total is stated elsewhere (the patients-per-team caption), so the patients with a measurement
    are given as "all but <11 of N" when those without one are few: their difference would give them away."""
    threshold = params.suppress_below
    measured = days["follow_up_days"].dropna()
    never = int(days["follow_up_days"].isna().sum())
    total = format_count(len(days), threshold)
    med = format_days(measured.median())
    if never == 0:
        who = f"all {total} patients"
    elif is_small([never], threshold)[0]:
        who = f"all but {format_count(never, threshold)} of the {total} patients (the others have no measurement)"
    else:
        who = (f"{format_count(len(measured), threshold)} of the {total} patients ({format_count(never, threshold)} "
               "have no measurement)")
    return FigureSpec(
        "overview_follow_up", follow_up_histogram(days, threshold), "Follow-up per patient",
        f"Days from enrollment to the last measurement (or exit), {who}; median {med}.",
        f"Histogram of follow-up days per patient in 30-day bins (a bin of fewer than {threshold} patients is merged "
        f"with its neighbour); the median of {med} is marked with a dashed line.", SECTION, NOTEBOOK)


@house_style
def patients_per_team_chart(table: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """Horizontal bars: patients enrolled per team (from compute.patients_per_team), each labelled.

    The caption (:func:`patients_per_team`) states the total and the smallest and largest team,
    so a team of 1 to ``suppress_below`` - 1 patients is not drawn (labelled ``<11``) and, when the others
    would give it away, neither is the next smallest (``*``); bars of hidden counts are not drawn. Above
    :data:`TEAMS_SHOWN` teams only those of :func:`shown_teams` are drawn, with a gap row for the teams between;
    the drawn teams then no longer add up to the total, so no relation ties them to it."""
    shown_cap = shown_teams(table)
    total = float(pd.to_numeric(table["patients"], errors="coerce").fillna(0).sum())
    if shown_cap.capped:
        table = table.assign(_id=table[_team_key(table)].astype(str)).set_index("_id").loc[shown_cap.teams].reset_index()
    counts = pd.to_numeric(table["patients"], errors="coerce").fillna(0).to_numpy(float)
    names = table["team_name"].astype(str).tolist()
    ids = [f"team:{i}" for i in range(len(names))]
    values = {"total": total, **dict(zip(ids, counts))}
    labels = {"total": "patients in the caption", **{c: f"{n}: patients" for c, n in zip(ids, names)}}
    locked = {"total"}
    if len(counts):  # the caption states the largest and (when not small) the smallest team
        locked |= {c for c, v in zip(ids, counts) if v in (counts.max(), counts.min())
                   and not (suppress_below and 1 <= v < suppress_below)}
    relations = [Relation({**{c: 1.0 for c in ids}, "total": -1.0}, "==", 0.0,
                          "the teams add up to the patients in the caption")] if ids and not shown_cap.capped else []
    shown = protected_counts(values, relations, suppress_below, locked)
    y = np.arange(len(names), dtype=float)
    if shown_cap.capped:  # a blank row between the two ends says how many teams lie between them
        y[shown_cap.split:] += 1
    rows = y[-1] + 1 if len(y) else 0
    fig, ax = plt.subplots(figsize=(6, max(2.0, 0.3 * rows + 1)))
    drawn = np.array([shown_number_or_nan(shown[c]) for c in ids], float)
    ax.barh(y[~np.isnan(drawn)], drawn[~np.isnan(drawn)], color=OKABE_ITO[0])
    gids = {}
    for yy, c, v in zip(y, ids, drawn):
        if shown[c] != UNDRAWN:  # each label is exactly what the counts record says it shows
            gids[c] = f"{COUNT_GID}{len(gids)}"
            ax.text(0 if v != v else v, yy, f" {shown[c]}", va="center", fontsize=8, gid=gids[c])
    if shown_cap.capped:
        ax.text(0, shown_cap.split, f" ... {shown_cap.total - len(names):,} teams in between ...", va="center",
                fontsize=7, style="italic", color="#555555")
    ax.set_yticks(y, names)
    ax.set_ylim(rows - 0.5, -0.5)  # every drawn team's row, drawn or not, top to bottom
    ax.grid(axis="y", visible=False)
    ax.set_title(PATIENTS_TITLE)
    ax.set_xlabel("Patients" + (f"\n({hidden_note(suppress_below)})" if any(v != v for v in drawn) else ""))
    record_bars(fig, values, labels, shown, gids, relations, suppress_below)
    return fig


@house_style
def follow_up_histogram(follow_up: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """Histogram of days of follow-up per patient (from compute.follow_up_days), 30-day bins.

    Bins with 1 to ``suppress_below`` - 1 patients are merged with a neighbour (wider bars), so no bar is a
    small count; each bar is labelled with its patients."""
    days = follow_up["follow_up_days"].dropna()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    edges = list(range(0, int(days.max() if len(days) else 0) + 31, 30))
    values, labels, shown, gids, relations = safe_histogram(ax, days, edges, suppress_below, per=30)
    if len(days):
        ax.axvline(days.median(), color=OKABE_ITO[3], linestyle="--", label=f"median {format_days(days.median())}")
        ax.legend()
    ax.set_title(FOLLOW_UP_TITLE)
    ax.set_xlabel("Days after enrollment" + histogram_note(shown, suppress_below))
    ax.set_ylabel("Patients per 30 days")
    record_bars(fig, values, labels, shown, gids, relations, suppress_below)
    return fig
