"""The import graph of ``src/diptych``: no cycles, and no arrow pointing up the layers that
docs/design.md lists (*Layers*), function-local imports included.

Every import statement counts wherever it sits (module level, a function, ``TYPE_CHECKING``),
relative ones resolved, and so does a ``require("…")`` or ``importlib.import_module("…")`` of a name
written out. ``from diptych.adapters import pytorch`` is an arrow to ``diptych.adapters.pytorch``;
``from diptych.checks import exercise`` one to the package ``diptych.checks``, whose
``__init__`` runs.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Mapping
from pathlib import Path

import diptych

from helpers import REPO, imported_names

SRC = Path(diptych.__file__).resolve().parent  # src/diptych
DESIGN = REPO / "docs" / "design.md"

Graph = dict[str, set[str]]


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package in folder ``package``, by dotted name (a package's is its
    ``__init__.py``)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(package: Path) -> Graph:
    """Module -> the modules of the same package it imports (itself left out)."""
    known = modules(package)
    graph: Graph = {}
    for name, path in known.items():
        inside = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = set()
        for imported in imported_names(tree, package=inside):
            while imported and imported not in known:  # a name inside a module: the module
                imported = imported.rpartition(".")[0]
            targets |= {imported} if imported and imported != name else set()
        # "from a import b" also gives "a"; where b is a module, "a" is only its parent package
        graph[name] = {t for t in targets if not any(o.startswith(f"{t}.") for o in targets)}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm), each
    sorted: every module in one can reach every other, so none can be read or moved alone."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def design_layers(text: str) -> dict[str, list[str]]:
    """The layers in docs/design.md's *Layers* block, top first: name -> modules and packages."""
    block = re.search(r"^## Layers\n.*?^```text\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block, "docs/design.md has no *Layers* section with a ```text block"
    rows = [line.split() for line in block.group(1).splitlines() if line.strip()]
    return {name: members for name, *members in rows}


def layer_of(module: str, layers: Mapping[str, list[str]], *, root: str) -> int | None:
    """How high ``module`` sits (0 the bottom layer), by the longest member naming it or a
    package above it; the root package's ``__init__`` sits below every layer (-1)."""
    if module == root:
        return -1
    best: tuple[int, int] | None = None  # (length of the member's name, height)
    for height, members in enumerate(reversed(list(layers.values()))):
        for member in members:
            name = f"{root}.{member}"
            if (module == name or module.startswith(f"{name}.")) and (
                best is None or len(name) > best[0]
            ):
                best = (len(name), height)
    return None if best is None else best[1]


def upward_arrows(graph: Graph, layers: Mapping[str, list[str]], *, root: str) -> list[str]:
    """Each import that points to a higher layer, and each module in no layer."""
    found = [
        f"{module} is in no layer"
        for module in graph
        if layer_of(module, layers, root=root) is None
    ]
    for module, targets in sorted(graph.items()):
        here = layer_of(module, layers, root=root)
        for target in sorted(targets):
            there = layer_of(target, layers, root=root)
            if here is not None and there is not None and there > here:
                found.append(f"{module} imports {target}, a layer above it")
    return found


# --- the finder, on made-up sources -------------------------------------------------------------


def test_the_finder_sees_imports_anywhere_and_resolves_relative_ones():
    source = """
import numpy
from diptych import data
from . import sibling
from ..outer import thing
def f():
    import diptych.plot
    from diptych.checks import exercise
    module = require("diptych.adapters.pytorch")
    other = importlib.import_module(NAMES[key])
"""
    found = imported_names(ast.parse(source), package="diptych.command")
    assert found == {
        "numpy",
        "diptych",
        "diptych.data",
        "diptych.command",
        "diptych.command.sibling",
        "diptych.outer",
        "diptych.outer.thing",
        "diptych.plot",
        "diptych.checks",
        "diptych.checks.exercise",
        "diptych.adapters.pytorch",
    }


def made_up_package(folder: Path, sources: dict[str, str]) -> Path:
    package = folder / "pkg"
    for name, source in {"__init__": "", **sources}.items():
        path = package / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return package


def test_a_cycle_through_a_function_and_an_upward_arrow_are_both_found(tmp_path):
    package = made_up_package(
        tmp_path,
        {
            "low": "def f():\n    from pkg.high import run\n",
            "high": "from pkg import low\n",
            "first": "def f():\n    from . import second\n",
            "second": "from pkg.first import f\n",
            "sub.__init__": "from pkg.sub.inner import thing\n",
            "sub.inner": "thing = 1\n",
            "stray": "",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.high"] == {"pkg.low"}  # "from pkg import low": the module, not the package
    assert graph["pkg.sub"] == {"pkg.sub.inner"}
    assert cycles(graph) == [["pkg.first", "pkg.second"], ["pkg.high", "pkg.low"]]
    layers = {"top": ["high", "first", "second"], "bottom": ["low", "sub"]}
    assert upward_arrows(graph, layers, root="pkg") == [
        "pkg.stray is in no layer",
        "pkg.low imports pkg.high, a layer above it",
    ]


def test_the_layers_are_read_from_the_design_notes():
    layers = design_layers(DESIGN.read_text(encoding="utf-8"))
    assert list(layers) == ["command", "drivers", "adapters", "library", "base"]
    assert layer_of("diptych.adapters.pytorch_ddp", layers, root="diptych") == 2
    assert layer_of("diptych.command.bench", layers, root="diptych") == 4


# --- diptych itself -----------------------------------------------------------------------------


@functools.cache
def diptych_graph() -> Graph:
    return import_graph(SRC)


def test_diptych_has_no_import_cycle():
    assert cycles(diptych_graph()) == []


def test_no_import_points_up_the_layers_the_design_notes_list():
    layers = design_layers(DESIGN.read_text(encoding="utf-8"))
    assert upward_arrows(diptych_graph(), layers, root="diptych") == []
