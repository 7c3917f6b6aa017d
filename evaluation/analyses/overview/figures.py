"""TODO docstring analyses/overview/figures."""

from __future__ import annotations
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from evaluation.analyses.charts import histogram_note, protected_counts, record_bars, safe_histogram, shown_number_or_nan, hidden_note
from evaluation.core.disclosure import UNDRAWN, format_count, is_small
from evaluation.core.figures import OKABE_ITO, house_style
from evaluation.stats.cell_suppression import Relation
from evaluation.core.disclosure import COUNT_GID


@house_style
def patients_per_team_chart(table: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """Horizontal bars: patients enrolled per team (from overview.patients_per_team), each labelled.

    The caption (``overview.patients_per_team_text``) states the total and the smallest and largest team,
    so a team of 1 to ``suppress_below`` - 1 patients is not drawn (labelled ``<11``) and, when the others
    would give it away, neither is the next smallest (``*``); bars of hidden counts are not drawn."""
    names = table["team_name"].astype(str).tolist()
    counts = pd.to_numeric(table["patients"], errors="coerce").fillna(0).to_numpy(float)
    ids = [f"team:{i}" for i in range(len(names))]
    values = {"total": float(counts.sum()), **dict(zip(ids, counts))}
    labels = {"total": "patients in the caption", **{c: f"{n}: patients" for c, n in zip(ids, names)}}
    locked = {"total"}
    if len(counts):  # the caption states the largest and (when not small) the smallest team
        locked |= {c for c, v in zip(ids, counts) if v in (counts.max(), counts.min())
                   and not (suppress_below and 1 <= v < suppress_below)}
    relations = [Relation({**{c: 1.0 for c in ids}, "total": -1.0}, "==", 0.0,
                                  "the teams add up to the patients in the caption")] if ids else []
    shown = protected_counts(values, relations, suppress_below, locked)
    fig, ax = plt.subplots(figsize=(6, max(2.0, 0.3 * len(names) + 1)))
    drawn = np.array([shown_number_or_nan(shown[c]) for c in ids], float)
    y = np.arange(len(names))
    ax.barh(y[~np.isnan(drawn)], drawn[~np.isnan(drawn)], color=OKABE_ITO[0])
    gids = {}
    for yy, c, v in zip(y, ids, drawn):
        if shown[c] != UNDRAWN:  # each label is exactly what the counts record says it shows
            gids[c] = f"{COUNT_GID}{len(gids)}"
            ax.text(0 if v != v else v, yy, f" {shown[c]}", va="center", fontsize=8, gid=gids[c])
    ax.set_yticks(y, names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # every team's row, drawn or not, top to bottom
    ax.grid(axis="y", visible=False)
    ax.set_title("Patients in the population of focus, by team")
    ax.set_xlabel("Patients" + (f"\n({hidden_note(suppress_below)})" if any(v != v for v in drawn) else ""))
    record_bars(fig, values, labels, shown, gids, relations, suppress_below)
    return fig


@house_style
def follow_up_histogram(follow_up: pd.DataFrame, suppress_below: int | None = 11) -> plt.Figure:
    """Histogram of days of follow-up per patient (from overview.follow_up_days), 30-day bins.

    Bins with 1 to ``suppress_below`` - 1 patients are merged with a neighbour (wider bars), so no bar is a
    small count; each bar is labelled with its patients."""
    days = follow_up["follow_up_days"].dropna()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    edges = list(range(0, int(days.max() if len(days) else 0) + 31, 30))
    values, labels, shown, gids, relations = safe_histogram(ax, days, edges, suppress_below, per=30)
    if len(days):
        ax.axvline(days.median(), color=OKABE_ITO[3], linestyle="--", label=f"median {days.median():.0f} days")
        ax.legend()
    ax.set_title("Follow-up per patient: enrollment to last measurement")
    ax.set_xlabel("Days after enrollment" + histogram_note(shown, suppress_below))
    ax.set_ylabel("Patients per 30 days")
    record_bars(fig, values, labels, shown, gids, relations, suppress_below)
    return fig


def patients_per_team_text(table: pd.DataFrame, suppress_below: int = 11) -> dict[str, str]:
    """Title, caption and alt text for the patients-per-team chart (small counts shown as <11)."""
    n, teams = int(table["patients"].sum()), len(table)
    lo, hi = (format_count(v, suppress_below) for v in (table["patients"].min(), table["patients"].max()))
    total = format_count(n, suppress_below)
    return {
        "title": "Patients in the population of focus, by team",
        "caption": f"{total} patients across {teams} teams ({lo} to {hi} per team).",
        "alt_text": f"Horizontal bar chart of patients enrolled per team; {teams} teams, from {lo} to {hi} patients each, {total} in all.",
    }


def follow_up_text(follow_up: pd.DataFrame, suppress_below: int = 11) -> dict[str, str]:
    """Title, caption and alt text for the follow-up histogram (small counts shown as <11).

    The cohort's total is stated elsewhere (the patients-per-team caption), so the patients with a measurement
    are given as "all but <11 of N" when those without one are few: their difference would give them away."""
    days = follow_up["follow_up_days"].dropna()
    never = int(follow_up["follow_up_days"].isna().sum())
    total = format_count(len(follow_up), suppress_below)
    med = f"{days.median():.0f}" if len(days) else "n/a"
    if never == 0:
        who = f"all {total} patients"
    elif is_small([never], suppress_below)[0]:
        who = f"all but {format_count(never, suppress_below)} of the {total} patients (the others have no measurement)"
    else:
        who = f"{format_count(len(days), suppress_below)} of the {total} patients ({format_count(never, suppress_below)} have no measurement)"
    return {
        "title": "Follow-up per patient",
        "caption": f"Days from enrollment to the last measurement (or exit), {who}; median {med} days.",
        "alt_text": (f"Histogram of follow-up days per patient in 30-day bins (a bin of fewer than {suppress_below} patients "
                     f"is merged with its neighbour); the median of {med} days is marked with a dashed line."),
    }
