"""Self-checks for lesson 09's exercises (measuring performance).

No check reads a real clock or depends on this machine's speed or load: the learner's harness is
driven by a ``timing.FakeClock`` and steps of known cost (``timing.KnownCost``), comparisons are
judged from recorded results, and thread settings are checked by recording the calls the learner's
code makes (nothing is changed in the running framework). Exercise 5 runs the learner's update in
the framework, through this lesson's companions (``adapters.pytorch_performance``: captured by
``torch.compile(fullgraph=True)``; ``adapters.tensorflow_performance``: traces counted).
"""

from __future__ import annotations

import importlib
import math
import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from diptych import timing
from diptych.checks import Mismatch, exercise, idiom
from diptych.frameworks import PYTORCH
from diptych.timing import Conditions, FakeClock, KnownCost, Timing

#: the reasons exercise 2 names, in the order the exercise asks them to be looked for
REASONS = ("clock", "threads", "samples", "busy")
#: fewer blocks than this give no median or IQR worth the name (exercise 2)
MIN_BLOCKS = 5


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


class _CountingClock:
    """A fake clock that counts how often it is read."""

    __name__ = "clock"

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.reads = clock, 0

    def __call__(self) -> float:
        self.reads += 1
        return self.clock()


# (rounds, steps, warmup, base cost, extra cost of each block's first call, first call):
# each block then costs base + extra/steps per step, and one block is disturbed
HARNESS_CASES = (
    (5, 4, 2, 1.9e-3, (0.4e-3, 1.2e-3, 0.2e-3, 0.8e-3, 0.2), 0.5),
    (4, 3, 1, 1.0e-3, (0.3e-3, 0.9e-3, 0.15e-3, 24e-3), 0.25),
)


