"""Fixtures shared by the tests: the repository root and tiny throwaway curricula."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    return REPO


def write_notebook(
    path: Path, *cells: str | tuple[str, list[str]], markdown: str = "## Parity"
) -> Path:
    """A small notebook: one markdown cell, then one code cell per string; a (source, tags) pair
    makes a tagged cell, and a source starting with "## " a markdown cell."""
    made = [new_markdown_cell(markdown)]
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        made.append(
            new_markdown_cell(source) if source.startswith("## ") else new_code_cell(source)
        )
        if tags:
            made[-1].metadata["tags"] = tags
    notebook = new_notebook(cells=made)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


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


def verdict(check, learner, adapter, outcomes, **kwargs):
    """The outcome the check recorded (how long checks take is measured, never asserted)."""
    check(learner, adapter, **kwargs)
    return outcomes()[-1]


def case_id(case) -> str:
    """A (check, learner, adapter, ...) case's test id: check-framework-learner."""
    return f"{case[0].__name__}-{case[2].NAME}-{getattr(case[1], '__name__', 'lambda')}"
