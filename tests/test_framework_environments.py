"""Each framework's environment variables are its adapter's (``adapters.environments``), in
modules that import no framework, so that the command, ``configurations`` and ``optional.require``
read them without starting one; what a kernel and an imitated CPU get has not changed.
"""

from __future__ import annotations

import ast
import os
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from diptych import configurations, frameworks, optional
from diptych.adapters import environments
from diptych.adapters.environments import pytorch as pytorch_environment
from diptych.adapters.environments import tensorflow as tensorflow_environment
from diptych.command import execution

import numpy_adapter


@pytest.mark.parametrize("module", [pytorch_environment, tensorflow_environment])
def test_an_environment_module_imports_nothing_but_the_frameworks_table_and_os(module):
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert imported <= {"__future__", "diptych.frameworks", "os", "sys"}


def test_every_built_in_framework_has_its_environment_in_the_tables_order():
    declared = [e.FRAMEWORK for e in environments.ENVIRONMENTS]
    assert declared == [f for f in frameworks.FRAMEWORKS if f in declared]
    assert declared[:2] == [frameworks.PYTORCH, frameworks.TENSORFLOW]


def test_a_package_registers_its_frameworks_environment_by_the_frameworks_key(monkeypatch):
    registered: list[EntryPoint] = []
    monkeypatch.setattr(frameworks, "entry_points", lambda group: list(registered))
    registered[:] = [EntryPoint("numpy", "numpy_adapter", environments.ENTRY_POINTS)]
    assert environments._registered() == (numpy_adapter,)
    registered[:] = [EntryPoint("jax", "numpy_adapter", environments.ENTRY_POINTS)]
    with pytest.raises(TypeError, match="not the environment of the framework of key 'jax'"):
        environments._registered()


def test_a_kernel_gets_what_every_framework_asks_for_before_its_import():
    assert execution.KERNEL_ENV.items() >= environments.before_import().items()
    assert optional.QUIET_TENSORFLOW == tensorflow_environment.BEFORE_IMPORT
    quiet = tensorflow_environment.BEFORE_IMPORT
    assert environments.before_importing("tensorflow.keras") == quiet
    assert environments.before_importing("json") == {}


def test_require_sets_a_frameworks_environment_first_and_keeps_what_is_set(monkeypatch):
    fake = type(
        "FakeEnvironment",
        (),
        {
            "FRAMEWORK": frameworks.Framework("fake", "Fake", "json", "fake_adapter", "#000000"),
            "BEFORE_IMPORT": {"DIPTYCH_TEST_QUIET": "3", "DIPTYCH_TEST_CHOSEN": "0"},
        },
    )
    monkeypatch.setattr(environments, "ENVIRONMENTS", (fake,))
    monkeypatch.delenv("DIPTYCH_TEST_QUIET", raising=False)
    monkeypatch.setenv("DIPTYCH_TEST_CHOSEN", "1")
    optional.require("json")
    assert (os.environ["DIPTYCH_TEST_QUIET"], os.environ["DIPTYCH_TEST_CHOSEN"]) == ("3", "1")


def test_the_imitated_cpus_set_what_they_always_did():
    """The variables moved to the adapters; the configurations' environments stayed the same."""
    threads = {
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
    }
    avx2, sse41 = (c.env for c in configurations.IMITATIONS)
    assert avx2 == {
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_CBWR": "AVX2",
        **threads,
    }
    assert sse41 == {
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_CBWR": "COMPATIBLE",
        **threads,
    }
    assert list(avx2) == list(sse41)  # the order ``describe`` prints


def test_two_frameworks_that_disagree_on_a_variable_are_refused(monkeypatch):
    first = type("First", (), {"BEFORE_IMPORT": {"SHARED": "0"}})
    second = type("Second", (), {"BEFORE_IMPORT": {"SHARED": "1"}})
    monkeypatch.setattr(environments, "ENVIRONMENTS", (first, second))
    with pytest.raises(ValueError, match="SHARED differently"):
        environments.before_import()
