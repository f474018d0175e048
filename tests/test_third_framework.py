"""A third framework is its row, its adapter and its notebooks, and nothing else.

NumPy dressed as a framework (``numpy_adapter``: an adapter module and its ``Framework`` row) is
registered as a package would register it, through the ``diptych.frameworks`` entry point group
(and its environment through ``diptych.environments``): a throwaway distribution's metadata on
``PYTHONPATH``, which the command and every kernel it
starts inherit. A temporary curriculum holds lesson 01 in three tiny notebooks, one per framework,
and a solved NumPy exercise. Then ``diptych run --json``, the report, ``diptych check`` and
``diptych site`` each handle three frameworks. The notebooks record values but import no
framework, so that the whole costs a few kernels of plain Python.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import numpy_adapter
from helpers import REPO, ROWS_CHECK, ROWS_RIGHT, diptych, write_notebook

pytestmark = pytest.mark.slow

#: each framework's notebook records ``total`` (within 1e-6 of the others, with 14× to spare: the
#: widest pair is TensorFlow's and NumPy's, 7e-8 apart) and ``w``, on which NumPy alone parts
RECORDS = {
    "pytorch": "parity.record('total', [1.0, 2.0], atol=1e-6)\nparity.record('w', 0.5, atol=1e-6)",
    "tensorflow": (
        "parity.record('total', [1.0 + 5e-8, 2.0], atol=1e-6)\nparity.record('w', 0.5, atol=1e-6)"
    ),
    "numpy": (
        "import os\nassert os.environ['DIPTYCH_NUMPY_FRAMEWORK'] == 'declared'  # its environment\n"
        "import numpy_adapter as adapter\n"
        "total = adapter.to_numpy(adapter.from_numpy(np.array([1.0 - 2e-8, 2.0])))\n"
        "parity.record('total', total, atol=1e-6)\nparity.record('w', 0.501, atol=1e-6)"
    ),
}
EXERCISE_SETUP = "import numpy_adapter as adapter\nfrom diptych.checks import tensors as checks"


@pytest.fixture(scope="module")
def third(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The curriculum and the environment in which NumPy is the table's third framework."""
    root = tmp_path_factory.mktemp("three")
    (root / "pyproject.toml").write_text("")
    names = {"pytorch": "PyTorch", "tensorflow": "Keras", "numpy": numpy_adapter.NAME}
    for key, record in RECORDS.items():
        write_notebook(
            root / f"notebooks/01_tensors/tensors_{key}.ipynb",
            f"import numpy as np\nfrom diptych import parity\n{record}",
            f"## Values in {names[key]}",  # paired by the row's name (or alias) masked
            "## Parity",
            markdown="# Tensors, three times",
        )
    write_notebook(
        root / f"exercises/01_tensors/exercises_tensors_{numpy_adapter.FRAMEWORK.key}.ipynb",
        EXERCISE_SETUP,
        ROWS_RIGHT,
        ROWS_CHECK,
        markdown="# Exercises: tensors",
    )
    package = root / "site-packages" / "diptych_numpy-0.dist-info"
    package.mkdir(parents=True)
    (package / "METADATA").write_text("Metadata-Version: 2.1\nName: diptych-numpy\nVersion: 0\n")
    (package / "entry_points.txt").write_text(
        "[diptych.frameworks]\nnumpy = numpy_adapter:FRAMEWORK\n"
        "[diptych.environments]\nnumpy = numpy_adapter\n"
    )
    path = [str(package.parent), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, path)),
        "DIPTYCH_ROOT": str(root),
    }
    return root, env


@pytest.fixture(scope="module")
def ran(third) -> tuple[object, dict]:
    """``diptych run --json`` of the three notebooks: the finished process and its JSON."""
    root, env = third
    result = diptych("run", "--no-progress", "--json", str(root / "run.json"), cwd=root, env=env)
    return result, json.loads((root / "run.json").read_text())


def test_the_table_reads_the_registered_row_after_the_built_in_ones(third):
    root, env = third
    result = diptych("run", "--framework", "no-such-framework", cwd=root, env=env)
    assert result.returncode == 2
    assert "(choose from 'pytorch', 'tensorflow', 'numpy')" in result.stderr, result.stderr


def test_run_compares_every_pair_of_three_frameworks(ran):
    result, document = ran
    assert result.returncode == 1, result.stdout + result.stderr  # NumPy parts on w
    (lesson,) = document["lessons"]
    assert list(lesson["notebooks"]) == ["pytorch", "tensorflow", "numpy"]
    assert all(run["ok"] for run in lesson["notebooks"].values()), lesson["notebooks"]
    total, w = lesson["values"]["total"], lesson["values"]["w"]
    assert total["numpy"] == [1.0 - 2e-8, 2.0] and total["status"] == "yes"
    assert total["max_abs_diff"] == pytest.approx(7e-8, rel=1e-6)
    assert total["headroom"] == pytest.approx(1e-6 / 7e-8, rel=1e-6)
    assert w["status"] == "NO" and w["max_abs_diff"] == pytest.approx(1e-3, rel=1e-6)


def test_the_report_has_a_column_per_framework(ran):
    result, _ = ran
    header = next(line for line in result.stdout.splitlines() if line.startswith("value"))
    assert header.split()[:4] == ["value", "PyTorch", "TensorFlow", "NumPy"], header
    assert "NumPy" in result.stdout.split(header)[1]  # each notebook's line, NumPy's included
    assert "0 of 1 lessons ok" in result.stdout


def test_check_runs_the_third_frameworks_exercise_notebook(third):
    root, env = third
    notebook = root / "exercises/01_tensors/exercises_tensors_numpy.ipynb"
    result = diptych("check", str(notebook), cwd=root, env=env)
    assert "✓ Exercise 5: Standardise every row — passed" in result.stdout, result.stderr
    assert "1 of 5 passed, 0 failed, 0 not attempted, 4 not checked" in result.stdout
    assert result.returncode == 1  # the four exercises this notebook leaves out


def test_the_site_shows_three_frameworks_side_by_side(third, ran):
    root, env = third
    out = root / "site"
    result = diptych(
        "site",
        "--out",
        str(out),
        "--results",
        str(root / "run.json"),
        "--no-progress",
        cwd=root,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = (out / "notebooks/01_tensors/index.html").read_text(encoding="utf-8")
    for key in ("pytorch", "tensorflow", "numpy"):
        assert page.count(f'data-sync-id="{key}"') == page.count('data-sync-id="pytorch"') > 0
    assert "PyTorch, TensorFlow and NumPy, section by section" in page
    assert "Values in PyTorch / Values in Keras / Values in NumPy" in page  # one section
    assert "_static/diptych-frameworks.css" in page  # the page links the colours
    colours = (out / "_static/diptych-frameworks.css").read_text(encoding="utf-8")
    assert (
        f'[data-sync-id="numpy"] {{ --diptych-framework: {numpy_adapter.FRAMEWORK.color}; }}'
        in colours
    )
