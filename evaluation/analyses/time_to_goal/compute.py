"""Time to goal: Kaplan-Meier, log-rank, Cox and competing risks for each measure, and time to MTP resolution.

The rule (written out for readers by :func:`definitions`), per measure with its goal from params:

* **baseline**: the same rule as the outcome-change analysis (``outcomes.baseline_followup``), so both
  notebooks agree on who was at goal at baseline: within ``[enrolled - windows.baseline_days,
  enrolled + windows.grace_days]``, the latest reading on or before enrollment, else the earliest one in
  the grace period after it. A reading on the enrollment day is therefore the baseline: a patient at goal
  that day is at goal at baseline and is not followed.
* **followed**: patients whose baseline does not meet the goal.
* **event**: the first later measurement that meets the goal; time is days from enrollment.
* **censored**: patients who never reach goal, at their last measurement of that measure or at exit,
  whichever is earlier. Measurements after a patient's exit are not used.
* **competing event**: an exit whose reason is in ``survival.competing_exit_reasons`` (default: died),
  before the goal is reached. Kaplan-Meier and Cox treat it as censoring (at the last measurement or the
  exit, as above); the cumulative incidence counts it as a competing event on the exit date.
* Combined goals (``combined_goals``, e.g. ``bp``) are met on a day when every part is measured and at goal.
* INR: the event is the first INR in the therapeutic range (time to first therapeutic INR, the usual
  warfarin-initiation outcome); time in therapeutic range is the outcome-change analysis' business.

Kaplan-Meier is computed here rather than by lifelines because two things evaluators expect are not in
lifelines 0.30: the ``log`` CI (R survival's default; lifelines only has ``log-log``) and R's median rule
(a curve exactly at 50% over an interval gives the midpoint). The log-rank test is also computed here
(:func:`logrank_test`, lifelines' statistic, fast across 1,000 teams); Cox uses lifelines.
"""

from __future__ import annotations
import math
import warnings
from dataclasses import dataclass, field
import numpy as np
import pandas as pd
from evaluation.analyses.engagement.compute import engagement_scores, score_missing_tables
from evaluation.core.dictionary import load_dictionary
from evaluation.core.errors import ParamsError
from evaluation.core.params import Params
from evaluation.data.cohort import Cohort
from evaluation.stats.survival import AalenJohansen, KaplanMeier, logrank_test, ph_test
from evaluation.stats.survival import NONE_FOLLOWED
from evaluation.analyses.baseline import NO_DAY, Readings, baseline_rows, day_numbers, first_per_key

CONDITIONS = ("diabetes", "hypertension", "dyslipidemia", "anticoagulation")
CENSORED, GOAL, COMPETING = 0, 1, 2  # cause codes for the cumulative incidence
STRATA = ("track", "team", "condition", "sex", "setting", "state")  # what `subgroups` may name here
TIME_TO_GOAL_COLUMNS = ["measure", "group", "n", "events", "median_days", "median_ci_low", "median_ci_high",
                        "ci_method"]
TOO_SHORT = "not estimable (no one followed that long)"  # a share at a day beyond everyone's follow-up


# --- measures, goals and the follow-up data -------------------------------------------------------------

def analysed_measures(params: Params) -> list[str]:
    """Measures analysed: ``survival.measures``, or every goal with combined goals (bp) replacing their parts."""
    known = list(params.goals) + list(params.combined_goals)
    chosen = params.survival.get("measures")
    if chosen is not None:
        chosen = [chosen] if isinstance(chosen, str) else list(chosen)
        bad = [m for m in chosen if m not in known]
        if bad:
            raise ParamsError(f"`survival.measures` must name measures that have a goal ({', '.join(known)}); "
                              f"got {bad[0]!r}", key="survival.measures")
        return chosen
    out: list[str] = []
    for measure in params.goals:
        combo = next((c for c, parts in params.combined_goals.items() if measure in parts), None)
        name = combo or measure
        if name not in out:
            out.append(name)
    return out




def goal_text(params: Params, measure: str) -> str:
    """The goal in words, from params: 'a1c < 8', 'sbp < 140 and dbp < 90', 'inr 2-3'."""
    if measure in params.combined_goals:
        return " and ".join(str(params.goals[p]) for p in params.combined_goals[measure])
    return str(params.goals[measure])


