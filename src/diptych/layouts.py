"""Each framework's weight layouts, and the conversions between them and the neutral one.

The conversions are named after the layouts they move between, not after a framework that holds
one: a third framework may hold either.

The neutral layout is the one the math in the lessons uses:

* dense layer ``y = x @ W + b``: ``W`` is (in, out), ``b`` is (out,) — Keras' layout;
  PyTorch's ``nn.Linear`` stores ``W.T``, i.e. (out, in).
* conv layer: ``W`` is (out, in, kh, kw) = OIHW — PyTorch's layout; Keras stores HWIO.

Every conversion returns a C-contiguous copy: a transposed view would share memory with its
source, and some consumers (``torch.from_numpy`` users, safetensors) refuse or mishandle views.
"""

from __future__ import annotations

import numpy as np


def dense_to_out_in(W: np.ndarray) -> np.ndarray:
    """Dense kernel (in, out) -> (out, in), as ``nn.Linear.weight`` holds it."""
    return np.ascontiguousarray(_check_ndim(W, 2, "dense kernel").T)


def dense_from_out_in(weight: np.ndarray) -> np.ndarray:
    """(out, in), as ``nn.Linear.weight`` holds it -> dense kernel (in, out)."""
    return np.ascontiguousarray(_check_ndim(weight, 2, "(out, in) weight").T)


def conv_to_hwio(W: np.ndarray) -> np.ndarray:
    """Conv kernel OIHW (out, in, kh, kw) -> HWIO (kh, kw, in, out), as Keras holds it."""
    return np.ascontiguousarray(_check_ndim(W, 4, "conv kernel").transpose(2, 3, 1, 0))


def conv_from_hwio(kernel: np.ndarray) -> np.ndarray:
    """HWIO (kh, kw, in, out), as Keras holds it -> OIHW (out, in, kh, kw)."""
    return np.ascontiguousarray(_check_ndim(kernel, 4, "HWIO conv kernel").transpose(3, 2, 0, 1))


def _check_ndim(array: np.ndarray, ndim: int, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != ndim:
        raise ValueError(f"a {what} has {ndim} dimensions, got shape {array.shape}")
    return array
