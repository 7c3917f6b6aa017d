"""Time to MTP resolution: days from a medication therapy problem's identification to its confirmed resolution,
by Kaplan-Meier with unresolved MTPs censored at exit or the data end (the one MTP-resolution estimate every
notebook and the report use: ``tables/mtp_resolution.csv``)."""
from __future__ import annotations

import pandas as pd
from evaluation.core.labels import MTP_NEEDS, NEEDS
from evaluation.core.params import Params
from evaluation.data.cohort import Cohort
from .compute import patient_table
from .kaplan_meier import KaplanMeierGroups, km_groups


def mtp_resolution_data(cohort: Cohort, params: Params) -> pd.DataFrame:
    """One row per MTP: days from identification to confirmed resolution (event) or censoring.

    An unresolved MTP is censored at the patient's exit or at the data end (the latest date in
    measurements and mtps), whichever is earlier.
    """
    cols = ["patient_id", "team_id", "track", "category", "need", "identified_on", "resolved_on", "days", "event"]
    if not cohort.has("mtps"):
        return pd.DataFrame(columns=cols)
    m = cohort.mtps.merge(patient_table(cohort)[["patient_id", "team_id", "track", "exited_on"]], on="patient_id",
                          how="left")
    dates = [m["identified_on"].max(), m["resolved_on"].max()]
    if cohort.measurements is not None and len(cohort.measurements):
        dates.append(cohort.measurements["measured_on"].max())
    data_end = max(d for d in dates if pd.notna(d))
    censor_on = m["exited_on"].where(m["exited_on"].notna() & (m["exited_on"] < data_end), data_end)
    end = m["resolved_on"].where(m["resolved_on"].notna(), censor_on)
    m["days"] = (end - m["identified_on"]).dt.days.astype(float)
    m["event"] = m["resolved_on"].notna().astype(int)
    m["need"] = m["category"].astype(str).map(MTP_NEEDS).fillna("other")
    m = m[m["days"] >= 0]  # a resolution before identification is a data error (validation reports it)
    return m.sort_values(["identified_on", "patient_id", "category"]).reset_index(drop=True)[cols]


def mtp_kaplan_meier(mtp_data: pd.DataFrame, params: Params, by: str | None = "category") -> KaplanMeierGroups:
    """Kaplan-Meier of time to MTP resolution, overall or by category."""
    return km_groups(mtp_data, by, params.ci_method, params.alpha, "mtp_resolution", "confirmed resolved")


def mtp_resolution(mtp_data: pd.DataFrame, params: Params, by: str = "category") -> pd.DataFrame:
    """Per MTP category (or medication-related ``need``) and all: n, resolved, median days to resolution with CI,
    % resolved by each horizon. The ``by`` column names the row (``category`` or ``need``; ``all`` first)."""
    horizons = [float(h) for h in params.survival["mtp_horizons_days"]]
    rows = []
    for group_by in (None, by):
        km = mtp_kaplan_meier(mtp_data, params, group_by)
        for label, fitter in km.fitters.items():
            low, high = fitter.median_ci_
            row = {"group": label, by: label.split("=", 1)[1] if "=" in label else "all",
                   "n": fitter.n_, "resolved": fitter.events_, "median_days": fitter.median_,
                   "median_ci_low": low, "median_ci_high": high, "ci_method": params.ci_method,
                   "median_text": fitter.median_text}
            at = fitter.at(horizons)
            for h, r in zip(horizons, at.itertuples(index=False)):
                row[f"pct_resolved_{h:g}d"] = 100 * (1 - r.survival)
                row[f"pct_resolved_{h:g}d_ci_low"] = 100 * (1 - r.ci_high)
                row[f"pct_resolved_{h:g}d_ci_high"] = 100 * (1 - r.ci_low)
            rows.append(row)
    return pd.DataFrame(rows)


def mtp_needs(mtp_data: pd.DataFrame, params: Params) -> pd.DataFrame:
    """``tables/mtp_needs.csv``: MTPs and their resolution by medication-related need (indication, effectiveness,
    safety, adherence; Cipolle, Strand and Morley), with the patients having one and the categories each need
    gathers; Kaplan-Meier as :func:`mtp_resolution`. Needs without an MTP are left out."""
    table = mtp_resolution(mtp_data, params, by="need")
    order = {n: i for i, n in enumerate(("all", *NEEDS))}
    table = table.sort_values("need", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    patients = mtp_data.groupby("need")["patient_id"].nunique()
    table.insert(2, "patients", [int(mtp_data["patient_id"].nunique()) if n == "all" else int(patients.get(n, 0))
                                 for n in table["need"]])
    table.insert(2, "categories", ["all" if n == "all" else "; ".join(c for c, need in MTP_NEEDS.items() if need == n)
                                   for n in table["need"]])
    return table
