"""Self-checks for lesson 04's exercises (MLPs)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import data, initial
from diptych.checks import (
    Mismatch,
    as_numpy,
    as_pair,
    by_hand,
    exercise,
    expect_array,
    expect_unchanged,
    fresh_rng,
    idiom,
    matches,
    snapshot,
)
from diptych.reference import mlp as reference_mlp
from diptych.reference.classification import cross_entropy_grad


@exercise("The forward pass")
def mlp_forward(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 1: the forward pass of a one-hidden-layer ReLU MLP, on two non-square networks."""
    for sizes in ([6, 5, 3], [3, 7, 2]):
        layers = initial.mlp(sizes, seed=3, dtype=np.float64)
        for layer in layers:
            layer["b"] = fresh_rng("bias").normal(size=layer["b"].shape)
        X = fresh_rng("mlp_forward").normal(size=(4, sizes[0]))
        arrays = (X, layers[0]["W"], layers[0]["b"], layers[1]["W"], layers[1]["b"])
        tensors = [adapter.from_numpy(a) for a in arrays]
        before = snapshot(*tensors)
        got = as_numpy(learner(*tensors), "mlp_forward")
        expect_unchanged(before, tensors, ["X", "W1", "b1", "W2", "b2"])
        expected = reference_mlp.forward(layers, X)[0]
        linear = (X @ layers[0]["W"] + layers[0]["b"]) @ layers[1]["W"] + layers[1]["b"]
        if matches(got, linear):
            raise Mismatch(
                "without an activation the two layers collapse into one linear map: the hidden "
                "layer needs its ReLU"
            )
        if matches(got, np.maximum(expected, 0)) and not matches(got, expected):
            raise Mismatch(
                "your logits are never negative: the activation belongs to the hidden layer only; "
                "logits are left as they are"
            )
        expect_array(
            got,
            expected,
            what=f"the logits of a {'-'.join(map(str, sizes))} network",
            atol=1e-10,
            dtype=np.float64,
            axes=("examples", "classes"),
        )
    return "logits right for 6-5-3 and 3-7-2 networks"


@exercise("Porting weights into layers")
def load_weights(learner: Callable[[Any, Any], Any], adapter: Any) -> str:
    """Exercise 2: port neutral-layout NumPy weights into the framework's layers by hand."""
    fw = idiom(adapter)
    sizes = [8, 6, 4]
    layers = initial.mlp(sizes, seed=5)
    for layer in layers:
        layer["b"] = fresh_rng("load").normal(size=layer["b"].shape).astype(np.float32)
    given = [{key: value.copy() for key, value in layer.items()} for layer in layers]
    model = fw.mlp(sizes)
    learner(model, given)
    for original, passed in zip(layers, given, strict=True):
        if set(passed) != set(original) or any(
            passed[k].shape != original[k].shape or not np.array_equal(passed[k], original[k])
            for k in original
        ):
            raise Mismatch(
                "your function changed the `layers` it was given (a dict entry replaced or an "
                "array changed in place): the caller's weights must stay as they were"
            )
    X = fresh_rng("load_x").random((5, 8)).astype(np.float32)
    got = fw.predict(model, X)
    expected = reference_mlp.forward(layers, X)[0]
    _recognise_loading_mistakes(got, expected, layers, X)
    expect_array(got, expected, what="the model's output after loading", atol=1e-5)
    for passed in given:  # the model must own its weights: later edits of the arrays stay out
        passed["W"] += 1.0
        passed["b"] += 1.0
    if not matches(fw.predict(model, X), expected, atol=1e-5):
        raise Mismatch(
            "the model shares memory with the NumPy arrays it was loaded from: changing them "
            "afterwards changed the model. Copy the values into the layer's parameters"
        )
    return "the loaded model reproduces the reference's logits and owns its weights"


def _recognise_loading_mistakes(
    got: np.ndarray, expected: np.ndarray, layers: list[dict[str, np.ndarray]], X: np.ndarray
) -> None:
    no_bias = [{**layers[0], "b": 0 * layers[0]["b"]}, layers[1]]
    if matches(got, reference_mlp.forward(no_bias, X)[0], atol=1e-5) and not matches(
        got, expected, atol=1e-5
    ):
        raise Mismatch("the first layer's bias was not loaded")
    reshaped = [{**layer, "W": layer["W"].reshape(layer["W"].shape[::-1]).T} for layer in layers]
    if matches(got, reference_mlp.forward(reshaped, X)[0], atol=1e-5):
        raise Mismatch(
            "the weights were reshaped into the layer's shape: a reshape keeps the numbers in "
            "their order, so every weight lands in the wrong place; the axes must be swapped"
        )


