"""Determinism: two full runs of the demo give byte-identical tables and an identical figure manifest."""
from __future__ import annotations

import shutil
from pathlib import Path

from evaluation.run import runner
from evaluation.core.paths import REPO_ROOT


def test_two_demo_runs_give_identical_tables_and_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("CMM_REPORTS_DIR", str(tmp_path / "reports"))
    params = REPO_ROOT / "params" / "demo.yaml"
    first = runner.run(params, force=True, say=lambda s: None)
    kept = tmp_path / "first"
    shutil.copytree(first.report_dir, kept)
    second = runner.run(params, force=True, say=lambda s: None)
    assert [r.status for r in second.notebooks] == ["ran"] * len(second.notebooks)

    def files(folder: Path, pattern: str) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.glob(pattern))}

    tables_1, tables_2 = files(kept, "tables/*.csv"), files(second.report_dir, "tables/*.csv")
    assert len(tables_1) >= 10 and tables_1.keys() == tables_2.keys()
    for name in tables_1:
        assert tables_1[name] == tables_2[name], f"{name} differs between two runs"
    assert files(kept, "figures/manifest.csv") == files(second.report_dir, "figures/manifest.csv")
    for name, content in files(kept, "figures/*.svg").items():  # figures too, though not required
        assert content == (second.report_dir / name).read_bytes(), f"{name} differs between two runs"
