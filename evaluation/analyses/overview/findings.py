"""The cohort sentences of the report's findings, in plain words, read back from the saved patients-per-team
table; and the section's headline for the executive summary, with the patients-per-team figure."""

from __future__ import annotations
import pandas as pd
from evaluation.analyses.wording import HeadlineText, date_range, long_date
from evaluation.core.disclosure import format_count
from evaluation.core.outputs import read_table
from evaluation.core.params import Params

TEAMS_FIGURE = "overview_patients_per_team"  # patients in the population of focus, by team


def _enrolment(t: pd.DataFrame, params: Params) -> str:
    """``Between February 3 and July 30, 2015, 10 teams enrolled 590 patients from their populations of focus``."""
    teams = f"{len(t)} team" + ("" if len(t) == 1 else "s")
    did = f"enrolled {format_count(t['patients'].sum(), params.suppress_below)} patients from their populations of focus"
    if {"first_enrolled", "last_enrolled"} <= set(t.columns) and t["first_enrolled"].notna().any():
        when = date_range(str(t["first_enrolled"].dropna().min()), str(t["last_enrolled"].dropna().max()))
        return f"{when[:1].upper()}{when[1:]}, {teams} {did}"
    return f"Teams in the cohort ({len(t)}) {did}"


def findings_cohort(params: Params) -> list[str]:
    """Patients (a small total shown as <11), teams by track and when they enrolled; patients who left the
    program by the data date. Nothing when the table was not produced."""
    t = read_table(params, "patients_per_team")
    if t is None or "patients" not in t.columns:
        return []
    th = params.suppress_below
    tracks = t["track"].value_counts().sort_index() if "track" in t.columns else pd.Series(dtype=int)
    split = " and ".join(f"{n}{' team' + ('' if n == 1 else 's') if i == 0 else ''} on the {k} track"
                         for i, (k, n) in enumerate(tracks.items()))
    out = [_enrolment(t, params) + (f" ({split})." if len(tracks) > 1 else ".")]
    if "exited" in t.columns and params.as_of:
        exited = t["exited"].sum()
        died = f", {format_count(t['died'].sum(), th)} of them because they died" if "died" in t.columns and t["died"].sum() else ""
        out.append(f"By {long_date(params.as_of)}, {format_count(exited, th)} patients had left the program{died}.")
    return out


def headline_cohort(params: Params) -> HeadlineText | None:
    """How many teams enrolled how many patients, and when, shown by the patients-per-team figure."""
    t = read_table(params, "patients_per_team")
    if t is None or "patients" not in t.columns or t.empty:
        return None
    return _enrolment(t, params) + ".", TEAMS_FIGURE
