"""Self-checks for lesson 04's exercises (MLPs).

Exercise 1 runs a model of the learner's own making; the framework code that finds its dense
layers and runs it lives in the adapters' companions for this lesson (``adapters.pytorch_mlp``,
``adapters.tensorflow_mlp``, picked by ``idiom(adapter).companion``), so that this module imports no
framework. The other checks use the adapter's ``IDIOM``, and the companions for where tensors go
and how a model is run: every tensor a check gives the learner sits on the device of the model it
goes with (the CPU, where a check's model and the learner's new tensors are), never on the
adapter's ``device()``, so that a right answer passes on CUDA and on Apple's MPS as on the CPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from diptych import data, initial
from diptych.adapters.contract import Adapter
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


def companion(adapter: Adapter) -> ModuleType:
    """The companion of ``adapter`` holding this lesson's framework code
    (``adapters.<framework>_mlp``); imported on first use, so that a check imports one framework
    only."""
    return idiom(adapter).companion("mlp")


@exercise("A model for any layer sizes")
def build_mlp(learner: Callable[[list[int]], Any], adapter: Adapter) -> str:
    """Exercise 1: a model of the learner's own making (an ``nn.Module`` subclass, a functional
    ``keras.Model``) for any list of layer widths, ReLU after every layer but the last. Built for
    two non-square size lists, loaded with known weights and run against the reference."""
    framework, fw = companion(adapter), idiom(adapter)
    for sizes in ([7, 5, 4, 3], [3, 8, 2]):
        given = list(sizes)
        model = learner(given)
        if given != sizes:
            raise Mismatch("your function changed the `sizes` list it was given")
        if model is None:
            raise Mismatch("your code gave None instead of a model: did you forget the `return`?")
        other = framework.not_a_model(model)
        if other is not None:
            raise Mismatch(f"your code should build a {fw.framework} model, not a {other}")
        framework.prepare(model, sizes[0])
        layers = _loadable_layers(framework, model, sizes)
        weights = initial.mlp(sizes, seed=11)
        for layer in weights:
            layer["b"] = fresh_rng("build_bias").normal(size=layer["b"].shape).astype(np.float32)
        for layer, shape in layers:
            adapter.load_dense(layer, weights[list(itertools.pairwise(sizes)).index(shape)])
        X = fresh_rng("build_mlp").normal(size=(6, sizes[0])).astype(np.float32)
        got = as_numpy(framework.predict(model, X), "the model")
        expected = reference_mlp.forward(weights, X)[0]
        _recognise_building_mistakes(got, expected, weights, X)
        expect_array(
            got,
            expected,
            what=f"the logits of your {'-'.join(map(str, sizes))} model",
            atol=1e-5,
            axes=("examples", "classes"),
        )
    return "right 7-5-4-3 and 3-8-2 models: dense layers, ReLU between them, logits out"


def _loadable_layers(framework: Any, model: Any, sizes: list[int]) -> list[tuple[Any, Any]]:
    """The model's dense layers with their (in, out) shapes, once they are those ``sizes`` ask for."""
    expected = list(itertools.pairwise(sizes))
    found = framework.dense_layers(model)
    if not found:
        raise Mismatch(
            "no dense layers found in your model"
            + (
                " (`model.parameters()` is empty): layers kept in a plain Python list are not "
                "registered with the module"
                if framework.parameter_count(model) == 0
                else ""
            )
        )
    shapes = [shape for _, shape, _ in found]
    if sorted(shapes) != sorted(expected):
        raise Mismatch(
            f"for sizes {sizes} the model needs {len(expected)} dense layers, "
            f"{_shapes(expected)}; yours has {len(shapes)}: {_shapes(shapes)}"
        )
    if not all(has_bias for _, _, has_bias in found):
        raise Mismatch("a dense layer has no bias: each layer computes XW + b")
    return [(layer, shape) for layer, shape, _ in found]


def _shapes(shapes: list[tuple[int, int]]) -> str:
    return ", ".join(f"{n_in}→{n_out}" for n_in, n_out in shapes)


