"""Lesson 09's self-checks: right answers pass in both twins, typical wrong answers fail by name,
and no check reads a real clock or changes the running framework's threads."""

from __future__ import annotations

import itertools
import math
import os
import statistics
import time

import numpy as np
import pytest

from conftest import case_id, verdict
from diptych import checks, timing
from diptych.checks import performance

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
tf = tensorflow.tf
ADAPTERS = (pytorch, tensorflow)


# --------------------------------------------------------------------------- exercise 1


def harness(step, *, clock=time.perf_counter, rounds=7, steps=20, warmup=2, summary=np.median):
    start = clock()
    step()
    first_call = clock() - start
    for _ in range(warmup):
        step()
    per_step = []
    for _ in range(rounds):
        start = clock()
        for _ in range(steps):
            step()
        per_step.append((clock() - start) / steps)
    return first_call, summary(per_step)


def harness_statistics(step, *, clock, rounds, steps, warmup):
    """Another right answer: the standard library's median, warm-up folded into a loop."""
    times = []
    for call in range(1 + warmup + rounds * steps):
        if call == 0 or (call >= 1 + warmup and (call - 1 - warmup) % steps == 0):
            times.append(clock())
        step()
        if call == 0:
            times.append(clock())
    times.append(clock())
    first = times[1] - times[0]
    blocks = [(b - a) / steps for a, b in itertools.pairwise(times[2:])]
    return first, statistics.median(blocks)


def harness_library(step, *, clock, rounds, steps, warmup):
    from diptych import timing

    result = timing.measure(
        {"step": step}, threads=1, rounds=rounds, steps=steps, warmup=warmup, clock=clock
    )["step"]
    return result.first_call, result.median


def harness_mean(step, **options):
    return harness(step, summary=np.mean, **options)


def harness_min(step, **options):
    return harness(step, summary=np.min, **options)


