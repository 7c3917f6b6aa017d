"""A warm kernel's state, kept and put back: what :mod:`evaluation.run.kernels` runs inside a kernel it reuses, so
that each notebook starts as it would in a new kernel.

:func:`remember` is called once, when the kernel has imported the notebooks' libraries; :func:`reset` before
every notebook. Between notebooks the kernel keeps only its imported modules (the point of reusing it) and the
caches of pure functions; everything a notebook can change and a later one could see is set back: the namespace
and the execution count (IPython's reset), open figures and matplotlib's settings, pandas' and numpy's options,
the warning filters and the record of warnings already shown (a warning shown by one notebook would otherwise be
hidden in the next), the working folder, the runner's variables in the environment, and the params-read record.
IPython's own configuration (a ``%config`` line) is not set back: the workbench's notebooks set none.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
import sys
import warnings
from typing import Mapping

from evaluation.core.params_read import stop_recording_params_reads

_KEPT: dict = {}  # what remember() saw: the state reset() puts back


def remember() -> None:
    """Keep the state of this freshly warmed kernel (called once, before its first notebook), and freeze what it
    holds now (its modules, mostly) out of the garbage collector's sight."""
    import matplotlib
    import numpy as np

    _KEPT.update(cwd=os.getcwd(), rc=dict(matplotlib.rcParams), filters=list(warnings.filters),
                 print_options=np.get_printoptions(), errors=np.geterr(), environ=dict(os.environ))
    # the imported libraries are a million objects that live as long as the kernel: a full collection walked them
    # all (0.1 s each, twice in every reset and again whenever a notebook's allocations set one off); frozen, a
    # collection walks only what the notebooks made
    gc.collect()
    gc.freeze()


def reset(environment: Mapping[str, str | None]) -> None:
    """Put the kernel back as :func:`remember` saw it, with ``environment`` (name -> value, None to unset) applied
    on top, and empty its namespace; the memory the last notebook freed goes back to the system."""
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from IPython import get_ipython

    stop_recording_params_reads()
    plt.close("all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib warns of settings deprecated since, pandas of options
        matplotlib.rcParams.update({k: v for k, v in _KEPT.get("rc", {}).items() if k != "backend"})
        pd.reset_option("all")
    np.set_printoptions(**_KEPT.get("print_options", {}))
    np.seterr(**_KEPT.get("errors", {}))
    warnings.resetwarnings()  # also forgets which warnings were shown (every module's registry)
    warnings.filters[:] = _KEPT.get("filters", warnings.filters)
    os.chdir(_KEPT.get("cwd", os.getcwd()))
    kept_environ = _KEPT.get("environ", {})
    for name in [n for n in os.environ if n not in kept_environ]:
        del os.environ[name]
    os.environ.update(kept_environ)
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    sys.last_type = sys.last_value = sys.last_traceback = None  # a failed cell's frames hold its data
    get_ipython().reset(new_session=True)  # the namespace, the output history; execution counts start at 1
    gc.collect()  # what the last notebook left (the frozen modules are not walked)
    _give_back_memory()


def _give_back_memory() -> None:
    """Return freed heap memory to the system (glibc's malloc_trim), so the next notebook's peak is its own."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library or system); looked up once (``find_library`` runs
    ``ldconfig``)."""
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
