"""Finding the patients who need CMM most: a prioritised list per team (internal, never for funders).

The collaboratives' first step is to "identify and engage populations who require CMM" and to find the patients
not at clinical goals. For every patient enrolled on ``as_of`` (enrolled on or before it, not exited by it) the
list holds, from the data up to ``as_of``:

- each goal measure at the latest reading: the value, its date, whether it is at goal and how far outside the goal
  it lies (:meth:`evaluation.core.goals.Goal.distance`, in the measure's unit); a combined goal (blood pressure) at
  the latest day every part was read, its parts' distances from their own latest readings;
- the number of conditions flagged in patients.csv; ED visits, and admissions with readmissions, in the 6 and the
  12 months up to ``as_of``; medication therapy problems open on ``as_of``;
- days since the latest reading of a goal measure (a blood pressure part read alone counts) and since the latest
  contact (enrollment, any measurement, an MTP identified or resolved).

The score is a plain sum of points whose weights are params (``priority.weights``): per measure not at goal, per
measure far from goal (``priority.far_from_goal``: HbA1c 1 point above goal, say), per condition, per acute-care
event, per open MTP, and for no goal-measure reading in ``priority.stale_days``. Each part is a column, so a
pharmacist sees why a patient is near the top. Bands cut the score at ``priority.bands`` (high, medium, low).

``tables/priority.csv`` carries the pseudonymous ``patient_id`` a team needs to find the patient; the disclosure
gate keeps it and its figure out of every funder output. ``tables/priority_bands.csv`` counts per team.
"""

from __future__ import annotations

import pandas as pd
import numpy as np

from evaluation.core.errors import ParamsError
from evaluation.core.params import Params
from evaluation.data.cohort import Cohort
from evaluation.analyses.baseline import has_goal
from evaluation.analyses.time_to_goal.compute import analysed_measures
from evaluation.core.labels import conditions

BANDS = ("high", "medium", "low")  # in priority order
PRIORITY_TABLE, BANDS_TABLE = "priority", "priority_bands"
POINT_COLUMNS = ["points_not_at_goal", "points_far_from_goal", "points_conditions", "points_acute_care",
                 "points_open_mtps", "points_no_recent_reading"]
LEAD_COLUMNS = ["team_id", "patient_id", "rank", "band", "score", *POINT_COLUMNS, "measures_not_at_goal",
                "n_not_at_goal", "n_far_from_goal", "n_conditions", "ed_visits_6m", "ed_visits_12m",
                "admissions_6m", "admissions_12m", "open_mtps", "last_reading_on", "days_since_reading",
                "no_recent_reading", "last_contact_on", "days_since_contact", "enrolled_on"]
BAND_COLUMNS = ["team_id", "patients", "high", "medium", "low", "not_at_goal", "not_at_goal_no_recent_reading",
                "pct_not_at_goal_no_recent_reading", "median_score"]
ADMISSIONS = ("admission", "readmission")


def check_bands(settings: dict) -> tuple[float, float]:
    """``priority.bands`` as (high, medium); high must lie above medium."""
    high, medium = float(settings["bands"]["high"]), float(settings["bands"]["medium"])
    if high <= medium:
        raise ParamsError(f"`priority.bands.high` ({high:g}) must be above `priority.bands.medium` ({medium:g})",
                          key="priority.bands.high")
    return high, medium


