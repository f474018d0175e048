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
  1-minute load average is at least its CPU count is **busy** (every CPU had a task);
* on the wall clock, the process's **CPU time** is kept per block too, and the calling thread's
  beside it: a step that had a CPU for under 70% of its wall time **waited** (for a CPU, or for a
  sleep, a disk, a GPU), which the 1-minute load average, a damped mean updated every 5 s, can
  miss. A one-thread step measured beside variants with more threads is judged on its own
  thread: the others' idle pool workers (OpenMP's, Eigen's) spin-wait on a CPU for a while
  before they sleep, and that counts in the process's CPU time during this step too;
* on Linux, the CPU time the whole machine spent busy is read too, so that what **other
  programs** kept busy during a measurement is measured directly (the machine's busy CPU time
  less this process's, over the wall time); at half a CPU or more the result is busy;
* each ``measure`` call stamps its results with one **measurement id**: only results of one
  interleaved measurement are compared round by round;
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

import itertools
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    others: float | None = None  # CPUs other programs kept busy during the measurement (Linux)

    @classmethod
    def now(cls, *, threads: int | None, clock: Clock = time.perf_counter) -> Conditions:
        return cls(threads, os.cpu_count(), load_average(), clock_name(clock))

    @property
    def busy(self) -> bool | None:
        """True when the 1-minute load average was at least the CPU count: on average every CPU
        had a task (a running or runnable thread, or one in uninterruptible I/O), so a time taken
        then may include waiting. None where the system keeps no load average (Windows) or the
        CPU count is unknown."""
        if self.load_average is None or not self.cpus:
            return None
        return self.load_average[0] >= self.cpus

    def free_cpus(self, own: float) -> float | None:
        """CPUs that other programs left free on average: the CPU count less the 1-minute load
        that is not this process's own ``own`` CPUs (its busy threads count in the load too).
        None where the load average or the CPU count is unknown."""
        if self.load_average is None or not self.cpus:
            return None
        return self.cpus - max(0.0, self.load_average[0] - own)

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
            others=data.get("others"),
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
    cpu_per_step: tuple[float, ...] | None = None  # the process's CPU seconds per step, per block
    measurement: str | None = None  # the id of the ``measure`` call that made it
    thread_cpu_per_step: tuple[float, ...] | None = None  # the calling thread's, per block
    # a one-thread step measured beside variants with more threads: ``waited`` reads the calling
    # thread's CPU time, since the others' idle workers spin-wait in the process's
    judged_on_thread: bool = False

    @property
    def on_cpu(self) -> float | None:
        """CPUs the process kept busy while this variant ran: its CPU time over the wall time
        (1.0: one CPU throughout; 2.0: two). None where no CPU time was kept (a fake clock)."""
        return _share(self.cpu_per_step, self.per_step)

    @property
    def on_thread(self) -> float | None:
        """The share of the wall time the calling thread itself ran: a one-thread step's own CPU
        time, without the idle workers of other thread pools that spin-wait in the process's.
        (In a framework that runs a step's operations on a pool thread, as TensorFlow's graphs
        do, it is lower than the step's CPU share: there ``on_cpu`` is the step's.)"""
        return _share(self.thread_cpu_per_step, self.per_step)

    @property
    def cpu_share(self) -> float | None:
        """The CPU share ``waited`` judges: the calling thread's for a one-thread step measured
        beside more threads (``judged_on_thread``), the process's otherwise."""
        if self.judged_on_thread and self.on_thread is not None:
            return self.on_thread
        return self.on_cpu

    @property
    def waited(self) -> bool | None:
        """True when the step had a CPU for under 70% of the wall time (``cpu_share``): a
        CPU-bound step then waited for a CPU (other programs had it), whatever the load average
        says. (A step that sleeps, reads a disk or waits for a GPU shows the same: this is for
        CPU-bound steps.)"""
        share = self.cpu_share
        return None if share is None else share < WAITED

    @property
    def busy(self) -> bool:
        """Measured busy: the load average says so (``Conditions.busy``), the step waited, or
        other programs kept at least half a CPU busy while it was measured."""
        return _busy(self.conditions.busy, self.cpu_share, self.conditions.others)

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
        for key in ("cpu_per_step", "thread_cpu_per_step"):
            data[key] = None if data[key] is None else list(data[key])
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
            cpu_per_step=_floats(data.get("cpu_per_step")),
            measurement=data.get("measurement"),
            thread_cpu_per_step=_floats(data.get("thread_cpu_per_step")),
            judged_on_thread=bool(data.get("judged_on_thread", False)),
        )


