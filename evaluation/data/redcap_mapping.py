"""The REDCap mapping file (``redcap.yaml``): how a REDCap project's instruments and fields become the contract's
tables and columns, read and checked once so that every mistake is named with its key, its value and the
nearest right one ("did you mean").

The schema (every key optional; see :mod:`evaluation.data.redcap` for the default layout a table left out of
``tables`` follows)::

    record_id: record_id            # the records' id field; default: the data dictionary's first field
    data_access_groups:             # a data access group's unique name -> the team_id it stands for
      t01: T01                      #   (default: a team of the export's teams table with the same id in any
                                    #   case, else the group's name as it is)
    tables:
      <contract table>:             # e.g. patients, measurements, monthly_reports
        instrument: <form name>     # required: the instrument whose rows (records, or instances) are the rows
        columns:                    # contract column -> a field, or {field: <field>, as: year | month | date}
          patient_id: record_id
          birth_year: {field: dob, as: year}     # the year of a date (the full date is never kept)
        melt: {a1c: lab_a1c}        # tables with measure and value: one row per filled field, measure = key
        melt_pairs: {a1c_at_goal: [a1c_num, a1c_den]}   # tables with measure, numerator and denominator

A field is any field of the data dictionary or one of the columns REDCap adds to the records
(:data:`SYSTEM_FIELDS`). This module knows the dictionary only as the DataFrame
:func:`evaluation.data.redcap.read_redcap_dictionary` returns, so it imports nothing above it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from evaluation.core.dictionary import TableSpec, load_dictionary
from evaluation.core.errors import EvaluationError, shown_value

# Columns REDCap adds to a records export beside the project's fields (a mapping may name them as fields).
SYSTEM_FIELDS = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group")
CONVERSIONS = ("year", "month", "date")  # `as:` a date's YYYY, its YYYY-MM, or a datetime's YYYY-MM-DD
TOP_KEYS = ("record_id", "data_access_groups", "tables")
TABLE_KEYS = ("instrument", "columns", "melt", "melt_pairs")
COLUMN_KEYS = ("field", "as")
MELTS = {"melt": ("measure", "value"), "melt_pairs": ("measure", "numerator", "denominator")}  # columns each sets


class RedcapError(EvaluationError):
    """A REDCap export that cannot be read: a file that is not what its name says, or a mapping with mistakes.
    ``problems`` holds (key, message) pairs, every one found, so all are fixed in one go."""

    def __init__(self, path: str | Path, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [message for _, message in problems]
        text = lines[0] if len(lines) == 1 else f"{len(lines)} problems:\n  - " + "\n  - ".join(lines)
        super().__init__(f"{Path(path).name}: {text}")


@dataclass(frozen=True)
class FieldSource:
    """Where one column's cells come from: a field (or a REDCap column), optionally converted (``as``)."""

    field: str
    conversion: str | None = None  # one of CONVERSIONS


@dataclass(frozen=True)
class TableMapping:
    """How one contract table is built from one instrument."""

    instrument: str
    columns: dict[str, FieldSource] = field(default_factory=dict)
    melt: dict[str, str] = field(default_factory=dict)  # measure code -> field
    melt_pairs: dict[str, tuple[str, str]] = field(default_factory=dict)  # measure code -> (numerator, denominator)


@dataclass(frozen=True)
class RedcapMapping:
    """A checked ``redcap.yaml`` (an empty one when the export has none: the default layout throughout)."""

    record_id: str | None = None
    data_access_groups: dict[str, str] = field(default_factory=dict)
    tables: dict[str, TableMapping] = field(default_factory=dict)


def near_miss(value: Any, options, what: str) -> str:
    """"; did you mean 'x'?" for the closest option, else the options (or a word that there are none)."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    if not options:
        return f"; there are no {what}"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"; the {what} are: {shown}"


class _Checker:
    """Collects every mistake of one mapping file as (key, message) pairs."""

    def __init__(self, dictionary: pd.DataFrame, prefix: str = ""):
        self.problems: list[tuple[str, str]] = []
        self.fields = list(dictionary["field_name"])
        self.forms = list(dict.fromkeys(dictionary["form_name"]))
        self.specs = load_dictionary()
        self.prefix = prefix  # "redcap.mapping." for a mapping written in the params file

    def add(self, key: str, message: str) -> None:
        key = self.prefix + key if key != "redcap.yaml" else (self.prefix.rstrip(".") or key)
        self.problems.append((key, f"`{key}`: {message}"))

    def keys(self, raw: Mapping, allowed: tuple[str, ...], key: str) -> None:
        for name in raw:
            if name not in allowed:
                where = f"{key}.{name}" if key else str(name)
                self.add(where, f"unknown key{near_miss(name, allowed, 'keys here')}")

    def mapping(self, value: Any, key: str) -> Mapping | None:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(key, f"must be a mapping (key: value lines); got {shown_value(repr(value))}")
            return None
        return value

    def text(self, value: Any, key: str, what: str) -> str | None:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
        self.add(key, f"must be {what}; got {shown_value(repr(value))}")
        return None

    def field_name(self, value: Any, key: str) -> str | None:
        name = self.text(value, key, "a field name")
        if name is None or name in self.fields or name in SYSTEM_FIELDS:
            return name
        self.add(key, f"'{shown_value(name)}' is not a field of the data dictionary"
                      f"{near_miss(name, self.fields + list(SYSTEM_FIELDS), 'fields')}")
        return None


def _column(check: _Checker, value: Any, key: str) -> FieldSource | None:
    """A column's source: ``field`` or ``{field: field, as: year}``."""
    if isinstance(value, Mapping):
        check.keys(value, COLUMN_KEYS, key)
        if "field" not in value:
            check.add(key, "needs `field` (the REDCap field the column is read from)")
            return None
        name = check.field_name(value["field"], f"{key}.field")
        conversion = value.get("as")
        if conversion is not None and conversion not in CONVERSIONS:
            check.add(f"{key}.as", f"must be one of {', '.join(CONVERSIONS)}; got {shown_value(repr(conversion))}"
                                   f"{near_miss(conversion, CONVERSIONS, 'conversions') if isinstance(conversion, str) else ''}")
            return None
        return FieldSource(name, conversion) if name else None
    name = check.field_name(value, key)
    return FieldSource(name) if name else None


