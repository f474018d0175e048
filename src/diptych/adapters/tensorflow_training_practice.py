"""TensorFlow's side of lesson 05's exercise checks (training practice).

* **Identical models with seeded dropout** (``dropout_mlps``): two models made with the same
  seeds draw the same masks, call for call, so a learner's training step on one can be set
  beside a known step on the other (``reference_step``), with dropout on or off.
* **The steps of a pipeline** (``stages``), for the pipeline exercise: does it prepare the next
  batch ahead (a prefetch after the batching)?
* **A compiled model part-way through training** (``trained_model``), its predictions
  (``logits``), one more step (``resume``) and its weights, for the checkpoint exercise.

The checks judge; this module only runs Keras and TensorFlow and hands back plain values. A
framework companion of ``adapters.tensorflow``; importing it imports TensorFlow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from diptych import initial
from diptych.adapters import tensorflow as adapter
from diptych.optional import require

tf = require("tensorflow")  # through the adapter's import: quiet, oneDNN off

#: the file name ending a checkpoint of this framework gets in the checks
CHECKPOINT_SUFFIX = ".keras"
#: how the exercise saves: the whole model, its optimizer included, as a ``.keras`` archive
CHECKPOINT = "archive"


def tensor(array: np.ndarray) -> Any:
    """A tensor holding a copy of ``array`` (its dtype kept)."""
    return tf.constant(np.array(array, copy=True))


def _mlp(sizes: Sequence[int], *, seed: int, dropout: float | None) -> Any:
    """A functional ReLU MLP of these sizes holding ``initial.mlp``'s weights for ``seed``; with
    ``dropout``, a ``Dropout`` of that rate after each hidden layer, seeded (its masks repeat)."""
    import keras

    weights = initial.mlp(list(sizes), seed=seed)
    inputs = keras.Input((sizes[0],))
    hidden, dense = inputs, []
    for i in range(len(weights)):
        last = i == len(weights) - 1
        dense.append(keras.layers.Dense(sizes[i + 1], activation=None if last else "relu"))
        hidden = dense[-1](hidden)
        if not last and dropout is not None:
            hidden = keras.layers.Dropout(dropout, seed=1000 * seed + i)(hidden)
    model = keras.Model(inputs, hidden)
    for layer, layer_weights in zip(dense, weights, strict=True):
        adapter.load_dense(layer, layer_weights)
    return model


def stages(pipeline: Any) -> list[str] | None:
    """The kinds of step of a ``tf.data`` pipeline, from the last applied to the first (for
    ``from_tensor_slices(...).shuffle(...).batch(...).prefetch(...)``: ``["prefetch", "batch",
    "shuffle", "tensorslice"]``), or None for anything that is not a ``tf.data.Dataset``.

    TensorFlow has no public way to list a pipeline's steps; each step's ``_inputs()`` names the
    steps it reads from, and its class name says its kind.
    """
    if not isinstance(pipeline, tf.data.Dataset):
        return None
    found, pending = [], [pipeline]
    while pending:
        step = pending.pop(0)
        found.append(type(step).__name__.strip("_").removesuffix("Dataset").lower())
        with contextlib.suppress(AttributeError, NotImplementedError):  # a source says nothing
            pending.extend(step._inputs())
    return found


def _loss() -> Any:
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


# --------------------------------------------------------------------------- the forgotten mode


def dropout_mlps(sizes: Sequence[int], *, dropout: float, seed: int, count: int) -> list[Any]:
    """``count`` identical models with seeded dropout: the same weights, the same masks."""
    return [_mlp(sizes, seed=seed, dropout=dropout) for _ in range(count)]


def sgd(learning_rate: float) -> Any:
    """Plain SGD, the optimizer a learner's step is given."""
    import keras

    return keras.optimizers.SGD(learning_rate=learning_rate)


def reference_step(model: Any, optimizer: Any, X: Any, y: Any, *, training: bool) -> float:
    """One step on the batch's mean cross-entropy, the model called with ``training``."""
    with tf.GradientTape() as tape:
        loss = _loss()(y, model(X, training=training))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return float(loss)


def trainable(model: Any) -> list[np.ndarray]:
    """A NumPy copy of every trainable weight, in order."""
    return [np.array(v.numpy(), copy=True) for v in model.trainable_variables]


def dropout_rates(model: Any) -> list[float]:
    """The rate of every ``Dropout`` layer, in order."""
    import keras

    return [float(layer.rate) for layer in model.layers if isinstance(layer, keras.layers.Dropout)]


# --------------------------------------------------------------------------- checkpoints


def trained_model(
    sizes: Sequence[int], *, seed: int, X: np.ndarray, y: np.ndarray, steps: int
) -> Any:
    """An MLP (no dropout) compiled with SGD and momentum, after ``steps`` steps on (X, y)."""
    import keras

    model = _mlp(sizes, seed=seed, dropout=None)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss=_loss())
    for _ in range(steps):
        model.train_on_batch(X, y)
    return model


def is_model(value: Any) -> bool:
    import keras

    return isinstance(value, keras.Model)


def has_optimizer(model: Any) -> bool:
    """Is ``model`` compiled with an optimizer, so that training can go on?"""
    return getattr(model, "optimizer", None) is not None and bool(getattr(model, "compiled", False))


def logits(model: Any, X: np.ndarray) -> np.ndarray:
    """The model's logits for X at inference, as NumPy: (n, out)."""
    return np.array(model(tensor(X), training=False).numpy(), copy=True)


def resume(model: Any, X: np.ndarray, y: np.ndarray) -> None:
    """One more step of the compiled model's own training on (X, y)."""
    model.train_on_batch(X, y)
