"""``diptych bench``: one training step of the same MLP in each installed framework, timed fairly
on this machine, as a table, a plot and JSON, so that an instructor can compare workshop laptops.

Each framework and thread count is measured in a process of its own (``diptych.benchmark``), one
process after another (two at once would slow each other), with the harness of
``diptych.timing``: the first call apart, warm-up, interleaved blocks, median and IQR, threads and
load recorded. Every path the command will write is checked before the first measurement.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diptych import benchmark, timing
from diptych.command import exit_status
from diptych.command.arguments import positive_int
from diptych.command.exit_status import UsageError
from diptych.frameworks import BY_KEY, KEYS, listed

DEFAULT_BATCH_SIZES = (16, 64, 256, 1024)
ALL_VARIANTS = tuple(dict.fromkeys(v for names in benchmark.VARIANTS.values() for v in names))


def _variant_help() -> str:
    """What ``--variants`` accepts, and what each is in each framework that has it:
    "eager (PyTorch: eager; TensorFlow: eager (GradientTape)), compiled (PyTorch: ...)"."""
    return ", ".join(
        f"{variant} ("
        + "; ".join(
            f"{BY_KEY[fw].name}: {benchmark.IDIOMS[fw, variant]}"
            for fw, names in benchmark.VARIANTS.items()
            if variant in names
        )
        + ")"
        for variant in ALL_VARIANTS
    )


def add_parser(commands: Any) -> None:
    """``diptych bench`` and its options, on the command's subparsers."""
    bench = commands.add_parser(
        "bench",
        help="time one training step of the same MLP in each installed framework on this machine",
        description="Times one SGD step of the 64-128-10 MLP on digits in every installed "
        "framework and variant, each framework in a fresh process with its threads set before "
        "its runtime starts; prints a table and writes a plot and JSON if asked.",
    )
    bench.add_argument(
        "--framework", choices=tuple(benchmark.VARIANTS), help="measure one framework only"
    )
    bench.add_argument(
        "--variants",
        type=_names,
        metavar="NAMES",
        help=f"comma-separated, of: {_variant_help()} (default: every one a framework has)",
    )
    bench.add_argument(
        "--batch-sizes",
        type=_positive_ints,
        default=DEFAULT_BATCH_SIZES,
        metavar="SIZES",
        help="comma-separated (default: 16,64,256,1024)",
    )
    bench.add_argument(
        "--threads",
        type=_positive_ints,
        default=(1,),
        metavar="COUNTS",
        help="comma-separated thread counts, each measured in its own process (default: 1)",
    )
    bench.add_argument(
        "--rounds", type=positive_int, default=15, metavar="R", help="blocks per variant (15)"
    )
    bench.add_argument(
        "--steps", type=positive_int, default=50, metavar="N", help="steps per block (50)"
    )
    bench.add_argument(
        "--configuration",
        choices=benchmark.CONFIGURATIONS,
        default="default",
        help="default: each framework as it ships (TensorFlow with oneDNN, no deterministic "
        "kernels); parity: the lessons' setup (deterministic kernels, TF32 and oneDNN off)",
    )
    bench.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    bench.add_argument(
        "--plot", type=Path, metavar="PATH", help="also draw step time against batch size (PNG)"
    )
    bench.add_argument(
        "--out", type=Path, metavar="DIR", help="write bench.json and bench.png into DIR"
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")


@dataclass(frozen=True)
class Plan:
    """What ``diptych bench`` will measure and where it will write, all checked."""

    settings: tuple[benchmark.Settings, ...]
    skipped: tuple[str, ...]  # one line per framework not measured, and why
    json_path: Path | None
    plot_path: Path | None


def plan(args: argparse.Namespace) -> Plan:
    """Check every option and output path before anything is measured (UsageError, OutputError,
    MissingFrameworkError), and list the measuring processes."""
    from diptych.command.files import validate_output_file, validate_output_folder
    from diptych.optional import TRACKS, is_installed, require_tracks

    json_path, plot_path = args.json, args.plot
    if args.out is not None:
        validate_output_folder(args.out, "--out")
        json_path = json_path or args.out / "bench.json"
        plot_path = plot_path or args.out / "bench.png"
    if plot_path is not None and plot_path.suffix.lower() != ".png":
        raise UsageError(f"--plot {plot_path}: the plot is a PNG image; name it *.png")
    for path, option in ((json_path, "--json"), (plot_path, "--plot")):
        if path is not None:
            validate_output_file(path, option)
    if args.framework:
        require_tracks([args.framework], chosen=True)
    chosen = [args.framework] if args.framework else list(KEYS)
    unmeasured = [fw for fw in chosen if fw not in benchmark.VARIANTS]
    installed = [fw for fw in chosen if fw in benchmark.VARIANTS and is_installed(TRACKS[fw])]
    skipped = [
        f"{BY_KEY[fw].name} has no benchmarked step (its row names no variants): not measured"
        for fw in unmeasured
    ] + [
        f"{BY_KEY[fw].name} is not installed here: not measured"
        for fw in chosen
        if fw not in installed and fw not in unmeasured
    ]
    if not installed:
        names = listed([BY_KEY[fw].name for fw in benchmark.VARIANTS])
        raise UsageError(f"none of {names} is installed here: nothing to measure")
    wanted = args.variants or ALL_VARIANTS
    settings = []
    for fw in installed:
        variants = tuple(v for v in benchmark.VARIANTS[fw] if v in wanted)
        if not variants:
            if args.framework:
                raise UsageError(
                    f"{BY_KEY[fw].name} has no variant {', '.join(wanted)}; its variants are "
                    f"{', '.join(benchmark.VARIANTS[fw])}"
                )
            skipped.append(f"{BY_KEY[fw].name} has none of the variants asked for: not measured")
            continue
        settings += [
            benchmark.Settings(
                fw,
                variants,
                batch_sizes=tuple(args.batch_sizes),
                threads=threads,
                rounds=args.rounds,
                steps=args.steps,
                configuration=getattr(args, "configuration", "default"),
            )
            for threads in args.threads
        ]
    if not settings:
        raise UsageError("no framework installed here has the variants asked for")
    return Plan(tuple(settings), tuple(skipped), json_path, plot_path)


def bench(args: argparse.Namespace) -> int:
    """Run ``diptych bench``; returns the exit status (1 if a measurement failed)."""
    from tqdm.auto import tqdm

    checked = plan(args)
    for line in checked.skipped:
        print(f"note: {line}")
    before = timing.load_average()
    progress = not args.no_progress and sys.stderr.isatty()
    results: list[benchmark.Result] = []
    failures: list[str] = []
    bar = tqdm(
        total=len(checked.settings), unit="process", desc="diptych bench", disable=not progress
    )
    try:
        for settings in checked.settings:
            bar.set_postfix_str(f"{BY_KEY[settings.framework].name}, {settings.threads} thread(s)")
            try:
                results += benchmark.run(settings)
            except benchmark.BenchmarkError as error:
                failures.append(str(error))
            bar.update(1)
    finally:
        bar.close()
    threads = sorted({s.threads for s in checked.settings})
    configuration = checked.settings[0].configuration
    print(header(before, results, configuration=configuration), end="\n\n")
    if results:
        print(table(results), end="\n\n")
    for note in sorted({note for result in results for note in result.notes}):
        print(f"note: {note}")
    for failure in failures:
        print(f"failed: {failure}")
    if checked.json_path is not None:
        write_json(checked.json_path, results, before=before, configuration=configuration)
        print(f"results in {checked.json_path}")
    if checked.plot_path is not None and results:
        write_plot(checked.plot_path, results, threads=threads)
        print(f"plot in {checked.plot_path}")
    return exit_status.of(bool(failures))


def header(
    before: tuple[float, float, float] | None,
    results: list[benchmark.Result],
    *,
    configuration: str = "default",
) -> str:
    """One line about the machine: CPUs, versions, the frameworks' configuration, and the load
    average before and after measuring, with a warning when it was at least the CPU count."""
    import os
    import platform

    def load(average: tuple[float, float, float] | None) -> str:
        return "unknown" if average is None else f"{average[0]:.2f}"

    versions = {
        f"{BY_KEY[r.framework].name} {r.version}": None for r in sorted(results, key=_order)
    }
    after = timing.load_average()
    cpus = os.cpu_count() or 1
    busy = any(average is not None and average[0] >= cpus for average in (before, after))
    return (
        f"diptych bench on {platform.machine() or 'this machine'} with {cpus} CPUs, "
        f"Python {platform.python_version()}"
        + "".join(f", {version}" for version in versions)
        + f"; {configuration} configuration"
        + f"; load average {load(before)} before, {load(after)} after"
        + (
            f" (at least {cpus}: a busy machine, whose times are slower, noisier and not "
            "comparable with a quiet machine's)"
            if busy
            else " (times taken under load are slower and noisier)"
        )
    )


def table(results: list[benchmark.Result]) -> str:
    """One row per framework, variant, thread count and batch size."""
    from tabulate import tabulate

    rows = [
        [
            r.label,
            r.timing.conditions.threads,
            r.batch_size,
            timing.seconds(r.timing.median),
            timing.seconds(r.timing.iqr),
            timing.seconds(r.timing.minimum),
            timing.seconds(r.timing.first_call),
            f"{r.batch_size / r.timing.median:,.0f}",
            _load(r.timing.conditions),
        ]
        for r in sorted(results, key=_order)
    ]
    headers = [
        "step",
        "threads",
        "batch",
        "median",
        "IQR",
        "min",
        "first call",
        "examples/s",
        "load",
    ]
    return tabulate(rows, headers=headers, disable_numparse=True)


def write_json(
    path: Path, results: list[benchmark.Result], *, before: Any, configuration: str = "default"
) -> None:
    import os
    import platform

    from diptych.command.files import write_atomic

    document = {
        "machine": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "system": platform.system(),
            "python": platform.python_version(),
            "load_average_before": before,
            "load_average_after": timing.load_average(),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "configuration": configuration,
        "step": f"one SGD step (lr {benchmark.LEARNING_RATE}) of the "
        f"{'-'.join(map(str, benchmark.SIZES))} MLP on digits, float32",
        "results": [r.to_dict() for r in sorted(results, key=_order)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(document, indent=1) + "\n")


def write_plot(path: Path, results: list[benchmark.Result], *, threads: list[int]) -> None:
    from diptych import plot
    from diptych.command.files import write_atomic

    series: dict[str, dict[int, timing.Timing]] = {}
    for r in sorted(results, key=_order):
        label = r.label if len(threads) == 1 else f"{r.label}, {r.timing.conditions.threads} thr."
        series.setdefault(label, {})[r.batch_size] = r.timing
    each = "1 thread" if threads == [1] else f"{', '.join(map(str, threads))} threads"
    figure = plot.step_times(series, title=f"One SGD step of the 64-128-10 MLP ({each})")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())


def _order(result: benchmark.Result) -> tuple[int, int, int, int]:
    variants = benchmark.VARIANTS[result.framework]
    return (
        KEYS.index(result.framework),
        variants.index(result.variant),
        result.timing.conditions.threads or 0,
        result.batch_size,
    )


def _load(conditions: timing.Conditions) -> str:
    return "?" if conditions.load_average is None else f"{conditions.load_average[0]:.2f}"


def _positive_ints(text: str) -> tuple[int, ...]:
    values = tuple(positive_int(part.strip()) for part in text.split(","))
    return tuple(dict.fromkeys(values))


def _names(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    unknown = [name for name in names if name not in ALL_VARIANTS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown variant {', '.join(map(repr, unknown))}; choose from {', '.join(ALL_VARIANTS)}"
        )
    return names
