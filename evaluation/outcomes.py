"""Outcome change: baseline vs follow-up per patient and measure, the change table, a mixed model with a
team random intercept, team-level change for the forest plot, and INR time in therapeutic range.

Rules (the windows are params, ``windows.*``):

- **Baseline** is the measurement closest to enrollment within
  [enrolled - baseline_days, enrolled + grace_days], preferring on/before: the latest measurement on or
  before enrollment when there is one, otherwise the earliest one in the grace period after it.
- **Follow-up** is the last measurement within [enrolled + followup_min_days, enrolled + followup_max_days]
  taken after the baseline.
- A patient with a baseline but no follow-up is excluded from the change statistics and counted
  (``n_no_followup``); so is one with a follow-up but no baseline (``n_no_baseline``).
- A combined goal (``combined_goals``, e.g. ``bp = sbp & dbp``) is met on a day when every part was
  measured that day and each met its own goal; its baseline and follow-up are chosen among those days.

Every function takes and returns plain DataFrames; nothing here draws (see ``figures.py``).
"""
from __future__ import annotations

import math
import warnings
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from .errors import ParamsError
from .params import Goal

CONDITION_FLAGS = ("diabetes", "hypertension", "dyslipidemia", "anticoagulation")
PAIR_STATUSES = ("paired", "no_followup", "no_baseline", "neither")
CHANGE_COLUMNS = [
    "measure", "group", "n", "baseline_mean", "followup_mean", "mean_change", "change_ci_low", "change_ci_high",
    "t_stat", "p_value", "wilcoxon_p", "cohen_dz", "sd_change", "n_no_followup", "n_no_baseline",
    "goal", "n_goal_baseline", "n_goal_followup", "pct_goal_baseline", "pct_goal_followup", "mcnemar_p", "note",
]


# --- baseline and follow-up ----------------------------------------------------------------------

def _readings(measurements: pd.DataFrame, goals: Mapping[str, Goal],
              combined_goals: Mapping[str, list[str]] | None) -> pd.DataFrame:
    """Measurements with an ``at_goal`` column (NA when the measure has no goal), plus one row per day on
    which every part of a combined goal was measured (value NaN, at_goal = all parts at goal)."""
    m = measurements[["patient_id", "measure", "measured_on", "value"]].dropna(subset=["patient_id", "measure", "measured_on"])
    at_goal = pd.Series(pd.NA, index=m.index, dtype="boolean")
    for measure, goal in goals.items():
        rows = m["measure"] == measure
        if rows.any():
            at_goal[rows] = goal.met(m.loc[rows, "value"]) & m.loc[rows, "value"].notna().to_numpy()
    m = m.assign(at_goal=at_goal)
    parts_frames = [m]
    for name, parts in (combined_goals or {}).items():
        wide = (m[m["measure"].isin(parts)]
                .pivot_table(index=["patient_id", "measured_on"], columns="measure", values="at_goal",
                             aggfunc="first", observed=True))
        if wide.empty or any(p not in wide.columns for p in parts):
            continue
        wide = wide[list(parts)].dropna()
        if wide.empty:
            continue
        combined = wide.astype(bool).all(axis=1)
        parts_frames.append(pd.DataFrame({
            "patient_id": combined.index.get_level_values("patient_id"),
            "measure": name,
            "measured_on": combined.index.get_level_values("measured_on"),
            "value": np.nan,
            "at_goal": pd.array(combined.to_numpy(), dtype="boolean"),
        }))
    return pd.concat(parts_frames, ignore_index=True)


