"""The comparison's funder table: the headline values of every cohort (``funder/comparison.csv``), small counts
of patients suppressed as in every funder output, with ``funder/suppression.json`` for the disclosure gate.

Only collaborative-level headlines reach a funder: the funnel plots, the flagged teams and the team effects are
about single teams, whose counts are small, and stay in the analysts' ``tables/`` and ``figures/``.
"""

from __future__ import annotations
import json
from pathlib import Path
import numpy as np
import pandas as pd
from evaluation.core.disclosure import COMPLEMENT_MARK, small_mark
from evaluation.core.outputs import atomic_write, neutralise_formulas
from evaluation.core.schema import CMS_THRESHOLD
from evaluation.stats.cell_suppression import SPEC_FILE, SuppressedTable, auto_spec, suppress
from .funder import FUNDER_DIR, README_FILE, _round_for_funder

NOT_PATIENTS = ("teams", "attendance")  # headlines whose n counts teams, not patients: nothing to suppress
TITLE = "Headlines of each cohort side by side"


def funder_comparison(values: pd.DataFrame, output_dir: str | Path, threshold: int = CMS_THRESHOLD) -> SuppressedTable:
    """Write ``funder/comparison.csv`` (a headline's value and CI hidden when it rests on 1 to ``threshold`` - 1
    patients), ``funder/suppression.json`` and ``funder/README.txt``; return the suppressed table."""
    df = values.drop(columns=["note"]).copy()
    df.insert(3, "patients", np.where(df["metric"].isin(NOT_PATIENTS), np.nan, df.pop("n")))
    spec = auto_spec(df, counts=("patients",), keys=("metric", "measure", "cohort", "unit"), group_column=None)
    st = suppress(_round_for_funder(df), spec, threshold)
    folder = Path(output_dir) / FUNDER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "comparison.csv",
                 neutralise_formulas(st.table).to_csv(index=False, lineterminator="\n").encode("utf-8"))
    doc = {"threshold": threshold, "marks": {"small": small_mark(threshold), "complementary": COMPLEMENT_MARK},
           "tables": {"comparison": spec.to_json() | {"exempt": [], "columns": list(st.table.columns), "title": TITLE,
                                                      "section": "comparison"}}}
    atomic_write(folder / SPEC_FILE, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    rule = "the CMS cell-size rule" if threshold == CMS_THRESHOLD else f"a threshold of {threshold}"
    atomic_write(folder / README_FILE, (f"Counts of patients from 1 to {threshold - 1} are shown as <{threshold} "
                                        f"({rule}), and a value resting on one is withheld. No patient identifiers "
                                        "are included; team-level results are not in this folder.\n").encode("utf-8"))
    return st
