"""Root pytest configuration, shared by tests/ and the notebooks the suite executes.

Kernels inherit this process's environment, so this is where notebooks get the same quiet,
deterministic settings that ``diptych run`` gives them. Under pytest-xdist every worker (and
every kernel it starts) also gets its share of the CPUs: PyTorch and TensorFlow would otherwise
each start a thread per core in every worker, and all of them slow down. What runs each notebook,
under which configurations, and what reads each run: ``tests/notebook_runs.py``.
"""

import os

from diptych.command.execution import KERNEL_ENV
from diptych.command.runner import thread_share

#: pytester: tests/test_stderr.py runs nbval under the plugin's hook in a scratch folder
pytest_plugins = ["pytester", "tests.notebook_runs"]

os.environ.update(KERNEL_ENV)
os.environ.update(thread_share(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
