"""Medication therapy problems: 1-4 per patient, most resolved within about a month, and ``mtps.csv``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import Calendar
from .columns import date_column, id_column, label_column, patient_ids, repeat_ranges
from .patients import Patients
from .teams import Teams

MTP_COUNTS, MTP_COUNT_WEIGHTS = (1, 2, 3, 4), (0.35, 0.30, 0.20, 0.15)
MTP_CATEGORIES = ("unnecessary_drug_therapy", "needs_additional_drug_therapy", "ineffective_drug",
                  "dosage_too_low", "adverse_drug_reaction", "dosage_too_high", "nonadherence", "other")
MTP_CATEGORY_WEIGHTS = (0.10, 0.22, 0.08, 0.15, 0.12, 0.06, 0.22, 0.05)
MTP_RESOLVED_BASE, MTP_RESOLVED_PER_EFFECT = 0.72, 0.16
MTP_MEDIAN_DAYS, MTP_DAYS_SIGMA = 29.0, 0.75


def mtps_frame(rng: np.random.Generator, p: Patients, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """``mtps.csv``: 1-4 problems per patient while enrolled; resolved more often in effective teams,
    a median of about a month later."""
    counts = rng.choice(np.array(MTP_COUNTS), p.n, p=MTP_COUNT_WEIGHTS)
    owner, pos = repeat_ranges(counts)
    n = len(owner)
    offset = np.where(pos == 0, rng.integers(0, 15, n), rng.integers(15, 331, n))
    identified = p.enrolled[owner] + offset
    keep = (identified < p.exited[owner]) & (identified <= cal.end)
    owner, identified = owner[keep], identified[keep]
    n = len(owner)
    order = np.lexsort((identified, owner))
    owner, identified = owner[order], identified[order]
    category = rng.choice(len(MTP_CATEGORIES), n, p=MTP_CATEGORY_WEIGHTS)
    p_resolved = MTP_RESOLVED_BASE + MTP_RESOLVED_PER_EFFECT * teams.effect[p.team[owner]]
    log_days = np.log(MTP_MEDIAN_DAYS) + MTP_DAYS_SIGMA * rng.normal(0.0, 1.0, n)
    days = np.maximum(1, np.rint(np.exp(log_days))).astype(np.int64)
    resolved = identified + days
    is_resolved = (rng.random(n) < p_resolved) & (resolved <= np.minimum(p.exited[owner], cal.end))
    return pd.DataFrame({
        "mtp_id": id_column("M", np.arange(n), n, 7),
        "patient_id": patient_ids(owner, p.n),
        "identified_on": date_column(identified),
        "category": label_column(category, MTP_CATEGORIES),
        "resolved_on": date_column(resolved, missing=~is_resolved),
    })
