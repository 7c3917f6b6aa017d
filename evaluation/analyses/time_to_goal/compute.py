"""Time to goal: the follow-up rule, which turns a cohort into one row per patient and measure with the days to
goal or to censoring. The Kaplan-Meier tables (:mod:`.kaplan_meier`), the Cox model (:mod:`.cox`) and the
cumulative incidence (:mod:`.competing`) all read this data.

The rule (written out for readers by :func:`definitions`), per measure with its goal from params:

* **baseline**: the one rule of :mod:`evaluation.analyses.baseline`, shared with the outcome change, so both
  notebooks agree on who was at goal at baseline: within ``[enrolled - windows.baseline_days,
  enrolled + windows.grace_days]``, the latest reading on or before enrollment, else the earliest one in
  the grace period after it. A reading on the enrollment day is therefore the baseline: a patient at goal
  that day is at goal at baseline and is not followed.
* **followed**: patients whose baseline does not meet the goal.
* **event**: the first later measurement that meets the goal; time is days from enrollment.
* **censored**: patients who never reach goal, at their last measurement of that measure or at exit,
  whichever is earlier. Measurements after a patient's exit are not used.
* **competing event**: an exit whose reason is in ``survival.competing_exit_reasons`` (default: died),
  before the goal is reached. Kaplan-Meier and Cox treat it as censoring (at the last measurement or the
  exit, as above); the cumulative incidence counts it as a competing event on the exit date.
* Combined goals (``combined_goals``, e.g. ``bp``) are met on a day when every part is measured and at goal.
* INR: the event is the first INR in the therapeutic range (time to first therapeutic INR, the usual
  warfarin-initiation outcome); time in therapeutic range is the outcome-change analysis' business.
"""

from __future__ import annotations
import numpy as np
import pandas as pd
from evaluation.analyses.baseline import NO_DAY, Readings, baseline_rows, day_numbers, first_per_key
from evaluation.core.errors import ParamsError
from evaluation.core.labels import conditions
from evaluation.core.params import Params
from evaluation.data.cohort import Cohort

CENSORED, GOAL, COMPETING = 0, 1, 2  # cause codes for the cumulative incidence


def analysed_measures(params: Params) -> list[str]:
    """Measures analysed: ``survival.measures``, or every goal with combined goals (bp) replacing their parts."""
    known = list(params.goals) + list(params.combined_goals)
    chosen = params.survival.get("measures")
    if chosen is not None:
        chosen = [chosen] if isinstance(chosen, str) else list(chosen)
        bad = [m for m in chosen if m not in known]
        if bad:
            raise ParamsError(f"`survival.measures` must name measures that have a goal ({', '.join(known)}); "
                              f"got {bad[0]!r}", key="survival.measures")
        return chosen
    out: list[str] = []
    for measure in params.goals:
        combo = next((c for c, parts in params.combined_goals.items() if measure in parts), None)
        name = combo or measure
        if name not in out:
            out.append(name)
    return out


def goal_text(params: Params, measure: str) -> str:
    """The goal in words, from params: 'a1c < 8', 'sbp < 140 and dbp < 90', 'inr 2-3'."""
    if measure in params.combined_goals:
        return " and ".join(str(params.goals[p]) for p in params.combined_goals[measure])
    return str(params.goals[measure])


def definitions(params: Params) -> pd.DataFrame:
    """The time-to-goal rule per measure, in words, with the goals and windows from params."""
    w = params.windows
    competing = ", ".join(params.survival["competing_exit_reasons"] or []) or "none"
    rows = []
    for m in analysed_measures(params):
        same_day = " (all parts measured the same day)" if m in params.combined_goals else ""
        rows.append({
            "measure": m,
            "goal": goal_text(params, m) + same_day,
            "baseline": f"last reading in the {w['baseline_days']} days up to enrollment, else the first "
                        f"in the {w['grace_days']} days after",
            "followed": "patients whose baseline is not at goal",
            "event": "first later reading at goal" + (" (first INR in range)" if m == "inr" else ""),
            "time": "days from enrollment",
            "censored": "last reading of the measure, or exit if earlier",
            "competing_event": f"exit for: {competing}",
        })
    return pd.DataFrame(rows)


def patient_table(cohort: Cohort) -> pd.DataFrame:
    """Patients with their team's name, track, setting and state, their age at enrollment and every condition
    flag of the data dictionary (blank when patients.csv has no such column)."""
    teams = cohort.teams[["team_id", "team_name", "track", "setting", "state"]].drop_duplicates("team_id")
    p = cohort.patients.drop(columns=["row"], errors="ignore").merge(teams, on="team_id", how="left")
    p["age"] = (p["enrolled_on"].dt.year - p["birth_year"]).astype(float)
    for c in conditions():
        if c not in p.columns:
            p[c] = pd.NA
    return p


def data_columns() -> list[str]:
    """The columns of :func:`time_to_goal_data`, in order."""
    return ["measure", "patient_id", "team_id", "team_name", "track", "setting", "state", "sex", "age",
            *conditions(), "enrolled_on", "exited_on", "exit_reason", "has_baseline", "baseline_on",
            "baseline_value", "at_goal_baseline", "followed", "n_followup", "goal_on", "last_on",
            "days", "event", "cause", "cause_days"]


