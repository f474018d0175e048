"""The curriculum, discovered from the folder layout; there is no hand-kept list of lessons.

A lesson is a folder ``NN_slug`` under ``notebooks/`` (and, for its exercises, under
``solutions/`` and ``exercises/``) holding ``slug_pytorch.ipynb`` and ``slug_tensorflow.ipynb``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

FRAMEWORKS = ("pytorch", "tensorflow")
#: how each framework is named for a person (file names use the keys)
FRAMEWORK_NAMES = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}
KINDS = ("notebooks", "solutions", "exercises")
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
        """The notebook's ``diptych`` metadata (title, expected seconds), or {} if unreadable."""
        try:
            notebook = json.loads(self.notebooks[framework].read_text(encoding="utf-8"))
        except (OSError, KeyError, ValueError):
            return {}
        return notebook.get("metadata", {}).get("diptych", {})


def find_root(start: Path | None = None) -> Path:
    """The curriculum's root: ``$DIPTYCH_ROOT``, else the nearest folder up from ``start`` (the
    working directory) with a ``notebooks/`` folder, else the source checkout diptych runs from."""
    if os.environ.get(ROOT_ENV):
        root = Path(os.environ[ROOT_ENV]).expanduser()
        if not (root / "notebooks").is_dir():
            raise CurriculumError(f"${ROOT_ENV} is {root}, which has no notebooks/ folder")
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "notebooks").is_dir():
        return checkout
    raise CurriculumError(
        "no curriculum found: run diptych inside the diptych folder (the one holding notebooks/), "
        f"or set {ROOT_ENV} to it"
    )


def lessons(root: Path, kind: str = "notebooks") -> list[Lesson]:
    """Every lesson folder under ``root/kind``, in number order."""
    if kind not in KINDS:
        raise CurriculumError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    base = root / kind
    found = []
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        match = _LESSON_DIR.match(folder.name)
        if not folder.is_dir() or not match:
            continue
        number, slug = match.groups()
        notebooks = {
            framework: folder / f"{slug}_{framework}.ipynb"
            for framework in FRAMEWORKS
            if (folder / f"{slug}_{framework}.ipynb").is_file()
        }
        found.append(Lesson(number, slug, folder, notebooks))
    return found


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
    if key.isdigit():
        return int(key) == int(lesson.number)
    return key in (lesson.name, lesson.slug)


def check_framework(framework: str | None) -> tuple[str, ...]:
    """The frameworks to run: the one named, or both when None."""
    if framework is None:
        return FRAMEWORKS
    if framework not in FRAMEWORKS:
        raise CurriculumError(f"unknown framework {framework!r}; choose pytorch or tensorflow")
    return (framework,)
