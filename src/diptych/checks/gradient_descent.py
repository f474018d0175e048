"""Self-checks for lesson 02's exercises (gradient descent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import data
from diptych.checks import Mismatch, as_numpy, exercise, expect_array, fresh_rng
from diptych.reference import regression


def _problem(name: str, n: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = fresh_rng(name)
    problem = data.regression(
        n=n, w=rng.uniform(-3, 3), b=rng.uniform(-2, 2), seed=int(rng.integers(1000))
    )
    return problem.design, problem.y, rng.normal(size=2)


@exercise("Exercise 1 (gradient of the MSE)")
def mse_gradient(learner: Callable[[Any, Any, Any], Any], adapter: Any) -> str:
    """Exercise 1: the analytic gradient of the mean squared error."""
    X, y, theta = _problem("mse_gradient")
    got = learner(*(adapter.from_numpy(a) for a in (theta, X, y)))
    expected = regression.mse_grad(theta, X, y)
    got_array = as_numpy(got, "mse_gradient")
    if got_array.shape == expected.shape and np.allclose(got_array, expected / 2, atol=1e-10):
        raise Mismatch(
            "your gradient is exactly half the right one: the derivative of a square "
            "(r²)' = 2r brings a factor 2"
        )
    if got_array.shape == expected.shape and np.allclose(got_array, expected * len(y), atol=1e-8):
        raise Mismatch("your gradient is n times too large: the loss is a mean, so divide by n")
    expect_array(
        got,
        expected,
        what="mse_gradient(θ, X, y)",
        atol=1e-10,
        dtype=np.float64,
        hint="∇L = 2/n · Xᵀ(Xθ − y)",
    )
    return "matches the reference on a fresh problem"


@exercise("Exercise 2 (one minibatch SGD step)")
def sgd_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 2: one minibatch SGD step."""
    X, y, theta = _problem("sgd_step")
    batch = np.array([0, 3, 5, 8])
    got = learner(
        adapter.from_numpy(theta),
        adapter.from_numpy(X[batch]),
        adapter.from_numpy(y[batch]),
        lr=0.05,
    )
    expected = regression.sgd(theta, X, y, lr=0.05, batches=[batch])[-1]
    got_array = as_numpy(got, "sgd_step")
    if got_array.shape == (2,) and np.allclose(got_array, theta + (theta - expected), atol=1e-10):
        raise Mismatch("you stepped uphill: subtract lr × gradient, do not add it")
    expect_array(got, expected, what="the new θ", atol=1e-10, dtype=np.float64)
    return "one step lands exactly where the reference does"


@exercise("Exercise 3 (a momentum step)")
def momentum_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 3: one heavy-ball momentum step in PyTorch's form."""
    rng = fresh_rng("momentum")
    theta, velocity, gradient = rng.normal(size=(3, 2))
    result = learner(
        *(adapter.from_numpy(a) for a in (theta, velocity, gradient)), lr=0.1, momentum=0.9
    )
    if not isinstance(result, tuple) or len(result) != 2:
        raise Mismatch("return a pair (new θ, new velocity)")
    new_velocity = 0.9 * velocity + gradient
    got_velocity = as_numpy(result[1], "the new velocity")
    if got_velocity.shape == (2,) and np.allclose(got_velocity, 0.9 * velocity - 0.1 * gradient):
        raise Mismatch(
            "that is Keras' velocity (μv − ηg); this exercise asks for PyTorch's form, v ← μv + g"
        )
    expect_array(result[1], new_velocity, what="the new velocity", atol=1e-12, dtype=np.float64)
    expect_array(
        result[0],
        theta - 0.1 * new_velocity,
        what="the new θ",
        atol=1e-12,
        dtype=np.float64,
        hint="step with the new velocity, not the old one",
    )
    return "velocity and parameters both right"


@exercise("Exercise 4 (largest stable learning rate)")
def largest_stable_learning_rate(learner: Callable[[Any], Any], adapter: Any) -> str:
    """Exercise 4: 2 / λ_max of the MSE's Hessian."""
    X, _, _ = _problem("stable", n=30)
    got = as_numpy(learner(adapter.from_numpy(X)), "largest_stable_learning_rate")
    hessian = 2 / len(X) * X.T @ X
    expected = 2 / np.linalg.eigvalsh(hessian).max()
    if got.size != 1:
        raise Mismatch(f"return one number, not an array of shape {got.shape}")
    if np.isclose(float(got), 1 / np.linalg.eigvalsh(hessian).max()):
        raise Mismatch("that is 1/λ_max: gradient descent on a quadratic is stable up to 2/λ_max")
    expect_array(
        float(got),
        expected,
        what="the learning rate",
        atol=1e-10,
        hint="the Hessian of the MSE is 2/n · XᵀX; take its largest eigenvalue",
    )
    return f"{expected:.6f} for a fresh design matrix"
