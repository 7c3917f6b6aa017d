"""Publishing a report: writing only inside the reports root, never over a folder the runner did not publish,
and with no instant without a complete report.

Checks first (before anything is written): :func:`check_output_dir` (a folder of its own inside the root),
:func:`check_replaceable` (nothing at ``output_dir`` but a report of this cohort or an empty folder) and
:func:`check_writable` (the disk takes writes). :func:`publish` then puts the staged report in place: a journal
in ``<root>/.publishing/`` says where each folder goes before anything moves, the two folders are exchanged in
one step where the system can (else moved by two renames, the journal covering the instant between them), the
old report goes to ``<root>/.trash/`` and is deleted. :func:`repair_reports` finishes a publish a killed run
left half done. A write the file system refuses becomes :class:`ReportsNotWritable`, one line naming the path.
"""

from __future__ import annotations
import contextlib
import ctypes
import datetime as dt
import errno
import functools
import json
import os
import re
import shutil
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Callable
from evaluation.core.errors import EvaluationError, ParamsError
from evaluation.core.params import Params
from evaluation.core.paths import (JOURNAL_DIR, STAGING_DIR, TRASH_DIR, reports_root, shown_path, within_reports_root,
                                   workbench_dir)
from .provenance import PROVENANCE, provenance_digest, read_provenance
try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system: publishes are not locked against each other
    fcntl = None

# the errors of a file system that refuses a write: one line naming the path, never a traceback
WRITE_ERRORS = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on device",
                getattr(errno, "EDQUOT", -1): "disk quota exceeded"}
NOTHING_CHANGED = "nothing was changed; the last report is as it was"
REPAIR_PENDING = "nothing was changed; an interrupted publish is finished once the folder is writable"


class ReportsNotWritable(EvaluationError):
    """The reports folder (or a file a run reads) cannot be written: read-only, full, or no permission."""

    def __init__(self, path: str | os.PathLike, code: int, outcome: str = NOTHING_CHANGED):
        self.path = str(path)
        self.errno = code
        inside = within_reports_root(path) or os.path.abspath(path) == os.path.abspath(reports_root())
        verb = "write to" if inside else "read"  # the workbench writes only inside the reports root
        reason = WRITE_ERRORS.get(code) or os.strerror(code).lower()
        super().__init__(f"cannot {verb} {shown_path(path)}: {reason} ({outcome})")


def refused_write(exc: OSError) -> tuple[int, str | None] | None:
    """(errno, path) of a refused write when ``exc`` is one, else None; a copytree's collected errors included."""
    if isinstance(exc, shutil.Error):  # copytree gathers (source, target, "[Errno N] ...") for every file it failed
        for entry in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
            found = re.search(r"\[Errno (\d+)\]", str(entry[-1])) if isinstance(entry, tuple) else None
            if found and int(found.group(1)) in WRITE_ERRORS:
                return int(found.group(1)), str(entry[1]) if len(entry) == 3 else None
        return None
    if exc.errno in WRITE_ERRORS:
        return exc.errno, os.fsdecode(exc.filename) if exc.filename else None
    return None


def storage_error(exc: OSError, fallback: Path) -> ReportsNotWritable:
    """``exc`` (a refused write) as the one-line error, naming its file, or ``fallback`` when the system named
    none (a write that found the disk full)."""
    code, path = refused_write(exc) or (exc.errno or errno.EIO, None)
    return ReportsNotWritable(path or fallback, code)


