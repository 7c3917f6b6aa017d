"""Survival estimators on plain arrays of durations and outcomes: Kaplan-Meier, Aalen-Johansen, the log-rank
test and the proportional-hazards test of a fitted Cox model.

Written here rather than taken from lifelines (0.30) where evaluators expect what lifelines does not give, or
where lifelines is too slow for a statewide cohort: the ``log`` CI of Kaplan-Meier (R survival's default) and
R's median rule; an Aalen-Johansen estimator that keeps day-0 events and treats ties exactly; a log-rank test
and a Grambsch-Therneau test fast across 1,000 teams and 100,000 patients. Each is checked against R's
survival package or lifelines in tests/test_stats_survival.py. Nothing here knows about cohorts or params:
the time-to-goal analysis (:mod:`evaluation.analyses.time_to_goal`) feeds them.
"""

from __future__ import annotations
import math
import numpy as np
import pandas as pd
from scipy import stats
from evaluation.core.schema import CI_METHODS

NONE_FOLLOWED = "not estimable (none followed)"  # a median or share of a group nobody was followed in: never 0
_TOLERANCE = math.sqrt(np.finfo(float).eps)  # R's quantile.survfit tolerance for "exactly 50%"


def _check_ci_method(ci_method: str) -> str:
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {', '.join(CI_METHODS)}; got {ci_method!r}")
    return ci_method


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _first_time_at_or_below(times: np.ndarray, curve: np.ndarray, level: float = 0.5) -> float:
    """First time a step curve is at or below ``level``, by R's rule (survival::quantile.survfit).

    When the curve sits exactly on ``level`` over an interval, R returns the midpoint between the time it
    reached ``level`` and the time it next drops below. NaN when the curve never gets there.
    """
    ok = ~np.isnan(curve)
    hits = np.flatnonzero(ok & (curve <= level + _TOLERANCE))
    if len(hits) == 0:
        return float("nan")
    i = hits[0]
    if abs(curve[i] - level) < _TOLERANCE:
        below = np.flatnonzero(ok & (curve < level - _TOLERANCE))
        if len(below):
            return float(times[i] + times[below[0]]) / 2
    return float(times[i])


def format_day_number(value: float) -> str:
    """A number of days as the tables print it: ``310``, or ``2.5`` for a median between two days."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def median_text(median: float, low: float, high: float, ci_method: str, alpha: float = 0.05, unit: str = "days") -> str:
    """'310 days (95% CI 284 to 361; log-log)', or 'not reached (...)': never a bare NaN."""
    level = f"{100 * (1 - alpha):g}% CI"
    point = "not reached" if np.isnan(median) else f"{format_day_number(median)} {unit}"
    # a NaN lower bound beside a reached median comes from a curve that fell to 0 (its CI is undefined there)
    lo = ("not estimable" if not np.isnan(median) else "not reached") if np.isnan(low) else format_day_number(low)
    hi = "not reached" if np.isnan(high) else format_day_number(high)
    return f"{point} ({level} {lo} to {hi}; {ci_method})"


def _risk_counts(durations: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct times with the number at risk (time >= t), events and censored at each."""
    times, inverse, counts = np.unique(durations, return_inverse=True, return_counts=True)
    events_at = np.bincount(inverse, weights=events.astype(float), minlength=len(times))
    at_risk = len(durations) - (np.cumsum(counts) - counts)  # everyone not gone before t
    return times, at_risk, events_at, counts - events_at


def _checked_durations(durations, outcomes, name: str) -> np.ndarray:
    """Durations as floats, after checking they are non-negative, present and as many as their ``name``."""
    d = np.asarray(durations, dtype=float)
    if len(d) != len(outcomes):
        raise ValueError(f"durations and {name} must have the same length; got {len(d)} and {len(outcomes)}")
    if np.isnan(d).any() or (d < 0).any():
        raise ValueError("durations must be non-negative numbers (days); found a negative or missing value")
    return d


