"""What TensorFlow reads from a process's environment, as variables, without importing it.

TensorFlow reads these once, when it is imported, so they must be set before: by
``optional.require`` when the adapter imports TensorFlow, by the command in every kernel it starts
(``command.execution``), by ``benchmark`` in its measuring process. ``adapters.environments``
gathers them; this module imports no framework, so reading them costs nothing and works where
TensorFlow is not installed.
"""

from __future__ import annotations

from diptych.frameworks import TENSORFLOW

FRAMEWORK = TENSORFLOW

#: TensorFlow's C++ log lines off, and oneDNN's CPU kernels off: they reorder float sums, which
#: moves results by an ulp or two between runs of different shapes, and the curriculum promises
#: identical numbers
BEFORE_IMPORT = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


def thread_limits(threads: int) -> dict[str, str]:
    """TensorFlow's own pools (Eigen's, not OpenMP's): ``threads`` for an operation, one to run
    operations side by side."""
    return {"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1"}


def imitating(cpu: str) -> dict[str, str]:
    """Nothing of TensorFlow's own: with oneDNN off its kernels are Eigen's, which are not capped
    at run time; the oneDNN cap ``configurations`` sets reaches it where oneDNN is on."""
    del cpu
    return {}
