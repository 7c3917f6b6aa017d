"""The monthly reports as interrupted time series: how much, and when, each team's monthly measure changed.

Run charts say *whether* a measure moved; segmented regression (Wagner et al. 2002; Lopez Bernal, Cummins and
Gasparrini 2017) says by how much: per team and measure a level change at the team's intervention month and a
change of slope after it, with their confidence intervals (:func:`evaluation.stats.its.fit_segmented`: a binomial
GLM of numerator of denominator by default, options in params ``its``). Across teams the team estimates are pooled
by random-effects meta-analysis on the model's scale (the two-stage design of multi-site time series, REML as
:mod:`evaluation.stats.meta_analysis`), a row ``team_id = all`` per measure: teams start at different months, so
their series cannot simply be summed.

``tables/its.csv`` holds one row per team and measure, then the pooled rows, with the columns of DESIGN 3.3 and
the autocorrelation diagnostics (Durbin-Watson, Ljung-Box) and a warning where fewer than ``its.min_points``
months lie on either side of the intervention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from evaluation.core.errors import ParamsError
from evaluation.stats.its import SegmentedFit, fit_segmented
from evaluation.stats.meta_analysis import random_effects
from .run_charts import join_months, prepare_points

ITS_COLUMNS = ["team_id", "measure", "model", "n_pre", "n_post", "level_change", "level_ci_low", "level_ci_high",
               "slope_change", "slope_ci_low", "slope_ci_high", "p_level", "p_slope", "scale", "autocorrelation",
               "harmonics", "intervention", "durbin_watson", "ljung_box_p", "ljung_box_lags", "dispersion", "teams",
               "tau2", "i2", "warning"]
ALL_TEAMS = "all"  # the team_id of a pooled row
POOLING = "REML random effects of the team estimates"


@dataclass
class ITSResult:
    """Segmented regressions of one cohort's monthly reports: ``table`` is ``tables/its.csv``; ``series`` one row
    per team, measure and month with the observed percentage, the fit and the counterfactual (for the charts);
    ``interventions`` each team's intervention month and where it came from."""

    table: pd.DataFrame
    series: pd.DataFrame
    interventions: pd.DataFrame
    settings: dict
    alpha: float
    team_names: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def measures(self) -> list[str]:
        return sorted(self.table["measure"].unique()) if len(self.table) else []

    def team_rows(self) -> pd.DataFrame:
        return self.table[self.table["team_id"] != ALL_TEAMS]

    def pooled_rows(self) -> pd.DataFrame:
        return self.table[self.table["team_id"] == ALL_TEAMS]

    def _repr_html_(self) -> str:
        return self.table._repr_html_()

    def __repr__(self) -> str:
        return self.table.to_string(index=False)


def intervention_months(teams: pd.DataFrame, pdsa_cycles: pd.DataFrame | None, rule: str) -> pd.DataFrame:
    """Each team's intervention month (the first of the month) under ``its.intervention``: ``joined_on`` (the month
    the team joined), ``first_pdsa`` (the month of its first PDSA cycle; a team without one has none) or one month
    (YYYY-MM) for every team. Columns team_id, intervention (a Timestamp, NaT when none), source."""
    ids = teams["team_id"].astype(str).to_numpy()
    if rule == "joined_on":
        month = pd.Series(ids).map(join_months(teams)).to_numpy()
        source = "the month the team joined"
    elif rule == "first_pdsa":
        if pdsa_cycles is None or not len(pdsa_cycles):
            raise ParamsError("`its.intervention` is first_pdsa but the cohort has no pdsa_cycles.csv; use joined_on "
                              "or a month (YYYY-MM)", key="its.intervention")
        started = pd.to_datetime(pdsa_cycles["started_on"], errors="coerce")
        first = started.groupby(pdsa_cycles["team_id"].astype(str)).min().dt.to_period("M").dt.to_timestamp()
        month = pd.Series(ids).map(first).to_numpy()
        source = "the month of the team's first PDSA cycle"
    else:
        month = np.full(len(ids), pd.Timestamp(f"{rule}-01"))
        source = f"{pd.Timestamp(rule + '-01'):%B %Y} for every team (params)"
    return pd.DataFrame({"team_id": ids, "intervention": pd.to_datetime(month), "source": source})


def _month_number(months: pd.Series) -> np.ndarray:
    """Calendar months as one integer count (a gap in the reports keeps its place in time)."""
    month = pd.to_datetime(months.astype(str).str[:7] + "-01")
    return (month.dt.year * 12 + month.dt.month - 1).to_numpy(dtype=np.int64)


def fit_series(series: pd.DataFrame, intervention: pd.Timestamp, settings: Mapping[str, Any], alpha: float
               ) -> SegmentedFit:
    """One team's segmented regression of one measure: ``series`` holds month, numerator and denominator (rows with
    a denominator of 0 already left out); months from ``intervention`` on are after."""
    month = pd.to_datetime(series["month"].astype(str).str[:7] + "-01")
    number = _month_number(series["month"])
    return fit_segmented(series["numerator"].to_numpy(dtype=float), series["denominator"].to_numpy(dtype=float),
                         (number - number.min()).astype(float), (month >= intervention).to_numpy(),
                         model=settings["model"], autocorrelation=settings["autocorrelation"],
                         harmonics=settings["harmonics"], month_of_year=month.dt.month.to_numpy(),
                         slope_change=settings["slope_change"], alpha=alpha, hac_lags=settings["hac_lags"],
                         min_points=settings["min_points"])


