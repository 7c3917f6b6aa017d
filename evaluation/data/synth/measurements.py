"""Clinical measurements: one series of visits per (patient, condition), values along the patient's
trajectory, and ``measurements.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calendar import Calendar, regular_days
from .columns import categorical, date_column, label_column, number_column, patient_ids, round_to
from .patients import Patients
from .teams import Teams

BASELINE_BEFORE_SHARE, BASELINE_ON_SHARE = 0.55, 0.15   # rest: a few days to a month after enrollment
BASELINE_BEFORE_DAYS, BASELINE_AFTER_DAYS = 90, 30
HORIZON_DAYS = (300, 425)    # follow-up ends 10-14 months after enrollment
NO_FOLLOWUP_SHARE = 0.08
NO_DATA_SHARE = 0.02
NONRESPONDER_SHARE = 0.20
RESPONSE_RANGE = (0.6, 1.4)
TAU_DAYS = (60, 150)         # time constant of improvement


@dataclass(frozen=True)
class TrendModel:
    """Baseline distribution and improvement floor of one continuous measure."""

    mean: float
    sd: float
    clip: tuple[float, float]   # generated values stay in here (inside the dictionary's plausible range)
    floor: float                # the value an ideal response converges to
    noise: float                # visit-to-visit noise (sd)
    team_sd: float              # team random intercept (sd)
    decimals: int


A1C = TrendModel(8.7, 1.5, (4.5, 15.5), 6.0, 0.25, 0.20, 1)
SBP = TrendModel(146.0, 15.0, (88.0, 220.0), 120.0, 7.0, 4.0, 0)
DBP = TrendModel(87.0, 8.0, (48.0, 125.0), 74.0, 5.0, 2.0, 0)   # mean/sd used via SBP correlation
LDL = TrendModel(125.0, 32.0, (35.0, 330.0), 65.0, 9.0, 8.0, 0)
DBP_SLOPE, DBP_INTERCEPT, DBP_RESIDUAL_SD = 0.35, 36.0, 7.0
INR_CENTER, INR_SPREAD, INR_NARROWING, INR_BIAS_SD, INR_TEAM_SD = 2.5, 0.38, 0.60, 0.08, 0.04
INR_CLIP = (0.8, 7.5)


# series: (name, condition flag index, follow-up interval in days)
SERIES = (("a1c", 0, (70, 110)), ("bp", 1, (28, 62)), ("ldl", 2, (75, 120)), ("inr", 3, (14, 35)))
MEASURE_ORDER = ("a1c", "sbp", "dbp", "ldl", "inr")
MEASURE_DECIMALS = {"a1c": 1, "sbp": 0, "dbp": 0, "ldl": 0, "inr": 1}


GOAL_A1C, GOAL_SBP, GOAL_DBP, GOAL_LDL, INR_RANGE = 8.0, 140.0, 90.0, 100.0, (2.0, 3.0)


@dataclass
class Visits:
    """One series' visits, ordered by series then day."""

    series: str
    patient: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray]   # measure -> rounded values
    at_goal: np.ndarray
    same_series_next: np.ndarray    # True when the next row is the same patient's next visit


def _trend(rng: np.random.Generator, model: TrendModel, baseline: np.ndarray, gain: np.ndarray,
           tau: np.ndarray, t: np.ndarray, series: np.ndarray) -> np.ndarray:
    """Rounded values: baseline - gain * (baseline - floor) * (1 - exp(-t / tau)) + noise."""
    delta = np.clip(gain, 0.0, 1.0) * np.maximum(baseline - model.floor, 0.0)
    mean = baseline[series] - delta[series] * (1.0 - np.exp(-t / tau[series]))
    values = mean + rng.normal(0.0, model.noise, len(t))
    return round_to(np.clip(values, *model.clip), model.decimals)


