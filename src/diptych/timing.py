"""Time a step fairly, in any framework: the harness lesson 09 builds in the open.

A fair timing separates what is paid once from what is paid at every step, and it survives a
machine that is doing other things at the same time:

* the **first call** is timed on its own: it traces, compiles, allocates and fills caches;
* a few **warm-up** calls follow, untimed;
* the variants are then measured in **R rounds of N-step blocks**, **interleaved** (every round
  times each variant once, in a rotated order), so a slow minute slows every variant alike;
* each block gives one sample, its time divided by N; the result is the **median** per step,
  with the **IQR** (the spread of the middle half of the samples) and the **minimum**;
* the framework's **thread count**, the CPU count and the machine's **load average** are kept
  with every result: a time without them cannot be compared with another. A machine whose
  1-minute load average is at least its CPU count is **busy** (a program was waiting for a CPU);
* two results are compared by one stated rule, ``compare``: a bootstrap interval on the ratio of
  their medians decides "faster", "slower" or "cannot tell"; a comparison made on a busy machine
  says so.

The clock is injectable: tests and the exercises' checks drive the harness with a ``FakeClock``
and a ``KnownCost`` step, so that nothing checked depends on this machine's speed or load.
Nothing here imports a framework. A GPU step passes ``sync`` (``torch.cuda.synchronize``, or a
``.numpy()`` of the step's result) so that the clock is read when the device has finished the
work, not when it was handed the work.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

Clock = Callable[[], float]


def load_average() -> tuple[float, float, float] | None:
    """The machine's 1-, 5- and 15-minute load averages (runnable processes); None where the
    operating system keeps none (Windows)."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return None
    return (one, five, fifteen)


