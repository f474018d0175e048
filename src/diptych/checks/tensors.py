"""Self-checks for lesson 01's exercises (tensors and autograd)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych.adapters.contract import Adapter
from diptych.checks import (
    Mismatch,
    as_numpy,
    by_hand,
    exercise,
    expect_array,
    expect_unchanged,
    fresh_rng,
    idiom,
    matches,
    snapshot,
)
from diptych.reference import calculus


@exercise("The derivative of softplus")
def softplus_derivative(learner: Callable[[Any], Any], adapter: Adapter) -> str:
    """Exercise 1: d/dx log(1 + eˣ) by hand, elementwise, finite for very large |x|.

    The chain rule gives eˣ / (1 + eˣ), which is inf / inf = nan at x = 800: that form is named.
    """
    x = np.concatenate([fresh_rng("softplus").normal(0, 3, size=7), [0.0, -800.0, 800.0]])
    tensor = adapter.from_numpy(x)
    before = snapshot(tensor)
    got = by_hand(
        lambda: learner(tensor), idiom(adapter).autograd(), reason="derive the derivative by hand"
    )
    got = as_numpy(got, "softplus_derivative")
    expect_unchanged(before, [tensor], ["x"])
    moderate = slice(0, 8)
    right = calculus.softplus_derivative(x)
    if got.shape == x.shape and np.isnan(got[-1]) and matches(got[:-1], right[:-1], atol=1e-12):
        raise Mismatch(
            "your result is nan at x = 800 and right elsewhere: e^800 overflows to inf in "
            "float64, and inf divided by inf is nan. Rewrite the formula into an equal one in "
            "which no overflow is divided by another"
        )
    if matches(got[moderate], calculus.softplus(x[moderate]), atol=1e-9):
        raise Mismatch("that is softplus itself; the exercise asks for its derivative")
    if matches(got, calculus.softplus_derivative(-x), atol=1e-9):
        raise Mismatch(
            "your derivative is mirrored, as if taken at −x: softplus grows ever faster, so its "
            "derivative must rise with x"
        )
    expect_array(
        got,
        right,
        what="softplus_derivative(x)",
        atol=1e-12,
        dtype=np.float64,
        inputs=x,
        hint="an exponential of a large positive number overflows to inf in float64, and an "
        "inf divided by an inf, or times a 0, is nan",
    )
    return "matches the reference on 10 inputs, including ±800, and leaves x as it was"


@exercise("An outer sum by broadcasting")
def outer_sum(learner: Callable[[Any, Any], Any], adapter: Adapter) -> str:
    """Exercise 2: M[i, j] = a[i] + b[j] by broadcasting, shape (n, m), for several n ≠ m."""
    rng = fresh_rng("outer")
    for n, m in ((4, 3), (1, 5), (6, 2)):
        a, b = rng.normal(size=n), rng.normal(size=m)
        tensors = [adapter.from_numpy(a), adapter.from_numpy(b)]
        before = snapshot(*tensors)
        got = learner(*tensors)
        expect_unchanged(before, tensors, ["a", "b"])
        expect_array(
            got,
            a[:, None] + b[None, :],
            what=f"outer_sum(a, b) for a of length {n} and b of length {m}",
            atol=1e-12,
            dtype=np.float64,
            axes=("rows (one per entry of a)", "columns (one per entry of b)"),
        )
    return "(4,) with (3,), (1,) with (5,) and (6,) with (2,) give the right tables"


def _test_functions(
    adapter: Adapter,
) -> list[tuple[str, Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]]:
    """Scalar functions written in the adapter's framework, with their analytic gradients."""
    fw = idiom(adapter)
    return [
        ("Σ x³", lambda x: fw.reduce_sum(x**3), lambda x: 3 * x**2),
        ("Σ x² sin x", lambda x: fw.reduce_sum(x**2 * fw.sin(x)), calculus.grad_f),
    ]


@exercise("A gradient by autograd")
def autograd_gradient(learner: Callable[[Callable[[Any], Any], Any], Any], adapter: Adapter) -> str:
    """Exercise 3: the gradient of a scalar function, by autograd; twice on the same x."""
    x = fresh_rng("autograd").uniform(-2, 2, size=5)
    for name, fn, gradient in _test_functions(adapter):
        tensor = adapter.from_numpy(x)
        before = snapshot(tensor)
        results = []
        for _ in range(2):  # the same x twice: nothing may pile up between calls
            got = learner(fn, tensor)
            if got is None:
                raise Mismatch(
                    f"for f = {name} you return None: return the gradient; in TensorFlow a "
                    "gradient is None when the tape did not watch x (a tensor, not a Variable)"
                )
            results.append(np.array(as_numpy(got, "autograd_gradient"), copy=True))
        expect_array(
            results[0],
            gradient(x),
            what=f"the gradient of {name}",
            atol=1e-10,
            dtype=np.float64,
            inputs=x,
        )
        if matches(results[1], 2 * gradient(x)):
            raise Mismatch(
                f"the first call is right but a second call on the same x returns twice the "
                f"gradient of {name}: gradients add up in `.grad` from one backward pass to the next"
            )
        expect_array(
            results[1],
            gradient(x),
            what=f"a second call's gradient of {name}",
            atol=1e-10,
            dtype=np.float64,
            inputs=x,
        )
        expect_unchanged(before, [tensor], ["x"])
    return "exact gradients of Σ x³ and Σ x² sin x, twice in a row, x left as it was"


