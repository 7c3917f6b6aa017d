"""The Cox model of time to goal: per measure, time to goal ~ track + baseline value + age (+ the team
engagement score), with hazard ratios per a clinically readable step, the proportional-hazards check in
words, and notes for every covariate or patient left out (``tables/time_to_goal_cox.csv``).

lifelines fits the model (Efron ties, as R's ``coxph``); the proportional-hazards test is R survival 3's
``cox.zph`` (:func:`evaluation.stats.survival.cox_zph`), per covariate and global (``tables/time_to_goal_ph_test.csv``).
"""

from __future__ import annotations
import warnings
from dataclasses import dataclass
import numpy as np
import pandas as pd
from evaluation.analyses.engagement.compute import engagement_scores, score_missing_tables
from evaluation.core.dictionary import load_dictionary
from evaluation.core.params import Params
from evaluation.core.text import format_p
from evaluation.data.cohort import Cohort
from evaluation.stats.survival import ZPH_METHOD, cox_zph
from .compute import analysed_measures


@dataclass(frozen=True)
class EngagementCovariate:
    """The team engagement score for the Cox model: ``scores`` (``team_id, engagement_score``), or None with
    ``note`` saying why the cohort has none."""

    scores: pd.DataFrame | None
    note: str | None = None


def engagement_covariate(cohort: Cohort, params: Params) -> EngagementCovariate:
    """Team engagement scores for :func:`cox_models`; none only when the tables the score needs are absent.

    Each weighted component (``engagement.weights``) needs its tables (the engagement analysis'
    ``SCORE_TABLES``); when not one component has them, no team can have a score and the note names the
    missing files. Any error of the engagement analysis (a bad weight, say) is raised, not taken for missing
    data.
    """
    missing = score_missing_tables(cohort, params)
    if missing is not None:
        return EngagementCovariate(None, f"team engagement score left out of the Cox model: this cohort has no "
                                   f"{missing} (or the file is empty), which the score needs.")
    scores = engagement_scores(cohort, params)
    return EngagementCovariate(scores[["team_id", "engagement_score"]].drop_duplicates("team_id"))


@dataclass
class CoxResult:
    """Cox models of time to goal per measure: ``summary`` (hazard ratios), ``ph_check`` (in words), ``notes``."""

    summary: pd.DataFrame
    ph_check: pd.DataFrame
    notes: pd.DataFrame
    alpha: float = 0.05

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)

    def __repr__(self) -> str:
        return self.summary.to_string(index=False)


COVARIATE_LABELS = {"track_advanced": "track", "baseline_value": "baseline value",
                    "age": "age", "engagement_score": "team engagement score"}
# Hazard ratios are per a clinically readable step, not per unit: per 10 mmHg, per 10 mg/dL, per 10 years.
BASELINE_STEP = {"sbp": 10, "dbp": 10, "ldl": 10}
AGE_STEP = 10
ENGAGEMENT_STEP = 10  # the engagement score runs 0-100


def _baseline_part(params: Params, measure: str) -> str:
    """The measure whose baseline value is the covariate: the measure, or a combined goal's first part (sbp)."""
    return params.combined_goals[measure][0] if measure in params.combined_goals else measure


def _per_step(measure: str, params: Params, covariate: str) -> str:
    """What one hazard ratio of ``covariate`` is per, in words: 'per 10 years', 'per 1 percentage point'."""
    if covariate == "track_advanced":
        return "advanced vs initial"
    if covariate == "age":
        return f"per {AGE_STEP} years"
    if covariate == "engagement_score":
        return f"per {ENGAGEMENT_STEP} points"
    part = _baseline_part(params, measure)
    unit = load_dictionary()["measurements"].measures.get(part, {}).get("unit", "unit")
    step = BASELINE_STEP.get(part, 1)
    unit = "percentage point" if unit == "%" else unit
    return f"per {step:g} {unit}" + (f" of {part}" if part != measure else "")


def ph_verdict(covariate: str, p_value: float, alpha: float) -> str:
    """The proportional-hazards check in plain words."""
    label = "the covariates taken together" if covariate == "GLOBAL" else COVARIATE_LABELS.get(covariate, covariate)
    if np.isnan(p_value):
        return f"Not checked for {label}."
    if p_value < alpha:
        return (f"The effect of {label} seems to change over follow-up ({format_p(p_value)}): "
                f"read its hazard ratio as an average over time, not a constant.")
    return f"No sign that the effect of {label} changes over follow-up ({format_p(p_value)})."


def _usable_covariates(x: pd.DataFrame, notes: list[str]) -> list[str]:
    """The covariates of ``x`` (all but days, event) the model can use, with a note for each left out.

    A covariate missing for every patient (a team engagement score in a cohort without its tables) or with a
    single value (one track) is left out, so that it neither drops every patient nor makes the fit singular.
    A covariate that keeps a single value only among the patients complete on the others is left out too.
    """
    covariates = [c for c in x.columns if c not in ("days", "event")]
    for c in list(covariates):
        values = x[c].dropna()
        if values.empty:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: no patient has a value.")
        elif values.nunique() < 2:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: it has one value only.")
    while covariates:
        complete = x[covariates].notna().all(axis=1)
        constant = [c for c in covariates if x.loc[complete, c].nunique() < 2]
        if not constant or not complete.any():
            break
        for c in constant:
            covariates.remove(c)
            notes.append(f"{COVARIATE_LABELS[c]} left out of the Cox model: it has one value only among the "
                         f"{int(complete.sum())} patient(s) with every covariate.")
    return covariates


