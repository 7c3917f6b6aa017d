"""The headline comparison: one value per cohort for each headline (patients, teams, attendance, % at goal at
baseline and follow-up, mean change, median time to goal, acute-care rate ratios, net ROI), and each cohort's
difference from the reference with its CI where one is defined.

``values`` is tidy (a row per headline and cohort: ``tables/comparison_values.csv``), ``differences`` too (a row
per headline and compared cohort: ``tables/comparison_differences.csv``); :func:`side_by_side` sets them out as a
reader reads them, a column per cohort.
"""

from __future__ import annotations
import math
import numpy as np
import pandas as pd
from evaluation.core.labels import code_label, measure_label
from evaluation.stats.differences import (Difference, difference_in_means, difference_in_proportions,
                                          ratio_of_ratios)
from .cohorts import CohortReport, Comparison

VALUE_COLUMNS = ["metric", "measure", "cohort", "n", "value", "ci_low", "ci_high", "unit", "note"]
DIFFERENCE_COLUMNS = ["metric", "measure", "cohort", "reference", "difference", "ci_low", "ci_high", "p_value",
                      "method"]
METRICS = {  # metric -> (what a reader reads, unit)
    "patients": ("Patients enrolled", "patients"),
    "teams": ("Teams", "teams"),
    "attendance": ("Attendance at collaborative events", "%"),
    "pct_goal_baseline": ("At goal at baseline", "%"),
    "pct_goal_followup": ("At goal at follow-up", "%"),
    "mean_change": ("Mean change, baseline to follow-up", "measure's unit"),
    "median_days_to_goal": ("Median days to goal (Kaplan-Meier)", "days"),
    "rate_ratio": ("Rate ratio, after / before enrollment", "ratio"),
    "net_roi_pct": ("Net return on investment", "%"),
}
NO_CI = "no CI: not a sample estimate"  # what the differences table says where a CI is not defined


def _all_row(table: pd.DataFrame | None, **match) -> pd.Series | None:
    """The cohort-wide (``group == all``) row of ``table`` matching ``match``, or None."""
    if table is None or table.empty:
        return None
    rows = table[table["group"] == "all"] if "group" in table else table
    for key, value in match.items():
        rows = rows[rows[key].astype(str) == str(value)]
    return rows.iloc[0] if len(rows) else None


