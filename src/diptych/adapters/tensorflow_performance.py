"""TensorFlow's side of lesson 09's checks (``checks.performance``): how often a learner's
``tf.function`` traces.

The checks judge; this module only runs TensorFlow and hands back plain values.

A framework companion of ``adapters.tensorflow``; importing it imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from diptych.optional import require

tf = require("tensorflow")


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