def baseline_followup(measurements: pd.DataFrame, patients: pd.DataFrame, teams: pd.DataFrame | None = None, *,
                      windows: Mapping[str, int], goals: Mapping[str, Goal],
                      combined_goals: Mapping[str, list[str]] | None = None) -> pd.DataFrame:
    """One row per patient and measure measured at least once: baseline and follow-up (date, value, at goal),
    the change, and ``status`` (paired / no_followup / no_baseline / neither). See the module docstring for
    the rule. Patients' ``team_id`` and the team's ``track`` are carried along for grouping."""
    for key in ("baseline_days", "grace_days", "followup_min_days", "followup_max_days"):
        if key not in windows:
            raise ParamsError(f"`windows.{key}` is needed for baseline and follow-up; got windows={dict(windows)!r}")
    readings = _readings(measurements, goals, combined_goals)
    people = patients[["patient_id", "team_id", "enrolled_on"]]
    if teams is not None and "track" in teams:
        people = people.merge(teams[["team_id", "track"]], on="team_id", how="left")
    else:
        people = people.assign(track=None)
    r = readings.merge(people, on="patient_id", how="inner")
    r["offset"] = (r["measured_on"] - r["enrolled_on"]).dt.days
    keys = ["patient_id", "measure"]

    in_base = r["offset"].between(-windows["baseline_days"], windows["grace_days"])
    base = r[in_base].assign(_after=lambda d: d["offset"] > 0, _dist=lambda d: d["offset"].abs())
    base = (base.sort_values(keys + ["_after", "_dist"], kind="stable")
            .drop_duplicates(keys)[keys + ["measured_on", "value", "at_goal"]]
            .rename(columns={"measured_on": "baseline_on", "value": "baseline_value", "at_goal": "baseline_at_goal"}))

    in_follow = r["offset"].between(windows["followup_min_days"], windows["followup_max_days"])
    follow = r[in_follow].merge(base[keys + ["baseline_on"]], on=keys, how="left")
    follow = follow[follow["baseline_on"].isna() | (follow["measured_on"] > follow["baseline_on"])]
    follow = (follow.sort_values(keys + ["offset"], kind="stable").drop_duplicates(keys, keep="last")
              [keys + ["measured_on", "value", "at_goal"]]
              .rename(columns={"measured_on": "followup_on", "value": "followup_value", "at_goal": "followup_at_goal"}))

    out = (r[keys + ["team_id", "track", "enrolled_on"]].drop_duplicates(keys)
           .merge(base, on=keys, how="left").merge(follow, on=keys, how="left"))
    out["change"] = out["followup_value"] - out["baseline_value"]
    has_b, has_f = out["baseline_on"].notna(), out["followup_on"].notna()
    out["status"] = np.select([has_b & has_f, has_b, has_f], ["paired", "no_followup", "no_baseline"], "neither")
    for col in ("baseline_at_goal", "followup_at_goal"):
        out[col] = out[col].astype("boolean")
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def pairing_counts(pairs: pd.DataFrame, measures: Iterable[str] | None = None) -> pd.DataFrame:
    """Per measure: patients measured, with a baseline, with a follow-up, paired, and the two exclusions.
    ``measures`` lists measures to report even when nobody has them (their counts are 0)."""
    counts = pd.crosstab(pairs["measure"], pairs["status"]).reindex(columns=list(PAIR_STATUSES), fill_value=0)
    order = list(dict.fromkeys(list(measures or []) + sorted(counts.index)))
    counts = counts.reindex(order, fill_value=0)
    out = pd.DataFrame({
        "measure": counts.index,
        "patients_measured": counts.sum(axis=1).to_numpy(),
        "with_baseline": (counts["paired"] + counts["no_followup"]).to_numpy(),
        "with_followup": (counts["paired"] + counts["no_baseline"]).to_numpy(),
        "paired": counts["paired"].to_numpy(),
        "excluded_no_followup": counts["no_followup"].to_numpy(),
        "excluded_no_baseline": counts["no_baseline"].to_numpy(),
        "excluded_neither": counts["neither"].to_numpy(),
    })
    return out.reset_index(drop=True)


# --- statistics ----------------------------------------------------------------------------------