def _batched_functions(
    adapter: Adapter,
) -> list[tuple[str, Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]]:
    """The test functions of exercise 3, taking a batch of points (one per row) to their values."""
    fw = idiom(adapter)
    return [
        ("Σ x³", lambda points: fw.reduce_sum(points**3, -1), lambda x: 3 * x**2),
        (
            "Σ x² sin x",
            lambda points: fw.reduce_sum(points**2 * fw.sin(points), -1),
            calculus.grad_f,
        ),
    ]


@exercise("A central difference in one batch")
def central_difference(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 4: the central difference, its 2n points evaluated in one call of a batched fn.

    ``fn`` takes a batch of points, one per row, to their values (as a model's forward pass takes
    a batch). The learner builds the 2n points x ± εeᵢ by broadcasting and calls ``fn`` once; the
    calls are counted and the points ``fn`` received inspected, so that a Python loop, two half
    batches and points broadcast along the wrong axis are named, as well as the usual slips of
    a difference (one-sided, divided by ε, the wrong sign).
    """
    rng = fresh_rng("central-batch")
    eps = 1e-5
    for n in (5, 3):
        x = rng.uniform(-2, 2, size=n)
        for name, batched, gradient in _batched_functions(adapter):
            received: list[np.ndarray] = []
            fn = _recording(batched, received)
            tensor = adapter.from_numpy(x)
            before = snapshot(tensor)
            got = by_hand(
                functools.partial(learner, fn, tensor, eps=eps),
                idiom(adapter).autograd(),
                reason="a finite difference only evaluates f",
            )
            got = as_numpy(got, "central_difference")
            expect_unchanged(before, [tensor], ["x"])
            _batch_mistakes(received, x)
            one_sided = [_one_sided(_numpy(name), x, step) for step in (eps, -eps)]
            if any(matches(got, o, atol=1e-8) for o in one_sided) and not matches(
                got, gradient(x), atol=1e-6
            ):
                raise Mismatch(
                    f"for f = {name} your difference is one-sided: its error shrinks only like ε, "
                    "not ε² (the exercise steps both ways)"
                )
            _points_and_slips(received[0].reshape(-1, n), got, x, eps, gradient(x))
            expect_array(
                got,
                gradient(x),
                what=f"the finite difference of {name} at {n} coordinates",
                atol=1e-6,
                inputs=x,
                hint="is each value of a pair taken from the right row of fn's result?",
            )
    return (
        "one call of fn on the 2n points, within 1e-6 of the exact gradients of Σ x³ and "
        "Σ x² sin x, for 5 and 3 coordinates"
    )


def _recording(batched: Callable[[Any], Any], received: list[np.ndarray]) -> Callable[[Any], Any]:
    """``batched``, keeping a NumPy copy of every batch of points it is called with."""

    def fn(points: Any) -> Any:
        received.append(np.array(as_numpy(points, "the points fn received"), copy=True))
        return batched(points)

    return fn


def _batch_mistakes(received: list[np.ndarray], x: np.ndarray) -> None:
    """Name a wrong use of the batched fn of exercise 4: points not in rows, more than one call."""
    n = len(x)
    for points in received:
        if points.ndim == 0 or points.shape[-1] != n:
            raise Mismatch(
                f"fn takes its points as the rows of a batch, shape (k, {n}) for x of length {n}; "
                f"it received a tensor of shape {points.shape}"
            )
    if len(received) > 2:
        raise Mismatch(
            f"fn was called {len(received)} times: a Python loop evaluates the points one by one. "
            f"Build all {2 * n} points as the rows of one batch and call fn once"
        )
    if len(received) == 2:
        raise Mismatch(
            "fn was called twice, once per half of the points: put all the points into one batch "
            "and call fn once (as a model evaluates a whole batch in one forward pass)"
        )
    if not received:
        raise Mismatch("fn was never called: the difference needs f's values at the nudged points")


def _same_rows(points: np.ndarray, expected: np.ndarray) -> bool:
    """Do ``points`` hold the rows of ``expected``, in any order?"""
    if points.shape != expected.shape:
        return False
    distance = np.abs(points[:, None, :] - expected[None, :, :]).max(axis=2)
    return bool((distance.min(axis=1) < 1e-12).all() and (distance.min(axis=0) < 1e-12).all())


def _points_and_slips(
    points: np.ndarray, got: np.ndarray, x: np.ndarray, eps: float, gradient: np.ndarray
) -> None:
    """Name wrong points (how many, which axis) and a difference divided or ordered wrong."""
    n = len(x)
    steps = eps * np.eye(n)
    if _same_rows(points, np.concatenate([x[:, None] + steps, x[:, None] - steps])):
        raise Mismatch(
            "row i of the points fn received holds x_i in every column: x was broadcast along the "
            "wrong axis. Each point is all of x, with one coordinate nudged"
        )
    if len(points) != 2 * n:
        raise Mismatch(
            f"fn received {len(points)} points; a central difference at {n} coordinates needs "
            f"{2 * n}: x nudged up and down along each of them"
        )
    if matches(got, 2 * gradient, atol=1e-6):
        raise Mismatch(
            "your differences are twice the gradient: how far apart are the two points of a pair?"
        )
    if matches(got, -gradient, atol=1e-6):
        raise Mismatch(
            "your differences have the wrong sign: which value of a pair comes first in the "
            "difference?"
        )


def _numpy(name: str) -> Callable[[np.ndarray], float]:
    """The test function ``name`` in NumPy (for recognising a one-sided difference)."""
    if name == "Σ x³":
        return lambda z: float(np.sum(z**3))
    return calculus.f


def _one_sided(f: Callable[[np.ndarray], float], x: np.ndarray, step: float) -> np.ndarray:
    """(f(x + h·eᵢ) − f(x)) / h for every i: the one-sided difference a learner may write."""
    return np.array([(f(x + step * e) - f(x)) / step for e in np.eye(len(x))])


@exercise("Standardise every row")
def standardise_rows(learner: Callable[[Any], Any], adapter: Adapter) -> str:
    """Exercise 5: each row minus its mean, over its standard deviation (dividing by m).

    A square matrix comes first: there, row statistics without their reduced axis broadcast
    along the wrong axis without an error, which is the mistake this exercise is about.
    """
    rng = fresh_rng("standardise")
    for n, m in ((5, 5), (4, 7), (1, 6)):
        X = rng.normal(2.0, 3.0, size=(n, m))
        tensor = adapter.from_numpy(X)
        before = snapshot(tensor)
        got = as_numpy(learner(tensor), "standardise_rows")
        expect_unchanged(before, [tensor], ["X"])
        if got.shape == X.shape:
            _standardise_mistakes(got, X)
        mean, std = X.mean(axis=1, keepdims=True), X.std(axis=1, keepdims=True)
        expect_array(
            got,
            (X - mean) / std,
            what=f"standardise_rows(X) for X of shape ({n}, {m})",
            atol=1e-10,
            dtype=np.float64,
            axes=("rows (one per example)", "columns"),
        )
    return "rows of (5, 5), (4, 7) and (1, 6) matrices standardised, X left as it was"


def _standardise_mistakes(got: np.ndarray, X: np.ndarray) -> None:
    """Name the usual wrong answers of exercise 5 (got has X's shape)."""
    mean = X.mean(axis=1, keepdims=True)
    if matches(got, (X - mean) / X.std(axis=1, ddof=1, keepdims=True)):
        raise Mismatch(
            "your standard deviation divides by m − 1 (the unbiased estimate, the default of "
            "PyTorch's `std`); the exercise asks for the one that divides by m, the number of "
            "columns"
        )
    if matches(got, X - mean):
        raise Mismatch("every row is centred, but not scaled to a standard deviation of 1")
    if len(X) > 1 and matches(got, (X - X.mean(axis=0)) / X.std(axis=0)):
        raise Mismatch(
            "you standardised every column; each row is one example, standardised on its own"
        )
    square = X.shape[0] == X.shape[1]
    std = X.std(axis=1, keepdims=True)
    if square and matches(got, (X - mean) / std.T):
        raise Mismatch(
            "every row is centred right, but on a square matrix your standard deviations were "
            "broadcast along the wrong axis: entry (i, j) was divided by row j's, not row i's. "
            "Did the mean keep its reduced axis and the standard deviation not?"
        )
    if square and matches(got, (X - mean.T) / std):
        raise Mismatch(
            "every row is scaled right, but on a square matrix your means were broadcast along "
            "the wrong axis: entry (i, j) was centred with row j's mean, not row i's. Did the "
            "standard deviation keep its reduced axis and the mean not?"
        )
    if square and matches(got, (X - mean.T) / std.T):
        raise Mismatch(
            "on a square matrix your row statistics were broadcast along the wrong axis: entry "
            "(i, j) was centred and scaled with row j's numbers, not row i's. A reduction that "
            "keeps its reduced axis (of size 1) broadcasts back the right way"
        )
