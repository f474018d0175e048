"""Compare two arrays and say clearly how they differ; record named values for ``diptych run``.

``check`` is what a lesson's Parity section calls: silent arithmetic, one short deterministic line
on success, and on failure an error that names the quantity, both shapes, and the largest absolute
and relative differences with their positions.

``record`` writes a named value through ``diptych.recording`` so that ``diptych run`` can show the
PyTorch and TensorFlow notebooks' values side by side. Outside the command (a learner running the
notebook in Jupyter) recording does nothing. ``reaches`` asserts and records a
bar (an accuracy, say) that each framework must reach on its own: long float32 training is
compared by what it achieves, never step by step.

Every comparison reports its **headroom**: tolerance / observed difference, at the element where
that ratio is smallest. A tolerance is argued from the computation, not fitted to one run, and it
must stay at least ``MIN_HEADROOM`` times the difference on every machine configuration, so that
the next CPU, thread count or GPU does not tip it (see docs/design.md, "Parity rules").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from diptych import recording

#: tolerance / observed difference below which a comparison is too close to call
MIN_HEADROOM = 10.0


class ParityError(AssertionError):
    """Two quantities that should agree do not."""


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing ``actual`` with ``expected`` elementwise."""

    name: str
    actual_shape: tuple[int, ...]
    expected_shape: tuple[int, ...]
    max_abs_diff: float
    max_rel_diff: float
    worst_index: tuple[int, ...]
    atol: float
    rtol: float
    ok: bool
    headroom: float = math.inf  # min over elements of (atol + rtol·|e|) / |a − e|; inf if equal

    def message(self) -> str:
        """One paragraph for a person: what was compared and, if it failed, how."""
        tolerance = f"atol={self.atol:g}" + (f", rtol={self.rtol:g}" if self.rtol else "")
        if self.actual_shape != self.expected_shape:
            return (
                f"{self.name}: shapes differ: actual {self.actual_shape} vs expected "
                f"{self.expected_shape}"
            )
        if self.ok:
            return f"✓ {self.name} matches (shape {self.actual_shape}, {tolerance})"
        return (
            f"{self.name} differs beyond {tolerance}: largest absolute difference "
            f"{self.max_abs_diff:.3g}, largest relative difference {self.max_rel_diff:.3g}, "
            f"worst at index {self.worst_index} (shape {self.actual_shape})"
        )


def as_array(value: Any) -> np.ndarray:
    """NumPy view of a NumPy array, a number, a PyTorch tensor or a TensorFlow tensor.

    Uses duck typing so that this module imports neither framework.
    """
    if value is None:
        raise ParityError(
            "got None instead of an array: a gradient is None when the value it was asked for "
            "does not depend on the variable (was the computation recorded?)"
        )
    if hasattr(value, "detach"):  # torch.Tensor, possibly on a GPU and requiring grad
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf.Tensor / Variable
        value = value.numpy()
    return np.asarray(value)


def compare(name: str, actual: Any, expected: Any, *, atol: float, rtol: float = 0.0) -> Comparison:
    """Compare elementwise: passes where ``|a - e| <= atol + rtol * |e|`` everywhere (no NaNs)."""
    if atol < 0 or rtol < 0:
        raise ValueError(f"tolerances must be non-negative, got atol={atol}, rtol={rtol}")
    a = as_array(actual).astype(np.float64)
    e = as_array(expected).astype(np.float64)
    if a.shape != e.shape:
        return Comparison(name, a.shape, e.shape, math.inf, math.inf, (), atol, rtol, False, 0.0)
    if a.size == 0:
        return Comparison(name, a.shape, e.shape, 0.0, 0.0, (), atol, rtol, True)
    abs_diff = np.abs(a - e)
    abs_diff = np.where(np.isnan(abs_diff), math.inf, abs_diff)  # a NaN never agrees
    allowed = atol + rtol * np.abs(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_diff = np.where(abs_diff == 0, 0.0, abs_diff / np.abs(e))
        ratios = np.where(abs_diff == 0, math.inf, allowed / abs_diff)  # headroom per element
    excess = abs_diff - allowed
    worst = np.unravel_index(int(np.argmax(excess)), a.shape)
    ok = bool(np.all(excess <= 0))
    return Comparison(
        name,
        a.shape,
        e.shape,
        float(abs_diff.max()),
        float(rel_diff.max()),
        tuple(int(i) for i in worst),
        atol,
        rtol,
        ok,
        float(ratios.min()),
    )


def matches_reference(
    name: str, actual: Any, expected: Any, *, atol: float, rtol: float = 0.0, record: bool = True
) -> None:
    """Assert that ``actual`` agrees with ``expected``; print one line; record ``actual``.

    The printed line holds no measured difference, so it is identical on every machine; the
    differences themselves are in ``compare``'s result and in ``diptych run``'s table. Returns
    nothing, so a notebook cell ending in a check shows only the printed line.
    """
    result = compare(name, actual, expected, atol=atol, rtol=rtol)
    if not result.ok:
        raise ParityError(result.message())
    if record:
        _append(name, actual, atol=atol, rtol=rtol, reference_headroom=result.headroom)
    print(result.message())


def record(name: str, value: Any, *, atol: float, rtol: float = 0.0) -> None:
    """Record ``value`` under ``name`` for ``diptych run``; a no-op outside it.

    ``atol``/``rtol`` say how closely the other framework's value must agree.
    """
    _append(name, value, atol=atol, rtol=rtol)


def reaches(name: str, value: float, *, at_least: float) -> None:
    """Assert that ``value`` (an accuracy, say) is at least the lesson's bar; print one line;
    record it for ``diptych run``, which holds each framework's value against the bar on its own.

    The printed line names the bar, not the value, so it reads the same on every machine.
    """
    if not value >= at_least:  # also refuses NaN
        raise ParityError(f"{name} is {value:.4g}, below the lesson's bar of {at_least:g}")
    _append(name, value, atol=0.0, rtol=0.0, at_least=at_least)
    print(f"✓ {name} reaches the bar (at least {at_least:g})")


def _append(
    name: str,
    value: Any,
    *,
    atol: float,
    rtol: float,
    at_least: float | None = None,
    reference_headroom: float | None = None,
) -> None:
    if not name or not isinstance(name, str):
        raise ValueError(f"a recorded value needs a non-empty name, got {name!r}")
    if recording.record_folder() is None:
        return
    array = as_array(value)
    entry = {
        "name": name,
        "value": array.tolist(),
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "atol": atol,
        "rtol": rtol,
    }
    if at_least is not None:
        entry["at_least"] = at_least
    if reference_headroom is not None:  # of the notebook's own check; null when identical
        entry["reference_headroom"] = None if math.isinf(reference_headroom) else reference_headroom
    recording.append_value(entry)
