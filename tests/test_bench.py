"""``diptych bench``: options and output paths checked before anything is measured, the table,
JSON and plot it writes, failures reported; the real measuring processes on a tiny configuration
(slow). No time a measurement takes is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diptych import benchmark, frameworks, timing
from diptych.command import bench
from diptych.command.cli import main

from helpers import REPO


def fake_run(settings: benchmark.Settings) -> list[benchmark.Result]:
    """What a measuring process would return, from a fake clock: no framework is started."""
    clock = timing.FakeClock()
    steps = {
        f"{variant} {size}": timing.KnownCost(step=size * 1e-6 * (i + 1), first=0.1, clock=clock)
        for i, variant in enumerate(settings.variants)
        for size in settings.batch_sizes
    }
    measured = timing.measure(
        steps, threads=settings.threads, rounds=settings.rounds, steps=settings.steps, clock=clock
    )
    results = []
    for key, measurement in measured.items():
        variant, size = key.split()
        results.append(
            benchmark.Result(settings.framework, variant, int(size), "cpu", "9.9", measurement)
        )
    return results


@pytest.fixture
def measured(monkeypatch):
    """Every measuring process replaced by fake_run; the settings each got are collected."""
    calls: list[benchmark.Settings] = []

    def run(settings):
        calls.append(settings)
        return fake_run(settings)

    monkeypatch.setattr(benchmark, "run", run)
    return calls


def test_both_frameworks_every_variant_a_table_json_and_a_plot(measured, tmp_path, capsys):
    code = main(
        [
            "bench",
            "--batch-sizes",
            "8,32",
            "--rounds",
            "3",
            "--steps",
            "2",
            "--out",
            str(tmp_path / "results"),
        ]
    )
    assert code == 0
    assert [(s.framework, s.variants, s.threads) for s in measured] == [
        ("pytorch", ("eager", "compiled"), 1),
        ("tensorflow", ("eager", "function", "xla"), 1),
    ]
    output = capsys.readouterr().out
    for label in (
        "PyTorch eager",
        "PyTorch torch.compile",
        "TensorFlow tf.function(jit_compile=True)",
    ):
        assert label in output
    assert "examples/s" in output and "load average" in output and "PyTorch 9.9" in output
    document = json.loads((tmp_path / "results/bench.json").read_text())
    assert len(document["results"]) == 5 * 2
    first = document["results"][0]
    assert first["label"] == "PyTorch eager" and first["batch_size"] == 8
    assert (
        first["timing"]["conditions"]["threads"] == 1
        and "load_average" in first["timing"]["conditions"]
    )
    assert benchmark.Result.from_dict(first).timing.median == pytest.approx(8e-6)
    assert (tmp_path / "results/bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_thread_count_is_its_own_process_and_variants_filter(measured, tmp_path, capsys):
    args = ["bench", "--variants", "eager", "--threads", "1,2", "--rounds", "2", "--steps", "1"]
    assert main([*args, "--plot", str(tmp_path / "p.png")]) == 0
    assert [(s.framework, s.variants, s.threads) for s in measured] == [
        ("pytorch", ("eager",), 1),
        ("pytorch", ("eager",), 2),
        ("tensorflow", ("eager",), 1),
        ("tensorflow", ("eager",), 2),
    ]
    assert (tmp_path / "p.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--json", "{folder}"], "that is a folder; give a file name"),
        (["--plot", "{folder}/plot.jpg"], "the plot is a PNG image; name it *.png"),
        (["--out", "{file}"], "that is a file, not a folder"),
        (["--plot", "{file}/plot.png"], "is a file, not a folder"),
        (["--framework", "pytorch", "--variants", "xla"], "PyTorch has no variant xla"),
    ],
)
def test_bad_input_is_refused_before_anything_is_measured(
    measured, tmp_path, capsys, args, message
):
    (tmp_path / "a-file").write_text("x")
    given = [a.format(folder=tmp_path, file=tmp_path / "a-file") for a in args]
    assert main(["bench", *given]) == 2
    assert message in capsys.readouterr().err
    assert measured == []


@pytest.mark.parametrize(
    "args",
    [
        ["--variants", "turbo"],
        ["--batch-sizes", "0"],
        ["--threads", "two"],
        ["--rounds", "-1"],
        ["--framework", "no-such-framework"],
    ],
)
def test_bad_options_are_usage_errors(measured, capsys, args):
    with pytest.raises(SystemExit) as stop:
        main(["bench", *args])
    assert stop.value.code == 2 and measured == []
    assert "error:" in capsys.readouterr().err


def test_a_framework_not_installed_is_noted_or_refused(measured, monkeypatch, capsys):
    from diptych import optional

    monkeypatch.setattr(optional, "is_installed", lambda module: module != "tensorflow")
    assert main(["bench", "--rounds", "1", "--steps", "1", "--batch-sizes", "4"]) == 0
    assert [s.framework for s in measured] == ["pytorch"]
    assert "note: TensorFlow is not installed here: not measured" in capsys.readouterr().out
    assert main(["bench", "--framework", "tensorflow"]) == 2
    assert "pip install -e '.[tensorflow]'" in capsys.readouterr().err


def test_a_framework_whose_row_names_no_variants_is_noted_and_not_measured(
    measured, monkeypatch, capsys
):
    """A framework added to the table without a benchmarked step (``Framework.variants`` empty):
    ``diptych bench`` says so and measures the others; ``--framework`` offers only the others."""
    row = frameworks.Framework("numpy", "NumPy", "numpy", "numpy_adapter", "#4c72b0")
    monkeypatch.setattr(bench, "KEYS", (*frameworks.KEYS, row.key))
    monkeypatch.setitem(bench.BY_KEY, row.key, row)
    assert main(["bench", "--rounds", "1", "--steps", "1", "--batch-sizes", "4"]) == 0
    assert [s.framework for s in measured] == list(benchmark.VARIANTS)
    note = "note: NumPy has no benchmarked step (its row names no variants): not measured"
    assert note in capsys.readouterr().out


def test_a_failed_measurement_is_reported_and_the_rest_kept(monkeypatch, tmp_path, capsys):
    def run(settings):
        if settings.framework == "tensorflow":
            raise benchmark.BenchmarkError("measuring tensorflow failed: RuntimeError: boom")
        return fake_run(settings)

    monkeypatch.setattr(benchmark, "run", run)
    code = main(["bench", "--rounds", "1", "--steps", "1", "--json", str(tmp_path / "r.json")])
    assert code == 1
    output = capsys.readouterr().out
    assert "failed: measuring tensorflow failed: RuntimeError: boom" in output
    assert "PyTorch eager" in output
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert {r["framework"] for r in results} == {"pytorch"}


def test_settings_refuse_what_a_framework_cannot_run():
    with pytest.raises(ValueError, match="tensorflow variants are"):
        benchmark.Settings("tensorflow", ("compiled",))
    with pytest.raises(ValueError, match="unknown framework"):
        benchmark.Settings("no-such-framework", ("eager",))
    with pytest.raises(ValueError, match="must be positive"):
        benchmark.Settings("pytorch", ("eager",), batch_sizes=(0,))
    with pytest.raises(ValueError, match="unknown configuration"):
        benchmark.Settings("pytorch", ("eager",), configuration="fast")


def test_the_configuration_reaches_every_process_the_header_and_the_json(
    measured, tmp_path, capsys
):
    args = ["bench", "--rounds", "1", "--steps", "1", "--batch-sizes", "4"]
    assert main([*args, "--json", str(tmp_path / "d.json")]) == 0
    assert {s.configuration for s in measured} == {"default"}
    assert "; default configuration;" in capsys.readouterr().out
    assert json.loads((tmp_path / "d.json").read_text())["configuration"] == "default"
    measured.clear()
    assert main([*args, "--configuration", "parity", "--json", str(tmp_path / "p.json")]) == 0
    assert {s.configuration for s in measured} == {"parity"}
    assert json.loads((tmp_path / "p.json").read_text())["configuration"] == "parity"


@pytest.mark.parametrize(("load", "busy"), [(1.99, False), (2.0, True), (5.5, True)])
def test_the_header_calls_a_load_of_at_least_the_cpu_count_busy(monkeypatch, load, busy):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(timing, "load_average", lambda: (load, 1.0, 1.0))
    text = bench.header((0.5, 0.5, 0.5), [])
    assert ("a busy machine" in text) is busy
    assert f"{load:.2f} after" in text


def test_a_measuring_process_gets_tensorflows_onednn_as_its_configuration_asks(monkeypatch):
    seen = []

    def fake(command, **options):
        seen.append(options["env"]["TF_ENABLE_ONEDNN_OPTS"])
        return subprocess.CompletedProcess(command, 0, stdout="[]", stderr="")

    monkeypatch.setattr(subprocess, "run", fake)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    for configuration in ("default", "parity"):
        settings = benchmark.Settings("tensorflow", ("eager",), configuration=configuration)
        assert benchmark.run(settings) == []
    assert benchmark.run(benchmark.Settings("tensorflow", ("eager",), onednn=False)) == []
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # an imitated CPU: oneDNN stays off
    assert benchmark.run(benchmark.Settings("tensorflow", ("eager",))) == []
    assert seen == ["1", "0", "0", "0"]


def test_inductor_settings_keep_a_cache_per_instruction_set_and_respect_given_ones(
    monkeypatch, tmp_path
):
    for name in (
        "TORCHINDUCTOR_CACHE_DIR",
        "TORCHINDUCTOR_COMPILE_THREADS",
        "TORCHINDUCTOR_CPP_CACHE_PRECOMPILE_HEADERS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = benchmark.inductor_settings("AVX2")
    assert folder == tmp_path / ".cache" / "torchinductor" / "AVX2"
    assert os.environ["TORCHINDUCTOR_COMPILE_THREADS"] == "1"
    assert os.environ["TORCHINDUCTOR_CPP_CACHE_PRECOMPILE_HEADERS"] == "0"
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert benchmark.inductor_settings("AVX512") == tmp_path / "mine"


def test_tensorflow_as_shipped_turns_onednn_on_before_the_import_and_not_under_a_cap(monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert benchmark.tensorflow_as_shipped() is True
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    assert benchmark.tensorflow_as_shipped() is False
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"


def test_quiet_stderr_silences_file_descriptor_2_and_restores_it(capfd):
    with benchmark.quiet_stderr():
        os.write(2, b"from C++\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_slow_digits_is_a_dataset_whose_examples_cost_their_time(monkeypatch):
    import numpy as np

    slept = []
    monkeypatch.setattr(benchmark.time, "sleep", slept.append)
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    slow = benchmark.SlowDigits(X, y, cost=0.0)
    assert len(slow) == 6
    assert [int(v) for v in slow[4][0]] == [8, 9] and slow[4][1] == 4
    assert slept == []  # nothing to load: not even sleep(0), which costs tens of microseconds
    benchmark.SlowDigits(X, y, cost=2e-4)[0]
    assert slept == [2e-4]


@pytest.mark.parametrize(
    ("parallel", "reading"),
    [
        (
            0.400,
            "Ahead did not beat the plain epoch in this (single) run; it took 2.11× the "
            "larger part, the rest (190 ms).",
        ),
        (
            0.100,
            "Ahead beat the plain epoch in this (single) run, and came in under the loading "
            "cost itself: examples loaded side by side; it took 0.53× the larger part",
        ),
        (
            0.225,
            "Ahead beat the plain epoch in this (single) run, but not under the loading "
            "cost; it took 1.18× the larger part, the rest (190 ms).",
        ),
    ],
)
def test_an_epoch_loaded_in_parallel_is_read_against_the_plain_one_and_its_parts(parallel, reading):
    """The committed TensorFlow run's case among them: a parallel epoch that beat the plain one
    without coming under the loading cost, because the rest of the pipeline is the larger part."""
    found = benchmark.pipeline_reading(
        plain=0.369, parallel=parallel, loading=0.181, rest=0.190, label="Ahead"
    )
    assert reading in found
    busy = benchmark.pipeline_reading(
        plain=0.2, parallel=0.1, loading=0.18, rest=0.02, label="Workers", busy=True
    )
    assert busy.endswith(
        "the loading (180 ms): a busy machine, not comparable with times taken elsewhere."
    )


def test_the_table_orders_frameworks_variants_threads_and_sizes():
    settings = benchmark.Settings(
        "tensorflow", ("xla", "eager"), batch_sizes=(64, 8), rounds=1, steps=1
    )
    text = bench.table(fake_run(settings))
    rows = [line.split()[:3] for line in text.splitlines()[2:]]
    assert [row[1] for row in rows] == [
        "eager",
        "eager",
        "tf.function(jit_compile=True)",
        "tf.function(jit_compile=True)",
    ]


def bench_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diptych.command.cli", "bench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env={**os.environ, "DIPTYCH_ROOT": str(REPO)},
    )


TINY = ["--variants", "eager,function", "--batch-sizes", "4,8", "--rounds", "2", "--steps", "2"]


@pytest.mark.slow
def test_a_real_bench_of_both_frameworks_on_a_tiny_configuration(tmp_path):
    result = bench_process(*TINY, "--out", str(tmp_path), cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert "PyTorch eager" in result.stdout and "TensorFlow tf.function" in result.stdout
    document = json.loads((tmp_path / "bench.json").read_text())
    found = {(r["label"], r["batch_size"]) for r in document["results"]}
    assert found == {
        (label, size)
        for label in ("PyTorch eager", "TensorFlow eager (GradientTape)", "TensorFlow tf.function")
        for size in (4, 8)
    }
    for entry in document["results"]:
        conditions = entry["timing"]["conditions"]
        assert conditions["threads"] == 1 and conditions["cpus"] == os.cpu_count()
        assert len(entry["timing"]["per_step"]) == 2 and entry["timing"]["median"] > 0
    assert (tmp_path / "bench.png").stat().st_size > 0


@pytest.mark.slow
def test_a_measuring_process_that_fails_says_why_in_one_line():
    settings = benchmark.Settings(
        "pytorch", ("compiled",), batch_sizes=(4,), rounds=1, steps=1, compile_backend="nonesuch"
    )
    with pytest.raises(benchmark.BenchmarkError, match=r"measuring pytorch failed: .*nonesuch"):
        benchmark.run(settings)
