"""Machine configurations to run the curriculum under: this machine as it is, and imitations of
other CPUs, so parity can be checked against machines nobody here has.

PyTorch picks its vectorised kernels by the CPU's instruction set (``ATEN_CPU_CAPABILITY``),
oneDNN by ``ONEDNN_MAX_CPU_ISA`` and MKL by ``MKL_CBWR``; each can be capped to an older set, and
the thread count changes how sums are split. Together they change the last bits of results the
way a learner's laptop would. ``diptych run --matrix`` runs every configuration here; the test
suite runs the first imitation. The shared libraries' variables (oneDNN, MKL, OpenMP, OpenBLAS)
are set here, each framework's own come from its adapter (``adapters.environments``), so that a
third framework brings its own.

A table, not command machinery: it sits beside the library because ``benchmark`` caps its measuring
process's threads with ``thread_limits`` too, and the library never imports ``diptych.command``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from diptych.adapters import environments


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
    """Environment that caps every thread pool a kernel starts at ``threads``: OpenMP's and MKL's
    (PyTorch's pools are theirs), NumPy's OpenBLAS (the reference; OMP_* does not reach it), and
    each framework's own, as its adapter declares them (``adapters.environments``: TensorFlow's)."""
    count = str(threads)
    return {
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "OPENBLAS_NUM_THREADS": count,
        **environments.thread_limits(threads),
    }


def imitation(cpu: str, *, onednn: str, mkl: str, threads: int) -> dict[str, str]:
    """The environment of an imitated CPU: the shared libraries' caps (oneDNN's instruction set,
    MKL's code path), each framework's own (``adapters.environments``: PyTorch's ATen), and
    ``threads`` threads."""
    return {
        "ONEDNN_MAX_CPU_ISA": onednn,
        **environments.imitating(cpu),
        "MKL_CBWR": mkl,
        **thread_limits(threads),
    }


DEFAULT = Configuration("default", "this machine as it is")

#: other CPUs imitated on this one, newest first
IMITATIONS = (
    Configuration(
        "avx2-1thread",
        "an AVX2 CPU without AVX-512, one thread",
        imitation("avx2", onednn="AVX2", mkl="AVX2", threads=1),
    ),
    Configuration(
        "sse41-1thread",
        "an old CPU without AVX, one thread",
        imitation("sse41", onednn="SSE41", mkl="COMPATIBLE", threads=1),
    ),
)

CONFIGURATIONS = {config.name: config for config in (DEFAULT, *IMITATIONS)}