def definitions(params: Params) -> pd.DataFrame:
    """The time-to-goal rule per measure, in words, with the goals and windows from params."""
    w = params.windows
    competing = ", ".join(params.survival["competing_exit_reasons"] or []) or "none"
    rows = []
    for m in analysed_measures(params):
        same_day = " (all parts measured the same day)" if m in params.combined_goals else ""
        rows.append({
            "measure": m,
            "goal": goal_text(params, m) + same_day,
            "baseline": f"last reading in the {w['baseline_days']} days up to enrollment, else the first "
                        f"in the {w['grace_days']} days after",
            "followed": "patients whose baseline is not at goal",
            "event": "first later reading at goal" + (" (first INR in range)" if m == "inr" else ""),
            "time": "days from enrollment",
            "censored": "last reading of the measure, or exit if earlier",
            "competing_event": f"exit for: {competing}",
        })
    return pd.DataFrame(rows)


def readings(measurements: pd.DataFrame, params: Params, measure: str) -> pd.DataFrame:
    """One row per patient and day: ``patient_id, measured_on, value, at_goal``.

    A combined goal (bp) is read on days when all its parts were measured; ``value`` is its first part (sbp).
    """
    columns = ["patient_id", "measured_on", "value", "at_goal"]
    if measure in params.combined_goals:
        parts = params.combined_goals[measure]
        m = measurements[measurements["measure"].isin(parts)]
        if m.empty:
            return pd.DataFrame(columns=columns)
        wide = m.pivot_table(index=["patient_id", "measured_on"], columns="measure", values="value", aggfunc="first")
        wide = wide.reindex(columns=parts).dropna().reset_index()
        at_goal = np.logical_and.reduce([params.goal_met(p, wide[p]) for p in parts])
        out = pd.DataFrame({"patient_id": wide["patient_id"], "measured_on": wide["measured_on"],
                            "value": wide[parts[0]].astype(float), "at_goal": at_goal})
    else:
        m = measurements[measurements["measure"] == measure]
        out = pd.DataFrame({"patient_id": m["patient_id"], "measured_on": m["measured_on"],
                            "value": m["value"].astype(float), "at_goal": params.goal_met(measure, m["value"])})
    out = out.dropna(subset=["value"])
    return out.sort_values(["patient_id", "measured_on"]).reset_index(drop=True)[columns]


def _patients(cohort: Cohort) -> pd.DataFrame:
    teams = cohort.teams[["team_id", "team_name", "track", "setting", "state"]].drop_duplicates("team_id")
    p = cohort.patients.drop(columns=["row"], errors="ignore").merge(teams, on="team_id", how="left")
    p["age"] = (p["enrolled_on"].dt.year - p["birth_year"]).astype(float)
    for c in CONDITIONS:
        if c not in p.columns:
            p[c] = pd.NA
    return p


DATA_COLUMNS = ["measure", "patient_id", "team_id", "team_name", "track", "setting", "state", "sex", "age",
                *CONDITIONS, "enrolled_on", "exited_on", "exit_reason", "has_baseline", "baseline_on",
                "baseline_value", "at_goal_baseline", "followed", "n_followup", "goal_on", "last_on",
                "days", "event", "cause", "cause_days"]










