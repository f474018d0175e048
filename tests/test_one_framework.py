"""A learner with only one framework installed can take that framework's track.

The other framework is made unimportable by a package of the same name, earlier on the path,
whose import fails (as it would if it were not installed); the kernel inherits that path.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_a_track_runs_without_the_other_framework(tmp_path, framework):
    env = without(tmp_path, BLOCKED[framework])
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
