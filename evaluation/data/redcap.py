"""A REDCap export as the contract's tables: collaboratives keep registries in REDCap, so a data folder may hold
the project's data dictionary and its records instead of the contract CSVs. :func:`load_redcap_tables` turns
them into the same text cells :func:`evaluation.data.readers.read_csv` gives for a CSV, so every parse and
validation rule of :mod:`evaluation.data.loading` applies unchanged.

Files, in the data folder (one of each; two candidates are an error naming both):

- the data dictionary: ``redcap_dictionary.csv`` or REDCap's own download name ``<Project>_DataDictionary_<date>.csv``
  (the 18-column CSV with headers "Variable / Field Name", "Form Name", ...), or the API's metadata export with
  snake_case headers (``field_name``, ``form_name``, ...) as CSV or as ``redcap_dictionary.json``;
- the records: ``redcap_records.csv`` or REDCap's ``<Project>_DATA_<date>.csv``, exported as CSV of *raw*
  values (codes, not labels: a ``_DATA_LABELS_`` file is refused), first column the record id;
  optional ``redcap_event_name`` (longitudinal projects), ``redcap_repeat_instrument`` and
  ``redcap_repeat_instance`` (repeating instruments), ``redcap_data_access_group``; a checkbox field comes
  as one ``field___code`` column per choice, 0 or 1;
- optionally ``redcap.yaml``: the mapping, whose schema is in :mod:`evaluation.data.redcap_mapping` (or the same
  mapping written in the params file's ``redcap.mapping``; not both).

The default layout, for every contract table the mapping leaves out: an instrument named like the table
(``patients``, ``qualitative_codings``) gives its rows; a column comes from the instrument's field of the
same name or, because REDCap names a field once in a whole project, named ``<instrument>_<column>``
(``events_kind``); a table's ``patient_id`` is the record id, and its ``team_id`` the record's data access
group, when the instrument has no such field. A table the mapping names takes its columns from the mapping
first, then from that same default. Rows: a non-repeating instrument gives one row per record (per event, in
a longitudinal project) that has any of its fields filled; a repeating one gives one row per instance.
Cells stay as REDCap exports them: dates YYYY-MM-DD, choice fields their raw codes (make them the contract's
codes), a checkbox field the codes ticked, in the dictionary's order, joined by commas. A field of another
(non-repeating) instrument is read from the same record. A data access group's unique name becomes the
team_id the mapping's ``data_access_groups`` gives it, else the export's team with that id in any case.
Fields that no column names are not read: a project holds far more than the contract, often notes about a
person.

Identifiers: every field marked Identifier? = y is dropped as the records are read, before anything else
(of a date the mapping reads ``as: year``, a date of birth, only the year is kept, which Safe Harbor allows);
a mapping that names one otherwise is refused with an error, and :func:`identifier_fields` lists them for the
disclosure gate. Problems are filed against the export as its user knows it (``redcap_records.csv [record
1042, event baseline_arm_1, instrument labs, instance 3]``, the records file's row, the REDCap field), and
:func:`locate_problems` moves the parser's and validator's problems about these tables there too.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd

from evaluation.core.dictionary import TableSpec, load_dictionary
from evaluation.core.errors import shown_value
from evaluation.core.problems import Problems
from .readers import WHITESPACE
from .redcap_export import (RedcapExport, choice_codes, export_files, find_redcap_export, identifier_fields,
                            identifier_values, read_redcap_dictionary)
from .redcap_mapping import SYSTEM_FIELDS, FieldSource, RedcapError, TableMapping, near_miss

__all__ = ["RedcapError", "RedcapExport", "RedcapTables", "choice_codes", "export_files", "find_redcap_export",
           "identifier_fields", "identifier_values", "load_redcap_tables", "locate_problems", "read_redcap_dictionary",
           "redcap_tables"]

CONVERT = {"year": (re.compile(r"^\d{4}-\d{2}-\d{2}"), 4, "a date written YYYY-MM-DD"),
           "month": (re.compile(r"^\d{4}-\d{2}(-\d{2})?"), 7, "a date or month written YYYY-MM-DD or YYYY-MM"),
           "date": (re.compile(r"^\d{4}-\d{2}-\d{2}"), 10, "a date or date-time written YYYY-MM-DD")}
DAG, EVENT, REPEAT, INSTANCE = SYSTEM_FIELDS[3], SYSTEM_FIELDS[0], SYSTEM_FIELDS[1], SYSTEM_FIELDS[2]
OTHER_COLUMNS = ("redcap_survey_identifier",)  # REDCap adds it to a survey project's export; never read


@dataclass(frozen=True)
class TableOrigin:
    """Where each row of one imported table came from, to file problems about it against the export."""

    label: str  # the instrument as messages name it: "redcap_records.csv [instrument labs]"
    fields: dict[str, str]  # column -> the REDCap field (or REDCap column) its cells came from
    rows: pd.DataFrame  # index: the table's rows; columns: label, row (of the records file), melt (code or "")
    melt_fields: dict[str, dict[str, str]] = field(default_factory=dict)  # melt code -> {column: field}


class RedcapTables(dict):
    """The contract tables read from an export (table name -> text cells); ``origins`` says where each row came
    from, for :func:`locate_problems`; ``instruments`` names the instrument of every table the export was read
    for, including those it could not give (their errors are filed); ``identifiers`` are the fields the data
    dictionary marks Identifier? = y, all dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.origins: dict[str, TableOrigin] = {}
        self.instruments: dict[str, str] = {}
        self.identifiers: set[str] = set()


