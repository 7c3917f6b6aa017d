"""Outcome change: baseline vs follow-up per patient and measure, the change table, a mixed model with a
team random intercept, team-level change for the forest plot, and INR time in therapeutic range.

Rules (the windows are params, ``windows.*``; the reading rule is :mod:`evaluation.analyses.baseline`'s):

- **Baseline** is the measurement closest to enrollment within
  [enrolled - baseline_days, enrolled + grace_days], preferring on/before: the latest measurement on or
  before enrollment when there is one, otherwise the earliest one in the grace period after it.
- **Follow-up** is the last measurement within [enrolled + followup_min_days, enrolled + followup_max_days]
  taken after the baseline.
- A patient with a baseline but no follow-up is excluded from the change statistics and counted
  (``n_no_followup``); so is one with a follow-up but no baseline (``n_no_baseline``).
- A combined goal (``combined_goals``, e.g. ``bp = sbp & dbp``) is met on a day when every part was
  measured that day and each met its own goal; its baseline and follow-up are chosen among those days.

Groups (``all``, then each of ``subgroups``) come from :func:`evaluation.core.groups.subgroup_members`.
Every function takes and returns plain DataFrames; nothing here draws (see ``figures.py``).
"""

from __future__ import annotations
from typing import Iterable
import numpy as np
import pandas as pd
from scipy import stats
from evaluation.analyses.baseline import NO_DAY, Readings, baseline_rows, day_numbers, followup_rows, has_goal
from evaluation.core.errors import ParamsError
from evaluation.core.groups import group_masks, subgroup_members
from evaluation.core.labels import measure_label
from evaluation.core.goals import Goal
from evaluation.core.params import Params
from evaluation.stats.mixed_model import RandomInterceptModel, variance_components as variance_components_table
from evaluation.stats.paired import mcnemar_corrected, mcnemar_exact_p, paired_change
from evaluation.stats.ttr import TTR_COLUMNS, time_in_therapeutic_range

PAIR_STATUSES = ("paired", "no_followup", "no_baseline", "neither")
CHANGE_COLUMNS = [
    "measure", "group", "n", "baseline_mean", "followup_mean", "mean_change", "change_ci_low", "change_ci_high",
    "t_stat", "p_value", "wilcoxon_p", "cohen_dz", "sd_change", "n_no_followup", "n_no_baseline",
    "goal", "n_goal_baseline", "n_goal_followup", "pct_goal_baseline", "pct_goal_followup", "mcnemar_p",
    "n_goal_gained", "n_goal_lost", "mcnemar_chi2", "mcnemar_chi2_p", "mcnemar_method", "note",
]
MCNEMAR_METHOD = ("mcnemar_p: exact binomial test of the discordant pairs; mcnemar_chi2(_p): chi-square with "
                  "continuity correction (R mcnemar.test default)")
PAIR_COLUMNS = ["patient_id", "measure", "team_id", "track", "enrolled_on", "baseline_on", "baseline_value",
                "baseline_at_goal", "followup_on", "followup_value", "followup_at_goal", "change", "status"]


def _pair_rows(readings: Readings, params: Params, measure: str, enrolled: np.ndarray) -> tuple[np.ndarray, ...]:
    """One measure's patients (positions, sorted) with the rows of their baseline and follow-up readings (-1:
    none) and whether each was at goal (1 / 0; -1: no reading or the measure has no goal)."""
    w = params.windows
    rows, at_goal = readings.measure(params, measure)
    code = readings.code[rows]
    dated = np.flatnonzero(enrolled[code] != NO_DAY)  # no enrollment date: measured, but in no window
    rel = readings.day[rows[dated]] - enrolled[code[dated]]
    base = dated[baseline_rows(code[dated], rel, w["baseline_days"], w["grace_days"])]
    base_rel = np.full(len(enrolled), NO_DAY)
    base_rel[code[base]] = readings.day[rows[base]] - enrolled[code[base]]
    follow = dated[followup_rows(code[dated], rel, w["followup_min_days"], w["followup_max_days"],
                                 after=base_rel[code[dated]])]
    measured = np.unique(code)
    out = [measured]
    for found in (base, follow):
        row, goal = np.full(len(enrolled), -1), np.full(len(enrolled), -1, dtype=np.int8)
        row[code[found]] = rows[found]
        if has_goal(params, measure):
            goal[code[found]] = at_goal[found]
        out += [row[measured], goal[measured]]
    return tuple(out)


