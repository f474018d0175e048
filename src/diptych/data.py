"""Datasets as NumPy arrays, deterministic splits, and one minibatch order for both frameworks.

Everything here is NumPy so that PyTorch and TensorFlow receive byte-identical inputs. Nothing is
downloaded: digits ship inside scikit-learn (and, for the split every lesson uses, in
``datasets/digits.npz``: the same arrays without the second it takes to import scikit-learn), the
rest is generated from a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: scikit-learn's digits and the indices of the default split (scripts/vendor-digits wrote it)
SHIPPED_DIGITS = Path(__file__).with_name("datasets") / "digits.npz"


@dataclass(frozen=True)
class Split:
    """A train/test split. ``X_*`` is (n, features) float, ``y_*`` is (n,) int64 or float."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Regression:
    """A 1-D linear regression problem ``y = w·x + b + noise``; ``true_params`` is (w, b)."""

    x: np.ndarray
    y: np.ndarray
    true_params: np.ndarray

    @property
    def design(self) -> np.ndarray:
        """(n, 2) design matrix ``[x, 1]`` so that ``y ≈ design @ (w, b)``."""
        return np.stack([self.x, np.ones_like(self.x)], axis=1)


def digits(*, test_size: float = 0.25, seed: int = 0, dtype: type = np.float32) -> Split:
    """scikit-learn's 1,797 8×8 handwritten digits, pixels scaled to [0, 1], split stratified.

    Returns X of shape (n, 64) and integer labels 0..9. ``images(X)`` turns rows back into 8×8.
    In plain scikit-learn: ``bunch = load_digits()``, ``X = bunch.data / 16``, then
    ``train_test_split(X, bunch.target, test_size=test_size, random_state=seed,
    stratify=bunch.target)``. The default split is read from a copy shipped with diptych
    (identical arrays, tested against scikit-learn), other splits are made by scikit-learn.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {test_size}")
    pixels, labels, train, test = _digits_and_split(test_size, seed)
    X: np.ndarray = (pixels / 16.0).astype(dtype)
    y = labels.astype(np.int64)
    return Split(X[train], y[train], X[test], y[test])


def _digits_and_split(
    test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels (n, 64) 0..16, labels (n,), and the train and test indices of the split."""
    with np.load(SHIPPED_DIGITS) as shipped:
        if (test_size, seed) == tuple(shipped["split"]):
            return shipped["pixels"], shipped["labels"], shipped["train"], shipped["test"]
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    train, test = train_test_split(
        np.arange(len(bunch.target)),
        test_size=test_size,
        random_state=seed,
        stratify=bunch.target,
    )
    return bunch.data, bunch.target, train, test


def images(X: np.ndarray) -> np.ndarray:
    """(n, 64) digit rows -> (n, 8, 8) images."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 64:
        raise ValueError(f"expected digit rows of shape (n, 64), got {X.shape}")
    return X.reshape(-1, 8, 8)


def regression(
    *, n: int = 100, w: float = 2.0, b: float = -1.0, noise: float = 0.5, seed: int = 0
) -> Regression:
    """Noisy points on the line ``y = w·x + b`` with x uniform in [0, 4], float64.

    x is deliberately not centred, so slope and intercept are coupled: plain gradient descent
    zig-zags along a long valley, which is what makes momentum worth teaching.
    """
    if n < 2:
        raise ValueError(f"need at least 2 points to fit a line, got n={n}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 4.0, size=n)
    y = w * x + b + noise * rng.standard_normal(n)
    return Regression(x=x, y=y, true_params=np.array([w, b]))


def minibatch_order(n: int, *, batch_size: int, epochs: int = 1, seed: int = 0) -> list[np.ndarray]:
    """Index arrays, one per step: each epoch a fresh permutation cut into batches.

    Both frameworks iterate this same list, so they see the same examples at the same step.
    The last batch of an epoch is smaller when ``batch_size`` does not divide ``n``.
    """
    if n < 1 or batch_size < 1 or epochs < 1:
        raise ValueError(
            f"n, batch_size and epochs must be positive, got {n}, {batch_size}, {epochs}"
        )
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(epochs):
        order = rng.permutation(n)
        batches += [order[i : i + batch_size] for i in range(0, n, batch_size)]
    return batches


def holdout(
    X: np.ndarray, y: np.ndarray, *, fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split (X, y) into (X_fit, y_fit, X_validation, y_validation), stratified by label.

    The validation set is carved out of the training data; the test set stays untouched until
    the very end, so that choices made by looking at validation results do not leak into it.
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction}")
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=fraction, random_state=seed, stratify=y
    )
    return X_fit, y_fit, X_val, y_val


def reversals(n: int, *, length: int = 6, letters: int = 8, seed: int = 0) -> np.ndarray:
    """``n`` distinct strings of ``length`` letters, each followed by "=" and its reverse, as
    token ids (n, 2·length + 1) int64: letters are 0 ... letters − 1, "=" is ``letters``.

    Distinct, so that any split into training and test strings holds out strings never seen.
    """
    if not 0 < n <= letters**length:
        raise ValueError(f"n must be between 1 and {letters}^{length}, got {n}")
    codes = np.random.default_rng(seed).choice(letters**length, size=n, replace=False)
    strings = codes[:, None] // letters ** np.arange(length - 1, -1, -1) % letters  # (n, length)
    return np.concatenate([strings, np.full((n, 1), letters), strings[:, ::-1]], axis=1)