def make_visits(rng: np.random.Generator, p: Patients, teams: Teams, cal: Calendar) -> list[Visits]:
    """One series per (patient, condition): visit days, then values along the patient's trajectory."""
    out: list[Visits] = []
    team_shift = {name: rng.normal(0.0, sd, teams.n) for name, sd in
                  (("a1c", A1C.team_sd), ("sbp", SBP.team_sd), ("dbp", DBP.team_sd), ("ldl", LDL.team_sd),
                   ("inr", INR_TEAM_SD))}
    for name, flag, interval in SERIES:
        pat = np.flatnonzero(p.flags[:, flag])
        n = len(pat)
        enrolled, team = p.enrolled[pat], p.team[pat]
        kind = rng.random(n)
        offset = np.where(kind < BASELINE_BEFORE_SHARE, -rng.integers(1, BASELINE_BEFORE_DAYS + 1, n),
                          np.where(kind < BASELINE_BEFORE_SHARE + BASELINE_ON_SHARE, 0,
                                   rng.integers(1, BASELINE_AFTER_DAYS + 1, n)))
        first = enrolled + offset
        last = np.minimum(np.minimum(enrolled + rng.integers(HORIZON_DAYS[0], HORIZON_DAYS[1] + 1, n),
                                     p.exited[pat] - 1), cal.end)
        extent = rng.random(n)
        last = np.where(extent < NO_DATA_SHARE, first - 1,
                        np.where(extent < NO_DATA_SHARE + NO_FOLLOWUP_SHARE, np.minimum(first, last), last))
        s, day = regular_days(rng, first, last, interval)
        t = np.maximum(day - enrolled[s], 0).astype(float)
        response = np.where(rng.random(n) < NONRESPONDER_SHARE, 0.0, rng.uniform(*RESPONSE_RANGE, n))
        gain = teams.effect[team] * response
        tau = rng.uniform(*TAU_DAYS, n)
        values: dict[str, np.ndarray] = {}
        if name == "a1c":
            base = np.clip(rng.normal(A1C.mean, A1C.sd, n) + team_shift["a1c"][team], *A1C.clip)
            values["a1c"] = _trend(rng, A1C, base, gain, tau, t, s)
            at_goal = values["a1c"] < GOAL_A1C
        elif name == "ldl":
            base = np.clip(rng.normal(LDL.mean, LDL.sd, n) + team_shift["ldl"][team], *LDL.clip)
            values["ldl"] = _trend(rng, LDL, base, gain, tau, t, s)
            at_goal = values["ldl"] < GOAL_LDL
        elif name == "bp":
            sbp0 = np.clip(rng.normal(SBP.mean, SBP.sd, n) + team_shift["sbp"][team], *SBP.clip)
            dbp0 = np.clip(DBP_INTERCEPT + DBP_SLOPE * sbp0 + rng.normal(0.0, DBP_RESIDUAL_SD, n)
                           + team_shift["dbp"][team], *DBP.clip)
            values["sbp"] = _trend(rng, SBP, sbp0, gain, tau, t, s)
            values["dbp"] = _trend(rng, DBP, dbp0, gain, tau, t, s)
            at_goal = (values["sbp"] < GOAL_SBP) & (values["dbp"] < GOAL_DBP)
        else:  # inr: log-normal around the target, spread narrowing with the team's effect
            bias = rng.normal(0.0, INR_BIAS_SD, n) + team_shift["inr"][team]
            narrowing = INR_NARROWING * np.clip(gain, 0.0, 1.0)[s] * (1.0 - np.exp(-t / tau[s]))
            spread = INR_SPREAD * (1.0 - narrowing)
            raw = np.exp(np.log(INR_CENTER) + bias[s] + spread * rng.normal(0.0, 1.0, len(t)))
            values["inr"] = round_to(np.clip(raw, *INR_CLIP), 1)
            at_goal = (values["inr"] >= INR_RANGE[0]) & (values["inr"] <= INR_RANGE[1])
        nxt = np.zeros(len(s), bool)
        nxt[:-1] = s[1:] == s[:-1]
        out.append(Visits(name, pat[s], day, values, at_goal, nxt))
    return out


def measurements_frame(visits: list[Visits], n_patients: int) -> pd.DataFrame:
    """``measurements.csv``: every series' values, by patient, measure and day, with fixed decimals."""
    pats, codes, days, vals = [], [], [], []
    for v in visits:
        for measure, values in v.values.items():
            pats.append(v.patient)
            codes.append(np.full(len(values), MEASURE_ORDER.index(measure), np.int64))
            days.append(v.day)
            vals.append(values)
    patient, code, day, value = (np.concatenate(a) for a in (pats, codes, days, vals))
    order = np.lexsort((day, code, patient))
    patient, code, day, value = patient[order], code[order], day[order], value[order]
    # fixed decimals per measure: write each measure's numbers, then merge their string categories
    text = np.empty(len(value), dtype=np.int64)
    cats: list[str] = []
    for k, measure in enumerate(MEASURE_ORDER):
        rows = code == k
        if not rows.any():
            continue
        c = number_column(value[rows], MEASURE_DECIMALS[measure])
        mapping = np.array([len(cats) + i for i in range(len(c.categories))], dtype=np.int64)
        text[rows] = mapping[c.codes]
        cats.extend(c.categories.tolist())
    # identical strings from different measures (e.g. '2.5') must map to one category
    uniq, inverse = np.unique(np.array(cats, dtype=object), return_inverse=True)
    return pd.DataFrame({
        "patient_id": patient_ids(patient, n_patients),
        "measure": label_column(code, MEASURE_ORDER),
        "measured_on": date_column(day),
        "value": categorical(inverse[text], uniq.tolist()),
    })
