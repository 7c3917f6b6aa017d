"""The sensitivity summary of a sweep: how the headline results move across its variants, and which conclusions
hold across the grid and which flip.

:func:`write_sensitivity_summary` reads each variant's funder-safe outputs only (``funder/*.csv``, already
suppressed, and ``provenance.json`` for the resolved settings) and writes, into a fresh folder:

* ``sensitivity.csv``, one row per (cohort_id, variant, headline result): the swept settings as columns (the value
  each variant ran with: its override, or the resolved value of its provenance when it does not override the
  key), then ``result`` (machine name, :data:`RESULTS`), ``measure``, ``label`` (reader text), ``n``,
  ``estimate``, ``ci_low``, ``ci_high``, ``unit``, ``method``, ``shown`` (the estimate's cell as the funder CSV
  shows it: ``<11`` or ``*`` when suppressed, empty for a median not reached) and ``suppressed`` (the estimate or
  its CI is withheld in the funder CSV);
* ``conclusions.csv``, one row per (cohort_id, result, measure): the conclusion in each variant (a column
  ``in <variant>`` each), ``conclusion`` (the base variant's, or the most common one), ``holds`` and
  ``differs_in`` (the variants whose conclusion differs from it);
* ``figures/`` (:mod:`.sensitivity_figures`) and ``index.html`` (:mod:`.sensitivity_page`).

The headline results (group ``all`` of each funder CSV; a CSV a variant lacks, such as a cohort without cost
data, gives no rows): per measure the patients with a baseline and a follow-up value, % at goal at baseline and
at follow-up, the mean change with its CI (``outcome_change.csv``); per measure the median time to goal with its
CI (``time_to_goal.csv``, an empty median: not reached); per kind of acute-care use the rate ratio with its CI
(``value_utilization.csv``); the net return on investment (``value_roi.csv``); the median days to MTP resolution
(``value_mtps.csv``). Numbers are those the funder CSVs show (rounded as a reader reads them).

Conclusions (:func:`conclude`), on those numbers:

* mean change: ``fell`` when its CI lies below 0, ``rose`` when above, else ``no clear change`` (also when there
  is no CI);
* rate ratio: ``fewer`` (events after than before) when its CI lies below 1, ``more`` when above, else
  ``no clear change``;
* % at goal: follow-up ``above baseline``, ``below baseline`` or ``same as baseline``;
* median time to goal, median time to MTP resolution: ``reached`` or ``not reached`` (an empty median);
* net return on investment: ``positive``, ``negative`` or ``break-even``;
* a result whose cells the rule needs are suppressed in the funder CSV: ``suppressed``; a result a variant did not
  produce while others did: ``not available``.

A conclusion holds when it is the same in every variant of the cohort. Funder-safe like every output: a cell the
funder CSV withholds stays withheld (its mark is shown, never a value), figures leave such points out and say so.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import yaml

from evaluation.core.columns import BLANK, ColumnFormat, column_format, format_cell, is_blank
from evaluation.core.disclosure import suppress_text
from evaluation.core.labels import event_kind_label, measure_label
from evaluation.core.outputs import FLOAT_FORMAT, atomic_write, neutralise_formulas
from evaluation.core.schema import CMS_THRESHOLD
from evaluation.core.text import as_number

from .funder import FUNDER_DIR
from .sensitivity_figures import FIGURES_DIR, mid_sentence, write_figures
from .sensitivity_page import write_page

SENSITIVITY_FILE = "sensitivity.csv"
CONCLUSIONS_FILE = "conclusions.csv"
INDEX_FILE = "index.html"
PROVENANCE_FILE = "provenance.json"
BASE = "base"  # the variant with no overrides
NOT_SWEPT = ("output_dir", "title")  # overrides that say where a report goes, not how it was computed
HEADLINE_COLUMNS = ["result", "measure", "label", "n", "estimate", "ci_low", "ci_high", "unit", "method", "shown",
                    "suppressed"]
# in memory only: the funder CSV's own text of each cell, which the page and the figures format
SHOWN_COLUMNS = ["n_shown", "estimate_shown", "ci_low_shown", "ci_high_shown"]
RATE_METHODS = {"poisson_robust": "Poisson rate ratio, robust SE", "poisson": "Poisson rate ratio",
                "negative_binomial": "negative binomial rate ratio"}
_MARK = re.compile(r"^(?:\*|<\s?\d+(?:\.\d+)?)$")  # a suppression mark as the funder CSVs write it


@dataclass(frozen=True)
class SweepVariant:
    """One (cohort, variant) of a sweep: its name (``base`` for no overrides), the overrides it ran with (dotted
    key -> value, as in the spec) and its complete published report (with provenance.json and funder/)."""

    cohort_id: str
    name: str
    overrides: dict[str, Any]
    report_dir: Path


@dataclass(frozen=True)
class Result:
    """A headline result: its reader label (from the measure code), unit, how a value reads (a column of
    ``results.yaml``: format and what a blank means), the value of no effect (a reference line) and whether it
    has a CI."""

    name: str
    label: Callable[[str], str]
    unit: Callable[[str], str]
    column: str
    table: str | None = None
    null: float = math.nan
    has_ci: bool = True


def _measure_unit(measure: str) -> str:
    label = measure_label(measure, unit=True)
    return label[len(measure_label(measure)):].strip(" ()")


RESULTS: dict[str, Result] = {r.name: r for r in (  # in report order
    Result("n", lambda m: f"Patients with a baseline and a follow-up value, {mid_sentence(measure_label(m))}", lambda m: "patients",
           "n", has_ci=False),
    Result("pct_goal_baseline", lambda m: f"{measure_label(m)} at goal at baseline (%)", lambda m: "%",
           "pct_goal_baseline", has_ci=False),
    Result("pct_goal_followup", lambda m: f"{measure_label(m)} at goal at follow-up (%)", lambda m: "%",
           "pct_goal_followup", has_ci=False),
    Result("mean_change", lambda m: f"Mean change in {mid_sentence(measure_label(m, unit=True))}", _measure_unit, "mean_change",
           null=0.0),
    Result("median_time_to_goal", lambda m: f"Median time to goal, {mid_sentence(measure_label(m))} (days)", lambda m: "days",
           "median_days", "time_to_goal"),
    Result("rate_ratio", lambda k: f"Rate ratio of {event_kind_label(k, mid_sentence=True)}, after against before",
           lambda k: "", "rate_ratio", null=1.0),
    Result("net_roi_pct", lambda _: "Net return on investment (%)", lambda _: "%", "net_roi_pct", null=0.0,
           has_ci=False),
    Result("median_days_to_resolution", lambda _: "Median time to MTP resolution (days)", lambda _: "days",
           "median_days_to_resolution", "value_mtps"),
)}
PAIRED_WITH = {"pct_goal_followup": "pct_goal_baseline"}  # a conclusion that compares two results of a variant
NO_CONCLUSION = ("n", "pct_goal_baseline")  # results read beside another's conclusion, with none of their own


# ---------------------------------------------------------------------------------------------------------------
# Reading one variant's report


def read_provenance(report_dir: Path) -> dict[str, Any]:
    """A report's provenance.json ({} when it has none)."""
    path = Path(report_dir) / PROVENANCE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def resolved_setting(params: dict[str, Any], key: str) -> Any:
    """The value of a dotted key (``goals.a1c``) in resolved params; None when they do not have it."""
    value: Any = params
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def shown_setting(value: Any) -> str:
    """A setting as a reader would write it in a params file or after ``--set``: ``< 7``, ``365``,
    ``[track, condition]``, ``null``; a machine's absolute path as its last part alone."""
    if isinstance(value, str):
        return f"\u2026/{Path(value).name}" if Path(value).is_absolute() else value
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def _read_funder(report_dir: Path, table: str) -> pd.DataFrame | None:
    """``funder/<table>.csv`` with every cell as the text it holds (marks kept), or None when it is absent."""
    path = Path(report_dir) / FUNDER_DIR / f"{table}.csv"
    if not path.exists():
        return None
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return None


