"""Execute one notebook headless with nbclient, on a copy, and say in words how it went.

The source notebook is only read. The kernel runs in a scratch folder (``work/``, where files a
lesson writes, such as checkpoints, land) with ``$DIPTYCH_RECORD_DIR`` pointing at it, so the
values and check outcomes the notebook records can be read back afterwards (``diptych.recording``;
the executor never imports the code that wrote them). The kernel's
connection file (which holds its key) lives in the scratch folder too, so that removing the
folder removes every trace of the run, also after Ctrl-C (see ``diptych.command.interrupts``).
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diptych.adapters import environments
from diptych.command.interrupts import RUNNING, Interrupted, kill
from diptych.outcomes import Outcome
from diptych.recording import RECORD_ENV, read_outcomes, read_values

__all__ = ["KERNEL_ENV", "Execution", "Interrupted", "NotebookError", "execute", "read_notebook"]

#: environment every executed notebook gets: what each framework's adapter asks for before the
#: framework starts (TensorFlow's quiet, exact start), deterministic hashes, no progress bars
KERNEL_ENV = {
    **environments.before_import(),
    "TQDM_DISABLE": "1",
    "PYTHONHASHSEED": "0",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
_JSON_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "true or false"}
#: seconds a stopped run gets to clean up after its kernel was killed (it needs about one)
STOP_GRACE = 10.0


class NotebookError(Exception):
    """The notebook file cannot be used: missing, unreadable, not a valid notebook, not Python."""


@dataclass
class Execution:
    """How one notebook's run went."""

    path: Path
    ok: bool = False
    seconds: float = 0.0
    error: str | None = None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: list[Outcome] = field(
        default_factory=list
    )  # exercise self-checks, in the order they ran
    notebook: Any = None  # the executed nbformat notebook, outputs included
    #: what the cells wrote to stderr (warnings, errors printed), as {"cell": number from 1,
    #: "text": ...}; committed outputs leave stderr out, so only a run can show it
    stderr: list[dict[str, Any]] = field(default_factory=list)


def read_notebook(path: Path) -> Any:
    """Read and validate a notebook, turning every way it can be unusable into NotebookError:
    missing, a folder, unreadable, not UTF-8, not JSON, not a notebook, or not a Python one."""
    import nbformat

    path = Path(path)
    text = _read_text(path)
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated types for a bad file
        raise NotebookError(f"{path}: not a valid notebook ({_first_line(error)})") from error
    _require_python(path, notebook)
    return notebook


def _read_text(path: Path) -> str:
    """The file's text, once it is known to be a JSON object (what nbformat says of other JSON,
    or of no JSON, is hard to read)."""
    try:
        if not path.exists():
            raise NotebookError(f"{path}: no such notebook")
        if path.is_dir():
            raise NotebookError(f"{path}: a folder, not a notebook")
        if not path.is_file():  # a pipe or a device would block or never end
            raise NotebookError(f"{path}: not a regular file")
        data = path.read_bytes()
    except OSError as error:
        raise NotebookError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        text = data.decode("utf-8")
        content = json.loads(text)
    except UnicodeDecodeError:
        raise NotebookError(f"{path}: not a valid notebook (not UTF-8 text)") from None
    except ValueError as error:
        raise NotebookError(f"{path}: not a valid notebook (not JSON: {error})") from None
    if not isinstance(content, dict):
        kind = _JSON_KINDS.get(type(content), "value")
        raise NotebookError(f"{path}: not a valid notebook (a JSON {kind}, not an object)")
    return text


def _require_python(path: Path, notebook: Any) -> None:
    """Refuse a notebook written for another language: it would fail on its first line as Python."""
    spec = notebook.metadata.get("kernelspec") or {}
    info = notebook.metadata.get("language_info") or {}
    language = str(spec.get("language") or info.get("name") or "python")
    if language.lower() != "python":
        kernel = f" (kernel {spec['name']!r})" if spec.get("name") else ""
        raise NotebookError(
            f"{path}: written in {language}{kernel}; diptych runs Python notebooks only"
        )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
    budget: float | None = None,
) -> Execution:
    """Run every cell of ``path`` in a fresh kernel; per-cell ``timeout`` in seconds (fractions
    allowed), and with ``budget`` at most that many seconds for all cells together, counted from
    the first cell's start (starting the kernel does not count).

    Raises NotebookError only for an unusable file, and Interrupted when Ctrl-C or SIGTERM
    stopped the run (after the kernel, its scratch folder and connection file are gone);
    everything else that happens while running (an exception in a cell, a timeout, a kernel that
    dies) is reported in ``Execution.error``. With ``allow_errors`` the run goes on past failing
    cells, as a learner's check needs.
    """
    notebook = read_notebook(path)
    RUNNING.raise_if_stopping()
    result = Execution(path=Path(path), notebook=notebook)
    with tempfile.TemporaryDirectory(prefix="diptych-run-", ignore_cleanup_errors=True) as scratch:
        work, temp = Path(scratch) / "work", Path(scratch) / "tmp"
        work.mkdir()
        temp.mkdir()
        # the kernel's temporary files (TensorFlow's autograph sources, a lesson's tempfile) are
        # the run's too: they go with the scratch folder
        kernel_env = {
            **os.environ,
            **KERNEL_ENV,
            RECORD_ENV: str(work),
            "TMPDIR": str(temp),
            "TEMP": str(temp),
            "TMP": str(temp),
            **(env or {}),
        }
        client = _client(notebook, work, timeout, allow_errors, on_cell, budget)
        client.km = _kernel_manager_class()(
            kernel_name="python3", connection_file=str(Path(scratch) / "kernel.json")
        )
        started = time.perf_counter()
        # the kernel's own stderr (ZMQ notices, C++ logs) goes to a file, not the learner's terminal
        with open(Path(scratch) / "kernel-stderr.log", "w", encoding="utf-8") as kernel_log:
            error = _run_client(client, env=kernel_env, stderr=kernel_log)
        result.seconds = time.perf_counter() - started
        RUNNING.raise_if_stopping()
        result.ok = error is None
        if error is not None:
            result.error = describe_failure(error, client, notebook, timeout, budget)
        result.stderr = stderr_of(notebook)
        _read_results(result, work)
    return result