def check_output_dir(params: Params) -> None:
    """Refuse (ParamsError on ``output_dir``, before anything is written) a report folder that is not a folder
    of its own inside the reports root: the root itself, the workbench's own folders, a place a link leads out
    of the root to, or a folder inside another report."""
    root, out = Path(os.path.abspath(reports_root())), Path(os.path.abspath(params.output_dir))

    def refuse(message: str) -> None:
        raise ParamsError(message, path=params.source, key="output_dir")

    if out == root:
        refuse(f"`output_dir` is the reports folder itself ({shown_path(root)}): a report needs a folder of its own "
               f"inside it, such as {shown_path(root / params.cohort_id)}")
    if root not in out.parents:
        refuse(f"`output_dir` must be a folder inside the reports folder ({shown_path(root)}); got {shown_path(out)}: "
               "the workbench writes nowhere else")
    own = workbench_dir(out)
    if own:
        refuse(f"`output_dir` {shown_path(out)} is inside the workbench's own {own} folder: choose another folder "
               f"inside {shown_path(root)}")
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(out.parent)]) != real_root:
        refuse(f"`output_dir` {shown_path(out)} leads out of the reports folder through a link: the workbench "
               "writes nowhere else")
    for above in out.parents:
        if above == root:
            break
        if read_provenance(above) is not None:
            refuse(f"`output_dir` {shown_path(out)} is inside the report {shown_path(above)}: give it a folder of "
                   "its own")


def is_report(folder: Path, cohort_id: str) -> bool:
    """Whether ``folder`` is a report the runner published for ``cohort_id`` (so it may replace it)."""
    record = read_provenance(folder)
    return record is not None and record.get("cohort_id") == cohort_id


def _is_empty(folder: Path) -> bool:
    """Whether a folder holds nothing (so replacing it loses nothing)."""
    with os.scandir(folder) as found:
        return next(found, None) is None


def check_replaceable(final: Path, cohort_id: str, source: str | None = None) -> None:
    """Refuse to publish over anything at ``final`` but a report of this cohort (or an empty folder, which holds
    nothing to lose): a user's folder is never moved, replaced or deleted."""
    if not os.path.lexists(final):
        return
    shown = shown_path(final)
    if os.path.islink(final) or not os.path.isdir(final):
        what = "a link" if os.path.islink(final) else "a file"
        problem = f"`output_dir` {shown} is {what}, not a report folder"
    elif _is_empty(final) or is_report(final, cohort_id):
        return
    else:
        other = (read_provenance(final) or {}).get("cohort_id")
        problem = (f"`output_dir` {shown} holds the report of cohort {other}, not {cohort_id}" if other else
                   f"`output_dir` {shown} is a folder the workbench did not publish (it has no {PROVENANCE} of "
                   f"cohort {cohort_id})")
    raise ParamsError(f"{problem}: nothing was touched; move it away or set `output_dir` to another folder",
                      path=source, key="output_dir")


