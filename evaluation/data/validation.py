"""Cross-table rules, run after each table passed its own dictionary checks.

Each rule is a small function ``rule(tables, problems, as_of)`` listed in :data:`RULES`; it adds one
data-quality row per offending record. Severity: *error* when an analysis would be wrong or impossible,
*warning* when the data is usable but worth a look.
"""

from __future__ import annotations
import datetime as dt
from typing import Callable
import numpy as np
import pandas as pd
from evaluation.core.dictionary import load_dictionary
from evaluation.core.errors import shown_value

Tables = dict[str, "pd.DataFrame | None"]


def _file(table: str) -> str:
    return load_dictionary()[table].file


def _lookup(keys: pd.Series, table: pd.DataFrame, key: str, column: str) -> pd.Series:
    """``table[column]`` for each of ``keys`` (first row per key; missing keys give NaT/NaN)."""
    mapping = table.drop_duplicates(key).set_index(key)[column].to_dict()
    values = keys.map(mapping)
    return pd.to_datetime(values) if pd.api.types.is_datetime64_any_dtype(table[column]) else values


def check_references(tables: Tables, problems, as_of) -> None:
    """Every ``references: table.column`` in the dictionary must resolve (blank references are fine)."""
    for name, spec in load_dictionary().items():
        df = tables.get(name)
        if df is None:
            continue
        for col in spec.columns:
            if not col.references or col.name not in df.columns:
                continue
            target_table, target_col = col.references.split(".")
            values = df[col.name]
            used = values.notna()
            if not used.any():
                continue
            target = tables.get(target_table)
            if (target is None or target.empty) and problems.has_error(_file(target_table)):
                continue  # the target file itself is broken or empty; that error says enough
            if target is None:
                problems.add(spec.file, None, col.name, "error",
                             f"refers to {_file(target_table)}, which is missing or unreadable")
                continue
            unknown = used & ~values.isin(set(target[target_col].dropna()))
            problems.add_rows(spec.file, df.loc[unknown, "row"], col.name, "error",
                              [f"'{shown_value(v)}' is not a {target_col} in {_file(target_table)}" for v in values[unknown]])


PLANNED_DATES = ("due_on", "aim_by")  # dates of plans, which may lie ahead of the data


def _recorded_dates(tables: Tables):
    """(file, column, dates) for every date column that records something that happened."""
    for name, spec in load_dictionary().items():
        df = tables.get(name)
        if df is None:
            continue
        for col in spec.columns:
            if col.type in ("date", "month") and col.name in df.columns and col.name not in PLANNED_DATES:
                yield spec.file, col.name, df


def last_recorded_date(tables: Tables) -> dt.date | None:
    """The latest date anything in the cohort was recorded on: the default ``as_of`` (follow-up ends there)."""
    latest = [df[column].max() for _, column, df in _recorded_dates(tables) if len(df)]
    latest = [d for d in latest if not pd.isna(d)]
    return max(latest).date() if latest else None


def check_future_dates(tables: Tables, problems, as_of) -> None:
    """No date may lie after the as-of date (today unless the params set one)."""
    if as_of is None:
        as_of = dt.date.today()
    limit = pd.Timestamp(as_of)
    for file, column, df in _recorded_dates(tables):
        future = df[column] > limit
        problems.add_rows(file, df.loc[future, "row"], column, "error",
                          [f"'{v:%Y-%m-%d}' is in the future (after {limit:%Y-%m-%d})" for v in df.loc[future, column]])


def check_measurement_values(tables: Tables, problems, as_of) -> None:
    """Known measures must lie in their plausible range (error); unknown measure codes are warnings."""
    df = tables.get("measurements")
    if df is None:
        return
    spec = load_dictionary()["measurements"]
    known = spec.measures
    unknown = ~df["measure"].isin(list(known)) & df["measure"].notna()
    for code, rows in df.loc[unknown].groupby("measure")["row"]:
        problems.add(spec.file, int(rows.iloc[0]), "measure", "warning",
                     f"measure '{shown_value(code)}' is not in the data dictionary ({len(rows)} rows); it is kept but has "
                     "no plausible-range check")
    for code, info in known.items():
        low, high = info["plausible"]
        rows = df["measure"].eq(code) & ((df["value"] < low) | (df["value"] > high))
        unit = f" {info['unit']}" if info.get("unit") else ""
        problems.add_rows(spec.file, df.loc[rows, "row"], "value", "error",
                          [f"'{v:g}' is implausible for {code} (expected {low:g}-{high:g}{unit})" for v in df.loc[rows, "value"]])


