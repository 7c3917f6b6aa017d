"""Time to goal: Kaplan-Meier, log-rank, Cox and competing risks for each measure, and time to MTP resolution.

The rule (written out for readers by :func:`definitions`), per measure with its goal from params:

* **baseline**: the same rule as the outcome-change analysis (``outcomes.baseline_followup``), so both
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

Kaplan-Meier is computed here rather than by lifelines because two things evaluators expect are not in
lifelines 0.30: the ``log`` CI (R survival's default; lifelines only has ``log-log``) and R's median rule
(a curve exactly at 50% over an interval gives the midpoint). The log-rank test is also computed here
(:func:`logrank_test`, lifelines' statistic, fast across 1,000 teams); Cox uses lifelines.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .dictionary import load_dictionary
from .engagement import engagement_scores, score_missing_tables
from .errors import ParamsError
from .loading import Cohort
from .params import CI_METHODS, Params

CONDITIONS = ("diabetes", "hypertension", "dyslipidemia", "anticoagulation")
CENSORED, GOAL, COMPETING = 0, 1, 2  # cause codes for the cumulative incidence
STRATA = ("track", "team", "condition", "sex", "setting", "state")  # what `subgroups` may name here
TIME_TO_GOAL_COLUMNS = ["measure", "group", "n", "events", "median_days", "median_ci_low", "median_ci_high",
                        "ci_method"]
_TOLERANCE = math.sqrt(np.finfo(float).eps)  # R's quantile.survfit tolerance for "exactly 50%"
NONE_FOLLOWED = "not estimable (none followed)"  # a median or share of a group nobody was followed in: never 0
TOO_SHORT = "not estimable (no one followed that long)"  # a share at a day beyond everyone's follow-up


def _check_ci_method(ci_method: str) -> str:
    if ci_method not in CI_METHODS:
        raise ParamsError(f"`ci_method` must be one of {', '.join(CI_METHODS)}; got {ci_method!r}", key="ci_method")
    return ci_method


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _first_time_at_or_below(times: np.ndarray, curve: np.ndarray, level: float = 0.5) -> float:
    """First time a step curve is at or below ``level``, by R's rule (survival::quantile.survfit).

    When the curve sits exactly on ``level`` over an interval, R returns the midpoint between the time it
    reached ``level`` and the time it next drops below. NaN when the curve never gets there.
    """
    ok = ~np.isnan(curve)
    hits = np.flatnonzero(ok & (curve <= level + _TOLERANCE))
    if len(hits) == 0:
        return float("nan")
    i = hits[0]
    if abs(curve[i] - level) < _TOLERANCE:
        below = np.flatnonzero(ok & (curve < level - _TOLERANCE))
        if len(below):
            return float(times[i] + times[below[0]]) / 2
    return float(times[i])


def _days(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def median_text(median: float, low: float, high: float, ci_method: str, alpha: float = 0.05, unit: str = "days") -> str:
    """'310 days (95% CI 284 to 361; log-log)', or 'not reached (...)': never a bare NaN."""
    level = f"{100 * (1 - alpha):g}% CI"
    point = "not reached" if np.isnan(median) else f"{_days(median)} {unit}"
    # a NaN lower bound beside a reached median comes from a curve that fell to 0 (its CI is undefined there)
    lo = ("not estimable" if not np.isnan(median) else "not reached") if np.isnan(low) else _days(low)
    hi = "not reached" if np.isnan(high) else _days(high)
    return f"{point} ({level} {lo} to {hi}; {ci_method})"


def _risk_counts(durations: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct times with the number at risk (time >= t), events and censored at each."""
    times, inverse, counts = np.unique(durations, return_inverse=True, return_counts=True)
    events_at = np.bincount(inverse, weights=events.astype(float), minlength=len(times))
    at_risk = len(durations) - (np.cumsum(counts) - counts)  # everyone not gone before t
    return times, at_risk, events_at, counts - events_at


def _checked_durations(durations, outcomes, name: str) -> np.ndarray:
    """Durations as floats, after checking they are non-negative, present and as many as their ``name``."""
    d = np.asarray(durations, dtype=float)
    if len(d) != len(outcomes):
        raise ValueError(f"durations and {name} must have the same length; got {len(d)} and {len(outcomes)}")
    if np.isnan(d).any() or (d < 0).any():
        raise ValueError("durations must be non-negative numbers (days); found a negative or missing value")
    return d


class KaplanMeier:
    """Kaplan-Meier estimate with Greenwood CIs on the ``log-log`` or ``log`` scale (lifelines-like API).

    ``table_`` has one row per distinct time: at_risk, events, censored, survival, ci_low, ci_high.
    ``log-log`` is lifelines' default (exponential Greenwood); ``log`` is R survival's default
    (Greenwood variance of log S: S * exp(+-z * se)), its upper bound capped at 1. Where the curve is 0
    the CI is undefined (NaN), as in R.
    """

    def __init__(self, ci_method: str = "log-log", alpha: float = 0.05):
        self.ci_method = _check_ci_method(ci_method)
        self.alpha = alpha

    def fit(self, durations, events, label: str = "all") -> "KaplanMeier":
        d = _checked_durations(durations, events, "events")
        e = np.asarray(events, dtype=float)
        e = e.astype(bool)
        self.label = label
        self.durations, self.events = d, e
        self.n_, self.events_ = len(d), int(e.sum())
        times, at_risk, died, censored = _risk_counts(d, e)
        with np.errstate(divide="ignore", invalid="ignore"):
            survival = np.cumprod(1 - died / at_risk)
            greenwood = np.cumsum(died / (at_risk * (at_risk - died)))  # var(log S), Greenwood 1926
            se = np.sqrt(greenwood)
            z = _z(self.alpha)
            if self.ci_method == "log":
                low, high = survival * np.exp(-z * se), np.minimum(1.0, survival * np.exp(z * se))
            else:  # log-log: CI for log(-log S), se = sqrt(greenwood) / |log S|
                theta = se / np.log(survival)
                low, high = survival ** np.exp(-z * theta), survival ** np.exp(z * theta)
        low = np.where(survival >= 1, 1.0, low)  # no event yet: no uncertainty
        high = np.where(survival >= 1, 1.0, high)
        low = np.where(survival <= 0, np.nan, low)  # R: the CI of S = 0 is NA
        high = np.where(survival <= 0, np.nan, high)
        # arrays first: a figure by team fits a thousand of these, and a DataFrame each would cost more than the fit
        self._columns = {"time": times, "at_risk": at_risk.astype(int), "events": died.astype(int),
                         "censored": censored.astype(int), "survival": survival, "ci_low": low, "ci_high": high}
        self._table = None
        self.median_ = _first_time_at_or_below(times, survival)
        # The CI of the median: where the upper and the lower CI curves cross 50% (Brookmeyer & Crowley 1982).
        # (the lower curve reaches 50% first, so it gives the lower bound).
        self.median_ci_ = (_first_time_at_or_below(times, low), _first_time_at_or_below(times, high))
        return self

    @property
    def table_(self) -> pd.DataFrame:
        """One row per distinct time: time, at_risk, events, censored, survival, ci_low, ci_high."""
        if self._table is None:
            self._table = pd.DataFrame(self._columns)
        return self._table

    def _at(self, times) -> dict[str, np.ndarray]:
        """:meth:`at` as arrays (no DataFrame: used once per group when there are a thousand groups)."""
        t = np.asarray(times, dtype=float)
        c = self._columns
        idx = np.searchsorted(c["time"], t, side="right") - 1
        before = idx < 0
        safe = np.clip(idx, 0, None)
        take = (lambda col: np.where(before, 1.0, col[safe])) if len(c["time"]) else (lambda col: np.ones(len(t)))
        s, lo, hi = take(c["survival"]), take(c["ci_low"]), take(c["ci_high"])
        last = c["time"][-1] if len(c["time"]) else -np.inf
        beyond = (t > last) & ~(s <= 0)
        s, lo, hi = (np.where(beyond, np.nan, v) for v in (s, lo, hi))
        order = np.sort(self.durations)
        gone = np.searchsorted(order, t, side="left")  # left before t: at risk is everyone else
        ended = np.searchsorted(order, t, side="right")  # durations <= t
        events = np.searchsorted(np.sort(self.durations[self.events]), t, side="right")
        return {"time": t, "at_risk": (len(order) - gone).astype(int), "events": events.astype(int),
                "censored": (ended - events).astype(int), "survival": s, "ci_low": lo, "ci_high": hi}

    def at(self, times) -> pd.DataFrame:
        """Survival and CI at given times, with the number at risk there and cumulative events and censored.

        A time after the last follow-up is not estimable (NaN), unless the curve already reached 0.
        """
        return pd.DataFrame(self._at(times), columns=["time", "at_risk", "events", "censored", "survival", "ci_low",
                                                      "ci_high"])

    @property
    def summary(self) -> pd.DataFrame:
        low, high = self.median_ci_
        return pd.DataFrame([{"group": self.label, "n": self.n_, "events": self.events_, "median": self.median_,
                              "median_ci_low": low, "median_ci_high": high, "ci_method": self.ci_method,
                              "median_text": self.median_text}])

    @property
    def median_text(self) -> str:
        """:func:`median_text` of this fit; ``not estimable (none followed)`` when it has no one."""
        if not self.n_:
            return NONE_FOLLOWED
        return median_text(self.median_, *self.median_ci_, self.ci_method, self.alpha)

    def __repr__(self) -> str:
        return f"<KaplanMeier {self.label!r}: n={self.n_}, events={self.events_}, ci_method={self.ci_method}>"

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


