"""One framework table; a third framework's adapter needs nothing the checks do not already ask.

The fake adapter (``numpy_adapter``) is NumPy dressed as a framework: it brings its own ``IDIOM``
and satisfies every ``adapter.<name>`` the checks use, and a lesson's check runs on it unchanged.
"""

import ast
import re
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from diptych import checks, frameworks, optional, plot, recording
from diptych.checks import linear_models
from diptych.checks.idioms import idiom
from diptych.command import registry
from diptych.outcomes import Status
from diptych.reference import classification

import numpy_adapter
from helpers import imported_names

SRC = Path(checks.__file__).resolve().parents[1]  # src/diptych
FRAMEWORK_MODULES = {"torch", "tensorflow", "keras"}


def attributes_the_checks_use() -> set[str]:
    sources = (path.read_text(encoding="utf-8") for path in (SRC / "checks").glob("*.py"))
    return {name for source in sources for name in re.findall(r"\badapter\.(\w+)", source)}


def test_every_place_that_names_a_framework_reads_the_one_table():
    assert tuple(f.key for f in frameworks.FRAMEWORKS) == frameworks.KEYS
    assert {f.key: f.name for f in frameworks.FRAMEWORKS} == registry.FRAMEWORK_NAMES
    assert {f.key: f.module for f in frameworks.FRAMEWORKS} == optional.TRACKS
    for f in frameworks.FRAMEWORKS:
        assert optional.INSTALL_HINTS[f.module] == (f.name, f.install_command)
        assert plot.COLORS[f.name] == f.color


def test_a_registered_row_follows_the_built_in_ones_and_is_checked(monkeypatch):
    """A package's row comes through the ``diptych.frameworks`` entry point group, named by its
    key; a row under another name, or a key taken already, is refused by name."""
    registered: list[EntryPoint] = []
    monkeypatch.setattr(frameworks, "entry_points", lambda group: list(registered))
    frameworks.table.cache_clear()
    try:
        registered[:] = [EntryPoint("numpy", "numpy_adapter:FRAMEWORK", frameworks.ENTRY_POINTS)]
        built_in = (frameworks.PYTORCH, frameworks.TENSORFLOW)
        assert frameworks.table() == (*built_in, numpy_adapter.FRAMEWORK)
        for name, value, refused in [
            ("jax", "numpy_adapter:FRAMEWORK", "is not the Framework row of key 'jax'"),
            ("numpy", "numpy_adapter:NAME", "is not the Framework row"),
            ("pytorch", "diptych.frameworks:PYTORCH", "two framework rows have the key"),
        ]:
            registered[:] = [EntryPoint(name, value, frameworks.ENTRY_POINTS)]
            frameworks.table.cache_clear()
            with pytest.raises((TypeError, ValueError), match=refused):
                frameworks.table()
    finally:
        frameworks.table.cache_clear()


def test_only_the_table_is_called_frameworks():
    """One meaning per name: views of the table are named after what they hold (``KEYS``,
    ``TRACKS``, ``INSTALL_HINTS``), so that searching for FRAMEWORKS finds the table."""
    binders = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            targets = [node.target] if isinstance(node, ast.AnnAssign) else targets
            if any(isinstance(t, ast.Name) and t.id == "FRAMEWORKS" for t in targets):
                binders.append(path.relative_to(SRC).as_posix())
    assert binders == ["frameworks.py"]


def test_the_real_adapters_provide_what_the_checks_use():
    for framework in frameworks.FRAMEWORKS:
        adapter = pytest.importorskip(framework.adapter)
        assert framework.name == adapter.NAME
        assert idiom(adapter).framework == framework.name
        needed = attributes_the_checks_use() | {"IDIOM"}
        missing = [name for name in needed if not hasattr(adapter, name)]
        assert missing == [], framework.name


def test_an_object_without_an_idiom_is_refused_by_name():
    with pytest.raises(TypeError, match="has no IDIOM"):
        idiom(types.SimpleNamespace(NAME="PyTorch"))


def test_a_third_framework_adapter_satisfies_the_checks(monkeypatch, tmp_path):
    adapter = numpy_adapter
    assert attributes_the_checks_use() <= set(vars(adapter))
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))

    def stable(Z):
        return (
            Z
            - Z.max(axis=-1, keepdims=True)
            - np.log(np.exp(Z - Z.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True))
        )

    def naive(Z):
        return np.log(np.exp(Z) / np.exp(Z).sum(axis=-1, keepdims=True))

    with np.errstate(all="ignore"):
        linear_models.log_softmax(stable, adapter)
        linear_models.log_softmax(naive, adapter)
    right, wrong = recording.read_outcomes(tmp_path)
    assert right.status == Status.PASSED, right.message
    assert wrong.status == Status.FAILED
    assert np.allclose(stable(np.eye(3)), classification.log_softmax(np.eye(3)))


def framework_imports(tree: ast.AST) -> list[str]:
    """Every framework module a parsed module imports, functions included: import statements,
    and calls of ``require``/``importlib.import_module`` with the name written out."""
    return sorted(name for name in imported_names(tree) if name.split(".")[0] in FRAMEWORK_MODULES)


def test_the_import_finder_sees_statements_and_calls_that_import_by_name():
    source = """
import numpy
from torch import nn
def f():
    import tensorflow as tf
    torch = require("torch.multiprocessing")
    keras = importlib.import_module("keras")
    other = require("matplotlib")
    named = require(NAME)
"""
    found = framework_imports(ast.parse(source))
    assert found == ["keras", "tensorflow", "torch", "torch.multiprocessing", "torch.nn"]


def test_no_module_outside_the_adapters_imports_a_framework():
    """Anywhere in the module, functions included, by statement or by ``require("torch")``: a
    framework difference lives in an adapter or in an adapter's companion."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.parent.name == "adapters":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(SRC)}: {name}" for name in framework_imports(tree)]
    assert offenders == []
