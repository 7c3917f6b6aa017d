"""The cohorts of a comparison as the comparison reads them: each cohort's published report (its ``tables/`` and
its provenance record), with the label the comparison gives it.

A comparison reads what the cohort reports published, never the patient data again: its numbers are the
reports' numbers, and a cohort's data stay where its evaluator keeps them.
"""

from __future__ import annotations
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
import pandas as pd

PROVENANCE = "provenance.json"


@dataclass
class CohortReport:
    """One cohort's published report: ``label`` ("Cycle 2016"), its folder, and its tables read on first use."""

    label: str
    folder: Path
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict, repr=False)

    @cached_property
    def record(self) -> dict:
        """The report's provenance record ({} when it has none)."""
        try:
            return json.loads((Path(self.folder) / PROVENANCE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    @property
    def cohort_id(self) -> str:
        return str(self.record.get("cohort_id", Path(self.folder).name))

    @property
    def params(self) -> dict:
        """The resolved params the cohort's notebooks ran with."""
        return self.record.get("params") or {}

    @property
    def alpha(self) -> float:
        return float(self.params.get("alpha") or 0.05)

    @property
    def suppress_below(self) -> int:
        return int(self.params.get("suppress_below") or 11)

    def table(self, name: str) -> pd.DataFrame | None:
        """``tables/<name>.csv`` of the report, or None when the report has none (its analysis was skipped)."""
        if name not in self._tables:
            path = Path(self.folder) / "tables" / f"{name}.csv"
            self._tables[name] = pd.read_csv(path) if path.is_file() else None
        return self._tables[name]


@dataclass
class Comparison:
    """The cohorts set side by side, the one the differences are taken against, and where the comparison writes.

    ``alpha`` (for every interval the comparison computes) and ``suppress_below`` (for its funder outputs) are the
    strictest of the cohorts': the smallest alpha and the largest threshold."""

    title: str
    cohorts: list[CohortReport]
    reference: str
    output_dir: Path
    measures: list[str] | None = None
    funnel: dict[str, str] = field(default_factory=lambda: {"measure": "a1c", "event": "readmission"})

    def __post_init__(self) -> None:
        labels = [c.label for c in self.cohorts]
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError(f"a comparison needs two or more cohorts with distinct labels; got {labels}")
        if self.reference not in labels:
            raise ValueError(f"reference must be one of {labels}; got {self.reference!r}")

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.cohorts]

    @property
    def alpha(self) -> float:
        return min(c.alpha for c in self.cohorts)

    @property
    def suppress_below(self) -> int:
        return max(c.suppress_below for c in self.cohorts)

    @property
    def reference_cohort(self) -> CohortReport:
        return next(c for c in self.cohorts if c.label == self.reference)

    @property
    def others(self) -> list[CohortReport]:
        """The cohorts compared with the reference, in the spec's order."""
        return [c for c in self.cohorts if c.label != self.reference]

    def shared_measures(self) -> list[str]:
        """The measures to compare: ``measures`` when given, else those in every cohort's outcome table (in the
        first cohort's order)."""
        if self.measures:
            return list(self.measures)
        found = [list(dict.fromkeys(t["measure"])) if (t := c.table("outcome_change")) is not None else []
                 for c in self.cohorts]
        return [m for m in found[0] if all(m in f for f in found[1:])] if found else []
