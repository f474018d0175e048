"""The same training step in each framework, timed by ``diptych.timing`` in a process of its own.

A framework's thread count must be set before its runtime starts (TensorFlow raises
``RuntimeError`` afterwards, and PyTorch's inter-op pool too), and a process that has run one
framework is no clean place to time the other. So ``run`` starts ``python -m diptych.benchmark``
afresh for each framework and thread count: the thread count is in its environment and set by
the framework's own calls before its first operation, and the timings come back as JSON on
stdout. ``diptych bench`` and lesson 09's comparison of the two frameworks both use it.

The step measured: one plain SGD step (learning rate 0.1, cross-entropy on logits) of the 64-128-10
ReLU MLP from the shared initial weights (``diptych.initial``), on a fixed float32 batch of
digits (the data pipeline is not part of it), on the device the framework's adapter picks. Like
the lessons, it runs after ``adapter.setup()`` (deterministic kernels; TensorFlow without
oneDNN's reordering kernels). The framework code (the model, its step in each variant, the
thread pools) is in the adapters: ``benchmark_steps``, ``set_threads``, ``version``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diptych import timing
from diptych.frameworks import BY_KEY

#: the MLP's layer widths: digits' 64 pixels, 128 hidden ReLU units, 10 classes
SIZES = (64, 128, 10)
LEARNING_RATE = 0.1
#: what each framework can run, in the order a table shows them
VARIANTS = {"pytorch": ("eager", "compiled"), "tensorflow": ("eager", "function", "xla")}
#: how each variant is written in its framework, for tables and legends
IDIOMS = {
    ("pytorch", "eager"): "eager",
    ("pytorch", "compiled"): "torch.compile",
    ("tensorflow", "eager"): "eager (GradientTape)",
    ("tensorflow", "function"): "tf.function",
    ("tensorflow", "xla"): "tf.function(jit_compile=True)",
}


class BenchmarkError(RuntimeError):
    """A measurement process failed; the message ends with the last line it wrote to stderr."""


@dataclass(frozen=True)
class Settings:
    """One measurement process: a framework, its variants and batch sizes, its thread count."""

    framework: str
    variants: tuple[str, ...]
    batch_sizes: tuple[int, ...] = (64,)
    threads: int = 1
    rounds: int = 7
    steps: int = 20
    warmup: int = 2
    compile_backend: str = "inductor"  # torch.compile's backend for the "compiled" variant

    def __post_init__(self) -> None:
        if self.framework not in VARIANTS:
            raise ValueError(f"unknown framework {self.framework!r}; one of {tuple(VARIANTS)}")
        unknown = [v for v in self.variants if v not in VARIANTS[self.framework]]
        if unknown or not self.variants:
            raise ValueError(
                f"{self.framework} variants are {VARIANTS[self.framework]}, got {self.variants}"
            )
        if not self.batch_sizes or min(self.batch_sizes) < 1 or self.threads < 1:
            raise ValueError("batch sizes and the thread count must be positive")


@dataclass(frozen=True)
class Result:
    """One variant at one batch size, measured in one process."""

    framework: str
    variant: str
    batch_size: int
    device: str
    version: str  # the framework's
    timing: timing.Timing
    notes: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """``TensorFlow tf.function``: the framework and how the step is written."""
        return f"{BY_KEY[self.framework].name} {IDIOMS[self.framework, self.variant]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "variant": self.variant,
            "label": self.label,
            "batch_size": self.batch_size,
            "device": self.device,
            "version": self.version,
            "notes": list(self.notes),
            "timing": self.timing.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        return cls(
            framework=str(data["framework"]),
            variant=str(data["variant"]),
            batch_size=int(data["batch_size"]),
            device=str(data["device"]),
            version=str(data.get("version", "")),
            timing=timing.Timing.from_dict(data["timing"]),
            notes=tuple(data.get("notes", ())),
        )


def run(settings: Settings, *, timeout: float = 600) -> list[Result]:
    """Measure ``settings`` in a fresh Python process and return its results."""
    from diptych.command.configurations import thread_limits
    from diptych.optional import QUIET_TENSORFLOW

    source = str(Path(__file__).resolve().parents[1])  # this diptych, not another installed one
    env = {
        **os.environ,
        **QUIET_TENSORFLOW,
        **thread_limits(settings.threads),
        "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])),
    }
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "diptych.benchmark", json.dumps(asdict(settings))],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise BenchmarkError(
            f"measuring {settings.framework} took longer than {timeout:g} s"
        ) from None
    if finished.returncode != 0:
        last = (finished.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
        raise BenchmarkError(f"measuring {settings.framework} failed: {last}")
    return [Result.from_dict(entry) for entry in json.loads(finished.stdout)]


def batch(size: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``size`` digits (64 pixels, float32) and their labels, the training set repeated as needed."""
    from diptych import data

    digits = data.digits()
    order = np.resize(np.random.default_rng(seed).permutation(len(digits.y_train)), size)
    return digits.X_train[order], digits.y_train[order]


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile's default backend (Inductor) would use; None if there is
    none or PyTorch is not installed. (Asked of Inductor by the PyTorch adapter.)"""
    try:
        from diptych.adapters import pytorch as adapter
    except ImportError:
        return None
    return adapter.cxx_compiler()


def measure(settings: Settings) -> list[Result]:
    """Measure in this process (which must not have started the framework's runtime yet)."""
    adapter = importlib.import_module(BY_KEY[settings.framework].adapter)
    threads = adapter.set_threads(settings.threads)  # before the runtime's first operation
    adapter.setup(seed=0)
    steps, sync, notes = adapter.benchmark_steps(settings)
    if not steps:
        raise RuntimeError(f"nothing to measure: {'; '.join(notes)}")
    timings = timing.measure(
        steps,
        threads=threads,
        rounds=settings.rounds,
        steps=settings.steps,
        warmup=settings.warmup,
        sync=sync,
    )
    device, version = str(adapter.device()), adapter.version()
    results = []
    for key, measured in timings.items():
        variant, size = key.split()
        results.append(
            Result(settings.framework, variant, int(size), device, version, measured, tuple(notes))
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """The measuring process: settings as JSON in the first argument, results as JSON out."""
    args = list(sys.argv[1:] if argv is None else argv)
    given = json.loads(args[0])
    settings = Settings(
        framework=given["framework"],
        variants=tuple(given["variants"]),
        batch_sizes=tuple(given["batch_sizes"]),
        threads=given["threads"],
        rounds=given["rounds"],
        steps=given["steps"],
        warmup=given["warmup"],
        compile_backend=given["compile_backend"],
    )
    print(json.dumps([result.to_dict() for result in measure(settings)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
