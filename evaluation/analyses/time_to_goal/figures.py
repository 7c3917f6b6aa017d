"""The figures of the time-to-goal notebook, each with its title, caption and alt text (section ``time_to_goal``).

:func:`km_curves` (one Kaplan-Meier figure per measure, overall or by a subgroup), :func:`mtp_resolution_curves`,
:func:`competing_risks` and :func:`hazard_ratios` return the :class:`~evaluation.core.figures.FigureSpec` a
notebook shows with ``ev.show``; :func:`km_figure` is the spec of one Kaplan-Meier result. The Kaplan-Meier
drawing itself, with its protected numbers table, is :func:`.km_chart.survival_km_chart`.
"""

from __future__ import annotations
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator
from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.labels import group_name, measure_label
from evaluation.core.params import Params
from evaluation.core.text import format_days, format_p
from evaluation.stats.survival import NONE_FOLLOWED, format_day_number
from .competing import cumulative_incidence
from .compute import analysed_measures, goal_text
from .cox import CoxResult
from .kaplan_meier import TOO_SHORT, KaplanMeierGroups, km_by_measure
from .km_chart import drawn_groups, group_unit, survival_km_chart
from .mtp import mtp_kaplan_meier

NOTEBOOK = "04_time_to_goal"
SECTION = "time_to_goal"


# --- Kaplan-Meier ---------------------------------------------------------------------------------------

def figure_id(km: KaplanMeierGroups) -> str:
    """``survival_km_a1c``, ``survival_km_a1c_by_track``, ``survival_mtp_resolution_by_category``."""
    stem = "survival_mtp_resolution" if km.measure == "mtp_resolution" else f"survival_km_{km.measure}"
    return stem + (f"_by_{km.by}" if km.by else "")


def km_curves(data: pd.DataFrame, params: Params, by: str | None = None) -> list[FigureSpec]:
    """One Kaplan-Meier figure of time to goal per analysed measure with followed patients, overall or by
    ``by`` (track, team, condition...), from :func:`.compute.time_to_goal_data`."""
    return [km_figure(km, params) for km in km_by_measure(data, params, by)]


def mtp_resolution_curves(mtp_data: pd.DataFrame, params: Params) -> FigureSpec:
    """Kaplan-Meier of time to confirmed MTP resolution by category, from :func:`.mtp.mtp_resolution_data`;
    the caption gives the share resolved by the longest of ``survival.mtp_horizons_days``."""
    return km_figure(mtp_kaplan_meier(mtp_data, params), params, horizon=max(params.survival["mtp_horizons_days"]),
                     what="were confirmed resolved", who="medication therapy problems", since="identification",
                     ylabel="MTPs confirmed resolved (%)", xlabel="Days since identification")


def km_figure(km: KaplanMeierGroups, params: Params, *, horizon: float | None = None,
              what: str = "reached the goal", who: str = "patients not at goal at baseline",
              since: str = "enrollment", ylabel: str = "Patients at goal (%)",
              xlabel: str = "Days since enrollment") -> FigureSpec:
    """The Kaplan-Meier figure of ``km`` (:func:`.km_chart.survival_km_chart`, counts protected below
    ``params.suppress_below``) with its caption: per group drawn, n, the median with its CI and the share
    that ``what`` within ``horizon`` days (default: the longest of ``survival.horizons_days``), and the
    log-rank p."""
    horizon = max(params.survival["horizons_days"]) if horizon is None else horizon
    fig = survival_km_chart(km, ylabel=ylabel, xlabel=xlabel, suppress_below=params.suppress_below)
    drawn = drawn_groups(km)
    return FigureSpec(figure_id(km), fig, _km_title(drawn), _km_caption(drawn, horizon, what, who, since),
                      _km_alt_text(drawn, who, since), SECTION, NOTEBOOK)


def _km_title(km: KaplanMeierGroups) -> str:
    by = f" by {km.by}" if km.by else ""
    if km.measure == "mtp_resolution":
        return f"Time to confirmed MTP resolution{by}"
    return f"Time to goal: {measure_label(km.measure)} ({km.goal}){by}"


