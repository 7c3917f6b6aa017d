"""Funder tables: which analysts' tables a funder may see, and each made safe into ``funder/<name>.csv``.

:data:`FUNDER_TABLES` is the registry: per table its title, report section, columns and which of them count
patients (the rest as :class:`~evaluation.stats.cell_suppression.SuppressionSpec` says). :func:`funder_tables`
reads each one present in ``tables/``, drops identifier columns, rounds numbers to what a reader sees (each
column's format in ``data_dictionary/results.yaml``, :func:`~evaluation.core.columns.column_format`) and
suppresses small cells (:func:`~evaluation.stats.cell_suppression.suppress`), and writes the results with
``funder/suppression.json`` (what the disclosure gate checks them against) and ``funder/README.txt`` (the rule
they follow, :func:`suppression_note`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from evaluation.core.columns import table_formats
from evaluation.core.disclosure import COMPLEMENT_MARK, small_mark
from evaluation.core.outputs import atomic_write, neutralise_formulas, read_table
from evaluation.core.params import Params
from evaluation.core.schema import CMS_THRESHOLD
from evaluation.core.text import format_p
from evaluation.stats.cell_suppression import SPEC_FILE, SuppressedTable, auto_spec, suppress

from .gate_rules import identifier_names

FUNDER_DIR = "funder"
README_FILE = "README.txt"  # funder/README.txt and the zip's: the disclosure rule the pack follows


@dataclass(frozen=True)
class FunderTable:
    """An analysts' table a funder may see, and how to make it safe.

    ``columns``: the columns to show, in order (None: all but identifiers); ``counts``/``exempt``: count
    columns, and count-like columns that do not count patients (team or excerpt counts); the rest as in
    :class:`~evaluation.stats.cell_suppression.SuppressionSpec`. Columns the table lacks are ignored, extra ones pass through
    (``derive_rest``: treated as computed from the table's first count). ``reader_columns``: the columns the
    story, the DOCX, the PDF and the slides show (None: every column); the CSV and the workbook keep them all.
    """

    name: str
    title: str
    section: str
    columns: tuple[str, ...] | None = None
    counts: tuple[str, ...] = ()
    exempt: tuple[str, ...] = ()
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    percentages: Mapping[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    column_totals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    block: tuple[str, ...] = ()
    group_column: str | None = "group"
    derive_rest: bool = True
    note: str = ""
    blank_as: Mapping[str, str] = field(default_factory=dict)  # what an empty text cell says to a funder
    reader_columns: tuple[str, ...] | None = None  # what the story, DOCX and PDF show (None: every column)

    def spec(self, df: pd.DataFrame):
        """The suppression spec of this table for the columns ``df`` has (text columns are its row keys)."""
        keys = tuple(c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]))
        return auto_spec(df, counts=self.counts, exempt=self.exempt, keys=keys, block=self.block,
                         derive_rest=self.derive_rest, derived=dict(self.derived), percentages=dict(self.percentages),
                         hidden=self.hidden, column_totals=dict(self.column_totals), group_column=self.group_column)


_BOTH = ("pre_events", "post_events")
FUNDER_TABLES: tuple[FunderTable, ...] = (
    FunderTable("engagement_by_team", "Engagement by team", "engagement", group_column=None, derive_rest=False,
                exempt=("events_offered", "events_attended", "milestones_due", "milestones_done"),
                reader_columns=("team_id", "track", "events_offered", "events_attended", "attendance_rate",
                                "milestones_due", "milestones_done", "engagement_score", "rank"),
                note="Counts of collaborative events and milestones (not patients): not suppressed. Attendance is of "
                "the events whose attendance was recorded; the engagement score (0 to 100) adds up attendance, "
                "milestones done and milestones done on time, and rank 1 is the highest score."),
    FunderTable("themes", "Themes and codes from focus groups and interviews", "themes", group_column=None,
                columns=("theme", "code", "n_excerpts", "n_teams", "pct_teams", "exemplar"), derive_rest=False,
                exempt=("n_excerpts", "n_teams"), note="Counts of excerpts and teams (not patients): not suppressed. "
                "Quotes passed an identifier screen (names, dates, phone numbers, e-mail, record numbers) or were "
                "cleared by the evaluator.", blank_as={"exemplar": "no quote cleared for funders"}),
    FunderTable("outcome_change", "Change from baseline to follow-up", "outcomes", block=("measure",),
                counts=("n",), columns=("measure", "group", "n", "baseline_mean", "followup_mean", "mean_change",
                                        "change_ci_low", "change_ci_high", "p_value", "cohen_dz", "pct_goal_baseline",
                                        "pct_goal_followup", "mcnemar_p"),
                reader_columns=("measure", "group", "n", "baseline_mean", "followup_mean", "mean_change",
                                "change_ci_low", "change_ci_high", "p_value", "pct_goal_baseline", "pct_goal_followup"),
                note="Means are in the unit of the measure; the 95% confidence interval (CI) and p are for the mean "
                "change (paired t-test)."),
    FunderTable("time_to_goal", "Time to goal among patients not at goal at baseline", "time_to_goal",
                block=("measure",), counts=("n", "events", "censored"),
                column_totals={"n": ("events", "censored")},  # censored includes the competing exits
                columns=("measure", "group", "n", "events", "censored", "median_days", "median_ci_low",
                         "median_ci_high", "ci_method", "logrank_p"),
                reader_columns=("measure", "group", "n", "events", "censored", "median_days", "median_ci_low",
                                "median_ci_high", "logrank_p"),
                note="Kaplan–Meier medians; patients who left or had not reached goal by the end of the data are "
                "censored. Not reached: fewer than half of the patients had reached goal by the end of follow-up "
                "(median), or the data do not yet rule out a longer time (upper end of the 95% CI). p compares the "
                "groups of one kind (log-rank test)."),
    FunderTable("value_utilization", "Acute-care use per 1,000 patient-months before and after enrollment", "value",
                block=("kind",), counts=("patients", "pre_events", "post_events"),
                columns=("kind", "group", "patients", "pre_events", "post_events", "pre_rate", "post_rate",
                         "rate_ratio", "ci_low", "ci_high", "p_value", "change_pct", "cost_per_event", "cost_avoided"),
                reader_columns=("kind", "group", "patients", "pre_events", "post_events", "pre_rate", "post_rate",
                                "rate_ratio", "ci_low", "ci_high", "p_value", "cost_avoided"),
                note="A rate ratio below 1 means fewer events per patient-month after enrollment than before; the 95% "
                "CI is for the rate ratio.",
                derived={"pre_rate": ("pre_events",), "post_rate": ("post_events",), "rate_ratio": _BOTH, "ci_low": _BOTH,
                         "ci_high": _BOTH, "p_value": _BOTH, "change_pct": _BOTH, "cost_avoided": _BOTH},
                derive_rest=False),
    FunderTable("value_roi", "Cost avoided, program cost and return on investment", "value", counts=("patients",),
                derived={"roi_per_patient": ("patients",)}, derive_rest=False,
                note="Groups whose event counts are suppressed have their dollar figures suppressed too."),
    FunderTable("value_sensitivity", "Net return under other assumptions (cohort)", "value", group_column=None,
                derive_rest=False),
    FunderTable("value_mtps", "Medication therapy problems per group", "value",
                counts=("patients", "patients_with_mtp", "mtps_identified", "mtps_resolved"), hidden=("mtps_unresolved",),
                column_totals={"mtps_identified": ("mtps_resolved", "mtps_unresolved")},
                columns=("group", "patients", "patients_with_mtp", "mtps_identified", "mtps_resolved", "mtps_unresolved",
                         "mtps_per_patient", "pct_resolved", "median_days_to_resolution", "median_ci_low", "median_ci_high"),
                derived={"mtps_per_patient": ("mtps_identified", "patients"), "pct_resolved": ("mtps_resolved", "mtps_identified"),
                         "median_days_to_resolution": ("mtps_resolved",), "median_ci_low": ("mtps_resolved",),
                         "median_ci_high": ("mtps_resolved",)},
                note="Median time to resolution: Kaplan–Meier median with its 95% CI; a problem not yet resolved counts "
                "until the patient left or the data end (censored), so the median is not only of the resolved ones.",
                percentages={"pct_resolved": "mtps_identified"}, derive_rest=False),
    FunderTable("value_mtp_categories", "Medication therapy problems by category", "value", group_column="category",
                counts=("identified", "resolved"), hidden=("unresolved",), column_totals={"identified": ("resolved", "unresolved")},
                derived={"pct_resolved": ("resolved", "identified")}, percentages={"pct_resolved": "identified"},
                derive_rest=False),
)


def _round_for_funder(df: pd.DataFrame, table: str | None = None) -> pd.DataFrame:
    """Numbers as a reader sees them, by each column's format (``results.yaml``): dollars whole, a percent or a
    ratio to its decimals, a share to its shown decimals (0.86 shows as 86%), p-values as the text of
    :func:`~evaluation.core.text.format_p` (``< 0.001``, ``0.042``), whole numbers as integers; text and
    codes as they are."""
    out = df.copy()
    for col, fmt in zip(out.columns, table_formats(table, out)):
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        if fmt.kind == "p_value":  # p-values as a reader writes them
            out[col] = out[col].map(lambda p: None if pd.isna(p) else format_p(p, prefix=False)).astype(object)
            continue
        values, decimals = out[col], fmt.stored_decimals
        if values.dropna().apply(float.is_integer).all() and values.notna().any():
            out[col] = values.round().astype("Int64")
        elif decimals is not None:
            out[col] = values.round().astype("Int64") if decimals == 0 else values.round(decimals)
    return out


def _hide(st: SuppressedTable, rows: np.ndarray, columns: list[str], reason: str) -> None:
    """Hide more cells of a suppressed table (a rule that spans tables)."""
    extra = []
    for col in columns:
        if col not in st.table.columns:
            continue
        hit = rows & ~st.mask[col].to_numpy()
        st.table.loc[hit, col] = COMPLEMENT_MARK
        st.mask.loc[hit, col] = True
        extra += [{"row": int(i), "column": col, "value": None, "reason": reason} for i in np.flatnonzero(hit)]
    if extra:
        st.reasons = pd.concat([st.reasons, pd.DataFrame(extra)], ignore_index=True).sort_values(["row", "column"]).reset_index(drop=True)


class FunderTables(dict):
    """The funder tables of a cohort (name -> :class:`SuppressedTable`), in registry order.

    A notebook cell ending with it shows :meth:`overview`: what was suppressed in each table.
    """

    def overview(self) -> pd.DataFrame:
        """One row per funder table: rows, cells suppressed (small / complementary / computed), file."""
        titles = {t.name: t.title for t in FUNDER_TABLES}
        rows = []
        for name, st in self.items():
            reasons = st.reasons["reason"]
            rows.append({"table": name, "title": titles.get(name, name), "rows": len(st.table),
                         "small_counts": int((reasons == "small count").sum()),
                         "complementary": int((reasons == "complementary").sum()),
                         "computed_from_hidden": int((~reasons.isin(["small count", "complementary"])).sum()),
                         "file": f"{FUNDER_DIR}/{name}.csv"})
        return pd.DataFrame(rows, columns=["table", "title", "rows", "small_counts", "complementary",
                                           "computed_from_hidden", "file"])

    def table_or_note(self, name: str) -> SuppressedTable | str:
        """The funder table ``name`` for display, or a sentence saying it was not produced."""
        return self[name] if name in self else f"No {name} table: tables/{name}.csv was not produced for this cohort."

    def __repr__(self) -> str:
        return repr(self.overview())

    def _repr_html_(self) -> str:
        return self.overview()._repr_html_()


def funder_tables(params: Params, *, write: bool = True) -> FunderTables:
    """Suppressed funder versions of every registered table present in ``tables/`` (name -> SuppressedTable).

    Identifier columns are dropped; numbers are rounded; small cells are suppressed with complementary and
    derived suppression. With ``write``, each goes to ``funder/<name>.csv`` with ``funder/suppression.json``
    (which columns are counts, for :func:`evaluation.report.gate.check_funder_outputs`).
    """
    ident = identifier_names()
    out = FunderTables()
    registry = {}
    for entry in FUNDER_TABLES:
        df = read_table(params, entry.name)
        if df is None:
            continue
        keep = [c for c in (entry.columns or df.columns) if c in df.columns and c not in ident]
        for col, text in entry.blank_as.items():
            if col in df.columns:
                df[col] = df[col].where(df[col].notna() & (df[col].astype(str).str.strip() != ""), text)
        spec = entry.spec(df[keep])  # on the numbers, before p-values become text
        st = suppress(_round_for_funder(df[keep], entry.name), spec, params.suppress_below)
        out[entry.name] = st
        registry[entry.name] = spec.to_json() | {"exempt": list(entry.exempt), "columns": list(st.table.columns),
                                                 "title": entry.title, "section": entry.section}
    if "value_roi" in out and "value_utilization" in out:  # money from hidden event counts is hidden too
        util = out["value_utilization"]
        hidden_groups = set(util.table.loc[util.mask[[c for c in ("pre_events", "post_events") if c in util.mask]].any(axis=1), "group"])
        roi = out["value_roi"]
        rows = roi.table["group"].isin(hidden_groups).to_numpy()
        _hide(roi, rows, ["cost_avoided", "net_return", "net_roi_pct", "roi_per_patient"],
              "computed from a hidden event count (value_utilization)")
    if write:
        folder = params.output_dir / FUNDER_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for name, st in out.items():
            atomic_write(folder / f"{name}.csv", neutralise_formulas(st.table).to_csv(index=False, lineterminator="\n").encode("utf-8"))
        doc = {"threshold": params.suppress_below, "threshold_reason": params.suppress_below_reason,
               "marks": {"small": small_mark(params.suppress_below), "complementary": COMPLEMENT_MARK}, "tables": registry}
        atomic_write(folder / SPEC_FILE, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        atomic_write(folder / README_FILE, (suppression_note(params) + "\n").encode("utf-8"))
    return out


def suppress_like(name: str, df: pd.DataFrame, threshold: int) -> SuppressedTable:
    """Suppress ``df`` the way the funder table ``name`` is suppressed (e.g. before drawing a funder figure)."""
    entry = next((t for t in FUNDER_TABLES if t.name == name), None)
    if entry is None:
        raise ValueError(f"name must be one of {', '.join(t.name for t in FUNDER_TABLES)}; got {name!r}")
    return suppress(_round_for_funder(df, name), entry.spec(df), threshold)


def suppression_note(params: Params) -> str:
    """The disclosure rule these outputs follow, stated on every funder output (page, DOCX, zip, funder folder)."""
    t = params.suppress_below
    rule = ("the CMS cell-size rule" if t == CMS_THRESHOLD else
            f"a threshold stricter than the CMS cell-size rule of {CMS_THRESHOLD}" if t > CMS_THRESHOLD else
            f"a threshold BELOW the CMS cell-size rule of {CMS_THRESHOLD}, because: {params.suppress_below_reason}")
    return (f"Counts from 1 to {t - 1} are shown as <{t} ({rule}); * marks a cell withheld so that a "
            f"small count cannot be worked out from totals, or computed from one. No patient identifiers are included.")
