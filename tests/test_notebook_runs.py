"""The suite runs each notebook once per configuration, and every check reads that run
(``tests/notebook_runs.py``): proven here on a tiny curriculum, and by what the suite collects
from the real one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from diptych.command import registry
from diptych.configurations import DEFAULT, IMITATIONS
from tests.notebook_runs import (
    LESSON_CONFIGURATIONS,
    SOLUTION_CONFIGURATIONS,
    configurations_of,
    heavy_first,
    scope_of,
)

from helpers import REPO, write_notebook

RECORDS = "from diptych import parity\n" + "\n".join(
    f"parity.record('v{i}', {i}.0, atol=1e-9)" for i in range(3)
)


@pytest.fixture
def tiny(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A curriculum of three one-configuration lessons: twins that agree, twins that disagree on
    one value, and twins of which one writes to stderr and the other's kernel dies after it
    recorded; run by the plugin, as the suite runs."""
    monkeypatch.setenv("PYTHONPATH", f"{REPO}:{REPO / 'src'}")
    monkeypatch.setenv("DIPTYCH_TEST_CONFIGURATIONS", "default")
    pytester.makeconftest("pytest_plugins = ['tests.notebook_runs']")
    root = pytester.path / "notebooks"
    for framework, last in (("pytorch", "1.0"), ("tensorflow", "1.0")):
        write_notebook(
            root / f"01_agree/agree_{framework}.ipynb",
            RECORDS,
            f"parity.record('x', {last}, atol=1e-6)",
        )
    for framework, last in (("pytorch", "1.0"), ("tensorflow", "1.5")):
        write_notebook(
            root / f"02_differ/differ_{framework}.ipynb",
            RECORDS,
            f"parity.record('x', {last}, atol=1e-6)",
        )
    write_notebook(
        root / "03_noisy/noisy_pytorch.ipynb",
        RECORDS,
        "parity.record('x', 1.0, atol=1e-6)",
        "import os, signal\nos.write(2, b'the last word of a dying kernel')\n"
        "os.kill(os.getpid(), signal.SIGKILL)  # a crash, as a library's abort would say why",
    )
    write_notebook(
        root / "03_noisy/noisy_tensorflow.ipynb",
        RECORDS,
        "import warnings\nwarnings.warn('a learner would see this in red')",
        "parity.record('x', 1.0, atol=1e-6)",
    )
    return pytester


@pytest.mark.slow
def test_twins_are_compared_from_the_run_that_executed_them_or_kept_them(tiny, monkeypatch):
    monkeypatch.delenv("CI", raising=False)  # CI is refused --reuse-runs (a test below)
    store = tiny.path / "kept"
    args = ["-p", "no:cacheprovider", "-p", "no:xdist", "--nbval-cell-timeout=600", "-rfEs"]
    args += ["--reuse-runs", str(store)]
    # a dead kernel fails its cell at once; with nbval alone the wait is the cell timeout
    result = tiny.runpytest_subprocess(*args, "notebooks")
    result.stdout.fnmatch_lines(
        [
            "*FAILED notebooks/02_differ/differ_tensorflow.ipynb::default::the twins agree*",
            "*FAILED notebooks/03_noisy/noisy_pytorch.ipynb::default::Cell 2*",
            "*FAILED notebooks/03_noisy/noisy_tensorflow.ipynb::default::Cell 1*",
        ],
        consecutive=False,
    )
    text = "\n".join(result.stdout.lines)
    assert "02_differ under default: x disagree" in text
    assert "wrote to stderr" in text and "a learner would see this in red" in text
    assert "the kernel died, exit status -9" in text
    assert "the end of its stderr:" in text and "the last word of a dying kernel" in text
    assert "FAILED notebooks/01_agree" not in text
    result.assert_outcomes(passed=14, failed=3)
    # kept: the twins of 01 and 02, whose every cell passed; neither of 03's
    assert len([key for key in store.iterdir() if not key.name.startswith(".")]) == 4

    again = tiny.runpytest_subprocess(*args, "notebooks/01_agree", "notebooks/02_differ")
    # no cell runs; the comparisons read the kept records afresh, and 02's twins still differ
    again.assert_outcomes(passed=1, failed=1, skipped=4)
    again.stdout.fnmatch_lines(["*reused the run that passed at *: its inputs are unchanged*"])
    assert "02_differ under default: x disagree" in "\n".join(again.stdout.lines)

    write_notebook(  # a changed notebook runs again; its twin is still reused
        tiny.path / "notebooks/01_agree/agree_pytorch.ipynb",
        RECORDS,
        "parity.record('x', 1.0 + 1e-9, atol=1e-6)",
    )
    changed = tiny.runpytest_subprocess(*args, "-v", "notebooks/01_agree")
    changed.assert_outcomes(passed=3, skipped=1)
    changed.stdout.fnmatch_lines(["*agree_pytorch.ipynb::default::Cell 1 PASSED*"])


