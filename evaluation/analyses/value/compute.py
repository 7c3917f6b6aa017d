"""Value and return on investment: acute-care use before and after enrollment, cost avoided, net ROI, MTPs.

The method is the one behind a CMM team's performance story (seed 002: "90-day readmissions reduced by 59%",
"net ROI $486,304 (141%)", "ROI of $500 per patient"):

* each patient is observed in a **pre-enrollment window** ``[enrolled - pre_days, enrolled)`` and a **post
  window** ``[enrolled, enrolled + post_days)``, cut short at exit or at the as-of date; exposure is counted in
  patient-months (a month is 365.25 / 12 days);
* ED visits, admissions and readmissions are counted per window; rates are per 1,000 patient-months;
* the **rate ratio** (post / pre) and its CI come from a GLM with a log link and log patient-months as offset:
  Poisson with standard errors clustered by patient (default: each patient contributes both windows), plain
  Poisson, or negative binomial (``value.rate_model``);
* **cost avoided** = (pre rate - post rate) x post patient-months x cost per event, summed over kinds; the cost
  per event is the mean ``cost`` of that kind in utilization.csv unless ``value.cost_per_event`` sets it;
* **net return** = cost avoided - program cost (program_costs.csv); **net ROI** = net return / program cost;
  **ROI per patient** = net return / patients in the population of focus;
* the **sensitivity** table recomputes cost avoided for every cost multiplier x share of the change attributed
  to the program (``value.cost_multipliers``, ``value.attribution_shares``);
* **medication therapy problems** (MTPs) are counted per patient and group; the days to confirmed resolution
  are notebook 04's estimate (:func:`evaluation.analyses.time_to_goal.mtp.mtp_resolution`): a Kaplan-Meier
  median with unresolved MTPs censored at exit or data end, never the median of the resolved ones alone
  (which leaves out the problems still open, the slow ones).

The results are tidy tables on :class:`ValueAnalysis`; :mod:`.figures` draws them and :mod:`.findings` turns
``tables/value.csv`` into the report's sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from evaluation.analyses.time_to_goal.mtp import mtp_resolution, mtp_resolution_data
from evaluation.core.disclosure import is_small
from evaluation.core.errors import ParamsError
from evaluation.core.groups import TEAM, subgroup_members
from evaluation.core.labels import EVENT_KINDS, event_kind_label
from evaluation.core.params import Params
from evaluation.core.schema import RATE_MODELS
from evaluation.core.text import format_money, format_p, format_percent
from evaluation.data.cohort import Cohort
from evaluation.stats.rates import rate_ratio, rate_ratios
from evaluation.stats.survival import median_text

DAYS_PER_MONTH = 365.25 / 12  # average Gregorian month: patient-months = days / 30.4375
PER = 1000  # rates per 1,000 patient-months
VALUE_COLUMNS = ["metric", "group", "value", "unit"]
MTP_RESOLUTION_METHOD = "Kaplan-Meier median, unresolved MTPs censored at exit or data end"


def report_order(groups: pd.Series) -> list[str]:
    """The order of the value tables' groups: ``all`` first, then the strata of each subgroup in the order of
    the params' ``subgroups``, each sorted by name (so conditions read alphabetically)."""
    labels = list(pd.unique(pd.Series(groups, dtype=object)))
    prefixes = list(dict.fromkeys(g.split("=", 1)[0] for g in labels if g != "all"))
    return ["all"] * ("all" in labels) + [g for p in prefixes for g in sorted(x for x in labels if x.startswith(p + "="))]


# --- exposure and counts -----------------------------------------------------------------------------

def exposure_windows(patients: pd.DataFrame, *, pre_days: int, post_days: int, as_of) -> pd.DataFrame:
    """Each patient's pre and post windows (end exclusive) and their length in patient-months.

    The post window ends at the earliest of enrollment + post_days, the day after exit and the day after
    ``as_of``; a patient enrolled after ``as_of`` has no post time.
    """
    enrolled = patients["enrolled_on"]
    cap = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    post_end = enrolled + pd.Timedelta(days=post_days)
    exit_end = patients["exited_on"] + pd.Timedelta(days=1) if "exited_on" in patients.columns else post_end
    post_end = post_end.where(~(exit_end < post_end), exit_end).clip(upper=cap)
    post_end = post_end.where(post_end > enrolled, enrolled)
    out = pd.DataFrame({
        "patient_id": patients["patient_id"].to_numpy(),
        "team_id": patients["team_id"].to_numpy(),
        "pre_start": (enrolled - pd.Timedelta(days=pre_days)).to_numpy(),
        "enrolled_on": enrolled.to_numpy(),
        "post_end": post_end.to_numpy(),
    })
    out["pre_months"] = pre_days / DAYS_PER_MONTH
    out["post_months"] = (out["post_end"] - out["enrolled_on"]).dt.days / DAYS_PER_MONTH
    return out


