"""What a check is: run the learner's code, turn what happened into one line, record it.

A check prints one line. A pass goes to stdout; a failure or an unfinished exercise goes to
stderr, which Jupyter shows in a shaded box (no traceback) and which nbgrader counts as a failed
test in a grade cell: so nbgrader's Validate tells the truth while "Run All" still runs on to
the next exercise. Each outcome is also recorded (``diptych.recording``) for ``diptych check``.
"""

from __future__ import annotations

import functools
import linecache
import os
import site
import sys
import sysconfig
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from diptych.outcomes import Outcome, Status
from diptych.recording import append_outcome

PASSED, FAILED, NOT_DONE = Status.PASSED, Status.FAILED, Status.NOT_DONE
#: what a learner is told to do about an unfinished exercise, in words that fit a terminal too
NOT_DONE_MESSAGE = "replace the `raise NotImplementedError` line in the exercise with your code"
#: added in the notebook only, where "this cell" means something
NOT_DONE_IN_NOTEBOOK = ", run the exercise's cell, then this check again"


class Mismatch(Exception):
    """The learner's answer is wrong in a way the message describes in plain words."""


@dataclass(frozen=True)
class Exercise:
    """One exercise, known to its lesson's check module: the one source of its number and title.

    The number is the check's place in its module; the notebooks' heading for the exercise is
    ``heading`` word for word (tested), and every line a check or ``diptych check`` prints names it
    the same way.
    """

    module: str  # e.g. "tensors"
    check: str  # the check function's name, e.g. "softplus_derivative"
    number: int  # 1, 2, ...: the order of the checks in the module
    title: str  # e.g. "The derivative of softplus"

    @property
    def heading(self) -> str:
        """``Exercise 1: The derivative of softplus``, as the notebooks' ``##`` heading says."""
        return f"Exercise {self.number}: {self.title}"


#: every exercise of every imported check module, in definition order (module -> exercises)
EXERCISES: dict[str, list[Exercise]] = {}


def exercise(title: str) -> Callable[[Callable[..., str]], Callable[..., None]]:
    """Make a check out of a function that returns a success message or raises Mismatch.

    ``title`` is the exercise's title as its notebook heading gives it ("The derivative of
    softplus"); the exercise's number is the check's place in its module. The decorated function,
    called from a notebook with the learner's function and the adapter, prints one line and
    returns nothing (see ``run_check``). The check module's exercises are registered in
    ``EXERCISES`` so that ``diptych check`` knows how many there are.
    """
    if title.lower().startswith("exercise"):
        raise ValueError(f"give the title alone, without 'Exercise N': {title!r}")

    def decorate(check: Callable[..., str]) -> Callable[..., None]:
        module = check.__module__.rsplit(".", 1)[-1]
        known = EXERCISES.setdefault(module, [])
        names = [item.check for item in known]
        if check.__name__ in names:  # the module imported again: same place, same number
            place = names.index(check.__name__)
            item = known[place] = Exercise(module, check.__name__, place + 1, title)
        else:
            item = Exercise(module, check.__name__, len(known) + 1, title)
            known.append(item)

        @functools.wraps(check)
        def self_check(*args: Any, **kwargs: Any) -> None:
            return run_check(
                item.heading, lambda: check(*args, **kwargs), check=f"{module}.{check.__name__}"
            )

        return self_check

    return decorate


def exercises_of(module: str) -> list[Exercise]:
    """The exercises of ``diptych.checks.<module>``, importing it; [] if there is no such module."""
    import importlib

    try:
        importlib.import_module(f"diptych.checks.{module}")
    except ModuleNotFoundError:
        return []
    return list(EXERCISES.get(module, []))


