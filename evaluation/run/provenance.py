"""A report's provenance: the record ``provenance.json`` written into every report (params, input hashes, code
and package versions, each notebook's timing), and the keys that tell whether a notebook's inputs changed.

The record is also how a report is recognised: a folder whose ``provenance.json`` names the cohort is a report
the runner published (see :mod:`evaluation.run.publishing`). A variant's report (its params file with ``--set``
overrides) says so in a ``variant`` record: its name, the params file, the overrides and every resolved setting
that differs from the params file as written.
"""

from __future__ import annotations
import ast
import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
import nbformat
from evaluation.core.params import PARAM_FIELDS, Params, flatten, to_dict
from evaluation.core.params_read import read_value
from evaluation.core.paths import REPO_ROOT, reports_root, shown_path
from evaluation.core.version import __version__
from .notebooks import NotebookRun

# A report is recognised by its provenance.json naming the cohort (rather than by a marker file of its own):
# the runner writes it into every report it publishes, last, and has always done so, so reports published
# before this check keep being updated; the publish journal tells the new report from the old by its hash.
PROVENANCE = "provenance.json"
UNHASHED = (PROVENANCE, "logs")  # what the published-files record leaves out: itself, and the notebooks' logs
FINISHED = ("ran", "reused", "kept")  # a notebook's statuses in a published report
NOT_COMPARED = ("output_dir", "title")  # what always differs between a variant and its base: not a difference


@dataclass(frozen=True)
class Variant:
    """A variant run: its name, the params file as written (resolved like the variant: same ``as_of`` rule) and
    the overrides given, dotted key -> value."""

    name: str
    base: Params
    overrides: dict[str, Any] = field(default_factory=dict)


def differences(base: Params, variant: Params) -> list[dict[str, Any]]:
    """Every resolved setting whose value differs between ``base`` and ``variant``, as {key, base, variant} with
    dotted keys, in the order of the resolved params (keys only one side has last; None for the side without
    it); the report folder and the title are left out."""
    old, new = (flatten(json.loads(json.dumps(to_dict(p), default=str))) for p in (base, variant))
    keys = [k for k in old if k not in NOT_COMPARED] + [k for k in new if k not in old and k not in NOT_COMPARED]
    return [{"key": k, "base": old.get(k), "variant": new.get(k)} for k in keys if old.get(k) != new.get(k)]


def variant_record(variant: Variant, params: Params) -> dict[str, Any]:
    """The ``variant`` record of a variant report's provenance: name, base params file, overrides and the
    resolved settings that differ from the base."""
    return {"name": variant.name, "base_params_file": shown_path(variant.base.source) if variant.base.source else None,
            "overrides": json.loads(json.dumps(variant.overrides, default=str)),
            "differs_from_base": differences(variant.base, params)}


def shown_report_dir(folder: Path) -> str:
    """A report folder as provenance names it: ``reports/...`` under the reports root (wherever that is)."""
    try:
        return (Path("reports") / Path(os.path.abspath(folder)).relative_to(os.path.abspath(reports_root()))).as_posix()
    except ValueError:
        return shown_path(folder)


def package_versions() -> dict[str, str]:
    """Every installed distribution and its version (sorted): the environment the report came from."""
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            versions[name.lower()] = dist.version
    return dict(sorted(versions.items()))


def _git(*args: str) -> str | None:
    """What ``git args`` prints in the workbench, or None when git is missing or fails."""
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_version() -> dict[str, str | bool | None]:
    """The package version, the git commit of the workbench and whether the tree had uncommitted changes."""
    dirty = _git("status", "--porcelain", "--", "evaluation", "notebooks", "params", "data_dictionary")
    return {"package_version": __version__, "git_commit": _git("rev-parse", "HEAD"),
            "uncommitted_changes": bool(dirty) if dirty is not None else None}


