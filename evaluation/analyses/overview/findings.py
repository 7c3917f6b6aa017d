"""The cohort sentence of the report's findings, read back from the saved patients-per-team table."""

from __future__ import annotations
import pandas as pd
from evaluation.core.disclosure import format_count
from evaluation.core.outputs import read_table
from evaluation.core.params import Params


def findings_cohort(params: Params) -> list[str]:
    """Patients (a small total shown as <11) and teams by track; nothing when the table was not produced."""
    t = read_table(params, "patients_per_team")
    if t is None or "patients" not in t.columns:
        return []
    tracks = t["track"].value_counts().sort_index() if "track" in t.columns else pd.Series(dtype=int)
    split = ", ".join(f"{n} {k}" for k, n in tracks.items())
    return [f"The cohort has {format_count(t['patients'].sum(), params.suppress_below)} patients in the populations "
            f"of focus of {len(t)} teams" + (f" ({split} track)." if split else ".")]
