"""The locks resolve to wheels that exist, on every platform and Python version the README promises.

For each (platform, Python) pair, uv resolves the lock for that target without installing
(`uv pip compile --no-deps --only-binary :all: --python-platform ... --python-version ...`): the
lock's environment markers are evaluated for the target, and every pin that applies there must
have a wheel for the target's tags on the package index, or the test fails naming the package.

These tests need the package index and uv, so they are marked `lock` and left out of the default
suite (`-m "not lock"` in pyproject's addopts). Run them when a lock changes: `make lock-check`
(or `pytest -m lock tests/test_lock.py`). Without uv on PATH (or $UV) they are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from diptych import platforms

from helpers import REPO

REQUIREMENTS = REPO / "requirements"

pytestmark = pytest.mark.lock

# uv's target triples for the platforms of platforms.SUPPORTED; macOS needs 14.0, torch's wheel tag
# (uv assumes 13.0 by default, for which torch 2.13 has no wheel).
UV_PLATFORM = {
    "linux-x86_64": ("x86_64-manylinux_2_28", {}),
    "linux-aarch64": ("aarch64-manylinux_2_28", {}),
    "macos-arm64": ("aarch64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "14.0"}),
    "windows-x86_64": ("x86_64-pc-windows-msvc", {}),
    # not supported (platforms.py says so): only test_the_lock_fails_where_the_readme_says_it_does
    "macos-x86_64": ("x86_64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "14.0"}),
}
SUPPORTED = [p for p in UV_PLATFORM if p in platforms.SUPPORTED]
PYTHONS = [f"3.{minor}" for minor in range(platforms.PYTHON_MIN[1], platforms.PYTHON_MAX[1] + 1)]


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed (pip install uv)")
    return found


def resolve(lock: Path, platform: str, python: str) -> subprocess.CompletedProcess:
    triple, env = UV_PLATFORM[platform]
    command = [
        uv(),
        "pip",
        "compile",
        "--quiet",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--no-header",
        "--python-platform",
        triple,
        "--python-version",
        python,
        str(lock),
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
        cwd=lock.parent,
    )


def pins(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.MULTILINE))


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", SUPPORTED)
def test_cpu_lock_has_wheels(platform, python):
    result = resolve(REQUIREMENTS / "cpu.txt", platform, python)
    assert result.returncode == 0, f"cpu.txt on {platform}, Python {python}:\n{result.stderr}"
    resolved = pins(result.stdout)
    assert resolved["torch"] == "2.13.0"
    tensorflow = (
        "tensorflow-cpu" if platform in ("linux-x86_64", "windows-x86_64") else "tensorflow"
    )
    assert resolved[tensorflow].startswith("2.21."), resolved


@pytest.mark.parametrize("python", ["3.11.4", "3.11.5"])
def test_cpu_lock_has_wheels_either_side_of_a_patch_level_marker(python):
    # soupsieve's newest release needs Python 3.11.5; the lock pins an older one below it
    result = resolve(REQUIREMENTS / "cpu.txt", "linux-x86_64", python)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("python", PYTHONS)
def test_gpu_lock_has_wheels(python):
    result = resolve(REQUIREMENTS / "gpu.txt", "linux-x86_64", python)
    assert result.returncode == 0, f"gpu.txt on Linux x86-64, Python {python}:\n{result.stderr}"
    resolved = pins(result.stdout)
    assert "nvidia-cudnn-cu12" in resolved and "nvidia-cudnn-cu13" in resolved


@pytest.mark.parametrize(
    ("platform", "python"), [("linux-x86_64", "3.14"), ("macos-x86_64", "3.12")]
)
def test_the_lock_fails_where_the_readme_says_it_does(platform, python):
    # what platforms.check() tells a learner early is true: TensorFlow 2.21 has no Python 3.14
    # wheel, and neither framework has an Intel Mac wheel
    result = resolve(REQUIREMENTS / "cpu.txt", platform, python)
    assert result.returncode != 0
    assert "no usable wheels" in result.stderr or "no wheels with a matching" in result.stderr


def test_torch_cpu_index_serves_the_locked_torch():
    assert (
        pins((REQUIREMENTS / "torch-cpu.txt").read_text())["torch"]
        == pins((REQUIREMENTS / "cpu.txt").read_text())["torch"]
    )
    try:
        socket.getaddrinfo("download.pytorch.org", 443)
    except OSError:
        pytest.skip("download.pytorch.org cannot be reached from here")
    for platform in ("linux-x86_64", "linux-aarch64"):
        for python in PYTHONS:
            result = resolve(REQUIREMENTS / "torch-cpu.txt", platform, python)
            assert result.returncode == 0, f"{platform} {python}: {result.stderr}"
            assert "+cpu" in pins(result.stdout)["torch"] or platform == "linux-aarch64"
