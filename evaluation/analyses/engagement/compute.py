"""Engagement: did teams attend, keep pace on the accountability pathway, and does engagement go with results?

Attendance is counted per *offered* event. The rules for the awkward cases (each one is tested):

- **Offered.** An event is offered to a team when its kind is one of ``engagement.event_kinds``, it was
  held on or after the team's ``joined_on`` (an event held before a team joined is not offered to it),
  and it is open to every team (``events.team_id`` blank) or names this team (a one-team coaching call).
  Attendance recorded for an event that was not offered to the team is not counted.
- **Not recorded.** An offered event with no attendance row for the team is *not recorded*: neither
  attended nor absent. It is counted in ``events_not_recorded`` and left out of ``attendance_rate``
  (attended / recorded). ``attended_of_offered`` (attended / offered) is the rate if every unrecorded
  event had been missed, a lower bound. With no attendance file every offered event is not recorded.
- **Attended nothing.** A team with recorded events but no attendance has ``attendance_rate`` 0; a team
  offered nothing, or with nothing recorded, has ``attendance_rate`` missing (unknown, not zero).
- **No events file.** :func:`offered_events` returns None, the event counts are missing (not 0), the
  notebook shows :func:`attendance_note` (why the charts are skipped), and the engagement score uses the
  milestones only.

Milestones: a milestone is *due* when ``due_on`` is on or before ``as_of``; *done* when ``completed_on``
is filled; *on time* when done on or before ``due_on``; *overdue* when due and not done. Days late are
``completed_on - due_on`` for done milestones, 0 when done early or on time.

The engagement score (0-100) is a weighted mean of three shares, with weights ``engagement.weights``:
attendance rate, share of due milestones done, and share of due milestones done on time. A component a
team has no data for (e.g. no milestone due yet) is left out and the remaining weights are rescaled, so the
score is always on the same 0-100 scale; ``components_used`` says how many went in.
"""

from __future__ import annotations
import math
from dataclasses import dataclass
from typing import Mapping
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from evaluation.core.dictionary import load_dictionary
from evaluation.core.errors import ParamsError
from evaluation.core.params import Params
from evaluation.data.cohort import Cohort

ATTENDED, ABSENT, NOT_RECORDED = "attended", "absent", "not recorded"
# Score components: params weight key -> column of the team table holding the share (0-1).
COMPONENTS = {
    "attendance": "attendance_rate",
    "milestones_done": "milestones_done_share",
    "milestones_on_time": "milestones_on_time_share",
}
TEAM_COLUMNS = ["team_id", "track", "events_offered", "events_attended", "attendance_rate", "milestones_due",
                "milestones_done"]  # the brief's columns of tables/engagement_by_team.csv, in order
# Views of the team table for the notebook's sections.
ATTENDANCE_COLUMNS = ["team_id", "track", "events_offered", "events_attended", "events_absent", "events_not_recorded",
                      "attendance_rate", "attended_of_offered", "rate_first_half", "rate_second_half"]
MILESTONE_COLUMNS = ["team_id", "track", "milestones_listed", "milestones_due", "milestones_done",
                     "milestones_done_on_time", "milestones_done_late", "milestones_overdue", "median_days_late"]
SCORE_COLUMNS = ["rank", "team_id", "track", "engagement_score", "attendance_rate", "milestones_done_share",
                 "milestones_on_time_share", "components_used"]


# --- params -----------------------------------------------------------------------------------------

def event_kinds(params: Params) -> list[str]:
    """The event kinds counted as engagement, checked against the data dictionary's allowed kinds."""
    kinds = params.engagement["event_kinds"]
    allowed = load_dictionary()["events"].column("kind").allowed or ()
    if isinstance(kinds, str) or not isinstance(kinds, (list, tuple)) or not kinds:
        raise ParamsError(f"`engagement.event_kinds` must be a non-empty list of event kinds ({', '.join(allowed)}); "
                          f"got {kinds!r}", key="engagement.event_kinds")
    bad = [k for k in kinds if k not in allowed]
    if bad:
        raise ParamsError(f"`engagement.event_kinds` must hold only {', '.join(allowed)}; got {bad[0]!r}",
                          key="engagement.event_kinds")
    return list(dict.fromkeys(kinds))