@exercise("Warm-up and median")
def time_per_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 1: first call apart, warm-up untimed, the median per step of ``rounds`` blocks."""
    del adapter  # the harness is the same in every framework
    for rounds, steps, warmup, base, extras, first in HARNESS_CASES:
        fake = FakeClock()
        offset = 1 + warmup  # calls before the first block: the first call and the warm-up
        extra = {offset + k * steps: cost for k, cost in enumerate(extras)}
        extra.update({1: 0.05, 2: 0.03} if warmup >= 2 else {1: 0.05})  # slow warm-up calls
        step = KnownCost(step=base, first=first, clock=fake, extra=extra)
        clock = _CountingClock(fake)
        result = learner(step, clock=clock, rounds=rounds, steps=steps, warmup=warmup)
        setting = f"rounds={rounds}, steps={steps}, warmup={warmup}"
        _check_harness(result, step, clock, setting, rounds, steps, warmup, base, extras, first)
    return "first call apart, warm-up untimed, the median per step of the blocks, on two settings"


def _check_harness(
    result: Any,
    step: KnownCost,
    clock: _CountingClock,
    setting: str,
    rounds: int,
    steps: int,
    warmup: int,
    base: float,
    extras: tuple[float, ...],
    first: float,
) -> None:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mismatch("time_per_step must return two numbers: (first call, median per step)")
    got_first, got_median = (float(value) for value in result)
    if clock.reads == 0:
        raise Mismatch(
            "your function never read the `clock` it was given; read that one (the check's "
            "clock is where the step's known cost shows up), not another"
        )
    expected_calls = 1 + warmup + rounds * steps
    if step.calls != expected_calls:
        if step.calls == expected_calls - warmup:
            raise Mismatch(f"with {setting} the warm-up calls are missing")
        if step.calls == expected_calls - 1:
            raise Mismatch(f"with {setting} the first call is not made apart from the blocks")
        raise Mismatch(
            f"with {setting} your function called the step {step.calls} times, expected "
            f"{expected_calls}: the first call, the warm-up, then the blocks"
        )
    blocks = [base + cost / steps for cost in extras]
    if not _close(got_first, first):
        with_warmup = first + sum(step.extra.get(i, 0.0) + base for i in range(1, 1 + warmup))
        if _close(got_first, with_warmup):
            raise Mismatch("your first-call time includes the warm-up: time the first call alone")
        raise Mismatch(
            f"with {setting} the first call costs {timing.seconds(first)}, you return "
            f"{timing.seconds(got_first)}"
        )
    median = statistics.median(blocks)
    if _close(got_median, median):
        return
    if _close(got_median, statistics.mean(blocks)):
        raise Mismatch(
            "that is the mean of the blocks, which one disturbed block pulls up; the exercise "
            "asks for their median"
        )
    if _close(got_median, median * steps):
        raise Mismatch("that is the time of a whole block; the exercise asks for the time per step")
    if _close(got_median, min(blocks)):
        raise Mismatch("that is the fastest block; the exercise asks for the median of the blocks")
    if _close(got_median, base):
        raise Mismatch(
            "that is the median of single calls; time whole blocks of `steps` calls (on a real "
            "clock a read costs as much as a small step)"
        )
    if rounds % 2 == 0 and any(
        _close(got_median, b) for b in sorted(blocks)[rounds // 2 - 1 :][:2]
    ):
        raise Mismatch(
            f"with {rounds} blocks (an even number) the median lies halfway between the two "
            "middle ones"
        )
    raise Mismatch(
        f"with {setting} the median per step is {timing.seconds(median)}, you return "
        f"{timing.seconds(got_median)}"
    )


def _timing(
    *,
    threads: int | None = 1,
    cpus: int = 8,
    load: tuple[float, float, float] | None = (0.4, 0.5, 0.6),
    clock: str = "perf_counter",
    blocks: int = 15,
    median: float = 1e-3,
) -> Timing:
    per_step = tuple(median * (1 + 0.01 * ((i % 5) - 2)) for i in range(blocks))
    return Timing("step", 0.1, per_step, 50, 3, Conditions(threads, cpus, load, clock))


#: (a, b, the first reason that applies or None, what the pair is, the hint for a wrong answer)
COMPARISON_CASES: tuple[tuple[Timing, Timing, str | None, str, str], ...] = (
    (
        _timing(),
        _timing(median=2e-3),
        None,
        "two timings made alike",
        "nothing that matters differs: different medians are what a comparison is for",
    ),
    (
        _timing(clock="perf_counter"),
        _timing(clock="thread_time"),
        "clock",
        "a wall-clock and a CPU-time timing",
        "a wall clock counts waiting and other threads' work, a CPU clock neither",
    ),
    (_timing(threads=1), _timing(threads=4), "threads", "1 thread against 4", ""),
    (
        _timing(threads=None),
        _timing(threads=None),
        "threads",
        "two timings without thread counts",
        "a thread count nobody wrote down cannot be shown to be the same",
    ),
    (
        _timing(blocks=1),
        _timing(),
        "samples",
        "a timing of a single block",
        "one block has no spread and no median worth the name",
    ),
    (_timing(), _timing(blocks=3), "samples", "a timing of three blocks", ""),
    (
        _timing(blocks=4),
        _timing(blocks=5),
        "samples",
        "timings of four and five blocks",
        "four is fewer than 5",
    ),
    (
        _timing(blocks=5),
        _timing(blocks=5),
        None,
        "two timings of exactly five blocks",
        "five blocks are not fewer than 5",
    ),
    (
        _timing(),
        _timing(load=(9.5, 9.0, 8.0)),
        "busy",
        "a timing made at a load of 9.5 on 8 CPUs",
        "",
    ),
    (
        _timing(cpus=2, load=(2.4, 0.3, 0.1)),
        _timing(cpus=2),
        "busy",
        "a load average that rose to 2.4 on 2 CPUs in the last minute",
        "the 1-minute average covers the measurement; the 5- and 15-minute ones mostly what "
        "came before it",
    ),
    (
        _timing(cpus=2, load=(2.0, 2.0, 2.0)),
        _timing(cpus=2, load=(1.0, 1.0, 1.0)),
        "busy",
        "a load of exactly 2 on 2 CPUs",
        "at least its CPU count includes equal to it",
    ),
    (
        _timing(load=(1.5, 1.2, 1.0)),
        _timing(load=(3.0, 2.0, 1.0)),
        None,
        "loads of 1.5 and 3 on 8 CPUs",
        "compare the load average with the CPU count: 3 runnable programs on 8 CPUs leave 5 free",
    ),
    (
        _timing(cpus=2, load=(1.99, 2.5, 3.0)),
        _timing(cpus=2, load=(0.5, 0.5, 0.5)),
        None,
        "a 1-minute load of 1.99 on 2 CPUs, higher before",
        "the 1-minute average covers the measurement; below the CPU count is not busy",
    ),
    (
        _timing(load=None),
        _timing(load=None),
        None,
        "two timings without a load average",
        "no load average (Windows keeps none) is no evidence of a busy machine",
    ),
    (
        _timing(threads=2, load=(12.0, 12.0, 12.0)),
        _timing(threads=1),
        "threads",
        "different thread counts on a busy machine",
        "when several things are wrong, name the first in the exercise's list",
    ),
)


@exercise("The unfair comparison")
def unfair_comparison(learner: Callable[[Timing, Timing], Any], adapter: Any) -> str:
    """Exercise 2: name the first reason two recorded timings cannot be compared, or None."""
    del adapter
    for a, b, expected, about, hint in COMPARISON_CASES:
        answers = [learner(a, b), learner(b, a)]
        if answers == [expected, expected]:
            continue
        for got in answers:
            if got is not None and got not in REASONS:
                raise Mismatch(
                    f"return None or one of {', '.join(map(repr, REASONS))}; for {about} you "
                    f"return {got!r}"
                )
        if expected in answers:
            raise Mismatch(
                f"for {about} your answer depends on which timing comes first: look at both timings"
            )
        got = answers[0]
        wanted = "None (a fair comparison)" if expected is None else repr(expected)
        said = "None" if got is None else repr(got)
        raise Mismatch(
            f"for {about} you return {said}, expected {wanted}" + (f": {hint}" if hint else "")
        )
    return f"right on {len(COMPARISON_CASES)} pairs, each tried in both orders"


def _timed(first: float, median: float, *, fastest: float | None = None) -> Timing:
    blocks = (median, median, median, median if fastest is None else fastest, median * 1.5)
    return Timing("step", first, blocks, 20, 2, Conditions(1, 2, None, "perf_counter"))


#: (eager, compiled, what the case is about); totals never meet exactly at a whole step, so
#: no answer depends on how its arithmetic rounds
BREAK_EVEN_CASES = (
    (_timed(0.02, 5e-3), _timed(1.001, 1e-3, fastest=0.5e-3), "tracing that pays"),
    (_timed(0.3, 5e-3), _timed(1.001, 1e-3), "an eager first call that is slow too"),
    (_timed(0.01, 2e-3), _timed(0.0145, 1e-3), "a compilation that pays within a few steps"),
    (_timed(0.01, 1e-3), _timed(0.5, 1e-3), "a compiled step no faster than eager"),
    (_timed(0.01, 1e-3), _timed(0.5, 2e-3, fastest=0.5e-3), "a compiled step slower than eager"),
    (_timed(0.5, 5e-3), _timed(0.1, 4e-3), "a compilation cheaper from the first call on"),
    # exact in binary: the two totals are equal at step 5 (0 + 4 × 0.25 = 0.5 + 4 × 0.125)
    (_timed(0.0, 0.25), _timed(0.5, 0.125), "totals that are equal at a whole step"),
)


@exercise("Compile cost, amortised")
def break_even_steps(learner: Callable[[Timing, Timing], Any], adapter: Any) -> str:
    """Exercise 3: the number of steps after which the compiled variant has cost no more time."""
    del adapter
    for eager, compiled, about in BREAK_EVEN_CASES:
        expected = timing.break_even(eager, compiled)
        got = learner(eager, compiled)
        if got is None:
            raise Mismatch("your function returned None: did you forget the `return`?")
        if got == expected:
            continue
        raise Mismatch(_break_even_hint(got, expected, about, eager, compiled))
    return f"right on {len(BREAK_EVEN_CASES)} cases, compiled steps that never pay included"


def _break_even_hint(got: Any, expected: float, about: str, eager: Timing, compiled: Timing) -> str:
    shown = "math.inf" if expected == math.inf else f"{expected:g}"
    base = f"for {about} you return {got!r}, expected {shown}"
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return f"{base}: return a whole number of steps, or math.inf"
    fastest = eager.minimum - compiled.minimum
    by_fastest = (
        1 + math.ceil((compiled.first_call - eager.first_call) / fastest) if fastest > 0 else None
    )
    if got == by_fastest and got != expected:
        return f"{base}: a run pays the median per step, not the fastest block's"
    if expected == math.inf:
        return f"{base}: a compiled step that is no faster never catches up; return math.inf"
    if got == math.inf:
        return f"{base}: this compiled step is faster per step, so it does catch up"
    if got == expected - 1:
        return f"{base}: count steps from 1 — the first calls belong to step 1 of each run"
    if got == expected + 1 and _ties_at(expected, eager, compiled):
        return (
            f"{base}: at step {expected} the two runs have cost the same, and 'no more time' "
            "includes the same"
        )
    if got != int(got):
        return f"{base}: a whole number of steps, rounded up"
    saved = eager.median - compiled.median
    if saved > 0 and got == 1 + math.ceil(compiled.first_call / saved):
        return f"{base}: the eager run pays a first call too"
    return base


def _ties_at(n: float, eager: Timing, compiled: Timing) -> bool:
    """True when the two runs' totals are equal after ``n`` steps."""
    if n == math.inf:
        return False
    total = lambda t: t.first_call + (n - 1) * t.median  # noqa: E731
    return total(eager) == total(compiled)


