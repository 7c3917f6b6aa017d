"""A synthetic cohort as a REDCap export (data dictionary, raw records and ``redcap.yaml``), so the REDCap
importer (:mod:`evaluation.data.redcap`) is exercised end to end on data whose contract tables are known.

The project it writes holds three kinds of record in one project, as a collaborative's registry might:
a record per patient (id = patient_id; data access group = the patient's team) with the non-repeating
instrument ``patients`` and the repeating ``labs``, ``mtps`` and ``utilization``; a record per team (id =
team_id; its data access group) with ``teams`` and the repeating team-level instruments (``monthly_report``,
``milestones``, ...); and one record ``collaborative`` with the repeating ``events`` and qualitative
instruments. Every table is in the default layout (instrument = table, field = column, or
``<instrument>_<column>`` where REDCap's one-name-per-project rule needs it; patient_id from the record id,
team_id from the data access group) except two that ``redcap.yaml`` maps: measurements, melted from the wide
lab fields of ``labs`` (one instance per patient and date), and monthly_reports, from the ``_num``/``_den``
pairs of ``monthly_report`` (one instance per team and month). The patients instrument also holds two made-up
identifier fields (``patient_name``, ``patient_phone``, Identifier? = y) that the importer must drop.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from evaluation.core.dictionary import ColumnSpec, TableSpec, load_dictionary
from ..redcap_export import MAPPING_NAME, UI_HEADERS

DICTIONARY_FILE, RECORDS_FILE = "redcap_dictionary.csv", "redcap_records.csv"
UI_COLUMNS = ("Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
              "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
              "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
              "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
              "Matrix Ranking?", "Field Annotation")  # REDCap's Data Dictionary download, in its order
RECORD_ID, COLLABORATIVE = "record_id", "collaborative"
SYSTEM = ("redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group")
NON_REPEATING = ("patients", "teams")
LONG_TEXT = ("aim_statement", "text", "definition", "title", "change_idea")
VALIDATION = {"date": "date_ymd", "integer": "integer", "number": "number"}
FIRST_NAMES = ("Avery", "Jordan", "Rosa", "Hank", "Mei", "Tomas", "Ines", "Dev", "Greta", "Kofi", "Lena", "Omar")
LAST_NAMES = ("Quill", "Marlow", "Penrose", "Okafor", "Lindqvist", "Barros", "Tanaka", "Whitlock", "Duarte", "Ivers", "Hale")
INSTRUMENTS = {"measurements": "labs", "monthly_reports": "monthly_report"}  # the two tables redcap.yaml maps


def _dag(team_id: str) -> str:
    """A data access group's unique name as REDCap makes it from the group's name: lower case, _ for the rest."""
    return re.sub(r"[^a-z0-9]+", "_", team_id.lower()).strip("_")


def _fake_name(i: int) -> str:
    return f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[(i * 7 + i // len(FIRST_NAMES)) % len(LAST_NAMES)]}"


def _fake_phone(i: int) -> str:
    return f"(555) 01{i % 100:02d}-{1000 + i % 9000:04d}"  # 555-01xx: numbers set aside for fiction


def _owner(spec: TableSpec) -> str:
    """Which records hold the table: the patients', the teams', or the collaborative's one record."""
    names = spec.column_names
    if "patient_id" in names:
        return "patient"
    team = next((c for c in spec.columns if c.name == "team_id"), None)
    return "team" if team is not None and team.required and not team.nullable else "collaborative"


def _field_row(name: str, form: str, column: ColumnSpec | None, identifier: bool = False, label: str = "") -> dict:
    kind, choices = "text", ""
    if column is not None and column.allowed:
        kind, choices = "dropdown", " | ".join(f"{a}, {a if len(a) < 3 else a.replace('_', ' ').capitalize()}"
                                               for a in column.allowed)
    elif column is not None and column.type == "flag":
        kind = "yesno"
    elif column is not None and column.name in LONG_TEXT:
        kind = "notes"
    row = dict.fromkeys(UI_COLUMNS, "")
    row.update({UI_HEADERS[0]: name, UI_HEADERS[1]: form, UI_HEADERS[2]: kind, UI_HEADERS[3]: choices,
                "Field Label": label or (column.description if column is not None else name),
                UI_HEADERS[4]: VALIDATION.get(column.type, "") if column is not None else "",
                UI_HEADERS[5]: "y" if identifier else ""})
    return row


