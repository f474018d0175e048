"""platforms.py: one clear sentence, early, for a Python or machine the locks cannot install on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from diptych import platforms
from diptych.command import doctor

from helpers import REPO


@pytest.mark.parametrize(
    ("system", "machine"),
    [("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "arm64"), ("Windows", "AMD64")],
)
@pytest.mark.parametrize("minor", [10, 11, 12, 13])
def test_supported_pairs_have_no_problem(system, machine, minor):
    assert platforms.problems((3, minor, 0), system, machine, macos="14.5", bits=64) == []


@pytest.mark.parametrize("version", [(3, 9, 18), (3, 14, 0)])
def test_python_outside_the_range_gets_one_sentence_with_the_way_out(version):
    (sentence,) = platforms.problems(version, "Linux", "x86_64", bits=64)
    assert "Python 3.10 to 3.13" in sentence and "make run PYTHON=python3.13" in sentence


def test_intel_mac_is_told_plainly():
    (sentence,) = platforms.problems((3, 12, 0), "Darwin", "x86_64", bits=64)
    assert sentence.startswith("This is an Intel Mac") and "Colab" in sentence


def test_old_macos_and_other_machines():
    assert "macOS 14" in platforms.problems((3, 12, 0), "Darwin", "arm64", macos="13.6")[0]
    assert "windows-arm64" in platforms.problems((3, 12, 0), "Windows", "ARM64")[0]
    assert "64-bit" in platforms.problems((3, 12, 0), "Windows", "AMD64", bits=32)[0]


def test_the_script_runs_without_the_package_and_passes_here():
    # the Makefile runs it with the system Python before .venv exists
    result = subprocess.run(
        [sys.executable, "-I", str(REPO / "src/diptych/platforms.py")],
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_doctor_fails_on_an_unsupported_python(monkeypatch):
    monkeypatch.setattr(platforms, "problems", lambda: ["diptych needs Python 3.10 to 3.13."])
    finding = doctor._python()
    assert (
        finding.level == "fail" and "3.10 to 3.13" in finding.detail and "macOS 14" in finding.fix
    )


def test_doctor_names_the_environment(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert "not from a lock" in doctor._environment().detail
    (tmp_path / ".diptych-installed").write_text("gpu\n")
    assert doctor._environment().detail.startswith("GPU (CUDA): requirements/gpu.txt")
    finding = doctor._gpu_finding("PyTorch", "2.13.0", built_for_cuda=True, sees_gpu=False)
    assert finding.level == "warn" and "nvidia-smi" in finding.fix
    (tmp_path / ".diptych-installed").write_text("")
    assert doctor._environment().detail.startswith("CPU: requirements/cpu.txt")
