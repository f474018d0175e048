"""CONTRIBUTING.md, followed: what it names exists, its commands are accepted, and a throwaway
lesson added as it tells an author passes the tests it names and builds its exercises.

The lesson is written into a temporary copy of the repository that holds only what the steps
touch (``pyproject.toml``, the package, the tests the guide runs), and it takes from the guide's
own text whatever the guide states concretely: the file names from step 1's layout, the check
module's path and its decorator (``@exercise("title")``) from step 6, the cells' tags and nbgrader
fields from step 6's list. Where the guide changes, the lesson changes with it, and a wrong
example fails here.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from diptych.command import registry, sections
from diptych.command.cli import build_parser, main

from helpers import REPO

GUIDE = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
SRC = REPO / "src" / "diptych"

# --- what the guide names ---------------------------------------------------------------------

#: a backticked repository path: a file with an extension, or a folder ending in "/"
PATH = re.compile(r"^[\w.-]+(?:/[\w.-]+)*(?:\.(?:py|md|in|sh|txt|toml|ipynb)|/)$")
#: a backticked dotted name, up to a call's parenthesis: ``parity.matches_reference(name, …)``
DOTTED = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(|$)")


def backticked() -> list[str]:
    return re.findall(r"`([^`\n]+)`", GUIDE)


def code_lines() -> list[str]:
    """The lines of the guide's fenced blocks, comments dropped."""
    blocks = re.findall(r"^```\w*\n(.*?)^```", GUIDE, re.MULTILINE | re.DOTALL)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]


