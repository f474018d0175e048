"""Self-checks for lesson 09's exercises (measuring performance).

No check reads a real clock or depends on this machine's speed or load: comparisons, block times
and a profiler's table are given as recorded results, each case far enough from its rule's edge
that no random seed of the learner's can change the answer. Exercise 5 runs the learner's update in
the framework, through this lesson's companions (``adapters.pytorch_performance``: captured by
``torch.compile(fullgraph=True)``; ``adapters.tensorflow_performance``: traces counted).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from diptych import timing
from diptych.adapters.contract import Adapter
from diptych.checks import Mismatch, exercise, idiom
from diptych.timing import Conditions, Timing

#: the reasons exercise 1 names, in the order the exercise asks them to be looked for
REASONS = ("clock", "threads", "samples", "busy", "waited")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _timing(
    *,
    threads: int | None = 1,
    cpus: int = 8,
    load: tuple[float, float, float] | None = (0.4, 0.5, 0.6),
    clock: str = "perf_counter",
    blocks: int = 15,
    median: float = 1e-3,
    on_cpu: float | None = None,
) -> Timing:
    per_step = tuple(median * (1 + 0.01 * ((i % 5) - 2)) for i in range(blocks))
    cpu = None if on_cpu is None else tuple(on_cpu * t for t in per_step)
    return Timing("step", 0.1, per_step, 50, 3, Conditions(threads, cpus, load, clock), cpu)


def _on_cpu_exactly(cpu: float) -> Timing:
    """Five blocks of 0.625 s per step with ``cpu`` CPU seconds per step each: exact in binary,
    so that ``on_cpu`` is exactly ``cpu / 0.625`` (0.4375: exactly 0.7, the boundary)."""
    conditions = Conditions(1, 8, (0.4, 0.5, 0.6), "perf_counter")
    return Timing("step", 0.1, (0.625,) * 5, 50, 3, conditions, (cpu,) * 5)


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
    (
        _timing(on_cpu=0.97),
        _timing(on_cpu=0.55),
        "waited",
        "a step whose process had a CPU 55% of the time, at a load of 0.4 on 8 CPUs",
        "the load average is damped and slow; a step with a CPU under 70% of its time waited",
    ),
    (
        _timing(on_cpu=0.97),
        _timing(on_cpu=1.6, threads=1),
        None,
        "a step whose process kept 1.6 CPUs busy",
        "more than one CPU busy is no waiting: only a share under 0.7 is",
    ),
    (
        _on_cpu_exactly(0.625),
        _on_cpu_exactly(0.4375),
        None,
        "a step that had a CPU exactly 70% of the time",
        "under 70% does not include exactly 70%",
    ),
    (
        _timing(on_cpu=0.97),
        _timing(),
        None,
        "a timing without CPU time beside one with it",
        "no CPU time kept (on_cpu is None) is no evidence of waiting",
    ),
    (
        _timing(on_cpu=0.5, cpus=2, load=(2.5, 2.0, 2.0)),
        _timing(on_cpu=0.97, cpus=2),
        "busy",
        "a step that waited at a load of 2.5 on 2 CPUs",
        "when several things are wrong, name the first in the exercise's list",
    ),
    (
        _timing(on_cpu=0.5, blocks=3),
        _timing(on_cpu=0.97),
        "samples",
        "a step that waited, timed in three blocks",
        "when several things are wrong, name the first in the exercise's list",
    ),
)


@exercise("The unfair comparison")
def unfair_comparison(learner: Callable[[Timing, Timing], Any], adapter: Adapter) -> str:
    """Exercise 1: name the first reason two recorded timings cannot be compared, or None."""
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
        if got == "waited" and expected is None and None in (a.on_cpu, b.on_cpu):
            hint = "no CPU time kept (on_cpu is None) is no evidence of waiting"
        raise Mismatch(
            f"for {about} you return {said}, expected {wanted}" + (f": {hint}" if hint else "")
        )
    return f"right on {len(COMPARISON_CASES)} pairs, each tried in both orders"


def _rounds(*factors: float) -> tuple[float, ...]:
    """Seconds per step of blocks measured in rounds whose speed drifts by ``factors`` (a busy
    minute slows every variant of its round alike)."""
    return tuple(1e-3 * f for f in factors)


#: rounds whose speed drifts by a factor of 2.5: a variant measured in them, and another 5% faster
DRIFT = (1.0, 1.6, 0.8, 1.3, 2.0, 0.9, 1.1, 1.7, 1.2)
#: block times spread by ±20% around 1 ms, and the same spread in another order
NOISY = (1.0, 1.2, 0.85, 1.1, 0.8, 0.95, 1.15, 1.05, 0.9)
SHUFFLED = (0.9, 1.05, 1.2, 0.8, 1.15, 1.0, 0.85, 0.95, 1.1)

#: (baseline, candidate, paired, the verdict, what the case is; which mistake it catches): every
#: case is far from the rule's edge for any seed, so the verdict does not depend on the learner's
#: random numbers
RULE_CASES: tuple[tuple[tuple[float, ...], tuple[float, ...], bool, str, str, str], ...] = (
    (_rounds(*NOISY), _rounds(*(0.5 * f for f in SHUFFLED)), False, "faster", "half the time", ""),
    (
        _rounds(*DRIFT),
        _rounds(*(0.95 * f for f in DRIFT)),
        True,
        "faster",
        "5% faster in every round of one interleaved measurement whose rounds drift",
        "pairs",
    ),
    (
        _rounds(*NOISY),
        _rounds(*(0.97 * f for f in SHUFFLED)),
        False,
        "cannot tell",
        "a median 3% lower among blocks spread by ±20%",
        "medians",
    ),
    (
        _rounds(*DRIFT),
        _rounds(*(0.95 * f for f in DRIFT)),
        False,
        "cannot tell",
        "two separate measurements whose blocks happen to come in the same order",
        "separate",
    ),
    (
        _rounds(*(1.0,) * 15),
        _rounds(*((0.9,) * 13 + (1.3, 1.3))),
        True,
        "faster",
        "10% faster in 13 of 15 rounds, 30% slower in two disturbed ones",
        "median",
    ),
    (
        _rounds(*NOISY),
        _rounds(*(1.6 * f for f in SHUFFLED[:7])),
        False,
        "slower",
        "1.6× the time, from 9 blocks and 7",
        "lengths",
    ),
)


@exercise("The decision rule")
def decision_rule(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 2: the lesson's rule, from the block times: a bootstrap interval on the ratio of
    the medians, resampled round by round when the blocks are paired."""
    del adapter  # the rule is the same in every framework
    for baseline, candidate, paired, expected, about, catches in RULE_CASES:
        got = learner(list(baseline), list(candidate), paired=paired)
        if got == expected:
            continue
        raise Mismatch(_rule_hint(got, expected, about, catches, paired))
    return f"right on {len(RULE_CASES)} pairs of measurements, paired rounds and separate ones"