def count_events(utilization: pd.DataFrame, windows: pd.DataFrame, kinds: Iterable[str] = EVENT_KINDS) -> pd.DataFrame:
    """Events per patient, window and kind (zeros included): patient_id, kind, pre_events, post_events."""
    u = utilization.merge(windows[["patient_id", "pre_start", "enrolled_on", "post_end"]], on="patient_id", how="inner")
    when = u["occurred_on"]
    u["period"] = np.select([(when >= u["pre_start"]) & (when < u["enrolled_on"]),
                             (when >= u["enrolled_on"]) & (when < u["post_end"])], ["pre", "post"], "outside")
    u = u[u["period"] != "outside"]
    counts = u.groupby(["patient_id", "kind", "period"]).size().unstack("period")
    grid = pd.MultiIndex.from_product([windows["patient_id"].unique(), list(kinds)], names=["patient_id", "kind"])
    counts = counts.reindex(grid).reindex(columns=["pre", "post"]).fillna(0).astype(int)
    return counts.rename(columns={"pre": "pre_events", "post": "post_events"}).reset_index()


# --- costs and return --------------------------------------------------------------------------------

def costs_per_event(utilization: pd.DataFrame | None, overrides: dict[str, Any] | None,
                    kinds: Iterable[str] = EVENT_KINDS) -> pd.DataFrame:
    """Cost per event of each kind: the params value when set, else the mean ``cost`` in utilization.csv."""
    rows = []
    overrides = overrides or {}
    for kind in kinds:
        given = overrides.get(kind)
        if given is not None:
            rows.append({"kind": kind, "cost_per_event": float(given), "source": "params (value.cost_per_event)", "n_costed": np.nan})
            continue
        costs = pd.Series(dtype=float)
        if utilization is not None and "cost" in utilization.columns:
            costs = utilization.loc[utilization["kind"] == kind, "cost"].dropna()
        if len(costs):
            rows.append({"kind": kind, "cost_per_event": float(costs.mean()), "source": "data: mean cost in utilization.csv",
                         "n_costed": len(costs)})
        else:
            rows.append({"kind": kind, "cost_per_event": np.nan, "source": "unknown: no cost in the data or params", "n_costed": 0})
    return pd.DataFrame(rows)


def program_cost_by_group(program_costs: pd.DataFrame, patients: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Program cost per group: the costs of the group's teams plus the shared costs (blank team_id) split by
    the group's share of patients. Only ``all`` and groups whose patients' teams are whole (team-level strata such
    as track) are costed; a patient-level stratum (condition, sex) has no program cost of its own.
    """
    costs = program_costs.copy()
    shared = float(costs.loc[costs["team_id"].isna(), "amount"].sum())
    by_team = costs.dropna(subset=["team_id"]).groupby("team_id")["amount"].sum()
    team_of = patients.set_index("patient_id")["team_id"]
    n_all = patients["patient_id"].nunique()
    team_sizes = patients.groupby("team_id")["patient_id"].nunique()
    # every group at once (1,000 team groups): patients per group and team, against the team's size
    members = groups.drop_duplicates(["group", "patient_id"])
    pairs = pd.DataFrame({"group": members["group"].to_numpy(object),
                          "team": members["patient_id"].map(team_of).to_numpy(object)}).dropna(subset=["team"])
    per_team = pairs.groupby(["group", "team"], sort=False).size()
    team = per_team.index.get_level_values("team")
    complete = pd.Series((per_team.to_numpy() == team_sizes.reindex(team).to_numpy()), index=per_team.index)
    whole = complete.groupby(level="group", sort=False).all()
    team_cost = pd.Series(by_team.reindex(team).fillna(0).to_numpy(), index=per_team.index).groupby(
        level="group", sort=False).sum()
    size = members.groupby("group", sort=False).size()
    out = pd.DataFrame({"group": size.index.to_numpy(object)})
    keep = (out["group"] == "all") | out["group"].map(whole).fillna(True).astype(bool)
    out = out[keep].reset_index(drop=True)
    share = out["group"].map(size).to_numpy(float) / n_all if n_all else np.nan
    out["team_costs"] = out["group"].map(team_cost).fillna(0.0).astype(float)
    out["shared_costs"] = shared * share
    out["program_cost"] = out["team_costs"] + out["shared_costs"]
    return out[["group", "team_costs", "shared_costs", "program_cost"]]


def team_rates(rates: pd.DataFrame) -> pd.DataFrame:
    """Each team's acute-care counts and patient-months before and after enrolment, per kind (rates per 1,000
    patient-months; ``tables/value_utilization_by_team.csv``): what a comparison across teams (a funnel plot of
    readmissions) needs, from the per-team rows of the utilization table."""
    columns = ["kind", "team_id", "patients", "pre_events", "post_events", "pre_patient_months",
               "post_patient_months", "pre_rate", "post_rate"]
    d = rates.assign(team_id=rates["group"].str.removeprefix(f"{TEAM}="))
    return d[columns].sort_values(["kind", "team_id"], key=lambda c: c.map(
        {k: i for i, k in enumerate(EVENT_KINDS)}) if c.name == "kind" else c, kind="stable").reset_index(drop=True)


def sensitivity_grid(sens: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity table as a grid of net ROI (%): one row per attributed share (largest first), one column
    per cost multiplier, as the heat map draws it."""
    return (sens.pivot(index="attribution_share", columns="cost_multiplier", values="net_roi_pct")
            .sort_index(ascending=False))


