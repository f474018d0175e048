"""Self-checks for lesson 01's exercises (tensors and autograd)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from diptych.checks import Mismatch, as_numpy, exercise, expect_array, framework_ops, fresh_rng
from diptych.reference import calculus


@exercise("Exercise 1 (softplus derivative)")
def softplus_derivative(learner: Callable[[Any], Any], adapter: Any) -> str:
    """Exercise 1: d/dx log(1 + eˣ), elementwise, finite for very large |x|."""
    x = np.concatenate([fresh_rng("softplus").normal(0, 3, size=7), [0.0, -800.0, 800.0]])
    got = learner(adapter.from_numpy(x))
    expect_array(
        got,
        calculus.softplus_derivative(x),
        what="softplus_derivative(x)",
        atol=1e-12,
        dtype=np.float64,
        inputs=x,
        hint="compute it so that only non-positive numbers are exponentiated "
        "(e^800 overflows float64; e^-800 is just 0)",
    )
    return "matches σ(x) on 10 inputs, including ±800"


@exercise("Exercise 2 (outer sum by broadcasting)")
def outer_sum(learner: Callable[[Any, Any], Any], adapter: Any) -> str:
    """Exercise 2: M[i, j] = a[i] + b[j] by broadcasting, shape (n, m)."""
    rng = fresh_rng("outer")
    a, b = rng.normal(size=4), rng.normal(size=3)
    got = learner(adapter.from_numpy(a), adapter.from_numpy(b))
    expect_array(
        got,
        a[:, None] + b[None, :],
        what="outer_sum(a, b)",
        atol=1e-12,
        dtype=np.float64,
        hint="reshape a to (n, 1) and b to (1, m) and let broadcasting do the rest",
    )
    return "(4,) with (3,) gives the right (4, 3) table"


def _test_functions(
    adapter: Any,
) -> list[tuple[str, Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]]:
    """Scalar functions written in the adapter's framework, with their analytic gradients."""
    fw = framework_ops(adapter)
    total = fw.sum if adapter.NAME == "PyTorch" else fw.reduce_sum
    return [
        ("Σ x³", lambda x: total(x**3), lambda x: 3 * x**2),
        ("Σ x² sin x", lambda x: total(x**2 * fw.sin(x)), calculus.grad_f),
    ]


@exercise("Exercise 3 (gradient by autograd)")
def autograd_gradient(learner: Callable[[Callable[[Any], Any], Any], Any], adapter: Any) -> str:
    """Exercise 3: the gradient of a scalar function, by autograd."""
    x = fresh_rng("autograd").uniform(-2, 2, size=5)
    for name, fn, gradient in _test_functions(adapter):
        got = learner(fn, adapter.from_numpy(x))
        if got is None:
            raise Mismatch(
                f"for f = {name} you return None: return the gradient; in TensorFlow a "
                "gradient is None when the tape did not watch x (a tensor, not a Variable)"
            )
        expect_array(
            got,
            gradient(x),
            what=f"the gradient of {name}",
            atol=1e-10,
            dtype=np.float64,
            inputs=x,
        )
    return "exact gradients of Σ x³ and Σ x² sin x"


@exercise("Exercise 4 (central finite difference)")
def central_difference(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 4: the central finite difference, with framework operations."""
    x = fresh_rng("central").uniform(-2, 2, size=4)
    for name, fn, gradient in _test_functions(adapter):
        got = learner(fn, adapter.from_numpy(x), eps=1e-5)
        expect_array(
            got,
            gradient(x),
            what=f"the finite difference of {name}",
            atol=1e-6,
            inputs=x,
            hint="divide f(x + εeᵢ) − f(x − εeᵢ) by 2ε, one coordinate i at a time",
        )
        as_numpy(got, "central_difference")
    return "within 1e-6 of the exact gradients of Σ x³ and Σ x² sin x"