class _Records:
    """The records file read as text cells, identifiers already dropped, with each field's cells at hand."""

    def __init__(self, export: RedcapExport, frame: pd.DataFrame, problems: Problems):
        self.export, self.frame, self.problems = export, frame, problems
        self.name = shown_value(export.records_file.name, limit=200)
        self.rid = export.record_id
        info = export.dictionary.set_index("field_name")
        self.types, self.forms = info["field_type"].to_dict(), info["form_name"].to_dict()
        self.codes = {f: choice_codes(t, c) for f, t, c in zip(info.index, info["field_type"], info["choices"])}
        self.blank = pd.Series("", index=frame.index, dtype="str")
        self.checkboxes: dict[str, dict[str, str]] = {}  # checkbox field -> {records column: code}
        self.year_only: set[str] = set()  # identifier dates of which only the year was kept
        self._cache: dict[str, pd.Series] = {}

    def column(self, name: str) -> pd.Series:
        return self.frame[name] if name in self.frame.columns else self.blank

    def has(self, name: str) -> bool:
        return name in self.frame.columns or bool(self.checkboxes.get(name))

    def values(self, name: str) -> pd.Series:
        """A field's cells on every row: a checkbox field's ticked codes joined by commas."""
        if name not in self._cache:
            if name in self.checkboxes:
                joined = self.blank
                for column, code in self.checkboxes[name].items():
                    ticked = self.frame[column] == "1"
                    joined = joined.where(~ticked, joined.where(joined == "", joined + ",") + code)
                self._cache[name] = joined
            else:
                self._cache[name] = self.column(name)
        return self._cache[name]

    def data_columns(self, instrument: str) -> list[str]:
        """The records columns holding an instrument's data (its fields but the record id, its checkboxes)."""
        out = []
        for name in self.export.fields_of(instrument):
            if name in self.checkboxes:
                out += list(self.checkboxes[name])
            elif name in self.frame.columns and name != self.rid:
                out.append(name)
        return out


