"""The same training step in each framework, timed by ``diptych.timing`` in a process of its own.

A framework's thread count must be set before its runtime starts (TensorFlow raises
``RuntimeError`` afterwards, and PyTorch's inter-op pool too), and a process that has run one
framework is no clean place to time the other. So ``run`` starts ``python -m diptych.benchmark``
afresh for each framework and thread count: the thread count is in its environment and set by
the framework's own calls before its first operation, and the timings come back as JSON on
stdout. ``diptych bench`` and lesson 08's comparison of the two frameworks both use it.

The step measured: one plain SGD step (learning rate 0.1, cross-entropy on logits) of the 64-128-10
ReLU MLP from the shared initial weights (``diptych.initial``), on a fixed float32 batch of
digits (the data pipeline is not part of it), on the device the framework's adapter picks. Like
the lessons, it runs after ``adapter.setup()`` (deterministic kernels; TensorFlow without
oneDNN's reordering kernels). Framework code is imported inside the functions that use it.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
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
    none (Inductor then fails with ``InvalidCxxCompiler``). Asks Inductor itself."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        return str(get_cpp_compiler())
    except Exception:  # InvalidCxxCompiler, or a PyTorch that moved the function
        return None


def pytorch_steps(settings: Settings) -> tuple[dict[str, Callable[[], Any]], Any, list[str]]:
    """(``"variant size"`` -> one training step, sync, notes) for PyTorch: one model per variant,
    stepped at every batch size."""
    from diptych import initial
    from diptych.adapters import pytorch as adapter

    torch = adapter.torch
    device, notes = adapter.device(), []
    data = {
        size: tuple(adapter.from_numpy(a, on=device) for a in batch(size))
        for size in settings.batch_sizes
    }
    steps: dict[str, Callable[[], Any]] = {}
    for variant in settings.variants:
        inductor = variant == "compiled" and settings.compile_backend == "inductor"
        if inductor and cxx_compiler() is None:
            notes.append("torch.compile skipped: Inductor finds no C++ compiler here")
            continue
        model = torch.nn.Sequential(
            torch.nn.Linear(SIZES[0], SIZES[1]),
            torch.nn.ReLU(),
            torch.nn.Linear(SIZES[1], SIZES[2]),
        ).to(device)
        weights = initial.mlp(list(SIZES), seed=0)
        adapter.load_dense(model[0], weights[0])
        adapter.load_dense(model[2], weights[1])
        forward = (
            torch.compile(model, backend=settings.compile_backend)
            if variant == "compiled"
            else model
        )
        optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

        def step(X: Any, y: Any, forward: Any = forward, optimizer: Any = optimizer) -> Any:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(forward(X), y)
            loss.backward()
            optimizer.step()
            return loss

        for size, (X, y) in data.items():
            steps[f"{variant} {size}"] = functools.partial(step, X, y)
    sync = (lambda _: torch.cuda.synchronize()) if device.type == "cuda" else None
    return steps, sync, notes


def tensorflow_steps(settings: Settings) -> tuple[dict[str, Callable[[], Any]], Any, list[str]]:
    """(``"variant size"`` -> one training step, sync, notes) for TensorFlow: one model per
    variant, stepped at every batch size (one trace serves every size after the second)."""
    from diptych import initial
    from diptych.adapters import tensorflow as adapter

    keras, tf = adapter.require("keras"), adapter.tf
    data = {
        size: tuple(adapter.from_numpy(a) for a in batch(size)) for size in settings.batch_sizes
    }
    steps: dict[str, Callable[[], Any]] = {}
    for variant in settings.variants:
        model = keras.Sequential(
            [
                keras.Input((SIZES[0],)),
                keras.layers.Dense(SIZES[1], activation="relu"),
                keras.layers.Dense(SIZES[2]),
            ]
        )
        weights = initial.mlp(list(SIZES), seed=0)
        adapter.load_dense(model.layers[0], weights[0])
        adapter.load_dense(model.layers[1], weights[1])
        step = _keras_step(tf, keras, model)
        if variant != "eager":
            step = tf.function(step, jit_compile=variant == "xla", reduce_retracing=True)
        for size, (X, y) in data.items():
            steps[f"{variant} {size}"] = functools.partial(step, X, y)
    # TensorFlow's GPU work is asynchronous too: reading the loss waits for it
    sync = (lambda loss: loss.numpy()) if adapter.device() != "/CPU:0" else None
    return steps, sync, []


def _keras_step(tf: Any, keras: Any, model: Any) -> Callable[[Any, Any], Any]:
    optimizer = keras.optimizers.SGD(learning_rate=LEARNING_RATE)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(X: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(X, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    return step


def _set_threads(framework: str, threads: int) -> int:
    """Set the framework's thread pools before its first operation; returns intra-op threads."""
    if framework == "pytorch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        return int(torch.get_num_threads())
    from diptych.optional import require

    tf = require("tensorflow")
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return int(tf.config.threading.get_intra_op_parallelism_threads())


def measure(settings: Settings) -> list[Result]:
    """Measure in this process (which must not have started the framework's runtime yet)."""
    threads = _set_threads(settings.framework, settings.threads)
    adapter = __import__(BY_KEY[settings.framework].adapter, fromlist=["setup"])
    adapter.setup(seed=0)
    build = pytorch_steps if settings.framework == "pytorch" else tensorflow_steps
    steps, sync, notes = build(settings)
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
    device, version = str(adapter.device()), _version(settings.framework)
    results = []
    for key, measured in timings.items():
        variant, size = key.split()
        results.append(
            Result(settings.framework, variant, int(size), device, version, measured, tuple(notes))
        )
    return results


def _version(framework: str) -> str:
    module = sys.modules[BY_KEY[framework].module]
    return str(module.__version__).split("+")[0]


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
