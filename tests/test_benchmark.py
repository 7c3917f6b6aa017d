"""The benchmark script's own helpers (the benchmark itself runs with `make bench`, not in the test suite)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import pandas as pd

from evaluation.core.paths import REPO_ROOT

spec = importlib.util.spec_from_file_location("run_benchmark", REPO_ROOT / "benchmarks" / "run_benchmark.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_markdown_table():
    df = pd.DataFrame({"size": ["demo", "statewide"], "patients": [590, 250000], "cold_run_s": [58.3, 110.3]})
    assert bench.markdown(df).splitlines() == ["| size | patients | cold_run_s |", "|---|---|---|",
                                               "| demo | 590 | 58.3 |", "| statewide | 250,000 | 110.3 |"]


def test_tree_memory_counts_the_children():
    """A child holding 200 MB raises the tree's resident memory by about that much."""
    alone = bench.tree_memory_mb(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(200 * 2**20); time.sleep(30)"])
    try:
        for _ in range(100):
            with_child = bench.tree_memory_mb(os.getpid())
            if with_child - alone > 200:
                break
            time.sleep(0.1)
        assert 200 < with_child - alone < 400
    finally:
        child.kill()
        child.wait()
    assert bench.tree_memory_mb(child.pid) == 0.0  # gone


def test_marginal_time_per_100k_patients():
    """Worked by hand: 25,000 patients in 60 s, 100,000 in 90 s, 250,000 in 150 s: 30 s more for 75,000 more
    patients is 40 s per 100,000, then 60 s for 150,000 more is 40 s again; the demo is not a scaling size."""
    summary = pd.DataFrame({"size": ["demo", "25k", "100k", "statewide"], "patients": [590, 25_000, 100_000, 250_000],
                            "forced_run_s": [40.0, 60.0, 90.0, 150.0]})
    marginal = bench.scaling_columns(summary)["marginal_s_per_100k_patients"]
    assert marginal.isna().tolist() == [True, True, False, False]
    assert marginal.iloc[2:].tolist() == [40.0, 40.0]


def test_worst_notebook_skips_rows_without_a_ratio():
    rows = pd.DataFrame({"notebook": ["00_a", "06_b", "validation"], "overhead_ratio": [0.9, 1.21, None]})
    assert bench.worst_notebook(rows, "overhead_ratio") == "1.21 (06_b)"