def check_patient_dates(tables: Tables, problems, as_of) -> None:
    """Exit on/after enrollment; exit date and reason go together; measurements after exit are odd."""
    p = tables.get("patients")
    if p is None:
        return
    f = _file("patients")
    early = p["exited_on"] < p["enrolled_on"]
    problems.add_rows(f, p.loc[early, "row"], "exited_on", "error", "exit date is before the enrollment date")
    no_reason = p["exited_on"].notna() & p["exit_reason"].isna()
    problems.add_rows(f, p.loc[no_reason, "row"], "exit_reason", "warning", "patient has an exit date but no exit reason")
    no_date = p["exited_on"].isna() & p["exit_reason"].notna()
    problems.add_rows(f, p.loc[no_date, "row"], "exited_on", "warning", "patient has an exit reason but no exit date")
    teams = tables.get("teams")
    if teams is not None:
        joined = _lookup(p["team_id"], teams, "team_id", "joined_on")
        before = p["enrolled_on"] < joined - pd.Timedelta(days=365)
        problems.add_rows(f, p.loc[before, "row"], "enrolled_on", "warning",
                          "enrolled more than a year before the team joined the collaborative")
    m = tables.get("measurements")
    if m is not None and not p.empty:
        exits = _lookup(m["patient_id"], p, "patient_id", "exited_on")
        after = m["measured_on"] > exits
        problems.add_rows(_file("measurements"), m.loc[after, "row"], "measured_on", "warning",
                          "measured after the patient's exit date")


MAX_LOOKBACK_DAYS = 3650  # the longest look-back any params window allows (windows.*: at most 3650 days)


def _as_of(as_of) -> tuple[pd.Timestamp, str]:
    """The as-of date (today unless the params set one) and how a message names its year."""
    if as_of is None:
        today = pd.Timestamp(dt.date.today())
        return today, f"this year ({today.year})"
    limit = pd.Timestamp(as_of)
    return limit, f"{limit.year}, the year of the as-of date ({limit:%Y-%m-%d}, when the data were extracted)"


def check_birth_years(tables: Tables, problems, as_of) -> None:
    """No patient is born after the year the data were extracted (the dictionary's fixed range cannot know it)."""
    p = tables.get("patients")
    if p is None:
        return
    f = _file("patients")
    limit, when = _as_of(as_of)
    years = p["birth_year"].astype(float)
    future = (years > limit.year) & ~p["row"].isin(problems.error_rows(f, "birth_year"))
    problems.add_rows(f, p.loc[future, "row"], "birth_year", "error",
                      [f"'{int(y)}' is a year of birth in the future: after {when}; check it" for y in years[future]])


def _patient_dated_columns():
    """(table, date column) of every table about patients (it refers to patients.patient_id): measurements,
    mtps, utilization, ... as the dictionary has them."""
    for name, spec in load_dictionary().items():
        if any(c.references == "patients.patient_id" for c in spec.columns):
            for col in spec.columns:
                if col.type == "date" and col.name not in PLANNED_DATES:
                    yield name, col.name


