"""scripts/gpu-check as far as a CPU allows: its fallback runs the curriculum and prints the table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

RECORD = "from diptych import parity\nparity.record('loss', 1.0, atol=1e-6)"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="tests the CPU fallback")
def test_gpu_check_falls_back_to_the_cpu_and_prints_the_parity_table(make_curriculum, tmp_path):
    make_curriculum({"01_demo": {"pytorch": [RECORD], "tensorflow": [RECORD]}})
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(REPO / "scripts/gpu-check"), "--out", str(tmp_path / "out"), "01"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no NVIDIA GPU here: this is the CPU fallback" in result.stdout
    assert "headroom" in result.stdout and "1 of 1 lessons ok" in result.stdout
    document = json.loads((tmp_path / "out/gpu-check.json").read_text())
    assert document["lessons"][0]["values"]["loss"]["ok"] is True


def test_gpu_check_refuses_an_unknown_option():
    result = subprocess.run(
        ["bash", str(REPO / "scripts/gpu-check"), "--fast"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "unknown option --fast" in result.stderr