def score_weights(params: Params) -> dict[str, float]:
    """The engagement-score weights: non-negative numbers, at least one above zero."""
    weights = params.engagement["weights"]
    out = {}
    for key in COMPONENTS:
        value = weights.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ParamsError(f"`engagement.weights.{key}` must be a number of 0 or more; got {value!r}",
                              key=f"engagement.weights.{key}")
        out[key] = float(value)
    if sum(out.values()) <= 0:
        raise ParamsError(f"`engagement.weights` must have at least one weight above 0; got {weights!r}",
                          key="engagement.weights")
    return out


# The tables each component of the engagement score is computed from (see engagement_by_team): the attendance
# rate needs the events offered and their attendance records; the milestone shares, milestones.
SCORE_TABLES = {"attendance": ("events", "attendance"), "milestones_done": ("milestones",),
                "milestones_on_time": ("milestones",)}


def score_missing_tables(cohort: Cohort, params: Params) -> str | None:
    """None when some weighted part of the engagement score has its tables; else the files that are missing
    ("events.csv or attendance.csv, and no milestones.csv"), since then no team can have a score."""
    needed = sorted({SCORE_TABLES[k] for k, w in score_weights(params).items() if w > 0})
    if any(cohort.has(*tables) for tables in needed):
        return None
    files = load_dictionary()
    return ", and no ".join(" or ".join(files[t].file for t in tables if not cohort.has(t)) for tables in needed)


def score_note(cohort: Cohort, params: Params) -> str | None:
    """A sentence when the cohort has no data for the engagement score (its sections are skipped), else None."""
    missing = score_missing_tables(cohort, params)
    return None if missing is None else (f"Skipped: this cohort has no {missing} (or the file is empty), which the "
                                         "engagement score needs.")


# --- attendance -------------------------------------------------------------------------------------

def offered_events(cohort: Cohort, params: Params) -> pd.DataFrame | None:
    """One row per team and event offered to it, with its attendance ``status``.

    Columns: team_id, track, event_id, event_on, kind, month (``YYYY-MM``), cycle_month (1 = the month of
    the cohort's first offered event), status (attended / absent / not recorded). None without events.
    """
    if not cohort.has("events"):
        return None
    kinds = event_kinds(params)
    teams = cohort.teams[["team_id", "track", "joined_on"]]
    events = cohort.events
    events = events.loc[events["kind"].isin(kinds), ["event_id", "event_on", "kind", "team_id"]]
    # open events go to every team, one-team events (coaching) to theirs: no teams x events cross product
    open_pairs = teams.merge(events.loc[events["team_id"].isna()].drop(columns="team_id"), how="cross")
    own_pairs = teams.merge(events.loc[events["team_id"].notna()], on="team_id", how="inner")
    pairs = pd.concat([open_pairs, own_pairs], ignore_index=True)
    pairs = pairs.loc[pairs["event_on"] >= pairs["joined_on"]]
    if cohort.has("attendance"):
        att = cohort.attendance[["event_id", "team_id", "attended"]]
        pairs = pairs.merge(att, on=["event_id", "team_id"], how="left")
    else:
        pairs = pairs.assign(attended=pd.Series(pd.NA, index=pairs.index, dtype="Int64"))
    status = np.select([pairs["attended"].eq(1).fillna(False), pairs["attended"].eq(0).fillna(False)],
                       [ATTENDED, ABSENT], NOT_RECORDED)
    month_number = pairs["event_on"].dt.year * 12 + pairs["event_on"].dt.month
    out = pd.DataFrame({
        "team_id": pairs["team_id"].astype(object),
        "track": pairs["track"].astype(object),
        "event_id": pairs["event_id"].astype(object),
        "event_on": pairs["event_on"],
        "kind": pairs["kind"].astype(object),
        "month": pairs["event_on"].dt.strftime("%Y-%m").astype(object),
        "cycle_month": (month_number - month_number.min() + 1).astype("Int64"),
        "status": pd.Series(status, index=pairs.index, dtype=object),
    })
    return out.sort_values(["team_id", "event_on", "event_id"], kind="stable").reset_index(drop=True)


