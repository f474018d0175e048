"""``diptych exercises build``: write exercises/ from solutions/, never over a learner's work.

Solutions are the single source. Each exercise notebook is its solution with nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions replaced by a stub that raises
NotImplementedError (nbgrader's ClearSolutions does the stripping), and outputs cleared.

``exercises/.build-manifest.json`` remembers the hash of every file the last build wrote. A file
on disk that matches neither that hash nor the new build has been edited by a learner; build
refuses to overwrite it unless ``--force``, which first copies it to ``exercises/backups/``.

Nothing is lost, by construction, even with JupyterLab autosaving and two builds at once:

* one build at a time: a lock (``exercises/.build.lock``) makes a second build wait;
* the "is this the learner's?" decision made when planning is made again for each file at the
  moment of writing, on bytes nobody else can change any more: the file is first moved aside
  (``diptych.command.files.take``), judged, then put back untouched or backed up and replaced;
* the new file is written beside its place and linked in, so it appears whole, and never over a
  file saved meanwhile;
* a backup gets a name no file has yet, and is read back before the original is let go.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from diptych.command import exit_status
from diptych.command.execution import NotebookError, read_notebook
from diptych.command.exit_status import EXIT_FAILED, EXIT_OK
from diptych.command.files import (
    OutputError,
    copy_unique,
    place_new,
    put_back,
    take,
    validate_output_folder,
    write_atomic,
)
from diptych.command.registry import find_root, lessons
from diptych.optional import require

STUB = 'raise NotImplementedError("Exercise not done yet: replace this line with your code.")'
MANIFEST = ".build-manifest.json"
BACKUPS = "backups"
LOCK = ".build.lock"
#: how long a build waits for another one to finish (a build takes seconds)
LOCK_WAIT_SECONDS = 120


class BuildBusy(Exception):
    """Another build held the lock for longer than LOCK_WAIT_SECONDS."""


@dataclass(frozen=True)
class Plan:
    """What building one exercise notebook would do."""

    solution: Path
    exercise: Path
    text: str  # the generated notebook
    state: str  # "new", "same", "rebuilt" (previous build, untouched) or "edited" (a learner's)
    built: str | None = None  # hash of what the last build wrote there, from the manifest


def generate(solution: Path) -> str:
    """The exercise notebook for ``solution``, as deterministic JSON text.

    Raises NotebookError when the solution is unusable (see ``read_notebook``) or its solution
    regions cannot be stripped.
    """
    import nbformat

    ClearSolutions = require("nbgrader.preprocessors").ClearSolutions

    notebook = copy.deepcopy(read_notebook(solution))
    clear = ClearSolutions(code_stub={"python": STUB}, enforce_metadata=False)
    try:
        notebook, _ = clear.preprocess(notebook, {})
    except Exception as error:  # nbgrader raises RuntimeError and others for unbalanced regions
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise NotebookError(
            f"{solution}: its solution regions cannot be stripped ({reason})"
        ) from error
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    notebook.metadata.setdefault("diptych", {})["kind"] = "exercise"
    return nbformat.writes(notebook) + "\n"


def digest(data: str | bytes) -> str:
    """The hash the manifest keeps; Windows line endings (a CRLF checkout) do not change it."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def plan(root: Path) -> list[Plan]:
    """One Plan per solution notebook, comparing disk, the last build and the new build."""
    manifest = _read_manifest(root)
    plans = []
    for lesson in lessons(root, "solutions"):
        for solution in lesson.notebooks.values():
            exercise = root / "exercises" / lesson.name / solution.name
            text = generate(solution)
            built = manifest.get(_key(root, exercise))
            state = _judge(_read_exercise(exercise), text, built)
            plans.append(Plan(solution, exercise, text, state, built))
    return plans


def _judge(on_disk: bytes | None, text: str, built: str | None) -> str:
    """Whose file is this: nobody's yet, the new build's, the last build's, or a learner's."""
    if on_disk is None:
        return "new"
    found = digest(on_disk)
    if found == digest(text):
        return "same"
    return "rebuilt" if found == built else "edited"


def _read_exercise(exercise: Path) -> bytes | None:
    """The exercise's bytes as they are (any encoding), or None when there is none yet."""
    try:
        return exercise.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:  # a folder in its place, no permission, a broken disk
        raise NotebookError(f"{exercise}: cannot be read ({error.strerror or error})") from None


def build(*, verify: bool = False, force: bool = False, root: Path | None = None) -> int:
    """Build (or with ``verify`` only report whether in sync) every exercise notebook; returns the exit status."""
    root = root or find_root()
    if verify:
        return _report_sync(root, plan(root))
    try:
        with _one_build_at_a_time(root):
            return _build(root, force)
    except BuildBusy as busy:
        print(f"diptych: {busy}", file=sys.stderr)
        return EXIT_FAILED


