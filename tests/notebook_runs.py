"""One execution of each lesson and solution notebook per machine configuration, read by every
check that needs it (a pytest plugin, loaded by the root ``conftest.py``).

nbval executes the notebooks: each code cell is a pytest item, and the cells tagged
``nbval-check-output`` are compared with their committed outputs (``--nbval-lax``: the other
cells' outputs are not). This plugin decides what runs where and what else reads each run:

* **Configurations.** Every lesson notebook runs under each configuration of
  ``LESSON_CONFIGURATIONS``: this machine as it is, and an imitated other CPU
  (``diptych.configurations``); every solution under this machine's. ``diptych run --matrix``
  adds the rest.
* **Recording.** Each kernel starts with ``$DIPTYCH_RECORD_DIR`` pointing at a folder of its own,
  so the values the notebook records for ``diptych run`` (``parity.matches_reference``,
  ``parity.record``, ``parity.reaches``) and the outcomes of the exercises' self-checks are
  written by this same execution.
* **Comparisons.** After both twins of a lesson ran under one configuration, one more item reads
  what each recorded and compares them as ``diptych run`` does (``report.compare_values``): every
  value agrees with at least ``parity.MIN_HEADROOM`` to spare, each notebook's own checks against
  the reference too, and neither source file changed. After a solution ran, one item reads the
  outcomes its checks recorded: every exercise passed. The twins of a lesson and their comparison
  are one scope for xdist (``pytest_xdist_make_scheduler``), so they run on one worker, in that
  order; every other test file is a scope of its own, as ``--dist loadfile`` would have it.
* **stderr.** A cell that writes to stderr fails: committed outputs leave stderr out, so a warning
  a learner would see in red shows only in a live run.
* **Reuse, local only.** With ``--reuse-runs DIR`` (``make retest``), a run whose inputs are those
  of a run that passed before is not executed again: its item says so (skipped), and what it
  recorded is put back for the comparisons, which are made afresh (``tests/reused_runs.py``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from typing import Any
from unittest import mock

import nbval.kernel
import pytest
from nbval.plugin import IPyNbCell, IPyNbFile

from diptych.adapters.environments import thread_limits
from diptych.command import registry
from diptych.command.execution import KERNEL_ENV, Execution
from diptych.command.report import LessonReport, compare_values, table
from diptych.configurations import CONFIGURATIONS, DEFAULT, IMITATIONS
from diptych.outcomes import Status
from diptych.parity import MIN_HEADROOM
from diptych.recording import RECORD_ENV, read_outcomes, read_values
from tests import reused_runs

#: every lesson notebook runs under each of these; ``diptych run --matrix`` runs them all.
#: ``$DIPTYCH_TEST_CONFIGURATIONS`` (names, comma-separated) narrows it for a quick local run.
LESSON_CONFIGURATIONS = tuple(
    os.environ.get("DIPTYCH_TEST_CONFIGURATIONS", f"{DEFAULT.name},{IMITATIONS[0].name}").split(",")
)
#: a solution's checks do not depend on the CPU (they compare with tolerances), so once
SOLUTION_CONFIGURATIONS = (DEFAULT.name,)


def configurations_of(kind: str) -> tuple[str, ...]:
    """The configurations a lesson (``kind`` "notebooks") or a solution notebook runs under:
    every lesson under each of ``LESSON_CONFIGURATIONS``."""
    return LESSON_CONFIGURATIONS if kind == "notebooks" else SOLUTION_CONFIGURATIONS


#: written in a run's record folder just before its kernel starts
STARTED = "kernel-started"
#: the variables a kernel reads that a run's key includes (besides a configuration's own)
KERNEL_VARIABLES = sorted(
    {*KERNEL_ENV, *thread_limits(1), "PYTHONPATH"}.union(*(c.env for c in CONFIGURATIONS.values()))
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reuse-runs",
        metavar="DIR",
        type=Path,
        help="keep each notebook run that passes in DIR, and reuse it instead of executing the "
        "notebook again while its notebook, library, lock, packages and configuration are "
        "unchanged (local only: refused where $CI is set)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("reuse_runs", None) is not None and os.environ.get("CI"):
        raise pytest.UsageError("--reuse-runs is for a local rerun: CI executes every notebook")


_SELECTED = pytest.StashKey[set[str]]()
#: each collected notebook's bytes' hash, to show that running it left the source untouched
_DIGESTS = pytest.StashKey[dict[Path, str]]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> NotebookFile | None:
    """The curriculum's lesson and solution notebooks: each is run once per configuration."""
    found = _curriculum_notebook(file_path, parent.config.rootpath)
    if found is None:
        return None
    parent.config.stash.setdefault(_DIGESTS, {})[file_path] = digest(file_path)
    kind, lesson, framework = found
    return NotebookFile.from_parent(
        parent, path=file_path, kind=kind, lesson=lesson, framework=framework
    )