def _counts(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Offered / attended / absent / not-recorded counts and rates per group of ``keys``."""
    flags = df.assign(events_offered=1,
                      events_attended=df["status"].eq(ATTENDED).astype(int),
                      events_absent=df["status"].eq(ABSENT).astype(int),
                      events_not_recorded=df["status"].eq(NOT_RECORDED).astype(int))
    cols = ["events_offered", "events_attended", "events_absent", "events_not_recorded"]
    out = flags.groupby(keys, sort=True, dropna=False)[cols].sum().reset_index()
    return _add_rates(out)


def _add_rates(out: pd.DataFrame) -> pd.DataFrame:
    recorded = out["events_attended"] + out["events_absent"]
    out["events_recorded"] = recorded
    out["attendance_rate"] = (out["events_attended"] / recorded.where(recorded > 0)).astype(float)
    out["attended_of_offered"] = (out["events_attended"] / out["events_offered"].where(out["events_offered"] > 0)).astype(float)
    return out


def attendance_note(cohort: Cohort, offered: pd.DataFrame | None) -> str | None:
    """Why the attendance charts are skipped (a plain sentence), or None when there is attendance to show."""
    note = cohort.missing_note("events", "attendance")
    if note:
        return note
    if offered is None or offered.empty:
        return ("Skipped: no event of the counted kinds (`engagement.event_kinds`) was held on or after a team "
                "joined, so no event was offered.")
    if offered["status"].eq(NOT_RECORDED).all():
        return "Skipped: none of the offered events has an attendance record (attendance.csv has no matching rows)."
    return None


def attendance_by_team(offered: pd.DataFrame | None, teams: pd.DataFrame) -> pd.DataFrame:
    """Per team: events offered, attended, absent, not recorded; attendance rate; first vs second half.

    Every team in teams.csv has a row, including teams offered nothing (counts 0, rates missing).
    ``rate_first_half`` / ``rate_second_half`` split the cycle at the middle of its months (months 1-6
    and 7-12 of a 12-month cycle), so a reader sees which teams stayed engaged to the end.
    """
    base = teams[["team_id", "track"]].astype(object).sort_values("team_id").reset_index(drop=True)
    cols = ["events_offered", "events_attended", "events_absent", "events_not_recorded"]
    if offered is None or offered.empty:
        out = base.assign(**{c: 0 for c in cols})
        out = _add_rates(out)
        return out.assign(rate_first_half=np.nan, rate_second_half=np.nan)
    counts = _counts(offered, ["team_id"]).drop(columns=["events_recorded", "attendance_rate", "attended_of_offered"])
    out = base.merge(counts, on="team_id", how="left")
    out[cols] = out[cols].fillna(0).astype(int)
    out = _add_rates(out)
    middle = math.ceil(int(offered["cycle_month"].max()) / 2)
    half = offered.assign(half=np.where(offered["cycle_month"] <= middle, "rate_first_half", "rate_second_half"))
    rates = _counts(half, ["team_id", "half"]).pivot(index="team_id", columns="half", values="attendance_rate")
    for col in ("rate_first_half", "rate_second_half"):
        out[col] = out["team_id"].map(rates[col]) if col in rates else np.nan
    return out


def attendance_by_month(offered: pd.DataFrame | None) -> pd.DataFrame:
    """Per team, month and event kind (plus ``kind = all``): events offered, attended, not recorded, rate.

    Only team-months with at least one offered event have rows.
    """
    cols = ["team_id", "track", "month", "cycle_month", "kind", "events_offered", "events_attended", "events_absent",
            "events_not_recorded", "events_recorded", "attendance_rate", "attended_of_offered"]
    if offered is None or offered.empty:
        return pd.DataFrame(columns=cols)
    keys = ["team_id", "track", "month", "cycle_month"]
    by_kind = _counts(offered, keys + ["kind"])
    overall = _counts(offered, keys).assign(kind="all")
    out = pd.concat([overall, by_kind], ignore_index=True)[cols]
    order = {k: i for i, k in enumerate(["all", *sorted(offered["kind"].unique())])}
    out = out.assign(_k=out["kind"].map(order)).sort_values(["team_id", "month", "_k"], kind="stable")
    return out.drop(columns="_k").reset_index(drop=True)


@dataclass
class AttendanceTrend:
    """Did attendance fall across the cycle? Cohort attendance by month and a logistic trend.

    The trend is a binomial GLM (logit) of attended (1/0) on ``cycle_month`` over every recorded
    team-event pair, with standard errors clustered by team (teams differ in how often they come, so
    pairs of one team are not independent). ``odds_ratio`` is per month: below 1 means attendance fell.
    A cohort of one team has no clusters to compare: its standard errors are the model's own
    (``standard_errors`` says which).
    """

    by_month: pd.DataFrame
    odds_ratio: float = np.nan
    ci_low: float = np.nan
    ci_high: float = np.nan
    p_value: float = np.nan
    early_rate: float = np.nan
    late_rate: float = np.nan
    early_months: str = ""
    late_months: str = ""
    n_pairs: int = 0
    n_teams: int = 0
    alpha: float = 0.05
    direction: str = "unknown"  # fell | rose | no detectable change | unknown
    standard_errors: str = "clustered by team"  # or "model-based (one team)"

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "n_teams": self.n_teams, "n_recorded": self.n_pairs, "early_months": self.early_months,
            "early_rate": self.early_rate, "late_months": self.late_months, "late_rate": self.late_rate,
            "odds_ratio_per_month": self.odds_ratio, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "p_value": self.p_value, "direction": self.direction,
        }])

    @property
    def statement(self) -> str:
        """One plain sentence: did attendance fall?"""
        if self.direction == "unknown":
            return "Too few months or recorded events to judge whether attendance changed across the cycle."
        level = f"{1 - self.alpha:.0%}"
        rates = (f"{self.early_rate:.0%} of recorded events were attended in cycle {_months(self.early_months)} "
                 f"and {self.late_rate:.0%} in {_months(self.late_months)}")
        if np.isnan(self.odds_ratio):
            return f"Attendance did not change: every recorded event had the same outcome ({rates})."
        trend = (f"odds ratio {self.odds_ratio:.3f} per month, {level} CI {self.ci_low:.3f} to {self.ci_high:.3f}, "
                 f"p = {self.p_value:.3g}")
        head = {"fell": "Attendance fell across the cycle",
                "rose": "Attendance rose across the cycle",
                "no detectable change": "Attendance did not change detectably across the cycle"}[self.direction]
        return f"{head}: {rates} ({trend})."

    def __repr__(self) -> str:
        return f"{self.statement}\n{self.summary.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p>{self.statement}</p>" + self.summary.to_html(index=False)


TREND_COLUMNS = ["month", "cycle_month", "teams_offered", "events_offered", "events_attended", "events_absent",
                 "events_not_recorded", "events_recorded", "attendance_rate", "attended_of_offered"]


def attendance_trend(offered: pd.DataFrame | None, alpha: float = 0.05) -> AttendanceTrend:
    """Cohort attendance per month and whether it fell (see :class:`AttendanceTrend`).

    The early and late rates pool the first and last quarter of the cycle's months (at least one month
    each): months 1-3 and 10-12 of a 12-month cycle.
    """
    if offered is None or offered.empty:  # no events: the table keeps its header
        return AttendanceTrend(by_month=pd.DataFrame(columns=TREND_COLUMNS), alpha=alpha)
    by_month = _counts(offered, ["month", "cycle_month"])
    by_month.insert(2, "teams_offered", offered.groupby("month")["team_id"].nunique().reindex(by_month["month"]).to_numpy())
    rec = offered.loc[offered["status"] != NOT_RECORDED]
    result = AttendanceTrend(by_month=by_month, alpha=alpha, n_pairs=len(rec), n_teams=rec["team_id"].nunique())
    months = sorted(rec["cycle_month"].unique())
    if len(months) < 2:
        return result
    k = max(1, len(months) // 4)
    early, late = months[:k], months[-k:]
    result.early_months = _span(early)
    result.late_months = _span(late)
    y = rec["status"].eq(ATTENDED).astype(float).to_numpy()
    result.early_rate = float(y[rec["cycle_month"].isin(early).to_numpy()].mean())
    result.late_rate = float(y[rec["cycle_month"].isin(late).to_numpy()].mean())
    if y.min() == y.max():  # every recorded event attended (or none): no trend to fit
        result.direction = "no detectable change"
        return result
    x = sm.add_constant(rec["cycle_month"].astype(float).to_numpy())
    groups = pd.factorize(rec["team_id"])[0]
    model = sm.GLM(y, x, family=sm.families.Binomial())
    if groups.max() >= 1:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    else:  # the cluster correction needs two teams at least (it divides by teams - 1)
        fit = model.fit()
        result.standard_errors = "model-based (one team)"
    low, high = fit.conf_int(alpha=alpha)[1]
    result.odds_ratio = float(np.exp(fit.params[1]))
    result.ci_low, result.ci_high = float(np.exp(low)), float(np.exp(high))
    result.p_value = float(fit.pvalues[1])
    by_month["fitted"] = fit.predict(sm.add_constant(by_month["cycle_month"].astype(float).to_numpy(), has_constant="add"))
    if result.p_value < alpha:
        result.direction = "fell" if result.odds_ratio < 1 else "rose"
    else:
        result.direction = "no detectable change"
    return result


def _months(span: str) -> str:
    return f"months {span}" if "-" in span else f"month {span}"


def _span(months) -> str:
    months = [int(m) for m in months]
    return str(months[0]) if len(months) == 1 else f"{months[0]}-{months[-1]}"


# --- milestones -------------------------------------------------------------------------------------

def milestone_status(cohort: Cohort, params: Params) -> pd.DataFrame | None:
    """One row per team and milestone: due?, done?, on time?, days late, and a status for the pathway chart.

    Status is one of done on time / done late / overdue / not yet due (see the module rules). None
    without a milestones file.
    """
    if not cohort.has("milestones"):
        return None
    as_of = pd.Timestamp(params.as_of)
    m = cohort.milestones[["team_id", "milestone", "due_on", "completed_on"]].merge(
        cohort.teams[["team_id", "track"]], on="team_id", how="left")
    done = m["completed_on"].notna()
    due = m["due_on"] <= as_of
    on_time = done & (m["completed_on"] <= m["due_on"])
    days = (m["completed_on"] - m["due_on"]).dt.days
    out = pd.DataFrame({
        "team_id": m["team_id"].astype(object), "track": m["track"].astype(object),
        "milestone": m["milestone"].astype(object), "due_on": m["due_on"], "completed_on": m["completed_on"],
        "is_due": due.to_numpy(), "done": done.to_numpy(), "on_time": on_time.to_numpy(),
        "days_late": days.clip(lower=0).astype(float).to_numpy(),
        "status": np.select([on_time, done, due], ["done on time", "done late", "overdue"], "not yet due"),
    })
    return out.sort_values(["team_id", "due_on", "milestone"], kind="stable").reset_index(drop=True)


def milestones_by_team(status: pd.DataFrame | None, teams: pd.DataFrame) -> pd.DataFrame:
    """Per team: milestones listed, due, done, done on time, done late, overdue; median days late; shares.

    ``milestones_done`` counts every completed milestone (also one finished before its due date);
    the shares are of due milestones: done-and-due / due and on-time-and-due / due. ``median_days_late``
    is over done milestones, counting early or on-time ones as 0 days late.
    """
    base = teams[["team_id", "track"]].astype(object).sort_values("team_id").reset_index(drop=True)
    cols = ["milestones_listed", "milestones_due", "milestones_done", "milestones_done_on_time",
            "milestones_done_late", "milestones_overdue"]
    if status is None:
        out = base.assign(**{c: pd.Series(pd.NA, index=base.index, dtype="Int64") for c in cols})
        return out.assign(median_days_late=np.nan, milestones_done_share=np.nan, milestones_on_time_share=np.nan)
    s = status.assign(
        milestones_listed=1, milestones_due=status["is_due"].astype(int), milestones_done=status["done"].astype(int),
        milestones_done_on_time=status["on_time"].astype(int),
        milestones_done_late=(status["done"] & ~status["on_time"]).astype(int),
        milestones_overdue=status["status"].eq("overdue").astype(int),
        _done_due=(status["done"] & status["is_due"]).astype(int),
        _on_time_due=(status["on_time"] & status["is_due"]).astype(int))
    counts = s.groupby("team_id")[cols + ["_done_due", "_on_time_due"]].sum()
    counts["median_days_late"] = s.loc[s["done"]].groupby("team_id")["days_late"].median()
    out = base.merge(counts.reset_index(), on="team_id", how="left")
    out[cols + ["_done_due", "_on_time_due"]] = out[cols + ["_done_due", "_on_time_due"]].fillna(0).astype(int)
    due = out["milestones_due"].where(out["milestones_due"] > 0)
    out["milestones_done_share"] = (out["_done_due"] / due).astype(float)
    out["milestones_on_time_share"] = (out["_on_time_due"] / due).astype(float)
    out["median_days_late"] = out["median_days_late"].astype(float)
    return out.drop(columns=["_done_due", "_on_time_due"])


# --- engagement score -------------------------------------------------------------------------------

def score_table(team_table: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """Add the engagement score (0-100), each component's contribution in points, and the rank.

    score = 100 * sum(w_k * share_k) / sum(w_k) over the components the team has data for;
    ``contribution_<k>`` are the summands, so they add up to the score (used by the ranking chart).
    """
    out = team_table.copy()
    shares = pd.DataFrame({k: out[col].astype(float) for k, col in COMPONENTS.items()})
    w = pd.Series(weights, dtype=float)
    used = shares.notna() & (w > 0)
    total = used.mul(w).sum(axis=1)
    contrib = shares.fillna(0).mul(w).div(total.where(total > 0), axis=0) * 100
    for k in COMPONENTS:
        out[f"contribution_{k}"] = contrib[k].where(used[k], 0.0).where(total > 0)
    out["engagement_score"] = contrib.where(used).sum(axis=1, min_count=1).where(total > 0)
    out["components_used"] = used.sum(axis=1).astype(int)
    out["rank"] = out["engagement_score"].rank(ascending=False, method="min").astype("Int64")
    return out


def engagement_by_team(cohort: Cohort, params: Params) -> pd.DataFrame:
    """The team table behind ``tables/engagement_by_team.csv``: attendance, milestones and the score.

    Starts with the brief's columns (team_id, track, events_offered, events_attended, attendance_rate,
    milestones_due, milestones_done), then the rest. Without an events file the event counts are missing
    (not 0); without a milestones file the milestone counts are.
    """
    teams = cohort.teams
    offered = offered_events(cohort, params)
    att = attendance_by_team(offered, teams)
    if offered is None:
        for col in ("events_offered", "events_attended", "events_absent", "events_not_recorded", "events_recorded"):
            att[col] = pd.Series(pd.NA, index=att.index, dtype="Int64")
    mil = milestones_by_team(milestone_status(cohort, params), teams)
    table = att.merge(mil.drop(columns="track"), on="team_id", how="left")
    table = score_table(table, score_weights(params))
    rest = [c for c in table.columns if c not in TEAM_COLUMNS]
    return table[TEAM_COLUMNS + rest]


def engagement_scores(cohort: Cohort, params: Params) -> pd.DataFrame:
    """One row per team: team_id, track, engagement_score (0-100), its components and rank.

    For other analyses (e.g. the Cox model of time to goal) that use engagement as a team covariate.
    Columns: team_id, track, engagement_score, attendance_rate, milestones_done_share,
    milestones_on_time_share, components_used, rank.
    """
    table = engagement_by_team(cohort, params)
    cols = ["team_id", "track", "engagement_score", *COMPONENTS.values(), "components_used", "rank"]
    return table[cols].reset_index(drop=True)


# --- engagement vs results --------------------------------------------------------------------------

def team_outcome_change(cohort: Cohort, params: Params) -> pd.DataFrame:
    """A simple team-level result: percentage points of patients at goal at their last vs first measurement.

    For each measure with a goal in ``params.goals`` and each patient with at least two measurements of
    it, the first and the last measurement are compared with the goal. Per team and measure:
    ``goal_gain_points = 100 * (at goal last - at goal first) / n_pairs``, where ``n_pairs`` counts the patients
    with a first and a last measurement; ``measure = all`` pools every patient-measure pair of the team. Deliberately simple (no baseline window, no combined BP goal):
    the outcomes notebook holds the full analysis; this only ranks teams for the dose-response check.
    """
    teams = cohort.teams[["team_id", "track"]].astype(object)
    m = cohort.measurements[["patient_id", "measure", "measured_on", "value"]]
    m = m.loc[m["measure"].isin(list(params.goals)) & m["value"].notna()]
    # first and last reading per patient and measure (ties: file order), on integer keys: a statewide cohort's
    # 4 million readings sort in a second this way, not by their text ids
    patient, patient_ids = pd.factorize(m["patient_id"])
    measure, measure_names = pd.factorize(m["measure"])
    day = m["measured_on"].to_numpy().astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, measure, patient))
    key = patient[order].astype(np.int64) * max(len(measure_names), 1) + measure[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=int)
    ends = np.r_[starts[1:], len(key)] - 1
    value = m["value"].to_numpy(float)[order]
    pairs = pd.DataFrame({"patient_id": np.asarray(patient_ids, dtype=object)[patient[order][starts]],
                          "measure": np.asarray(measure_names, dtype=object)[measure[order][starts]],
                          "n": ends - starts + 1, "first": value[starts], "last": value[ends]})
    pairs = pairs.loc[pairs["n"] >= 2].reset_index(drop=True)
    for when in ("first", "last"):
        met = np.zeros(len(pairs), dtype=bool)
        for measure in pairs["measure"].unique():
            rows = (pairs["measure"] == measure).to_numpy()
            met[rows] = params.goal_met(measure, pairs.loc[rows, when])
        pairs[f"at_goal_{when}"] = met
    pairs["team_id"] = pairs["patient_id"].map(cohort.patients.set_index("patient_id")["team_id"])
    both = pd.concat([pairs, pairs.assign(measure="all")], ignore_index=True)
    agg = both.groupby(["team_id", "measure"]).agg(
        n_pairs=("patient_id", "size"), at_goal_first=("at_goal_first", "sum"), at_goal_last=("at_goal_last", "sum"))
    measures = ["all", *sorted(set(params.goals))]
    grid = pd.MultiIndex.from_product([sorted(teams["team_id"]), measures], names=["team_id", "measure"])
    out = agg.reindex(grid).fillna(0).astype(int).reset_index()
    n = out["n_pairs"].where(out["n_pairs"] > 0)
    out["pct_at_goal_first"] = 100 * out["at_goal_first"] / n
    out["pct_at_goal_last"] = 100 * out["at_goal_last"] / n
    out["goal_gain_points"] = out["pct_at_goal_last"] - out["pct_at_goal_first"]
    out.insert(1, "track", out["team_id"].map(teams.set_index("team_id")["track"]))
    return out


@dataclass
class EngagementVsOutcome:
    """Team engagement score against team outcome improvement: Spearman's rho and a fitted line.

    rho and its p-value are scipy's ``spearmanr`` (t approximation, as R's
    ``cor.test(x, y, method = "spearman", exact = FALSE)``); the line is ordinary least squares, drawn
    only to guide the eye. Teams without a score or without any patient pair are left out.
    """

    points: pd.DataFrame  # team_id, track, engagement_score, goal_gain_points, n_pairs
    measure: str = "all"
    rho: float = np.nan
    p_value: float = np.nan
    slope: float = np.nan
    intercept: float = np.nan
    alpha: float = 0.05

    @property
    def n_teams(self) -> int:
        return len(self.points)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"measure": self.measure, "n_teams": self.n_teams, "spearman_rho": self.rho,
                              "p_value": self.p_value, "slope_points_per_score_point": self.slope,
                              "intercept": self.intercept}])

    @property
    def statement(self) -> str:
        if np.isnan(self.rho):
            return (f"Too few teams ({self.n_teams}) with both an engagement score and outcome data to relate "
                    "engagement to results (at least 3 are needed).")
        sign = "more" if self.rho > 0 else "less"
        stat = f"Spearman's rho = {self.rho:.2f}, p = {self.p_value:.3g}"
        if self.p_value < self.alpha:
            return (f"Across {self.n_teams} teams, more engaged teams gained {sign} in patients at goal ({stat}).")
        return (f"Across {self.n_teams} teams there is no detectable association between engagement and the gain in "
                f"patients at goal ({stat}).")

    def __repr__(self) -> str:
        return f"{self.statement}\n{self.summary.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p>{self.statement}</p>" + self.summary.to_html(index=False)


def engagement_vs_outcome(scores: pd.DataFrame, outcome: pd.DataFrame, measure: str = "all",
                          alpha: float = 0.05) -> EngagementVsOutcome:
    """Relate each team's engagement score to its ``goal_gain_points`` for ``measure`` (dose-response)."""
    known = sorted(outcome["measure"].unique())
    if measure not in known:
        raise ValueError(f"measure must be one of {', '.join(known)}; got {measure!r}")
    out = outcome.loc[outcome["measure"] == measure, ["team_id", "goal_gain_points", "n_pairs"]]
    points = scores[["team_id", "track", "engagement_score"]].merge(out, on="team_id", how="inner")
    points = points.dropna(subset=["engagement_score", "goal_gain_points"]).sort_values("team_id").reset_index(drop=True)
    result = EngagementVsOutcome(points=points, measure=measure, alpha=alpha)
    x, y = points["engagement_score"].to_numpy(float), points["goal_gain_points"].to_numpy(float)
    if len(points) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        rho, p = stats.spearmanr(x, y)
        line = stats.linregress(x, y)
        result.rho, result.p_value = float(rho), float(p)
        result.slope, result.intercept = float(line.slope), float(line.intercept)
    return result


