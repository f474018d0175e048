"""Every lesson is a pair of twins with the same H2 headings in the same order."""

import json
from pathlib import Path

import nbformat
import pytest

from diptych import frameworks
from diptych.checks import exercises_of
from diptych.command import registry
from diptych.command.sections import pairing_key

from helpers import REPO


def h2_headings(path: Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [
        pairing_key(line.strip())
        for cell in notebook["cells"]
        if cell["cell_type"] == "markdown"
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("## ")
    ]


ALL_LESSONS = [lesson for kind in registry.KINDS for lesson in registry.lessons(REPO, kind)]
#: the curriculum's frameworks: every lesson is a pair of twins in these two (a framework a
#: package adds to the table brings notebooks of its own; docs/design.md, "A further framework")
TWINS = (frameworks.PYTORCH.key, frameworks.TENSORFLOW.key)


@pytest.mark.parametrize(
    "lesson", ALL_LESSONS, ids=lambda lesson: f"{lesson.folder.parent.name}/{lesson.name}"
)
def test_both_twins_exist_with_the_same_headings(lesson):
    assert set(lesson.notebooks) >= set(TWINS), f"{lesson.folder} lacks a twin"
    pytorch, tensorflow = (h2_headings(lesson.notebooks[fw]) for fw in TWINS)
    assert pytorch == tensorflow
    if lesson.folder.parent.name == "notebooks":
        for heading in ("## Learning goals", "## Setup", "## Parity", "## Exercises", "## Summary"):
            assert heading in pytorch, f"{lesson.name} lacks the template's {heading!r}"


@pytest.mark.parametrize("lesson", registry.lessons(REPO), ids=lambda lesson: lesson.name)
def test_lesson_notebooks_carry_title_runtime_and_a_link_to_the_twin(lesson):
    for framework, path in lesson.notebooks.items():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        meta = notebook["metadata"]["diptych"]
        assert meta["title"] and meta["expected_seconds"] <= 30
        if framework not in TWINS:
            continue
        (other,) = set(TWINS) - {framework}
        assert f"({lesson.slug}_{other}.ipynb)" in "".join(notebook["cells"][0]["source"])


def test_every_lesson_has_parity_checks_whose_output_nbval_compares():
    for lesson in registry.lessons(REPO):
        for path in lesson.notebooks.values():
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            checked = [
                c for c in cells if "nbval-check-output" in c.get("metadata", {}).get("tags", [])
            ]
            assert checked, f"{path} has no cell tagged nbval-check-output"
            assert any("parity.matches_reference" in "".join(c["source"]) for c in checked), (
                f"{path}: no checked parity cell"
            )
            assert all(c["outputs"] for c in checked), (
                f"{path}: a checked cell has no committed output"
            )


TENSORFLOW_NOTEBOOKS = [
    path
    for kind in registry.KINDS
    for lesson in registry.lessons(REPO, kind)
    for framework, path in lesson.notebooks.items()
    if framework == "tensorflow"
]


@pytest.mark.parametrize(
    "path", TENSORFLOW_NOTEBOOKS, ids=lambda p: f"{p.parent.parent.name}/{p.name}"
)
def test_tensorflow_notebooks_take_their_environment_from_the_adapter(path):
    """The adapter sets TensorFlow's quiet, exact environment (optional.QUIET_TENSORFLOW) before
    it imports TensorFlow, so no notebook pastes those lines; it must come first."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert "TF_CPP_MIN_LOG_LEVEL" not in code and "TF_ENABLE_ONEDNN_OPTS" not in code
    adapter = code.index("from diptych.adapters import tensorflow as adapter")
    for module in ("import tensorflow as tf", "import keras"):  # a notebook may use Keras alone
        assert module not in code or adapter < code.index(module)
    assert "import tensorflow as tf" in code or "import keras" in code


@pytest.mark.parametrize("kind", ["solutions", "exercises"])
def test_each_exercise_has_one_identity_its_check_modules(kind, repo):
    """The notebooks' exercise headings are the check module's, word for word and in order: the
    number and title a learner reads are the ones every check line and `diptych check` print."""
    for lesson in registry.lessons(repo, kind):
        expected = [f"## {item.heading}" for item in exercises_of(lesson.slug)]
        assert expected, f"{lesson.name} has no checks module"
        for path in lesson.notebooks.values():
            notebook = nbformat.read(path, as_version=4)
            headings = [
                line
                for cell in notebook.cells
                if cell.cell_type == "markdown"
                for line in cell.source.splitlines()
                if line.startswith("## Exercise")
            ]
            assert headings == expected, path