def _pools(adapter: Any) -> tuple[Any, dict[str, str], str, int]:
    """Where the twin's thread settings live: (holder, {role: function name}, how the learner
    writes the holder, what a fresh process reports before anything is set)."""
    fw = idiom(adapter)
    module = fw.module()
    if fw.framework == PYTORCH.name:
        names = {
            "intra": "set_num_threads",
            "inter": "set_num_interop_threads",
            "get intra": "get_num_threads",
            "get inter": "get_num_interop_threads",
        }
        return module, names, "torch", 4  # a fresh process: one thread per core
    names = {
        "intra": "set_intra_op_parallelism_threads",
        "inter": "set_inter_op_parallelism_threads",
        "get intra": "get_intra_op_parallelism_threads",
        "get inter": "get_inter_op_parallelism_threads",
    }
    return module.config.threading, names, "tf.config.threading", 0  # 0: TensorFlow chooses


@contextmanager
def _fresh_process(holder: Any, names: dict[str, str], fresh: int) -> Iterator[dict[str, Any]]:
    """Stand-ins for the thread settings, as a fresh process would see them: they record what the
    learner's code sets and change nothing in the running framework; restored afterwards, as is
    the process environment. Yields {"intra": n, "inter": n, "environment": [changed names]}."""
    state: dict[str, Any] = {"intra": None, "inter": None}
    saved = {name: vars(holder).get(name) for name in names.values()}

    def setter(role: str) -> Callable[..., None]:
        def set_threads(*args: Any, **kwargs: Any) -> None:
            state[role] = args[0] if args else next(iter(kwargs.values()), None)

        return set_threads

    def getter(role: str) -> Callable[[], int]:
        return lambda: fresh if state[role] is None else state[role]

    environment = dict(os.environ)
    try:
        for role in ("intra", "inter"):
            setattr(holder, names[role], setter(role))
            setattr(holder, names[f"get {role}"], getter(role))
        yield state
    finally:
        for name, original in saved.items():
            if original is None:
                delattr(holder, name)
            else:
                setattr(holder, name, original)
        changed = sorted(
            k for k in set(environment) | set(os.environ) if environment.get(k) != os.environ.get(k)
        )
        for key in changed:  # the learner's process environment is left as it was
            if key in environment:
                os.environ[key] = environment[key]
            else:
                os.environ.pop(key, None)
        state["environment"] = changed


