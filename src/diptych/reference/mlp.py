"""Lesson 04's reference: a ReLU MLP's forward and backward pass, and momentum-SGD training.

Layers are dicts ``{"W": (in, out), "b": (out,)}`` (diptych's neutral layout); ReLU between
layers, none after the last. Arithmetic happens in the layers' dtype (float32 for the lessons).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from diptych.reference.classification import cross_entropy, cross_entropy_grad

Layer = dict[str, np.ndarray]


#: each hidden activation, and its derivative written in terms of its output h (all the
#: backward pass keeps): ReLU's is 1 where h > 0, tanh's is 1 − h²
ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], Any]]] = {
    "relu": (lambda a: np.maximum(a, 0), lambda h: h > 0),
    "tanh": (np.tanh, lambda h: 1 - h**2),
}


def forward(
    layers: Sequence[Layer], X: np.ndarray, *, activation: str = "relu"
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Logits (n, k) and the inputs of every layer (kept for the backward pass)."""
    function = ACTIVATIONS[activation][0]
    inputs, h = [], X
    for i, layer in enumerate(layers):
        inputs.append(h)
        h = h @ layer["W"] + layer["b"]
        if i < len(layers) - 1:
            h = function(h)
    return h, inputs


def gradients(
    layers: Sequence[Layer], X: np.ndarray, labels: np.ndarray, *, activation: str = "relu"
) -> tuple[float, list[Layer]]:
    """Mean cross-entropy and its gradient for every layer's W and b."""
    derivative = ACTIVATIONS[activation][1]
    logits, inputs = forward(layers, X, activation=activation)
    delta = cross_entropy_grad(logits, labels).astype(logits.dtype)  # ∂L/∂(layer output), (n, out)
    grads: list[Layer] = []
    for i in reversed(range(len(layers))):
        grads.insert(0, {"W": inputs[i].T @ delta, "b": delta.sum(axis=0)})
        if i > 0:
            # back through W, then through the activation that produced this layer's input
            delta = (delta @ layers[i]["W"].T) * derivative(inputs[i])
    return cross_entropy(logits, labels), grads


def train(
    layers: Sequence[Layer],
    X: np.ndarray,
    labels: np.ndarray,
    *,
    batches: Sequence[np.ndarray],
    lr: float | Sequence[float],
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> tuple[list[Layer], np.ndarray]:
    """Momentum SGD in PyTorch's form over ``batches``; returns (trained layers, loss per step).

    ``lr`` is one rate, or one per batch (a schedule, as the frameworks' schedulers give it).
    ``weight_decay`` λ is *coupled* by default — λθ is added to the gradient, which is what
    PyTorch's ``SGD(weight_decay=λ)`` does and what an L2 term λ/2·‖θ‖² in the loss gives — or
    *decoupled* (Keras' ``weight_decay``, AdamW): θ ← θ − lr·λ·θ before the gradient step.
    The recorded loss is the data loss, without any L2 term.
    """
    rates = list(lr) if isinstance(lr, Sequence | np.ndarray) else [lr] * len(batches)
    if len(rates) != len(batches):
        raise ValueError(f"got {len(rates)} learning rates for {len(batches)} batches")
    layers = [{k: v.copy() for k, v in layer.items()} for layer in layers]
    velocity = [{k: np.zeros_like(v) for k, v in layer.items()} for layer in layers]
    losses = []
    for batch, lr in zip(batches, rates, strict=True):
        loss, grads = gradients(layers, X[batch], labels[batch])
        losses.append(loss)
        for layer, grad, vel in zip(layers, grads, velocity, strict=True):
            for key in layer:
                step = grad[key] + (0.0 if decoupled else weight_decay) * layer[key]
                if decoupled:
                    layer[key] = layer[key] - lr * weight_decay * layer[key]
                vel[key] = momentum * vel[key] + step
                layer[key] = layer[key] - lr * vel[key]
    return layers, np.array(losses)
