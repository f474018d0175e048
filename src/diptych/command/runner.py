"""``diptych run``'s engine: execute lesson notebooks (in parallel if asked) with a progress bar.

On Ctrl-C or SIGTERM (see ``diptych.command.interrupts``) notebooks not yet started are dropped, running
ones end within a second or two, and Interrupted reaches the command; nothing is saved.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Lock
from typing import Any, TypeVar

from diptych.command.execution import Execution, code_cell_count, execute
from diptych.command.files import write_atomic
from diptych.command.interrupts import RUNNING
from diptych.command.registry import Lesson
from diptych.command.report import LessonReport, compare_values
from diptych.configurations import DEFAULT, Configuration, thread_limits

T = TypeVar("T")
R = TypeVar("R")


def run_lessons(
    lessons: list[Lesson],
    frameworks: tuple[str, ...],
    *,
    timeout: float,
    jobs: int = 1,
    progress: bool = True,
    save_outputs: bool = False,
    configuration: Configuration = DEFAULT,
    baseline: dict[str, dict[str, Execution]] | None = None,
) -> list[LessonReport]:
    """Execute each lesson's notebooks for ``frameworks`` and compare what they recorded.

    ``jobs`` notebooks run at once, each in its own kernel, under ``configuration``'s
    environment. With ``save_outputs`` the executed notebooks are written back over the sources
    (a maintainer's refresh of committed outputs). ``baseline`` (lesson -> framework -> values
    recorded elsewhere, see ``report.read_baseline``) stands in for frameworks not run here.
    """
    tasks = [(lesson, fw) for lesson in lessons for fw in frameworks if fw in lesson.notebooks]
    threads = {**thread_share(jobs), **configuration.env}

    def one(task: tuple[Lesson, str], tick: Callable[[], None]) -> Execution:
        lesson, fw = task
        return execute(lesson.notebooks[fw], timeout=timeout, on_cell=tick, env=threads)

    executions = in_parallel(
        tasks,
        one,
        jobs=jobs,
        cells=sum(code_cell_count(lesson.notebooks[fw]) for lesson, fw in tasks),
        desc="diptych run",
        progress=progress,
        label=lambda task: f"{task[0].name} {task[1]} ({configuration.name})",
    )
    if save_outputs:
        for execution in executions:
            if execution.ok:
                save_executed(execution.notebook, execution.path)
    reports = []
    for lesson in lessons:
        runs = {fw: ex for (les, fw), ex in zip(tasks, executions, strict=True) if les is lesson}
        elsewhere = {
            fw: run for fw, run in (baseline or {}).get(lesson.name, {}).items() if fw not in runs
        }
        runs.update(elsewhere)
        reports.append(
            LessonReport(
                lesson.name, runs, compare_values(runs), configuration.name, set(elsewhere)
            )
        )
    return reports


def in_parallel(
    tasks: Sequence[T],
    run: Callable[[T, Callable[[], None]], R],
    *,
    jobs: int,
    cells: int,
    desc: str,
    progress: bool,
    label: Callable[[T], str],
) -> list[R]:
    """``run(task, tick)`` for every task, ``jobs`` at a time in threads, in the tasks' order, with
    one progress bar of ``cells`` cells that ``tick`` advances (``label`` names the task last
    started). On Ctrl-C or SIGTERM tasks not yet started are dropped and running ones end within
    seconds (their kernels are stopped by ``interrupts``); shared by ``diptych run`` and ``class``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=cells, unit="cell", desc=desc, disable=not progress, leave=False)
    lock = Lock()

    def tick() -> None:
        with lock:
            bar.update(1)

    def one(task: T) -> R:
        RUNNING.raise_if_stopping()  # stopped while this one waited for its turn
        with lock:
            bar.set_postfix_str(label(task))
        return run(task, tick)

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = [pool.submit(one, task) for task in tasks]
        return [future.result() for future in futures]
    finally:  # on Interrupted: drop what has not started; running ones end within seconds
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def thread_share(jobs: int) -> dict[str, str]:
    """Thread limits for each kernel so that ``jobs`` kernels share the CPUs without contention.

    PyTorch, TensorFlow and NumPy's OpenBLAS each start one thread per core; with several kernels
    at once that oversubscribes the machine, and spinning thread pools can stall a notebook for
    minutes. One job keeps the defaults.
    """
    if jobs <= 1:
        return {}
    return thread_limits(max(1, (os.cpu_count() or 1) // jobs))


def save_executed(notebook: Any, path: Path) -> None:
    """Write an executed notebook to ``path`` without stderr streams.

    Under nbval the kernel does not capture fd-level stderr, so stderr saved here would show up
    as a missing output there; it is noise (warnings, TF logs) for a reader anyway.
    """
    import nbformat

    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.outputs if out.get("name") != "stderr"]
            cell.metadata.pop("execution", None)
    write_atomic(path, nbformat.writes(notebook) + "\n")
