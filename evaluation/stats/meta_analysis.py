"""Random-effects meta-analysis: pool one effect (a log risk ratio, a mean change...) across studies or teams.

``random_effects`` pools effects with known sampling variances under the model y_i = mu + u_i + e_i,
u_i ~ N(0, tau^2), e_i ~ N(0, v_i), as R's ``metafor::rma(yi, vi, method = ...)`` does with its default z test:
tau^2 by REML (Fisher scoring, metafor's algorithm) or DerSimonian-Laird, then the inverse-variance weighted
mean with weights 1 / (v_i + tau^2), its Wald CI and p, Cochran's Q, I^2, H^2 and a prediction interval.
``log_risk_ratios`` makes the effects from 2x2 counts as ``metafor::escalc(measure = "RR")`` does.
Cohort-agnostic: arrays in, a frozen result object out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

METHODS = ("REML", "DL")
REML_THRESHOLD = 1e-10  # stop when tau^2 changes by no more (metafor's default threshold is 1e-5)
REML_MAX_ITER = 100  # metafor's default maxiter
ZERO_CELL_ADD = 0.5  # escalc's add = 1/2, to = "only0": added to the four cells of a table that has a zero

TABLE_COLUMNS = ("method", "k", "estimate", "se", "ci_low", "ci_high", "p_value", "tau2", "i2", "q", "q_df",
                 "q_p_value", "pred_low", "pred_high")


@dataclass(frozen=True)
class MetaAnalysis:
    """A random-effects meta-analysis (``metafor::rma`` with ``test = "z"``); ``ci_*`` and ``pred_*`` at 1 - alpha.

    ``i2`` is in percent; ``weights`` are the random-effects weights 1 / (v_i + tau^2) in percent (summing to 100),
    in the order of ``labels``; ``effects`` and ``variances`` are the inputs. ``pred_low``/``pred_high`` bound the
    effect of a new study or team (NaN with fewer than 3)."""

    method: str
    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    tau2: float
    tau: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p_value: float
    pred_low: float
    pred_high: float
    alpha: float
    labels: tuple[str, ...]
    weights: tuple[float, ...]
    effects: tuple[float, ...] = ()
    variances: tuple[float, ...] = ()

    def table(self) -> pd.DataFrame:
        """One row: method, k, estimate, se, ci_low, ci_high, p_value, tau2, i2, q, q_df, q_p_value, pred_low, pred_high."""
        return pd.DataFrame([{column: getattr(self, column) for column in TABLE_COLUMNS}], columns=list(TABLE_COLUMNS))

    def study_table(self) -> pd.DataFrame:
        """One row per study: label, effect, se, ci_low, ci_high (Wald, at 1 - alpha) and weight_percent."""
        effect = np.asarray(self.effects, dtype=float)
        se = np.sqrt(np.asarray(self.variances, dtype=float))
        z = stats.norm.ppf(1 - self.alpha / 2)
        return pd.DataFrame({"label": list(self.labels), "effect": effect, "se": se, "ci_low": effect - z * se,
                             "ci_high": effect + z * se, "weight_percent": np.asarray(self.weights, dtype=float)})

    @property
    def summary(self) -> pd.DataFrame:
        """:meth:`table` (the lifelines name)."""
        return self.table()

    def __repr__(self) -> str:
        return (f"<MetaAnalysis {self.method}, k={self.k}: estimate {self.estimate:.4f} "
                f"({self.ci_low:.4f} to {self.ci_high:.4f}), tau^2 {self.tau2:.4f}, I^2 {self.i2:.2f}%>")

    def _repr_html_(self) -> str:
        return self.table().to_html(index=False)


def random_effects(effects, variances, *, method: str = "REML", alpha: float = 0.05, labels=None) -> MetaAnalysis:
    """Pool ``effects`` with known sampling ``variances`` under a random-effects model.

    tau^2: ``REML`` by Fisher scoring as ``metafor::rma(method = "REML")`` does (Hedges' estimate, truncated at 0,
    as the start; step-halving keeps tau^2 >= 0; stop when it changes by at most 1e-10), or ``DL``, the
    DerSimonian & Laird (1986) moment estimate max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w)), w = 1 / v_i.
    Written by hand: statsmodels' ``combine_effects`` has DL and Paule-Mandel but no REML, and DL is three lines
    in closed form, so both estimators share one path (the tests check DL against statsmodels).

    Estimate: sum w*_i y_i / sum w*_i with w*_i = 1 / (v_i + tau^2); SE = sqrt(1 / sum w*_i); Wald z CI and
    two-sided p. Q is Cochran's Q with the fixed-effect weights 1 / v_i, on k - 1 df. I^2 and H^2 as metafor
    computes them for any tau^2: I^2 = 100 tau^2 / (tau^2 + s^2) and H^2 = 1 + tau^2 / s^2, with the "typical"
    sampling variance s^2 = (k - 1) sum w / ((sum w)^2 - sum w^2) (Higgins & Thompson 2002, eq. 9); for DL this
    is the classic I^2 = max(0, (Q - df) / Q) and H^2 = Q / df when Q > df.

    The prediction interval is estimate -/+ t(1 - alpha/2, k - 2) sqrt(tau^2 + SE^2) (Higgins, Thompson &
    Spiegelhalter 2009), NaN when k < 3. metafor's ``predict()`` uses the normal quantile instead, which is too
    narrow with few studies or teams; we chose t.

    One study (k = 1): the estimate is that study, tau^2 = 0, Q = 0 on 0 df; I^2, H^2, Q's p and the
    prediction interval are NaN (no between-study information). Not done here: metafor's final check that the
    likelihood at tau^2 = 0 is not higher (it guards against a local maximum, rare with no moderators).

    ``labels`` name the studies (default "1", "2", ...). Raises ValueError for no studies, mismatched lengths,
    a missing or infinite effect, or a variance that is missing, infinite or not positive (naming the index).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1; got {alpha!r}")
    y, v = _checked_effects(effects, variances)
    k = len(y)
    names = tuple(str(i + 1) for i in range(k)) if labels is None else tuple(str(label) for label in labels)
    if len(names) != k:
        raise ValueError(f"labels has {len(names)} entries for {k} studies")
    w = 1 / v
    mean_fixed = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - mean_fixed) ** 2))
    if k == 1:
        tau2 = 0.0
    elif method == "DL":
        tau2 = max(0.0, (q - (k - 1)) / (np.sum(w) - np.sum(w ** 2) / np.sum(w)))
    else:
        tau2 = _tau2_reml(y, v)
    w_re = 1 / (v + tau2)
    estimate = float(np.sum(w_re * y) / np.sum(w_re))
    se = math.sqrt(1 / np.sum(w_re))
    z_crit = stats.norm.ppf(1 - alpha / 2)
    z = estimate / se
    nan = float("nan")
    if k > 1:
        typical = (k - 1) * np.sum(w) / (np.sum(w) ** 2 - np.sum(w ** 2))  # s^2, Higgins & Thompson 2002
        i2, h2 = 100 * tau2 / (tau2 + typical), 1 + tau2 / typical
        q_p = float(stats.chi2.sf(q, k - 1))
    else:
        i2 = h2 = q_p = nan
    if k >= 3:
        half = stats.t.ppf(1 - alpha / 2, k - 2) * math.sqrt(tau2 + se ** 2)  # Higgins, Thompson & Spiegelhalter 2009
        pred_low, pred_high = estimate - half, estimate + half
    else:
        pred_low = pred_high = nan
    return MetaAnalysis(
        method=method, k=k, estimate=estimate, se=se, ci_low=estimate - z_crit * se, ci_high=estimate + z_crit * se,
        z=z, p_value=float(2 * stats.norm.sf(abs(z))), tau2=float(tau2), tau=math.sqrt(tau2), i2=float(i2),
        h2=float(h2), q=q, q_df=k - 1, q_p_value=q_p, pred_low=float(pred_low), pred_high=float(pred_high),
        alpha=alpha, labels=names, weights=tuple(float(x) for x in 100 * w_re / np.sum(w_re)),
        effects=tuple(float(x) for x in y), variances=tuple(float(x) for x in v))