def time_to_goal_data(cohort: Cohort, params: Params, measures: list[str] | None = None) -> pd.DataFrame:
    """One row per measured patient and measure, with the follow-up by the rule in the module docstring.

    ``followed`` marks the analysed patients; ``days``/``event`` feed Kaplan-Meier and Cox (event 1 =
    goal reached); ``cause_days``/``cause`` feed the cumulative incidence (0 censored, 1 goal, 2 exit for a
    competing reason, dated at the exit).
    """
    measures = analysed_measures(params) if measures is None else measures
    columns = data_columns()
    patients = patient_table(cohort).sort_values("patient_id", kind="stable").reset_index(drop=True)
    competing = set(params.survival["competing_exit_reasons"] or [])
    before, after = params.windows["baseline_days"], params.windows["grace_days"]
    if not measures:
        return pd.DataFrame(columns=columns)
    readings = Readings(cohort.measurements, patients)
    enrolled = day_numbers(patients["enrolled_on"])
    exited = day_numbers(patients["exited_on"])
    n_patients = len(patients)
    frames = []
    for measure in measures:
        rows, at_goal = readings.measure(params, measure)
        code, day = readings.code[rows], readings.day[rows]
        keep = (exited[code] == NO_DAY) | (day <= exited[code])  # nothing after exit
        rows, at_goal, code, day = rows[keep], at_goal[keep], code[keep], day[keep]
        rel = day - enrolled[code]
        # baseline: in the window, the latest reading on or before enrollment, else the earliest after it
        w = baseline_rows(code, rel, before, after)
        base = np.full(n_patients, -1)
        base[code[w]] = w
        has_base = base[code] >= 0
        later = np.flatnonzero(has_base & (day > day[np.where(has_base, base[code], 0)]))
        n_followup = np.bincount(code[later], minlength=n_patients)
        goal_rows = later[at_goal[later]]
        goal_rows = goal_rows[first_per_key(code[goal_rows])]  # rows are by patient and day: the first is the min
        last_rows = later[np.r_[code[later][1:] != code[later][:-1], True]] if len(later) else later
        measured = np.unique(code)
        d = patients.iloc[measured].reset_index(drop=True)

        def at_patient(found: np.ndarray, values: np.ndarray) -> np.ndarray:
            """Per measured patient: the value at its row in ``found`` (NaT/NaN where it has none)."""
            where = np.full(n_patients, -1)
            where[code[found]] = found
            pick = where[measured]
            out = values[rows[np.clip(pick, 0, None)]] if len(rows) else values[:0].repeat(len(pick))
            missing = pick < 0
            if out.dtype.kind == "M":
                out = out.copy()
                out[missing] = np.datetime64("NaT")
                return out
            return np.where(missing, np.nan, out)

        d["baseline_on"] = at_patient(w, readings.dates)
        d["baseline_value"] = at_patient(w, readings.value)
        at_goal_base = pd.array(np.full(len(measured), pd.NA), dtype="boolean")
        got = base[measured] >= 0
        at_goal_base[got] = at_goal[base[measured][got]]
        d["at_goal_baseline"] = at_goal_base
        d["n_followup"] = n_followup[measured]
        d["goal_on"] = at_patient(goal_rows, readings.dates)
        d["last_on"] = at_patient(last_rows, readings.dates)
        d["measure"] = measure
        d["has_baseline"] = d["baseline_on"].notna()
        d["followed"] = d["has_baseline"] & ~d["at_goal_baseline"].fillna(True).astype(bool)
        d["n_followup"] = d["n_followup"].fillna(0).astype(int)
        reached = d["goal_on"].notna()
        last_seen = d["last_on"].fillna(d["baseline_on"])
        end = last_seen.where(d["exited_on"].isna() | (last_seen <= d["exited_on"]), d["exited_on"])
        end = d["goal_on"].where(reached, end)
        d["days"] = (end - d["enrolled_on"]).dt.days.clip(lower=0).astype(float)
        d["event"] = reached.astype(int)
        exit_competing = ~reached & d["exited_on"].notna() & d["exit_reason"].isin(competing)
        d["cause"] = np.select([reached, exit_competing], [GOAL, COMPETING], CENSORED).astype(int)
        exit_days = (d["exited_on"] - d["enrolled_on"]).dt.days.clip(lower=0).astype(float)
        d["cause_days"] = exit_days.where(exit_competing, d["days"])
        not_followed = ~d["followed"]
        d.loc[not_followed, ["days", "cause_days"]] = np.nan
        frames.append(d[columns])
    return pd.concat(frames, ignore_index=True)  # by measure, then patient id (patients are sorted)


def flow(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Per measure: patients measured, without a baseline, at goal at baseline, followed, and what happened."""
    rows = []
    for m in analysed_measures(params):
        d = data[data["measure"] == m]
        f = d[d["followed"]]
        rows.append({"measure": m, "goal": goal_text(params, m), "measured": len(d),
                     "no_baseline": int((~d["has_baseline"]).sum()),
                     "at_goal_at_baseline": int(d["at_goal_baseline"].fillna(False).astype(bool).sum()),
                     "followed": len(f), "reached_goal": int((f["cause"] == GOAL).sum()),
                     "competing_exit": int((f["cause"] == COMPETING).sum()),
                     "censored": int((f["cause"] == CENSORED).sum())})
    return pd.DataFrame(rows)
