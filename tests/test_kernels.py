"""Warm kernels: notebooks share a worker's kernel, and each still runs as it would in a new kernel."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from evaluation.run.execute import NotebookPool, kernel_name
from evaluation.run.kernels import warm_up_code
from tests.conftest import write_notebook


def printed(staging: Path, path: Path) -> list[str]:
    """What each code cell after the parameters printed (its stream text), in order."""
    nb = nbformat.read(staging / "notebooks" / path.name, as_version=4)
    return ["".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream").strip()
            for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
            and "injected-parameters" not in c.metadata.get("tags", [])]


def test_warm_up_runs_each_notebooks_imports_once_in_order(tmp_path):
    first = write_notebook(tmp_path, "01_a.ipynb", "import os\nx = 1\nfrom pathlib import Path", "import json")
    second = write_notebook(tmp_path, "02_b.ipynb", "import os\nimport json, sys", "this is not python",
                            "%matplotlib inline")
    code = warm_up_code([first, second])
    imports = code.split("\n\n")[0].splitlines()
    assert imports == ["import os", "from pathlib import Path", "import json", "import json, sys"]
    assert code.rstrip().endswith("remember()")


@pytest.fixture(scope="module")
def shared_kernel(tmp_path_factory):
    """Three notebooks run one after another in one worker, so in one kernel: the first changes everything it can."""
    folder = tmp_path_factory.mktemp("notebooks")
    messy = write_notebook(folder, "01_messy.ipynb",
                           "import os, warnings, matplotlib, pandas as pd, numpy as np\n"
                           "left_behind = 42\n"
                           "matplotlib.rcParams['font.size'] = 31\n"
                           "pd.set_option('display.max_rows', 3)\n"
                           "np.set_printoptions(precision=1)\n"
                           "os.environ['LEFT_BEHIND'] = 'yes'\n"
                           "os.chdir('/')\n"
                           "warnings.simplefilter('ignore')\n"
                           "big = [bytearray(400 * 2**20)]\n"
                           "big.append(big)  # a cycle: only the garbage collector frees it\n"
                           "print(os.getpid(), os.environ.get('CMM_PARAMS_READ', '').endswith('01_messy.json'))")
    probe = write_notebook(folder, "02_probe.ipynb",
                           "import os, warnings, matplotlib, pandas as pd, numpy as np\n"
                           "print(os.getpid(), os.environ.get('CMM_PARAMS_READ', '').endswith('02_probe.json'))",
                           "print('left_behind' in dir(), matplotlib.rcParams['font.size'], "
                           "pd.get_option('display.max_rows'), "
                           "np.get_printoptions()['precision'], os.environ.get('LEFT_BEHIND'), os.getcwd() == '/')",
                           "import warnings\nwarnings.warn('shown again')")
    dies = write_notebook(folder, "03_dies.ipynb", "print('before the kernel died')", "import os\nos._exit(1)")
    after = write_notebook(folder, "04_after.ipynb", "import os\nprint(os.getpid())")
    staging = tmp_path_factory.mktemp("staging")
    (staging / "notebooks").mkdir()
    done: list = []
    with NotebookPool(kernel_name(), 1, [messy, probe], staging / "logs") as pool:
        pool.run([messy, probe], staging, {}, lambda _: None, done, 2)
        pool.run([dies], staging, {}, lambda _: None, done, 1)
        pool.run([after], staging, {}, lambda _: None, done, 1)
    return staging, (messy, probe, dies, after), done


def test_notebooks_share_the_kernel_but_not_its_state(shared_kernel):
    staging, (messy, probe, _, _), done = shared_kernel
    assert [r.status for r in done[:2]] == ["ok", "ok"], [r.error for r in done]
    messy_pid, messy_record = printed(staging, messy)[0].split()
    probe_pid, probe_record = printed(staging, probe)[0].split()
    assert messy_pid == probe_pid  # the same kernel: its imports were warm
    assert messy_record == probe_record == "True"  # each notebook records into its own file
    # a new kernel's state: no variable, matplotlib's, pandas' and numpy's defaults, the environment and folder
    variable, font, rows, precision, environment, moved = printed(staging, probe)[1].split()
    assert (variable, environment, moved) == ("False", "None", "False")
    assert float(font) != 31 and rows == "60" and precision == "8"
    nb = nbformat.read(staging / "notebooks" / probe.name, as_version=4)
    warned = [o for o in nb.cells[-1].outputs if o.get("name") == "stderr"]
    assert warned and "shown again" in warned[0]["text"]  # the first notebook's filter did not carry over
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))


def test_a_notebooks_peak_memory_is_its_own(shared_kernel):
    _, _, done = shared_kernel
    messy, probe = done[0], done[1]
    assert messy.peak_memory_mb > 400
    # the first notebook's 400 MB (in a reference cycle) were collected, not counted again: freezing the warm kernel's
    # modules out of the collector's sight does not keep a notebook's garbage
    assert probe.peak_memory_mb < messy.peak_memory_mb - 300


def test_a_kernel_that_died_is_replaced_for_the_next_notebook(shared_kernel):
    staging, (_, probe, _, after), done = shared_kernel
    assert done[2].status == "failed"
    # the notebook as far as it ran is kept for inspection (written once the run ended, not after every cell)
    assert printed(staging, Path("03_dies.ipynb"))[0] == "before the kernel died"
    assert done[3].status == "ok", done[3].error
    assert printed(staging, after)[0] != printed(staging, probe)[0].split()[0]  # a new kernel
    assert (staging / "logs" / "kernels.log").exists()
