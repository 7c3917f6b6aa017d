"""Pooling team effects: a random-effects meta-analysis of the teams' mean changes in each cohort (REML and
DerSimonian-Laird: the pooled change, tau², I², Q and the prediction interval for a new team), and the caterpillar
plot of the teams' random intercepts from each cohort's mixed model.

The meta-analysis treats each team as a study: its mean change and the variance of that mean, from the team's
t-based CI in ``tables/outcome_change_by_team.csv`` (SE = CI width / (2 t(n - 1))). A team with one paired patient
has no variance and is left out.
"""

from __future__ import annotations
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from scipy import stats
from evaluation.core.figures import OKABE_ITO, FigureSpec, house_style
from evaluation.core.labels import measure_label
from evaluation.stats.meta_analysis import TABLE_COLUMNS, random_effects
from .cohorts import Comparison

NOTEBOOK, SECTION = "08_compare", "comparison"
METHODS = ("REML", "DL")
TEAMS_DRAWN = 40  # a caterpillar draws at most this many teams per cohort: the 20 lowest and the 20 highest


def team_variances(team: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Teams with a variance of their mean change (n >= 2 and a finite CI): ``team_id, n, effect, variance``."""
    t = team[(team["n"] >= 2) & np.isfinite(team["ci_low"]) & np.isfinite(team["ci_high"])].copy()
    se = (t["ci_high"] - t["ci_low"]) / (2 * stats.t.ppf(1 - alpha / 2, t["n"] - 1))
    t = t.assign(effect=t["mean_change"], variance=se ** 2)
    return t[t["variance"] > 0][["team_id", "n", "effect", "variance"]].reset_index(drop=True)


def pooled_team_changes(comparison: Comparison, measures: list[str] | None = None) -> pd.DataFrame:
    """``tables/comparison_pooled_change.csv``: per cohort, measure and method, the random-effects pooled mean change
    of the teams, with tau², I², Q and the prediction interval at 1 - the comparison's alpha."""
    measures = measures or comparison.shared_measures()
    rows = []
    for c in comparison.cohorts:
        team = c.table("outcome_change_by_team")
        if team is None:
            continue
        for m in measures:
            t = team_variances(team[team["measure"] == m], c.alpha)
            if len(t) < 2:
                continue
            for method in METHODS:
                fit = random_effects(t["effect"], t["variance"], method=method, alpha=comparison.alpha,
                                     labels=t["team_id"].astype(str).tolist())
                rows.append({"cohort": c.label, "measure": m} | fit.table().iloc[0].to_dict())
    return pd.DataFrame(rows, columns=["cohort", "measure", *TABLE_COLUMNS])


def pooled_in_words(pooled: pd.DataFrame) -> list[str]:
    """A sentence per cohort and measure (REML): the pooled team change, how much teams differ (I², tau), and
    where a new team's change would lie (the prediction interval)."""
    out = []
    for r in pooled[pooled["method"] == "REML"].itertuples(index=False):
        label = measure_label(r.measure)
        spread = ("the teams' changes differ little beyond chance" if r.i2 < 25 else
                  f"{r.i2:.0f}% of the spread between teams is beyond chance (I²)")
        pred = (f"; a new team's mean change would lie between {r.pred_low:.2f} and {r.pred_high:.2f}"
                if np.isfinite(r.pred_low) else "")
        out.append(f"{r.cohort}, {label}: pooled team change {r.estimate:.2f} ({r.ci_low:.2f} to {r.ci_high:.2f}; "
                   f"{r.k} teams, REML), {spread}{pred}.")
    return out


@house_style
def draw_caterpillar(effects: dict[str, pd.DataFrame], measure: str) -> plt.Figure:
    """One panel per cohort: the teams' random intercepts (the BLUPs) with their 95% intervals, sorted."""
    n = len(effects)
    rows = max(len(t) for t in effects.values())
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, max(2.8, 0.16 * rows + 1.2)), squeeze=False, sharex=True,
                             layout="constrained")
    for ax, (label, t) in zip(axes[0], effects.items()):
        t = t.sort_values("effect", kind="stable").reset_index(drop=True)
        y = np.arange(len(t))
        outside = (t["ci_low"] > 0) | (t["ci_high"] < 0)
        colours = np.where(outside, OKABE_ITO[3], OKABE_ITO[0])
        ax.hlines(y, t["ci_low"], t["ci_high"], color=colours, linewidth=1.2)
        ax.scatter(t["effect"], y, s=14, c=colours, zorder=3)
        ax.axvline(0, color="#555555", linewidth=0.9)
        ax.set_yticks(y, t["team_id"].astype(str), fontsize=6.5)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(f"Team effect on the change in {measure_label(measure, unit=True)}")
    return fig


def caterpillar_figure(comparison: Comparison, measure: str | None = None) -> FigureSpec | str:
    """The caterpillar plot of one measure's team random intercepts (``tables/outcome_team_effects.csv``), a panel
    per cohort; with more than :data:`TEAMS_DRAWN` teams, the lowest and highest half of them each."""
    measure = measure or comparison.funnel["measure"]
    effects, capped = {}, []
    for c in comparison.cohorts:
        t = c.table("outcome_team_effects")
        if t is None or (t := t[t["measure"] == measure]).empty:
            continue
        if len(t) > TEAMS_DRAWN:
            t = t.sort_values("effect", kind="stable")
            t = pd.concat([t.head(TEAMS_DRAWN // 2), t.tail(TEAMS_DRAWN - TEAMS_DRAWN // 2)])
            capped.append(c.label)
        effects[c.label] = t
    label = measure_label(measure)
    if not effects:
        return f"No caterpillar plot of {label}: no cohort's mixed model of {label} was fitted."
    fig = draw_caterpillar(effects, measure)
    apart = {k: int(((t["ci_low"] > 0) | (t["ci_high"] < 0)).sum()) for k, t in effects.items()}
    said = "; ".join(f"{k}: {v} of {len(effects[k])} teams' intervals exclude 0" for k, v in apart.items())
    cap = (f" With more than {TEAMS_DRAWN} teams, the {TEAMS_DRAWN // 2} lowest and highest are drawn "
           f"({', '.join(capped)})." if capped else "")
    caption = (f"Each team's random intercept from the cohort's mixed model of the change in {label} (change ~ "
               "centred baseline + track, a random intercept per team, REML): how much more (right) or less (left) "
               "the team's patients changed than the cohort's average patient with the same baseline and track, "
               f"shrunk towards 0 for small teams, with 95% conditional intervals. {said}.{cap}")
    alt = (f"Caterpillar plots, one per cohort ({', '.join(effects)}), of team effects on the change in {label}, "
           f"sorted, with intervals. {said}.")
    return FigureSpec(f"compare_caterpillar_{measure}", fig, f"Team effects on the change in {label}", caption, alt,
                      SECTION, NOTEBOOK)