def check_writable(final: Path) -> None:
    """Stop before the notebooks run (not minutes later, at publishing) when the report or a folder the publish
    moves things in is read-only or not ours to write: raise the OSError the publish would meet."""
    root = reports_root()
    for path in (final, final.parent, root / STAGING_DIR, root / TRASH_DIR, root / JOURNAL_DIR, root):
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        if hasattr(os, "statvfs") and os.statvfs(path).f_flag & os.ST_RDONLY:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        if not os.access(path, os.W_OK | os.X_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def new_staging_dir(cohort_id: str) -> Path:
    """A new staging folder, inside the reports root (``<root>/.staging/``) whatever ``output_dir`` is."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = reports_root() / STAGING_DIR / f"{cohort_id}-{stamp}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


# Exchanging two folders in one step, so that at every instant reports/<cohort>/ is one complete report, the old
# or the new (where the system cannot, the instant between two renames is covered by the journal)
AT_FDCWD = -100  # <fcntl.h> on Linux
RENAME_EXCHANGE = 2  # renameat2 flag, <linux/fs.h>
RENAME_SWAP = 2  # renamex_np flag, <stdio.h> on macOS
# what a system or file system answers when it cannot exchange two directories: two renames do instead
NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP}


@functools.lru_cache(maxsize=1)
def _exchange_call() -> Callable[[bytes, bytes], int] | None:
    """The C library's directory exchange as ``call(a, b) -> 0 | -1`` (errno set), or None where there is none
    (renameat2 is in glibc from 2.28; macOS has renamex_np)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        func = libc.renameat2
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
        return lambda a, b: func(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        func = libc.renamex_np
        func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
        return lambda a, b: func(a, b, RENAME_SWAP)
    return None


def exchange_dirs(a: Path, b: Path) -> bool:
    """Swap two existing directories in one step; False when this system or file system cannot (the caller
    then moves them with two renames). Any other refusal raises the OSError."""
    call = _exchange_call()
    if call is None:
        return False
    ctypes.set_errno(0)
    if call(os.fsencode(a), os.fsencode(b)) == 0:
        return True
    code = ctypes.get_errno()
    if code in NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


LOCK_FILE = ".lock"


@contextlib.contextmanager
def _publish_lock(root: Path):
    """Hold the reports root's publish lock: a run publishing and another repairing never move the same
    folders at once. The system drops it when the holder dies, so a killed run never leaves it taken."""
    folder = root / JOURNAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a", encoding="utf-8") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _journal_path(root: Path, final: Path) -> Path:
    """``<root>/.publishing/<report folder>.json``: one journal per report folder."""
    name = urllib.parse.quote(os.path.relpath(os.path.abspath(final), os.path.abspath(root)), safe="")
    return root / JOURNAL_DIR / f"{name}.json"


def _write_journal(path: Path, record: dict) -> None:
    """Write a journal whole or not at all (a temporary file synced, then renamed over), before any move."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError:  # a full disk: no journal, nothing moved
        partial.unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (the journal must be on disk before the first move)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename still happened
    finally:
        os.close(fd)


def _put_in_place(new: Path, final: Path, trash: Path) -> Path | None:
    """Move the report ``new`` to ``final``; return where the old report went (None when there was none).

    Exchanged in one step where the system can; else ``final`` goes to ``trash`` and ``new`` to ``final``, the
    journal saying where each is meanwhile. Raises OSError with nothing moved (or, if even putting the old
    report back failed, with the journal left for :func:`repair_reports`).
    """
    if not os.path.lexists(final):  # the first publish: one rename
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, final)
        return None
    if exchange_dirs(new, final):
        return new  # the old report is where the new one was
    trash.parent.mkdir(parents=True, exist_ok=True)
    os.replace(final, trash)
    try:
        os.replace(new, final)
    except OSError:
        os.replace(trash, final)  # put the old report back: nothing changed
        raise
    return trash


def _trash_path(root: Path, final: Path) -> Path:
    """A new place in ``<root>/.trash/`` for a replaced report of the folder ``final``."""
    return root / TRASH_DIR / f"{final.name}-{time.time_ns()}-{os.getpid()}"


def publish(staging: Path, final: Path, cohort_id: str | None = None) -> None:
    """Put the staged report in place of ``final``: the old report stays whole until the new one is in place.

    A journal in ``<root>/.publishing/`` records the new report's folder and hash and where the old one goes
    before anything moves; then the two folders are exchanged in one step (or moved by two renames where the
    system cannot), the old report goes to ``<root>/.trash/``, the journal is removed, and the old report is
    deleted last. A run killed at any step leaves a complete report (or, between two renames, both reports
    whole where the journal says), and the next run or ``validate`` finishes the publish
    (:func:`repair_reports`). Anything at ``final`` but a report of this cohort is refused.
    """
    root = reports_root()
    cohort_id = cohort_id or (read_provenance(staging) or {}).get("cohort_id", "")
    trash = _trash_path(root, final)
    with _publish_lock(root):
        check_replaceable(final, cohort_id)  # again: a folder may have appeared there while the notebooks ran
        journal = _journal_path(root, final)
        relative = lambda p: os.path.relpath(os.path.abspath(p), os.path.abspath(root))  # noqa: E731
        _write_journal(journal, {"cohort_id": cohort_id, "final": relative(final), "new": relative(staging),
                                 "old": relative(trash), "new_provenance_sha256": provenance_digest(staging),
                                 "started_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        try:
            old = _put_in_place(staging, final, trash)
        except OSError as exc:
            if not os.path.lexists(final):  # even the old report could not be put back: the journal stays
                code = (refused_write(exc) or (errno.EIO,))[0]
                raise ReportsNotWritable(exc.filename or final, code, f"{shown_path(final)} is missing until the "
                                         "next run or validate puts a complete report back") from exc
            journal.unlink(missing_ok=True)
            raise
        # the new report is in place; what follows only tidies up, and the next run's repair finishes it if cut short
        try:
            if old == staging:
                trash.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging, trash)  # out of .staging in one step, so a half-deleted report never lies there
                old = trash
            journal.unlink()
        except OSError:
            return
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)  # outside the lock: a large old report takes a while


def _entries(folder: Path) -> list[Path]:
    """What ``folder`` holds, sorted ([] when it does not exist or cannot be read)."""
    try:
        return sorted(Path(e.path) for e in os.scandir(folder))
    except OSError:
        return []


def repair_reports() -> list[str]:
    """Finish every publish a killed run left half done and delete the trash of completed ones; one line per
    report repaired. Writes nothing when there is nothing to repair (a read-only reports folder is fine)."""
    root = reports_root()
    try:
        return _repair(root)
    except OSError as exc:
        refused = refused_write(exc)
        if refused is None:
            raise
        raise ReportsNotWritable(refused[1] or root, refused[0], REPAIR_PENDING) from None


def _repair(root: Path) -> list[str]:
    """:func:`repair_reports` under ``root``: take the lock only when there is something to finish or delete."""
    journals = [p for p in _entries(root / JOURNAL_DIR) if p.name != LOCK_FILE]
    if not journals:
        if _entries(root / TRASH_DIR):
            with contextlib.suppress(OSError):  # only trash: nothing is at risk, so a read-only root may keep it
                _repair_locked(root)
        return []
    return _repair_locked(root)


def _repair_locked(root: Path) -> list[str]:
    """Settle every journal under the publish lock, then empty the trash unless a journal could not be read."""
    lines: list[str] = []
    with _publish_lock(root):
        unresolved = False
        for path in _entries(root / JOURNAL_DIR):
            if path.name == LOCK_FILE:
                continue
            if path.name.endswith(".tmp"):  # a journal write cut short: nothing had moved yet
                path.unlink(missing_ok=True)
                continue
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                lines.append(f"cannot read the publish journal {shown_path(path)}; left it and the trash as they are")
                unresolved = True
                continue
            lines.append(_repair_one(root, path, record))
        garbage = [] if unresolved else _entries(root / TRASH_DIR)  # no journal points into the trash any more
    for folder in garbage:
        shutil.rmtree(folder, ignore_errors=True)
    return lines


def _repair_one(root: Path, journal: Path, record: dict) -> str:
    """Settle one interrupted publish: the newest complete report ends at its folder (the new one, when it is
    whole, else the old one), the other goes to the trash, the journal is removed."""
    final, new, old = (root / record[key] for key in ("final", "new", "old"))
    cohort, digest = record.get("cohort_id", ""), record.get("new_provenance_sha256")
    shown = shown_path(final)
    if digest and provenance_digest(final) != digest and provenance_digest(new) == digest:
        if os.path.lexists(final) and not is_report(final, cohort) and not _is_empty(final):
            journal.unlink()
            return (f"an interrupted publish of {shown} left its new report in {shown_path(new)}: {shown} is not "
                    "a report the workbench published, so it was left as it is")
        _put_in_place(new, final, old if not os.path.lexists(old) else _trash_path(root, final))
    if digest and provenance_digest(final) == digest:
        which = "the new report"
        if os.path.lexists(new):  # the old report, exchanged out of its place
            trash = _trash_path(root, final)
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(new, trash)
    elif not os.path.lexists(final) and is_report(old, cohort):
        os.replace(old, final)
        which = "the new report was incomplete, so the previous report"
    elif os.path.lexists(final):
        which = "the new report was incomplete, so the previous report"
    else:
        journal.unlink()
        return f"an interrupted publish of {shown} left no complete report: run again to make one"
    journal.unlink()
    started = (read_provenance(final) or {}).get("started_utc", "at an unknown time")
    return f"repaired an interrupted publish of {shown}: {which} (run started {started}) is in place"
