"""A learner with only one framework installed can take that framework's track.

The other framework is made unimportable by a package of the same name, earlier on the path,
whose import fails (as it would if it were not installed); the kernel inherits that path.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diptych.command import registry

from helpers import REPO, write_notebook

BLOCKED = {"pytorch": ["tensorflow", "keras"], "tensorflow": ["torch"]}


def without(tmp_path: Path, modules: list[str]) -> dict[str, str]:
    for module in modules:
        (tmp_path / module).mkdir()
        (tmp_path / module / "__init__.py").write_text(
            f"raise ImportError('{module} is not installed')\n"
        )
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }


#: a lesson's first cells in each track, as every lesson has them (imports and setup), and the
#: library modules the lessons import: none of them may need the other framework
TRACK = {
    "pytorch": "from diptych.adapters import pytorch as adapter\nimport torch",
    "tensorflow": "from diptych.adapters import tensorflow as adapter\nimport keras",
}
LIBRARY = (
    "from diptych import data, diagrams, initial, layouts, parity, plot, reference\n"
    "print(adapter.setup(seed=0))\n"
    "parity.matches_reference('one', adapter.from_numpy(data.digits().X_train[:2]),"
    " data.digits().X_train[:2], atol=0)"
)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_a_track_runs_without_the_other_framework(tmp_path, framework):
    """A tiny lesson in one framework, run by `diptych run --framework` with the other made
    unimportable; the real lessons' own imports are held to one framework below."""
    lesson = tmp_path / "curriculum" / "notebooks" / "01_demo"
    write_notebook(lesson / f"demo_{framework}.ipynb", TRACK[framework], LIBRARY)
    env = {**without(tmp_path, BLOCKED[framework]), "DIPTYCH_ROOT": str(lesson.parents[1])}
    result = subprocess.run(
        [sys.executable, "-m", "diptych.command.cli", "run", "01", "--framework", framework],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 lessons ok" in result.stdout


#: lessons whose notebooks use both frameworks on purpose (each with why)
BOTH_FRAMEWORKS = {"porting": "moves a trained model from one framework to the other"}
#: going-deeper sections that use both on purpose (heading prefix), and say so where they open:
#: the rest of the notebook is still held to one framework
BOTH_FRAMEWORKS_SECTIONS = {"attention": "## Going deeper: the trained model, ported to"}


def code_outside(notebook: dict, heading: str | None) -> list[str]:
    """The sources of a notebook's code cells, less those in the section that opens with
    ``heading`` (up to the next ``## `` heading)."""
    sources, inside = [], False
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and source.startswith("## "):
            inside = heading is not None and source.startswith(heading)
        elif cell["cell_type"] == "code" and not inside:
            sources.append(source)
    return sources


@pytest.mark.parametrize(
    "path",
    [p for lesson in registry.lessons(REPO) for p in lesson.notebooks.values()],
    ids=lambda p: p.name,
)
def test_every_lesson_notebook_imports_only_its_own_framework(path):
    """What a learner with one framework installed can open: every module a lesson notebook
    imports, read from its code cells (the library's own imports are tested above and in
    tests/test_frameworks.py)."""
    framework = registry.framework_of(path)
    slug = path.stem.removesuffix(f"_{framework}")
    if slug in BOTH_FRAMEWORKS:
        pytest.skip(f"lesson {slug} {BOTH_FRAMEWORKS[slug]}")
    notebook = json.loads(path.read_text(encoding="utf-8"))
    imported = set()
    for source in code_outside(notebook, BOTH_FRAMEWORKS_SECTIONS.get(slug)):
        tree = ast.parse(
            "\n".join(
                line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
            )
        )
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    others = BLOCKED[framework] + [f"diptych.adapters.{o}" for o in OTHER[framework]]
    found = sorted(m for m in imported if any(_is_or_under(m, o) for o in others))
    assert not found, f"{path.name} imports {found}"


#: the other framework's adapter and its companions (``diptych.adapters.tensorflow_mlp``...)
OTHER = {"pytorch": ["tensorflow"], "tensorflow": ["pytorch"]}


def _is_or_under(module: str, other: str) -> bool:
    """``module`` is ``other``, a submodule of it, or (for an adapter) one of its companions."""
    companion = other.startswith("diptych.adapters.") and module.startswith(f"{other}_")
    return module == other or module.startswith(f"{other}.") or companion


def test_the_other_frameworks_helpers_name_the_extra_to_install(tmp_path):
    env = without(tmp_path, BLOCKED["pytorch"])
    code = "from diptych.adapters import tensorflow"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "pip install -e '.[tensorflow]'" in result.stderr


@pytest.mark.slow  # a fresh interpreter imports every framework that is left
def test_doctor_reports_the_missing_track_with_its_fix(tmp_path):
    env = without(tmp_path, BLOCKED["tensorflow"])
    result = subprocess.run(
        [sys.executable, "-m", "diptych.command.cli", "doctor"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    assert "only the TensorFlow track can run" in result.stdout and "'.[pytorch]'" in result.stdout
