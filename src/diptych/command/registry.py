"""The curriculum, discovered from the folder layout; there is no hand-kept list of lessons.

A lesson is a folder ``NN_slug`` under ``notebooks/`` holding one notebook per framework of the
table (``frameworks``), ``slug_<key>.ipynb``: ``slug_pytorch.ipynb``, ``slug_tensorflow.ipynb``;
its exercises, under ``exercises/`` (and solved, under ``solutions/``), are
``exercises_slug_<key>.ipynb``, so that a lesson and its exercises never open as two JupyterLab
tabs with the same name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import diptych
from diptych import frameworks
from diptych.command import sections

#: how each framework is named for a person
FRAMEWORK_NAMES = {f.key: f.name for f in frameworks.FRAMEWORKS}
KINDS = ("notebooks", "solutions", "exercises")
#: the file names of exercises (and their solutions) start with this; lessons' do not
EXERCISE_PREFIX = "exercises_"
ROOT_ENV = "DIPTYCH_ROOT"
_LESSON_DIR = re.compile(r"^(\d\d)_([a-z0-9_]+)$")


class CurriculumError(Exception):
    """The curriculum cannot be found, or a lesson or framework name is not known."""


@dataclass(frozen=True)
class Lesson:
    """One lesson: ``number`` "04", ``slug`` "mlp", and its notebooks by framework."""

    number: str
    slug: str
    folder: Path
    notebooks: dict[str, Path] = field(hash=False)

    @property
    def name(self) -> str:
        """The folder name, e.g. ``04_mlp``."""
        return f"{self.number}_{self.slug}"

    def metadata(self, framework: str) -> dict:
        """The notebook's ``diptych`` metadata (title, expected seconds), or {} if the file is
        unreadable or not shaped like a notebook (any JSON at all may be found in a file)."""
        try:
            notebook = json.loads(self.notebooks[framework].read_bytes())
        except (OSError, KeyError, ValueError):
            return {}
        metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
        found = metadata.get("diptych") if isinstance(metadata, dict) else None
        return found if isinstance(found, dict) else {}

    def minutes(self, solutions: Lesson | None = None) -> dict[str, Minutes]:
        """Learner minutes of each twin that can be read: its core path, its collapsed
        sections, and (from ``solutions``, the lesson's worked exercises) its exercises."""
        found = {}
        for framework, path in self.notebooks.items():
            notebook = _read_json(path)
            if notebook is None:
                continue
            solution = solutions.notebooks.get(framework) if solutions else None
            solved = _read_json(solution) if solution else None
            found[framework] = Minutes(
                core=sections.reading(notebook, "core").minutes,
                deeper=(
                    sections.reading(notebook, "deeper") + sections.reading(notebook, "parity")
                ).minutes,
                exercises=sections.exercise_minutes(solved) if solved else None,
            )
        return found


@dataclass(frozen=True)
class Minutes:
    """A learner's minutes for one notebook: reading and running its core path, its
    going-deeper and Parity sections, and its exercises (None without worked solutions)."""

    core: float
    deeper: float
    exercises: float | None


def _read_json(path: Path) -> dict | None:
    """A notebook's JSON, or None if it cannot be read or is not shaped like a notebook."""
    try:
        notebook = json.loads(path.read_bytes())
    except (OSError, KeyError, ValueError):
        return None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        return None
    return notebook


@dataclass(frozen=True)
class Curriculum:
    """Where the curriculum is, and how it was found: ``"variable"`` (``$DIPTYCH_ROOT``),
    ``"here"`` (the working folder or one above it) or ``"installed"`` (the checkout diptych
    runs from, used when the working folder holds no curriculum)."""

    root: Path
    found_by: str

    @property
    def chosen(self) -> bool:
        """True when the person chose this curriculum (by folder or variable), so writing into it
        is what they asked for."""
        return self.found_by != "installed"


def find_root(start: Path | None = None) -> Path:
    """The curriculum's root folder; see ``locate``."""
    return locate(start).root


def locate(start: Path | None = None) -> Curriculum:
    """The curriculum: ``$DIPTYCH_ROOT``, else the nearest folder up from ``start`` (the working
    directory) with ``notebooks/`` and ``pyproject.toml``, else the source checkout diptych runs
    from (which the command then names, and will not write into unless chosen)."""
    if os.environ.get(ROOT_ENV):
        root = Path(os.environ[ROOT_ENV]).expanduser()
        if not _is_dir(root / "notebooks"):
            raise CurriculumError(f"${ROOT_ENV} is {root}, which has no notebooks/ folder")
        return Curriculum(root, "variable")
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_dir(folder / "notebooks") and (folder / "pyproject.toml").is_file():
            return Curriculum(folder, "here")
    checkout = Path(diptych.__file__).resolve().parents[2]  # src/diptych/__init__.py
    if _is_dir(checkout / "notebooks"):
        return Curriculum(checkout, "installed")
    raise CurriculumError(
        "no curriculum found: run diptych inside the diptych folder (the one holding notebooks/), "
        f"or set {ROOT_ENV} to it"
    )


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # no permission to look
        return False


def lessons(root: Path, kind: str = "notebooks") -> list[Lesson]:
    """Every lesson folder under ``root/kind``, in number order."""
    if kind not in KINDS:
        raise CurriculumError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    base = root / kind
    try:
        folders = sorted(base.iterdir()) if base.is_dir() else []
        found = [_lesson(folder, kind) for folder in folders if _LESSON_DIR.match(folder.name)]
    except OSError as error:
        raise CurriculumError(f"{base}: cannot be read ({error.strerror or error})") from None
    return [lesson for lesson in found if lesson is not None]


def notebook_name(slug: str, framework: str, kind: str = "notebooks") -> str:
    """``slug_framework.ipynb`` for a lesson, ``exercises_slug_framework.ipynb`` for exercises."""
    prefix = "" if kind == "notebooks" else EXERCISE_PREFIX
    return f"{prefix}{slug}_{framework}.ipynb"


def _lesson(folder: Path, kind: str) -> Lesson | None:
    if not folder.is_dir():
        return None
    number, slug = _LESSON_DIR.match(folder.name).groups()  # type: ignore[union-attr]
    names = {
        framework: folder / notebook_name(slug, framework, kind) for framework in frameworks.KEYS
    }
    notebooks = {framework: path for framework, path in names.items() if path.is_file()}
    return Lesson(number, slug, folder, notebooks)


def select(available: list[Lesson], wanted: list[str]) -> list[Lesson]:
    """The lessons named in ``wanted`` ("04_mlp", "04", "4" or "mlp"); all when it is empty."""
    if not wanted:
        return available
    chosen = []
    for key in wanted:
        matches = [lesson for lesson in available if _matches(lesson, key)]
        if not matches:
            known = ", ".join(lesson.name for lesson in available) or "none"
            raise CurriculumError(f"unknown lesson {key!r}; known lessons: {known}")
        chosen += [lesson for lesson in matches if lesson not in chosen]
    return chosen


def _matches(lesson: Lesson, key: str) -> bool:
    key = key.strip().lower().rstrip("/")
    if key.isdecimal():
        return len(key) < 10 and int(key) == int(lesson.number)
    return key in (lesson.name, lesson.slug)


def chosen_frameworks(named: Sequence[str] | None) -> tuple[str, ...]:
    """The frameworks to run: those named (``--framework``, in the table's order, each once), or
    every one in the table when none is."""
    if not named:
        return frameworks.KEYS
    unknown = [key for key in named if key not in frameworks.KEYS]
    if unknown:
        raise CurriculumError(
            f"unknown framework {unknown[0]!r}; choose from {', '.join(frameworks.KEYS)}"
        )
    return tuple(key for key in frameworks.KEYS if key in named)


def framework_of(path: Path) -> str | None:
    """The framework a notebook is written for, from its name (``slug_pytorch.ipynb``), if any."""
    stem = Path(path).stem
    return next((fw for fw in frameworks.KEYS if stem.endswith(f"_{fw}")), None)
