"""The cohort's calendar: key days as int64 days since 1970-01-01, months as months since 1970-01."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CYCLE_MONTHS = 12            # the collaborative cycle
REPORT_MONTHS = 15           # monthly reports: the cycle plus a quarter of sustainment
ENROLL_MONTHS = 6            # patients enroll over the first six months
DATA_MONTHS = 22             # nothing is dated on or after start + 22 months (2016-12-01 by default)


@dataclass(frozen=True)
class Calendar:
    """Key days of the cohort, as int64 days since 1970-01-01."""

    start: int            # the cohort convenes
    start_month: int      # months since 1970-01 of the start month
    cycle_end: int        # last day of the 12-month cycle
    enroll_end: int       # last enrollment day
    end: int              # last day anything may be dated

    @classmethod
    def from_start(cls, start: str) -> "Calendar":
        day = int(np.datetime64(start, "D").astype(np.int64))
        month = int(np.datetime64(start, "M").astype(np.int64))
        return cls(start=day, start_month=month, cycle_end=month_start(month + CYCLE_MONTHS) - 1,
                   enroll_end=month_start(month + ENROLL_MONTHS) - 1, end=month_start(month + DATA_MONTHS) - 1)

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Months since the start month for each day."""
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) - self.start_month


def month_start(month: int) -> int:
    """First day (days since 1970) of a month given as months since 1970-01."""
    return int(np.datetime64(int(month), "M").astype("datetime64[D]").astype(np.int64))


def nth_weekday(month: int, weekday: int, nth: int) -> int:
    """Day of the nth (1-based) given weekday (Monday=0) in a month (months since 1970)."""
    first = month_start(month)
    dow = (first + 3) % 7                     # 1970-01-01 was a Thursday
    return first + (weekday - dow) % 7 + 7 * (nth - 1)


def regular_days(rng: np.random.Generator, first: np.ndarray, last: np.ndarray, interval: tuple[int, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Days from ``first[i]`` every ``interval`` (a random gap in that range) while <= ``last[i]``: a patient's
    visits or a team's coaching calls. Returns (series index i, day)."""
    if len(first) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    span = int(max(0, (last - first).max()))
    k = span // interval[0] + 2
    gaps = rng.integers(interval[0], interval[1] + 1, (len(first), k - 1))
    days = first[:, None] + np.concatenate([np.zeros((len(first), 1), np.int64), np.cumsum(gaps, axis=1)], axis=1)
    s, j = np.nonzero(days <= last[:, None])
    return s, days[s, j]