def _read_records(export: RedcapExport, problems: Problems) -> _Records | None:
    """The records as text cells (rows numbered as a spreadsheet shows them), identifiers dropped first."""
    name = shown_value(export.records_file.name, limit=200)
    try:
        text = export.records_file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add(name, None, None, "error", "is not UTF-8; export the records from REDCap again as CSV")
        return None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problems.add(name, None, None, "error", f"is not a well-formed CSV file: {shown_value(exc, limit=200)}")
        return None
    frame.columns = [str(c).strip(WHITESPACE) for c in frame.columns]
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    identifiers = identifier_fields(export)
    checkbox_fields = {f for f, t in zip(export.dictionary["field_name"], export.dictionary["field_type"]) if t == "checkbox"}
    dropped = [c for c in frame.columns if c in identifiers or c.split("___")[0] in (identifiers & checkbox_fields)]
    years = _years_of_identifiers(export, frame, identifiers, name, problems)
    frame = frame.drop(columns=dropped).assign(**years)  # before anything else reads a cell
    if dropped:
        kept = f"; of {', '.join(years)} only the year is kept (`as: year` in the mapping)" if years else ""
        problems.add(name, None, None, "note", f"{len(dropped)} identifier column(s) (Identifier? = y in the data "
                                              f"dictionary) dropped on import: {', '.join(dropped)}{kept}")
    frame = frame.apply(lambda s: s.str.strip(WHITESPACE)).astype("str") if len(frame.columns) else frame
    records = _Records(export, frame, problems)
    records.year_only = set(years)
    if records.rid in identifiers:
        problems.add(name, None, records.rid, "error", "the record id field is marked Identifier? = y, so no record "
                     "can be told apart; export a pseudonymous record id (unmark it, or use REDCap's hashed record id)")
        return None
    if records.rid not in frame.columns:
        problems.add(name, 1, records.rid, "error", "the record id field is not a column of the records; "
                                                     "export them with it (it is the first column REDCap writes)")
        return None
    _check_header(records, checkbox_fields)
    unnamed = frame[records.rid] == ""
    problems.add_rows(name, frame.index[unnamed], records.rid, "error", "row has no record id; it is not read")
    records.frame = frame[~unnamed]
    records.blank = records.blank[~unnamed]
    return records


def _years_of_identifiers(export: RedcapExport, frame: pd.DataFrame, identifiers: set[str], name: str,
                          problems: Problems) -> dict[str, pd.Series]:
    """The year alone of each identifier date the mapping reads ``as: year`` (a date of birth marked Identifier? = y
    becomes birth_year; Safe Harbor allows the year): every other character is gone before any rule reads the
    cell, and a cell that is not a date is reported without being shown."""
    pattern = CONVERT["year"][0]
    wanted = {s.field for t in export.mapping.tables.values() for s in t.columns.values()
              if s.conversion == "year" and s.field in identifiers and s.field in frame.columns}
    years = {}
    for field_name in sorted(wanted):
        cells = frame[field_name].str.strip(WHITESPACE)
        ok = cells.str.match(pattern) | (cells == "")
        for row in frame.index[~ok]:
            record = f" [record {shown_value(frame.at[row, export.record_id])}]" if export.record_id in frame else ""
            problems.add(name + record, row, field_name, "error", "is not a date written YYYY-MM-DD, so `as: year` "
                         "cannot read it (the cell is not shown: the field is an identifier); correct it in REDCap")
        years[field_name] = cells.str[:4].where(ok, "")
    return years


def _check_header(records: _Records, checkbox_fields: set[str]) -> None:
    """Match each checkbox column to its field and code; note columns that are no field of the dictionary."""
    forms = set(records.forms.values())
    for column in records.frame.columns:
        stem, sep, suffix = column.partition("___")
        if sep and stem in checkbox_fields:
            # REDCap writes a code in lower case, "-" as "_"; before version 5.5.21 it dropped the underscores
            spelled = {spelling: code for code in records.codes[stem]
                       for spelling in (code.lower().replace("-", "_"), code.lower().replace("_", ""))}
            if suffix in spelled:
                records.checkboxes.setdefault(stem, {})[column] = spelled[suffix]
                continue
            why = f"is not a choice of the checkbox field {stem}{near_miss(suffix, records.codes[stem], 'codes')}"
        elif column in records.types or column in SYSTEM_FIELDS or column in OTHER_COLUMNS or (
                column.rsplit("_", 1)[-1] in ("complete", "timestamp") and column.rsplit("_", 1)[0] in forms):
            continue
        else:
            why = "is not a field of the data dictionary"
        records.problems.add(records.name, 1, column, "warning", f"column {why}; not read")


