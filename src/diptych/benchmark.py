"""The same training step in each framework, timed by ``diptych.timing`` in a process of its own.

A framework's thread count must be set before its runtime starts (TensorFlow raises
``RuntimeError`` afterwards, and PyTorch's inter-op pool too), and a process that has run one
framework is no clean place to time the other. So ``run`` starts ``python -m diptych.benchmark``
afresh for each framework and thread count: the thread count is in its environment and set by
the framework's own calls before its first operation, and the timings come back as JSON on
stdout. ``diptych bench`` and lesson 09's comparison of the two frameworks both use it.

The step measured: one plain SGD step (learning rate 0.1, cross-entropy on logits) of the 64-128-10
ReLU MLP from the shared initial weights (``diptych.initial``), on a fixed float32 batch of
digits (the data pipeline is not part of it), on the device the framework's adapter picks.

Each framework runs in one of two configurations (``Settings.configuration``): ``"default"``,
as it ships (TensorFlow with oneDNN's kernels, no deterministic-kernel switches: what a training
script gets), or ``"parity"``, the lessons' setup for comparing numbers (``adapter.setup()``:
deterministic kernels, TF32 off on a GPU, TensorFlow without oneDNN). The framework code is in
the adapters (``set_threads``, ``version``) and in lesson 09's companions (``benchmark_steps``: the
model and its step in each variant, given this module's constants and batches, so that no adapter
imports the benchmark). PyTorch's ``compiled`` variant compiles the whole step (forward, loss,
backward and the optimizer's update) with ``torch.compile``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diptych import timing
from diptych.adapters.environments import tensorflow as tensorflow_environment
from diptych.frameworks import BY_KEY, FRAMEWORKS

#: the MLP's layer widths: digits' 64 pixels, 128 hidden ReLU units, 10 classes
SIZES = (64, 128, 10)
LEARNING_RATE = 0.1
#: what each framework can run, in the order a table shows them (its row's ``variants``; a
#: framework without any is not benchmarked)
VARIANTS = {f.key: tuple(name for name, _ in f.variants) for f in FRAMEWORKS if f.variants}
#: the configurations a measuring process can run in (see the module docstring)
CONFIGURATIONS = ("default", "parity")
#: how each variant is written in its framework, for tables and legends
IDIOMS = {(f.key, name): written for f in FRAMEWORKS for name, written in f.variants}


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
    configuration: str = "default"  # "default" (as the framework ships) or "parity"
    onednn: bool = True  # TensorFlow's oneDNN kernels in the default configuration (off: parity)

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
        if self.configuration not in CONFIGURATIONS:
            raise ValueError(
                f"unknown configuration {self.configuration!r}; one of {CONFIGURATIONS}"
            )


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
    from diptych.configurations import thread_limits
    from diptych.optional import QUIET_TENSORFLOW

    source = str(Path(__file__).resolve().parents[1])  # this diptych, not another installed one
    env = {
        **os.environ,
        **QUIET_TENSORFLOW,
        # oneDNN is TensorFlow's default on x86 CPUs; the parity setup switches it off, and so does
        # an imitated CPU (see tensorflow_as_shipped)
        "TF_ENABLE_ONEDNN_OPTS": (
            "1"
            if settings.configuration == "default"
            and settings.onednn
            and not os.environ.get("ONEDNN_MAX_CPU_ISA")
            else "0"
        ),
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


#: lesson 09's TensorFlow notebook asks for TensorFlow as it ships by this name (before its import);
#: what it sets is TensorFlow's own, declared beside its other variables
tensorflow_as_shipped = tensorflow_environment.as_shipped


def inductor_settings(capability: str) -> Path:
    """Three of ``torch.compile``'s Inductor settings, before its first compile (environment
    variables, each only where not set already): ``TORCHINDUCTOR_CACHE_DIR``, a folder that
    outlives the run, one per instruction set ``capability`` (``torch.backends.cpu.
    get_cpu_capability()``: Inductor's cache does not tell them apart), so that a later run loads
    what this one compiled; ``TORCHINDUCTOR_COMPILE_THREADS=1``, compiling in this process (a
    pool of compiling processes costs more than it saves for a small step); and
    ``TORCHINDUCTOR_CPP_CACHE_PRECOMPILE_HEADERS=0``, no precompiled C++ header (Inductor keeps it
    in the temporary folder and rebuilds it, slowly, wherever that is fresh). Returns the folder.
    """
    folder = Path.home() / ".cache" / "torchinductor" / capability
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder))
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    os.environ.setdefault("TORCHINDUCTOR_CPP_CACHE_PRECOMPILE_HEADERS", "0")
    return Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """While open, what C and C++ libraries write straight to this process's stderr (file
    descriptor 2) goes nowhere: PyTorch's profiler library logs two lines at every run, and
    TensorFlow with oneDNN a notice at import, through loggers no setting silences. Python's own
    ``sys.stderr`` (warnings, tracebacks) is not touched."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class SlowDigits:
    """Examples ``X[i], y[i]`` as a map-style dataset (``len``, ``[i]``) in which every example
    costs ``cost`` seconds to load: a stand-in for reading and decoding a file. It sleeps, so the
    cost is waiting, not arithmetic, and it is plain Python, so PyTorch's ``DataLoader`` takes it.
    It lives in a module because DataLoader's worker processes import it where they start afresh
    (macOS, Windows) instead of forking this one. A ``cost`` of 0 loads at once, without sleeping:
    even ``time.sleep(0)`` takes tens of microseconds (the kernel's timer slack and a wake-up)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, *, cost: float) -> None:
        self.X, self.y, self.cost = X, y, cost

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self.cost:
            time.sleep(self.cost)  # reading and decoding, imitated
        return self.X[index], self.y[index]


def pipeline_reading(
    *, plain: float, parallel: float, loading: float, rest: float, label: str, busy: bool = False
) -> str:
    """What one epoch loaded in parallel and ahead (``parallel`` seconds) says, in a sentence:
    beside the ``plain`` epoch (loading in the loop), its two parts, measured apart (``loading``,
    the examples' cost alone, and ``rest``, the plain epoch with nothing to load: the pipeline's
    own work and the steps), whether it beat the plain epoch, whether it came under the loading
    cost (only then did examples demonstrably load side by side), and how it compares with the
    larger part, towards which overlapping the two shrinks an epoch. ``label`` names the parallel
    pipeline, ``busy`` adds that the machine was busy."""
    larger, size = ("the loading", loading) if loading >= rest else ("the rest", rest)
    if parallel >= plain:
        text = f"{label} did not beat the plain epoch in this (single) run"
    elif parallel < loading:
        text = (
            f"{label} beat the plain epoch in this (single) run, and came in under the loading "
            "cost itself: examples loaded side by side"
        )
    else:
        text = f"{label} beat the plain epoch in this (single) run, but not under the loading cost"
    text += f"; it took {parallel / size:.2f}× the larger part, {larger} ({timing.seconds(size)})"
    return text + (": a busy machine, not comparable with times taken elsewhere." if busy else ".")


def measure(settings: Settings) -> list[Result]:
    """Measure in this process (which must not have started the framework's runtime yet)."""
    from diptych.adapters.loading import load

    adapter = load(BY_KEY[settings.framework])
    threads = adapter.set_threads(settings.threads)  # before the runtime's first operation
    if settings.configuration == "parity":
        adapter.setup(seed=0)  # deterministic kernels, TF32 off: the lessons' setup
    else:
        from diptych.seeding import seed_everything

        seed_everything(0)  # the framework as it ships, seeded
    companion = adapter.IDIOM.companion("performance")
    batches = {size: batch(size) for size in settings.batch_sizes}
    steps, sync, notes = companion.benchmark_steps(
        settings, batches, sizes=SIZES, learning_rate=LEARNING_RATE
    )
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
        configuration=given.get("configuration", "default"),
        onednn=given.get("onednn", True),
    )
    print(json.dumps([result.to_dict() for result in measure(settings)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
