"""The random-intercept model (REML) against lme4, and its start values against the REML optimum.

Reference: lme4's ``lmer(Weight ~ Time + (1 | Pig), data = dietox)``, as quoted in statsmodels' own test suite
(regression/tests/test_lme.py::test_dietox), on the dietox data shipped with statsmodels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels

from evaluation.stats import mixed_model


def dietox() -> pd.DataFrame:
    return pd.read_csv(Path(statsmodels.__file__).parent / "regression" / "tests" / "results" / "dietox.csv")


def test_random_intercept_model_matches_lme4_on_dietox():
    """lme4 (REML): fixef 15.723523, 6.942505; pig variance 40.39395; residual variance 11.36692; so
    ICC = 40.39395 / (40.39395 + 11.36692) = 0.780397."""
    fit = mixed_model.RandomInterceptModel("Weight ~ Time", "Pig").fit(dietox())
    # lme4's REML optimum, quoted to 7 significant digits; both fits are optimisers and agree to ~4e-7 relative
    # on the variances here, so 1e-5 leaves room for where each one stops
    assert fit.fixed_effects_["estimate"].to_numpy() == pytest.approx([15.723523, 6.942505], rel=1e-5)
    assert fit.group_variance_ == pytest.approx(40.39395, rel=1e-5)
    assert fit.residual_variance_ == pytest.approx(11.36692, rel=1e-5)
    assert fit.icc_ == pytest.approx(0.780397, abs=1e-5)
    assert fit.converged_ and fit.n_groups_ == 72 and fit.n_obs_ == 861
    assert list(fit.summary.columns) == ["term", "estimate", "std_error", "ci_low", "ci_high", "p_value"]
    # Wald CI = estimate -/+ 1.959964 * SE; lme4's SEs 0.78805374, 0.03338727
    assert fit.summary["ci_low"].iloc[0] == pytest.approx(15.723523 - 1.959964 * 0.78805374, rel=1e-5)  # as above
    assert fit.summary["std_error"].to_numpy() == pytest.approx([0.78805374, 0.03338727], rel=1e-4)


def test_variance_components_are_lme4s_varcorr_on_dietox():
    """lme4's ``VarCorr``: Pig (Intercept) variance 40.394, Std.Dev. 6.3556; Residual 11.367, 3.3715; the pig
    share 40.39395 / 51.76087 = 0.780397 is the ICC."""
    table = mixed_model.RandomInterceptModel("Weight ~ Time", "Pig").fit(dietox()).variance_components_
    assert table["component"].tolist() == ["Pig (intercept)", "residual"]
    assert table["variance"].to_numpy() == pytest.approx([40.39395, 11.36692], rel=1e-5)
    assert table["std_dev"].to_numpy() == pytest.approx([6.3556, 3.3715], abs=5e-5)
    assert table["share"].to_numpy() == pytest.approx([0.780397, 0.219603], abs=1e-5)


def _no_team_effect() -> pd.DataFrame:
    """Three teams of 8 patients whose change depends on baseline only (slope -0.3, noise SD 0.3): with this
    seed the REML optimum of the team variance is zero."""
    rng = np.random.default_rng(7)
    rows = []
    for t in range(3):
        for _ in range(8):
            base = 8 + rng.normal(0, 1)
            follow = base - 0.5 - 0.3 * (base - 8) + rng.normal(0, 0.3)
            rows.append({"team_id": f"T{t + 1}", "baseline": base, "change": follow - base})
    d = pd.DataFrame(rows)
    return d.assign(baseline_centred=d["baseline"] - d["baseline"].mean())


def test_variance_ratio_start_is_the_reml_optimum():
    """dietox: pig variance / residual variance = 40.39395 / 11.36692 = 3.553617, found by the one-dimensional
    search alone. Three teams whose REML optimum is a zero team variance: the fit lands on the boundary, with
    a REML log-likelihood at least statsmodels' own default fit's."""
    import statsmodels.formula.api as smf

    model = smf.mixedlm("Weight ~ Time", dietox(), groups=dietox()["Pig"])
    # lme4's optimum at 7 significant digits; the search stops within ~6e-7 of it here
    assert mixed_model.variance_ratio_start(model).cov_re[0, 0] == pytest.approx(40.39395 / 11.36692, rel=1e-5)
    d = _no_team_effect()
    fit = mixed_model.RandomInterceptModel("change ~ baseline_centred", "team_id").fit(d)
    with pytest.warns(Warning):
        default = smf.mixedlm("change ~ baseline_centred", d, groups=d["team_id"]).fit(reml=True)
    assert fit.converged_ and fit.group_variance_ < 1e-6 and fit.icc_ < 1e-4
    assert fit.result_.llf >= default.llf - 1e-9  # rounding slack only: the default fit stops 0.07 lower here
    # the slope on baseline lands near the simulated -0.3
    slope = fit.fixed_effects_.set_index("term").loc["baseline_centred"]
    assert slope["ci_low"] < -0.3 < slope["ci_high"]


def test_group_effects_are_the_blups_with_lme4s_conditional_variances():
    """Each pig's random intercept by hand from lme4's REML fit (fixef 15.723523, 6.942505; pig variance
    tau2 = 40.39395, residual sigma2 = 11.36692): b_i = tau2 n_i / (tau2 n_i + sigma2) * mean_i(Weight - 15.723523
    - 6.942505 Time), conditional variance tau2 sigma2 / (tau2 n_i + sigma2) (what ``ranef(fit, condVar = TRUE)``
    gives for a random intercept)."""
    data = dietox()
    fit = mixed_model.RandomInterceptModel("Weight ~ Time", "Pig").fit(data)
    tau2, sigma2 = 40.39395, 11.36692
    residual = data["Weight"] - 15.723523 - 6.942505 * data["Time"]
    by_pig = residual.groupby(data["Pig"]).agg(["size", "mean"])
    blup = tau2 * by_pig["size"] / (tau2 * by_pig["size"] + sigma2) * by_pig["mean"]
    se = np.sqrt(tau2 * sigma2 / (tau2 * by_pig["size"] + sigma2))
    got = fit.group_effects_.set_index("group")
    assert len(got) == 72 and list(got.columns) == ["n", "effect", "std_error", "ci_low", "ci_high"]
    expected = blup.rename(index=str).loc[got.index]
    # lme4's estimates are quoted to 7 digits; a BLUP near zero is a difference of such numbers: absolute 1e-3 kg
    assert got["effect"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-3)
    assert got["std_error"].to_numpy() == pytest.approx(se.rename(index=str).loc[got.index].to_numpy(), rel=1e-5)
    assert got["ci_high"].to_numpy() == pytest.approx((got["effect"] + 1.959964 * got["std_error"]).to_numpy(), rel=1e-6)
    assert (got["n"] == by_pig["size"].rename(index=str).loc[got.index]).all()
