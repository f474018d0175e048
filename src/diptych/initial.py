"""Shared initial weights, drawn once in NumPy in the neutral layout (see ``diptych.layouts``).

* dense layer ``y = x @ W + b``: ``W`` is (in, out), ``b`` is (out,);
* conv layer: ``W`` is (out, in, kh, kw) = OIHW.

Both frameworks start from the same numbers, so any difference after training is the
framework's, never the initialisation's. (The module is not called ``params``: lessons use that
name for a model's parameters.)
"""

from __future__ import annotations

import itertools

import numpy as np

Layer = dict[str, np.ndarray]
"""One layer's weights by name: ``{"W": ..., "b": ...}``, dense or conv."""

SCHEMES = ("glorot_uniform", "he_normal", "kaiming_uniform", "normal", "zeros")


def _draw(
    shape: tuple[int, ...], fan_in: int, fan_out: int, scheme: str, rng: np.random.Generator
) -> np.ndarray:
    """One weight tensor of ``shape`` drawn with ``scheme`` (see SCHEMES)."""
    if scheme == "glorot_uniform":  # Keras' default: keeps activations' variance ≈ constant
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    if scheme == "kaiming_uniform":  # PyTorch's default for Linear/Conv (a=√5): U(±1/√fan_in)
        limit = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-limit, limit, size=shape)
    if scheme == "he_normal":  # for ReLU networks: variance 2/fan_in
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    if scheme == "normal":  # a naive N(0, 1), to show why scaling matters
        return rng.standard_normal(shape)
    if scheme == "zeros":
        return np.zeros(shape)
    raise ValueError(f"unknown initialisation scheme {scheme!r}; choose one of {SCHEMES}")


def dense(
    n_in: int,
    n_out: int,
    *,
    seed: int = 0,
    scheme: str = "glorot_uniform",
    dtype: type = np.float32,
) -> Layer:
    """Weights of one dense layer: ``{"W": (n_in, n_out), "b": (n_out,)}``, bias zero."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"layer sizes must be positive, got n_in={n_in}, n_out={n_out}")
    rng = np.random.default_rng(seed)
    W = _draw((n_in, n_out), n_in, n_out, scheme, rng)
    return {"W": W.astype(dtype), "b": np.zeros(n_out, dtype=dtype)}


def mlp(
    sizes: list[int], *, seed: int = 0, scheme: str = "glorot_uniform", dtype: type = np.float32
) -> list[Layer]:
    """Weights of an MLP with layer widths ``sizes`` (input first), one dict per layer."""
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
    return [
        dense(n_in, n_out, seed=seed + i, scheme=scheme, dtype=dtype)
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes))
    ]


def conv2d(
    c_in: int,
    c_out: int,
    kernel_size: int,
    *,
    seed: int = 0,
    scheme: str = "glorot_uniform",
    dtype: type = np.float32,
) -> Layer:
    """Weights of one conv layer: ``{"W": (c_out, c_in, k, k) OIHW, "b": (c_out,)}``."""
    if min(c_in, c_out, kernel_size) < 1:
        raise ValueError(
            f"channels and kernel size must be positive, got {c_in}, {c_out}, {kernel_size}"
        )
    rng = np.random.default_rng(seed)
    area = kernel_size * kernel_size
    shape = (c_out, c_in, kernel_size, kernel_size)
    W = _draw(shape, c_in * area, c_out * area, scheme, rng)
    return {"W": W.astype(dtype), "b": np.zeros(c_out, dtype=dtype)}


def batch_norm(channels: int, *, seed: int = 0, dtype: type = np.float32) -> Layer:
    """A BatchNorm layer's arrays as training leaves them: ``{"gamma", "beta", "mean", "var"}``,
    each (channels,), drawn from ``seed``.

    A fresh layer (γ = 1, β = 0, mean 0, variance 1) computes almost the identity, so a port that
    dropped its statistics or swapped them would pass unnoticed; these do not.
    """
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    rng = np.random.default_rng(seed)
    arrays = {
        "gamma": rng.uniform(0.5, 1.5, channels),
        "beta": rng.normal(0.0, 0.2, channels),
        "mean": rng.normal(0.0, 0.5, channels),
        "var": rng.uniform(0.2, 2.0, channels),
    }
    return {name: value.astype(dtype) for name, value in arrays.items()}