@dataclass
class TrackComparison:
    """Initial vs advanced track: team counts, engagement and results per group (``all``, ``track=...``).

    When both tracks have at least two teams, ``p_value`` is the exact two-sided Mann-Whitney U test of
    the engagement scores (scipy ``mannwhitneyu``, as R's ``wilcox.test(x, y, exact = TRUE)`` without ties).
    """

    summary: pd.DataFrame
    u_stat: float = np.nan
    p_value: float = np.nan

    @property
    def statement(self) -> str:
        counts = dict(zip(self.summary["group"], self.summary["n_teams"]))
        if np.isnan(self.p_value):
            small = ", ".join(f"{g.split('=')[1]} {n}" for g, n in counts.items() if g != "all")
            return f"Tracks are compared descriptively only: a test needs at least two teams per track ({small})."
        return f"Engagement scores of the two tracks compared by Mann-Whitney U = {self.u_stat:g}, p = {self.p_value:.3g}."

    def __repr__(self) -> str:
        return f"{self.statement}\n{self.summary.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p>{self.statement}</p>" + self.summary.to_html(index=False)


def compare_tracks(team_table: pd.DataFrame, outcome: pd.DataFrame | None = None) -> TrackComparison:
    """Per group (all, then each track): teams, median score, mean attendance, milestone share, goal gain."""
    table = team_table
    if outcome is not None:
        gain = outcome.loc[outcome["measure"] == "all"].set_index("team_id")["goal_gain_points"]
        table = table.assign(goal_gain_points=table["team_id"].map(gain))
    rows = []
    groups = [("all", table)] + [(f"track={t}", g) for t, g in table.groupby("track", sort=True)]
    for name, g in groups:
        row = {"group": name, "n_teams": len(g),
               "median_engagement_score": g["engagement_score"].median(),
               "mean_attendance_rate": g["attendance_rate"].mean(),
               "mean_milestones_done_share": g["milestones_done_share"].mean()}
        if "goal_gain_points" in g:
            row["mean_goal_gain_points"] = g["goal_gain_points"].mean()
        rows.append(row)
    result = TrackComparison(summary=pd.DataFrame(rows))
    scores = {t: g["engagement_score"].dropna().to_numpy() for t, g in table.groupby("track", sort=True)}
    if len(scores) == 2 and all(len(v) >= 2 for v in scores.values()):
        a, b = scores.values()
        test = stats.mannwhitneyu(a, b, alternative="two-sided", method="exact" if
                                  len(np.unique(np.r_[a, b])) == len(a) + len(b) else "asymptotic")
        result.u_stat, result.p_value = float(test.statistic), float(test.pvalue)
    return result
