"""Executing notebooks: with papermill in warm kernels (:mod:`.kernels`: a few worker processes, one kernel each,
started while the runner validates and reused from notebook to notebook, the cores shared out among them), or
their code cells in this process (fast, for tests and the benchmark's floor).

The worker processes import this module to run :func:`execute_notebook`, so it stays light: the standard
library, the light :mod:`evaluation.run.notebooks` and :mod:`.kernels` and the params module (which the package
loads anyway) at the top, papermill, nbformat and matplotlib only inside the functions that use them (a worker that
started pandas and matplotlib for nothing would start seconds later).
"""

from __future__ import annotations
import contextlib
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable
from evaluation.core.outputs import OUTPUTS_VARIABLE  # loaded with the package anyway, like the params modules
from evaluation.core.params_read import PARAMS_READ_VARIABLE, stop_recording_params_reads
from evaluation.core.paths import REPO_ROOT
from .kernels import ready, run_in_warm_kernel, start_worker, warm_up_code
from .notebooks import NotebookRun, notebook_name

KERNEL_NAME = "cmm-evaluation"
# linear-algebra libraries start one thread per core in every kernel; with notebooks running side by side that
# oversubscribes the cores (OpenBLAS slowed the mixed models up to 50-fold on 2 cores), so each kernel gets its share
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PARAMS_READ_DIR = ("logs", "params_read")  # where, in the staging folder, each notebook records the params it read
OUTPUTS_DIR = ("logs", "outputs")  # and the files it wrote
KERNELS_LOG = "kernels.log"  # in the staging folder's logs/: what the kernels themselves printed to stderr


def params_read_path(staging: Path, notebook: Path) -> Path:
    """The file the notebook ``notebook`` records the params it reads in, when run into ``staging``."""
    return staging.joinpath(*PARAMS_READ_DIR, f"{notebook.stem}.json")


def outputs_path(staging: Path, notebook: Path) -> Path:
    """The file the notebook ``notebook`` notes the files it writes in (one a line), when run into ``staging``."""
    return staging.joinpath(*OUTPUTS_DIR, f"{notebook.stem}.txt")


def records_of(staging: Path, notebook: Path) -> tuple[str, str]:
    """The two records a notebook run into ``staging`` keeps (params read, files written), made ready: their
    folder exists and no earlier record is in them."""
    paths = params_read_path(staging, notebook), outputs_path(staging, notebook)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    return str(paths[0]), str(paths[1])


def kernel_name() -> str:
    """The project's kernel when it is registered (``make`` does), else this interpreter's own."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def kernel_threads(workers: int) -> int:
    """Threads each notebook kernel's linear algebra may use when ``workers`` kernels run at once."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def execute_notebook(source: str, target: str, parameters: dict, log_path: str, params_read: str | None = None,
                     outputs: str | None = None) -> dict:
    """Run one notebook with papermill in this worker's warm kernel; return its status, never raise.

    Before the notebook the kernel is reset (:func:`evaluation.run.kernel_state.reset`) with ``$CMM_PARAMS_READ``
    naming ``params_read``, the file the notebook records the params it reads in, and ``$CMM_OUTPUTS_WRITTEN``
    naming ``outputs``, where it notes the files it writes. What the notebook prints goes to ``log_path``.
    """
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    result: dict = {"status": "ok", "error": None, "peak_memory_mb": None}
    environment = {PARAMS_READ_VARIABLE: params_read, OUTPUTS_VARIABLE: outputs}
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            result |= run_in_warm_kernel(source, target, parameters, environment, log)
        except PapermillExecutionError as exc:
            result = {"status": "failed", "error": {"cell_index": exc.cell_index, "source": exc.source,
                                                    "ename": exc.ename, "evalue": exc.evalue}}
        except Exception as exc:  # kernel died, timeout, unreadable notebook: still report it, not crash
            result = {"status": "failed", "error": {"cell_index": None, "source": "", "ename": type(exc).__name__,
                                                    "evalue": str(exc)}}
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