def _km_caption(km: KaplanMeierGroups, horizon: float, what: str, who: str, since: str) -> str:
    """Per group drawn: n, median with CI, share by ``horizon``; then the log-rank test and the selection."""
    level = f"{100 * (1 - km.alpha):g}% CI"
    within = format_days(horizon)
    parts = []
    for g, fitter in km.fitters.items():
        at = fitter.at([horizon]).iloc[0]
        name = group_name(g)
        if not fitter.n_:
            parts.append(f"{name} (n = 0): median and share at {within} {NONE_FOLLOWED}.")
            continue
        if at["survival"] == at["survival"]:
            share = f"an estimated {100 * (1 - at['survival']):.0f}% {what} within {within}"
            if at["ci_low"] == at["ci_low"]:
                share += f" ({level} {100 * (1 - at['ci_high']):.0f} to {100 * (1 - at['ci_low']):.0f}%)"
        else:
            share = f"the share at {within} is {TOO_SHORT}"
        parts.append(f"{name} (n = {fitter.n_}): median {fitter.median_text}; {share}.")
    lead = (f"Cumulative percentage of the {km.n_patients} {who} {'who' if 'patient' in who else 'that'} {what}, "
            f"by days since {since} (Kaplan-Meier; CI method {km.ci_method}). ")
    tail = ""
    if km.by and km.by != "condition" and len(km.logrank):
        p = km.logrank["p_value"].iat[0]
        tail = (f" Log-rank test across {km.by}: {format_p(p)}." if p == p
                else f" Log-rank test: {km.logrank['note'].iat[0]}.")
    elif km.by == "condition":
        tail = " Conditions overlap (a patient can have several); each is tested against patients without it."
    if km.selection:
        tail += f" {km.selection}."
    return lead + " ".join(parts) + tail


def _km_alt_text(km: KaplanMeierGroups, who: str, since: str) -> str:
    """The curves in words: where a single curve ends and crosses 50%, or which of several is fastest."""
    medians = {g: f.median_ for g, f in km.fitters.items()}
    reached = {g: m for g, m in medians.items() if m == m}
    if not km.fitters or not km.n_patients:
        return f"An empty chart: no {who}."
    if len(km.fitters) == 1:
        f = next(iter(km.fitters.values()))
        end = 100 * (1 - f.table_["survival"].iat[-1]) if len(f.table_) else 0.0
        crosses = (f"it crosses 50% at day {format_day_number(f.median_)}" if f.median_ == f.median_
                   else "it never reaches 50%")
        return (f"A step curve rising from 0% at {since} to {end:.0f}% by day {f.table_['time'].max():.0f}, "
                f"with a shaded confidence band; {crosses}. "
                f"A table under the plot gives the numbers at risk, events and censored every few months.")
    fastest = min(reached, key=reached.get) if reached else None
    alt = (f"{len(km.fitters)} step curves, one per {km.by}, rising from 0%. " if not km.selection else
           f"{len(km.fitters)} step curves rising from 0%: all {km.n_groups:,} {group_unit(km.by)} pooled, and the "
           f"{len(km.fitters) - 1} fastest and slowest of them. ")
    return (alt
            + (f"The fastest to reach 50% is {group_name(fastest)} (day {format_day_number(reached[fastest])}); "
               if fastest else "None reaches 50%; ")
            + (f"{len(medians) - len(reached)} never reach 50%. " if len(reached) < len(medians)
               else "every curve reaches 50%. ")
            + "A table under the plot gives the numbers at risk.")


# --- competing risks ------------------------------------------------------------------------------------

COMPETING_TITLE = "Reaching goal with death or exit as a competing event"


def competing_risks(data: pd.DataFrame, by_day: pd.DataFrame, params: Params) -> FigureSpec:
    """Cumulative incidence of reaching goal and of a competing exit (Aalen-Johansen), one panel per measure
    with followed patients, beside 1 - Kaplan-Meier; the caption gives the shares by the longest horizon from
    ``by_day`` (:func:`.competing.cumulative_incidence_by_day`)."""
    curves = cumulative_incidence(data, params)
    horizon = max(params.survival["horizons_days"])
    rows = by_day[(by_day["group"] == "all") & (by_day["days"] == horizon)]
    competing = ", ".join(params.survival["competing_exit_reasons"] or []) or "none"
    parts = []
    for r in rows.itertuples(index=False):
        name = measure_label(r.measure)
        if not r.n:
            parts.append(f"{name}: {NONE_FOLLOWED}")
        elif r.pct_goal == r.pct_goal:
            km = (f"{r.pct_goal_ignoring_competing:.0f}% by 1 - Kaplan-Meier"
                  if r.pct_goal_ignoring_competing == r.pct_goal_ignoring_competing
                  else "1 - Kaplan-Meier not estimable: no one followed that long")
            parts.append(f"{name}: {r.pct_goal:.0f}% reached goal and {r.pct_competing_exit:.0f}% exited first ({km})")
        else:
            parts.append(f"{name}: {TOO_SHORT}")
    caption = (f"Cumulative incidence of reaching goal with exits for a competing reason ({competing}) as competing "
               f"events (Aalen-Johansen), among patients not at goal at baseline. By day {horizon}: "
               + "; ".join(parts) + ". The dashed 1 - Kaplan-Meier curve treats those exits as censored and so "
               "overstates the share reaching goal when exits are common.")
    panels = curves["measure"].nunique()
    alt = (f"{panels} panel{'s' if panels != 1 else ''}, one per measure, each with a rising blue curve for reaching "
           f"goal, a low orange curve for competing exits and a dashed grey 1 - Kaplan-Meier curve just above the "
           f"blue one.")
    goals = {m: goal_text(params, m) for m in analysed_measures(params)}
    return FigureSpec("survival_cumulative_incidence", cumulative_incidence_chart(curves, goals), COMPETING_TITLE,
                      caption, alt, SECTION, NOTEBOOK)


