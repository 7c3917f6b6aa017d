"""The files of a REDCap export in a data folder: finding them by name, reading the project's data dictionary
(REDCap's Data Dictionary download or the API's metadata export) and its mapping. What the files are called and
what each must hold is in :mod:`evaluation.data.redcap`, which turns an export found here into the contract's
tables; the disclosure gate reads :func:`identifier_values` from here.
"""

from __future__ import annotations

import fnmatch
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd

from evaluation.core.errors import shown_value
from .readers import WHITESPACE
from .redcap_mapping import RedcapError, RedcapMapping, read_mapping

__all__ = ["RedcapExport", "choice_codes", "export_files", "find_redcap_export", "identifier_fields",
           "identifier_values", "read_redcap_dictionary"]

DICTIONARY_NAMES = ("redcap_dictionary.csv", "redcap_dictionary.json")
DICTIONARY_PATTERN = "*_DataDictionary_*.csv"  # REDCap's download: MyProject_DataDictionary_2024-01-15.csv
RECORDS_NAMES = ("redcap_records.csv",)
RECORDS_PATTERN = "*_DATA_*.csv"  # REDCap's export: MyProject_DATA_2024-01-15_1030.csv
NOT_RAW = {"_DATA_LABELS_": "holds choice labels, not codes", "_DATA_NOHDRS_": "has no header row"}
MAPPING_NAME = "redcap.yaml"
DICTIONARY_COLUMNS = ["field_name", "form_name", "field_type", "choices", "validation", "identifier"]
# The headers of REDCap's Data Dictionary download and of the API's metadata export, for each column we keep.
UI_HEADERS = ("Variable / Field Name", "Form Name", "Field Type", "Choices, Calculations, OR Slider Labels",
              "Text Validation Type OR Show Slider Number", "Identifier?")
API_HEADERS = ("field_name", "form_name", "field_type", "select_choices_or_calculations",
               "text_validation_type_or_show_slider_number", "identifier")
YES, NO = ("y", "yes", "1", "true"), ("", "n", "no", "0", "false")
FIXED_CHOICES = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}


def _key(header: str) -> str:
    return " ".join(str(header).split()).lower()


def read_redcap_dictionary(path: str | Path) -> pd.DataFrame:
    """A REDCap data dictionary (the Data Dictionary download or the API's metadata, CSV or JSON), normalised
    to ``field_name, form_name, field_type, choices, validation, identifier`` (text; identifier a bool)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RedcapError(path, [("", "is not UTF-8; download the data dictionary from REDCap again")]) from None
    if path.suffix.lower() == ".json":
        try:
            raw = pd.DataFrame(json.loads(text))
        except (ValueError, TypeError):
            raise RedcapError(path, [("", "is not the API's metadata export (a JSON list of fields)")]) from None
    elif path.suffix.lower() == ".csv":
        try:
            raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError):
            raise RedcapError(path, [("", "is not a well-formed CSV file")]) from None
    else:
        raise RedcapError(path, [("", "is not a REDCap data dictionary: expected the Data Dictionary download "
                                      "(.csv) or the API's metadata export (.csv or .json)")])
    keys = {_key(c): c for c in raw.columns}
    headers = UI_HEADERS if _key(UI_HEADERS[0]) in keys else API_HEADERS
    missing = [h for h in headers if _key(h) not in keys]
    if len(missing) == len(headers):
        raise RedcapError(path, [("", f"is not a REDCap data dictionary: its header has neither '{UI_HEADERS[0]}' "
                                      f"(the Data Dictionary download) nor '{API_HEADERS[0]}' (the API's metadata)")])
    if missing:
        raise RedcapError(path, [("", "is not a whole REDCap data dictionary: its header lacks "
                                      + ", ".join(f"'{h}'" for h in missing))])
    table = pd.DataFrame({name: raw[keys[_key(h)]].fillna("").astype(str).str.strip(WHITESPACE)
                          for name, h in zip(DICTIONARY_COLUMNS, headers)})
    flags = table["identifier"].str.lower()
    problems = [(f"row {i + 2}", f"row {i + 2}: Identifier? must be y or blank; got '{shown_value(v)}'")
                for i, v in enumerate(table["identifier"]) if flags.iloc[i] not in YES + NO]
    problems += [(f"row {i + 2}", f"row {i + 2}: the field has no name") for i in range(len(table))
                 if not table["field_name"].iloc[i]]
    problems += [(name, f"the field '{shown_value(name)}' is listed more than once") for name in
                 sorted(set(table["field_name"][table["field_name"].duplicated() & (table["field_name"] != "")]))]
    if table.empty:
        problems.append(("", "lists no field"))
    if problems:
        raise RedcapError(path, problems)
    return table.assign(identifier=flags.isin(YES)).reset_index(drop=True)


def choice_codes(field_type: str, choices: str) -> dict[str, str]:
    """A choice field's codes and labels (``"1, Female | 2, Male"`` -> {"1": "Female", "2": "Male"}), in order."""
    if field_type in FIXED_CHOICES:
        return dict(FIXED_CHOICES[field_type])
    if field_type not in ("radio", "dropdown", "checkbox"):
        return {}
    pairs = [part.partition(",") for part in choices.split("|") if part.strip()]
    return {code.strip(): (label.strip() if comma else code.strip()) for code, comma, label in pairs}


