"""Write result tables and assemble the cohort report: the performance story and the funder pack.

Tables go to ``<report>/tables/<name>.csv``, written atomically with a fixed float format so the same
data and params give byte-identical files.

The report notebook runs after the others and works with whatever tables exist:

* :func:`funder_tables` turns the analysts' tables into funder tables (``<report>/funder/<name>.csv``) with
  small cells suppressed (:mod:`evaluation.privacy`) and no patient identifiers;
* :func:`key_findings` writes the findings as sentences computed from the tables (an analysis that did not
  run says so);
* :func:`write_performance_story` writes ``<report>/performance_story.html`` (findings, every figure with its
  caption, every funder table); :func:`write_funder_docx` the same as a Word file, and
  :func:`write_figure_zip` a zip of every figure with the manifest, both in ``<report>/funder/``.
"""

from __future__ import annotations
import html
import io
import json
import math
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping
import numpy as np
import pandas as pd
from evaluation.analyses.engagement.findings import findings_engagement
from evaluation.analyses.focus_groups.findings import findings_themes
from evaluation.analyses.outcomes.findings import findings_outcomes, findings_run_charts
from evaluation.analyses.overview.findings import findings_cohort
from evaluation.analyses.time_to_goal.findings import findings_time_to_goal
from evaluation.analyses.value.findings import findings_value
from evaluation.core.dictionary import identifier_columns
from evaluation.core.disclosure import COMPLEMENT_MARK, suppress_text
from evaluation.core.figures import MANIFEST_COLUMNS, read_manifest
from evaluation.core.outputs import _read_table, atomic_write, neutralise_formulas
from evaluation.core.params import CMS_THRESHOLD, Params
from evaluation.stats.cell_suppression import SPEC_FILE, SuppressedTable, auto_spec, suppress


# --- funder tables -----------------------------------------------------------------------------------

STORY_FILE = "performance_story.html"  # linked first from index.html by the runner
README_FILE = "README.txt"  # funder/README.txt and the zip's: the disclosure rule the pack follows
FUNDER_DIR = "funder"
SECTIONS = {  # section key -> heading, in report order
    "cohort": "The cohort",
    "engagement": "Engagement in the collaborative",
    "themes": "What teams said: focus groups and interviews",
    "outcomes": "Clinical outcomes",
    "run_charts": "Monthly measures: run charts",
    "time_to_goal": "Time to goal",
    "value": "Value and return on investment",
}