def test_a_runs_key_changes_with_each_input_and_only_with_them(tmp_path):
    from tests.reused_runs import library_digest, run_key

    root = tmp_path / "repo"
    notebook = write_notebook(root / "notebooks/01_a/a_pytorch.ipynb", "1 + 1")
    twin = write_notebook(root / "notebooks/01_a/a_tensorflow.ipynb", "2 + 2")
    for name in ("src/diptych/parity.py", "requirements/cpu.txt", "pyproject.toml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("one")
    environment = {"OMP_NUM_THREADS": "1"}

    def key(configuration: str = "default", **changes: str) -> str:
        library_digest.cache_clear()  # read once per process: a session's library is fixed
        return run_key(root, notebook, configuration, {**environment, **changes})

    before = key()
    twin.write_text(twin.read_text() + " ")  # the twin is not an input
    (root / "src/diptych/__pycache__").mkdir()
    (root / "src/diptych/__pycache__/parity.pyc").write_bytes(b"compiled")
    assert key() == before
    assert key("avx2-1thread") != before
    assert key(OMP_NUM_THREADS="2") != before
    for changed in ("src/diptych/parity.py", "requirements/cpu.txt", "pyproject.toml"):
        (root / changed).write_text("two")
        assert key() != before, changed
        (root / changed).write_text("one")
        assert key() == before
    (notebook.parent / "train.py").write_text("a lesson's script")
    with_script = key()
    assert with_script != before
    notebook.write_text(notebook.read_text() + " ")
    assert key() != with_script


def test_ci_is_refused_the_reuse_of_runs(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", f"{REPO}:{REPO / 'src'}")
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest("pytest_plugins = ['tests.notebook_runs']")
    result = pytester.runpytest_subprocess("-p", "no:xdist", "--reuse-runs", "kept")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--reuse-runs is for a local rerun: CI executes every notebook*"])


@pytest.mark.slow
def test_a_twin_left_out_is_said_so_not_compared(tiny):
    result = tiny.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-rs",
        "notebooks/01_agree/agree_tensorflow.ipynb",
    )
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*the pytorch twin did not run in this session*"])


def test_a_lessons_twins_and_their_comparison_share_one_worker_per_configuration():
    cell = "notebooks/04_mlp/mlp_pytorch.ipynb::default::Cell 3"
    comparison = "notebooks/04_mlp/mlp_tensorflow.ipynb::default::the twins agree"
    assert scope_of(cell) == scope_of(comparison) == "notebooks/04_mlp::default"
    assert scope_of("notebooks/04_mlp/mlp_pytorch.ipynb::avx2-1thread::Cell 3") != scope_of(cell)
    assert scope_of("solutions/04_mlp/exercises_mlp_pytorch.ipynb::default::Cell 0") == (
        "solutions/04_mlp/exercises_mlp_pytorch.ipynb"
    )
    assert scope_of("tests/test_site.py::test_x[a]") == "tests/test_site.py"


@pytest.fixture(scope="module")
def collected() -> list[str]:
    """What the suite collects from the real curriculum (nothing runs)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--co",
            "-q",
            "-n",
            "0",
            "notebooks",
            "solutions",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_make_test_runs_every_lesson_here_and_on_an_imitated_cpu():
    if "DIPTYCH_TEST_CONFIGURATIONS" not in os.environ:  # narrowed for a quick local run
        assert (DEFAULT.name, IMITATIONS[0].name) == LESSON_CONFIGURATIONS
    assert DEFAULT.env == {} and IMITATIONS[0].env


@pytest.mark.slow
def test_every_lesson_runs_under_every_configuration_and_is_compared_there(collected):
    for lesson in registry.lessons(REPO):
        last = list(lesson.notebooks.values())[-1].relative_to(REPO).as_posix()
        assert configurations_of("notebooks") == LESSON_CONFIGURATIONS
        for configuration in LESSON_CONFIGURATIONS:
            assert f"{last}::{configuration}::the twins agree" in collected, (lesson, configuration)
            for path in lesson.notebooks.values():
                cell = f"{path.relative_to(REPO).as_posix()}::{configuration}::Cell 0"
                assert cell in collected, cell


@pytest.mark.slow
def test_every_solution_runs_once_and_its_checks_are_read_from_that_run(collected):
    for lesson in registry.lessons(REPO, "solutions"):
        for path in lesson.notebooks.values():
            name = path.relative_to(REPO).as_posix()
            runs = {line.split("::")[1] for line in collected if line.startswith(f"{name}::")}
            assert runs == set(SOLUTION_CONFIGURATIONS), name
            assert f"{name}::default::every exercise passed" in collected, name


class _Item:
    """What heavy_first reads of a pytest item: its node id, its parent and its marks."""

    def __init__(self, nodeid: str, *, slow: bool = False) -> None:
        self.nodeid, self.parent, self._slow = nodeid, None, slow

    def get_closest_marker(self, name: str) -> object:
        return object() if name == "slow" and self._slow else None


def test_scopes_that_start_kernels_go_to_the_workers_first_and_stay_whole():
    quick = [_Item(f"tests/test_quick.py::t{i}") for i in range(5)]
    slow_file = [_Item("tests/test_few.py::a", slow=True), _Item("tests/test_few.py::b")]
    many_slow = [_Item(f"tests/test_many.py::t{i}", slow=i == 0) for i in range(3)]
    ordered = heavy_first([*quick, *slow_file, *many_slow])
    # a file with a slow test is heavy, whatever its size; quick files last; most items first
    assert [item.nodeid.split("::")[0] for item in ordered] == [
        *["tests/test_many.py"] * 3,
        *["tests/test_few.py"] * 2,
        *["tests/test_quick.py"] * 5,
    ]
    assert [i.nodeid for i in ordered if "few" in i.nodeid] == [
        "tests/test_few.py::a",
        "tests/test_few.py::b",
    ]