class KaplanMeier:
    """Kaplan-Meier estimate with Greenwood CIs on the ``log-log`` or ``log`` scale (lifelines-like API).

    ``table_`` has one row per distinct time: at_risk, events, censored, survival, ci_low, ci_high (``arrays``:
    the same columns as numpy arrays, for callers fitting a thousand groups).
    ``log-log`` is lifelines' default (exponential Greenwood); ``log`` is R survival's default
    (Greenwood variance of log S: S * exp(+-z * se)), its upper bound capped at 1. Where the curve is 0
    the CI is undefined (NaN), as in R.
    """

    def __init__(self, ci_method: str = "log-log", alpha: float = 0.05):
        self.ci_method = _check_ci_method(ci_method)
        self.alpha = alpha

    def fit(self, durations, events, label: str = "all") -> "KaplanMeier":
        """Fit on durations (days, non-negative) and events (true or 1 = the event, else censored)."""
        d = _checked_durations(durations, events, "events")
        e = np.asarray(events, dtype=float).astype(bool)
        self.label = label
        self.durations, self.events = d, e
        self.n_, self.events_ = len(d), int(e.sum())
        times, at_risk, died, censored = _risk_counts(d, e)
        with np.errstate(divide="ignore", invalid="ignore"):
            survival = np.cumprod(1 - died / at_risk)
            greenwood = np.cumsum(died / (at_risk * (at_risk - died)))  # var(log S), Greenwood 1926
            se = np.sqrt(greenwood)
            z = _z(self.alpha)
            if self.ci_method == "log":
                low, high = survival * np.exp(-z * se), np.minimum(1.0, survival * np.exp(z * se))
            else:  # log-log: CI for log(-log S), se = sqrt(greenwood) / |log S|
                theta = se / np.log(survival)
                low, high = survival ** np.exp(-z * theta), survival ** np.exp(z * theta)
        low = np.where(survival >= 1, 1.0, low)  # no event yet: no uncertainty
        high = np.where(survival >= 1, 1.0, high)
        low = np.where(survival <= 0, np.nan, low)  # R: the CI of S = 0 is NA
        high = np.where(survival <= 0, np.nan, high)
        # arrays first: a figure by team fits a thousand of these, and a DataFrame each would cost more than the fit
        self.arrays = {"time": times, "at_risk": at_risk.astype(int), "events": died.astype(int),
                       "censored": censored.astype(int), "survival": survival, "ci_low": low, "ci_high": high}
        self._table = None
        self.median_ = _first_time_at_or_below(times, survival)
        # The CI of the median: where the upper and the lower CI curves cross 50% (Brookmeyer & Crowley 1982).
        # (the lower curve reaches 50% first, so it gives the lower bound).
        self.median_ci_ = (_first_time_at_or_below(times, low), _first_time_at_or_below(times, high))
        return self

    @property
    def table_(self) -> pd.DataFrame:
        """One row per distinct time: time, at_risk, events, censored, survival, ci_low, ci_high."""
        if self._table is None:
            self._table = pd.DataFrame(self.arrays)
        return self._table

    def at_arrays(self, times) -> dict[str, np.ndarray]:
        """:meth:`at` as a dict of arrays (no DataFrame: called once per group when there are a thousand)."""
        t = np.asarray(times, dtype=float)
        c = self.arrays
        idx = np.searchsorted(c["time"], t, side="right") - 1
        before = idx < 0
        safe = np.clip(idx, 0, None)
        take = (lambda col: np.where(before, 1.0, col[safe])) if len(c["time"]) else (lambda col: np.ones(len(t)))
        s, lo, hi = take(c["survival"]), take(c["ci_low"]), take(c["ci_high"])
        last = c["time"][-1] if len(c["time"]) else -np.inf
        beyond = (t > last) & ~(s <= 0)
        s, lo, hi = (np.where(beyond, np.nan, v) for v in (s, lo, hi))
        order = np.sort(self.durations)
        gone = np.searchsorted(order, t, side="left")  # left before t: at risk is everyone else
        ended = np.searchsorted(order, t, side="right")  # durations <= t
        events = np.searchsorted(np.sort(self.durations[self.events]), t, side="right")
        return {"time": t, "at_risk": (len(order) - gone).astype(int), "events": events.astype(int),
                "censored": (ended - events).astype(int), "survival": s, "ci_low": lo, "ci_high": hi}

    def at(self, times) -> pd.DataFrame:
        """Survival and CI at given times, with the number at risk there and cumulative events and censored.

        A time after the last follow-up is not estimable (NaN), unless the curve already reached 0.
        """
        return pd.DataFrame(self.at_arrays(times), columns=["time", "at_risk", "events", "censored", "survival", "ci_low",
                                                      "ci_high"])

    @property
    def summary(self) -> pd.DataFrame:
        """One row: group, n, events, median with its CI, ci_method and median_text."""
        low, high = self.median_ci_
        return pd.DataFrame([{"group": self.label, "n": self.n_, "events": self.events_, "median": self.median_,
                              "median_ci_low": low, "median_ci_high": high, "ci_method": self.ci_method,
                              "median_text": self.median_text}])

    @property
    def median_text(self) -> str:
        """:func:`median_text` of this fit; ``not estimable (none followed)`` when it has no one."""
        if not self.n_:
            return NONE_FOLLOWED
        return median_text(self.median_, *self.median_ci_, self.ci_method, self.alpha)

    def __repr__(self) -> str:
        return f"<KaplanMeier {self.label!r}: n={self.n_}, events={self.events_}, ci_method={self.ci_method}>"

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