def _labels(records: _Records, rows: pd.Index, instrument: str) -> pd.Series:
    """Each row as its user knows it: ``redcap_records.csv [record 7, event baseline_arm_1, instrument labs, instance 2]``."""
    frame = records.frame.loc[rows]
    text = f"{records.name} [record " + frame[records.rid].map(shown_value)
    if EVENT in frame.columns:
        text = text + (", event " + frame[EVENT].map(shown_value)).where(frame[EVENT] != "", "")
    text = text + f", instrument {instrument}"
    if INSTANCE in frame.columns:
        text = text + (", instance " + frame[INSTANCE].map(shown_value)).where(frame[INSTANCE] != "", "")
    return text + "]"


def _default_source(records: _Records, instrument: str, column: str) -> FieldSource | None:
    """A column's field in the default layout (see the module docstring), or None."""
    own = set(records.export.fields_of(instrument)) - identifier_fields(records.export)
    for name in (column, f"{instrument}_{column}"):
        if name in own and records.has(name):
            return FieldSource(name)
    if column == "patient_id":
        return FieldSource(records.rid)
    if column == "team_id" and DAG in records.frame.columns:
        return FieldSource(DAG)
    return None


def _melt_groups(table: TableMapping) -> dict[str, dict[str, str]]:
    """Measure code -> {column: field} of ``melt`` (value) or ``melt_pairs`` (numerator, denominator)."""
    if table.melt:
        return {code: {"value": f} for code, f in table.melt.items()}
    return {code: {"numerator": n, "denominator": d} for code, (n, d) in table.melt_pairs.items()}


def _readable(records: _Records, spec: TableSpec, table: TableMapping, column: str, name: str,
              conversion: str | None = None) -> bool:
    """May the mapping's field be read? An identifier is refused (but for the year of a date, ``as: year``); a
    field missing from the records is reported."""
    where = f"{records.name} [instrument {table.instrument}]"
    if name in identifier_fields(records.export) and not (name in records.year_only and conversion == "year"):
        records.problems.add(where, None, name, "error", f"redcap.yaml maps the identifier field {name} "
                             f"(Identifier? = y) to {spec.name} {column}: refused, identifiers are never read; "
                             "map another field, or unmark it in the data dictionary if it identifies no one")
        return False
    if not records.has(name):
        records.problems.add(where, None, name, "error", f"redcap.yaml maps the field {name} to {spec.name} {column}, "
                                                         "but the records have no such column; export them with it")
        return False
    return True


