"""TensorFlow's side of lesson 09: how often a learner's ``tf.function`` traces (for
``checks.performance``), what TensorFlow's profiler wrote (for the lesson's *Where the time
goes*), and the training step that ``diptych.benchmark`` times (``benchmark_steps``).

The checks judge; this module only runs TensorFlow and hands back plain values. The benchmark
passes in its constants (the MLP's widths, the learning rate, the batches), so the arrow points one
way: the benchmark imports this module, never the reverse.

A framework companion of ``adapters.tensorflow``; importing it imports TensorFlow.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from diptych import initial
from diptych.adapters import tensorflow as adapter
from diptych.optional import require

tf = require("tensorflow")


#: lesson 09's profiler table as this framework names it (``checks.performance``, exercise 4):
#: the whole step's row, the two matrix products, an operator the first one calls, three others
PROFILE_NAMES = (
    "train",
    ("_FusedMatMul", "MatMul"),
    "Identity",
    ("ResourceApplyGradientDescent", "SparseSoftmaxCrossEntropyWithLogits", "Cast"),
)


def traced_calls(
    function: Callable[..., Any], cases: Sequence[tuple[Any, ...]]
) -> tuple[list[np.ndarray], int | None]:
    """Call ``function`` on each case (NumPy arrays become float32 tensors, other values are
    passed as they are). Returns (one result per case as NumPy, how many times it traced during
    these calls), or (results, None) when it is not a ``tf.function`` (nothing counts its
    traces)."""
    count = getattr(function, "experimental_get_tracing_count", None)
    before = count() if count else 0
    results = []
    for case in cases:
        args = [tf.constant(a, tf.float32) if isinstance(a, np.ndarray) else a for a in case]
        results.append(np.asarray(function(*args), dtype=np.float64))
    return results, (count() - before if count else None)


def is_symbolic_tensor_error(error: BaseException) -> bool:
    """True when ``error`` is what TensorFlow raises for Python that needs a tensor's value while
    tracing: ``float()``, ``.numpy()``, ``bool()`` of a symbolic tensor."""
    text = str(error)
    return isinstance(
        error, (TypeError, AttributeError, tf.errors.OperatorNotAllowedInGraphError)
    ) and ("symbolic" in text.lower() or "numpy" in text or "graph" in text.lower())


def trace_format() -> ModuleType:
    """The protocol buffer module of the profiler's trace (XSpace), which TensorFlow keeps in a
    private module: TensorBoard's Profile tab is the public way to read a trace. Raises an
    ImportError that says so where this TensorFlow keeps it elsewhere."""
    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError as error:
        raise ImportError(
            f"TensorFlow {tf.__version__} has no tensorflow.tsl.profiler.protobuf.xplane_pb2, the "
            "private module this lesson reads the profiler's trace with; read the trace in "
            "TensorBoard's Profile tab instead (tensorboard --logdir LOGDIR, with "
            "tensorboard-plugin-profile installed)"
        ) from error
    return xplane_pb2


def host_events(logdir: str | Path, steps: int) -> dict[str, tuple[float, float]]:
    """What the profiler recorded on the host CPU into ``logdir`` over ``steps`` steps: each event
    name -> (calls, seconds) per step, summed over every thread. Events nest (a step holds the
    graph's run, which holds its kernels), so their times do not add up to the step."""
    xplane_pb2 = trace_format()
    trace = next(Path(logdir).glob("plugins/profile/*/*.xplane.pb")).read_bytes()
    space = xplane_pb2.XSpace.FromString(trace)
    host = next(plane for plane in space.planes if plane.name == "/host:CPU")
    found: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    for event in (event for line in host.lines for event in line.events):
        total = found[host.event_metadata[event.metadata_id].name]
        total[0] += 1 / steps
        total[1] += event.duration_ps * 1e-12 / steps
    return {name: (calls, seconds) for name, (calls, seconds) in found.items()}


def benchmark_steps(
    settings: Any,
    batches: Mapping[int, tuple[np.ndarray, np.ndarray]],
    *,
    sizes: Sequence[int],
    learning_rate: float,
) -> tuple[dict[str, Callable[[], Any]], Any, list[str]]:
    """(``"variant size"`` -> one training step, sync, notes) for ``diptych.benchmark``: one
    model per variant (eager, function, xla) of the ``sizes`` ReLU MLP from the shared initial
    weights, plain SGD at ``learning_rate``, stepped on each of ``batches`` (batch size -> NumPy
    ``(X, y)``; one trace serves every size after the second)."""
    import keras

    data = {size: tuple(adapter.from_numpy(a) for a in batch) for size, batch in batches.items()}
    steps: dict[str, Callable[[], Any]] = {}
    for variant in settings.variants:
        model = keras.Sequential(
            [
                keras.Input((sizes[0],)),
                keras.layers.Dense(sizes[1], activation="relu"),
                keras.layers.Dense(sizes[2]),
            ]
        )
        weights = initial.mlp(list(sizes), seed=0)
        adapter.load_dense(model.layers[0], weights[0])
        adapter.load_dense(model.layers[1], weights[1])
        step = _keras_step(keras, model, learning_rate)
        if variant != "eager":
            step = tf.function(step, jit_compile=variant == "xla", reduce_retracing=True)
        for size, (X, y) in data.items():
            steps[f"{variant} {size}"] = functools.partial(step, X, y)
    # TensorFlow's GPU work is asynchronous too: reading the loss waits for it
    sync = (lambda loss: loss.numpy()) if adapter.device() != "/CPU:0" else None
    return steps, sync, []


def _keras_step(keras: Any, model: Any, learning_rate: float) -> Callable[[Any, Any], Any]:
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(X: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(X, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    return step
