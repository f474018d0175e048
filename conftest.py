"""Root pytest configuration, shared by tests/ and the notebooks nbval executes.

Kernels started by nbval inherit this process's environment, so this is where notebooks get the
same quiet, deterministic settings that ``diptych run`` gives them. Under pytest-xdist every
worker (and every kernel it starts) also gets its share of the CPUs: PyTorch and TensorFlow
would otherwise each start a thread per core in every worker, and all of them slow down.
"""

import os

from diptych.command.execution import KERNEL_ENV
from diptych.command.runner import thread_share

os.environ.update(KERNEL_ENV)
os.environ.update(thread_share(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
