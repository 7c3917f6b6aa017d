"""Warm kernels: the notebooks of a run share a few worker processes, each holding one Jupyter kernel that it
starts, and fills with the notebooks' imports, before its first notebook, then reuses for notebook after notebook.

Why: at demo size a kernel's start and the imports of pandas, matplotlib, statsmodels and lifelines (2-4 s) cost
as much as a short notebook's analysis; started once per worker, while the runner validates the data, they cost
nothing on the run's critical path. Each notebook still runs as it would in a new kernel: before it,
:func:`evaluation.run.kernel_state.reset` empties the namespace and sets back everything a notebook can change
(see there), and a kernel that died, or still holds more than :data:`RECYCLE_MB` after a notebook, is replaced.
A notebook's peak memory is its own: the kernel's high-water mark is cleared before it (Linux's ``clear_refs``).

The workers import this module to serve notebooks, so it stays light, as :mod:`.execute` does: jupyter_client and
papermill only inside the functions that use them.
"""

from __future__ import annotations

import ast
import functools
import os
import queue
import resource
import sys
import tempfile
import time
from multiprocessing.util import Finalize
from pathlib import Path

from jupyter_core.utils import run_sync

from evaluation.core.paths import REPO_ROOT

SOCKETS_PREFIX = "cmm-kernel-"  # a kernel's socket folder, under the system's temporary folder (a short path: a
# Unix socket's path is limited to about 100 characters)
RECYCLE_MB = 2048  # a kernel still holding more than this after a notebook (and its reset) is replaced
# as nbclient starts its kernels: the notebooks' cells are not added to the user's IPython history
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]
START_TIMEOUT_SECONDS = 120
CELL_TIMEOUT_SECONDS = 1800
# what every warm kernel runs once, after the notebooks' own imports: a figure drawn in each export format loads
# the fonts and the backends a notebook's first figure would otherwise wait for
WARM_FIGURE = """
import io as _io
import matplotlib.pyplot as _plt
from evaluation.core.figures import HOUSE_STYLE as _STYLE
with _plt.rc_context(_STYLE):
    _fig, _ax = _plt.subplots()
    _ax.plot([0, 1], [0, 1], label="warm up 0123456789 %"); _ax.set_title("Warm"); _ax.legend()
    for _format in ("png", "svg", "pdf"):
        _fig.savefig(_io.BytesIO(), format=_format)
    _plt.close(_fig)
"""


def kernel_connection(folder: str) -> dict:
    """Keyword arguments that make a kernel listen on Unix sockets in ``folder`` (its connection file beside them)
    instead of TCP ports, so that no other kernel starting at the same moment can take them (papermill issue 511,
    jupyter_client issue 487: a free port is picked, then bound a moment later by the kernel).

    ``folder`` must be this kernel's alone (the sockets are named after the connection file). Windows keeps TCP:
    its kernels have no Unix sockets.
    """
    if os.name == "nt":  # pragma: no cover - the workbench runs on POSIX systems
        return {}
    from traitlets.config import Config

    return {"config": Config({"KernelManager": {"transport": "ipc",
                                                "connection_file": os.path.join(folder, "kernel.json")}})}