def baseline_followup(measurements: pd.DataFrame, patients: pd.DataFrame, teams: pd.DataFrame | None,
                      params: Params) -> pd.DataFrame:
    """One row per patient and measure measured at least once, by patient id then measure: baseline and
    follow-up (date, value, at goal), the change, and ``status`` (paired / no_followup / no_baseline /
    neither). The rule is :mod:`evaluation.analyses.baseline`'s (the one the time to goal uses); patients'
    ``team_id`` and the team's ``track`` are carried along for grouping. A combined goal (bp) has no value,
    only at goal; a measure without a goal has at goal NA.

    ``patients`` has one row per patient_id (the data contract's key; a repeated id keeps its first row).
    Integer-coded (:class:`~evaluation.analyses.baseline.Readings`): a statewide cohort takes seconds."""
    for key in ("baseline_days", "grace_days", "followup_min_days", "followup_max_days"):
        if key not in params.windows:
            raise ParamsError(f"`windows.{key}` is needed for baseline and follow-up; got windows={dict(params.windows)!r}")
    people = (patients[["patient_id", "team_id", "enrolled_on"]].drop_duplicates("patient_id")
              .sort_values("patient_id", kind="stable").reset_index(drop=True))
    if teams is not None and "track" in teams:
        track = people["team_id"].map(teams.drop_duplicates("team_id").set_index("team_id")["track"]).astype(teams["track"].dtype)
    else:
        track = pd.Series(None, index=people.index, dtype=object)
    readings = Readings(measurements, people)
    enrolled = day_numbers(people["enrolled_on"])
    names = sorted({*map(str, readings.rows), *(c for c, parts in params.combined_goals.items()
                                               if all(p in readings.rows for p in parts))})
    per_measure = [_pair_rows(readings, params, name, enrolled) for name in names]
    columns = [np.concatenate([m[i] for m in per_measure]) if per_measure else np.zeros(0, dtype=int) for i in range(5)]
    measure = np.concatenate([np.full(len(m[0]), name, dtype=object) for name, m in zip(names, per_measure)]
                             if per_measure else [np.zeros(0, dtype=object)])
    order = np.argsort(columns[0], kind="stable")  # by patient id, then measure (measures were read in name order)
    person, base_row, base_goal, follow_row, follow_goal = (c[order] for c in columns)
    measure = measure[order]
    out = pd.DataFrame({
        "patient_id": people["patient_id"].take(person).reset_index(drop=True),
        "measure": pd.Series(measure, dtype=object),
        "team_id": people["team_id"].take(person).reset_index(drop=True),
        "track": track.take(person).reset_index(drop=True),
        "enrolled_on": people["enrolled_on"].to_numpy()[person],
    })
    has_value = ~np.isin(measure, list(params.combined_goals))
    for when, row, goal in (("baseline", base_row, base_goal), ("followup", follow_row, follow_goal)):
        found = row >= 0
        out[f"{when}_on"] = np.where(found, readings.dates[np.maximum(row, 0)], np.datetime64("NaT")).astype(readings.dates.dtype)
        out[f"{when}_value"] = np.where(found & has_value, readings.value[np.maximum(row, 0)], np.nan)
        out[f"{when}_at_goal"] = pd.arrays.BooleanArray(goal == 1, goal < 0)  # NA: no reading or no goal
    if not isinstance(measurements["measure"].dtype, pd.CategoricalDtype):
        out["measure"] = out["measure"].astype(measurements["measure"].dtype)  # as given (object or str)
    out["change"] = out["followup_value"] - out["baseline_value"]
    has_b, has_f = out["baseline_on"].notna(), out["followup_on"].notna()
    out["status"] = np.select([has_b & has_f, has_b, has_f], ["paired", "no_followup", "no_baseline"], "neither")
    return out[PAIR_COLUMNS]


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