@dataclass(frozen=True)
class FunderTable:
    """An analysts' table a funder may see, and how to make it safe.

    ``columns``: the columns to show, in order (None: all but identifiers); ``counts``/``exempt``: count
    columns, and count-like columns that do not count patients (team or excerpt counts); the rest as in
    :class:`~evaluation.stats.cell_suppression.SuppressionSpec`. Columns the table lacks are ignored, extra ones pass through
    (``derive_rest``: treated as computed from the table's first count).
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

    def spec(self, df: pd.DataFrame):

        keys = tuple(c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]))
        return auto_spec(df, counts=self.counts, exempt=self.exempt, keys=keys, block=self.block,
                         derive_rest=self.derive_rest, derived=dict(self.derived), percentages=dict(self.percentages),
                         hidden=self.hidden, column_totals=dict(self.column_totals), group_column=self.group_column)


_BOTH = ("pre_events", "post_events")
FUNDER_TABLES: tuple[FunderTable, ...] = (
    FunderTable("engagement_by_team", "Engagement by team", "engagement", group_column=None, derive_rest=False,
                exempt=("events_offered", "events_attended", "milestones_due", "milestones_done"),
                note="Counts of collaborative events and milestones (not patients): not suppressed."),
    FunderTable("themes", "Themes and codes from focus groups and interviews", "themes", group_column=None,
                columns=("theme", "code", "n_excerpts", "n_teams", "pct_teams", "exemplar"), derive_rest=False,
                exempt=("n_excerpts", "n_teams"), note="Counts of excerpts and teams (not patients): not suppressed. "
                "Quotes passed an identifier screen (names, dates, phone numbers, e-mail, record numbers) or were "
                "cleared by the evaluator.", blank_as={"exemplar": "no quote cleared for funders"}),
    FunderTable("outcome_change", "Change from baseline to follow-up", "outcomes", block=("measure",),
                counts=("n",), columns=("measure", "group", "n", "baseline_mean", "followup_mean", "mean_change",
                                        "change_ci_low", "change_ci_high", "p_value", "cohen_dz", "pct_goal_baseline",
                                        "pct_goal_followup", "mcnemar_p")),
    FunderTable("time_to_goal", "Time to goal among patients not at goal at baseline", "time_to_goal",
                block=("measure",), counts=("n", "events", "censored"),
                column_totals={"n": ("events", "censored")},  # censored includes the competing exits
                columns=("measure", "group", "n", "events", "censored", "median_days", "median_ci_low",
                         "median_ci_high", "ci_method", "logrank_p")),
    FunderTable("value_utilization", "Acute-care use per 1,000 patient-months before and after enrollment", "value",
                block=("kind",), counts=("patients", "pre_events", "post_events"),
                columns=("kind", "group", "patients", "pre_events", "post_events", "pre_rate", "post_rate",
                         "rate_ratio", "ci_low", "ci_high", "p_value", "change_pct", "cost_per_event", "cost_avoided"),
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
                         "mtps_per_patient", "pct_resolved", "median_days_to_resolution"),
                derived={"mtps_per_patient": ("mtps_identified", "patients"), "pct_resolved": ("mtps_resolved", "mtps_identified"),
                         "median_days_to_resolution": ("mtps_resolved",)},
                percentages={"pct_resolved": "mtps_identified"}, derive_rest=False),
    FunderTable("value_mtp_categories", "Medication therapy problems by category", "value", group_column="category",
                counts=("identified", "resolved"), hidden=("unresolved",), column_totals={"identified": ("resolved", "unresolved")},
                derived={"pct_resolved": ("resolved", "identified")}, percentages={"pct_resolved": "identified"},
                derive_rest=False),
)

_DECIMALS = (  # (test on the column name, decimals) for funder tables: first match wins
    (lambda c: any(w in c for w in ("cost", "return", "amount", "roi_per_patient", "dollars")), 0),
    (lambda c: "pct" in c or "percent" in c or c.endswith("_rate") or c.startswith("median_days"), 1),
)


def _round_for_funder(df: pd.DataFrame) -> pd.DataFrame:
    """Numbers a reader can use: dollars whole, percentages and rates to 0.1, p-values as <0.001 or to three
    places, whole numbers as integers, others to two places."""
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        if str(col) == "p_value" or str(col).endswith("_p"):  # p-values as a reader writes them
            out[col] = out[col].map(lambda p: None if pd.isna(p) else "<0.001" if p < 0.001 else f"{p:.3f}").astype(object)
            continue
        values = out[col]
        if values.dropna().apply(float.is_integer).all() and values.notna().any():
            out[col] = values.round().astype("Int64")
            continue
        decimals = next((d for test, d in _DECIMALS if test(str(col))), 2)
        out[col] = values.round().astype("Int64") if decimals == 0 else values.round(decimals)
    return out


def _hide(st, rows: np.ndarray, columns: list[str], reason: str) -> None:
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


def funder_tables(params: Params, *, write: bool = True) -> dict[str, SuppressedTable]:
    """Suppressed funder versions of every registered table present in ``tables/`` (name -> SuppressedTable).

    Identifier columns are dropped; numbers are rounded; small cells are suppressed with complementary and
    derived suppression. With ``write``, each goes to ``funder/<name>.csv`` with ``funder/suppression.json``
    (which columns are counts, for :func:`~evaluation.check_funder_outputs`).
    """

    ident = identifier_columns() | {"patient_id"}
    out = {}
    registry = {}
    for entry in FUNDER_TABLES:
        df = _read_table(params, entry.name)
        if df is None:
            continue
        keep = [c for c in (entry.columns or df.columns) if c in df.columns and c not in ident]
        for col, text in entry.blank_as.items():
            if col in df.columns:
                df[col] = df[col].where(df[col].notna() & (df[col].astype(str).str.strip() != ""), text)
        spec = entry.spec(df[keep])  # on the numbers, before p-values become text
        st = suppress(_round_for_funder(df[keep]), spec, params.suppress_below)
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
               "marks": {"small": f"<{params.suppress_below}", "complementary": "*"}, "tables": registry}
        atomic_write(folder / SPEC_FILE, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        atomic_write(folder / README_FILE, (suppression_note(params) + "\n").encode("utf-8"))
    return out


def suppress_like(name: str, df: pd.DataFrame, threshold: int):
    """Suppress ``df`` the way the funder table ``name`` is suppressed (e.g. before drawing a funder figure)."""

    entry = next((t for t in FUNDER_TABLES if t.name == name), None)
    if entry is None:
        raise ValueError(f"name must be one of {', '.join(t.name for t in FUNDER_TABLES)}; got {name!r}")
    return suppress(_round_for_funder(df), entry.spec(df), threshold)


def funder_table_or_note(tables: Mapping[str, SuppressedTable], name: str):
    """The funder table ``name`` for display, or a sentence saying it was not produced."""
    return tables[name] if name in tables else f"No {name} table: tables/{name}.csv was not produced for this cohort."


def funder_overview(tables: Mapping[str, SuppressedTable]) -> pd.DataFrame:
    """One row per funder table: rows, cells suppressed (small / complementary / computed), file."""
    titles = {t.name: t.title for t in FUNDER_TABLES}
    rows = []
    for name, st in tables.items():
        reasons = st.reasons["reason"]
        rows.append({"table": name, "title": titles.get(name, name), "rows": len(st.table),
                     "small_counts": int((reasons == "small count").sum()),
                     "complementary": int((reasons == "complementary").sum()),
                     "computed_from_hidden": int((~reasons.isin(["small count", "complementary"])).sum()),
                     "file": f"{FUNDER_DIR}/{name}.csv"})
    return pd.DataFrame(rows, columns=["table", "title", "rows", "small_counts", "complementary",
                                       "computed_from_hidden", "file"])


FINDINGS: dict[str, Callable[[Params], list[str]]] = {
    "cohort": findings_cohort, "engagement": findings_engagement, "themes": findings_themes,
    "outcomes": findings_outcomes, "run_charts": findings_run_charts, "time_to_goal": findings_time_to_goal,
    "value": findings_value,
}


@dataclass
class Findings:
    """Key findings as sentences; ``table`` has one row per sentence (section, finding).

    Shown in a notebook as a list under section headings (a DataFrame would cut the sentences short).
    """

    table: pd.DataFrame

    def by_section(self) -> dict[str, list[str]]:
        return {key: self.table.loc[self.table["section"] == key, "finding"].tolist()
                for key in dict.fromkeys(self.table["section"])}

    def __repr__(self) -> str:
        lines = []
        for key, sentences in self.by_section().items():
            lines.append(SECTIONS.get(key, key))
            lines += [f"  - {s}" for s in sentences]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        return "".join(f"<p><b>{e(SECTIONS.get(k, k))}</b></p><ul>" + "".join(f"<li>{e(s)}</li>" for s in v) + "</ul>"
                       for k, v in self.by_section().items())


def key_findings(params: Params) -> Findings:
    """The cohort's key findings as sentences (section, finding), computed from the tables in ``tables/``."""

    rows = [{"section": key, "finding": suppress_text(sentence, params.suppress_below)}
            for key, make in FINDINGS.items() for sentence in make(params)]
    return Findings(pd.DataFrame(rows, columns=["section", "finding"]))


