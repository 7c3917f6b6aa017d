"""Engagement: the collaborative's events, each team's attendance, milestones and PDSA cycles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calendar import CYCLE_MONTHS, Calendar, month_start, nth_weekday, regular_days
from .columns import date_column, id_column, label_column, repeat_ranges, team_ids
from .teams import AIM_MEASURES, Teams

KIND_ORDER = ("learning_session", "monthly_call", "webinar", "office_hours", "coaching_call")
WEBINAR_MONTHS = (1, 3, 5, 7, 9, 11)
OFFICE_HOURS_MONTHS = (2, 5, 8, 11)
LEARNING_SESSION_MONTHS = (0, 7)
COACHING_FIRST_DAYS = (10, 24)
COACHING_GAP_DAYS = (35, 49)
MONTHLY_CALL_TOPICS = ("Kick-off and the Model for Improvement", "Writing an aim statement",
                       "Defining your population of focus", "Measures that matter: run charts",
                       "Collaborative practice agreements", "Identifying medication therapy problems",
                       "Following up until problems are resolved", "Engaging prescribers",
                       "Working with payers", "Spreading CMM in your organization",
                       "Sustaining the gains", "Telling your performance story")
WEBINAR_TOPICS = ("PDSA cycles in a busy pharmacy", "Using the Community Pharmacy Change Package",
                  "Documenting CMM encounters", "Value-based payment basics",
                  "Requests and offers: the signature style", "Calculating return on investment")
LEARNING_SESSION_TITLES = ("Learning session 1: launching the collaborative",
                           "Learning session 2: scale, value and your performance story")
NOT_RECORDED_SHARE = 0.025
ATTEND_KIND_SHIFT = {"learning_session": 0.08, "monthly_call": 0.0, "webinar": -0.10, "office_hours": -0.35,
                     "coaching_call": 0.12}
MILESTONES = (("team_charter", 1), ("aim_statement", 2), ("population_defined", 3),
              ("collaborative_practice_agreement", 6), ("performance_story", 12))   # due at end of month k-1
MILESTONE_DIFFICULTY = (1.0, 1.0, 0.95, 0.80, 0.85)
CHANGE_IDEAS: tuple[tuple[str, str | None], ...] = (
    ("pre-visit chart review", None), ("text reminders for refills", None),
    ("appointment-based medication synchronization", None), ("home blood pressure monitor loaner program",
                                                             "bp_at_goal"),
    ("blood pressure check at prescription pick-up", "bp_at_goal"),
    ("point-of-care A1c testing at the counter", "a1c_at_goal"),
    ("teach-back on insulin use at follow-up calls", "a1c_at_goal"),
    ("statin adherence outreach calls", "ldl_at_goal"), ("lipid panel reminders faxed to prescribers",
                                                         "ldl_at_goal"),
    ("point-of-care INR testing", "inr_in_range"), ("warfarin dosing calendar for patients", "inr_in_range"),
    ("fax template for prescriber recommendations", None), ("technician-led patient recruitment script", None),
    ("weekly huddle to review the registry", None), ("adherence packaging for complex regimens", None),
    ("follow-up call within 7 days of discharge", None),
)
PDSA_PER_TEAM = (2, 6)
DECISIONS = ("adopt", "adapt", "abandon")
DECISION_WEIGHTS = (0.52, 0.31, 0.17)


@dataclass
class Events:
    """The collaborative's events as arrays, in event order (event_id follows it)."""

    day: np.ndarray
    kind: np.ndarray        # index into KIND_ORDER
    team: np.ndarray        # -1 when offered to every team
    title: list[str]


def make_events(rng: np.random.Generator, teams: Teams, cal: Calendar) -> Events:
    """Collaborative-wide events on fixed weekdays, then per-team coaching calls."""
    m0 = cal.start_month
    schedule: list[tuple[int, str, str]] = []    # (day, kind, title)
    for i, month in enumerate(LEARNING_SESSION_MONTHS):   # first Thursday (never before the start)
        schedule.append((max(nth_weekday(m0 + month, 3, 1), cal.start), "learning_session",
                         LEARNING_SESSION_TITLES[i]))
    for month in range(CYCLE_MONTHS):                     # second Tuesday
        schedule.append((nth_weekday(m0 + month, 1, 2), "monthly_call", f"Monthly call: {MONTHLY_CALL_TOPICS[month]}"))
    for i, month in enumerate(WEBINAR_MONTHS):            # fourth Thursday
        schedule.append((nth_weekday(m0 + month, 3, 4), "webinar", f"Webinar: {WEBINAR_TOPICS[i]}"))
    for month in OFFICE_HOURS_MONTHS:                     # third Wednesday
        schedule.append((nth_weekday(m0 + month, 2, 3), "office_hours", "Office hours: data and run charts"))
    days = [d for d, _, _ in schedule]
    kinds = [KIND_ORDER.index(k) for _, k, _ in schedule]
    titles = [t for _, _, t in schedule]
    shared = len(days)
    # coaching calls: every 5-7 weeks from shortly after joining to the end of the cycle
    first = np.maximum(teams.joined, cal.start) + rng.integers(COACHING_FIRST_DAYS[0], COACHING_FIRST_DAYS[1] + 1,
                                                               teams.n)
    last = np.full(teams.n, cal.cycle_end)
    owner, coach_days = regular_days(rng, first, last, COACHING_GAP_DAYS)
    day = np.concatenate([np.array(days, np.int64), coach_days])
    kind = np.concatenate([np.array(kinds, np.int64), np.full(len(coach_days), KIND_ORDER.index("coaching_call"))])
    team = np.concatenate([np.full(shared, -1, np.int64), owner])
    title = titles + ["Coaching call"] * len(coach_days)
    order = np.lexsort((team, kind, day))
    return Events(day[order], kind[order], team[order], [title[i] for i in order.tolist()])


