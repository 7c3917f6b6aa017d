"""The data dictionary: the single, machine-readable source of truth for every table of the contract.

``data_dictionary/<table>.yaml`` declares columns, types, units, allowed values and ranges. From it we
build the pandera schemas used by validation and the human-readable ``data_dictionary/README.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .paths import REPO_ROOT

if TYPE_CHECKING:  # pragma: no cover
    import pandera.pandas as pa

DICTIONARY_DIR = REPO_ROOT / "data_dictionary"
# How the result tables read (labels, units, number formats, code labels): it describes outputs, not an input
# table, so :func:`load_dictionary` leaves it out and :func:`load_results` reads it.
RESULTS_FILE = "results.yaml"
TYPES = ("string", "integer", "number", "date", "month", "category", "flag")
# How a month is written, in a `month` column and in params: YYYY-MM (a first-of-month date, YYYY-MM-01, is
# read as its month). Groups: year, month.
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])(?:-01)?$")
# Order tables are loaded and reported in: required first, then as in the brief.
TABLE_ORDER = (
    "teams", "patients", "measurements", "events", "attendance", "milestones", "monthly_reports",
    "pdsa_cycles", "mtps", "utilization", "program_costs", "qualitative_sources", "qualitative_excerpts",
    "qualitative_codings", "qualitative_codebook", "assessments",
)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    required: bool = True  # the column must be present in the file
    nullable: bool = False  # blank cells allowed
    description: str = ""
    unit: str | None = None
    allowed: tuple[str, ...] | None = None
    range: tuple[float | None, float | None] | None = None  # outside: error
    plausible: tuple[float | None, float | None] | None = None  # outside: warning
    references: str | None = None  # "table.column"
    identifier: bool = False  # a patient identifier: never in funder outputs


@dataclass(frozen=True)
class TableSpec:
    name: str
    file: str
    required: bool
    description: str
    primary_key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _pair(value) -> tuple[float | None, float | None] | None:
    return None if value is None else (value[0], value[1])


def _read_table_spec(path: Path) -> TableSpec:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    columns = []
    for c in doc["columns"]:
        if c["type"] not in TYPES:
            raise ValueError(f"{path.name}: column {c['name']} has unknown type {c['type']!r}; use one of {TYPES}")
        columns.append(ColumnSpec(
            name=c["name"], type=c["type"], required=c.get("required", True), nullable=c.get("nullable", False),
            description=c.get("description", ""), unit=c.get("unit"),
            allowed=tuple(str(a) for a in c["allowed"]) if c.get("allowed") else None,
            range=_pair(c.get("range")), plausible=_pair(c.get("plausible")),
            references=c.get("references"), identifier=c.get("identifier", False),
        ))
    return TableSpec(name=doc["table"], file=doc["file"], required=doc.get("required", False),
                     description=doc.get("description", ""), primary_key=tuple(doc.get("primary_key") or ()),
                     columns=tuple(columns), measures=doc.get("measures") or {})


@lru_cache(maxsize=None)
def load_dictionary(directory: str | None = None) -> dict[str, TableSpec]:
    """All table specs, in :data:`TABLE_ORDER` (then any extra tables alphabetically)."""
    folder = Path(directory) if directory else DICTIONARY_DIR
    specs = {s.name: s for s in map(_read_table_spec, sorted(p for p in folder.glob("*.yaml") if p.name != RESULTS_FILE))}
    order = [t for t in TABLE_ORDER if t in specs] + sorted(set(specs) - set(TABLE_ORDER))
    return {name: specs[name] for name in order}


@lru_cache(maxsize=None)
def load_results(directory: str | None = None) -> dict[str, Any]:
    """The result-table registry (``data_dictionary/results.yaml``): ``columns``, per-table overrides in
    ``tables``, ``groups`` and ``codes`` (each an empty mapping when the file leaves it out)."""
    path = (Path(directory) if directory else DICTIONARY_DIR) / RESULTS_FILE
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {key: dict((doc or {}).get(key) or {}) for key in ("columns", "tables", "groups", "codes")}


def table_file(table: str) -> str:
    """The file name of a table inside the cohort folder (e.g. ``qualitative/codings.csv``)."""
    specs = load_dictionary()
    return specs[table].file if table in specs else table


def identifier_columns() -> set[str]:
    """Columns that identify a patient, from every table."""
    return {c.name for spec in load_dictionary().values() for c in spec.columns if c.identifier}


def _check_for(column: ColumnSpec) -> list[pa.Check]:
    import pandera.pandas as pa  # imported when validating: it is slow to import

    checks: list[pa.Check] = []
    if column.allowed:
        checks.append(pa.Check.isin(list(column.allowed), error=f"must be one of: {', '.join(column.allowed)}"))
    if column.range:
        low, high = column.range
        if low is not None:
            checks.append(pa.Check.ge(low, error=f"must be at least {low:g}"))
        if high is not None:
            checks.append(pa.Check.le(high, error=f"must be at most {high:g}"))
    return checks


def schema_for(spec: TableSpec, present: list[str] | None = None) -> pa.DataFrameSchema:
    """The pandera schema for a parsed table: blanks, allowed values, hard ranges, unique key.

    Types are parsed before this runs (so a bad cell can be named with its text); the schema holds the
    checks that pandera reports as one lazy ``failure_cases`` table.
    """
    import pandera.pandas as pa  # imported when validating: it is slow to import

    present = spec.column_names if present is None else present
    columns = {
        c.name: pa.Column(None, checks=_check_for(c), nullable=c.nullable, required=False)
        for c in spec.columns if c.name in present
    }
    key = [k for k in spec.primary_key if k in present]
    return pa.DataFrameSchema(columns, unique=key if len(key) == len(spec.primary_key) and key else None,
                              report_duplicates="exclude_first", name=spec.name)


def plausibility_schema(spec: TableSpec, present: list[str] | None = None) -> pa.DataFrameSchema:
    """Soft ranges: values outside are warnings, not errors."""
    import pandera.pandas as pa  # imported when validating: it is slow to import

    present = spec.column_names if present is None else present
    columns = {}
    for c in spec.columns:
        if c.plausible and c.name in present:
            low, high = c.plausible
            columns[c.name] = pa.Column(None, pa.Check.in_range(low, high, error=f"is outside the plausible range {low:g}-{high:g}"),
                                        nullable=True, required=False)
    return pa.DataFrameSchema(columns, name=spec.name)


def render_markdown(specs: dict[str, TableSpec] | None = None) -> str:
    """The human-readable data dictionary (``data_dictionary/README.md``), generated from the YAML."""
    specs = specs or load_dictionary()
    out = [
        "# Data dictionary",
        "",
        "<!-- Generated from data_dictionary/*.yaml by `python -m evaluation dictionary`; do not edit by hand. -->",
        "",
        "A cohort is a folder of CSV files (UTF-8, header row, dates written YYYY-MM-DD). Only **teams**, "
        "**patients** and **measurements** are required; an analysis whose tables are absent is skipped with a note. "
        "Columns may be added; the columns below must keep these names. Blank cells mean missing.",
        "",
        "| table | file | required | key |",
        "|---|---|---|---|",
    ]
    for s in specs.values():
        out.append(f"| [{s.name}](#{s.name.replace('_', '-')}) | `{s.file}` | {'yes' if s.required else 'no'} | {', '.join(s.primary_key) or '-'} |")
    for s in specs.values():
        out += ["", f"## {s.name}", "", f"`{s.file}` ({'required' if s.required else 'optional'}). {s.description}", ""]
        if s.primary_key:
            out += [f"Each row is unique on: {', '.join(s.primary_key)}.", ""]
        out += ["| column | type | unit | column required | blank allowed | allowed values / range | description |",
                "|---|---|---|---|---|---|---|"]
        for c in s.columns:
            rules = []
            if c.allowed:
                rules.append(", ".join(f"`{a}`" for a in c.allowed))
            if c.range:
                rules.append(f"range {_fmt_range(c.range)}")
            if c.plausible:
                rules.append(f"plausible {_fmt_range(c.plausible)} (warning)")
            if c.references:
                rules.append(f"must match {c.references}")
            if c.identifier:
                rules.append("patient identifier: never in funder outputs")
            out.append(f"| `{c.name}` | {c.type} | {c.unit or ''} | {'yes' if c.required else 'no'} | "
                       f"{'yes' if c.nullable else 'no'} | {'; '.join(rules)} | {c.description} |")
        if s.measures:
            out += ["", "Known measures (values outside the plausible range are errors):", "",
                    "| measure | label | unit | plausible range | description |", "|---|---|---|---|---|"]
            for code, m in s.measures.items():
                out.append(f"| `{code}` | {m.get('label', '')} | {m.get('unit', '')} | {_fmt_range(m['plausible'])} | {m.get('description', '')} |")
    out += ["", "## Types", "",
            "- **string**: free text. **category**: one of the allowed values. **flag**: 0 or 1.",
            "- **integer** / **number**: digits with an optional decimal point; no thousands separators or units.",
            "- **date**: `YYYY-MM-DD` (spreadsheet serial numbers such as 42005 are rejected). **month**: `YYYY-MM`.", "",
            "## Result tables as readers see them", "",
            f"`{RESULTS_FILE}` is not an input table: it gives each result-table column a reader's label, unit and "
            "number format (count, number, percent, share, money, p-value, ratio, days, text or code), per-table "
            "overrides, and names for codes (`track=advanced` is \"Advanced track\"). Every funder output (the story "
            "page, DOCX, PDF, workbook and slides) labels and formats its tables from it; the CSVs keep the column "
            "names.", ""]
    return "\n".join(out)


def _fmt_range(r) -> str:
    low, high = r
    return f"{'' if low is None else f'{low:g}'}–{'' if high is None else f'{high:g}'}"
