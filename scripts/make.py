"""The Makefile's targets for a machine without make (Windows): needs nothing beyond Python.

    python scripts/make.py run            # = make run   (py scripts\\make.py run on Windows)
    python scripts/make.py test           # = make test
    python scripts/make.py run --lock gpu # = make run LOCK=gpu
    python scripts/make.py run -- --matrix  (arguments after -- go to the command)

Like the Makefile, it creates .venv from the lock first, once, and again when the lock or
pyproject.toml changes (recreating it when the lock chosen changes). Keep the two in step:
tests/test_make_py.py checks that both run the same pip and target commands.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
STAMP = VENV / ".diptych-installed"
PIP = ["-m", "pip", "install", "-qq", "--disable-pip-version-check"]

# what each target runs inside .venv, in order (the Makefile's recipes; `test` runs `lint` first)
LINT = [
    ["ruff", "check", "."],
    ["ruff", "format", "--check", "src", "tests", "benchmarks"],
    ["python", "-m", "mypy"],
]
TARGETS = {
    "run": [["diptych", "run"]],
    "lint": LINT,
    "unit": [["python", "-m", "pytest", "tests", "-m", "not slow and not lock", "-q"]],
    "test": [*LINT, ["python", "scripts/chromium.py", "--install"], ["python", "-m", "pytest"]],
}


def pip_installs(lock: str) -> list[list[str]]:
    """The pip install lines of the Makefile's install stamp, in order (arguments after PIP)."""
    installs = [["--no-deps", "-r", "requirements/torch-cpu.txt"]] if lock == "cpu" else []
    return [
        *installs,
        ["-r", f"requirements/{lock}.txt"],
        ["--no-deps", "--no-build-isolation", "-e", "."],
    ]


def bin_dir() -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin")


def venv_python() -> str:
    return str(bin_dir() / ("python.exe" if os.name == "nt" else "python"))


def install(lock: str) -> None:
    sources = [
        ROOT / "requirements" / f"{lock}.txt",
        ROOT / "requirements" / "torch-cpu.txt",
        ROOT / "pyproject.toml",
    ]
    installed = (STAMP.read_text().strip() or "cpu") if STAMP.exists() else None
    if installed == lock and all(STAMP.stat().st_mtime >= s.stat().st_mtime for s in sources):
        return
    checked = subprocess.run([sys.executable, str(ROOT / "src" / "diptych" / "platforms.py")])
    if checked.returncode:
        sys.exit(checked.returncode)
    if installed is not None and installed != lock:
        shutil.rmtree(VENV)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    for arguments in pip_installs(lock):
        subprocess.run([venv_python(), *PIP, *arguments], cwd=ROOT, check=True)
    STAMP.write_text(f"{lock}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=[*TARGETS, "install"])
    parser.add_argument("--lock", choices=["cpu", "gpu"], default=os.environ.get("LOCK", "cpu"))
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the command")
    options = parser.parse_args(argv)
    install(options.lock)
    if options.target == "install":
        return 0
    rest = options.rest[1:] if options.rest[:1] == ["--"] else options.rest
    *first, last = TARGETS[options.target]
    for command in [*first, [*last, *rest]]:
        program, *arguments = command
        program = venv_python() if program == "python" else str(bin_dir() / program)
        status = subprocess.run([program, *arguments], cwd=ROOT).returncode
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