def _rule_hint(got: Any, expected: str, about: str, catches: str, paired: bool) -> str:
    base = f"for {about} (paired={paired}) you return {got!r}, expected {expected!r}"
    if got is None:
        return "your function returned None: did you forget the `return`?"
    if got not in timing.VERDICTS:
        said = str(got).lower()
        if any(word in said for word in ("equal", "same", "tie", "no difference")):
            return (
                f"{base}: an interval that contains 1 does not show the two equal, only that "
                "this measurement cannot tell them apart"
            )
        return f"{base}: return one of {', '.join(map(repr, timing.VERDICTS))}"
    if {got, expected} == {"faster", "slower"}:
        return f"{base}: the ratio is the candidate's median over the baseline's: below 1 is faster"
    hints = {
        "pairs": "these blocks come from one interleaved measurement: resample rounds, the same "
        "picks for both, so that a slow round counts against both alike",
        "separate": "these are separate measurements (paired=False): block i of one has nothing "
        "to do with block i of the other; resample each on its own",
        "medians": "the candidate's median is lower, but the interval of the ratio contains 1: "
        "the rule says this measurement cannot tell",
        "median": "two disturbed blocks decided that: the rule's interval is of the ratio of the "
        "resampled medians, which a few slow blocks cannot move (not single blocks' ratios, "
        "not means)",
    }
    return f"{base}: {hints[catches]}" if catches in hints else base


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
def break_even_steps(learner: Callable[[Timing, Timing], Any], adapter: Adapter) -> str:
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


#: the rows of a profiler's table: (name, calls, self seconds, total seconds), over all steps
Row = tuple[str, int, float, float]


def _profile_names(adapter: Adapter) -> tuple[str, tuple[str, str], str, tuple[str, ...]]:
    """The twin's names: its whole-step row, its two matrix products, an operator the first
    product calls, and three operators beside them (its companion's ``PROFILE_NAMES``)."""
    names: tuple[str, tuple[str, str], str, tuple[str, ...]]
    names = idiom(adapter).companion("performance").PROFILE_NAMES
    return names


def _profile(
    adapter: Adapter, *, steps: int, step: float, products: tuple[float, float], callee: float
) -> list[Row]:
    """A table of ``steps`` profiled steps of ``step`` seconds each, in which the two products'
    self times per step are ``products`` and an operator the first one calls adds ``callee`` to
    its total; the rest of the step is split among the step's own row and three operators."""
    whole, (first, second), called, others = _profile_names(adapter)
    rest = (step - sum(products) - callee) / 4
    return [
        (whole, steps, steps * rest, steps * step),
        (first, 2 * steps, steps * products[0], steps * (products[0] + callee)),
        (second, 3 * steps, steps * products[1], steps * products[1]),
        (called, 2 * steps, steps * callee, steps * callee),
        *((name, steps, steps * rest, steps * rest) for name in others),
    ]


