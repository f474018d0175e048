"""Compare a learner's result with the expected one and say what is wrong, never the answer.

Shape mistakes are named by kind (axes swapped, an extra axis of size 1), values that are right
but in permuted axes are recognised, and an error at the level of float32 rounding says so: a
learning rate or momentum rounded through float32 (as Keras rounds them) is a different mistake
from a wrong formula.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from diptych.checks.core import Mismatch
from diptych.parity import as_array

#: how far float32 rounding moves a value, relatively: a difference this small is rounding
FLOAT32_ROUNDING = 1e-6


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


def as_pair(result: Any, what: str, names: str) -> tuple[Any, ...]:
    """``result`` as a tuple of as many values as ``names`` lists (e.g. "(new θ, new velocity)")."""
    count = names.count(",") + 1
    if not isinstance(result, (tuple, list)) or len(result) != count:
        raise Mismatch(f"{what} must return {count} values {names}")
    return tuple(result)


def expect_array(
    value: Any,
    expected: np.ndarray | float,
    *,
    what: str,
    atol: float,
    rtol: float = 0.0,
    hint: str = "",
    dtype: Any = None,
    inputs: np.ndarray | None = None,
    axes: Sequence[str] | None = None,
) -> np.ndarray:
    """Check shape, dtype and values of ``value`` against ``expected``; raise Mismatch in words.

    ``inputs``, when given and aligned with ``expected``, lets the message name an input where
    the answer is wrong (the expected value there, never the formula). ``axes`` names the axes
    of ``expected`` ("height", "width") for a message about axes in the wrong order.
    """
    got = as_numpy(value, what)
    expected = np.asarray(expected)
    permuted = _permutation_message(
        got, expected, atol + rtol * np.abs(expected).max(initial=0), axes
    )
    if got.shape != expected.shape:
        raise Mismatch(
            f"{what} has shape {got.shape}, expected {expected.shape}"
            + (f" — {permuted}" if permuted else _shape_hint(got.shape, expected.shape))
        )
    if dtype is not None and got.dtype != np.dtype(dtype):
        raise Mismatch(
            f"{what} has dtype {got.dtype}, expected {np.dtype(dtype)}: keep the inputs' dtype "
            "(a float32 constant or a framework default can change it)"
        )
    got64 = got.astype(np.float64)
    bad = ~np.isfinite(got64) & np.isfinite(expected)
    if bad.any():
        raise Mismatch(
            f"{what} is {got64[bad].flat[0]} {_where(bad, inputs)}, where the answer is finite: "
            "something overflows, underflows to 0 before a log, or divides by zero"
            + (f". Hint: {hint}" if hint else "")
        )
    wrong = ~np.isclose(got64, expected, atol=atol, rtol=rtol)
    if not wrong.any():
        return got
    if permuted:
        raise Mismatch(f"{what} has the right values in the wrong places — {permuted}")
    raise Mismatch(_values_message(what, got64, expected, wrong, inputs, hint))


def _values_message(
    what: str,
    got: np.ndarray,
    expected: np.ndarray,
    wrong: np.ndarray,
    inputs: np.ndarray | None,
    hint: str,
) -> str:
    index = np.unravel_index(int(np.argmax(np.abs(got - expected))), expected.shape)
    at = (
        f" at input {inputs[index]:g}"
        if inputs is not None and inputs.shape == expected.shape
        else ""
    )
    scale = max(float(np.abs(expected).max(initial=0)), 1e-300)
    rounding = float(np.abs(got - expected).max()) <= FLOAT32_ROUNDING * scale
    if rounding:
        hint = (
            "the difference is float32 rounding: was something computed or kept in float32 "
            "(a float32 constant, or a learning rate or momentum Keras rounds through float32)?"
        )
    return (
        f"{what} has the right shape and dtype, but {int(wrong.sum())} of {wrong.size} values are "
        f"off; the largest error is{at} (index {tuple(int(i) for i in index)}): you return "
        f"{_pair(got[index], expected[index])}" + (f". Hint: {hint}" if hint else "")
    )


def _permutation_message(
    got: np.ndarray, expected: np.ndarray, tolerance: float, axes: Sequence[str] | None
) -> str:
    """'the axes are swapped: …' when ``got`` is ``expected`` with its axes reordered, else ''."""
    if got.ndim != expected.ndim or not 2 <= got.ndim <= 5 or got.size != expected.size:
        return ""
    names = (
        list(axes)
        if axes and len(axes) == expected.ndim
        else [f"axis {i}" for i in range(expected.ndim)]
    )
    for order in itertools.permutations(range(got.ndim)):
        if order == tuple(range(got.ndim)) or got.transpose(order).shape != expected.shape:
            continue
        candidate = got.transpose(order).astype(np.float64)
        if np.all(np.isfinite(candidate)) and np.allclose(
            candidate, expected, atol=tolerance, rtol=0
        ):
            moved = [i for i in range(got.ndim) if order[i] != i]
            if len(moved) == 2:
                first, second = (names[i] for i in moved)
                if expected.ndim == 2 and axes is None:
                    return "rows and columns are swapped (the result is transposed)"
                return f"the axes are permuted: {first} and {second} swapped"
            yours = ", ".join(names[order.index(i)] for i in range(got.ndim))
            return f"the axes are permuted: yours are in the order ({yours}), expected ({', '.join(names)})"
    return ""


def _shape_hint(got: tuple[int, ...], expected: tuple[int, ...]) -> str:
    if tuple(d for d in got if d != 1) == tuple(d for d in expected if d != 1):
        return " (an extra or a missing axis of size 1)"
    if sorted(got) == sorted(expected):
        return " (the right sizes in the wrong order: are two axes swapped?)"
    return ""


def _pair(got: float, expected: float) -> str:
    """The two values with enough digits to see that they differ, and by how much."""
    digits = next((d for d in (6, 9, 12, 17) if f"{got:.{d}g}" != f"{expected:.{d}g}"), 17)
    return (
        f"{got:.{digits}g}, the expected value is {expected:.{digits}g} "
        f"(off by {abs(got - expected):.2g})"
    )


def _where(mask: np.ndarray, inputs: np.ndarray | None) -> str:
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    if inputs is not None and inputs.shape == mask.shape:
        return f"at input {inputs[index]:g}"
    return f"at index {index}"


def matches(value: Any, expected: np.ndarray, *, atol: float = 1e-10, rtol: float = 0.0) -> bool:
    """Does ``value`` (already a NumPy array) equal ``expected`` in shape and values? For
    recognising a known mistake before the general comparison."""
    got = np.asarray(value)
    expected = np.asarray(expected)
    return (
        got.shape == expected.shape
        and bool(np.all(np.isfinite(got)))
        and bool(np.allclose(got.astype(np.float64), expected, atol=atol, rtol=rtol))
    )


def snapshot(*values: Any) -> list[tuple[np.ndarray, bool]]:
    """Copies of the inputs (and whether each tracks gradients), to prove later they are unchanged."""
    return [
        (np.array(as_array(v), copy=True), bool(getattr(v, "requires_grad", False))) for v in values
    ]


def expect_unchanged(
    before: list[tuple[np.ndarray, bool]], values: Sequence[Any], names: Sequence[str]
) -> None:
    """Mismatch when the learner's function changed an input in place (values or gradient tracking)."""
    for (copy, tracked), value, name in zip(before, values, names, strict=True):
        now = as_array(value)
        if now.shape != copy.shape or not np.array_equal(now, copy, equal_nan=True):
            raise Mismatch(
                f"your function changed its input `{name}` in place: the caller's `{name}` must "
                "stay as it was (an in-place update leaks into the next call)"
            )
        if getattr(value, "requires_grad", False) and not tracked:
            raise Mismatch(
                f"your function switched on gradient tracking of the caller's `{name}`: work on a "
                "copy, so that nothing leaks into the next call"
            )
        if getattr(value, "grad", None) is not None:
            raise Mismatch(
                f"your function left a gradient in the caller's `{name}.grad`; it would add up "
                "over calls"
            )


def fresh_rng(exercise: str) -> np.random.Generator:
    """Inputs unlike the notebook's own, but the same on every run (seeded by the exercise name)."""
    return np.random.default_rng(sum(map(ord, exercise)) + 12345)