def _findings_table(findings: Findings | pd.DataFrame) -> pd.DataFrame:
    return findings.table if isinstance(findings, Findings) else findings


# --- figures by section ------------------------------------------------------------------------------

_NOTEBOOK_SECTIONS = (("data_quality", "cohort"), ("overview", "cohort"), ("engagement", "engagement"),
                      ("qualitative", "themes"), ("focus", "themes"), ("theme", "themes"), ("outcome", "outcomes"),
                      ("spc", "run_charts"), ("run_chart", "run_charts"), ("survival", "time_to_goal"),
                      ("time_to_goal", "time_to_goal"), ("value", "value"))


def section_of(notebook: str) -> str:
    """The report section of a notebook's figures (``03_outcomes`` -> ``outcomes``); unknown -> ``other``."""
    name = str(notebook).lower()
    return next((section for key, section in _NOTEBOOK_SECTIONS if key in name), "other")


def figure_manifest(params: Params, *, for_funder: bool = True) -> pd.DataFrame:
    """Every exported figure (the manifest) with its report section and PNG file.

    ``for_funder``: titles, captions and alt text with any small count of patients or events written as ``<11``
    (a caption such as "5 patients have no measurement" must not reach a funder as it is).
    """

    folder = params.figures_dir
    m = read_manifest(folder) if folder.exists() else pd.DataFrame(columns=MANIFEST_COLUMNS)
    if for_funder:
        for col in ("title", "caption", "alt_text"):
            m[col] = m[col].map(lambda t: suppress_text(t, params.suppress_below))
    m = m.assign(section=m["notebook"].map(section_of),
                 png=m["files"].map(lambda f: next((x for x in str(f).split(";") if x.endswith(".png")), "")))
    order = {k: i for i, k in enumerate([*SECTIONS, "other"])}
    return m.sort_values(["section", "notebook", "figure_id"], key=lambda s: s.map(order) if s.name == "section" else s,
                         kind="stable").reset_index(drop=True)