def stderr_of(notebook: Any) -> list[dict[str, Any]]:
    """Each stderr stream a code cell printed, with the cell's number (from 1), in order."""
    return [
        {"cell": index + 1, "text": output.get("text", "")}
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
    ]


def _run_client(client: Any, **kwargs: Any) -> Exception | None:
    """Run the notebook in a thread of its own and wait; returns the error that ended it, if any.

    In the main thread nbclient would put its own SIGINT and SIGTERM handlers in place of
    diptych's (and reset them to Python's defaults when done); in another thread it leaves them
    alone. Once a stop is asked for, the kernel is dead and the run ends within a second or so;
    it gets STOP_GRACE seconds, and the thread (a daemon) is left behind if it takes longer.
    """
    errors: list[Exception] = []

    def run() -> None:
        try:
            client.execute(**kwargs)
        except Exception as error:  # reported to the person, with the cell, in one line
            errors.append(error)
        finally:
            # nbclient leaves its exit-time cleanup registered when the kernel dies while
            # starting; at exit it would then fail with a traceback over a kernel already gone
            atexit.unregister(client._cleanup_kernel)

    manager = client.km  # nbclient forgets it when the run ends
    thread = threading.Thread(target=run, name="diptych-notebook", daemon=True)
    thread.start()
    try:
        while thread.is_alive() and not RUNNING.stopping:
            thread.join(timeout=0.25)
    except BaseException:  # Interrupted, raised here by the signal handler, or a bare Ctrl-C
        if manager.tracked_process is not None:
            kill(manager.tracked_process)
        raise
    finally:
        thread.join(timeout=STOP_GRACE)  # at once, unless the run is being stopped
        if manager.tracked_process is not None:
            RUNNING.ended(manager.tracked_process)
    return errors[0] if errors else None


def _read_results(result: Execution, work: Path) -> None:
    """Read what the notebook recorded; a notebook that scribbled over the files fails, clearly."""
    try:
        result.values = read_values(work)
        result.outcomes = read_outcomes(work)
    except (OSError, ValueError, TypeError, KeyError) as error:
        result.ok = False
        result.error = result.error or (
            f"the values the notebook recorded cannot be read back ({_first_line(error)})"
        )


@functools.cache
def _kernel_manager_class() -> type:
    """jupyter_client's kernel manager, telling ``diptych.command.interrupts`` of each kernel it starts."""
    from jupyter_client.manager import AsyncKernelManager

    class TrackedKernelManager(AsyncKernelManager):
        tracked_process = None

        # jupyter_client declares the synchronous signature; the async manager overrides it too
        async def start_kernel(self, **kwargs: Any) -> None:  # type: ignore[override]
            await super().start_kernel(**kwargs)
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                self.tracked_process = process
                RUNNING.started(process)

    return TrackedKernelManager


def _client(
    notebook: Any,
    folder: Path,
    timeout: float | None,
    allow_errors: bool,
    on_cell: Callable[[], None] | None,
    budget: float | None = None,
) -> Any:
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        # nbclient's own timeout is a whole number; the per-cell one below may be a fraction
        timeout=None if timeout is None else math.ceil(timeout),
        timeout_func=_cell_timeout(timeout, budget),
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(folder)}},
        record_timing=False,
        shell_timeout_interval=1,  # how often a silent kernel is checked for being alive
    )
    # which cell is running, for describe_failure: an attribute nbclient does not declare
    client.current_cell_index = None  # type: ignore[attr-defined]

    def started(cell: Any, cell_index: int) -> None:
        client.current_cell_index = cell_index  # type: ignore[attr-defined]

    def executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        if on_cell is not None:
            on_cell()

    client.on_cell_start = started
    client.on_cell_executed = executed
    return client


def _cell_timeout(
    timeout: float | None, budget: float | None
) -> Callable[[Any], float | None] | None:
    """nbclient's ``timeout_func``: each cell gets ``timeout``, or what is left of ``budget``
    since the first cell started if that is less. nbclient reads 0 or less as no limit at all, so a
    cell that starts with nothing left gets a millisecond."""
    if budget is None:
        return None if timeout is None else (lambda cell: timeout)
    deadline: list[float] = []

    def seconds(cell: Any) -> float:
        if not deadline:
            deadline.append(time.monotonic() + budget)
        left = max(deadline[0] - time.monotonic(), 0.001)
        return left if timeout is None else min(timeout, left)

    return seconds


def describe_failure(
    error: Exception,
    client: Any,
    notebook: Any,
    timeout: float | None = None,
    budget: float | None = None,
) -> str:
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
        if budget is not None and (timeout is None or budget <= timeout):
            return f"{where} ran longer than the notebook's time limit of {budget:g} s"
        return f"{where} ran longer than the per-cell timeout of {timeout or client.timeout:g} s"
    if isinstance(error, DeadKernelError):
        return f"the kernel died while running {where}"
    if isinstance(error, CellExecutionError):
        return f"{where} raised {error.ename}: {error.evalue}".strip()
    last_line = (str(error).strip().splitlines() or [type(error).__name__])[-1]
    return f"{where}: {type(error).__name__}: {last_line}"
