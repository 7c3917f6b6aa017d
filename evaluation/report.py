"""Write result tables and assemble the cohort report.

Tables go to ``<report>/tables/<name>.csv``, written atomically with a fixed float format so the same
data and params give byte-identical files.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from .params import Params

FLOAT_FORMAT = "%.10g"


def save_table(df: pd.DataFrame, target: Params | str | Path, name: str) -> pd.DataFrame:
    """Write ``df`` to ``tables/<name>.csv`` (atomic) and return it, so a notebook cell can show it."""
    folder = Path(target.output_dir if isinstance(target, Params) else target) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        out = df.copy()
        for col in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[col]):
                out[col] = out[col].dt.strftime("%Y-%m-%d")
        out.to_csv(fh, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    os.replace(tmp, folder / f"{name}.csv")
    return df
