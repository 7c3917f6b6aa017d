"""INR time in therapeutic range by Rosendaal's linear interpolation: per patient, the share of the time
between successive INRs that the interpolated INR spends inside a target range.

Cohort-agnostic: it takes readings (patient_id, measured_on, value) and a range; which readings count
(INRs from enrollment on) and where the range comes from (``goals.inr``) is the outcome analysis' business.
"""

from __future__ import annotations
import numpy as np
import pandas as pd

TTR_COLUMNS = ["patient_id", "n_inr", "first_on", "last_on", "days_observed", "days_in_range", "ttr_percent",
               "gaps_skipped", "days_skipped"]


def time_in_therapeutic_range(measurements: pd.DataFrame, low: float, high: float,
                              max_gap_days: int = 56) -> pd.DataFrame:
    """Per-patient INR time in therapeutic range by Rosendaal's linear interpolation (Rosendaal et al. 1993,
    Thromb Haemost 69:236): between two successive INRs the INR is taken to change linearly, and the time
    in range is the share of that straight line lying within [low, high] (computed exactly, not day by
    day). Intervals longer than ``max_gap_days`` are not interpolated: they count neither as time in range
    nor as time observed (``gaps_skipped`` / ``days_skipped`` say how much was left out).

    ``measurements`` has patient_id, measured_on and value (every row an INR). A patient with one INR, or
    with only skipped gaps, has ``ttr_percent`` NaN. Raises ValueError for a range with low above high or a
    gap limit that is not a positive number of days.
    """
    if low > high:
        raise ValueError(f"the range's low must not exceed its high; got low={low!r}, high={high!r}")
    if max_gap_days is None or max_gap_days <= 0:
        raise ValueError(f"max_gap_days must be a positive number of days; got {max_gap_days!r}")
    m = (measurements.dropna(subset=["patient_id", "measured_on", "value"])
         .sort_values(["patient_id", "measured_on"], kind="stable").reset_index(drop=True))
    # One row per interval between successive INRs of a patient (vectorised: cohorts can be large).
    nxt = m.groupby("patient_id", sort=False)[["measured_on", "value"]].shift(-1)
    span = (nxt["measured_on"] - m["measured_on"]).dt.days.astype(float)
    v0, v1 = m["value"].to_numpy(float), nxt["value"].to_numpy(float)
    lo, hi = np.fmin(v0, v1), np.fmax(v0, v1)
    with np.errstate(divide="ignore", invalid="ignore"):
        overlap = np.clip(np.fmin(hi, high) - np.fmax(lo, low), 0, None)
        fraction = np.where(hi > lo, overlap / (hi - lo), ((v0 >= low) & (v0 <= high)).astype(float))
    used = (span > 0) & (span <= max_gap_days)
    skipped = span > max_gap_days
    intervals = pd.DataFrame({
        "patient_id": m["patient_id"],
        "days_observed": np.where(used, span, 0.0),
        "days_in_range": np.where(used, span * fraction, 0.0),
        "gaps_skipped": skipped.astype(int),
        "days_skipped": np.where(skipped, span, 0.0),
    })
    per = intervals.groupby("patient_id", sort=True).sum()
    dates = m.groupby("patient_id", sort=True)["measured_on"].agg(["size", "min", "max"])
    out = pd.DataFrame({
        "patient_id": per.index,
        "n_inr": dates["size"].to_numpy(),
        "first_on": dates["min"].to_numpy(),
        "last_on": dates["max"].to_numpy(),
        "days_observed": per["days_observed"].to_numpy(),
        "days_in_range": per["days_in_range"].to_numpy(),
        "ttr_percent": np.where(per["days_observed"] > 0,
                                100 * per["days_in_range"] / per["days_observed"].where(per["days_observed"] > 0), np.nan),
        "gaps_skipped": per["gaps_skipped"].to_numpy(),
        "days_skipped": per["days_skipped"].to_numpy(),
    }, columns=TTR_COLUMNS)
    out["n_inr"] = out["n_inr"].astype("Int64")
    out["gaps_skipped"] = out["gaps_skipped"].astype("Int64")
    return out.reset_index(drop=True)
