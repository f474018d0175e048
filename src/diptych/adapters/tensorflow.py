"""TensorFlow side of the adapters: seeding, devices, NumPy interop, loading shared weights."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from diptych import initial, layouts
from diptych.adapters.contract import Installation
from diptych.adapters.idiom import Idiom, Target
from diptych.frameworks import TENSORFLOW
from diptych.optional import require
from diptych.seeding import seed_everything

tf = require("tensorflow")  # after environments.tensorflow.BEFORE_IMPORT: quiet, oneDNN off

NAME = TENSORFLOW.name


def setup(seed: int = 0) -> str:
    """Seed everything, ask for deterministic kernels, turn TF32 off; describe the setup.

    TF32 (on by default on Ampere-or-newer GPUs) rounds float32 matmul inputs to 10 mantissa
    bits, which would break parity with the NumPy reference; we ask for full float32.
    """
    seed_everything(seed)
    tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return f"{NAME} {tf.__version__} on {device()}, seed {seed}"


@contextmanager
def float64() -> Iterator[None]:
    """Inside, Keras builds float64 layers, losses and optimizers; float32 again after.

    Keras decides a new layer's dtype by its global dtype policy, which it fixes the first time a
    layer is built (so ``set_floatx`` alone is too late once any layer exists), and keeps
    optimizer hyper-parameters in ``floatx`` (in float32 a learning rate 0.05 is
    0.0500000007). Step-by-step parity runs need both in float64.
    """
    keras = require("keras")
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


def device(*, float64: bool = False) -> str:
    """``"/GPU:0"`` when TensorFlow sees a GPU, else ``"/CPU:0"``.

    TensorFlow places operations itself; this name is for ``with tf.device(...)`` and messages.
    ``float64`` is accepted for symmetry with the PyTorch adapter (TensorFlow GPUs have float64).
    """
    del float64
    return "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"


def from_numpy(array: np.ndarray, *, dtype: Any = None, on: Any = None) -> Any:
    """A tensor holding a copy of ``array`` (keeping its dtype unless ``dtype``)."""
    with tf.device(on or device()):
        return tf.identity(tf.constant(np.array(array, copy=True), dtype=dtype))


def seed_framework(seed: int) -> None:
    """Seed TensorFlow through Keras, which seeds Python, NumPy and its backend together."""
    import keras

    keras.utils.set_random_seed(seed)


def to_numpy(tensor: Any) -> np.ndarray:
    """A NumPy copy of a tensor or variable."""
    return np.array(tensor.numpy(), copy=True)


def load_dense(layer: Any, weights: initial.Layer) -> None:
    """Copy shared dense weights ``{"W": (in, out), "b": (out,)}`` into a built ``Dense``."""
    _assign(layer, [weights["W"], weights["b"]])


def load_conv(layer: Any, weights: initial.Layer) -> None:
    """Copy shared conv weights ``{"W": OIHW, "b": (out,)}`` into a built ``Conv2D`` (HWIO)."""
    _assign(layer, [layouts.conv_to_hwio(weights["W"]), weights["b"]])


def _assign(layer: Any, values: list[np.ndarray]) -> None:
    if not layer.built:
        raise ValueError(
            f"layer {layer.name!r} is not built yet: call the model on a batch (or build it with "
            "an input shape) before loading weights"
        )
    for variable, value in zip(layer.weights, values, strict=True):
        if tuple(variable.shape) != tuple(np.shape(value)):
            raise ValueError(
                f"cannot load a value of shape {tuple(np.shape(value))} into {variable.path} of "
                f"shape {tuple(variable.shape)}"
            )
        variable.assign(np.asarray(value, dtype=variable.dtype))


# --- what the exercise checks need to know about TensorFlow (see diptych.adapters.idiom) ------


def _autograd() -> list[Target]:
    return [
        (tf, "GradientTape", "tf.GradientTape"),
        (tf.autodiff, "GradientTape", "tf.autodiff.GradientTape"),
        (tf, "gradients", "tf.gradients"),
    ]


def _convolution() -> list[Target]:
    return [
        (tf.nn, "conv2d", "tf.nn.conv2d"),
        (tf.nn, "convolution", "tf.nn.convolution (or keras.layers.Conv2D)"),
    ]


def _log_softmax() -> list[Target]:
    return [
        (tf.nn, "log_softmax", "tf.nn.log_softmax"),
        (tf.math, "log_softmax", "tf.math.log_softmax"),
        (tf.math, "reduce_logsumexp", "tf.math.reduce_logsumexp"),
        (tf, "reduce_logsumexp", "tf.reduce_logsumexp"),
    ]


def _dropout() -> list[Target]:
    return [
        (tf.nn, "dropout", "tf.nn.dropout"),
        (tf.nn.experimental, "stateless_dropout", "keras.layers.Dropout"),
    ]


def _batch_norm() -> list[Target]:
    return [
        (
            tf.nn,
            "batch_normalization",
            "tf.nn.batch_normalization (or keras.layers.BatchNormalization)",
        ),
        (tf.nn, "fused_batch_norm", "tf.nn.fused_batch_norm"),
    ]


def _mlp(sizes: list[int]) -> Any:
    import keras

    hidden = [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
    return keras.Sequential([keras.Input((sizes[0],)), *hidden, keras.layers.Dense(sizes[-1])])


def _sgd(model: Any, lr: float) -> Any:
    import keras

    return keras.optimizers.SGD(learning_rate=lr)


IDIOM = Idiom(
    framework=NAME,
    companions=__name__,
    momentum="keras",
    adam_epsilon="keras",
    warmup="keras",
    batch_norm_momentum="keras",
    training_mode="call",
    engine="mirrored",
    weight_layout="keras",
    channels_last=True,
    one_graph="trace",
    autograd=_autograd,
    convolution=_convolution,
    log_softmax=_log_softmax,
    dropout=_dropout,
    batch_norm=_batch_norm,
    tensor_type=lambda: tf.Tensor,
    reduce_sum=lambda x, *axis: tf.reduce_sum(x, *axis),
    sin=lambda x: tf.sin(x),
    mlp=_mlp,
    dense_layers=lambda model: list(model.layers),
    predict=lambda model, X: np.asarray(model(X)),
    sgd=_sgd,
)


# --- thread pools, version, installation: lessons 09 and 11, ``diptych bench`` and doctor ---


def set_threads(threads: int) -> int:
    """Set TensorFlow's intra-op pool (and one inter-op thread); before any operation, or
    TensorFlow raises ``RuntimeError``. Returns the intra-op thread count now in force."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return int(tf.config.threading.get_intra_op_parallelism_threads())


def version() -> str:
    """TensorFlow's version ("2.21.0")."""
    return str(tf.__version__).split("+")[0]


def installation() -> Installation:
    """TensorFlow's version and build, and the devices it sees (``CPU:0``, ``GPU:0``, ...)."""
    devices = [d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()]
    return Installation(
        version=str(tf.__version__),
        devices=tuple(devices),
        built_for_cuda=bool(tf.test.is_built_with_cuda()),
        sees_gpu=bool(tf.config.list_physical_devices("GPU")),
    )
