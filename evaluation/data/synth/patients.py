"""Patients: enrollment over the first six months, demographics, conditions, exits, and ``patients.csv``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calendar import Calendar
from .columns import NEVER, date_column, label_column, patient_ids, team_ids
from .teams import Teams

SEXES = ("F", "M", "X", "U")
SEX_WEIGHTS = (0.52, 0.465, 0.005, 0.01)
AGE_MEAN, AGE_SD, AGE_RANGE = 66.0, 10.0, (40, 85)
CONDITIONS = ("diabetes", "hypertension", "dyslipidemia", "anticoagulation")
CONDITION_PREVALENCE = (0.70, 0.65, 0.45, 0.15)
EXIT_REASONS = ("died", "moved", "declined", "transferred", "lost_to_follow_up", "graduated")
EXIT_PROBS = (0.03, 0.03, 0.04, 0.01, 0.02, 0.01)
EXIT_DAYS = (20, 420)        # exit this many days after enrollment


@dataclass
class Patients:
    """Patient traits as arrays (index = patient number, 0-based; ids follow team, then enrollment)."""

    team: np.ndarray
    enrolled: np.ndarray
    sex: np.ndarray
    birth_year: np.ndarray
    exited: np.ndarray         # day, NEVER when still enrolled
    exit_reason: np.ndarray    # index into EXIT_REASONS, -1 when still enrolled
    flags: np.ndarray          # (n, 4) bool, CONDITIONS order

    @property
    def n(self) -> int:
        return len(self.team)


def make_patients(rng: np.random.Generator, teams: Teams, cal: Calendar) -> Patients:
    """Each team's patients: enrollment (skewed early), sex, birth year, conditions and exits."""
    team = np.repeat(np.arange(teams.n), teams.n_patients)
    n = len(team)
    window_lo = np.maximum(cal.start, teams.joined + 7)[team]
    span = cal.enroll_end - window_lo + 1
    enrolled = window_lo + np.floor(rng.beta(1.2, 1.8, n) * span).astype(np.int64)
    order = np.lexsort((enrolled, team))          # ids follow team, then enrollment date
    team, enrolled = team[order], enrolled[order]
    sex = rng.choice(len(SEXES), n, p=SEX_WEIGHTS)
    age = np.clip(np.rint(rng.normal(AGE_MEAN, AGE_SD, n)), *AGE_RANGE).astype(np.int64)
    birth_year = enrolled.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970 - age
    flags = rng.random((n, len(CONDITIONS))) < np.array(CONDITION_PREVALENCE)
    none = ~flags.any(axis=1)
    flags[none, rng.choice(3, int(none.sum()), p=(0.5, 0.35, 0.15))] = True
    reason = rng.choice(len(EXIT_REASONS) + 1, n, p=(*EXIT_PROBS, 1 - sum(EXIT_PROBS))).astype(np.int64)
    exited = enrolled + rng.integers(EXIT_DAYS[0], EXIT_DAYS[1] + 1, n)
    stays = (reason == len(EXIT_REASONS)) | (exited > cal.end)
    reason[stays] = -1
    exited[stays] = NEVER
    return Patients(team, enrolled, sex, birth_year, exited, reason, flags)


def patients_frame(p: Patients, n_teams: int) -> pd.DataFrame:
    """``patients.csv``."""
    frame = {
        "patient_id": patient_ids(np.arange(p.n), p.n),
        "team_id": team_ids(p.team, n_teams),
        "enrolled_on": date_column(p.enrolled),
        "sex": label_column(p.sex, SEXES),
        "birth_year": p.birth_year,
        "exited_on": date_column(p.exited),
        "exit_reason": label_column(p.exit_reason, EXIT_REASONS),
    }
    for k, name in enumerate(CONDITIONS):
        frame[name] = p.flags[:, k].astype(np.int8)
    return pd.DataFrame(frame)
