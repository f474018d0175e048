"""Machine configurations to run the curriculum under: this machine as it is, and imitations of
other CPUs, so parity can be checked against machines nobody here has.

PyTorch picks its vectorised kernels by the CPU's instruction set (``ATEN_CPU_CAPABILITY``),
oneDNN by ``ONEDNN_MAX_CPU_ISA`` and MKL by ``MKL_CBWR``; each can be capped to an older set, and
the thread count changes how sums are split. Together they change the last bits of results the
way a learner's laptop would. ``diptych run --matrix`` runs every configuration here; the test
suite runs the first imitation.

A table, not command machinery: it sits beside the library because ``benchmark`` caps its measuring
process's threads with ``thread_limits`` too, and the library never imports ``diptych.command``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Configuration:
    """A named set of environment variables under which every notebook's kernel runs."""

    name: str
    description: str
    env: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        settings = " ".join(f"{key}={value}" for key, value in self.env.items())
        return f"{self.name}: {self.description}" + (f" ({settings})" if settings else "")


def thread_limits(threads: int) -> dict[str, str]:
    """Environment that caps every thread pool a kernel starts at ``threads``: PyTorch's and
    MKL's (OpenMP), NumPy's OpenBLAS (the reference; OMP_* does not reach it) and TensorFlow's."""
    count = str(threads)
    return {
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "OPENBLAS_NUM_THREADS": count,
        "TF_NUM_INTRAOP_THREADS": count,
        "TF_NUM_INTEROP_THREADS": "1",
    }


DEFAULT = Configuration("default", "this machine as it is")

#: other CPUs imitated on this one, newest first
IMITATIONS = (
    Configuration(
        "avx2-1thread",
        "an AVX2 CPU without AVX-512, one thread",
        {
            "ONEDNN_MAX_CPU_ISA": "AVX2",
            "ATEN_CPU_CAPABILITY": "avx2",
            "MKL_CBWR": "AVX2",
            **thread_limits(1),
        },
    ),
    Configuration(
        "sse41-1thread",
        "an old CPU without AVX, one thread",
        {
            "ONEDNN_MAX_CPU_ISA": "SSE41",
            "ATEN_CPU_CAPABILITY": "default",
            "MKL_CBWR": "COMPATIBLE",
            **thread_limits(1),
        },
    ),
)

CONFIGURATIONS = {config.name: config for config in (DEFAULT, *IMITATIONS)}
