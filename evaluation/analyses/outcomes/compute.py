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
from typing import Iterable, Mapping
import numpy as np
import pandas as pd
from scipy import stats
from evaluation.core.errors import ParamsError
from evaluation.core.params import Goal
from evaluation.stats.mixed_model import RandomInterceptModel
from evaluation.stats.paired import mcnemar_exact_p, paired_change
from evaluation.stats.ttr import TTR_COLUMNS, time_in_therapeutic_range

CONDITION_FLAGS = ("diabetes", "hypertension", "dyslipidemia", "anticoagulation")
PAIR_STATUSES = ("paired", "no_followup", "no_baseline", "neither")
CHANGE_COLUMNS = [
    "measure", "group", "n", "baseline_mean", "followup_mean", "mean_change", "change_ci_low", "change_ci_high",
    "t_stat", "p_value", "wilcoxon_p", "cohen_dz", "sd_change", "n_no_followup", "n_no_baseline",
    "goal", "n_goal_baseline", "n_goal_followup", "pct_goal_baseline", "pct_goal_followup", "mcnemar_p", "note",
]
PAIR_COLUMNS = ["patient_id", "measure", "team_id", "track", "enrolled_on", "baseline_on", "baseline_value",
                "baseline_at_goal", "followup_on", "followup_value", "followup_at_goal", "change", "status"]


# --- baseline and follow-up ----------------------------------------------------------------------

def _first_per_key(keys: np.ndarray, *order: np.ndarray, last: bool = False) -> np.ndarray:
    """Positions (into ``keys``) of the first (or last) row of each key when rows are sorted by the key,
    then by ``order`` (most significant first), ties kept in row order (np.lexsort is stable)."""
    idx = np.lexsort(tuple(reversed(order)) + (keys,))
    k = keys[idx]
    if last:
        edge = np.r_[k[1:] != k[:-1], True] if len(k) else np.zeros(0, bool)
    else:
        edge = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)
    return idx[edge]


def _readings(measurements: pd.DataFrame, person: pd.Index, goals: Mapping[str, Goal],
              combined_goals: Mapping[str, list[str]] | None) -> tuple[dict[str, np.ndarray], list[str]]:
    """The measurements of the patients in ``person`` as arrays (cohorts can be large, so everything is
    integer-coded once): ``person`` (position in the index), ``measure`` (code into the returned sorted
    list of names), ``measured_on``, ``value``, ``at_goal`` (-1 when the measure has no goal, else 0/1).
    Each combined goal adds one row per patient and day on which every part was measured (the first
    reading of each part that day; value NaN, at goal when every part is)."""
    m = measurements[["patient_id", "measure", "measured_on", "value"]].dropna(subset=["patient_id", "measure", "measured_on"])
    pos = person.get_indexer(m["patient_id"])
    keep = pos >= 0  # an inner join on patient_id
    codes, names = pd.factorize(m["measure"].to_numpy()[keep])
    names = [str(n) for n in names]
    cols = {"person": pos[keep].astype(np.int64), "measure": codes.astype(np.int64),
            "measured_on": m["measured_on"].to_numpy()[keep], "value": m["value"].to_numpy(dtype=float)[keep]}
    at_goal = np.full(len(codes), -1, dtype=np.int8)
    for measure, goal in goals.items():
        if measure in names:
            rows = cols["measure"] == names.index(measure)
            at_goal[rows] = goal.met(cols["value"][rows]) & ~np.isnan(cols["value"][rows])
    cols["at_goal"] = at_goal
    extra = []
    if combined_goals and len(codes):
        day_code, days = pd.factorize(cols["measured_on"])
        day_key = cols["person"] * max(len(days), 1) + day_code  # one key per patient and exact date
        for name, parts in combined_goals.items():
            if any(p not in names for p in parts):
                continue
            common, met = None, None
            for part in parts:
                rows = np.flatnonzero((cols["measure"] == names.index(part)) & (at_goal >= 0))
                uniq, first = np.unique(day_key[rows], return_index=True)  # first reading of the part that day
                part_met = at_goal[rows[first]] == 1
                if common is None:
                    common, met = uniq, part_met
                else:
                    common, i_prev, i_part = np.intersect1d(common, uniq, assume_unique=True, return_indices=True)
                    met = met[i_prev] & part_met[i_part]
            if common is None or len(common) == 0:
                continue
            extra.append((name, common // max(len(days), 1), np.asarray(days)[common % max(len(days), 1)], met))
    if extra:
        names = names + [name for name, *_ in extra if name not in names]
        for name, person_pos, on, met in extra:
            n = len(person_pos)
            cols["person"] = np.concatenate([cols["person"], person_pos])
            cols["measure"] = np.concatenate([cols["measure"], np.full(n, names.index(name), dtype=np.int64)])
            cols["measured_on"] = np.concatenate([cols["measured_on"], on])
            cols["value"] = np.concatenate([cols["value"], np.full(n, np.nan)])
            cols["at_goal"] = np.concatenate([cols["at_goal"], met.astype(np.int8)])
    # recode measures so that codes sort as the names do
    ranked = sorted(names)
    recode = np.array([ranked.index(n) for n in names], dtype=np.int64)
    if len(cols["measure"]):
        cols["measure"] = recode[cols["measure"]]
    return cols, ranked


def baseline_followup(measurements: pd.DataFrame, patients: pd.DataFrame, teams: pd.DataFrame | None = None, *,
                      windows: Mapping[str, int], goals: Mapping[str, Goal],
                      combined_goals: Mapping[str, list[str]] | None = None) -> pd.DataFrame:
    """One row per patient and measure measured at least once: baseline and follow-up (date, value, at goal),
    the change, and ``status`` (paired / no_followup / no_baseline / neither). See the module docstring for
    the rule. Patients' ``team_id`` and the team's ``track`` are carried along for grouping.

    ``patients`` has one row per patient_id (the data contract's key; a repeated id keeps its first row).
    Vectorised over integer codes: 250,000 patients with 4.3 million measurements take a few seconds."""
    for key in ("baseline_days", "grace_days", "followup_min_days", "followup_max_days"):
        if key not in windows:
            raise ParamsError(f"`windows.{key}` is needed for baseline and follow-up; got windows={dict(windows)!r}")
    people = patients[["patient_id", "team_id", "enrolled_on"]].drop_duplicates("patient_id")
    if teams is not None and "track" in teams:
        track = people["team_id"].map(teams.drop_duplicates("team_id").set_index("team_id")["track"]).astype(teams["track"].dtype)
    else:
        track = pd.Series(None, index=people.index, dtype=object)
    ids = people["patient_id"].to_numpy()
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))  # patients sort as their ids do
    r, names = _readings(measurements, pd.Index(ids), goals, combined_goals)
    n_meas = max(len(names), 1)
    key = rank[r["person"]] * n_meas + r["measure"]  # sorts as (patient_id, measure)
    enrolled = people["enrolled_on"].to_numpy()
    offset = (pd.Series(r["measured_on"]) - pd.Series(enrolled[r["person"]])).dt.days.to_numpy(dtype=float)

    with np.errstate(invalid="ignore"):
        in_base = (offset >= -windows["baseline_days"]) & (offset <= windows["grace_days"])
        in_follow = (offset >= windows["followup_min_days"]) & (offset <= windows["followup_max_days"])
    b_rows = np.flatnonzero(in_base)
    # the latest on/before enrollment, else the earliest after it: sort by (after, distance)
    b_rows = b_rows[_first_per_key(key[b_rows], offset[b_rows] > 0, np.abs(offset[b_rows]))]
    b_key = key[b_rows]  # sorted, unique

    f_rows = np.flatnonzero(in_follow)
    at = np.minimum(np.searchsorted(b_key, key[f_rows]), max(len(b_key) - 1, 0))
    has_base = (at < len(b_key)) & (b_key[at] == key[f_rows]) if len(b_key) else np.zeros(len(f_rows), bool)
    after_base = ~has_base | (r["measured_on"][f_rows] > r["measured_on"][b_rows[at]] if len(b_key) else True)
    f_rows = f_rows[after_base]
    f_rows = f_rows[_first_per_key(key[f_rows], offset[f_rows], last=True)]  # the last in the window

    out_key, first_row = np.unique(key, return_index=True)
    person = r["person"][first_row]
    out = pd.DataFrame({
        "patient_id": people["patient_id"].take(person).reset_index(drop=True),
        "measure": pd.Series(np.asarray(names, dtype=object)[out_key % n_meas] if len(names) else [], dtype=object),
        "team_id": people["team_id"].take(person).reset_index(drop=True),
        "track": track.take(person).reset_index(drop=True),
        "enrolled_on": enrolled[person],
    })
    for when, rows in (("baseline", b_rows), ("followup", f_rows)):
        where = np.searchsorted(out_key, key[rows])
        on = np.full(len(out), np.datetime64("NaT"), dtype=r["measured_on"].dtype)
        value = np.full(len(out), np.nan)
        goal = np.full(len(out), -1, dtype=np.int8)
        on[where], value[where], goal[where] = r["measured_on"][rows], r["value"][rows], r["at_goal"][rows]
        out[f"{when}_on"] = on
        out[f"{when}_value"] = value
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