def _recognise_building_mistakes(
    got: np.ndarray, expected: np.ndarray, weights: list[dict[str, np.ndarray]], X: np.ndarray
) -> None:
    """Name the usual ways a model of the right layers computes the wrong thing."""
    if matches(got, expected, atol=1e-5):
        return
    hidden = len(weights) - 1
    for relu_after in itertools.product([True, False], repeat=hidden):
        if all(relu_after):
            continue
        h = X.astype(np.float64)
        for i, layer in enumerate(weights):
            h = h @ layer["W"] + layer["b"]
            h = np.maximum(h, 0) if i < hidden and relu_after[i] else h
        if matches(got, h, atol=1e-5):
            if not any(relu_after):
                raise Mismatch(
                    "without an activation between them the layers collapse into one linear "
                    "map: every hidden layer needs its ReLU"
                )
            missing = [str(i + 1) for i, on in enumerate(relu_after) if not on]
            raise Mismatch(f"hidden layer {', '.join(missing)} has no ReLU after it")
    if matches(got, np.maximum(expected, 0), atol=1e-5):
        raise Mismatch(
            "your logits are never negative: ReLU belongs after the hidden layers only; the last "
            "layer returns its logits as they are"
        )
    probabilities = np.exp(expected - expected.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    if matches(got, probabilities, atol=1e-5):
        raise Mismatch(
            "your model returns probabilities (each row sums to 1): it should return the logits, "
            "which the loss turns into probabilities itself"
        )
    if matches(got, reference_mlp.forward(weights, X, activation="tanh")[0], atol=1e-5):
        raise Mismatch("the hidden layers use tanh: this exercise asks for ReLU")


@exercise("Porting weights into layers")
def load_weights(learner: Callable[[Any, Any], Any], adapter: Adapter) -> str:
    """Exercise 2: port neutral-layout NumPy weights into the framework's dense layers by hand
    (the learner gets the model's dense layers, in order, and the list of weight dicts)."""
    framework, fw = companion(adapter), idiom(adapter)
    sizes = [8, 6, 4]
    layers = initial.mlp(sizes, seed=5)
    for layer in layers:
        layer["b"] = fresh_rng("load").normal(size=layer["b"].shape).astype(np.float32)
    given = [{key: value.copy() for key, value in layer.items()} for layer in layers]
    model = fw.mlp(sizes)
    try:
        learner(fw.dense_layers(model), given)
    except RuntimeError as error:
        if "leaf Variable that requires grad" not in str(error):
            raise
        raise Mismatch(
            "autograd refused the in-place copy: a copy into a parameter that tracks gradients "
            "must not be recorded as part of the model's computation"
        ) from None
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
    got = framework.predict(model, X)
    expected = reference_mlp.forward(layers, X)[0]
    _recognise_loading_mistakes(got, expected, layers, X)
    expect_array(got, expected, what="the model's output after loading", atol=1e-5)
    for passed in given:  # the model must own its weights: later edits of the arrays stay out
        passed["W"] += 1.0
        passed["b"] += 1.0
    if not matches(framework.predict(model, X), expected, atol=1e-5):
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
def init_std(learner: Callable[[int, int], Any], adapter: Adapter) -> str:
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


@exercise("Finding the bugs in a training step")
def train_step(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 4: the corrected version of a training step with two bugs (PyTorch: gradients
    never cleared, softmax before a loss that takes logits; Keras: the loss computed outside the
    tape, a loss that takes the logits for probabilities). Three steps in a row must match the
    reference; each bug, and the usual others, is recognised by its fingerprint."""
    framework, fw = companion(adapter), idiom(adapter)
    sizes = [64, 16, 10]
    layers = initial.mlp(sizes, seed=7)
    digits = data.digits()
    batches = data.minibatch_order(len(digits.y_train), batch_size=16, epochs=1, seed=3)[:3]
    X_all, labels = digits.X_train, digits.y_train
    model = fw.mlp(sizes)
    for layer, weights in zip(fw.dense_layers(model), layers, strict=True):
        adapter.load_dense(layer, weights)
    optimizer = fw.sgd(model, 0.1)
    losses = []
    for batch in batches:
        X, y = (
            adapter.from_numpy(a, on=framework.device_of(model))
            for a in (X_all[batch], labels[batch])
        )
        try:
            result = learner(model, optimizer, X, y)
        except ValueError as error:
            if "No gradients provided" not in str(error):
                raise
            raise Mismatch(
                "no gradient reached any weight: the tape recorded no computation that leads "
                "from the weights to the loss"
            ) from None
        losses.append(float(as_numpy(result, "train_step").reshape(())))
    trained, expected_losses = reference_mlp.train(layers, X_all, labels, batches=batches, lr=0.1)
    _recognise_loss_mistakes(
        losses[0], expected_losses[0], layers, X_all[batches[0]], labels[batches[0]]
    )
    expect_array(
        np.array(losses[:1]),
        expected_losses[:1],
        what="the first step's loss",
        atol=1e-5,
        hint="the loss is the mean cross-entropy of the model's logits, before the update",
    )
    got = framework.predict(model, digits.X_test[:20])
    if matches(got, reference_mlp.forward(layers, digits.X_test[:20])[0], atol=1e-6):
        raise Mismatch("the weights did not change: the gradients were never applied")
    if not np.allclose(losses, expected_losses, atol=1e-5):
        piled_up = _accumulating_gradients(layers, X_all, labels, batches, lr=0.1)
        if np.allclose(losses, piled_up, atol=1e-5):
            raise Mismatch(
                "from the second step on, each step's gradients are added to those of the steps "
                "before: they are never cleared"
            )
        raise Mismatch(
            f"the first step is right but later ones are not (losses {np.round(losses, 5)} vs "
            f"{np.round(expected_losses, 5)}): does something from one step leak into the next?"
        )
    expect_array(
        got,
        reference_mlp.forward(trained, digits.X_test[:20])[0],
        what="the model after three steps",
        atol=1e-5,
    )
    return "three steps match the reference's losses and weights"


def _recognise_loss_mistakes(
    loss: float, expected: float, layers: list[Any], X: np.ndarray, labels: np.ndarray
) -> None:
    """Name a first loss computed from the right logits in a wrong way."""
    if np.isclose(loss, expected, atol=1e-5):
        return
    logits = reference_mlp.forward(layers, X)[0]
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    if np.isclose(loss, _cross_entropy(probabilities, labels), atol=1e-5):
        raise Mismatch(
            "the loss went through softmax twice: the loss function already applies it to the "
            "logits it is given"
        )
    if np.isclose(loss, _probabilities_loss(logits, labels), atol=1e-5):
        raise Mismatch(
            "the loss took the logits for probabilities: Keras' cross-entropy expects "
            "probabilities unless it is told that it gets logits"
        )


def _probabilities_loss(outputs: np.ndarray, labels: np.ndarray) -> float:
    """What Keras' cross-entropy computes when it is given logits but expects probabilities: it
    clips them into [ε, 1 − ε] (ε = 1e-7) and normalises each row to sum to 1."""
    clipped = np.clip(outputs.astype(np.float64), 1e-7, 1 - 1e-7)
    picked = clipped[np.arange(len(labels)), labels] / clipped.sum(axis=1)
    return float(-np.log(picked).mean())


def _accumulating_gradients(
    layers: list[Any], X: np.ndarray, labels: np.ndarray, batches: list[np.ndarray], *, lr: float
) -> np.ndarray:
    """The losses of plain SGD whose gradients pile up from step to step (never zeroed)."""
    layers = [{key: value.copy() for key, value in layer.items()} for layer in layers]
    summed = [{key: np.zeros_like(value) for key, value in layer.items()} for layer in layers]
    losses = []
    for batch in batches:
        loss, grads = reference_mlp.gradients(layers, X[batch], labels[batch])
        losses.append(loss)
        for layer, total, grad in zip(layers, summed, grads, strict=True):
            for key in layer:
                total[key] = total[key] + grad[key]
                layer[key] = layer[key] - lr * total[key]
    return np.array(losses)


@exercise("Backpropagation by hand")
def mlp_gradients(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 5: the four gradients of a one-hidden-layer **tanh** network's mean cross-entropy,
    by backpropagation, with autograd switched off. The lesson derives and codes it for ReLU; only
    the activation's derivative changes, and that is the step a learner must make."""
    rng = fresh_rng("backprop")
    layers = initial.mlp([6, 5, 3], seed=4, dtype=np.float64)
    for layer in layers:  # biases that push some hidden units far from tanh's linear middle
        layer["b"] = rng.normal(size=layer["b"].shape)
    X, labels = rng.normal(size=(7, 6)), rng.permutation(np.arange(7) % 3)  # every class
    arrays = (X, labels, layers[0]["W"], layers[0]["b"], layers[1]["W"], layers[1]["b"])
    on = companion(adapter).device_of()  # one device for all six, float64 and integer alike
    tensors = [adapter.from_numpy(a, on=on) for a in arrays]
    before = snapshot(*tensors)
    try:
        result = by_hand(
            lambda: learner(*tensors),
            idiom(adapter).autograd(),
            reason="use the chain rule yourself",
        )
    except Exception as error:
        if not _mixes_float32_and_float64(error):
            raise
        raise Mismatch(
            "an operation met a float32 tensor and a float64 one: the inputs are float64, and "
            f"{idiom(adapter).framework} converts neither to the other by itself; a tensor your "
            "code makes (a one-hot matrix, a column of ones) starts as float32 unless told otherwise"
        ) from None
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


def _mixes_float32_and_float64(error: Exception) -> bool:
    """Whether ``error`` is the framework refusing an operation on float32 and float64 together
    (TensorFlow's InvalidArgumentError, PyTorch's RuntimeError of a matrix product)."""
    text = str(error)
    return (
        "double tensor but is a float tensor" in text
        or "float tensor but is a double tensor" in text
        or ("same dtype" in text and "float" in text and "double" in text)
    )


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
