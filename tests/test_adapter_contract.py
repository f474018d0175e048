"""The adapter contract (``adapters.contract.Adapter``) names what is used of an adapter, and each
adapter meets it.

mypy checks the adapters' signatures against the contract (``adapters.loading``, in ``make
lint``); these tests check what mypy cannot see: the names the notebooks use, and that
every framework's adapter is in mypy's list.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from diptych import frameworks
from diptych.adapters import contract, loading

import numpy_adapter
from helpers import REPO

SRC = REPO / "src" / "diptych"
#: what a notebook calls an adapter it imports
ADAPTER_NAMES = r"\b(?:adapter|torch_adapter|keras_adapter)\.([A-Za-z_]\w*)"
#: names of one adapter that are not the contract's, each with its reason: it is one framework's
OWN = {
    "deterministic_algorithms": "PyTorch's: lesson 01 shows what setup does in plain PyTorch",
    "cxx_compiler": "PyTorch's: lesson 09 asks which compiler torch.compile would use",
}


def contract_names() -> set[str]:
    """The members of the ``Adapter`` protocol: its attributes and its methods."""
    methods = {n for n, v in vars(contract.Adapter).items() if callable(v) and n[0] != "_"}
    return set(contract.Adapter.__annotations__) | methods


def used_names(paths: list[Path]) -> set[str]:
    return {name for p in paths for name in re.findall(ADAPTER_NAMES, p.read_text("utf-8"))}


def test_the_contract_names_what_the_library_checks_and_command_use():
    outside = [p for p in SRC.rglob("*.py") if p.parent.name != "adapters"]
    assert used_names(outside) - contract_names() == set()


def test_the_notebooks_use_the_contract_and_one_frameworks_own_names_only():
    notebooks = [*(REPO / "notebooks").rglob("*.ipynb"), *(REPO / "solutions").rglob("*.ipynb")]
    assert used_names(notebooks) - contract_names() <= set(OWN)


@pytest.mark.parametrize("framework", frameworks.FRAMEWORKS, ids=lambda f: f.key)
def test_each_adapter_has_every_name_of_the_contract(framework):
    adapter = pytest.importorskip(framework.adapter)
    assert [name for name in sorted(contract_names()) if not hasattr(adapter, name)] == []
    assert adapter.NAME == framework.name == adapter.IDIOM.framework
    assert loading.load(framework) is adapter


def test_the_tests_stand_in_adapter_has_every_name_of_the_contract():
    """``tests/numpy_adapter.py``, the third framework of tests/test_third_framework.py, is an
    adapter as a package would write one (mypy does not read tests/)."""
    assert [name for name in sorted(contract_names()) if not hasattr(numpy_adapter, name)] == []
    assert numpy_adapter.NAME == numpy_adapter.FRAMEWORK.name == numpy_adapter.IDIOM.framework
    assert numpy_adapter.FRAMEWORK.adapter == numpy_adapter.__name__


def test_mypy_holds_every_frameworks_adapter_to_the_contract():
    """``adapters.loading`` assigns the adapter of every built-in row of the table to ``Adapter``,
    where mypy alone sees it (under ``TYPE_CHECKING``); a package checks its own likewise."""
    tree = ast.parse((SRC / "adapters" / "loading.py").read_text("utf-8"))
    guarded = next(n for n in tree.body if isinstance(n, ast.If))
    imported = {
        alias.asname or alias.name: f"{node.module}.{alias.name}"
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    checked = [
        imported[node.value.id]
        for node in guarded.body
        if isinstance(node, ast.AnnAssign)
        and ast.unparse(node.annotation) == "Adapter"
        and isinstance(node.value, ast.Name)
    ]
    built_in = [f.adapter for f in frameworks.FRAMEWORKS if f.adapter.startswith("diptych.")]
    assert sorted(checked) == sorted(built_in)