def cox_model(data: pd.DataFrame, params: Params, measure: str,
              engagement: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Cox PH (Efron ties, as R's coxph) of time to goal ~ track + baseline value + age (+ engagement score).

    Returns (hazard ratios, proportional-hazards check, notes). The PH check is R survival 3's ``cox.zph``
    score test against Kaplan-Meier-transformed time, per covariate and global.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    d = data[(data["measure"] == measure) & data["followed"]]
    x = pd.DataFrame({"days": d["days"].astype(float), "event": d["event"].astype(int),
                      "track_advanced": (d["track"] == "advanced").astype(float).where(d["track"].notna()),
                      "baseline_value": d["baseline_value"].astype(float) / BASELINE_STEP.get(_baseline_part(params, measure), 1),
                      "age": d["age"].astype(float) / AGE_STEP})
    notes: list[str] = []
    if engagement is not None:
        score = d["team_id"].map(engagement.set_index("team_id")["engagement_score"]).astype(float)
        x["engagement_score"] = score / ENGAGEMENT_STEP
    if x.empty:
        notes.append("No Cox model: no patient was followed for this measure.")
        return pd.DataFrame(), pd.DataFrame(), notes
    covariates = _usable_covariates(x, notes)
    x = x[["days", "event", *covariates]]
    missing = x[covariates].isna()
    if missing.to_numpy().any():
        counts = "; ".join(f"{int(n)} with no {COVARIATE_LABELS[c]}" for c, n in missing.sum().items() if n)
        notes.append(f"{int(missing.any(axis=1).sum())} patient(s) left out of the Cox model for a missing "
                     f"covariate ({counts}).")
        x = x[~missing.any(axis=1)]
    events = int(x["event"].sum())
    empty = (pd.DataFrame(), pd.DataFrame(), notes)
    if not covariates or events < 2 or len(x) <= len(covariates) + 1:
        notes.append(f"No Cox model: {events} event(s) in {len(x)} patient(s) are too few.")
        return empty
    if events < 10 * len(covariates):
        notes.append(f"{events} events for {len(covariates)} covariates: fewer than 10 per covariate "
                     "(Peduzzi et al. 1996), so the hazard ratios are imprecise.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = CoxPHFitter(alpha=params.alpha).fit(x, "days", "event")
            ph = cox_zph(x["days"], x["event"], x[covariates], cph.params_[covariates])
    except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        notes.append(f"No Cox model: the fit did not converge ({str(exc).splitlines()[0]}).")
        return empty
    s = cph.summary
    level = 100 * (1 - params.alpha)
    hr = pd.DataFrame({
        "measure": measure, "covariate": [COVARIATE_LABELS[c] for c in s.index],
        "per": [_per_step(measure, params, c) for c in s.index], "hazard_ratio": s["exp(coef)"].to_numpy(),
        "ci_low": s[f"exp(coef) lower {level:g}%"].to_numpy(), "ci_high": s[f"exp(coef) upper {level:g}%"].to_numpy(),
        "p_value": s["p"].to_numpy(), "n": len(x), "events": events})
    phs = ph.reindex([*s.index, "GLOBAL"])
    check = pd.DataFrame({"measure": measure, "covariate": [COVARIATE_LABELS.get(c, "all covariates (global)")
                                                             for c in phs.index],
                          "chisq": phs["chisq"].to_numpy(), "df": phs["df"].astype(int).to_numpy(),
                          "p_value": phs["p"].to_numpy(),
                          "verdict": [ph_verdict(c, p, params.alpha) for c, p in zip(phs.index, phs["p"])],
                          "method": ZPH_METHOD})
    return hr, check, notes


def cox_models(data: pd.DataFrame, params: Params,
               engagement: EngagementCovariate | pd.DataFrame | None = None) -> CoxResult:
    """Cox model per analysed measure; with a team engagement score as a covariate when one is given.

    ``engagement``: :func:`engagement_covariate` (its note, when it has no scores, goes into ``notes``), or
    the scores themselves (``team_id, engagement_score``), or None.
    """
    if isinstance(engagement, EngagementCovariate):
        scores, why = engagement.scores, engagement.note
    else:
        scores, why = engagement, None
    if scores is None and why is None:
        why = "team engagement score left out of the Cox model: no engagement scores were given."
    his, checks, notes = [], [], []
    for m in analysed_measures(params):
        hr, check, n = cox_model(data, params, m, scores)
        his.append(hr)
        checks.append(check)
        notes += [{"measure": m, "note": t} for t in n]
    if why:
        notes.append({"measure": "all", "note": why})
    hr_cols = ["measure", "covariate", "per", "hazard_ratio", "ci_low", "ci_high", "p_value", "n", "events"]
    ph_cols = ["measure", "covariate", "chisq", "df", "p_value", "verdict", "method"]
    summary = pd.concat([h for h in his if len(h)], ignore_index=True) if any(len(h) for h in his) else pd.DataFrame(columns=hr_cols)
    ph_check = pd.concat([c for c in checks if len(c)], ignore_index=True) if any(len(c) for c in checks) else pd.DataFrame(columns=ph_cols)
    return CoxResult(summary=summary, ph_check=ph_check, notes=pd.DataFrame(notes, columns=["measure", "note"]),
                     alpha=params.alpha)
