"""Monthly reports: each team's numerator and denominator per month and measure, computed from the
measurements (latest value as of each month end).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import REPORT_MONTHS, Calendar
from .columns import NEVER, label_column, month_column, repeat_ranges, team_ids
from .measurements import Visits
from .patients import Patients
from .teams import Teams

REPORT_MEASURES = {"a1c": "a1c_at_goal", "bp": "bp_at_goal", "ldl": "ldl_at_goal", "inr": "inr_in_range"}


def monthly_reports_frame(visits: list[Visits], p: Patients, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """Latest value as of each month end, per team x month x measure (fully vectorised)."""
    enroll_m = cal.month_index(p.enrolled)
    exit_m = np.where(p.exited >= NEVER, REPORT_MONTHS + 1, cal.month_index(np.minimum(p.exited, cal.end)))
    join_m = np.maximum(cal.month_index(teams.joined), 0)
    frames = []
    for k, v in enumerate(visits):
        m = cal.month_index(v.day)
        m_next = np.full(len(m), REPORT_MONTHS + 1, np.int64)
        m_next[v.same_series_next] = m[1:][v.same_series_next[:-1]]
        lo = np.maximum(np.maximum(m, enroll_m[v.patient]), join_m[p.team[v.patient]])
        hi = np.minimum(np.minimum(m_next - 1, exit_m[v.patient] - 1), REPORT_MONTHS - 1)
        row, step = repeat_ranges(np.clip(hi - lo + 1, 0, None))
        month = lo[row] + step
        key = p.team[v.patient][row] * REPORT_MONTHS + month
        den = np.bincount(key, minlength=teams.n * REPORT_MONTHS)
        num = np.bincount(key, weights=v.at_goal[row], minlength=teams.n * REPORT_MONTHS).astype(np.int64)
        keys = np.flatnonzero(den > 0)
        frames.append((keys, np.full(len(keys), k), num[keys], den[keys]))
    keys, measure, num, den = (np.concatenate([f[i] for f in frames]) for i in range(4))
    order = np.lexsort((measure, keys))
    keys, measure, num, den = keys[order], measure[order], num[order], den[order]
    names = [REPORT_MEASURES[v.series] for v in visits]
    return pd.DataFrame({
        "team_id": team_ids(keys // REPORT_MONTHS, teams.n),
        "month": month_column(cal.start_month + keys % REPORT_MONTHS),
        "measure": label_column(measure, names),
        "numerator": num,
        "denominator": den,
    })
