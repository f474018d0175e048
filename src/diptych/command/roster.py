"""Who handed in what: the learners' exercise notebooks under the folders ``diptych class`` is given.

Three layouts, told apart by what a PATH is:

* nbgrader's ``submitted/<learner>/<assignment>/``: a PATH named ``submitted``, or one holding a
  ``submitted`` folder (a course folder). Every notebook of a learner's folder is a submission.
* one folder per learner (home folders on a hub, copied folders): each folder in PATH is a
  learner, named by the folder. Only notebooks named as diptych names exercises
  (``exercises_*.ipynb``) count, and none under a ``solutions``, ``backups`` or ``build`` folder
  (a clone of the curriculum holds worked solutions, ``exercises build --force`` keeps backups,
  and ``diptych site`` builds pages there).
* plain files: a notebook given as a PATH, or lying directly in a PATH folder, is its own
  learner, named by its file name without ``.ipynb``.

Hidden folders (``.ipynb_checkpoints``, ``.venv``, ``.git``) and installed packages are never
searched, and no symbolic link to a folder is followed. Nothing is opened here: whether a file is a
notebook at all is for the run to say, in its row.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from diptych.command.exit_status import UsageError

#: nbgrader's folder of collected submissions, ``submitted/<learner>/<assignment>/``
SUBMITTED = "submitted"
#: the file names diptych gives exercise notebooks (``exercises_tensors_pytorch.ipynb``)
EXERCISE_NAME = re.compile(r"exercises_[a-z0-9_]+\.ipynb")
#: folders in a learner's folder that hold no work of theirs (besides hidden ones)
NOT_WORK = frozenset({"solutions", "backups", "build", "site-packages", "node_modules"})


@dataclass(frozen=True)
class Submission:
    """One learner's notebook: who (the folder's or the file's name), and where it is."""

    learner: str
    path: Path

    @property
    def notebook(self) -> str:
        """The notebook as a table names it: its file name (a folder above may name a person)."""
        return self.path.name


def discover(paths: Iterable[Path]) -> list[Submission]:
    """Every learner's notebook under ``paths``, sorted by learner, then path.

    Raises UsageError for a PATH that is missing or neither a file nor a folder, and when no
    notebook is found at all: both are the instructor's input, before anything runs.
    """
    found: dict[Path, Submission] = {}
    for path in paths:
        path = Path(path)
        if path.is_file():
            found.setdefault(path.resolve(), Submission(_own_name(path), path))
        elif path.is_dir():
            for submission in _in_folder(path):
                found.setdefault(submission.path.resolve(), submission)
        elif path.exists():
            raise UsageError(f"{path}: neither a notebook nor a folder")
        else:
            raise UsageError(f"{path}: no such file or folder")
    if not found:
        shown = ", ".join(str(path) for path in paths)
        raise UsageError(
            f"no learners' notebooks found in {shown} (expected nbgrader's "
            f"{SUBMITTED}/LEARNER/ASSIGNMENT/, one folder per learner holding exercises_*.ipynb, "
            "or notebook files)"
        )
    return sorted(found.values(), key=lambda s: (s.learner.casefold(), s.learner, str(s.path)))


def _in_folder(folder: Path) -> Iterator[Submission]:
    """The submissions in one PATH folder, by its layout."""
    nbgrader = folder.name == SUBMITTED
    if not nbgrader and (folder / SUBMITTED).is_dir():
        folder, nbgrader = folder / SUBMITTED, True
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            yield Submission(_own_name(entry), entry)
        elif entry.is_dir() and not entry.is_symlink():
            for notebook in _notebooks(entry):
                if nbgrader or EXERCISE_NAME.fullmatch(notebook.name):
                    yield Submission(entry.name, notebook)


def _notebooks(folder: Path) -> Iterator[Path]:
    """Every ``.ipynb`` file under ``folder``, leaving out hidden folders and ``NOT_WORK``."""
    for top, folders, files in os.walk(folder):  # symbolic links to folders are not followed
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in NOT_WORK)
        for name in sorted(files):
            if name.endswith(".ipynb") and not name.startswith("."):
                yield Path(top) / name


def _own_name(path: Path) -> str:
    """A plain file's learner: its name without ``.ipynb``."""
    return path.name[: -len(".ipynb")] if path.name.endswith(".ipynb") else path.name


def pseudonyms(learners: Iterable[str]) -> dict[str, str]:
    """``learner 1`` … ``learner n`` for the learners in sorted order (zero-padded, so that the
    pseudonyms sort as the numbers do): stable within one run, not across runs where a learner
    joins or leaves."""
    names = sorted(set(learners), key=lambda name: (name.casefold(), name))
    width = len(str(len(names)))
    return {name: f"learner {number:0{width}d}" for number, name in enumerate(names, start=1)}


def shareable_name(submission: Submission) -> str:
    """The notebook's name where it can name no person: the name diptych gave it, else "–"."""
    return submission.notebook if EXERCISE_NAME.fullmatch(submission.notebook) else "–"