def _plan(records: _Records, spec: TableSpec, table: TableMapping) -> tuple[dict[str, FieldSource], dict] | None:
    """Each column's source and the melt groups that can be read; None (after filing why) when a required
    column can have no cells."""
    groups = {code: fields for code, fields in _melt_groups(table).items()
              if all([_readable(records, spec, table, f"measure {code}", f) for f in fields.values()])}
    shapes = list(_melt_groups(table).values())
    melted = {"measure", *shapes[0]} if shapes else set()  # the columns melting fills
    sources: dict[str, FieldSource] = {}
    refused: list[str] = []
    for column in spec.column_names:
        if column in melted:
            continue
        if column in table.columns:
            if _readable(records, spec, table, column, table.columns[column].field, table.columns[column].conversion):
                sources[column] = table.columns[column]
            else:
                refused.append(column)
        elif (found := _default_source(records, table.instrument, column)) is not None:
            sources[column] = found
    required = {c.name for c in spec.columns if c.required}
    missing = [c for c in spec.column_names if c in required and c not in sources and c not in melted | set(refused)]
    where = f"{records.name} [instrument {table.instrument}]"
    identifiers = identifier_fields(records.export)
    for column in missing:
        fields = [f for f in records.export.fields_of(table.instrument) if f not in identifiers]
        marked = [f for f in (column, f"{table.instrument}_{column}") if f in identifiers]
        if marked:
            records.problems.add(where, None, marked[0], "error", f"{spec.name} needs the column {column}, but its field "
                                 f"{marked[0]} is marked Identifier? = y, and identifiers are never read; unmark it in "
                                 "the data dictionary if it identifies no one (a shifted or pseudonymous value), or "
                                 "map another field to it in redcap.yaml")
            continue
        records.problems.add(where, None, column, "error", f"{spec.name} needs the column {column}, but the instrument "
                             f"{table.instrument} has no field {column} (or {table.instrument}_{column}) and redcap.yaml "
                             f"maps none to it{near_miss(column, fields, 'fields of ' + table.instrument)}")
    if melted and not groups:
        records.problems.add(where, None, None, "error", f"no field that redcap.yaml melts into {spec.name} can be read")
    if missing or required & set(refused) or (melted and not groups):
        return None
    return sources, groups


def _rows_of(records: _Records, instrument: str) -> pd.Index:
    """The rows of the records that hold an instrument: its instances, or the records (per event) with data in it."""
    frame = records.frame
    mine = records.column(REPEAT).isin(["", instrument])
    columns = records.data_columns(instrument)
    if not columns:
        return frame.index[:0]
    boxes = {c for f in records.checkboxes.values() for c in f}
    filled = pd.concat([(frame[c] == "1") if c in boxes else (frame[c] != "") for c in columns], axis=1).any(axis=1)
    return frame.index[mine & filled]


def _cells(records: _Records, source: FieldSource, rows: pd.Index, instrument: str, labels: pd.Series,
           teams: dict[str, str]) -> pd.Series:
    """One column's text cells for these rows: the field's value (from the same record when the field belongs to
    another instrument), a data access group as its team, a date converted by ``as``."""
    name, problems = source.field, records.problems
    cells = records.values(name).loc[rows]
    if name == DAG or (name in records.forms and records.forms[name] != instrument and name != records.rid):
        everywhere = pd.DataFrame({"record": records.frame[records.rid], "value": records.values(name)})
        filled = everywhere[everywhere["value"] != ""].drop_duplicates()
        several = filled["record"].duplicated(keep=False)
        single = filled[~several].set_index("record")["value"]
        record = records.frame.loc[rows, records.rid]
        cells = cells.where(cells != "", record.map(single).fillna(""))
        for rid in sorted(set(filled.loc[several, "record"]) & set(record[cells == ""])):
            values = ", ".join(shown_value(v) for v in filled.loc[filled["record"] == rid, "value"])
            problems.add(f"{records.name} [record {shown_value(rid)}]", None, name, "error",
                         f"the field has several values in this record ({values}: in several events or instances), "
                         f"so the rows of {instrument} take none; map a field of {instrument} instead")
    if name == DAG:
        groups = records.export.mapping.data_access_groups
        if groups:
            for group in sorted(set(cells) - set(groups) - {""}):
                problems.add(records.name, None, DAG, "error", f"the data access group '{shown_value(group)}' has no "
                                                               "team in redcap.yaml's data_access_groups; add it")
            cells = cells.map(lambda g: groups.get(g, g))
        else:
            cells = cells.map(lambda g: teams.get(g.lower(), g))
    if source.conversion and name not in records.year_only:  # an identifier's year was cut as the records were read
        pattern, width, what = CONVERT[source.conversion]
        ok = cells.str.match(pattern) | (cells == "")
        for row in cells.index[~ok]:
            problems.add(labels.loc[row], row, name, "error", f"'{shown_value(cells.loc[row])}' is not {what}, so "
                         f"`as: {source.conversion}` cannot read it; correct it in REDCap")
        cells = cells.str[:width].where(ok, "")  # a cell that is not a date never survives whole (a birth date)
    return cells.astype("str")