def time_to_goal_data(cohort: Cohort, params: Params, measures: list[str] | None = None) -> pd.DataFrame:
    """One row per measured patient and measure, with the follow-up by the rule in the module docstring.

    ``followed`` marks the analysed patients; ``days``/``event`` feed Kaplan-Meier and Cox (event 1 =
    goal reached); ``cause_days``/``cause`` feed the cumulative incidence (0 censored, 1 goal, 2 exit for a
    competing reason, dated at the exit).
    """
    measures = analysed_measures(params) if measures is None else measures
    patients = _patients(cohort).sort_values("patient_id", kind="stable").reset_index(drop=True)
    competing = set(params.survival["competing_exit_reasons"] or [])
    before, after = params.windows["baseline_days"], params.windows["grace_days"]
    if not measures:
        return pd.DataFrame(columns=DATA_COLUMNS)
    readings_ = Readings(cohort.measurements, patients)
    enrolled = day_numbers(patients["enrolled_on"])
    exited = day_numbers(patients["exited_on"])
    n_patients = len(patients)
    frames = []
    for measure in measures:
        rows, at_goal = readings_.measure(params, measure)
        code, day = readings_.code[rows], readings_.day[rows]
        keep = (exited[code] == NO_DAY) | (day <= exited[code])  # nothing after exit
        rows, at_goal, code, day = rows[keep], at_goal[keep], code[keep], day[keep]
        rel = day - enrolled[code]
        # baseline: in the window, the latest reading on or before enrollment, else the earliest after it
        w = baseline_rows(code, rel, before, after)
        base = np.full(n_patients, -1)
        base[code[w]] = w
        has_base = base[code] >= 0
        later = np.flatnonzero(has_base & (day > day[np.where(has_base, base[code], 0)]))
        n_followup = np.bincount(code[later], minlength=n_patients)
        goal_rows = later[at_goal[later]]
        goal_rows = goal_rows[first_per_key(code[goal_rows])]  # rows are by patient and day: the first is the min
        last_rows = later[np.r_[code[later][1:] != code[later][:-1], True]] if len(later) else later
        measured = np.unique(code)
        d = patients.iloc[measured].reset_index(drop=True)

        def at_patient(found: np.ndarray, values: np.ndarray) -> np.ndarray:
            """Per measured patient: the value at its row in ``found`` (NaT/NaN where it has none)."""
            where = np.full(n_patients, -1)
            where[code[found]] = found
            pick = where[measured]
            out = values[rows[np.clip(pick, 0, None)]] if len(rows) else values[:0].repeat(len(pick))
            missing = pick < 0
            if out.dtype.kind == "M":
                out = out.copy()
                out[missing] = np.datetime64("NaT")
                return out
            return np.where(missing, np.nan, out)

        d["baseline_on"] = at_patient(w, readings_.dates)
        d["baseline_value"] = at_patient(w, readings_.value)
        at_goal_base = pd.array(np.full(len(measured), pd.NA), dtype="boolean")
        got = base[measured] >= 0
        at_goal_base[got] = at_goal[base[measured][got]]
        d["at_goal_baseline"] = at_goal_base
        d["n_followup"] = n_followup[measured]
        d["goal_on"] = at_patient(goal_rows, readings_.dates)
        d["last_on"] = at_patient(last_rows, readings_.dates)
        d["measure"] = measure
        d["has_baseline"] = d["baseline_on"].notna()
        d["followed"] = d["has_baseline"] & ~d["at_goal_baseline"].fillna(True).astype(bool)
        d["n_followup"] = d["n_followup"].fillna(0).astype(int)
        reached = d["goal_on"].notna()
        last_seen = d["last_on"].fillna(d["baseline_on"])
        end = last_seen.where(d["exited_on"].isna() | (last_seen <= d["exited_on"]), d["exited_on"])
        end = d["goal_on"].where(reached, end)
        d["days"] = (end - d["enrolled_on"]).dt.days.clip(lower=0).astype(float)
        d["event"] = reached.astype(int)
        exit_competing = ~reached & d["exited_on"].notna() & d["exit_reason"].isin(competing)
        d["cause"] = np.select([reached, exit_competing], [GOAL, COMPETING], CENSORED).astype(int)
        exit_days = (d["exited_on"] - d["enrolled_on"]).dt.days.clip(lower=0).astype(float)
        d["cause_days"] = exit_days.where(exit_competing, d["days"])
        not_followed = ~d["followed"]
        d.loc[not_followed, ["days", "cause_days"]] = np.nan
        frames.append(d[DATA_COLUMNS])
    return pd.concat(frames, ignore_index=True)  # by measure, then patient id (patients are sorted)