def _wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p as R's wilcox.test(paired = TRUE) computes it by default: zero
    differences dropped; exact when fewer than 50 remain and there are no ties or zeros, otherwise the
    normal approximation with continuity correction."""
    nonzero = diff[diff != 0]
    if len(nonzero) == 0:
        return float("nan")
    exact = len(nonzero) < 50 and len(np.unique(np.abs(nonzero))) == len(nonzero) and len(nonzero) == len(diff)
    res = stats.wilcoxon(nonzero, zero_method="wilcox", correction=not exact, method="exact" if exact else "approx")
    return float(res.pvalue)


def mcnemar_exact_p(before: Iterable[bool], after: Iterable[bool]) -> float:
    """Exact (binomial) McNemar p for paired yes/no outcomes; 1 when no pair changed."""
    b = np.asarray(list(before), dtype=bool)
    a = np.asarray(list(after), dtype=bool)
    table = [[int((b & a).sum()), int((b & ~a).sum())], [int((~b & a).sum()), int((~b & ~a).sum())]]
    if table[0][1] + table[1][0] == 0:
        return 1.0
    return float(mcnemar(table, exact=True).pvalue)


def paired_change(baseline: Iterable[float], followup: Iterable[float], alpha: float = 0.05) -> dict[str, float]:
    """Mean change (follow-up minus baseline) with its t-based CI, paired t, Wilcoxon p and Cohen's d_z
    (mean change / SD of change). Statistics that need two or more pairs (or a non-zero SD) are NaN."""
    b = np.asarray(list(baseline), dtype=float)
    f = np.asarray(list(followup), dtype=float)
    keep = ~(np.isnan(b) | np.isnan(f))
    b, f = b[keep], f[keep]
    d = f - b
    n = len(d)
    out = {"n": n, "baseline_mean": np.nan, "followup_mean": np.nan, "mean_change": np.nan, "sd_change": np.nan,
           "change_ci_low": np.nan, "change_ci_high": np.nan, "t_stat": np.nan, "p_value": np.nan,
           "wilcoxon_p": np.nan, "cohen_dz": np.nan}
    if n == 0:
        return out
    out.update(baseline_mean=b.mean(), followup_mean=f.mean(), mean_change=d.mean())
    if n < 2:
        return out
    sd = d.std(ddof=1)
    se = sd / math.sqrt(n)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * se
    out.update(sd_change=sd, change_ci_low=d.mean() - half, change_ci_high=d.mean() + half)
    if sd > 0:
        res = stats.ttest_rel(f, b)
        out.update(t_stat=float(res.statistic), p_value=float(res.pvalue), cohen_dz=d.mean() / sd)
    out["wilcoxon_p"] = _wilcoxon_p(d)
    return out


# --- change table --------------------------------------------------------------------------------

def subgroup_masks(pairs: pd.DataFrame, patients: pd.DataFrame, subgroups: Iterable[str]) -> list[tuple[str, pd.Series]]:
    """``[("all", mask), ("track=initial", mask), ...]`` over the rows of ``pairs``.

    ``condition`` gives one stratum per condition flag set to 1 (a patient can be in several); any other
    name must be a column of ``pairs`` (e.g. track, team_id) or of ``patients`` (e.g. sex)."""
    out = [("all", pd.Series(True, index=pairs.index))]
    for name in subgroups:
        if name == "condition":
            flags = [c for c in CONDITION_FLAGS if c in patients]
            flagged = pairs[["patient_id"]].merge(patients[["patient_id", *flags]], on="patient_id", how="left")
            flagged.index = pairs.index
            for flag in flags:
                out.append((f"condition={flag}", flagged[flag].fillna(0).astype(int).eq(1)))
            continue
        if name in pairs:
            column = pairs[name]
        elif name in patients:
            column = pairs[["patient_id"]].merge(patients[["patient_id", name]], on="patient_id", how="left")[name]
            column.index = pairs.index
        else:
            allowed = sorted({"condition", "track", "team_id", *patients.columns} - {"row", "patient_id"})
            raise ParamsError(f"`subgroups` entries must be one of {', '.join(allowed)}; got {name!r}", key="subgroups")
        for value in sorted(column.dropna().astype(str).unique()):
            out.append((f"{name}={value}", column.astype(str).eq(value) & column.notna()))
    return out


def change_table(pairs: pd.DataFrame, patients: pd.DataFrame, *, goals: Mapping[str, Goal],
                 combined_goals: Mapping[str, list[str]] | None = None, subgroups: Iterable[str] = ("track", "condition"),
                 alpha: float = 0.05, measures: Iterable[str] | None = None) -> pd.DataFrame:
    """The change table: one row per measure and group (``all`` first, then each stratum with any patient).

    Columns: n (paired patients), baseline and follow-up means, mean change with its CI (1 - alpha), paired
    t and p, Wilcoxon p, Cohen's d_z, patients excluded for no follow-up / no baseline, % at goal at
    baseline and follow-up (among the paired) with the exact McNemar p. A measure nobody has keeps its
    ``all`` row with n = 0 and a note. Combined goals (bp) have goal columns only (no mean value).
    """
    if measures is None:
        measures = default_change_measures(pairs, goals, combined_goals)
    combined = set((combined_goals or {}).keys())
    masks = subgroup_masks(pairs, patients, subgroups)
    rows = []
    for measure in measures:
        of_measure = pairs["measure"] == measure
        goal_text = _goal_text(measure, goals, combined_goals)
        for group, mask in masks:
            sel = pairs[of_measure & mask]
            if group != "all" and len(sel) == 0:
                continue
            paired = sel[sel["status"] == "paired"]
            row = {"measure": measure, "group": group}
            if measure in combined:
                row.update(paired_change([], []))
                row["n"] = len(paired)
            else:
                row.update(paired_change(paired["baseline_value"], paired["followup_value"], alpha))
            row["n_no_followup"] = int((sel["status"] == "no_followup").sum())
            row["n_no_baseline"] = int((sel["status"] == "no_baseline").sum())
            row["goal"] = goal_text
            has_goal = goal_text is not None and len(paired) > 0
            before = paired["baseline_at_goal"].fillna(False).astype(bool)
            after = paired["followup_at_goal"].fillna(False).astype(bool)
            row["n_goal_baseline"] = int(before.sum()) if has_goal else pd.NA
            row["n_goal_followup"] = int(after.sum()) if has_goal else pd.NA
            row["pct_goal_baseline"] = 100 * before.mean() if has_goal else np.nan
            row["pct_goal_followup"] = 100 * after.mean() if has_goal else np.nan
            row["mcnemar_p"] = mcnemar_exact_p(before, after) if has_goal else np.nan
            row["note"] = _change_note(row["n"], len(sel), measure in combined)
            rows.append(row)
    out = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    for col in ("n", "n_no_followup", "n_no_baseline", "n_goal_baseline", "n_goal_followup"):
        out[col] = out[col].astype("Int64")
    return out


def _change_note(n: int, n_measured: int, combined: bool = False) -> str:
    if n_measured == 0:
        return "no patient has this measure"
    if n == 0:
        return "no patient has both a baseline and a follow-up"
    if combined:
        return "combined goal: % at goal only"
    if n == 1:
        return "one pair: no spread, so no CI or tests"
    return ""


def _goal_text(measure: str, goals: Mapping[str, Goal], combined_goals: Mapping[str, list[str]] | None) -> str | None:
    if measure in (combined_goals or {}):
        return " and ".join(str(goals[p]) for p in combined_goals[measure])
    return str(goals[measure]) if measure in goals else None


def default_change_measures(pairs: pd.DataFrame, goals: Mapping[str, Goal],
                            combined_goals: Mapping[str, list[str]] | None = None) -> list[str]:
    """Measures for the change table: every measure with a one-sided goal (even if nobody has it), then
    other measures found in the data, then combined goals. Range goals (INR) are summarised by time in
    therapeutic range instead, because a mean change in INR says nothing about control."""
    combined = list((combined_goals or {}).keys())
    one_sided = [m for m, g in goals.items() if g.operator is not None]
    ranged = {m for m, g in goals.items() if g.operator is None}
    others = sorted(set(pairs["measure"]) - set(one_sided) - ranged - set(combined))
    return one_sided + others + combined


# --- team-level change (forest plot) -------------------------------------------------------------

def team_change(pairs: pd.DataFrame, teams: pd.DataFrame | None = None, *, alpha: float = 0.05,
                measures: Iterable[str] | None = None) -> pd.DataFrame:
    """Mean change with its t-based CI per team and measure (paired patients only), for the forest plot.
    Teams with one pair have no CI."""
    paired = pairs[(pairs["status"] == "paired") & pairs["change"].notna()]
    if measures is not None:
        measures = list(measures)
        paired = paired[paired["measure"].isin(measures)]
    rows = []
    for (measure, team_id), g in paired.groupby(["measure", "team_id"], sort=True):
        s = paired_change(g["baseline_value"], g["followup_value"], alpha)
        rows.append({"measure": measure, "team_id": team_id, "n": s["n"], "mean_change": s["mean_change"],
                     "ci_low": s["change_ci_low"], "ci_high": s["change_ci_high"]})
    out = pd.DataFrame(rows, columns=["measure", "team_id", "n", "mean_change", "ci_low", "ci_high"])
    if teams is not None:
        out = out.merge(teams[["team_id", "team_name", "track"]], on="team_id", how="left")
    out["n"] = out["n"].astype("Int64")
    if measures is not None:
        rank = {m: i for i, m in enumerate(measures)}
        out = out.sort_values(["measure", "team_id"], key=lambda c: c.map(rank) if c.name == "measure" else c, kind="stable")
    return out.reset_index(drop=True)


# --- mixed model ---------------------------------------------------------------------------------

class RandomInterceptModel:
    """Linear mixed model with a random intercept per group, fitted by REML (statsmodels MixedLM; lme4's
    ``lmer(y ~ x + (1 | group))``). ``fit()`` returns self; results end with ``_``:
    ``fixed_effects_`` (term, estimate, std_error, ci_low, ci_high, p_value), ``group_variance_``,
    ``residual_variance_``, ``icc_`` (share of the unexplained variance that lies between groups),
    ``converged_``, ``n_obs_``, ``n_groups_``."""

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
            result = model.fit(reml=self.reml)  # statsmodels tries bfgs, lbfgs, cg in turn
            if not (result.converged and np.isfinite(result.llf)):
                # Derivative-free optimizers reach the REML optimum where the gradient ones stall near a
                # small team variance; keep the converged fit with the highest REML log-likelihood.
                tries = [model.fit(reml=self.reml, method=m) for m in ("powell", "nm")]
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
        self.result_ = result
        return self

    @property
    def summary(self) -> pd.DataFrame:
        return self.fixed_effects_

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()

    def __repr__(self) -> str:
        return f"<RandomInterceptModel {self.formula} | {self.groups}>\n{self.summary.to_string(index=False)}"


def change_model_data(pairs: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Paired patients of one measure with ``baseline_centred`` (baseline minus the mean baseline)."""
    d = pairs[(pairs["measure"] == measure) & (pairs["status"] == "paired") & pairs["change"].notna()]
    d = d[["patient_id", "team_id", "track", "baseline_value", "change"]].copy()
    d["baseline_centred"] = d["baseline_value"] - d["baseline_value"].mean()
    return d.reset_index(drop=True)


