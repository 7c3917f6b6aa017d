"""Segmented regression of an interrupted time series (Wagner et al. 2002; Lopez Bernal, Cummins and Gasparrini 2017).

One series of counts (numerator of denominator, by month) is fitted as two segments: before the intervention and
from it on. The design (:func:`segmented_design`) has an intercept, the time, ``level`` (1 from the first point
after) and ``trend`` (months since the first point after: 0, 1, 2, ...), so the level coefficient is the change
*at* the first point after the intervention and the trend coefficient the change of slope; ``harmonics`` adds K
pairs of sine and cosine terms of the calendar month, as R's ``tsModel::harmonic(month, K, 12)``.

Models: ``quasibinomial`` / ``binomial`` (a logistic GLM of numerator of denominator, the dispersion estimated by
Pearson X²/df or fixed at 1), ``quasipoisson`` (R's ``quasipoisson`` with ``offset(log(denominator))``, the
tutorial's model) and ``linear`` (OLS on the percentage, Wagner 2002). Changes are reported as ratios (exp of the
coefficient: odds ratio or rate ratio, per month for the slope) for the GLMs and in percentage points for the
linear model, with Wald CIs on the normal scale (R's ``Epi::ci.lin``, which the tutorial uses). Standard errors:
model-based, Newey-West (HAC, Bartlett kernel) or, for the linear model only, AR(1) errors by feasible GLS
(statsmodels' GLSAR, iterated Cochrane-Orcutt). Cohort-agnostic: arrays in, a frozen result out; never raises on
a short or degenerate series (the estimates are NaN and ``warnings`` says why).
"""

from __future__ import annotations

import math
import warnings as py_warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.stats.stattools import durbin_watson

MODELS = ("quasibinomial", "binomial", "quasipoisson", "linear")
AUTOCORRELATION = ("none", "newey-west", "ar1")
SCALES = {"quasibinomial": "odds ratio", "binomial": "odds ratio", "quasipoisson": "rate ratio",
          "linear": "percentage points"}
ROW_FIELDS = ("model", "n_pre", "n_post", "level_change", "level_ci_low", "level_ci_high", "slope_change",
              "slope_ci_low", "slope_ci_high", "p_level", "p_slope", "scale", "autocorrelation", "harmonics",
              "dispersion", "durbin_watson", "ljung_box_p", "ljung_box_lags", "ar1_rho", "hac_lags")


def segmented_design(time, after, *, slope_change: bool = True, harmonics: int = 0, month_of_year=None,
                     period: int = 12) -> pd.DataFrame:
    """The design matrix: const, time, level, trend (unless ``slope_change`` is False), sin1, cos1, ... sinK, cosK."""
    time = np.asarray(time, dtype=float)
    after = np.asarray(after, dtype=bool)
    x = pd.DataFrame({"const": 1.0, "time": time, "level": after.astype(float)})
    if slope_change:
        first = time[after].min() if after.any() else np.inf
        x["trend"] = np.where(after, time - first, 0.0)
    if harmonics:
        if month_of_year is None:
            raise ValueError("harmonics need month_of_year (1-12) for every point")
        month = np.asarray(month_of_year, dtype=float)
        for k in range(1, harmonics + 1):
            x[f"sin{k}"] = np.sin(2 * np.pi * k * month / period)
            x[f"cos{k}"] = np.cos(2 * np.pi * k * month / period)
    return x


@dataclass(frozen=True)
class SegmentedFit:
    """One series' segmented regression. Changes are ratios for the GLMs (``scale``: odds or rate ratio; the slope
    per month) and percentage points for the linear model; ``*_coef``/``*_se`` are on the model's own scale (log
    odds, log rate or percentage points), for pooling. ``fitted`` and ``counterfactual`` (level and trend set to
    0: the pre-intervention segment carried on) are proportions for the binomial models, rates per unit of
    denominator for quasi-Poisson and percentages for the linear model. NaN where not estimable."""

    model: str
    autocorrelation: str
    scale: str
    n_pre: int
    n_post: int
    harmonics: int
    slope_change: bool
    level_change: float
    level_ci_low: float
    level_ci_high: float
    p_level: float
    slope_change_estimate: float
    slope_ci_low: float
    slope_ci_high: float
    p_slope: float
    level_coef: float
    level_se: float
    slope_coef: float
    slope_se: float
    dispersion: float
    durbin_watson: float
    ljung_box_p: float
    ljung_box_lags: int
    ar1_rho: float
    hac_lags: int | None
    fitted: np.ndarray
    counterfactual: np.ndarray
    warnings: tuple[str, ...] = ()

    @property
    def slope_change_value(self) -> float:
        return self.slope_change_estimate

    def as_row(self) -> dict:
        """The fields of ``tables/its.csv`` this fit knows (``slope_change`` is the estimate)."""
        row = {name: getattr(self, name) for name in ROW_FIELDS if name != "slope_change"}
        row["slope_change"] = self.slope_change_estimate
        return {name: row[name] for name in ROW_FIELDS}


def newey_west_lags(n: int) -> int:
    """Newey and West's (1994) rule of thumb, floor(4 (n / 100)^(2/9)), at least 1."""
    return max(1, int(math.floor(4 * (n / 100) ** (2 / 9))))


def _empty(model, autocorrelation, harmonics, slope_change, n_pre, n_post, n, notes, hac_lags=None) -> SegmentedFit:
    nan = float("nan")
    return SegmentedFit(model, autocorrelation, SCALES[model], n_pre, n_post, harmonics, slope_change,
                        nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, 0, nan, hac_lags,
                        np.full(n, nan), np.full(n, nan), tuple(notes))