def flow(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Per measure: patients measured, without a baseline, at goal at baseline, followed, and what happened."""
    rows = []
    for m in analysed_measures(params):
        d = data[data["measure"] == m]
        f = d[d["followed"]]
        rows.append({"measure": m, "goal": goal_text(params, m), "measured": len(d),
                     "no_baseline": int((~d["has_baseline"]).sum()),
                     "at_goal_at_baseline": int(d["at_goal_baseline"].fillna(False).astype(bool).sum()),
                     "followed": len(f), "reached_goal": int((f["cause"] == GOAL).sum()),
                     "competing_exit": int((f["cause"] == COMPETING).sum()),
                     "censored": int((f["cause"] == CENSORED).sum())})
    return pd.DataFrame(rows)


# --- strata -------------------------------------------------------------------------------------------

def strata(params: Params) -> list[str]:
    """Stratifications reported after `all`: ``subgroups`` from params, plus team (always reported here)."""
    chosen = list(params.subgroups)
    bad = [s for s in chosen if s not in STRATA]
    if bad:
        raise ParamsError(f"`subgroups` for time to goal must be among {', '.join(STRATA)}; got {bad[0]!r}",
                          key="subgroups")
    if "team" not in chosen:
        chosen.insert(chosen.index("track") + 1 if "track" in chosen else len(chosen), "team")
    return chosen


def group_rows(data: pd.DataFrame, by: str | None) -> list[tuple[str, np.ndarray]]:
    """``(label, row positions)`` pairs: ``all``, or one per value of ``by`` (``track=initial``,
    ``condition=diabetes``), values sorted. Conditions overlap (a patient can have several), so their groups
    are not a partition. One pass over the data, however many groups (1,000 teams).
    """
    if by is None:
        return [("all", np.arange(len(data)))]
    if by == "condition":
        out = []
        for c in CONDITIONS:
            if c in data.columns:
                rows = np.flatnonzero(data[c].fillna(0).astype(int).to_numpy() == 1)
                if len(rows):
                    out.append((f"condition={c}", rows))
        return out
    column = "team_id" if by == "team" else by
    codes, values = pd.factorize(data[column], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(values) + 1))
    return [(f"{by}={v}", order[bounds[i]:bounds[i + 1]]) for i, v in enumerate(values)]


def groups(data: pd.DataFrame, by: str | None) -> list[tuple[str, pd.Series]]:
    """``(label, mask)`` pairs: ``all``, or one per value of ``by`` (see :func:`group_rows`)."""
    out = []
    for label, rows in group_rows(data, by):
        mask = np.zeros(len(data), dtype=bool)
        mask[rows] = True
        out.append((label, pd.Series(mask, index=data.index)))
    return out


# --- Kaplan-Meier by group ----------------------------------------------------------------------------

@dataclass
class KaplanMeierGroups:
    """Kaplan-Meier of one measure for ``all`` or for each group of one stratification: tidy tables to draw."""

    measure: str
    by: str | None
    ci_method: str
    alpha: float
    summary: pd.DataFrame  # one row per group: n, events, median_days with CI, median_text
    curves: pd.DataFrame  # group, time, at_risk, events, censored, survival, ci_low, ci_high
    risk: pd.DataFrame  # group, time, at_risk, events, censored (cumulative) at the x-axis ticks
    logrank: pd.DataFrame  # comparison, test_statistic, df, p_value, note
    goal: str = ""
    fitters: dict[str, KaplanMeier] = field(default_factory=dict, repr=False)
    n_patients: int = 0  # patients analysed (across every group)
    n_groups: int = 0  # set by drawn_groups: how many groups the analysis has when only some are drawn
    selection: str = ""  # set by drawn_groups: which groups are drawn, in words

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def tick_days(max_days: float) -> list[float]:
    """x-axis ticks (and at-risk table times): every 90 days, or 180 beyond two years."""
    step = 90 if max_days <= 730 else 180
    last = max(step, math.ceil(max(max_days, 1) / step) * step)
    return [float(t) for t in range(0, int(last) + 1, step)]


def _logrank(d: pd.DataFrame, by: str | None, labelled: list[tuple[str, np.ndarray]]) -> pd.DataFrame:
    """Log-rank across the groups of a partition; for overlapping conditions, each condition vs the rest."""
    columns = ["comparison", "groups", "test_statistic", "df", "p_value", "note"]
    if by is None:
        return pd.DataFrame(columns=columns)

    def test(comparison: str, durations, group_of, events) -> dict:
        present = pd.Series(group_of).nunique()
        if present < 2:
            return {"comparison": comparison, "groups": present, "test_statistic": np.nan, "df": np.nan,
                    "p_value": np.nan, "note": "fewer than two groups: no test"}
        if int(np.sum(events)) == 0:
            return {"comparison": comparison, "groups": present, "test_statistic": np.nan, "df": np.nan,
                    "p_value": np.nan, "note": "no events: no test"}
        stat, df, p = logrank_test(durations, group_of, events)
        return {"comparison": comparison, "groups": present, "test_statistic": stat, "df": df, "p_value": p, "note": ""}

    if by == "condition":
        rows = []
        for label, rows_in in labelled:
            with_it = np.zeros(len(d), dtype=bool)
            with_it[rows_in] = True
            rows.append(test(f"{label} vs without", d["days"], np.where(with_it, "with", "without"), d["event"]))
    else:
        column = "team_id" if by == "team" else by
        keep = d[column].notna()
        rows = [test(f"across {by}", d.loc[keep, "days"], d.loc[keep, column], d.loc[keep, "event"])]
    return pd.DataFrame(rows, columns=columns)


def _stack(parts: list[dict[str, np.ndarray]], labels: list[str], columns: list[str]) -> pd.DataFrame:
    """One tidy frame from per-group arrays (a ``group`` column first), built once rather than per group."""
    if not parts:
        return pd.DataFrame(columns=columns)
    sizes = [len(p["time"]) for p in parts]
    out = {"group": np.repeat(np.array(labels, dtype=object), sizes)}
    for col in columns[1:]:
        out[col] = np.concatenate([p[col] for p in parts])
    return pd.DataFrame(out, columns=columns)


def _km_groups(d: pd.DataFrame, by: str | None, ci_method: str, alpha: float, name: str, goal: str = "",
               competing: pd.Series | None = None, logrank: bool = True) -> KaplanMeierGroups:
    labelled = group_rows(d, by)
    days, event = d["days"].to_numpy(float), d["event"].to_numpy()
    comp = competing.to_numpy(bool) if competing is not None else None
    rows, curves, risks, fitters = [], [], [], {}
    ticks = tick_days(d["days"].max() if len(d) else 0)
    for label, at in labelled:
        km = KaplanMeier(ci_method, alpha).fit(days[at], event[at], label=label)
        fitters[label] = km
        low, high = km.median_ci_
        row = {"measure": name, "group": label, "n": km.n_, "events": km.events_, "censored": int(len(at) - km.events_)}
        if comp is not None:
            row["competing"] = int(comp[at].sum())
        row |= {"median_days": km.median_, "median_ci_low": low, "median_ci_high": high, "ci_method": ci_method,
                "median_text": km.median_text}
        rows.append(row)
        curves.append(km._columns)
        risks.append(km._at(ticks))
    labels = [label for label, _ in labelled]
    summary = pd.DataFrame(rows) if rows else pd.DataFrame(columns=TIME_TO_GOAL_COLUMNS)
    curve_cols = ["group", "time", "at_risk", "events", "censored", "survival", "ci_low", "ci_high"]
    risk_cols = ["group", "time", "at_risk", "events", "censored"]
    return KaplanMeierGroups(
        measure=name, by=by, ci_method=ci_method, alpha=alpha, summary=summary,
        curves=_stack(curves, labels, curve_cols), risk=_stack(risks, labels, risk_cols),
        logrank=_logrank(d, by, labelled) if logrank else _logrank(d, None, []), goal=goal, fitters=fitters,
        n_patients=len(d))


def kaplan_meier(data: pd.DataFrame, params: Params, measure: str, by: str | None = None, *,
                 logrank: bool = True) -> KaplanMeierGroups:
    """Kaplan-Meier of time to goal for one measure, overall (``by=None``) or by track / team / condition.

    ``logrank=False`` leaves the log-rank test out (an empty ``logrank`` table), for callers that only read
    the curves.
    """
    d = data[(data["measure"] == measure) & data["followed"]]
    return _km_groups(d, by, params.ci_method, params.alpha, measure, goal_text(params, measure),
                      competing=d["cause"] == COMPETING, logrank=logrank)


def km_by_measure(data: pd.DataFrame, params: Params, by: str | None = None) -> list[KaplanMeierGroups]:
    """:func:`kaplan_meier` for every analysed measure that has followed patients (for one figure each)."""
    out = [kaplan_meier(data, params, m, by) for m in analysed_measures(params)]
    return [km for km in out if km.n_patients > 0 and len(km.fitters) > 0]


def time_to_goal_table(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """``tables/time_to_goal.csv``: per measure and group, n, events, median days to goal with CI.

    Extra columns: censored, competing (exits for a competing reason, censored here), median_text (a
    median or CI bound that is not reached says so) and the log-rank p of the group's stratification.
    """
    frames = []
    for m in analysed_measures(params):
        for by in [None, *strata(params)]:
            km = kaplan_meier(data, params, m, by)
            s = km.summary.copy()
            s["logrank_p"] = np.nan
            if by == "condition":
                for label, p in zip(km.summary["group"], km.logrank["p_value"]):
                    s.loc[s["group"] == label, "logrank_p"] = p
            elif by is not None and len(km.logrank):
                s["logrank_p"] = km.logrank["p_value"].iat[0]
            frames.append(s)
    out = pd.concat(frames, ignore_index=True)
    first = TIME_TO_GOAL_COLUMNS
    return out[first + [c for c in out.columns if c not in first]]


def at_goal_by_day(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """% at goal by each of ``survival.horizons_days`` (1 - KM) with CI, per measure and group."""
    horizons = [float(h) for h in params.survival["horizons_days"]]
    rows = []
    for m in analysed_measures(params):
        for by in [None, *strata(params)]:
            km = kaplan_meier(data, params, m, by, logrank=False)
            for label, fitter in km.fitters.items():
                at = fitter._at(horizons)
                for i, time in enumerate(at["time"]):
                    survival = at["survival"][i]
                    pct, low, high = 100 * (1 - survival), 100 * (1 - at["ci_high"][i]), 100 * (1 - at["ci_low"][i])
                    if not fitter.n_:
                        text = NONE_FOLLOWED
                    elif np.isnan(pct):
                        text = TOO_SHORT
                    elif survival <= 0:
                        text = "100.0% (the Kaplan-Meier curve reaches 100%; no CI)"
                    else:
                        lo = "not estimable" if np.isnan(low) else f"{low:.1f}"
                        hi = "not estimable" if np.isnan(high) else f"{high:.1f}"
                        text = f"{pct:.1f}% ({100 * (1 - params.alpha):g}% CI {lo} to {hi}; {params.ci_method})"
                    rows.append({"measure": m, "group": label, "days": int(time), "n": fitter.n_,
                                 "at_risk": int(at["at_risk"][i]), "pct_at_goal": pct, "pct_ci_low": low,
                                 "pct_ci_high": high, "ci_method": params.ci_method, "text": text})
    return pd.DataFrame(rows, columns=["measure", "group", "days", "n", "at_risk", "pct_at_goal", "pct_ci_low",
                                       "pct_ci_high", "ci_method", "text"])


def by_day_wide(by_day: pd.DataFrame, strata_shown: tuple[str, ...] = ("all", "track=")) -> pd.DataFrame:
    """The % at goal texts with one column per horizon, for groups starting with one of ``strata_shown``."""
    keep = by_day[by_day["group"].map(lambda g: any(g == s or (s.endswith("=") and g.startswith(s))
                                                    for s in strata_shown))]
    wide = keep.pivot(index=["measure", "group"], columns="days", values="text")
    wide.columns = [f"by day {d}" for d in wide.columns]
    order = {m: i for i, m in enumerate(dict.fromkeys(by_day["measure"]))}
    wide = wide.reset_index()
    wide["_order"] = wide["measure"].map(order)
    wide["_all"] = wide["group"] != "all"
    return wide.sort_values(["_order", "_all", "group"]).drop(columns=["_order", "_all"]).reset_index(drop=True)


def logrank_tests(data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Every log-rank test the figures show: per measure and stratification."""
    frames = []
    for m in analysed_measures(params):
        for by in strata(params):
            lr = kaplan_meier(data, params, m, by).logrank
            frames.append(lr.assign(measure=m, by=by))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out[["measure", "by", "comparison", "groups", "test_statistic", "df", "p_value", "note"]] if len(out) else out


# --- Cox proportional hazards -------------------------------------------------------------------------

@dataclass(frozen=True)
class EngagementCovariate:
    """The team engagement score for the Cox model: ``scores`` (``team_id, engagement_score``), or None with
    ``note`` saying why the cohort has none."""

    scores: pd.DataFrame | None
    note: str | None = None


def engagement_covariate(cohort: Cohort, params: Params) -> EngagementCovariate:
    """Team engagement scores for :func:`cox_models`; none only when the tables the score needs are absent.

    Each weighted component (``engagement.weights``) needs its tables (:data:`engagement.SCORE_TABLES`); when
    not one component has them, no team can have a score and the note names the missing files. Any error of the
    engagement analysis (a bad weight, say) is raised, not taken for missing data.
    """
    missing = score_missing_tables(cohort, params)
    if missing is not None:
        return EngagementCovariate(None, f"team engagement score left out of the Cox model: this cohort has no "
                                   f"{missing} (or the file is empty), which the score needs.")
    scores = engagement_scores(cohort, params)
    return EngagementCovariate(scores[["team_id", "engagement_score"]].drop_duplicates("team_id"))


@dataclass
class CoxResult:
    """Cox models of time to goal per measure: ``summary`` (hazard ratios), ``ph_check`` (in words), ``notes``."""

    summary: pd.DataFrame
    ph_check: pd.DataFrame
    notes: pd.DataFrame
    alpha: float = 0.05

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)

    def __repr__(self) -> str:
        return self.summary.to_string(index=False)


