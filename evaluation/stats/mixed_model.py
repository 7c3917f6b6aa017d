"""A linear mixed model with one random intercept (lme4's ``lmer(y ~ x + (1 | group))``), fitted by REML.

statsmodels' MixedLM does the fit; this module starts it at the optimum of the one-dimensional profiled
likelihood (fast and reliable with 1,000 groups) and falls back to derivative-free optimizers when a
gradient fit stalls. The estimator is lifelines-style: configure, ``fit(data)``, then read the results
ending in ``_``. Cohort-agnostic: a formula, a group column and a DataFrame.
"""

from __future__ import annotations
import warnings
import numpy as np
import pandas as pd


class RandomInterceptModel:
    """Linear mixed model with a random intercept per group, fitted by REML (statsmodels MixedLM; lme4's
    ``lmer(y ~ x + (1 | group))``). ``fit()`` returns self; results end with ``_``:
    ``fixed_effects_`` (term, estimate, std_error, ci_low, ci_high, p_value), ``group_variance_``,
    ``residual_variance_``, ``icc_`` (share of the unexplained variance that lies between groups),
    ``converged_``, ``n_obs_``, ``n_groups_``, and ``group_effects_`` (each group's predicted random intercept,
    the BLUP, with its conditional standard error and interval: lme4's ``ranef(fit, condVar = TRUE)``)."""

    def __init__(self, formula: str, groups: str, *, alpha: float = 0.05, reml: bool = True):
        self.formula = formula
        self.groups = groups
        self.alpha = alpha
        self.reml = reml

    def fit(self, data: pd.DataFrame) -> "RandomInterceptModel":
        import statsmodels.formula.api as smf
        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = smf.mixedlm(self.formula, data, groups=data[self.groups])
            # Start statsmodels at the optimum of the profiled likelihood, found in one dimension (below):
            # from its default start every step loops over the groups in Python (5-10 s per measure with
            # 1,000 teams), and it can stop short of the optimum when the team variance is small.
            result = model.fit(reml=self.reml, start_params=variance_ratio_start(model, self.reml))
            if not (result.converged and np.isfinite(result.llf)):
                # Derivative-free optimizers reach the REML optimum where the gradient ones stall near a
                # small team variance; keep the converged fit with the highest REML log-likelihood.
                tries = [model.fit(reml=self.reml, method=m) for m in ("bfgs", "powell", "nm")]
                good = [r for r in tries if r.converged and np.isfinite(r.llf)]
                if good:
                    result = max(good, key=lambda r: r.llf)
        self.warnings_ = sorted({str(w.message) for w in caught if issubclass(w.category, (ConvergenceWarning, RuntimeWarning, UserWarning))})
        fe = result.fe_params
        bse = result.bse_fe
        ci = result.conf_int(alpha=self.alpha).loc[fe.index]
        self.fixed_effects_ = pd.DataFrame({
            "term": fe.index, "estimate": fe.to_numpy(), "std_error": bse.to_numpy(),
            "ci_low": ci[0].to_numpy(), "ci_high": ci[1].to_numpy(), "p_value": result.pvalues.loc[fe.index].to_numpy(),
        }).reset_index(drop=True)
        self.group_variance_ = float(np.asarray(result.cov_re)[0, 0])
        self.residual_variance_ = float(result.scale)
        total = self.group_variance_ + self.residual_variance_
        self.icc_ = self.group_variance_ / total if total > 0 else float("nan")
        self.converged_ = bool(result.converged)
        self.n_obs_ = int(result.nobs)
        self.n_groups_ = int(len(model.group_labels))
        self.group_effects_ = group_effects(result, model, self.alpha)
        self.result_ = result
        return self

    @property
    def variance_components_(self) -> pd.DataFrame:
        """lme4's ``VarCorr(fit)`` as a table: component (the group's intercept, residual), variance, std_dev,
        and share of the total (the group's share is the ICC)."""
        return variance_components(self.groups, self.group_variance_, self.residual_variance_)

    @property
    def summary(self) -> pd.DataFrame:
        return self.fixed_effects_

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()

    def __repr__(self) -> str:
        return f"<RandomInterceptModel {self.formula} | {self.groups}>\n{self.summary.to_string(index=False)}"


