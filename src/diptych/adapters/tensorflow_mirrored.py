"""TensorFlow's side of lesson 10 (scaling out): ``tf.distribute.MirroredStrategy`` on a laptop.

* **Logical devices** (``split_cpu``): one CPU seen as several devices, so that
  ``MirroredStrategy`` has replicas to mirror over; it must run before TensorFlow runs anything.
* **What the exercise checks of ``checks.scaling_out`` need from TensorFlow**: a strategy over two
  logical CPUs, what a learner's strategy is made of, a learner's loss run on every replica, the
  steps of a ``tf.data`` pipeline and how the strategy shards them, a model trained under the
  strategy to checkpoint. The checks judge; this module only runs TensorFlow and hands back plain
  values.

A framework companion of ``adapters.tensorflow``; importing it imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from diptych import initial
from diptych.adapters import tensorflow as adapter
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


_TWO_REPLICAS: list[Any] = []


def two_replicas() -> Any:
    """A MirroredStrategy over two logical CPUs; LogicalDevicesError if the CPU is one device.

    One strategy for all the checks of a process: each MirroredStrategy numbers its collective
    operations from the same start, so a second one over the same devices could meet the first
    one's collectives (a float32 all-reduce in a learner's loss, then ``fit``'s gradients) and
    fail with a shape mismatch.
    """
    if not _TWO_REPLICAS:
        _TWO_REPLICAS.append(tf.distribute.MirroredStrategy(split_cpu(2)))
    return _TWO_REPLICAS[0]


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


def replica_results(
    strategy: Any, learner: Callable[[Any], Any], batches: list[np.ndarray]
) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """``learner(per_example)`` in ``strategy.run``, inside one ``tf.function``, on each global
    batch of losses in ``batches`` (float32, as a model's losses are), which the strategy splits
    as it splits any batch (3 into 2 + 1, 1 into 1 + 0). Per batch: each replica's result and
    each replica's shard, as NumPy.

    The ``tf.function`` is traced once, for shards of any size (the distributed dataset's own
    element spec, whose batch dimension is None), so that running a check again does not make
    TensorFlow warn about retracing; and without AutoGraph, so that an error raised in the
    learner's function points at the learner's own line rather than AutoGraph's rewrite of it.
    """
    step = None
    out = []
    for losses in batches:
        data = tf.data.Dataset.from_tensor_slices(np.asarray(losses, np.float32))
        distributed = strategy.experimental_distribute_dataset(data.batch(len(losses)))
        if step is None:
            step = tf.function(
                lambda v: strategy.run(learner, args=(v,)),
                input_signature=[distributed.element_spec],
                autograph=False,
            )
        values = next(iter(distributed))
        per_replica = step(values)
        results = [np.asarray(part) for part in strategy.experimental_local_results(per_replica)]
        shards = [np.asarray(part) for part in strategy.experimental_local_results(values)]
        out.append((results, shards))
    return out


def _mlp() -> Any:
    import keras

    return keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(3)]
    )


def trained_model(strategy: Any, *, seed: int) -> Any:
    """A small Keras MLP built in ``strategy``'s scope, after one step of ``fit``."""
    import keras

    rng = np.random.default_rng(seed)
    with strategy.scope():
        model = _mlp()
        for layer, weights in zip(model.layers, initial.mlp([5, 4, 3], seed=seed), strict=True):
            adapter.load_dense(layer, weights)
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    x, y = rng.normal(size=(8, 5)).astype(np.float32), rng.integers(0, 3, size=8)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    model.fit(data, epochs=1, shuffle=False, verbose=0)  # a dataset is not shuffled by fit
    return model


def plain_model() -> Any:
    """The same architecture as ``trained_model``, built outside any strategy."""
    return _mlp()


def weights_of(model: Any) -> dict[str, np.ndarray]:
    """Every weight of a Keras model, as NumPy copies, named by its place and name ("0/kernel"):
    two models of the same layers have the same names, whatever Keras called their layers."""
    return {
        f"{i}/{variable.name}": np.array(variable.numpy(), copy=True)
        for i, variable in enumerate(model.weights)
    }
