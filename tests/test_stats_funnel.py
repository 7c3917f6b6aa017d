"""Funnel plots (evaluation/stats/funnel.py) against hand computations.

References: Spiegelhalter DJ (2005) Funnel plots for comparing institutional performance, Stat Med
24:1185-1202 (exact limits with interpolation, appendix A.1.1 binomial and A.1.2 Poisson), and Spiegelhalter
DJ (2005) Handling over-dispersion of performance indicators, Qual Saf Health Care 14:347-351 (Winsorised
phi, additive tau2). The transformed-scale test follows R FunnelPlotR's formulas (R/od_adjustment.R,
R/calculate_limits.R) on the data of its binomial working (dev/workingout_binom.R). Every expected value is
computed here from scipy's binom / poisson / norm primitives and arithmetic, never by the module's helpers.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.stats.funnel import LEVELS, Funnel, funnel_proportions, funnel_rates, level_label

Z95, Z998 = stats.norm.ppf(0.975), stats.norm.ppf(0.999)  # 1.959964, 3.090232


def hand_exact_limit(cdf: np.ndarray, p: float, denominator: float) -> float:
    """Spiegelhalter 2005 appendix A.1, written from its prose: cdf[k] = P(R <= k) for k = 0, 1, ...; r_p
    is the first k with cdf[k] >= p; alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)); limit = (r_p - alpha) / n."""
    r = int(np.argmax(cdf >= p))
    below = cdf[r - 1] if r > 0 else 0.0
    alpha = (cdf[r] - p) / (cdf[r] - below)
    return (r - alpha) / denominator


def hand_winsorised(z: np.ndarray, q: float) -> np.ndarray:
    """z with the values below the q-th percentile set to it and those above the (1-q)-th set to it; a
    percentile interpolates the sorted z linearly at position h = (I - 1) q (0-based), R's type 7."""
    zs = np.sort(z)

    def percentile(prob: float) -> float:
        h = (len(zs) - 1) * prob
        lo = math.floor(h)
        return zs[lo] + (h - lo) * (zs[min(lo + 1, len(zs) - 1)] - zs[lo])

    low, high = percentile(q), percentile(1 - q)
    return np.array([low if v < low else high if v > high else v for v in z])


