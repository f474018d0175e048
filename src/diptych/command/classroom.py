"""``diptych class PATH…``: every learner's exercise notebooks checked as ``diptych check`` checks
one, and the class's progress in one table, for an instructor during a workshop.

Each notebook (found by ``diptych.command.roster``) is read, then run as ``diptych check`` runs
it (``verdicts.run_checks``: a clean copy, in a scratch folder, the learner's file only read),
``jobs`` at a time, each within a time limit for the whole notebook. A notebook that cannot be
read, is not an exercise notebook, needs a framework not installed here, or stops (the time
limit, a dead kernel) is one row saying so in a fixed phrase, never a crash. A notebook that is
byte for byte as the curriculum hands it out (``exercises/``, line endings aside) is not run: on a
hub every learner holds every lesson's exercises (``diptych.command.handout``), and a run would
only say "not attempted" of each, at a kernel's cost. The table
(``diptych.command.class_table``) holds fixed words and mistakes' short names
(``diptych.command.mistakes``), never a check's message, which may quote the learner's code.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diptych import __version__
from diptych.checks import Exercise
from diptych.command import class_table, exit_status
from diptych.command.class_table import Cell, Column, Row, Table
from diptych.command.execution import NotebookError, read_notebook
from diptych.command.files import validate_output_file, write_atomic
from diptych.command.mistakes import short_name
from diptych.command.registry import FRAMEWORK_NAMES, CurriculumError, framework_of, locate
from diptych.command.roster import Submission, discover, pseudonyms, shareable_name
from diptych.command.runner import in_parallel, thread_share
from diptych.command.verdicts import Verdict, lesson_checks, run_checks
from diptych.optional import TRACKS, is_installed
from diptych.outcomes import Status

#: what a row says of a notebook ``execution.read_notebook`` refuses, by the start of its reason
UNUSABLE = (
    ("no such notebook", "gone before it was read"),
    ("a folder", "not a notebook file"),
    ("not a regular file", "not a notebook file"),
    ("cannot be read", "cannot be read"),
    ("written in", "not a Python notebook"),
)
NOT_A_NOTEBOOK = "not a valid notebook"
NOT_EXERCISES = "not an exercise notebook"
TIMED_OUT, KERNEL_DIED, STOPPED = "timed out", "the kernel died", "the run stopped"
#: a terminal's table wraps labels longer than this onto more lines
WRAP = 16
#: a cell's words and kind for each status but failed, whose words are the mistake's short name
_CELLS = {
    Status.PASSED: Cell(class_table.PASSED, "passed"),
    Status.NOT_DONE: Cell(class_table.NOT_ATTEMPTED, "not-done"),
    Status.NOT_RUN: Cell(class_table.NOT_RUN, "not-run"),
    Status.NOT_CHECKED: Cell(class_table.NOT_CHECKED, "not-checked"),
}


@dataclass
class Checked:
    """One submission: the exercises its lesson has, their verdicts, and a problem if any."""

    submission: Submission
    expected: list[Exercise] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    problem: str = ""
    notebook: Any = None  # the notebook as read, while it waits for its run
    seconds: float = 0.0


def check_class(
    paths: list[Path],
    *,
    jobs: int,
    timeout: float,
    progress: bool,
    anonymise: bool = False,
    csv_path: Path | None = None,
    html_path: Path | None = None,
) -> int:
    """Check every learner's notebook under ``paths`` and report; 0 only when every notebook
    was checked and every exercise passed."""
    for path, option in ((csv_path, "--csv"), (html_path, "--html")):
        if path is not None:
            validate_output_file(path, option)
    submissions = discover(paths)
    names = (
        pseudonyms(s.learner for s in submissions)
        if anonymise
        else {s.learner: s.learner for s in submissions}
    )
    learners = len(set(names.values()))
    print(
        f"Checking {len(submissions)} notebook(s) of {learners} learner(s), {jobs} at a time "
        f"(each within {timeout:g} s)",
        flush=True,
    )
    started = time.perf_counter()
    stubs = handed_out()
    checked = run_all(
        [prepare(s, stubs) for s in submissions],
        jobs=jobs,
        timeout=timeout,
        progress=progress,
        names=names,
    )
    table = build_table(checked, names=names, anonymise=anonymise)
    seconds = time.perf_counter() - started
    table = Table(table.columns, table.rows, f"{table.summary} ({seconds:.0f} s)")
    print(class_table.text(table, wrap=WRAP if sys.stdout.isatty() else None))
    if csv_path is not None:
        _write(csv_path, class_table.csv_text(table))
    if html_path is not None:
        written = f"Written by diptych {__version__}, {time.strftime('%Y-%m-%d %H:%M')}"
        _write(html_path, class_table.html_page(table, title="Class progress", written=written))
    failed = any(row.problem or row.passed < row.total for row in table.rows)
    return exit_status.of(failed)


def _write(path: Path, text: str) -> None:
    """Write a result whole or not at all (a browser may be showing the page being replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def handed_out() -> dict[str, set[bytes]]:
    """The curriculum's exercise notebooks as handed out, by file name (line endings aside);
    none where no curriculum is found."""
    try:
        folder = locate().root / "exercises"
    except CurriculumError:
        return {}
    stubs: dict[str, set[bytes]] = {}
    for stub in folder.glob("*/exercises_*.ipynb"):
        try:
            stubs.setdefault(stub.name, set()).add(_unix(stub.read_bytes()))
        except OSError:
            continue
    return stubs


def _unix(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def prepare(submission: Submission, stubs: dict[str, set[bytes]] | None = None) -> Checked:
    """Read a submission and decide whether it can run; a problem otherwise, in fixed words. One
    of ``stubs`` (``handed_out``), unchanged, is every exercise not attempted, without a run."""
    path = submission.path
    try:
        notebook = read_notebook(path)
    except NotebookError as error:
        return Checked(submission, problem=unusable(str(error), path))
    expected = lesson_checks(notebook, path)
    if not expected:
        return Checked(submission, problem=NOT_EXERCISES)
    framework = framework_of(path)
    if framework is not None and not is_installed(TRACKS[framework]):
        return Checked(submission, expected, problem=f"{FRAMEWORK_NAMES[framework]} not installed")
    if _untouched(path, stubs or {}):
        not_done = [Verdict(e.heading, Status.NOT_DONE, "") for e in expected]
        return Checked(submission, expected, verdicts=not_done)
    return Checked(submission, expected, notebook=notebook)


def _untouched(path: Path, stubs: dict[str, set[bytes]]) -> bool:
    if path.name not in stubs:
        return False
    try:
        return _unix(path.read_bytes()) in stubs[path.name]
    except OSError:  # gone since it was read: let the run say so
        return False


def unusable(message: str, path: Path) -> str:
    """Why ``read_notebook`` refused a notebook, in fixed words: its message names the path
    (a folder may name a person) and may quote the file."""
    reason = message.removeprefix(f"{path}: ")
    return next((words for start, words in UNUSABLE if reason.startswith(start)), NOT_A_NOTEBOOK)


def run_all(
    prepared: list[Checked],
    *,
    jobs: int,
    timeout: float,
    progress: bool,
    names: dict[str, str],
) -> list[Checked]:
    """Run the notebooks that can run, ``jobs`` at a time, with a progress bar by cells."""
    runnable = [item for item in prepared if item.notebook is not None]
    threads = thread_share(jobs)

    def one(item: Checked, tick: Callable[[], None]) -> None:
        try:
            execution, item.verdicts = run_checks(
                item.notebook,
                item.submission.path,
                item.expected,
                timeout=None,
                budget=timeout,
                on_cell=tick,
                env=threads,
            )
        except NotebookError as error:  # its copy could not be read back
            item.problem = unusable(str(error), item.submission.path)
        else:
            item.seconds = execution.seconds
            item.problem = stopped(execution.error)
        finally:
            item.notebook = None

    in_parallel(
        runnable,
        one,
        jobs=jobs,
        cells=sum(c.cell_type == "code" for item in runnable for c in item.notebook.cells),
        desc="diptych class",
        progress=progress,
        label=lambda item: names[item.submission.learner],
    )
    return prepared


def stopped(error: str | None) -> str:
    """Why a run stopped, in fixed words (``execute``'s description quotes the cell's code)."""
    if error is None:
        return ""
    if "ran longer than" in error:
        return TIMED_OUT
    if "kernel died" in error:
        return KERNEL_DIED
    return STOPPED


def build_table(checked: list[Checked], *, names: dict[str, str], anonymise: bool) -> Table:
    """One row per notebook, one column per exercise of every lesson met, in lesson order."""
    lessons: dict[str, list[Exercise]] = {}
    for item in checked:
        if item.expected:
            lessons.setdefault(item.expected[0].module, item.expected)
    order = sorted(lessons, key=lambda module: (_lesson_number(module, checked), module))
    columns = [Column(key(e), e.heading) for module in order for e in lessons[module]]
    rows = []
    for item in checked:
        cells = {key(e): cell(v) for e, v in zip(item.expected, item.verdicts, strict=False)}
        rows.append(
            Row(
                learner=names[item.submission.learner],
                notebook=shareable_name(item.submission) if anonymise else item.submission.notebook,
                cells=cells,
                passed=sum(v.status == Status.PASSED for v in item.verdicts),
                total=len(item.expected) if item.verdicts else 0,
                problem=item.problem,
            )
        )
    return Table(columns, rows, summary(rows, learners=len(set(names.values()))))


def key(exercise: Exercise) -> str:
    """An exercise's column: its lesson's check module and its number, "tensors 1"."""
    return f"{exercise.module} {exercise.number}"


def cell(verdict: Verdict) -> Cell:
    """A verdict in the table's words: a fixed phrase, or the mistake's short name."""
    if verdict.status == Status.FAILED:
        return Cell(short_name(verdict.message), "failed")
    return _CELLS[verdict.status]


def _lesson_number(module: str, checked: list[Checked]) -> int:
    """The lesson's number from a folder ``NN_<module>`` above one of its notebooks (nbgrader's
    assignment, the curriculum's exercises folder), else 100: such lessons come last."""
    folder = re.compile(rf"(\d+)_{re.escape(module)}")
    for item in checked:
        if item.expected and item.expected[0].module == module:
            for part in item.submission.path.parent.parts:
                found = folder.fullmatch(part)
                if found:
                    return int(found.group(1))
    return 100


def summary(rows: list[Row], *, learners: int) -> str:
    """One line: learners, notebooks, exercises passed, notebooks that could not be checked."""
    passed, total = sum(r.passed for r in rows), sum(r.total for r in rows)
    problems = sum(bool(r.problem) for r in rows)
    return (
        f"{learners} learner(s), {len(rows)} notebook(s): {passed} of {total} exercises passed"
        + (f"; {problems} notebook(s) with an error" if problems else "")
    )
