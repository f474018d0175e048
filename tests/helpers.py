"""What several test modules share, importable as ``helpers`` (tests/ is on pytest's path).

Fixtures live in ``tests/conftest.py``; plain names and functions live here, because a conftest is
not meant to be imported, and with two of them (the root's and this folder's) ``from conftest
import`` depends on which one Python finds first.

* ``REPO``, the repository's root, for what is computed while tests are collected (a module's
  parametrisation cannot use a fixture; the ``repo`` fixture returns the same folder);
* ``diptych``, the real console entry point in a fresh process;
* ``write_notebook``, a small notebook for the tiny curricula, and ``ROWS_RIGHT`` and
  ``ROWS_CHECK``, a learner's right answer to lesson 01's exercise 5 and its check cell, which need
  nothing of an adapter but ``from_numpy`` (a NumPy stand-in passes);
* ``verdict`` and ``case_id``, for the exercise checks' tables of right and wrong answers;
* ``imported_names``, every module a parsed source imports, wherever the import sits;
* ``load_script``, a file that is not on the path (``scripts/make.py``, a lesson's training script) as
  a module, its ``main`` not run.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
#: functions that import the module a string names: ``require("torch")`` is an import too
IMPORTING_CALLS = {"require", "import_module", "__import__"}


def diptych(
    *args: str, cwd: Path = REPO, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the real console entry point in a fresh process, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "diptych.command.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


ROWS_RIGHT = (
    "def standardise_rows(X):\n"
    "    return (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)"
)
ROWS_CHECK = ("checks.standardise_rows(standardise_rows, adapter)", ["exercise-check"])


def write_notebook(
    path: Path, *cells: str | tuple[str, list[str]], markdown: str = "## Parity"
) -> Path:
    """A small notebook: one markdown cell, then one code cell per string; a (source, tags) pair
    makes a tagged cell, and a source starting with "## " a markdown cell."""
    made = [new_markdown_cell(markdown)]
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        made.append(
            new_markdown_cell(source) if source.startswith("## ") else new_code_cell(source)
        )
        if tags:
            made[-1].metadata["tags"] = tags
    return save_notebook(path, made)


def save_notebook(path: Path, cells: list) -> Path:
    """``cells`` as a Python 3 notebook at ``path`` (its folders made)."""
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def load_script(path: Path) -> ModuleType:
    """The Python file at ``path``, which is not on the import path, loaded as a module named
    after it; what it does under ``if __name__ == "__main__"`` is not run."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verdict(check, learner, adapter, outcomes, **kwargs):
    """The outcome the check recorded (how long checks take is measured, never asserted)."""
    check(learner, adapter, **kwargs)
    return outcomes()[-1]


def case_id(case) -> str:
    """A (check, learner, adapter, ...) case's test id: check-framework-learner."""
    return f"{case[0].__name__}-{case[2].NAME}-{getattr(case[1], '__name__', 'lambda')}"


def imported_names(tree: ast.AST, *, package: str = "") -> set[str]:
    """Every absolute name a parsed module imports, anywhere in it, functions included:
    ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a
    submodule); a relative import is resolved against ``package``, the package the module is in;
    ``require("a")`` and ``importlib.import_module("a")`` give ``a`` when the name is written out."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and node.args:
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else None
            called = function.id if isinstance(function, ast.Name) else called
            first = node.args[0]
            if called in IMPORTING_CALLS and isinstance(first, ast.Constant):
                names |= {first.value} if isinstance(first.value, str) else set()
    return names