class _Project:
    """The fields and the rows of the export as they are built, instrument by instrument."""

    def __init__(self) -> None:
        self.fields: list[dict] = []
        self.names: set[str] = set()
        self.rows: list[dict] = []  # each: record, instrument ("" for a non-repeating one), instance, cells
        self.dags: dict[str, str] = {}

    def field(self, column: str, form: str, spec_column: ColumnSpec | None, **kw) -> str:
        """Add a field for a column: its own name, or ``<form>_<column>`` when another instrument has it."""
        name = column if column not in self.names else f"{form}_{column}"
        self.names.add(name)
        self.fields.append(_field_row(name, form, spec_column, **kw))
        return name

    def add(self, record: str, form: str, instance: int | str, cells: dict[str, str]) -> None:
        repeating = form not in NON_REPEATING
        self.rows.append({RECORD_ID: record, "redcap_repeat_instrument": form if repeating else "",
                          "redcap_repeat_instance": str(instance) if repeating else "", "_form": form, **cells})


def _read(cohort_dir: Path, spec: TableSpec) -> pd.DataFrame | None:
    path = cohort_dir / spec.file
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


def _plain(project: _Project, spec: TableSpec, df: pd.DataFrame) -> None:
    """A table in the default layout: one field per column (but the record id and the data access group)."""
    owner, form = _owner(spec), spec.name
    skip = {"patient": {"patient_id", "team_id"} if spec.name == "patients" else {"patient_id"},
            "team": {"team_id"} if spec.name != "teams" else set(), "collaborative": set()}[owner]
    if spec.name == "patients":
        project.field("patient_name", form, None, identifier=True, label="Patient's name (made up)")
        project.field("patient_phone", form, None, identifier=True, label="Patient's phone (made up)")
    fields = {c.name: project.field(c.name, form, c) for c in spec.columns if c.name in df.columns and c.name not in skip}
    key = {"patient": "patient_id", "team": "team_id", "collaborative": None}[owner]
    counts: dict[str, int] = {}
    for i, row in enumerate(df.to_dict("records")):
        record = row[key] if key else COLLABORATIVE
        counts[record] = counts.get(record, 0) + 1
        cells = {name: row[column] for column, name in fields.items()}
        if spec.name == "patients":
            cells.update(patient_name=_fake_name(i), patient_phone=_fake_phone(i))
            project.dags[record] = _dag(row["team_id"])
        if spec.name == "teams":
            project.dags[record] = _dag(row["team_id"])
        project.add(record, form, counts[record], cells)


def _wide(project: _Project, spec: TableSpec, df: pd.DataFrame, key: str, when: str) -> dict:
    """measurements or monthly_reports as one instance per (record, date) with a field (or a pair) per measure;
    returns the table's entry of ``redcap.yaml``."""
    form = INSTRUMENTS[spec.name]
    date_field = project.field("lab_date" if spec.name == "measurements" else "report_month", form, spec.column(when))
    codes = list(dict.fromkeys(df["measure"]))
    if spec.name == "measurements":
        melt = {code: project.field(f"lab_{code}", form, spec.column("value"), label=f"{code} result") for code in codes}
        values = {code: {"value": f} for code, f in melt.items()}  # measure -> {column: field}
    else:
        stems = [code.split("_")[0] for code in codes]
        stems = stems if len(set(stems)) == len(stems) else codes
        melt = {code: [project.field(f"{s}_num", form, spec.column("numerator"), label=f"{code} numerator"),
                       project.field(f"{s}_den", form, spec.column("denominator"), label=f"{code} denominator")]
                for code, s in zip(codes, stems)}
        values = {code: {"numerator": n, "denominator": d} for code, (n, d) in melt.items()}
    df = df.assign(_copy=df.groupby([key, when, "measure"], sort=False).cumcount())  # a repeated key: a new instance
    instances: dict[tuple, dict[str, str]] = {}
    for row in df.to_dict("records"):
        cells = instances.setdefault((row[key], row[when], row["_copy"]), {date_field: row[when]})
        cells.update({field: row[column] for column, field in values[row["measure"]].items()})
    counts: dict[str, int] = {}
    for (record, _, _), cells in instances.items():
        counts[record] = counts.get(record, 0) + 1
        project.add(record, form, counts[record], cells)
    columns = {"patient_id": RECORD_ID, "measured_on": date_field} if spec.name == "measurements" else \
        {"team_id": "redcap_data_access_group", "month": date_field}
    return {"instrument": form, "columns": columns, ("melt" if spec.name == "measurements" else "melt_pairs"): melt}


