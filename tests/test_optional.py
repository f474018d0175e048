"""`import diptych` is cheap and side-effect free; a missing framework gets a clear message."""

import subprocess
import sys

import pytest

from diptych import optional

#: what a lesson's first import cell and the command's start load (timed in benchmarks/)
CLEAN_IMPORT = """
import sys
import diptych, diptych.data, diptych.initial, diptych.parity, diptych.plot, diptych.reference
import diptych.command.registry, diptych.command.report, diptych.command.cli
heavy = [m for m in ("torch", "tensorflow", "keras", "matplotlib", "nbclient", "sklearn") if m in sys.modules]
print(heavy)
"""


def test_importing_diptych_imports_no_framework():
    """Import weight is kept low by what gets imported; its time is measured by
    ``benchmarks/import_time.py``, not asserted here (a loaded machine would fail it)."""
    output = subprocess.run(
        [sys.executable, "-c", CLEAN_IMPORT], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


@pytest.mark.parametrize(("module", "extra"), [("torch", "pytorch"), ("tensorflow", "tensorflow")])
def test_a_missing_framework_names_the_extra_to_install(monkeypatch, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(optional.MissingFrameworkError, match=rf"pip install -e '\.\[{extra}\]'"):
        optional.require(module)


def test_require_imports_an_installed_module():
    assert optional.require("json").__name__ == "json"
    assert optional.is_installed("json") and not optional.is_installed(
        "no_such_module_diptych_test"
    )


def test_the_pytorch_adapter_fails_clearly_when_torch_is_absent(monkeypatch):
    code = "import sys; sys.modules['torch'] = None\nfrom diptych.adapters import pytorch"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "PyTorch is not installed" in result.stderr and "'.[pytorch]'" in result.stderr


def test_a_packages_framework_is_installed_by_its_own_command(monkeypatch):
    """A row a package registers names how to install it; diptych's extras still go in one."""
    from diptych import frameworks

    row = frameworks.Framework(
        "jax", "JAX", "no_such_module_diptych_test", "diptych_jax", "#000", install="pip install x"
    )
    monkeypatch.setitem(frameworks.BY_KEY, row.key, row)
    monkeypatch.setitem(optional.TRACKS, row.key, row.module)
    monkeypatch.setitem(optional.INSTALL_HINTS, row.module, (row.name, row.install_command))
    monkeypatch.setattr(optional, "is_installed", lambda module: module == "json")
    with pytest.raises(optional.MissingFrameworkError) as raised:
        optional.require_tracks(["pytorch", "jax", "tensorflow"], chosen=True)
    assert str(raised.value).endswith(
        "are not installed here: pip install -e '.[pytorch,tensorflow]'; pip install x"
    )