def events_frame(ev: Events, n_teams: int) -> pd.DataFrame:
    """``events.csv``: shared events have no team_id; a coaching call names its team."""
    n = len(ev.day)
    return pd.DataFrame({
        "event_id": id_column("E", np.arange(n), n, 3),
        "event_on": date_column(ev.day),
        "kind": label_column(ev.kind, KIND_ORDER),
        "team_id": team_ids(np.maximum(ev.team, 0), n_teams, missing=ev.team < 0),
        "title": ev.title,
    })


def attendance_frame(rng: np.random.Generator, ev: Events, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """``attendance.csv``: Bernoulli on the team's (fading) propensity, shifted by event kind;
    events held before a team joined are not offered to it, and some pairs are not recorded."""
    n_ev = len(ev.day)
    shared = np.flatnonzero(ev.team < 0)
    e_sh = np.repeat(shared, teams.n)
    t_sh = np.tile(np.arange(teams.n), len(shared))
    own = np.flatnonzero(ev.team >= 0)
    event = np.concatenate([e_sh, own])
    team = np.concatenate([t_sh, ev.team[own]])
    keep = ev.day[event] >= teams.joined[team]          # events before a team joined are not offered to it
    event, team = event[keep], team[keep]
    order = np.lexsort((team, event))
    event, team = event[order], team[order]
    year_frac = np.clip((ev.day[event] - cal.start) / 365.0, 0.0, 1.0)
    shift = np.array([ATTEND_KIND_SHIFT[k] for k in KIND_ORDER])[ev.kind[event]]
    prob = np.clip(teams.engagement[team] * (1.0 - teams.fade[team] * year_frac) + shift, 0.01, 0.98)
    prob = np.where(teams.engagement[team] < 0.1, np.minimum(prob, teams.engagement[team]), prob)
    attended = (rng.random(len(event)) < prob).astype(np.int8)
    recorded = rng.random(len(event)) >= NOT_RECORDED_SHARE
    event, team, attended = event[recorded], team[recorded], attended[recorded]
    return pd.DataFrame({
        "event_id": id_column("E", event, n_ev, 3),
        "team_id": team_ids(team, teams.n),
        "attended": attended,
    })


def milestones_frame(rng: np.random.Generator, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """``milestones.csv``: each milestone done (on time, late) or not, more often by engaged teams."""
    n_m = len(MILESTONES)
    team = np.repeat(np.arange(teams.n), n_m)
    which = np.tile(np.arange(n_m), teams.n)
    due = np.array([month_start(cal.start_month + k) - 1 for _, k in MILESTONES], np.int64)[which]
    eng = teams.engagement[team]
    p_done = np.clip((0.20 + 0.75 * eng) * np.array(MILESTONE_DIFFICULTY)[which], 0.05, 0.99)
    done = rng.random(len(team)) < p_done
    on_time = rng.random(len(team)) < np.clip(0.25 + 0.55 * eng, 0.1, 0.9)
    early = rng.integers(0, 26, len(team))
    late = np.ceil(rng.exponential(30.0, len(team))).astype(np.int64) + 1
    completed = np.where(on_time, due - early, due + late)
    completed = np.maximum(completed, teams.joined[team] + 1)
    done &= completed <= cal.end
    return pd.DataFrame({
        "team_id": team_ids(team, teams.n),
        "milestone": label_column(which, [m for m, _ in MILESTONES]),
        "due_on": date_column(due),
        "completed_on": date_column(completed, missing=~done),
    })


def pdsa_frame(rng: np.random.Generator, teams: Teams, cal: Calendar) -> pd.DataFrame:
    """``pdsa_cycles.csv``: 2-6 cycles per team (more for engaged teams), each testing one change idea."""
    lo, hi = PDSA_PER_TEAM
    counts = np.clip(np.rint(lo + (hi - lo) * teams.engagement + rng.normal(0, 0.8, teams.n)), lo, hi).astype(np.int64)
    owner, pos = repeat_ranges(counts)
    ideas = np.argsort(rng.random((teams.n, len(CHANGE_IDEAS))), axis=1)[owner, pos]
    first = np.maximum(teams.joined, cal.start)[owner] + 30
    last = cal.cycle_end - 20
    started = first + np.floor(rng.random(len(owner)) * np.maximum(last - first, 1)).astype(np.int64)
    order = np.lexsort((started, owner))
    owner, ideas, started = owner[order], ideas[order], started[order]
    decision = rng.choice(len(DECISIONS), len(owner), p=DECISION_WEIGHTS)
    running = (started > cal.cycle_end - 60) & (rng.random(len(owner)) < 0.6)
    idea_measure = [m for _, m in CHANGE_IDEAS]
    measure_names = list(AIM_MEASURES)
    measure = np.array([-1 if m is None else measure_names.index(m) for m in idea_measure])[ideas]
    measure = np.where(rng.random(len(owner)) < 0.8, measure, -1)
    return pd.DataFrame({
        "team_id": team_ids(owner, teams.n),
        "started_on": date_column(started),
        "change_idea": label_column(ideas, [c for c, _ in CHANGE_IDEAS]),
        "decision": label_column(np.where(running, -1, decision), DECISIONS),
        "measure": label_column(measure, measure_names),
    })