def enrolled_on(patients: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The patients enrolled on ``as_of``: enrolled on or before it and not exited by it."""
    enrolled = pd.to_datetime(patients["enrolled_on"])
    exited = pd.to_datetime(patients["exited_on"]) if "exited_on" in patients else pd.Series(pd.NaT, index=patients.index)
    keep = (enrolled <= as_of) & (exited.isna() | (exited > as_of))
    return patients[keep].sort_values("patient_id", kind="stable").reset_index(drop=True)


def _latest(readings: pd.DataFrame) -> pd.DataFrame:
    """The latest reading per patient (the last in the file on the latest day), indexed by patient_id."""
    ordered = readings.reset_index(drop=True).reset_index().sort_values(["patient_id", "measured_on", "index"],
                                                                        kind="stable")
    return ordered.drop_duplicates("patient_id", keep="last").set_index("patient_id")


def latest_goal_readings(measurements: pd.DataFrame, params: Params, patient_ids: pd.Index,
                         as_of: pd.Timestamp) -> pd.DataFrame:
    """Per patient (index) and goal measure: ``<m>_on``, ``<m>_at_goal`` (NA without a reading), and for a measure
    with a value ``<m>_latest`` and ``<m>_from_goal``; a combined goal is read on the latest day all its parts were
    (``<m>_on``, ``<m>_at_goal``) with each part's latest value and distance."""
    m = measurements[measurements["patient_id"].isin(patient_ids) & (measurements["measured_on"] <= as_of)
                     & measurements["value"].notna()]
    out = pd.DataFrame(index=patient_ids)
    by_measure = dict(tuple(m.groupby("measure", sort=False, observed=True)))
    for measure in [g for g in analysed_measures(params) if has_goal(params, g)]:
        parts = params.combined_goals.get(measure, [measure])
        part_latest = {}
        for part in parts:
            latest = _latest(by_measure.get(part, m.iloc[:0]))
            part_latest[part] = latest
            if len(parts) > 1:
                out[f"{part}_latest"] = latest["value"].reindex(patient_ids)
                out[f"{part}_from_goal"] = params.goals[part].distance(out[f"{part}_latest"])
        if len(parts) == 1:
            latest = part_latest[measure]
            out[f"{measure}_on"] = latest["measured_on"].reindex(patient_ids)
            out[f"{measure}_latest"] = latest["value"].reindex(patient_ids)
            out[f"{measure}_from_goal"] = params.goals[measure].distance(out[f"{measure}_latest"])
            met = params.goal_met(measure, out[f"{measure}_latest"])
        else:  # the latest day on which every part was read, each part's last reading of that day
            days = None
            for part in parts:
                d = by_measure.get(part, m.iloc[:0]).reset_index(drop=True).reset_index()
                d = d.sort_values(["patient_id", "measured_on", "index"], kind="stable").drop_duplicates(
                    ["patient_id", "measured_on"], keep="last")[["patient_id", "measured_on", "value"]]
                d = d.rename(columns={"value": part})
                days = d if days is None else days.merge(d, on=["patient_id", "measured_on"])
            last = days.sort_values(["patient_id", "measured_on"], kind="stable").drop_duplicates(
                "patient_id", keep="last").set_index("patient_id")
            out[f"{measure}_on"] = last["measured_on"].reindex(patient_ids)
            met = np.ones(len(patient_ids), dtype=bool)
            for part in parts:
                met &= params.goal_met(part, last[part].reindex(patient_ids))
        read = out[f"{measure}_on"].notna().to_numpy()
        out[f"{measure}_at_goal"] = pd.array(np.where(read, met, False), dtype="boolean")
        out.loc[~read, f"{measure}_at_goal"] = pd.NA
    return out


def _far(params: Params, measure: str, readings: pd.DataFrame) -> np.ndarray:
    """Whether a measure not at goal is far from it: some part at least ``priority.far_from_goal`` outside its
    goal (False for a measure without a far-from-goal distance)."""
    far = np.zeros(len(readings), dtype=bool)
    for part in params.combined_goals.get(measure, [measure]):
        gap = params.priority["far_from_goal"].get(part)
        if gap is not None and f"{part}_from_goal" in readings:
            far |= (readings[f"{part}_from_goal"].to_numpy(dtype=float) >= float(gap))
    return far


def _counts_since(events: pd.DataFrame | None, date_column: str, patient_ids: pd.Index, since: pd.Timestamp,
                  as_of: pd.Timestamp) -> pd.Series:
    """Events per patient dated after ``since`` and on or before ``as_of``."""
    if events is None or events.empty:
        return pd.Series(0, index=patient_ids, dtype="int64")
    dates = events[date_column]
    hit = events[(dates > since) & (dates <= as_of)]
    return hit.groupby("patient_id").size().reindex(patient_ids, fill_value=0).astype("int64")


def priority_list(cohort: Cohort, params: Params) -> pd.DataFrame:
    """The prioritised list of every patient enrolled on ``as_of``, ranked within team (score, then days since
    contact, then patient_id); the columns of :data:`LEAD_COLUMNS` then the per-measure readings."""
    settings = params.priority
    high, medium = check_bands(settings)
    weights = settings["weights"]
    as_of = pd.Timestamp(params.as_of)
    patients = enrolled_on(cohort.patients, as_of)
    ids = pd.Index(patients["patient_id"], name="patient_id")
    measurements = cohort.measurements if cohort.has("measurements") else None
    if measurements is None:
        measurements = pd.DataFrame({"patient_id": pd.Series(dtype=str), "measure": pd.Series(dtype=str),
                                     "measured_on": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float)})
    readings = latest_goal_readings(measurements, params, ids, as_of)
    goal_measures = [c[: -len("_at_goal")] for c in readings.columns if c.endswith("_at_goal")]
    out = patients[["team_id", "patient_id", "enrolled_on"]].set_index("patient_id", drop=False)
    not_at_goal = pd.DataFrame({g: readings[f"{g}_at_goal"].eq(False).fillna(False).to_numpy(bool)
                                for g in goal_measures}, index=ids)
    far = pd.DataFrame({g: not_at_goal[g].to_numpy() & _far(params, g, readings) for g in goal_measures}, index=ids)
    out["n_not_at_goal"] = not_at_goal.sum(axis=1).astype("int64")
    out["n_far_from_goal"] = far.sum(axis=1).astype("int64")
    named = np.where(not_at_goal.to_numpy(), np.array(goal_measures, dtype=object), "")
    out["measures_not_at_goal"] = ["; ".join(x for x in row if x) for row in named]
    flags = [c for c in conditions() if c in patients]
    out["n_conditions"] = (patients[flags].fillna(0).astype(int).sum(axis=1).to_numpy() if flags
                           else np.zeros(len(patients), dtype="int64"))
    six, twelve = as_of - pd.DateOffset(months=6), as_of - pd.DateOffset(months=12)
    use = cohort.utilization if cohort.has("utilization") else None
    ed = use[use["kind"] == "ed_visit"] if use is not None else None
    admitted = use[use["kind"].isin(ADMISSIONS)] if use is not None else None
    out["ed_visits_6m"] = _counts_since(ed, "occurred_on", ids, six, as_of)
    out["ed_visits_12m"] = _counts_since(ed, "occurred_on", ids, twelve, as_of)
    out["admissions_6m"] = _counts_since(admitted, "occurred_on", ids, six, as_of)
    out["admissions_12m"] = _counts_since(admitted, "occurred_on", ids, twelve, as_of)
    mtps = cohort.mtps if cohort.has("mtps") else None
    if mtps is not None and len(mtps):
        open_ = mtps[(mtps["identified_on"] <= as_of) & (mtps["resolved_on"].isna() | (mtps["resolved_on"] > as_of))]
        out["open_mtps"] = open_.groupby("patient_id").size().reindex(ids, fill_value=0).astype("int64")
    else:
        out["open_mtps"] = 0
    seen = measurements[measurements["patient_id"].isin(ids) & (measurements["measured_on"] <= as_of)]
    goal_read = seen[seen["measure"].isin(list(params.goals))]  # any reading of a goal measure, a part alone too
    read_on = goal_read.groupby("patient_id")["measured_on"].max().reindex(ids)
    out["last_reading_on"] = read_on
    out["days_since_reading"] = pd.array((as_of - read_on).dt.days, dtype="Int64")
    out["no_recent_reading"] = (read_on.isna() | (out["days_since_reading"] > settings["stale_days"])).fillna(True).astype(bool)
    contact = [pd.to_datetime(patients.set_index("patient_id")["enrolled_on"]).reindex(ids)]
    contact.append(seen.groupby("patient_id")["measured_on"].max().reindex(ids))
    if mtps is not None and len(mtps):
        for col in ("identified_on", "resolved_on"):
            d = mtps[mtps[col] <= as_of]
            contact.append(d.groupby("patient_id")[col].max().reindex(ids))
    out["last_contact_on"] = pd.concat(contact, axis=1).max(axis=1)
    out["days_since_contact"] = pd.array((as_of - out["last_contact_on"]).dt.days, dtype="Int64")
    out["points_not_at_goal"] = weights["not_at_goal"] * out["n_not_at_goal"]
    out["points_far_from_goal"] = weights["far_from_goal"] * out["n_far_from_goal"]
    out["points_conditions"] = weights["condition"] * out["n_conditions"]
    out["points_acute_care"] = (weights["ed_visit_6m"] * out["ed_visits_6m"] + weights["ed_visit_12m"] * out["ed_visits_12m"]
                                + weights["admission_6m"] * out["admissions_6m"]
                                + weights["admission_12m"] * out["admissions_12m"])
    out["points_open_mtps"] = weights["open_mtp"] * out["open_mtps"]
    out["points_no_recent_reading"] = weights["no_recent_reading"] * out["no_recent_reading"].astype(int)
    out[POINT_COLUMNS] = out[POINT_COLUMNS].astype(float)
    out["score"] = out[POINT_COLUMNS].sum(axis=1).round(6)
    out["band"] = np.select([out["score"] >= high, out["score"] >= medium], ["high", "medium"], "low")
    out = out.reset_index(drop=True).sort_values(
        ["team_id", "score", "days_since_contact", "patient_id"], ascending=[True, False, False, True],
        kind="stable", na_position="first").reset_index(drop=True)
    out["rank"] = out.groupby("team_id").cumcount() + 1
    detail = readings.reindex(out["patient_id"]).reset_index(drop=True)
    for col in ("last_reading_on", "last_contact_on", "enrolled_on"):
        out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d")
    for col in [c for c in detail.columns if c.endswith("_on")]:
        detail[col] = pd.to_datetime(detail[col]).dt.strftime("%Y-%m-%d")
    return pd.concat([out[LEAD_COLUMNS], detail], axis=1)