def is_mark(text: str) -> bool:
    """Whether a cell is a suppression mark (``<11``, ``*``)."""
    return bool(_MARK.match(str(text).strip()))


def _cell(row: pd.Series, column: str | None) -> str:
    return str(row.get(column, "")).strip() if column else ""


def _headline(result: str, measure: str, row: pd.Series, *, n: str, estimate: str, low: str | None = None,
              high: str | None = None, method: str) -> dict[str, Any]:
    """One headline row from the funder CSV's cells (texts), numbers parsed and marks kept as text."""
    spec = RESULTS[result]
    cells = {"n_shown": _cell(row, n), "estimate_shown": _cell(row, estimate), "ci_low_shown": _cell(row, low),
             "ci_high_shown": _cell(row, high)}
    suppressed = any(is_mark(cells[c]) for c in ("estimate_shown", "ci_low_shown", "ci_high_shown"))
    return {"result": result, "measure": measure, "label": spec.label(measure), "n": cells["n_shown"],
            "estimate": as_number(cells["estimate_shown"]), "ci_low": as_number(cells["ci_low_shown"]),
            "ci_high": as_number(cells["ci_high_shown"]), "unit": spec.unit(measure), "method": method,
            "shown": cells["estimate_shown"], "suppressed": suppressed, **cells}