@dataclass(frozen=True)
class Conditions:
    """What a time depends on besides the code: kept with every result."""

    threads: int | None  # the framework's intra-op threads, as the caller set them
    cpus: int | None  # logical CPUs the operating system reports
    load_average: tuple[float, float, float] | None  # at the end of the measurement
    clock: str  # which clock: "perf_counter" (wall), "thread_time" (CPU), or a fake one

    @classmethod
    def now(cls, *, threads: int | None, clock: Clock = time.perf_counter) -> Conditions:
        return cls(threads, os.cpu_count(), load_average(), clock_name(clock))

    @property
    def busy(self) -> bool | None:
        """True when the 1-minute load average was at least the CPU count: on average a program
        was running or waiting for every CPU, so a time taken then includes waiting. None where
        the system keeps no load average (Windows) or the CPU count is unknown."""
        if self.load_average is None or not self.cpus:
            return None
        return self.load_average[0] >= self.cpus

    def describe(self) -> str:
        """``1 thread, 2 CPUs, load 0.63`` (the 1-minute load average), and ``(busy)`` when that
        load is at least the CPU count."""
        threads = "threads not given" if self.threads is None else _plural(self.threads, "thread")
        load = (
            "no load average" if self.load_average is None else f"load {self.load_average[0]:.2f}"
        )
        return f"{threads}, {_plural(self.cpus or 0, 'CPU')}, {load}" + (
            " (busy)" if self.busy else ""
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Conditions:
        average = data.get("load_average")
        return cls(
            threads=data.get("threads"),
            cpus=data.get("cpus"),
            load_average=None if average is None else (average[0], average[1], average[2]),
            clock=str(data.get("clock", "")),
        )


@dataclass(frozen=True)
class Timing:
    """One variant's timing: its first call, and one per-step time per block (seconds)."""

    name: str
    first_call: float
    per_step: tuple[float, ...]  # one sample per block, in the order measured
    steps: int  # steps per block
    warmup: int  # untimed calls after the first
    conditions: Conditions

    @property
    def median(self) -> float:
        return statistics.median(self.per_step)

    @property
    def minimum(self) -> float:
        return min(self.per_step)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The 25th and 75th percentiles of the samples (linear interpolation, as NumPy's)."""
        if len(self.per_step) < 2:
            return self.per_step[0], self.per_step[0]
        q1, _, q3 = statistics.quantiles(self.per_step, n=4, method="inclusive")
        return q1, q3

    @property
    def iqr(self) -> float:
        """Interquartile range: how far apart the middle half of the samples lie."""
        q1, q3 = self.quartiles
        return q3 - q1

    def describe(self) -> str:
        """``eager: 231 µs per step (IQR 12 µs, min 220 µs); first call 1.2 s``."""
        return (
            f"{self.name}: {seconds(self.median)} per step (IQR {seconds(self.iqr)}, "
            f"min {seconds(self.minimum)}); first call {seconds(self.first_call)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; ``median``, ``iqr`` and ``minimum`` are added for readers."""
        data = asdict(self)
        data["per_step"] = list(self.per_step)
        data.update(median=self.median, iqr=self.iqr, minimum=self.minimum)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timing:
        return cls(
            name=str(data["name"]),
            first_call=float(data["first_call"]),
            per_step=tuple(float(t) for t in data["per_step"]),
            steps=int(data["steps"]),
            warmup=int(data["warmup"]),
            conditions=Conditions.from_dict(data["conditions"]),
        )


def measure(
    variants: Mapping[str, Callable[[], Any]],
    *,
    threads: int | Mapping[str, int | None] | None,
    rounds: int = 15,
    steps: int = 50,
    warmup: int = 3,
    clock: Clock = time.perf_counter,
    sync: Callable[[Any], Any] | None = None,
) -> dict[str, Timing]:
    """Time each variant (name -> a function of no arguments that runs one step).

    Each variant's first call is timed alone, then each gets ``warmup`` untimed calls; then
    ``rounds`` rounds, each timing one block of ``steps`` calls of every variant, the order
    rotated from round to round. ``sync(result)``, when given, runs after a block's last step
    and after the first call, before the clock is read (a GPU's work is asynchronous).
    ``threads`` is recorded, not set: set a framework's threads before its runtime starts (or,
    where a framework allows it, inside the variant); a mapping gives each variant its own count.
    """
    if not variants:
        raise ValueError("measure needs at least one variant to time")
    for option, value in (("rounds", rounds), ("steps", steps), ("warmup", warmup)):
        if not isinstance(value, int) or value < (0 if option == "warmup" else 1):
            least = "0 or more" if option == "warmup" else "at least 1"
            raise ValueError(f"{option} must be a whole number, {least}; got {value!r}")
    finish = sync or _nothing
    first = {}
    for name, step in variants.items():
        start = clock()
        finish(step())
        first[name] = clock() - start
    for step in variants.values():
        for _ in range(warmup):
            finish(step())
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_block(variants[name], steps, clock, finish))
    conditions = Conditions.now(threads=None, clock=clock)
    counts = threads if isinstance(threads, Mapping) else dict.fromkeys(names, threads)
    return {
        name: Timing(
            name,
            first[name],
            tuple(samples[name]),
            steps,
            warmup,
            replace(conditions, threads=counts.get(name)),
        )
        for name in names
    }


def _block(
    step: Callable[[], Any], steps: int, clock: Clock, finish: Callable[[Any], Any]
) -> float:
    """Seconds per step over one block of ``steps`` calls."""
    start = clock()
    for _ in range(steps):
        result = step()
    finish(result)
    return (clock() - start) / steps


def _nothing(result: Any) -> None:
    del result


#: what ``compare`` can conclude about a candidate against a baseline
VERDICTS = ("faster", "slower", "cannot tell")


@dataclass(frozen=True)
class Comparison:
    """``candidate`` against ``baseline``: the ratio of their medians (candidate / baseline, so
    below 1 is faster), its bootstrap interval, and the verdict the rule gives.

    The rule: ``"faster"`` when the whole interval lies below 1, ``"slower"`` when it lies above
    1, ``"cannot tell"`` when it contains 1. ``busy`` says that either result was measured on a
    busy machine (see ``Conditions.busy``); ``paired`` that the two came from one interleaved
    measurement (the same load, CPUs and clock, as many blocks) and were resampled round by round.
    """

    baseline: str
    candidate: str
    ratio: float
    low: float
    high: float
    confidence: float
    verdict: str
    busy: bool
    paired: bool
    load: float | None = None  # the higher 1-minute load average of the two, where known
    cpus: int | None = None

    def describe(self) -> str:
        """One sentence: the verdict, the ratio and its interval, and a busy machine named."""
        ratio = f"its median step takes {_times(self.ratio)} as long"
        interval = f"{self.confidence:.0%} interval {_times(self.low)} to {_times(self.high)}"
        if self.verdict == "cannot tell":
            text = (
                f"cannot tell {self.candidate} from {self.baseline} here: {ratio}, but the "
                f"{interval} contains 1×"
            )
        else:
            text = f"{self.candidate} is {self.verdict} than {self.baseline}: {ratio} ({interval})"
        if not self.paired:
            text += "; measured one after the other, not interleaved"
        if self.busy:
            where = "" if self.load is None else f" (load {self.load:.2f} on {self.cpus} CPUs)"
            text += (
                f"; measured on a busy machine{where}: not comparable with times taken elsewhere"
            )
        return text


def compare(
    baseline: Timing,
    candidate: Timing,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Decide whether ``candidate`` is faster or slower than ``baseline``, or whether this
    measurement cannot tell: a bootstrap interval on the ratio of their medians.

    The blocks of each are resampled with replacement ``resamples`` times (with a fixed
    ``seed``, so the same results give the same verdict); the ratio of the resampled medians
    spreads over an interval whose central ``confidence`` part decides the verdict (see
    ``Comparison``). Results of one interleaved measurement (equal conditions, as many blocks)
    are resampled in pairs, round by round, so that a slow round counts against both alike.
    """
    import numpy as np

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence!r}")
    if not isinstance(resamples, int) or resamples < 100:
        raise ValueError(f"resamples must be a whole number, at least 100; got {resamples!r}")
    a, b = np.asarray(baseline.per_step, float), np.asarray(candidate.per_step, float)
    same, other = baseline.conditions, candidate.conditions
    paired = len(a) == len(b) and (same.load_average, same.cpus, same.clock) == (
        other.load_average,
        other.cpus,
        other.clock,
    )
    rng = np.random.default_rng(seed)
    picks_a = rng.integers(0, len(a), size=(resamples, len(a)))
    picks_b = picks_a if paired else rng.integers(0, len(b), size=(resamples, len(b)))
    ratios = np.median(b[picks_b], axis=1) / np.median(a[picks_a], axis=1)
    low, high = (
        float(q) for q in np.quantile(ratios, [(1 - confidence) / 2, (1 + confidence) / 2])
    )
    verdict = "faster" if high < 1 else "slower" if low > 1 else "cannot tell"
    loads = [
        (t.conditions.load_average[0], t.conditions.cpus)
        for t in (baseline, candidate)
        if t.conditions.load_average is not None
    ]
    load, cpus = max(loads) if loads else (None, baseline.conditions.cpus)
    return Comparison(
        baseline=baseline.name,
        candidate=candidate.name,
        ratio=candidate.median / baseline.median,
        low=low,
        high=high,
        confidence=confidence,
        verdict=verdict,
        busy=bool(baseline.conditions.busy or candidate.conditions.busy),
        paired=paired,
        load=load,
        cpus=cpus,
    )


def _times(ratio: float) -> str:
    """A ratio as a person reads it: ``0.81×``, ``1.3×``, ``12×``."""
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.0f}×"


def break_even(baseline: Timing, candidate: Timing) -> float:
    """After how many steps ``candidate`` (compiled, say) has cost no more time than
    ``baseline`` (eager), first calls included; ``math.inf`` if it never catches up.

    n steps cost ``first + (n − 1)·median``; the two totals meet at
    ``n = 1 + (first_c − first_b) / (median_b − median_c)``, rounded up to a whole step.
    """
    extra = candidate.first_call - baseline.first_call
    saved = baseline.median - candidate.median
    if extra <= 0 and saved >= 0:
        return 1
    if saved <= 0:
        return math.inf
    return 1 + math.ceil(extra / saved)


def table(timings: Iterable[Timing]) -> str:
    """A plain-text table: median, IQR and minimum per step, first call, threads and load."""
    from tabulate import tabulate

    rows = [
        [
            t.name,
            seconds(t.median),
            seconds(t.iqr),
            seconds(t.minimum),
            seconds(t.first_call),
            f"{len(t.per_step)}×{t.steps}",
            "?" if t.conditions.threads is None else t.conditions.threads,
            "?" if t.conditions.load_average is None else f"{t.conditions.load_average[0]:.2f}",
        ]
        for t in timings
    ]
    headers = ["variant", "median/step", "IQR", "min", "first call", "blocks", "threads", "load"]
    return tabulate(rows, headers=headers, disable_numparse=True)


def seconds(value: float) -> str:
    """A duration for a person: ``231 µs``, ``4.62 ms``, ``1.20 s``."""
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1:
        return f"{value:.2f} s"
    if magnitude >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    if magnitude >= 1e-6:
        return f"{value * 1e6:.3g} µs"
    if magnitude >= 1e-9:
        return f"{value * 1e9:.3g} ns"
    return "0 s" if value == 0 else "< 1 ns"  # rounding noise of a sum, not a duration


def clock_name(clock: Clock) -> str:
    return str(getattr(clock, "__name__", type(clock).__name__))


class FakeClock:
    """A clock that moves only when told to: costs known exactly, on any machine.

    ``FakeClock()`` is called like ``time.perf_counter``; ``advance(seconds)`` moves it.
    """

    __name__ = "FakeClock"

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if not seconds >= 0:
            raise ValueError(f"a clock cannot go back: advance({seconds!r})")
        self.now += seconds


def burn(seconds: float, clock: Clock = time.thread_time) -> None:
    """Keep this thread busy until ``clock`` has moved ``seconds``: on a CPU-time clock, a cost
    known in advance whatever the machine's speed or load (waiting for a CPU is not counted)."""
    deadline = clock() + seconds
    while clock() < deadline:
        pass


def resolution(clock: Clock = time.thread_time, *, samples: int = 5) -> float:
    """The smallest step ``clock`` is seen to take (median of ``samples`` ticks), in seconds.

    A clock's advertised resolution can be finer than it really moves: Windows' thread CPU
    clock, for one, moves in steps of about 16 ms.
    """
    ticks = []
    for _ in range(samples):
        start = _next_tick(clock, clock())
        ticks.append(_next_tick(clock, start) - start)
    return statistics.median(ticks)


def _next_tick(clock: Clock, after: float) -> float:
    now = clock()
    while now == after:
        now = clock()
    return now


class KnownCost:
    """A step of known cost: its first call costs ``first`` seconds, every later call ``step``.

    With a ``FakeClock`` the cost is spent by advancing the clock (exact); with a real clock, by
    ``burn``-ing CPU until that clock has moved as far (use a CPU-time clock, ``thread_time``, for
    a cost that waiting for a CPU on a loaded machine cannot inflate). ``extra`` adds seconds to
    chosen calls, counted from 0 (the first call): disturbances of known size and place.
    """

    def __init__(
        self,
        *,
        step: float,
        first: float | None = None,
        clock: Clock = time.thread_time,
        extra: Mapping[int, float] | None = None,
    ) -> None:
        if not step >= 0 or (first is not None and not first >= 0):
            raise ValueError(f"costs must be non-negative, got step={step!r}, first={first!r}")
        self.step, self.first = step, step if first is None else first
        self.clock, self.extra = clock, dict(extra or {})
        self.calls = 0

    def __call__(self) -> None:
        cost = (self.first if self.calls == 0 else self.step) + self.extra.get(self.calls, 0.0)
        self.calls += 1
        if isinstance(self.clock, FakeClock):
            self.clock.advance(cost)
        else:
            burn(cost, self.clock)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
