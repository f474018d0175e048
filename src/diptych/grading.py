"""``diptych check PATH``: run a learner's exercise notebook headless and report each exercise.

The notebook is executed on a copy (nbclient, the learner's file is only read), going on past
failing cells so that every exercise gets a verdict. Each exercise's check cell is tagged
``exercise-check``; its verdict is what the check recorded, or, when the check cell could not
run, the error that stopped it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diptych.checks import NOT_DONE, PASSED
from diptych.execution import NotebookError, execute, read_notebook

CHECK_TAG = "exercise-check"


@dataclass(frozen=True)
class Verdict:
    exercise: str
    status: str  # passed, failed, not done, not run
    message: str


def check_cells(notebook: Any) -> list[tuple[int, str]]:
    """(cell index, exercise title) for every check cell; the title is the H2 heading above it."""
    found, title = [], "exercise"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            headings = [
                line[3:].strip() for line in cell.source.splitlines() if line.startswith("## ")
            ]
            title = headings[-1] if headings else title
        elif CHECK_TAG in cell.metadata.get("tags", []):
            found.append((index, title))
    return found


def verdicts(executed: Any, outcomes: list[Any], cells: list[tuple[int, str]]) -> list[Verdict]:
    """Pair each check cell with its outcome; a cell that raised or never ran has none."""
    pending = iter(outcomes)
    result = []
    for index, title in cells:
        cell = executed.cells[index]
        errors = [out for out in cell.outputs if out.output_type == "error"]
        if cell.execution_count is None:
            result.append(Verdict(title, "not run", "the notebook stopped before this check"))
        elif errors:
            error = errors[0]
            hint = (
                " (run the exercise cell above it: did it fail?)"
                if error.ename == "NameError"
                else ""
            )
            result.append(
                Verdict(
                    title, "failed", f"the check could not run: {error.ename}: {error.evalue}{hint}"
                )
            )
        else:
            outcome = next(pending, None)
            if outcome is None:
                result.append(Verdict(title, "failed", "the check cell ran but reported nothing"))
            else:
                result.append(Verdict(title, outcome.status, outcome.message))
    return result


def check_notebook(path: Path, *, timeout: float) -> int:
    """Run ``path``, print one line per exercise and a summary; 0 only when all pass."""
    cells = check_cells(read_notebook(path))
    if not cells:
        raise NotebookError(
            f"{path}: no exercise checks found (cells tagged {CHECK_TAG!r}); is this an exercise notebook?"
        )
    print(f"Checking {path} ({len(cells)} exercises; this runs every cell, a few seconds each)")
    execution = execute(path, timeout=timeout, allow_errors=True)
    results = verdicts(execution.notebook, execution.outcomes, cells)
    symbols = {PASSED: "✓", NOT_DONE: "…", "failed": "✗", "not run": "?"}
    for verdict in results:
        print(
            f"{symbols[verdict.status]} {verdict.exercise}: {verdict.status}"
            + ("" if verdict.status == PASSED else f" — {verdict.message}")
        )
    if execution.error:
        print(f"! the run stopped: {execution.error}")
    counts = {status: sum(v.status == status for v in results) for status in symbols}
    print(
        f"\n{counts[PASSED]} of {len(results)} passed, {counts['failed']} failed, "
        f"{counts[NOT_DONE]} not attempted"
        + (f", {counts['not run']} not run" if counts["not run"] else "")
    )
    return 0 if counts[PASSED] == len(results) and not execution.error else 1
