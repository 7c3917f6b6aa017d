"""Load a cohort folder: read every present table as text cells (:mod:`evaluation.data.readers` for CSVs and
workbooks, :mod:`evaluation.data.redcap` for a REDCap export), parse each
cell by the data dictionary, run the cross-table rules (:mod:`evaluation.data.validation`), and collect every
problem into one data-quality table (``table, row, column, severity, problem``).

``row`` is the row as a spreadsheet shows it (the header is row 1, the first record row 2), so an evaluator
can go straight to the cell. The data folder is only ever read. The runner validates once per run and leaves
the validated cohort for its notebooks (:func:`save_validated`, :func:`load_validated`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evaluation.core.dictionary import (DICTIONARY_DIR, MONTH, ColumnSpec, TableSpec, load_dictionary,
                                        plausibility_schema, schema_for)
from evaluation.core.errors import DataValidationError, ParamsError, character_name, shown_value
from evaluation.core.params import Params
from evaluation.core.problems import Problems
from .cohort import Cohort
from .qualitative import QUALITATIVE_TABLES, QualitativeTables, from_cohort, normalise
from .readers import FORBIDDEN_CHARACTERS, find_sources, read_source, workbook_files
from .redcap import export_files, load_redcap_tables, locate_problems
from .refi_qda import qdpx_path, read_qdpx
from .validation import check_cohort, check_goals

if TYPE_CHECKING:  # pragma: no cover
    import pandera.pandas as pa

_INTEGER = re.compile(r"^[+-]?\d+$")
_SERIAL_DATE = re.compile(r"^\d{5}(\.\d+)?$")  # Excel/Sheets day numbers, e.g. 42005 = 2015-01-01
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} 00:00:00$")
_NOT_FINITE = ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "+nan", "-nan")


def sha256(path: Path) -> str:
    """The file's SHA-256, read in 1-MB chunks (a statewide file need not fit in memory twice)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_files(data_dir: Path) -> list[Path]:
    """Every file of the cohort folder that the workbench reads (for hashes in the provenance record)."""
    specs = load_dictionary()
    files = [data_dir / s.file for s in specs.values() if (data_dir / s.file).exists()]
    files += workbook_files(data_dir)
    files += sorted(p for p in data_dir.rglob("*.qdpx"))
    files += export_files(data_dir)
    return files


