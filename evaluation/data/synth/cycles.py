"""Later cycles of a collaborative: who comes back, who is new, and how the ids of a later cycle are written.

A collaborative runs cycle after cycle. About half of a cycle's teams come back for the next one (the engaged
teams more often) with the same team_id, name, state, setting and track, a little more engaged and effective
than before; the rest of the cycle's places go to new teams with new ids, numbered on from every id an earlier
cycle used, so no id means two teams. A later cycle of the demo keeps the demo's shape: a new team takes the
state, setting and track of the team whose place it takes. Patients are new each cycle: their ids carry the
cycle (``C2-P000001``) so they never repeat an earlier cycle's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calendar import Calendar, month_start
from .teams import AIM_TARGETS, Teams, random_traits

RETURN_SHARE = 0.5                # share of a cycle's teams that come back for the next
# a later cycle's least engaged new team loses track of its patients after discharge: this many times the usual
# chance of a readmission after enrollment, so the cycle's funnel of readmissions has a team that stands out
STRUGGLING_READMISSIONS = 4.0
RETURN_WEIGHT_BASE = 0.1          # a team comes back with weight base + engagement: the engaged more often
RETURN_ENGAGEMENT_GAIN = 0.05     # a returning team attends a little more ...
RETURN_FADE_KEPT = 0.5            # ... fades half as much over the year ...
RETURN_EFFECT_GAIN = 0.06         # ... and closes more of its patients' gap to goal
ENGAGEMENT_MAX, EFFECT_MAX = 0.97, 0.85   # the bounds invented teams' traits keep (teams.random_traits)


@dataclass
class Roster:
    """One cycle's teams and the number in each team's id (T07 is 7), in team order (ascending numbers)."""

    teams: Teams
    numbers: np.ndarray
    width: int                    # digits of a team id, as the collaborative's first cycle wrote them
    used: int                     # the highest id number any cycle so far gave out
    names: frozenset[str]         # every team name any cycle so far used

    def team_ids(self) -> dict[str, str]:
        """The id each team is written with in this cycle, keyed by the id its position gives
        (:func:`~evaluation.data.synth.columns.team_ids`: T01 for the first team)."""
        width = max(2, len(str(self.teams.n)))
        return {f"T{i + 1:0{width}d}": f"T{int(k):0{self.width}d}" for i, k in enumerate(self.numbers.tolist())}


def first_roster(teams: Teams) -> Roster:
    """A collaborative's first cycle: teams T01, T02, ... in order."""
    return Roster(teams, np.arange(1, teams.n + 1), max(2, len(str(teams.n))), teams.n, frozenset(teams.names))


def next_roster(rng: np.random.Generator, previous: Roster, demo: bool, cal: Calendar,
                patients_per_team: tuple[int, int]) -> Roster:
    """The next cycle's teams (as many as the previous cycle had): the returning teams first, in id order, then
    the new ones."""
    prev = previous.teams
    n = prev.n
    n_back = min(n, int(np.floor(n * RETURN_SHARE + 0.5)))
    weight = RETURN_WEIGHT_BASE + prev.engagement
    back = np.sort(rng.choice(n, n_back, replace=False, p=weight / weight.sum()))
    gone = np.setdiff1d(np.arange(n), back)
    n_new = len(gone)
    joined = month_start(cal.start_month - 1) + rng.integers(4, 28, n)   # a returning team never joins late
    slots = (prev.state[gone], prev.setting[gone], prev.advanced[gone]) if demo else None
    new = random_traits(rng, n_new, cal, joined[n_back:], slots=slots, taken=previous.names)
    lo, hi = patients_per_team
    teams = Teams(
        names=[prev.names[i] for i in back.tolist()] + new.names,
        state=np.concatenate([prev.state[back], new.state]),
        setting=np.concatenate([prev.setting[back], new.setting]),
        advanced=np.concatenate([prev.advanced[back], new.advanced]),
        joined=np.concatenate([joined[:n_back], new.joined]).astype(np.int64),
        engagement=np.concatenate([np.minimum(prev.engagement[back] + RETURN_ENGAGEMENT_GAIN, ENGAGEMENT_MAX),
                                   new.engagement]),
        fade=np.concatenate([prev.fade[back] * RETURN_FADE_KEPT, new.fade]),
        effect=np.concatenate([np.minimum(prev.effect[back] + RETURN_EFFECT_GAIN, EFFECT_MAX), new.effect]),
        aim_measure=np.concatenate([prev.aim_measure[back], new.aim_measure]),
        aim_target=np.array(AIM_TARGETS)[rng.integers(0, len(AIM_TARGETS), n)],
        barrier=np.concatenate([prev.barrier[back], new.barrier]),
        n_patients=rng.integers(lo, hi + 1, n),
        returning=np.arange(n) < n_back,
        readmissions=_readmissions(n_back, new.engagement),
    )
    numbers = np.concatenate([previous.numbers[back], previous.used + 1 + np.arange(n_new)])
    return Roster(teams, numbers, previous.width, previous.used + n_new, previous.names | frozenset(new.names))


def _readmissions(n_back: int, new_engagement: np.ndarray) -> np.ndarray:
    """The teams' readmission multipliers: 1 for every team but the least engaged new one (none without new teams)."""
    out = np.ones(n_back + len(new_engagement))
    if len(new_engagement):
        out[n_back + int(np.argmin(new_engagement))] = STRUGGLING_READMISSIONS
    return out


def default_start(start: str, cycle: int) -> str:
    """The default first day of a cycle: the first cycle's start plus 12 months per earlier cycle (2015-02-01,
    2016-02-01, ...; a 29 February start moves to 1 March in a year that has none)."""
    first = np.datetime64(start, "D")
    month = first.astype("datetime64[M]") + 12 * (cycle - 1)
    return str(month.astype("datetime64[D]") + (first - first.astype("datetime64[M]").astype("datetime64[D]")))


def relabel_ids(frame: pd.DataFrame, team_ids: dict[str, str], patient_prefix: str) -> pd.DataFrame:
    """A later cycle's table: team ids as the roster writes them, patient ids with the cycle's prefix."""
    out = frame.copy()
    if "team_id" in out.columns:
        col = out["team_id"]
        if isinstance(col.dtype, pd.CategoricalDtype):
            out["team_id"] = col.cat.rename_categories(lambda c: team_ids[c])
        else:  # the qualitative tables write team ids as text, blank for a multi-team source
            out["team_id"] = [team_ids.get(v, v) for v in col.tolist()]
    if "patient_id" in out.columns:
        out["patient_id"] = out["patient_id"].cat.rename_categories(lambda c: patient_prefix + c)
    return out