def _build(root: Path, force: bool) -> int:
    plans = plan(root)
    if not plans:
        print(f"no solution notebooks found in {root / 'solutions'}")
        return EXIT_OK
    edited = [p for p in plans if p.state == "edited"]
    if edited and not force:
        names = "\n".join(f"  {p.exercise.relative_to(root)}" for p in edited)
        print(
            f"refusing to overwrite {len(edited)} exercise notebook(s) that have been edited since the "
            f"last build (a learner's work?):\n{names}\nNothing was written. Re-run with --force to "
            f"rebuild them; each edited file is first saved to exercises/{BACKUPS}/.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if edited:
        validate_output_folder(root / "exercises" / BACKUPS, "the backups folder")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    written = {p.exercise: _write(root, p, force, stamp) for p in plans if p.state != "same"}
    _write_manifest(root, plans, written)
    kept = sum(not done for done in written.values())
    print(
        f"exercises: {len(written) - kept} written, {len(plans) - len(written)} already up to date"
        + (f", {kept} left as they are (see above)" if kept else "")
    )
    return exit_status.of(kept > 0)


def _write(root: Path, p: Plan, force: bool, stamp: str) -> bool:
    """Put the new exercise in place, judging the file there now rather than when planning.

    The file is taken aside first, so that a save cannot slip in between judging and writing;
    returns False when the file is left as it is.
    """
    name = p.exercise.relative_to(root)
    p.exercise.parent.mkdir(parents=True, exist_ok=True)
    aside = take(p.exercise)
    disposable = True  # the taken file is generated, or backed up: it may be dropped
    try:
        if aside is not None:
            disposable = _judge(aside.read_bytes(), p.text, p.built) != "edited"
        if not disposable and not force:
            _warn(f"left {name} as it is: it was edited while this build ran (run it again to see)")
            return False
        if not disposable and aside is not None:  # an edited file was taken aside
            print(f"saved your edited {name} as {_backup(root, aside, p.exercise, stamp)}")
            disposable = True
        if place_new(p.exercise, p.text):
            return True
        _warn(f"left {name} as it is: it was saved while this build ran")
        return False
    finally:
        if aside is not None:
            _settle(root, aside, p.exercise, disposable, stamp)


def _settle(root: Path, aside: Path, exercise: Path, disposable: bool, stamp: str) -> None:
    """Drop a taken file that may be dropped; put a learner's back, or into backups when a newer
    save has taken its place meanwhile."""
    if disposable or put_back(aside, exercise):
        aside.unlink(missing_ok=True)
        return
    backup = _backup(root, aside, exercise, stamp)
    aside.unlink()
    _warn(
        f"{exercise.relative_to(root)} was saved again meanwhile; the earlier version is {backup}"
    )


def _backup(root: Path, source: Path, exercise: Path, stamp: str) -> Path:
    """A verified copy of a learner's file in exercises/backups/LESSON/, under a new name."""
    folder = root / "exercises" / BACKUPS / exercise.parent.name
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder.relative_to(root)}: a file where the backups folder should be")
    target = copy_unique(source, folder, f"{exercise.stem}-{stamp}", exercise.suffix)
    return target.relative_to(root)


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


@contextmanager
def _one_build_at_a_time(root: Path) -> Iterator[None]:
    """Hold exercises/.build.lock; a second build waits (saying so) for the first to finish."""
    filelock = require("filelock")
    folder = root / "exercises"
    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(folder / LOCK)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        _warn("another 'diptych exercises build' is running here; waiting for it to finish")
        try:
            lock.acquire(timeout=LOCK_WAIT_SECONDS)
        except filelock.Timeout:
            raise BuildBusy(
                f"another 'diptych exercises build' has held {folder / LOCK} for "
                f"{LOCK_WAIT_SECONDS} s; nothing was written. Try again when it has finished."
            ) from None
    try:
        yield
    finally:
        lock.release()


def _report_sync(root: Path, plans: list[Plan]) -> int:
    if not plans:
        print(f"no solution notebooks found in {root / 'solutions'}")
        return EXIT_OK
    stale = [p for p in plans if p.state != "same"]
    for p in stale:
        reason = "missing" if p.state == "new" else "differs from its solution"
        print(f"out of sync: {p.exercise.relative_to(root)} ({reason})")
    if stale:
        print("run 'diptych exercises build' to regenerate them from solutions/")
        return EXIT_FAILED
    print(f"all {len(plans)} exercise notebooks are in sync with solutions/")
    return EXIT_OK


def _key(root: Path, exercise: Path) -> str:
    return exercise.relative_to(root / "exercises").as_posix()


def _read_manifest(root: Path) -> dict[str, str]:
    """The last build's hashes; {} (every differing exercise then counts as edited) if unusable."""
    path = root / "exercises" / MANIFEST
    try:
        manifest: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        return _unusable_manifest(path, getattr(error, "strerror", None) or "not JSON")
    if not isinstance(manifest, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in manifest.items()
    ):
        return _unusable_manifest(path, "not a table of file hashes")
    return manifest


def _unusable_manifest(path: Path, reason: str) -> dict[str, str]:
    _warn(
        f"note: {path} is unusable ({reason}); every exercise that differs from its solution "
        "counts as a learner's until a build rewrites it"
    )
    return {}


def _write_manifest(root: Path, plans: list[Plan], written: dict[Path, bool]) -> None:
    """Hashes of what is now on disk from a build; a file left as it is keeps its old entry."""
    manifest = {}
    for p in plans:
        if written.get(p.exercise, True):
            manifest[_key(root, p.exercise)] = digest(p.text)
        elif p.built is not None:
            manifest[_key(root, p.exercise)] = p.built
    text = json.dumps(dict(sorted(manifest.items())), indent=1) + "\n"
    write_atomic(root / "exercises" / MANIFEST, text)