class AalenJohansen:
    """Cumulative incidence of each cause with competing causes (Aalen & Johansen 1978), exact.

    ``causes``: 0 = censored, 1, 2, ... = the event types. At each distinct time t with n at risk,
    CIF_k(t) = CIF_k(t-) + S(t-) * d_k(t) / n and S(t) = S(t-) * (1 - d(t) / n), S being the all-cause
    event-free curve. Fitted on nobody, every cumulative incidence is NaN (not estimable), never 0. Written by
    hand because lifelines 0.30's AalenJohansenFitter drops events at time 0 and breaks ties with random
    jitter (on this module's test data it gives 0.208 instead of 0.375).
    """

    def fit(self, durations, causes, label: str = "all") -> "AalenJohansen":
        """Fit on durations (days, non-negative) and causes (0 censored, 1, 2, ... the event types)."""
        d = _checked_durations(durations, causes, "causes")
        c = np.asarray(causes, dtype=int)
        if (c < 0).any():
            raise ValueError("causes must be 0 (censored) or a positive event type")
        self.label = label
        self.n_ = len(d)
        self.causes_ = sorted(int(k) for k in np.unique(c) if k > 0)
        times, at_risk, _, censored = _risk_counts(d, c > 0)
        inverse = np.unique(d, return_inverse=True)[1]
        counts = {k: np.bincount(inverse, weights=(c == k), minlength=len(times)) for k in self.causes_}
        all_events = sum(counts.values()) if counts else np.zeros(len(times))
        survival = np.cumprod(1 - all_events / at_risk)
        before = np.r_[1.0, survival][: len(survival)]  # S(t-)
        table = {"time": times, "at_risk": at_risk.astype(int), "censored": censored.astype(int)}
        for k in self.causes_:
            table[f"events_{k}"] = counts[k].astype(int)
        for k in self.causes_:
            table[f"cif_{k}"] = np.cumsum(before * counts[k] / at_risk)
        table["event_free"] = survival
        self.table_ = pd.DataFrame(table)
        return self

    def cumulative_incidence(self, cause: int, times) -> np.ndarray:
        """CIF of ``cause`` at the given times (0 before the first time; last value after the end).

        NaN at every time when the fit had no one: with nobody followed, the share is not estimable, not 0.
        """
        t = np.asarray(times, dtype=float)
        if not self.n_:
            return np.full(len(t), np.nan)
        column = f"cif_{cause}"
        if column not in self.table_:
            return np.zeros(len(t))
        idx = np.searchsorted(self.table_["time"].to_numpy(), t, side="right") - 1
        values = self.table_[column].to_numpy()
        return np.where(idx >= 0, values[np.clip(idx, 0, None)], 0.0)

    def __repr__(self) -> str:
        return f"<AalenJohansen {self.label!r}: causes={self.causes_}>"


