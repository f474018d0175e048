"""Self-checks that follow each exercise: run the learner's code on fresh inputs, answer in words.

A check never reveals the solution. It says what is right and what is wrong (shape, dtype,
values, gradients, a typical mistake recognised by name) in one printed line. It probes
understanding rather than one lucky input: chained calls where state could leak, unchanged
inputs, extreme inputs where the lesson warns of a numerical trap, non-square shapes and even
kernels, and the framework's shortcut switched off where the exercise says "by hand".

One module per lesson (``diptych.checks.tensors``, ...); each check takes the learner's function
and the framework's ``adapter``, so the same check serves the PyTorch and the TensorFlow twin,
each in its own idiom (``diptych.checks.idioms``).
"""

from diptych.checks.compare import (
    as_numpy,
    as_pair,
    expect_array,
    expect_unchanged,
    fresh_rng,
    matches,
    snapshot,
)
from diptych.checks.core import (
    EXERCISES,
    FAILED,
    NOT_DONE,
    PASSED,
    Exercise,
    Mismatch,
    Outcome,
    exercise,
    exercises_of,
    run_check,
)
from diptych.checks.idioms import by_hand, idiom

__all__ = [
    "EXERCISES",
    "FAILED",
    "NOT_DONE",
    "PASSED",
    "Exercise",
    "Mismatch",
    "Outcome",
    "as_numpy",
    "as_pair",
    "by_hand",
    "exercise",
    "exercises_of",
    "expect_array",
    "expect_unchanged",
    "fresh_rng",
    "idiom",
    "matches",
    "run_check",
    "snapshot",
]