def resolves(dotted: str) -> bool:
    """True when ``dotted`` (``diptych.x.y`` or ``x.y`` for a module ``diptych.x``) names a module
    or an attribute of one."""
    parts = dotted.split(".")
    parts = parts if parts[0] == "diptych" else ["diptych", *parts]
    for cut in range(len(parts), 1, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def adapter_names(framework: str) -> set[str]:
    """The names an adapter module defines at its top level (read, not imported: importing it
    imports its framework)."""
    import ast

    tree = ast.parse((SRC / "adapters" / f"{framework}.py").read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        for target in getattr(node, "targets", []):
            names |= {target.id} if isinstance(target, ast.Name) else set()
    return names


def test_every_path_and_name_the_guide_gives_exists():
    modules = {path.stem for path in SRC.iterdir() if path.suffix == ".py" or path.is_dir()}
    missing = []
    for token in backticked():
        if any(mark in token for mark in ("<", "NN", "…")) or token.startswith("/"):
            continue  # a placeholder, or a scratch file the guide makes
        if PATH.match(token):
            if not ((REPO / token).exists() or (SRC / token).exists()):
                missing.append(token)
            continue
        named = DOTTED.match(token)
        if not named:
            continue
        dotted = named.group(1)
        first, _, rest = dotted.partition(".")
        if first == "adapter":  # a name both adapters share
            if not all(rest in adapter_names(fw) for fw in ("pytorch", "tensorflow")):
                missing.append(token)
        elif (first == "diptych" or first in modules) and not resolves(dotted):
            missing.append(token)
    assert missing == []


def guide_commands(program: str) -> list[str]:
    """Every command line for ``program`` the guide gives, in backticks or in a code block,
    with what comes after ``program``."""
    found = []
    for line in [*backticked(), *code_lines()]:
        command = re.match(rf"^(?:\.venv/bin/)?{program} (.+)$", line.strip())
        if command:
            found.append(command.group(1))
    return found


def test_every_command_the_guide_gives_is_accepted():
    diptych_lines = guide_commands("diptych")
    assert any(line.startswith("exercises build") for line in diptych_lines)
    refused = []
    for line in diptych_lines:
        try:
            build_parser().parse_args(shlex.split(line.replace("NN", "08")))
        except SystemExit:
            refused.append(line)
    assert refused == []
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    assert {line.split()[0] for line in guide_commands("make")} <= targets


# --- a throwaway lesson, written as the guide says ---------------------------------------------

SLUG, NUMBER = "throwaway", "99"
LESSON = f"{NUMBER}_{SLUG}"
NAMES = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}
#: (check, title, the right answer's body, a typical mistake, the mistake's hint): 3 exercises
EXERCISES = [
    ("doubled", "Doubling an array", "2 * x", "x + 2", "that adds two; the exercise multiplies"),
    ("negated", "Negating an array", "-x", "1 / x", "that is the reciprocal, not the opposite"),
    ("squared", "Squaring an array", "x * x", "2 * x", "that doubles; multiply x by itself"),
]
#: what step 8's tests read besides the package and themselves: the conftests, the notebooks'
#: plugin and its store of kept runs, and the design notes' *Layers*
TEST_SUPPORT = [
    "conftest.py",
    "tests/conftest.py",
    "tests/helpers.py",
    "tests/notebook_runs.py",
    "tests/reused_runs.py",
    "docs/design.md",
]
#: step 8's tests that read the outputs a real run commits (the slow test makes them first)
READ_COMMITTED_OUTPUTS = [
    "tests/test_pairing.py::test_every_lesson_has_parity_checks_whose_output_nbval_compares",
    "tests/test_exercises.py::test_every_solution_passes_its_checks_in_its_committed_outputs",
    "tests/test_exercises.py::test_every_solution_earns_full_points_from_its_committed_outputs",
]
#: step 8's tests that try the build on the repository's own lessons 01 and 02, which the copy
#: leaves out: they judge the command, not the new lesson
ON_THE_REPOSITORYS_LESSONS = [
    "tests/test_exercises.py::test_build_refuses_to_overwrite_an_edited_exercise",
    "tests/test_exercises.py::test_force_keeps_a_backup_of_the_learners_work",
    "tests/test_exercises.py::test_a_changed_solution_rebuilds_an_untouched_exercise_and_check_names_it",
]


def step(number: int) -> str:
    """The text of the guide's step ``number``."""
    found = re.search(rf"^## {number}\. .*?(?=^## |\Z)", GUIDE, re.MULTILINE | re.DOTALL)
    assert found, f"CONTRIBUTING.md has no step {number}"
    return found.group(0)


def step_8_tests() -> list[str]:
    """The test modules step 8's pytest command runs (``tests/test_<module>.py`` aside)."""
    block = re.search(r"^```bash\n(\.venv/bin/python -m pytest .*?)^```", step(8), re.M | re.S)
    assert block, "step 8 no longer runs the lesson's tests with pytest"
    return re.findall(r"\btests/test_\w+\.py\b", block.group(1))


def layout() -> dict[str, Path]:
    """Step 1's file names for lesson 08, renamed for the throwaway lesson: "notebooks/pytorch",
    "solutions/tensorflow", ... -> the path relative to the repository."""
    block = re.search(r"^```\n(.*?)^```", step(1), re.MULTILINE | re.DOTALL)
    assert block, "step 1 has no layout block"
    paths = {}
    for line in block.group(1).splitlines():
        folder = None
        for token in line.split():
            if "/" in token:
                folder = Path(token).parent
            if token.endswith(".ipynb") and folder is not None:
                name = Path(token).name.replace("porting", SLUG)
                kind = folder.parts[0]
                framework = name.removesuffix(".ipynb").rsplit("_", 1)[1]
                paths[f"{kind}/{framework}"] = Path(kind, LESSON, name)
    return paths


def check_module() -> tuple[Path, str]:
    """Where step 6 puts a lesson's checks, and its decorator's form."""
    where = re.search(r"`(src/diptych/checks/<slug>\.py)`", step(6))
    decorator = re.search(r"`(@exercise\([^`]*\))`", step(6))
    assert where and decorator, "step 6 no longer says where checks go and how they are marked"
    return Path(where.group(1).replace("<slug>", SLUG)), decorator.group(1)


SUCCESS = "right on a 3×4 array, which it leaves as it was"


def check_source(decorator: str) -> str:
    """The lesson's check module: one check per exercise, in the form step 6 describes."""
    source = f'''"""Self-checks for lesson {NUMBER}'s exercises: a lesson tests/test_contributing.py writes."""

from __future__ import annotations

from typing import Any

import numpy as np

from diptych.checks import Mismatch, as_numpy, expect_unchanged, exercise, fresh_rng, snapshot
'''
    for name, title, right, wrong, hint in EXERCISES:
        source += f'''

{decorator.replace("title", title)}
def {name}(learner: Any, adapter: Any) -> str:
    """{title}: elementwise, on a non-square array that must stay as it was."""
    x = fresh_rng("{name}").normal(size=(3, 4))
    tensor = adapter.from_numpy(x)
    before = snapshot(tensor)
    got = as_numpy(learner(tensor), "{name}")
    expect_unchanged(before, [tensor], ["x"])
    if got.shape == x.shape and np.allclose(got, {wrong}):
        raise Mismatch("{hint}")
    if got.shape != x.shape or not np.allclose(got, {right}):
        raise Mismatch("not the array the exercise asks for, elementwise")
    return "{SUCCESS}"
'''
    return source


def markdown(source: str, **metadata: object) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source)
    cell.metadata.update(metadata)
    return cell