@exercise("An initialisation that trains deep")
def init_std(learner: Callable[[int, int], Any], adapter: Any) -> str:
    """Exercise 3: a scale that keeps a deep ReLU network's signal steady, on layers that narrow."""
    widths = [1024, 512, 256, 128] + [64] * 7  # ten layers; the first three are not square
    stds = [_std(learner, n_in, n_out) for n_in, n_out in itertools.pairwise(widths)]
    fan_in, fan_out = 1024, 512
    mistakes = {
        np.sqrt(2 / fan_out): "your scale uses the fan-out: each unit sums over its inputs, so "
        "the fan-in sets the forward signal's variance",
        np.sqrt(2 / (fan_in + fan_out)): "that is Glorot's scale, made for activations that keep "
        "both signs (tanh); ReLU zeroes half its inputs",
        np.sqrt(1 / fan_in): "that is LeCun's scale, made for activations that keep both signs; "
        "ReLU zeroes half its inputs",
    }
    for wrong, message in mistakes.items():
        if np.isclose(stds[0], wrong, rtol=1e-6) and not np.isclose(
            stds[0], np.sqrt(2 / fan_in), rtol=0.05
        ):
            raise Mismatch(message)
    rng = fresh_rng("init")
    h = rng.standard_normal((512, widths[0]))
    for (n_in, n_out), std in zip(itertools.pairwise(widths), stds, strict=True):
        h = np.maximum(h @ (rng.standard_normal((n_in, n_out)) * std), 0)
    ratio = float(np.sqrt(np.mean(h**2)))  # root-mean-square after ten layers; the input's is 1
    if not 0.5 <= ratio <= 2.0:
        trend = "shrinks" if ratio < 1 else "grows"
        raise Mismatch(
            f"through {len(stds)} ReLU layers narrowing from 1024 to 64 units the signal {trend} "
            f"{ratio:.3g}× (about {ratio ** (1 / len(stds)):.2f}× per layer): ReLU zeroes half its "
            "inputs, and the weights' variance must make up for it"
        )
    return f"keeps the signal steady through {len(stds)} ReLU layers narrowing from 1024 to 64 ({ratio:.2f}×)"


def _std(learner: Callable[[int, int], Any], fan_in: int, fan_out: int) -> float:
    std = float(as_numpy(learner(fan_in, fan_out), "init_std").reshape(()))
    if not np.isfinite(std) or std <= 0:
        raise Mismatch(f"the standard deviation must be a positive number, got {std}")
    return std


