"""The gate's rules for one table and one piece of text: patient identifiers (the cohort's ids, identifier and
date-of-birth columns), unsuppressed small counts (in count columns, computed from a hidden cell, implied by a
percentage) and small counts stated in prose. :mod:`.gate` applies them to every kind of file a funder reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.core.dictionary import identifier_columns
from evaluation.core.disclosure import (BIRTH_NAME, COMPLEMENT_MARK, QUOTED, is_small, looks_like_patient_count,
                                        small_counts_in_text, small_mark)
from evaluation.core.errors import EvaluationError
from evaluation.core.params import Params
from evaluation.data.loading import load_validated
from evaluation.data.redcap_export import identifier_values

QUOTE_COLUMNS = ("exemplar", "quote")  # columns of funder tables that hold what a participant said
BLANKS = ("", "nan", "<NA>", "None", "\u2013", "\u2014")  # an empty cell as a table or a layout writes it
WORD = re.compile(r"[A-Za-z0-9]+")  # the words of an identifying value, whatever joins them: "(555) 0104-1004"


class Identifying(set):
    """What identifies a patient of this cohort, for the gate to look for: the patient ids (the set itself); the
    fields a REDCap export marks Identifier? = y (``fields``: never a column of an output); and the values the
    export holds in them (a full name, a phone number, a date of birth, a record number): each whole value is
    looked for in every cell, and a value of several words (``phrases``) in running text too, whatever
    punctuation joins its words. A value of one word without a digit (a first name alone) is not looked for in
    text, where it would match ordinary words ("Grant", "May"): the quote screen and ``deny_terms`` cover it."""

    def __init__(self, ids=(), fields=(), values=()):
        super().__init__(ids)
        self.fields: set[str] = set(fields)
        self.phrases: dict[tuple[str, ...], str] = {}
        for value in values:
            words = tuple(WORD.findall(value))
            if len(value) < 5 or not words:
                continue
            if len(words) > 1:
                self.phrases[words] = value
                self.add(value)
            elif any(c.isdigit() for c in value):
                self.add(value)
        self.lengths = sorted({len(w) for w in self.phrases})


def patient_ids(params: Params | None, output_dir: Path | None = None) -> Identifying:
    """The cohort's patient ids (straight from patients.csv when there is one, else from the cohort the run
    validated into ``output_dir``: a workbook's sheet or a REDCap export), with the REDCap export's identifier
    fields and their values."""
    if params is None:
        return Identifying()
    data_dir = Path(params.data_dir)
    fields, values = identifier_values(data_dir)
    path = data_dir / "patients.csv"
    try:
        if path.is_file():
            column = pd.read_csv(path, dtype=str, usecols=["patient_id"], keep_default_na=False,
                                 encoding="utf-8-sig")["patient_id"]
        else:
            patients = load_validated(params, output_dir).patients
            column = patients["patient_id"].dropna().astype(str) if patients is not None else pd.Series(dtype=str)
    except (OSError, ValueError, EvaluationError):
        column = pd.Series(dtype=str)
    return Identifying({s.strip() for s in column if s and s.strip()}, fields, values)


def identifier_names() -> set[str]:
    """Column names that identify a patient: the data dictionary's identifier columns and ``patient_id``."""
    return identifier_columns() | {"patient_id"}


TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_\-]*[A-Za-z0-9])?")


def ids_in_text(text: str, ids: set[str]) -> list[str]:
    """Patient ids appearing as whole tokens in free text, and an export's identifying values of several words
    (:class:`Identifying`). All-digit ids are not looked for in text (they would match counts and dollars);
    they are caught in identifier-like columns instead."""
    if not ids or not text:
        return []
    found = {t for t in set(TOKEN.findall(text)) if t in ids and not t.isdigit()}
    phrases = getattr(ids, "phrases", None)
    if phrases:
        words = WORD.findall(text)
        for n in ids.lengths:
            found |= {phrases[key] for key in (tuple(words[i:i + n]) for i in range(len(words) - n + 1)) if key in phrases}
    return sorted(found)


def check_frame(df: pd.DataFrame, file: str, threshold: int, ids: set[str], spec: dict | None,
                 row_offset: int = 2) -> list[dict]:
    """Problems in one funder table (rows numbered as a spreadsheet shows them: header = row 1)."""
    problems = []
    spec = spec or {}
    ident = identifier_names() | getattr(ids, "fields", set())
    for col in df.columns:
        name = str(col)
        if name in ident:
            problems.append({"file": file, "row": "", "column": name, "problem": "patient identifier column"})
        elif BIRTH_NAME.search(name):
            problems.append({"file": file, "row": "", "column": name, "problem": "date-of-birth column"})
    text = df.astype(str)
    idcol = {c for c in df.columns if "id" in str(c).lower() or "patient" in str(c).lower()}
    for col in df.columns:
        for i, cell in text[col].items():
            cell = cell.strip()
            hit = cell in ids and (not cell.isdigit() or col in idcol)
            tokens = [] if hit else ids_in_text(cell, ids)
            if hit or tokens:
                problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                                 "problem": f"patient identifier '{cell if hit else tokens[0]}'"})
    exempt = set(spec.get("exempt", []))
    counts = [c for c in df.columns if c not in exempt and (c in set(spec.get("counts", [])) or looks_like_patient_count(c))]
    marks = {small_mark(threshold), COMPLEMENT_MARK}
    for col in counts:
        small = is_small(df[col].to_numpy(), threshold)
        for i in np.flatnonzero(small):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"unsuppressed small count {df[col].iloc[i]} (counts of 1 to {threshold - 1} must show as {small_mark(threshold)})"})
    hidden = text.apply(lambda s: s.str.strip().isin(marks))
    for col, sources in spec.get("derived", {}).items():
        src = [s for s in sources if s in df.columns]
        if col not in df.columns or not src:
            continue
        leak = hidden[src].any(axis=1) & ~hidden[col] & ~text[col].str.strip().isin(BLANKS)
        for i in np.flatnonzero(leak.to_numpy()):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"shows a value computed from a suppressed count ({', '.join(src)})"})
    for col, denominator in spec.get("percentages", {}).items():
        if col not in df.columns or denominator not in df.columns:
            continue
        implied = (pd.to_numeric(df[col], errors="coerce") / 100 * pd.to_numeric(df[denominator], errors="coerce")).round()
        for i in np.flatnonzero(is_small(implied, threshold)):
            problems.append({"file": file, "row": int(i) + row_offset, "column": str(col),
                             "problem": f"percentage implies a small count of {int(implied.iloc[i])} {denominator}"})
    return problems


def problem(file: str, row, column: str, problem: str) -> dict:
    """One row of the problems table."""
    return {"file": file, "row": row, "column": column, "problem": problem}


def text_problems(text: str, file: str, row, column: str, threshold: int, ids: set[str], what: str = "the text") -> list[dict]:
    """Small counts and patient identifiers in one piece of prose a funder reads."""
    problems = [problem(file, row, column, f"unsuppressed small count in {what}: '{phrase}'")
                for phrase in small_counts_in_text(text, threshold)]
    problems += [problem(file, row, column, f"patient identifier '{token}' in {what}") for token in ids_in_text(text, ids)]
    return problems


def quoted_spans(text: str) -> list[str]:
    """The quotations in a piece of prose (what a participant said), for the identifier screen."""
    return [m.group(0)[1:-1] for m in QUOTED.finditer(str(text))]