COVARIATE_LABELS = {"track_advanced": "track", "baseline_value": "baseline value",
                    "age": "age", "engagement_score": "team engagement score"}
# Hazard ratios are per a clinically readable step, not per unit: per 10 mmHg, per 10 mg/dL, per 10 years.
BASELINE_STEP = {"sbp": 10, "dbp": 10, "ldl": 10}
AGE_STEP = 10
ENGAGEMENT_STEP = 10  # the engagement score runs 0-100


def _baseline_part(params: Params, measure: str) -> str:
    return params.combined_goals[measure][0] if measure in params.combined_goals else measure


def _per(measure: str, params: Params, covariate: str) -> str:
    if covariate == "track_advanced":
        return "advanced vs initial"
    if covariate == "age":
        return f"per {AGE_STEP} years"
    if covariate == "engagement_score":
        return f"per {ENGAGEMENT_STEP} points"
    part = _baseline_part(params, measure)
    unit = load_dictionary()["measurements"].measures.get(part, {}).get("unit", "unit")
    step = BASELINE_STEP.get(part, 1)
    unit = "percentage point" if unit == "%" else unit
    return f"per {step:g} {unit}" + (f" of {part}" if part != measure else "")


def ph_verdict(covariate: str, p_value: float, alpha: float) -> str:
    """The proportional-hazards check in plain words."""
    label = COVARIATE_LABELS.get(covariate, covariate)
    if np.isnan(p_value):
        return f"Not checked for {label}."
    if p_value < alpha:
        return (f"The effect of {label} seems to change over follow-up (p = {p_value:.3f}): "
                f"read its hazard ratio as an average over time, not a constant.")
    return f"No sign that the effect of {label} changes over follow-up (p = {p_value:.3f})."


