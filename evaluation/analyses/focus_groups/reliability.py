"""Inter-rater reliability of the focus-group coding: per code and overall, over the excerpts two or more coders read.

Each code is a yes/no decision per excerpt and coder (:func:`~.compute.decisions`, which says who read
what by ``qualitative.coder_scope``). Per code: percent agreement, Cohen's kappa by the standard formula
(po - pe) / (1 - pe) (Cohen 1960; for more than two coders the mean over coder pairs, Light 1971) and
Krippendorff's alpha, nominal, with a percentile bootstrap CI over excerpts; the statistics themselves
are in :mod:`evaluation.stats.agreement`. QualCoder's "kappa" uses a non-standard formula, so its numbers
will differ from these.

Beside them, :func:`single_code_reliability` treats the codebook as one nominal variable: per excerpt, the one
code each coder assigned among the several (Krippendorff 2011, nominal data with any number of values), and
:func:`coder_coverage` warns when a coder read too few shared excerpts for a per-code alpha to mean much.
"""

from __future__ import annotations
import dataclasses
import html
import zlib
from dataclasses import dataclass
import numpy as np
import pandas as pd
from .compute import THEME_ROW, CodingSettings, decisions
from evaluation.data.qualitative import QualitativeTables
from evaluation.stats.agreement import (alpha_from_counts, alpha_verdict, bootstrap_alphas, bootstrap_alphas_nominal,
                                        landis_koch, mean_pairwise_kappa)

OVERALL = "overall"  # the `code` of the pooled row of the reliability table
IRR_COLUMNS = ["code", "theme", "n_excerpts", "n_coders", "percent_agreement", "cohen_kappa", "landis_koch",
               "krippendorff_alpha", "alpha_ci_low", "alpha_ci_high", "alpha_verdict", "note"]


def decision_statistics(cube: np.ndarray, rng: np.random.Generator, n_boot: int, level: float) -> dict:
    """Agreement statistics for a coders x excerpts x codes cube of 1/0 decisions (NaN = not reviewed).

    Units are (excerpt, code) pairs; the bootstrap resamples excerpts (with all their codes) with
    replacement and takes the percentile interval of alpha at ``level`` (e.g. 0.05 for a 95% CI).
    """
    n_coders, n_excerpts, _ = cube.shape
    units = cube.reshape(n_coders, -1)
    agree = np.nanmin(units, axis=0) == np.nanmax(units, axis=0)  # every unit has two or more decisions
    kappa, n_pairs, reasons = mean_pairwise_kappa(units)
    n_defined = n_pairs - len(reasons)
    notes = []
    if not n_defined:
        notes.append("kappa not computable: " + (reasons[0] if reasons else "no pair of coders read the same excerpt"))
    elif reasons:
        notes.append(f"kappa is the mean over the {n_defined} of {n_pairs} coder pairs where it is defined")
    elif n_pairs > 1:
        notes.append(f"kappa is the mean of Cohen's kappa over {n_pairs} coder pairs")
    counts = np.stack([(cube == 0).sum(axis=0), (cube == 1).sum(axis=0)], axis=-1)  # excerpts x codes x 2
    alpha = alpha_from_counts(counts.reshape(-1, 2))
    low = high = np.nan
    if np.isnan(alpha):
        notes.append("alpha not computable: every coder made the same decision on every excerpt (no variation)")
    elif n_boot > 0:
        draws = bootstrap_alphas(counts, rng, n_boot)
        draws = draws[~np.isnan(draws)]
        if len(draws):
            low, high = (float(v) for v in np.quantile(draws, [level / 2, 1 - level / 2]))
        if len(draws) < n_boot:
            notes.append(f"{n_boot - len(draws)} of {n_boot} bootstrap samples had no variation and were dropped")
    return {"n_excerpts": n_excerpts, "n_coders": n_coders,
            "percent_agreement": 100.0 * float(agree.mean()) if len(agree) else np.nan,
            "cohen_kappa": kappa, "krippendorff_alpha": alpha, "alpha_ci_low": low, "alpha_ci_high": high,
            "note": "; ".join(notes) or None}


@dataclass
class ReliabilityResult:
    """Inter-rater reliability per code and overall: ``summary`` is the table (:data:`IRR_COLUMNS`),
    ``coders`` the coders compared, ``n_shared`` the excerpts two or more of them read; ``note`` says why
    nothing was computed, ``method`` how it was."""

    summary: pd.DataFrame
    coders: list[str]
    settings: CodingSettings
    note: str | None = None
    method: str = ""
    n_shared: int = 0

    @property
    def computable(self) -> bool:
        return self.note is None and len(self.summary) > 0

    def _header(self) -> str:
        return self.note or self.method

    def __repr__(self) -> str:
        return f"{self._header()}\n{self.summary.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self._header())}</p>" + self.summary.to_html(index=False, na_rep="")