def _num(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def cohort_values(cohort: CohortReport, measures: list[str]) -> list[dict]:
    """The headlines of one cohort, from its published tables (a headline whose table is absent is left out)."""
    rows: list[dict] = []

    def add(metric: str, measure: str = "", n=math.nan, value=math.nan, low=math.nan, high=math.nan, unit="",
            note="") -> None:
        rows.append({"metric": metric, "measure": measure, "cohort": cohort.label, "n": n, "value": value,
                     "ci_low": low, "ci_high": high, "unit": unit or METRICS[metric][1], "note": note})

    per_team = cohort.table("patients_per_team")
    if per_team is not None:
        add("patients", n=int(per_team["patients"].sum()), value=int(per_team["patients"].sum()))
        add("teams", n=len(per_team), value=len(per_team))
    engagement = cohort.table("engagement_by_team")
    if engagement is not None and engagement["events_recorded"].sum() > 0:
        add("attendance", n=len(engagement),
            value=100 * engagement["events_attended"].sum() / engagement["events_recorded"].sum(),
            note="events attended of those whose attendance was recorded, all teams pooled")
    change = cohort.table("outcome_change")
    for m in measures:
        row = _all_row(change, measure=m)
        if row is None:
            continue
        unit = measure_label(m, unit=True).partition("(")[2].rstrip(")") if "(" in measure_label(m, unit=True) else ""
        if not pd.isna(row.get("pct_goal_baseline")):
            add("pct_goal_baseline", m, n=int(row["n"]), value=_num(row["pct_goal_baseline"]), note=str(row["goal"]))
            add("pct_goal_followup", m, n=int(row["n"]), value=_num(row["pct_goal_followup"]), note=str(row["goal"]))
        if not pd.isna(row.get("mean_change")):
            add("mean_change", m, n=int(row["n"]), value=_num(row["mean_change"]), low=_num(row["change_ci_low"]),
                high=_num(row["change_ci_high"]), unit=unit)
    ttg = cohort.table("time_to_goal")
    for m in measures:
        row = _all_row(ttg, measure=m)
        if row is not None:
            add("median_days_to_goal", m, n=int(row["n"]), value=_num(row["median_days"]),
                low=_num(row["median_ci_low"]), high=_num(row["median_ci_high"]),
                note=f"{row['ci_method']} CI; blank: not reached")
    rates = cohort.table("value_utilization")
    for kind in (list(dict.fromkeys(rates["kind"])) if rates is not None else []):
        row = _all_row(rates, kind=kind)
        if row is not None and not pd.isna(row["rate_ratio"]):
            add("rate_ratio", kind, n=int(row["patients"]), value=_num(row["rate_ratio"]), low=_num(row["ci_low"]),
                high=_num(row["ci_high"]), note=str(row["model"]))
    roi = _all_row(cohort.table("value_roi"))
    if roi is not None and not pd.isna(roi["net_roi_pct"]):
        add("net_roi_pct", n=int(roi["patients"]), value=_num(roi["net_roi_pct"]))
    return rows


def headline_values(comparison: Comparison) -> pd.DataFrame:
    """``tables/comparison_values.csv``: a row per headline and cohort (metric, measure, cohort, n, value, CI)."""
    measures = comparison.shared_measures()
    rows = [r for c in comparison.cohorts for r in cohort_values(c, measures)]
    return pd.DataFrame(rows, columns=VALUE_COLUMNS)


def _difference(metric: str, measure: str, ref: CohortReport, other: CohortReport, alpha: float) -> Difference:
    """The difference other - reference (a ratio for rate ratios) of one headline, from the cohorts' tables."""
    if metric in ("pct_goal_baseline", "pct_goal_followup"):
        when = metric.removeprefix("pct_goal_")
        a, b = _all_row(ref.table("outcome_change"), measure=measure), _all_row(other.table("outcome_change"),
                                                                                 measure=measure)
        d = difference_in_proportions(int(a[f"n_goal_{when}"]), int(a["n"]), int(b[f"n_goal_{when}"]), int(b["n"]),
                                      alpha=alpha)
        return Difference(100 * d.estimate, 100 * d.ci_low, 100 * d.ci_high, d.p_value, d.method)
    if metric == "mean_change":
        a, b = _all_row(ref.table("outcome_change"), measure=measure), _all_row(other.table("outcome_change"),
                                                                                 measure=measure)
        return difference_in_means(_num(a["mean_change"]), _num(a["sd_change"]), int(a["n"]),
                                   _num(b["mean_change"]), _num(b["sd_change"]), int(b["n"]), alpha=alpha)
    if metric == "rate_ratio":
        a, b = _all_row(ref.table("value_utilization"), kind=measure), _all_row(other.table("value_utilization"),
                                                                                kind=measure)
        return ratio_of_ratios(_num(a["rate_ratio"]), _num(a["ci_low"]), _num(a["ci_high"]), _num(b["rate_ratio"]),
                               _num(b["ci_low"]), _num(b["ci_high"]), ci_alpha=ref.alpha, alpha=alpha)
    return Difference(math.nan, math.nan, math.nan, math.nan, NO_CI)


def headline_differences(comparison: Comparison, values: pd.DataFrame) -> pd.DataFrame:
    """``tables/comparison_differences.csv``: each other cohort against the reference, per headline: the difference
    in proportions (percentage points, Newcombe CI), in mean change (Welch), the ratio of rate ratios (Altman &
    Bland), and for counts, attendance, medians and ROI the plain difference without a CI (a count is not a
    sample estimate; two Kaplan-Meier medians have no simple difference CI)."""
    ref = comparison.reference_cohort
    rows = []
    keyed = values.set_index(["metric", "measure", "cohort"])
    for metric, measure in dict.fromkeys(zip(values["metric"], values["measure"])):
        if (metric, measure, ref.label) not in keyed.index:
            continue
        for other in comparison.others:
            if (metric, measure, other.label) not in keyed.index:
                continue
            d = _difference(metric, measure, ref, other, comparison.alpha)
            if d.method == NO_CI:
                a, b = keyed.loc[(metric, measure, ref.label), "value"], keyed.loc[(metric, measure, other.label), "value"]
                d = Difference(_num(b) - _num(a), math.nan, math.nan, math.nan, NO_CI)
            rows.append({"metric": metric, "measure": measure, "cohort": other.label, "reference": ref.label,
                         "difference": d.estimate, "ci_low": d.ci_low, "ci_high": d.ci_high, "p_value": d.p_value,
                         "method": d.method})
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def _shown(value: float, low: float = math.nan, high: float = math.nan, digits: int = 1, percent: bool = False) -> str:
    """``58.6%`` or ``-0.82 (-0.91 to -0.73)``; a dash when there is no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    fmt = f"{{:,.{digits}f}}" + ("%" if percent else "")
    text = fmt.format(value)
    if not (math.isnan(low) and math.isnan(high)):
        lo = "–" if math.isnan(low) else fmt.format(low)
        hi = "not reached" if math.isnan(high) else fmt.format(high)
        text += f" ({lo} to {hi})"
    return text


DIGITS = {"patients": 0, "teams": 0, "attendance": 1, "pct_goal_baseline": 1, "pct_goal_followup": 1,
          "mean_change": 2, "median_days_to_goal": 0, "rate_ratio": 2, "net_roi_pct": 1}


def side_by_side(values: pd.DataFrame, differences: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """The headline table as a reader reads it: a row per headline, a column per cohort (value, and its CI), and a
    column per compared cohort with the difference from the reference and its CI."""
    if values.empty:
        return pd.DataFrame(columns=["headline", *comparison.labels])
    diff = differences.set_index(["metric", "measure", "cohort"]) if len(differences) else None
    out = []
    for metric, measure in dict.fromkeys(zip(values["metric"], values["measure"])):
        label = METRICS[metric][0]
        if measure:
            what = code_label("kind", measure) if metric == "rate_ratio" else measure_label(measure)
            label = f"{what}: {label[0].lower()}{label[1:]}"
        row = {"headline": label}
        digits, percent = DIGITS[metric], METRICS[metric][1] == "%"
        for c in comparison.labels:
            v = values[(values["metric"] == metric) & (values["measure"] == measure) & (values["cohort"] == c)]
            row[c] = _shown(*(float(v[k].iloc[0]) for k in ("value", "ci_low", "ci_high")), digits=digits,
                            percent=percent) if len(v) else "–"
        for other in comparison.others:
            key = (metric, measure, other.label)
            name = f"{other.label} vs {comparison.reference}"
            if diff is None or key not in diff.index:
                row[name] = "–"
                continue
            d = diff.loc[key]
            shown = _shown(float(d["difference"]), float(d["ci_low"]), float(d["ci_high"]),
                           digits=digits if metric != "rate_ratio" else 2)
            unit = " points" if percent else ""  # a difference of two percentages is in percentage points
            ratio = "× " if metric == "rate_ratio" else ""
            sign = "+" if metric != "rate_ratio" and np.isfinite(d["difference"]) and d["difference"] > 0 else ""
            row[name] = f"{ratio}{sign}{shown}{unit}" if shown != "–" else "–"
        out.append(row)
    return pd.DataFrame(out)
