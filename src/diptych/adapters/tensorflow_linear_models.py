"""TensorFlow's side of lesson 03's exercises 4 and 5 (binary cross-entropy, training softmax
regression).

What ``checks.linear_models`` needs TensorFlow to do:

* **Watch a training run** (``watching``): while the learner's function trains, note the logits
  trap in either direction, which leaves no trace in the trained model but its accuracy: logits
  handed to a Keras cross-entropy that expects probabilities (``from_logits`` left at False),
  and probabilities handed to one told ``from_logits=True`` or to TensorFlow's
  ``tf.nn.*softmax_cross_entropy_with_logits`` (softmax twice). Keras' losses rescue a softmax
  *layer's* output (it carries the logits it came from) and, inside a ``tf.function``, any
  ``Softmax`` operation's: those are no mistake. TensorFlow's own ``tf.nn`` losses rescue
  nothing: a softmax handed to them, however it was made, is applied twice.
* **Run the learner's model** (``predict``) on the check's images.
* **Leave the threads as they are** (``training_threads`` does nothing here): TensorFlow fixes the
  size of its thread pools when it starts, and the eager steps of a learner's loop are bound by
  Python's cost per operation, not by the pool (on a 2-core machine at load 10, one intra-op
  thread ran 39 to 49 ms per step against 29 to 58 ms with two: no difference).
* **Name exercise 4's shortcuts** (``binary_cross_entropies``): TensorFlow's and Keras' own
  binary cross-entropies, which that exercise switches off while the learner's function runs.

Every Keras cross-entropy, whether a loss object, a function or a name given to ``compile``,
ends in the TensorFlow backend's ``sparse_categorical_crossentropy`` or
``categorical_crossentropy`` with ``from_logits`` resolved; those two are watched there (a
module of Keras' own, ``keras.src``: should a Keras release move it, the watch sees only
TensorFlow's functions and the check still judges the accuracy). The check judges; this module only
runs TensorFlow and notes what it saw, as the names of the mistakes added to ``watch.mistakes``,
each worded in ``MISTAKES``. A framework companion of ``adapters.tensorflow``; importing it imports
TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from diptych.adapters.idiom import Target
from diptych.optional import require

tf = require("tensorflow")

#: a loss that applies softmax itself (``from_logits=True``) was handed probabilities
PROBABILITIES_AS_LOGITS = "probabilities_as_logits"
#: a loss that expects probabilities (``from_logits=False``) was handed logits
LOGITS_AS_PROBABILITIES = "logits_as_probabilities"

#: what each mistake means, in the learner's terms: the check's message when it was noted
MISTAKES = {
    PROBABILITIES_AS_LOGITS: "your loss was handed probabilities computed by hand (a softmax), "
    "but it applies softmax itself (told from_logits=True, or one of TensorFlow's "
    "*_with_logits): the softmax ran twice",
    LOGITS_AS_PROBABILITIES: "your loss took the model's logits for probabilities: a Keras "
    "cross-entropy expects probabilities unless it is told otherwise, clips the logits into "
    "[1e-7, 1 − 1e-7] and learns almost nothing (the logits trap of the lesson)",
}

#: where Keras' cross-entropies end on the TensorFlow backend, and their names there
KERAS_BACKEND = "keras.src.backend.tensorflow.nn"
KERAS_CROSS_ENTROPIES = ("sparse_categorical_crossentropy", "categorical_crossentropy")
#: TensorFlow's own cross-entropies on logits
TF_CROSS_ENTROPIES = (
    "sparse_softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits",
)
#: operations whose output is a linear score, never a probability (a Dense layer without
#: activation ends in one of them)
LINEAR_OPERATIONS = {"BiasAdd", "AddV2", "Add", "MatMul", "BatchMatMulV2", "Einsum"}
#: how far a row's sum may be from 1 (float32 softmax rows sum to 1 within about 1e-6)
ROW_SUM_TOLERANCE = 1e-3


@contextlib.contextmanager
def watching(watch: Any) -> Iterator[Any]:
    """Inside, every Keras cross-entropy and TensorFlow's ``tf.nn`` ones note the logits trap
    they see in ``watch.mistakes`` (a set), then compute as before. Restored on the way out."""
    inside_keras = [0]  # Keras' own calls of tf.nn's functions are judged at Keras' level
    patched: list[tuple[Any, str, Any]] = []

    def keras_loss(original: Callable[..., Any]) -> Callable[..., Any]:
        def watched(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> Any:
            _note(watch, _kind(output), from_logits=from_logits)
            inside_keras[0] += 1
            try:
                return original(target, output, from_logits=from_logits, axis=axis)
            finally:
                inside_keras[0] -= 1

        return watched

    def tf_loss(original: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*args: Any, **kwargs: Any) -> Any:
            if not inside_keras[0]:
                logits = args[1] if len(args) > 1 else kwargs.get("logits")
                kind = _kind(logits)  # tf.nn rescues nothing: a softmax here is applied twice
                _note(watch, "probabilities" if kind == "rescued" else kind, from_logits=True)
            return original(*args, **kwargs)

        return watched

    targets = [(tf.nn, name, tf_loss) for name in TF_CROSS_ENTROPIES]
    with contextlib.suppress(ImportError):
        backend = importlib.import_module(KERAS_BACKEND)
        targets += [(backend, name, keras_loss) for name in KERAS_CROSS_ENTROPIES]
    try:
        for owner, name, wrap in targets:
            original = getattr(owner, name)
            patched.append((owner, name, original))
            setattr(owner, name, wrap(original))
        yield watch
    finally:
        for owner, name, original in patched:
            setattr(owner, name, original)


@contextlib.contextmanager
def training_threads() -> Iterator[None]:
    """Nothing to do for TensorFlow (see the module's docstring); PyTorch's companion runs the
    learner's training on one thread here, and the check treats both twins alike."""
    yield


def binary_cross_entropies() -> list[Target]:
    """TensorFlow's binary cross-entropy on logits, and the Keras backend's, which every Keras
    binary cross-entropy (``keras.losses.BinaryCrossentropy``, ``keras.losses.binary_crossentropy``,
    ``keras.ops.binary_crossentropy``) ends in: what exercise 4 asks the learner to derive."""
    targets: list[Target] = [
        (tf.nn, "sigmoid_cross_entropy_with_logits", "tf.nn.sigmoid_cross_entropy_with_logits")
    ]
    with contextlib.suppress(ImportError):
        backend = importlib.import_module(KERAS_BACKEND)
        shown = "Keras' binary cross-entropy (keras.losses.BinaryCrossentropy and its kin)"
        targets.insert(0, (backend, "binary_crossentropy", shown))
    return targets


def predict(model: Any, X: Any) -> np.ndarray:
    """The model's outputs for ``X`` (n, 64) as a NumPy copy (n, k)."""
    return np.array(model(X), copy=True)


def _note(watch: Any, kind: str, *, from_logits: bool) -> None:
    if kind == "probabilities" and from_logits:
        watch.mistakes.add(PROBABILITIES_AS_LOGITS)
    elif kind == "logits" and not from_logits:
        watch.mistakes.add(LOGITS_AS_PROBABILITIES)


def _kind(output: Any) -> str:
    """What a loss was handed: "probabilities", "logits", "rescued" (a softmax Keras will undo
    itself) or "unknown". Values decide in eager mode; inside a ``tf.function`` the operation
    that made the tensor does."""
    if output is None:
        return "unknown"
    if hasattr(output, "_keras_logits"):  # a Keras softmax's output: Keras uses its logits
        return "rescued"
    if tf.is_symbolic_tensor(output):  # traced inside a tf.function: no values yet
        operation = getattr(getattr(output, "op", None), "type", "")
        if operation == "Softmax":
            return "rescued"  # Keras' loss takes the Softmax operation's input instead
        return "logits" if operation in LINEAR_OPERATIONS else "unknown"
    values = np.asarray(output, dtype=np.float64)
    if values.ndim != 2:
        return "unknown"
    in_range = bool(np.all((values >= 0) & (values <= 1)))
    sums_to_one = bool(np.all(np.abs(values.sum(axis=1) - 1) < ROW_SUM_TOLERANCE))
    return "probabilities" if in_range and sums_to_one else "logits"
