"""TensorFlow's side of lesson 08 (porting a model): what ``checks.porting`` runs in Keras.

The lesson's CNN as ``keras.Sequential`` with a name per layer (``LAYERS``), loaded from neutral
layers (``cnn``), and every layer's activations at inference, taken with a multi-output model
(``activations``): exercise 5 hands the learner a port broken in a known place and the original's
activations, and these tell the check what the right answer is and which mistake a wrong one
made. Images come in as NumPy in the neutral NCHW layout (``inputs`` turns them NHWC);
activations go out as NumPy in Keras' layout. A framework companion of ``adapters.tensorflow``;
importing it imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from diptych import porting
from diptych.adapters import tensorflow as adapter  # noqa: F401  (TensorFlow's quiet, exact start)
from diptych.initial import Layer
from diptych.optional import require

keras = require("keras")

#: the lesson's CNN, layer by layer, as its Keras layers are named
LAYERS = (
    "conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "flatten", "dense",
)  # fmt: skip


#: the feature map Flatten meets: (channels, height, width)
FEATURE_MAP = (16, 2, 2)


def cnn(layers: Sequence[Layer], *, eps: float) -> Any:
    """The lesson's CNN (8×8 digits, 8 and 16 channels, 10 classes) with the weights of neutral
    ``layers`` (conv, BN, conv, BN, dense) and BatchNorm's ``epsilon``; the dense layer's rows are
    put in Keras' flatten order."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same", name="conv1"),
            keras.layers.BatchNormalization(epsilon=eps, name="bn1"),
            keras.layers.ReLU(name="relu1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(16, 3, padding="same", name="conv2"),
            keras.layers.BatchNormalization(epsilon=eps, name="bn2"),
            keras.layers.ReLU(name="relu2"),
            keras.layers.MaxPooling2D(2, name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(10, name="dense"),
        ],
        name="cnn",
    )
    model.set_weights(porting.to_keras(layers, feature_map=FEATURE_MAP))
    return model


def inputs(images: np.ndarray) -> np.ndarray:
    """Neutral NCHW images as the float32 NHWC array the model takes."""
    return np.ascontiguousarray(np.asarray(images, dtype=np.float32).transpose(0, 2, 3, 1))


def activations(model: Any, images: np.ndarray, *, training: bool = False) -> dict[str, Any]:
    """Every layer's output on ``images`` (NCHW NumPy), by name, as float64 NumPy in Keras'
    layout (NHWC maps, features flattened in (H, W, C) order); at inference unless ``training``
    (which computes with the batch's statistics and leaves the moving ones as they were)."""
    probe = keras.Model(model.inputs, [layer.output for layer in model.layers])
    moving = [variable.numpy() for variable in model.non_trainable_weights]
    outputs = probe([inputs(images)], training=training)  # a list, as model.inputs is
    for variable, value in zip(model.non_trainable_weights, moving, strict=True):
        variable.assign(value)
    kept = [np.asarray(output, dtype=np.float64) for output in outputs]
    return dict(zip((layer.name for layer in model.layers), kept, strict=True))