def check_patient_timeline(tables: Tables, problems, as_of) -> None:
    """Nothing happens to a patient before the year of birth, and nothing is dated more than
    :data:`MAX_LOOKBACK_DAYS` before enrollment: no analysis window reaches that far, so such a date is a
    typo (a wrong year) or a row of another patient.

    A patient whose birth year or enrollment date is itself an error is skipped: that error says enough.
    """
    p = tables.get("patients")
    if p is None or p.empty:
        return
    f = _file("patients")
    births = p["birth_year"].astype(float)
    bad_birth = set(p.loc[p["row"].isin(problems.error_rows(f, "birth_year")), "patient_id"])
    bad_enrolled = set(p.loc[p["row"].isin(problems.error_rows(f, "enrolled_on")), "patient_id"])
    early = (p["enrolled_on"].dt.year < births) & ~p["patient_id"].isin(bad_birth | bad_enrolled)
    problems.add_rows(f, p.loc[early, "row"], "enrolled_on", "error",
                      [f"'{d:%Y-%m-%d}' is before the patient's birth year ({int(y)}); check the enrollment date "
                       "and the birth year" for d, y in zip(p.loc[early, "enrolled_on"], births[early])])
    bad_birth |= set(p.loc[early, "patient_id"])  # born after enrollment: that one error covers the patient's dates
    first = p.assign(_birth=births).drop_duplicates("patient_id").set_index("patient_id")
    birth_of, enrolled_of, row_of = first["_birth"].to_dict(), first["enrolled_on"].to_dict(), first["row"].to_dict()
    for name, column in _patient_dated_columns():
        df = tables.get(name)
        if df is None or df.empty or column not in df.columns:
            continue
        file, ids, dates = _file(name), df["patient_id"], df[column]
        open_cells = ~df["row"].isin(problems.error_rows(file, column))
        birth = ids.map(birth_of).astype(float)
        before_birth = (dates.dt.year < birth) & ~ids.isin(bad_birth) & open_cells
        problems.add_rows(file, df.loc[before_birth, "row"], column, "error", [
            f"'{d:%Y-%m-%d}' is before the patient's birth year ({int(y)}, {f} row {row_of[i]}); check this date "
            "and the birth year"
            for d, y, i in zip(dates[before_birth], birth[before_birth], ids[before_birth])])
        enrolled = pd.to_datetime(ids.map(enrolled_of))
        gap = (enrolled - dates).dt.days
        too_early = (gap > MAX_LOOKBACK_DAYS) & ~before_birth & ~ids.isin(bad_enrolled) & open_cells
        problems.add_rows(file, df.loc[too_early, "row"], column, "error", [
            f"'{d:%Y-%m-%d}' is {int(g)} days ({g / 365.25:.1f} years) before the patient's enrollment on "
            f"{e:%Y-%m-%d}; no analysis looks back more than {MAX_LOOKBACK_DAYS} days (10 years): correct the date "
            "(or the patient_id), or leave the row out"
            for d, g, e in zip(dates[too_early], gap[too_early], enrolled[too_early])])


def check_mtp_dates(tables: Tables, problems, as_of) -> None:
    df = tables.get("mtps")
    if df is None:
        return
    bad = df["resolved_on"] < df["identified_on"]
    problems.add_rows(_file("mtps"), df.loc[bad, "row"], "resolved_on", "error",
                      "problem is resolved before it was identified")


def check_readmissions(tables: Tables, problems, as_of) -> None:
    """A readmission needs an earlier admission of the same patient in the data."""
    df = tables.get("utilization")
    if df is None or not (df["kind"] == "readmission").any():
        return
    first_admission = df[df["kind"] == "admission"].groupby("patient_id")["occurred_on"].min()
    readmit = df["kind"] == "readmission"
    prior = pd.to_datetime(df.loc[readmit, "patient_id"].map(first_admission.to_dict()))
    orphan = prior.isna() | (prior >= df.loc[readmit, "occurred_on"])
    rows = df.loc[readmit].loc[orphan, "row"]
    problems.add_rows(_file("utilization"), rows, "kind", "warning",
                      "readmission with no earlier admission of this patient in the data")


def check_monthly_reports(tables: Tables, problems, as_of) -> None:
    """Numerator within the denominator; no month with a denominator of 0 (it has no rate: a run chart would
    plot a division by zero)."""
    df = tables.get("monthly_reports")
    if df is None:
        return
    file = _file("monthly_reports")
    zero = df["denominator"].eq(0).fillna(False).astype(bool)
    problems.add_rows(file, df.loc[zero, "row"], "denominator", "error",
                      "denominator is 0: a month with no eligible patients has no rate; leave that month's row out "
                      "(a team with nobody to report on reports nothing)")
    bad = (df["numerator"] > df["denominator"]).fillna(False).astype(bool) & ~zero
    problems.add_rows(file, df.loc[bad, "row"], "numerator", "error",
                      "numerator is larger than the denominator")