class AalenJohansen:
    """Cumulative incidence of each cause with competing causes (Aalen & Johansen 1978), exact.

    ``causes``: 0 = censored, 1, 2, ... = the event types. At each distinct time t with n at risk,
    CIF_k(t) = CIF_k(t-) + S(t-) * d_k(t) / n and S(t) = S(t-) * (1 - d(t) / n), S being the all-cause
    event-free curve. Fitted on nobody, every cumulative incidence is NaN (not estimable), never 0. Written by
    hand because lifelines 0.30's AalenJohansenFitter drops events at time 0 and breaks ties with random
    jitter (on this module's test data it gives 0.208 instead of 0.375).
    """

    def fit(self, durations, causes, label: str = "all") -> "AalenJohansen":
        d = _checked_durations(durations, causes, "causes")
        c = np.asarray(causes, dtype=int)
        if (c < 0).any():
            raise ValueError("causes must be 0 (censored) or a positive event type")
        self.label = label
        self.n_ = len(d)
        self.causes_ = sorted(int(k) for k in np.unique(c) if k > 0)
        times, at_risk, _, censored = _risk_counts(d, c > 0)
        inverse = np.unique(d, return_inverse=True)[1]
        counts = {k: np.bincount(inverse, weights=(c == k), minlength=len(times)) for k in self.causes_}
        all_events = sum(counts.values()) if counts else np.zeros(len(times))
        survival = np.cumprod(1 - all_events / at_risk)
        before = np.r_[1.0, survival][: len(survival)]  # S(t-)
        table = {"time": times, "at_risk": at_risk.astype(int), "censored": censored.astype(int)}
        for k in self.causes_:
            table[f"events_{k}"] = counts[k].astype(int)
        for k in self.causes_:
            table[f"cif_{k}"] = np.cumsum(before * counts[k] / at_risk)
        table["event_free"] = survival
        self.table_ = pd.DataFrame(table)
        return self

    def cumulative_incidence(self, cause: int, times) -> np.ndarray:
        """CIF of ``cause`` at the given times (0 before the first time; last value after the end).

        NaN at every time when the fit had no one: with nobody followed, the share is not estimable, not 0.
        """
        t = np.asarray(times, dtype=float)
        if not self.n_:
            return np.full(len(t), np.nan)
        column = f"cif_{cause}"
        if column not in self.table_:
            return np.zeros(len(t))
        idx = np.searchsorted(self.table_["time"].to_numpy(), t, side="right") - 1
        values = self.table_[column].to_numpy()
        return np.where(idx >= 0, values[np.clip(idx, 0, None)], 0.0)

    def __repr__(self) -> str:
        return f"<AalenJohansen {self.label!r}: causes={self.causes_}>"


# --- measures, goals and the follow-up data -------------------------------------------------------------

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


def measure_label(measure: str) -> str:
    """'HbA1c', 'Blood pressure', or the code itself for a measure the dictionary does not know."""
    known = load_dictionary()["measurements"].measures
    if measure in known:
        return known[measure].get("label", measure)
    return {"bp": "Blood pressure"}.get(measure, measure)


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


def readings(measurements: pd.DataFrame, params: Params, measure: str) -> pd.DataFrame:
    """One row per patient and day: ``patient_id, measured_on, value, at_goal``.

    A combined goal (bp) is read on days when all its parts were measured; ``value`` is its first part (sbp).
    """
    columns = ["patient_id", "measured_on", "value", "at_goal"]
    if measure in params.combined_goals:
        parts = params.combined_goals[measure]
        m = measurements[measurements["measure"].isin(parts)]
        if m.empty:
            return pd.DataFrame(columns=columns)
        wide = m.pivot_table(index=["patient_id", "measured_on"], columns="measure", values="value", aggfunc="first")
        wide = wide.reindex(columns=parts).dropna().reset_index()
        at_goal = np.logical_and.reduce([params.goal_met(p, wide[p]) for p in parts])
        out = pd.DataFrame({"patient_id": wide["patient_id"], "measured_on": wide["measured_on"],
                            "value": wide[parts[0]].astype(float), "at_goal": at_goal})
    else:
        m = measurements[measurements["measure"] == measure]
        out = pd.DataFrame({"patient_id": m["patient_id"], "measured_on": m["measured_on"],
                            "value": m["value"].astype(float), "at_goal": params.goal_met(measure, m["value"])})
    out = out.dropna(subset=["value"])
    return out.sort_values(["patient_id", "measured_on"]).reset_index(drop=True)[columns]


def _patients(cohort: Cohort) -> pd.DataFrame:
    teams = cohort.teams[["team_id", "team_name", "track", "setting", "state"]].drop_duplicates("team_id")
    p = cohort.patients.drop(columns=["row"], errors="ignore").merge(teams, on="team_id", how="left")
    p["age"] = (p["enrolled_on"].dt.year - p["birth_year"]).astype(float)
    for c in CONDITIONS:
        if c not in p.columns:
            p[c] = pd.NA
    return p


DATA_COLUMNS = ["measure", "patient_id", "team_id", "team_name", "track", "setting", "state", "sex", "age",
                *CONDITIONS, "enrolled_on", "exited_on", "exit_reason", "has_baseline", "baseline_on",
                "baseline_value", "at_goal_baseline", "followed", "n_followup", "goal_on", "last_on",
                "days", "event", "cause", "cause_days"]


def _first_per_key(keys: np.ndarray) -> np.ndarray:
    """Positions of the first row of each run of equal keys (``keys`` sorted)."""
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=int)