def fit_change_models(pairs: pd.DataFrame, measures: Iterable[str], *, alpha: float = 0.05,
                      min_teams: int = 3, min_patients: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For each measure: change ~ centred baseline + track, random intercept per team (REML).

    Returns (fixed effects: measure, term, estimate, ci_low, ci_high, p_value; and per measure: n_patients,
    n_teams, team_variance, residual_variance, icc, converged, in_words). Track is dropped when only one
    track has data; a measure with fewer than ``min_teams`` teams or ``min_patients`` pairs is not modelled
    and says so."""
    effects, models = [], []
    for measure in measures:
        d = change_model_data(pairs, measure)
        n_teams = d["team_id"].nunique()
        info = {"measure": measure, "n_patients": len(d), "n_teams": n_teams, "team_variance": np.nan,
                "residual_variance": np.nan, "icc": np.nan, "converged": pd.NA}
        if n_teams < min_teams or len(d) < min_patients:
            info["in_words"] = (f"Not modelled: {len(d)} paired patients in {n_teams} team(s); the model needs at "
                                f"least {min_patients} patients in {min_teams} teams.")
            models.append(info)
            continue
        formula = "change ~ baseline_centred"
        if d["track"].nunique() > 1:
            ref = "initial" if "initial" in set(d["track"]) else sorted(d["track"].unique())[0]
            formula += f" + C(track, Treatment(reference='{ref}'))"
        fit = RandomInterceptModel(formula, "team_id", alpha=alpha).fit(d)
        fe = fit.fixed_effects_.assign(measure=measure)
        fe["term"] = fe["term"].map(_term_label)
        effects.append(fe)
        info.update(team_variance=fit.group_variance_, residual_variance=fit.residual_variance_, icc=fit.icc_,
                    converged=fit.converged_)
        info["in_words"] = icc_in_words(measure, fit.icc_, n_teams)
        models.append(info)
    fe_cols = ["measure", "term", "estimate", "std_error", "ci_low", "ci_high", "p_value"]
    effects_df = pd.concat(effects, ignore_index=True)[fe_cols] if effects else pd.DataFrame(columns=fe_cols)
    models_df = pd.DataFrame(models, columns=["measure", "n_patients", "n_teams", "team_variance",
                                              "residual_variance", "icc", "converged", "in_words"])
    return effects_df, models_df


def _term_label(term: str) -> str:
    if term == "Intercept":
        return "intercept (change at mean baseline)"
    if term == "baseline_centred":
        return "baseline (per unit above mean)"
    if term.startswith("C(track"):
        return "track=" + term.split("[T.")[-1].rstrip("]")
    return term


def icc_in_words(measure: str, icc: float, n_teams: int) -> str:
    """The ICC as a sentence a reader without a statistics course understands."""
    if not np.isfinite(icc):
        return f"{measure}: the team share of variation could not be estimated."
    pct = 100 * icc
    if icc < 0.005:
        return (f"{measure}: teams differ hardly at all once baseline and track are accounted for "
                f"(ICC {icc:.2f}: under 1% of the remaining variation in change lies between the {n_teams} teams).")
    return (f"{measure}: {pct:.0f}% of the variation in change left after baseline and track lies between "
            f"teams rather than between patients of the same team (ICC {icc:.2f}, {n_teams} teams).")


# --- INR time in therapeutic range ---------------------------------------------------------------

TTR_COLUMNS = ["patient_id", "n_inr", "first_on", "last_on", "days_observed", "days_in_range", "ttr_percent",
               "gaps_skipped", "days_skipped"]


def time_in_therapeutic_range(measurements: pd.DataFrame, low: float, high: float,
                              max_gap_days: int = 56) -> pd.DataFrame:
    """Per-patient INR time in therapeutic range by Rosendaal's linear interpolation (Rosendaal et al. 1993,
    Thromb Haemost 69:236): between two successive INRs the INR is taken to change linearly, and the time
    in range is the share of that straight line lying within [low, high] (computed exactly, not day by
    day). Intervals longer than ``max_gap_days`` are not interpolated: they count neither as time in range
    nor as time observed (``gaps_skipped`` / ``days_skipped`` say how much was left out).

    ``measurements`` has patient_id, measured_on, value, and optionally measure (only ``inr`` rows are used
    then). A patient with one INR, or with only skipped gaps, has ``ttr_percent`` NaN.
    """
    if low > high:
        raise ParamsError(f"INR range low must not exceed high; got low={low!r}, high={high!r}", key="goals.inr")
    if max_gap_days is None or max_gap_days <= 0:
        raise ParamsError(f"`survival.inr_max_gap_days` must be a positive number of days; got {max_gap_days!r}",
                          key="survival.inr_max_gap_days")
    m = measurements
    if "measure" in m:
        m = m[m["measure"] == "inr"]
    m = (m.dropna(subset=["patient_id", "measured_on", "value"])
         .sort_values(["patient_id", "measured_on"], kind="stable").reset_index(drop=True))
    # One row per interval between successive INRs of a patient (vectorised: cohorts can be large).
    nxt = m.groupby("patient_id", sort=False)[["measured_on", "value"]].shift(-1)
    span = (nxt["measured_on"] - m["measured_on"]).dt.days.astype(float)
    v0, v1 = m["value"].to_numpy(float), nxt["value"].to_numpy(float)
    lo, hi = np.fmin(v0, v1), np.fmax(v0, v1)
    with np.errstate(divide="ignore", invalid="ignore"):
        overlap = np.clip(np.fmin(hi, high) - np.fmax(lo, low), 0, None)
        fraction = np.where(hi > lo, overlap / (hi - lo), ((v0 >= low) & (v0 <= high)).astype(float))
    used = (span > 0) & (span <= max_gap_days)
    skipped = span > max_gap_days
    intervals = pd.DataFrame({
        "patient_id": m["patient_id"],
        "days_observed": np.where(used, span, 0.0),
        "days_in_range": np.where(used, span * fraction, 0.0),
        "gaps_skipped": skipped.astype(int),
        "days_skipped": np.where(skipped, span, 0.0),
    })
    per = intervals.groupby("patient_id", sort=True).sum()
    dates = m.groupby("patient_id", sort=True)["measured_on"].agg(["size", "min", "max"])
    out = pd.DataFrame({
        "patient_id": per.index,
        "n_inr": dates["size"].to_numpy(),
        "first_on": dates["min"].to_numpy(),
        "last_on": dates["max"].to_numpy(),
        "days_observed": per["days_observed"].to_numpy(),
        "days_in_range": per["days_in_range"].to_numpy(),
        "ttr_percent": np.where(per["days_observed"] > 0,
                                100 * per["days_in_range"] / per["days_observed"].where(per["days_observed"] > 0), np.nan),
        "gaps_skipped": per["gaps_skipped"].to_numpy(),
        "days_skipped": per["days_skipped"].to_numpy(),
    }, columns=TTR_COLUMNS)
    out["n_inr"] = out["n_inr"].astype("Int64")
    out["gaps_skipped"] = out["gaps_skipped"].astype("Int64")
    return out.reset_index(drop=True)


def ttr_summary(ttr: pd.DataFrame, patients: pd.DataFrame, teams: pd.DataFrame | None = None, *,
                goal_percent: float = 60, subgroups: Iterable[str] = ("track",)) -> pd.DataFrame:
    """Per group: patients with a TTR, mean and median TTR (%), and how many reach ``goal_percent``."""
    d = ttr.dropna(subset=["ttr_percent"]).merge(patients[["patient_id", "team_id"]], on="patient_id", how="left")
    if teams is not None:
        d = d.merge(teams[["team_id", "track"]], on="team_id", how="left")
    rows = []
    for group, mask in subgroup_masks(d, patients, [s for s in subgroups if s != "condition"]):
        sel = d.loc[mask, "ttr_percent"]
        if group != "all" and sel.empty:
            continue
        at_goal = int((sel >= goal_percent).sum())
        rows.append({"group": group, "n": len(sel), "mean_ttr": sel.mean() if len(sel) else np.nan,
                     "median_ttr": sel.median() if len(sel) else np.nan, "ttr_goal_percent": goal_percent,
                     "n_at_goal": at_goal, "pct_at_goal": 100 * at_goal / len(sel) if len(sel) else np.nan})
    out = pd.DataFrame(rows, columns=["group", "n", "mean_ttr", "median_ttr", "ttr_goal_percent", "n_at_goal",
                                      "pct_at_goal"])
    out[["n", "n_at_goal"]] = out[["n", "n_at_goal"]].astype("Int64")
    return out


def ttr_after_enrollment(measurements: pd.DataFrame, patients: pd.DataFrame, goal: Goal,
                         max_gap_days: int) -> pd.DataFrame:
    """:func:`time_in_therapeutic_range` over each patient's INRs from enrollment on (the time under CMM)."""
    if goal.operator is not None:
        raise ParamsError(f"`goals.inr` must be a range such as '2-3' for time in therapeutic range; got '{goal}'",
                          key="goals.inr")
    m = measurements[measurements["measure"] == "inr"].merge(patients[["patient_id", "enrolled_on"]], on="patient_id")
    m = m[m["measured_on"] >= m["enrolled_on"]]
    return time_in_therapeutic_range(m, goal.low, goal.high, max_gap_days)


