"""What PyTorch reads from a process's environment, as variables, without importing PyTorch.

``adapters.environments`` gathers these for the command (a kernel's environment, an imitated CPU)
and for ``optional.require``; so that reading them costs nothing and works where PyTorch is not
installed, this module imports no framework. The adapter itself sets what must wait for run time
(``CUBLAS_WORKSPACE_CONFIG``, Inductor's determinism) in ``setup``.
"""

from __future__ import annotations

from diptych.frameworks import PYTORCH

FRAMEWORK = PYTORCH

#: nothing to set before PyTorch's import: its switches are set at run time by ``adapter.setup``
BEFORE_IMPORT: dict[str, str] = {}

#: ATen's vectorised kernels capped to an instruction set, by ``configurations``' CPU names
_CAPABILITY = {"avx2": "avx2", "sse41": "default"}


def thread_limits(threads: int) -> dict[str, str]:
    """Nothing of PyTorch's own: its pools are OpenMP's and MKL's, which ``configurations`` caps
    for every library (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``)."""
    del threads
    return {}


def imitating(cpu: str) -> dict[str, str]:
    """ATen's kernels for an older CPU ("avx2", "sse41"), as ``diptych run --cpu`` imitates one."""
    return {"ATEN_CPU_CAPABILITY": _CAPABILITY[cpu]}