def run_check(exercise: str, attempt: Callable[[], str], *, check: str = "") -> None:
    """Run ``attempt`` (which returns a success message or raises Mismatch); print and record.

    Returns nothing visible in a notebook: the printed line is the whole answer. Python warnings
    raised by the learner's code are shown after a pass, on stdout, so that a warning alone never
    reads as a failed test. Only the learner's: a warning counts when it is raised while the
    learner's code runs (their function, called by the check), not one the check raises around
    it; and a deprecation raised inside a library the learner called counts only when it is
    attributed to the learner's own line, as Python's default filters show deprecations.
    """
    caught: list[str] = []
    with warnings.catch_warnings():  # restores showwarning on the way out
        warnings.simplefilter("default")
        warnings.showwarning = _learners_warnings(caught, sys._getframe())
        outcome = _attempt(exercise, attempt, check)
    append_outcome(outcome)
    if outcome.status == PASSED:
        notes = sorted(set(caught))
        print(outcome.line() + "".join(f"\n  (your code warned: {note})" for note in notes))
    else:
        suffix = NOT_DONE_IN_NOTEBOOK if outcome.status == NOT_DONE else ""
        print(outcome.line() + suffix, file=sys.stderr)


def _learners_warnings(caught: list[str], check: FrameType) -> Callable[..., None]:
    """A ``warnings.showwarning`` that keeps, in ``caught``, the warnings raised in the learner's
    code: with one of its frames on the stack between the warning and ``check``, the frame of
    ``run_check`` (in a thread the check started, anywhere on that thread's stack)."""

    def keep(message: Warning | str, category: type[Warning], filename: str, *_: Any) -> None:
        frame: FrameType | None = sys._getframe(1)
        learners = False
        while frame is not None and frame is not check:
            learners = learners or _is_learners(frame)
            frame = frame.f_back
        if issubclass(category, (DeprecationWarning, PendingDeprecationWarning)):
            learners = learners and _is_learners_file(filename)
        if learners:
            caught.append(f"{category.__name__}: {message}")

    return keep


def _is_learners_file(filename: str) -> bool:
    """Is this file the learner's, rather than diptych's, installed code or Python's own?"""
    path = os.path.abspath(filename)
    prefixes = (*_INSTALLED_PREFIXES, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return not any(path.startswith(prefix + os.sep) for prefix in prefixes)


def _attempt(exercise: str, attempt: Callable[[], str], check: str) -> Outcome:
    try:
        return Outcome(exercise, PASSED, attempt(), check)
    except NotImplementedError:
        return Outcome(exercise, NOT_DONE, NOT_DONE_MESSAGE, check)
    except Mismatch as mismatch:
        return Outcome(exercise, FAILED, str(mismatch), check)
    except Exception as error:  # the learner's code crashed: say where, in their own words
        return Outcome(exercise, FAILED, f"your code raised {describe(error)}", check)


def describe(error: BaseException) -> str:
    """``TypeError: message (in your line: `code`)`` pointing at the learner's own frame."""
    learners = [
        (frame, line)
        for frame, line in traceback.walk_tb(error.__traceback__)
        if _is_learners(frame)
    ]
    code = ""
    if learners:
        frame, line = learners[-1]
        code = linecache.getline(frame.f_code.co_filename, line, frame.f_globals).strip()
    where = f" (in your line: `{code}`)" if code else ""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}{where}"


def _is_learners(frame: FrameType) -> bool:
    """Is this frame the learner's code, rather than diptych's, a framework's or Python's own?

    Decided by module name and by where installed code lives, never by a substring of the path:
    a clone is usually in a folder named ``diptych``, and the learner's notebook may be too.
    """
    module = str(frame.f_globals.get("__name__", ""))
    if module == "diptych" or module.startswith("diptych."):
        return False
    filename = os.path.abspath(frame.f_code.co_filename)
    return not any(filename.startswith(prefix + os.sep) for prefix in _INSTALLED_PREFIXES)


#: where the standard library and installed packages live (a venv's, the user's): not a learner's
_INSTALLED_PREFIXES = tuple(
    {
        os.path.abspath(path)
        for path in (
            *(sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")),
            site.getusersitepackages(),
        )
        if path
    }
)