def _checked(settings: Mapping[str, Any]) -> dict:
    """``its`` params with the one combination the schema cannot see refused: AR(1) errors need the linear model."""
    s = dict(settings)
    if s["autocorrelation"] == "ar1" and s["model"] != "linear":
        raise ParamsError(f"`its.autocorrelation: ar1` is offered for `its.model: linear` (regression with AR(1) "
                          f"errors on the percentage); with `its.model: {s['model']}` use newey-west for "
                          f"autocorrelation-robust standard errors", key="its.autocorrelation")
    return s


def analyse(monthly_reports: pd.DataFrame, its: Mapping[str, Any], *, teams: pd.DataFrame,
            pdsa_cycles: pd.DataFrame | None = None, alpha: float = 0.05,
            measures: list[str] | None = None) -> ITSResult:
    """Segmented regression of every team's monthly measures at its intervention month, pooled per measure across
    teams; params ``its`` (intervention, model, slope_change, harmonics, autocorrelation, hac_lags, min_points,
    measures). ``measures`` (the charted ones) applies when ``its.measures`` is not set."""
    settings = _checked(its)
    points = prepare_points(monthly_reports, measures=settings.get("measures") or measures, teams=teams)
    points = points[points["denominator"].fillna(0).astype(float) > 0]
    starts = intervention_months(teams, pdsa_cycles, settings["intervention"])
    start_of = dict(zip(starts["team_id"], starts["intervention"]))
    rows, drawn, notes = [], [], []
    fits: dict[tuple[str, str], SegmentedFit] = {}
    for (team_id, measure), g in points.groupby(["team_id", "measure"], sort=True):
        start = start_of.get(str(team_id), pd.NaT)
        if pd.isna(start):
            notes.append(f"{team_id} has no intervention month ({starts['source'].iloc[0]}): not modelled")
            continue
        fit = fits[(team_id, measure)] = fit_series(g, start, settings, alpha)
        rows.append({"team_id": team_id, "measure": measure, **fit.as_row(), "intervention": f"{start:%Y-%m}",
                     "teams": 1, "tau2": np.nan, "i2": np.nan, "warning": "; ".join(fit.warnings)})
        drawn.append(pd.DataFrame({"team_id": team_id, "measure": measure, "month": g["month"].to_numpy(),
                                   "percent": 100 * g["proportion"].to_numpy(dtype=float),
                                   "after": (pd.to_datetime(g["month"].astype(str).str[:7] + "-01") >= start).to_numpy(),
                                   "fitted": _percent(fit.fitted, settings["model"]),
                                   "counterfactual": _percent(fit.counterfactual, settings["model"])}))
    table = pd.DataFrame(rows, columns=ITS_COLUMNS)
    pooled = [pooled_row(measure, [fits[k] for k in fits if k[1] == measure], settings, alpha)
              for measure in sorted({k[1] for k in fits})]
    table = pd.concat([table, pd.DataFrame(pooled, columns=ITS_COLUMNS)], ignore_index=True) if pooled else table
    for col in ("n_pre", "n_post", "harmonics", "ljung_box_lags", "teams"):
        table[col] = table[col].astype("Int64")
    series = (pd.concat(drawn, ignore_index=True) if drawn else
              pd.DataFrame(columns=["team_id", "measure", "month", "percent", "after", "fitted", "counterfactual"]))
    names = dict(zip(teams["team_id"], teams["team_name"])) if "team_name" in teams else {}
    return ITSResult(table=table, series=series, interventions=starts, settings=settings, alpha=alpha,
                     team_names=names, notes=notes)


def _percent(values: np.ndarray, model: str) -> np.ndarray:
    """A fit on the response scale as a percentage (the linear model is fitted on the percentage already)."""
    values = np.asarray(values, dtype=float)
    return values if model == "linear" else 100 * values


def pooled_row(measure: str, fits: list[SegmentedFit], settings: Mapping[str, Any], alpha: float) -> dict:
    """The teams' level (and slope) changes of one measure pooled by REML random effects on the model's scale (log
    odds or log rate ratios, percentage points for the linear model); teams whose change could not be estimated
    are left out. Pooling needs two teams."""
    ratio = settings["model"] != "linear"
    row = {"team_id": ALL_TEAMS, "measure": measure, "model": f"{settings['model']}, pooled: {POOLING}",
           "n_pre": sum(f.n_pre for f in fits), "n_post": sum(f.n_post for f in fits),
           "scale": fits[0].scale if fits else "", "autocorrelation": settings["autocorrelation"],
           "harmonics": settings["harmonics"], "intervention": settings["intervention"]}
    warnings = []
    for part, coef, se in (("level", "level_coef", "level_se"), ("slope", "slope_coef", "slope_se")):
        usable = [f for f in fits if np.isfinite(getattr(f, coef)) and np.isfinite(getattr(f, se))
                  and getattr(f, se) > 0]
        names = (f"{part}_change", f"{part}_ci_low", f"{part}_ci_high", f"p_{part}")
        if len(usable) < 2:
            row.update(dict.fromkeys(names, np.nan))
            if part == "level" or settings["slope_change"]:
                warnings.append(f"{len(usable)} team(s) with an estimated {part} change: none pooled")
            continue
        meta = random_effects([getattr(f, coef) for f in usable], [getattr(f, se) ** 2 for f in usable],
                              method="REML", alpha=alpha)
        back = np.exp if ratio else (lambda x: x)
        row.update(zip(names, (float(back(meta.estimate)), float(back(meta.ci_low)), float(back(meta.ci_high)),
                               float(meta.p_value))))
        if part == "level":
            row.update(teams=meta.k, tau2=meta.tau2, i2=meta.i2)
    row["warning"] = "; ".join(warnings)
    return row
