"""TensorFlow's side of lesson 04 (MLPs): what ``checks.mlp`` needs to know about a learner's model.

Exercise 1 asks for a model of the learner's own making for any layer sizes: a functional
``keras.Model`` (or a subclassed one, or a ``keras.Sequential``). The check finds its ``Dense``
layers, loads known weights into them and runs the model; this module does the Keras part and
hands back plain values (the check judges them), so that ``checks.mlp`` imports no framework.

A framework companion of ``adapters.tensorflow``; importing it imports TensorFlow and Keras.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diptych.optional import require

tf = require("tensorflow")  # through the adapter's environment: quiet, oneDNN off
keras = require("keras")


def not_a_model(model: Any) -> str | None:
    """None for a ``keras.Model``, else what ``model`` is instead (for the check's message)."""
    return None if isinstance(model, keras.Model) else type(model).__name__


def prepare(model: Any, n_in: int) -> None:
    """Build ``model`` for inputs of ``n_in`` features if it is not built yet (a ``Sequential``
    without ``keras.Input`` creates its weights on its first call)."""
    if not model.built:
        model(np.zeros((1, n_in), dtype=np.float32))


def dense_layers(model: Any) -> list[tuple[Any, tuple[int, int], bool]]:
    """Every ``Dense`` layer of ``model`` (nested models included) in order, each as
    (layer, (in, out), has a bias)."""
    return [
        (layer, (int(layer.kernel.shape[0]), int(layer.kernel.shape[1])), layer.use_bias)
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.Dense)
    ]


def parameter_count(model: Any) -> int:
    """How many trainable numbers ``model`` holds: what an optimizer would train."""
    return int(sum(int(np.prod(variable.shape)) for variable in model.trainable_variables))


def device_of(model: Any = None) -> None:
    """Where a check puts the tensors it gives the learner: None, the adapter's default, since
    TensorFlow places each operation itself and copies its inputs where it runs."""
    del model


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """``model``'s output for ``X`` (n, in) as NumPy, called with ``training=False``."""
    return np.array(model(X, training=False), copy=True)