def band_counts(priority: pd.DataFrame, teams: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per team and for all teams (``team_id = all``): patients in each band, patients not at goal on some
    measure, how many of them have no recent reading and their share (%), and the median score."""
    def count(g: pd.DataFrame) -> dict:
        not_at_goal = g["n_not_at_goal"] > 0
        stale = int((not_at_goal & g["no_recent_reading"].astype(bool)).sum())
        return {"patients": len(g), **{b: int((g["band"] == b).sum()) for b in BANDS},
                "not_at_goal": int(not_at_goal.sum()), "not_at_goal_no_recent_reading": stale,
                "pct_not_at_goal_no_recent_reading": 100 * stale / not_at_goal.sum() if not_at_goal.any() else np.nan,
                "median_score": float(g["score"].median()) if len(g) else np.nan}
    team_ids = sorted(set(priority["team_id"]) | (set(teams["team_id"]) if teams is not None else set()))
    rows = [{"team_id": t, **count(priority[priority["team_id"] == t])} for t in team_ids]
    rows.append({"team_id": "all", **count(priority)})
    table = pd.DataFrame(rows, columns=BAND_COLUMNS)
    for col in ("patients", *BANDS, "not_at_goal", "not_at_goal_no_recent_reading"):
        table[col] = table[col].astype("int64")
    return table


def weights_table(params: Params) -> pd.DataFrame:
    """The score's weights and band cut-offs as the notebook states them: the score is documented, not hidden."""
    settings = params.priority
    rows = [{"part": f"weights.{k}", "value": v} for k, v in settings["weights"].items()]
    rows += [{"part": f"far_from_goal.{k}", "value": v} for k, v in settings["far_from_goal"].items()]
    rows += [{"part": f"bands.{k}", "value": v} for k, v in settings["bands"].items()]
    rows.append({"part": "stale_days", "value": settings["stale_days"]})
    return pd.DataFrame(rows)
