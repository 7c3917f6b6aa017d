"""Monthly reports: each team's numerator and denominator per month and measure, computed from the
measurements (latest value as of each month end) from the month the team joined, and before it a year of
baseline months (the team's eligible patients under usual care, as a registry query would report them).
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
BASELINE_MONTHS = 12          # months reported before a team joins: what an interrupted time series compares with
BASELINE_SHARE = (0.5, 0.7)   # a baseline month's denominator: this share of the patients the team will enroll
BASELINE_DRIFT = (0.0, 0.01)  # the secular trend under usual care: mean and SD of the per-month change in log-odds
BASELINE_NOISE = 0.12         # month-to-month variation of the share at goal, in log-odds


def baseline_months(rng: np.random.Generator, visits: list[Visits], p: Patients, teams: Teams, cal: Calendar
                    ) -> tuple[np.ndarray, ...]:
    """The year before each team joined, per team x month x measure: a denominator of about half the patients the
    team will enroll with the measure, and a numerator drawn around the share at goal at their first reading,
    drifting slowly (usual care). Returns (team, month index, measure index, numerator, denominator)."""
    join_m = cal.month_index(teams.joined)
    month = join_m[:, None] - BASELINE_MONTHS + np.arange(BASELINE_MONTHS)[None, :]   # team x month
    out = []
    for k, v in enumerate(visits):
        first = np.r_[True, ~v.same_series_next[:-1]] if len(v.patient) else np.zeros(0, bool)
        team = p.team[v.patient[first]]
        n = np.bincount(team, minlength=teams.n)
        share = (np.bincount(team, weights=v.at_goal[first], minlength=teams.n) + 1) / (n + 2)
        drift = rng.normal(*BASELINE_DRIFT, teams.n)
        logit = (np.log(share / (1 - share))[:, None] + drift[:, None] * (np.arange(BASELINE_MONTHS) - BASELINE_MONTHS)
                 + rng.normal(0, BASELINE_NOISE, (teams.n, BASELINE_MONTHS)))
        den = np.rint(n[:, None] * rng.uniform(*BASELINE_SHARE, (teams.n, BASELINE_MONTHS))).astype(np.int64)
        num = rng.binomial(den, 1 / (1 + np.exp(-logit)))
        keep = den > 0
        team_idx = np.broadcast_to(np.arange(teams.n)[:, None], den.shape)
        out.append((team_idx[keep], month[keep], np.full(int(keep.sum()), k), num[keep], den[keep]))
    return tuple(np.concatenate([o[i] for o in out]) for i in range(5))


def monthly_reports_frame(visits: list[Visits], p: Patients, teams: Teams, cal: Calendar,
                          rng: np.random.Generator) -> pd.DataFrame:
    """Latest value as of each month end, per team x month x measure (fully vectorised), after a year of
    baseline months (drawn from ``rng``)."""
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
    b_team, b_month, b_measure, b_num, b_den = baseline_months(rng, visits, p, teams, cal)
    team, month = np.r_[keys // REPORT_MONTHS, b_team], np.r_[keys % REPORT_MONTHS, b_month]
    measure, num, den = np.r_[measure, b_measure], np.r_[num, b_num], np.r_[den, b_den]
    order = np.lexsort((measure, month, team))
    team, month, measure, num, den = team[order], month[order], measure[order], num[order], den[order]
    names = [REPORT_MEASURES[v.series] for v in visits]
    return pd.DataFrame({
        "team_id": team_ids(team, teams.n),
        "month": month_column(cal.start_month + month),
        "measure": label_column(measure, names),
        "numerator": num,
        "denominator": den,
    })