class NotebookFile(pytest.File):
    """A lesson or solution notebook: one ``NotebookRun`` per configuration it runs under."""

    def __init__(
        self, *args: Any, kind: str, lesson: registry.Lesson, framework: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kind, self.lesson, self.framework = kind, lesson, framework

    def collect(self) -> Iterator[NotebookRun]:
        for configuration in configurations_of(self.kind):
            yield NotebookRun.from_parent(
                self,
                path=self.path,
                name=configuration,
                nodeid=f"{self.nodeid}::{configuration}",
                configuration=configuration,
                kind=self.kind,
                lesson=self.lesson,
                framework=self.framework,
            )


def _curriculum_notebook(path: Path, root: Path) -> tuple[str, registry.Lesson, str] | None:
    """(kind, lesson, framework) when ``path`` is a lesson or solution notebook of the
    curriculum at ``root`` (the folder pytest runs in)."""
    try:
        kind = path.resolve().relative_to(root.resolve()).parts[0]
    except ValueError:
        return None
    if kind not in ("notebooks", "solutions") or path.suffix != ".ipynb":
        return None
    for lesson in registry.lessons(root, kind):
        for framework, notebook in lesson.notebooks.items():
            if notebook.resolve() == path.resolve():
                return kind, lesson, framework
    return None


def record_folder(config: pytest.Config, configuration: str, kind: str, name: str) -> Path:
    """Where the run of one notebook (``lesson/framework``) under one configuration records."""
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    return base / "notebook-runs" / configuration / kind / name


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unchanged(config: pytest.Config, path: Path) -> bool:
    """True when ``path`` holds the bytes it held when it was collected."""
    return config.stash[_DIGESTS][path] == digest(path)


class NotebookRun(IPyNbFile):
    """One notebook executed by nbval under one machine configuration, recording as ``diptych
    run`` records, followed by the items that read the run."""

    def __init__(
        self,
        *args: Any,
        configuration: str,
        kind: str,
        lesson: registry.Lesson,
        framework: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.compare_outputs = False  # --nbval-lax: only cells tagged nbval-check-output
        self.configuration = configuration
        self.kind = kind
        self.lesson = lesson
        self.framework = framework
        #: the node ids of this run's cells, and those that passed in this session
        self.cells: list[str] = []
        self.passed: set[str] = set()

    @property
    def record_folder(self) -> Path:
        name = f"{self.lesson.name}/{self.framework}"
        return record_folder(self.config, self.configuration, self.kind, name)

    @functools.cached_property
    def store(self) -> Path | None:
        """``--reuse-runs``' folder, or None."""
        return self.config.getoption("reuse_runs", None)

    @functools.cached_property
    def key(self) -> str:
        """This run's key in the store: everything that could change what it records."""
        environment = {name: os.environ.get(name, "") for name in KERNEL_VARIABLES}
        environment.update(CONFIGURATIONS[self.configuration].env)
        return reused_runs.run_key(self.config.rootpath, self.path, self.configuration, environment)

    @functools.cached_property
    def reused(self) -> Path | None:
        """The kept records of a passing run with this run's key, when reuse is on."""
        return None if self.store is None else reused_runs.kept(self.store, self.key)

    def setup(self) -> None:
        folder = self.record_folder
        if self.reused is not None:
            reused_runs.restore(self.reused, folder)
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / STARTED).write_text(self.nodeid)
        changes = {RECORD_ENV: str(folder), **CONFIGURATIONS[self.configuration].env}
        # os.environ while the kernel starts: it copies the environment then
        with mock.patch.dict(os.environ, changes), stderr_into(folder / KERNEL_STDERR):
            super().setup()
        watch_for_death(self.kernel, folder / KERNEL_STDERR)

    def collect(self) -> Iterator[pytest.Item]:
        if self.reused is not None:
            items: list[pytest.Item] = [ReusedRun.from_parent(self, name="reused")]
        else:
            items = list(super().collect())
            self.cells = [item.nodeid for item in items]
        if self.kind == "solutions":
            items.append(SolutionPassed.from_parent(self, name="every exercise passed"))
        elif self.framework == list(self.lesson.notebooks)[-1] and len(self.lesson.notebooks) > 1:
            items.append(TwinsAgree.from_parent(self, name="the twins agree"))
        yield from items

    def keep_if_passed(self, report: pytest.TestReport) -> None:
        """Keep this run in the store once its last cell passed and every other one did."""
        if not (report.passed and report.when == "call"):
            return
        self.passed.add(report.nodeid)
        complete = self.passed == set(self.cells)  # once: only the last cell's call completes it
        if self.store is not None and complete and unchanged(self.config, self.path):
            reused_runs.keep(self.store, self.key, self.record_folder, self.nodeid)


class ReusedRun(pytest.Item):
    """Stands for the cells of a run reused from ``--reuse-runs``' store: skipped, saying when
    that run passed; the comparisons after it read what it recorded."""

    parent: NotebookRun

    def runtest(self) -> None:
        assert self.parent.reused is not None
        when = reused_runs.when_kept(self.parent.reused)
        pytest.skip(f"reused the run that passed at {when}: its inputs are unchanged")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.parent.nodeid}: reused"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Each cell's report tells its run, which is kept once every cell passed."""
    report = yield
    if isinstance(item, IPyNbCell) and isinstance(item.parent, NotebookRun):
        item.parent.keep_if_passed(report)
    return report