@exercise("Threads, set where they take effect")
def use_threads(learner: Callable[[int], Any], adapter: Any) -> str:
    """Exercise 4: set the intra-op pool to n threads and the inter-op pool to 1."""
    holder, names, where, fresh = _pools(adapter)
    intra, inter = names["intra"], names["inter"]
    for n in (3, 1, 2):
        with _fresh_process(holder, names, fresh) as state:
            learner(n)
        if state["environment"] and state["intra"] is None:
            raise Mismatch(
                f"your function changes the environment ({', '.join(state['environment'])}), "
                "which the runtime reads once, when it starts; call the framework's own setters"
            )
        if state["intra"] is None:
            raise Mismatch(
                f"the intra-op pool is not set: {where}.{intra} was not called (a function "
                f"imported by name before the check ran is out of its reach: call it through "
                f"{where})"
            )
        if state["inter"] is None:
            raise Mismatch(f"the inter-op pool is left as it was: {where}.{inter} was not called")
        if state["intra"] == 1 and state["inter"] == n != 1:
            raise Mismatch(
                "intra-op and inter-op are swapped: the intra-op pool splits one operation's "
                "work, the inter-op pool runs independent operations side by side"
            )
        if (state["intra"], state["inter"]) != (n, 1):
            raise Mismatch(
                f"use_threads({n}) sets {intra} to {state['intra']!r} and {inter} to "
                f"{state['inter']!r}; expected {n} and 1"
            )
    return f"{where}.{intra}(n) and {where}.{inter}(1), in the framework's own calls"


#: each form's companion for exercise 5: the framework code that runs the learner's update
ENGINES = {
    "pytorch": "diptych.adapters.pytorch_performance",
    "keras": "diptych.adapters.tensorflow_performance",
}
LEARNING_RATE = 0.1


def _engine(adapter: Any) -> ModuleType:
    return importlib.import_module(ENGINES[idiom(adapter).form])


