"""The validated cohort: one typed table per data-contract file, and how an analysis asks for the ones it needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation.core.dictionary import load_dictionary


@dataclass
class Cohort:
    """A loaded, validated cohort: one typed DataFrame per present table, plus the data-quality table.

    Absent optional tables are ``None``. Each DataFrame keeps a ``row`` column: its row in the file.
    ``sources`` names where each present table was read from, as the ``table`` column of ``quality`` does
    (``patients.csv``, ``cohort.xlsx [sheet patients]`` for a workbook, ``redcap_records.csv [instrument patients]``
    for a REDCap export).
    """

    data_dir: Path
    tables: dict[str, pd.DataFrame | None]
    quality: pd.DataFrame
    file_hashes: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    identifier_fields: list[str] = field(default_factory=list)  # a REDCap export's Identifier? = y fields, all dropped

    def __getattr__(self, name: str) -> pd.DataFrame | None:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def has(self, *names: str) -> bool:
        """True when every named table is present and has rows."""
        return all(self.tables.get(n) is not None and len(self.tables[n]) > 0 for n in names)

    def missing_note(self, *names: str) -> str | None:
        """A plain sentence naming the absent tables an analysis needs, or None when all are there."""
        specs = load_dictionary()
        absent = [specs[n].file for n in names if not self.has(n)]
        if not absent:
            return None
        return f"Skipped: this cohort has no {' or '.join(absent)} (or the file is empty), which this analysis needs."
