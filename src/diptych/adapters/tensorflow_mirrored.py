"""TensorFlow's side of lesson 10 (scaling out): ``tf.distribute.MirroredStrategy`` on a laptop.

* **Logical devices** (``split_cpu``): one CPU seen as several devices, so that
  ``MirroredStrategy`` has replicas to mirror over; it must run before TensorFlow runs anything.
* **What the exercise checks of ``checks.scaling_out`` need from TensorFlow**: a strategy over two
  logical CPUs, what a learner's strategy is made of, the steps of a ``tf.data`` pipeline and how
  the strategy shards them, per-replica gradients and the strategy's own reduction. The checks
  judge; this module only runs TensorFlow and hands back plain values.

A framework companion of ``adapters.tensorflow``; importing it imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from diptych import initial
from diptych.adapters import tensorflow as adapter
from diptych.adapters.idiom import Target
from diptych.optional import require

tf = require("tensorflow")


class LogicalDevicesError(RuntimeError):
    """TensorFlow's devices were fixed before ``split_cpu`` could split the CPU."""


def split_cpu(count: int) -> list[str]:
    """See the CPU as ``count`` logical devices (for ``MirroredStrategy``); their names.

    Must run before TensorFlow runs any operation: once its runtime has started, its devices are
    fixed. Calling it again with the same count (re-running a notebook cell) is harmless.
    """
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:
        names = [device.name for device in tf.config.list_logical_devices("CPU")]
        if len(names) == count:
            return names
        raise LogicalDevicesError(
            f"TensorFlow already runs on {len(names)} CPU device(s) and cannot split the CPU "
            f"into {count} any more: its devices are fixed by the first operation it runs. "
            "Restart the kernel and call split_cpu before anything else touches TensorFlow"
        ) from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


# --------------------------------------------------------------------------- for the checks


def two_replicas() -> Any:
    """A MirroredStrategy over two logical CPUs; LogicalDevicesError if the CPU is one device."""
    return tf.distribute.MirroredStrategy(split_cpu(2))


def split_too_late(error: RuntimeError) -> bool:
    """Is this TensorFlow's refusal to split the CPU after its runtime has started?"""
    return "cannot be modified after being initialized" in str(error)


@dataclass(frozen=True)
class Replicas:
    """Where a MirroredStrategy runs its replicas."""

    count: int
    devices: list[str]


def mirrored_replicas(strategy: Any) -> Replicas | None:
    """The replicas of ``strategy`` if it is a MirroredStrategy, else None."""
    if not isinstance(strategy, tf.distribute.MirroredStrategy):
        return None
    devices = [str(device) for device in strategy.extended.worker_devices]
    return Replicas(int(strategy.num_replicas_in_sync), devices)


def average_loss_shortcuts() -> list[Target]:
    """What an exercise that scales the loss by hand switches off."""
    return [(tf.nn, "compute_average_loss", "tf.nn.compute_average_loss")]


def is_dataset(value: Any) -> bool:
    return isinstance(value, tf.data.Dataset)


def step_labels(dataset: Any, steps: int) -> list[np.ndarray]:
    """The labels of each of the first ``steps`` batches of a (features, labels) pipeline; a
    pipeline that repeats is cut short there."""
    return [np.asarray(labels) for _, labels in dataset.take(steps)]


def shard_sizes(strategy: Any, dataset: Any, steps: int) -> list[list[int]]:
    """For each of the first ``steps`` batches, how many examples each replica gets."""
    return [
        [len(part) for part in strategy.experimental_local_results(labels)]
        for _, labels in strategy.experimental_distribute_dataset(dataset.take(steps))
    ]


@dataclass(frozen=True)
class Gradients:
    """One global batch's gradients on a strategy's replicas (flat, float64)."""

    per_replica: Any  # the strategy's PerReplica value, as a learner receives it
    local: list[np.ndarray]  # each replica's gradient
    engine: np.ndarray  # strategy.reduce(MEAN) of them
    whole: np.ndarray  # the gradient of the whole batch, in one replica


def replica_gradients(
    strategy: Any, X: np.ndarray, y: np.ndarray, weights: list[initial.Layer]
) -> Gradients:
    """The gradient of the mean cross-entropy of a tanh MLP holding ``weights``: per replica of
    ``strategy`` (each on its shard of the batch), reduced by the strategy, and over the batch."""
    import keras

    sizes = [weights[0]["W"].shape[0], *(layer["W"].shape[1] for layer in weights)]
    with strategy.scope(), adapter.float64():
        hidden = [keras.layers.Dense(width, activation="tanh") for width in sizes[1:-1]]
        model = keras.Sequential([keras.Input((sizes[0],)), *hidden, keras.layers.Dense(sizes[-1])])
        for layer, layer_weights in zip(model.layers, weights, strict=True):
            adapter.load_dense(layer, layer_weights)

    def gradient(x: Any, labels: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels, model(x), from_logits=True)
            )
        return tf.concat(
            [tf.reshape(g, [-1]) for g in tape.gradient(loss, model.trainable_variables)], axis=0
        )

    batches = tf.data.Dataset.from_tensor_slices((X, y)).batch(len(y))
    x, labels = next(iter(strategy.experimental_distribute_dataset(batches)))
    per_replica = tf.function(lambda x, labels: strategy.run(gradient, args=(x, labels)))(x, labels)
    return Gradients(
        per_replica,
        [t.numpy() for t in strategy.experimental_local_results(per_replica)],
        strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None).numpy(),
        gradient(tf.constant(X), tf.constant(y)).numpy(),
    )


def reduce_shortcuts(strategy: Any) -> list[Target]:
    """What an exercise that averages the replicas' gradients by hand switches off."""
    extended = type(strategy.extended)
    return [
        (strategy, "reduce", "strategy.reduce"),
        (extended, "reduce_to", "strategy.extended.reduce_to"),
        (extended, "batch_reduce_to", "strategy.extended.batch_reduce_to"),
    ]
