"""Lesson 01's reference: ``f(x) = Σ x² sin x``, its derivatives, and finite differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def f(x: np.ndarray) -> float:
    """``f(x) = Σᵢ xᵢ² sin xᵢ`` for a vector x (n,): a scalar with a non-trivial gradient."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(x**2 * np.sin(x)))


def grad_f(x: np.ndarray) -> np.ndarray:
    """∂f/∂xᵢ = 2xᵢ sin xᵢ + xᵢ² cos xᵢ, shape (n,)."""
    x = np.asarray(x, dtype=np.float64)
    return 2 * x * np.sin(x) + x**2 * np.cos(x)


def second_derivative_f(x: np.ndarray) -> np.ndarray:
    """∂²f/∂xᵢ² = 2 sin xᵢ + 4xᵢ cos xᵢ − xᵢ² sin xᵢ, shape (n,) (the Hessian's diagonal;
    it is diagonal because each term of the sum depends on one xᵢ only)."""
    x = np.asarray(x, dtype=np.float64)
    return 2 * np.sin(x) + 4 * x * np.cos(x) - x**2 * np.sin(x)


def third_derivative_f(x: np.ndarray) -> np.ndarray:
    """∂³f/∂xᵢ³ = 6 cos xᵢ − 6xᵢ sin xᵢ − xᵢ² cos xᵢ, shape (n,): the constant in a central
    difference's truncation error, ε²/6 · f‴."""
    x = np.asarray(x, dtype=np.float64)
    return 6 * np.cos(x) - 6 * x * np.sin(x) - x**2 * np.cos(x)


def central_difference_error_bound(x: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """The largest error a central difference of ``f`` at x (n,) should make, for each step in
    ``eps`` (m,): truncation ε²/6 · max|f‴| plus rounding u·Σ|xᵢ² sin xᵢ|/ε, with u = 2⁻⁵³ the
    float64 unit roundoff (each of the two evaluations of f is off by at most about u times the
    size of its terms, and their difference is divided by 2ε). Shape (m,)."""
    x = np.asarray(x, dtype=np.float64)
    eps = np.asarray(eps, dtype=np.float64)
    unit_roundoff = np.finfo(np.float64).eps / 2
    truncation = eps**2 / 6 * np.max(np.abs(third_derivative_f(x)))
    rounding = unit_roundoff * np.sum(np.abs(x**2 * np.sin(x))) / eps
    return truncation + rounding


def softplus(x: np.ndarray) -> np.ndarray:
    """softplus(x) = log(1 + eˣ), computed stably as max(x, 0) + log1p(e^−|x|)."""
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_derivative(x: np.ndarray) -> np.ndarray:
    """d softplus/dx = σ(x) = 1 / (1 + e^−x), computed without overflow."""
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def central_difference(
    fn: Callable[[np.ndarray], float], x: np.ndarray, *, eps: float = 1e-6
) -> np.ndarray:
    """Numerical gradient (f(x + εeᵢ) − f(x − εeᵢ)) / 2ε, error O(ε²); x is (n,)."""
    x = np.asarray(x, dtype=np.float64)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    grad = np.empty_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (fn(x + step) - fn(x - step)) / (2 * eps)
    return grad
