"""Inter-rater agreement on nominal labels: Cohen's kappa, Krippendorff's alpha, and how to read them.

Cohort-agnostic: the functions take labels, a raters x units matrix or per-unit value counts, never a
cohort. ``cohen_kappa`` and ``mean_pairwise_kappa`` (Light 1971) are written out, so that a kappa that is
0/0 is reported with its reason instead of being divided by; Krippendorff's alpha (nominal) comes from the
``krippendorff`` package, and ``bootstrap_alphas`` resamples units for its confidence interval.
``landis_koch`` and ``alpha_verdict`` are the published readings of the two coefficients.
"""

from __future__ import annotations
import itertools
import krippendorff
import numpy as np

# Landis & Koch (1977), Biometrics 33:159-174, p. 165: upper bound of each band of kappa and its label.
LANDIS_KOCH = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"),
               (1.0, "almost perfect"))
# Krippendorff (2004), Content Analysis 2nd ed., p. 241: rely on alpha >= .800; .667 <= alpha < .800 only
# for tentative conclusions.
ALPHA_RELIABLE, ALPHA_TENTATIVE = 0.800, 0.667
NOT_COMPUTABLE = "not computable"


def cohen_kappa(a, b) -> tuple[float, str | None]:
    """Cohen's (1960) kappa for two raters' labels of the same units, and why it is undefined (else None).

    kappa = (po - pe) / (1 - pe): po the share of units on which they agree, pe = sum over categories of
    the product of the two raters' shares of that category. When both raters used one and the same
    category throughout, pe = 1 and kappa is 0/0: NaN with the reason (for 0/1 labels, that no rater, or
    every rater, applied the code).
    """
    a, b = np.asarray(a), np.asarray(b)
    if len(a) != len(b):
        raise ValueError(f"the two coders must label the same units; got {len(a)} and {len(b)} labels")
    if len(a) == 0:
        return np.nan, "no excerpt was coded by both coders"
    po = float(np.mean(a == b))
    categories = np.union1d(a, b)
    pe = float(sum(np.mean(a == c) * np.mean(b == c) for c in categories))
    if np.isclose(pe, 1.0):
        only = categories[0].item()  # a plain value, so the reason reads 'x', not np.str_('x')
        who = "no coder applied this code" if only == 0 else (
            "every coder applied this code to every excerpt" if only == 1 else f"both coders gave every unit {only!r}")
        return np.nan, f"{who}, so chance agreement is 1 and kappa is 0/0"
    return (po - pe) / (1.0 - pe), None


def mean_pairwise_kappa(ratings) -> tuple[float, int, list[str]]:
    """Light's (1971) kappa for any number of raters: the mean of Cohen's kappa over the pairs of raters.

    ``ratings`` is raters x units (NaN: the rater did not rate the unit); each pair is compared on the
    units both rated, and a pair that rated no unit in common is left out. Returns the mean over the
    pairs where kappa is defined (NaN when none is), how many pairs were compared, and the reasons kappa
    was undefined for the others.
    """
    ratings = np.asarray(ratings, dtype=float)
    rated = ~np.isnan(ratings)
    kappas, reasons = [], []
    for i, j in itertools.combinations(range(len(ratings)), 2):
        both = rated[i] & rated[j]
        if not both.any():
            continue
        kappa, why = cohen_kappa(ratings[i, both], ratings[j, both])
        if why:
            reasons.append(why)
        else:
            kappas.append(kappa)
    return (float(np.mean(kappas)) if kappas else np.nan), len(kappas) + len(reasons), reasons


