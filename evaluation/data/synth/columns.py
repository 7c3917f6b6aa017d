"""The data contract's files and columns, and how a column of a synthetic table is written.

Every column is built as a :class:`pandas.Categorical` of ready-made strings (dates ``YYYY-MM-DD``,
numbers with fixed decimals from integer arithmetic), so ``to_csv`` writes the same bytes on every
platform and never formats a float itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "teams.csv": ("team_id", "team_name", "state", "setting", "track", "joined_on", "aim_statement",
                  "aim_measure", "aim_target", "aim_by"),
    "patients.csv": ("patient_id", "team_id", "enrolled_on", "sex", "birth_year", "exited_on", "exit_reason",
                     "diabetes", "hypertension", "dyslipidemia", "anticoagulation"),
    "measurements.csv": ("patient_id", "measure", "measured_on", "value"),
    "events.csv": ("event_id", "event_on", "kind", "team_id", "title"),
    "attendance.csv": ("event_id", "team_id", "attended"),
    "milestones.csv": ("team_id", "milestone", "due_on", "completed_on"),
    "monthly_reports.csv": ("team_id", "month", "measure", "numerator", "denominator"),
    "pdsa_cycles.csv": ("team_id", "started_on", "change_idea", "decision", "measure"),
    "mtps.csv": ("mtp_id", "patient_id", "identified_on", "category", "resolved_on"),
    "utilization.csv": ("patient_id", "occurred_on", "kind", "cost"),
    "program_costs.csv": ("team_id", "item", "amount"),
    "qualitative/sources.csv": ("source_id", "kind", "held_on", "team_id", "phase"),
    "qualitative/excerpts.csv": ("excerpt_id", "source_id", "team_id", "text", "exemplar"),
    "qualitative/codings.csv": ("excerpt_id", "coder", "code"),
    "qualitative/codebook.csv": ("code", "theme", "definition"),
    "assessments.csv": ("team_id", "month", "score", "rater"),
}
NEVER = np.int64(10**8)  # "no date" (an exit that did not happen): days since 1970, far beyond any real date


def categorical(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    """A categorical column from integer codes (-1 = blank); to_csv writes it without per-row formatting."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64),
                                     categories=pd.Index(list(categories), dtype=object))


def id_column(prefix: str, index: np.ndarray, count: int, width: int,
              missing: np.ndarray | None = None) -> pd.Categorical:
    """Identifiers like P000123 for 0-based ``index`` (``missing`` rows blank)."""
    width = max(width, len(str(count)))
    cats = [f"{prefix}{i + 1:0{width}d}" for i in range(count)]
    codes = np.asarray(index, dtype=np.int64).copy()
    if missing is not None:
        codes[missing] = -1
    return categorical(codes, cats)


def date_column(days: np.ndarray, missing: np.ndarray | None = None) -> pd.Categorical:
    """YYYY-MM-DD strings for int days; ``missing`` rows (or days >= NEVER) are blank."""
    days = np.asarray(days, dtype=np.int64)
    blank = days >= NEVER if missing is None else (missing | (days >= NEVER))
    uniq, inv = np.unique(np.where(blank, 0, days), return_inverse=True)
    cats = np.datetime_as_string(uniq.astype("datetime64[D]")).tolist()
    return categorical(np.where(blank, -1, inv), cats)


def month_column(months: np.ndarray) -> pd.Categorical:
    """YYYY-MM strings for months since 1970-01."""
    uniq, inv = np.unique(np.asarray(months, dtype=np.int64), return_inverse=True)
    return categorical(inv, np.datetime_as_string(uniq.astype("datetime64[M]")).tolist())


def round_to(values: np.ndarray, decimals: int) -> np.ndarray:
    """Values rounded as they are written (so goals are judged on the written value)."""
    return np.rint(np.asarray(values, dtype=float) * 10**decimals) / 10**decimals


def number_column(values: np.ndarray, decimals: int, missing: np.ndarray | None = None) -> pd.Categorical:
    """Fixed-decimal strings (integer arithmetic, so the text never depends on float repr)."""
    scaled = np.rint(np.asarray(values, dtype=float) * 10**decimals).astype(np.int64)
    blank = np.zeros(len(scaled), bool) if missing is None else missing
    uniq, inv = np.unique(np.where(blank, 0, scaled), return_inverse=True)
    unit = 10**decimals
    cats = []
    for s in uniq.tolist():
        sign, a = ("-" if s < 0 else ""), abs(s)
        cats.append(f"{sign}{a // unit}.{a % unit:0{decimals}d}" if decimals else f"{s}")
    return categorical(np.where(blank, -1, inv), cats)


def label_column(index: np.ndarray, names: Sequence[str]) -> pd.Categorical:
    """``names[index[i]]`` per row (-1 = blank)."""
    return categorical(np.asarray(index, dtype=np.int64), names)


def repeat_ranges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts [2, 0, 3]: owner [0, 0, 2, 2, 2] and position within owner [0, 1, 0, 1, 2]."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - starts[owner]


def write_table(frame: pd.DataFrame, out_dir: Path, file: str) -> int:
    """Write ``frame`` as ``out_dir/file`` with the contract's columns in order; return its rows."""
    path = out_dir / file
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = frame[list(TABLE_COLUMNS[file])]
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return len(frame)


def team_ids(index: np.ndarray, n_teams: int, missing: np.ndarray | None = None) -> pd.Categorical:
    """Team identifiers T01, T02, ... for 0-based team numbers."""
    return id_column("T", index, n_teams, 2, missing)


def patient_ids(index: np.ndarray, n: int) -> pd.Categorical:
    """Patient identifiers P000001, ... for 0-based patient numbers."""
    return id_column("P", index, n, 6)
