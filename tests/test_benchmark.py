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
