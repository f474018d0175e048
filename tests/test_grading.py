"""`diptych check` on broken inputs: one clear message, the documented exit code, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_notebook

REPO = Path(__file__).resolve().parents[1]
SETUP = (
    "from diptych.adapters import pytorch as adapter\nfrom diptych.checks import tensors as checks"
)
CHECK = ("checks.outer_sum(outer_sum, adapter)", ["exercise-check"])


def check(path: Path, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "diptych.cli", "check", str(path), *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_missing_notebook_is_exit_2(tmp_path):
    result = check(tmp_path / "nope.ipynb")
    assert result.returncode == 2 and "no such notebook" in result.stderr


def test_truncated_json_is_exit_2(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", "1")
    path.write_text(path.read_text()[:100])
    result = check(path)
    assert result.returncode == 2 and "not a valid notebook" in result.stderr


def test_a_notebook_without_checks_is_exit_2(tmp_path):
    result = check(write_notebook(tmp_path / "nb.ipynb", "1"))
    assert result.returncode == 2 and "no exercise checks" in result.stderr


@pytest.mark.slow
def test_a_cell_that_loops_forever_is_stopped_by_the_timeout(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        SETUP,
        "while True:\n    pass",
        "def outer_sum(a, b):\n    return a",
        CHECK,
    )
    result = check(path, "--timeout", "10")
    assert result.returncode == 1
    assert "ran longer than the per-cell timeout of 10 s" in result.stdout
    assert "not run" in result.stdout


@pytest.mark.slow
def test_a_kernel_that_exits_is_reported_with_its_cell(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", SETUP, "import os\nos._exit(1)", CHECK)
    result = check(path)
    assert result.returncode == 1 and "the kernel died while running cell 3" in result.stdout


@pytest.mark.slow
def test_a_syntax_error_in_the_exercise_fails_its_check_with_a_hint(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        SETUP,
        "## Exercise 2: Outer sum",
        "def outer_sum(a, b)\n    return a",
        CHECK,
    )
    result = check(path)
    assert result.returncode == 1
    assert "✗ Exercise 2: Outer sum: failed — the check could not run: NameError" in result.stdout
    assert "did it fail?" in result.stdout


@pytest.mark.slow
def test_a_wrong_answer_fails_with_the_checks_message(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb", SETUP, "def outer_sum(a, b):\n    return a + b[:1]", CHECK
    )
    result = check(path)
    assert result.returncode == 1 and "shape (4,), expected (4, 3)" in result.stdout
    assert "0 of 1 passed, 1 failed" in result.stdout
