"""A local store of passing notebook runs, so that ``make retest`` after changing one lesson
executes only that lesson (``pytest --reuse-runs DIR``; ``tests/notebook_runs.py`` reads it).

A run is kept only when every one of its cells passed, and it is keyed by the SHA-256 of
everything that could change what it records: the notebook's bytes and the other files of its
folder, the library (``src/``), the lock files and ``pyproject.toml``, this plugin, every
installed package's version, the Python, the machine and its CPU, the configuration's name and
the environment variables a kernel reads (threads, determinism, the imitated CPU). Change any of
them and the key changes, so the notebook runs again. What a reused run recorded is put back
where the comparisons read it, and they compare it afresh.

It is never used in CI (``$CI`` set refuses the option) nor in a fresh clone: the store lives in
the checkout's ignored ``build/`` folder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: what the key reads besides the notebook, relative to the repository's root
LIBRARY = (
    "src",
    "requirements",
    "pyproject.toml",
    "conftest.py",
    "tests/notebook_runs.py",
    "tests/reused_runs.py",
)
#: written beside a kept run's records: when, and which run
ABOUT = "reused-run.json"


def run_key(root: Path, notebook: Path, configuration: str, environment: Mapping[str, str]) -> str:
    """The key of one notebook's run under one configuration: equal keys, equal inputs."""
    digest = hashlib.sha256()
    _add(digest, _lesson_files(notebook))
    described = {
        "library": library_digest(root),
        "configuration": configuration,
        "environment": dict(sorted(environment.items())),
        "packages": installed_packages(),
        "machine": machine(),
    }
    digest.update(json.dumps(described, sort_keys=True).encode())
    return digest.hexdigest()


def _add(digest: Any, files: Iterable[tuple[str, bytes]]) -> None:
    for name, data in files:
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)


def _lesson_files(notebook: Path) -> Iterable[tuple[str, bytes]]:
    """The notebook, then the other files of its folder (a lesson's scripts; not its twin)."""
    yield "notebook", notebook.read_bytes()
    for path in sorted(notebook.parent.iterdir()):
        if path.is_file() and path.suffix != ".ipynb":
            yield path.name, path.read_bytes()


@functools.cache
def library_digest(root: Path) -> str:
    """The SHA-256 of the library's files (``LIBRARY``), read once per process: every run's key
    shares it, and a session's keys are made at collection, before any notebook runs."""
    digest = hashlib.sha256()
    for name in LIBRARY:
        top = root / name
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        _add(
            digest,
            (
                (path.relative_to(root).as_posix(), path.read_bytes())
                for path in files
                if path.is_file() and "__pycache__" not in path.parts
            ),
        )
    return digest.hexdigest()


@functools.cache
def installed_packages() -> tuple[tuple[str, str], ...]:
    """Every installed distribution and its version: a package installed or upgraded by hand,
    outside the lock, changes the key too."""
    found = {
        (d.metadata["Name"] or "").lower(): d.version for d in importlib.metadata.distributions()
    }
    return tuple(sorted(found.items()))


@functools.cache
def machine() -> dict[str, str]:
    """The Python, the operating system and the CPU's model and instruction sets: a run kept on
    one machine is not taken for another's (a store copied with the checkout)."""
    cpu = {"model name": platform.processor(), "flags": ""}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            field, _, value = line.partition(":")
            if field.strip() in cpu and value.strip():
                cpu[field.strip()] = value.strip()
    except OSError:
        pass
    return {"python": sys.version, "platform": platform.platform(), **cpu}


def kept(store: Path, key: str) -> Path | None:
    """The records of the passing run kept under ``key``, or None."""
    folder = store / key
    return folder if (folder / ABOUT).is_file() else None


def when_kept(folder: Path) -> str:
    """When the run kept in ``folder`` passed, for the skip message."""
    return str(json.loads((folder / ABOUT).read_text())["passed"])


def keep(store: Path, key: str, records: Path, nodeid: str) -> None:
    """Keep a passing run's records under ``key``. The copy is made aside and renamed into
    place, so an interrupted copy is never taken for a kept run."""
    store.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=store, prefix=".staging-"))
    try:
        shutil.copytree(records, staging / "records")
        about = {"run": nodeid, "passed": datetime.now(UTC).isoformat(timespec="seconds")}
        (staging / "records" / ABOUT).write_text(json.dumps(about))
        with contextlib.suppress(OSError):  # another worker kept the same run first
            os.replace(staging / "records", store / key)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore(folder: Path, records: Path) -> None:
    """Put a kept run's records back where the comparisons read them."""
    shutil.rmtree(records, ignore_errors=True)
    shutil.copytree(folder, records, ignore=shutil.ignore_patterns(ABOUT))