def _all_rows(df: pd.DataFrame | None) -> pd.DataFrame:
    if df is None or "group" not in df.columns:
        return pd.DataFrame()
    return df[df["group"] == "all"]


def headline_rows(report_dir: Path, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every headline result of one report, from its funder CSVs (group ``all``), in :data:`RESULTS` order."""
    out: list[dict[str, Any]] = []
    ci_method = str(params.get("ci_method") or "log-log")
    for _, row in _all_rows(_read_funder(report_dir, "outcome_change")).iterrows():
        m = row["measure"]
        out.append(_headline("n", m, row, n="n", estimate="n", method="count"))
        for pct in ("pct_goal_baseline", "pct_goal_followup"):
            out.append(_headline(pct, m, row, n="n", estimate=pct, method="share of those patients at goal"))
        no_means = is_blank(_cell(row, "mean_change")) and is_blank(_cell(row, "baseline_mean"))
        if not no_means:  # a combined goal (blood pressure) has no mean to change
            out.append(_headline("mean_change", m, row, n="n", estimate="mean_change", low="change_ci_low",
                                 high="change_ci_high", method="paired t"))
    for _, row in _all_rows(_read_funder(report_dir, "time_to_goal")).iterrows():
        method = f"Kaplan-Meier, {_cell(row, 'ci_method') or ci_method} CI"
        out.append(_headline("median_time_to_goal", row["measure"], row, n="n", estimate="median_days",
                             low="median_ci_low", high="median_ci_high", method=method))
    model = str(resolved_setting(params, "value.rate_model") or "poisson_robust")
    for _, row in _all_rows(_read_funder(report_dir, "value_utilization")).iterrows():
        out.append(_headline("rate_ratio", row["kind"], row, n="patients", estimate="rate_ratio", low="ci_low",
                             high="ci_high", method=RATE_METHODS.get(model, f"{model} rate ratio")))
    for _, row in _all_rows(_read_funder(report_dir, "value_roi")).iterrows():
        out.append(_headline("net_roi_pct", "", row, n="patients", estimate="net_roi_pct",
                             method="net return over program cost"))
    for _, row in _all_rows(_read_funder(report_dir, "value_mtps")).iterrows():
        out.append(_headline("median_days_to_resolution", "", row, n="patients", estimate="median_days_to_resolution",
                             low="median_ci_low", high="median_ci_high", method=f"Kaplan-Meier, {ci_method} CI"))
    return out


# ---------------------------------------------------------------------------------------------------------------
# The long table


def swept_keys(variants: list[SweepVariant]) -> list[str]:
    """The settings the sweep varies: every key a variant overrides, in the order first given."""
    keys = dict.fromkeys(k for v in variants for k in v.overrides if k not in NOT_SWEPT)
    clash = [k for k in keys if k in ("cohort_id", "variant", *HEADLINE_COLUMNS)]
    if clash:
        raise ValueError(f"a swept key may not share a column name of {SENSITIVITY_FILE}: {', '.join(clash)}")
    return list(keys)


def settings(variants: list[SweepVariant]) -> pd.DataFrame:
    """One row per variant: cohort_id, variant, then each swept key's value as a reader writes it (the override,
    or the resolved value of the variant's provenance when it does not override the key)."""
    keys = swept_keys(variants)
    rows = []
    for v in variants:
        params = read_provenance(v.report_dir).get("params", {})
        row = {"cohort_id": v.cohort_id, "variant": v.name}
        for key in keys:
            row[key] = shown_setting(v.overrides[key] if key in v.overrides else resolved_setting(params, key))
        rows.append(row)
    return pd.DataFrame(rows, columns=["cohort_id", "variant", *keys])


def sensitivity_table(variants: list[SweepVariant]) -> pd.DataFrame:
    """The long table of :data:`SENSITIVITY_FILE` (see the module docstring), with the funder CSV's own text of each
    cell in :data:`SHOWN_COLUMNS` (not written: the page and the figures format them)."""
    grid = settings(variants)
    rows = []
    for v, (_, setting) in zip(variants, grid.iterrows()):
        params = read_provenance(v.report_dir).get("params", {})
        for headline in headline_rows(v.report_dir, params):
            rows.append({**setting.to_dict(), **headline})
    columns = [*grid.columns, *HEADLINE_COLUMNS, *SHOWN_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------------------------------------------
# Conclusions


def conclude(row: pd.Series, paired: pd.Series | None = None) -> str:
    """The conclusion of one headline result in one variant (rules in the module docstring); ``paired``: the row
    a comparison needs (% at goal at baseline, for the follow-up's)."""
    result = row["result"]
    est_mark = is_mark(row["estimate_shown"])
    x, low, high = row["estimate"], row["ci_low"], row["ci_high"]
    if result in ("mean_change", "rate_ratio"):
        if row["suppressed"]:
            return "suppressed"
        null = RESULTS[result].null
        words = ("fell", "rose") if result == "mean_change" else ("fewer", "more")
        if not math.isnan(high) and high < null:
            return words[0]
        if not math.isnan(low) and low > null:
            return words[1]
        return "no clear change" if not math.isnan(x) else "not available"
    if result == "pct_goal_followup":
        if paired is None:
            return "not available"
        if est_mark or is_mark(paired["estimate_shown"]):
            return "suppressed"
        before = paired["estimate"]
        if math.isnan(x) or math.isnan(before):
            return "not available"
        return "above baseline" if x > before else "below baseline" if x < before else "same as baseline"
    if result in ("median_time_to_goal", "median_days_to_resolution"):
        if est_mark:
            return "suppressed"
        if not math.isnan(x):
            return "reached"
        return "not available" if as_number(row["n_shown"]) == 0 else "not reached"
    if result == "net_roi_pct":
        if est_mark:
            return "suppressed"
        if math.isnan(x):
            return "not available"
        return "positive" if x > 0 else "negative" if x < 0 else "break-even"
    raise ValueError(f"no conclusion rule for {result!r}")


def _reference(found: dict[str, str], order: list[str]) -> str:
    """The conclusion the others are compared with: the base variant's, else the most common (the first variant's
    of those tied)."""
    if BASE in found:
        return found[BASE]
    counts = Counter(found.values())
    return max((found[v] for v in order if v in found), key=lambda c: counts[c])


def conclusions_table(table: pd.DataFrame, variants: list[SweepVariant]) -> pd.DataFrame:
    """One row per (cohort_id, result, measure) of :data:`CONCLUSIONS_FILE`: label, conclusion (the base's or the
    most common), holds, differs_in (variants, ``;``-separated) and the conclusion in each variant (``in <name>``)."""
    names = list(dict.fromkeys(v.name for v in variants))
    rows = []
    for cohort_id in dict.fromkeys(v.cohort_id for v in variants):
        order = [v.name for v in variants if v.cohort_id == cohort_id]
        mine = table[table["cohort_id"] == cohort_id]
        keys = mine.loc[~mine["result"].isin(NO_CONCLUSION), ["result", "measure", "label"]].drop_duplicates(
            ["result", "measure"])
        for key in keys.itertuples(index=False):
            found: dict[str, str] = {}
            for name in order:
                pick = mine[(mine["variant"] == name) & (mine["result"] == key.result) & (mine["measure"] == key.measure)]
                if pick.empty:
                    found[name] = "not available"
                    continue
                paired = None
                if key.result in PAIRED_WITH:
                    other = mine[(mine["variant"] == name) & (mine["result"] == PAIRED_WITH[key.result])
                                 & (mine["measure"] == key.measure)]
                    paired = other.iloc[0] if not other.empty else None
                found[name] = conclude(pick.iloc[0], paired)
            reference = _reference(found, order)
            differs = [n for n in order if found[n] != reference]
            rows.append({"cohort_id": cohort_id, "result": key.result, "measure": key.measure, "label": key.label,
                         "conclusion": reference, "holds": not differs, "differs_in": ";".join(differs),
                         **{f"in {n}": found.get(n, "") for n in names}})
    columns = ["cohort_id", "result", "measure", "label", "conclusion", "holds", "differs_in", *(f"in {n}" for n in names)]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------------------------------------------
# Numbers and sentences as a reader reads them


def _formats(result: str) -> tuple[ColumnFormat, ColumnFormat, ColumnFormat]:
    """The formats of a result's estimate and CI limits (a median's blank upper limit reads "not reached")."""
    spec = RESULTS[result]
    fmt = column_format(spec.column, spec.table)
    median = "median" in result
    low = column_format("median_ci_low", spec.table) if median else fmt
    high = column_format("median_ci_high", spec.table) if median else fmt
    return fmt, replace(low, blank=BLANK), high


def value_text(row: pd.Series) -> str:
    """A result's estimate as a reader reads it: ``−0.82``, ``58.6%``, ``373``, ``not reached``, ``*``."""
    return format_cell(row["estimate_shown"], _formats(row["result"])[0])


def ci_text(row: pd.Series) -> str:
    """A result's CI as a reader reads it (``−0.91 to −0.73``, ``289 to not reached``); empty without one."""
    if not RESULTS[row["result"]].has_ci or (is_blank(row["ci_low_shown"]) and is_blank(row["ci_high_shown"])):
        return ""
    _, low, high = _formats(row["result"])
    return f"{format_cell(row['ci_low_shown'], low)} to {format_cell(row['ci_high_shown'], high)}"


def estimate_text(row: pd.Series) -> str:
    """Estimate with its CI in brackets: ``−0.82 (−0.91 to −0.73)``."""
    ci = ci_text(row)
    return f"{value_text(row)} ({ci})" if ci else value_text(row)


def names_text(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


PHRASES = {  # (result, conclusion) -> how a sentence says it; other conclusions are said as they are
    ("mean_change", "fell"): "fell (CI below 0)", ("mean_change", "rose"): "rose (CI above 0)",
    ("mean_change", "no clear change"): "no clear change (CI includes 0)",
    ("rate_ratio", "fewer"): "fewer events after than before (CI below 1)",
    ("rate_ratio", "more"): "more events after than before (CI above 1)",
    ("rate_ratio", "no clear change"): "no clear change (CI includes 1)",
    ("pct_goal_followup", "above baseline"): "higher at follow-up than at baseline",
    ("pct_goal_followup", "below baseline"): "lower at follow-up than at baseline",
    ("pct_goal_followup", "same as baseline"): "the same at follow-up as at baseline",
}


def phrase(result: str, conclusion: str) -> str:
    """A conclusion in a sentence: ``fell (CI below 0)``, ``higher at follow-up than at baseline``, ``reached``."""
    return PHRASES.get((result, conclusion), conclusion)


def subject(result: str, measure: str) -> str:
    """What a sentence is about: the result's label (``HbA1c at goal (%)`` for the share at goal)."""
    if result == "pct_goal_followup":
        return f"{measure_label(measure)} at goal (%)"
    return RESULTS[result].label(measure)


class _Rows:
    """One cohort's headline rows, looked up by (variant, result, measure)."""

    def __init__(self, table: pd.DataFrame, cohort_id: str) -> None:
        mine = table[table["cohort_id"] == cohort_id]
        self.by_key = {(r["variant"], r["result"], r["measure"]): r for _, r in mine.iterrows()}

    def get(self, variant: str, result: str, measure: str) -> pd.Series | None:
        return self.by_key.get((variant, result, measure))


def _value(rows: _Rows, variant: str, result: str, measure: str, level: str) -> str:
    """One variant's number in a sentence: ``−0.82, 95% CI −0.91 to −0.73``; the share at goal at follow-up with
    the baseline's, ``58.6% against 33.2% at baseline``; empty when suppressed or missing."""
    row = rows.get(variant, result, measure)
    if row is None or row["suppressed"]:
        return ""
    if result == "pct_goal_followup":
        before = rows.get(variant, PAIRED_WITH[result], measure)
        if before is None or before["suppressed"]:
            return value_text(row)
        return f"{value_text(row)} against {value_text(before)} at baseline"
    ci = ci_text(row)
    if "median" in result and math.isnan(row["estimate"]):  # not reached: its CI's lower limit says how long at least
        low = ci.split(" to ")[0] if ci else ""
        return f"{level} from {low}" if low and low != BLANK else ""
    return f"{value_text(row)}, {level} {ci}" if ci else value_text(row)


def _every(k: int) -> str:
    return "the one variant" if k == 1 else "both variants" if k == 2 else f"all {k} variants"


def findings(table: pd.DataFrame, conclusions: pd.DataFrame, variants: list[SweepVariant],
             level: str = "95% CI") -> tuple[list[str], list[str]]:
    """Plain sentences with numbers, one per conclusion: what holds across the grid (with the value in each
    variant, or their range and the base's when there are many) and what changes (each conclusion with the
    variants that reach it and their values, naming those that differ from the base)."""
    holds, changes = [], []
    several = len(dict.fromkeys(v.cohort_id for v in variants)) > 1
    for c in conclusions.to_dict("records"):
        order = [v.name for v in variants if v.cohort_id == c["cohort_id"]]
        rows = _Rows(table, c["cohort_id"])
        about = subject(c["result"], c["measure"])
        lead = f"Cohort {c['cohort_id']}, {mid_sentence(about)}" if several else about
        values = {n: _value(rows, n, c["result"], c["measure"], level) for n in order}
        if c["holds"]:
            said = [v for v in values.values() if v]
            if not said:
                numbers = ""
            elif len(set(said)) == 1:
                numbers = f" ({said[0]}, in each)"
            elif len(order) <= 4:
                numbers = " (" + "; ".join(f"{n} {values[n]}" for n in order if values[n]) + ")"
            else:
                estimates = [r for n in order if (r := rows.get(n, c["result"], c["measure"])) is not None
                             and not r["suppressed"] and not math.isnan(r["estimate"])]
                low = min(estimates, key=lambda r: r["estimate"], default=None)
                high = max(estimates, key=lambda r: r["estimate"], default=None)
                span = f"from {value_text(low)} to {value_text(high)}" if low is not None else ""
                base = f"; {BASE} {values[BASE]}" if values.get(BASE) else ""
                numbers = f" ({span}{base})" if span or base else ""
            holds.append(f"{lead}: {phrase(c['result'], c['conclusion'])} in {_every(len(order))}{numbers}.")
            continue
        groups: dict[str, list[str]] = {}
        for n in order:
            groups.setdefault(c[f"in {n}"], []).append(n)
        parts = []
        for said, names in groups.items():
            if said in ("suppressed", "not available"):  # no number beside it, though a part may be shown
                parts.append(f"{phrase(c['result'], said)} in {names_text(names)}")
                continue
            same = {values[n] for n in names}
            if len(names) == 1 or (len(same) == 1 and "" not in same):
                shown = values[names[0]] + (", in each" if len(names) > 1 else "")
            else:
                shown = "; ".join(f"{n} {values[n]}" for n in names if values[n])
            parts.append(f"{phrase(c['result'], said)} in {names_text(names)}" + (f" ({shown})" if shown else ""))
        against = "the base" if BASE in order else "the most common conclusion"
        changes.append(f"{lead}: {'; '.join(parts)}. The conclusion differs from {against} in "
                       f"{names_text(c['differs_in'].split(';'))}.")
    return holds, changes


# ---------------------------------------------------------------------------------------------------------------
# Writing the summary


def _threshold(variants: list[SweepVariant]) -> int:
    """The strictest suppression threshold of the variants (prose is checked for small counts against it)."""
    found = [as_number(read_provenance(v.report_dir).get("params", {}).get("suppress_below")) for v in variants]
    return int(max([x for x in found if not math.isnan(x)], default=CMS_THRESHOLD))


def ci_label(variants: list[SweepVariant]) -> str:
    """``95% CI`` (from the variants' alpha); ``CI`` when the variants differ in it."""
    alphas = {as_number(read_provenance(v.report_dir).get("params", {}).get("alpha", 0.05)) for v in variants}
    alpha = alphas.pop() if len(alphas) == 1 else math.nan
    return "CI" if math.isnan(alpha) else f"{100 * (1 - alpha):g}% CI"


def _write_csv(path: Path, frame: pd.DataFrame, float_format: str | None = None) -> None:
    text = neutralise_formulas(frame).to_csv(index=False, lineterminator="\n", float_format=float_format)
    atomic_write(path, text)


def write_sensitivity_summary(out_dir: Path, sweep_name: str, variants: list[SweepVariant],
                              description: str | None = None, *, published_dir: Path | None = None) -> Path:
    """Write index.html, sensitivity.csv, conclusions.csv and figures/ into out_dir (a fresh folder); return index.html.

    ``published_dir``: where the summary will be read from, when it is written elsewhere and moved there (the
    links to each variant's report are relative to it; default ``out_dir``)."""
    if not variants:
        raise ValueError("a sensitivity summary needs at least one variant")
    names = [(v.cohort_id, v.name) for v in variants]
    if len(set(names)) != len(names):
        raise ValueError("each (cohort, variant) may appear once in a sensitivity summary")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = sensitivity_table(variants)
    conclusions = conclusions_table(table, variants)
    threshold, level = _threshold(variants), ci_label(variants)
    _write_csv(out_dir / SENSITIVITY_FILE, table.drop(columns=SHOWN_COLUMNS), float_format=FLOAT_FORMAT)
    _write_csv(out_dir / CONCLUSIONS_FILE, conclusions)
    holds, changes = findings(table, conclusions, variants, level)
    holds, changes = ([suppress_text(s, threshold) for s in said] for said in (holds, changes))
    readable = table.assign(value_text=table.apply(value_text, axis=1) if len(table) else [],
                            estimate_text=table.apply(estimate_text, axis=1) if len(table) else [])
    figures = write_figures(readable, out_dir / FIGURES_DIR, sweep_name=sweep_name,
                            order={c: [v.name for v in variants if v.cohort_id == c] for c, _ in names},
                            nulls={k: r.null for k, r in RESULTS.items()}, conclusions=conclusions,
                            threshold=threshold, ci_label=level)
    where = Path(published_dir) if published_dir is not None else out_dir
    links = {}
    for v in variants:
        index = Path(v.report_dir) / "index.html"
        if index.exists():
            links[(v.cohort_id, v.name)] = Path(os.path.relpath(index.resolve(), where.resolve())).as_posix()
    thresholds = {v.cohort_id: set() for v in variants}
    for v in variants:
        thresholds[v.cohort_id].add(read_provenance(v.report_dir).get("params", {}).get("suppress_below"))
    return write_page(out_dir / INDEX_FILE, sweep_name=sweep_name, description=description,
                      grid=settings(variants), keys=swept_keys(variants), table=readable, conclusions=conclusions,
                      holds=holds, changes=changes, figures=figures, links=links,
                      mixed_thresholds=sorted(c for c, t in thresholds.items() if len(t) > 1), threshold=threshold,
                      ci_label=level)
