"""Self-checks that follow each exercise: run the learner's code on fresh inputs, answer in words.

A check never reveals the solution. It says what is right and what is wrong (shape, dtype,
values, gradients), with a hint, in one printed line; it does not raise, so a learner's notebook
keeps running. An unfinished exercise (its stub raises NotImplementedError) gets a friendly
"not done yet". Each outcome is also recorded for ``diptych check`` when it runs the notebook.

One module per lesson (``diptych.checks.tensors``, ...); each check takes the learner's function
and the framework's ``adapter``, so the same check serves the PyTorch and the TensorFlow twin.
"""

from __future__ import annotations

import functools
import json
import linecache
import os
import site
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from diptych.parity import RECORD_ENV, as_array

CHECKS_FILE = "checks.jsonl"
PASSED, FAILED, NOT_DONE = "passed", "failed", "not done yet"
_SYMBOL = {PASSED: "✓", FAILED: "✗", NOT_DONE: "…"}


class Mismatch(Exception):
    """The learner's answer is wrong in a way the message describes in plain words."""


@dataclass(frozen=True)
class Outcome:
    """One exercise's result: ``status`` is passed, failed or not done."""

    exercise: str
    status: str
    message: str

    def line(self) -> str:
        return f"{_SYMBOL[self.status]} {self.exercise}: {self.status} — {self.message}"


def run_check(exercise: str, attempt: Callable[[], str]) -> None:
    """Run ``attempt`` (which returns a success message or raises Mismatch); print and record.

    Returns nothing visible in a notebook: the printed line is the whole answer.
    """
    try:
        outcome = Outcome(exercise, PASSED, attempt())
    except NotImplementedError:
        outcome = Outcome(
            exercise,
            NOT_DONE,
            "replace the `raise NotImplementedError` line in the "
            "exercise cell with your code, run that cell, then this one",
        )
    except Mismatch as mismatch:
        outcome = Outcome(exercise, FAILED, str(mismatch))
    except Exception as error:  # the learner's code crashed: say where, in their own words
        outcome = Outcome(exercise, FAILED, f"your code raised {_describe(error)}")
    print(outcome.line())
    _record(outcome)


def exercise(title: str) -> Callable[[Callable[..., str]], Callable[..., None]]:
    """Make a check out of a function that returns a success message or raises Mismatch.

    The decorated function, called from a notebook with the learner's function and the adapter,
    prints one line and returns nothing (see ``run_check``).
    """

    def decorate(check: Callable[..., str]) -> Callable[..., None]:
        @functools.wraps(check)
        def self_check(*args: Any, **kwargs: Any) -> None:
            return run_check(title, lambda: check(*args, **kwargs))

        return self_check

    return decorate


def _describe(error: Exception) -> str:
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


def _record(outcome: Outcome) -> None:
    folder = os.environ.get(RECORD_ENV)
    if folder:
        with open(Path(folder) / CHECKS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(outcome)) + "\n")


def read_outcomes(folder: Path) -> list[Outcome]:
    """The outcomes recorded in ``folder``, in the order the checks ran."""
    path = Path(folder) / CHECKS_FILE
    if not path.exists():
        return []
    return [
        Outcome(**json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]


def as_numpy(value: Any, what: str) -> np.ndarray:
    """The learner's result as NumPy, or a Mismatch saying what came back instead."""
    if value is None:
        raise Mismatch(f"{what} returned None: did you forget the `return`?")
    try:
        return as_array(value)
    except Exception as error:  # whatever it is, it is not an array
        raise Mismatch(
            f"{what} returned a {type(value).__name__}, which is not an array"
        ) from error


def expect_array(
    value: Any,
    expected: np.ndarray,
    *,
    what: str,
    atol: float,
    hint: str = "",
    dtype: Any = None,
    inputs: np.ndarray | None = None,
) -> np.ndarray:
    """Check shape, dtype and values of ``value`` against ``expected``; raise Mismatch in words.

    ``inputs``, when given and aligned with ``expected``, lets the message name an input where
    the answer is wrong (the expected value there, never the formula).
    """
    got = as_numpy(value, what)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        extra = (
            " (an extra dimension of size 1? check keepdims/reshape)"
            if got.size == expected.size
            else ""
        )
        raise Mismatch(f"{what} has shape {got.shape}, expected {expected.shape}{extra}")
    if dtype is not None and got.dtype != np.dtype(dtype):
        raise Mismatch(
            f"{what} has dtype {got.dtype}, expected {np.dtype(dtype)}: keep the inputs' dtype "
            "(a Python float literal or a float32 constant can change it)"
        )
    got64 = got.astype(np.float64)
    bad_nan = ~np.isfinite(got64) & np.isfinite(expected)
    if bad_nan.any():
        where = _where(bad_nan, inputs)
        raise Mismatch(
            f"{what} is {got64[bad_nan].flat[0]} {where}, where the answer is finite: something "
            "overflows or divides by zero" + (f". Hint: {hint}" if hint else "")
        )
    wrong = ~np.isclose(got64, expected, atol=atol, rtol=0)
    if wrong.any():
        index = np.unravel_index(int(np.argmax(np.abs(got64 - expected))), expected.shape)
        at = (
            f" at input {inputs[index]:g}"
            if inputs is not None and inputs.shape == expected.shape
            else ""
        )
        raise Mismatch(
            f"{what} has the right shape and dtype, but {int(wrong.sum())} of {wrong.size} values are off; "
            f"the largest error is{at} (index {tuple(int(i) for i in index)}): you return "
            f"{_pair(got64[index], expected[index])}" + (f". Hint: {hint}" if hint else "")
        )
    return got


def _pair(got: float, expected: float) -> str:
    """The two values with enough digits to see that they differ, and by how much."""
    digits = next((d for d in (6, 9, 12, 17) if f"{got:.{d}g}" != f"{expected:.{d}g}"), 17)
    return f"{got:.{digits}g}, the expected value is {expected:.{digits}g} (off by {abs(got - expected):.2g})"


def _where(mask: np.ndarray, inputs: np.ndarray | None) -> str:
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    if inputs is not None and inputs.shape == mask.shape:
        return f"at input {inputs[index]:g}"
    return f"at index {index}"


def framework_ops(adapter: Any) -> Any:
    """The framework module behind ``adapter`` (torch or tensorflow), for building test inputs."""
    return adapter.torch if adapter.NAME == "PyTorch" else adapter.tf


def fresh_rng(exercise: str) -> np.random.Generator:
    """Inputs unlike the notebook's own, but the same on every run (seeded by the exercise name)."""
    return np.random.default_rng(sum(map(ord, exercise)) + 12345)