def _shared_decisions(tables: QualitativeTables, settings: CodingSettings) -> tuple[pd.DataFrame, list[str]]:
    """The decisions on the excerpts two or more coders read (the consensus coder left out under
    ``code_rule: consensus``), and those excerpts."""
    if settings.code_rule == "consensus":
        tables = dataclasses.replace(tables, codings=tables.codings[tables.codings["coder"] != settings.consensus_coder])
    d = decisions(tables, settings.coder_scope)
    n_reviewers = d.drop_duplicates(["excerpt_id", "coder"]).groupby("excerpt_id").size()
    shared = sorted(n_reviewers[n_reviewers >= 2].index)
    return d[d["excerpt_id"].isin(shared)], shared


def inter_rater_reliability(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> ReliabilityResult:
    """Per code, over excerpts reviewed by two or more coders: agreement, Cohen's kappa, Krippendorff's alpha.

    Each code is a yes/no decision per excerpt and coder (``decisions``). The last row, ``overall``, pools
    every (excerpt, code) decision. With a single coder, or no excerpt read by two coders, nothing is
    computed and ``note`` says why. A code nobody (or everybody) applied gets NaN with the reason in ``note``.
    Under ``code_rule: consensus`` the consensus coder is left out: it reconciles the others' codings.
    """
    empty = pd.DataFrame(columns=IRR_COLUMNS)
    if settings.code_rule == "consensus":  # the consensus coder reconciles the others: not an independent rater
        tables = dataclasses.replace(tables, codings=tables.codings[tables.codings["coder"] != settings.consensus_coder])
    coders = tables.coders
    if not tables.ok:
        return ReliabilityResult(empty, coders, settings, note=tables.note)
    if len(coders) < 2:
        who = f"only one coder ({coders[0]})" if coders else "no coder"
        return ReliabilityResult(empty, coders, settings,
                                 note=f"Inter-rater reliability skipped: {who} coded the excerpts; it needs two or more.")
    d, shared = _shared_decisions(tables, settings)
    if not shared:
        return ReliabilityResult(empty, coders, settings,
                                 note="Inter-rater reliability skipped: no excerpt was coded by two or more coders.")
    book = tables.codebook.dropna(subset=["code"]).drop_duplicates("code")
    codes = list(book["code"])
    cube = np.full((len(coders), len(shared), len(codes)), np.nan)
    coder_at = {c: i for i, c in enumerate(coders)}
    excerpt_at = {e: j for j, e in enumerate(shared)}
    code_at = {c: k for k, c in enumerate(codes)}
    cube[d["coder"].map(coder_at), d["excerpt_id"].map(excerpt_at), d["code"].map(code_at)] = d["applied"]
    used = ~np.all(np.isnan(cube), axis=(1, 2))
    cube, active = cube[used], [c for c, u in zip(coders, used) if u]
    level = settings.alpha
    rows = []
    theme = book.set_index("code")["theme"]
    for k, code in enumerate(codes):  # each code's bootstrap has its own seed: adding a code changes no other CI
        rng = np.random.default_rng([settings.seed, zlib.crc32(code.encode("utf-8"))])
        stats = decision_statistics(cube[:, :, [k]], rng, settings.bootstrap_samples, level)
        rows.append({"code": code, "theme": theme[code], **stats})
    rng = np.random.default_rng([settings.seed, zlib.crc32(OVERALL.encode("utf-8"))])
    rows.append({"code": OVERALL, "theme": THEME_ROW,
                 **decision_statistics(cube, rng, settings.bootstrap_samples, level)})
    table = pd.DataFrame(rows)
    table["landis_koch"] = table["cohen_kappa"].map(landis_koch)
    table["alpha_verdict"] = table["krippendorff_alpha"].map(alpha_verdict)
    pct = round(100 * (1 - level))
    method = (f"{len(active)} coders ({', '.join(active)}) on the {len(shared)} excerpts two or more of them read; "
              f"each coder's own decisions are compared (the code rule is not applied). Alpha CI: {pct}% percentile "
              f"bootstrap over excerpts, {settings.bootstrap_samples} samples, seed {settings.seed}.")
    if settings.code_rule == "consensus":
        method += f" The consensus coder ({settings.consensus_coder}) reconciles the others and is left out."
    return ReliabilityResult(table[IRR_COLUMNS], active, settings, method=method, n_shared=len(shared))


NO_CODE = "(no code)"  # the value of an excerpt a coder read and assigned no code to
SINGLE_CODE_COLUMNS = ["n_excerpts", "n_coders", "n_values", "krippendorff_alpha", "alpha_ci_low", "alpha_ci_high",
                       "alpha_verdict", "left_out_multi_coded", "method", "note"]
COVERAGE_COLUMNS = ["coder", "excerpts_read", "excerpts_coded", "codes_applied", "warning"]


def single_code_reliability(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """``tables/irr_single_code.csv``: Krippendorff's nominal alpha over the code each coder assigned to each
    shared excerpt, the codebook's codes (and "no code") as the values; an excerpt a coder gave two or more codes
    has no single value from that coder and is left out for that coder (counted). Percentile bootstrap CI over
    excerpts, as the per-code alphas."""
    empty = pd.DataFrame(columns=SINGLE_CODE_COLUMNS)
    if not tables.ok or len(tables.coders) < 2:
        return empty
    d, shared = _shared_decisions(tables, settings)
    if not shared:
        return empty
    applied = d[d["applied"] == 1].groupby(["excerpt_id", "coder"])["code"].agg(list)
    read = d.drop_duplicates(["excerpt_id", "coder"])[["excerpt_id", "coder"]]
    value = read.set_index(["excerpt_id", "coder"]).index.map(
        lambda key: NO_CODE if key not in applied.index else (applied[key][0] if len(applied[key]) == 1 else None))
    read = read.assign(value=list(value))
    multi = int(read["value"].isna().sum())
    single = read.dropna(subset=["value"])
    counts = pd.crosstab(single["excerpt_id"], single["value"]).reindex(shared, fill_value=0)
    values = counts.to_numpy(dtype=float)
    alpha = alpha_from_counts(values)
    low = high = np.nan
    if np.isfinite(alpha) and settings.bootstrap_samples > 0:
        rng = np.random.default_rng([settings.seed, zlib.crc32(b"single code")])
        draws = bootstrap_alphas_nominal(values, rng, settings.bootstrap_samples)
        draws = draws[~np.isnan(draws)]
        if len(draws):
            low, high = (float(v) for v in np.quantile(draws, [settings.alpha / 2, 1 - settings.alpha / 2]))
    pct = round(100 * (1 - settings.alpha))
    note = (f"{multi} excerpt-coder pair(s) with two or more codes have no single code and are left out"
            if multi else "")
    if not np.isfinite(alpha):
        note = "; ".join(x for x in (note, "alpha not computable: one value only, or no excerpt with two single codes") if x)
    return pd.DataFrame([{
        "n_excerpts": int((counts.sum(axis=1) >= 2).sum()), "n_coders": int(single["coder"].nunique()),
        "n_values": int((counts.sum(axis=0) > 0).sum()), "krippendorff_alpha": alpha, "alpha_ci_low": low,
        "alpha_ci_high": high, "alpha_verdict": alpha_verdict(alpha), "left_out_multi_coded": multi,
        "method": (f"Krippendorff's alpha, nominal, over the one code each coder assigned to each excerpt two or more "
                   f"coders read (values: the codebook's codes and '{NO_CODE}'); {pct}% percentile bootstrap over "
                   f"excerpts, {settings.bootstrap_samples} samples, seed {settings.seed}"),
        "note": note}], columns=SINGLE_CODE_COLUMNS)


def coder_coverage(tables: QualitativeTables, settings: CodingSettings = CodingSettings()) -> pd.DataFrame:
    """``tables/irr_coders.csv``: per coder, the shared excerpts read and coded and the codes applied, with a
    warning when fewer than ``qualitative.min_coder_excerpts`` shared excerpts were read: a per-code alpha then
    rests on a handful of that coder's decisions."""
    if not tables.ok or len(tables.coders) < 2:
        return pd.DataFrame(columns=COVERAGE_COLUMNS)
    d, _ = _shared_decisions(tables, settings)
    rows = []
    for coder, g in d.groupby("coder", sort=True):
        read = g["excerpt_id"].nunique()
        hits = g[g["applied"] == 1]
        warning = (f"{coder} read only {read} of the shared excerpts (fewer than {settings.min_coder_excerpts}): "
                   "per-code alphas rest on few of this coder's decisions" if read < settings.min_coder_excerpts else "")
        rows.append({"coder": coder, "excerpts_read": read, "excerpts_coded": hits["excerpt_id"].nunique(),
                     "codes_applied": len(hits), "warning": warning})
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
