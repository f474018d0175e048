"""Self-checks for lesson 03's exercises (linear models)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from diptych.checks import Mismatch, as_numpy, exercise, expect_array, fresh_rng
from diptych.reference import classification


def _logits(name: str, n: int = 6, k: int = 5, scale: float = 3.0) -> np.ndarray:
    return (fresh_rng(name).normal(size=(n, k)) * scale).astype(np.float64)


@exercise("Exercise 1 (stable log-softmax)")
def log_softmax(learner: Callable[[Any], Any], adapter: Any) -> str:
    """Exercise 1: a numerically stable log-softmax along the last axis."""
    Z = _logits("log_softmax")
    Z[0] = [
        1000.0,
        999.0,
        998.0,
        -1000.0,
        0.0,
    ]  # exp(1000) overflows: only a stable form survives
    expect_array(
        learner(adapter.from_numpy(Z)),
        classification.log_softmax(Z),
        what="log_softmax(Z)",
        atol=1e-10,
        dtype=np.float64,
        hint="subtract each row's maximum before exponentiating, then log Σ exp of what is left",
    )
    return "right on 6 rows, including logits of ±1000"


@exercise("Exercise 2 (cross-entropy from logits)")
def cross_entropy(learner: Callable[[Any, Any], Any], adapter: Any) -> str:
    """Exercise 2: mean cross-entropy from logits and integer labels."""
    Z, labels = _logits("cross_entropy"), fresh_rng("labels").integers(0, 5, size=6)
    got = as_numpy(learner(adapter.from_numpy(Z), adapter.from_numpy(labels)), "cross_entropy")
    expected = classification.cross_entropy(Z, labels)
    if got.shape != ():
        raise Mismatch(
            f"return one number (the mean over the batch), not an array of shape {got.shape}"
        )
    if np.isclose(got, expected * len(labels)):
        raise Mismatch("that is the sum over the batch: take the mean")
    if np.isclose(got, -expected):
        raise Mismatch("the sign is flipped: cross-entropy is the *negative* log-likelihood")
    expect_array(
        got,
        expected,
        what="cross_entropy(Z, y)",
        atol=1e-10,
        hint="pick, in each row of log_softmax(Z), the entry at that row's label",
    )
    return "the mean negative log-likelihood, on logits"


@exercise("Exercise 3 (softmax-regression gradient)")
def softmax_regression_gradient(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 3: the analytic gradient of softmax regression, (dW, db)."""
    rng = fresh_rng("gradient")
    X, W, b = rng.random((8, 6)), rng.normal(size=(6, 4)), rng.normal(size=4)
    labels = rng.integers(0, 4, size=8)
    result = learner(*(adapter.from_numpy(a) for a in (X, W, b, labels)))
    if not isinstance(result, tuple) or len(result) != 2:
        raise Mismatch("return a pair (dW, db)")
    expected = classification.linear_grads(X, W, b, labels)
    dW = as_numpy(result[0], "dW")
    if dW.shape == expected["W"].shape and np.allclose(dW, expected["W"] * len(labels)):
        raise Mismatch("dW is n times too large: the loss is a mean over the batch, so divide by n")
    expect_array(
        result[0],
        expected["W"],
        what="dW",
        atol=1e-10,
        dtype=np.float64,
        hint="dW = Xᵀ (softmax(Z) − onehot(y)) / n",
    )
    expect_array(
        result[1],
        expected["b"],
        what="db",
        atol=1e-10,
        dtype=np.float64,
        hint="db sums the rows of (softmax(Z) − onehot(y)) / n",
    )
    return "dW and db both match the reference"


@exercise("Exercise 4 (the Adam update)")
def adam_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 4: one Adam update in PyTorch's form."""
    rng = fresh_rng("adam")
    param, grad, m = rng.normal(size=(3, 5))
    v = rng.random(5) * 1e-3
    grad[0] = 1e-7  # a tiny gradient: where ε's placement shows
    kwargs = {"step": 3, "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    result = learner(*(adapter.from_numpy(a) for a in (param, grad, m, v)), **kwargs)
    if not isinstance(result, tuple) or len(result) != 3:
        raise Mismatch("return three values (new param, new m, new v)")
    expected = classification.adam_step(param, grad, m, v, **kwargs)
    keras_form = classification.adam_step(param, grad, m, v, epsilon_style="keras", **kwargs)
    got = as_numpy(result[0], "the new param")
    expect_array(result[1], expected[1], what="the new m", atol=1e-12, hint="m ← β₁m + (1 − β₁)g")
    expect_array(result[2], expected[2], what="the new v", atol=1e-12, hint="v ← β₂v + (1 − β₂)g²")
    if (
        got.shape == param.shape
        and np.allclose(got, keras_form[0], rtol=0, atol=1e-12)
        and not np.allclose(got, expected[0], rtol=0, atol=1e-12)
    ):
        raise Mismatch(
            "that is Keras' placement of ε (added before the bias correction); this exercise "
            "asks for PyTorch's: divide m̂ by √v̂ + ε"
        )
    expect_array(
        result[0],
        expected[0],
        what="the new param",
        atol=1e-12,
        dtype=np.float64,
        hint="correct both moments for their bias (divide by 1 − βᵗ) before the update",
    )
    return "param, m and v all match at step 3"
