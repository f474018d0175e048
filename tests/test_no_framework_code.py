"""No framework code outside ``adapters/``: no framework imported, by any name, and none named.

``tests/test_frameworks.py`` finds imports of a framework written out (``import torch``,
``require("torch")``). An import by a name computed at run time (``require(module)``) hides what
it imports, which is how ``diptych doctor`` once imported both frameworks unseen; outside the
adapters' package, only ``adapters.loading.load`` and ``Idiom.companion`` may do that, and what
they import is an adapter. And a module that holds a framework under a name (``torch.cuda``,
``tf.config``) calls it: none outside ``adapters/`` does.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import IMPORTING_CALLS, REPO

SRC = REPO / "src" / "diptych"
#: the names a module would hold a framework under
FRAMEWORK_NAMES = {"torch", "tf", "tensorflow", "keras", "jax", "flax"}
#: the lazy import itself: its callers are what is checked
IMPORTER = "optional.py"


def outside_the_adapters() -> list[Path]:
    """Every module but the adapters and their companions (``adapters.environments`` included:
    it must import no framework)."""
    return sorted(p for p in SRC.rglob("*.py") if p.parent.name != "adapters")


def imports_by_a_computed_name(tree: ast.AST) -> list[str]:
    """Each call of ``require``, ``import_module`` or ``__import__`` whose module is not written
    out; an f-string that starts with a package of diptych outside the adapters is written out
    enough (``f"diptych.checks.{name}"``)."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        function = node.func
        called = function.attr if isinstance(function, ast.Attribute) else None
        called = function.id if isinstance(function, ast.Name) else called
        if called not in IMPORTING_CALLS:
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            continue
        head = first.values[0] if isinstance(first, ast.JoinedStr) and first.values else None
        prefix = head.value if isinstance(head, ast.Constant) else ""
        if isinstance(prefix, str) and prefix.startswith("diptych.") and "adapters" not in prefix:
            continue
        found.append(ast.unparse(node))
    return found


def framework_names(tree: ast.AST) -> list[str]:
    """Each use of a name a framework is held under: ``torch.cuda.is_available()`` uses
    ``torch``."""
    return [
        f"{node.id} (line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in FRAMEWORK_NAMES
    ]


def test_the_finder_sees_imports_by_a_computed_name():
    source = """
import importlib
def f(module, names, key, topic):
    a = require(module)
    b = importlib.import_module(names[key])
    c = __import__(module)
    d = importlib.import_module(f"diptych.adapters.{topic}")
    e = require("json")
    g = importlib.import_module(f"diptych.checks.{topic}")
    h = importlib.import_module(topic + ".x")
"""
    found = imports_by_a_computed_name(ast.parse(source))
    assert found == [
        "require(module)",
        "importlib.import_module(names[key])",
        "__import__(module)",
        "importlib.import_module(f'diptych.adapters.{topic}')",
        "importlib.import_module(topic + '.x')",
    ]


def test_no_module_outside_the_adapters_imports_by_a_computed_name():
    counts = {}
    for path in outside_the_adapters():
        name = path.relative_to(SRC).as_posix()
        found = imports_by_a_computed_name(ast.parse(path.read_text(encoding="utf-8")))
        if found and name != IMPORTER:
            counts[name] = len(found)
    assert counts == {}


def test_no_module_outside_the_adapters_holds_a_framework():
    offenders = {}
    for path in outside_the_adapters():
        found = framework_names(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offenders[path.relative_to(SRC).as_posix()] = found
    assert offenders == {}


def test_the_finder_sees_a_framework_held_under_a_name():
    source = "def f(load):\n    torch = load()\n    return torch.cuda.is_available(), tf\n"
    found = sorted(framework_names(ast.parse(source)))
    assert found == ["tf (line 3)", "torch (line 2)", "torch (line 3)"]
