"""Root pytest configuration, shared by tests/ and the notebooks nbval executes.

Kernels started by nbval inherit this process's environment, so this is where notebooks get the
same quiet, deterministic settings that ``diptych run`` gives them.
"""

import os

from diptych.execution import KERNEL_ENV

os.environ.update(KERNEL_ENV)
