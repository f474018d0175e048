"""What an adapter tells the exercise checks about its framework: one ``Idiom`` per adapter.

Each adapter module defines ``IDIOM``: its layouts, its optimizer and schedule conventions, the
entry points a check switches off where an exercise says "by hand", and a few small builders for
test inputs. The checks read nothing else framework-specific, so a third framework brings one
adapter module (with its ``IDIOM``) and its twin notebooks, and the checks stay as they are
(tested with a NumPy adapter in tests/test_frameworks.py). This module imports no framework.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: one framework entry point a check switches off while the learner's function runs:
#: (object holding it, attribute name, how the learner would write it)
Target = tuple[Any, str, str]


@dataclass(frozen=True)
class Idiom:
    """How one framework does what the exercises touch."""

    framework: str  # "PyTorch"
    other: str  # the other twin's framework
    form: str  # optimizer and schedule conventions: "pytorch" or "keras"
    channels_last: bool  # images NHWC and kernels HWIO (else NCHW and OIHW)
    module: Callable[[], Any]  # the framework module, for building test inputs
    autograd: Callable[[], list[Target]]
    convolution: Callable[[], list[Target]]
    log_softmax: Callable[[], list[Target]]
    dropout: Callable[[], list[Target]]
    batch_norm: Callable[[], list[Target]]
    mlp: Callable[[list[int]], Any]  # a fresh ReLU MLP of these sizes, the framework's own init
    dense_layers: Callable[[Any], list[Any]]  # the model's dense layers, in order
    predict: Callable[[Any, np.ndarray], np.ndarray]  # the model's output, as NumPy
    sgd: Callable[[Any, float], Any]  # a plain SGD optimizer over the model's parameters

    @property
    def form_name(self) -> str:
        """Whose conventions this twin's exercises follow: "PyTorch's" or "Keras'"."""
        return "PyTorch's" if self.form == "pytorch" else "Keras'"

    @property
    def other_form(self) -> str:
        return "keras" if self.form == "pytorch" else "pytorch"

    @property
    def other_form_name(self) -> str:
        return "Keras'" if self.form == "pytorch" else "PyTorch's"

    @property
    def image_axes(self) -> tuple[str, ...]:
        return (
            ("batch", "height", "width", "channels")
            if self.channels_last
            else ("batch", "channels", "height", "width")
        )
