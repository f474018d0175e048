"""The ``diptych`` command: run the curriculum, check a machine, build and check exercises.

Exit status: 0 success; 1 the work ran and found a failure (a notebook failed, values disagree,
an exercise is not passed); 2 bad usage or unusable input (unknown lesson, missing notebook).
Errors are one clear message and a hint, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from diptych import __version__
from diptych.configurations import CONFIGURATIONS, DEFAULT, IMITATIONS

if TYPE_CHECKING:
    from diptych.report import LessonReport

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Input the command cannot use; reported in one line with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diptych",
        description="Deep learning taught twice, side by side: PyTorch and TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"diptych {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="the lessons, their notebooks and expected run times")
    commands.add_parser("doctor", help="can this machine run the curriculum? what to fix")

    run = commands.add_parser("run", help="execute lessons and compare both frameworks' values")
    run.add_argument(
        "lessons", nargs="*", metavar="LESSON", help="e.g. 04_mlp, 04 or mlp (default: all)"
    )
    run.add_argument(
        "--framework", choices=("pytorch", "tensorflow"), help="run one framework only"
    )
    run.add_argument(
        "--solutions", action="store_true", help="run solutions/ instead of notebooks/"
    )
    run.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    run.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="also draw every recorded curve of both frameworks, overlaid, as PNG files in DIR",
    )
    run.add_argument(
        "--timeout", type=_positive, default=600, metavar="SECONDS", help="per cell (default 600)"
    )
    run.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        default=min(4, os.cpu_count() or 1),
        metavar="N",
        help="notebooks run at once, each in its own kernel (default: the CPU count, at most 4)",
    )
    machines = run.add_mutually_exclusive_group()
    machines.add_argument(
        "--matrix",
        action="store_true",
        help="run under this machine's configuration and under every imitated other CPU "
        "(a check of a workshop laptop; see 'diptych run --help')",
    )
    machines.add_argument(
        "--cpu",
        choices=[config.name for config in IMITATIONS],
        help="run under one imitated other CPU instead of this machine's configuration",
    )
    run.add_argument(
        "--against",
        type=Path,
        metavar="JSON",
        help="compare with values another machine recorded ('diptych run --json') for the "
        "framework not run here (e.g. a GPU run of one framework against a CPU run of both)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--save-outputs",
        action="store_true",
        help="maintainers: write the executed notebooks back over the sources",
    )

    exercises = commands.add_parser("exercises", help="build exercises/ from solutions/")
    actions = exercises.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", help="write exercises/ from solutions/ (never over a learner's work)"
    )
    build.add_argument(
        "--check", action="store_true", help="only report notebooks out of sync (exit 1)"
    )
    build.add_argument(
        "--force", action="store_true", help="overwrite edited exercises, keeping a backup"
    )

    check = commands.add_parser("check", help="run an exercise notebook and report each exercise")
    check.add_argument("path", type=Path, metavar="PATH", help="an exercise (or solution) notebook")
    check.add_argument(
        "--timeout", type=_positive, default=120, metavar="SECONDS", help="per cell (default 120)"
    )
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diptych`` console script; returns the exit status."""
    from diptych.execution import NotebookError
    from diptych.optional import MissingFrameworkError
    from diptych.registry import CurriculumError

    args = build_parser().parse_args(argv)
    handlers = {
        "list": _list,
        "doctor": _doctor,
        "run": _run,
        "exercises": _exercises,
        "check": _check,
    }
    try:
        return handlers[args.command](args)
    except (UsageError, CurriculumError, NotebookError, MissingFrameworkError) as error:
        print(f"diptych: error: {error}", file=sys.stderr)
        print(
            "hint: 'diptych list' shows the lessons; 'diptych doctor' checks this machine",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("diptych: interrupted", file=sys.stderr)
        return 130


def _list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from diptych.registry import find_root, lessons

    root = find_root()
    rows = []
    for lesson in lessons(root):
        meta = lesson.metadata("pytorch") or lesson.metadata("tensorflow")
        solutions = root / "solutions" / lesson.name
        rows.append(
            [
                lesson.name,
                meta.get("title", ""),
                ", ".join(lesson.notebooks) or "none",
                f"~{meta['expected_seconds']} s" if "expected_seconds" in meta else "?",
                "yes" if solutions.is_dir() else "no",
            ]
        )
    print(tabulate(rows, headers=["lesson", "title", "notebooks", "run time", "exercises"]))
    print(f"\nNotebooks in {root / 'notebooks'}; open them with:  jupyter lab notebooks/")
    return EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    from diptych.doctor import examine, render

    findings = examine()
    print(render(findings))
    return EXIT_FAILED if any(f.level == "fail" for f in findings) else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from diptych.execution import read_notebook
    from diptych.registry import check_framework, find_root, lessons, select
    from diptych.report import matrix_table, read_baseline, table, to_json, write_json
    from diptych.runner import run_lessons

    frameworks = check_framework(args.framework)
    kind = "solutions" if args.solutions else "notebooks"
    chosen = select(lessons(find_root(), kind), args.lessons)
    if not chosen:
        raise UsageError(f"no lessons found in {kind}/")
    for lesson in chosen:
        for fw in frameworks:
            if fw not in lesson.notebooks:
                raise UsageError(f"{lesson.name} has no {fw} notebook in {lesson.folder}")
            read_notebook(lesson.notebooks[fw])  # fail early, before any kernel starts
    if args.save_outputs and (args.matrix or args.cpu or args.against):
        raise UsageError(
            "--save-outputs saves a plain run on this machine; drop --matrix/--cpu/--against"
        )
    configurations = (
        [DEFAULT, *IMITATIONS] if args.matrix else [CONFIGURATIONS[args.cpu or "default"]]
    )
    try:
        baseline = read_baseline(args.against) if args.against else None
    except ValueError as error:
        raise UsageError(str(error)) from None
    progress = not args.no_progress and sys.stderr.isatty()
    results = []
    for configuration in configurations:
        if configuration is not DEFAULT or len(configurations) > 1:
            print(f"== configuration {configuration.describe()}", end="\n\n")
        reports = run_lessons(
            chosen,
            frameworks,
            timeout=args.timeout,
            jobs=args.jobs,
            progress=progress,
            save_outputs=args.save_outputs,
            configuration=configuration,
            baseline=baseline,
        )
        results.append((configuration, reports))
        for report in reports:
            print(table(report), end="\n\n")
    if len(results) > 1:
        print(matrix_table(results), end="\n\n")
    if args.json:
        documents = [to_json(reports, configuration) for configuration, reports in results]
        write_json(documents[0] if len(documents) == 1 else {"matrix": documents}, args.json)
    if args.plots:
        from diptych.report import write_plots

        written = write_plots([r for _, reports in results for r in reports], args.plots)
        print(f"{len(written)} overlay plot(s) in {args.plots}")
    return _summarise([(config.name, report) for config, reports in results for report in reports])


def _summarise(outcomes: list[tuple[str, LessonReport]]) -> int:
    """The closing line: how many lessons passed (per configuration), and the exit status."""
    failed = [
        report.lesson + ("" if config == "default" else f" ({config})")
        for config, report in outcomes
        if not report.ok
    ]
    seconds = sum(
        run.seconds for _, r in outcomes for fw, run in r.runs.items() if fw not in r.from_baseline
    )
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} lessons ok "
        f"({seconds:.1f} s of notebook execution)"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return EXIT_FAILED if failed else EXIT_OK


def _exercises(args: argparse.Namespace) -> int:
    from diptych.exercises import build

    return build(check=args.check, force=args.force)


def _check(args: argparse.Namespace) -> int:
    from diptych.grading import check_notebook

    return check_notebook(args.path, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
