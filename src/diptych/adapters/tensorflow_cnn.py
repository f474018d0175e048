"""TensorFlow's side of lesson 07 (a convolutional network): what ``checks.cnn`` runs in Keras.

* **A small trained CNN** (``trained_cnn``) for exercise 2 to evaluate: the lesson's shape with 8
  and 16 channels, a functional ``keras.Model`` compiled as the lesson compiles its own, trained
  once for two epochs on the digits and kept as arrays, so that every call hands out a fresh
  model with the same weights.
* **The shortcut lesson 06's im2col exercise switches off** (``patch_extraction``): TensorFlow's
  own gathering of windows, which the lesson shows and the exercise asks to do by hand.
* **What the checks look at**: BatchNorm's moving statistics, a model's outputs with
  ``training=True`` or ``False`` without changing it, its trainable weights' shapes; and a short
  training run (``train``: ``compile`` and ``fit``) that exercise 3's model must learn from.

Images come in and go out as NumPy in the neutral NCHW layout (turned NHWC here); the checks
judge, this module only runs Keras and hands back plain values. A framework companion of
``adapters.tensorflow``; importing it imports TensorFlow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import data
from diptych.adapters import tensorflow as adapter
from diptych.adapters.idiom import Target
from diptych.optional import require

tf = adapter.tf
keras = require("keras")

#: how exercise 3 asks for the model, as the lesson builds its own
OWN_MODEL = "a functional keras.Model"

#: the channels of the small CNN's two blocks
CHANNELS = (8, 16)
BATCH_SIZE = 32
LEARNING_RATE = 1e-2


def small_cnn() -> Any:
    """conv(3×3, no bias)-BatchNorm-ReLU-maxpool twice, then a dense layer: (n, 8, 8, 1) -> (n, 10),
    compiled for integer labels and logits, with accuracy as its metric."""
    inputs = keras.Input((8, 8, 1))
    x = inputs
    for channels in CHANNELS:
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(2)(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(x)))
    _compile(model)
    return model


def _compile(model: Any) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def seed(value: int) -> None:
    """Seed Keras (Python, NumPy and TensorFlow), so that a model built next starts the same."""
    keras.utils.set_random_seed(value)


def is_model(value: Any) -> bool:
    return isinstance(value, keras.Model)


def is_sequential(model: Any) -> bool:
    """Is this a ``keras.Sequential`` rather than a functional or subclassed model?"""
    return isinstance(model, keras.Sequential)


def device_of(model: Any = None) -> Any:
    """None: TensorFlow places tensors itself and copies them between devices as needed."""
    del model
    return None


def _images(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(images, dtype=np.float32).transpose(0, 2, 3, 1))


def train(
    model: Any, images: np.ndarray, labels: np.ndarray, *, epochs: int, seed: int = 0
) -> None:
    """``epochs`` of Adam (learning rate 1e-2) over shuffled batches of 32 with ``fit`` (the model
    is compiled here, for logits and integer labels)."""
    keras.utils.set_random_seed(seed)
    _compile(model)
    model.fit(_images(images), labels, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)


@functools.lru_cache(maxsize=1)
def _trained_weights() -> tuple[np.ndarray, ...]:
    """The small CNN's weights after two epochs on the training digits (once per process)."""
    digits = data.digits()
    seed(0)
    model = small_cnn()
    train(model, digits.X_train.reshape(-1, 1, 8, 8), digits.y_train, epochs=2)
    return tuple(np.array(w, copy=True) for w in model.get_weights())


def trained_cnn() -> Any:
    """A fresh trained small CNN (compiled, so that ``evaluate`` works on it too)."""
    model = small_cnn()
    model.set_weights(list(_trained_weights()))
    return model


def batch_norm_statistics(model: Any) -> list[np.ndarray]:
    """Copies of every non-trainable weight: BatchNorm's moving mean and variance."""
    return [np.array(w.numpy(), copy=True) for w in model.non_trainable_weights]


def training_mode(model: Any) -> bool | None:
    """None: a Keras model has no mode of its own; each call says ``training=``."""
    del model
    return None


def set_training_mode(model: Any, training: bool) -> None:
    """Nothing to set: a Keras model has no mode of its own."""
    del model, training


def accuracy(model: Any, images: np.ndarray, labels: np.ndarray) -> float:
    """The share of ``images`` the model classifies as ``labels``, with ``training=False``."""
    logits = outputs(model, images, training=False)
    return float(np.mean(logits.argmax(axis=1) == labels))


def outputs(model: Any, images: np.ndarray, *, training: bool) -> np.ndarray:
    """The model's outputs with ``training=``; BatchNorm's moving statistics, which a training
    call updates, are put back afterwards."""
    if not model.built:  # a subclassed model makes its weights on its first call
        model(_images(images[:1]), training=False)
    saved = [np.array(w.numpy(), copy=True) for w in model.non_trainable_weights]
    try:
        return np.array(model(_images(images), training=training), copy=True)
    finally:
        for variable, value in zip(model.non_trainable_weights, saved, strict=True):
            variable.assign(value)


def records_gradients(model: Any, call: Callable[[], Any]) -> tuple[Any, bool]:
    """``call()``'s result, and False: Keras records gradients only inside a ``GradientTape``
    that the caller opens, so evaluating never records them by itself."""
    del model
    return call(), False


def batch_norm_momenta(model: Any) -> list[float]:
    """The ``momentum`` of every BatchNormalization layer: the weight Keras keeps on the old
    moving average (0.99 by default)."""
    return [float(layer.momentum) for layer in _all_layers(model) if isinstance(layer, _BATCH_NORM)]


_BATCH_NORM = keras.layers.BatchNormalization


def _all_layers(model: Any) -> list[Any]:
    """Every layer inside ``model``, nested models' (and subclassed models' tracked) ones too."""
    found = []
    for layer in getattr(model, "layers", []):
        found += [layer, *_all_layers(layer)]
    return found


def trainable_shapes(model: Any) -> list[tuple[int, ...]]:
    """The shapes of the model's trainable weights, in Keras' layouts."""
    return [tuple(int(d) for d in w.shape) for w in model.trainable_weights]


def has_gradients(model: Any) -> bool:
    """False: Keras keeps no gradients on its variables."""
    del model
    return False


def patch_extraction() -> list[Target]:
    """TensorFlow's own im2col, switched off where lesson 06's exercise 2 asks for it by hand."""
    return [(tf.image, "extract_patches", "tf.image.extract_patches")]