def _tau2_reml(y: np.ndarray, v: np.ndarray) -> float:
    """REML tau^2 by Fisher scoring, metafor's ``rma.uni`` algorithm for a model with an intercept only.

    Start: Hedges' estimate var(y) - mean(v), truncated at 0. Step: (y'PPy - tr P) / tr(PP), with
    P = W - w w' / sum w and W = diag(1 / (v_i + tau^2)); halved while it would make tau^2 negative.
    """
    tau2 = max(0.0, float(np.var(y, ddof=1) - np.mean(v)))
    for _ in range(REML_MAX_ITER):
        w = 1 / (v + tau2)
        sw, sw2, sw3 = np.sum(w), np.sum(w ** 2), np.sum(w ** 3)
        py = w * (y - np.sum(w * y) / sw)  # P y
        trace_p = sw - sw2 / sw
        trace_pp = sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2
        step = (np.sum(py ** 2) - trace_p) / trace_pp
        while tau2 + step < 0:  # metafor's step-halving (from tau^2 = 0 the step shrinks to -0.0)
            step /= 2
        tau2 += step
        if abs(step) <= REML_THRESHOLD:
            return float(tau2)
    raise ValueError(f"REML (Fisher scoring) did not converge in {REML_MAX_ITER} iterations; "
                     f"tau^2 was {tau2:.6g} (try method='DL')")


