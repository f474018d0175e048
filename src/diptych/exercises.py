"""``diptych exercises build``: write exercises/ from solutions/, never over a learner's work.

Solutions are the single source. Each exercise notebook is its solution with nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions replaced by a stub that raises
NotImplementedError (nbgrader's ClearSolutions does the stripping), and outputs cleared.

Nothing is lost: ``exercises/.build-manifest.json`` remembers the hash of every file the last
build wrote. A file on disk that matches neither that hash nor the new build has been edited by
a learner; build refuses to overwrite it unless ``--force``, which first copies it to
``exercises/backups/`` with a timestamp and says where.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from diptych.optional import require
from diptych.registry import find_root, lessons

STUB = 'raise NotImplementedError("Exercise not done yet: replace this line with your code.")'
MANIFEST = ".build-manifest.json"
BACKUPS = "backups"


@dataclass(frozen=True)
class Plan:
    """What building one exercise notebook would do."""

    solution: Path
    exercise: Path
    text: str  # the generated notebook
    state: (
        str  # "new", "same", "rebuilt" (previous build, untouched) or "edited" (a learner's work)
    )


def generate(solution: Path) -> str:
    """The exercise notebook for ``solution``, as deterministic JSON text."""
    import nbformat

    ClearSolutions = require("nbgrader.preprocessors").ClearSolutions

    notebook = copy.deepcopy(nbformat.read(solution, as_version=4))
    clear = ClearSolutions(code_stub={"python": STUB}, enforce_metadata=False)
    notebook, _ = clear.preprocess(notebook, {})
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    notebook.metadata.setdefault("diptych", {})["kind"] = "exercise"
    return nbformat.writes(notebook) + "\n"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan(root: Path) -> list[Plan]:
    """One Plan per solution notebook, comparing disk, the last build and the new build."""
    manifest = _read_manifest(root)
    plans = []
    for lesson in lessons(root, "solutions"):
        for solution in lesson.notebooks.values():
            exercise = root / "exercises" / lesson.name / solution.name
            text = generate(solution)
            plans.append(
                Plan(
                    solution,
                    exercise,
                    text,
                    _state(exercise, text, manifest.get(_key(root, exercise))),
                )
            )
    return plans


def _state(exercise: Path, text: str, built_hash: str | None) -> str:
    if not exercise.exists():
        return "new"
    on_disk = digest(exercise.read_text(encoding="utf-8"))
    if on_disk == digest(text):
        return "same"
    return "rebuilt" if on_disk == built_hash else "edited"


def build(*, check: bool = False, force: bool = False, root: Path | None = None) -> int:
    """Build (or with ``check`` only verify) every exercise notebook; returns the exit status."""
    root = root or find_root()
    plans = plan(root)
    if not plans:
        print(f"no solution notebooks found in {root / 'solutions'}")
        return 0
    if check:
        return _report_sync(root, plans)
    edited = [p for p in plans if p.state == "edited"]
    if edited and not force:
        names = "\n".join(f"  {p.exercise.relative_to(root)}" for p in edited)
        print(
            f"refusing to overwrite {len(edited)} exercise notebook(s) that have been edited since the "
            f"last build (a learner's work?):\n{names}\nNothing was written. Re-run with --force to "
            f"rebuild them; each edited file is first saved to exercises/{BACKUPS}/.",
            file=sys.stderr,
        )
        return 1
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for p in plans:
        if p.state == "edited":
            print(
                f"saved your edited {p.exercise.relative_to(root)} as {_backup(root, p.exercise, stamp).relative_to(root)}"
            )
        if p.state != "same":
            p.exercise.parent.mkdir(parents=True, exist_ok=True)
            p.exercise.write_text(p.text, encoding="utf-8")
    _write_manifest(root, plans)
    changed = sum(p.state != "same" for p in plans)
    print(f"exercises: {changed} written, {len(plans) - changed} already up to date")
    return 0


def _report_sync(root: Path, plans: list[Plan]) -> int:
    stale = [p for p in plans if p.state != "same"]
    for p in stale:
        reason = "missing" if p.state == "new" else "differs from its solution"
        print(f"out of sync: {p.exercise.relative_to(root)} ({reason})")
    if stale:
        print("run 'diptych exercises build' to regenerate them from solutions/")
        return 1
    print(f"all {len(plans)} exercise notebooks are in sync with solutions/")
    return 0


def _backup(root: Path, exercise: Path, stamp: str) -> Path:
    lesson = exercise.parent.name
    target = root / "exercises" / BACKUPS / lesson / f"{exercise.stem}-{stamp}{exercise.suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(exercise, target)
    return target


def _key(root: Path, exercise: Path) -> str:
    return exercise.relative_to(root / "exercises").as_posix()


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / "exercises" / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_manifest(root: Path, plans: list[Plan]) -> None:
    manifest = {_key(root, p.exercise): digest(p.text) for p in plans}
    path = root / "exercises" / MANIFEST
    path.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n", encoding="utf-8")