class _Readings:
    """Every measurement as integer arrays, read once for all measures: patient (position in ``patients``
    sorted by id), day number, value. Sorting and joining 4 million rows on text ids and timestamps is what
    made the follow-up data slow; integers make it a few numpy passes."""

    def __init__(self, measurements: pd.DataFrame, patients: pd.DataFrame):
        self.dates = measurements["measured_on"].to_numpy()  # kept to return dates in their own unit
        self.code = pd.Index(patients["patient_id"]).get_indexer(measurements["patient_id"])
        self.day = _day_numbers(measurements["measured_on"])
        self.value = measurements["value"].to_numpy(float)
        self.rows = dict(measurements.groupby("measure", sort=False, observed=True).indices)  # measure -> rows

    def patient_day(self, rows: np.ndarray) -> np.ndarray:
        """One integer per (patient, day) of the given rows (days within +-1,000 years of 1970)."""
        return self.code[rows].astype(np.int64) * 1_000_000 + (self.day[rows] + 500_000)

    def measure(self, params: Params, measure: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, at goal) of one measure's readings, sorted by patient and day (file order within a day);
        a combined goal (bp) reads the days when every part was measured, at its first part's row."""
        parts = params.combined_goals.get(measure, [measure])
        kept = []
        for part in parts:
            rows = self.rows.get(part, np.zeros(0, dtype=int))
            rows = rows[(self.code[rows] >= 0) & ~np.isnan(self.value[rows])]
            if len(parts) > 1:  # one reading per patient-day and part: the first in the file
                rows = rows[np.lexsort((self.day[rows], self.code[rows]))]
                rows = rows[_first_per_key(self.patient_day(rows))]
            kept.append(rows)
        rows, at_goal = kept[0], params.goal_met(parts[0], self.value[kept[0]])
        if len(parts) > 1:
            key = self.patient_day(rows)
            for part, other in zip(parts[1:], kept[1:]):
                _, mine, theirs = np.intersect1d(key, self.patient_day(other), assume_unique=True, return_indices=True)
                rows, key = rows[mine], key[mine]
                at_goal = at_goal[mine] & params.goal_met(part, self.value[other[theirs]])
        order = np.lexsort((self.day[rows], self.code[rows]))
        return rows[order], np.asarray(at_goal, dtype=bool)[order]


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 as integers (missing: the smallest int64, ``_NO_DAY``)."""
    return pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)


_NO_DAY = np.iinfo(np.int64).min  # NaT as a day number


def time_to_goal_data(cohort: Cohort, params: Params, measures: list[str] | None = None) -> pd.DataFrame:
    """One row per measured patient and measure, with the follow-up by the rule in the module docstring.

    ``followed`` marks the analysed patients; ``days``/``event`` feed Kaplan-Meier and Cox (event 1 =
    goal reached); ``cause_days``/``cause`` feed the cumulative incidence (0 censored, 1 goal, 2 exit for a
    competing reason, dated at the exit).
    """
    measures = analysed_measures(params) if measures is None else measures
    patients = _patients(cohort).sort_values("patient_id", kind="stable").reset_index(drop=True)
    competing = set(params.survival["competing_exit_reasons"] or [])
    before, after = params.windows["baseline_days"], params.windows["grace_days"]
    if not measures:
        return pd.DataFrame(columns=DATA_COLUMNS)
    readings_ = _Readings(cohort.measurements, patients)
    enrolled = _day_numbers(patients["enrolled_on"])
    exited = _day_numbers(patients["exited_on"])
    n_patients = len(patients)
    frames = []
    for measure in measures:
        rows, at_goal = readings_.measure(params, measure)
        code, day = readings_.code[rows], readings_.day[rows]
        keep = (exited[code] == _NO_DAY) | (day <= exited[code])  # nothing after exit
        rows, at_goal, code, day = rows[keep], at_goal[keep], code[keep], day[keep]
        rel = day - enrolled[code]
        # baseline: in the window, the latest reading on or before enrollment, else the earliest after it
        w = np.flatnonzero((rel >= -before) & (rel <= after))
        w = w[np.lexsort((np.abs(rel[w]), rel[w] > 0, code[w]))]
        w = w[_first_per_key(code[w])]
        base = np.full(n_patients, -1)
        base[code[w]] = w
        has_base = base[code] >= 0
        later = np.flatnonzero(has_base & (day > day[np.where(has_base, base[code], 0)]))
        n_followup = np.bincount(code[later], minlength=n_patients)
        goal_rows = later[at_goal[later]]
        goal_rows = goal_rows[_first_per_key(code[goal_rows])]  # rows are by patient and day: the first is the min
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

        d["baseline_on"] = at_patient(w, readings_.dates)
        d["baseline_value"] = at_patient(w, readings_.value)
        at_goal_base = pd.array(np.full(len(measured), pd.NA), dtype="boolean")
        got = base[measured] >= 0
        at_goal_base[got] = at_goal[base[measured][got]]
        d["at_goal_baseline"] = at_goal_base
        d["n_followup"] = n_followup[measured]
        d["goal_on"] = at_patient(goal_rows, readings_.dates)
        d["last_on"] = at_patient(last_rows, readings_.dates)
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
        frames.append(d[DATA_COLUMNS])
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


# --- strata -------------------------------------------------------------------------------------------

def strata(params: Params) -> list[str]:
    """Stratifications reported after `all`: ``subgroups`` from params, plus team (always reported here)."""
    chosen = list(params.subgroups)
    bad = [s for s in chosen if s not in STRATA]
    if bad:
        raise ParamsError(f"`subgroups` for time to goal must be among {', '.join(STRATA)}; got {bad[0]!r}",
                          key="subgroups")
    if "team" not in chosen:
        chosen.insert(chosen.index("track") + 1 if "track" in chosen else len(chosen), "team")
    return chosen


def group_rows(data: pd.DataFrame, by: str | None) -> list[tuple[str, np.ndarray]]:
    """``(label, row positions)`` pairs: ``all``, or one per value of ``by`` (``track=initial``,
    ``condition=diabetes``), values sorted. Conditions overlap (a patient can have several), so their groups
    are not a partition. One pass over the data, however many groups (1,000 teams).
    """
    if by is None:
        return [("all", np.arange(len(data)))]
    if by == "condition":
        out = []
        for c in CONDITIONS:
            if c in data.columns:
                rows = np.flatnonzero(data[c].fillna(0).astype(int).to_numpy() == 1)
                if len(rows):
                    out.append((f"condition={c}", rows))
        return out
    column = "team_id" if by == "team" else by
    codes, values = pd.factorize(data[column], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(values) + 1))
    return [(f"{by}={v}", order[bounds[i]:bounds[i + 1]]) for i, v in enumerate(values)]


def groups(data: pd.DataFrame, by: str | None) -> list[tuple[str, pd.Series]]:
    """``(label, mask)`` pairs: ``all``, or one per value of ``by`` (see :func:`group_rows`)."""
    out = []
    for label, rows in group_rows(data, by):
        mask = np.zeros(len(data), dtype=bool)
        mask[rows] = True
        out.append((label, pd.Series(mask, index=data.index)))
    return out


# --- Kaplan-Meier by group ----------------------------------------------------------------------------

@dataclass
class KaplanMeierGroups:
    """Kaplan-Meier of one measure for ``all`` or for each group of one stratification: tidy tables to draw."""

    measure: str
    by: str | None
    ci_method: str
    alpha: float
    summary: pd.DataFrame  # one row per group: n, events, median_days with CI, median_text
    curves: pd.DataFrame  # group, time, at_risk, events, censored, survival, ci_low, ci_high
    risk: pd.DataFrame  # group, time, at_risk, events, censored (cumulative) at the x-axis ticks
    logrank: pd.DataFrame  # comparison, test_statistic, df, p_value, note
    goal: str = ""
    fitters: dict[str, KaplanMeier] = field(default_factory=dict, repr=False)
    n_patients: int = 0  # patients analysed (across every group)
    n_groups: int = 0  # set by drawn_groups: how many groups the analysis has when only some are drawn
    selection: str = ""  # set by drawn_groups: which groups are drawn, in words

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def tick_days(max_days: float) -> list[float]:
    """x-axis ticks (and at-risk table times): every 90 days, or 180 beyond two years."""
    step = 90 if max_days <= 730 else 180
    last = max(step, math.ceil(max(max_days, 1) / step) * step)
    return [float(t) for t in range(0, int(last) + 1, step)]


def logrank_test(durations, group_of, events) -> tuple[float, int, float]:
    """The k-sample log-rank test: (chi-square statistic, degrees of freedom, p-value).

    The same statistic as lifelines' ``multivariate_logrank_test`` and R's ``survdiff``: observed minus
    expected events per group, with the hypergeometric covariance, over the first k - 1 groups (a
    pseudo-inverse, as lifelines, when a group has nobody at risk at any event time). Written with matrix
    products because lifelines builds a times x groups x groups table: a test across 1,000 teams took it
    over two minutes, and this one well under a second.
    """
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=float)
    labels, g = np.unique(np.asarray(group_of).astype(str), return_inverse=True)
    times, t = np.unique(d, return_inverse=True)
    k, n_times = len(labels), len(times)
    cell = t * k + g
    died = np.bincount(cell, weights=e, minlength=n_times * k).reshape(n_times, k)
    removed = np.bincount(cell, minlength=n_times * k).reshape(n_times, k).astype(float)
    at_risk = removed.sum(axis=0) - np.vstack([np.zeros(k), np.cumsum(removed, axis=0)[:-1]])  # n_ij
    n = at_risk.sum(axis=1)
    deaths = died.sum(axis=1)
    z = died.sum(axis=0) - (at_risk * (deaths / n)[:, None]).sum(axis=0)  # observed - expected
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, (n - deaths) / (n - 1), 1.0) * deaths / n ** 2
    weighted = at_risk * np.sqrt(factor)[:, None]
    cov = -weighted.T @ weighted
    cov[np.diag_indices(k)] += (at_risk * (n * factor)[:, None]).sum(axis=0)
    # z' V^-1 z over the first k - 1 groups. A group nobody in it was at risk at an event time has a zero row
    # and column (and z = 0): leaving it out is what the pseudo-inverse does. Cholesky then solves the rest in
    # milliseconds for 1,000 teams, where the eigendecomposition behind pinv takes seconds.
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    keep = np.flatnonzero(np.diag(cov)[:-1] > 0)
    v, zk = cov[np.ix_(keep, keep)], z[keep]
    try:
        stat = float(zk @ cho_solve(cho_factor(v), zk))
    except LinAlgError:
        stat = float(zk @ np.linalg.pinv(v, hermitian=True) @ zk)
    return stat, k - 1, float(stats.chi2.sf(stat, k - 1))


def _logrank(d: pd.DataFrame, by: str | None, labelled: list[tuple[str, np.ndarray]]) -> pd.DataFrame:
    """Log-rank across the groups of a partition; for overlapping conditions, each condition vs the rest."""
    columns = ["comparison", "groups", "test_statistic", "df", "p_value", "note"]
    if by is None:
        return pd.DataFrame(columns=columns)

    def test(comparison: str, durations, group_of, events) -> dict:
        present = pd.Series(group_of).nunique()
        if present < 2:
            return {"comparison": comparison, "groups": present, "test_statistic": np.nan, "df": np.nan,
                    "p_value": np.nan, "note": "fewer than two groups: no test"}
        if int(np.sum(events)) == 0:
            return {"comparison": comparison, "groups": present, "test_statistic": np.nan, "df": np.nan,
                    "p_value": np.nan, "note": "no events: no test"}
        stat, df, p = logrank_test(durations, group_of, events)
        return {"comparison": comparison, "groups": present, "test_statistic": stat, "df": df, "p_value": p, "note": ""}

    if by == "condition":
        rows = []
        for label, rows_in in labelled:
            with_it = np.zeros(len(d), dtype=bool)
            with_it[rows_in] = True
            rows.append(test(f"{label} vs without", d["days"], np.where(with_it, "with", "without"), d["event"]))
    else:
        column = "team_id" if by == "team" else by
        keep = d[column].notna()
        rows = [test(f"across {by}", d.loc[keep, "days"], d.loc[keep, column], d.loc[keep, "event"])]
    return pd.DataFrame(rows, columns=columns)


def _stack(parts: list[dict[str, np.ndarray]], labels: list[str], columns: list[str]) -> pd.DataFrame:
    """One tidy frame from per-group arrays (a ``group`` column first), built once rather than per group."""
    if not parts:
        return pd.DataFrame(columns=columns)
    sizes = [len(p["time"]) for p in parts]
    out = {"group": np.repeat(np.array(labels, dtype=object), sizes)}
    for col in columns[1:]:
        out[col] = np.concatenate([p[col] for p in parts])
    return pd.DataFrame(out, columns=columns)


def _km_groups(d: pd.DataFrame, by: str | None, ci_method: str, alpha: float, name: str, goal: str = "",
               competing: pd.Series | None = None, logrank: bool = True) -> KaplanMeierGroups:
    labelled = group_rows(d, by)
    days, event = d["days"].to_numpy(float), d["event"].to_numpy()
    comp = competing.to_numpy(bool) if competing is not None else None
    rows, curves, risks, fitters = [], [], [], {}
    ticks = tick_days(d["days"].max() if len(d) else 0)
    for label, at in labelled:
        km = KaplanMeier(ci_method, alpha).fit(days[at], event[at], label=label)
        fitters[label] = km
        low, high = km.median_ci_
        row = {"measure": name, "group": label, "n": km.n_, "events": km.events_, "censored": int(len(at) - km.events_)}
        if comp is not None:
            row["competing"] = int(comp[at].sum())
        row |= {"median_days": km.median_, "median_ci_low": low, "median_ci_high": high, "ci_method": ci_method,
                "median_text": km.median_text}
        rows.append(row)
        curves.append(km._columns)
        risks.append(km._at(ticks))
    labels = [label for label, _ in labelled]
    summary = pd.DataFrame(rows) if rows else pd.DataFrame(columns=TIME_TO_GOAL_COLUMNS)
    curve_cols = ["group", "time", "at_risk", "events", "censored", "survival", "ci_low", "ci_high"]
    risk_cols = ["group", "time", "at_risk", "events", "censored"]
    return KaplanMeierGroups(
        measure=name, by=by, ci_method=ci_method, alpha=alpha, summary=summary,
        curves=_stack(curves, labels, curve_cols), risk=_stack(risks, labels, risk_cols),
        logrank=_logrank(d, by, labelled) if logrank else _logrank(d, None, []), goal=goal, fitters=fitters,
        n_patients=len(d))


def kaplan_meier(data: pd.DataFrame, params: Params, measure: str, by: str | None = None, *,
                 logrank: bool = True) -> KaplanMeierGroups:
    """Kaplan-Meier of time to goal for one measure, overall (``by=None``) or by track / team / condition.

    ``logrank=False`` leaves the log-rank test out (an empty ``logrank`` table), for callers that only read
    the curves.
    """
    d = data[(data["measure"] == measure) & data["followed"]]
    return _km_groups(d, by, params.ci_method, params.alpha, measure, goal_text(params, measure),
                      competing=d["cause"] == COMPETING, logrank=logrank)


def km_by_measure(data: pd.DataFrame, params: Params, by: str | None = None) -> list[KaplanMeierGroups]:
    """:func:`kaplan_meier` for every analysed measure that has followed patients (for one figure each)."""
    out = [kaplan_meier(data, params, m, by) for m in analysed_measures(params)]
    return [km for km in out if km.n_patients > 0 and len(km.fitters) > 0]


GROUPS_DRAWN = 10  # a Kaplan-Meier figure draws at most this many group curves (beyond it they are unreadable)


def _pace(fitter: KaplanMeier) -> tuple[float, float]:
    """Sort key, fastest first: the median (not reached: slowest), then the share still without the event."""
    survival = fitter._columns["survival"]
    return (fitter.median_ if fitter.median_ == fitter.median_ else np.inf,
            float(survival[-1]) if len(survival) else 1.0)


def _unit(by: str | None) -> str:
    return {"team": "teams"}.get(str(by), f"{by} groups")


def _group_name(group: str) -> str:
    """A group's name in prose: ``track=initial`` -> ``initial``, ``all`` -> ``All``."""
    return group.split("=", 1)[1] if "=" in group else group[:1].upper() + group[1:]


