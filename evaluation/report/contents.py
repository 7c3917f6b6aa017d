"""What the performance story holds, in order: the one sequence of sections that the page and the DOCX both render.

:func:`performance_story` gathers the key findings, then per report section (:data:`evaluation.core.labels.SECTIONS`,
in report order) its figures and its funder tables, numbered once. :mod:`.story_html` and :mod:`.story_docx`
only lay that out, so the two documents cannot disagree on which figure or table is where.

A figure goes in the section its spec names (the ``section`` column of ``figures/manifest.csv``); a manifest
written before figures named their section falls back to the notebook's default section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from evaluation.core.columns import ColumnFormat, column_format, format_cell, table_formats
from evaluation.core.disclosure import suppress_text
from evaluation.core.figures import MANIFEST_COLUMNS, read_manifest
from evaluation.core.labels import INTERNAL_SECTIONS, SECTIONS
from evaluation.core.params import Params
from evaluation.stats.cell_suppression import SuppressedTable

from .findings import Findings, Headline, findings_table
from .methods import MethodNote, limitations, methods
from .funder import FUNDER_DIR, FUNDER_TABLES, suppression_note

STORY_FILE = "performance_story.html"  # linked first from index.html by the runner
OTHER = "other"  # the section of a figure whose section is unknown, last in the story
OTHER_HEADING = "Other figures"
# The section of a notebook's figures in a manifest without a section column (a report written before
# figures named their section). Newer figures name theirs: the run charts of 03_outcomes are in run_charts.
NOTEBOOK_SECTIONS = {"00_data_quality": "cohort", "01_engagement": "engagement", "02_focus_groups": "themes",
                     "03_outcomes": "outcomes", "04_time_to_goal": "time_to_goal", "05_value": "value",
                     "06_priority": "priority"}
# A funder table longer than this shows its summary rows on the page and in the DOCX (team rows left out, then
# the first rows); the CSV in funder/ keeps every row. A statewide cohort's 1,000 teams would otherwise make
# a Word table of a hundred pages (and python-docx takes minutes to write it); the demo's 68-row time-to-goal
# table (10 teams) is shown whole.
PACK_ROWS = 200


def docx_name(params: Params) -> str:
    """The Word file of the performance story, in ``funder/``."""
    return f"{params.cohort_id}_performance_story.docx"


def pdf_name(params: Params) -> str:
    """The PDF of the performance story, in ``funder/``."""
    return f"{params.cohort_id}_performance_story.pdf"


def workbook_name(params: Params) -> str:
    """The workbook of the funder tables (one sheet each), in ``funder/``."""
    return f"{params.cohort_id}_tables.xlsx"


def slides_name(params: Params) -> str:
    """The slides of the headline findings, in ``funder/``."""
    return f"{params.cohort_id}_headlines.pptx"


def zip_name(params: Params) -> str:
    """The zip of every figure with its manifest, in ``funder/``."""
    return f"{params.cohort_id}_figures.zip"


def _section(record: Mapping) -> str:
    section = record.get("section")
    if isinstance(section, str) and section in SECTIONS:
        return section
    if isinstance(section, str) and section.strip():
        return OTHER
    return NOTEBOOK_SECTIONS.get(str(record.get("notebook")), OTHER)


def figure_manifest(params: Params, *, for_funder: bool = True) -> pd.DataFrame:
    """Every exported figure (the manifest) with its report section and PNG file, in story order (section,
    then notebook and figure id).

    Figures of an internal section (the priority list's, :data:`~evaluation.core.labels.INTERNAL_SECTIONS`) are
    left out: they are for the teams, not the story or the funder pack.

    ``for_funder``: titles, captions and alt text with any small count of patients or events written as ``<11``
    (a caption such as "5 patients have no measurement" must not reach a funder as it is).
    """
    folder = params.figures_dir
    m = read_manifest(folder) if folder.exists() else pd.DataFrame(columns=MANIFEST_COLUMNS)
    m = m[~m["section"].isin(INTERNAL_SECTIONS)] if "section" in m else m  # the teams' own figures stay out
    if for_funder:
        for col in ("title", "caption", "alt_text"):
            m[col] = m[col].map(lambda t: suppress_text(t, params.suppress_below))
    m = m.assign(section=[_section(r) for r in m.to_dict("records")],
                 png=m["files"].map(lambda f: next((x for x in str(f).split(";") if x.endswith(".png")), "")))
    order = {k: i for i, k in enumerate([*SECTIONS, OTHER])}
    return m.sort_values(["section", "notebook", "figure_id"], key=lambda s: s.map(order) if s.name == "section" else s,
                         kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class StoryFigure:
    """A figure as the story shows it: its number, text and files (``png`` is "" when no PNG was exported)."""

    number: int
    figure_id: str
    title: str
    caption: str
    alt_text: str
    png: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class StoryColumn:
    """A column of a story table as a reader sees it: the CSV column it shows, its label and unit, and whether
    it holds numbers (right-aligned in every layout)."""

    key: str
    label: str
    unit: str = ""
    numeric: bool = False

    @property
    def heading(self) -> str:
        """The header cell: ``Mean change (%)``, or the label alone when there is no unit."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass(frozen=True)
class StoryTable:
    """A funder table as the story shows it: its number, title, note, the columns a reader needs and the cells
    as text (numbers formatted, true minus signs, codes by their names)."""

    number: int
    name: str
    title: str
    note: str
    columns: list[StoryColumn]
    rows: list[list[str]]

    @property
    def header(self) -> list[str]:
        """The header cells, in column order."""
        return [c.heading for c in self.columns]

    @property
    def csv(self) -> str:
        """The table's file, every row and column of it: ``funder/<name>.csv``."""
        return f"{FUNDER_DIR}/{self.name}.csv"

    def widths(self) -> list[float]:
        """Each column's share of the table's width (they sum to 1), from the longest word of its header and
        the longest cell: what the DOCX, the PDF and the page size columns by."""
        need = [max([len(max(c.heading.split() or [""], key=len)), *(len(r[i]) for r in self.rows)], default=1) + 2
                for i, c in enumerate(self.columns)]
        total = sum(need) or 1
        return [n / total for n in need]

    @property
    def text_width(self) -> int:
        """Characters across a row at the widest (header words and cells): above about 110 a portrait page is
        too narrow at the story's table font."""
        return sum(max([len(max(c.heading.split() or [""], key=len)), *(len(r[i]) for r in self.rows)], default=1) + 2
                   for i, c in enumerate(self.columns))


@dataclass(frozen=True)
class StorySection:
    """One report section with something to show: its heading, figures and funder tables."""

    key: str
    heading: str
    figures: list[StoryFigure]
    tables: list[StoryTable]


@dataclass(frozen=True)
class FindingGroup:
    """The key findings of one report section, in plain words with units."""

    key: str
    heading: str
    sentences: list[str]


@dataclass(frozen=True)
class Story:
    """The performance story, for every layout alike (page, DOCX, PDF, slides): front matter, the executive
    summary (5 to 7 headline sentences, each with the figure that shows it), the findings grouped by section,
    the sections with their figures and tables, and methods and limitations."""

    title: str
    cohort_id: str
    as_of: str
    disclosure_note: str
    summary: list[Headline]
    findings: list[FindingGroup]
    sections: list[StorySection]
    methods: list[MethodNote]
    limitations: list[str]
    table_names: list[str]  # every funder table written (the page links each CSV)

    def figure(self, figure_id: str | None) -> StoryFigure | None:
        """The story's figure ``figure_id`` (None when it is not in the story)."""
        return next((f for s in self.sections for f in s.figures if f.figure_id == figure_id), None)


def cell_text(value, column: str | ColumnFormat = "", table: str | None = None) -> str:
    """A table cell as the story prints it, by the column's format (``data_dictionary/results.yaml``): a dash
    for a blank, thousands separators, the column's decimals, true minus signs, shares as percentages, codes
    by their names (``track=advanced`` -> ``Advanced track``), suppression marks as they are."""
    fmt = column if isinstance(column, ColumnFormat) else column_format(column, table, [value])
    return format_cell(value, fmt)


def story_column(fmt: ColumnFormat) -> StoryColumn:
    """The story's column for a column format: its key, label, unit and whether it holds numbers."""
    return StoryColumn(fmt.column, fmt.label, fmt.unit, fmt.numeric)


def shown_rows(name: str, st: SuppressedTable) -> tuple[pd.DataFrame, str]:
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


def story_table(number: int, name: str, st: SuppressedTable) -> StoryTable:
    """The funder table ``name`` as the story shows it: the columns a reader needs (its ``reader_columns``), each
    labelled and its cells formatted by ``data_dictionary/results.yaml``, and a note saying how many more
    columns the CSV keeps."""
    entry = {t.name: t for t in FUNDER_TABLES}[name]
    df, left_out = shown_rows(name, st)
    keys = [c for c in (entry.reader_columns or df.columns) if c in df.columns]
    formats = table_formats(name, st.table, keys)  # guessed from every row for a column results.yaml lacks
    rows = [[format_cell(v, f) for v, f in zip(row, formats)] for row in df[keys].itertuples(index=False)]
    more = len(df.columns) - len(keys)
    in_csv = "" if not more else (f"1 more column is in {FUNDER_DIR}/{name}.csv." if more == 1 else
                                  f"{more} more columns are in {FUNDER_DIR}/{name}.csv.")
    note = " ".join(t for t in (entry.note, left_out, in_csv) if t)
    return StoryTable(number, name, entry.title, note, [story_column(f) for f in formats], rows)


def performance_story(params: Params, findings: Findings | pd.DataFrame, tables: Mapping[str, SuppressedTable]) -> Story:
    """The story of the cohort: the executive summary and findings, then every section holding a figure of the
    manifest or a funder table, with figures and tables numbered in the order they appear, then methods and
    limitations."""
    manifest = figure_manifest(params)
    registry = {t.name: t for t in FUNDER_TABLES}
    sections = []
    fig_no = table_no = 0
    for key in [*SECTIONS, OTHER]:
        figures = []
        for row in manifest[manifest["section"] == key].itertuples(index=False):
            fig_no += 1
            figures.append(StoryFigure(fig_no, str(row.figure_id), str(row.title), str(row.caption), str(row.alt_text),
                                       str(row.png), tuple(f for f in str(row.files).split(";") if f)))
        shown = []
        for name in [n for n, t in registry.items() if t.section == key and n in tables]:
            table_no += 1
            shown.append(story_table(table_no, name, tables[name]))
        if figures or shown:
            sections.append(StorySection(key, SECTIONS.get(key, OTHER_HEADING), figures, shown))
    table = findings_table(findings)
    groups = [FindingGroup(key, SECTIONS.get(key, key), table.loc[table["section"] == key, "finding"].tolist())
              for key in dict.fromkeys(table["section"])]
    summary = findings.headlines if isinstance(findings, Findings) else []
    return Story(params.title, params.cohort_id, f"{params.as_of:%Y-%m-%d}", suppression_note(params), summary,
                 groups, sections, methods(params), limitations(params), list(tables))