def change_table(pairs: pd.DataFrame, patients: pd.DataFrame, teams: pd.DataFrame | None, params: Params,
                 measures: Iterable[str] | None = None) -> pd.DataFrame:
    """The change table: one row per measure and group (``all`` first, then each of ``params.subgroups``'
    groups with any patient of the measure).

    Columns: n (paired patients), baseline and follow-up means, mean change with its CI (1 - ``alpha``),
    paired t and p, Wilcoxon p, Cohen's d_z, patients excluded for no follow-up / no baseline, % at goal at
    baseline and follow-up (among the paired) with the exact McNemar p. A measure nobody has keeps its
    ``all`` row with n = 0 and a note. Combined goals (bp) have goal columns only (no mean value).
    """
    if measures is None:
        measures = default_change_measures(pairs, params)
    combined = set(params.combined_goals)
    members = subgroup_members(patients, teams, params.subgroups)
    masks = [(group, mask.to_numpy(dtype=bool)) for group, mask in group_masks(pairs["patient_id"], members)]
    # plain arrays, compared once: a statewide cohort has millions of pairs and ~100 measure x group cells
    measure_of = pairs["measure"].to_numpy()
    status = pairs["status"].to_numpy()
    is_paired, no_followup, no_baseline = (status == "paired"), (status == "no_followup"), (status == "no_baseline")
    base_value, follow_value = pairs["baseline_value"].to_numpy(dtype=float), pairs["followup_value"].to_numpy(dtype=float)
    base_goal = pairs["baseline_at_goal"].fillna(False).to_numpy(dtype=bool)
    follow_goal = pairs["followup_at_goal"].fillna(False).to_numpy(dtype=bool)
    rows = []
    for measure in measures:
        of_measure = measure_of == measure
        goal_text = _goal_text(measure, params)
        for group, mask in masks:
            sel = of_measure & mask
            n_sel = int(sel.sum())
            if group != "all" and n_sel == 0:
                continue
            paired = sel & is_paired
            row = {"measure": measure, "group": group}
            if measure in combined:
                row.update(paired_change([], []))
                row["n"] = int(paired.sum())
            else:
                row.update(paired_change(base_value[paired], follow_value[paired], params.alpha))
            row["n_no_followup"] = int((sel & no_followup).sum())
            row["n_no_baseline"] = int((sel & no_baseline).sum())
            row["goal"] = goal_text
            has_goal = goal_text is not None and paired.any()
            before, after = base_goal[paired], follow_goal[paired]
            row["n_goal_baseline"] = int(before.sum()) if has_goal else pd.NA
            row["n_goal_followup"] = int(after.sum()) if has_goal else pd.NA
            row["pct_goal_baseline"] = 100 * before.mean() if has_goal else np.nan
            row["pct_goal_followup"] = 100 * after.mean() if has_goal else np.nan
            row["mcnemar_p"] = mcnemar_exact_p(before, after) if has_goal else np.nan
            row["n_goal_gained"] = int((~before & after).sum()) if has_goal else pd.NA
            row["n_goal_lost"] = int((before & ~after).sum()) if has_goal else pd.NA
            row["mcnemar_chi2"], row["mcnemar_chi2_p"] = mcnemar_corrected(before, after) if has_goal else (np.nan, np.nan)
            row["mcnemar_method"] = MCNEMAR_METHOD if has_goal else ""
            row["note"] = _change_note(row["n"], n_sel, measure in combined)
            rows.append(row)
    out = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    for col in ("n", "n_no_followup", "n_no_baseline", "n_goal_baseline", "n_goal_followup", "n_goal_gained",
                "n_goal_lost"):
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


def _goal_text(measure: str, params: Params) -> str | None:
    """The goal as the change table writes it (``a1c < 8``; ``sbp < 140 and dbp < 90`` for bp); None without one."""
    if measure in params.combined_goals:
        return " and ".join(str(params.goals[p]) for p in params.combined_goals[measure])
    return str(params.goals[measure]) if measure in params.goals else None


def default_change_measures(pairs: pd.DataFrame, params: Params) -> list[str]:
    """Measures for the change table: every measure with a one-sided goal (even if nobody has it), then
    other measures found in the data, then combined goals. Range goals (INR) are summarised by time in
    therapeutic range instead, because a mean change in INR says nothing about control."""
    combined = list(params.combined_goals)
    one_sided = [m for m, g in params.goals.items() if g.operator is not None]
    ranged = {m for m, g in params.goals.items() if g.operator is None}
    others = sorted(set(pairs["measure"]) - set(one_sided) - ranged - set(combined))
    return one_sided + others + combined