def code(source: str, **metadata: object) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata.update(metadata)
    return cell


#: what the throwaway's Parity section records, four values (the fewest the suite accepts): each
#: name's framework expression (of the tensor ``t``) and the NumPy reference it is checked against
RECORDED = {
    "doubled": ("2 * {t}", "x + x"),
    "squared": ("{t} * {t}", "x * x"),
    "negated": ("-{t}", "-x"),
    "halved": ("{t} / 2", "x / 2"),
}

#: step 2's one cell of imports; a TensorFlow notebook imports diptych's adapter first
IMPORTS = {
    "pytorch": [
        "import numpy as np",
        "import torch",
        "",
        "from diptych import parity",
        "from diptych.adapters import pytorch as adapter",
    ],
    "tensorflow": [
        "from diptych.adapters import tensorflow as adapter  # first: TensorFlow's environment",
        "import numpy as np",
        "import tensorflow as tf",
        "",
        "from diptych import parity",
    ],
}


def imports(framework: str) -> str:
    return "\n".join(IMPORTS[framework])


def lesson_notebook(framework: str, paths: dict[str, Path], time: str) -> nbformat.NotebookNode:
    """A twin in step 2's template: header, the template's headings, a folded Parity section
    whose checked cell compares the framework's own value with NumPy's."""
    other = next(fw for fw in NAMES if fw != framework)
    own = "torch.from_numpy(x)" if framework == "pytorch" else "tf.constant(x)"
    exercises = f"../../exercises/{LESSON}/{paths[f'solutions/{framework}'].name}"
    collapsed = {sections.COLLAPSED: True}
    notebook = new_notebook(
        cells=[
            markdown(
                f"# Throwaway — {NAMES[framework]}\n\nDoubles an array in {NAMES[framework]} "
                f"and checks it against NumPy.\n\n*Twin notebook:* [Throwaway — {NAMES[other]}]"
                f"({paths[f'notebooks/{other}'].name}) doubles the same array.\n{time}"
            ),
            markdown("## Learning goals\n\nBy the end of this notebook you can double an array."),
            markdown(
                "## Setup\n\nThe imports, then `adapter.setup`: seeds, deterministic kernels."
            ),
            code(imports(framework)),
            code("print(adapter.setup(seed=0))"),
            markdown("## Doubling\n\nThe framework doubles the array; NumPy's `x + x` checks it."),
            code(
                "x = np.arange(6.0).reshape(2, 3)  # (2, 3)\n"
                + "".join(
                    f"{name} = adapter.to_numpy({framework.format(t=own)})\n"
                    for name, (framework, _) in RECORDED.items()
                )
                + "doubled"
            ),
            markdown("## Summary\n\n* An array doubles element by element, in any framework."),
            markdown(f"## Exercises\n\n[Three exercises]({exercises}) on arrays, elementwise."),
            markdown("## Parity\n\nThe framework's doubling against NumPy's.", **collapsed),
            code(
                "\n".join(
                    f'parity.matches_reference("{name}", {name}, {numpy}, atol=1e-12)'
                    for name, (_, numpy) in RECORDED.items()
                ),
                tags=["nbval-check-output"],
            ),
        ]
    )
    return with_metadata(notebook, framework, "Throwaway")