def hand_tau2(phi: float, s: np.ndarray) -> float:
    n_units = len(s)
    w = 1 / s ** 2
    return max(0.0, (n_units * phi - (n_units - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))


# -- 1, 2: exact limits --------------------------------------------------------------------------------------

def test_exact_binomial_limits_with_interpolation_at_n_50():
    """n = 50, theta0 = 0.2 (two units of 10/50, so the pooled target is 0.2), appendix A.1.1 by hand:
    2.5%: r_p = 5, F(5) = 0.048027, F(4) = 0.018496, alpha = 0.779759 -> (5 - 0.779759)/50 = 0.084405;
    97.5%: r_p = 16, F(16) = 0.985558, F(15) = 0.969197, alpha = 0.645306 -> 0.307094;
    0.1%: r_p = 2, alpha = 0.261193 -> 0.034776; 99.9%: r_p = 19, alpha = 0.042795 -> 0.379144.
    The normal limits would be 0.2 +/- 1.959964 x sqrt(0.16 / 50) = 0.089128 to 0.310872: not these."""
    f = funnel_proportions([10, 10], [50, 50], ["A", "B"], overdispersion=False)
    cdf = stats.binom.cdf(np.arange(51), 50, 0.2)
    expected = {"lower_95": hand_exact_limit(cdf, 0.025, 50), "upper_95": hand_exact_limit(cdf, 0.975, 50),
                "lower_998": hand_exact_limit(cdf, 0.001, 50), "upper_998": hand_exact_limit(cdf, 0.999, 50)}
    assert expected["lower_95"] == pytest.approx(0.084405, abs=1e-6)  # the printed values, to 6 decimals
    assert expected["upper_95"] == pytest.approx(0.307094, abs=1e-6)
    assert expected["lower_998"] == pytest.approx(0.034776, abs=1e-6)
    assert expected["upper_998"] == pytest.approx(0.379144, abs=1e-6)
    assert f.target == pytest.approx(0.2) and f.per == 1 and f.kind == "proportion"
    for column, value in expected.items():
        assert f.table[column].tolist() == pytest.approx([value, value], rel=1e-12)  # same arithmetic
    assert f.table["flag"].tolist() == ["within", "within"]
    assert math.isnan(f.phi) and f.tau2 == 0 and f.overdispersion is False


def test_exact_poisson_limits_at_1200_patient_months():
    """T = 1,200 patient-months, theta0 = 0.004 per month (mean 4.8), appendix A.1.2 by hand, per 1,000:
    2.5%: r_p = 1, F(1) = 0.047733, F(0) = 0.008230, alpha = 0.575467 -> (1 - 0.575467)/1200 = 0.353778;
    97.5%: r_p = 10, alpha = 0.990412 -> 7.507990; 99.9%: r_p = 13, alpha = 0.555721 -> 10.370232;
    0.1%: r_p = 0, alpha = 1 - 0.001/F(0) = 0.878490 -> -0.732075, below any rate, so the limit is 0."""
    f = funnel_rates([3, 9], [1200, 1200], ["A", "B"], target=0.004, overdispersion=False)
    cdf = stats.poisson.cdf(np.arange(60), 0.004 * 1200)
    upper_95, lower_95 = hand_exact_limit(cdf, 0.975, 1200) * 1000, hand_exact_limit(cdf, 0.025, 1200) * 1000
    upper_998, lower_998 = hand_exact_limit(cdf, 0.999, 1200) * 1000, hand_exact_limit(cdf, 0.001, 1200) * 1000
    assert (lower_95, upper_95, upper_998) == pytest.approx((0.353778, 7.507990, 10.370232), abs=1e-6)
    assert lower_998 == pytest.approx(-0.732075, abs=1e-6)
    row = f.table.iloc[0]
    assert (row.lower_95, row.upper_95, row.upper_998) == pytest.approx((lower_95, upper_95, upper_998), rel=1e-12)
    assert row.lower_998 == 0
    assert f.table["value"].tolist() == pytest.approx([2.5, 7.5])  # 3 and 9 per 1,200 months, per 1,000
    assert f.table["flag"].tolist() == ["within", "within"]  # 7.5 is just under 7.507990
    assert f.target == 0.004 and f.per == 1000


# -- 3: a table of rates, over-dispersed -----------------------------------------------------------------------

UNITS = [f"team {c}" for c in "ABCDEFGH"]
EVENTS = np.array([40, 66, 27, 48, 45, 34, 10, 18])  # readmissions
MONTHS = np.array([9000, 12000, 6000, 10000, 8000, 7500, 900, 1200])  # patient-months


def test_rate_table_flags_phi_and_tau2_by_hand():
    """Eight teams; theta0 = 288 / 54,600 = 5.274725 per 1,000 patient-months. Team G (10 in 900 months,
    11.1 per 1,000) and team H (18 in 1,200, 15.0) are small and high; the rest sit near the target.

    By hand: s_i = sqrt(theta0 / T_i), z_i = (y_i - theta0) / s_i; 10% Winsorising with I = 8 replaces
    the lowest z by z_(0) + 0.7 (z_(1) - z_(0)) and the highest by z_(6) + 0.3 (z_(7) - z_(6)) (sorted,
    0-based); phi = mean z_w^2 = 2.297245 > 7/8, so tau2 = (8 phi - 7) / (sum w - sum w^2 / sum w) =
    1.31197e-6 per month^2 (w = 1 / s^2). Limits theta0 +/- z_p sqrt(s^2 + tau2): team H's z_adjusted
    4.07 is beyond 3.090232 (above 99.8%), team G's 2.18 beyond 1.959964 only (above 95%)."""
    f = funnel_rates(EVENTS, MONTHS, UNITS)
    theta0 = EVENTS.sum() / MONTHS.sum()
    y = EVENTS / MONTHS
    s = np.sqrt(theta0 / MONTHS)
    z = (y - theta0) / s
    zs = np.sort(z)
    low, high = zs[0] + 0.7 * (zs[1] - zs[0]), zs[6] + 0.3 * (zs[7] - zs[6])
    z_w = np.minimum(np.maximum(z, low), high)
    phi = np.mean(z_w ** 2)
    w = 1 / s ** 2
    assert 8 * phi > 7
    tau2 = (8 * phi - 7) / (w.sum() - (w ** 2).sum() / w.sum())
    assert (theta0 * 1000, phi, tau2) == pytest.approx((5.274725, 2.297245, 1.31197e-6), rel=1e-5)  # as printed
    assert f.target == pytest.approx(theta0, rel=1e-12)
    assert f.phi == pytest.approx(phi, rel=1e-12) and f.tau2 == pytest.approx(tau2, rel=1e-12)
    assert f.overdispersion is True
    sd = np.sqrt(s ** 2 + tau2)
    t = f.table
    assert t["unit"].tolist() == UNITS
    assert t["value"].to_numpy() == pytest.approx(y * 1000, rel=1e-12)
    assert t["z"].to_numpy() == pytest.approx(z, rel=1e-12)
    assert t["z_adjusted"].to_numpy() == pytest.approx((y - theta0) / sd, rel=1e-12)
    assert t["upper_95"].to_numpy() == pytest.approx((theta0 + Z95 * sd) * 1000, rel=1e-12)
    assert t["lower_95"].to_numpy() == pytest.approx(np.maximum(theta0 - Z95 * sd, 0) * 1000, rel=1e-12, abs=1e-12)
    assert t["upper_998"].to_numpy() == pytest.approx((theta0 + Z998 * sd) * 1000, rel=1e-12)
    assert t["lower_998"].to_numpy() == pytest.approx(np.maximum(theta0 - Z998 * sd, 0) * 1000, rel=1e-12, abs=1e-12)
    assert t["flag"].tolist() == ["within"] * 6 + ["above 95%", "above 99.8%"]
    assert f.flagged(0.998)["unit"].tolist() == ["team H"]
    assert f.flagged(0.95)["unit"].tolist() == ["team G", "team H"]
    assert list(t.columns) == ["unit", "numerator", "denominator", "value", "z", "z_adjusted",
                               "lower_95", "upper_95", "lower_998", "upper_998", "flag"]


def test_rate_table_without_the_adjustment_uses_exact_poisson_limits():
    """The same teams with ``overdispersion=False``: each unit's limits are the exact Poisson ones at its
    months (appendix A.1.2, by hand), and the flags follow them: team C (27 in 6,000 months, 4.5 per 1,000)
    stays within, G is above 95%, H above 99.8%."""
    f = funnel_rates(EVENTS, MONTHS, UNITS, overdispersion=False)
    theta0 = EVENTS.sum() / MONTHS.sum()
    for row, months in zip(f.table.itertuples(), MONTHS):
        cdf = stats.poisson.cdf(np.arange(400), theta0 * months)
        assert row.upper_95 == pytest.approx(hand_exact_limit(cdf, 0.975, months) * 1000, rel=1e-12)
        assert row.lower_998 == pytest.approx(max(hand_exact_limit(cdf, 0.001, months), 0) * 1000, rel=1e-12)
    assert f.table["flag"].tolist() == ["within"] * 6 + ["above 95%", "above 99.8%"]
    assert f.table["z_adjusted"].tolist() == f.table["z"].tolist()


def test_curve_draws_the_limits_the_units_get():
    """The curve runs from half the smallest denominator (450 months) to 1.1 x the largest (13,200), and at
    each grid point holds theta0 +/- z_p sqrt(theta0 / T + tau2), x 1,000, the rule the units' limits follow."""
    f = funnel_rates(EVENTS, MONTHS, UNITS)
    c = f.curve(n_points=50)
    assert list(c.columns) == ["denominator", "target", "lower_95", "upper_95", "lower_998", "upper_998"]
    assert len(c) == 50 and c["denominator"].iloc[[0, -1]].tolist() == pytest.approx([450, 13200])
    assert c["denominator"].is_monotonic_increasing
    sd = np.sqrt(f.target / c["denominator"].to_numpy() + f.tau2)
    assert c["upper_998"].to_numpy() == pytest.approx((f.target + Z998 * sd) * 1000, rel=1e-12)
    lower_95 = np.maximum(f.target - Z95 * sd, 0) * 1000
    assert c["lower_95"].to_numpy() == pytest.approx(lower_95, rel=1e-12, abs=1e-12)
    assert c["target"].to_numpy() == pytest.approx(np.full(50, f.target * 1000))
    assert f.curve(10, max_denominator=20000)["denominator"].iloc[-1] == pytest.approx(20000)


def test_curve_of_exact_binomial_limits_has_whole_denominators():
    """Proportions: the grid is whole numbers of patients (25 to 55 here) and each row holds the exact binomial
    limits at that n, by hand."""
    f = funnel_proportions([10, 10], [50, 50], ["A", "B"], overdispersion=False)
    c = f.curve(n_points=30)
    n = c["denominator"].to_numpy()
    assert (n == np.round(n)).all() and n[0] == 25 and n[-1] == 55 and len(c) <= 30
    for row in c.itertuples():
        cdf = stats.binom.cdf(np.arange(int(row.denominator) + 1), int(row.denominator), 0.2)
        assert row.upper_95 == pytest.approx(hand_exact_limit(cdf, 0.975, row.denominator), rel=1e-12)
        lower_998 = max(hand_exact_limit(cdf, 0.001, row.denominator), 0)
        assert row.lower_998 == pytest.approx(lower_998, rel=1e-12, abs=1e-15)


# -- 4: no over-dispersion found -------------------------------------------------------------------------------

def test_when_i_phi_is_at_most_i_minus_1_tau2_is_0_and_the_limits_are_unadjusted():
    """Four teams near theta0 = 50 / 10,000 = 0.005: z = 0, 0.316228, -0.258199, 0; Winsorised with I = 4
    at positions 0.3 and 2.7 of the sorted z; phi = 0.037 and 4 phi = 0.15 <= 3, so tau2 = 0: the limits are
    the exact Poisson ones, ``overdispersion`` is False and z_adjusted = z, while phi is still reported."""
    events, months, units = [5, 11, 14, 20], [1000, 2000, 3000, 4000], ["A", "B", "C", "D"]
    f = funnel_rates(events, months, units)
    plain = funnel_rates(events, months, units, overdispersion=False)
    y, s = np.array(events) / np.array(months), np.sqrt(0.005 / np.array(months))
    z = (y - 0.005) / s
    assert z == pytest.approx([0, 0.316228, -0.258199, 0], abs=1e-6)
    zs = np.sort(z)
    z_w = np.clip(z, zs[0] + 0.3 * (zs[1] - zs[0]), zs[2] + 0.7 * (zs[3] - zs[2]))
    phi = np.mean(z_w ** 2)
    assert 4 * phi <= 3
    assert f.phi == pytest.approx(phi, rel=1e-12) and f.tau2 == 0 and f.overdispersion is False
    limit_columns = ["lower_95", "upper_95", "lower_998", "upper_998"]
    pd.testing.assert_frame_equal(f.table[limit_columns], plain.table[limit_columns])
    cdf = stats.poisson.cdf(np.arange(100), 0.005 * 3000)
    assert f.table.loc[2, "upper_95"] == pytest.approx(hand_exact_limit(cdf, 0.975, 3000) * 1000, rel=1e-12)
    assert f.table["z_adjusted"].tolist() == f.table["z"].tolist()
    assert f.table["flag"].tolist() == ["within"] * 4


def test_phi_just_under_1_still_widens_the_limits():
    """The rule is I phi > I - 1, not phi > 1 (FunnelPlotR draws unadjusted limits whenever phi <= 1). Five
    teams of 2,000 months, 5, 7, 7, 12, 14 events: theta0 = 0.0045, s = 0.0015, z = (O - 9) / 3 = -4/3, -2/3,
    -2/3, 1, 5/3; Winsorised at positions 0.4 and 3.6: -16/15 and 1.4; phi = 4.986667 / 5 = 0.997333, so
    5 phi > 4 and tau2 = 0.986667 x 0.0015^2 / 4 = 5.55e-7 (all w equal: sum w - sum w^2 / sum w = 4 w)."""
    f = funnel_rates([5, 7, 7, 12, 14], [2000] * 5, list("ABCDE"))
    z_w = np.array([-16 / 15, -2 / 3, -2 / 3, 1, 1.4])
    phi = np.mean(z_w ** 2)
    tau2 = (5 * phi - 4) * 0.0015 ** 2 / 4
    assert (phi, tau2) == pytest.approx((0.997333, 5.55e-7), rel=1e-5)  # as printed
    assert (f.phi, f.tau2) == pytest.approx((phi, tau2), rel=1e-12) and f.overdispersion is True
    assert f.table["upper_95"].to_numpy() == pytest.approx(
        np.full(5, (0.0045 + Z95 * math.sqrt(0.0015 ** 2 + tau2)) * 1000), rel=1e-12)


def test_i_phi_equal_to_i_minus_1_gives_tau2_0_not_a_rounding_residue():
    """Five teams of 2,000 months with 6, 6, 10, 12, 12 events: theta0 = 0.0046 (9.2 expected each), no z is
    Winsorised, sum z^2 = 36.8 / 9.2 = 4 = I - 1 exactly: tau2 = 0 and the limits stay exact (by hand)."""
    f = funnel_rates([6, 6, 10, 12, 12], [2000] * 5, list("ABCDE"))
    assert f.tau2 == 0 and f.overdispersion is False and 5 * f.phi == pytest.approx(4, rel=1e-12)
    cdf = stats.poisson.cdf(np.arange(60), 9.2)
    assert f.table.loc[0, "upper_998"] == pytest.approx(hand_exact_limit(cdf, 0.999, 2000) * 1000, rel=1e-12)


def test_under_dispersed_proportions_keep_exact_limits():
    """Proportions spread less than chance (all at 0.3 but one at 0.32): phi < (I - 1) / I, tau2 = 0, limits
    exact binomial (by hand at n = 100)."""
    f = funnel_proportions([30, 60, 32, 90], [100, 200, 100, 300], list("ABCD"))
    theta0 = 212 / 700
    assert f.tau2 == 0 and f.overdispersion is False and 4 * f.phi <= 3
    cdf = stats.binom.cdf(np.arange(101), 100, theta0)
    assert f.table.loc[0, "lower_95"] == pytest.approx(hand_exact_limit(cdf, 0.025, 100), rel=1e-12)
    assert f.table.loc[0, "upper_998"] == pytest.approx(hand_exact_limit(cdf, 0.999, 100), rel=1e-12)


# -- 5: proportions ---------------------------------------------------------------------------------------------

NUM = [12, 30, 26, 50, 42, 71, 4, 29, 48, 36]  # FunnelPlotR's binomial working (dev/workingout_binom.R)
DEN = [82, 98, 100, 125, 162, 151, 12, 100, 82, 99]
SITES = [f"site {i}" for i in range(1, 11)]


def test_proportions_with_overdispersion_by_hand():
    """Ten sites, theta0 = 348 / 1,011 = 0.344214 (shown as %, per = 100). By hand on the proportion scale:
    s_i = sqrt(theta0 (1 - theta0) / n_i); with I = 10 the 10th and 90th percentiles sit at positions 0.9 and
    8.1 of the sorted z; phi = 4.015592, tau2 = (10 phi - 9) / (sum w - sum w^2 / sum w) = 0.0078613. Only
    site 9 (48/82 = 58.5%, z_adjusted 2.34) is outside, above 95%; site 1 (12/82, z_adjusted -1.92) is inside."""
    f = funnel_proportions(NUM, DEN, SITES, per=100)
    r, n = np.array(NUM), np.array(DEN)
    theta0 = r.sum() / n.sum()
    y = r / n
    s = np.sqrt(theta0 * (1 - theta0) / n)
    z = (y - theta0) / s
    zs = np.sort(z)
    z_w = np.clip(z, zs[0] + 0.9 * (zs[1] - zs[0]), zs[8] + 0.1 * (zs[9] - zs[8]))
    assert z_w == pytest.approx(hand_winsorised(z, 0.1), rel=1e-12)  # the two hand readings of the percentile agree
    phi = np.mean(z_w ** 2)
    tau2 = hand_tau2(phi, s)
    assert (theta0, phi, tau2) == pytest.approx((0.344214, 4.015592, 0.0078613), rel=1e-5)  # as printed
    assert (f.target, f.phi, f.tau2) == pytest.approx((theta0, phi, tau2), rel=1e-12)
    sd = np.sqrt(s ** 2 + tau2)
    assert f.table["upper_95"].to_numpy() == pytest.approx(np.minimum(theta0 + Z95 * sd, 1) * 100, rel=1e-12)
    lower_998 = np.maximum(theta0 - Z998 * sd, 0) * 100
    assert f.table["lower_998"].to_numpy() == pytest.approx(lower_998, rel=1e-12, abs=1e-12)
    assert f.table["z_adjusted"].to_numpy() == pytest.approx((y - theta0) / sd, rel=1e-12)
    assert f.table["value"].to_numpy() == pytest.approx(y * 100, rel=1e-12)
    assert f.table.set_index("unit")["flag"].to_dict() == {u: "above 95%" if u == "site 9" else "within"
                                                            for u in SITES}
    counts = f.summary.loc[0, ["above 99.8%", "above 95%", "within", "below 95%", "below 99.8%"]]
    assert counts.tolist() == [0, 1, 9, 0, 0]


def test_proportions_without_the_adjustment_flag_by_exact_limits():
    """The same sites against exact binomial limits (by hand at each n): site 1 (14.6%) below 99.8%, site 5
    (25.9%) below 95% only, sites 6 (47.0%) and 9 (58.5%) above 99.8%; site 7 (4 of 12) within."""
    f = funnel_proportions(NUM, DEN, SITES, per=100, overdispersion=False)
    theta0 = sum(NUM) / sum(DEN)
    expected = []
    for r, n in zip(NUM, DEN):
        cdf = stats.binom.cdf(np.arange(n + 1), n, theta0)
        lo95, hi95 = hand_exact_limit(cdf, 0.025, n), hand_exact_limit(cdf, 0.975, n)
        lo998, hi998 = max(hand_exact_limit(cdf, 0.001, n), 0), hand_exact_limit(cdf, 0.999, n)
        y = r / n
        expected.append("above 99.8%" if y > hi998 else "above 95%" if y > hi95 else
                        "below 99.8%" if y < lo998 else "below 95%" if y < lo95 else "within")
    assert f.table["flag"].tolist() == expected
    assert expected == ["below 99.8%", "within", "within", "within", "below 95%", "above 99.8%", "within",
                        "within", "above 99.8%", "within"]
    normal = funnel_proportions(NUM, DEN, SITES, overdispersion=False, limits="normal")
    sd0 = np.sqrt(theta0 * (1 - theta0) / np.array(DEN))
    assert normal.table["upper_998"].to_numpy() == pytest.approx(theta0 + Z998 * sd0, rel=1e-12)
    assert normal.table["lower_998"].to_numpy() == pytest.approx(np.maximum(theta0 - Z998 * sd0, 0), rel=1e-12)


def test_arcsine_scale_matches_funnelplotr_formulas():
    """``scale="arcsine"`` with no Winsorising is FunnelPlotR's proportion method written out: target
    asin(sqrt(pbar)), Y = asin(sqrt(p)), s = 1 / (2 sqrt(n)), z = (Y - target) / s, phi = mean z^2 =
    6.037391, tau2 = 0.0143565 by its tau_func, limits sin(target +/- z_p sqrt(s^2 + tau2))^2."""
    f = funnel_proportions(NUM, DEN, SITES, scale="arcsine", winsor=0)
    p, n = np.array(NUM) / np.array(DEN), np.array(DEN)
    target = np.arcsin(np.sqrt(sum(NUM) / sum(DEN)))
    s = 1 / (2 * np.sqrt(n))
    z = (np.arcsin(np.sqrt(p)) - target) / s
    phi = np.mean(z ** 2)
    tau2 = hand_tau2(phi, s)
    assert (phi, tau2) == pytest.approx((6.037391, 0.0143565), rel=1e-5)  # as printed
    assert (f.phi, f.tau2) == pytest.approx((phi, tau2), rel=1e-12)
    assert f.table["z"].to_numpy() == pytest.approx(z, rel=1e-12)
    sd = np.sqrt(s ** 2 + tau2)
    assert f.table["upper_95"].to_numpy() == pytest.approx(np.sin(target + Z95 * sd) ** 2, rel=1e-12)
    assert f.table["lower_998"].to_numpy() == pytest.approx(np.sin(target - Z998 * sd) ** 2, rel=1e-12)
    assert f.scale == "arcsine" and f.flagged(0.95).empty


def test_sqrt_scale_for_rates_is_the_square_root_z_score():
    """``scale="sqrt"`` for rates: z = (sqrt(y) - sqrt(theta0)) x 2 sqrt(T) = 2 (sqrt(O) - sqrt(E)), E = theta0 T
    (the square-root z-score); tau2 on that scale; limits (sqrt(theta0) +/- z_p sqrt(1 / (4T) + tau2))^2."""
    f = funnel_rates(EVENTS, MONTHS, UNITS, scale="sqrt")
    theta0 = EVENTS.sum() / MONTHS.sum()
    z = 2 * (np.sqrt(EVENTS) - np.sqrt(theta0 * MONTHS))
    assert f.table["z"].to_numpy() == pytest.approx(z, rel=1e-12)
    phi = np.mean(hand_winsorised(z, 0.1) ** 2)
    s = 1 / (2 * np.sqrt(MONTHS))
    tau2 = hand_tau2(phi, s)
    assert (f.phi, f.tau2) == pytest.approx((phi, tau2), rel=1e-12) and tau2 > 0
    half = Z998 * np.sqrt(s ** 2 + tau2)
    assert f.table["upper_998"].to_numpy() == pytest.approx((np.sqrt(theta0) + half) ** 2 * 1000, rel=1e-12)
    lower_998 = np.maximum(np.sqrt(theta0) - half, 0) ** 2 * 1000
    assert f.table["lower_998"].to_numpy() == pytest.approx(lower_998, rel=1e-12)


# -- labels, levels, result object -------------------------------------------------------------------------------

@pytest.mark.parametrize("level, label", [(0.998, "99.8%"), (0.95, "95%"), (0.9, "90%"), (0.999, "99.9%")])
def test_level_label(level, label):
    assert level_label(level) == label


def test_other_levels_name_their_columns_and_flags():
    """levels=(0.9,): one pair of limits, lower_90 / upper_90, and flags "above 90%" / "below 90%"; the 90%
    normal limit is theta0 + 1.644854 x s."""
    f = funnel_proportions(NUM, DEN, SITES, overdispersion=False, limits="normal", levels=(0.9,))
    theta0 = sum(NUM) / sum(DEN)
    assert [c for c in f.table.columns if c.startswith(("lower", "upper"))] == ["lower_90", "upper_90"]
    assert f.table["upper_90"].to_numpy() == pytest.approx(
        theta0 + stats.norm.ppf(0.95) * np.sqrt(theta0 * (1 - theta0) / np.array(DEN)), rel=1e-12)
    assert set(f.table["flag"]) <= {"above 90%", "within", "below 90%"} and "above 90%" in set(f.table["flag"])
    assert isinstance(f, Funnel) and LEVELS == (0.95, 0.998)
    with pytest.raises(ValueError, match="level must be one of 0.9; got 0.998"):
        f.flagged()


# -- errors -----------------------------------------------------------------------------------------------------

AB = ["A", "B"]


@pytest.mark.parametrize("funnel, args, options, message", [
    (funnel_proportions, ([1, -2], [10, 10], AB), {}, r"unit 'B': numerator is negative \(-2\)"),
    (funnel_proportions, ([12, 3], [10, 10], AB), {}, r"unit 'A': numerator 12 is greater than denominator 10"),
    (funnel_proportions, ([0, 3], [0, 10], AB), {}, r"unit 'A': denominator is 0; every unit needs a positive denominator"),
    (funnel_proportions, ([1, 3], [10.5, 10], AB), {}, r"unit 'A': denominator must be a whole number of patients; got 10.5"),
    (funnel_rates, ([1, 2], [100, 0], AB), {}, r"unit 'B': exposure is 0; every unit needs a positive exposure"),
    (funnel_rates, ([-1, 2], [100, 50], AB), {}, r"unit 'A': events is negative \(-1\)"),
    (funnel_rates, ([1.5, 2], [100, 50], AB), {}, r"unit 'A': events must be a whole number of events; got 1.5"),
    (funnel_rates, ([1, None], [100, 50], AB), {}, r"unit 'B': events is missing or not a number"),
    (funnel_proportions, ([1, 2], [10, 10, 10], AB), {},
     "must be the same length; got 2 units, 2 numerators and 3 denominators"),
    (funnel_proportions, ([1], [10], ["A"]), {}, "needs at least 2; got 1"),
    (funnel_rates, ([1, 2], [10, 10], ["A", "A"]), {}, "units named more than once: 'A'"),
    (funnel_rates, ([0, 0], [10, 10], AB), {}, "no unit has any events: the pooled rate is 0"),
    (funnel_proportions, ([10, 10], [10, 10], AB), {}, "the pooled proportion is 1"),
    (funnel_proportions, ([1, 2], [10, 10], AB), {"target": 20}, "strictly between 0 and 1"),
    (funnel_rates, ([1, 2], [10, 10], AB), {"target": -0.1}, "target for rates must be a positive rate"),
    (funnel_proportions, ([1, 2], [10, 10], AB), {"limits": "wald"}, "limits must be one of exact, normal; got 'wald'"),
    (funnel_rates, ([1, 2], [10, 10], AB), {"scale": "arcsine"},
     "scale for rates must be one of identity, sqrt; got 'arcsine'"),
    (funnel_rates, ([1, 2], [10, 10], AB), {"winsor": 0.5}, "winsor must be at least 0 and below 0.5"),
    (funnel_rates, ([1, 2], [10, 10], AB), {"levels": (0.95, 1.2)}, "levels must be distinct numbers between 0 and 1"),
    (funnel_rates, ([1, 2], [10, 10], AB), {"per": 0}, "per must be a positive number"),
])
def test_bad_input_names_the_unit_and_the_problem(funnel, args, options, message):
    with pytest.raises(ValueError, match=message):
        funnel(*args, **options)


def test_every_bad_unit_is_listed_in_one_error():
    with pytest.raises(ValueError) as caught:
        funnel_proportions([5, 12, -1], [10, 10, 0], ["A", "B", "C"])
    text = str(caught.value)
    assert text.startswith("3 problems in the funnel's input")
    assert "unit 'B': numerator 12 is greater than denominator 10" in text
    assert "unit 'C': numerator is negative (-1)" in text and "unit 'C': denominator is 0" in text
