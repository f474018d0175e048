"""Exercises are generated from solutions, stubs fail friendly, solutions pass, nothing is lost."""

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from diptych.command import exercises, registry
from diptych.command.cli import main

from helpers import REPO, save_notebook

EXERCISES = [p for lesson in registry.lessons(REPO, "exercises") for p in lesson.notebooks.values()]
SOLUTIONS = [p for lesson in registry.lessons(REPO, "solutions") for p in lesson.notebooks.values()]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def diptych_check(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diptych.command.cli", "check", str(path), *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


def test_every_lesson_with_a_notebook_has_exercises_and_the_counts_fit():
    lessons = {lesson.name for lesson in registry.lessons(REPO)}
    assert lessons == {lesson.name for lesson in registry.lessons(REPO, "solutions")}
    for path in SOLUTIONS:
        count = path.read_text(encoding="utf-8").count('"exercise-check"')
        assert 3 <= count <= 5, f"{path} has {count} exercises"


def test_exercises_are_in_sync_with_solutions(capsys):
    assert main(["exercises", "build", "--verify"]) == 0
    assert "in sync" in capsys.readouterr().out


def test_exercises_contain_no_solution_and_no_outputs():
    for path in EXERCISES:
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and exercises.STUB.split("(")[0] in text
        assert '"outputs": []' in text and '"output_type"' not in text


#: lesson 01's five exercises, solved in PyTorch, with the metadata nbgrader reads: a tiny,
#: purpose-made notebook for the tests of `diptych check` and nbgrader on a solved notebook (the
#: real solutions run once, under nbval, and tests/notebook_runs.py reads their checks from that)
SOLVED = {
    "softplus_derivative": "def softplus_derivative(x):\n    z = torch.exp(-torch.abs(x))\n"
    "    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))",
    "outer_sum": "def outer_sum(a, b):\n    return a[:, None] + b[None, :]",
    "autograd_gradient": "def autograd_gradient(fn, x):\n"
    "    x = x.detach().clone().requires_grad_(True)\n    fn(x).backward()\n    return x.grad",
    "central_difference": "def central_difference(fn, x, eps=1e-5):\n"
    "    steps = eps * torch.eye(len(x), dtype=x.dtype)\n"
    "    values = fn(torch.cat([x + steps, x - steps])).reshape(2, len(x))\n"
    "    return (values[0] - values[1]) / (2 * eps)",
    "standardise_rows": "def standardise_rows(X):\n"
    "    return (X - X.mean(dim=1, keepdim=True)) / X.std(dim=1, correction=0, keepdim=True)",
}


def tensors_exercises(path: Path, solved: bool) -> Path:
    """Lesson 01's exercises in PyTorch, solved or as untouched stubs, as nbgrader cells."""
    cells = [
        nbformat.v4.new_code_cell(
            "import torch\nfrom diptych.adapters import pytorch as adapter\n"
            "from diptych.checks import tensors as checks\nadapter.setup(seed=0)"
        )
    ]
    for number, (name, answer) in enumerate(SOLVED.items(), start=1):
        signature = answer.splitlines()[0]
        source = answer if solved else f"{signature}\n    {exercises.STUB}"
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {
            "grade": False,
            "grade_id": f"exercise_{number}",
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
        check = nbformat.v4.new_code_cell(f"checks.{name}({name}, adapter)")
        check.metadata["tags"] = ["exercise-check"]
        check.metadata["nbgrader"] = {
            "grade": True,
            "grade_id": f"exercise_{number}_check",
            "locked": True,
            "points": 1,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
        cells += [cell, check]
    return save_notebook(path, cells)


@pytest.mark.slow
def test_stubs_are_reported_not_done_and_the_file_is_untouched(tmp_path):
    path = tensors_exercises(tmp_path / "exercises_tensors_pytorch.ipynb", solved=False)
    before = sha(path)
    result = diptych_check(path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("… Exercise")]
    assert len(lines) == result.stdout.count("Exercise ") == 5
    assert all("not done yet" in line for line in lines)
    assert "Traceback" not in result.stdout + result.stderr
    assert sha(path) == before


@pytest.mark.slow
def test_diptych_check_passes_a_solved_notebook_and_leaves_it_untouched(tmp_path):
    path = tensors_exercises(tmp_path / "exercises_tensors_pytorch.ipynb", solved=True)
    before = sha(path)
    result = diptych_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 of 5 passed" in result.stdout and "0 failed, 0 not attempted" in result.stdout
    assert sha(path) == before


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_passes_its_checks_in_its_committed_outputs(path):
    """Each check cell's committed output says passed, and the cell is one nbval compares: nbval
    runs every solution afresh in the same suite, so a solution that stops passing fails there.
    (One execution of each solution serves both tests.)"""
    notebook = nbformat.read(path, as_version=4)
    cells = [c for c in notebook.cells if "exercise-check" in c.metadata.get("tags", [])]
    assert len(cells) >= 3
    for cell in cells:
        assert "nbval-check-output" in cell.metadata["tags"], cell.source
        text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
        assert text.startswith("✓ Exercise") and " — passed: " in text, cell.source


def test_every_check_is_an_nbgrader_test_and_every_exercise_an_answer_cell():
    """nbgrader's Validate (in the learner's JupyterLab) and autograde see the same exercises."""
    for path in SOLUTIONS + EXERCISES:
        cells = nbformat.read(path, as_version=4).cells
        graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
        answers = [c for c in cells if c.metadata.get("nbgrader", {}).get("solution")]
        checks = [c for c in cells if "exercise-check" in c.metadata.get("tags", [])]
        assert graded == checks and len(answers) == len(checks) >= 3, path
        ids = [c.metadata.nbgrader.grade_id for c in graded + answers]
        assert len(set(ids)) == len(ids), path


def test_every_solution_earns_full_points_from_its_committed_outputs():
    from nbgrader.utils import determine_grade

    for path in SOLUTIONS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                assert determine_grade(cell) == (1.0, 1.0), (path, cell.source)


def test_the_kernelspec_is_what_jupyterlab_writes_so_validating_leaves_files_clean():
    from ipykernel.kernelspec import get_kernel_dict

    display_name = get_kernel_dict()["display_name"]
    for path in SOLUTIONS + EXERCISES:
        spec = nbformat.read(path, as_version=4).metadata.kernelspec
        assert (spec.name, spec.display_name) == ("python3", display_name), path


def nbgrader_validate(*paths: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`nbgrader validate` over the notebooks given, as a learner runs it; nbgrader validates them
    in this order and prints one report each to stdout (its log and the kernels' go to stderr)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), "validate", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def untouched_exercises_validated(tmp_path_factory) -> tuple[dict[Path, str], dict[Path, str]]:
    """One `nbgrader validate` over every exercise notebook, as a learner may run it, and a tiny
    solved one last (the command's own start-up is 2 s, 20 times over otherwise; each exercise
    stub is executed here and nowhere else): each notebook's report, split at the verdict line
    that starts it, and each file's hash from before the run."""
    solved = tensors_exercises(tmp_path_factory.mktemp("solved") / "solved.ipynb", solved=True)
    paths = [*EXERCISES, solved]
    before = {path.resolve(): sha(path) for path in paths}
    result = nbgrader_validate(*paths, timeout=1200)
    verdict = (
        r"^(?=VALIDATION FAILED ON |Success! |NOTEBOOK PASSED ON |THE CONTENTS OF |THE TYPES OF )"
    )
    reports = [
        part for part in re.split(verdict, result.stdout, flags=re.MULTILINE) if part.strip()
    ]
    assert len(reports) == len(paths), result.stdout[-3000:] + result.stderr[-3000:]
    return dict(zip(before, reports, strict=True)), before


@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_nbgrader_validate_fails_every_untouched_exercise_naming_each(
    path, untouched_exercises_validated
):
    reports, before = untouched_exercises_validated
    report = reports[path.resolve()]
    titles = [t for t in re.findall(r"… (Exercise \d)", report)]
    assert "VALIDATION FAILED ON" in report, report
    assert titles == [f"Exercise {i}" for i in range(1, len(titles) + 1)] and len(titles) >= 3, (
        report
    )
    # the titles of this notebook's own exercises: the report is this notebook's
    headings = re.findall(r"… (Exercise \d: .+?) — ", report)
    assert len(headings) == len(titles) and all(
        h in path.read_text(encoding="utf-8") for h in headings
    )
    assert "Traceback" not in report
    assert sha(path) == before[path.resolve()]


@pytest.mark.slow
def test_nbgrader_validate_passes_a_solved_notebook_and_leaves_it_untouched(
    untouched_exercises_validated,
):
    reports, before = untouched_exercises_validated
    path, report = list(reports.items())[-1]
    assert "Success! Your notebook passes all the tests." in report, report
    assert sha(path) == before[path]


@pytest.fixture
def curriculum(tmp_path, monkeypatch):
    """A copy of the repository's solutions and exercises, to build into."""
    for kind in ("notebooks", "solutions", "exercises"):
        shutil.copytree(REPO / kind, tmp_path / kind)
    monkeypatch.setenv("DIPTYCH_ROOT", str(tmp_path))
    return tmp_path


def test_build_refuses_to_overwrite_an_edited_exercise(curriculum, capsys):
    edited = curriculum / "exercises/01_tensors/exercises_tensors_pytorch.ipynb"
    edited.write_text(edited.read_text().replace("raise NotImplementedError", "return x  # my try"))
    learner_work = edited.read_bytes()
    (
        curriculum / "exercises/02_gradient_descent/exercises_gradient_descent_tensorflow.ipynb"
    ).unlink()
    assert main(["exercises", "build"]) == 1
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "tensors_pytorch.ipynb" in err and "--force" in err
    assert edited.read_bytes() == learner_work
    assert not (
        curriculum / "exercises/02_gradient_descent/exercises_gradient_descent_tensorflow.ipynb"
    ).exists()


def test_force_keeps_a_backup_of_the_learners_work(curriculum, capsys):
    edited = curriculum / "exercises/01_tensors/exercises_tensors_pytorch.ipynb"
    edited.write_text(edited.read_text().replace("raise NotImplementedError", "return x  # my try"))
    learner_work = edited.read_bytes()
    assert main(["exercises", "build", "--force"]) == 0
    backups = list(
        (curriculum / "exercises/backups/01_tensors").glob("exercises_tensors_pytorch-*.ipynb")
    )
    assert len(backups) == 1 and backups[0].read_bytes() == learner_work
    assert str(backups[0].relative_to(curriculum)) in capsys.readouterr().out
    assert main(["exercises", "build", "--verify"]) == 0


def test_a_changed_solution_rebuilds_an_untouched_exercise_and_check_names_it(curriculum, capsys):
    solution = curriculum / "solutions/02_gradient_descent/exercises_gradient_descent_pytorch.ipynb"
    text = solution.read_text()
    assert "Five exercises" in text  # the edit below must change something
    solution.write_text(text.replace("Five exercises", "Five good exercises"))
    assert main(["exercises", "build", "--verify"]) == 1
    assert (
        "out of sync: exercises/02_gradient_descent/exercises_gradient_descent_pytorch.ipynb"
        in capsys.readouterr().out
    )
    assert main(["exercises", "build"]) == 0  # the exercise was untouched since the last build
    assert (
        "Five good exercises"
        in (
            curriculum / "exercises/02_gradient_descent/exercises_gradient_descent_pytorch.ipynb"
        ).read_text()
    )
    assert main(["exercises", "build", "--verify"]) == 0


def test_build_without_nbgrader_names_the_extra_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "nbgrader.preprocessors", None)
    assert main(["exercises", "build", "--verify"]) == 2
    err = capsys.readouterr().err
    assert "nbgrader (used by the exercise builder) is not installed" in err and "'.[dev]'" in err


LINK = re.compile(r"\]\(([^)#\s]+\.ipynb)\)")


def test_every_link_between_lessons_twins_and_exercises_resolves_from_the_root():
    """JupyterLab started at the root (as the README says) serves every notebook these links name."""
    lessons = [p for lesson in registry.lessons(REPO) for p in lesson.notebooks.values()]
    for path in lessons + SOLUTIONS + EXERCISES:
        cells = nbformat.read(path, as_version=4).cells
        for link in LINK.findall("\n".join(c.source for c in cells if c.cell_type == "markdown")):
            target = (path.parent / link).resolve()
            assert target.is_file() and REPO in target.parents, (path, link)


def test_the_old_option_name_still_verifies(capsys):
    """`--check` was the option's name before "check" meant an exercise's check only."""
    assert main(["exercises", "build", "--check"]) == 0
    assert "in sync" in capsys.readouterr().out
