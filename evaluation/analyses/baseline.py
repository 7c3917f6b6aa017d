"""The baseline and follow-up readings of a measure: one rule, used by the outcome change, the time to goal and
the engagement dose-response.

Every measurement is read once as integer arrays (patient, day, value), so a statewide cohort's 4 million
readings are a few numpy passes. **Baseline**: within [enrollment - `windows.baseline_days`, enrollment +
`windows.grace_days`], the latest reading on or before enrollment, else the earliest after it (file order
breaks a tie on one day). **Follow-up**: within [enrollment + `windows.followup_min_days`, enrollment +
`windows.followup_max_days`] and after the baseline day, the last reading (file order breaks a tie on one
day: the last). A combined goal (bp) reads the days on which every part was measured. A reading without a
value is no reading.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.core.params import Params


def first_per_key(keys: np.ndarray) -> np.ndarray:
    """Positions of the first row of each run of equal keys (``keys`` sorted)."""
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=int)


def last_per_key(keys: np.ndarray) -> np.ndarray:
    """Positions of the last row of each run of equal keys (``keys`` sorted)."""
    return np.flatnonzero(np.r_[keys[1:] != keys[:-1], True]) if len(keys) else np.zeros(0, dtype=int)


class Readings:
    """Every measurement as integer arrays, read once for all measures: patient (position in ``patients``, which
    callers pass sorted by id; -1 for a reading of no listed patient), day number, value. Sorting and joining 4 million rows on text ids and timestamps is what
    made the follow-up data slow; integers make it a few numpy passes."""

    def __init__(self, measurements: pd.DataFrame, patients: pd.DataFrame):
        self.dates = measurements["measured_on"].to_numpy()  # kept to return dates in their own unit
        self.code = pd.Index(patients["patient_id"]).get_indexer(measurements["patient_id"])
        self.day = day_numbers(measurements["measured_on"])
        self.value = measurements["value"].to_numpy(float)
        self.rows = dict(measurements.groupby("measure", sort=False, observed=True).indices)  # measure -> rows

    def patient_day(self, rows: np.ndarray) -> np.ndarray:
        """One integer per (patient, day) of the given rows (days within +-1,000 years of 1970)."""
        return self.code[rows].astype(np.int64) * 1_000_000 + (self.day[rows] + 500_000)

    def measure(self, params: Params, measure: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, at goal) of one measure's readings, sorted by patient and day (file order within a day);
        a combined goal (bp) reads the days when every part was measured, at its first part's row. A measure
        without a goal is never at goal (:func:`has_goal` tells the two apart)."""
        parts = params.combined_goals.get(measure, [measure])
        kept = []
        for part in parts:
            rows = self.rows.get(part, np.zeros(0, dtype=int))
            rows = rows[(self.code[rows] >= 0) & ~np.isnan(self.value[rows]) & (self.day[rows] != NO_DAY)]
            if len(parts) > 1:  # one reading per patient-day and part: the first in the file
                rows = rows[np.lexsort((self.day[rows], self.code[rows]))]
                rows = rows[first_per_key(self.patient_day(rows))]
            kept.append(rows)
        rows = kept[0]
        at_goal = (params.goal_met(parts[0], self.value[rows]) if parts[0] in params.goals
                   else np.zeros(len(rows), dtype=bool))
        if len(parts) > 1:
            key = self.patient_day(rows)
            for part, other in zip(parts[1:], kept[1:]):
                _, mine, theirs = np.intersect1d(key, self.patient_day(other), assume_unique=True, return_indices=True)
                rows, key = rows[mine], key[mine]
                at_goal = at_goal[mine] & params.goal_met(part, self.value[other[theirs]])
        order = np.lexsort((self.day[rows], self.code[rows]))
        return rows[order], np.asarray(at_goal, dtype=bool)[order]


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 as integers (missing: the smallest int64, ``NO_DAY``)."""
    return pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)


NO_DAY = np.iinfo(np.int64).min  # NaT as a day number


def baseline_rows(patient: np.ndarray, days_from_enrollment: np.ndarray, before: int, after: int) -> np.ndarray:
    """Positions of each patient's baseline reading among readings given as arrays sorted by patient and day:
    in [-``before``, ``after``] days of enrollment, the latest on or before enrollment, else the earliest after
    it (a tie on one day: the first in file order). A patient with no reading in the window has none."""
    rel = days_from_enrollment
    w = np.flatnonzero((rel >= -before) & (rel <= after))
    w = w[np.lexsort((np.abs(rel[w]), rel[w] > 0, patient[w]))]
    return w[first_per_key(patient[w])]


def has_goal(params: Params, measure: str) -> bool:
    """Whether ``measure`` has a goal (its own, or a combined goal on its parts)."""
    return measure in params.combined_goals or measure in params.goals


def followup_rows(patient: np.ndarray, days_from_enrollment: np.ndarray, first: int, last: int,
                  after: np.ndarray | None = None) -> np.ndarray:
    """Positions of each patient's follow-up reading among readings given as arrays sorted by patient and day:
    in [``first``, ``last``] days after enrollment, the last one (a tie on one day: the last in file order).
    ``after`` (one per reading: its patient's baseline day from enrollment, ``NO_DAY`` when there is none)
    keeps only readings on a later day than the baseline. A patient with no reading in the window has none."""
    rel = days_from_enrollment
    keep = (rel >= first) & (rel <= last)
    if after is not None:
        keep &= (after == NO_DAY) | (rel > after)
    w = np.flatnonzero(keep)
    return w[last_per_key(patient[w])]
