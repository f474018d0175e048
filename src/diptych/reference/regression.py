"""Lesson 02's reference: least squares by formula, gradient descent, SGD and momentum.

θ = (w, b) and X is the (n, 2) design matrix ``[x, 1]``; the loss is the mean squared error
``L(θ) = mean((Xθ − y)²)`` with gradient ``∇L = 2/n · Xᵀ(Xθ − y)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mse(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of the line θ on (X (n, 2), y (n,))."""
    residual = X @ np.asarray(theta, dtype=np.float64) - y
    return float(np.mean(residual**2))


def mse_grad(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Analytic gradient of ``mse`` with respect to θ, shape (2,)."""
    residual = X @ np.asarray(theta, dtype=np.float64) - y
    return 2.0 / len(y) * X.T @ residual


def closed_form(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The least-squares solution argmin_θ ‖Xθ − y‖², by a stable solver (not the normal equations)."""
    theta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return theta


def gradient_descent(
    theta0: np.ndarray, X: np.ndarray, y: np.ndarray, *, lr: float, steps: int
) -> np.ndarray:
    """Full-batch gradient descent θ ← θ − lr·∇L(θ); returns the path, shape (steps + 1, 2)."""
    return momentum_sgd(theta0, X, y, lr=lr, momentum=0.0, batches=[None] * steps)


def sgd(
    theta0: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    batches: Sequence[np.ndarray],
) -> np.ndarray:
    """Minibatch SGD: one step per index array in ``batches``; returns (len(batches) + 1, 2)."""
    return momentum_sgd(theta0, X, y, lr=lr, momentum=0.0, batches=batches)


def momentum_sgd(
    theta0: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    momentum: float,
    batches: Sequence[np.ndarray | None],
) -> np.ndarray:
    """SGD with heavy-ball momentum, in PyTorch's form: v ← μv + g, θ ← θ − lr·v.

    (Keras writes v ← μv − lr·g, θ ← θ + v; with a constant lr the two are the same path.)
    A batch of ``None`` means the full dataset. Returns the path, shape (len(batches) + 1, 2).
    """
    if lr <= 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    theta = np.array(theta0, dtype=np.float64)
    velocity = np.zeros_like(theta)
    path = [theta.copy()]
    for batch in batches:
        Xb, yb = (X, y) if batch is None else (X[batch], y[batch])
        velocity = momentum * velocity + mse_grad(theta, Xb, yb)
        theta = theta - lr * velocity
        path.append(theta.copy())
    return np.array(path)


def loss_grid(X: np.ndarray, y: np.ndarray, *, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MSE at every (w, b) of a grid; w (nw,), b (nb,) -> losses (nb, nw) for ``contour``."""
    W, B = np.meshgrid(w, b)
    predictions = W[..., None] * X[:, 0] + B[..., None] * X[:, 1]  # (nb, nw, n)
    return np.mean((predictions - y) ** 2, axis=-1)


def momentum_step(
    theta: np.ndarray,
    velocity: np.ndarray,
    gradient: np.ndarray,
    *,
    lr: float,
    momentum: float,
    form: str = "pytorch",
) -> tuple[np.ndarray, np.ndarray]:
    """One heavy-ball step in either framework's form; returns (θ, velocity).

    PyTorch keeps v ← μv + g and steps θ ← θ − lr·v; Keras keeps v ← μv − lr·g and steps
    θ ← θ + v. The paths agree; the velocities differ by the factor −lr.
    """
    if form == "pytorch":
        velocity = momentum * velocity + gradient
        return theta - lr * velocity, velocity
    if form == "keras":
        velocity = momentum * velocity - lr * gradient
        return theta + velocity, velocity
    raise ValueError(f"form must be 'pytorch' or 'keras', got {form!r}")
