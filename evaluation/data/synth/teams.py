"""Teams: the demo's ten fixed profiles, or invented teams for a statewide cohort, and ``teams.csv``.

Each team carries the two latent traits everything downstream depends on: an engagement propensity
and a clinical effect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calendar import Calendar, month_start
from .codebook import CODEBOOK, CODES
from .columns import date_column, label_column, number_column, team_ids

STATES = ("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
          "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
          "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY")
SETTINGS = ("community_pharmacy", "fqhc", "clinic", "health_system", "other")
SETTING_WEIGHTS = (0.70, 0.10, 0.08, 0.10, 0.02)
ADVANCED_SHARE = 0.10
LATE_JOIN_SHARE = 0.05
LATE_JOIN_DAYS = (60, 100)   # a late team joins this many days after the start
AIM_MEASURES = ("a1c_at_goal", "bp_at_goal", "ldl_at_goal", "inr_in_range")
AIM_MEASURE_WEIGHTS = (0.45, 0.30, 0.15, 0.10)
AIM_TARGETS = (0.6, 0.65, 0.7, 0.75, 0.8)
AIM_POPULATION = {"a1c_at_goal": "with diabetes", "bp_at_goal": "with hypertension",
                  "ldl_at_goal": "with dyslipidemia", "inr_in_range": "on warfarin"}
AIM_GOAL_TEXT = {"a1c_at_goal": "an HbA1c below 8%", "bp_at_goal": "a blood pressure below 140/90 mmHg",
                 "ldl_at_goal": "an LDL cholesterol below 100 mg/dL", "inr_in_range": "an INR within 2.0-3.0"}

NAME_PLACES = ("Prairie", "Cedar", "Maple", "Willow", "Aspen", "Juniper", "Sycamore", "Hickory", "Bluestem",
               "Sandhill", "Riverbend", "Lakeshore", "Northfield", "Southgate", "Eastwood", "Westbrook",
               "Stonebridge", "Oak Hollow", "Pine Ridge", "Elm Street", "Harbor", "Summit", "Meadowlark",
               "Cottonwood", "Red Rock", "Silver Lake", "Fox Run", "Mill Pond", "High Plains", "Granite")
NAME_FEATURES = ("Creek", "Valley", "Ridge", "Crossing", "Park", "Springs", "Hills", "Point", "Landing",
                 "Commons", "Heights", "Junction")
NAME_KINDS = {"community_pharmacy": ("Pharmacy", "Drug", "Apothecary", "Family Pharmacy"),
              "fqhc": ("Community Health Center",), "clinic": ("Clinic Pharmacy",),
              "health_system": ("Health System",), "other": ("Pharmacy Services",)}


@dataclass(frozen=True)
class TeamProfile:
    """One demo team: fixed traits so the demo tells a clear story."""

    name: str
    state: str
    setting: str
    track: str
    engagement: float        # base probability of attending an event
    fade: float              # share of the engagement lost by the end of the year
    effect: float            # share of the gap to the floor that CMM closes
    aim_measure: str
    barrier: str             # barrier code the team talks about most in interviews


DEMO_TEAMS: tuple[TeamProfile, ...] = (
    TeamProfile("Wabash Valley Pharmacy", "IN", "community_pharmacy", "initial", 0.80, 0.0, 0.50,
                "a1c_at_goal", "time_constraints"),
    TeamProfile("Prairie Creek Pharmacy", "IA", "community_pharmacy", "initial", 0.92, 0.0, 0.66,
                "a1c_at_goal", "time_constraints"),
    TeamProfile("Cedar Bluff Drug", "IA", "community_pharmacy", "initial", 0.78, 0.55, 0.42,
                "bp_at_goal", "system_implementation"),
    TeamProfile("Loess Hills Apothecary", "IA", "community_pharmacy", "initial", 0.07, 0.0, 0.10,
                "a1c_at_goal", "leadership_changes"),
    TeamProfile("Chesapeake Corner Pharmacy", "MD", "community_pharmacy", "initial", 0.72, 0.0, 0.45,
                "bp_at_goal", "data_reporting_burden"),
    TeamProfile("Lake Country Pharmacy", "MN", "community_pharmacy", "initial", 0.86, 0.0, 0.62,
                "ldl_at_goal", "time_constraints"),
    TeamProfile("Northwoods Health System", "MN", "health_system", "advanced", 0.95, 0.0, 0.80,
                "a1c_at_goal", "system_implementation"),
    TeamProfile("Iron Range Drug", "MN", "community_pharmacy", "initial", 0.74, 0.60, 0.38,
                "inr_in_range", "personnel_changes"),
    TeamProfile("Rio Grande Family Pharmacy", "NM", "community_pharmacy", "initial", 0.66, 0.0, 0.35,
                "a1c_at_goal", "personnel_changes"),
    TeamProfile("Palmetto Community Health Center", "SC", "fqhc", "initial", 0.55, 0.0, 0.15,
                "bp_at_goal", "time_constraints"),
)
DEMO_LATE_TEAM = 8           # index of the demo team that joins late
DEMO_LATE_DAYS = 75


@dataclass
class Teams:
    """Team traits as arrays (index = team number, 0-based)."""

    names: list[str]
    state: np.ndarray          # index into STATES
    setting: np.ndarray        # index into SETTINGS
    advanced: np.ndarray       # bool
    joined: np.ndarray         # day
    engagement: np.ndarray
    fade: np.ndarray
    effect: np.ndarray
    aim_measure: np.ndarray    # index into AIM_MEASURES
    aim_target: np.ndarray
    barrier: np.ndarray        # index into CODES
    n_patients: np.ndarray
    returning: np.ndarray | None = None   # bool: the team took part in the collaborative's previous cycle
    readmissions: np.ndarray | None = None   # multiplier of the chance of a readmission after enrollment (1: as usual)

    def __post_init__(self) -> None:
        if self.returning is None:
            self.returning = np.zeros(len(self.names), bool)
        if self.readmissions is None:
            self.readmissions = np.ones(len(self.names))

    @property
    def n(self) -> int:
        return len(self.names)


def _team_names(rng: np.random.Generator, settings: np.ndarray, taken: frozenset[str] = frozenset()) -> list[str]:
    """Unique invented names such as 'Maple Ridge Pharmacy', none of them in ``taken`` (the names of an earlier
    cycle's teams)."""
    n_combo = len(NAME_PLACES) * len(NAME_FEATURES)
    order = rng.permutation(n_combo)
    names: list[str] = []
    j = 0                              # position in the permutation (then again, with a number, past its end)
    for i, setting in enumerate(settings.tolist()):
        kinds = NAME_KINDS[SETTINGS[setting]]
        while True:
            pick, round_ = int(order[j % n_combo]), j // n_combo
            j += 1
            place, feature = NAME_PLACES[pick // len(NAME_FEATURES)], NAME_FEATURES[pick % len(NAME_FEATURES)]
            name = f"{place} {feature} {kinds[i % len(kinds)]}"
            if round_:                 # only for cohorts larger than the name space
                name = f"{name} {round_ + 1}"
            if name not in taken:
                break
        names.append(name)
    return names


@dataclass
class RandomTraits:
    """Invented teams' traits (see :func:`random_traits`)."""

    state: np.ndarray
    setting: np.ndarray
    advanced: np.ndarray
    engagement: np.ndarray
    fade: np.ndarray
    effect: np.ndarray
    aim_measure: np.ndarray
    barrier: np.ndarray
    joined: np.ndarray
    names: list[str]


def random_traits(rng: np.random.Generator, n_teams: int, cal: Calendar, joined: np.ndarray,
                  slots: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                  taken: frozenset[str] = frozenset()) -> RandomTraits:
    """Invented teams whose engagement and effect share a latent trait (so engagement-outcome analyses find a
    dose-response); about 5% join late, after the first events.

    ``slots`` gives the teams' (state, setting, advanced) instead of drawing them (a later cycle of the demo keeps
    its states and tracks); they are drawn all the same, so the other traits come from the same draws.
    """
    state = rng.integers(0, len(STATES), n_teams)
    setting = rng.choice(len(SETTINGS), n_teams, p=SETTING_WEIGHTS)
    advanced = rng.random(n_teams) < ADVANCED_SHARE
    if slots is not None:
        state, setting, advanced = slots
    latent = rng.normal(0.0, 1.0, n_teams) + 0.5 * advanced
    engagement = np.clip(0.72 + 0.15 * latent, 0.05, 0.97)
    engagement[rng.random(n_teams) < 0.01] = 0.07             # teams that barely attend
    fade = np.where(rng.random(n_teams) < 0.15, rng.uniform(0.3, 0.6, n_teams), 0.0)
    effect = np.clip(0.42 + 0.15 * latent + 0.12 * advanced + rng.normal(0, 0.05, n_teams), 0.05, 0.85)
    aim_measure = rng.choice(len(AIM_MEASURES), n_teams, p=AIM_MEASURE_WEIGHTS)
    barriers = [i for i, (_, theme, _) in enumerate(CODEBOOK) if theme == "Barriers"]
    barrier = np.array(barriers)[rng.integers(0, len(barriers), n_teams)]
    late = rng.random(n_teams) < LATE_JOIN_SHARE
    joined = np.where(late, cal.start + rng.integers(LATE_JOIN_DAYS[0], LATE_JOIN_DAYS[1] + 1, n_teams), joined)
    names = _team_names(rng, setting, taken)
    return RandomTraits(state, setting, advanced, engagement, fade, effect, aim_measure, barrier, joined, names)


def make_teams(rng: np.random.Generator, n_teams: int, demo: bool, cal: Calendar,
                patients_per_team: tuple[int, int]) -> Teams:
    """The teams' traits: the demo's fixed profiles, or invented teams (:func:`random_traits`)."""
    lo, hi = patients_per_team
    joined = month_start(cal.start_month - 1) + rng.integers(4, 28, n_teams)
    if demo:
        profiles = DEMO_TEAMS
        names = [p.name for p in profiles]
        state = np.array([STATES.index(p.state) for p in profiles])
        setting = np.array([SETTINGS.index(p.setting) for p in profiles])
        advanced = np.array([p.track == "advanced" for p in profiles])
        engagement = np.array([p.engagement for p in profiles])
        fade = np.array([p.fade for p in profiles])
        effect = np.array([p.effect for p in profiles])
        aim_measure = np.array([AIM_MEASURES.index(p.aim_measure) for p in profiles])
        barrier = np.array([CODES.index(p.barrier) for p in profiles])
        joined[DEMO_LATE_TEAM] = cal.start + DEMO_LATE_DAYS
    else:
        r = random_traits(rng, n_teams, cal, joined)
        state, setting, advanced, engagement, fade, effect = r.state, r.setting, r.advanced, r.engagement, r.fade, r.effect
        aim_measure, barrier, joined, names = r.aim_measure, r.barrier, r.joined, r.names
    aim_target = np.array(AIM_TARGETS)[rng.integers(0, len(AIM_TARGETS), n_teams)]
    n_patients = rng.integers(lo, hi + 1, n_teams)
    return Teams(names, state, setting, advanced, joined.astype(np.int64), engagement, fade, effect,
                 aim_measure, aim_target, barrier, n_patients)


def teams_frame(teams: Teams, cal: Calendar, rng: np.random.Generator) -> pd.DataFrame:
    """``teams.csv``, with an aim statement written from each team's aim measure and target."""
    aim_by = cal.cycle_end
    by_text = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + aim_by).strftime("%B %Y")
    statements = []
    for i in range(teams.n):
        measure = AIM_MEASURES[teams.aim_measure[i]]
        pct = int(round(teams.aim_target[i] * 100))
        if rng.random() < 0.5:
            statements.append(f"By {by_text}, {pct}% of our population of focus {AIM_POPULATION[measure]} "
                              f"will have {AIM_GOAL_TEXT[measure]}.")
        else:
            statements.append(f"We will bring {pct}% of our high-risk patients {AIM_POPULATION[measure]} to "
                              f"{AIM_GOAL_TEXT[measure]} by {by_text}.")
    idx = np.arange(teams.n)
    return pd.DataFrame({
        "team_id": team_ids(idx, teams.n),
        "team_name": teams.names,
        "state": label_column(teams.state, STATES),
        "setting": label_column(teams.setting, SETTINGS),
        "track": label_column(teams.advanced.astype(int), ("initial", "advanced")),
        "joined_on": date_column(teams.joined),
        "aim_statement": statements,
        "aim_measure": label_column(teams.aim_measure, AIM_MEASURES),
        "aim_target": number_column(teams.aim_target, 2),
        "aim_by": date_column(np.full(teams.n, aim_by)),
    })