# --- the performance story page ----------------------------------------------------------------------

def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "\u2013"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.10g}" if abs(value) >= 1000 else f"{value:.10g}"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    return str(value)


# A funder table longer than this shows its summary rows on the page and in the DOCX (team rows left out, then
# the first rows); the CSV in funder/ keeps every row. A statewide cohort's 1,000 teams would otherwise make
# a Word table of a hundred pages (and python-docx takes minutes to write it); the demo's 68-row time-to-goal
# table (10 teams) is shown whole.
PACK_ROWS = 200


def _shown(name: str, st) -> tuple[pd.DataFrame, str]:
    """The rows of a funder table the page and the DOCX show, and a sentence saying what was left out ('' if nothing)."""
    df = st.table
    if len(df) <= PACK_ROWS:
        return df, ""
    shown, why = df, ""
    if "group" in df.columns:
        teams = df["group"].astype(str).str.startswith("team=")
        if teams.any():
            shown, why = df[~teams], f"the {int(teams.sum()):,} team rows are left out"
    if len(shown) > PACK_ROWS:
        shown = shown.head(PACK_ROWS)
        why = (why + " and " if why else "") + f"only the first {PACK_ROWS} rows are shown"
    return shown, f"{why[:1].upper()}{why[1:]} ({len(shown)} of {len(df):,} rows); every row is in {FUNDER_DIR}/{name}.csv."