def _usable_covariates(x: pd.DataFrame, notes: list[str]) -> list[str]:
    """The covariates of ``x`` (all but days, event) the model can use, with a note for each left out.

    A covariate missing for every patient (a team engagement score in a cohort without its tables) or with a
    single value (one track) is left out, so that it neither drops every patient nor makes the fit singular.
    A covariate that keeps a single value only among the patients complete on the others is left out too.
    """
    covariates = [c for c in x.columns if c not in ("days", "event")]
    for c in list(covariates):
        values = x[c].dropna()
        if values.empty:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: no patient has a value.")
        elif values.nunique() < 2:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: it has one value only.")
    while covariates:
        complete = x[covariates].notna().all(axis=1)
        constant = [c for c in covariates if x.loc[complete, c].nunique() < 2]
        if not constant or not complete.any():
            break
        for c in constant:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: it has one value only among the "
                         f"{int(complete.sum())} patient(s) with every covariate.")
    return covariates


def cox_model(data: pd.DataFrame, params: Params, measure: str,
              engagement: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Cox PH (Efron ties, as R's coxph) of time to goal ~ track + baseline value + age (+ engagement score).

    Returns (hazard ratios, proportional-hazards check, notes). The PH check is the Grambsch-Therneau test
    on scaled Schoenfeld residuals against KM-transformed time (R cox.zph's default transform).
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    d = data[(data["measure"] == measure) & data["followed"]]
    x = pd.DataFrame({"days": d["days"].astype(float), "event": d["event"].astype(int),
                      "track_advanced": (d["track"] == "advanced").astype(float).where(d["track"].notna()),
                      "baseline_value": d["baseline_value"].astype(float) / BASELINE_STEP.get(_baseline_part(params, measure), 1),
                      "age": d["age"].astype(float) / AGE_STEP})
    notes: list[str] = []
    if engagement is not None:
        score = d["team_id"].map(engagement.set_index("team_id")["engagement_score"]).astype(float)
        x["engagement_score"] = score / ENGAGEMENT_STEP
    if x.empty:
        notes.append("No Cox model: no patient was followed for this measure.")
        return pd.DataFrame(), pd.DataFrame(), notes
    covariates = _usable_covariates(x, notes)
    x = x[["days", "event", *covariates]]
    missing = x[covariates].isna()
    if missing.to_numpy().any():
        counts = "; ".join(f"{int(n)} with no {COVARIATE_LABELS[c]}" for c, n in missing.sum().items() if n)
        notes.append(f"{int(missing.any(axis=1).sum())} patient(s) left out of the Cox model for a missing "
                     f"covariate ({counts}).")
        x = x[~missing.any(axis=1)]
    events = int(x["event"].sum())
    empty = (pd.DataFrame(), pd.DataFrame(), notes)
    if not covariates or events < 2 or len(x) <= len(covariates) + 1:
        notes.append(f"No Cox model: {events} event(s) in {len(x)} patient(s) are too few.")
        return empty
    if events < 10 * len(covariates):
        notes.append(f"{events} events for {len(covariates)} covariates: fewer than 10 per covariate "
                     "(Peduzzi et al. 1996), so the hazard ratios are imprecise.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = CoxPHFitter(alpha=params.alpha).fit(x, "days", "event")
            ph = ph_test(x["days"], x["event"], x[covariates], cph.params_[covariates],
                         cph.variance_matrix_.loc[covariates, covariates], cph.standard_errors_[covariates])
    except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        notes.append(f"No Cox model: the fit did not converge ({str(exc).splitlines()[0]}).")
        return empty
    s = cph.summary
    level = 100 * (1 - params.alpha)
    hr = pd.DataFrame({
        "measure": measure, "covariate": [COVARIATE_LABELS[c] for c in s.index],
        "per": [_per(measure, params, c) for c in s.index], "hazard_ratio": s["exp(coef)"].to_numpy(),
        "ci_low": s[f"exp(coef) lower {level:g}%"].to_numpy(), "ci_high": s[f"exp(coef) upper {level:g}%"].to_numpy(),
        "p_value": s["p"].to_numpy(), "n": len(x), "events": events})
    phs = ph.reindex(s.index)
    check = pd.DataFrame({"measure": measure, "covariate": [COVARIATE_LABELS[c] for c in s.index],
                          "test_statistic": phs["test_statistic"].to_numpy(), "p_value": phs["p"].to_numpy(),
                          "verdict": [ph_verdict(c, p, params.alpha) for c, p in zip(s.index, phs["p"])]})
    return hr, check, notes


def cox_models(data: pd.DataFrame, params: Params,
               engagement: EngagementCovariate | pd.DataFrame | None = None) -> CoxResult:
    """Cox model per analysed measure; with a team engagement score as a covariate when one is given.

    ``engagement``: :func:`engagement_covariate` (its note, when it has no scores, goes into ``notes``), or
    the scores themselves (``team_id, engagement_score``), or None.
    """
    if isinstance(engagement, EngagementCovariate):
        scores, why = engagement.scores, engagement.note
    else:
        scores, why = engagement, None
    if scores is None and why is None:
        why = "team engagement score left out of the Cox model: no engagement scores were given."
    his, checks, notes = [], [], []
    for m in analysed_measures(params):
        hr, check, n = cox_model(data, params, m, scores)
        his.append(hr)
        checks.append(check)
        notes += [{"measure": m, "note": t} for t in n]
    if why:
        notes.append({"measure": "all", "note": why})
    hr_cols = ["measure", "covariate", "per", "hazard_ratio", "ci_low", "ci_high", "p_value", "n", "events"]
    ph_cols = ["measure", "covariate", "test_statistic", "p_value", "verdict"]
    summary = pd.concat([h for h in his if len(h)], ignore_index=True) if any(len(h) for h in his) else pd.DataFrame(columns=hr_cols)
    ph_check = pd.concat([c for c in checks if len(c)], ignore_index=True) if any(len(c) for c in checks) else pd.DataFrame(columns=ph_cols)
    return CoxResult(summary=summary, ph_check=ph_check, notes=pd.DataFrame(notes, columns=["measure", "note"]),
                     alpha=params.alpha)


# --- competing risks ----------------------------------------------------------------------------------

def cumulative_incidence(data: pd.DataFrame, params: Params, measure: str | None = None,
                         by: str | None = None) -> pd.DataFrame:
    """Aalen-Johansen curves of reaching goal and of a competing exit, and 1 - KM (which ignores competing exits).

    One measure, or every analysed measure when ``measure`` is None. Columns: measure, group, time, at_risk,
    cif_goal, cif_competing, km_at_goal (all as proportions).
    """
    cols = ["measure", "group", "time", "at_risk", "cif_goal", "cif_competing", "km_at_goal"]
    if measure is None:
        frames = [cumulative_incidence(data, params, m, by) for m in analysed_measures(params)]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    d = data[(data["measure"] == measure) & data["followed"]]
    frames = []
    for label, mask in groups(d, by):
        g = d[mask]
        aj = AalenJohansen().fit(g["cause_days"], g["cause"], label=label)
        t = aj.table_["time"].to_numpy()
        km = KaplanMeier(params.ci_method, params.alpha).fit(g["cause_days"], g["cause"] == GOAL)
        frames.append(pd.DataFrame({"measure": measure, "group": label, "time": t, "at_risk": aj.table_["at_risk"],
                                    "cif_goal": aj.cumulative_incidence(GOAL, t),
                                    "cif_competing": aj.cumulative_incidence(COMPETING, t),
                                    "km_at_goal": 1 - km.at(t)["survival"].to_numpy()}))
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def cumulative_incidence_by_day(data: pd.DataFrame, params: Params, by: str | None = None) -> pd.DataFrame:
    """% reaching goal and % exiting for a competing reason by each horizon, beside the 1 - KM figure.

    Not estimable (NaN, never 0) for a measure nobody was followed for, and at a horizon beyond everyone's
    follow-up (unless every patient had already reached goal or exited by then).
    """
    horizons = [float(h) for h in params.survival["horizons_days"]]
    rows = []
    for m in analysed_measures(params):
        d = data[(data["measure"] == m) & data["followed"]]
        for label, mask in groups(d, by):
            g = d[mask]
            aj = AalenJohansen().fit(g["cause_days"], g["cause"], label=label)
            km = KaplanMeier(params.ci_method, params.alpha).fit(g["cause_days"], g["cause"] == GOAL)
            last = g["cause_days"].max()
            goal, comp = aj.cumulative_incidence(GOAL, horizons), aj.cumulative_incidence(COMPETING, horizons)
            at = km.at(horizons)
            for i, h in enumerate(horizons):
                late = not len(g) or (h > last and aj.table_["event_free"].iat[-1] > 0)
                rows.append({"measure": m, "group": label, "days": int(h), "n": len(g),
                             "competing_exits": int((g["cause"] == COMPETING).sum()),
                             "pct_goal": np.nan if late else 100 * goal[i],
                             "pct_competing_exit": np.nan if late else 100 * comp[i],
                             "pct_goal_ignoring_competing": 100 * (1 - at["survival"].iat[i])})
    return pd.DataFrame(rows, columns=["measure", "group", "days", "n", "competing_exits", "pct_goal",
                                       "pct_competing_exit", "pct_goal_ignoring_competing"])


# --- MTP resolution -----------------------------------------------------------------------------------





