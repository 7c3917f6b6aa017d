"""Inter-rater agreement statistics against published values and hand arithmetic.

References: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability" (Annenberg School for
Communication), worked examples A (binary, two observers: alpha = 0.095), B (nominal, two observers:
0.692) and C (nominal, four observers, missing values: 0.743); the 2 x 2 table of 50 units (yes/yes 20,
yes/no 5, no/yes 10, no/no 15: kappa = 0.40) of the standard worked example of Cohen's kappa; a
three-category diagnostic table of two raters (Fleiss 1981, Statistical Methods for Rates and
Proportions, ch. 13: kappa = .68); Landis & Koch (1977) and Krippendorff (2004) for the readings. Each
test also writes out the arithmetic, which is the oracle where a published value has fewer decimals.
"""
from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from evaluation.stats import agreement

nan = np.nan
# Krippendorff (2011), section C: 4 observers x 12 units, values 1-5, missing values
KRIPPENDORFF_C = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
                  [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
                  [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
                  [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]


# --- Cohen's kappa -----------------------------------------------------------------------------------

def test_kappa_of_the_fifty_unit_two_by_two_table():
    """yes/yes 20, A-only 5, B-only 10, no/no 15: po = 35/50 = .70; A says yes .5, B .6;
    pe = .5 * .6 + .5 * .4 = .50; kappa = (.70 - .50) / (1 - .50) = 0.40."""
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert agreement.cohen_kappa(a, b) == (pytest.approx(0.40), None)


def test_kappa_of_a_three_category_textbook_table():
    """Two raters, 100 subjects, categories P, N, O; cells (A, B): PP 75, PN 1, PO 4, NP 5, NN 4, NO 1, OO 10.

    po = (75 + 4 + 10) / 100 = .89; A's margins .80 .10 .10, B's .80 .05 .15;
    pe = .64 + .005 + .015 = .66; kappa = (.89 - .66) / (1 - .66) = .23 / .34 = 0.6765 (Fleiss: .68).
    """
    cells = {("P", "P"): 75, ("P", "N"): 1, ("P", "O"): 4, ("N", "P"): 5, ("N", "N"): 4, ("N", "O"): 1, ("O", "O"): 10}
    a = [x for (x, _), n in cells.items() for _ in range(n)]
    b = [y for (_, y), n in cells.items() for _ in range(n)]
    kappa, why = agreement.cohen_kappa(a, b)
    assert why is None and kappa == pytest.approx(0.23 / 0.34) and round(kappa, 2) == 0.68


def test_kappa_that_is_zero_over_zero_says_why():
    """Both raters used one category throughout: pe = 1, kappa = 0/0, reported as NaN with the reason."""
    for labels, reason in (([0, 0, 0], "no coder applied this code"),
                           ([1, 1, 1], "every coder applied this code to every excerpt"),
                           (["x", "x", "x"], "both coders gave every unit 'x'")):
        kappa, why = agreement.cohen_kappa(labels, labels)
        assert np.isnan(kappa) and why.startswith(reason) and why.endswith("kappa is 0/0")
    assert np.isnan(agreement.cohen_kappa([], [])[0])
    with pytest.raises(ValueError, match="got 2 and 3 labels"):
        agreement.cohen_kappa([0, 1], [0, 1, 1])


def test_mean_pairwise_kappa_of_three_raters():
    """Light (1971): the mean of the pairs' kappas. A 110010, B 100010, C 111000:
    AB po 5/6, pe .5 (1/3) + .5 (2/3) = .5, kappa 2/3; AC po 4/6, pe .5, kappa 1/3;
    BC po 3/6, pe (1/3)(1/2) + (2/3)(1/2) = .5, kappa 0; mean 1/3."""
    ratings = [[1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 0]]
    assert agreement.mean_pairwise_kappa(ratings) == (pytest.approx(1 / 3), 3, [])


def test_mean_pairwise_kappa_with_missing_ratings_and_a_pair_without_overlap():
    """C rated only units 1-3; D only units 4-5, so C and D share no unit and are not compared.

         1  2  3  4  5
    A    1  0  0  1  0
    B    1  1  0  1  1
    C    1  0  0  .  .
    AB over 1-5: po .6, pe .4 * .8 + .6 * .2 = .44, kappa .16 / .56 = 2/7; AC over 1-3: po 1, pe 5/9, kappa 1;
    BC over 1-3: po 2/3, pe 4/9, kappa (2/9) / (5/9) = .4; mean (2/7 + 1 + .4) / 3.
    Adding D = (., ., ., 1, 1): AD over 4-5, A (1, 0) and D (1, 1): po .5, pe .5 * 1 + .5 * 0 = .5, kappa 0;
    BD over 4-5: both said 1 throughout, pe = 1, undefined (its reason is listed); CD share no unit.
    """
    abc = [[1, 0, 0, 1, 0], [1, 1, 0, 1, 1], [1, 0, 0, nan, nan]]
    assert agreement.mean_pairwise_kappa(abc) == (pytest.approx((2 / 7 + 1 + 0.4) / 3), 3, [])
    kappa, n_pairs, reasons = agreement.mean_pairwise_kappa(abc + [[nan, nan, nan, 1, 1]])
    assert n_pairs == 5  # AB, AC, BC, AD, BD; CD shares no unit
    assert kappa == pytest.approx((2 / 7 + 1 + 0.4 + 0) / 4)
    assert reasons == ["every coder applied this code to every excerpt, so chance agreement is 1 and kappa is 0/0"]
    kappa, n_pairs, reasons = agreement.mean_pairwise_kappa([[1, nan], [nan, 0]])
    assert np.isnan(kappa) and (n_pairs, reasons) == (0, [])


def test_landis_koch_bands():
    """Landis & Koch (1977): <0 poor, .00-.20 slight, .21-.40 fair, .41-.60 moderate, .61-.80 substantial,
    .81-1 almost perfect."""
    got = [agreement.landis_koch(k) for k in (-0.1, 0.0, 0.2, 0.21, 0.4, 0.41, 0.6, 0.61, 0.8, 0.81, 1.0, np.nan, None)]
    assert got == ["poor", "slight", "slight", "fair", "fair", "moderate", "moderate", "substantial", "substantial",
                   "almost perfect", "almost perfect", "not computable", "not computable"]


# --- Krippendorff's alpha ----------------------------------------------------------------------------

def test_krippendorff_2011_binary_two_observers():
    """Section A: n = 20 values, n1 = 6, n0 = 14; units 1, 3, 6 and 9 disagree, o01 = 4;
    alpha = 1 - (n - 1) o01 / (n0 n1) = 1 - 19 * 4 / 84 = 0.0952 (published 0.095)."""
    data = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
            [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
    assert agreement.krippendorff_alpha_nominal(data) == pytest.approx(1 - 19 * 4 / 84)
    assert round(agreement.krippendorff_alpha_nominal(data), 3) == 0.095


def test_krippendorff_2011_nominal_two_observers():
    """Section B, values a-e as 1-5: units 1, 5 and 12 disagree, Do = 6/24; the 24 values are
    a 4, b 6, c 6, d 6, e 2, De = (24^2 - 128) / (24 * 23) = 448/552; alpha = 1 - (6/24) / (448/552) = 0.692."""
    data = [[1, 1, 2, 2, 4, 3, 3, 3, 5, 4, 4, 1],
            [2, 1, 2, 2, 2, 3, 3, 3, 5, 4, 4, 4]]
    assert agreement.krippendorff_alpha_nominal(data) == pytest.approx(1 - (6 / 24) / (448 / 552))
    assert round(agreement.krippendorff_alpha_nominal(data), 3) == 0.692


def test_krippendorff_2011_four_observers_with_missing_values():
    """Section C: nominal alpha 0.743, from the reliability matrix and from its per-unit value counts."""
    assert agreement.krippendorff_alpha_nominal(KRIPPENDORFF_C) == pytest.approx(0.743, abs=5e-4)
    data = np.array(KRIPPENDORFF_C)
    counts = np.stack([(data == v).sum(axis=0) for v in range(1, 6)], axis=1)  # units x values
    assert agreement.alpha_from_counts(counts) == pytest.approx(0.743, abs=5e-4)


def test_alpha_without_variation_or_pairs_is_nan():
    """Every pairable value the same (no expected disagreement), or no unit with two values: undefined."""
    assert np.isnan(agreement.krippendorff_alpha_nominal([[1, 1, nan], [1, 1, 2]]))
    assert np.isnan(agreement.krippendorff_alpha_nominal([[1, nan], [nan, 2]]))
    assert np.isnan(agreement.alpha_from_counts(np.array([[2, 0], [3, 0]])))
    assert np.isnan(agreement.alpha_from_counts(np.array([[1, 0], [0, 1]])))


def test_alpha_verdict_thresholds():
    """Krippendorff (2004, p. 241): rely on alpha >= .800; .667 to .800 for tentative conclusions only."""
    got = [agreement.alpha_verdict(a) for a in (0.8, 0.7999, 0.667, 0.6669, np.nan)]
    assert got == ["reliable", "tentative", "tentative", "unreliable", "not computable"]


def test_bootstrap_alphas_equal_the_krippendorff_package_draw_by_draw():
    """The resampled alphas computed all at once equal krippendorff.alpha on each resample (same draws),
    including resamples with no variation (NaN)."""
    rng_data = np.random.default_rng(4)
    for trial in range(6):
        n_units, n_items = int(rng_data.integers(3, 40)), int(rng_data.integers(1, 5))
        decisions = (rng_data.random((n_units, n_items, 3)) < rng_data.uniform(0.05, 0.6)).astype(float)
        decisions[rng_data.random(decisions.shape) < 0.2] = np.nan  # raters who did not rate a unit
        counts = np.stack([(decisions == 0).sum(axis=2), (decisions == 1).sum(axis=2)], axis=-1)
        fast = agreement.bootstrap_alphas(counts, np.random.default_rng([2015, trial]), 50)
        rng = np.random.default_rng([2015, trial])
        for b in range(50):
            units = counts[rng.integers(0, n_units, n_units)].reshape(-1, 2)
            units = units[units.sum(axis=1) >= 2]
            if len(units) == 0 or (units.sum(axis=0) > 0).sum() < 2:
                assert np.isnan(fast[b])
            else:
                # closed form in both, in another order of sums: rounding only
                assert fast[b] == pytest.approx(krippendorff.alpha(value_counts=units, level_of_measurement="nominal"),
                                                rel=1e-9, abs=1e-12)


def test_bootstrap_alphas_of_a_single_resampled_unit_are_the_units_alpha():
    """One unit of two items, each rated 0 by one rater and 1 by the other: every resample is that unit.
    n = 4 values, n0 = n1 = 2, each item gives o01 = 1 * 1 / (2 - 1) = 1, o01 = 2;
    alpha = 1 - (n - 1) o01 / (n0 n1) = 1 - 3 * 2 / 4 = -0.5."""
    counts = np.array([[[1, 1], [1, 1]]])  # 1 unit x 2 items x (zeros, ones)
    draws = agreement.bootstrap_alphas(counts, np.random.default_rng(0), 5)
    assert draws == pytest.approx([-0.5] * 5)
    assert agreement.alpha_from_counts(counts.reshape(-1, 2)) == pytest.approx(-0.5)


def test_nominal_bootstrap_resamples_match_the_krippendorff_package():
    """Each resample of section C's units (the draws of rng.integers, in turn) gives the alpha the krippendorff
    package computes on the resampled value counts."""
    data = np.array(KRIPPENDORFF_C)
    counts = np.stack([(data == v).sum(axis=0) for v in range(1, 6)], axis=1)
    draws = agreement.bootstrap_alphas_nominal(counts, np.random.default_rng(7), 5)
    rng = np.random.default_rng(7)
    picks = rng.integers(0, len(counts), (5, len(counts)))
    for alpha, pick in zip(draws, picks):
        assert alpha == pytest.approx(agreement.alpha_from_counts(counts[pick]), rel=1e-12, nan_ok=True)
