"""Attendance: which collaborative events each team was offered, which it attended, and whether attendance
fell across the cycle.

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
"""

from __future__ import annotations
import math
from dataclasses import dataclass
import numpy as np
import pandas as pd
import statsmodels.api as sm
from evaluation.core.dictionary import load_dictionary
from evaluation.core.errors import ParamsError
from evaluation.core.params import Params
from evaluation.core.text import format_p, format_share
from evaluation.data.cohort import Cohort

ATTENDED, ABSENT, NOT_RECORDED = "attended", "absent", "not recorded"
# The attendance view of the team table (engagement_by_team) the notebook shows.
ATTENDANCE_COLUMNS = ["team_id", "track", "events_offered", "events_attended", "events_absent", "events_not_recorded",
                      "attendance_rate", "attended_of_offered", "rate_first_half", "rate_second_half"]


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
    """Add events_recorded (attended + absent), attendance_rate (of recorded) and attended_of_offered."""
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
        level = format_share(1 - self.alpha)
        rates = (f"{format_share(self.early_rate)} of recorded events were attended in cycle {_months(self.early_months)} "
                 f"and {format_share(self.late_rate)} in {_months(self.late_months)}")
        if np.isnan(self.odds_ratio):
            return f"Attendance did not change: every recorded event had the same outcome ({rates})."
        trend = (f"odds ratio {self.odds_ratio:.3f} per month, {level} CI {self.ci_low:.3f} to {self.ci_high:.3f}, "
                 f"{format_p(self.p_value)}")
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

