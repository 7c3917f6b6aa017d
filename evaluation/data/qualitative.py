"""The qualitative tables of the data contract (focus-group and interview coding) in one typed form.

:class:`QualitativeTables` holds sources, excerpts, codings and codebook (plus the cohort's teams and the
problems found reading them), whether they were read from the cohort's ``qualitative/*.csv`` files
(:func:`from_cohort`) or from a REFI-QDA project (:mod:`evaluation.data.refi_qda`): :func:`normalise` gives
both the same columns and types, so the analyses never ask where the data came from.
:func:`write_qualitative_csvs` writes the tables back in the CSV layout (for turning a ``.qdpx`` into CSVs).
"""

from __future__ import annotations
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
import pandas as pd
from evaluation.core.problems import QUALITY_COLUMNS
from .cohort import Cohort

SOURCE_COLUMNS = ["source_id", "kind", "held_on", "team_id", "phase"]
EXCERPT_COLUMNS = ["excerpt_id", "source_id", "team_id", "text", "exemplar"]
CODING_COLUMNS = ["excerpt_id", "coder", "code"]
CODEBOOK_COLUMNS = ["code", "theme", "definition"]
SOURCE_KINDS = ("focus_group", "interview")
PHASES = ("mid_cycle", "end_of_cycle")
DEFAULT_PHASE = {"focus_group": "mid_cycle", "interview": "end_of_cycle"}  # data dictionary: sources.phase
QUALITATIVE_TABLES = ("qualitative_sources", "qualitative_excerpts", "qualitative_codings", "qualitative_codebook")
QUALITATIVE_FILES = {  # the tables' CSVs in a cohort folder
    "sources": "qualitative/sources.csv", "excerpts": "qualitative/excerpts.csv",
    "codings": "qualitative/codings.csv", "codebook": "qualitative/codebook.csv",
}


@dataclass
class QualitativeTables:
    """The four qualitative tables of the data contract (plus teams and the problems found reading them).

    ``sources``, ``excerpts``, ``codings`` and ``codebook`` have the contract's columns; ``exemplar`` is a
    0/1 Int64 flag, ``held_on`` a datetime and ``phase`` is filled (focus groups mid-cycle, interviews end
    of cycle) where blank. ``note`` is set, and the tables are empty, when a cohort has no qualitative data.
    """

    sources: pd.DataFrame
    excerpts: pd.DataFrame
    codings: pd.DataFrame
    codebook: pd.DataFrame
    teams: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["team_id", "track"]))
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUALITY_COLUMNS))
    origin: str = ""
    note: str | None = None

    @property
    def ok(self) -> bool:
        """True when there is qualitative data to analyse."""
        return self.note is None

    @property
    def coders(self) -> list[str]:
        return sorted(self.codings["coder"].dropna().unique().tolist())

    def summary(self) -> pd.DataFrame:
        """What was read: one row per item, for the notebook's first table."""
        if not self.ok:
            return pd.DataFrame({"item": ["qualitative data"], "value": [self.note]})
        ex = self.excerpts
        kinds = self.sources["kind"].value_counts()
        rows = [
            ("read from", self.origin),
            ("focus groups", int(kinds.get("focus_group", 0))),
            ("interviews", int(kinds.get("interview", 0))),
            ("excerpts", len(ex)),
            ("excerpts without a team", int(ex["team_id"].isna().sum())),
            ("teams that spoke", int(ex["team_id"].dropna().nunique())),
            ("themes", int(self.codebook["theme"].nunique())),
            ("codes", len(self.codebook)),
            ("coders", ", ".join(self.coders) or "none"),
            ("codings", len(self.codings)),
        ]
        if self.origin.lower().endswith(".qdpx"):
            rows.append(("problems found reading the .qdpx", len(self.problems)))
        return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})

    def __repr__(self) -> str:
        return self.summary().to_string(index=False)

    def _repr_html_(self) -> str:
        return self.summary().to_html(index=False)


def _text(series: pd.Series) -> pd.Series:
    """Strings as object with None for blanks (the loader's convention; pandas' str dtype would give NaN)."""
    values = [None if is_blank(v) else str(v) for v in series]
    return pd.Series(values, index=series.index, dtype=object)


