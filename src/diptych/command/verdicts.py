"""``diptych check PATH``: run a learner's exercise notebook headless and report each exercise.

The list of exercises comes from the lesson's check module (``diptych.checks.<slug>``), not from
the cells a learner may have deleted: an exercise whose check cell is gone or emptied is "not
checked" and fails the run. Verdicts are matched by exercise (each check records which it is),
never by a cell's position. The notebook runs on a copy with saved outputs and execution counts
cleared (nbclient; the learner's file is only read), going on past failing cells, so a check
cell that never ran reads "not run" rather than borrowing a count saved in the file.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diptych.checks import Exercise, exercises_of
from diptych.command import exit_status
from diptych.command.execution import Execution, NotebookError, execute, read_notebook
from diptych.outcomes import Outcome, Status

_CHECKS_IMPORT = re.compile(r"from\s+diptych\.checks\s+import\s+(\w+)")
_LESSON_FOLDER = re.compile(r"^\d\d_([a-z0-9_]+)$")


@dataclass(frozen=True)
class Verdict:
    exercise: str
    status: Status
    message: str


def lesson_checks(notebook: Any, path: Path) -> list[Exercise]:
    """The exercises of the notebook's lesson: from its check module's import, else its folder."""
    names = [m for cell in notebook.cells for m in _CHECKS_IMPORT.findall(cell.source)]
    folder = _LESSON_FOLDER.match(Path(path).resolve().parent.name)
    stem = Path(path).stem.rsplit("_", 1)[0]
    for name in [*names, *([folder.group(1)] if folder else []), stem]:
        found = exercises_of(name)
        if found:
            return found
    return []


def verdicts(executed: Any, outcomes: list[Outcome], expected: list[Exercise]) -> list[Verdict]:
    """One verdict per expected exercise, matched by the check that recorded it (the last run)."""
    recorded = {outcome.check: outcome for outcome in outcomes}
    return [
        _verdict(item, recorded.get(f"{item.module}.{item.check}"), executed) for item in expected
    ]


def _verdict(item: Exercise, outcome: Outcome | None, executed: Any) -> Verdict:
    if outcome is not None:
        return Verdict(item.heading, outcome.status, outcome.message)
    cells = [c for c in executed.cells if c.cell_type == "code" and _calls(c.source, item.check)]
    if not cells:
        return Verdict(
            item.heading,
            Status.NOT_CHECKED,
            f"its check cell (`checks.{item.check}(...)`) is missing or empty: restore it from "
            "a fresh copy of the exercise notebook",
        )
    cell = cells[-1]
    errors = [out for out in cell.outputs if out.output_type == "error"]
    if errors:
        error = errors[0]
        hint = (
            " (run the exercise cell above it: did it fail?)" if error.ename == "NameError" else ""
        )
        return Verdict(
            item.heading,
            Status.FAILED,
            f"the check could not run: {error.ename}: {error.evalue}{hint}",
        )
    if cell.execution_count is None:
        return Verdict(item.heading, Status.NOT_RUN, "the notebook stopped before this check")
    return Verdict(item.heading, Status.FAILED, "the check cell ran but reported nothing")


def _calls(source: str, check: str) -> bool:
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    return re.search(rf"\bchecks\.{re.escape(check)}\s*\(", code) is not None


def check_notebook(path: Path, *, timeout: float) -> int:
    """Run ``path``, print one line per exercise and a summary; 0 only when all pass."""
    notebook = read_notebook(path)
    expected = lesson_checks(notebook, path)
    if not expected:
        raise NotebookError(
            f"{path}: no exercise checks found (no `from diptych.checks import ...` of a lesson's "
            "checks); is this an exercise notebook?"
        )
    print(f"Checking {path} ({len(expected)} exercises; this runs every cell, a few seconds each)")
    execution, results = run_checks(notebook, path, expected, timeout=timeout)
    for verdict in results:
        print(
            f"{verdict.status.symbol} {verdict.exercise} — {verdict.status}"
            + ("" if verdict.status == Status.PASSED else f": {verdict.message}")
        )
    if execution.error:
        print(f"! the run stopped: {execution.error}")
    print("\n" + _summary(results))
    passed = all(v.status == Status.PASSED for v in results)
    return exit_status.of(not passed or bool(execution.error))


def run_checks(
    notebook: Any, path: Path, expected: list[Exercise], *, timeout: float | None, **options: Any
) -> tuple[Execution, list[Verdict]]:
    """Execute a clean copy of ``notebook`` (read from ``path``) and give each of the
    ``expected`` exercises its verdict; ``options`` go to ``execute`` (``diptych class`` passes a
    progress callback, thread limits and a time limit for the whole notebook)."""
    execution = _execute_clean(notebook, path, timeout, **options)
    return execution, verdicts(execution.notebook, execution.outcomes, expected)


def _execute_clean(notebook: Any, path: Path, timeout: float | None, **options: Any) -> Execution:
    """Execute a copy of ``notebook`` without saved outputs or execution counts."""
    import nbformat

    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory(prefix="diptych-check-") as folder:
        copy = Path(folder) / Path(path).name
        nbformat.write(notebook, copy)
        return execute(copy, timeout=timeout, allow_errors=True, **options)


def _summary(results: list[Verdict]) -> str:
    counts = {status: sum(v.status == status for v in results) for status in Status}
    extra = "".join(
        f", {counts[status]} {status}"
        for status in (Status.NOT_RUN, Status.NOT_CHECKED)
        if counts[status]
    )
    return (
        f"{counts[Status.PASSED]} of {len(results)} passed, {counts[Status.FAILED]} failed, "
        f"{counts[Status.NOT_DONE]} not attempted{extra}"
    )