@dataclass(frozen=True, eq=False)
class RedcapExport:
    """The files of one REDCap export in a data folder, with its dictionary and mapping read and checked."""

    folder: Path
    dictionary_file: Path
    records_file: Path
    mapping_file: Path | None
    dictionary: pd.DataFrame  # as read_redcap_dictionary gives it
    mapping: RedcapMapping

    @property
    def record_id(self) -> str:
        """The records' id field: the mapping's ``record_id``, else the dictionary's first field."""
        return self.mapping.record_id or str(self.dictionary["field_name"].iloc[0])

    def fields_of(self, instrument: str) -> list[str]:
        """The fields of one instrument, in the dictionary's order."""
        return list(self.dictionary.loc[self.dictionary["form_name"] == instrument, "field_name"])


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))


def _one(found: list[Path], what: str, folder: Path) -> Path | None:
    if len(found) > 1:
        raise RedcapError(folder / found[0].name, [("", f"the data folder holds {len(found)} REDCap {what} ("
                                                        + ", ".join(p.name for p in found) + "); keep only one")])
    return found[0] if found else None


def _export_files(folder: Path) -> tuple[list[Path], list[Path], Path | None]:
    """The data folder's REDCap data dictionaries, record exports and mapping, by name only (nothing read)."""
    files = _visible(folder) if folder.is_dir() else []
    dictionaries = [p for p in files if p.name.lower() in DICTIONARY_NAMES or fnmatch.fnmatchcase(p.name, DICTIONARY_PATTERN)]
    records = [p for p in files if p.name.lower() in RECORDS_NAMES or fnmatch.fnmatchcase(p.name, RECORDS_PATTERN)]
    return dictionaries, records, next((p for p in files if p.name.lower() == MAPPING_NAME), None)


def export_files(data_dir: str | Path) -> list[Path]:
    """Every file of a REDCap export in the data folder (for the input hashes of the provenance record)."""
    dictionaries, records, mapping = _export_files(Path(data_dir))
    return dictionaries + records + ([mapping] if mapping is not None else [])


def find_redcap_export(data_dir: str | Path, written: Mapping | None = None,
                       params_file: str | Path | None = None) -> RedcapExport | None:
    """The REDCap export in a data folder (files named in the module docstring), None when there is none; its
    mapping is ``redcap.yaml`` or the one ``written`` in the params file (``redcap.mapping``), never both.
    Raises :class:`RedcapError` for half an export, two of a kind, a labels export, or a bad dictionary or mapping."""
    folder = Path(data_dir)
    dictionaries, records, mapping = _export_files(folder)
    if written is not None and mapping is not None:
        raise RedcapError(mapping, [("redcap.mapping", "the REDCap mapping is both in this file and in the params "
                                                       "file's redcap.mapping; keep only one of them")])
    for path in records:
        for part, why in NOT_RAW.items():
            if part in path.name:
                raise RedcapError(path, [("", f"{why}: export the records again as 'CSV / Microsoft Excel (raw data)'")])
    dictionary, records_file = _one(dictionaries, "data dictionaries", folder), _one(records, "record exports", folder)
    if dictionary is None and records_file is None:
        if mapping is not None or written is not None:
            raise RedcapError(mapping or Path(params_file or "params"), [(
                "" if written is None else "redcap.mapping", "a REDCap mapping without an export: add the data "
                "dictionary (redcap_dictionary.csv) and the records (redcap_records.csv) to the data folder")])
        return None
    if dictionary is None or records_file is None:
        present, wanted = (records_file, "data dictionary (redcap_dictionary.csv)") if dictionary is None else \
            (dictionary, "records (redcap_records.csv)")
        raise RedcapError(present, [("", f"a REDCap export needs its {wanted} beside it: download it from the project")])
    table = read_redcap_dictionary(dictionary)
    return RedcapExport(folder, dictionary, records_file, mapping, table,
                        read_mapping(mapping, table, written, params_file))


def identifier_fields(export: RedcapExport) -> set[str]:
    """The fields the data dictionary marks Identifier? = y (never read; named for the disclosure gate)."""
    return set(export.dictionary.loc[export.dictionary["identifier"], "field_name"])


def identifier_values(data_dir: str | Path) -> tuple[set[str], set[str]]:
    """The identifier fields of the data folder's REDCap export and every value the records hold in them, for the
    disclosure gate to look for in what a funder reads (both empty without a readable export). Only the gate
    reads these cells, and only to look for them: no table is built from them."""
    try:
        export = find_redcap_export(data_dir)
    except RedcapError:
        return set(), set()
    if export is None:
        return set(), set()
    fields = identifier_fields(export)
    try:
        header = pd.read_csv(export.records_file, nrows=0, encoding="utf-8-sig").columns
        columns = [c for c in header if str(c).strip(WHITESPACE) in fields or str(c).split("___")[0] in fields]
        cells = pd.read_csv(export.records_file, usecols=columns, dtype=str, keep_default_na=False,
                            encoding="utf-8-sig") if columns else pd.DataFrame()
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError):
        return fields, set()
    checkboxes = [c for c in cells.columns if "___" in str(c)]  # 0/1 ticks identify no one
    values = cells.drop(columns=checkboxes).stack() if len(cells.columns) > len(checkboxes) else pd.Series(dtype=str)
    return fields, {v.strip(WHITESPACE) for v in values if v.strip(WHITESPACE)}
