"""The ``diptych`` command: run the curriculum, diagnose a machine, build and check exercises.

Exit status (``diptych.command.exit_status``): 0 success; 1 the work ran and found a failure; 2 bad usage
or unusable input (unknown lesson, missing notebook, an output path that cannot be written, a
framework not installed); 130 Ctrl-C and 143 SIGTERM, with every kernel stopped and its files
removed. Errors are one line, never a traceback, and every argument and output path is checked
before the first notebook starts.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from diptych import __version__
from diptych.command import exit_status
from diptych.command.arguments import positive_int
from diptych.command.exit_status import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, after_signal
from diptych.command.interrupts import Interrupted, honoured
from diptych.configurations import CONFIGURATIONS, DEFAULT, IMITATIONS
from diptych.frameworks import FRAMEWORKS, KEYS, listed

if TYPE_CHECKING:
    from diptych.command.registry import Curriculum
    from diptych.command.report import LessonReport

#: the longest per-cell timeout accepted (a day): longer ones overflow the timers underneath
MAX_TIMEOUT = 86400.0


class _Parser(argparse.ArgumentParser):
    """argparse without abbreviations (``--save`` must not quietly mean ``--save-outputs``), and
    with its errors in one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="diptych",
        description="Deep learning taught twice, side by side: "
        + listed([framework.name for framework in FRAMEWORKS])
        + ".",
    )
    parser.add_argument("--version", action="version", version=f"diptych {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="the lessons, their notebooks and expected run times")
    commands.add_parser("doctor", help="can this machine run the curriculum? what to fix")

    run = commands.add_parser("run", help="execute lessons and compare the frameworks' values")
    run.add_argument(
        "lessons", nargs="*", metavar="LESSON", help="e.g. 04_mlp, 04 or mlp (default: all)"
    )
    run.add_argument(
        "--framework",
        action="append",
        choices=KEYS,
        help="run this framework only; repeat it to run several (default: every one)",
    )
    run.add_argument(
        "--solutions", action="store_true", help="run solutions/ instead of notebooks/"
    )
    run.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    run.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="also draw every recorded curve of the frameworks, overlaid, as PNG files in DIR",
    )
    run.add_argument(
        "--timeout", type=_seconds, default=600, metavar="SECONDS", help="per cell (default 600)"
    )
    _add_jobs(run)
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
        "frameworks not run here (e.g. a GPU run of one framework against a CPU run of all)",
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
        "--verify", action="store_true", help="only report notebooks out of sync (exit 1)"
    )
    # the option's name before "check" came to mean an exercise's self-check only; kept, unlisted,
    # so that instructors' scripts and CI jobs written for it keep working
    build.add_argument("--check", dest="verify", action="store_true", help=argparse.SUPPRESS)
    build.add_argument(
        "--force", action="store_true", help="overwrite edited exercises, keeping a backup"
    )

    site = commands.add_parser(
        "site", help="build the curriculum as a static website, the frameworks side by side"
    )
    site.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to put the site (default: build/site in the curriculum)",
    )
    site.add_argument(
        "--results",
        type=Path,
        metavar="JSON",
        help="show the parity tables a run measured ('diptych run --json'), with the headroom",
    )
    site.add_argument("--open", action="store_true", help="open the site in a web browser")
    site.add_argument("--no-progress", action="store_true", help="no progress bar")
    from diptych.command.bench import add_parser as add_bench

    add_bench(commands)

    check = commands.add_parser("check", help="run an exercise notebook and report each exercise")
    check.add_argument("path", type=Path, metavar="PATH", help="an exercise (or solution) notebook")
    check.add_argument(
        "--timeout", type=_seconds, default=120, metavar="SECONDS", help="per cell (default 120)"
    )

    klass = commands.add_parser(
        "class",
        help="check a class's exercise notebooks and show its progress in one table",
        description="Runs every learner's exercise notebook as 'diptych check' does (on a copy; "
        "the files are only read) and prints one row per notebook, one column per exercise: "
        "passed, the short name of the mistake its check named, not attempted, not checked, not "
        "run, or an error for the notebook. Neither the table nor --csv/--html ever holds a "
        "check's message or a learner's code. Exit 0 only when every exercise passed.",
    )
    klass.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="nbgrader's submitted/ folder (or the course folder holding it), a folder of "
        "learners' folders (home folders: their exercises_*.ipynb, solutions/ left out), or "
        "notebook files (each its own learner, named by the file)",
    )
    _add_jobs(klass)
    klass.add_argument(
        "--timeout",
        type=_seconds,
        default=600,
        metavar="SECONDS",
        help="per notebook, all its cells together; starting its kernel does not count "
        "(default 600)",
    )
    klass.add_argument("--csv", type=Path, metavar="PATH", help="also write the table as CSV")
    klass.add_argument(
        "--html", type=Path, metavar="PATH", help="also write the table as a static HTML page"
    )
    klass.add_argument(
        "--anonymise",
        action="store_true",
        help="show 'learner 1'...'learner N' (in the names' sorted order: stable within one "
        "run, not across runs where learners come or go; the mapping is not kept), in the table, "
        "the files and the progress bar, and show a notebook's file name only where it is the "
        "name diptych gave it. Errors in rows never name a file or folder anyway. Not hidden: "
        "the PATHs you type, in an error about them, and the alphabetical order of the names",
    )
    klass.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _add_jobs(parser: argparse.ArgumentParser) -> None:
    """``--jobs``, the same for every subcommand that runs notebooks side by side."""
    parser.add_argument(
        "--jobs",
        "-j",
        type=positive_int,
        default=min(4, os.cpu_count() or 1),
        metavar="N",
        help="notebooks run at once, each in its own kernel (default: the CPU count, at most 4)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    if value > MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"at most {MAX_TIMEOUT:g} seconds (a day), got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diptych`` console script; returns the exit status."""
    try:
        with honoured():
            return _main(argv)
    except Interrupted as stop:
        how = "" if stop.signum == signal.SIGINT else f" ({signal.Signals(stop.signum).name})"
        print(f"diptych: interrupted{how}", file=sys.stderr)
        return stop.exit_status
    except KeyboardInterrupt:
        print("diptych: interrupted", file=sys.stderr)
        return after_signal(signal.SIGINT)
    except BrokenPipeError:  # `diptych list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own recipe
        return EXIT_FAILED


def _main(argv: list[str] | None) -> int:
    from diptych.command.execution import NotebookError
    from diptych.command.files import OutputError
    from diptych.command.registry import CurriculumError
    from diptych.command.site import SiteError
    from diptych.optional import MissingFrameworkError

    args = build_parser().parse_args(argv)
    handlers = {
        "list": _list,
        "doctor": _doctor,
        "run": _run,
        "exercises": _exercises,
        "check": _check,
        "class": _class,
        "site": _site,
        "bench": _bench,
    }
    try:
        return handlers[args.command](args)
    except (
        UsageError,
        CurriculumError,
        NotebookError,
        MissingFrameworkError,
        OutputError,
        SiteError,
    ) as error:
        return _error(str(error))
    except BrokenPipeError:
        raise
    except OSError as error:  # a file that changed under us after it was checked
        where = f"{error.filename}: " if error.filename else ""
        return _error(f"{where}{error.strerror or error}")


def _error(message: str) -> int:
    print(f"diptych: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _curriculum() -> Curriculum:
    """The curriculum to use; named on stderr when it is not the one the person is in."""
    from diptych.command.registry import locate

    found = locate()
    if not found.chosen:
        print(
            f"diptych: no curriculum in {Path.cwd()} or above; using {found.root}, "
            "the checkout diptych runs from",
            file=sys.stderr,
        )
    return found


def _curriculum_to_write(what: str) -> Curriculum:
    """The curriculum, when ``what`` is about to write into it: only one the person chose."""
    from diptych.command.registry import ROOT_ENV, locate

    found = locate()
    if not found.chosen:
        raise UsageError(
            f"{what} writes into the curriculum, and there is none in {Path.cwd()} or above "
            f"(the checkout diptych runs from is {found.root}): run it there, or set "
            f"{ROOT_ENV}={found.root}"
        )
    return found


def _list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from diptych.command.registry import FRAMEWORK_NAMES, lessons
    from diptych.command.sections import CORE_BUDGET_MINUTES

    root = _curriculum().root
    solutions = {lesson.name: lesson for lesson in lessons(root, "solutions")}
    rows = []
    for lesson in lessons(root):
        meta = next(filter(None, map(lesson.metadata, lesson.notebooks)), {})
        seconds = [lesson.metadata(fw).get("expected_seconds") for fw in lesson.notebooks]
        minutes = lesson.minutes(solutions.get(lesson.name))
        rows.append(
            [
                lesson.name,
                str(meta.get("title", "")),
                ", ".join(lesson.notebooks) or "none",
                " / ".join(f"~{s} s" if isinstance(s, (int, float)) else "?" for s in seconds)
                or "?",
                " / ".join(f"{m.core:.0f}" for m in minutes.values()) or "?",
                " / ".join(f"{m.deeper:.0f}" for m in minutes.values()) or "?",
                " / ".join(f"{m.exercises:.0f}" for m in minutes.values() if m.exercises) or "none",
            ]
        )
    frameworks = " / ".join(FRAMEWORK_NAMES[fw] for fw in KEYS)
    print(
        tabulate(
            rows,
            headers=[
                "lesson",
                "title",
                "notebooks",
                "run time",
                "core path min",
                "going deeper min",
                "exercises min",
            ],
        )
    )
    print(
        f"\nLearner minutes per notebook ({frameworks}): reading and running the core path "
        f"(prose words / 120 + code lines / 8, at most {CORE_BUDGET_MINUTES}), the collapsed "
        "going-deeper and Parity sections, and the exercises (an estimate).\n"
        f"Lessons in {root / 'notebooks'}, exercises in {root / 'exercises'}; open both with "
        f"'jupyter lab' started in {root} (links between them work from there)"
    )
    return EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    from diptych.command.doctor import Level, examine, render

    findings = examine()
    print(render(findings))
    return exit_status.of(any(f.level == Level.FAIL for f in findings))


def _run(args: argparse.Namespace) -> int:
    from diptych.command.execution import read_notebook
    from diptych.command.files import validate_output_file, validate_output_folder
    from diptych.command.registry import chosen_frameworks, lessons, select
    from diptych.command.report import matrix_table, read_baseline, table, to_json, write_json
    from diptych.command.runner import run_lessons
    from diptych.optional import require_tracks

    # everything is checked before the first kernel starts: a run can take many minutes
    frameworks = chosen_frameworks(args.framework)
    if args.save_outputs and (args.matrix or args.cpu or args.against):
        raise UsageError(
            "--save-outputs saves a plain run on this machine; drop --matrix/--cpu/--against"
        )
    if args.json:
        validate_output_file(args.json, "--json")
    if args.plots:
        validate_output_folder(args.plots, "--plots")
    require_tracks(frameworks, chosen=args.framework is not None)
    curriculum = _curriculum_to_write("--save-outputs") if args.save_outputs else _curriculum()
    kind = "solutions" if args.solutions else "notebooks"
    chosen = select(lessons(curriculum.root, kind), args.lessons)
    if not chosen:
        raise UsageError(f"no lessons found in {kind}/")
    for lesson in chosen:
        for fw in frameworks:
            if fw not in lesson.notebooks:
                raise UsageError(f"{lesson.name} has no {fw} notebook in {lesson.folder}")
            read_notebook(lesson.notebooks[fw])
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
        from diptych.command.report import write_plots

        written = write_plots([r for _, reports in results for r in reports], args.plots)
        print(f"{len(written)} overlay plot(s) in {args.plots}")
    return _summarise([report for _, reports in results for report in reports])


def _summarise(reports: list[LessonReport]) -> int:
    """The closing line: how many lessons passed (per configuration), and the exit status."""
    failed = [
        report.lesson + ("" if report.configuration == "default" else f" ({report.configuration})")
        for report in reports
        if not report.ok
    ]
    seconds = sum(
        run.seconds for r in reports for fw, run in r.runs.items() if fw not in r.from_baseline
    )
    print(
        f"{len(reports) - len(failed)} of {len(reports)} lessons ok "
        f"({seconds:.1f} s of notebook execution)"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return exit_status.of(bool(failed))


def _exercises(args: argparse.Namespace) -> int:
    from diptych.command.exercises import build

    if args.verify:
        return build(verify=True, root=_curriculum().root)
    curriculum = _curriculum_to_write("'diptych exercises build'")
    return build(force=args.force, root=curriculum.root)


def _check(args: argparse.Namespace) -> int:
    from diptych.command.execution import read_notebook
    from diptych.command.registry import framework_of
    from diptych.command.verdicts import check_notebook
    from diptych.optional import require_tracks

    read_notebook(args.path)
    framework = framework_of(args.path)
    if framework is not None:  # a missing framework would surface as a NameError in a cell
        require_tracks([framework], chosen=True)
    return check_notebook(args.path, timeout=args.timeout)


def _class(args: argparse.Namespace) -> int:
    from diptych.command.classroom import check_class

    return check_class(
        args.paths,
        jobs=args.jobs,
        timeout=args.timeout,
        progress=not args.no_progress and sys.stderr.isatty(),
        anonymise=args.anonymise,
        csv_path=args.csv,
        html_path=args.html,
    )


def _site(args: argparse.Namespace) -> int:
    from diptych.command.site import build, require_extra

    require_extra()
    if args.out is None:
        root = _curriculum_to_write("'diptych site' without --out").root
        out = root / "build" / "site"
    else:
        root, out = _curriculum().root, args.out
    built = build(
        root,
        out.resolve(),
        results=args.results,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    for line in built.warnings:
        print(line, file=sys.stderr)
    print(f"{built.pages} pages in {built.seconds:.1f} s: {built.index}")
    if args.open:
        import webbrowser

        webbrowser.open(built.index.as_uri())
    if built.warnings:
        print(f"diptych site: {len(built.warnings)} warning(s) from Sphinx, above", file=sys.stderr)
    return exit_status.of(bool(built.warnings))


def _bench(args: argparse.Namespace) -> int:
    from diptych.command.bench import bench

    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