def drawn_groups(km: KaplanMeierGroups, cap: int = GROUPS_DRAWN) -> KaplanMeierGroups:
    """The groups a figure draws: every group when there are at most ``cap``; else the pooled cohort plus the
    ``cap // 2`` fastest and the ``cap - cap // 2`` slowest groups.

    Fastest and slowest go by the median time to the event; groups whose median is not reached count as the
    slowest, the fewer reaching the event the slower; ties by label. A statewide cohort of 1,000 teams
    otherwise draws 1,000 curves (and a numbers table of 1,000 rows). The result keeps the log-rank test
    across every group and says in ``selection`` what is drawn; ``n_groups`` is the number of groups
    analysed. Overlapping groups (conditions) are never pooled: they are few.
    """
    if km.n_groups or len(km.fitters) <= cap or km.by in (None, "condition"):
        return km
    unit = _unit(km.by)
    ranked = sorted(km.fitters, key=lambda g: (*_pace(km.fitters[g]), g))
    fast, slow = ranked[: cap // 2], ranked[len(ranked) - (cap - cap // 2):]
    chosen = fast + slow
    label = f"all {len(km.fitters):,} {unit}"
    durations = np.concatenate([f.durations for f in km.fitters.values()])
    events = np.concatenate([f.events for f in km.fitters.values()]).astype(int)
    pooled = _km_groups(pd.DataFrame({"days": durations, "event": events}), None, km.ci_method, km.alpha,
                        km.measure, km.goal, logrank=False)
    pooled.fitters["all"].label = label
    order = {g: i for i, g in enumerate(chosen)}

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
        fitters={label: pooled.fitters["all"], **{g: km.fitters[g] for g in chosen}}, n_patients=km.n_patients,
        n_groups=len(km.fitters), selection=selection)


