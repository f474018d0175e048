"""Where the locks install: supported platforms and Python versions, and what to say elsewhere.

One source of truth for the README's promise, ``diptych doctor``, the Makefile and
``scripts/make.py``. It imports nothing outside the standard library and runs as a script
(``python src/diptych/platforms.py``) before any virtual environment exists, so a learner with an
unsupported Python or machine reads one clear sentence before pip starts; the exit status is 1 then.
"""

from __future__ import annotations

import platform
import struct
import sys

# torch 2.13 and TensorFlow 2.21 both have wheels for CPython 3.10 to 3.13 (TensorFlow none for 3.14)
PYTHON_MIN = (3, 10)
PYTHON_MAX = (3, 13)
#: the framework releases the locks pin, as the sentences below name them
PINNED_RELEASES = "torch 2.13 and TensorFlow 2.21"

SUPPORTED = {
    "linux-x86_64": "Linux x86-64 (glibc 2.28 or newer: Ubuntu 20.04+, Debian 11+, Fedora, WSL 2)",
    "linux-aarch64": "Linux on Arm64 (glibc 2.28 or newer)",
    "macos-arm64": "macOS 14 (Sonoma) or newer on Apple Silicon (M1 or later)",
    "windows-x86_64": "Windows 10 or 11 on x86-64 (64-bit Python)",
}
WAY_OUT = (
    "use a supported machine (Linux x86-64 or Arm64, an Apple Silicon Mac with macOS 14+, "
    "Windows x86-64) or a hosted notebook service such as Google Colab"
)


def key(system: str | None = None, machine: str | None = None) -> str:
    """This machine as ``os-arch``, e.g. ``linux-x86_64``, ``macos-arm64``, ``windows-x86_64``."""
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    system = {"darwin": "macos"}.get(system, system)
    machine = {
        "amd64": "x86_64",
        "x64": "x86_64",
        "arm64": "aarch64" if system == "linux" else "arm64",
        "aarch64": "aarch64" if system == "linux" else "arm64",
    }.get(machine, machine)
    return f"{system}-{machine}"


def python_range() -> str:
    return f"{PYTHON_MIN[0]}.{PYTHON_MIN[1]} to {PYTHON_MAX[0]}.{PYTHON_MAX[1]}"


def problems(
    version: tuple[int, ...] | None = None,
    system: str | None = None,
    machine: str | None = None,
    macos: str | None = None,
    bits: int | None = None,
) -> list[str]:
    """One sentence (with its way out) for each reason the locks cannot install here; [] if none."""
    version = tuple(version or sys.version_info[:3])
    where = key(system, machine)
    bits = bits or struct.calcsize("P") * 8
    found = []
    if not PYTHON_MIN <= version[:2] <= PYTHON_MAX:
        wanted = f"{PYTHON_MAX[0]}.{PYTHON_MAX[1]}"
        found.append(
            f"diptych needs Python {python_range()} ({PINNED_RELEASES} have wheels for no other), "
            f"and this is Python {'.'.join(map(str, version))}: install Python {wanted} "
            f"(python.org) and run `make run PYTHON=python{wanted}` "
            f"(Windows: `py -{wanted} scripts/make.py run`)."
        )
    if where == "macos-x86_64":
        found.append(
            f"This is an Intel Mac: {PINNED_RELEASES} publish no wheel for Intel Macs, so the "
            f"curriculum cannot be installed here; {WAY_OUT}."
        )
    elif where == "macos-arm64":
        release = macos if macos is not None else platform.mac_ver()[0]
        major = int(release.split(".")[0]) if release.split(".")[0].isdigit() else 0
        if major and major < 14:
            found.append(
                f"torch 2.13's wheel for Apple Silicon needs macOS 14 (Sonoma) or newer, and this "
                f"is macOS {release}: update macOS, or {WAY_OUT}."
            )
    elif where not in SUPPORTED:
        found.append(
            f"This machine ({where}) is not one the curriculum installs on "
            f"({PINNED_RELEASES} have no wheels for it): {WAY_OUT}."
        )
    if where in SUPPORTED and bits != 64:
        found.append(
            f"This Python is {bits}-bit; {PINNED_RELEASES} need a 64-bit Python: install the 64-bit "
            f"Python {PYTHON_MAX[0]}.{PYTHON_MAX[1]} from python.org."
        )
    return found


def main() -> int:
    found = problems()
    for sentence in found:
        print(f"diptych: {sentence}", file=sys.stderr)
    if found:
        print(
            "Supported: " + "; ".join(SUPPORTED.values()) + f"; Python {python_range()}.",
            file=sys.stderr,
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
