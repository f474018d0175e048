"""Fixtures shared by the tests: the repository root, tiny throwaway curricula, and the outcomes
the exercise checks record. Plain helpers are in ``helpers.py``, imported by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import REPO, write_notebook


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def make_curriculum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Build a curriculum under tmp_path from {"NN_slug": {"pytorch": [cells], ...}} and point
    DIPTYCH_ROOT at it."""

    def make(lessons: dict[str, dict[str, list[str]]]) -> Path:
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        for name, twins in lessons.items():
            slug = name.split("_", 1)[1]
            for framework, cells in twins.items():
                write_notebook(tmp_path / "notebooks" / name / f"{slug}_{framework}.ipynb", *cells)
        monkeypatch.setenv("DIPTYCH_ROOT", str(tmp_path))
        return tmp_path

    return make


# --- the exercise checks' tests (test_checks*.py, test_scaling.py) ----------------------------


@pytest.fixture
def outcomes(monkeypatch, tmp_path):
    """Read back what the checks recorded (as `diptych check` does)."""
    from diptych import recording

    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    return lambda: recording.read_outcomes(tmp_path)
