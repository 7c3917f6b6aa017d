"""Cohort overview: who is in the data, how much was measured, and for how long."""

from __future__ import annotations
import pandas as pd
from evaluation.core.labels import conditions
from evaluation.data.cohort import Cohort


def teams_summary(cohort: Cohort) -> pd.DataFrame:
    """Teams counted by state, track and setting, with patients enrolled."""
    patients = cohort.patients.groupby("team_id").size().rename("patients")
    teams = cohort.teams.join(patients, on="team_id").fillna({"patients": 0})
    out = (teams.groupby(["state", "track", "setting"], dropna=False)
           .agg(teams=("team_id", "size"), patients=("patients", "sum")).reset_index())
    out["patients"] = out["patients"].astype(int)
    return out.sort_values(["state", "track", "setting"]).reset_index(drop=True)


def patients_per_team(cohort: Cohort) -> pd.DataFrame:
    """Per team: patients, how many per condition, exits and deaths, and the enrollment window."""
    p = cohort.patients
    conds = [c for c in conditions() if c in p.columns and p[c].notna().any()]
    agg = p.groupby("team_id").agg(
        patients=("patient_id", "size"),
        first_enrolled=("enrolled_on", "min"),
        last_enrolled=("enrolled_on", "max"),
        exited=("exited_on", "count"),
        died=("exit_reason", lambda s: int((s == "died").sum())),
    )
    for c in conds:
        agg[c] = p.groupby("team_id")[c].sum().astype(int)
    out = cohort.teams[["team_id", "team_name", "state", "track"]].join(agg, on="team_id")
    out["patients"] = out["patients"].fillna(0).astype(int)
    for col in ["exited", "died", *conds]:
        out[col] = out[col].fillna(0).astype(int)
    return out.sort_values("team_id").reset_index(drop=True)


def measurements_summary(cohort: Cohort) -> pd.DataFrame:
    """Per measure: rows, patients measured, measurements per patient, value spread and dates."""
    m = cohort.measurements
    if m.empty:
        return pd.DataFrame(columns=["measure", "measurements", "patients", "per_patient_median",
                                     "value_median", "value_p10", "value_p90", "first_on", "last_on"])
    g = m.groupby("measure")
    out = pd.DataFrame({
        "measurements": g.size(),
        "patients": g["patient_id"].nunique(),
        "per_patient_median": m.groupby(["measure", "patient_id"]).size().groupby("measure").median(),
        "value_median": g["value"].median(),
        "value_p10": g["value"].quantile(0.10),
        "value_p90": g["value"].quantile(0.90),
        "first_on": g["measured_on"].min(),
        "last_on": g["measured_on"].max(),
    })
    return out.reset_index()


def follow_up_days(cohort: Cohort) -> pd.DataFrame:
    """Per patient: days from enrollment to the last measurement (capped at exit), and whether exited."""
    p = cohort.patients[["patient_id", "team_id", "enrolled_on", "exited_on"]]
    last = cohort.measurements.groupby("patient_id")["measured_on"].max().rename("last_measured_on")
    out = p.join(last, on="patient_id")
    end = out["last_measured_on"].where(out["exited_on"].isna() | (out["last_measured_on"] <= out["exited_on"]),
                                        out["exited_on"])
    out["follow_up_days"] = (end - out["enrolled_on"]).dt.days.clip(lower=0)
    return out[["patient_id", "team_id", "follow_up_days"]]


def follow_up_summary(cohort: Cohort) -> pd.DataFrame:
    """Follow-up time per team: median and quartiles in days, and patients never measured."""
    fu = follow_up_days(cohort)
    g = fu.groupby("team_id")["follow_up_days"]
    out = pd.DataFrame({
        "patients": fu.groupby("team_id").size(),
        "never_measured": g.apply(lambda s: int(s.isna().sum())),
        "median_days": g.median(),
        "q1_days": g.quantile(0.25),
        "q3_days": g.quantile(0.75),
    }).reset_index()
    total = pd.DataFrame({"team_id": ["all"], "patients": [len(fu)],
                          "never_measured": [int(fu["follow_up_days"].isna().sum())],
                          "median_days": [fu["follow_up_days"].median()],
                          "q1_days": [fu["follow_up_days"].quantile(0.25)],
                          "q3_days": [fu["follow_up_days"].quantile(0.75)]})
    return pd.concat([out, total], ignore_index=True)


def quality_summary(quality: pd.DataFrame) -> pd.DataFrame:
    """Problems counted per file and severity, with one example of each."""
    if quality.empty:
        return pd.DataFrame({"table": [], "severity": [], "problems": [], "example": []})
    g = quality.groupby(["table", "severity"], sort=False)
    return pd.DataFrame({"problems": g.size(), "example": g["problem"].first()}).reset_index()