def fit_segmented(numerator, denominator, time, after, *, model: str = "quasibinomial", autocorrelation: str = "none",
                  harmonics: int = 0, month_of_year=None, slope_change: bool = True, alpha: float = 0.05,
                  hac_lags: int | None = None, min_points: int = 8) -> SegmentedFit:
    """Fit one series (see the module docstring). ``time`` is in months (gaps allowed), ``after`` marks the points
    from the intervention on. AR(1) errors are offered for the linear model only (ValueError otherwise)."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    if autocorrelation not in AUTOCORRELATION:
        raise ValueError(f"autocorrelation must be one of {', '.join(AUTOCORRELATION)}; got {autocorrelation!r}")
    if autocorrelation == "ar1" and model != "linear":
        raise ValueError("AR(1) errors are offered for the linear model; for a GLM use newey-west")
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    after = np.asarray(after, dtype=bool)
    n, n_post = len(num), int(after.sum())
    n_pre = n - n_post
    notes = [f"fewer than {min_points} points {side} the intervention ({count})"
             for side, count in (("before", n_pre), ("after", n_post)) if count < min_points]
    x = segmented_design(time, after, slope_change=slope_change, harmonics=harmonics, month_of_year=month_of_year)
    if n_pre == 0 or n_post == 0:
        return _empty(model, autocorrelation, harmonics, slope_change, n_pre, n_post, n,
                      notes + [f"no points {'before' if n_pre == 0 else 'after'} the intervention: nothing to compare"])
    if n_pre < 2 or (slope_change and n_post < 2) or n <= x.shape[1]:
        return _empty(model, autocorrelation, harmonics, slope_change, n_pre, n_post, n,
                      notes + [f"{n} points are too few for the {x.shape[1]} parameters of the model"])
    lags = (hac_lags or newey_west_lags(n)) if autocorrelation == "newey-west" else None
    try:
        with py_warnings.catch_warnings():
            py_warnings.simplefilter("ignore")
            fit, rho, resid, predict = _fit(model, autocorrelation, num, den, x, lags)
    except Exception as exc:  # perfect separation, a singular design: no estimate, and the reason
        return _empty(model, autocorrelation, harmonics, slope_change, n_pre, n_post, n,
                      notes + [f"the model could not be fitted ({type(exc).__name__}: {exc})"], lags)
    z = stats.norm.ppf(1 - alpha / 2)
    ratio = model != "linear"
    out = {}
    for part, column in (("level", "level"), ("slope", "trend")):
        if column not in x:
            out[part] = (np.nan,) * 6
            continue
        coef, se = float(fit.params[column]), float(fit.bse[column])
        p = float(2 * stats.norm.sf(abs(coef / se))) if se > 0 else np.nan
        back = math.exp if ratio else float
        out[part] = (back(coef), back(coef - z * se), back(coef + z * se), p, coef, se)
    cf = x.copy()
    cf["level"] = 0.0
    if "trend" in cf:
        cf["trend"] = 0.0
    lb_lags = max(1, min(12, n // 4))
    lb = acorr_ljungbox(resid, lags=[lb_lags])
    if not np.isfinite(out["level"][0]):
        notes.append("the level change could not be estimated")
    return SegmentedFit(
        model, autocorrelation, SCALES[model], n_pre, n_post, harmonics, slope_change,
        *out["level"][:4], *out["slope"][:4], out["level"][4], out["level"][5], out["slope"][4], out["slope"][5],
        dispersion=float(fit.scale), durbin_watson=float(durbin_watson(resid)),
        ljung_box_p=float(lb["lb_pvalue"].iloc[0]), ljung_box_lags=lb_lags, ar1_rho=rho, hac_lags=lags,
        fitted=predict(x), counterfactual=predict(cf), warnings=tuple(notes))


def _fit(model, autocorrelation, num, den, x, lags):
    """The fitted model, the AR(1) coefficient (NaN unless AR(1)), the residuals the diagnostics read (Pearson for
    a GLM) and a function from a design to the response scale."""
    cov = dict(cov_type="HAC", cov_kwds={"maxlags": lags}) if autocorrelation == "newey-west" else {}
    if model == "linear":
        y = 100 * num / den
        if autocorrelation == "ar1":
            fit = sm.GLSAR(y, x, rho=1).iterative_fit(maxiter=100)
            return fit, float(fit.model.rho[0]), np.asarray(fit.wresid), lambda d: np.asarray(d @ fit.params)
        fit = sm.OLS(y, x).fit(**cov)
        return fit, np.nan, np.asarray(fit.resid), lambda d: np.asarray(d @ fit.params)
    if model == "quasipoisson":
        glm = sm.GLM(num, x, family=sm.families.Poisson(), offset=np.log(den))
        fit = glm.fit(scale="X2", **cov) if not cov else glm.fit(**cov)
        return fit, np.nan, np.asarray(fit.resid_pearson), lambda d: np.exp(np.asarray(d @ fit.params))
    # proportions weighted by the denominator: with a (successes, failures) endog statsmodels' Pearson scale is
    # off by the denominator, so the quasibinomial dispersion would be wrong
    glm = sm.GLM(num / den, x, family=sm.families.Binomial(), var_weights=den)
    fit = glm.fit(scale="X2") if model == "quasibinomial" and not cov else glm.fit(**cov)
    return fit, np.nan, np.asarray(fit.resid_pearson), lambda d: 1 / (1 + np.exp(-np.asarray(d @ fit.params)))
