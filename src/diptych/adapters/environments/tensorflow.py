"""What TensorFlow reads from a process's environment, as variables, without importing it.

TensorFlow reads these once, when it is imported, so they must be set before: by
``optional.require`` when the adapter imports TensorFlow, by the command in every kernel it starts
(``command.execution``), by ``benchmark`` in its measuring process. ``adapters.environments``
gathers them; this module imports no framework, so reading them costs nothing and works where
TensorFlow is not installed.
"""

from __future__ import annotations

import os
import sys

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


def as_shipped() -> bool:
    """Ask for TensorFlow as it ships, before it is imported: with oneDNN's kernels, its default
    on x86 CPUs, which ``BEFORE_IMPORT`` otherwise switches off for the lessons' exact sums
    (lesson 09 and ``benchmark`` time it as people run it). Returns whether oneDNN will be on.

    TensorFlow reads the setting once, at import: if it is already imported, nothing changes. Under
    an imitated CPU (``diptych run --cpu``, which caps oneDNN with ``ONEDNN_MAX_CPU_ISA`` below
    what TensorFlow itself detects, a pair no real CPU presents) oneDNN stays off: there TensorFlow
    would pick bfloat16 kernels that the capped oneDNN refuses, and abort.
    """
    if TENSORFLOW.module in sys.modules:
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
        return False
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    return True
