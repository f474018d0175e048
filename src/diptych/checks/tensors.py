"""Self-checks for lesson 01's exercises (tensors and autograd)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

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
def softplus_derivative(learner: Callable[[Any], Any], adapter: Any) -> str:
    """Exercise 1: d/dx log(1 + eˣ), elementwise, finite for very large |x|."""
    x = np.concatenate([fresh_rng("softplus").normal(0, 3, size=7), [0.0, -800.0, 800.0]])
    tensor = adapter.from_numpy(x)
    before = snapshot(tensor)
    got = as_numpy(learner(tensor), "softplus_derivative")
    expect_unchanged(before, [tensor], ["x"])
    moderate = slice(0, 8)
    if matches(got[moderate], calculus.softplus(x[moderate]), atol=1e-9):
        raise Mismatch("that is softplus itself; the exercise asks for its derivative")
    if matches(got, calculus.softplus_derivative(-x), atol=1e-9):
        raise Mismatch(
            "your derivative is mirrored: it rises where it should fall (σ(−x), not σ(x))"
        )
    expect_array(
        got,
        calculus.softplus_derivative(x),
        what="softplus_derivative(x)",
        atol=1e-12,
        dtype=np.float64,
        inputs=x,
        hint="an exponential of a large positive number overflows; a form that only ever "
        "exponentiates numbers ≤ 0 cannot",
    )
    return "matches σ(x) on 10 inputs, including ±800, and leaves x as it was"


@exercise("An outer sum by broadcasting")
def outer_sum(learner: Callable[[Any, Any], Any], adapter: Any) -> str:
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
    adapter: Any,
) -> list[tuple[str, Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]]:
    """Scalar functions written in the adapter's framework, with their analytic gradients."""
    fw = idiom(adapter).module()
    total = getattr(fw, "reduce_sum", None) or fw.sum
    return [
        ("Σ x³", lambda x: total(x**3), lambda x: 3 * x**2),
        ("Σ x² sin x", lambda x: total(x**2 * fw.sin(x)), calculus.grad_f),
    ]


@exercise("A gradient by autograd")
def autograd_gradient(learner: Callable[[Callable[[Any], Any], Any], Any], adapter: Any) -> str:
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


@exercise("A central finite difference")
def central_difference(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 4: the central finite difference, with framework operations and no autograd."""
    x = fresh_rng("central").uniform(-2, 2, size=4)
    eps = 1e-5
    for name, fn, gradient in _test_functions(adapter):
        tensor = adapter.from_numpy(x)
        before = snapshot(tensor)
        got = by_hand(
            functools.partial(learner, fn, tensor, eps=eps),
            idiom(adapter).autograd(),
            reason="a finite difference only evaluates f",
        )
        got = as_numpy(got, "central_difference")
        expect_unchanged(before, [tensor], ["x"])
        one_sided = [_one_sided(_numpy(name), x, step) for step in (eps, -eps)]
        if any(matches(got, o, atol=1e-8) for o in one_sided) and not matches(
            got, gradient(x), atol=1e-6
        ):
            raise Mismatch(
                f"for f = {name} your difference is one-sided: its error shrinks only like ε, "
                "not ε² (the exercise steps both ways)"
            )
        expect_array(
            got,
            gradient(x),
            what=f"the finite difference of {name}",
            atol=1e-6,
            inputs=x,
            hint="is each coordinate nudged on its own, and is the difference divided by the "
            "distance between the two points?",
        )
    return "within 1e-6 of the exact gradients of Σ x³ and Σ x² sin x, without autograd"


def _numpy(name: str) -> Callable[[np.ndarray], float]:
    """The test function ``name`` in NumPy (for recognising a one-sided difference)."""
    if name == "Σ x³":
        return lambda z: float(np.sum(z**3))
    return calculus.f


def _one_sided(f: Callable[[np.ndarray], float], x: np.ndarray, step: float) -> np.ndarray:
    """(f(x + h·eᵢ) − f(x)) / h for every i: the one-sided difference a learner may write."""
    return np.array([(f(x + step * e) - f(x)) / step for e in np.eye(len(x))])


@exercise("Standardise every row")
def standardise_rows(learner: Callable[[Any], Any], adapter: Any) -> str:
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
    if X.shape[0] == X.shape[1] and matches(got, (X - mean.T) / X.std(axis=1)[None, :]):
        raise Mismatch(
            "on a square matrix your row statistics were broadcast along the wrong axis: entry "
            "(i, j) was centred and scaled with row j's numbers, not row i's. A reduction that "
            "keeps its reduced axis (of size 1) broadcasts back the right way"
        )