def net_return(cost_avoided: float, program_cost: float, patients: int) -> dict[str, float]:
    """Net return = cost avoided - program cost; net ROI (%) = net return / program cost x 100;
    ROI per patient = net return / patients."""
    net = cost_avoided - program_cost
    return {"cost_avoided": cost_avoided, "program_cost": program_cost, "net_return": net,
            "net_roi_pct": 100 * net / program_cost if program_cost else np.nan,
            "roi_per_patient": net / patients if patients else np.nan}


def sensitivity(events_avoided: pd.Series, cost_per_event: pd.Series, program_cost: float, *,
                cost_multipliers: Iterable[float], attribution_shares: Iterable[float], patients: int) -> pd.DataFrame:
    """Cost avoided, net return and net ROI for every (cost multiplier, attributed share) pair.

    ``events_avoided`` and ``cost_per_event`` are indexed by kind. Cost avoided = share x sum over kinds of
    events avoided x cost per event x multiplier.
    """
    base = float((events_avoided * cost_per_event).dropna().sum())
    rows = []
    for mult in cost_multipliers:
        for share in attribution_shares:
            avoided = base * float(mult) * float(share)
            rows.append({"cost_multiplier": float(mult), "attribution_share": float(share)}
                        | net_return(avoided, program_cost, patients))
    return pd.DataFrame(rows)


# --- medication therapy problems ---------------------------------------------------------------------

