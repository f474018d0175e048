"""Execute one notebook headless with nbclient, on a copy, and say in words how it went.

The source notebook is only read. The kernel runs in a scratch folder (files a lesson writes,
such as checkpoints, land there) with ``$DIPTYCH_RECORD_DIR`` pointing at it, so values the
notebook records with ``diptych.parity.record`` can be read back afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diptych.checks import read_outcomes
from diptych.optional import QUIET_TENSORFLOW
from diptych.parity import RECORD_ENV, read_recorded

#: environment every executed notebook gets: quiet, deterministic, no progress bars
KERNEL_ENV = {
    **QUIET_TENSORFLOW,
    "TQDM_DISABLE": "1",
    "PYTHONHASHSEED": "0",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


class NotebookError(Exception):
    """The notebook file cannot be used: missing, not JSON, or not a valid notebook."""


@dataclass
class Execution:
    """How one notebook's run went."""

    path: Path
    ok: bool = False
    seconds: float = 0.0
    error: str | None = None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: list[Any] = field(default_factory=list)  # exercise self-checks, in the order they ran
    notebook: Any = None  # the executed nbformat notebook, outputs included


def read_notebook(path: Path) -> Any:
    """Read and validate a notebook, turning every way it can be unusable into NotebookError."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such notebook")
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated types for a bad file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotebookError(f"{path}: not a valid notebook ({reason})") from error
    return notebook


def code_cell_count(path: Path) -> int:
    """How many code cells the notebook has (for progress bars); 0 if it cannot be read."""
    try:
        return sum(cell.cell_type == "code" for cell in read_notebook(path).cells)
    except NotebookError:
        return 0


def execute(
    path: Path,
    *,
    timeout: float | None = 600,
    allow_errors: bool = False,
    on_cell: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> Execution:
    """Run every cell of ``path`` in a fresh kernel; per-cell ``timeout`` in seconds.

    Raises NotebookError only for an unusable file; everything that happens while running
    (an exception in a cell, a timeout, a kernel that dies) is reported in ``Execution.error``.
    With ``allow_errors`` the run goes on past failing cells, as a learner's check needs.
    """
    notebook = read_notebook(path)
    result = Execution(path=Path(path), notebook=notebook)
    with tempfile.TemporaryDirectory(prefix="diptych-run-") as scratch:
        kernel_env = {**os.environ, **KERNEL_ENV, RECORD_ENV: scratch, **(env or {})}
        client = _client(notebook, scratch, timeout, allow_errors, on_cell)
        log_path = Path(scratch) / "kernel-stderr.log"
        started = time.perf_counter()
        # the kernel's own stderr (ZMQ notices, C++ logs) goes to a file, not the learner's terminal
        with open(log_path, "w", encoding="utf-8") as kernel_log:
            try:
                client.execute(env=kernel_env, stderr=kernel_log)
                result.ok = True
            except Exception as error:  # reported to the person, with the cell, in one line
                result.error = describe_failure(error, client, notebook)
        result.seconds = time.perf_counter() - started
        result.values = read_recorded(Path(scratch))
        result.outcomes = read_outcomes(Path(scratch))
    return result


def _client(
    notebook: Any,
    folder: str,
    timeout: float | None,
    allow_errors: bool,
    on_cell: Callable[[], None] | None,
) -> Any:
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": folder}},
        record_timing=False,
    )
    client.current_cell_index = None

    def started(cell: Any, cell_index: int) -> None:
        client.current_cell_index = cell_index

    def executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        if on_cell is not None:
            on_cell()

    client.on_cell_start = started
    client.on_cell_executed = executed
    return client


def describe_failure(error: Exception, client: Any, notebook: Any) -> str:
    """One line: which cell failed and the last line of its error."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    index = getattr(client, "current_cell_index", None)
    where = "before the first cell ran"
    if index is not None:
        first_line = next(
            (line for line in notebook.cells[index].source.splitlines() if line.strip()), ""
        )
        where = f"cell {index + 1} ({first_line.strip()[:60]!r})"
    if isinstance(error, CellTimeoutError):
        return f"{where} ran longer than the per-cell timeout of {client.timeout:g} s"
    if isinstance(error, DeadKernelError):
        return f"the kernel died while running {where}"
    if isinstance(error, CellExecutionError):
        return f"{where} raised {error.ename}: {error.evalue}".strip()
    last_line = (str(error).strip().splitlines() or [type(error).__name__])[-1]
    return f"{where}: {type(error).__name__}: {last_line}"
