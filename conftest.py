"""Root pytest configuration, shared by tests/ and the notebooks nbval executes.

Kernels started by nbval inherit this process's environment, so this is where notebooks get the
same quiet, deterministic settings that ``diptych run`` gives them. Under pytest-xdist every
worker (and every kernel it starts) also gets its share of the CPUs: PyTorch and TensorFlow
would otherwise each start a thread per core in every worker, and all of them slow down.
"""

import os

import pytest
from nbval.plugin import IPyNbCell

from diptych.command.execution import KERNEL_ENV
from diptych.command.runner import thread_share

#: pytester: tests/test_stderr.py runs nbval under this file's hook in a scratch folder
pytest_plugins = ["pytester"]

os.environ.update(KERNEL_ENV)
os.environ.update(thread_share(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Every notebook cell nbval runs must write nothing to stderr.

    Committed outputs leave stderr out, so a warning a learner would see in red in Jupyter shows
    only in a live run; ``tests/test_curriculum.py`` holds ``diptych run``'s record of it to none
    for the lessons it runs under an imitated CPU, and this holds every lesson and solution
    notebook to none as nbval executes them on this machine. nbval keeps a cell's outputs in
    ``test_outputs``; if a new nbval stops doing so, every cell fails here rather than passing
    unchecked.
    """
    result = yield
    if isinstance(item, IPyNbCell):
        outputs = getattr(item, "test_outputs", None)
        if outputs is None and not getattr(item.parent, "timed_out", False):
            pytest.fail("nbval no longer keeps a cell's outputs in test_outputs: update conftest")
        written = "".join(
            out.get("text", "")
            for out in outputs or []
            if out.get("output_type") == "stream" and out.get("name") == "stderr"
        )
        if written:
            pytest.fail(f"the cell wrote to stderr in a live run:\n{written}", pytrace=False)
    return result
