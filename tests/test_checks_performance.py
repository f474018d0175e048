"""Lesson 09's self-checks: right answers pass in both twins, typical wrong answers fail by name,
and no check reads a real clock or changes the running framework's threads."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from diptych import checks, timing
from diptych.checks import performance

from helpers import case_id, verdict

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
tf = tensorflow.tf
ADAPTERS = (pytorch, tensorflow)


# --------------------------------------------------------------------------- exercise 1


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


# --------------------------------------------------------------------------- exercise 1, waited


def unfair_waited(a, b):
    """The lesson's rule in full: the load, then a step that had a CPU under 70% of the time."""
    reason = unfair_right(a, b)
    if reason is None and any(t.on_cpu is not None and t.on_cpu < 0.7 for t in (a, b)):
        return "waited"
    return reason


def unfair_waited_property(a, b):
    """Another right answer: the library's own reading."""
    return unfair_right(a, b) or ("waited" if a.waited or b.waited else None)


def unfair_waited_at_most(a, b):
    reason = unfair_right(a, b)
    if reason is None and any(t.on_cpu is not None and t.on_cpu <= 0.7 for t in (a, b)):
        return "waited"
    return reason


def unfair_waited_off_one(a, b):
    """Waiting read as "not one whole CPU": a process on 1.6 CPUs counted too."""
    reason = unfair_right(a, b)
    if reason is None and any(t.on_cpu is not None and abs(t.on_cpu - 1) > 0.3 for t in (a, b)):
        return "waited"
    return reason


def unfair_waited_none_counts(a, b):
    reason = unfair_right(a, b)
    if reason is None and any(t.on_cpu is None or t.on_cpu < 0.7 for t in (a, b)):
        return "waited"
    return reason


def unfair_waited_first(a, b):
    if any(t.on_cpu is not None and t.on_cpu < 0.7 for t in (a, b)):
        return "waited"
    return unfair_right(a, b)


# --------------------------------------------------------------------------- exercise 2