@house_style
def cumulative_incidence_chart(curves: pd.DataFrame, goals: dict[str, str] | None = None) -> plt.Figure:
    """The bare figure of :func:`competing_risks`: one panel per measure in ``curves``
    (:func:`.competing.cumulative_incidence`), titled with the measure and its goal."""
    measures = list(dict.fromkeys(curves["measure"]))
    ncols = 1 if len(measures) == 1 else 2
    nrows = max(1, -(-len(measures) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(7, 2.5 * nrows + 0.6), squeeze=False, sharey=True)
    flat = list(axes.ravel())
    for ax in flat[len(measures):]:
        ax.set_visible(False)
    for ax, m in zip(flat, measures):
        c = curves[(curves["measure"] == m) & (curves["group"] == "all")]
        x = [0.0, *c["time"]]
        ax.step(x, [0.0, *(100 * c["km_at_goal"])], where="post", color="#777777", ls="--", lw=1)
        ax.step(x, [0.0, *(100 * c["cif_goal"])], where="post", color=OKABE_ITO[0], lw=1.4)
        ax.step(x, [0.0, *(100 * c["cif_competing"])], where="post", color=OKABE_ITO[3], lw=1.4)
        ax.set_title(f"{measure_label(m)}: {(goals or {}).get(m, '')}".rstrip(": "), fontsize=9, loc="left")
        ax.set_ylim(0, 100)
        ax.set_xlim(left=0)
    handles = [plt.Line2D([], [], color=OKABE_ITO[0], lw=1.4, label="reached goal (Aalen-Johansen)"),
               plt.Line2D([], [], color=OKABE_ITO[3], lw=1.4, label="competing exit (e.g. died)"),
               plt.Line2D([], [], color="#777777", ls="--", lw=1, label="1 - Kaplan-Meier (exits censored)")]
    fig.supxlabel("Days since enrollment", fontsize=9)
    fig.supylabel("Cumulative incidence (%)", fontsize=9)
    fig.suptitle("Reaching goal, with death or exit as a competing event", fontsize=10, fontweight="bold")
    fig.legend(handles=handles, loc="upper center", ncol=3, fontsize=7, bbox_to_anchor=(0.5, 0.955))
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


# --- Cox ------------------------------------------------------------------------------------------------

COX_TITLE = "Cox model of time to goal"


def hazard_ratios(cox: CoxResult) -> FigureSpec:
    """Forest plot of the Cox hazard ratios (:func:`.cox.cox_models`, at least one model fitted); the caption
    names the covariates and every hazard ratio whose CI excludes 1."""
    s = cox.summary
    level = f"{100 * (1 - cox.alpha):g}%"
    clear = s[(s["ci_low"] > 1) | (s["ci_high"] < 1)]
    found = "; ".join(f"{measure_label(r.measure)} {r.covariate} HR {r.hazard_ratio:.2f} ({r.per})"
                      for r in clear.itertuples())
    caption = (f"Hazard ratios of reaching goal from Cox models (one per measure) with {level} CIs; a ratio above 1 "
               f"means sooner. Covariates: {', '.join(dict.fromkeys(s['covariate']))}. "
               + (f"CIs that exclude 1: {found}." if found else "No CI excludes 1."))
    alt = (f"A forest plot of {len(s)} hazard ratios on a log scale around a vertical line at 1; "
           f"{len(clear)} of them have confidence intervals that do not cross 1.")
    return FigureSpec("survival_cox_hazard_ratios", hazard_ratio_chart(s), COX_TITLE, caption, alt, SECTION, NOTEBOOK)


@house_style
def hazard_ratio_chart(summary: pd.DataFrame) -> plt.Figure:
    """The bare figure of :func:`hazard_ratios`: hazard ratios with CIs (log scale), one row per measure and
    covariate, coloured by measure. A hazard ratio above 1 means patients reach goal sooner."""
    d = summary.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(d) + 1.2))
    y = np.arange(len(d))
    measures = list(dict.fromkeys(d["measure"]))
    colours = [OKABE_ITO[measures.index(m) % len(OKABE_ITO)] for m in d["measure"]]
    ax.hlines(y, d["ci_low"], d["ci_high"], colors=colours, lw=1.4)
    ax.scatter(d["hazard_ratio"], y, color=colours, s=18, zorder=3)
    ax.axvline(1, color="#555555", lw=0.8)
    ax.set_xscale("log")
    low, high = float(d["ci_low"].min()), float(d["ci_high"].max())
    ticks = [t for t in (0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10) if low / 1.5 <= t <= high * 1.5] or [1]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y)
    ax.set_yticklabels([f"{measure_label(m)}: {c} ({p})" for m, c, p in zip(d["measure"], d["covariate"], d["per"])],
                       fontsize=7)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Hazard ratio of reaching goal (log scale; > 1 = sooner)")
    ax.set_title(COX_TITLE)
    return fig