def is_blank(value: Any) -> bool:
    """None, NaN, NA or an empty string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    return not isinstance(value, str) and bool(pd.isna(value))


def date_text(value: Any) -> str | None:
    """The YYYY-MM-DD part of a date or dateTime value (REFI DateValue or DateTimeValue), else None."""
    return None if is_blank(value) else str(value).strip()[:10]


def normalise(sources: pd.DataFrame | None, excerpts: pd.DataFrame | None, codings: pd.DataFrame | None,
              codebook: pd.DataFrame | None, teams: pd.DataFrame | None = None, *,
              problems: pd.DataFrame | None = None, origin: str = "") -> QualitativeTables:
    """Tables with exactly the contract's columns and types, whatever they were read from."""
    def frame(df, columns):
        df = pd.DataFrame(columns=columns) if df is None else df
        return pd.DataFrame({c: (df[c] if c in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object))
                             for c in columns}).reset_index(drop=True)

    src = frame(sources, SOURCE_COLUMNS)
    for c in ("source_id", "kind", "team_id", "phase"):
        src[c] = _text(src[c])
    src["held_on"] = (src["held_on"] if pd.api.types.is_datetime64_any_dtype(src["held_on"])
                      else pd.to_datetime(src["held_on"].map(date_text), format="%Y-%m-%d", errors="coerce"))
    src["phase"] = _text(src["phase"].where(src["phase"].notna(), src["kind"].map(DEFAULT_PHASE)))
    ex = frame(excerpts, EXCERPT_COLUMNS)
    for c in ("excerpt_id", "source_id", "team_id"):
        ex[c] = _text(ex[c])
    ex["text"] = pd.Series([v if isinstance(v, str) else "" if is_blank(v) else str(v) for v in ex["text"]], dtype=object)
    ex["exemplar"] = pd.to_numeric(ex["exemplar"], errors="coerce").fillna(0).astype("Int64").clip(0, 1)
    cod = frame(codings, CODING_COLUMNS)
    for c in CODING_COLUMNS:
        cod[c] = _text(cod[c])
    book = frame(codebook, CODEBOOK_COLUMNS)
    for c in CODEBOOK_COLUMNS:
        book[c] = _text(book[c])
    if teams is None:
        teams = pd.DataFrame(columns=["team_id", "track"])
    teams = teams.drop(columns=["row"], errors="ignore").reset_index(drop=True)
    problems = pd.DataFrame(columns=QUALITY_COLUMNS) if problems is None else problems.reset_index(drop=True)
    return QualitativeTables(src, ex, cod, book, teams, problems, origin)


def from_cohort(cohort: Cohort) -> QualitativeTables:
    """The qualitative CSV tables of a loaded cohort (their problems are already in ``cohort.quality``)."""
    return normalise(cohort.qualitative_sources, cohort.qualitative_excerpts, cohort.qualitative_codings,
                     cohort.qualitative_codebook, cohort.teams, origin="qualitative/*.csv")


def as_tables(source: Cohort | QualitativeTables) -> QualitativeTables:
    """The qualitative tables of a loaded cohort, or the tables themselves."""
    if isinstance(source, QualitativeTables):
        return source
    if hasattr(source, "tables"):  # a Cohort
        return from_cohort(source)
    raise TypeError(f"expected a Cohort or QualitativeTables; got {type(source).__name__}")


def write_qualitative_csvs(tables: QualitativeTables, folder: str | os.PathLike) -> list[Path]:
    """Write the four tables as ``<folder>/qualitative/*.csv`` in the contract's layout (for an import).

    The cohort folder is otherwise never written; this is for an evaluator who asks to turn a ``.qdpx``
    into CSVs (``python -m evaluation qdpx import``).
    """
    folder = Path(folder)
    out = []
    frames = {"sources": tables.sources, "excerpts": tables.excerpts, "codings": tables.codings,
              "codebook": tables.codebook}
    for key, df in frames.items():
        path = folder / QUALITATIVE_FILES[key]
        path.parent.mkdir(parents=True, exist_ok=True)
        df = df.copy()
        if "held_on" in df.columns:
            df["held_on"] = df["held_on"].dt.strftime("%Y-%m-%d")
        df.to_csv(path, index=False, lineterminator="\n")
        out.append(path)
    return out