def solution_notebook(framework: str, paths: dict[str, Path]) -> nbformat.NotebookNode:
    """Worked exercises in step 6's form: title, *How to work*, *Setup*, per exercise its section,
    the answer cell and the check cell, then *What next*."""
    lesson = f"../../notebooks/{LESSON}/{paths[f'notebooks/{framework}'].name}"
    other = next(fw for fw in NAMES if fw != framework)
    cells = [
        markdown(
            f"# Exercises: Throwaway — {NAMES[framework]}\n\nThree exercises on [the lesson]"
            f"({lesson}). *Twin:* [the same exercises in {NAMES[other]}]"
            f"({paths[f'solutions/{other}'].name}).\n\n**How to work.** Replace the line "
            "`raise NotImplementedError(...)` with your code, run the cell, then the check below it."
        ),
        markdown("## Setup\n\nThe imports, the adapter and this lesson's checks."),
        code(imports(framework) + f"\nfrom diptych.checks import {SLUG} as checks"),
        code("print(adapter.setup(seed=0))"),
    ]
    answer = dict(grade=False, locked=False, schema_version=3, solution=True, task=False)
    check = dict(grade=True, locked=True, points=1, schema_version=3, solution=False, task=False)
    for number, (name, title, right, _, _) in enumerate(EXERCISES, start=1):
        cells += [
            markdown(
                f"## Exercise {number}: {title}\n\n**Write** `{name}(x)`. **Input:** a tensor "
                "`x`. **Output:** the same shape. **Checked:** on a 3×4 array it leaves unchanged."
            ),
            code(
                f"def {name}(x):\n    ### BEGIN SOLUTION\n    return {right}\n    ### END SOLUTION",
                nbgrader={**answer, "grade_id": f"exercise_{number}"},
            ),
            code(
                f"checks.{name}({name}, adapter)",
                nbgrader={**check, "grade_id": f"exercise_{number}_check"},
                tags=["exercise-check", "nbval-check-output"],
            ),
        ]
    cells.append(markdown("## What next\n\nBack to [the lesson](" + lesson + ")."))
    return with_metadata(new_notebook(cells=cells), framework, "Exercises: Throwaway")


def with_metadata(
    notebook: nbformat.NotebookNode, framework: str, title: str
) -> nbformat.NotebookNode:
    """Step 2's metadata: ``diptych`` (title, framework, expected seconds) and the kernelspec."""
    notebook.metadata["diptych"] = {"title": title, "framework": framework, "expected_seconds": 5}
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    return notebook


def test_step_6_names_every_field_the_throwaway_solutions_carry():
    """The cells' tags and nbgrader fields above are step 6's, word for word."""
    text = step(6)
    for field in ("`exercise-check`", "`nbval-check-output`", "`grade_id` `exercise_N`"):
        assert field in text
    for field in ("`solution: true`", "`grade: true`", "`points: 1`", "`exercise_N_check`"):
        assert field in text
    for marker in ("`### BEGIN SOLUTION`", "`### END SOLUTION`", "*Exercises:*", "*What next*"):
        assert marker in text


def write_lesson(root: Path) -> None:
    """Steps 1, 2 and 6 in ``root``: the twins, the worked solutions and the check module."""
    paths = layout()
    assert sorted(paths) == [
        "notebooks/pytorch",
        "notebooks/tensorflow",
        "solutions/pytorch",
        "solutions/tensorflow",
    ], "step 1's layout no longer shows a lesson's twins and their worked exercises"
    where, decorator = check_module()
    (root / where).write_text(check_source(decorator), encoding="utf-8")
    for framework in NAMES:
        path = root / paths[f"solutions/{framework}"]
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(solution_notebook(framework, paths), path)
    for framework in NAMES:  # the header's Time line, computed from the notebook as step 2 says
        path = root / paths[f"notebooks/{framework}"]
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(lesson_notebook(framework, paths, "*Time:* …"), path)
        (lesson,), (solutions,) = registry.lessons(root), registry.lessons(root, "solutions")
        minutes = lesson.minutes(solutions)[framework]
        time = sections.time_line(minutes.core, minutes.exercises, minutes.deeper, 5)
        nbformat.write(lesson_notebook(framework, paths, time), path)