def decide_right(baseline, candidate, *, paired, resamples=2000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = np.asarray(baseline), np.asarray(candidate)
    picks_a = rng.integers(0, len(a), size=(resamples, len(a)))
    picks_b = picks_a if paired else rng.integers(0, len(b), size=(resamples, len(b)))
    ratios = np.median(b[picks_b], axis=1) / np.median(a[picks_a], axis=1)
    low, high = np.quantile(ratios, [0.025, 0.975])
    return "faster" if high < 1 else "slower" if low > 1 else "cannot tell"


def decide_python(baseline, candidate, *, paired):
    """Another right answer: the standard library, another seed, a loop."""
    import random

    rng, ratios = random.Random(7), []
    for _ in range(3000):
        rounds = [rng.randrange(len(baseline)) for _ in baseline]
        other = rounds if paired else [rng.randrange(len(candidate)) for _ in candidate]
        ratios.append(
            statistics.median(candidate[i] for i in other)
            / statistics.median(baseline[i] for i in rounds)
        )
    ratios.sort()
    low, high = ratios[int(0.025 * len(ratios))], ratios[int(0.975 * len(ratios)) - 1]
    return "faster" if high < 1 else "slower" if low > 1 else "cannot tell"


def decide_library(baseline, candidate, *, paired):
    """Another right answer: timing.compare, pairing by one measurement id."""
    conditions = timing.Conditions(1, 2, None, "perf_counter")
    a, b = (
        timing.Timing(name, 0.0, tuple(blocks), 1, 0, conditions, measurement=stamp)
        for name, blocks, stamp in (
            ("a", baseline, "m"),
            ("b", candidate, "m" if paired else "other"),
        )
    )
    return timing.compare(a, b, seed=3).verdict


def decide_never_paired(baseline, candidate, *, paired):
    return decide_right(baseline, candidate, paired=False)


def decide_always_paired(baseline, candidate, *, paired):
    n = min(len(baseline), len(candidate))
    return decide_right(baseline[:n], candidate[:n], paired=True)


def decide_by_medians(baseline, candidate, *, paired):
    return "faster" if np.median(candidate) < np.median(baseline) else "slower"


def decide_equal(baseline, candidate, *, paired):
    verdict = decide_right(baseline, candidate, paired=paired)
    return "equal" if verdict == "cannot tell" else verdict


def decide_inverted(baseline, candidate, *, paired):
    return decide_right(candidate, baseline, paired=paired)


def decide_block_ratios(baseline, candidate, *, paired):
    n = min(len(baseline), len(candidate))
    low, high = np.quantile(np.asarray(candidate[:n]) / np.asarray(baseline[:n]), [0.025, 0.975])
    return "faster" if high < 1 else "slower" if low > 1 else "cannot tell"


def decide_means(baseline, candidate, *, paired):
    rng = np.random.default_rng(0)
    a, b = np.asarray(baseline), np.asarray(candidate)
    picks_a = rng.integers(0, len(a), size=(2000, len(a)))
    picks_b = picks_a if paired else rng.integers(0, len(b), size=(2000, len(b)))
    low, high = np.quantile(b[picks_b].mean(1) / a[picks_a].mean(1), [0.025, 0.975])
    return "faster" if high < 1 else "slower" if low > 1 else "cannot tell"


# --------------------------------------------------------------------------- exercise 4


def profile_right(rows, *, steps, whole, products, unprofiled):
    step = next(total for name, _, _, total in rows if name == whole) / steps
    arithmetic = sum(own for name, _, own, _ in rows if name in products) / steps
    shares = arithmetic / step, arithmetic / unprofiled
    if min(shares) >= 0.5:
        return (*shares, "arithmetic")
    return (*shares, "around it" if max(shares) < 0.5 else "cannot tell")


def profile_summed(rows, *, steps, whole, products, unprofiled):
    """Another right answer: the profiled step as the sum of every row's self time."""
    table = {name: (calls, own, total) for name, calls, own, total in rows}
    arithmetic = sum(table[name][1] for name in products)
    shares = [
        arithmetic / sum(own for _, own, _ in table.values()),
        arithmetic / steps / unprofiled,
    ]
    agree = [share >= 0.5 for share in shares]
    return (
        *shares,
        ("arithmetic" if agree[0] else "around it") if len(set(agree)) == 1 else "cannot tell",
    )


def profile_totals(rows, *, steps, whole, products, unprofiled):
    step = next(total for name, _, _, total in rows if name == whole) / steps
    arithmetic = sum(total for name, _, _, total in rows if name in products) / steps
    return profile_from(arithmetic / step, arithmetic / unprofiled)


def profile_not_per_step(rows, *, steps, whole, products, unprofiled):
    step = next(total for name, _, _, total in rows if name == whole)
    arithmetic = sum(own for name, _, own, _ in rows if name in products)
    return profile_from(arithmetic / step, arithmetic / unprofiled)


def profile_whole_self(rows, *, steps, whole, products, unprofiled):
    step = next(own for name, _, own, _ in rows if name == whole) / steps
    arithmetic = sum(own for name, _, own, _ in rows if name in products) / steps
    return profile_from(arithmetic / step, arithmetic / unprofiled)


def profile_profiled_only(rows, **options):
    profiled, unprofiled, _ = profile_right(rows, **options)
    return profiled, unprofiled, "arithmetic" if profiled >= 0.5 else "around it"


def profile_unprofiled_only(rows, **options):
    profiled, unprofiled, _ = profile_right(rows, **options)
    return profiled, unprofiled, "arithmetic" if unprofiled >= 0.5 else "around it"


def profile_more_than_half(rows, **options):
    profiled, unprofiled, _ = profile_right(rows, **options)
    return profile_from(profiled, unprofiled, bar=lambda share: share > 0.5)


def profile_from(profiled, unprofiled, *, bar=lambda share: share >= 0.5):
    agree = {bar(profiled), bar(unprofiled)}
    conclusion = (
        ("arithmetic" if agree == {True} else "around it") if len(agree) == 1 else "cannot tell"
    )
    return profiled, unprofiled, conclusion


RIGHT = [
    (performance.break_even_steps, break_even_right, pytorch),
    (performance.break_even_steps, break_even_loop, tensorflow),
    (performance.clipped_update, clipped_clamp, pytorch),
    (performance.clipped_update, clipped_where, pytorch),
    (performance.clipped_update, clipped_epsilon, pytorch),
    (performance.clipped_update, make_tf_clip_by_norm, tensorflow),
    (performance.clipped_update, make_tf_autograph_if, tensorflow),
    (performance.clipped_update, make_tf_minimum, tensorflow),
    (performance.unfair_comparison, unfair_waited, pytorch),
    (performance.unfair_comparison, unfair_waited_property, tensorflow),
    (performance.decision_rule, decide_right, pytorch),
    (performance.decision_rule, decide_python, tensorflow),
    (performance.decision_rule, decide_library, pytorch),
    (performance.read_profile, profile_right, pytorch),
    (performance.read_profile, profile_right, tensorflow),
    (performance.read_profile, profile_summed, tensorflow),
]

WRONG = [
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
    (performance.unfair_comparison, unfair_right, pytorch, "a step with a CPU under 70%"),
    (performance.unfair_comparison, unfair_waited_at_most, tensorflow, "does not include exactly"),
    (performance.unfair_comparison, unfair_waited_off_one, pytorch, "no waiting"),
    (performance.unfair_comparison, unfair_waited_none_counts, pytorch, "no evidence of waiting"),
    (performance.unfair_comparison, unfair_waited_first, tensorflow, "the first in the exercise's"),
    (performance.decision_rule, decide_never_paired, pytorch, "resample rounds, the same picks"),
    (performance.decision_rule, decide_always_paired, tensorflow, "resample each on its own"),
    (performance.decision_rule, decide_by_medians, pytorch, "contains 1"),
    (performance.decision_rule, decide_equal, tensorflow, "does not show the two equal"),
    (performance.decision_rule, decide_inverted, pytorch, "below 1 is faster"),
    (performance.decision_rule, decide_block_ratios, tensorflow, "resample each on its own"),
    (performance.decision_rule, decide_means, pytorch, "a few slow blocks cannot move"),
    (performance.read_profile, profile_totals, pytorch, "adds self times"),
    (performance.read_profile, profile_not_per_step, tensorflow, "put both per step"),
    (performance.read_profile, profile_whole_self, pytorch, "its total time"),
    (performance.read_profile, profile_profiled_only, tensorflow, "this profile cannot tell"),
    (performance.read_profile, profile_unprofiled_only, pytorch, "this profile cannot tell"),
    (performance.read_profile, profile_more_than_half, tensorflow, "includes it"),
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
    assert items[0].heading == "Exercise 1: The unfair comparison"
    for item in items:
        right = {a.NAME for c, _, a in RIGHT if c.__name__ == item.check}
        assert right == {"PyTorch", "TensorFlow"}, item
        assert [c for c, *_ in WRONG if c.__name__ == item.check], item


def test_a_stub_is_not_done_yet(outcomes):
    def stub(*args, **kwargs):
        raise NotImplementedError

    for check in (
        performance.decision_rule,
        performance.break_even_steps,
        performance.read_profile,
    ):
        assert verdict(check, stub, pytorch, outcomes).status == checks.NOT_DONE


def test_the_boundaries_the_exercise_texts_state_are_among_the_cases():
    """Exercise 1: exactly 5 blocks are enough, a load equal to the CPU count is busy; exercise
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


def test_the_waiting_boundary_is_exactly_70_percent_and_the_rule_cases_are_seed_proof():
    """Exercise 1's boundary timing is on a CPU exactly 70% of the time; exercise 2's verdicts
    hold for any seed of the right answer, so a learner's own random numbers cannot fail it."""
    shares = [t.on_cpu for a, b, *_ in performance.COMPARISON_CASES for t in (a, b)]
    assert 0.7 in shares
    for baseline, candidate, paired, expected, *_ in performance.RULE_CASES:
        found = {decide_right(baseline, candidate, paired=paired, seed=seed) for seed in range(40)}
        assert found == {expected}


def test_the_profile_cases_hold_an_exact_half_and_shares_that_disagree():
    shares = [
        (sum(selfs) / step, sum(selfs) / unprofiled)
        for _, step, selfs, _, unprofiled, *_ in performance.PROFILE_CASES
    ]
    assert (0.5, 0.5) in shares
    assert any((p >= 0.5) != (u >= 0.5) for p, u in shares)
    for adapter in ADAPTERS:
        rows = performance._profile(
            adapter, steps=4, step=0.5, products=(0.125, 0.125), callee=0.0625
        )
        assert sum(own for _, _, own, _ in rows) == 4 * 0.5  # self times add up to the step


def test_the_trace_format_import_fails_with_a_sentence_that_says_what_to_do(monkeypatch):
    import builtins

    from diptych.adapters import tensorflow_performance

    real = builtins.__import__

    def moved(name, *args, **kwargs):
        if name.startswith("tensorflow.tsl.profiler"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", moved)
    with pytest.raises(ImportError, match="read the trace in TensorBoard's Profile tab instead"):
        tensorflow_performance.trace_format()


def test_host_events_sums_a_real_profile_per_step_with_the_graph_run_the_lesson_reads(tmp_path):
    """Lesson 09 reads ``FunctionRun`` (a traced step's graph) and ``EagerExecute`` from it."""
    from diptych.adapters import tensorflow_performance

    step = tf.function(lambda: tf.reduce_sum(tf.matmul(tf.ones((64, 64)), tf.ones((64, 64)))))
    step(), step()  # traced and warm, outside the profile
    tf.profiler.experimental.start(str(tmp_path))
    for i in range(4):
        with tf.profiler.experimental.Trace("train", step_num=i, _r=1):
            step()
    tf.profiler.experimental.stop()
    events = tensorflow_performance.host_events(tmp_path, 4)
    assert events["train"][0] == pytest.approx(1.0)  # one per step
    calls, seconds = events["FunctionRun"]
    assert calls == pytest.approx(1.0) and 0 < seconds <= events["train"][1]
