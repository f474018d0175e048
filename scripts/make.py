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
#: uv installs the lock (requirements/uv.txt says why), pip where uv cannot; after "--python VENV"
UV = ["-m", "uv", "pip", "install", "-q", "--python", "{venv}", "--compile-bytecode"]
FALLBACK = "uv could not install the lock here: pip installs it instead"

# what each target runs inside .venv, in order (the Makefile's recipes; `test` runs `lint` first)
LINT = [
    ["ruff", "check", "."],
    ["ruff", "format", "--check", "src", "tests", "benchmarks"],
    ["python", "-m", "mypy"],
]
#: `unit` measures the package's line coverage while it tests (pyproject.toml's tool.coverage)
COVERAGE = ["python", "-m", "coverage"]
#: what the suite needs besides .venv: the site tests' browser and the JupyterHub test's proxy
SUITE_TOOLS = [
    ["python", "scripts/chromium.py", "--install"],
    ["python", "scripts/hub_proxy.py", "--install"],
]
TARGETS = {
    "run": [["diptych", "run"]],
    "lint": LINT,
    "unit": [
        [*COVERAGE, "run", "-m", "pytest", "tests", "-m", "not slow and not lock", "-q"],
        [*COVERAGE, "combine", "-q"],
        [*COVERAGE, "report"],
    ],
    "guide-check": [["python", "-m", "pytest", "-m", "guide", "tests/test_contributing.py"]],
    "test": [*LINT, *SUITE_TOOLS, ["python", "-m", "pytest"]],
    # a rerun that reuses the notebook runs kept in build/notebook-runs/ (tests/reused_runs.py)
    "retest": [*SUITE_TOOLS, ["python", "-m", "pytest", "--reuse-runs", "build/notebook-runs"]],
}


def pip_installs(lock: str) -> list[list[str]]:
    """The pip install lines of the Makefile's install stamp, in order (arguments after PIP); the
    second and third are uv's own install and pip's in its place (``install_lock``)."""
    installs = (
        [["--retries", "2", "--no-deps", "-r", "requirements/torch-cpu.txt"]]
        if lock == "cpu"
        else []
    )
    return [
        *installs,
        ["-r", "requirements/uv.txt"],
        ["-r", f"requirements/{lock}.txt"],
        ["--no-deps", "--no-build-isolation", "-e", "."],
    ]


def uv_install(lock: str) -> list[str]:
    """uv's install of the lock (arguments after the virtual environment's python)."""
    command = [venv_python() if part == "{venv}" else part for part in UV]
    return [*command, "-r", f"requirements/{lock}.txt"]


def install_lock(lock: str, uv_wheel: list[str], by_pip: list[str]) -> None:
    """The Makefile's ``$(PIP) uv && $(UV) lock || { echo; $(PIP) lock; }``."""
    python = venv_python()
    for command in ([python, *PIP, *uv_wheel], [python, *uv_install(lock)]):
        if subprocess.run(command, cwd=ROOT).returncode:
            print(FALLBACK, flush=True)
            subprocess.run([python, *PIP, *by_pip], cwd=ROOT, check=True)
            return


def bin_dir() -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin")


def venv_python() -> str:
    return str(bin_dir() / ("python.exe" if os.name == "nt" else "python"))


def install(lock: str) -> None:
    sources = [
        ROOT / "requirements" / f"{lock}.txt",
        ROOT / "requirements" / "torch-cpu.txt",
        ROOT / "requirements" / "uv.txt",
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
    *first, uv_wheel, by_pip, editable = pip_installs(lock)
    for arguments in first:
        subprocess.run([venv_python(), *PIP, *arguments], cwd=ROOT, check=True)
    install_lock(lock, uv_wheel, by_pip)
    subprocess.run([venv_python(), *PIP, *editable], cwd=ROOT, check=True)
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