def figure_id(km: KaplanMeierGroups) -> str:
    """``survival_km_a1c``, ``survival_km_a1c_by_track``, ``survival_mtp_resolution_by_category``."""
    stem = "survival_mtp_resolution" if km.measure == "mtp_resolution" else f"survival_km_{km.measure}"
    return stem + (f"_by_{km.by}" if km.by else "")


def time_to_goal_table(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """``tables/time_to_goal.csv``: per measure and group, n, events, median days to goal with CI.

    Extra columns: censored, competing (exits for a competing reason, censored here), median_text (a
    median or CI bound that is not reached says so) and the log-rank p of the group's stratification.
    """
    frames = []
    for m in analysed_measures(params):
        for by in [None, *strata(params)]:
            km = kaplan_meier(data, params, m, by)
            s = km.summary.copy()
            s["logrank_p"] = np.nan
            if by == "condition":
                for label, p in zip(km.summary["group"], km.logrank["p_value"]):
                    s.loc[s["group"] == label, "logrank_p"] = p
            elif by is not None and len(km.logrank):
                s["logrank_p"] = km.logrank["p_value"].iat[0]
            frames.append(s)
    out = pd.concat(frames, ignore_index=True)
    first = TIME_TO_GOAL_COLUMNS
    return out[first + [c for c in out.columns if c not in first]]


def at_goal_by_day(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """% at goal by each of ``survival.horizons_days`` (1 - KM) with CI, per measure and group."""
    horizons = [float(h) for h in params.survival["horizons_days"]]
    rows = []
    for m in analysed_measures(params):
        for by in [None, *strata(params)]:
            km = kaplan_meier(data, params, m, by, logrank=False)
            for label, fitter in km.fitters.items():
                at = fitter._at(horizons)
                for i, time in enumerate(at["time"]):
                    survival = at["survival"][i]
                    pct, low, high = 100 * (1 - survival), 100 * (1 - at["ci_high"][i]), 100 * (1 - at["ci_low"][i])
                    if not fitter.n_:
                        text = NONE_FOLLOWED
                    elif np.isnan(pct):
                        text = TOO_SHORT
                    elif survival <= 0:
                        text = "100.0% (the Kaplan-Meier curve reaches 100%; no CI)"
                    else:
                        lo = "not estimable" if np.isnan(low) else f"{low:.1f}"
                        hi = "not estimable" if np.isnan(high) else f"{high:.1f}"
                        text = f"{pct:.1f}% ({100 * (1 - params.alpha):g}% CI {lo} to {hi}; {params.ci_method})"
                    rows.append({"measure": m, "group": label, "days": int(time), "n": fitter.n_,
                                 "at_risk": int(at["at_risk"][i]), "pct_at_goal": pct, "pct_ci_low": low,
                                 "pct_ci_high": high, "ci_method": params.ci_method, "text": text})
    return pd.DataFrame(rows, columns=["measure", "group", "days", "n", "at_risk", "pct_at_goal", "pct_ci_low",
                                       "pct_ci_high", "ci_method", "text"])


def by_day_wide(by_day: pd.DataFrame, strata_shown: tuple[str, ...] = ("all", "track=")) -> pd.DataFrame:
    """The % at goal texts with one column per horizon, for groups starting with one of ``strata_shown``."""
    keep = by_day[by_day["group"].map(lambda g: any(g == s or (s.endswith("=") and g.startswith(s))
                                                    for s in strata_shown))]
    wide = keep.pivot(index=["measure", "group"], columns="days", values="text")
    wide.columns = [f"by day {d}" for d in wide.columns]
    order = {m: i for i, m in enumerate(dict.fromkeys(by_day["measure"]))}
    wide = wide.reset_index()
    wide["_order"] = wide["measure"].map(order)
    wide["_all"] = wide["group"] != "all"
    return wide.sort_values(["_order", "_all", "group"]).drop(columns=["_order", "_all"]).reset_index(drop=True)


def logrank_tests(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Every log-rank test the figures show: per measure and stratification."""
    frames = []
    for m in analysed_measures(params):
        for by in strata(params):
            lr = kaplan_meier(data, params, m, by).logrank
            frames.append(lr.assign(measure=m, by=by))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out[["measure", "by", "comparison", "groups", "test_statistic", "df", "p_value", "note"]] if len(out) else out


# --- Cox proportional hazards -------------------------------------------------------------------------

@dataclass(frozen=True)
class EngagementCovariate:
    """The team engagement score for the Cox model: ``scores`` (``team_id, engagement_score``), or None with
    ``note`` saying why the cohort has none."""

    scores: pd.DataFrame | None
    note: str | None = None


def engagement_covariate(cohort: Cohort, params: Params) -> EngagementCovariate:
    """Team engagement scores for :func:`cox_models`; none only when the tables the score needs are absent.

    Each weighted component (``engagement.weights``) needs its tables (:data:`engagement.SCORE_TABLES`); when
    not one component has them, no team can have a score and the note names the missing files. Any error of the
    engagement analysis (a bad weight, say) is raised, not taken for missing data.
    """
    missing = score_missing_tables(cohort, params)
    if missing is not None:
        return EngagementCovariate(None, f"team engagement score left out of the Cox model: this cohort has no "
                                   f"{missing} (or the file is empty), which the score needs.")
    scores = engagement_scores(cohort, params)
    return EngagementCovariate(scores[["team_id", "engagement_score"]].drop_duplicates("team_id"))


@dataclass
class CoxResult:
    """Cox models of time to goal per measure: ``summary`` (hazard ratios), ``ph_check`` (in words), ``notes``."""

    summary: pd.DataFrame
    ph_check: pd.DataFrame
    notes: pd.DataFrame
    alpha: float = 0.05

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)

    def __repr__(self) -> str:
        return self.summary.to_string(index=False)


COVARIATE_LABELS = {"track_advanced": "track", "baseline_value": "baseline value",
                    "age": "age", "engagement_score": "team engagement score"}
# Hazard ratios are per a clinically readable step, not per unit: per 10 mmHg, per 10 mg/dL, per 10 years.
BASELINE_STEP = {"sbp": 10, "dbp": 10, "ldl": 10}
AGE_STEP = 10
ENGAGEMENT_STEP = 10  # the engagement score runs 0-100


def _baseline_part(params: Params, measure: str) -> str:
    return params.combined_goals[measure][0] if measure in params.combined_goals else measure


def _per(measure: str, params: Params, covariate: str) -> str:
    if covariate == "track_advanced":
        return "advanced vs initial"
    if covariate == "age":
        return f"per {AGE_STEP} years"
    if covariate == "engagement_score":
        return f"per {ENGAGEMENT_STEP} points"
    part = _baseline_part(params, measure)
    unit = load_dictionary()["measurements"].measures.get(part, {}).get("unit", "unit")
    step = BASELINE_STEP.get(part, 1)
    unit = "percentage point" if unit == "%" else unit
    return f"per {step:g} {unit}" + (f" of {part}" if part != measure else "")


def ph_verdict(covariate: str, p_value: float, alpha: float) -> str:
    """The proportional-hazards check in plain words."""
    label = COVARIATE_LABELS.get(covariate, covariate)
    if np.isnan(p_value):
        return f"Not checked for {label}."
    if p_value < alpha:
        return (f"The effect of {label} seems to change over follow-up (p = {p_value:.3f}): "
                f"read its hazard ratio as an average over time, not a constant.")
    return f"No sign that the effect of {label} changes over follow-up (p = {p_value:.3f})."


def ph_test(durations, events, covariates: pd.DataFrame, coefficients, variance, standard_errors) -> pd.DataFrame:
    """Grambsch-Therneau test of proportional hazards, per covariate, against KM-transformed time.

    The statistic of lifelines' ``proportional_hazard_test(cph, df, time_transform="km")``: scaled Schoenfeld
    residuals (Efron ties) regressed on 1 - KM(t), chi-square on 1 df. Vectorised over event times, because
    lifelines grows the residual array one row at a time (quadratic: minutes for 100,000 patients).
    Returns ``test_statistic`` and ``p`` indexed by covariate.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events).astype(bool)
    x = covariates.to_numpy(float)
    beta = np.asarray(coefficients, dtype=float)
    phi = np.exp(x @ beta - (x @ beta).max())  # scaled: the weighted means do not change
    times, at = np.unique(t, return_inverse=True)
    n_times, k = len(times), x.shape[1]

    def by_time(weights: np.ndarray) -> np.ndarray:
        return np.bincount(at, weights=weights, minlength=n_times)

    def from_t_on(v: np.ndarray) -> np.ndarray:  # sum over everyone still at risk at each time
        return np.cumsum(v[::-1], axis=0)[::-1]

    risk = from_t_on(by_time(phi))
    risk_x = from_t_on(np.column_stack([by_time(phi * x[:, j]) for j in range(k)]))
    tie = by_time(phi * e)
    tie_x = np.column_stack([by_time(phi * e * x[:, j]) for j in range(k)])
    deaths = by_time(e.astype(float)).astype(int)
    # Efron: at a time with m tied events, the mean of (risk_x - l/m tie_x) / (risk - l/m tie) over l = 0..m-1
    slot = np.repeat(np.arange(n_times), deaths)
    first = np.repeat(np.cumsum(deaths) - deaths, deaths)
    frac = (np.arange(len(slot)) - first) / deaths[slot]
    share = (risk_x[slot] - frac[:, None] * tie_x[slot]) / (risk[slot] - frac * tie[slot])[:, None] / deaths[slot][:, None]
    mean = np.zeros((n_times, k))
    np.add.at(mean, slot, share)
    n_deaths = int(e.sum())
    residuals = x[e] - mean[at[e]]
    scaled = n_deaths * residuals @ np.asarray(variance, dtype=float)
    # 1 - Kaplan-Meier at each event time
    _, at_risk, died, _ = _risk_counts(t, e)
    g = (1 - np.cumprod(1 - died / at_risk))[at[e]]
    g = g - g.mean()
    se = np.asarray(standard_errors, dtype=float)
    stat = (g @ scaled) ** 2 / (n_deaths * se ** 2 * (g ** 2).sum())
    return pd.DataFrame({"test_statistic": stat, "p": stats.chi2.sf(stat, 1)}, index=covariates.columns)


def _usable_covariates(x: pd.DataFrame, notes: list[str]) -> list[str]:
    """The covariates of ``x`` (all but days, event) the model can use, with a note for each left out.

    A covariate missing for every patient (a team engagement score in a cohort without its tables) or with a
    single value (one track) is left out, so that it neither drops every patient nor makes the fit singular.
    A covariate that keeps a single value only among the patients complete on the others is left out too.
    """
    covariates = [c for c in x.columns if c not in ("days", "event")]
    for c in list(covariates):
        values = x[c].dropna()
        if values.empty:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: no patient has a value.")
        elif values.nunique() < 2:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: it has one value only.")
    while covariates:
        complete = x[covariates].notna().all(axis=1)
        constant = [c for c in covariates if x.loc[complete, c].nunique() < 2]
        if not constant or not complete.any():
            break
        for c in constant:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: it has one value only among the "
                         f"{int(complete.sum())} patient(s) with every covariate.")
    return covariates


def cox_model(data: pd.DataFrame, params: Params, measure: str,
              engagement: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Cox PH (Efron ties, as R's coxph) of time to goal ~ track + baseline value + age (+ engagement score).

    Returns (hazard ratios, proportional-hazards check, notes). The PH check is the Grambsch-Therneau test
    on scaled Schoenfeld residuals against KM-transformed time (R cox.zph's default transform).
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    d = data[(data["measure"] == measure) & data["followed"]]
    x = pd.DataFrame({"days": d["days"].astype(float), "event": d["event"].astype(int),
                      "track_advanced": (d["track"] == "advanced").astype(float).where(d["track"].notna()),
                      "baseline_value": d["baseline_value"].astype(float) / BASELINE_STEP.get(_baseline_part(params, measure), 1),
                      "age": d["age"].astype(float) / AGE_STEP})
    notes: list[str] = []
    if engagement is not None:
        score = d["team_id"].map(engagement.set_index("team_id")["engagement_score"]).astype(float)
        x["engagement_score"] = score / ENGAGEMENT_STEP
    if x.empty:
        notes.append("No Cox model: no patient was followed for this measure.")
        return pd.DataFrame(), pd.DataFrame(), notes
    covariates = _usable_covariates(x, notes)
    x = x[["days", "event", *covariates]]
    missing = x[covariates].isna()
    if missing.to_numpy().any():
        counts = "; ".join(f"{int(n)} with no {COVARIATE_LABELS[c]}" for c, n in missing.sum().items() if n)
        notes.append(f"{int(missing.any(axis=1).sum())} patient(s) left out of the Cox model for a missing "
                     f"covariate ({counts}).")
        x = x[~missing.any(axis=1)]
    events = int(x["event"].sum())
    empty = (pd.DataFrame(), pd.DataFrame(), notes)
    if not covariates or events < 2 or len(x) <= len(covariates) + 1:
        notes.append(f"No Cox model: {events} event(s) in {len(x)} patient(s) are too few.")
        return empty
    if events < 10 * len(covariates):
        notes.append(f"{events} events for {len(covariates)} covariates: fewer than 10 per covariate "
                     "(Peduzzi et al. 1996), so the hazard ratios are imprecise.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = CoxPHFitter(alpha=params.alpha).fit(x, "days", "event")
            ph = ph_test(x["days"], x["event"], x[covariates], cph.params_[covariates],
                         cph.variance_matrix_.loc[covariates, covariates], cph.standard_errors_[covariates])
    except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        notes.append(f"No Cox model: the fit did not converge ({str(exc).splitlines()[0]}).")
        return empty
    s = cph.summary
    level = 100 * (1 - params.alpha)
    hr = pd.DataFrame({
        "measure": measure, "covariate": [COVARIATE_LABELS[c] for c in s.index],
        "per": [_per(measure, params, c) for c in s.index], "hazard_ratio": s["exp(coef)"].to_numpy(),
        "ci_low": s[f"exp(coef) lower {level:g}%"].to_numpy(), "ci_high": s[f"exp(coef) upper {level:g}%"].to_numpy(),
        "p_value": s["p"].to_numpy(), "n": len(x), "events": events})
    phs = ph.reindex(s.index)
    check = pd.DataFrame({"measure": measure, "covariate": [COVARIATE_LABELS[c] for c in s.index],
                          "test_statistic": phs["test_statistic"].to_numpy(), "p_value": phs["p"].to_numpy(),
                          "verdict": [ph_verdict(c, p, params.alpha) for c, p in zip(s.index, phs["p"])]})
    return hr, check, notes


def cox_models(data: pd.DataFrame, params: Params,
               engagement: EngagementCovariate | pd.DataFrame | None = None) -> CoxResult:
    """Cox model per analysed measure; with a team engagement score as a covariate when one is given.

    ``engagement``: :func:`engagement_covariate` (its note, when it has no scores, goes into ``notes``), or
    the scores themselves (``team_id, engagement_score``), or None.
    """
    if isinstance(engagement, EngagementCovariate):
        scores, why = engagement.scores, engagement.note
    else:
        scores, why = engagement, None
    if scores is None and why is None:
        why = "team engagement score left out of the Cox model: no engagement scores were given."
    his, checks, notes = [], [], []
    for m in analysed_measures(params):
        hr, check, n = cox_model(data, params, m, scores)
        his.append(hr)
        checks.append(check)
        notes += [{"measure": m, "note": t} for t in n]
    if why:
        notes.append({"measure": "all", "note": why})
    hr_cols = ["measure", "covariate", "per", "hazard_ratio", "ci_low", "ci_high", "p_value", "n", "events"]
    ph_cols = ["measure", "covariate", "test_statistic", "p_value", "verdict"]
    summary = pd.concat([h for h in his if len(h)], ignore_index=True) if any(len(h) for h in his) else pd.DataFrame(columns=hr_cols)
    ph_check = pd.concat([c for c in checks if len(c)], ignore_index=True) if any(len(c) for c in checks) else pd.DataFrame(columns=ph_cols)
    return CoxResult(summary=summary, ph_check=ph_check, notes=pd.DataFrame(notes, columns=["measure", "note"]),
                     alpha=params.alpha)


# --- competing risks ----------------------------------------------------------------------------------

def cumulative_incidence(data: pd.DataFrame, params: Params, measure: str | None = None,
                         by: str | None = None) -> pd.DataFrame:
    """Aalen-Johansen curves of reaching goal and of a competing exit, and 1 - KM (which ignores competing exits).

    One measure, or every analysed measure when ``measure`` is None. Columns: measure, group, time, at_risk,
    cif_goal, cif_competing, km_at_goal (all as proportions).
    """
    cols = ["measure", "group", "time", "at_risk", "cif_goal", "cif_competing", "km_at_goal"]
    if measure is None:
        frames = [cumulative_incidence(data, params, m, by) for m in analysed_measures(params)]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    d = data[(data["measure"] == measure) & data["followed"]]
    frames = []
    for label, mask in groups(d, by):
        g = d[mask]
        aj = AalenJohansen().fit(g["cause_days"], g["cause"], label=label)
        t = aj.table_["time"].to_numpy()
        km = KaplanMeier(params.ci_method, params.alpha).fit(g["cause_days"], g["cause"] == GOAL)
        frames.append(pd.DataFrame({"measure": measure, "group": label, "time": t, "at_risk": aj.table_["at_risk"],
                                    "cif_goal": aj.cumulative_incidence(GOAL, t),
                                    "cif_competing": aj.cumulative_incidence(COMPETING, t),
                                    "km_at_goal": 1 - km.at(t)["survival"].to_numpy()}))
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def cumulative_incidence_by_day(data: pd.DataFrame, params: Params, by: str | None = None) -> pd.DataFrame:
    """% reaching goal and % exiting for a competing reason by each horizon, beside the 1 - KM figure.

    Not estimable (NaN, never 0) for a measure nobody was followed for, and at a horizon beyond everyone's
    follow-up (unless every patient had already reached goal or exited by then).
    """
    horizons = [float(h) for h in params.survival["horizons_days"]]
    rows = []
    for m in analysed_measures(params):
        d = data[(data["measure"] == m) & data["followed"]]
        for label, mask in groups(d, by):
            g = d[mask]
            aj = AalenJohansen().fit(g["cause_days"], g["cause"], label=label)
            km = KaplanMeier(params.ci_method, params.alpha).fit(g["cause_days"], g["cause"] == GOAL)
            last = g["cause_days"].max()
            goal, comp = aj.cumulative_incidence(GOAL, horizons), aj.cumulative_incidence(COMPETING, horizons)
            at = km.at(horizons)
            for i, h in enumerate(horizons):
                late = not len(g) or (h > last and aj.table_["event_free"].iat[-1] > 0)
                rows.append({"measure": m, "group": label, "days": int(h), "n": len(g),
                             "competing_exits": int((g["cause"] == COMPETING).sum()),
                             "pct_goal": np.nan if late else 100 * goal[i],
                             "pct_competing_exit": np.nan if late else 100 * comp[i],
                             "pct_goal_ignoring_competing": 100 * (1 - at["survival"].iat[i])})
    return pd.DataFrame(rows, columns=["measure", "group", "days", "n", "competing_exits", "pct_goal",
                                       "pct_competing_exit", "pct_goal_ignoring_competing"])


# --- MTP resolution -----------------------------------------------------------------------------------

def mtp_resolution_data(cohort: Cohort, params: Params) -> pd.DataFrame:
    """One row per MTP: days from identification to confirmed resolution (event) or censoring.

    An unresolved MTP is censored at the patient's exit or at the data end (the latest date in
    measurements and mtps), whichever is earlier.
    """
    cols = ["patient_id", "team_id", "track", "category", "identified_on", "resolved_on", "days", "event"]
    if not cohort.has("mtps"):
        return pd.DataFrame(columns=cols)
    m = cohort.mtps.merge(_patients(cohort)[["patient_id", "team_id", "track", "exited_on"]], on="patient_id",
                          how="left")
    dates = [m["identified_on"].max(), m["resolved_on"].max()]
    if cohort.measurements is not None and len(cohort.measurements):
        dates.append(cohort.measurements["measured_on"].max())
    data_end = max(d for d in dates if pd.notna(d))
    censor_on = m["exited_on"].where(m["exited_on"].notna() & (m["exited_on"] < data_end), data_end)
    end = m["resolved_on"].where(m["resolved_on"].notna(), censor_on)
    m["days"] = (end - m["identified_on"]).dt.days.astype(float)
    m["event"] = m["resolved_on"].notna().astype(int)
    m = m[m["days"] >= 0]  # a resolution before identification is a data error (validation reports it)
    return m.sort_values(["identified_on", "patient_id", "category"]).reset_index(drop=True)[cols]


def mtp_kaplan_meier(mtp_data: pd.DataFrame, params: Params, by: str | None = "category") -> KaplanMeierGroups:
    """Kaplan-Meier of time to MTP resolution, overall or by category."""
    return _km_groups(mtp_data, by, params.ci_method, params.alpha, "mtp_resolution", "confirmed resolved")


def mtp_resolution(mtp_data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Per MTP category (and all): n, resolved, median days to resolution with CI, % resolved by each horizon."""
    horizons = [float(h) for h in params.survival["mtp_horizons_days"]]
    rows = []
    for by in (None, "category"):
        km = mtp_kaplan_meier(mtp_data, params, by)
        for label, fitter in km.fitters.items():
            low, high = fitter.median_ci_
            row = {"group": label, "category": label.split("=", 1)[1] if "=" in label else "all",
                   "n": fitter.n_, "resolved": fitter.events_, "median_days": fitter.median_,
                   "median_ci_low": low, "median_ci_high": high, "ci_method": params.ci_method,
                   "median_text": fitter.median_text}
            at = fitter.at(horizons)
            for h, r in zip(horizons, at.itertuples(index=False)):
                row[f"pct_resolved_{h:g}d"] = 100 * (1 - r.survival)
                row[f"pct_resolved_{h:g}d_ci_low"] = 100 * (1 - r.ci_high)
                row[f"pct_resolved_{h:g}d_ci_high"] = 100 * (1 - r.ci_low)
            rows.append(row)
    return pd.DataFrame(rows)


# --- figure texts (title, caption and alt text computed from the results) --------------------------------

def _p_words(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def km_text(km: KaplanMeierGroups, horizon: float = 365, what: str = "reached the goal",
            who: str = "patients not at goal at baseline", since: str = "enrollment") -> dict[str, str]:
    """Title, caption and alt text for :func:`evaluation.figures.survival_km_chart` (of the groups it draws:
    :func:`drawn_groups`)."""
    km = drawn_groups(km)
    level = f"{100 * (1 - km.alpha):g}% CI"
    label = measure_label(km.measure) if km.measure != "mtp_resolution" else "MTP resolution"
    by = f" by {km.by}" if km.by else ""
    title = (f"Time to goal: {label} ({km.goal}){by}" if km.measure != "mtp_resolution"
             else f"Time to confirmed MTP resolution{by}")
    parts = []
    for g, fitter in km.fitters.items():
        at = fitter.at([horizon]).iloc[0]
        name = _group_name(g)
        if not fitter.n_:
            parts.append(f"{name} (n = 0): median and share at {horizon:g} days {NONE_FOLLOWED}.")
            continue
        if at["survival"] == at["survival"]:
            share = f"an estimated {100 * (1 - at['survival']):.0f}% {what} within {horizon:g} days"
            if at["ci_low"] == at["ci_low"]:
                share += f" ({level} {100 * (1 - at['ci_high']):.0f} to {100 * (1 - at['ci_low']):.0f}%)"
        else:
            share = f"the share at {horizon:g} days is {TOO_SHORT}"
        parts.append(f"{name} (n = {fitter.n_}): median {fitter.median_text}; {share}.")
    lead = (f"Cumulative percentage of the {km.n_patients} {who} {'who' if 'patient' in who else 'that'} {what}, "
            f"by days since {since} "
            f"(Kaplan-Meier; CI method {km.ci_method}). ")
    tail = ""
    if km.by and km.by != "condition" and len(km.logrank):
        p = km.logrank["p_value"].iat[0]
        tail = f" Log-rank test across {km.by}: {_p_words(p)}." if p == p else f" Log-rank test: {km.logrank['note'].iat[0]}."
    elif km.by == "condition":
        tail = " Conditions overlap (a patient can have several); each is tested against patients without it."
    if km.selection:
        tail += f" {km.selection}."
    caption = lead + " ".join(parts) + tail
    medians = {g: f.median_ for g, f in km.fitters.items()}
    reached = {g: m for g, m in medians.items() if m == m}
    if not km.fitters or not km.n_patients:
        alt = f"An empty chart: no {who}."
    elif len(km.fitters) == 1:
        f = next(iter(km.fitters.values()))
        end = 100 * (1 - f.table_["survival"].iat[-1]) if len(f.table_) else 0.0
        alt = (f"A step curve rising from 0% at {since} to {end:.0f}% by day {f.table_['time'].max():.0f}, "
               f"with a shaded confidence band; {'it crosses 50% at day ' + _days(f.median_) if f.median_ == f.median_ else 'it never reaches 50%'}. "
               f"A table under the plot gives the numbers at risk, events and censored every few months.")
    else:
        fastest = min(reached, key=reached.get) if reached else None
        alt = (f"{len(km.fitters)} step curves, one per {km.by}, rising from 0%. " if not km.selection else
               f"{len(km.fitters)} step curves rising from 0%: all {km.n_groups:,} {_unit(km.by)} pooled, and the "
               f"{len(km.fitters) - 1} fastest and slowest of them. ")
        alt = (alt
               + (f"The fastest to reach 50% is {_group_name(fastest)} (day {_days(reached[fastest])}); "
                  if fastest else "None reaches 50%; ")
               + (f"{len(medians) - len(reached)} never reach 50%. " if len(reached) < len(medians)
                  else "every curve reaches 50%. ")
               + "A table under the plot gives the numbers at risk.")
    return {"title": title, "caption": caption, "alt_text": alt}


def cif_text(curves: pd.DataFrame, by_day: pd.DataFrame, params: Params) -> dict[str, str]:
    """Title, caption and alt text for :func:`evaluation.figures.survival_cif_chart`."""
    horizon = max(params.survival["horizons_days"])
    rows = by_day[(by_day["group"] == "all") & (by_day["days"] == horizon)]
    competing = ", ".join(params.survival["competing_exit_reasons"] or []) or "none"
    parts = []
    for r in rows.itertuples(index=False):
        if not r.n:
            parts.append(f"{r.measure}: {NONE_FOLLOWED}")
        elif r.pct_goal == r.pct_goal:
            km = (f"{r.pct_goal_ignoring_competing:.0f}% by 1 - Kaplan-Meier"
                  if r.pct_goal_ignoring_competing == r.pct_goal_ignoring_competing
                  else "1 - Kaplan-Meier not estimable: no one followed that long")
            parts.append(f"{r.measure}: {r.pct_goal:.0f}% reached goal and {r.pct_competing_exit:.0f}% exited first "
                         f"({km})")
        else:
            parts.append(f"{r.measure}: {TOO_SHORT}")
    caption = (f"Cumulative incidence of reaching goal with exits for a competing reason ({competing}) as competing "
               f"events (Aalen-Johansen), among patients not at goal at baseline. By day {horizon}: "
               + "; ".join(parts) + ". The dashed 1 - Kaplan-Meier curve treats those exits as censored and so "
               "overstates the share reaching goal when exits are common.")
    panels = curves["measure"].nunique()  # the chart draws the measures with followed patients
    alt = (f"{panels} panel{'s' if panels != 1 else ''}, one per measure, each with a rising blue curve for reaching "
           f"goal, a low orange curve for competing exits and a dashed grey 1 - Kaplan-Meier curve just above the "
           f"blue one.")
    return {"title": "Reaching goal with death or exit as a competing event", "caption": caption, "alt_text": alt}


def cox_text(cox: CoxResult) -> dict[str, str]:
    """Title, caption and alt text for :func:`evaluation.figures.survival_hazard_ratio_chart`."""
    s = cox.summary
    level = f"{100 * (1 - cox.alpha):g}%"
    clear = s[(s["ci_low"] > 1) | (s["ci_high"] < 1)]
    found = "; ".join(f"{r.measure} {r.covariate} HR {r.hazard_ratio:.2f} ({r.per})" for r in clear.itertuples())
    caption = (f"Hazard ratios of reaching goal from Cox models (one per measure) with {level} CIs; a ratio above 1 "
               f"means sooner. Covariates: {', '.join(dict.fromkeys(s['covariate']))}. "
               + (f"CIs that exclude 1: {found}." if found else "No CI excludes 1."))
    alt = (f"A forest plot of {len(s)} hazard ratios on a log scale around a vertical line at 1; "
           f"{len(clear)} of them have confidence intervals that do not cross 1.")
    return {"title": "Cox model of time to goal", "caption": caption, "alt_text": alt}