def mtp_resolution_by_group(mtp_times: pd.DataFrame, groups: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Median days to confirmed resolution per group with its CI: notebook 04's Kaplan-Meier estimate
    (``mtp_resolution``, unresolved MTPs censored at exit or data end) on each group's MTPs.

    ``mtp_times`` is ``mtp_resolution_data(cohort, params)``: one row per MTP with its days and event.
    """
    rows = []
    for group in report_order(groups["group"]):
        members = groups.loc[groups["group"] == group, "patient_id"].unique()
        mine = mtp_times[mtp_times["patient_id"].isin(members)]
        row = {"group": group, "median_days_to_resolution": np.nan, "median_ci_low": np.nan, "median_ci_high": np.nan,
               "ci_method": params.ci_method, "method": MTP_RESOLUTION_METHOD}
        if len(mine):
            km = mtp_resolution(mine.reset_index(drop=True), params).set_index("group").loc["all"]
            row |= {"median_days_to_resolution": km.median_days, "median_ci_low": km.median_ci_low,
                    "median_ci_high": km.median_ci_high}
        rows.append(row)
    return pd.DataFrame(rows)


def resolution_phrase(median: float, low: float, high: float, resolved: float, params: Params) -> str:
    """'the median time to confirmed resolution was 39 days (95% CI 37 to 42; log-log; Kaplan-Meier median,
    unresolved MTPs censored at exit or data end)' (the survival module's median text with the method named),
    or '' when there is no estimate or it rests on a small count of resolved MTPs; for captions and findings."""
    if np.isnan(median) or is_small([resolved], params.suppress_below)[0]:
        return ""
    text = median_text(median, low, high, params.ci_method, params.alpha).removesuffix(")")
    return f"the median time to confirmed resolution was {text}; {MTP_RESOLUTION_METHOD})"


def mtp_summary(mtps: pd.DataFrame, groups: pd.DataFrame, resolution: pd.DataFrame | None = None) -> pd.DataFrame:
    """MTPs per patient, share confirmed resolved and the median days to resolution, per group.

    Patients with no MTP count in the denominator of MTPs per patient. The median and its CI come from
    ``resolution`` (:func:`mtp_resolution_by_group`); without it they are blank.
    """
    rows = []
    for group in report_order(groups["group"]):
        members = groups.loc[groups["group"] == group, "patient_id"].unique()
        g = mtps[mtps["patient_id"].isin(members)]
        resolved = g["resolved_on"].notna()
        rows.append({
            "group": group, "patients": len(members), "patients_with_mtp": g["patient_id"].nunique(),
            "mtps_identified": len(g), "mtps_resolved": int(resolved.sum()), "mtps_unresolved": int((~resolved).sum()),
            "mtps_per_patient": len(g) / len(members) if len(members) else np.nan,
            "pct_resolved": 100 * resolved.mean() if len(g) else np.nan,
        })
    out = pd.DataFrame(rows)
    columns = ["median_days_to_resolution", "median_ci_low", "median_ci_high", "ci_method", "method"]
    if resolution is None:
        return out.assign(**{c: np.nan for c in columns})
    return out.merge(resolution[["group", *columns]], on="group", how="left")


def mtp_categories(mtps: pd.DataFrame) -> pd.DataFrame:
    """MTPs identified and resolved by category (most frequent first), with an ``all`` row."""
    resolved = mtps["resolved_on"].notna()
    t = (mtps.assign(resolved=resolved).groupby("category")
         .agg(identified=("resolved", "size"), resolved=("resolved", "sum")).reset_index())
    t["resolved"] = t["resolved"].astype(int)
    t = t.sort_values(["identified", "category"], ascending=[False, True], kind="stable")
    total = pd.DataFrame([{"category": "all", "identified": int(t["identified"].sum()), "resolved": int(t["resolved"].sum())}])
    t = pd.concat([t, total], ignore_index=True)
    t["unresolved"] = t["identified"] - t["resolved"]
    t["pct_resolved"] = 100 * t["resolved"] / t["identified"]
    return t.reset_index(drop=True)


# --- the whole analysis ------------------------------------------------------------------------------

@dataclass
class ValueAnalysis:
    """Utilization, cost avoided, ROI, sensitivity and MTPs for one cohort (``fit()`` returns self).

    Results are attributes ending in ``_``; ``summary`` is the long ``tables/value.csv`` (metric, group, value,
    unit). Absent tables leave their results empty and say so in ``notes_``.
    """

    pre_days: int = 365
    post_days: int = 365
    as_of: Any = None
    cost_per_event: dict[str, Any] = field(default_factory=dict)
    rate_model: str = "poisson_robust"
    alpha: float = 0.05
    subgroups: tuple[str, ...] = ("track", "condition")
    cost_multipliers: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5)
    attribution_shares: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    params: Params | None = field(default=None, repr=False, compare=False)  # for the MTP resolution estimate

    def __post_init__(self) -> None:
        if self.rate_model not in RATE_MODELS:
            raise ParamsError(f"`value.rate_model` must be one of {', '.join(RATE_MODELS)}; got {self.rate_model!r}",
                              key="value.rate_model")
        for name in ("cost_multipliers", "attribution_shares"):
            values = list(getattr(self, name))
            if not values or any(not isinstance(v, (int, float)) or v < 0 for v in values):
                raise ParamsError(f"`value.{name}` must be a list of numbers of at least 0; got {values!r}", key=f"value.{name}")
        bad = [k for k in (self.cost_per_event or {}) if k not in EVENT_KINDS]
        if bad:
            raise ParamsError(f"`value.cost_per_event` keys must be among {', '.join(EVENT_KINDS)}; got {bad[0]!r}",
                              key="value.cost_per_event")

    @classmethod
    def from_params(cls, params: Params) -> "ValueAnalysis":
        """The analysis with the params' windows, costs, model and subgroups (and the params themselves, which
        the MTP resolution estimate reads: CI method, alpha, horizons)."""
        v, w = params.value, params.windows
        return cls(pre_days=int(w["utilization_pre_days"]), post_days=int(w["utilization_post_days"]),
                   as_of=params.as_of, cost_per_event=dict(v.get("cost_per_event") or {}),
                   rate_model=v.get("rate_model", "poisson_robust"), alpha=params.alpha,
                   subgroups=tuple(params.subgroups), cost_multipliers=tuple(v["cost_multipliers"]),
                   attribution_shares=tuple(v["attribution_shares"]), params=params)

    def fit(self, patients: pd.DataFrame, *, utilization: pd.DataFrame | None = None,
            program_costs: pd.DataFrame | None = None, mtps: pd.DataFrame | None = None,
            teams: pd.DataFrame | None = None, mtp_times: pd.DataFrame | None = None) -> "ValueAnalysis":
        """Compute every table from the cohort's tables (absent ones None). ``mtp_times`` is
        ``mtp_resolution_data(cohort, params)``, for the MTPs' Kaplan-Meier median days to resolution."""
        as_of = self.as_of if self.as_of is not None else pd.Timestamp.today().normalize()
        self.notes_: list[str] = []
        self.groups_ = subgroup_members(patients, teams, self.subgroups)
        self.windows_ = exposure_windows(patients, pre_days=self.pre_days, post_days=self.post_days, as_of=as_of)
        self.costs_ = costs_per_event(utilization, self.cost_per_event)
        self.rates_ = self._rates(utilization, self.groups_)
        self.program_cost_ = (program_cost_by_group(program_costs, patients, self.groups_)
                              if program_costs is not None and len(program_costs) else None)
        self.roi_ = self._roi(self.rates_, self.program_cost_, self.groups_)
        self.team_rates_ = None  # set with by_team_
        self.by_team_ = self._by_team(utilization, program_costs, patients, teams)
        self.sensitivity_ = self._sensitivity()
        has_mtps = mtps is not None and len(mtps) > 0
        resolution = (mtp_resolution_by_group(mtp_times, self.groups_, self.params)
                      if has_mtps and mtp_times is not None and self.params is not None else None)
        self.mtps_ = mtp_summary(mtps, self.groups_, resolution) if has_mtps else None
        self.mtp_categories_ = mtp_categories(mtps) if has_mtps else None
        if utilization is None:
            self.notes_.append("No utilization.csv: utilization rates, cost avoided and ROI are not computed.")
        else:
            unknown = self.rates_[(self.rates_["group"] == "all") & self.rates_["cost_avoided"].isna()]["kind"].tolist()
            if unknown:
                self.notes_.append(f"No cost per event for {', '.join(unknown)} (no cost column values and no "
                                   "value.cost_per_event): left out of cost avoided.")
        if program_costs is None:
            self.notes_.append("No program_costs.csv: program cost, net return and ROI are not computed.")
        if mtps is None:
            self.notes_.append("No mtps.csv: medication therapy problems are not summarised.")
        elif has_mtps and resolution is None:
            self.notes_.append("No MTP resolution times (they need the cohort and params: use analyse()): the median "
                               "days to resolution are left blank.")
        return self

    def fit_cohort(self, cohort: Cohort) -> "ValueAnalysis":
        """Fit on a loaded :class:`~evaluation.data.cohort.Cohort` (absent optional tables are None)."""
        mtp_times = mtp_resolution_data(cohort, self.params) if self.params is not None and cohort.has("mtps") else None
        self.fit(cohort.patients, utilization=cohort.utilization, program_costs=cohort.program_costs,
                 mtps=cohort.mtps, teams=cohort.teams, mtp_times=mtp_times)
        self.missing_ = {name: cohort.missing_note(name) for name in ("utilization", "program_costs", "mtps")}
        return self

    _NEEDS = {"rates": ("utilization",), "roi": ("utilization", "program_costs"), "sensitivity": ("utilization", "program_costs"),
              "by_team": ("utilization",), "mtps": ("mtps",)}

    def note(self, part: str) -> str | None:
        """Why a part of the analysis (rates, roi, sensitivity, by_team, mtps) is empty, or None when it is not.

        A notebook cell reads ``va.note("roi") or <show the ROI>``.
        """
        if part not in self._NEEDS:
            raise ValueError(f"part must be one of {', '.join(self._NEEDS)}; got {part!r}")
        missing = getattr(self, "missing_", {})
        for name in self._NEEDS[part]:
            if missing.get(name):
                return missing[name]
        empty = {"rates": self.rates_.empty, "roi": self.roi_.empty or self.roi_["program_cost"].isna().all(),
                 "sensitivity": self.sensitivity_ is None, "by_team": self.by_team_ is None,
                 "mtps": self.mtps_ is None}[part]
        if empty:
            return f"Skipped: the cohort has no rows for this part of the value analysis ({', '.join(self._NEEDS[part])})."
        if part in ("roi", "sensitivity") and self.roi_.set_index("group")["cost_avoided"].isna().get("all", False):
            return "Skipped: no cost per event is known (no cost column values and no value.cost_per_event)."
        return None

    @property
    def settings_(self) -> pd.DataFrame:
        """The windows, model and costs this analysis used, in plain words."""
        costs = {r.kind: f"{format_money(r.cost_per_event)} ({r.source})" if r.cost_per_event == r.cost_per_event else r.source
                 for r in self.costs_.itertuples(index=False)}
        rows = [("pre-enrollment window", f"{self.pre_days} days before enrollment"),
                ("post-enrollment window", f"{self.post_days} days from enrollment, cut at exit or the as-of date"),
                ("rate ratio model", {"poisson_robust": "Poisson GLM, standard errors clustered by patient",
                                      "poisson": "Poisson GLM, model-based standard errors",
                                      "negative_binomial": "negative binomial (NB2) GLM"}[self.rate_model]),
                ("confidence level", f"{100 * (1 - self.alpha):g}%"),
                ("days to MTP resolution", MTP_RESOLUTION_METHOD)]
        rows += [(f"cost per {event_kind_label(k, mid_sentence=True).removesuffix('s')}", costs[k])
                 for k in EVENT_KINDS if k in costs]
        return pd.DataFrame(rows, columns=["setting", "value"])

    # -- pieces --
    def _rates(self, utilization: pd.DataFrame | None, groups: pd.DataFrame) -> pd.DataFrame:
        """One row per kind and group (kinds in report order, groups in :func:`report_order`), every group at
        once: counts and exposure are summed by group number, never by filtering the patients group by group
        (1,000 teams made that 3,000 scans of 250,000 patients)."""
        columns = ["kind", "group", "patients", "pre_events", "post_events", "pre_patient_months", "post_patient_months",
                   "pre_rate", "post_rate", "rate_ratio", "ci_low", "ci_high", "p_value", "change_pct",
                   "events_avoided", "cost_per_event", "cost_avoided", "model", "note"]
        if utilization is None:
            return pd.DataFrame(columns=columns)
        kinds = list(EVENT_KINDS)
        counts = count_events(utilization, self.windows_, kinds)
        windows = self.windows_.drop_duplicates("patient_id")
        ids = pd.Index(windows["patient_id"])
        shape = (len(ids), len(kinds))  # count_events' grid: patient-major, kinds in order
        pre_all = counts["pre_events"].to_numpy(float).reshape(shape)
        post_all = counts["post_events"].to_numpy(float).reshape(shape)
        order = report_order(groups["group"])
        member = ids.get_indexer(groups["patient_id"])
        found = member >= 0
        group = pd.Categorical(groups["group"], categories=order).codes[found]
        member = member[found]
        e_pre = windows["pre_months"].to_numpy(float)[member]
        e_post = windows["post_months"].to_numpy(float)[member]
        n_groups = len(order)

        def total(values) -> np.ndarray:
            return np.bincount(group, weights=values, minlength=n_groups)

        patients = np.bincount(group, minlength=n_groups)
        ta, tb = total(e_pre), total(e_post)
        cost = self.costs_.set_index("kind")["cost_per_event"]
        frames = []
        for j, kind in enumerate(kinds):
            pre, post = pre_all[member, j], post_all[member, j]
            a, b = total(pre), total(post)
            if self.rate_model == "negative_binomial":
                rr = self._rate_ratios_one_by_one(pre, post, e_pre, e_post, group, n_groups)
            else:
                rr = rate_ratios(pre, post, e_pre, e_post, group, n_groups, model=self.rate_model, alpha=self.alpha)
            with np.errstate(divide="ignore", invalid="ignore"):
                pre_rate = np.where(ta != 0, PER * a / ta, np.nan)
                post_rate = np.where(tb != 0, PER * b / tb, np.nan)
                change = np.where(pre_rate != 0, 100 * (post_rate / pre_rate - 1), np.nan)
            avoided = (pre_rate - post_rate) / PER * tb  # (pre rate - post rate) x post patient-months
            per_event = float(cost.get(kind, np.nan))
            frames.append(pd.DataFrame({
                "kind": kind, "group": order, "patients": patients.astype(int), "pre_events": a.astype(int),
                "post_events": b.astype(int), "pre_patient_months": ta, "post_patient_months": tb,
                "pre_rate": pre_rate, "post_rate": post_rate, "rate_ratio": rr["rate_ratio"], "ci_low": rr["ci_low"],
                "ci_high": rr["ci_high"], "p_value": rr["p_value"], "change_pct": change, "events_avoided": avoided,
                "cost_per_event": per_event, "cost_avoided": np.where(avoided == 0, 0.0, avoided * per_event),
                "model": self.rate_model, "note": rr["note"]}, columns=columns))
        return pd.concat(frames, ignore_index=True)

    def _rate_ratios_one_by_one(self, pre, post, e_pre, e_post, group, n_groups: int) -> dict[str, list]:
        """:func:`rate_ratio` per group (the negative binomial has no closed form)."""
        out: dict[str, list] = {"rate_ratio": [], "ci_low": [], "ci_high": [], "p_value": [], "note": []}
        by_group = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[by_group], np.arange(n_groups + 1))
        for g in range(n_groups):
            rows = by_group[bounds[g]:bounds[g + 1]]
            r = rate_ratio(pre[rows], post[rows], e_pre[rows], e_post[rows], model=self.rate_model, alpha=self.alpha)
            for key in out:
                out[key].append(getattr(r, key))
        return out

    def _roi(self, rates: pd.DataFrame, program: pd.DataFrame | None, groups: pd.DataFrame) -> pd.DataFrame:
        """Cost avoided (summed over kinds), program cost and return per group of ``rates``."""
        columns = ["group", "patients", "cost_avoided", "program_cost", "net_return", "net_roi_pct", "roi_per_patient"]
        if rates.empty:
            return pd.DataFrame(columns=columns)
        avoided = rates.groupby("group", sort=False)["cost_avoided"].sum(min_count=1)
        sizes = groups.groupby("group")["patient_id"].nunique()
        program_cost = program.drop_duplicates("group").set_index("group")["program_cost"] if program is not None else {}
        rows = []
        for group in avoided.index:
            cost = float(program_cost[group]) if group in program_cost else np.nan
            rows.append({"group": group, "patients": int(sizes.get(group, 0))}
                        | net_return(float(avoided[group]), cost, int(sizes.get(group, 0))))
        return pd.DataFrame(rows, columns=columns)

    def _by_team(self, utilization, program_costs, patients, teams) -> pd.DataFrame | None:
        """Cost avoided and ROI per team (analysts' table: team-level counts are small)."""
        if utilization is None:
            return None
        groups = subgroup_members(patients, None, [TEAM])
        groups = groups[groups["group"] != "all"].reset_index(drop=True)
        rates = self._rates(utilization, groups)
        self.team_rates_ = team_rates(rates)
        program = program_cost_by_group(program_costs, patients, groups) if program_costs is not None and len(program_costs) else None
        roi = self._roi(rates, program, groups)
        roi.insert(0, "team_id", roi.pop("group").str.removeprefix(f"{TEAM}="))
        if teams is not None:
            roi.insert(1, "track", roi["team_id"].map(teams.drop_duplicates("team_id").set_index("team_id")["track"]))
        return roi.sort_values("team_id").reset_index(drop=True)

    def _sensitivity(self) -> pd.DataFrame | None:
        """The sensitivity grid for the whole cohort (None without utilization or program costs)."""
        if self.rates_.empty or self.program_cost_ is None:
            return None
        r = self.rates_[self.rates_["group"] == "all"].set_index("kind")
        cost = float(self.program_cost_.set_index("group").at["all", "program_cost"])
        n = int(self.groups_.loc[self.groups_["group"] == "all", "patient_id"].nunique())
        return sensitivity(r["events_avoided"], r["cost_per_event"], cost, cost_multipliers=self.cost_multipliers,
                           attribution_shares=self.attribution_shares, patients=n)

    # -- results --
    def headline(self, group: str = "all") -> dict[str, float]:
        """The performance-story numbers for one group (NaN where a table was absent)."""
        out = {"patients": float(self.groups_.loc[self.groups_["group"] == group, "patient_id"].nunique())}
        if not self.roi_.empty and group in set(self.roi_["group"]):
            out |= self.roi_.set_index("group").loc[group].drop("patients").astype(float).to_dict()
        if not self.rates_.empty:
            r = self.rates_[self.rates_["group"] == group].set_index("kind")
            for kind in r.index:
                out[f"{kind}_change_pct"] = float(r.at[kind, "change_pct"])
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """``tables/value.csv``: metric, group, value, unit (long; ``all`` first, then strata)."""
        rows: list[tuple[str, str, float, str]] = []
        order = report_order(self.groups_["group"])
        sizes = self.groups_.groupby("group")["patient_id"].nunique()
        for group in order:
            rows.append(("patients", group, float(sizes[group]), "patients"))
        r = self.rates_
        metrics = [("pre_events", "events"), ("post_events", "events"), ("pre_patient_months", "patient-months"),
                   ("post_patient_months", "patient-months"), ("pre_rate", "per 1,000 patient-months"),
                   ("post_rate", "per 1,000 patient-months"), ("rate_ratio", "ratio"), ("ci_low", "ratio"),
                   ("ci_high", "ratio"), ("p_value", "p"), ("change_pct", "%"), ("events_avoided", "events"),
                   ("cost_per_event", "USD"), ("cost_avoided", "USD")]
        names = {"pre_rate": "pre_rate_per_1000_pm", "post_rate": "post_rate_per_1000_pm",
                 "ci_low": "rate_ratio_ci_low", "ci_high": "rate_ratio_ci_high"}
        for row in r.itertuples(index=False):
            for col, unit in metrics:
                rows.append((f"{row.kind}_{names.get(col, col)}", row.group, float(getattr(row, col)), unit))
            if row.kind == "readmission":
                rows.append(("readmission_reduction_pct", row.group, -float(row.change_pct), "%"))
        if self.mtps_ is not None:
            for row in self.mtps_.itertuples(index=False):
                for col, unit in [("mtps_identified", "problems"), ("mtps_per_patient", "problems per patient"),
                                  ("mtps_resolved", "problems"), ("pct_resolved", "%"),
                                  ("median_days_to_resolution", "days"), ("median_ci_low", "days"),
                                  ("median_ci_high", "days")]:
                    name = {"pct_resolved": "mtps_resolved_pct", "median_ci_low": "median_days_to_resolution_ci_low",
                            "median_ci_high": "median_days_to_resolution_ci_high"}.get(col, col)
                    rows.append((name, row.group, float(getattr(row, col)), unit))
        for row in self.roi_.itertuples(index=False):
            for col, unit in [("cost_avoided", "USD"), ("program_cost", "USD"), ("net_return", "USD"),
                              ("net_roi_pct", "%"), ("roi_per_patient", "USD per patient")]:
                value = float(getattr(row, col))
                if col != "cost_avoided" and np.isnan(value):
                    continue
                rows.append((col, row.group, value, unit))
        out = pd.DataFrame(rows, columns=VALUE_COLUMNS)
        rank = {g: i for i, g in enumerate(order)}
        out["_g"] = out["group"].map(rank)
        return out.sort_values("_g", kind="stable").drop(columns="_g").reset_index(drop=True)

    def _repr_html_(self) -> str:
        return self.roi_._repr_html_() if not self.roi_.empty else self.summary.head(20)._repr_html_()