def logrank_test(durations, group_of, events) -> tuple[float, int, float]:
    """The k-sample log-rank test: (chi-square statistic, degrees of freedom, p-value).

    The same statistic as lifelines' ``multivariate_logrank_test`` and R's ``survdiff``: observed minus
    expected events per group, with the hypergeometric covariance, over the first k - 1 groups (a
    pseudo-inverse, as lifelines, when a group has nobody at risk at any event time). Written with matrix
    products because lifelines builds a times x groups x groups table: a test across 1,000 teams took it
    over two minutes, and this one well under a second.
    """
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=float)
    labels, g = np.unique(np.asarray(group_of).astype(str), return_inverse=True)
    times, t = np.unique(d, return_inverse=True)
    k, n_times = len(labels), len(times)
    cell = t * k + g
    died = np.bincount(cell, weights=e, minlength=n_times * k).reshape(n_times, k)
    removed = np.bincount(cell, minlength=n_times * k).reshape(n_times, k).astype(float)
    at_risk = removed.sum(axis=0) - np.vstack([np.zeros(k), np.cumsum(removed, axis=0)[:-1]])  # n_ij
    n = at_risk.sum(axis=1)
    deaths = died.sum(axis=1)
    z = died.sum(axis=0) - (at_risk * (deaths / n)[:, None]).sum(axis=0)  # observed - expected
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, (n - deaths) / (n - 1), 1.0) * deaths / n ** 2
    weighted = at_risk * np.sqrt(factor)[:, None]
    cov = -weighted.T @ weighted
    cov[np.diag_indices(k)] += (at_risk * (n * factor)[:, None]).sum(axis=0)
    # z' V^-1 z over the first k - 1 groups. A group nobody in it was at risk at an event time has a zero row
    # and column (and z = 0): leaving it out is what the pseudo-inverse does. Cholesky then solves the rest in
    # milliseconds for 1,000 teams, where the eigendecomposition behind pinv takes seconds.
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    keep = np.flatnonzero(np.diag(cov)[:-1] > 0)
    v, zk = cov[np.ix_(keep, keep)], z[keep]
    try:
        stat = float(zk @ cho_solve(cho_factor(v), zk))
    except LinAlgError:
        stat = float(zk @ np.linalg.pinv(v, hermitian=True) @ zk)
    return stat, k - 1, float(stats.chi2.sf(stat, k - 1))


ZPH_TRANSFORMS = ("km", "rank", "identity", "log")
ZPH_METHOD = ("score test of beta(t) = beta + gamma g(t), g = 1 - Kaplan-Meier(t-) (Grambsch and Therneau 1994; "
              "R survival 3 cox.zph, transform km)")


def _time_transform(t: np.ndarray, e: np.ndarray, transform: str) -> np.ndarray:
    """g(t) for every observation as R's ``cox.zph`` makes it: ``km`` is 1 - S(t-) of the Kaplan-Meier of
    everyone; ``rank`` the average rank of t; ``identity`` t; ``log`` log t."""
    if transform == "km":
        times, at_risk, died, _ = _risk_counts(t, e)
        before = np.concatenate([[1.0], np.cumprod(1 - died / at_risk)])  # S just before each distinct time
        return 1 - before[np.searchsorted(times, t, side="left")]
    if transform == "rank":
        return stats.rankdata(t)
    if transform == "log":
        return np.log(t)
    if transform == "identity":
        return t.astype(float)
    raise ValueError(f"transform must be one of {', '.join(ZPH_TRANSFORMS)}; got {transform!r}")


