"""Which params a notebook reads, recorded as it runs, so the runner reuses what a changed setting cannot reach.

While a notebook runs under the runner, every read of a :class:`~evaluation.core.params.Params` field is noted
in a small JSON file. A section (``goals``, ``spc``, ``windows``, ...) is noted per key: ``goals.a1c`` when one
goal is read, ``keys(goals)`` when only which measures have goals is (iterating it, ``len``, ``in`` on an
absent key), and ``goals`` when it is read whole (its items, values, a copy, a comparison). So the data check
that every notebook makes (which measures have goals) leaves the notebooks that never read an A1c goal free
to be reused when a variant changes it.

Nothing here knows the params' fields: :mod:`evaluation.core.params` calls :func:`note_read` and wraps its
sections in :class:`RecordedSection`.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterable

import yaml

__all__ = ["PARAMS_READ_VARIABLE", "RecordedSection", "record_params_reads", "stop_recording_params_reads",
           "recording", "note_read", "keys_name", "key_name", "read_value"]

# the file a notebook process records the params it reads in; the runner sets it for each notebook it executes
PARAMS_READ_VARIABLE = "CMM_PARAMS_READ"


def key_name(section: str, key: Any) -> str:
    """The recorded name of one key of a section: ``goals.a1c``."""
    return f"{section}.{key}"


def keys_name(section: str) -> str:
    """The recorded name of which keys a section has: ``keys(goals)``."""
    return f"keys({section})"


def read_value(values: dict[str, Any], name: str) -> Any:
    """The value a recorded name stands for in ``values`` (a params' fields as plain data): a field, one key of a
    section (None when absent), or a section's sorted keys. A run whose value differs for a name a notebook
    read cannot reuse that notebook."""
    if name.startswith("keys(") and name.endswith(")"):
        section = values.get(name[5:-1])
        return sorted(map(str, section)) if isinstance(section, dict) else section
    field, dot, key = name.partition(".")
    if dot and isinstance(values.get(field), dict):
        return values[field].get(key)
    return values.get(name)


class _Reads:
    """The names read in this process since :func:`record_params_reads`, kept in a small JSON file (rewritten
    at each new name, so it is complete however the process ends)."""

    def __init__(self) -> None:
        self.names: set[str] | None = None  # None: not recording
        self.path: Path | None = None

    def note(self, names: Iterable[str]) -> None:
        new = set(names) - self.names
        if new:
            self.names |= new
            self.write()

    def write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"params_read": sorted(self.names)}) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


_reads = _Reads()


def recording() -> bool:
    """Whether this process records the params it reads."""
    return _reads.names is not None


def note_read(*names: str) -> None:
    """Note that ``names`` were read (nothing when not recording)."""
    if _reads.names is not None:
        _reads.note(names)


def record_params_reads(path: str | os.PathLike) -> None:
    """Record from now on every params read in this process into ``path`` (JSON, ``{"params_read": [...]}``),
    so the runner knows which params a notebook's outputs can depend on.

    Started by :func:`evaluation.start` when the runner names the file in ``$CMM_PARAMS_READ``; started again
    for the same file (a notebook calling ``start`` twice), what was recorded is kept.
    """
    path = Path(path)
    if _reads.names is not None and _reads.path == path:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    _reads.names, _reads.path = set(), path
    _reads.write()  # an empty record says recording ran: a missing one means nothing is known (every field)


def stop_recording_params_reads() -> set[str] | None:
    """Stop recording (a notebook run in the runner's own process has ended); the names read, or None."""
    names, _reads.names, _reads.path = _reads.names, None, None
    return names


class RecordedSection(dict):
    """A params section that notes how it is read: one key (``d[k]``, ``d.get(k)``, ``k in d`` for a key it
    has), which keys it has (iterating, ``len``, ``in`` for one it lacks), or whole (anything else).

    A ``dict`` subclass, so code that takes a dict takes it; overriding ``__iter__`` and ``keys`` sends
    CPython's own copies (``dict(d)``, ``{**d}``, ``f(**d)``) through the methods that note. A copy, a pickle
    or a deep copy is a plain dict.
    """

    __slots__ = ("section",)

    def __init__(self, section: str, items: dict) -> None:
        super().__init__(items)
        self.section = section

    def _whole(self) -> None:
        note_read(self.section)

    def __getitem__(self, key):
        note_read(key_name(self.section, key))
        return super().__getitem__(key)

    def get(self, key, default=None):
        note_read(key_name(self.section, key))
        return super().get(key, default)

    def __contains__(self, key) -> bool:
        found = super().__contains__(key)
        note_read(key_name(self.section, key) if found else keys_name(self.section))
        return found

    def __iter__(self):
        note_read(keys_name(self.section))
        return super().__iter__()

    def keys(self):
        note_read(keys_name(self.section))
        return super().keys()

    def __len__(self) -> int:
        note_read(keys_name(self.section))
        return super().__len__()

    def __bool__(self) -> bool:
        note_read(keys_name(self.section))
        return super().__len__() > 0

    def __reversed__(self):
        note_read(keys_name(self.section))
        return super().__reversed__()

    def items(self):
        self._whole()
        return super().items()

    def values(self):
        self._whole()
        return super().values()

    def __eq__(self, other) -> bool:
        self._whole()
        return super().__eq__(other)

    def __ne__(self, other) -> bool:
        self._whole()
        return super().__ne__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._whole()
        return super().__repr__()

    def __or__(self, other):
        self._whole()
        return dict(super().items()) | other

    def __ror__(self, other):
        self._whole()
        return other | dict(super().items())

    def copy(self) -> dict:
        self._whole()
        return dict(super().items())

    def __copy__(self) -> dict:
        return self.copy()

    def __deepcopy__(self, memo) -> dict:
        self._whole()
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in super().items()}

    def __reduce_ex__(self, protocol):
        self._whole()
        return dict, (dict(super().items()),)

    # a section is read-only like the params that hold it (frozen): a notebook changing one would see it only here
    def _read_only(self, *args, **kwargs):
        raise TypeError(f"params section `{self.section}` is read-only; copy it first (dict(params.{self.section}))")

    __setitem__ = __delitem__ = __ior__ = _read_only
    setdefault = pop = popitem = update = clear = _read_only


# yaml's safe dumper writes exact types only: a recorded section is written as the dict it is
yaml.SafeDumper.add_representer(RecordedSection, lambda dumper, data: dumper.represent_dict(data.items()))