@exercise("A training step")
def train_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 4: one training step; three in a row must match the reference."""
    fw = idiom(adapter)
    sizes = [64, 16, 10]
    layers = initial.mlp(sizes, seed=7)
    digits = data.digits()
    batches = data.minibatch_order(len(digits.y_train), batch_size=16, epochs=1, seed=3)[:3]
    model = fw.mlp(sizes)
    for layer, weights in zip(fw.dense_layers(model), layers, strict=True):
        adapter.load_dense(layer, weights)
    optimizer = fw.sgd(model, 0.1)
    losses = []
    for batch in batches:
        X, y = (adapter.from_numpy(a) for a in (digits.X_train[batch], digits.y_train[batch]))
        losses.append(float(as_numpy(learner(model, optimizer, X, y), "train_step").reshape(())))
    trained, expected_losses = reference_mlp.train(
        layers, digits.X_train, digits.y_train, batches=batches, lr=0.1
    )
    first = digits.X_train[batches[0]]
    logits = reference_mlp.forward(layers, first)[0]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    double = _cross_entropy(probabilities, digits.y_train[batches[0]])
    if np.isclose(losses[0], double, atol=1e-5) and not np.isclose(
        losses[0], expected_losses[0], atol=1e-5
    ):
        raise Mismatch(
            "the loss went through softmax twice: the loss function already takes logits"
        )
    expect_array(
        np.array(losses[:1]),
        expected_losses[:1],
        what="the first step's loss",
        atol=1e-5,
        hint="the loss is the mean cross-entropy of the model's logits, before the update",
    )
    got = fw.predict(model, digits.X_test[:20])
    if matches(got, reference_mlp.forward(layers, digits.X_test[:20])[0], atol=1e-6):
        raise Mismatch("the weights did not change: the gradients were never applied")
    if not np.allclose(losses, expected_losses, atol=1e-5):
        raise Mismatch(
            f"the first step is right but later ones are not (losses {np.round(losses, 5)} vs "
            f"{np.round(expected_losses, 5)}): does something from one step leak into the next "
            "(gradients that add up unless cleared, a tape that is reused)?"
        )
    expect_array(
        got,
        reference_mlp.forward(trained, digits.X_test[:20])[0],
        what="the model after three steps",
        atol=1e-5,
    )
    return "three steps match the reference's losses and weights"


@exercise("Backpropagation by hand")
def mlp_gradients(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 5: the four gradients of a one-hidden-layer **tanh** network's mean cross-entropy,
    by backpropagation, with autograd switched off. The lesson derives and codes it for ReLU; only
    the activation's derivative changes, and that is the step a learner must make."""
    rng = fresh_rng("backprop")
    layers = initial.mlp([6, 5, 3], seed=4, dtype=np.float64)
    for layer in layers:  # biases that push some hidden units far from tanh's linear middle
        layer["b"] = rng.normal(size=layer["b"].shape)
    X, labels = rng.normal(size=(7, 6)), rng.permutation(np.arange(7) % 3)  # every class
    arrays = (X, labels, layers[0]["W"], layers[0]["b"], layers[1]["W"], layers[1]["b"])
    tensors = [adapter.from_numpy(a) for a in arrays]
    before = snapshot(*tensors)
    result = by_hand(
        lambda: learner(*tensors), idiom(adapter).autograd(), reason="use the chain rule yourself"
    )
    four = as_pair(result, "mlp_gradients", "(∇W1, ∇b1, ∇W2, ∇b2)")
    got = [as_numpy(g, name) for g, name in zip(four, GRADIENT_NAMES, strict=True)]
    expect_unchanged(before, tensors, ["X", "y", "W1", "b1", "W2", "b2"])
    expected = _flat(reference_mlp.gradients(layers, X, labels, activation="tanh")[1])
    logits, _ = reference_mlp.forward(layers, X, activation="tanh")
    into_hidden = cross_entropy_grad(logits, labels) @ layers[1]["W"].T  # δ_Z W2ᵀ, (n, h)
    for hidden_factor, message in _activation_mistakes(layers, X):
        delta = into_hidden * hidden_factor
        if matches(got[0], X.T @ delta) and matches(got[1], delta.sum(axis=0)):
            raise Mismatch(message)
    for value, right, name in zip(got, expected, GRADIENT_NAMES, strict=True):
        if matches(value, right * len(labels)):
            raise Mismatch(f"{name} is n times too large: the loss is a mean over the batch")
        if matches(value, right / len(labels)):
            raise Mismatch(
                f"{name} is n times too small: δ already holds the mean's 1/n, so "
                + ("sum δ over the batch" if name.startswith("∇b") else "do not divide again")
            )
        expect_array(value, right, what=name, atol=1e-10, dtype=np.float64)
    return "∇W1, ∇b1, ∇W2 and ∇b2 of the tanh network all match the reference, by hand"


GRADIENT_NAMES = ("∇W1", "∇b1", "∇W2", "∇b2")


def _activation_mistakes(layers: list[Any], X: np.ndarray) -> list[tuple[Any, str]]:
    """What typical mistakes multiply δ_Z W2ᵀ by on the way back into the hidden layer."""
    A = X @ layers[0]["W"] + layers[0]["b"]  # the hidden units' inputs
    return [
        (
            1.0,
            "∇W1 and ∇b1 went back through tanh as if it were the identity: multiply by its "
            "derivative",
        ),
        (
            A > 0,
            "that is ReLU's derivative (the lesson's mask); this network's hidden layer is tanh",
        ),
        (
            1 - A**2,
            "tanh′ was taken at the wrong place: with H = tanh(A), tanh′(A) = 1 − H², not 1 − A²",
        ),
    ]


def _flat(grads: list[Any]) -> list[np.ndarray]:
    return [grads[0]["W"], grads[0]["b"], grads[1]["W"], grads[1]["b"]]


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())