#: how often a wait for a kernel's reply checks that the kernel is still alive, in seconds
ALIVE_EVERY = 2.0
#: the file in a run's record folder that receives what its kernel process writes to its stderr
#: (C++ libraries' messages, an abort's reason: a cell's own stderr reaches nbval as output)
KERNEL_STDERR = "kernel-stderr.txt"
#: how much of it a dead kernel's failure shows
LAST_WORDS = 2000


@contextmanager
def stderr_into(path: Path) -> Iterator[None]:
    """While a kernel starts, send its process's stderr to ``path`` rather than where nbval sends
    it (``os.devnull``), so that a kernel that dies can say why."""
    start = nbval.kernel.start_new_kernel

    def start_new_kernel(*args: Any, **kwargs: Any) -> Any:
        with path.open("ab") as stderr:
            return start(*args, **{**kwargs, "stderr": stderr})

    with mock.patch.object(nbval.kernel, "start_new_kernel", start_new_kernel):
        yield


def watch_for_death(kernel: Any, stderr: Path) -> None:
    """Make the waits of nbval's ``RunningKernel`` for its kernel's messages fail at once when the
    kernel process has died (a crash, the out-of-memory killer) instead of after the cell timeout
    (nbval's default is 2,000 s per cell, and it does not look): the wait is cut into slices, and
    the kernel's process is checked between them, as nbclient does (``DeadKernelError``)."""
    wait = kernel.get_message

    def get_message(stream: str, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = ALIVE_EVERY if deadline is None else deadline - time.monotonic()
            try:
                return wait(stream, timeout=max(0.0, min(ALIVE_EVERY, left)))
            except Empty:
                if not kernel.is_alive():
                    raise RuntimeError(
                        f"the kernel died{_exit_status(kernel)}{_last_words(stderr)}"
                    ) from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    kernel.get_message = get_message


def _exit_status(kernel: Any) -> str:
    """ ", exit status -11" (a negative status is the signal that ended it), where known."""
    process = getattr(getattr(kernel.km, "provisioner", None), "process", None)
    status = getattr(process, "returncode", None)
    return f", exit status {status}" if status is not None else ""


def _last_words(stderr: Path) -> str:
    """The end of what a dead kernel's process wrote to its stderr, if anything."""
    try:
        written = stderr.read_text(errors="replace").strip()
    except OSError:
        return ""
    return f"; the end of its stderr:\n{written[-LAST_WORDS:]}" if written else ""


class TwinsAgree(pytest.Item):
    """What ``diptych run`` checks of one lesson under one configuration, read from the runs
    nbval just made: every value both twins recorded agrees with ``MIN_HEADROOM`` to spare, and
    each source notebook is byte for byte what it was when it was collected."""

    parent: NotebookRun

    def runtest(self) -> None:
        parent, lesson = self.parent, self.parent.lesson
        runs = {fw: self._run(fw) for fw in lesson.notebooks}
        report = LessonReport(lesson.name, runs, compare_values(runs), parent.configuration)
        assert len(report.rows) >= 4, f"{lesson.name} records only {len(report.rows)} values"
        for row in report.rows:
            assert set(row.values) == set(runs), f"{row.name}: recorded by {sorted(row.values)}"
        failed = [row.name for row in report.rows if not row.ok]
        assert not failed, (
            f"{lesson.name} under {parent.configuration}: {', '.join(failed)} disagree or have "
            f"less than {MIN_HEADROOM:g}x headroom\n{table(report)}"
        )
        for check in EXTRA_CHECKS.get(lesson.name, []):
            check(report)

    def _run(self, framework: str) -> Execution:
        parent = self.parent
        path = parent.lesson.notebooks[framework]
        name = f"{parent.lesson.name}/{framework}"
        folder = record_folder(self.config, parent.configuration, "notebooks", name)
        if not (folder / STARTED).exists():
            twin = f"{path.relative_to(self.config.rootpath).as_posix()}::{parent.configuration}"
            if twin in self.config.stash.get(_SELECTED, set()):
                pytest.fail(f"the {framework} twin was selected but never started: {twin}")
            pytest.skip(f"the {framework} twin did not run in this session: select both twins")
        assert unchanged(self.config, path), f"{path} changed while it ran"
        return Execution(path=path, ok=True, values=read_values(folder))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.parent.lesson.name}: the twins agree"