def warm_up_code(notebooks: list[Path]) -> str:
    """What a kernel runs once before its first notebook: every import statement of ``notebooks``' code cells (at
    the top level of a cell, in order, each once; a cell that does not parse gives none), then the warm figure."""
    import nbformat

    lines: list[str] = []
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            lines += [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    imports = "\n".join(dict.fromkeys(lines))
    return f"{imports}\n{WARM_FIGURE}\nfrom evaluation.run.kernel_state import remember\nremember()\n"


class WarmKernel:
    """One kernel that a worker process reuses, with its socket folder (removed when it stops).

    Driven through jupyter_client's asynchronous manager and clients, as nbclient drives a kernel (a blocking client
    inside nbclient would wait forever on a kernel that died); ``run_sync`` runs each call on the thread's one loop.
    """

    def __init__(self, name: str, warm_code: str) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self.sockets = tempfile.TemporaryDirectory(prefix=SOCKETS_PREFIX, ignore_cleanup_errors=True)
        self.manager = AsyncKernelManager(kernel_name=name, **kernel_connection(self.sockets.name))
        run_sync(self.manager.start_kernel)(cwd=str(REPO_ROOT), extra_arguments=KERNEL_ARGUMENTS)
        client = self.client()
        try:
            failed = self.run(warm_code, client)
        finally:
            client.stop_channels()
        if failed:  # the notebook that needs it fails on that import again, with its cell; here it is only noted
            print(f"the warm kernel's imports stopped at {failed}", file=sys.stderr)

    @property
    def pid(self) -> int | None:
        return getattr(self.manager.provisioner, "pid", None)

    def client(self):
        """A new client of this kernel, its channels started and the kernel answering on both (see :func:`_ready`)."""
        client = self.manager.client()
        client.start_channels()
        run_sync(_ready)(client, START_TIMEOUT_SECONDS)
        return client

    def run(self, code: str, client) -> str | None:
        """Run ``code`` quietly through ``client`` (outputs dropped, not in the history); the error it raised as
        text, or None."""
        reply = run_sync(client.execute_interactive)(code, store_history=False, timeout=START_TIMEOUT_SECONDS,
                                                     output_hook=lambda message: None)
        content = reply.get("content", {})
        return None if content.get("status") == "ok" else f"{content.get('ename')}: {content.get('evalue')}"

    def alive(self) -> bool:
        return bool(run_sync(self.manager.is_alive)())

    def stop(self) -> None:
        try:
            if self.manager.has_kernel:
                run_sync(self.manager.shutdown_kernel)(now=True)
        finally:
            run_sync(self.manager.cleanup_resources)()
            self.sockets.cleanup()


async def _ready(client, timeout: float) -> None:
    """Wait until the kernel answers ``client``: a kernel_info request's reply on the shell channel, and its
    idle status on IOPub (then the subscription is live and no output of the next request is missed). What
    jupyter_client's ``wait_for_ready`` checks, without the 0.2 s it then waits for IOPub to fall quiet: a
    fresh client has nothing to flush, and a notebook pays that wait every time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg_id = client.kernel_info()
        try:
            while (await client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic())))[
                    "parent_header"].get("msg_id") != msg_id:
                pass
            while True:
                msg = await client.get_iopub_msg(timeout=1)
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" \
                        and msg["content"].get("execution_state") == "idle":
                    return
        except queue.Empty:  # IOPub was not subscribed yet when the kernel answered: ask again
            continue
    raise RuntimeError(f"the kernel did not answer within {timeout:.0f} s")


def clear_peak_memory(pid: int | None) -> bool:
    """Clear a process's memory high-water mark (Linux), so it next reads the peak since now; whether it could."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except (OSError, TypeError):
        return False


def memory_mb(pid: int | None, field: str = "VmHWM") -> float | None:
    """A process's peak (``VmHWM``) or current (``VmRSS``) resident memory in MB, from /proc; None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, TypeError, ValueError):
        pass
    return None


class _Worker:
    """This worker process's kernel and how to make a new one."""

    kernel: WarmKernel | None = None
    name: str = "python3"
    warm_code: str = ""
    replace: bool = False  # the last notebook left the kernel too full: a new one before the next


def start_worker(kernel: str, threads: int, warm_code: str, log_path: str,
                 thread_variables: tuple[str, ...]) -> None:
    """A worker process's set-up (the pool's initializer): its kernels' linear algebra gets ``threads`` threads
    unless the user set them; the kernels' own messages go to ``log_path``; a warm kernel starts now, so that it is
    ready when the first notebook comes (a kernel that fails to start is started again, and its error reported, by
    the first notebook)."""
    for name in thread_variables:
        os.environ.setdefault(name, str(threads))
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - this process's stderr from now on
    os.dup2(log.fileno(), 2)
    _Worker.name, _Worker.warm_code = kernel, warm_code
    try:
        _Worker.kernel = WarmKernel(kernel, warm_code)
    except Exception as exc:  # noqa: BLE001 - reported when a notebook needs the kernel
        print(f"the warm kernel did not start: {type(exc).__name__}: {exc}", file=sys.stderr)
    Finalize(None, _stop_kernel, exitpriority=10)  # run as the worker exits (multiprocessing skips atexit)


def _stop_kernel() -> None:
    kernel, _Worker.kernel = _Worker.kernel, None
    if kernel is not None:
        try:
            kernel.stop()
        except Exception as exc:  # noqa: BLE001 - the worker is exiting: say so in the log, stop nothing else
            print(f"the warm kernel did not stop cleanly: {type(exc).__name__}: {exc}", file=sys.stderr)


def ready() -> bool:
    """A task that does nothing: submitted once per worker so the pool starts its workers (and their kernels) now."""
    return _Worker.kernel is not None


def worker_kernel() -> WarmKernel:
    """This worker's kernel, alive and fit for the next notebook: a new one when it died or is too full."""
    kernel = _Worker.kernel
    if kernel is not None and (_Worker.replace or not kernel.alive()):
        _stop_kernel()
        kernel = None
    if kernel is None:
        kernel = _Worker.kernel = WarmKernel(_Worker.name, _Worker.warm_code)
        _Worker.replace = False
    return kernel


ENGINE = "cmm-warm-kernel"  # the papermill engine that runs a notebook in a kernel already running


@functools.cache
def _engine() -> str:
    """Register (once) and name the papermill engine that executes in this worker's running kernel, through the
    client already connected to it: papermill passes ``km`` to nbclient but not ``kc``, and nbclient then starts a
    client of its own (0.2 s of waiting per notebook) that it never stops, since it does not own the kernel."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.iorw import write_ipynb
    from papermill.log import logger

    class ConnectedClient(PapermillNotebookClient):
        def __init__(self, nb_man, kc=None, **kw) -> None:
            super().__init__(nb_man, **kw)
            self.kc = kc

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kept = kwargs.pop("keep_as", None)
            kwargs = {k: v for k, v in kwargs.items() if k not in ("input_path", "timeout", "startup_timeout")}
            try:
                return ConnectedClient(nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
                                       kernel_name=kernel_name, log=logger, log_output=log_output,
                                       stdout_file=stdout_file, stderr_file=stderr_file, **kwargs).execute()
            except Exception:
                # a kernel that died or a cell that timed out: papermill writes no notebook then (it does for an
                # error in a cell); the notebook as far as it ran is kept, to see where it stopped
                if kept:
                    write_ipynb(nb_man.nb, kept)
                raise

    papermill_engines.register(ENGINE, WarmKernelEngine)
    return ENGINE


def run_in_warm_kernel(source: str, target: str, parameters: dict, environment: dict[str, str | None],
                       stdout) -> dict:
    """Run one notebook with papermill in this worker's warm kernel, reset first with ``environment``; its peak
    memory in MB (None where it cannot be measured). Raises what papermill raises."""
    import papermill as pm

    kernel = worker_kernel()
    client = kernel.client()
    measured = False
    try:
        failed = kernel.run(f"from evaluation.run.kernel_state import reset\nreset({environment!r})", client)
        if failed:
            raise RuntimeError(f"the kernel could not be reset for the notebook: {failed}")
        measured = clear_peak_memory(kernel.pid)
        pm.execute_notebook(source, target, parameters=parameters, engine_name=_engine(), kernel_name=_Worker.name,
                            language="python", km=kernel.manager, kc=client, cwd=str(REPO_ROOT), progress_bar=False,
                            log_output=True, stdout_file=stdout, stderr_file=stdout, request_save_on_cell_execute=False,
                            execution_timeout=CELL_TIMEOUT_SECONDS, keep_as=target)
    finally:
        client.stop_channels()
        peak = memory_mb(kernel.pid) if measured else None
        held = memory_mb(kernel.pid, "VmRSS")
        _Worker.replace = held is not None and held > RECYCLE_MB
    if peak is None:  # no /proc: the largest child of this worker (the kernel) over its whole life
        peak = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1) or None
    return {"peak_memory_mb": peak}
