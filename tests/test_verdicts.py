"""`diptych check`: verdicts matched by exercise, missing checks fail, one line each, no traceback."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from diptych.checks import exercises_of
from diptych.command import verdicts
from diptych.command.cli import main
from diptych.outcomes import Outcome, Status

from helpers import REPO, ROWS_CHECK, write_notebook

#: lesson 01's checks of exercises 2 and 5 need nothing of an adapter but ``from_numpy``: a NumPy
#: stand-in spares every kernel below the second or so of importing a framework (the verdicts are
#: the subject here; the adapters' own tests are in test_adapters.py and the lessons' runs)
SETUP = (
    "import types\nimport numpy as np\nfrom diptych.checks import tensors as checks\n"
    "adapter = types.SimpleNamespace(NAME='NumPy', from_numpy=lambda a: np.array(a, copy=True))"
)
CHECK = ("checks.outer_sum(outer_sum, adapter)", ["exercise-check"])
TENSORS = exercises_of("tensors")[:4]  # the first four: what the notebooks below hold


def check(path: Path, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "diptych.command.cli", "check", str(path), *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert "Traceback" not in result.stdout + result.stderr
    return result


def executed(*cells):
    """An 'executed' notebook: (source, execution_count, error name or None) per code cell."""
    made = []
    for source, count, error in cells:
        cell = new_code_cell(source, execution_count=count)
        if error:
            cell.outputs = [new_output("error", ename=error, evalue="boom", traceback=[])]
        made.append(cell)
    return new_notebook(cells=made)


def outcome(item, status=Status.PASSED, message="fine"):
    return Outcome(item.heading, status, message, f"{item.module}.{item.check}")


def test_verdicts_are_matched_by_exercise_not_by_position():
    notebook = executed(
        ("checks.central_difference(central_difference, adapter)", 4, None),
        ("checks.softplus_derivative(softplus_derivative, adapter)", 1, None),
        ("checks.outer_sum(outer_sum, adapter)", 2, None),
        ("checks.autograd_gradient(autograd_gradient, adapter)", 3, None),
    )
    recorded = [
        outcome(TENSORS[3], Status.FAILED, "four"),
        outcome(TENSORS[0]),
        outcome(TENSORS[2]),
    ]
    recorded.insert(2, outcome(TENSORS[1], Status.NOT_DONE, "two"))
    result = verdicts.verdicts(notebook, recorded, TENSORS)
    assert [v.status for v in result] == [
        Status.PASSED,
        Status.NOT_DONE,
        Status.PASSED,
        Status.FAILED,
    ]
    assert [v.exercise for v in result] == [item.heading for item in TENSORS]


def test_a_deleted_or_emptied_check_cell_is_not_checked():
    notebook = executed(
        ("checks.softplus_derivative(softplus_derivative, adapter)", 1, None),
        ("", None, None),
        ("# checks.outer_sum(outer_sum, adapter)", 2, None),
    )
    result = verdicts.verdicts(notebook, [outcome(TENSORS[0])], TENSORS)
    assert [v.status for v in result] == [Status.PASSED] + [Status.NOT_CHECKED] * 3
    assert "(`checks.outer_sum(...)`) is missing or empty" in result[1].message


def test_a_check_that_never_ran_or_crashed_says_so():
    notebook = executed(
        ("checks.softplus_derivative(softplus_derivative, adapter)", None, None),
        ("checks.outer_sum(outer_sum, adapter)", 2, "NameError"),
        ("checks.autograd_gradient(autograd_gradient, adapter)", 3, None),
    )
    result = verdicts.verdicts(notebook, [], TENSORS[:3])
    assert [v.status for v in result] == [Status.NOT_RUN, Status.FAILED, Status.FAILED]
    assert "did it fail?" in result[1].message and "reported nothing" in result[2].message


def test_the_lesson_is_found_by_its_import_or_else_by_its_folder(tmp_path):
    by_import = nbformat.v4.new_notebook(
        cells=[new_code_cell("from diptych.checks import mlp as checks")]
    )
    assert [e.module for e in verdicts.lesson_checks(by_import, tmp_path / "x.ipynb")] == [
        "mlp"
    ] * 5  # lesson 04's five exercises
    bare = nbformat.v4.new_notebook(cells=[])
    folder = tmp_path / "07_cnn" / "cnn_tensorflow.ipynb"
    assert verdicts.lesson_checks(bare, folder)[0].module == "cnn"
    assert verdicts.lesson_checks(bare, tmp_path / "notes.ipynb") == []


def refused(path: Path, capsys) -> str:
    """``diptych check PATH`` in this process, for input refused before any kernel starts (an
    exception main() let through would fail the test with its traceback): exit 2, and stderr."""
    assert main(["check", str(path)]) == 2
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    return printed.err


def test_missing_notebook_is_exit_2(tmp_path, capsys):
    assert "no such notebook" in refused(tmp_path / "nope.ipynb", capsys)


def test_truncated_json_is_exit_2(tmp_path, capsys):
    path = write_notebook(tmp_path / "nb.ipynb", "1")
    path.write_text(path.read_text()[:100])
    assert "not a valid notebook" in refused(path, capsys)


def test_a_notebook_without_checks_is_exit_2(tmp_path, capsys):
    assert "no exercise checks" in refused(write_notebook(tmp_path / "nb.ipynb", "1"), capsys)


@pytest.mark.slow
def test_deleting_an_unsolved_exercises_check_never_passes(tmp_path):
    """Quoted from a real try: delete the unsolved check cells and see "3 of 3 passed". A solved
    exercise, an unsolved one whose check cell is emptied, and one whose check cell is deleted."""
    path = write_notebook(
        tmp_path / "01_tensors" / "tensors_pytorch.ipynb",
        SETUP,
        "def outer_sum(a, b):\n    return a[:, None] + b[None, :]",
        CHECK,
        'def central_difference(fn, x, eps=1e-5):\n    raise NotImplementedError("not yet")',
        ("", ["exercise-check"]),  # its check cell, emptied
        'def standardise_rows(X):\n    raise NotImplementedError("not yet")',  # check deleted
    )
    result = check(path)
    assert result.returncode == 1, result.stdout
    assert "✓ Exercise 2: An outer sum by broadcasting — passed" in result.stdout
    assert "✗ Exercise 4: A central difference in one batch — not checked" in result.stdout
    assert "✗ Exercise 5: Standardise every row — not checked" in result.stdout
    assert "1 of 5 passed" in result.stdout and "4 not checked" in result.stdout


@pytest.mark.slow
def test_a_check_that_never_ran_reads_not_run_despite_saved_counts(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        SETUP,
        "import os\nos._exit(1)",
        "def outer_sum(a, b):\n    return a",
        CHECK,
    )
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        cell.execution_count = number + 1  # counts saved in the file, as Jupyter leaves them
    nbformat.write(notebook, path)
    result = check(path)
    assert result.returncode == 1 and "the kernel died while running cell 3" in result.stdout
    assert "? Exercise 2: An outer sum by broadcasting — not run" in result.stdout
    assert "ran but reported nothing" not in result.stdout


@pytest.mark.slow
def test_a_cell_that_loops_forever_is_stopped_by_the_timeout(tmp_path):
    # first, so that the timeout need not leave room for the set-up's framework import
    path = write_notebook(
        tmp_path / "nb.ipynb",
        "import time\nwhile True:  # forever, sleeping: a busy loop would take a CPU from the suite\n"
        "    time.sleep(0.05)",
        SETUP,
        "def outer_sum(a, b):\n    return a",
        CHECK,
    )
    result = check(path, "--timeout", "2")
    assert result.returncode == 1
    assert "ran longer than the per-cell timeout of 2 s" in result.stdout
    assert "not run" in result.stdout


@pytest.fixture(scope="module")
def two_failures(tmp_path_factory) -> subprocess.CompletedProcess:
    """One `diptych check` of a notebook with two exercises failed two ways: exercise 2 a wrong
    answer, exercise 5 a syntax error (so its check cell meets a NameError)."""
    path = write_notebook(
        tmp_path_factory.mktemp("two-failures") / "nb.ipynb",
        SETUP,
        "def outer_sum(a, b):\n    return a + b[:1]",
        CHECK,
        "def standardise_rows(X)\n    return X",
        ROWS_CHECK,
    )
    return check(path)


@pytest.mark.slow
def test_a_syntax_error_in_the_exercise_fails_its_check_with_a_hint(two_failures):
    result = two_failures
    assert result.returncode == 1
    (line,) = [line for line in result.stdout.splitlines() if "Exercise 5" in line]
    assert line.startswith(
        "✗ Exercise 5: Standardise every row — failed: the check could not run: NameError"
    )
    assert "did it fail?" in line  # the hint is this exercise's, not the wrong answer's


@pytest.mark.slow
def test_a_wrong_answer_fails_with_the_checks_message_in_terminal_words(two_failures):
    result = two_failures
    assert result.returncode == 1 and "shape (4,), expected (4, 3)" in result.stdout
    assert "0 of 5 passed, 2 failed, 0 not attempted, 3 not checked" in result.stdout
    assert "this cell" not in result.stdout and "this one" not in result.stdout
