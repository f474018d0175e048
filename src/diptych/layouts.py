"""Each framework's weight layouts, and the conversions between them and the neutral one.

The neutral layout is the one the math in the lessons uses:

* dense layer ``y = x @ W + b``: ``W`` is (in, out), ``b`` is (out,) — Keras' layout;
  PyTorch's ``nn.Linear`` stores ``W.T``, i.e. (out, in).
* conv layer: ``W`` is (out, in, kh, kw) = OIHW — PyTorch's layout; Keras stores HWIO.

Every conversion returns a C-contiguous copy: a transposed view would share memory with its
source, and some consumers (``torch.from_numpy`` users, safetensors) refuse or mishandle views.
"""

from __future__ import annotations

import numpy as np


def linear_to_torch(W: np.ndarray) -> np.ndarray:
    """Dense kernel (in, out) -> ``nn.Linear.weight`` (out, in)."""
    return np.ascontiguousarray(_check_ndim(W, 2, "dense kernel").T)


def linear_from_torch(weight: np.ndarray) -> np.ndarray:
    """``nn.Linear.weight`` (out, in) -> dense kernel (in, out)."""
    return np.ascontiguousarray(_check_ndim(weight, 2, "nn.Linear weight").T)


def conv_to_keras(W: np.ndarray) -> np.ndarray:
    """Conv kernel OIHW (out, in, kh, kw) -> Keras HWIO (kh, kw, in, out)."""
    return np.ascontiguousarray(_check_ndim(W, 4, "conv kernel").transpose(2, 3, 1, 0))


def conv_from_keras(kernel: np.ndarray) -> np.ndarray:
    """Keras HWIO (kh, kw, in, out) -> OIHW (out, in, kh, kw)."""
    return np.ascontiguousarray(_check_ndim(kernel, 4, "Keras conv kernel").transpose(3, 2, 0, 1))


def _check_ndim(array: np.ndarray, ndim: int, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != ndim:
        raise ValueError(f"a {what} has {ndim} dimensions, got shape {array.shape}")
    return array
