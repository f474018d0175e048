"""Lesson 03's reference: softmax regression, cross-entropy on logits, SGD and Adam steps.

Shapes: X (n, d), W (d, k), b (k,), logits Z = XW + b (n, k), integer labels y (n,).
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax along the last axis, stable: z − max(z) − log Σ exp(z − max(z))."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities along the last axis; rows sum to 1."""
    return np.exp(log_softmax(logits))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of integer ``labels`` (n,) under ``logits`` (n, k)."""
    labels = np.asarray(labels)
    return float(-log_softmax(logits)[np.arange(len(labels)), labels].mean())


def cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """∂ cross_entropy / ∂ logits = (softmax(Z) − onehot(y)) / n, shape (n, k)."""
    grad = softmax(logits)
    grad[np.arange(len(labels)), labels] -= 1.0
    return grad / len(labels)


def linear_grads(
    X: np.ndarray, W: np.ndarray, b: np.ndarray, labels: np.ndarray
) -> dict[str, np.ndarray]:
    """Gradients of the softmax-regression loss: dW = Xᵀ dZ (d, k), db = Σ dZ (k,)."""
    dZ = cross_entropy_grad(X @ W + b, labels)
    return {"W": X.T @ dZ, "b": dZ.sum(axis=0)}


def binary_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean of −[t log σ(z) + (1 − t) log(1 − σ(z))] over logits z (n,) and targets t (n,).

    Computed as softplus(z) − t·z, which never takes the log of a probability: σ(z) rounds to 1
    for z above about 37 in float64, and log(1 − 1) = −∞, while the loss there is finite.
    """
    z = np.asarray(logits, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    softplus = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    return float(np.mean(softplus - t * z))


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is at the label."""
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))


def adam_step(
    param: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    *,
    step: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    epsilon_style: str = "pytorch",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Adam update (``step`` counts from 1); returns (param, m, v).

    The frameworks put ε in different places. PyTorch: θ −= lr/(1−β₁ᵗ) · m / (√(v/(1−β₂ᵗ)) + ε).
    Keras: θ −= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε), i.e. ε is divided by √(1−β₂ᵗ) — about 30×
    larger at the first step. ``epsilon_style`` picks which one to reproduce.
    """
    if step < 1:
        raise ValueError(f"Adam's step counter starts at 1, got {step}")
    if epsilon_style not in ("pytorch", "keras"):
        raise ValueError(f"epsilon_style must be 'pytorch' or 'keras', got {epsilon_style!r}")
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    correction1, correction2 = 1 - beta1**step, 1 - beta2**step
    if epsilon_style == "pytorch":
        update = lr / correction1 * m / (np.sqrt(v / correction2) + eps)
    else:
        update = lr * np.sqrt(correction2) / correction1 * m / (np.sqrt(v) + eps)
    return param - update, m, v