def _melt(check: _Checker, kind: str, raw: Any, spec: TableSpec, key: str) -> dict:
    """``melt`` (code -> field) or ``melt_pairs`` (code -> [numerator, denominator]), for a table shaped for it."""
    found = check.mapping(raw, key)
    if not found:
        return {}
    needs = MELTS[kind]
    if not set(needs) <= set(spec.column_names):
        check.add(key, f"the table {spec.name} has no {' and '.join(needs)} columns, so `{kind}` cannot fill "
                       f"it; use `columns`" + ("" if kind == "melt" else " or `melt`"))
        return {}
    out: dict = {}
    for code, value in found.items():
        where = f"{key}.{code}"
        code = check.text(code, where, "a measure code")
        if kind == "melt":
            name = check.field_name(value, where)
            if code and name:
                out[code] = name
        elif not isinstance(value, (list, tuple)) or len(value) != 2:
            check.add(where, f"must be a list of two fields, [numerator, denominator]; got {shown_value(repr(value))}")
        else:
            pair = (check.field_name(value[0], f"{where}[0]"), check.field_name(value[1], f"{where}[1]"))
            if code and all(pair):
                out[code] = pair
    return out


def _table(check: _Checker, name: str, raw: Any, key: str) -> TableMapping | None:
    spec = check.specs[name]
    raw = check.mapping(raw, key)
    if raw is None:
        return None
    check.keys(raw, TABLE_KEYS, key)
    instrument = None
    if "instrument" not in raw:
        check.add(key, "needs `instrument` (the REDCap instrument whose rows are the table's rows)")
    else:
        instrument = check.text(raw["instrument"], f"{key}.instrument", "an instrument name")
        if instrument is not None and instrument not in check.forms:
            check.add(f"{key}.instrument", f"'{shown_value(instrument)}' is not an instrument of the data dictionary"
                                           f"{near_miss(instrument, check.forms, 'instruments')}")
            instrument = None
    melts = {kind: _melt(check, kind, raw.get(kind), spec, f"{key}.{kind}") for kind in MELTS}
    melted = {c for kind in MELTS if raw.get(kind) for c in MELTS[kind]}  # what the mapping melts, even if misspelt
    columns: dict[str, FieldSource] = {}
    for column, value in (check.mapping(raw.get("columns"), f"{key}.columns") or {}).items():
        where = f"{key}.columns.{column}"
        if column not in spec.column_names:
            check.add(where, f"'{shown_value(column)}' is not a column of {spec.name}"
                             f"{near_miss(column, spec.column_names, 'columns of ' + spec.name)}")
        elif column in melted:
            check.add(where, f"the column {column} is set by `{'melt' if raw.get('melt') else 'melt_pairs'}`; remove it here")
        elif (source := _column(check, value, where)) is not None:
            columns[column] = source
    if instrument is None:
        return None
    return TableMapping(instrument, columns, melts["melt"], melts["melt_pairs"])


def read_mapping(path: Path | None, dictionary: pd.DataFrame, written: Mapping | None = None,
                 params_file: str | Path | None = None) -> RedcapMapping:
    """The checked mapping in ``path`` (an empty one for None), or the one ``written`` in the params file's
    ``redcap.mapping`` (its mistakes then named by their params key, against ``params_file``), or
    :class:`RedcapError` naming every mistake."""
    if written is not None:
        doc, path, check = written, Path(params_file or "params"), _Checker(dictionary, prefix="redcap.mapping.")
    elif path is None:
        return RedcapMapping()
    else:
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise RedcapError(path, [("", f"is not readable YAML{where}: "
                                          f"{shown_value(str(exc).splitlines()[0], limit=200)}")]) from None
        check = _Checker(dictionary)
    doc = check.mapping(doc, "redcap.yaml")
    if doc is None:
        raise RedcapError(path, check.problems)
    check.keys(doc, TOP_KEYS, "")
    record_id = None
    if doc.get("record_id") is not None:
        record_id = check.field_name(doc["record_id"], "record_id")
    groups: dict[str, str] = {}
    for group, team in (check.mapping(doc.get("data_access_groups"), "data_access_groups") or {}).items():
        team = check.text(team, f"data_access_groups.{group}", "a team_id")
        if team:
            groups[str(group).strip()] = team
    tables: dict[str, TableMapping] = {}
    for name, raw in (check.mapping(doc.get("tables"), "tables") or {}).items():
        if name not in check.specs:
            check.add(f"tables.{name}", f"'{shown_value(name)}' is not a table of the data contract"
                                        f"{near_miss(name, check.specs, 'tables')}")
        elif (table := _table(check, name, raw, f"tables.{name}")) is not None:
            tables[name] = table
    if check.problems:
        raise RedcapError(path, check.problems)
    return RedcapMapping(record_id, groups, tables)
