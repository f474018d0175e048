"""The timing harness, driven by a fake clock and steps of known cost: its statistics are exact
here on any machine under any load. No wall-clock time of real work is asserted anywhere."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import time

import numpy as np
import pytest

from diptych import timing
from diptych.timing import Conditions, FakeClock, KnownCost, Timing


def measured(step, clock, **options):
    options = {"threads": 1, "rounds": 5, "steps": 10, "warmup": 2, "clock": clock, **options}
    return timing.measure({"step": step}, **options)["step"]


def test_a_known_cost_is_measured_exactly_first_call_apart():
    clock = FakeClock()
    result = measured(KnownCost(step=1e-3, first=0.25, clock=clock), clock)
    assert result.first_call == pytest.approx(0.25, rel=1e-12)
    assert result.median == pytest.approx(1e-3, rel=1e-12)
    assert result.iqr == pytest.approx(0, abs=1e-15)
    assert len(result.per_step) == 5 and result.steps == 10 and result.warmup == 2


def test_the_median_ignores_a_disturbed_block_that_the_mean_follows():
    clock = FakeClock()
    # call 0 is the first call, 1-2 the warm-up: call 3 + 10k starts block k; block 2 is 50 ms late
    step = KnownCost(step=1e-3, clock=clock, extra={3 + 2 * 10 + 4: 0.05})
    result = measured(step, clock)
    assert sorted(result.per_step)[:4] == pytest.approx([1e-3] * 4, rel=1e-12)
    assert result.per_step[2] == pytest.approx(1e-3 + 0.05 / 10, rel=1e-12)
    assert result.median == pytest.approx(1e-3, rel=1e-12)
    assert statistics.mean(result.per_step) == pytest.approx(2e-3, rel=1e-12)
    assert result.minimum == pytest.approx(1e-3, rel=1e-12)


def test_slow_warm_up_calls_are_not_timed():
    clock = FakeClock()
    result = measured(KnownCost(step=1e-3, clock=clock, extra={1: 0.3, 2: 0.2}), clock)
    assert max(result.per_step) == pytest.approx(1e-3, rel=1e-12)


def test_quartiles_and_iqr_are_numpys_linear_percentiles():
    samples = (5.0, 1.0, 4.0, 2.0, 3.0, 10.0)
    result = Timing("x", 0.0, samples, 1, 0, Conditions(1, 2, None, "fake"))
    q1, q3 = np.percentile(samples, [25, 75])
    assert result.quartiles == pytest.approx((q1, q3))
    assert result.iqr == pytest.approx(q3 - q1)
    assert result.median == 3.5 and result.minimum == 1.0
    single = Timing("x", 0.0, (2.0,), 1, 0, Conditions(1, 2, None, "fake"))
    assert single.quartiles == (2.0, 2.0) and single.iqr == 0


def test_variants_are_interleaved_each_round_in_rotated_order():
    clock, calls = FakeClock(), []

    def step(name, cost):
        def run():
            calls.append(name)
            clock.advance(cost)

        return run

    variants = {"a": step("a", 1e-3), "b": step("b", 2e-3), "c": step("c", 3e-3)}
    result = timing.measure(variants, threads=1, rounds=3, steps=2, warmup=1, clock=clock)
    assert calls[:6] == ["a", "b", "c", "a", "b", "c"]  # first calls, then one warm-up each
    blocks = [calls[i] for i in range(6, len(calls), 2)]
    assert blocks == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert [result[n].median for n in "abc"] == pytest.approx([1e-3, 2e-3, 3e-3], rel=1e-12)


def test_sync_runs_before_the_clock_is_read_so_pending_work_is_counted():
    clock, synced = FakeClock(), []

    def step():
        clock.advance(1e-3)
        return "loss"

    def sync(result):  # a GPU finishing the block's queued work: 2 ms per block
        synced.append(result)
        clock.advance(2e-3)

    result = measured(step, clock, sync=sync, rounds=4, steps=10, warmup=0)
    assert synced == ["loss"] * 5  # after the first call and after each block
    assert result.first_call == pytest.approx(3e-3, rel=1e-12)
    assert result.median == pytest.approx(1e-3 + 2e-3 / 10, rel=1e-12)


def test_threads_cpus_load_and_clock_are_recorded_with_every_result(monkeypatch):
    monkeypatch.setattr(timing.os, "getloadavg", lambda: (1.5, 1.0, 0.5))
    monkeypatch.setattr(timing.os, "cpu_count", lambda: 8)
    clock = FakeClock()
    result = measured(KnownCost(step=1e-3, clock=clock), clock, threads=4)
    assert result.conditions == Conditions(4, 8, (1.5, 1.0, 0.5), "FakeClock")
    assert result.conditions.describe() == "4 threads, 8 CPUs, load 1.50"


def test_a_system_without_a_load_average_records_none(monkeypatch):
    def missing():
        raise OSError("no load average here")

    monkeypatch.setattr(timing.os, "getloadavg", missing)
    assert timing.load_average() is None
    monkeypatch.delattr(timing.os, "getloadavg")  # Windows has no such function
    conditions = Conditions.now(threads=1, clock=time.perf_counter)
    assert conditions.load_average is None and conditions.clock == "perf_counter"
    assert conditions.describe().endswith("no load average")


def test_results_survive_json_bit_for_bit():
    clock = FakeClock()
    result = measured(KnownCost(step=1e-3, first=0.1, clock=clock, extra={7: 0.01}), clock)
    text = json.dumps(result.to_dict())
    again = Timing.from_dict(json.loads(text))
    assert again == result
    data = json.loads(text)
    assert data["median"] == result.median and data["iqr"] == result.iqr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rounds": 0}, "rounds must be a whole number, at least 1"),
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"warmup": -1}, "warmup must be a whole number, 0 or more"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        timing.measure({"x": lambda: None}, threads=1, **options)


def test_no_variants_is_refused():
    with pytest.raises(ValueError, match="at least one variant"):
        timing.measure({}, threads=1)


def timed(name, first, median):
    return Timing(name, first, (median,), 1, 0, Conditions(1, 1, None, "fake"))


@pytest.mark.parametrize(
    ("eager", "compiled", "expected"),
    [
        ((0.01, 5e-3), (1.0, 1e-3), 1 + math.ceil((1.0 - 0.01) / 4e-3)),  # 249 steps
        ((0.01, 5e-3), (1.0, 5e-3), math.inf),  # no faster per step: never
        ((0.01, 5e-3), (1.0, 6e-3), math.inf),  # slower per step: never
        ((0.5, 5e-3), (0.1, 4e-3), 1),  # cheaper from the first call on
        ((0.0, 2e-3), (0.004, 1e-3), 5),  # exactly even after 5 steps: 4 ms + 4 ms = 8 + 0 ms
    ],
)
def test_break_even_counts_the_steps_until_compiling_has_paid(eager, compiled, expected):
    found = timing.break_even(timed("eager", *eager), timed("compiled", *compiled))
    assert found == expected


def test_break_even_totals_really_cross_there():
    eager, compiled = timed("eager", 0.02, 3e-4), timed("compiled", 1.2, 2e-4)
    n = timing.break_even(eager, compiled)

    def total(t, steps):
        return t.first_call + (steps - 1) * t.median

    assert total(compiled, n) <= total(eager, n) and total(compiled, n - 1) > total(eager, n - 1)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.5, "2.50 s"),
        (0.0046234, "4.62 ms"),
        (0.000231, "231 µs"),
        (4e-8, "40 ns"),
        (8.7e-19, "< 1 ns"),
        (0.0, "0 s"),
    ],
)
def test_durations_read_in_the_right_unit(value, text):
    assert timing.seconds(value) == text


def test_table_names_every_variant_with_its_threads_and_load():
    clock = FakeClock()
    results = timing.measure(
        {"eager": KnownCost(step=2e-3, clock=clock), "compiled": KnownCost(step=1e-3, clock=clock)},
        threads=2,
        rounds=3,
        steps=4,
        clock=clock,
    )
    text = timing.table(results.values())
    assert "eager" in text and "2 ms" in text and "1 ms" in text and "3×4" in text
    assert results["eager"].describe().startswith("eager: 2 ms per step (IQR ")


class Ticking:
    """A clock that moves by ``tick`` every third read, like a coarse real clock."""

    __name__ = "Ticking"

    def __init__(self, tick):
        self.tick, self.reads = tick, 0

    def __call__(self):
        self.reads += 1
        return (self.reads // 3) * self.tick


def test_resolution_is_the_step_a_clock_is_seen_to_take():
    assert timing.resolution(Ticking(0.015625)) == 0.015625
    assert 0 < timing.resolution(time.perf_counter) < 0.02  # holds on every supported system


def test_burning_never_costs_less_cpu_time_than_asked():
    """Only the lower bound is asserted: it holds on a loaded machine too (how much longer a
    burn takes is the machine's business, and lesson 09 measures it)."""
    start = time.thread_time()
    timing.burn(2e-3)
    assert time.thread_time() - start >= 2e-3


def test_a_known_cost_refuses_negative_costs_and_a_fake_clock_refuses_to_go_back():
    with pytest.raises(ValueError, match="non-negative"):
        KnownCost(step=-1.0)
    with pytest.raises(ValueError, match="cannot go back"):
        FakeClock().advance(-1e-3)


# --------------------------------------------------------------------------- the decision rule


def sampled(
    per_step, *, name="x", load=(0.5, 0.5, 0.5), cpus=2, threads=1, measurement="m", cpu=None
):
    return Timing(
        name,
        0.1,
        tuple(per_step),
        20,
        2,
        Conditions(threads, cpus, load, "fake"),
        cpu_per_step=None if cpu is None else tuple(cpu),
        measurement=measurement,
    )


SPREAD = (1.00, 1.04, 0.97, 1.10, 0.95, 1.02, 0.99, 1.30, 1.01)  # one slow block


@pytest.mark.parametrize(
    ("factor", "verdict"), [(0.7, "faster"), (1.0, "cannot tell"), (1.4, "slower")]
)
def test_compare_decides_by_the_interval_of_the_ratio_of_medians(factor, verdict):
    baseline = sampled([1e-3 * s for s in SPREAD], name="eager")
    candidate = sampled([1e-3 * factor * s for s in reversed(SPREAD)], name="compiled")
    found = timing.compare(baseline, candidate)
    assert found.verdict == verdict
    assert found.ratio == pytest.approx(candidate.median / baseline.median)
    assert found.low <= found.ratio <= found.high
    assert (found.high < 1) == (verdict == "faster") and (found.low > 1) == (verdict == "slower")


def test_an_a_a_comparison_cannot_tell_even_with_different_medians():
    """The same step measured twice: medians differ by chance, the rule must not call it."""
    rng = np.random.default_rng(3)
    a = sampled(1e-3 * rng.lognormal(0, 0.2, 9), name="a")
    b = sampled(1e-3 * rng.lognormal(0, 0.2, 9), name="b")
    assert a.median != b.median
    assert timing.compare(a, b).verdict == "cannot tell"


def test_compare_is_reproducible_and_its_interval_widens_with_confidence():
    a, b = sampled([1e-3 * s for s in SPREAD]), sampled([0.9e-3 * s for s in SPREAD[::-1]])
    assert timing.compare(a, b) == timing.compare(a, b)
    narrow, wide = timing.compare(a, b, confidence=0.5), timing.compare(a, b, confidence=0.99)
    assert wide.low <= narrow.low <= narrow.high <= wide.high


def test_one_measurement_is_resampled_in_pairs_and_separate_ones_are_not():
    a, b = sampled(SPREAD, name="a"), sampled(SPREAD, name="b")
    assert timing.compare(a, b).paired
    assert (timing.compare(a, b).low, timing.compare(a, b).high) == (1.0, 1.0)
    other = sampled(SPREAD, measurement="another")  # the same load, CPUs, clock and blocks
    found = timing.compare(a, other)
    assert not found.paired and found.low < 1 < found.high
    assert "one after the other, not interleaved" in found.describe()
    assert not timing.compare(sampled(SPREAD, measurement=None), sampled(SPREAD)).paired


def test_two_measure_calls_are_never_paired_even_with_equal_loads(monkeypatch):
    monkeypatch.setattr(timing, "load_average", lambda: (1.0, 1.0, 1.0))
    clock = FakeClock()
    first = timing.measure(
        {"a": KnownCost(step=1e-3, clock=clock)}, threads=1, rounds=5, clock=clock
    )
    second = timing.measure(
        {"b": KnownCost(step=1e-3, clock=clock)}, threads=1, rounds=5, clock=clock
    )
    assert first["a"].conditions == second["b"].conditions
    assert first["a"].measurement != second["b"].measurement
    assert not timing.compare(first["a"], second["b"]).paired
    again = Timing.from_dict(first["a"].to_dict())
    assert again == first["a"] and timing.compare(first["a"], again).paired


def test_the_wall_clock_keeps_the_process_cpu_time_per_block():
    found = timing.measure(
        {"burn": lambda: timing.burn(2e-3)}, threads=1, rounds=3, steps=2, warmup=0
    )["burn"]
    assert found.cpu_per_step is not None and len(found.cpu_per_step) == 3
    assert min(found.cpu_per_step) >= 2e-3  # a burn spends its cost on the CPU, at least
    assert Timing.from_dict(found.to_dict()).cpu_per_step == found.cpu_per_step
    slept = timing.measure(
        {"sleep": lambda: time.sleep(2e-3)}, threads=1, rounds=3, steps=2, warmup=0
    )["sleep"]
    assert slept.waited and slept.busy and slept.on_cpu < 0.7  # a sleep is all waiting
    clock = FakeClock()
    fake = timing.measure(
        {"k": KnownCost(step=1e-3, clock=clock)}, threads=1, rounds=3, clock=clock
    )
    assert fake["k"].cpu_per_step is None and fake["k"].on_cpu is None and fake["k"].waited is None


@pytest.mark.parametrize(
    ("cpu", "waited"), [(0.95e-3, False), (0.7e-3, False), (0.69e-3, True), (0.5e-3, True)]
)
def test_a_step_that_had_a_cpu_under_70_percent_of_its_time_waited(cpu, waited):
    quiet = sampled([1e-3] * 9, name="eager", cpu=[0.97e-3] * 9)
    found = sampled([1e-3] * 9, name="loaded", cpu=[cpu] * 9)  # load 0.5 on 2 CPUs: not busy
    assert found.waited is waited and found.busy is waited
    comparison = timing.compare(quiet, found)
    assert comparison.busy is waited
    text = comparison.describe()
    assert (f"the step had a CPU {cpu / 1e-3:.0%} of the time" in text) is waited
    assert ("not comparable" in text) is waited


@pytest.mark.parametrize(
    ("load", "own", "free"),
    [(1.01, 1.0, 1.99), (1.01, 0.0, 0.99), (3.0, 1.0, 0.0), (0.5, 1.0, 2.0)],
)
def test_free_cpus_leave_out_the_process_own_load(load, own, free):
    """Load 1.01 on 2 CPUs while this process keeps one CPU busy: nearly two CPUs are free of
    other programs, so a second thread had one; that is not oversubscription."""
    conditions = Conditions(2, 2, (load, 1.0, 1.0), "perf_counter")
    assert conditions.free_cpus(own) == pytest.approx(free)
    assert Conditions(2, 2, None, "perf_counter").free_cpus(1.0) is None


@pytest.mark.parametrize(
    ("load", "cpus", "busy"),
    [((1.99, 0, 0), 2, False), ((2.0, 0, 0), 2, True), ((9.0, 0, 0), 8, True), (None, 2, None)],
)
def test_a_machine_is_busy_from_a_one_minute_load_of_its_cpu_count(load, cpus, busy):
    conditions = Conditions(1, cpus, load, "perf_counter")
    assert conditions.busy is busy
    assert conditions.describe().endswith("(busy)") is bool(busy)


def test_a_comparison_on_a_busy_machine_says_it_is_not_comparable():
    quiet = sampled([1e-3 * s for s in SPREAD], name="eager")
    loaded = sampled([2e-3 * s for s in SPREAD], name="busy", load=(3.5, 2.0, 1.0))
    found = timing.compare(quiet, loaded)
    assert found.busy and found.verdict == "slower"
    text = found.describe()
    assert text.startswith("busy is slower than eager")
    assert "busy machine (load 3.50 on 2 CPUs): not comparable" in text
    assert not timing.compare(quiet, quiet).busy


def test_the_sentence_names_the_verdict_and_the_interval():
    a = sampled([1e-3 * s for s in SPREAD], name="eager")
    same = timing.compare(a, sampled([1e-3 * s for s in SPREAD[::-1]], name="again"))
    assert same.describe().startswith("cannot tell again from eager here: its median step")
    assert "contains 1×" in same.describe()
    faster = timing.compare(a, sampled([0.5e-3 * s for s in SPREAD], name="compiled"))
    assert faster.describe().startswith(
        "compiled is faster than eager: its median step takes 0.50×"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [({"confidence": 1.0}, "confidence"), ({"resamples": 10}, "resamples")],
)
def test_compare_refuses_options_that_decide_nothing(options, message):
    a = sampled(SPREAD)
    with pytest.raises(ValueError, match=message):
        timing.compare(a, a, **options)


def test_each_variant_can_carry_its_own_thread_count_and_still_pairs():
    clock = FakeClock()
    variants = {
        "one": KnownCost(step=2e-3, clock=clock),
        "two": KnownCost(step=1e-3, clock=clock),
    }
    found = timing.measure(
        variants, threads={"one": 1, "two": 2}, rounds=5, steps=2, warmup=0, clock=clock
    )
    assert (found["one"].conditions.threads, found["two"].conditions.threads) == (1, 2)
    comparison = timing.compare(found["one"], found["two"])
    assert comparison.paired and comparison.ratio == pytest.approx(0.5)


def sweep(*, load, one_cpu, two_cpu, factors):
    """One thread against two at batch 64 and 1024, ``factors`` the two-thread time ratios."""
    one, two = {}, {}
    for size, factor in zip((64, 1024), factors, strict=True):
        base = [1e-3 * s for s in SPREAD]
        one[size] = sampled(base, name=f"{size}, 1", load=load, cpu=[one_cpu * t for t in base])
        two[size] = sampled(
            [factor * t for t in base],
            name=f"{size}, 2",
            load=load,
            threads=2,
            cpu=[two_cpu * factor * t for t in base],
        )
    return one, two


def test_a_load_of_one_on_two_cpus_from_this_process_alone_is_not_oversubscription():
    one, two = sweep(load=(1.01, 1.0, 1.0), one_cpu=1.0, two_cpu=1.0, factors=(1.25, 0.8))
    text = timing.second_thread(one, two)
    assert "batch 64 slower (1.25×), batch 1024 faster (0.80×)" in text
    assert "this process kept 1.00 busy itself, so other programs left it 1.99 CPUs" in text
    assert "oversubscription" not in text and "handing work to a thread" in text
    assert "did not help" not in text and "busy machine" not in text


def test_a_step_that_waited_names_oversubscription_and_the_missing_help():
    one, two = sweep(load=(1.2, 1.0, 1.0), one_cpu=0.6, two_cpu=0.7, factors=(1.3, 1.2))
    text = timing.second_thread(one, two)
    assert "the step had a CPU only 60% of the time" in text
    assert "because the second waited for a CPU that other programs held (oversubscription)" in text
    assert "did not help" not in text  # the oversubscription sentence has said why
    assert text.endswith("A busy machine: not comparable with times taken elsewhere.")


def test_a_high_load_from_other_programs_is_oversubscription_even_without_waiting():
    one, two = sweep(load=(3.0, 1.0, 1.0), one_cpu=0.9, two_cpu=1.1, factors=(1.3, 1.0))
    text = timing.second_thread(one, two)
    assert "other programs left it 0.00 CPUs" in text and "(oversubscription)" in text


def test_a_measurement_on_linux_says_what_other_programs_kept_busy():
    found = timing.measure(
        {"burn": lambda: timing.burn(5e-3)}, threads=1, rounds=10, steps=5, warmup=0
    )["burn"]
    if timing.busy_cpu_seconds() is None:
        assert found.conditions.others is None
    else:
        assert found.conditions.others is not None and found.conditions.others >= 0
    assert Timing.from_dict(found.to_dict()) == found
    share, others = timing.probe(0.05)
    assert 0 < share <= 1.05 and (others is None or others >= 0)


@pytest.mark.parametrize(
    ("others", "busy"), [(None, False), (0.3, False), (0.5, True), (1.4, True)]
)
def test_other_programs_keeping_half_a_cpu_busy_make_a_result_busy(others, busy):
    quiet = sampled([1e-3 * s for s in SPREAD], name="eager")
    found = Timing(
        "loaded",
        0.1,
        tuple(1e-3 * s for s in SPREAD),
        20,
        2,
        Conditions(1, 2, (0.5, 0.5, 0.5), "perf_counter", others=others),
    )
    assert found.busy is busy
    text = timing.compare(quiet, found).describe()
    assert (f"other programs kept {others or 0:.2f} CPUs busy" in text) is busy


def test_the_thread_reading_uses_what_other_programs_kept_busy_where_measured():
    one, two = sweep(load=(1.33, 1.0, 1.0), one_cpu=1.1, two_cpu=1.0, factors=(1.3, 1.0))
    two = {
        n: dataclasses.replace(t, conditions=dataclasses.replace(t.conditions, others=1.3))
        for n, t in two.items()
    }
    text = timing.second_thread(one, two)
    assert "other programs kept up to 1.30 CPUs busy" in text and "leaving it 0.70 of 2" in text
    assert "(oversubscription)" in text and "left too little CPU" in text


def test_busy_now_reads_the_machine_by_the_same_rules(monkeypatch):
    monkeypatch.setattr(timing, "probe", lambda seconds=0.2: (0.97, 0.1))
    monkeypatch.setattr(timing, "load_average", lambda: (0.4, 0.4, 0.4))
    assert timing.busy_now() == (False, "a CPU 97% of the time, other programs 0.10 CPUs")
    monkeypatch.setattr(timing, "probe", lambda seconds=0.2: (0.6, None))
    assert timing.busy_now() == (True, "a CPU 60% of the time")
    monkeypatch.setattr(timing, "probe", lambda seconds=0.2: (0.97, 0.5))
    assert timing.busy_now()[0]


def test_a_loss_measured_separately_names_no_cause_and_one_at_the_largest_batch_is_flagged():
    """One and two threads from separate processes: the data cannot say why two threads lost,
    and a loss at the largest batch contradicts what the lesson expects, whatever the cause."""
    one, two = sweep(load=(0.9, 1.0, 1.0), one_cpu=1.0, two_cpu=1.5, factors=(1.0, 1.6))
    two = {n: dataclasses.replace(t, measurement="another") for n, t in two.items()}
    text = timing.second_thread(one, two)
    assert "batch 1024 slower (1.60×)" in text
    assert "Two threads lost at batch 1024; measured separately, this data cannot say why." in text
    assert "handing work" not in text and "oversubscription" not in text
    assert "At batch 1024, the largest here, that contradicts the expectation" in text
    assert "measured separately, not interleaved" in text


def test_a_paired_loss_with_a_free_cpu_names_the_hand_off_and_flags_the_largest_batch():
    one, two = sweep(load=(0.9, 1.0, 1.0), one_cpu=1.0, two_cpu=1.5, factors=(1.0, 1.6))
    text = timing.second_thread(one, two)
    assert (
        "with a CPU free for the second, measured side by side: with no wait for a CPU and no "
        in text
    )
    assert "the likely cause is that handing work to a thread cost more" in text
    assert "contradicts the expectation" in text and "not interleaved" not in text
    assert "hardly ran" not in text


def test_a_second_thread_that_hardly_ran_is_named_where_it_did_not_help():
    one, two = sweep(load=(0.9, 1.0, 1.0), one_cpu=1.0, two_cpu=1.03, factors=(1.0, 1.0))
    text = timing.second_thread(one, two)
    assert "the process kept only 1.03-1.03 CPUs busy at batch 64, 1024: the second" in text
    assert "did not help even at batch 1024 (1.00×): the second thread hardly ran" in text
    crowded = sweep(load=(3.0, 1.0, 1.0), one_cpu=1.0, two_cpu=1.03, factors=(1.0, 1.0))
    assert "left too little CPU" in timing.second_thread(*crowded)


def test_a_load_below_the_process_own_cpus_is_said_to_lag_not_to_contain_them():
    one, two = sweep(load=(0.7, 1.0, 1.0), one_cpu=1.9, two_cpu=1.9, factors=(1.0, 0.7))
    text = timing.second_thread(one, two)
    assert "of which" not in text
    assert "load 0.70 on 2 CPUs, below the 1.90 CPUs this process alone kept busy" in text
    assert "other programs left it 2.00 CPUs" in text


def test_a_one_thread_step_beside_more_threads_is_judged_on_its_own_thread():
    """After two-thread work, OpenMP's idle workers spin-wait: the process is on two CPUs during
    a one-thread step. Its waiting is read from its own thread's CPU time, not the process's."""
    found = timing.measure(
        {"one": lambda: timing.burn(1e-3), "two": lambda: timing.burn(1e-3)},
        threads={"one": 1, "two": 2},
        rounds=3,
        steps=2,
        warmup=0,
    )
    assert found["one"].judged_on_thread and not found["two"].judged_on_thread
    assert found["one"].thread_cpu_per_step is not None
    assert min(found["one"].thread_cpu_per_step) >= 1e-3
    assert Timing.from_dict(json.loads(json.dumps(found["one"].to_dict()))) == found["one"]
    assert timing.table(found.values()).splitlines()[0].split()[-3:] == ["CPU", "thread", "load"]
    alone = timing.measure({"one": lambda: None}, threads=1, rounds=2, steps=2, warmup=0)["one"]
    assert not alone.judged_on_thread
    assert timing.table([alone]).splitlines()[0].split()[-3:] == ["on", "CPU", "load"]
    spinning = sampled([1e-3] * 9, cpu=[2.1e-3] * 9)  # the process: two CPUs; the thread: 60%
    spinning = dataclasses.replace(
        spinning, thread_cpu_per_step=(0.6e-3,) * 9, judged_on_thread=True
    )
    assert spinning.on_cpu == pytest.approx(2.1) and spinning.on_thread == pytest.approx(0.6)
    assert spinning.waited and spinning.busy
    assert not dataclasses.replace(spinning, judged_on_thread=False).waited
    quiet = sampled([1e-3] * 9, cpu=[1e-3] * 9)
    assert "the step had a CPU 60% of the time" in timing.compare(quiet, spinning).describe()


def test_one_thread_rows_kept_above_one_cpu_by_spinning_workers_are_explained():
    one, two = sweep(load=(0.7, 1.0, 1.0), one_cpu=2.1, two_cpu=1.9, factors=(1.0, 0.7))
    one = {
        n: dataclasses.replace(t, thread_cpu_per_step=t.per_step, judged_on_thread=True)
        for n, t in one.items()
    }
    text = timing.second_thread(one, two)
    assert "on CPU above 1 (up to 2.10) counts the process's other threads" in text
    assert "the step had a CPU only" not in text  # the thread itself ran throughout


def test_a_win_with_a_second_thread_that_hardly_ran_is_not_credited_to_it():
    one, two = sweep(load=(0.9, 1.0, 1.0), one_cpu=1.0, two_cpu=1.0, factors=(0.5, 0.8))
    two = {n: dataclasses.replace(t, measurement="another") for n, t in two.items()}
    text = timing.second_thread(one, two)
    assert "batch 64 faster (0.50×), batch 1024 faster (0.80×)" in text
    assert "Two threads won at batch 64, 1024 although the second hardly ran" in text
    assert "not the second thread's but the moment's, or the process's, each ran in." in text
    busy_second = sweep(load=(0.9, 1.0, 1.0), one_cpu=1.0, two_cpu=1.8, factors=(0.5, 0.8))
    assert "won at" not in timing.second_thread(*busy_second)


def test_a_load_read_in_another_process_counts_only_that_process_own_cpus():
    """Two threads measured in a process of their own: the load read at its end holds that
    process's CPUs, not an average with this one's rows."""
    one, two = sweep(load=(0.7, 1.0, 1.0), one_cpu=1.0, two_cpu=1.6, factors=(1.0, 1.0))
    two = {n: dataclasses.replace(t, measurement="another") for n, t in two.items()}
    text = timing.second_thread(one, two)
    assert "below the 1.60 CPUs the two-thread process alone kept busy" in text
    assert "this process" not in text


# ----------------------------------------------------------------- readings of separate runs


@pytest.mark.parametrize(
    ("baseline", "earlier", "later", "reading"),
    [
        (300, [290, 320], [310], "It lies within 10% of both: a fair baseline."),
        (
            249,
            [290, 295, 393],
            [255],
            "It is faster than every run before it by more than 10% "
            "but agrees with those after: the step ran faster from here on",
        ),
        (
            300,
            [290, 320],
            [400],
            "It agrees with the runs before it but is faster than those after by more than 10%",
        ),
        (500, [290, 320], [300], "It is slower than every other quiet run, before and after"),
        (
            400,
            [300, 310],
            [500],
            "It is slower than the runs before it and faster than those "
            "after: this step kept getting slower through the notebook",
        ),
    ],
)
def test_a_baseline_is_read_in_its_direction_against_runs_before_and_after(
    baseline, earlier, later, reading
):
    text = timing.baseline_reading(
        baseline * 1e-6, earlier=[t * 1e-6 for t in earlier], later=[t * 1e-6 for t in later]
    )
    assert text.startswith(f"The baseline took {baseline} µs; this step's other quiet runs took ")
    assert reading in text
    assert "another program" not in text and "clock frequency" not in text  # no cause guessed


def test_a_baseline_lists_the_runs_it_is_read_against_and_needs_both_sides():
    text = timing.baseline_reading(249e-6, earlier=[290e-6, 295e-6, 393e-6], later=[255e-6])
    assert "took 290 µs, 295 µs and 393 µs before it and 255 µs after it." in text
    with pytest.raises(ValueError, match="one after"):
        timing.baseline_reading(1e-3, earlier=[1e-3], later=[])


@pytest.mark.parametrize(
    ("profiled", "reading"),
    [
        (1.2e-3, "above it, so the profiler's own cost shows"),  # under the slowest block
        (1.1e-3, "not above it, so the profiler's cost did not show beyond this step's noise"),
        (0.9e-3, "below even the lower fence, q25 - 1.5 IQR (915 µs): the step ran faster"),
    ],
)
def test_a_profiled_step_is_read_against_the_unprofiled_blocks_fence(profiled, reading):
    """Blocks 0.95-1.30 ms, one of them disturbed: quartiles 0.99 and 1.04 ms, so the upper
    fence is 1.115 ms, and 1.2 ms shows the profiler's cost though the slowest block is slower."""
    unprofiled = sampled([1e-3 * s for s in SPREAD])
    text = timing.profiler_cost(profiled, unprofiled)
    assert text.startswith(f"{timing.seconds(profiled)} per step under the profiler, ")
    assert f"{profiled / unprofiled.median:.2f}× the unprofiled median 1.01 ms" in text
    assert (
        f"upper fence (q75 + 1.5 IQR, the usual bound for an outlier) is {timing.seconds(1.115e-3)}: "
        in text
    )
    assert reading in text


def test_timers_that_took_turns_differ_only_beyond_one_timer_own_runs():
    agree = {"a": [1.00, 1.02, 0.98], "b": [1.05, 1.03, 1.06]}
    assert "within 10%, the timers agree." in timing.agreement(agree)
    moment = {"a": [1.0, 1.6, 1.1], "b": [1.5, 1.2, 1.3], "c": [1.4, 1.0, 1.7]}
    text = timing.agreement(moment)
    assert "lie 1.27× apart, one timer's own runs up to 1.70×" in text
    assert "the gap is the moment, not the timer." in text
    differ = {"timeit": [0.60, 0.62, 0.61], "time_step": [1.00, 1.02, 0.99]}
    text = timing.agreement(differ, busy=True)
    assert "the timers differ here (timeit lowest, time_step highest)" in text
    assert text.endswith("on a busy machine, not comparable with times taken elsewhere.")
