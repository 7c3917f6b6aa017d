"""Run charts and p-charts of the teams' monthly proportions (monthly_reports.csv; anchor: R's qicharts2).

A run chart plots each month's proportion at goal with the median as centre line and asks, with the
Anhøj rules (:mod:`evaluation.stats.runs`), whether the points vary more than chance would make them:

- points exactly on the median are not useful and are dropped before counting;
- **shift**: the longest run of useful points on one side of the median is longer than
  ``round(log2(n)) + 3`` (Schilling 2012; Anhøj & Olesen 2014), n = useful points;
- **crossings**: the number of times the line crosses the median is below the 5th percentile of
  Binomial(n - 1, 0.5) (Chen 2010; qicharts2's ``qbinom(0.05, n - 1, 0.5)``);
- fewer than ``spc.min_points`` useful points: no verdict (and the table says so).

The centre line can be frozen on the first k points (``spc.baseline_points``), and a series can be split
into phases (``spc.phases``); each phase gets its own median and its own runs analysis.

A p-chart adds 3-sigma limits around the pooled proportion, ``p ± 3·sqrt(p(1-p)/n_i)``
(Montgomery 2009, 7.2); Laney's p′ chart (Laney 2002) widens them by the between-month variation
sigma_z (average moving range of the z-scores / 1.128, with moving ranges above 3.267 × their mean
screened out, as qicharts2 does by default) for large denominators, where a plain p-chart flags almost
every month. Nothing here draws (see ``run_chart_figures.py``).
"""

from __future__ import annotations
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
import numpy as np
import pandas as pd
from evaluation.core.errors import ParamsError
from evaluation.core.schema import CONTROL_CHARTS
from evaluation.stats.runs import laney_sigma_z, runs_analysis

SIGNAL_COLUMNS = ["team_id", "measure", "n_useful", "longest_run", "longest_run_max", "n_crossings",
                  "n_crossings_min", "runs_signal", "phase", "n_points", "centre_line", "baseline_points",
                  "verdict", "chart", "n_outside_limits"]


def parse_phases(phases: Any, team_ids: Iterable[str]) -> dict[str, list[pd.Timestamp]]:
    """``spc.phases`` as {team_id: [first month of each new phase]}.

    Accepts None (one phase), a list of months for every team, or a mapping team_id -> list of months;
    months are written YYYY-MM."""
    team_ids = list(team_ids)
    if phases is None:
        return {t: [] for t in team_ids}
    if isinstance(phases, (list, tuple)):
        months = _months(phases, "spc.phases")
        return {t: months for t in team_ids}
    if isinstance(phases, Mapping):
        unknown = [t for t in phases if t not in team_ids]
        if unknown:
            raise ParamsError(f"`spc.phases` names teams that have no monthly reports: {', '.join(map(str, unknown))}; "
                              f"known teams are {', '.join(team_ids)}", key="spc.phases")
        return {t: _months(phases.get(t) or [], f"spc.phases.{t}") for t in team_ids}
    raise ParamsError(f"`spc.phases` must be a list of months (YYYY-MM) or a mapping team_id -> months; got {phases!r}",
                      key="spc.phases")


def _months(values: Iterable[Any], key: str) -> list[pd.Timestamp]:
    out = []
    for v in values:
        try:
            out.append(pd.Timestamp(str(v)[:7] + "-01"))
        except (ValueError, TypeError):
            raise ParamsError(f"`{key}` must list months written YYYY-MM; got {v!r}", key=key) from None
    return sorted(set(out))