def cox_zph(durations, events, covariates: pd.DataFrame, coefficients, *, transform: str = "km",
            ties: str = "efron", terms: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """The proportional-hazards test of R survival 3's ``cox.zph``, per term and GLOBAL: the score test, at the
    fitted coefficients, of adding x·g(t) to the model (g centred on its mean over the events), chi-square
    on as many df as the term has columns.

    Written here because lifelines' ``proportional_hazard_test`` is the older approximation (R survival 2's, on
    scaled Schoenfeld residuals with the average variance), which R replaced in 2019. Sums over the risk sets are
    vectorised over event times (Efron or Breslow ties). ``terms`` maps a term to its columns (default: one term
    per column). Returns chisq, df, p indexed by term, then GLOBAL.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be efron or breslow; got {ties!r}")
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events).astype(bool)
    x = covariates.to_numpy(float)
    x = x - x.mean(axis=0)  # as zph1.c: centring steadies the sums and changes no test
    beta = np.asarray(coefficients, dtype=float)
    eta = x @ beta
    phi = np.exp(eta - eta.max())  # a common factor: the weighted means and variances do not change
    g_all = _time_transform(t, e, transform)
    g_all = g_all - g_all[e].mean()
    times, at = np.unique(t, return_inverse=True)
    n_times, k = len(times), x.shape[1]

    def by_time(weights: np.ndarray) -> np.ndarray:
        return np.bincount(at, weights=weights, minlength=n_times)

    def from_t_on(v: np.ndarray) -> np.ndarray:  # sums over everyone at risk at each time
        return np.cumsum(v[::-1], axis=0)[::-1]

    xx = x[:, :, None] * x[:, None, :]
    risk = from_t_on(by_time(phi))
    risk_x = from_t_on(np.stack([by_time(phi * x[:, j]) for j in range(k)], axis=1))
    risk_xx = from_t_on(np.stack([by_time(phi * xx[:, i, j]) for i in range(k) for j in range(k)], axis=1)).reshape(n_times, k, k)
    tie = by_time(phi * e)
    tie_x = np.stack([by_time(phi * e * x[:, j]) for j in range(k)], axis=1)
    tie_xx = np.stack([by_time(phi * e * xx[:, i, j]) for i in range(k) for j in range(k)], axis=1).reshape(n_times, k, k)
    deaths = by_time(e.astype(float)).astype(int)
    # each death at a time of m deaths is one slot; Efron takes l/m of the tied deaths out of slot l (Breslow none)
    slot = np.repeat(np.arange(n_times), deaths)
    first = np.repeat(np.cumsum(deaths) - deaths, deaths)
    frac = (np.arange(len(slot)) - first) / deaths[slot] if ties == "efron" else np.zeros(len(slot))
    denom = risk[slot] - frac * tie[slot]
    mean = (risk_x[slot] - frac[:, None] * tie_x[slot]) / denom[:, None]
    var = (risk_xx[slot] - frac[:, None, None] * tie_xx[slot]) / denom[:, None, None] - mean[:, :, None] * mean[:, None, :]
    g_time = np.zeros(n_times)
    g_time[at[e]] = g_all[e]
    g = g_time[slot]
    u_gamma = (g_all[e][:, None] * x[e]).sum(axis=0) - (g[:, None] * mean).sum(axis=0)
    info = np.block([[var.sum(axis=0), (g[:, None, None] * var).sum(axis=0)],
                     [(g[:, None, None] * var).sum(axis=0), (g[:, None, None] ** 2 * var).sum(axis=0)]])
    names = list(covariates.columns)
    terms = terms or {name: [name] for name in names}
    rows = {}
    for term, cols in [*terms.items(), ("GLOBAL", names)]:
        idx = [names.index(c) for c in cols]
        keep = list(range(k)) + [k + i for i in idx]
        u = np.concatenate([np.zeros(k), u_gamma[idx]])  # the score for beta is 0 at the fitted coefficients
        chisq = float(u @ np.linalg.solve(info[np.ix_(keep, keep)], u))
        rows[term] = (chisq, len(idx), float(stats.chi2.sf(chisq, len(idx))))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["chisq", "df", "p"])