def harness_upper_middle(step, **options):
    return harness(step, summary=lambda x: sorted(x)[len(x) // 2], **options)


def harness_per_block(step, *, clock, rounds, steps, warmup):
    first, median = harness(step, clock=clock, rounds=rounds, steps=steps, warmup=warmup)
    return first, median * steps


def harness_without_warmup(step, *, clock, rounds, steps, warmup):
    return harness(step, clock=clock, rounds=rounds, steps=steps, warmup=0)


def harness_first_with_warmup(step, *, clock, rounds, steps, warmup):
    start = clock()
    for _ in range(1 + warmup):
        step()
    first = clock() - start
    per_step = []
    for _ in range(rounds):
        start = clock()
        for _ in range(steps):
            step()
        per_step.append((clock() - start) / steps)
    return first, np.median(per_step)


def harness_per_call(step, *, clock, rounds, steps, warmup):
    start = clock()
    step()
    first = clock() - start
    for _ in range(warmup):
        step()
    calls = []
    for _ in range(rounds * steps):
        start = clock()
        step()
        calls.append(clock() - start)
    return first, np.median(calls)


def harness_wall_clock(step, *, clock, rounds, steps, warmup):
    return harness(step, clock=time.perf_counter, rounds=rounds, steps=steps, warmup=warmup)


# --------------------------------------------------------------------------- exercise 2


def unfair_right(a, b):
    if a.conditions.clock != b.conditions.clock:
        return "clock"
    if a.conditions.threads is None or a.conditions.threads != b.conditions.threads:
        return "threads"
    if min(len(a.per_step), len(b.per_step)) < 5:
        return "samples"
    for t in (a, b):
        load = t.conditions.load_average
        if load is not None and load[0] >= t.conditions.cpus:
            return "busy"
    return None


def unfair_fixed_threshold(a, b):
    reason = unfair_right(a, b)
    if reason is None and any(
        t.conditions.load_average and t.conditions.load_average[0] > 1 for t in (a, b)
    ):
        return "busy"
    return reason


def unfair_first_only(a, b):
    return unfair_right(a, a) if unfair_right(a, b) in ("busy", "samples") else unfair_right(a, b)


def unfair_fifteen_minutes(a, b):
    reason = unfair_right(a, b)
    if reason != "busy":
        return reason
    loads = [t.conditions.load_average[2] >= t.conditions.cpus for t in (a, b)]
    return "busy" if any(loads) else None


def unfair_busy_first(a, b):
    for t in (a, b):
        load = t.conditions.load_average
        if load is not None and load[0] >= t.conditions.cpus:
            return "busy"
    return unfair_right(a, b)


def unfair_none_is_busy(a, b):
    reason = unfair_right(a, b)
    if reason is None and a.conditions.load_average is None:
        return "busy"
    return reason


def unfair_says_false(a, b):
    return unfair_right(a, b) or False


def unfair_greater_than(a, b):
    """Busy only above the CPU count: "at least" read as "more than"."""
    reason = unfair_right(a, b)
    if reason != "busy":
        return reason
    loads = [t.conditions.load_average for t in (a, b)]
    cpus = [t.conditions.cpus for t in (a, b)]
    return "busy" if any(lo and lo[0] > c for lo, c in zip(loads, cpus, strict=True)) else None


def unfair_five_too_few(a, b):
    """Five blocks counted as too few: "fewer than 5" read as "at most 5"."""
    if unfair_right(a, b) in ("clock", "threads"):
        return unfair_right(a, b)
    if min(len(a.per_step), len(b.per_step)) <= 5:
        return "samples"
    return unfair_right(a, b)


# --------------------------------------------------------------------------- exercise 3


def break_even_right(eager, compiled):
    saved = eager.median - compiled.median
    if saved <= 0:
        return math.inf
    return max(1, 1 + math.ceil((compiled.first_call - eager.first_call) / saved))


def break_even_loop(eager, compiled):
    """Another right answer: add up both runs until the compiled one is no longer behind."""
    if compiled.median >= eager.median:
        return math.inf
    n, total_eager, total_compiled = 1, eager.first_call, compiled.first_call
    while total_compiled > total_eager:
        n, total_eager, total_compiled = (
            n + 1,
            total_eager + eager.median,
            total_compiled + compiled.median,
        )
    return n


def break_even_off_by_one(eager, compiled):
    found = break_even_right(eager, compiled)
    return found if found in (1, math.inf) else found - 1


def break_even_unrounded(eager, compiled):
    saved = eager.median - compiled.median
    return math.inf if saved <= 0 else 1 + (compiled.first_call - eager.first_call) / saved


def break_even_no_eager_first_call(eager, compiled):
    saved = eager.median - compiled.median
    return math.inf if saved <= 0 else 1 + math.ceil(compiled.first_call / saved)


def break_even_fastest(eager, compiled):
    saved = eager.minimum - compiled.minimum
    return (
        math.inf if saved <= 0 else 1 + math.ceil((compiled.first_call - eager.first_call) / saved)
    )


def break_even_strictly_less(eager, compiled):
    """The first step at which compiled has cost strictly less: "no more" read as "less"."""
    if compiled.median >= eager.median:
        return math.inf
    n, total_eager, total_compiled = 1, eager.first_call, compiled.first_call
    while total_compiled >= total_eager:
        n, total_eager, total_compiled = (
            n + 1,
            total_eager + eager.median,
            total_compiled + compiled.median,
        )
    return n


def break_even_never_says_never(eager, compiled):
    saved = eager.median - compiled.median
    return 1 + math.ceil((compiled.first_call - eager.first_call) / saved) if saved else 10**9


# --------------------------------------------------------------------------- exercise 4


def threads_torch(n):
    torch.set_num_threads(n)
    if torch.get_num_interop_threads() != 1:  # settable once, as the lesson's setup does it
        torch.set_num_interop_threads(1)


def threads_tf(n):
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def threads_torch_intra_only(n):
    torch.set_num_threads(n)


def threads_tf_swapped(n):
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(n)


def threads_environment(n):
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(n)


def threads_torch_constant(n):
    torch.set_num_threads(2)
    torch.set_num_interop_threads(1)


# --------------------------------------------------------------------------- exercise 5


def clipped_clamp(w, grad, max_norm):
    return w - 0.1 * grad * torch.clamp(max_norm / grad.norm(), max=1.0)


def clipped_where(w, grad, max_norm):
    norm = torch.linalg.vector_norm(grad)
    return w - 0.1 * torch.where(norm > max_norm, grad * (max_norm / norm), grad)


def clipped_epsilon(w, grad, max_norm):
    """As torch.nn.utils.clip_grad_norm_ does it: an epsilon in the denominator."""
    scale = torch.clamp(max_norm / (grad.norm() + 1e-6), max=1.0)
    return w - 0.1 * grad * scale


def clipped_item(w, grad, max_norm):
    norm = grad.norm()
    if norm.item() > max_norm:
        grad = grad * (max_norm / norm)
    return w - 0.1 * grad


def clipped_tensor_if(w, grad, max_norm):
    norm = grad.norm()
    if norm > max_norm:
        grad = grad * (max_norm / norm)
    return w - 0.1 * grad


def clipped_always(w, grad, max_norm):
    norm = grad.norm()
    scale = torch.where(norm > 0, max_norm / norm, torch.ones_like(norm))
    return w - 0.1 * grad * scale


def clipped_by_value(w, grad, max_norm):
    return w - 0.1 * torch.clamp(grad, -max_norm, max_norm)


def clipped_nan(w, grad, max_norm):
    norm = grad.norm()
    return w - 0.1 * grad / norm * torch.minimum(norm, torch.tensor(max_norm))


SPEC = [tf.TensorSpec([None], tf.float32)] * 2 + [tf.TensorSpec([], tf.float32)]


def make_tf_clip_by_norm():
    @tf.function(input_signature=SPEC)
    def clipped_update(w, grad, max_norm):
        return w - 0.1 * tf.clip_by_norm(grad, max_norm)

    return clipped_update


def make_tf_autograph_if():
    @tf.function(input_signature=SPEC)
    def clipped_update(w, grad, max_norm):
        norm = tf.norm(grad)
        if norm > max_norm:  # autograph makes it a tf.cond
            grad = grad * (max_norm / norm)
        return w - 0.1 * grad

    return clipped_update


def make_tf_minimum():
    def clipped_update(w, grad, max_norm):
        return w - 0.1 * grad * tf.minimum(1.0, max_norm / tf.norm(grad))

    return tf.function(clipped_update, input_signature=SPEC)


def make_tf_plain():
    return tf.function(lambda w, grad, max_norm: w - 0.1 * tf.clip_by_norm(grad, max_norm))


def make_tf_reduce_retracing():
    return tf.function(
        lambda w, grad, max_norm: w - 0.1 * tf.clip_by_norm(grad, max_norm), reduce_retracing=True
    )


def make_tf_python():
    return lambda w, grad, max_norm: w - 0.1 * tf.clip_by_norm(grad, max_norm)


def make_tf_numpy():
    @tf.function(input_signature=SPEC)
    def clipped_update(w, grad, max_norm):
        norm = tf.norm(grad)
        if norm.numpy() > max_norm:
            grad = grad * (max_norm / norm)
        return w - 0.1 * grad

    return clipped_update


def make_tf_always():
    @tf.function(input_signature=SPEC)
    def clipped_update(w, grad, max_norm):
        norm = tf.norm(grad)
        return w - 0.1 * grad * tf.where(norm > 0, max_norm / norm, 1.0)

    return clipped_update


def make_tf_by_value():
    @tf.function(input_signature=SPEC)
    def clipped_update(w, grad, max_norm):
        return w - 0.1 * tf.clip_by_value(grad, -max_norm, max_norm)

    return clipped_update


def make_tf_nan():
    @tf.function(input_signature=SPEC)
    def clipped_update(w, grad, max_norm):
        norm = tf.norm(grad)
        return w - 0.1 * grad / norm * tf.minimum(norm, max_norm)

    return clipped_update


def make_tf_forgot_return():
    tf.function(make_tf_plain())


RIGHT = [
    (performance.time_per_step, harness, pytorch),
    (performance.time_per_step, harness_statistics, tensorflow),
    (performance.time_per_step, harness_library, pytorch),
    (performance.unfair_comparison, unfair_right, pytorch),
    (performance.unfair_comparison, unfair_right, tensorflow),
    (performance.break_even_steps, break_even_right, pytorch),
    (performance.break_even_steps, break_even_loop, tensorflow),
    (performance.use_threads, threads_torch, pytorch),
    (performance.use_threads, threads_tf, tensorflow),
    (performance.clipped_update, clipped_clamp, pytorch),
    (performance.clipped_update, clipped_where, pytorch),
    (performance.clipped_update, clipped_epsilon, pytorch),
    (performance.clipped_update, make_tf_clip_by_norm, tensorflow),
    (performance.clipped_update, make_tf_autograph_if, tensorflow),
    (performance.clipped_update, make_tf_minimum, tensorflow),
]

WRONG = [
    (performance.time_per_step, harness_mean, pytorch, "mean of the blocks"),
    (performance.time_per_step, harness_min, pytorch, "fastest block"),
    (performance.time_per_step, harness_upper_middle, pytorch, "halfway between the two middle"),
    (performance.time_per_step, harness_per_block, tensorflow, "time of a whole block"),
    (performance.time_per_step, harness_without_warmup, tensorflow, "warm-up calls are missing"),
    (performance.time_per_step, harness_first_with_warmup, pytorch, "includes the warm-up"),
    (performance.time_per_step, harness_per_call, pytorch, "median of single calls"),
    (performance.time_per_step, harness_wall_clock, tensorflow, "never read the `clock`"),
    (performance.unfair_comparison, unfair_fixed_threshold, pytorch, "with the CPU count"),
    (performance.unfair_comparison, unfair_first_only, tensorflow, "look at both timings"),
    (performance.unfair_comparison, unfair_fifteen_minutes, pytorch, "the 1-minute average"),
    (performance.unfair_comparison, unfair_busy_first, tensorflow, "the first in the exercise's"),
    (performance.unfair_comparison, unfair_none_is_busy, pytorch, "no evidence of a busy"),
    (performance.unfair_comparison, unfair_says_false, pytorch, "return None or one of"),
    (performance.break_even_steps, break_even_off_by_one, pytorch, "count steps from 1"),
    (performance.break_even_steps, break_even_unrounded, tensorflow, "rounded up"),
    (
        performance.break_even_steps,
        break_even_no_eager_first_call,
        pytorch,
        "the eager run pays a first call too",
    ),
    (performance.break_even_steps, break_even_fastest, tensorflow, "not the fastest block's"),
    (performance.break_even_steps, break_even_never_says_never, pytorch, "return math.inf"),
    (performance.use_threads, threads_torch_intra_only, pytorch, "inter-op pool is left"),
    (performance.use_threads, threads_tf_swapped, tensorflow, "intra-op and inter-op are swapped"),
    (performance.use_threads, threads_environment, tensorflow, "changes the environment"),
    (performance.use_threads, threads_torch_constant, pytorch, "use_threads(3) sets"),
    (performance.unfair_comparison, unfair_greater_than, pytorch, "includes equal to it"),
    (performance.unfair_comparison, unfair_five_too_few, tensorflow, "not fewer than 5"),
    (performance.break_even_steps, break_even_strictly_less, pytorch, "includes the same"),
    (performance.clipped_update, clipped_item, pytorch, "cannot capture it in one graph"),
    (performance.clipped_update, clipped_tensor_if, pytorch, "cannot capture it in one graph"),
    (performance.clipped_update, clipped_always, pytorch, "scales the gradient up"),
    (performance.clipped_update, clipped_by_value, pytorch, "clips each element"),
    (performance.clipped_update, clipped_nan, pytorch, "holds NaN"),
    (performance.clipped_update, make_tf_plain, tensorflow, "traced 4 times"),
    (performance.clipped_update, make_tf_reduce_retracing, tensorflow, "input_signature"),
    (performance.clipped_update, make_tf_python, tensorflow, "plain Python function"),
    (performance.clipped_update, make_tf_numpy, tensorflow, "asks a tensor for its value"),
    (performance.clipped_update, make_tf_always, tensorflow, "scales the gradient up"),
    (performance.clipped_update, make_tf_by_value, tensorflow, "clips each element"),
    (performance.clipped_update, make_tf_nan, tensorflow, "holds NaN"),
    (performance.clipped_update, make_tf_forgot_return, tensorflow, "forget the `return`"),
]


@pytest.mark.parametrize("check, learner, adapter", RIGHT, ids=[case_id(c) for c in RIGHT])
def test_an_idiomatic_right_answer_passes(check, learner, adapter, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize("check, learner, adapter, named", WRONG, ids=[case_id(c) for c in WRONG])
def test_a_typical_wrong_answer_fails_with_its_named_hint(check, learner, adapter, named, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.FAILED
    assert named in outcome.message, outcome.message


def test_every_exercise_has_a_right_answer_per_framework_and_a_wrong_one():
    items = checks.exercises_of("performance")
    assert [item.number for item in items] == [1, 2, 3, 4, 5]
    assert items[0].heading == "Exercise 1: Warm-up and median"
    for item in items:
        right = {a.NAME for c, _, a in RIGHT if c.__name__ == item.check}
        assert right == {"PyTorch", "TensorFlow"}, item
        assert [c for c, *_ in WRONG if c.__name__ == item.check], item


def test_a_stub_is_not_done_yet(outcomes):
    def stub(*args, **kwargs):
        raise NotImplementedError

    for check in (performance.time_per_step, performance.break_even_steps):
        assert verdict(check, stub, pytorch, outcomes).status == checks.NOT_DONE


def test_the_thread_check_leaves_the_framework_and_the_environment_as_they_were(outcomes):
    functions = (vars(torch).copy(), vars(tf.config.threading).copy())
    before = (
        torch.get_num_threads(),
        torch.get_num_interop_threads(),
        tf.config.threading.get_intra_op_parallelism_threads(),
        dict(os.environ),
    )
    for learner, adapter in ((threads_torch, pytorch), (threads_environment, tensorflow)):
        performance.use_threads(learner, adapter)
    after = (
        torch.get_num_threads(),
        torch.get_num_interop_threads(),
        tf.config.threading.get_intra_op_parallelism_threads(),
        dict(os.environ),
    )
    assert after == before
    assert (vars(torch), vars(tf.config.threading)) == functions


def test_the_harness_check_reads_no_real_clock(outcomes, monkeypatch):
    """With every real clock made to raise, a right answer still passes: the check runs on its
    fake clock alone, so it cannot depend on this machine's speed or load."""

    def no_real_clock():
        raise AssertionError("a real clock was read")

    for name in ("perf_counter", "monotonic", "time", "thread_time", "process_time"):
        monkeypatch.setattr(time, name, no_real_clock)
    outcome = verdict(performance.time_per_step, harness_library, pytorch, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


def test_the_boundaries_the_exercise_texts_state_are_among_the_cases():
    """Exercise 2: exactly 5 blocks are enough, a load equal to the CPU count is busy; exercise
    3: totals equal at a whole step are "no more"."""
    blocks = {
        (len(a.per_step), len(b.per_step)): expected
        for a, b, expected, *_ in performance.COMPARISON_CASES
    }
    assert blocks[5, 5] is None and blocks[4, 5] == "samples"
    assert any(
        a.conditions.load_average and a.conditions.load_average[0] == a.conditions.cpus
        for a, *_ in performance.COMPARISON_CASES
    )
    assert any(
        performance._ties_at(timing.break_even(e, c), e, c)
        for e, c, _ in performance.BREAK_EVEN_CASES
    )


def test_the_clipping_cases_hold_a_long_a_short_an_exact_and_a_zero_gradient():
    norms = [
        (float(np.linalg.norm(grad)), max_norm) for _, grad, max_norm in performance._clip_cases()
    ]
    assert norms[0][0] > norms[0][1] and norms[1][0] < norms[1][1]
    assert norms[2][0] == norms[2][1] and norms[3][0] == 0