# --- labels and figure text ----------------------------------------------------------------------

def measure_label(measure: str, unit: bool = False) -> str:
    """'a1c' -> 'HbA1c' (or 'HbA1c (%)' with ``unit``), from the data dictionary; 'bp' -> 'BP'."""
    from .dictionary import load_dictionary

    known = load_dictionary()["measurements"].measures
    if measure in known:
        label = known[measure].get("label", measure)
        short = {"Systolic blood pressure": "SBP", "Diastolic blood pressure": "DBP", "LDL cholesterol": "LDL"}
        label = short.get(label, label)
        return f"{label} ({known[measure]['unit']})" if unit and known[measure].get("unit") else label
    return {"bp": "BP (SBP and DBP)"}.get(measure, measure.replace("_", " "))


def goal_chart_text(change: pd.DataFrame) -> dict[str, str]:
    """Title, caption and alt text for the % at goal before/after chart (the ``all`` rows)."""
    rows = change[(change["group"] == "all") & change["pct_goal_baseline"].notna()]
    parts = [f"{measure_label(r.measure)} {r.pct_goal_baseline:.0f}% to {r.pct_goal_followup:.0f}% (n = {int(r.n)}, "
             f"McNemar p {_p_text(r.mcnemar_p)})" for r in rows.itertuples()]
    return {
        "title": "Patients at goal at baseline and at follow-up",
        "caption": ("Share of paired patients at goal at baseline and at follow-up, per measure: " + "; ".join(parts) + ". "
                    "Goals: " + "; ".join(f"{r.goal}" for r in rows.itertuples()) + "."),
        "alt_text": (f"Dot plot with one row per measure ({len(rows)} measures); each row joins the percentage at goal at "
                     "baseline (open circle) to the percentage at follow-up (filled circle): " + "; ".join(parts) + "."),
    }