#: (steps, the profiled step, the products' self times per step, what they called, the
#: unprofiled step, the conclusion, what the case is); the third is exact in binary: both shares
#: are exactly one half
PROFILE_CASES = (
    (
        20,
        400e-6,
        (40e-6, 20e-6),
        30e-6,
        230e-6,
        "around it",
        "a profile that nearly doubled the step",
    ),
    (10, 3.7e-3, (0.35e-3, 0.15e-3), 0.1e-3, 0.58e-3, "cannot tell", "a profile 6× the step"),
    (4, 0.5, (0.125, 0.125), 0.0625, 0.5, "arithmetic", "products of exactly half the step"),
    (5, 1.2e-3, (0.5e-3, 0.25e-3), 0.3e-3, 1.0e-3, "arithmetic", "a step mostly arithmetic"),
)


@exercise("Where the time goes")
def read_profile(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 4: the products' share of the profiled and of the unprofiled step, from a
    profiler's table, and a conclusion only where both shares agree."""
    whole, products, *_ = _profile_names(adapter)
    for steps, step, selfs, children, unprofiled, expected, about in PROFILE_CASES:
        rows = _profile(adapter, steps=steps, step=step, products=selfs, callee=children)
        got = learner(
            list(rows), steps=steps, whole=whole, products=set(products), unprofiled=unprofiled
        )
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Mismatch(
                "read_profile must return three things: (share of the profiled step, share of "
                "the unprofiled step, the conclusion)"
            )
        arithmetic = sum(selfs)
        right = (arithmetic / step, arithmetic / unprofiled)
        for name, value, wanted, per_step in zip(
            ("profiled", "unprofiled"), got[:2], right, (step, unprofiled), strict=True
        ):
            _judge_share(
                float(value),
                wanted,
                f"for {about} the products' share of the {name} step",
                steps=steps,
                inclusive=(arithmetic + children) / per_step,
                self_only=arithmetic / ((step - arithmetic - children) / 4),
            )
        _judge_conclusion(got[2], expected, right, about)
    return f"right on {len(PROFILE_CASES)} tables, an inflated profile and the boundary included"


def _judge_share(
    value: float, wanted: float, what: str, *, steps: int, inclusive: float, self_only: float
) -> None:
    """One share, against the typical ways of getting it wrong."""
    if _close(value, wanted):
        return
    if _close(value, inclusive):
        raise Mismatch(
            f"{what} counts the products' total time, which includes the operators they called; "
            "a share of the step adds self times"
        )
    if _close(value, wanted * steps) or _close(value, wanted / steps):
        raise Mismatch(
            f"{what}: the table sums {steps} steps and the unprofiled time is one step's; put "
            "both per step before dividing"
        )
    if _close(value, self_only):
        raise Mismatch(
            f"{what}: the step's row's self time is only what ran outside every operator; the "
            "whole step is its total time"
        )
    raise Mismatch(f"{what} is {wanted:.1%}, you return {value:.1%}")


def _judge_conclusion(got: Any, expected: str, shares: tuple[float, float], about: str) -> None:
    if got == expected:
        return
    if got not in PROFILE_CONCLUSIONS:
        raise Mismatch(
            f"conclude one of {', '.join(map(repr, PROFILE_CONCLUSIONS))}; for {about} you "
            f"return {got!r}"
        )
    if (shares[0] >= 0.5) != (shares[1] >= 0.5):
        raise Mismatch(
            f"for {about} the two shares disagree ({shares[0]:.0%} of the profiled step, "
            f"{shares[1]:.0%} of the unprofiled one), so this profile cannot tell"
        )
    if min(shares) == 0.5:
        raise Mismatch(f"for {about} both shares are exactly half: 'at least half' includes it")
    raise Mismatch(f"for {about} both shares agree: conclude {expected!r}, not {got!r}")


#: what exercise 4 concludes: the products are at least half of both steps, under half of both,
#: or the two shares disagree
PROFILE_CONCLUSIONS = ("arithmetic", "around it", "cannot tell")


LEARNING_RATE = 0.1


def _engine(adapter: Adapter) -> ModuleType:
    """The twin's companion for exercise 5: the framework code that runs the learner's update."""
    return idiom(adapter).companion("performance")


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
def clipped_update(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 5: the update with its gradient clipped to a norm, written so that the framework
    compiles it whole: captured in one graph by ``torch.compile(fullgraph=True)`` (PyTorch), or a
    ``tf.function`` traced once for every call (TensorFlow)."""
    engine, cases = _engine(adapter), _clip_cases()
    if idiom(adapter).one_graph == "capture":
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