class SolutionPassed(pytest.Item):
    """Every exercise of a worked solution passed its check in the run nbval just made (the
    outcomes its checks recorded, in the order they ran)."""

    parent: NotebookRun

    def runtest(self) -> None:
        outcomes = read_outcomes(self.parent.record_folder)
        assert len(outcomes) >= 3, f"only {len(outcomes)} checks ran"
        failed = [o for o in outcomes if o.status is not Status.PASSED]
        assert not failed, "; ".join(f"{o.exercise}: {o.message}" for o in failed)
        assert unchanged(self.config, self.path), f"{self.path} changed while it ran"

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.parent.lesson.name}: every exercise passed"


def float64_tight(name: str, *, steps: int) -> Any:
    """A lesson-specific check: the step-by-step trajectory ``name`` is compared in float64, to a
    relative 1e-9 and no absolute slack, over at least ``steps`` steps (the rule for
    trajectories in docs/design.md)."""

    def check(report: LessonReport) -> None:
        (row,) = [row for row in report.rows if row.name == name]
        assert row.rtol == 1e-9 and row.atol == 0, (name, row.rtol, row.atol)
        assert all(len(value) >= steps for value in row.values.values()), name

    return check


#: checks of one lesson's recorded values beyond agreement
EXTRA_CHECKS = {"07_cnn": [float64_tight("parity_loss_curve", steps=100)]}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Every notebook cell nbval runs must write nothing to stderr.

    Committed outputs leave stderr out, so a warning a learner would see in red in Jupyter shows
    only in a live run. nbval keeps a cell's outputs in ``test_outputs``; if a new nbval stops
    doing so, every cell fails here rather than passing unchecked.
    """
    result = yield
    if isinstance(item, IPyNbCell):
        outputs = getattr(item, "test_outputs", None)
        if outputs is None and not getattr(item.parent, "timed_out", False):
            pytest.fail("nbval no longer keeps a cell's outputs in test_outputs: update the plugin")
        written = "".join(
            out.get("text", "")
            for out in outputs or []
            if out.get("output_type") == "stream" and out.get("name") == "stderr"
        )
        if written:
            pytest.fail(f"the cell wrote to stderr in a live run:\n{written}", pytrace=False)
    return result


@pytest.hookimpl(optionalhook=True)  # xdist's hook: a run without xdist has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's ``loadscope`` with the scopes this suite needs: one per lesson and configuration
    (both twins, then their comparison, on one worker and in that order), and one per file for
    everything else, as ``--dist loadfile`` would have it (a module-scoped fixture, such as the
    built site, is made once). xdist's own ``loadgroup`` would do it with ``xdist_group`` marks,
    but xdist 3.8 renames node ids in a way pytest 9.2 no longer sees, and groups nothing."""
    from xdist.scheduler import LoadScopeScheduling

    class ByLesson(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    # the scopes go out in the order pytest_collection_modifyitems gives them (heavy first), not
    # in xdist's order (most items first), which sent a file of two long tests last
    config.option.loadscopereorder = False
    return ByLesson(config, log)


def scope_of(nodeid: str) -> str:
    """``notebooks/04_mlp::default`` for any item of a lesson notebook run under "default",
    else the file the item comes from."""
    path, _, rest = nodeid.partition("::")
    if path.startswith("notebooks/") and path.endswith(".ipynb"):
        configuration = rest.partition("::")[0]
        return f"{path.rpartition('/')[0]}::{configuration}"
    return path


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, order the scopes heavy first (a plain run keeps pytest's order), and remember which notebook runs
    are selected, so that a comparison can tell a twin that was left out (skipped, saying so)
    from one that should have run and did not (a failure)."""
    if hasattr(config, "workerinput"):  # an xdist worker: the order it collects is the plan
        items[:] = heavy_first(items)
    config.stash[_SELECTED] = {
        item.parent.nodeid for item in items if isinstance(item.parent, NotebookRun)
    }


def heavy_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The items, scope by scope: first the scopes that start kernels or processes (a notebook's
    run, a file with a ``slow`` test), then the rest, each group with its scopes of most items
    first, as xdist orders them. The workers take scopes in this order, so the many quick files
    are what is left at the end, and neither worker waits long for the other: ordered by items
    alone, a file of two 7 s tests came last, and one worker idled 17 s at the end."""
    scopes: dict[str, list[pytest.Item]] = {}
    for item in items:
        scopes.setdefault(scope_of(item.nodeid), []).append(item)

    def weight(scope: list[pytest.Item]) -> tuple[bool, int]:
        heavy = any(
            isinstance(i.parent, NotebookRun) or i.get_closest_marker("slow") for i in scope
        )
        return not heavy, -len(scope)

    return [item for scope in sorted(scopes.values(), key=weight) for item in scope]
