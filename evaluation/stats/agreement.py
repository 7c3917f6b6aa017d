"""TODO docstring stats/agreement."""

from __future__ import annotations
import krippendorff
import numpy as np

# Landis & Koch (1977), Biometrics 33:159-174, p. 165: upper bound of each band of kappa and its label.
LANDIS_KOCH = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"),
               (1.0, "almost perfect"))


# --- inter-rater reliability ------------------------------------------------------------------------

# Krippendorff (2004), Content Analysis 2nd ed., p. 241: rely on alpha >= .800; .667 <= alpha < .800 only
# for tentative conclusions.
ALPHA_RELIABLE, ALPHA_TENTATIVE = 0.800, 0.667

def cohen_kappa(a, b) -> tuple[float, str | None]:
    """Cohen's (1960) kappa for two coders' labels of the same units, and why it is undefined (else None).

    kappa = (po - pe) / (1 - pe): po the share of units on which they agree, pe = sum over categories of
    the product of the two coders' shares of that category. Written out (not statsmodels) because pe = 1,
    when both coders used one and the same category throughout, must be reported, not divided by.
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
        only = categories[0]
        who = "no coder applied this code" if only == 0 else (
            "every coder applied this code to every excerpt" if only == 1 else f"both coders gave every unit {only!r}")
        return np.nan, f"{who}, so chance agreement is 1 and kappa is 0/0"
    return (po - pe) / (1.0 - pe), None


def krippendorff_alpha_nominal(reliability_data) -> float:
    """Krippendorff's alpha, nominal, for a coders x units matrix (NaN = missing); NaN when undefined.

    Computed by the ``krippendorff`` package. Alpha is undefined (NaN) when fewer than two values can be
    paired or when every pairable value is the same (no variation: expected disagreement is 0).
    """
    data = np.asarray(reliability_data, dtype=float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = np.unique(data[:, pairable][~np.isnan(data[:, pairable])])
    if len(values) < 2:
        return np.nan
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _alpha_from_counts(value_counts: np.ndarray) -> float:
    """Nominal alpha from a units x values count matrix (units with one value only are ignored by alpha)."""
    pairable = value_counts[value_counts.sum(axis=1) >= 2]
    if len(pairable) == 0 or (pairable.sum(axis=0) > 0).sum() < 2:
        return np.nan
    return float(krippendorff.alpha(value_counts=pairable, level_of_measurement="nominal"))


def _bootstrap_alphas(counts: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Nominal alpha of ``n_boot`` resamples of excerpts (with all their codes), all at once.

    ``counts`` is excerpts x codes x 2 (decisions 0 and 1 per unit). For two values alpha is
    1 - (n - 1) o01 / (n0 n1) over pairable units (two or more decisions), with o01 = sum n_u0 n_u1 / (m_u - 1)
    the disagreeing pairs (Krippendorff 2011, "Computing Krippendorff's alpha-reliability", nominal data);
    a resample's totals are its excerpts' totals times how often each was drawn, so 1,000 resamples are one
    matrix product instead of 1,000 calls. The draws are the loop's (``rng.integers(0, E, E)`` per resample).
    """
    n_excerpts = counts.shape[0]
    m = counts.sum(axis=2)
    pairable = m >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        disagree = np.where(pairable, counts[..., 0] * counts[..., 1] / (m - 1), 0.0).sum(axis=1)
    zeros = np.where(pairable, counts[..., 0], 0).sum(axis=1)
    ones = np.where(pairable, counts[..., 1], 0).sum(axis=1)
    drawn = rng.integers(0, n_excerpts, (n_boot, n_excerpts))
    cell = (np.arange(n_boot)[:, None] * n_excerpts + drawn).ravel()
    times = np.bincount(cell, minlength=n_boot * n_excerpts).reshape(n_boot, n_excerpts).astype(float)
    o01, n0, n1 = times @ disagree, times @ zeros, times @ ones
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1 - (n0 + n1 - 1) * o01 / (n0 * n1)
    return np.where((n0 > 0) & (n1 > 0), alpha, np.nan)


def landis_koch(kappa: float) -> str:
    """Landis & Koch (1977) label for a kappa: poor (< 0), slight, fair, moderate, substantial, almost perfect."""
    if kappa is None or not np.isfinite(kappa):
        return "not computable"
    if kappa < 0:
        return "poor"
    return next(label for upper, label in LANDIS_KOCH[1:] if kappa <= upper)


def alpha_verdict(alpha: float) -> str:
    """Krippendorff's (2004) reading of alpha: reliable (>= .800), tentative (>= .667) or unreliable."""
    if alpha is None or not np.isfinite(alpha):
        return "not computable"
    return "reliable" if alpha >= ALPHA_RELIABLE else "tentative" if alpha >= ALPHA_TENTATIVE else "unreliable"