class NotebookPool:
    """Worker processes with warm kernels for the notebooks of one run (a context manager: the workers and their
    kernels stop when it closes). Started before the data are validated, so the kernels warm up meanwhile; each
    kernel runs the import statements of ``notebooks`` (the notebooks the run may execute) once."""

    def __init__(self, kernel: str, workers: int, notebooks: list[Path], logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.workers = max(1, workers)
        self.executor = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=start_worker,
            initargs=(kernel, kernel_threads(self.workers), warm_up_code(notebooks), str(logs / KERNELS_LOG),
                      THREAD_VARIABLES))
        for _ in range(self.workers):  # each submission while the others are busy starting starts a worker
            self.executor.submit(ready)

    def __enter__(self) -> NotebookPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def run(self, batch: list[Path], staging: Path, parameters: dict, say: Callable[[str], None],
            done: list[NotebookRun], total: int) -> None:
        """Run ``batch`` into ``staging``, one notebook per worker at a time, appending each to ``done`` and reporting
        it as it starts and ends. Stops starting notebooks after the first failure."""
        waiting = list(batch)
        running: dict = {}

        def start_next() -> None:
            path = waiting.pop(0)
            say(f"  started  {path.stem}")
            future = self.executor.submit(execute_notebook, str(path), str(staging / "notebooks" / path.name),
                                          parameters, str(staging / "logs" / f"{path.stem}.log"),
                                          *records_of(staging, path))
            running[future] = path

        while waiting and len(running) < self.workers:
            start_next()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                path = running.pop(future)
                res = future.result()
                run = NotebookRun(notebook_name(path), f"notebooks/{path.name}", res["status"], res["seconds"],
                                  res["error"], peak_memory_mb=res.get("peak_memory_mb"))
                if run.status != "ok":
                    run.status = "failed"
                done.append(run)
                _say_done(say, run, path, len(done), total)
                if waiting and run.status == "ok":
                    start_next()
                elif run.status != "ok":
                    waiting.clear()  # stop early: the run fails anyway, the others' results would be thrown away


def execute_in_process(source: str, target: str, parameters: dict, params_read: str | None = None,
                       outputs: str | None = None) -> dict:
    """Run one notebook's code cells in this process, as papermill would with ``parameters`` injected after the
    ``parameters`` cell (and the repository as the working folder); write the notebook (without outputs) to
    ``target``; return its status, never raise. With ``params_read``, the params the notebook reads are recorded
    in that file, as in a kernel, and recording stops when the notebook ends (the caller's reads are its own);
    with ``outputs``, the files it writes are noted there.

    No kernel and no outputs kept: for the cohort-shape tests, the notebooks a regold runs only for their
    tables, and the benchmark's in-process floor.
    """
    import ast
    import io
    import traceback

    import matplotlib.pyplot as plt
    import nbformat
    from IPython.display import display

    started = time.perf_counter()
    nb = nbformat.read(source, as_version=4)
    namespace: dict = {"__name__": "__main__", "display": display}  # what a kernel provides as a builtin
    result: dict = {"status": "ok", "error": None}
    with contextlib.chdir(REPO_ROOT), _environment(PARAMS_READ_VARIABLE, params_read), \
            _environment(OUTPUTS_VARIABLE, outputs):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # what cells print is a kernel's output, not ours
                    exec(compile(ast.parse(cell.source), f"<{Path(source).stem} cell {index}>", "exec"), namespace)
            except Exception as exc:  # a notebook error is reported like papermill's, with the cell and the traceback
                result = {"status": "failed", "error": {"cell_index": index, "source": cell.source,
                                                        "ename": type(exc).__name__, "evalue": str(exc),
                                                        "traceback": traceback.format_exc()}}
                break
            if "parameters" in cell.metadata.get("tags", []):
                namespace.update(parameters)
    stop_recording_params_reads()
    plt.close("all")
    nbformat.write(nb, target)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


@contextlib.contextmanager
def _environment(name: str, value: str | None):
    """``$name`` set to ``value`` (when not None) for the duration, then as it was."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if value is not None and before is None:
            os.environ.pop(name, None)
        elif value is not None:
            os.environ[name] = before


def run_batch(batch: list[Path], staging: Path, parameters: dict, jobs: int, kernel: str | None,
              say: Callable[[str], None], done: list[NotebookRun], total: int,
              pool: NotebookPool | None = None) -> None:
    """Run notebooks into ``staging``, at most ``jobs`` at a time (in ``pool``'s warm kernels, or a pool of its
    own), appending each to ``done`` and reporting it as it starts and ends; in this process, one after another,
    when ``kernel`` is None. Stops starting notebooks after the first failure."""
    (staging / "notebooks").mkdir(parents=True, exist_ok=True)
    (staging / "logs").mkdir(parents=True, exist_ok=True)
    if kernel is None:
        return _run_in_process(batch, staging, parameters, say, done, total)
    if pool is not None:
        return pool.run(batch, staging, parameters, say, done, total)
    with NotebookPool(kernel, min(jobs, len(batch)), batch, staging / "logs") as own:
        own.run(batch, staging, parameters, say, done, total)


def _run_in_process(batch: list[Path], staging: Path, parameters: dict, say: Callable[[str], None],
                    done: list[NotebookRun], total: int) -> None:
    """:func:`run_batch` without kernels: one notebook after another in this process."""
    for path in batch:
        res = execute_in_process(str(path), str(staging / "notebooks" / path.name), parameters,
                                 *records_of(staging, path))
        run = NotebookRun(notebook_name(path), f"notebooks/{path.name}", res["status"], res["seconds"], res["error"])
        done.append(run)
        _say_done(say, run, path, len(done), total)
        if run.status != "ok":
            break


def _say_done(say: Callable[[str], None], run: NotebookRun, path: Path, count: int, total: int) -> None:
    mark = "done    " if run.status == "ok" else "FAILED  "
    say(f"  [{count}/{total}] {mark}{path.stem} ({run.seconds:.1f} s)")