@pytest.fixture(scope="module")
def throwaway(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with no lesson but the throwaway one, written as the guide says."""
    root = tmp_path_factory.mktemp("clone") / "diptych"
    shutil.copytree(
        SRC, root / "src" / "diptych", ignore=shutil.ignore_patterns("__pycache__", "site_assets")
    )
    shutil.copy2(REPO / "pyproject.toml", root)
    for name in [*step_8_tests(), *TEST_SUPPORT]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    for kind in registry.KINDS:
        (root / kind).mkdir()
    write_lesson(root)
    return root


def in_copy(root: Path, *command: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python COMMAND`` in the copy, with the copy's package first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DIPTYCH_"))}
    env["PYTHONPATH"] = str(root / "src")
    return subprocess.run(
        [sys.executable, *command],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def guide_tests(root: Path, *options: str) -> subprocess.CompletedProcess:
    """Step 8's pytest command, run in the copy (in one process: ``-n 0``)."""
    return in_copy(root, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", *options)


def deselected(names: list[str]) -> list[str]:
    """Step 8's test modules, less the tests ``names``."""
    return [*(f"--deselect={name}" for name in names), *step_8_tests()]


#: step 6: a check uses nothing of the adapter but NAME, from_numpy and load_dense, so a NumPy
#: adapter runs it; each right answer passes and each typical mistake is named
PROBE = f"""
import types
import numpy as np
from diptych.checks import {SLUG} as checks
adapter = types.SimpleNamespace(NAME="NumPy", from_numpy=lambda array: np.array(array, copy=True))
for name, right, wrong in {[(name, right, wrong) for name, _, right, wrong, _ in EXERCISES]!r}:
    getattr(checks, name)(eval("lambda x: " + right), adapter)
    getattr(checks, name)(eval("lambda x: " + wrong), adapter)
"""


def test_the_throwaway_checks_pass_right_answers_and_name_typical_mistakes(throwaway):
    result = in_copy(throwaway, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    passed, failed = result.stdout.splitlines(), result.stderr.splitlines()
    headings = [f"Exercise {n}: {title}" for n, (_, title, *_) in enumerate(EXERCISES, start=1)]
    assert passed == [f"✓ {heading} — passed: {SUCCESS}" for heading in headings]
    assert failed == [
        f"✗ {h} — failed: {hint}" for h, (*_, hint) in zip(headings, EXERCISES, strict=True)
    ]


def test_a_lesson_added_as_the_guide_says_is_listed_paired_and_builds_its_exercises(
    throwaway, monkeypatch, capsys
):
    monkeypatch.delenv(registry.ROOT_ENV, raising=False)
    monkeypatch.chdir(throwaway)
    assert main(["list"]) == 0
    assert LESSON in capsys.readouterr().out  # step 1: nothing else lists the lessons
    assert main(["exercises", "build", "--verify"]) == 1  # step 6: not built yet
    assert main(["exercises", "build"]) == 0
    assert main(["exercises", "build", "--verify"]) == 0
    for framework in NAMES:  # the learner's copies: each answer a stub, each check kept
        solution = layout()[f"solutions/{framework}"]
        exercise = nbformat.read(throwaway / "exercises" / LESSON / solution.name, as_version=4)
        answers = [cell.source for cell in exercise.cells if "nbgrader" in cell.metadata]
        assert [source.count("NotImplementedError") for source in answers[::2]] == [1, 1, 1]
        assert not any("### BEGIN SOLUTION" in source for source in answers)
        assert answers[1::2] == [f"checks.{name}({name}, adapter)" for name, *_ in EXERCISES]
    # step 8's tests that execute no notebook and judge this lesson
    deselect = [*READ_COMMITTED_OUTPUTS, *ON_THE_REPOSITORYS_LESSONS]
    result = guide_tests(throwaway, "-m", "not slow and not lock", *deselected(deselect))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.guide
def test_diptych_run_runs_the_throwaway_lesson_and_saves_its_outputs(throwaway, tmp_path):
    """Step 8 in full: both runs that save outputs (framework kernels: PyTorch's and
    TensorFlow's), then its pytest command, nbval over the lesson and its solutions included."""
    results = tmp_path / "run.json"
    command = ["-m", "diptych.command.cli", "run", NUMBER, "--save-outputs", "--no-progress"]
    run = in_copy(throwaway, *command, "--json", str(results))
    assert run.returncode == 0, run.stdout + run.stderr
    (lesson,) = json.loads(results.read_text(encoding="utf-8"))["lessons"]
    assert {name: row["status"] for name, row in lesson["values"].items()} == dict.fromkeys(
        RECORDED, "yes"
    )
    solved = in_copy(throwaway, *command, "--solutions")
    assert solved.returncode == 0, solved.stdout + solved.stderr
    built = in_copy(throwaway, "-m", "diptych.command.cli", "exercises", "build")
    assert built.returncode == 0, built.stdout + built.stderr
    notebooks = [f"{kind}/{LESSON}" for kind in ("notebooks", "solutions")]
    result = guide_tests(throwaway, *deselected(ON_THE_REPOSITORYS_LESSONS), *notebooks)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.guide
@pytest.mark.parametrize("framework", list(NAMES))
def test_diptych_check_passes_the_throwaway_worked_solutions(throwaway, framework):
    """Step 6: the worked solutions pass every check (a framework kernel each)."""
    solution = layout()[f"solutions/{framework}"]
    result = in_copy(throwaway, "-m", "diptych.command.cli", "check", str(solution))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(EXERCISES)} of {len(EXERCISES)} passed, 0 failed" in result.stdout