def forest_text(team: pd.DataFrame, change: pd.DataFrame, alpha: float = 0.05) -> dict[str, str]:
    """Title, caption and alt text for the team forest plot."""
    level = f"{100 * (1 - alpha):.0f}%"
    parts = []
    for measure, g in team.groupby("measure", sort=False):
        fell = int((g["ci_high"] < 0).sum())
        parts.append(f"{measure_label(measure)}: {fell} of {len(g)} teams improved with a CI below zero")
    measures = list(dict.fromkeys(team["measure"]))
    return {
        "title": "Mean change from baseline to follow-up, by team",
        "caption": (f"Mean change (follow-up minus baseline) per team with {level} t-based CIs; the dashed line is the "
                    f"cohort mean change. " + "; ".join(parts) + "."),
        "alt_text": (f"Forest plot with {len(measures)} panels ({', '.join(measure_label(m) for m in measures)}), one row per "
                     f"team showing its mean change as a dot with a horizontal CI line, a solid line at zero and a dashed "
                     f"line at the cohort mean. " + "; ".join(parts) + "."),
    }


def ttr_text(ttr: pd.DataFrame, goal: Goal, goal_percent: float) -> dict[str, str]:
    """Title, caption and alt text for the TTR histogram."""
    v = ttr["ttr_percent"].dropna()
    at_goal = int((v >= goal_percent).sum())
    med = f"{v.median():.0f}%" if len(v) else "n/a"
    return {
        "title": "INR time in therapeutic range per patient",
        "caption": (f"Time in therapeutic range (INR {goal.low:g}-{goal.high:g}) from enrollment on, by Rosendaal linear "
                    f"interpolation, for {len(v)} patients with two or more INRs; median {med}. {at_goal} of {len(v)} "
                    f"patients reached {goal_percent:g}% (dashed line)."),
        "alt_text": (f"Histogram of per-patient time in therapeutic range in 10-point bins, {len(v)} patients, median {med}; "
                     f"a dashed vertical line marks the {goal_percent:g}% goal, reached by {at_goal} patients."),
    }


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def cohort_pairs(cohort, params) -> pd.DataFrame:
    """:func:`baseline_followup` for a loaded cohort with its params (windows, goals, combined goals)."""
    return baseline_followup(cohort.measurements, cohort.patients, cohort.teams, windows=params.windows,
                             goals=params.goals, combined_goals=params.combined_goals)


def cohort_ttr(cohort, params) -> pd.DataFrame:
    """Per-patient TTR from enrollment on with the cohort's INR goal and gap limit (empty when the params
    have no INR range goal)."""
    goal = params.goals.get("inr")
    if goal is None or goal.operator is not None:
        return pd.DataFrame(columns=TTR_COLUMNS)
    return ttr_after_enrollment(cohort.measurements, cohort.patients, goal, params.survival["inr_max_gap_days"])