def _checked_effects(effects, variances) -> tuple[np.ndarray, np.ndarray]:
    """Effects and variances as float arrays, with an error naming the first bad index."""
    y, v = _floats(effects, "effects"), _floats(variances, "variances")
    if len(y) != len(v):
        raise ValueError(f"effects has {len(y)} values but variances has {len(v)}")
    if len(y) == 0:
        raise ValueError("no studies to pool: effects and variances are empty")
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise ValueError(f"effect at index {bad[0]} is {float(y[bad[0]])!r}; effects must be finite numbers")
    bad = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    if len(bad):
        raise ValueError(f"variance at index {bad[0]} is {float(v[bad[0]])!r}; variances must be positive finite numbers")
    return y, v


def _floats(values: Iterable, name: str) -> np.ndarray:
    """``values`` as a 1-D float array (an array, Series, list or any iterable)."""
    array = np.asarray(values if hasattr(values, "__len__") else list(values), dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {array.shape}")
    return array


def log_risk_ratios(events_treated, n_treated, events_control, n_control) -> tuple[np.ndarray, np.ndarray]:
    """Log risk ratios and their sampling variances, as ``metafor::escalc(measure = "RR")`` computes them.

    yi = log((a / n1) / (c / n2)), vi = 1/a - 1/n1 + 1/c - 1/n2, for a events of n1 treated and c events of
    n2 controls. A table with a zero cell (no events, or all events, in an arm) gets 1/2 added to each of its
    four cells first (escalc's default add = 1/2, to = "only0"), so n1 and n2 grow by 1.
    Raises ValueError, naming the index, for counts that are missing, negative, or events above n or n zero.
    """
    a, n1 = _floats(events_treated, "events_treated"), _floats(n_treated, "n_treated")
    c, n2 = _floats(events_control, "events_control"), _floats(n_control, "n_control")
    if not len(a) == len(n1) == len(c) == len(n2):
        raise ValueError(f"the four count arrays differ in length: events_treated {len(a)}, n_treated {len(n1)}, "
                         f"events_control {len(c)}, n_control {len(n2)}")
    for name, events, n in (("treated", a, n1), ("control", c, n2)):
        bad = np.flatnonzero(~(np.isfinite(events) & np.isfinite(n) & (events >= 0) & (n > 0) & (events <= n)))
        if len(bad):
            i = bad[0]
            raise ValueError(f"{name} counts at index {i} are {events[i]:g} events of {n[i]:g}; need "
                             f"0 <= events <= n and n > 0")
    zero = (a == 0) | (a == n1) | (c == 0) | (c == n2)
    add = np.where(zero, ZERO_CELL_ADD, 0.0)
    a, c, n1, n2 = a + add, c + add, n1 + 2 * add, n2 + 2 * add
    yi = np.log(a / n1) - np.log(c / n2)
    vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
    return yi, vi
