"""Self-checks for lesson 04's exercises (MLPs)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import data, params
from diptych.checks import Mismatch, as_numpy, exercise, expect_array, fresh_rng
from diptych.reference import mlp as reference_mlp


@exercise("Exercise 1 (the forward pass)")
def mlp_forward(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 1: the forward pass of a one-hidden-layer ReLU MLP."""
    layers = params.mlp([6, 5, 3], seed=3, dtype=np.float64)
    for layer in layers:
        layer["b"] = fresh_rng("bias").normal(size=layer["b"].shape)
    X = fresh_rng("mlp_forward").normal(size=(4, 6))
    arrays = (X, layers[0]["W"], layers[0]["b"], layers[1]["W"], layers[1]["b"])
    got = as_numpy(learner(*(adapter.from_numpy(a) for a in arrays)), "mlp_forward")
    linear = (X @ layers[0]["W"] + layers[0]["b"]) @ layers[1]["W"] + layers[1]["b"]
    if got.shape == linear.shape and np.allclose(got, linear):
        raise Mismatch(
            "without an activation the two layers collapse into one: apply ReLU to the hidden layer"
        )
    expect_array(
        got,
        reference_mlp.forward(layers, X)[0],
        what="the logits",
        atol=1e-10,
        dtype=np.float64,
        hint="H = relu(X W1 + b1), then Z = H W2 + b2 (no activation on the logits)",
    )
    return "logits right for a 6-5-3 network"


def _model(adapter: Any, sizes: list[int]) -> Any:
    """A fresh framework MLP of ReLU layers, built but with the framework's own initial weights."""
    if adapter.NAME == "PyTorch":
        torch = adapter.torch
        modules: list[Any] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            modules += [torch.nn.Linear(n_in, n_out)] + (
                [torch.nn.ReLU()] if i < len(sizes) - 2 else []
            )
        return torch.nn.Sequential(*modules)
    import keras

    hidden = [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
    return keras.Sequential([keras.Input((sizes[0],)), *hidden, keras.layers.Dense(sizes[-1])])


def _predict(adapter: Any, model: Any, X: np.ndarray) -> np.ndarray:
    if adapter.NAME == "PyTorch":
        with adapter.torch.no_grad():
            return adapter.to_numpy(model(adapter.torch.from_numpy(X)))
    return model(X).numpy()


@exercise("Exercise 2 (porting weights into layers)")
def load_weights(learner: Callable[[Any, Any], Any], adapter: Any) -> str:
    """Exercise 2: port neutral-layout NumPy weights into the framework's layers by hand."""
    sizes = [8, 6, 4]
    layers = params.mlp(sizes, seed=5)
    for layer in layers:
        layer["b"] = fresh_rng("load").normal(size=layer["b"].shape).astype(np.float32)
    model = _model(adapter, sizes)
    learner(model, layers)
    X = fresh_rng("load_x").random((5, 8)).astype(np.float32)
    got = _predict(adapter, model, X)
    expected = reference_mlp.forward(layers, X)[0]
    if np.allclose(
        got,
        reference_mlp.forward([{**layers[0], "b": 0 * layers[0]["b"]}, layers[1]], X)[0],
        atol=1e-5,
    ) and not np.allclose(got, expected, atol=1e-5):
        raise Mismatch("the first layer's bias was not loaded")
    expect_array(
        got,
        expected,
        what="the model's output after loading",
        atol=1e-5,
        hint="nn.Linear keeps its weight as (out, in), the transpose of W; Dense keeps (in, out)",
    )
    return "the loaded model reproduces the reference's logits"


@exercise("Exercise 3 (an initialisation that trains deep)")
def init_std(learner: Callable[[int, int], Any], adapter: Any) -> str:
    """Exercise 3: an initialisation scale that keeps a deep ReLU network's signal steady."""
    width, depth = 256, 10
    std = float(as_numpy(learner(width, width), "init_std"))
    if not np.isfinite(std) or std <= 0:
        raise Mismatch(f"the standard deviation must be a positive number, got {std}")
    rng = fresh_rng("init")
    h = rng.standard_normal((512, width))
    rms = []  # root-mean-square activation after each layer: what He's derivation keeps constant
    for _ in range(depth):
        h = np.maximum(h @ (rng.standard_normal((width, width)) * std), 0)
        rms.append(np.sqrt(np.mean(h**2)))
    ratio = rms[-1] / rms[0]
    if not 0.5 <= ratio <= 2.0:
        trend = "shrinks" if ratio < 1 else "grows"
        per_layer = ratio ** (1 / (depth - 1))  # geometric mean of the per-layer factor
        raise Mismatch(
            f"through {depth} ReLU layers of width {width} the signal {trend} {ratio:.3g}× "
            f"(about {per_layer:.2f}× per layer). ReLU zeroes half its inputs, so the weights' "
            "variance must make up a factor 2"
        )
    return f"std {std:.4f} keeps the signal steady through {depth} ReLU layers ({ratio:.2f}×)"


@exercise("Exercise 4 (a training step)")
def train_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 4: one training step; three in a row must match the reference."""
    sizes = [64, 16, 10]
    layers = params.mlp(sizes, seed=7)
    digits = data.digits()
    batches = data.minibatch_order(len(digits.y_train), batch_size=16, epochs=1, seed=3)[:3]
    model = _model(adapter, sizes)
    optimizer = _load_and_optimizer(adapter, model, layers)
    losses = []
    for batch in batches:
        X, y = (adapter.from_numpy(a) for a in (digits.X_train[batch], digits.y_train[batch]))
        loss = learner(model, optimizer, X, y)
        losses.append(float(as_numpy(loss, "train_step")))
    trained, expected_losses = reference_mlp.train(
        layers, digits.X_train, digits.y_train, batches=batches, lr=0.1
    )
    expect_array(
        np.array(losses[:1]),
        expected_losses[:1],
        what="the first step's loss",
        atol=1e-5,
        hint="return the mean cross-entropy of the model's logits, computed before the update",
    )
    got = _predict(adapter, model, digits.X_test[:20])
    untouched = reference_mlp.forward(layers, digits.X_test[:20])[0]
    if np.allclose(got, untouched, atol=1e-6):
        raise Mismatch("the weights did not change: apply the gradients with the optimizer")
    if not np.allclose(losses, expected_losses, atol=1e-5):
        raise Mismatch(
            f"the first step is right but later ones are not (losses {np.round(losses, 5)} vs "
            f"{np.round(expected_losses, 5)}): are old gradients cleared before each step?"
        )
    expect_array(
        got,
        reference_mlp.forward(trained, digits.X_test[:20])[0],
        what="the model after three steps",
        atol=1e-5,
    )
    return "three steps match the reference's losses and weights"


def _load_and_optimizer(adapter: Any, model: Any, layers: list[dict[str, np.ndarray]]) -> Any:
    dense = (
        [m for m in model if hasattr(m, "weight")] if adapter.NAME == "PyTorch" else model.layers
    )
    for layer, weights in zip(dense, layers, strict=True):
        adapter.load_dense(layer, weights)
    if adapter.NAME == "PyTorch":
        return adapter.torch.optim.SGD(model.parameters(), lr=0.1)
    import keras

    return keras.optimizers.SGD(learning_rate=0.1)