def check_milestones(tables: Tables, problems, as_of) -> None:
    df = tables.get("milestones")
    teams = tables.get("teams")
    if df is None or teams is None:
        return
    joined = _lookup(df["team_id"], teams, "team_id", "joined_on")
    early = df["completed_on"] < joined - pd.Timedelta(days=365)
    problems.add_rows(_file("milestones"), df.loc[early, "row"], "completed_on", "warning",
                      "completed more than a year before the team joined")


def check_attendance(tables: Tables, problems, as_of) -> None:
    """Attendance for a one-team event (e.g. coaching) must be that team's."""
    att, events = tables.get("attendance"), tables.get("events")
    if att is None or events is None:
        return
    owner = _lookup(att["event_id"], events, "event_id", "team_id")
    other = owner.notna() & (owner != att["team_id"])
    problems.add_rows(_file("attendance"), att.loc[other, "row"], "team_id", "warning",
                      "attendance recorded for a team the event was not offered to (the event names another team)")


def check_codings(tables: Tables, problems, as_of) -> None:
    """Codebook themes must be filled; codes nobody applied are noted."""
    book, codings = tables.get("qualitative_codebook"), tables.get("qualitative_codings")
    if book is None or codings is None:
        return
    unused = book.loc[~book["code"].isin(set(codings["code"])), ["row", "code"]]
    problems.add_rows(_file("qualitative_codebook"), unused["row"], "code", "note",
                      [f"'{shown_value(c)}' was applied by no coder" for c in unused["code"]])


ASSESSMENT_STEP = 0.5  # IHI's Assessment Scale for Collaboratives is scored in half points


def check_assessment_scores(tables: Tables, problems, as_of) -> None:
    """An assessment score is a point of the scale (0.5, 1.0, ..., 5.0): a score between two points (4.3) is
    a typo or a score from another scale, and no share of teams at or above a level can be read from it.

    A score outside 0.5-5.0 is the dictionary's range error already; it gets no second one here.
    """
    df = tables.get("assessments")
    if df is None or df.empty:
        return
    file = _file("assessments")
    scores = df["score"].astype(float)
    halves = scores / ASSESSMENT_STEP
    off_scale = (scores.notna() & ~np.isclose(halves, np.round(halves), rtol=0.0, atol=1e-9)
                 & ~df["row"].isin(problems.error_rows(file, "score")))
    problems.add_rows(file, df.loc[off_scale, "row"], "score", "error", [
        f"'{s:g}' is not a point of the assessment scale: scores go in steps of {ASSESSMENT_STEP:g} "
        f"(0.5, 1.0, 1.5, ..., 5.0); the nearest points are {np.floor(h) * ASSESSMENT_STEP:.1f} and "
        f"{np.ceil(h) * ASSESSMENT_STEP:.1f}"
        for s, h in zip(scores[off_scale], halves[off_scale])])


def check_goals(tables: Tables, problems, goals) -> None:
    """A goal in the params for a measure the data never has is almost always a typo: say so."""
    m = tables.get("measurements")
    if m is None or not goals:
        return
    present = set(m["measure"].dropna().unique())
    for measure in goals:
        if measure not in present:
            listed = ", ".join(shown_value(code, limit=30) for code in sorted(present)[:8])
            more = f" and {len(present) - 8} more" if len(present) > 8 else ""
            problems.add(_file("measurements"), None, "measure", "warning",
                         f"params goals name '{shown_value(measure)}', but no measurement has that measure "
                         f"(measures in the data: {listed + more or 'none'})")


RULES: tuple[Callable, ...] = (
    check_references, check_future_dates, check_measurement_values, check_patient_dates, check_birth_years,
    check_patient_timeline, check_mtp_dates,
    check_readmissions, check_monthly_reports, check_milestones, check_attendance, check_codings,
    check_assessment_scores,
)


def check_cohort(tables: Tables, problems, as_of=None) -> None:
    """Run every cross-table rule."""
    for rule in RULES:
        rule(tables, problems, as_of)