def variance_components(group: str, group_variance: float, residual_variance: float) -> pd.DataFrame:
    """The two variance components of a random-intercept model with their standard deviations and shares of
    the total: the group intercept's share is the intraclass correlation (ICC)."""
    total = group_variance + residual_variance
    variances = np.array([group_variance, residual_variance], dtype=float)
    return pd.DataFrame({"component": [f"{group} (intercept)", "residual"], "variance": variances,
                         "std_dev": np.sqrt(variances), "share": variances / total if total > 0 else np.nan})


def group_effects(result, model, alpha: float = 0.05) -> pd.DataFrame:
    """Each group's random intercept as the fit predicts it (the BLUP: the group's mean residual from the fixed
    effects, shrunk by tau^2 n_i / (tau^2 n_i + sigma^2)) with its conditional standard error
    sqrt(tau^2 sigma^2 / (tau^2 n_i + sigma^2)) and a normal interval at 1 - alpha; columns group, n, effect,
    std_error, ci_low, ci_high. The conditional variance treats the fixed effects as known, as lme4's
    ``condVar`` does: what a caterpillar plot draws."""
    from scipy import stats

    tau2, sigma2 = float(np.asarray(result.cov_re)[0, 0]), float(result.scale)
    labels = list(model.group_labels)
    effects = result.random_effects
    n = np.array([len(model.row_indices[g]) for g in labels], dtype=float)
    effect = np.array([float(np.asarray(effects[g])[0]) for g in labels])
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(tau2 * sigma2 / (tau2 * n + sigma2))
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame({"group": [str(g) for g in labels], "n": n.astype(int), "effect": effect, "std_error": se,
                         "ci_low": effect - z * se, "ci_high": effect + z * se})


def variance_ratio_start(model, reml: bool = True):
    """Start values for statsmodels' MixedLM with one random intercept: the group-to-residual variance
    ratio gamma that maximises the (REML) likelihood with beta and sigma^2 profiled out.

    With V = sigma^2 (I + gamma Z Z'), each group's inverse is I - c_i 11' with c_i = gamma / (1 + n_i gamma), so
    X'V^-1 X, X'V^-1 y and y'V^-1 y need only per-group sums: minus twice the profile log-likelihood is
    (N - p) log RSS(gamma) + sum log(1 + n_i gamma) + log det X'V^-1 X under REML (Harville 1977; N log RSS and no
    determinant under ML), a smooth function of one variable: a grid over gamma = 0, 1e-8 .. 1e6, then
    Brent's method between the grid neighbours of the best point."""
    from scipy import optimize
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    X = np.asarray(model.exog, dtype=float)
    y = np.asarray(model.endog, dtype=float)
    group = np.empty(len(y), dtype=np.int64)
    for k, label in enumerate(model.group_labels):
        group[model.row_indices[label]] = k
    n_groups, (n_obs, p) = len(model.group_labels), X.shape
    n = np.bincount(group, minlength=n_groups).astype(float)
    sx = np.column_stack([np.bincount(group, X[:, j], minlength=n_groups) for j in range(p)])
    sy = np.bincount(group, y, minlength=n_groups)
    xtx, xty, yty = X.T @ X, X.T @ y, y @ y

    def deviance(gamma: float) -> float:
        c = gamma / (1 + n * gamma)
        a = xtx - (sx * c[:, None]).T @ sx
        b = xty - sx.T @ (c * sy)
        sign, logdet = np.linalg.slogdet(a)
        try:
            rss = yty - c @ (sy * sy) - b @ np.linalg.solve(a, b)
        except np.linalg.LinAlgError:  # a huge gamma absorbs the intercept into the groups
            return np.inf
        if sign <= 0 or rss <= 0:
            return np.inf
        return (n_obs - p if reml else n_obs) * np.log(rss) + np.log1p(n * gamma).sum() + (logdet if reml else 0.0)

    grid = np.concatenate([[0.0], 10.0 ** np.arange(-8, 6.5, 0.5)])
    values = np.array([deviance(g) for g in grid])
    best = int(np.argmin(values))
    gamma = grid[best]
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    if np.isfinite(values[best]) and hi > lo:
        found = optimize.minimize_scalar(deviance, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10 * hi})
        if found.fun <= values[best]:
            gamma = float(found.x)
    # statsmodels cannot start on the boundary (its likelihood needs cov_re invertible): a zero team
    # variance starts just above it
    return MixedLMParams.from_components(fe_params=np.zeros(model.k_fe), cov_re=np.array([[max(gamma, 1e-8)]]))