def write_redcap(cohort_dir: str | Path, out_dir: str | Path) -> Path:
    """Write a cohort folder's tables as a REDCap export (``redcap_dictionary.csv``, ``redcap_records.csv``,
    ``redcap.yaml``) into ``out_dir``; returns ``out_dir``. Tables the cohort lacks are left out."""
    cohort_dir, out = Path(cohort_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    project = _Project()
    project.fields.append(_field_row(RECORD_ID, "", None, label="Record ID"))
    project.names.add(RECORD_ID)
    mapping: dict = {"record_id": RECORD_ID, "tables": {}}
    for spec in load_dictionary().values():
        df = _read(cohort_dir, spec)
        if df is None:
            continue
        if spec.name == "measurements":
            mapping["tables"][spec.name] = _wide(project, spec, df, "patient_id", "measured_on")
        elif spec.name == "monthly_reports":
            mapping["tables"][spec.name] = _wide(project, spec, df, "team_id", "month")
        else:
            _plain(project, spec, df)
    project.fields[0]["Form Name"] = project.fields[1]["Form Name"]  # the record id opens the first instrument
    forms = list(dict.fromkeys(f["Form Name"] for f in project.fields))
    by_form = {form: [f["Variable / Field Name"] for f in project.fields if f["Form Name"] == form] for form in forms}
    header = [RECORD_ID, *SYSTEM] + [c for form in forms for c in [*(f for f in by_form[form] if f != RECORD_ID),
                                                                   f"{form}_complete"]]
    records = list(dict.fromkeys(r[RECORD_ID] for r in project.rows))
    rows: dict[str, list[dict]] = {}
    for row in project.rows:
        rows.setdefault(row[RECORD_ID], []).append(row)
    lines = []
    for record in records:  # a record's non-repeating instruments share its first row, then its instances
        base = {RECORD_ID: record}
        for row in rows[record]:
            if not row["redcap_repeat_instrument"]:
                base.update({k: v for k, v in row.items() if not k.startswith("_")}, **{f"{row['_form']}_complete": "2"})
        ordered = ([base] if len(base) > 1 else []) + sorted(
            (r for r in rows[record] if r["redcap_repeat_instrument"]), key=lambda r: forms.index(r["_form"]))
        for row in ordered:
            cells = {k: v for k, v in row.items() if not k.startswith("_")}
            if "_form" in row:
                cells[f"{row['_form']}_complete"] = "2"
            lines.append({**cells, "redcap_data_access_group": project.dags.get(record, "")})
    pd.DataFrame(lines, columns=header, dtype=object).fillna("").to_csv(out / RECORDS_FILE, index=False)
    pd.DataFrame(project.fields, columns=list(UI_COLUMNS)).to_csv(out / DICTIONARY_FILE, index=False)
    text = ("# How this synthetic REDCap export maps to the data contract (schema: evaluation/data/redcap_mapping.py).\n"
            "# Tables not named here follow the default layout.\n")
    (out / MAPPING_NAME).write_text(text + yaml.safe_dump(mapping, sort_keys=False, width=120), encoding="utf-8")
    return out