def _clip_cases() -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(w, grad, max_norm), float32: a long gradient (scaled), a short one (left as it is), one
    exactly as long as ``max_norm`` (the boundary: left as it is) and a zero one."""
    rng = np.random.default_rng(9)
    f32 = np.float32
    return [
        (rng.normal(size=5).astype(f32), (3 * rng.normal(size=5)).astype(f32), 1.0),
        (rng.normal(size=7).astype(f32), (0.1 * rng.normal(size=7)).astype(f32), 2.5),
        (rng.normal(size=2).astype(f32), np.array([3.0, 4.0], f32), 5.0),
        (rng.normal(size=3).astype(f32), np.zeros(3, f32), 1.0),
    ]


def _clipped(
    w: np.ndarray, grad: np.ndarray, max_norm: float, *, always: bool = False
) -> np.ndarray:
    """The update, in float64: grad scaled to ``max_norm`` when longer (``always``: scaled to it
    whatever its length, the usual mistake)."""
    norm = float(np.linalg.norm(grad.astype(np.float64)))
    scale = 1.0 if norm == 0 else max_norm / norm
    return w - LEARNING_RATE * grad * (scale if always else min(1.0, scale))


def _judge_clipped(
    results: list[np.ndarray], cases: list[tuple[np.ndarray, np.ndarray, float]]
) -> None:
    names = (
        "a gradient longer than max_norm",
        "a gradient shorter than max_norm",
        "a gradient exactly as long as max_norm",
        "a zero gradient",
    )
    for got, (w, grad, max_norm), about in zip(results, cases, names, strict=True):
        got = np.asarray(got, dtype=np.float64)
        if got.shape != w.shape:
            raise Mismatch(
                f"for {about} the result has shape {got.shape}, expected {w.shape} (the new w)"
            )
        if np.isnan(got).any():
            raise Mismatch(
                f"for {about} the result holds NaN: a division by a zero norm reached the output; "
                "make a zero gradient come out unscaled"
            )
        if np.allclose(got, _clipped(w, grad, max_norm), rtol=1e-5, atol=1e-6):
            continue
        if np.allclose(got, _clipped(w, grad, max_norm, always=True), rtol=1e-5, atol=1e-6):
            raise Mismatch(
                f"for {about} your update scales the gradient up to max_norm: only a gradient "
                "longer than max_norm is scaled down; a shorter one is left as it is"
            )
        if np.allclose(
            got, w - LEARNING_RATE * np.clip(grad, -max_norm, max_norm), rtol=1e-5, atol=1e-6
        ):
            raise Mismatch(
                f"for {about} your update clips each element to ±max_norm: the exercise clips the "
                "gradient's norm, its length as a whole vector"
            )
        raise Mismatch(f"for {about} the new w differs from w - 0.1 · (the clipped gradient)")


@exercise("A clipped update in one graph")
def clipped_update(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 5: the update with its gradient clipped to a norm, written so that the framework
    compiles it whole: captured in one graph by ``torch.compile(fullgraph=True)`` (PyTorch), or a
    ``tf.function`` traced once for every call (TensorFlow)."""
    engine, cases = _engine(adapter), _clip_cases()
    if idiom(adapter).form == "pytorch":
        results, why = engine.capture_whole(learner, cases)
        if why is not None:
            raise Mismatch(
                "torch.compile(clipped_update, fullgraph=True) cannot capture it in one graph: "
                "it turns a tensor into a Python value (.item(), float(), an if on a tensor), "
                "which leaves the graph; keep the choice inside tensor operations. "
                f"TorchDynamo said: {why[:160]}"
            )
        _judge_clipped(results, cases)
        return "captured whole by torch.compile(fullgraph=True), and right on 4 gradients"
    function = learner()
    if function is None:
        raise Mismatch("make_clipped_update returned None: did you forget the `return`?")
    try:
        results, traces = engine.traced_calls(function, cases)
    except Exception as error:
        if engine.is_symbolic_tensor_error(error):
            raise Mismatch(
                "while tracing, your function asks a tensor for its value (.numpy()): in a graph "
                "that value does not exist yet; keep the choice inside tensor operations"
            ) from None
        raise
    _judge_clipped(results, cases)
    if traces is None:
        raise Mismatch(
            "make_clipped_update returns a plain Python function: return a tf.function, which "
            "traces the update into a graph"
        )
    if traces > 1:
        raise Mismatch(
            f"your tf.function traced {traces} times in {len(cases)} calls: each new vector "
            "length or Python value traced it again; declare its inputs once (input_signature)"
        )
    return "a tf.function traced once for 4 calls of different lengths, and right on 4 gradients"