def code_fingerprint() -> str:
    """sha256 over the workbench's code, data dictionary and lock file: what a notebook's results depend on."""
    h = hashlib.sha256()
    files = sorted((REPO_ROOT / "evaluation").rglob("*.py")) + sorted((REPO_ROOT / "data_dictionary").glob("*.yaml"))
    files += [REPO_ROOT / "requirements.lock"]
    for path in files:
        if path.exists():
            h.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def notebook_fingerprint(notebook: Path) -> str:
    """sha256 over a notebook's cells (type, source and tags, in order): what it runs, not the outputs a Lab
    save left in it, so saving a notebook with its outputs does not make its published outputs stale."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = [[c.get("cell_type"), "".join(c.get("source", "")), c.get("metadata", {}).get("tags", [])]
             for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def input_key(notebook: Path, params: Params, file_hashes: dict[str, str], code: str) -> str:
    """A notebook's inputs in one hash: its cells, the code, the params, the data files, the lock file.

    When it matches the key recorded in the last report, the notebook's outputs are reused.
    """
    settings = {k: v for k, v in to_dict(params).items() if k != "output_dir"}
    blob = json.dumps({"notebook": notebook_fingerprint(notebook), "code": code,
                       "params": settings, "files": file_hashes}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def params_values(params: Params) -> dict:
    """Every field of ``params`` as plain data (the resolved params, the params file and the keys as written),
    but ``output_dir``: where a run writes is not an input of what it writes."""
    values = {k: v for k, v in to_dict(params).items() if k != "output_dir"}
    values["source"] = params.source
    values["raw"] = json.loads(json.dumps(params.raw, sort_keys=True, default=str))
    return values


def reuse_key(notebook: Path, params: Params, file_hashes: dict[str, str], code: str, params_read: list[str]) -> str:
    """A notebook's inputs narrowed to the params it read: its source, the code, the data files and the values
    of exactly the fields in ``params_read`` (``output_dir`` left out, as in :func:`input_key`).

    Recomputed for another run's params over the fields a report recorded, it tells whether that report's
    outputs of the notebook are what this run would compute: the notebook read nothing else that differs.
    """
    values = params_values(params)
    read = sorted(set(params_read) - {"output_dir"})
    blob = json.dumps({"notebook": notebook_fingerprint(notebook), "code": code,
                       "params": {k: read_value(values, k) for k in read}, "params_read": read, "files": file_hashes},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


# the variables a notebook's parameters cell holds are the params by another road: a cell using one reads that field
NAMESPACE_FIELDS = {name: name for name in PARAM_FIELDS if name not in ("source", "raw")} | {"params_file": "source"}
WHOLE_NAMESPACE = ("globals", "locals", "vars", "eval", "exec")  # builtins that read any variable
FRAME_READERS = ("query", "eval")  # pandas methods whose expression reads variables as ``@name``


def params_read_in_code(notebook: Path) -> set[str]:
    """The params fields a notebook's code reads as variables of its own (the injected ``ci_method`` rather
    than ``params.ci_method``, or ``@ci_method`` in a pandas query), which the recorder in :class:`Params`
    cannot see. Every field when a cell reads the namespace as a whole (``globals()`` other than handed to
    ``ev.start``, ``eval``, a query whose expression is not written out) or cannot be parsed."""
    nb = nbformat.read(notebook, as_version=4)
    read: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # magics or shell lines: what they read is unknown
            return set(PARAM_FIELDS)
        handed_to_start = {id(node.args[0]) for node in ast.walk(tree)  # ev.start(globals()): start reads Params
                           if isinstance(node, ast.Call) and _called(node) == "start" and len(node.args) == 1}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in NAMESPACE_FIELDS:
                read.add(NAMESPACE_FIELDS[node.id])
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id in WHOLE_NAMESPACE and id(node) not in handed_to_start:
                return set(PARAM_FIELDS)
            if isinstance(node.func, ast.Attribute) and node.func.attr in FRAME_READERS:
                expression = node.args[0] if node.args else None
                if not (isinstance(expression, ast.Constant) and isinstance(expression.value, str)):
                    return set(PARAM_FIELDS)
                read |= {NAMESPACE_FIELDS[n] for n in re.findall(r"@(\w+)", expression.value) if n in NAMESPACE_FIELDS}
    return read


def _called(call: ast.Call) -> str | None:
    """The name a call calls: ``f`` of ``f(...)`` and of ``x.f(...)``."""
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def params_read_by(notebook: Path, record: Path) -> list[str]:
    """The params fields a notebook read in a run: those recorded in ``record`` as it ran, and those its code
    reads as variables; every field when nothing was recorded (the notebook never called ``ev.start``, or it
    died before), so a notebook whose reads are unknown is reused only when every param is unchanged."""
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))["params_read"]
        read = set(recorded) if isinstance(recorded, list) else set(PARAM_FIELDS)
    except (OSError, ValueError, KeyError, TypeError):
        read = set(PARAM_FIELDS)
    return sorted(read | params_read_in_code(notebook))


def report_name(folder: Path) -> str:
    """A report folder as provenance names it: ``reports/<its path in the reports root>``, else as shown."""
    try:
        return "reports/" + Path(os.path.abspath(folder)).relative_to(os.path.abspath(reports_root())).as_posix()
    except ValueError:
        return shown_path(folder)


def published_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file of a report folder (relative path -> digest), but for the provenance record and the
    logs: what the report held when it was published, so that a later run sees a file changed outside it."""
    folder = Path(folder)
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        relative = path.relative_to(folder)
        if relative.parts[0] not in UNHASHED:
            out[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def changed_outside(folder: Path, record: dict) -> list[str]:
    """The files of a published report that differ from what was published (changed, missing or added), in
    order; empty when the record predates published hashes (nothing to compare with)."""
    published = record.get("published_files_sha256")
    if not isinstance(published, dict):
        return []
    now = published_hashes(folder)
    return sorted(name for name in set(published) | set(now) if published.get(name) != now.get(name))


def run_environment(started: dt.datetime, seconds: float) -> dict[str, Any]:
    """What every provenance record says of the run itself: code and package versions, Python, the platform, when
    it started and how long it took."""
    return {"code": code_version(), "python": sys.version.split()[0], "platform": platform.platform(),
            "packages": package_versions(), "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wall_seconds": round(seconds, 2)}


def write_provenance(staging: Path, params: Params, file_hashes: dict[str, str], runs: list[NotebookRun],
                     started: dt.datetime, seconds: float, variant: Variant | None = None,
                     last_recorded: dt.date | None = None, steps: dict[str, float] | None = None) -> Path:
    """The provenance record: the resolved params (every key, as the notebooks received them), input hashes,
    code and package versions, each notebook's timing and peak memory, and the sha256 of every file published
    (written last, so it sees the report as it goes out). A variant's record says what it changed
    (:func:`variant_record`); ``params_as_written`` is then the params file's, without the overrides.
    ``last_recorded`` is the last date recorded in the data (``as_of`` when the params leave it out); ``steps``
    the seconds of each step of the run (plan, validation, notebooks and pages, the disclosure gate, ...)."""
    as_written = variant.base.raw if variant else params.raw
    record = {
        "cohort_id": params.cohort_id,
        "params_file": params.source,
        "params_as_written": json.loads(json.dumps(as_written, default=str)),  # dates as text
        "params": to_dict(params) | {"output_dir": shown_report_dir(params.output_dir)},
        **({"variant": variant_record(variant, params)} if variant else {}),
        "data_dir": str(params.data_dir),
        "data_last_recorded": last_recorded.isoformat() if last_recorded else None,
        "input_files_sha256": file_hashes,
        **run_environment(started, seconds),
        "step_seconds": steps or {},
        "notebooks": [{"name": r.name, "notebook": r.path, "status": r.status, "seconds": r.seconds,
                       "peak_memory_mb": r.peak_memory_mb, "input_key": r.input_key, "params_read": r.params_read,
                       "reuse_key": r.reuse_key, "reused_from": r.reused_from, "outputs": r.outputs} for r in runs],
        "reused_notebooks": [r.name for r in runs if r.status == "reused"],
        "published_files_sha256": published_hashes(staging),
    }
    path = staging / PROVENANCE
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def read_provenance(folder: Path) -> dict | None:
    """The provenance record of a real (not linked) report folder, else None."""
    if os.path.islink(folder) or not os.path.isdir(folder):
        return None
    try:
        record = json.loads((Path(folder) / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def provenance_digest(folder: Path) -> str | None:
    """sha256 of a folder's provenance.json (None when it has none): which run's report the folder holds."""
    if os.path.islink(folder):
        return None
    try:
        return hashlib.sha256((Path(folder) / PROVENANCE).read_bytes()).hexdigest()
    except OSError:
        return None


def finished_notebooks(record: dict) -> dict[str, dict]:
    """The notebooks a provenance record lists as finished (ran, reused or kept), by notebook file name."""
    return {Path(n["notebook"]).name: n for n in record.get("notebooks", []) if n.get("status") in FINISHED}
