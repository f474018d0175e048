"""``diptych doctor``: can this machine run the curriculum? Each problem comes with its fix.

Doctor imports no framework itself: it loads each framework's adapter (``adapters.loading``) and
asks it what it is and sees (``adapter.installation()``), so a third framework is reported by
its adapter alone."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from enum import Enum
from importlib import metadata
from pathlib import Path

from diptych import platforms
from diptych.adapters.contract import Adapter
from diptych.adapters.loading import load
from diptych.frameworks import FRAMEWORKS, Framework, listed, others
from diptych.optional import is_installed

CORE_PACKAGES = (
    "numpy",
    "scikit-learn",
    "matplotlib",
    "nbformat",
    "nbclient",
    "ipykernel",
    "tqdm",
    "tabulate",
)


class Level(str, Enum):
    """How a finding bears on running the curriculum: fine, works with a caveat, or cannot run."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    level: Level
    topic: str
    detail: str
    fix: str = ""


def examine() -> list[Finding]:
    """Every check, in the order a person would fix them."""
    return [
        _python(),
        _environment(),
        *(_package(name) for name in CORE_PACKAGES),
        *_frameworks(),
        *_porting_tools(),
        _kernel(),
        _dataset(),
        _curriculum(),
    ]


def _python() -> Finding:
    """This Python and machine, or why the locks cannot install here (platforms.py's sentence)."""
    where = f"{platform.python_version()} on {platforms.key()} ({sys.executable})"
    problems = platforms.problems()
    if problems:
        return Finding(
            Level.FAIL,
            "Python",
            f"{where}: {' '.join(problems)}",
            "supported: "
            + "; ".join(platforms.SUPPORTED.values())
            + f"; Python {platforms.python_range()}",
        )
    return Finding(Level.OK, "Python", where)


def _environment() -> Finding:
    """Which lock installed this environment (the Makefile's and scripts/make.py's stamp)."""
    stamp = Path(sys.prefix) / ".diptych-installed"
    if not stamp.exists():
        return Finding(Level.OK, "environment", f"not from a lock ({sys.prefix})")
    lock = stamp.read_text().strip() or "cpu"
    kind = {"cpu": "CPU", "gpu": "GPU (CUDA)"}.get(lock, lock)
    return Finding(Level.OK, "environment", f"{kind}: requirements/{lock}.txt in {sys.prefix}")


def _gpu_lock() -> bool:
    stamp = Path(sys.prefix) / ".diptych-installed"
    return stamp.exists() and stamp.read_text().strip() == "gpu"


def _gpu_finding(name: str, detail: str, built_for_cuda: bool, sees_gpu: bool) -> Finding:
    """A framework's line; on the GPU lock, a framework that sees no GPU is a warning with its fix."""
    build = "CUDA build" if built_for_cuda else "CPU build"
    detail = f"{detail}; {build}, GPU {'seen' if sees_gpu else 'not seen'}"
    if _gpu_lock() and not sees_gpu:
        fix = (
            "the GPU lock is installed but no GPU is seen: check `nvidia-smi` (driver for "
            "CUDA 12 and 13)"
            if built_for_cuda
            else "this is a CPU build in the GPU environment: make clean-venv, then make run LOCK=gpu"
        )
        return Finding(Level.WARN, name, detail, fix)
    return Finding(Level.OK, name, detail)


def _package(name: str) -> Finding:
    try:
        return Finding(Level.OK, name, metadata.version(name))
    except metadata.PackageNotFoundError:
        return Finding(
            Level.FAIL,
            name,
            "not installed",
            "pip install -e . (the README's first command does it)",
        )


def _porting_tools() -> list[Finding]:
    """Lesson 08's tools (the ``porting`` extra): without safetensors the lesson cannot run; each
    ONNX tool missing only skips the ONNX section, so these are warnings, never failures."""
    from diptych.porting import TOOLS

    findings = []
    for module, part in TOOLS.items():
        try:
            findings.append(Finding(Level.OK, module, metadata.version(module)))
        except metadata.PackageNotFoundError:
            effect = "lesson 08 cannot run" if module == "safetensors" else "lesson 08 skips it"
            findings.append(
                Finding(
                    Level.WARN,
                    module,
                    f"not installed: {part} ({effect})",
                    "pip install -e '.[porting]'",
                )
            )
    return findings


def _frameworks() -> list[Finding]:
    """One line per framework in the table; one framework is enough to run its track."""
    findings = [_framework(framework) for framework in FRAMEWORKS]
    if all(f.level != Level.OK for f in findings):
        return [Finding(Level.FAIL, f.topic, f.detail, f.fix) for f in findings]
    return findings


def _load(framework: Framework) -> Adapter | Finding:
    """Load a framework's adapter (which imports the framework), or say why it cannot be used:
    absent, or present but broken."""
    name = framework.name
    rest = [f.name for f in others(framework)]
    other = f"{listed(rest)} track{'s' if len(rest) > 1 else ''}"
    fix = framework.install_command
    if not is_installed(framework.module):
        return Finding(Level.WARN, name, f"not installed: only the {other} can run", fix)
    try:
        return load(framework)
    except Exception as error:  # a broken install raises anything from ImportError to OSError
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        return Finding(
            Level.WARN,
            name,
            f"installed but cannot be imported ({reason}): only the {other} can run",
            f"reinstall it: {fix}",
        )


def _framework(framework: Framework) -> Finding:
    """A framework's version, build and devices, as its adapter sees them."""
    adapter = _load(framework)
    if isinstance(adapter, Finding):
        return adapter
    seen = adapter.installation()
    return _gpu_finding(
        framework.name,
        f"{seen.version}; devices: {', '.join(seen.devices)}",
        built_for_cuda=seen.built_for_cuda,
        sees_gpu=seen.sees_gpu,
    )


def _kernel() -> Finding:
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        spec = KernelSpecManager().get_kernel_spec("python3")
    except (ImportError, NoSuchKernel) as error:
        return Finding(
            Level.FAIL, "Jupyter kernel", f"no python3 kernel ({error})", "pip install ipykernel"
        )
    return Finding(Level.OK, "Jupyter kernel", f"python3 ({spec.argv[0]})")


def _dataset() -> Finding:
    try:
        from sklearn.datasets import load_digits

        shape = load_digits().data.shape
    except Exception as error:  # any failure here means the lessons cannot load their data
        return Finding(Level.FAIL, "digits dataset", str(error), "pip install scikit-learn")
    return Finding(
        Level.OK,
        "digits dataset",
        f"{shape[0]} images of 8×8 (bundled with scikit-learn, no download)",
    )


def _curriculum() -> Finding:
    from diptych.command.registry import CurriculumError, lessons, locate

    try:
        found = locate()
        count = len(lessons(found.root))
    except CurriculumError as error:
        return Finding(Level.WARN, "curriculum", str(error))
    origin = "" if found.chosen else " (none in this folder: the checkout diptych runs from)"
    return Finding(Level.OK, "curriculum", f"{count} lessons in {found.root / 'notebooks'}{origin}")


def render(findings: list[Finding]) -> str:
    """The report as text, problems and their fixes last."""
    lines = [f"{f.level.value.upper():<5}{f.topic:<16}{f.detail}" for f in findings]
    fixes = [f"  - {f.topic}: {f.fix}" for f in findings if f.level != Level.OK and f.fix]
    if fixes:
        lines += ["", "To fix:", *fixes]
    failed = sum(f.level == Level.FAIL for f in findings)
    lines += [
        "",
        "This machine can run the curriculum."
        if not failed
        else f"{failed} problem(s) stop the curriculum from running here.",
    ]
    return "\n".join(lines)