# --- change table --------------------------------------------------------------------------------

def subgroup_masks(pairs: pd.DataFrame, patients: pd.DataFrame, subgroups: Iterable[str]) -> list[tuple[str, pd.Series]]:
    """``[("all", mask), ("track=initial", mask), ...]`` over the rows of ``pairs``.

    ``condition`` gives one stratum per condition flag set to 1 (a patient can be in several); any other
    name must be a column of ``pairs`` (e.g. track, team_id) or of ``patients`` (e.g. sex)."""
    out = [("all", pd.Series(True, index=pairs.index))]
    where = None  # each pair's row in `patients` (-1: not there), looked up once
    for name in subgroups:
        if name == "condition" or (name not in pairs and name in patients):
            if where is None:
                where = pd.Index(patients["patient_id"]).get_indexer(pairs["patient_id"])
        if name == "condition":
            for flag in (c for c in CONDITION_FLAGS if c in patients):
                values = patients[flag].to_numpy(dtype=float, na_value=np.nan)
                out.append((f"condition={flag}", pd.Series((where >= 0) & (values[where] == 1), index=pairs.index)))
            continue
        if name in pairs:
            column = pairs[name]
        elif name in patients:
            column = patients[name].take(np.maximum(where, 0)).where(where >= 0)  # a left join on patient_id
            column.index = pairs.index
        else:
            allowed = sorted({"condition", "track", "team_id", *patients.columns} - {"row", "patient_id"})
            raise ParamsError(f"`subgroups` entries must be one of {', '.join(allowed)}; got {name!r}", key="subgroups")
        codes, values = pd.factorize(column.astype(str).where(column.notna()), sort=True)
        for code, value in enumerate(values):
            out.append((f"{name}={value}", pd.Series(codes == code, index=pairs.index)))
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
    masks = [(group, mask.to_numpy(dtype=bool)) for group, mask in subgroup_masks(pairs, patients, subgroups)]
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
        goal_text = _goal_text(measure, goals, combined_goals)
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
                row.update(paired_change(base_value[paired], follow_value[paired], alpha))
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
            row["note"] = _change_note(row["n"], n_sel, measure in combined)
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
