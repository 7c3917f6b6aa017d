"""Acute-care use with its costs in the year before and after enrollment, and the program's costs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import Calendar
from .columns import date_column, label_column, number_column, patient_ids, repeat_ranges, team_ids
from .patients import Patients
from .teams import Teams

UTIL_WINDOW_DAYS = 365
ED_RATE, ADMISSION_RATE = 0.90, 0.45                 # per patient-year before enrollment
READMIT_PROB = 0.20                                   # per admission, before enrollment
ED_DROP, ADMISSION_DROP, READMIT_DROP = 0.20, 0.25, 0.35   # fall after enrollment, for an average team
AVERAGE_EFFECT = 0.45
FRAILTY_SHAPE = 1.2
POST_NEW_SHARE = 0.3                                  # after enrollment, share of events not repeating a prior one
READMIT_GAP_DAYS = (2, 89)
COST_MEAN = {"ed_visit": 1500.0, "admission": 12000.0, "readmission": 14000.0}
COST_SIGMA = {"ed_visit": 0.5, "admission": 0.45, "readmission": 0.45}
UTIL_KINDS = ("ed_visit", "admission", "readmission")
PHARMACIST_HOURS, PHARMACIST_RATE = (8.0, 12.0), (55.0, 70.0)   # per patient, USD per hour
TRAINING_COST, SOFTWARE_COST = (1500.0, 4000.0), (1200.0, 3600.0)
COLLABORATIVE_FEE = {"initial": 4000.0, "advanced": 6000.0}
SHARED_COST_BASE, SHARED_COST_PER_TEAM = 15000.0, 2500.0


def _days_in_window(rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``counts[i]`` days drawn uniformly in [lo[i], hi[i]]; returns (patient, day)."""
    owner, _ = repeat_ranges(counts)
    length = np.maximum(hi - lo + 1, 1)[owner]
    return owner, lo[owner] + np.floor(rng.random(len(owner)) * length).astype(np.int64)


def _readmissions(rng: np.random.Generator, who: np.ndarray, day: np.ndarray, prob: np.ndarray,
                  window_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Readmissions 2-89 days after some admissions, kept only inside the admission's window."""
    gap = READMIT_GAP_DAYS[0] + np.floor(rng.beta(1.0, 1.8, len(who))
                                         * (READMIT_GAP_DAYS[1] - READMIT_GAP_DAYS[0] + 1)).astype(np.int64)
    back = (rng.random(len(who)) < prob) & (day + gap <= window_end[who])
    return who[back], day[back] + gap[back]


def utilization_frame(rng: np.random.Generator, p: Patients, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """Acute care in the year before and after enrollment.

    Before: Poisson(rate x frailty) ED visits and admissions. After: most events repeat the patient's
    own pattern (each pre-enrollment event recurs with probability ``share of a year observed x
    (1 - drop) x (1 - POST_NEW_SHARE)``), the rest are new (Poisson); this keeps pre/post counts of the
    same patient correlated, as in real data, so a 600-patient demo shows a stable reduction.
    """
    frailty = rng.gamma(FRAILTY_SHAPE, 1.0 / FRAILTY_SHAPE, p.n)
    rel = np.clip(teams.effect[p.team] / AVERAGE_EFFECT, 0.0, 1.8)
    pre_lo, pre_hi = p.enrolled - UTIL_WINDOW_DAYS, p.enrolled - 1
    post_lo = p.enrolled
    post_hi = np.minimum(np.minimum(p.enrolled + UTIL_WINDOW_DAYS - 1, p.exited), cal.end)
    observed = (post_hi - post_lo + 1) / UTIL_WINDOW_DAYS
    owners, days, kinds = [], [], []

    def add(who: np.ndarray, day: np.ndarray, kind: str) -> None:
        owners.append(who)
        days.append(day)
        kinds.append(np.full(len(who), UTIL_KINDS.index(kind), np.int64))

    for kind, rate, drop in (("ed_visit", ED_RATE, ED_DROP), ("admission", ADMISSION_RATE, ADMISSION_DROP)):
        expected = rate * frailty
        pre = rng.poisson(expected)
        keep = observed * (1.0 - drop * rel)
        post = rng.binomial(pre, keep * (1.0 - POST_NEW_SHARE)) + rng.poisson(expected * keep * POST_NEW_SHARE)
        who_pre, day_pre = _days_in_window(rng, pre, pre_lo, pre_hi)
        who_post, day_post = _days_in_window(rng, post, post_lo, post_hi)
        add(who_pre, day_pre, kind)
        add(who_post, day_post, kind)
        if kind == "admission":
            add(*_readmissions(rng, who_pre, day_pre, np.full(len(who_pre), READMIT_PROB), pre_hi), "readmission")
            struggling = teams.readmissions[p.team][who_post]  # 1 but for a later cycle's struggling team
            add(*_readmissions(rng, who_post, day_post,
                               np.minimum(READMIT_PROB * (1.0 - READMIT_DROP * rel[who_post]) * struggling, 1.0),
                               post_hi), "readmission")
    owner, day, kind = (np.concatenate(a) for a in (owners, days, kinds))
    order = np.lexsort((kind, day, owner))
    owner, day, kind = owner[order], day[order], kind[order]
    mean = np.array([COST_MEAN[k] for k in UTIL_KINDS])[kind]
    sigma = np.array([COST_SIGMA[k] for k in UTIL_KINDS])[kind]
    cost = np.exp(np.log(mean) - sigma**2 / 2 + sigma * rng.normal(0, 1, len(kind)))
    return pd.DataFrame({
        "patient_id": patient_ids(owner, p.n),
        "occurred_on": date_column(day),
        "kind": label_column(kind, UTIL_KINDS),
        "cost": number_column(cost, 2),
    })


def program_costs_frame(rng: np.random.Generator, teams: Teams) -> pd.DataFrame:
    """``program_costs.csv``: per team pharmacist time, training, software and fee, plus one shared item."""
    n = teams.n
    pharmacist = teams.n_patients * rng.uniform(*PHARMACIST_HOURS, n) * rng.uniform(*PHARMACIST_RATE, n)
    training = rng.uniform(*TRAINING_COST, n)
    software = rng.uniform(*SOFTWARE_COST, n)
    fee = np.where(teams.advanced, COLLABORATIVE_FEE["advanced"], COLLABORATIVE_FEE["initial"])
    items = ("pharmacist time", "training", "software", "collaborative fee")
    amount = np.column_stack([pharmacist, training, software, fee]).ravel()
    team = np.repeat(np.arange(n), len(items))
    which = np.tile(np.arange(len(items)), n)
    shared = SHARED_COST_BASE + SHARED_COST_PER_TEAM * n
    all_items = (*items, "collaborative faculty and coaching (shared)")
    return pd.DataFrame({
        "team_id": team_ids(np.append(team, 0), n, missing=np.append(np.zeros(len(team), bool), True)),
        "item": label_column(np.append(which, len(items)), all_items),
        "amount": number_column(np.append(amount, shared), 2),
    })