def _check_cells(records: _Records, spec: TableSpec, sources: dict[str, FieldSource], rows: pd.Index,
                 labels: pd.Series) -> None:
    """Checkbox cells must be 0 or 1; a choice field's codes should be the contract's allowed values."""
    problems = records.problems
    for column, source in sources.items():
        for box in records.checkboxes.get(source.field, {}):
            bad = ~records.frame.loc[rows, box].isin(["", "0", "1"])
            for row in rows[bad]:
                problems.add(labels.loc[row], row, box, "error",
                             f"'{shown_value(records.frame.loc[row, box])}' is not a ticked (1) or unticked (0) box")
        allowed = spec.column(column).allowed
        codes = records.codes.get(source.field) or {}
        foreign = [c for c in codes if allowed and c not in allowed]
        if foreign:
            problems.add(shown_value(records.export.dictionary_file.name, limit=200), None, source.field, "warning",
                         f"the field's choice codes {', '.join(foreign)} are not codes of {spec.name}.{column} "
                         f"({', '.join(allowed)}); give the field the contract's codes in REDCap")


def _melt(frame: pd.DataFrame, records: _Records, groups: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Wide fields to measure rows: one row per filled field (``melt``) or filled pair (``melt_pairs``), each
    record row's measures together in the mapping's order. Columns ``_source`` (the records row), ``_melt``."""
    pieces = []
    for order, (code, fields) in enumerate(groups.items()):
        cells = {column: records.values(f).loc[frame.index] for column, f in fields.items()}
        keep = pd.concat([c != "" for c in cells.values()], axis=1).any(axis=1)
        piece = frame[keep].assign(measure=code, **{column: c[keep] for column, c in cells.items()})
        pieces.append(piece.assign(_source=piece.index, _order=order, _melt=code))
    long = pd.concat(pieces, ignore_index=True).sort_values(["_source", "_order"], kind="stable")
    return long.drop(columns="_order")


def _build(records: _Records, spec: TableSpec, table: TableMapping, teams: dict[str, str],
           tables: RedcapTables) -> None:
    """One contract table from its instrument, with where each row came from."""
    plan = _plan(records, spec, table)
    if plan is None:
        return
    sources, groups = plan
    rows = _rows_of(records, table.instrument)
    label = f"{records.name} [instrument {table.instrument}]"
    if rows.empty:
        records.problems.add(label, None, None, "error" if spec.required else "warning",
                             f"no record holds the instrument {table.instrument}, so {spec.name} has no rows" +
                             ("" if spec.required else "; the analyses that need it are skipped"))
    labels = _labels(records, rows, table.instrument)
    frame = pd.DataFrame({c: _cells(records, s, rows, table.instrument, labels, teams) for c, s in sources.items()},
                         index=rows, columns=list(sources), dtype="str")
    _check_cells(records, spec, sources, rows, labels)
    if groups:
        frame = _melt(frame, records, groups)
    else:
        frame = frame.assign(_source=frame.index, _melt="")
    origin_rows = pd.DataFrame({"label": labels.loc[frame["_source"]].to_numpy(), "row": frame["_source"].to_numpy(),
                                "melt": frame["_melt"].to_numpy()}, index=pd.RangeIndex(2, len(frame) + 2))
    frame = frame[[c for c in spec.column_names if c in frame.columns]].astype("str")
    frame.index = origin_rows.index  # numbered as a CSV of this table would be
    tables[spec.name] = frame
    melt_fields = {code: {**fields, "measure": next(iter(fields.values()))} for code, fields in groups.items()}
    tables.origins[spec.name] = TableOrigin(label, {c: s.field for c, s in sources.items()}, origin_rows, melt_fields)


def redcap_tables(export: RedcapExport, problems: Problems) -> RedcapTables:
    """The contract tables an export holds, as text cells shaped like :func:`evaluation.data.readers.read_csv`'s
    (the table's columns in dictionary order, str cells, "" for blank, rows numbered from 2); tables the export
    does not hold are absent. Problems are filed against the export (see the module docstring)."""
    tables = RedcapTables()
    tables.identifiers = identifier_fields(export)
    records = _read_records(export, problems)
    if records is None:
        return tables
    forms = list(dict.fromkeys(export.dictionary["form_name"]))
    used: set[str] = set()
    teams: dict[str, str] = {}
    for name, spec in load_dictionary().items():
        table = export.mapping.tables.get(name) or (TableMapping(name) if name in forms else None)
        if table is None:
            continue
        used.add(table.instrument)
        tables.instruments[name] = f"{records.name} [instrument {table.instrument}]"
        _build(records, spec, table, teams, tables)
        if name == "teams" and "team_id" in tables.get(name, {}):
            teams = {t.lower(): t for t in tables[name]["team_id"] if t}
    read = {f for o in tables.origins.values() for f in [*o.fields.values(), *(f for m in o.melt_fields.values()
                                                                             for f in m.values())]}
    used |= {records.forms[f] for f in read - {records.rid} if f in records.forms}
    for form in forms:
        if form not in used and not _rows_of(records, form).empty:
            problems.add(f"{records.name} [instrument {form}]", None, None, "note", "the instrument is not a table of "
                         "the data contract and redcap.yaml maps none to it; not read")
    return tables


def locate_problems(quality: pd.DataFrame, tables: RedcapTables) -> pd.DataFrame:
    """The data-quality table with each problem about an imported table moved to where its user finds it in the
    export: the record, event, instrument and instance, the records file's row and the REDCap field. When the
    importer and a later check both found a cell wrong, the importer's message (it says what the cell held) stays."""
    specs = load_dictionary()
    out = quality.copy()
    moved = pd.Series(False, index=out.index)
    for name, origin in tables.origins.items():
        for i in out.index[out["table"] == specs[name].file]:
            row, column = out.at[i, "row"], out.at[i, "column"]
            if pd.isna(row) or int(row) not in origin.rows.index:  # about the whole table (or its header)
                out.at[i, "table"], out.at[i, "row"], out.at[i, "column"] = origin.label, pd.NA, origin.fields.get(column, column)
                continue
            where = origin.rows.loc[int(row)]
            fields = {**origin.fields, **origin.melt_fields.get(where["melt"], {})}
            out.at[i, "table"], out.at[i, "row"], out.at[i, "column"] = where["label"], int(where["row"]), fields.get(column, column)
            moved.at[i] = True
    cell = out["table"].astype(str) + "\x1f" + out["row"].astype(str) + "\x1f" + out["column"].astype(str)
    errors = (out["severity"] == "error") & out["row"].notna()
    again = errors & moved & cell.isin(set(cell[errors & ~moved]))
    return out[~again].reset_index(drop=True)


def load_redcap_tables(data_dir: str | Path, problems: Problems, written: Mapping | None = None,
                       params_file: str | Path | None = None) -> RedcapTables | None:
    """The contract tables of the REDCap export in a data folder (None when it holds none), mapped by its
    ``redcap.yaml`` or the params file's ``redcap.mapping`` (``written``). An export that cannot be read (a bad
    dictionary, a mapping with mistakes) is filed as errors, each naming its key."""
    try:
        export = find_redcap_export(data_dir, written, params_file)
    except RedcapError as exc:
        for key, message in exc.problems:
            problems.add(shown_value(Path(exc.path).name, limit=200), None, key or None, "error", message)
        return RedcapTables()
    return None if export is None else redcap_tables(export, problems)