def team_change(pairs: pd.DataFrame, teams: pd.DataFrame | None = None, *, alpha: float = 0.05,
                measures: Iterable[str] | None = None) -> pd.DataFrame:
    """Mean change with its t-based CI per team and measure (paired patients only), for the forest plot.
    Teams with one pair have no CI."""
    paired = pairs[(pairs["status"] == "paired") & pairs["change"].notna()]
    if measures is not None:
        measures = list(measures)
        paired = paired[paired["measure"].isin(measures)]
    # one pass per statistic over every team at once (a statewide cohort has thousands of team x measure cells)
    per = paired.groupby(["measure", "team_id"], sort=True)["change"].agg(["size", "mean", "std"])
    n = per["size"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(1 - alpha / 2, n - 1) * per["std"].to_numpy() / np.sqrt(n)  # NaN for one pair
    rows = pd.DataFrame({"measure": per.index.get_level_values("measure").astype(str),
                         "team_id": per.index.get_level_values("team_id"), "n": n,
                         "mean_change": per["mean"].to_numpy(), "ci_low": per["mean"].to_numpy() - half,
                         "ci_high": per["mean"].to_numpy() + half})
    out = pd.DataFrame(rows, columns=["measure", "team_id", "n", "mean_change", "ci_low", "ci_high"])
    if teams is not None:
        out = out.merge(teams[["team_id", "team_name", "track"]], on="team_id", how="left")
    out["n"] = out["n"].astype("Int64")
    if measures is not None:
        rank = {m: i for i, m in enumerate(measures)}
        out = out.sort_values(["measure", "team_id"], key=lambda c: c.map(rank) if c.name == "measure" else c, kind="stable")
    return out.reset_index(drop=True)


def team_goal_counts(pairs: pd.DataFrame, teams: pd.DataFrame | None = None,
                     measures: Iterable[str] | None = None) -> pd.DataFrame:
    """Per measure with a goal and team: paired patients (n) and how many were at goal at baseline and at
    follow-up, with the percentages: the team's share at goal the collaborative's funnel plot compares. Combined
    goals (bp) included; rows in measure order, then by team."""
    paired = pairs[(pairs["status"] == "paired") & pairs["followup_at_goal"].notna()]
    if measures is not None:
        measures = list(measures)
        paired = paired[paired["measure"].isin(measures)]
    columns = ["measure", "team_id", "n", "n_goal_baseline", "n_goal_followup", "pct_goal_baseline",
               "pct_goal_followup"]
    d = paired.assign(base=paired["baseline_at_goal"].fillna(False).astype(bool),
                      follow=paired["followup_at_goal"].astype(bool))
    per = d.groupby(["measure", "team_id"], sort=True).agg(n=("follow", "size"), n_goal_baseline=("base", "sum"),
                                                             n_goal_followup=("follow", "sum")).reset_index()
    per["measure"] = per["measure"].astype(str)
    per["pct_goal_baseline"] = 100 * per["n_goal_baseline"] / per["n"]
    per["pct_goal_followup"] = 100 * per["n_goal_followup"] / per["n"]
    out = per[columns]
    if teams is not None:
        out = out.merge(teams[["team_id", "team_name", "track"]], on="team_id", how="left")
    if measures is not None:
        rank = {m: i for i, m in enumerate(measures)}
        out = out.sort_values(["measure", "team_id"], key=lambda c: c.map(rank) if c.name == "measure" else c,
                              kind="stable")
    return out.reset_index(drop=True)


def change_model_data(pairs: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Paired patients of one measure with ``baseline_centred`` (baseline minus the mean baseline)."""
    d = pairs[(pairs["measure"] == measure) & (pairs["status"] == "paired") & pairs["change"].notna()]
    d = d[["patient_id", "team_id", "track", "baseline_value", "change"]].copy()
    d["baseline_centred"] = d["baseline_value"] - d["baseline_value"].mean()
    return d.reset_index(drop=True)


def fit_change_models(pairs: pd.DataFrame, measures: Iterable[str], *, alpha: float = 0.05,
                      min_teams: int = 3, min_patients: int = 10) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """For each measure: change ~ centred baseline + track, random intercept per team (REML).

    Returns (fixed effects: measure, term, estimate, ci_low, ci_high, p_value; per measure: n_patients,
    n_teams, team_variance, residual_variance, icc, converged, in_words; and each team's random intercept: measure,
    team_id, n, effect, std_error, ci_low, ci_high, what a caterpillar plot draws). Track is dropped when only one
    track has data; a measure with fewer than ``min_teams`` teams or ``min_patients`` pairs is not modelled
    and says so."""
    effects, models, teams = [], [], []
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
        teams.append(fit.group_effects_.rename(columns={"group": "team_id"}).assign(measure=measure))
        info.update(team_variance=fit.group_variance_, residual_variance=fit.residual_variance_, icc=fit.icc_,
                    converged=fit.converged_)
        info["in_words"] = icc_in_words(measure_label(measure), fit.icc_, n_teams)
        models.append(info)
    fe_cols = ["measure", "term", "estimate", "std_error", "ci_low", "ci_high", "p_value"]
    effects_df = pd.concat(effects, ignore_index=True)[fe_cols] if effects else pd.DataFrame(columns=fe_cols)
    models_df = pd.DataFrame(models, columns=["measure", "n_patients", "n_teams", "team_variance",
                                              "residual_variance", "icc", "converged", "in_words"])
    team_cols = ["measure", "team_id", "n", "effect", "std_error", "ci_low", "ci_high"]
    teams_df = pd.concat(teams, ignore_index=True)[team_cols] if teams else pd.DataFrame(columns=team_cols)
    return effects_df, models_df, teams_df


VARIANCE_METHOD = "REML, statsmodels MixedLM (lme4: lmer(change ~ baseline_centred + track + (1 | team)))"


def variance_components(models: pd.DataFrame) -> pd.DataFrame:
    """``tables/outcome_variance_components.csv``: per modelled measure the team-intercept and residual variance
    of :func:`fit_change_models` (lme4's ``VarCorr``), their standard deviations and shares, the ICC, the
    patients and teams, and the method."""
    cols = ["measure", "component", "variance", "std_dev", "share", "icc", "n_patients", "n_teams", "method"]
    rows = []
    for m in models[models["team_variance"].notna()].itertuples(index=False):
        part = variance_components_table("team", m.team_variance, m.residual_variance)
        rows.append(part.assign(measure=m.measure, icc=m.icc, n_patients=m.n_patients, n_teams=m.n_teams,
                                method=VARIANCE_METHOD))
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def _term_label(term: str) -> str:
    if term == "Intercept":
        return "intercept (change at mean baseline)"
    if term == "baseline_centred":
        return "baseline (per unit above mean)"
    if term.startswith("C(track"):
        return "track=" + term.split("[T.")[-1].rstrip("]")
    return term


def icc_in_words(label: str, icc: float, n_teams: int) -> str:
    """The ICC as a sentence a reader without a statistics course understands (``label``: the measure's name)."""
    if not np.isfinite(icc):
        return f"{label}: the team share of variation could not be estimated."
    pct = 100 * icc
    if icc < 0.005:
        return (f"{label}: teams differ hardly at all once baseline and track are accounted for "
                f"(ICC {icc:.2f}: under 1% of the remaining variation in change lies between the {n_teams} teams).")
    return (f"{label}: {pct:.0f}% of the variation in change left after baseline and track lies between "
            f"teams rather than between patients of the same team (ICC {icc:.2f}, {n_teams} teams).")


def ttr_summary(ttr: pd.DataFrame, patients: pd.DataFrame, teams: pd.DataFrame | None, params: Params) -> pd.DataFrame:
    """Per group (``all``, then ``params.subgroups`` other than condition: every patient with a TTR takes
    anticoagulation): patients with a TTR, mean and median TTR (%), and how many reach the goal
    (``survival.inr_ttr_goal``)."""
    goal_percent = params.survival["inr_ttr_goal"]
    d = ttr.dropna(subset=["ttr_percent"]).reset_index(drop=True)
    members = subgroup_members(patients, teams, [s for s in params.subgroups if s != "condition"])
    rows = []
    for group, mask in group_masks(d["patient_id"], members):
        sel = d.loc[mask, "ttr_percent"]
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
    """:func:`~evaluation.stats.ttr.time_in_therapeutic_range` over each patient's INRs from enrollment on (the
    time under CMM)."""
    if goal.operator is not None:
        raise ParamsError(f"`goals.inr` must be a range such as '2-3' for time in therapeutic range; got '{goal}'",
                          key="goals.inr")
    m = measurements[measurements["measure"] == "inr"].merge(patients[["patient_id", "enrolled_on"]], on="patient_id")
    m = m[m["measured_on"] >= m["enrolled_on"]]
    return time_in_therapeutic_range(m, goal.low, goal.high, max_gap_days)


def cohort_pairs(cohort, params) -> pd.DataFrame:
    """:func:`baseline_followup` for a loaded cohort with its params (windows, goals, combined goals)."""
    return baseline_followup(cohort.measurements, cohort.patients, cohort.teams, params)


def cohort_ttr(cohort, params) -> pd.DataFrame:
    """Per-patient TTR from enrollment on with the cohort's INR goal and gap limit (empty when the params
    have no INR range goal)."""
    goal = params.goals.get("inr")
    if goal is None or goal.operator is not None:
        return pd.DataFrame(columns=TTR_COLUMNS)
    return ttr_after_enrollment(cohort.measurements, cohort.patients, goal, params.survival["inr_max_gap_days"])