MONEY_COLUMNS = ("cost_per_event", "cost_avoided", "program_cost", "team_costs", "shared_costs", "net_return",
                 "roi_per_patient")


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy for reading: dollars as $1,234,567 and percentages to one decimal (tables/ keep full precision).

    Works on the wide tables (money columns by name) and on the long ``summary`` (by its ``unit``).
    """
    out = df.copy()
    if {"value", "unit"} <= set(out.columns):
        formats = {"USD": format_money, "USD per patient": format_money, "%": lambda v: format_percent(v, 1),
                   "p": lambda v: format_p(v, prefix=False), "ratio": lambda v: f"{v:.3f}",
                   "events": lambda v: f"{v:,.1f}" if v % 1 else f"{v:,.0f}", "patients": lambda v: f"{v:,.0f}",
                   "problems": lambda v: f"{v:,.0f}", "days": lambda v: f"{v:,.0f}" if v % 1 == 0 else f"{v:,.1f}"}
        out["value"] = [("" if pd.isna(v) else formats.get(u, lambda x: f"{x:,.2f}")(v))
                        for v, u in zip(out["value"], out["unit"])]
        return out
    for col in out.columns:
        if col in MONEY_COLUMNS:
            out[col] = out[col].map(lambda v: format_money(v, missing=""))
        elif col.endswith("_pct") or col == "pct_resolved":
            out[col] = out[col].map(lambda v: format_percent(v, 1, missing=""))
    return out


def analyse(params: Params, cohort: Cohort) -> ValueAnalysis:
    """The value analysis of a cohort with the params' windows, costs, model and subgroups."""
    return ValueAnalysis.from_params(params).fit_cohort(cohort)