def _floats(values: Iterable[Any] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)


def _share(cpu: tuple[float, ...] | None, wall_per_step: tuple[float, ...]) -> float | None:
    """CPU time over wall time, summed over the blocks; None without CPU time."""
    if not cpu:
        return None
    wall = sum(wall_per_step)
    return sum(cpu) / wall if wall > 0 else None


#: a CPU-bound step that had a CPU for less than this share of its wall time waited for one
WAITED = 0.7
#: CPUs other programs kept busy during a measurement from which on it counts as busy
OTHERS_BUSY = 0.5


def _busy(load_busy: bool | None, share: float | None, others: float | None) -> bool:
    """This module's one rule for a busy machine: the 1-minute load at least the CPU count, a
    CPU share under ``WAITED``, or other programs keeping ``OTHERS_BUSY`` CPUs busy."""
    waited = share is not None and share < WAITED
    return bool(load_busy or waited or (others is not None and others >= OTHERS_BUSY))


_ids = itertools.count(1)


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since it started (every CPU, every program:
    Linux's ``/proc/stat``); None where the system does not say."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / ticks


def _others(machine: float | None, own: float, elapsed: float) -> float | None:
    """CPUs other programs kept busy over the ``elapsed`` wall seconds since the machine's busy
    CPU seconds were ``machine`` and this process's CPU time ``own``: the machine's busy time
    less this process's, over the wall time. None where the system does not say."""
    now = busy_cpu_seconds()
    if machine is None or now is None:
        return None
    return round(max(0.0, (now - machine - (time.process_time() - own)) / elapsed), 3)


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
    On the wall clock (``time.perf_counter``) the process's CPU time (``time.process_time``, all
    its threads) and the calling thread's (``time.thread_time``) are kept per block beside it;
    a one-thread variant among variants with more threads is ``judged_on_thread``. Every result
    carries this call's measurement id.
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
    cpu: dict[str, list[float]] = {name: [] for name in names}
    own_cpu: dict[str, list[float]] = {name: [] for name in names}
    on_wall = clock is time.perf_counter
    if on_wall:
        machine, own, wall = busy_cpu_seconds(), time.process_time(), time.perf_counter()
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            # no real clock beside a fake one
            before = (time.process_time(), time.thread_time()) if on_wall else (0.0, 0.0)
            samples[name].append(_block(variants[name], steps, clock, finish))
            if on_wall:
                cpu[name].append((time.process_time() - before[0]) / steps)
                own_cpu[name].append((time.thread_time() - before[1]) / steps)
    conditions = Conditions.now(threads=None, clock=clock)
    if on_wall and (elapsed := time.perf_counter() - wall) >= 0.2:
        # the machine's counters tick every 10 ms: too coarse for less
        conditions = replace(conditions, others=_others(machine, own, elapsed))
    stamp = f"{os.getpid()}-{next(_ids)}"
    counts = threads if isinstance(threads, Mapping) else dict.fromkeys(names, threads)
    most = max((n for n in counts.values() if n is not None), default=None)
    return {
        name: Timing(
            name,
            first[name],
            tuple(samples[name]),
            steps,
            warmup,
            replace(conditions, threads=counts.get(name)),
            tuple(cpu[name]) if on_wall else None,
            stamp,
            tuple(own_cpu[name]) if on_wall else None,
            judged_on_thread=counts.get(name) == 1 and most is not None and most > 1,
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
    busy machine (see ``Timing.busy``: the load average, or a step that waited); ``paired`` that
    the two came from one interleaved measurement (the same measurement id, as many blocks) and
    were resampled round by round. The interval covers the noise between the blocks of these
    measurements, not between one measurement and the next: a repeat can land outside it.
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
    on_cpu: float | None = None  # the lower CPU share of the two (``Timing.cpu_share``)
    others: float | None = None  # the more CPUs other programs kept busy, of the two

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
            notes = [] if self.load is None else [f"load {self.load:.2f} on {self.cpus} CPUs"]
            if self.others is not None and self.others >= OTHERS_BUSY:
                notes.append(f"other programs kept {self.others:.2f} CPUs busy")
            if self.on_cpu is not None and self.on_cpu < WAITED:
                notes.append(f"the step had a CPU {self.on_cpu:.0%} of the time")
            where = f" ({'; '.join(notes)})" if notes else ""
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
    ``Comparison``). Results of one interleaved measurement (the same measurement id, as many
    blocks) are resampled in pairs, round by round, so that a slow round counts against both
    alike; results of separate measurements are resampled each on its own.
    """
    import numpy as np

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence!r}")
    if not isinstance(resamples, int) or resamples < 100:
        raise ValueError(f"resamples must be a whole number, at least 100; got {resamples!r}")
    a, b = np.asarray(baseline.per_step, float), np.asarray(candidate.per_step, float)
    paired = (
        len(a) == len(b)
        and baseline.measurement is not None
        and baseline.measurement == candidate.measurement
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
    shares = [t.cpu_share for t in (baseline, candidate) if t.cpu_share is not None]
    others = [t.conditions.others for t in (baseline, candidate) if t.conditions.others is not None]
    return Comparison(
        baseline=baseline.name,
        candidate=candidate.name,
        ratio=candidate.median / baseline.median,
        low=low,
        high=high,
        confidence=confidence,
        verdict=verdict,
        busy=baseline.busy or candidate.busy,
        paired=paired,
        load=load,
        cpus=cpus,
        on_cpu=min(shares) if shares else None,
        others=max(others) if others else None,
    )


def probe(seconds: float = 0.2) -> tuple[float, float | None]:
    """Keep this thread busy for ``seconds`` of wall time: the share of it the thread had a CPU
    (near 1 with a CPU free; lower when other programs took it), and the CPUs other programs kept
    busy meanwhile (None where the system does not say). A reading of the machine now, cheaper
    than waiting for the 1-minute load average to catch up."""
    machine, own = busy_cpu_seconds(), time.process_time()
    start, cpu = time.perf_counter(), time.thread_time()
    while time.perf_counter() - start < seconds:
        pass
    elapsed, share = time.perf_counter() - start, (time.thread_time() - cpu)
    return share / elapsed, _others(machine, own, elapsed)


def busy_now(seconds: float = 0.2) -> tuple[bool, str]:
    """Is the machine busy now, by this module's rules? The 1-minute load at least the CPU count,
    or a ``probe`` of ``seconds`` in which this thread had a CPU under 70% of the time or other
    programs kept half a CPU busy. Returns the answer and what the probe saw, in words."""
    conditions = Conditions.now(threads=None)
    share, others = probe(seconds)
    busy = _busy(conditions.busy, share, others)
    seen = f"a CPU {share:.0%} of the time" + (
        "" if others is None else f", other programs {others:.2f} CPUs"
    )
    return busy, seen


#: a two-thread step whose process kept fewer CPUs busy than this hardly used its second thread
HARDLY = 1.2


def second_thread(one: Mapping[int, Timing], two: Mapping[int, Timing]) -> str:
    """Read a sweep of one thread against two, by batch size, in printed sentences: each size's
    verdict, what the CPUs did meanwhile, then why two threads lost or did not help, as far as
    the data can say.

    A cause is named only with evidence. Oversubscription: a one-thread step that ``waited``,
    or fewer than 1.5 CPUs left free for this process by other programs (measured where the
    system says, ``Conditions.others``; elsewhere the 1-minute load less the CPUs that the
    process which measured two threads kept busy itself, averaged over the rows it measured, so a
    load of 1.01 on 2 CPUs from that process alone leaves the second thread a CPU). A second thread that hardly ran: the two-thread step's process kept under
    ``HARDLY`` CPUs busy. Results of separate measurements (not paired) cannot say why they
    differ: another moment, another process. A loss at the largest batch contradicts the
    expectation that a second thread helps big operations most, and is said to.
    """
    sizes = sorted(one)
    verdicts = {n: compare(one[n], two[n]) for n in sizes}
    text = [
        "Two threads against one: "
        + ", ".join(f"batch {n} {c.verdict} ({c.ratio:.2f}×)" for n, c in verdicts.items())
        + "."
    ]
    room, crowded = _room(one, two)
    text += room
    idle = [n for n in sizes if (two[n].on_cpu or HARDLY) < HARDLY]
    if idle:
        shares = [two[n].on_cpu or 0.0 for n in idle]
        text.append(
            f"With two threads the process kept only {min(shares):.2f}-{max(shares):.2f} CPUs "
            f"busy at batch {_sizes(idle)}: the second thread hardly ran."
        )
    paired = all(c.paired for c in verdicts.values())
    text += _why(verdicts, crowded=crowded, idle=idle, paired=paired)
    spinning = [
        t.on_cpu or 0.0 for t in one.values() if t.judged_on_thread and (t.on_cpu or 0) > HARDLY
    ]
    if spinning:
        text.append(
            f"The one-thread rows' on CPU above 1 (up to {max(spinning):.2f}) counts the process's "
            "other threads: the two-thread blocks' pool workers, which spin-wait on a CPU before "
            "they sleep, and whose CPU time the process's clock adds in lumps (a short block can "
            "read above the CPU count). Each one-thread step's waiting is judged on its own thread "
            "(column thread)."
        )
    if not paired:
        text.append(
            "One and two threads were measured separately, not interleaved: part of any difference "
            "is the moment, or the process, each ran in."
        )
    if any(c.busy for c in verdicts.values()):
        text.append("A busy machine: not comparable with times taken elsewhere.")
    return "\n".join(text)


def _room(one: Mapping[int, Timing], two: Mapping[int, Timing]) -> tuple[list[str], bool]:
    """What other programs left this process while the sweep ran, in sentences, and whether that
    crowded a second thread out (see ``second_thread``)."""
    sizes = sorted(one)
    # the load is read at the end of the largest two-thread block's measurement: only the rows of
    # that measurement ran in the process whose own CPUs the load counts
    reference = two[sizes[-1]]
    rows = [t for t in (*one.values(), *two.values()) if t.measurement == reference.measurement]
    shares = [t.on_cpu for t in rows if t.on_cpu is not None]
    own = sum(shares) / len(shares) if shares else None
    who = "this process" if len(rows) == len(one) + len(two) else "the two-thread process"
    largest = reference.conditions
    measured = [t.conditions.others for t in two.values() if t.conditions.others is not None]
    free = None if own is None else largest.free_cpus(own)
    text = []
    if measured and largest.cpus:
        free = largest.cpus - max(measured)
        text.append(
            f"While two threads ran, other programs kept up to {max(measured):.2f} CPUs busy "
            f"(the machine's busy CPU time less this process's), leaving it {free:.2f} of "
            f"{largest.cpus}."
        )
    elif free is not None and own is not None and largest.load_average is not None:
        load = largest.load_average[0]
        text.append(
            f"While they ran: load {load:.2f} on {largest.cpus} CPUs, "
            + (
                f"of which {who} kept {own:.2f} busy itself"
                if own <= load
                else f"below the {own:.2f} CPUs {who} alone kept busy (the 1-minute load "
                "had not caught up with the sweep)"
            )
            + f", so other programs left it {free:.2f} CPUs."
        )
    waited = [n for n in sizes if one[n].waited]
    if waited:
        least = min(waited, key=lambda n: one[n].cpu_share or 0.0)
        text.append(
            f"With one thread, the step had a CPU only {one[least].cpu_share or 0:.0%} of the "
            f"time (batch {least}): other programs held it."
        )
    return text, bool(waited) or (free is not None and free < 1.5)


def _why(
    verdicts: Mapping[int, Comparison], *, crowded: bool, idle: list[int], paired: bool
) -> list[str]:
    """Why two threads lost, or did not help at the largest batch: the cause the evidence names,
    or that it names none (see ``second_thread``)."""
    sizes = sorted(verdicts)
    largest, top = sizes[-1], verdicts[sizes[-1]]
    slower = [n for n, c in verdicts.items() if c.verdict == "slower"]
    text = []
    if not slower:
        text.append("By the rule, two threads were slower at no batch size here.")
    elif crowded:
        text.append(
            f"So two threads lost at batch {_sizes(slower)} because the second waited for a CPU "
            "that other programs held (oversubscription)."
        )
    elif not paired:
        text.append(
            f"Two threads lost at batch {_sizes(slower)}; measured separately, this data cannot "
            "say why."
        )
    else:
        text.append(
            f"Two threads lost at batch {_sizes(slower)} with a CPU free for the second, measured "
            "side by side: with no wait for a CPU and no other moment to blame, the likely cause "
            "is that handing work to a thread cost more than it saved at that size."
        )
    won = [n for n, c in verdicts.items() if c.verdict == "faster" and n in idle]
    if won:
        text.append(
            f"Two threads won at batch {_sizes(won)} although the second hardly ran: that "
            "difference is not the second thread's"
            + ("." if paired else " but the moment's, or the process's, each ran in.")
        )
    if largest in slower and not crowded:
        text.append(
            f"At batch {largest}, the largest here, that contradicts the expectation that a second "
            "thread helps big operations most: repeat it before believing it."
        )
    elif top.verdict == "cannot tell":
        text.append(
            f"Two threads did not help even at batch {largest} ({top.ratio:.2f}×): "
            + (
                "other programs left too little CPU for the second (see above)."
                if crowded
                else "the second thread hardly ran (see above)."
                if largest in idle
                else "measured separately, this data cannot say why."
                if not paired
                else "likely because even there the products split across threads are small "
                "beside the rest of the step, which runs on one thread."
            )
        )
    return text


#: a median within this factor of other runs' range agrees with them: closer than separate
#: quiet runs of one step usually lie, so that only a difference worth reading is read
AGREES = 1.1


def _side(value: float, others: Sequence[float]) -> str:
    """Where ``value`` lies beside ``others``: "faster" when below their least by more than the
    factor ``AGREES``, "slower" when above their most by more, else "within"."""
    if value * AGREES < min(others):
        return "faster"
    if value > max(others) * AGREES:
        return "slower"
    return "within"


def _listed(values: Sequence[float]) -> str:
    """``290 µs, 295 µs and 393 µs``."""
    times = [seconds(v) for v in values]
    return times[0] if len(times) == 1 else ", ".join(times[:-1]) + " and " + times[-1]


def baseline_reading(baseline: float, *, earlier: Sequence[float], later: Sequence[float]) -> str:
    """Is ``baseline`` (a median, seconds per step) a fair reference for a measurement taken
    beside it? Two sentences: the same step's other quiet runs, ``earlier`` and ``later``
    (medians, in the order measured), then the direction the baseline lies from each.

    Both directions are read because one alone misleads: a baseline faster than every earlier run
    but agreeing with the later ones says the step changed speed between sections, not that the
    baseline is odd. No cause is named: load and CPU time, which this module records, would show
    the waiting they can see, and what they cannot see these numbers cannot say either.
    """
    if not earlier or not later:
        raise ValueError("a baseline is read against at least one run before it and one after")
    before, after = _side(baseline, earlier), _side(baseline, later)
    margin = f"{AGREES - 1:.0%}"
    text = (
        f"The baseline took {seconds(baseline)}; this step's other quiet runs took "
        f"{_listed(earlier)} before it and {_listed(later)} after it. "
    )
    if before == after == "within":
        return text + f"It lies within {margin} of both: a fair baseline."
    if before == "within":
        return text + (
            f"It agrees with the runs before it but is {after} than those after by more than "
            f"{margin}: the step's speed moved after the baseline, so compare with the later "
            "runs too."
        )
    if after == "within":
        return text + (
            f"It is {before} than every run before it by more than {margin} but agrees with "
            f"those after: the step ran {before} from here on than earlier in this notebook, "
            "for a reason these numbers do not show."
        )
    if before == after:
        return text + (
            f"It is {before} than every other quiet run, before and after, by more than "
            f"{margin}: an odd moment for the baseline, so compare with the other runs too."
        )
    return text + (
        f"It is {before} than the runs before it and {after} than those after: this step kept "
        f"getting {before} through the notebook, and the baseline is one point on that drift."
    )


def profiler_cost(profiled: float, unprofiled: Timing) -> str:
    """``profiled`` (seconds per step under a profiler) beside the same step's ``unprofiled``
    blocks: the ratio to their median, and whether it lies beyond their upper fence, q75 + 1.5
    IQR (Tukey's bound for an outlier). A profiler adds work to what it records, but the step's
    own noise moves a time too: its cost is said to show only beyond the fence. Not beyond the
    blocks' range: one disturbed block would stretch that to hide a cost the median shows."""
    q1, q3 = unprofiled.quartiles
    upper, lower = q3 + 1.5 * (q3 - q1), q1 - 1.5 * (q3 - q1)
    if profiled > upper:
        where = "above it, so the profiler's own cost shows"
    elif profiled >= lower:
        where = "not above it, so the profiler's cost did not show beyond this step's noise"
    else:
        where = (
            f"below even the lower fence, q25 - 1.5 IQR ({seconds(lower)}): the step ran faster "
            "under the profiler than this step's noise explains, so its cost did not show"
        )
    return (
        f"{seconds(profiled)} per step under the profiler, {profiled / unprofiled.median:.2f}× "
        f"the unprofiled median {seconds(unprofiled.median)}, whose blocks' upper fence (q75 + 1.5 "
        f"IQR, the usual bound for an outlier) is {seconds(upper)}: {where}"
    )


def agreement(runs: Mapping[str, Sequence[float]], *, busy: bool = False) -> str:
    """Whether several timers of one step agree, from each timer's repeated results (name ->
    seconds per step, one per run; the timers took turns). Taking turns lets a slow moment land
    on every timer alike, so a gap between the timers' middle results no wider than one timer's
    own runs spread is the moment's, and only a wider one is the timers'. Says which."""
    middle = {name: statistics.median(found) for name, found in runs.items()}
    between = max(middle.values()) / min(middle.values())
    within = max(max(found) / min(found) for found in runs.values())
    text = (
        f"The timers' middle results lie {between:.2f}× apart, one timer's own runs up to "
        f"{within:.2f}×: "
    )
    if between <= AGREES:
        text += f"within {AGREES - 1:.0%}, the timers agree"
    elif between <= within:
        text += "no wider than one timer's own runs, so the gap is the moment, not the timer"
    else:
        fastest, slowest = min(middle, key=middle.__getitem__), max(middle, key=middle.__getitem__)
        text += (
            f"wider than one timer's own runs, so the timers differ here ({fastest} lowest, "
            f"{slowest} highest)"
        )
    return text + (
        "; on a busy machine, not comparable with times taken elsewhere." if busy else "."
    )


def _sizes(sizes: Iterable[int]) -> str:
    return ", ".join(str(n) for n in sizes)


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
    """A plain-text table: median, IQR and minimum per step, first call, threads, the CPUs the
    process kept busy (``on CPU``: under 0.7 for one thread means it waited) and the load. Where
    a one-thread step was measured beside more threads (``Timing.judged_on_thread``), a column
    ``thread`` adds the calling thread's own share, which that step's waiting is judged on."""
    from tabulate import tabulate

    timings = list(timings)
    with_thread = any(t.judged_on_thread for t in timings)
    rows = [
        [
            t.name,
            seconds(t.median),
            seconds(t.iqr),
            seconds(t.minimum),
            seconds(t.first_call),
            f"{len(t.per_step)}×{t.steps}",
            "?" if t.conditions.threads is None else t.conditions.threads,
            _decimal(t.on_cpu),
            *([_decimal(t.on_thread)] if with_thread else []),
            "?" if t.conditions.load_average is None else f"{t.conditions.load_average[0]:.2f}",
        ]
        for t in timings
    ]
    headers = [
        "variant",
        "median/step",
        "IQR",
        "min",
        "first call",
        "blocks",
        "threads",
        "on CPU",
        *(["thread"] if with_thread else []),
        "load",
    ]
    return tabulate(rows, headers=headers, disable_numparse=True)


def _decimal(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


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