def krippendorff_alpha_nominal(reliability_data) -> float:
    """Krippendorff's alpha, nominal, for a raters x units matrix (NaN = missing); NaN when undefined.

    Computed by the ``krippendorff`` package. Alpha is undefined (NaN) when fewer than two values can be
    paired or when every pairable value is the same (no variation: expected disagreement is 0).
    """
    data = np.asarray(reliability_data, dtype=float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = np.unique(data[:, pairable][~np.isnan(data[:, pairable])])
    if len(values) < 2:
        return np.nan
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def alpha_from_counts(value_counts: np.ndarray) -> float:
    """Nominal alpha from a units x values count matrix (units with one value only are ignored by alpha);
    NaN when no unit can be paired or only one value is used."""
    pairable = value_counts[value_counts.sum(axis=1) >= 2]
    if len(pairable) == 0 or (pairable.sum(axis=0) > 0).sum() < 2:
        return np.nan
    return float(krippendorff.alpha(value_counts=pairable, level_of_measurement="nominal"))


def bootstrap_alphas(counts: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Nominal alpha of ``n_boot`` resamples of units (clusters, each with all its items), all at once.

    ``counts`` is units x items x 2: how many raters gave each item of a unit the value 0 and the value 1
    (for focus groups: excerpts x codes x decisions). For two values alpha is 1 - (n - 1) o01 / (n0 n1)
    over pairable items (two or more values), with o01 = sum n_u0 n_u1 / (m_u - 1) the disagreeing pairs
    (Krippendorff 2011, "Computing Krippendorff's alpha-reliability", nominal data); a resample's totals
    are its units' totals times how often each was drawn, so 1,000 resamples are one matrix product
    instead of 1,000 calls. The draws are ``rng.integers(0, U, U)`` per resample, in turn. A resample with
    no variation gives NaN.
    """
    n_units = counts.shape[0]
    m = counts.sum(axis=2)
    pairable = m >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        disagree = np.where(pairable, counts[..., 0] * counts[..., 1] / (m - 1), 0.0).sum(axis=1)
    zeros = np.where(pairable, counts[..., 0], 0).sum(axis=1)
    ones = np.where(pairable, counts[..., 1], 0).sum(axis=1)
    drawn = rng.integers(0, n_units, (n_boot, n_units))
    cell = (np.arange(n_boot)[:, None] * n_units + drawn).ravel()
    times = np.bincount(cell, minlength=n_boot * n_units).reshape(n_boot, n_units).astype(float)
    o01, n0, n1 = times @ disagree, times @ zeros, times @ ones
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1 - (n0 + n1 - 1) * o01 / (n0 * n1)
    return np.where((n0 > 0) & (n1 > 0), alpha, np.nan)


def bootstrap_alphas_nominal(value_counts: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Nominal alpha of ``n_boot`` resamples of units for any number of values: ``value_counts`` is units x
    values (how many raters gave the unit each value). Alpha is 1 - (n - 1) sum_u d_u / (n² - sum_c n_c²),
    d_u = (m_u² - sum_c n_uc²) / (m_u - 1) the unit's disagreeing pairs, over the pairable units (Krippendorff
    2011, nominal data); as :func:`bootstrap_alphas`, a resample's totals are one matrix product. A resample
    with one value only gives NaN."""
    counts = np.asarray(value_counts, dtype=float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts = np.where(pairable[:, None], counts, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        disagree = np.where(pairable, (m ** 2 - (counts ** 2).sum(axis=1)) / (m - 1), 0.0)
    n_units = len(counts)
    drawn = rng.integers(0, n_units, (n_boot, n_units))
    cell = (np.arange(n_boot)[:, None] * n_units + drawn).ravel()
    times = np.bincount(cell, minlength=n_boot * n_units).reshape(n_boot, n_units).astype(float)
    totals = times @ counts  # resamples x values
    n = totals.sum(axis=1)
    expected = n ** 2 - (totals ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1 - (n - 1) * (times @ disagree) / expected
    return np.where(expected > 0, alpha, np.nan)


def landis_koch(kappa: float) -> str:
    """Landis & Koch (1977) label for a kappa: poor (< 0), slight, fair, moderate, substantial, almost perfect."""
    if kappa is None or not np.isfinite(kappa):
        return NOT_COMPUTABLE
    if kappa < 0:
        return "poor"
    return next(label for upper, label in LANDIS_KOCH[1:] if kappa <= upper)


def alpha_verdict(alpha: float) -> str:
    """Krippendorff's (2004) reading of alpha: reliable (>= .800), tentative (>= .667) or unreliable."""
    if alpha is None or not np.isfinite(alpha):
        return NOT_COMPUTABLE
    return "reliable" if alpha >= ALPHA_RELIABLE else "tentative" if alpha >= ALPHA_TENTATIVE else "unreliable"