def prepare_points(monthly_reports: pd.DataFrame, *, measures: Iterable[str] | None = None,
                   phases: Any = None, teams: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per team, measure and month: numerator, denominator, proportion (NaN when the denominator
    is 0), phase (1, 2, ... from ``spc.phases``) and ``before_joining``: a month before the month the team
    joined (``teams.joined_on``), a baseline month under usual care (False for every month without ``teams``)."""
    d = monthly_reports[["team_id", "month", "measure", "numerator", "denominator"]].dropna(subset=["team_id", "month", "measure"])
    if measures is not None:
        wanted = [measures] if isinstance(measures, str) else list(measures)
        unknown = [m for m in wanted if m not in set(d["measure"])]
        if unknown:
            raise ParamsError(f"`spc.measures` must be among the measures in monthly_reports.csv "
                              f"({', '.join(sorted(set(d['measure'])))}); got {', '.join(unknown)}", key="spc.measures")
        d = d[d["measure"].isin(wanted)]
    d = d.sort_values(["team_id", "measure", "month"], kind="stable").reset_index(drop=True)
    num = d["numerator"].astype(float)
    den = d["denominator"].astype(float)
    d["numerator"] = d["numerator"].astype("Int64")
    d["denominator"] = d["denominator"].astype("Int64")
    d["proportion"] = np.where(den > 0, num / den.where(den > 0), np.nan)
    starts = parse_phases(phases, sorted(d["team_id"].unique()))
    phase = np.ones(len(d), dtype=np.int64)
    months = d["month"].to_numpy()
    for team_id, rows in d.groupby("team_id", sort=False).indices.items():
        if starts[team_id]:  # phase = 1 + the number of phase starts on or before the month
            phase[rows] += np.searchsorted(np.array(starts[team_id], dtype=months.dtype), months[rows], side="right")
    d["phase"] = pd.array(phase, dtype="Int64")
    d["before_joining"] = before_joining(d, teams)
    return d


def join_months(teams: pd.DataFrame | None) -> pd.Series:
    """Each team's month of joining (the first of the month of ``joined_on``), by team_id; empty without teams."""
    if teams is None or "joined_on" not in teams:
        return pd.Series(dtype="datetime64[ns]")
    joined = pd.to_datetime(teams["joined_on"], errors="coerce")
    return pd.Series(joined.dt.to_period("M").dt.to_timestamp().to_numpy(), index=teams["team_id"].to_numpy())


def before_joining(points: pd.DataFrame, teams: pd.DataFrame | None) -> np.ndarray:
    """Which monthly points fall in a month before their team's month of joining."""
    if teams is None or "joined_on" not in teams or points.empty:
        return np.zeros(len(points), dtype=bool)
    joined = pd.to_datetime(points["team_id"].map(join_months(teams)))
    month = pd.to_datetime(points["month"].astype(str).str[:7] + "-01")
    return (joined.notna() & (month < joined)).to_numpy(dtype=bool)


SERIES_KEYS = ["team_id", "measure", "phase"]  # one series (one median, one runs analysis) per key


def _series(points: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``points`` sorted by series (stable, so months stay in order), each row's series number, and where
    each series starts (plus the end): every per-series step below works on these slices."""
    pts = points.sort_values(SERIES_KEYS, kind="stable").reset_index(drop=True)
    gid = pts.groupby(SERIES_KEYS, sort=True, dropna=False).ngroup().to_numpy()
    bounds = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1], True]) if len(gid) else np.array([0])
    return pts, gid, bounds


def _baseline_mask(points: pd.DataFrame, gid: np.ndarray, baseline_points: int | None) -> np.ndarray:
    """Which points set their series' centre line: the first ``baseline_points`` points with a proportion
    in phase 1 (all points with a proportion when None, and in later phases)."""
    has_value = points["proportion"].notna().to_numpy()
    if baseline_points is None:
        return has_value
    order = pd.Series(has_value).groupby(gid).cumsum().to_numpy()
    return has_value & ((points["phase"].to_numpy(dtype=float) != 1) | (order <= baseline_points))


def run_charts(points: pd.DataFrame, *, baseline_points: int | None = None, min_points: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Median centre lines and the Anhøj runs analysis per team, measure and phase.

    Returns (points with ``centre`` and ``baseline`` columns, signals table)."""
    if baseline_points is not None and (not isinstance(baseline_points, (int, np.integer)) or baseline_points < 1):
        raise ParamsError(f"`spc.baseline_points` must be a whole number of months of at least 1, or null; "
                          f"got {baseline_points!r}", key="spc.baseline_points")
    pts, gid, bounds = _series(points)
    base = _baseline_mask(pts, gid, baseline_points)
    centre = pts["proportion"].where(base).groupby(gid).transform("median").to_numpy(dtype=float)
    pts = pts.assign(centre=centre, baseline=base)
    proportion = pts["proportion"].to_numpy(dtype=float)
    first = pts.iloc[bounds[:-1]]
    rows = []
    for (lo, hi), team_id, measure, phase in zip(zip(bounds[:-1], bounds[1:]), first["team_id"], first["measure"],
                                                  first["phase"]):
        res = runs_analysis(proportion[lo:hi], centre[lo], min_points=min_points)
        if res["n_points"] == 1:
            res["verdict"] = "one month of data: no runs verdict"
        rows.append({"team_id": team_id, "measure": measure, "phase": int(phase), "centre_line": float(centre[lo]),
                     "baseline_points": int(base[lo:hi].sum()), **res})
    signals = pd.DataFrame(rows, columns=[c for c in SIGNAL_COLUMNS if c not in ("chart", "n_outside_limits")])
    for col in ("n_useful", "longest_run", "longest_run_max", "n_crossings", "n_crossings_min", "phase", "n_points",
                "baseline_points"):
        signals[col] = signals[col].astype("Int64")
    signals["runs_signal"] = signals["runs_signal"].astype("boolean")
    return pts, signals


def control_limits(points: pd.DataFrame, *, chart: str = "p", baseline_points: int | None = None) -> pd.DataFrame:
    """3-sigma limits per point for a p-chart (``chart="p"``) or Laney p′ chart (``"laney"``), per team,
    measure and phase; the centre is the pooled proportion of the baseline points. Adds ``cl``, ``lcl``,
    ``ucl`` (clipped to 0..1), ``outside`` and ``sigma_z`` (1 for a p-chart)."""
    if chart not in CONTROL_CHARTS:
        raise ParamsError(f"`spc.control_chart` must be one of {', '.join(CONTROL_CHARTS)}; got {chart!r}",
                          key="spc.control_chart")
    if points.empty:
        return points.assign(cl=np.nan, lcl=np.nan, ucl=np.nan, outside=False, sigma_z=np.nan)
    pts, gid, bounds = _series(points)
    base = _baseline_mask(pts, gid, baseline_points)
    num = pts["numerator"].to_numpy(dtype=float, na_value=np.nan)
    den = pts["denominator"].to_numpy(dtype=float, na_value=np.nan)
    p = pts["proportion"].to_numpy(dtype=float)
    base_num = np.bincount(gid, np.where(base, num, 0.0))
    base_den = np.bincount(gid, np.where(base, den, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        cl = np.where(base_den > 0, base_num / base_den, np.nan)[gid]  # pooled proportion of the baseline points
        sd = np.sqrt(cl * (1 - cl) / np.where(den > 0, den, np.nan))
        sigma_z = np.ones(len(pts))
        if chart == "laney":
            z = (p - cl) / sd
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                sigma_z[lo:hi] = laney_sigma_z(z[lo:hi][base[lo:hi]])
        sd = sd * sigma_z
    lcl = np.clip(cl - 3 * sd, 0, 1)
    ucl = np.clip(cl + 3 * sd, 0, 1)
    outside = (p > ucl) | (p < lcl)
    return pts.assign(cl=cl, lcl=lcl, ucl=ucl, outside=outside, sigma_z=sigma_z)


LIMIT_COLUMNS = ["team_id", "measure", "month", "phase", "numerator", "denominator", "proportion", "cl", "lcl", "ucl",
                 "outside", "sigma_z", "chart", "method"]
CHART_METHODS = {"p": "p-chart: cl ± 3·sqrt(cl(1 - cl)/n) (Montgomery 2009, 7.2), cl the pooled proportion of "
                      "the baseline months",
                 "laney": "Laney p′ chart: p-chart limits widened by sigma_z, the moving-range SD of the z-scores "
                          "(Laney 2002; qicharts2's screening of large moving ranges)"}


def limits_table(limits: pd.DataFrame, chart: str) -> pd.DataFrame:
    """``tables/control_limits.csv``: each team's month with its proportion, centre line and 3-sigma limits
    (proportions 0-1, clipped), whether it falls outside them, Laney's sigma_z (1 for a p-chart) and the method."""
    t = limits.assign(chart=chart, method=CHART_METHODS[chart])
    t["month"] = pd.to_datetime(t["month"].astype(str).str[:7] + "-01").dt.strftime("%Y-%m")
    return t[LIMIT_COLUMNS].reset_index(drop=True)


def aims(teams: pd.DataFrame | None) -> pd.DataFrame:
    """Each team's aim as a line to draw: team_id, measure, target (proportion), by (date or NaT)."""
    cols = ["team_id", "measure", "target", "by"]
    if teams is None or "aim_measure" not in teams or "aim_target" not in teams:
        return pd.DataFrame(columns=cols)
    d = teams.dropna(subset=["aim_measure", "aim_target"])
    by = d["aim_by"] if "aim_by" in d else pd.Series(pd.NaT, index=d.index)
    return pd.DataFrame({"team_id": d["team_id"], "measure": d["aim_measure"], "target": d["aim_target"].astype(float),
                         "by": by}).reset_index(drop=True)


def pdsa_annotations(pdsa_cycles: pd.DataFrame | None) -> pd.DataFrame:
    """PDSA cycles as chart annotations: team_id, measure (None = every chart of the team), month,
    label (P1, P2, ... in start order within a team), change_idea, decision."""
    cols = ["team_id", "measure", "month", "label", "started_on", "change_idea", "decision"]
    if pdsa_cycles is None or len(pdsa_cycles) == 0:
        return pd.DataFrame(columns=cols)
    d = pdsa_cycles.sort_values(["team_id", "started_on", "change_idea"], kind="stable").copy()
    if "measure" not in d:
        d["measure"] = None
    d["month"] = d["started_on"].dt.to_period("M").dt.to_timestamp()
    d["label"] = "P" + (d.groupby("team_id").cumcount() + 1).astype(str)
    d["decision"] = d["decision"].where(d["decision"].notna(), None)
    return d[cols].reset_index(drop=True)


@dataclass
class RunChartResult:
    """Run charts and control charts for one cohort. ``summary`` is the signals table
    (``tables/run_chart_signals.csv``); ``points`` and ``limits`` are per month, for drawing; ``team_names``
    maps team_id to the name a panel shows."""

    points: pd.DataFrame
    limits: pd.DataFrame
    signals: pd.DataFrame
    pdsa: pd.DataFrame
    aims: pd.DataFrame
    chart: str
    min_points: int
    team_names: dict = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        return self.signals

    @property
    def measures(self) -> list[str]:
        return sorted(self.points["measure"].unique())

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()

    def __repr__(self) -> str:
        return self.summary.to_string(index=False)


def analyse(monthly_reports: pd.DataFrame, spc: Mapping[str, Any], *, teams: pd.DataFrame | None = None,
            pdsa_cycles: pd.DataFrame | None = None) -> RunChartResult:
    """Run charts, runs analysis and control limits for every team and measure, with params ``spc``
    (measures, baseline_points, phases, min_points, control_chart)."""
    min_points = spc.get("min_points", 10)
    if not isinstance(min_points, (int, np.integer)) or min_points < 1:
        raise ParamsError(f"`spc.min_points` must be a whole number of at least 1; got {min_points!r}", key="spc.min_points")
    chart = spc.get("control_chart", "p")
    pts = prepare_points(monthly_reports, measures=spc.get("measures"), phases=spc.get("phases"), teams=teams)
    pts, signals = run_charts(pts, baseline_points=spc.get("baseline_points"), min_points=min_points)
    limits = control_limits(pts, chart=chart, baseline_points=spc.get("baseline_points"))
    outside = (limits.groupby(["team_id", "measure", "phase"])["outside"].sum().astype(int)
               .rename("n_outside_limits").reset_index())
    outside["phase"] = outside["phase"].astype("Int64")
    signals = signals.merge(outside, on=["team_id", "measure", "phase"], how="left")
    signals["n_outside_limits"] = signals["n_outside_limits"].astype("Int64")
    signals["chart"] = chart
    names = dict(zip(teams["team_id"], teams["team_name"])) if teams is not None and "team_name" in teams else {}
    return RunChartResult(points=pts, limits=limits, signals=signals[SIGNAL_COLUMNS], pdsa=pdsa_annotations(pdsa_cycles),
                          aims=aims(teams), chart=chart, min_points=min_points, team_names=names)


def per_team(signals: pd.DataFrame) -> pd.DataFrame:
    """One row per measure and team (a team with phases counts once): ``verdict`` (a runs verdict in any
    phase), ``signal`` (a runs signal in any phase), ``outside`` (any month outside the limits), and for
    ordering teams by strength of signal ``run_excess`` (longest run minus its limit) and
    ``crossings_short`` (crossings limit minus crossings), their maxima over the phases with a verdict."""
    d = pd.DataFrame({
        "measure": signals["measure"].to_numpy(), "team_id": signals["team_id"].to_numpy(),
        "verdict": signals["runs_signal"].notna().to_numpy(),
        "signal": signals["runs_signal"].fillna(False).to_numpy(dtype=bool),
    })
    outside = signals["n_outside_limits"] if "n_outside_limits" in signals else pd.Series(0, index=signals.index)
    d["outside"] = outside.fillna(0).to_numpy(dtype=float) > 0
    d["n_outside"] = outside.fillna(0).to_numpy(dtype=float)
    for name, a, b in (("run_excess", "longest_run", "longest_run_max"), ("crossings_short", "n_crossings_min", "n_crossings")):
        if a in signals and b in signals:
            diff = (signals[a].astype("Float64") - signals[b].astype("Float64")).to_numpy(dtype=float, na_value=np.nan)
            d[name] = np.where(d["verdict"], diff, np.nan)
        else:
            d[name] = np.nan
    return (d.groupby(["measure", "team_id"], sort=True)
            .agg(verdict=("verdict", "max"), signal=("signal", "max"), outside=("outside", "max"),
                 n_outside=("n_outside", "sum"), run_excess=("run_excess", "max"),
                 crossings_short=("crossings_short", "max")))


def signal_counts(signals: pd.DataFrame) -> pd.DataFrame:
    """Per measure, counting teams (a team with phases counts once): teams charted, teams with a runs
    verdict in any phase, with a signal in any phase, with none, and with any month outside the limits."""
    g = per_team(signals).groupby("measure", sort=True)
    return pd.DataFrame({
        "teams": g.size(),
        "with_verdict": g["verdict"].sum().astype(int),
        "runs_signal": g["signal"].sum().astype(int),
        "no_verdict": (g.size() - g["verdict"].sum()).astype(int),
        "outside_limits": g["outside"].sum().astype(int),
    }).reset_index()


def cycle_months(months: pd.Series) -> pd.Series:
    """Each month's number in its cycle: 1 for the earliest month of ``months`` (dates or YYYY-MM text), then on by
    calendar months, so cycles that started in different years share one axis."""
    month = pd.to_datetime(months.astype(str).str[:7] + "-01")
    first = month.min()
    return (month.dt.year - first.year) * 12 + month.dt.month - first.month + 1


def collaborative_series(points: pd.DataFrame) -> pd.DataFrame:
    """The collaborative's monthly measures: per measure and month, the teams' numerators and denominators
    summed, the pooled percentage, the teams reporting, and ``cycle_month`` (1 = the first month any team
    reported): the series a comparison of cycles draws on the same axes (``tables/monthly_collaborative.csv``).
    A team's baseline months, before it joined, are not the cycle's and are left out."""
    columns = ["measure", "month", "cycle_month", "teams_reporting", "numerator", "denominator", "percent"]
    if "before_joining" in points:
        points = points[~points["before_joining"].to_numpy(dtype=bool)]
    if points.empty:
        return pd.DataFrame(columns=columns)
    d = points.assign(month=pd.to_datetime(points["month"].astype(str).str[:7] + "-01"),
                      numerator=points["numerator"].astype(float), denominator=points["denominator"].astype(float))
    out = (d.groupby(["measure", "month"], sort=True)
           .agg(teams_reporting=("team_id", "nunique"), numerator=("numerator", "sum"),
                denominator=("denominator", "sum")).reset_index())
    out["cycle_month"] = cycle_months(out["month"])
    out["percent"] = np.where(out["denominator"] > 0, 100 * out["numerator"] / out["denominator"].where(
        out["denominator"] > 0), np.nan)
    out["month"] = out["month"].dt.strftime("%Y-%m")
    for col in ("numerator", "denominator"):
        out[col] = out[col].astype("Int64")
    return out[columns]