def _parse_column(raw: pd.Series, col: ColumnSpec, file: str, problems: Problems) -> pd.Series:
    """Typed values from text cells; every unparseable non-blank cell becomes an error row."""
    blank = raw == ""
    kind = col.type
    if kind in ("string", "category"):
        return raw.where(~blank, None).astype(object)
    if kind == "date":
        parsed = pd.to_datetime(raw.where(~blank), format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & ~blank
        if bad.any():
            texts = raw[bad]
            serial = texts.str.match(_SERIAL_DATE)
            msgs = [f"'{shown_value(t)}' looks like a spreadsheet serial date; write dates as YYYY-MM-DD" if s
                    else f"'{shown_value(t)}' is not a date written YYYY-MM-DD" for t, s in zip(texts, serial)]
            problems.add_rows(file, texts.index, col.name, "error", msgs)
        return parsed
    if kind == "month":
        m = raw.str.extract(MONTH)
        parsed = pd.to_datetime(m[0] + "-" + m[1] + "-01", format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & ~blank
        problems.add_rows(file, raw.index[bad], col.name, "error",
                          [f"'{shown_value(t)}' is not a month written YYYY-MM" for t in raw[bad]])
        return parsed
    if kind == "flag":
        ok = raw.isin(["0", "1"]) | blank
        problems.add_rows(file, raw.index[~ok], col.name, "error",
                          [f"'{shown_value(t)}' is not a 0/1 flag" for t in raw[~ok]])
        return pd.to_numeric(raw.where(ok & ~blank), errors="coerce").astype("Int64")
    numbers = pd.to_numeric(raw.where(~blank), errors="coerce")
    bad = numbers.isna() & ~blank
    if kind == "integer":
        bad |= ~blank & ~raw.str.match(_INTEGER)
        what = "a whole number"
    else:
        what = "a number"
    # inf, -inf, infinity and nan parse as floats (nan as a missing one) but are no measurement: every
    # mean, rate and range check would silently turn on them
    endless = ~blank & (numbers.isin([np.inf, -np.inf]) | raw.str.strip().str.lower().isin(_NOT_FINITE))
    bad &= ~endless
    if bad.any():
        problems.add_rows(file, raw.index[bad], col.name, "error",
                          [f"'{shown_value(t)}' is not {what}" for t in raw[bad]])
    if endless.any():
        fix = ("leave the cell blank when the value is unknown" if col.nullable
               else "write the actual value (leave out a row that has none)")
        problems.add_rows(file, raw.index[endless], col.name, "error",
                          [f"'{shown_value(t)}' must be a finite number; {fix}" for t in raw[endless]])
    numbers = numbers.where(~bad & ~endless)
    return numbers.astype("Int64") if kind == "integer" else numbers.astype(float)


def _pandera_problems(df: pd.DataFrame, schema: pa.DataFrameSchema, file: str, severity: str,
                      problems: Problems) -> None:
    """Run a pandera schema lazily and turn its failure cases into data-quality rows."""
    import pandera.pandas as pa  # imported when validating: it is slow to import

    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        reported_keys: set = set()
        unparsed = problems.error_cells(file)
        for case in cases.itertuples(index=False):
            row = None if case.index is None or pd.isna(case.index) else int(case.index)
            if (row, case.column) in unparsed:  # the cell could not be parsed: already reported with its text
                continue
            check = str(case.check)
            value = case.failure_case
            if check == "not_nullable":
                text = "is blank; a value is required"
            elif check in ("multiple_fields_uniqueness", "field_uniqueness"):
                key = list(schema.unique or [case.column])
                if (row, key[0]) in reported_keys:
                    continue
                reported_keys.add((row, key[0]))
                values = ", ".join(_fmt(v) for v in df.loc[row, key])
                problems.add(file, row, key[0], severity,
                             f"duplicated key ({', '.join(key)}) = ({values}): the same key is on an earlier row")
                continue
            else:  # the dictionary's checks carry their own message ("must be one of: ...")
                text = f"'{_fmt(value)}' {check}"
            problems.add(file, row, case.column if case.column in df.columns else "", severity, text)


def _fmt(value) -> str:
    """A parsed value as a message shows it: whole floats without ".0", dates YYYY-MM-DD, then bounded."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 1e300 has 301 digits: bounded below like any value
    elif isinstance(value, pd.Timestamp):
        value = value.strftime("%Y-%m-%d")
    elif isinstance(value, str) and _ISO_TIMESTAMP.match(value):
        value = value[:10]
    return shown_value(value)


def _control_characters(raw: pd.DataFrame, file: str, problems: Problems) -> pd.DataFrame:
    """Report every cell holding a character a report cannot hold (NUL, vertical tab, form feed and the other
    C0 controls except tab, newline and carriage return), and return the cells without them.

    The error stops the run; parsing the cleaned cells keeps it the only error about that cell.
    """
    cleaned = {}
    for column in raw.columns:
        cells = raw[column]
        if not FORBIDDEN_CHARACTERS.search("\n".join(cells.tolist())):  # one scan: most columns have none
            continue
        found = cells.str.contains(FORBIDDEN_CHARACTERS)
        messages = []
        for text in cells[found]:
            at = FORBIDDEN_CHARACTERS.search(text).start()
            every = FORBIDDEN_CHARACTERS.findall(text)
            kinds, many = sorted(set(every)), len(every) > 1
            what = (f"the control character {character_name(kinds[0])}" if len(kinds) == 1 else
                    "the control characters " + ", ".join(character_name(k) for k in kinds))
            start = max(0, at - 30)  # show where it is, even deep in a long text
            messages.append(f"contains {what} {'first ' if many else ''}at character {at + 1}: "
                            f"'{'…' if start else ''}{shown_value(text[start:])}'; delete {'them' if many else 'it'} "
                            "(only tab, newline and carriage return may appear in a cell: the others are invisible "
                            "and break the reports)")
        problems.add_rows(file, cells.index[found], column, "error", messages)
        cleaned[column] = cells.str.replace(FORBIDDEN_CHARACTERS, "", regex=True)
    return raw.assign(**cleaned) if cleaned else raw


def parse_table(raw: pd.DataFrame, spec: TableSpec, problems: Problems) -> pd.DataFrame:
    """Typed table from text cells, checked against the dictionary with pandera."""
    raw = _control_characters(raw, spec.file, problems)
    typed = {}
    for col in spec.columns:
        if col.name in raw.columns:
            typed[col.name] = _parse_column(raw[col.name], col, spec.file, problems)
        else:  # an optional column the file does not have
            typed[col.name] = pd.Series(pd.NA if col.type in ("flag", "integer") else None, index=raw.index,
                                        dtype="Int64" if col.type in ("flag", "integer") else object)
    extra = {c: raw[c].where(raw[c] != "", None).astype(object) for c in raw.columns if c not in typed}
    df = pd.DataFrame({**typed, **extra}, index=raw.index)
    present = [c.name for c in spec.columns if c.name in raw.columns]
    _pandera_problems(df, schema_for(spec, present), spec.file, "error", problems)
    _pandera_problems(df, plausibility_schema(spec, present), spec.file, "warning", problems)
    df.insert(0, "row", df.index.to_numpy())
    return df.reset_index(drop=True)


def _check_qdpx(params: Params, tables: dict, problems: Problems) -> None:
    """Validate the REFI-QDA project named by ``qualitative.qdpx`` with the rest of the data."""
    path, label = qdpx_path(params), str(params.qualitative["qdpx"])
    if not path.is_file():
        problems.add(label, None, None, "error", f"the REFI-QDA project named by qualitative.qdpx was not found ({path})")
        return
    teams = tables.get("teams")
    known = set(teams["team_id"].dropna()) if teams is not None else None
    for row in read_qdpx(path, known_teams=known, label=label).problems.itertuples(index=False):
        problems.add(row.table, row.row, row.column, row.severity, row.problem)


def load_cohort(source: Params | str | Path, *, as_of=None, raise_on_error: bool = True) -> Cohort:
    """Read and validate a cohort folder (or the folder named by params).

    Every problem is collected first; then, if any is an error, :class:`DataValidationError` is raised
    carrying the whole data-quality table (unless ``raise_on_error`` is False).
    """
    goals, written, params_file = None, None, None
    if isinstance(source, Params):
        data_dir, as_of, goals = source.data_dir, as_of or source.as_of, list(source.goals)  # their measures only
        written, params_file = source.redcap.get("mapping"), source.source
    else:
        data_dir = Path(source)
    data_dir = Path(data_dir)
    problems = Problems()
    tables: dict[str, pd.DataFrame | None] = {}
    if not data_dir.is_dir():
        problems.add(str(data_dir), None, None, "error", "data folder not found")
        quality = problems.table()
        raise DataValidationError(quality, str(data_dir))

    redcap = load_redcap_tables(data_dir, problems, written, params_file)  # identifiers already dropped
    # a CSV or a workbook's sheet per table the export does not give; reports absent ones
    sources = find_sources(data_dir, problems, None if redcap is None else redcap.instruments)
    labels = {name: s.label for name, s in sources.items() if s is not None}
    for name, spec in load_dictionary().items():
        if redcap is not None and name in redcap:
            raw, labels[name] = redcap[name], redcap.instruments[name]
        elif sources[name] is not None:
            raw = read_source(sources[name], spec, problems)
        else:
            raw = None
        tables[name] = None if raw is None else parse_table(raw, spec, problems)
    check_cohort(tables, problems, as_of=as_of)
    check_goals(tables, problems, goals)
    if isinstance(source, Params) and source.qualitative.get("qdpx"):
        _check_qdpx(source, tables, problems)
    quality = problems.table() if redcap is None else locate_problems(problems.table(), redcap)
    cohort = Cohort(data_dir=data_dir, tables=tables, quality=quality,
                    file_hashes={str(p.relative_to(data_dir)): sha256(p) for p in input_files(data_dir)},
                    sources={name: label for name, label in labels.items() if tables[name] is not None},
                    identifier_fields=sorted(redcap.identifiers) if redcap is not None else [])
    if raise_on_error and problems.has_errors:
        raise DataValidationError(quality, str(data_dir))
    return cohort


# The validated-cohort cache: the runner validates once and leaves the typed tables here for its notebooks, so a
# statewide cohort is parsed and checked once per run instead of once per notebook. Removed before publishing.
CACHE_FILE = ".validated_cohort.pickle"
_VALIDATION_CODE = ("core/dictionary.py", "core/problems.py", "data/cohort.py", "data/loading.py", "data/qualitative.py",
                    "data/readers.py", "data/redcap.py", "data/redcap_export.py", "data/redcap_mapping.py",
                    "data/refi_qda.py", "data/validation.py")  # relative to the package folder


def validation_key(params: Params) -> str:
    """What a validated cohort depends on: the input files, the params validation reads (as_of, which measures
    have goals, the REFI-QDA project, a REDCap mapping written in params), and the code."""
    package = Path(__file__).resolve().parents[1]
    code = hashlib.sha256()
    for path in [package / name for name in _VALIDATION_CODE] + sorted(DICTIONARY_DIR.glob("*.yaml")):
        if path.exists():
            code.update(path.read_bytes())
    files = {str(p.relative_to(params.data_dir)): sha256(p) for p in input_files(params.data_dir)}
    qdpx = params.qualitative.get("qdpx")
    blob = json.dumps({"files": files, "as_of": str(params.as_of), "goals": sorted(params.goals),
                       "qdpx": str(qdpx), "redcap": params.redcap.get("mapping"), "code": code.hexdigest()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def save_validated(cohort: Cohort, params: Params, folder: Path) -> Path:
    """Leave the validated cohort in ``folder`` for the notebooks of this run."""
    path = Path(folder) / CACHE_FILE
    with open(path, "wb") as fh:
        pickle.dump({"key": validation_key(params), "cohort": cohort}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_validated(params: Params, folder: Path | None = None) -> Cohort:
    """The cohort validated by this run's runner (left in ``folder``, by default the params' output folder) when
    its inputs are unchanged, else :func:`load_cohort`."""
    path = Path(folder or params.output_dir) / CACHE_FILE
    if path.exists():
        try:
            with open(path, "rb") as fh:
                cached = pickle.load(fh)
            if cached.get("key") == validation_key(params):
                return cached["cohort"]
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass  # a damaged or stale cache is ignored: validate again
    return load_cohort(params)


def load_qualitative(params: Params, cohort: Cohort) -> QualitativeTables:
    """The cohort's qualitative tables: from ``qualitative.qdpx`` when set, else from the qualitative CSVs.

    When the data is absent the tables are empty and ``.note`` says why (the notebook shows it and goes on).
    Problems found in a ``.qdpx`` are in ``.problems`` (the CSVs' problems are in ``cohort.quality``).
    """
    teams = cohort.teams.drop(columns=["row"], errors="ignore") if cohort.teams is not None else None
    path = qdpx_path(params)
    if path is not None:
        if not path.is_file():
            raise ParamsError(f"`qualitative.qdpx` names a file that does not exist: {path}", key="qualitative.qdpx")
        known = set(teams["team_id"].dropna()) if teams is not None else None
        tables = read_qdpx(path, known_teams=known, label=str(params.qualitative["qdpx"]))
        if teams is not None:
            tables.teams = teams
        if tables.ok and tables.excerpts.empty:
            tables.note = f"Skipped: the REFI-QDA project {params.qualitative['qdpx']} holds no coded text selections."
        return tables
    if not cohort.has(*QUALITATIVE_TABLES):
        tables = normalise(None, None, None, None, teams, origin="qualitative/*.csv")
        tables.note = cohort.missing_note(*QUALITATIVE_TABLES)
        return tables
    return from_cohort(cohort)
