"""Run charts and p-charts for team-level monthly proportions (anchor: R's qicharts2).

A run chart plots each month's proportion at goal with the median as centre line and asks, with the
Anhøj rules, whether the points vary more than chance would make them:

- points exactly on the median are not useful and are dropped before counting;
- **shift**: the longest run of useful points on one side of the median is longer than
  ``round(log2(n)) + 3`` (Schilling 2012; Anhøj & Olesen 2014), n = useful points;
- **crossings**: the number of times the line crosses the median is below the 5th percentile of
  Binomial(n - 1, 0.5) (Chen 2010; qicharts2's ``qbinom(0.05, n - 1, 0.5)``);
- fewer than ``spc.min_points`` useful points: no verdict (and the table says so).

The rules are written here (about 30 lines) because no maintained Python package implements qicharts2's
runs analysis. The centre line can be frozen on the first k points (``spc.baseline_points``), and a series
can be split into phases (``spc.phases``); each phase gets its own median and its own runs analysis.

A p-chart adds 3-sigma limits around the pooled proportion, ``p ± 3·sqrt(p(1-p)/n_i)``
(Montgomery 2009, 7.2); Laney's p′ chart (Laney 2002) widens them by the between-month variation
sigma_z (average moving range of the z-scores / 1.128, with moving ranges above 3.267 × their mean
screened out, as qicharts2 does by default) for large denominators, where a plain p-chart flags almost
every month.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from .errors import ParamsError
from .params import CONTROL_CHARTS

SIGNAL_COLUMNS = ["team_id", "measure", "n_useful", "longest_run", "longest_run_max", "n_crossings",
                  "n_crossings_min", "runs_signal", "phase", "n_points", "centre_line", "baseline_points",
                  "verdict", "chart", "n_outside_limits"]


# --- Anhøj rules ---------------------------------------------------------------------------------

def longest_run_limit(n_useful: int) -> int:
    """Longest run allowed on one side of the median before it signals a shift."""
    return int(round(math.log2(n_useful))) + 3  # Schilling 2012; Anhøj & Olesen 2014 (qicharts2)


@functools.lru_cache(maxsize=None)  # called once per team, measure and phase: thousands of times statewide
def crossings_limit(n_useful: int) -> int:
    """Fewest median crossings expected by chance; fewer signals a shift or trend."""
    return int(stats.binom.ppf(0.05, n_useful - 1, 0.5))  # Chen 2010; qicharts2: qbinom(0.05, n - 1, 0.5)


def runs_analysis(values: Iterable[float], centre: float | Iterable[float], min_points: int = 10) -> dict[str, Any]:
    """Anhøj runs analysis of ``values`` around ``centre`` (a number or one per value).

    Returns n_points, n_useful, longest_run, longest_run_max, n_crossings, n_crossings_min, runs_signal
    (True / False, or None when there are fewer than ``min_points`` useful points) and a plain verdict."""
    y = np.asarray(list(values), dtype=float)
    cl = np.broadcast_to(np.asarray(centre, dtype=float), y.shape)
    side = np.sign(y - cl)
    side = side[~np.isnan(side) & (side != 0)]  # points on the centre line are not useful
    n_points = int((~np.isnan(y)).sum())
    n = len(side)
    out: dict[str, Any] = {"n_points": n_points, "n_useful": n, "longest_run": None, "longest_run_max": None,
                           "n_crossings": None, "n_crossings_min": None, "runs_signal": None}
    if n == 0:
        out["verdict"] = ("no data" if n_points == 0 else "all points on the median: no useful points, no runs verdict")
        return out
    breaks = np.flatnonzero(np.diff(side) != 0)
    run_lengths = np.diff(np.concatenate([[0], breaks + 1, [n]]))
    out.update(longest_run=int(run_lengths.max()), longest_run_max=longest_run_limit(n),
               n_crossings=int(len(breaks)), n_crossings_min=crossings_limit(n))
    if n < min_points:
        out["verdict"] = f"only {n} useful point{'s' if n != 1 else ''} (fewer than {min_points}): no runs verdict"
        return out
    shift = out["longest_run"] > out["longest_run_max"]
    few = out["n_crossings"] < out["n_crossings_min"]
    out["runs_signal"] = bool(shift or few)
    reasons = []
    if shift:
        reasons.append(f"a run of {out['longest_run']} points on one side of the median (limit {out['longest_run_max']})")
    if few:
        reasons.append(f"{out['n_crossings']} median crossings (at least {out['n_crossings_min']} expected)")
    out["verdict"] = ("non-random variation: " + " and ".join(reasons)) if reasons else "random variation only"
    return out


# --- points, phases, centre lines ----------------------------------------------------------------

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
                   phases: Any = None) -> pd.DataFrame:
    """One row per team, measure and month: numerator, denominator, proportion (NaN when the denominator
    is 0) and phase (1, 2, ... from ``spc.phases``)."""
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
    return d


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


# --- control limits ------------------------------------------------------------------------------

def laney_sigma_z(z: Iterable[float]) -> float:
    """Between-subgroup spread of z-scores for Laney's p′: average moving range / 1.128 (d2 for n = 2),
    after dropping moving ranges of at least 3.267 × their mean (Nelson 1982; qicharts2's default
    ``qic.screenedmr = TRUE``)."""
    z = np.asarray(list(z), dtype=float)
    mr = np.abs(np.diff(z))
    mr = mr[~np.isnan(mr)]
    if len(mr) == 0:
        return float("nan")
    amr = mr.mean()
    mr = mr[mr < 3.267 * amr]  # 3.267 = D4 for moving ranges of 2 (Montgomery 2009)
    return float(mr.mean() / 1.128) if len(mr) else float("nan")


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


# --- annotations ---------------------------------------------------------------------------------

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


# --- everything for one cohort -------------------------------------------------------------------

@dataclass
class RunChartResult:
    """Run charts and control charts for one cohort. ``summary`` is the signals table
    (``tables/run_chart_signals.csv``); ``points`` and ``limits`` are per month, for drawing."""

    points: pd.DataFrame
    limits: pd.DataFrame
    signals: pd.DataFrame
    pdsa: pd.DataFrame
    aims: pd.DataFrame
    chart: str
    min_points: int

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
    pts = prepare_points(monthly_reports, measures=spc.get("measures"), phases=spc.get("phases"))
    pts, signals = run_charts(pts, baseline_points=spc.get("baseline_points"), min_points=min_points)
    limits = control_limits(pts, chart=chart, baseline_points=spc.get("baseline_points"))
    outside = (limits.groupby(["team_id", "measure", "phase"])["outside"].sum().astype(int)
               .rename("n_outside_limits").reset_index())
    outside["phase"] = outside["phase"].astype("Int64")
    signals = signals.merge(outside, on=["team_id", "measure", "phase"], how="left")
    signals["n_outside_limits"] = signals["n_outside_limits"].astype("Int64")
    signals["chart"] = chart
    return RunChartResult(points=pts, limits=limits, signals=signals[SIGNAL_COLUMNS], pdsa=pdsa_annotations(pdsa_cycles),
                          aims=aims(teams), chart=chart, min_points=min_points)


def _per_team(signals: pd.DataFrame) -> pd.DataFrame:
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
    g = _per_team(signals).groupby("measure", sort=True)
    return pd.DataFrame({
        "teams": g.size(),
        "with_verdict": g["verdict"].sum().astype(int),
        "runs_signal": g["signal"].sum().astype(int),
        "no_verdict": (g.size() - g["verdict"].sum()).astype(int),
        "outside_limits": g["outside"].sum().astype(int),
    }).reset_index()


# --- which teams a chart draws -------------------------------------------------------------------

PANELS_MAX = 20  # team panels per run chart or control chart figure: 10 rows of 2, readable on one page


def run_chart_teams(signals: pd.DataFrame, measure: str, max_teams: int = PANELS_MAX) -> list[str]:
    """Teams drawn in one measure's run charts, in panel order.

    Up to ``max_teams`` teams: all of them, by team_id. Above (a statewide cohort): the teams with a runs
    signal first, strongest first (the longest run furthest beyond its limit, then the median crossings
    furthest below theirs, then team_id), then teams with random variation only, then teams without a
    verdict, each by team_id; the first ``max_teams`` are drawn. Every team's verdict stays in the signals
    table."""
    per = _per_team(signals[signals["measure"] == measure]).reset_index()
    if len(per) <= max_teams:
        return per["team_id"].tolist()
    per["rank"] = np.select([per["signal"], per["verdict"]], [0, 1], 2)
    per = per.sort_values(["rank", "run_excess", "crossings_short", "team_id"], ascending=[True, False, False, True],
                          na_position="last", kind="stable")
    return per["team_id"].head(max_teams).tolist()


def control_chart_teams(limits: pd.DataFrame, measure: str, max_teams: int = PANELS_MAX) -> list[str]:
    """Teams drawn in one measure's control charts, in panel order: all of them by team_id up to
    ``max_teams``; above, the teams with the most months outside their limits first (then by team_id)."""
    lim = limits[limits["measure"] == measure]
    outside = lim.groupby("team_id", sort=True)["outside"].sum()
    if len(outside) <= max_teams:
        return outside.index.tolist()
    order = outside.reset_index().sort_values(["outside", "team_id"], ascending=[False, True], kind="stable")
    return order["team_id"].head(max_teams).tolist()


# --- labels and figure text ----------------------------------------------------------------------

def measure_label(measure: str) -> str:
    """'a1c_at_goal' -> 'HbA1c at goal', 'inr_in_range' -> 'INR in range' (labels from the data dictionary)."""
    from .outcomes import measure_label as clinical_label

    for suffix, words in (("_at_goal", "at goal"), ("_in_range", "in range")):
        if measure.endswith(suffix):
            return f"{clinical_label(measure[: -len(suffix)]).replace(' (SBP and DBP)', '')} {words}"
    return measure.replace("_", " ")


def _month_span(points: pd.DataFrame) -> str:
    if points.empty:
        return "no months"
    first, last = points["month"].min(), points["month"].max()
    return f"{first:%b %Y} to {last:%b %Y}"


def _shown_text(shown: int, teams: int, how: str, table: str) -> str:
    """The caption sentence of a capped chart: how many teams are drawn, which, and where the rest are."""
    if shown >= teams:
        return ""
    return f" {shown} of the {teams} teams are drawn: {how}; every team is in {table}."


def run_chart_text(result: RunChartResult, measure: str, max_teams: int = PANELS_MAX) -> dict[str, str]:
    """Title, caption and alt text for one measure's run charts (one panel per team, at most ``max_teams``
    panels: see :func:`run_chart_teams`)."""
    sig = result.signals[result.signals["measure"] == measure]
    pts = result.points[result.points["measure"] == measure]
    per = _per_team(sig)
    teams = len(per)
    signal = int(per["signal"].sum())
    verdict = int(per["verdict"].sum())
    label = measure_label(measure)
    aims = result.aims[result.aims["measure"] == measure]
    n_pdsa = len(result.pdsa[result.pdsa["team_id"].isin(sig["team_id"])
                             & (result.pdsa["measure"].isna() | (result.pdsa["measure"] == measure))])
    shown = len(run_chart_teams(sig, measure, max_teams))
    how = (f"the {shown} with the strongest runs signals (the longest run furthest beyond its limit, then the fewest "
           f"median crossings against the expected)" if signal >= shown else
           f"the {signal} with a runs signal, strongest first, then {shown - signal} without one, by team id")
    return {
        "title": f"Run charts: {label}, by team",
        "caption": (f"Monthly percentage of patients with {label} per team ({_month_span(pts)}), with the median as centre "
                    f"line (dashed orange when the Anhøj rules signal non-random variation), {n_pdsa} PDSA cycles marked "
                    f"P1, P2, ... and {len(aims)} team aim(s) as green dashed lines. {signal} of {verdict} teams with at "
                    f"least {result.min_points} useful points show non-random variation; {teams - verdict} of {teams} teams "
                    f"have too few points for a verdict."
                    + _shown_text(shown, teams, how, "tables/run_chart_signals.csv")),
        "alt_text": (f"Grid of {shown} small line charts, one per team"
                     + (f" ({shown} of {teams} teams, the strongest runs signals first)" if shown < teams else "")
                     + f", of the monthly percentage with {label} from "
                     f"{_month_span(pts)}, each with a horizontal median line. {signal} teams show a shift or too few median "
                     f"crossings; {verdict - signal} show only random variation; {teams - verdict} have no verdict."),
    }


def control_chart_text(result: RunChartResult, measure: str, max_teams: int = PANELS_MAX) -> dict[str, str]:
    """Title, caption and alt text for one measure's p (or p′) charts (at most ``max_teams`` panels: see
    :func:`control_chart_teams`)."""
    lim = result.limits[result.limits["measure"] == measure]
    teams = lim["team_id"].nunique()
    n_out = int(lim["outside"].sum())
    teams_out = int(lim.groupby("team_id")["outside"].any().sum())
    label = measure_label(measure)
    kind = "Laney p′ chart" if result.chart == "laney" else "p-chart"
    shown = len(control_chart_teams(lim, measure, max_teams))
    how = "the teams with the most months outside their limits (ties by team id)"
    return {
        "title": f"{kind.capitalize() if kind == 'p-chart' else kind}s: {label}, by team",
        "caption": (f"{kind} of the monthly percentage with {label} per team ({_month_span(lim)}): centre line at the pooled "
                    f"proportion and 3-sigma limits that widen in months with fewer patients. {n_out} month(s) in "
                    f"{teams_out} of {teams} teams fall outside the limits (orange)."
                    + _shown_text(shown, teams, how, "tables/run_chart_signals.csv (n_outside_limits)")),
        "alt_text": (f"Grid of {shown} small control charts, one per team"
                     + (f" ({shown} of {teams} teams, the most months outside the limits first)" if shown < teams else "")
                     + f", of the monthly percentage with {label}, each with "
                     f"a centre line and stepped upper and lower limits; {n_out} points in {teams_out} teams lie outside "
                     f"their limits."),
    }