def _table_rows(df: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The header and the cells of a table as text, for the page and the DOCX."""
    return [str(c) for c in df.columns], [[_cell_text(v) for v in row] for row in df.itertuples(index=False)]


def suppression_note(params: Params) -> str:
    """The disclosure rule these outputs follow, stated on every funder output (page, DOCX, zip, funder folder)."""
    t = params.suppress_below
    rule = ("the CMS cell-size rule" if t == CMS_THRESHOLD else
            f"a threshold stricter than the CMS cell-size rule of {CMS_THRESHOLD}" if t > CMS_THRESHOLD else
            f"a threshold BELOW the CMS cell-size rule of {CMS_THRESHOLD}, because: {params.suppress_below_reason}")
    return (f"Counts from 1 to {t - 1} are shown as <{t} ({rule}); * marks a cell withheld so that a "
            f"small count cannot be worked out from totals, or computed from one. No patient identifiers are included.")


def write_performance_story(params: Params, findings: Findings | pd.DataFrame, tables: Mapping[str, SuppressedTable]) -> Path:
    """``<report>/performance_story.html``: key findings, then per section its figures (with captions and alt
    text) and suppressed tables; links to the funder pack."""
    e = html.escape
    findings = _findings_table(findings)
    manifest = figure_manifest(params)
    registry = {t.name: t for t in FUNDER_TABLES}
    parts = [f"<h1>{e(params.title)}</h1>",
             f'<p class="muted">Performance story of cohort <code>{e(params.cohort_id)}</code>, data as of '
             f"{params.as_of:%Y-%m-%d}. Every number is computed from the cohort's tables by the evaluation workbench.</p>",
             f'<p class="muted">{e(suppression_note(params))}</p>',
             "<h2>Key findings</h2><ul>"]
    parts += [f"<li>{e(f)}</li>" for f in findings["finding"]]
    parts.append("</ul>")
    fig_no = table_no = 0
    for key in [*SECTIONS, "other"]:
        figs = manifest[manifest["section"] == key]
        tabs = [n for n, t in registry.items() if t.section == key and n in tables]
        if figs.empty and not tabs:
            continue
        parts.append(f'<section id="{e(key)}"><h2>{e(SECTIONS.get(key, "Other figures"))}</h2>')
        for row in figs.itertuples(index=False):
            fig_no += 1
            files = " ".join(f'<a href="{e(f)}">{e(f.rsplit(".", 1)[-1].upper())}</a>' for f in str(row.files).split(";"))
            parts.append(f'<figure id="{e(row.figure_id)}"><img src="{e(row.png)}" alt="{e(row.alt_text)}">'
                         f"<figcaption><b>Figure {fig_no}. {e(row.title)}.</b> {e(row.caption)} "
                         f'<span class="muted">[{files}]</span></figcaption></figure>')
        for name in tabs:
            table_no += 1
            shown, left_out = _shown(name, tables[name])
            header, rows = _table_rows(shown)
            note = " ".join(t for t in (registry[name].note, left_out) if t)
            parts.append(f'<figure class="table"><figcaption><b>Table {table_no}. {e(registry[name].title)}.</b> '
                         f'{e(note)} <a href="{FUNDER_DIR}/{e(name)}.csv">CSV</a></figcaption><div class="scroll"><table>'
                         "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>"
                         + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
                         + "</tbody></table></div></figure>")
        parts.append("</section>")
    parts.append(f'<h2>Funder pack</h2><p>{e(suppression_note(params))}</p><ul>'
                 f'<li><a href="{FUNDER_DIR}/{e(docx_name(params))}">Performance story (Word)</a></li>'
                 f'<li><a href="{FUNDER_DIR}/{e(zip_name(params))}">Every figure (PNG, SVG, PDF) with the manifest (zip)</a></li>'
                 f'<li>Tables: ' + ", ".join(f'<a href="{FUNDER_DIR}/{e(n)}.csv">{e(n)}</a>' for n in tables) + "</li></ul>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(params.title)}: performance story</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
.muted {{ color: #666; font-size: 0.9em; }}
figure {{ margin: 1.2rem 0; }} figure img {{ max-width: 100%; border: 1px solid #ddd; }}
figcaption {{ font-size: 0.9em; margin-top: 0.3rem; }} .scroll {{ overflow-x: auto; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin-top: 0.4rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: right; }} th {{ background: #f3f3f3; }}
td:first-child, th:first-child {{ text-align: left; }}
</style></head><body>
{chr(10).join(parts)}
</body></html>
"""
    path = params.output_dir / STORY_FILE
    atomic_write(path, page.encode("utf-8"))
    return path


# --- the funder pack: DOCX and figure zip ------------------------------------------------------------

def docx_name(params: Params) -> str:
    return f"{params.cohort_id}_performance_story.docx"


def zip_name(params: Params) -> str:
    return f"{params.cohort_id}_figures.zip"


WIDE_TABLE_COLUMNS = 9  # wider tables get a landscape page of their own in the DOCX


def _orientation(document, *, landscape: bool) -> None:
    """Start a new page in landscape (or back in portrait)."""
    from docx.enum.section import WD_ORIENT, WD_SECTION

    section = document.add_section(WD_SECTION.NEW_PAGE)
    width, height = section.page_width, section.page_height
    if (width > height) != landscape:
        section.page_width, section.page_height = height, width
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT


def write_funder_docx(params: Params, findings: Findings | pd.DataFrame, tables: Mapping[str, SuppressedTable]) -> Path:
    """``funder/<cohort>_performance_story.docx``: findings, every figure of the manifest with its caption (and
    alt text on the picture), and every suppressed table."""
    findings = _findings_table(findings)
    import datetime as dt

    import docx
    from docx.shared import Inches, Pt

    document = docx.Document()
    document.core_properties.title = f"{params.title}: performance story"
    document.core_properties.author = "CMM evaluation workbench"
    stamp = dt.datetime.combine(params.as_of, dt.time())
    document.core_properties.created = stamp
    document.core_properties.modified = stamp
    document.styles["Normal"].font.size = Pt(10)
    document.add_heading(params.title, level=0)
    document.add_paragraph(f"Performance story of cohort {params.cohort_id}, data as of {params.as_of:%Y-%m-%d}.")
    document.add_paragraph(suppression_note(params))
    document.add_heading("Key findings", level=1)
    for sentence in findings["finding"]:
        document.add_paragraph(sentence, style="List Bullet")
    manifest = figure_manifest(params)
    registry = {t.name: t for t in FUNDER_TABLES}
    fig_no = table_no = 0
    for key in [*SECTIONS, "other"]:
        figs = manifest[manifest["section"] == key]
        tabs = [n for n, t in registry.items() if t.section == key and n in tables]
        if figs.empty and not tabs:
            continue
        document.add_heading(SECTIONS.get(key, "Other figures"), level=1)
        for row in figs.itertuples(index=False):
            fig_no += 1
            if row.png:  # a draft run may export no PNG ($CMM_FIGURE_FORMATS): the caption still goes in
                document.add_picture(str(params.output_dir / row.png), width=Inches(6.0))
                picture = document.inline_shapes[-1]
                picture._inline.docPr.set("descr", str(row.alt_text))  # alt text for screen readers
                picture._inline.docPr.set("title", str(row.title))
            caption = document.add_paragraph()
            caption.add_run(f"Figure {fig_no}. {row.title}. ").bold = True
            caption.add_run(str(row.caption))
        for name in tabs:
            table_no += 1
            shown, left_out = _shown(name, tables[name])
            header, rows = _table_rows(shown)
            wide = len(header) > WIDE_TABLE_COLUMNS
            if wide:
                _orientation(document, landscape=True)
            caption = document.add_paragraph()
            caption.add_run(f"Table {table_no}. {registry[name].title}. ").bold = True
            caption.add_run(" ".join(t for t in (registry[name].note, left_out) if t))
            table = document.add_table(rows=1 + len(rows), cols=len(header))
            table.style = "Table Grid"
            # row by row: table.cell(i, j) rebuilds the whole grid on every call (quadratic in the rows)
            for row, texts in zip(table.rows, [header, *rows]):
                for cell, text in zip(row.cells, texts):
                    cell.text = text
                    for p in cell.paragraphs:
                        for run in p.runs:
                            run.font.size = Pt(7)
            if wide:
                _orientation(document, landscape=False)
    document.add_heading("About these numbers", level=1)
    document.add_paragraph(suppression_note(params))
    path = params.output_dir / FUNDER_DIR / docx_name(params)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = tempfile.SpooledTemporaryFile()
    document.save(buffer)
    buffer.seek(0)
    atomic_write(path, buffer.read())
    return path


def write_figure_zip(params: Params) -> Path:
    """``funder/<cohort>_figures.zip``: every figure file (PNG, SVG, PDF) and ``manifest.csv`` (fixed timestamps,
    sorted entries: the same figures give the same zip)."""
    manifest = figure_manifest(params)
    path = params.output_dir / FUNDER_DIR / zip_name(params)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        entries = sorted({f for files in manifest["files"] for f in str(files).split(";") if f})
        for name in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (params.output_dir / name).read_bytes())
        info = zipfile.ZipInfo("manifest.csv", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        columns = ["figure_id", "title", "caption", "alt_text", "notebook", "files"]
        zf.writestr(info, neutralise_formulas(manifest[columns]).to_csv(index=False, lineterminator="\n"))
        info = zipfile.ZipInfo(README_FILE, date_time=(1980, 1, 1, 0, 0, 0))
        zf.writestr(info, suppression_note(params) + "\n")
    atomic_write(path, buffer.getvalue())
    return path


def build_funder_pack(params: Params, findings: Findings | pd.DataFrame, tables: Mapping[str, SuppressedTable]) -> pd.DataFrame:
    """Write the performance story page, the DOCX and the figure zip; return what was written (relative paths)."""
    written = [
        (write_performance_story(params, findings, tables), "performance story page (linked first from index.html)"),
        (write_funder_docx(params, findings, tables), "performance story for funders (Word)"),
        (write_figure_zip(params), "every figure (PNG 300 dpi, SVG, PDF) and manifest.csv"),
    ]
    written += [(params.output_dir / FUNDER_DIR / f"{name}.csv", "suppressed table") for name in tables]
    return pd.DataFrame([{"file": str(p.relative_to(params.output_dir)), "what": what} for p, what in written])


def verify_pack(params: Params) -> pd.DataFrame:
    """Read the pack back: every manifest figure is in the DOCX and the zip, and every image of the page loads.

    One row per check (check, expected, found, ok), so a notebook shows the acceptance of the pack.
    """
    import re

    import docx

    manifest = figure_manifest(params)
    page = (params.output_dir / STORY_FILE).read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', page)
    document = docx.Document(str(params.output_dir / FUNDER_DIR / docx_name(params)))
    with zipfile.ZipFile(params.output_dir / FUNDER_DIR / zip_name(params)) as zf:
        names = set(zf.namelist())
    files = {f for fs in manifest["files"] for f in str(fs).split(";") if f}
    rows = [
        ("figures in the manifest shown on the page", len(manifest), len(set(sources) & set(manifest["png"]))),
        ("images on the page whose file exists", len(sources), sum((params.output_dir / s).is_file() for s in sources)),
        ("figures in the DOCX", len(manifest), len(document.inline_shapes)),
        ("figure files in the zip (PNG, SVG, PDF)", len(files), len(files & names)),
        ("manifest.csv in the zip", 1, int("manifest.csv" in names)),
    ]
    out = pd.DataFrame(rows, columns=["check", "expected", "found"])
    out["ok"] = out["expected"] == out["found"]
    return out
