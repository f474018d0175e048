"""A learner's own copy of the curriculum on a hub, handed out as their server starts.

JupyterHub's spawner runs this as the learner, in place of their Jupyter server
(``deploy/jupyterhub/jupyterhub_config.py``; the same command on Kubernetes)::

    python -m diptych.command.handout CURRICULUM [--into FOLDER] -- COMMAND [ARG...]

Every file of CURRICULUM's ``exercises/`` and ``notebooks/`` (the lessons, which the exercises
link to as ``../../notebooks/``) that FOLDER (default ``~/diptych``) does not hold yet is copied
there, and nothing else. A file already there is left as it is, edited or not, so nothing a
learner wrote is ever lost; an exercise added to the curriculum later reaches them at their next
start, and a notebook they rename or delete comes back fresh. Each copy is placed by
``files.place_new``, which never replaces a file, so a save racing the copy wins.

Then COMMAND (the Jupyter server) replaces this process, whatever the copy did: a learner whose
copy failed still gets their server, and the reason is on stderr, in the hub's log. Standard
library and ``diptych.command.files`` only: it runs before every server start.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from diptych.command.files import place_new

#: the curriculum's folders a learner gets: the exercises and the lessons they link to
HANDED_OUT = ("exercises", "notebooks")
#: never handed out: ``exercises build --force``'s backups (hidden files are never copied either)
KEPT_BACK = frozenset({"backups"})


def hand_out(curriculum: Path, into: Path) -> tuple[list[Path], list[str]]:
    """Copy each of the curriculum's handed-out files missing from ``into``; return the files
    copied and one line per file that could not be (the rest are still copied)."""
    copied: list[Path] = []
    problems: list[str] = []
    for source, relative in _handed_out(curriculum):
        target = into / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if place_new(target, source.read_bytes()):
                copied.append(target)
        except OSError as error:
            problems.append(f"{target}: not handed out ({error.strerror or error})")
    return copied, problems


def _handed_out(curriculum: Path) -> Iterator[tuple[Path, Path]]:
    """Each file to hand out and its path relative to the curriculum, in a stable order."""
    for name in HANDED_OUT:
        top = curriculum / name
        for folder, folders, files in os.walk(top):  # symbolic links to folders not followed
            folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in KEPT_BACK)
            for file in sorted(files):
                if not file.startswith("."):
                    source = Path(folder) / file
                    yield source, source.relative_to(curriculum)


def main(argv: list[str] | None = None) -> int:
    """Hand out, then become COMMAND; returns only when there is no command to become."""
    parser = argparse.ArgumentParser(
        prog="python -m diptych.command.handout",
        description="Copy the curriculum's exercises and lessons into a learner's folder, never "
        "over a file already there, then run COMMAND (their Jupyter server).",
    )
    parser.add_argument("curriculum", type=Path, metavar="CURRICULUM")
    parser.add_argument("--into", type=Path, default=Path.home() / "diptych", metavar="FOLDER")
    parser.epilog = "Everything after -- is the command, with its own options."
    arguments = sys.argv[1:] if argv is None else argv
    split = arguments.index("--") if "--" in arguments else len(arguments)
    options = parser.parse_args(arguments[:split])
    command = arguments[split + 1 :]
    if not (options.curriculum / "exercises").is_dir():
        print(f"diptych handout: {options.curriculum} has no exercises/ folder", file=sys.stderr)
    else:
        copied, problems = hand_out(options.curriculum, options.into)
        for line in problems:
            print(f"diptych handout: {line}", file=sys.stderr)
        print(f"diptych handout: {len(copied)} new files in {options.into}", file=sys.stderr)
    if not command:
        return 0
    sys.stderr.flush()
    os.execvp(command[0], command)  # never returns


if __name__ == "__main__":
    sys.exit(main())
