"""What an adapter tells the exercise checks about its framework: one ``Idiom`` per adapter.

Each adapter module defines ``IDIOM``: its layouts, its conventions (one field each), the entry
points a check switches off where an exercise says "by hand", a few small builders for test
inputs, and where its companions are. The checks read nothing else framework-specific, so a third
framework brings one adapter module (with its ``IDIOM``) and its twin notebooks, and the checks
stay as they are (tested with a NumPy adapter in tests/test_frameworks.py). This module imports no
framework: ``companion`` imports a companion, which does.

A convention is named after the framework that made it known, in the words the NumPy reference
takes (``reference.regression.momentum_step(form="keras")``): "pytorch" or "keras". Each
convention is its own field, because frameworks mix them (Flax's BatchNorm has PyTorch's ε and
Keras' momentum), and a check asks only about the one it probes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np

#: one framework entry point a check switches off while the learner's function runs:
#: (object holding it, attribute name, how the learner would write it)
Target = tuple[Any, str, str]

#: a convention, by the framework that made it known
Convention = Literal["pytorch", "keras"]
#: where a model's training or inference mode is chosen: on the model (``model.eval()``), or in
#: each call (``model(x, training=True)``)
TrainingMode = Literal["model", "call"]
#: lesson 10's engine, which is also the topic of its companion: PyTorch's DistributedDataParallel
#: (gradients averaged over the replicas) or TensorFlow's MirroredStrategy (summed)
Engine = Literal["ddp", "mirrored"]
#: how a function becomes one compiled graph: captured whole from its bytecode ("capture":
#: ``torch.compile(fullgraph=True)``), or traced by calling it ("trace": ``tf.function``)
OneGraph = Literal["capture", "trace"]

#: whose convention each is, as a check's message names it
WHOSE: dict[Convention, str] = {"pytorch": "PyTorch's", "keras": "Keras'"}
#: the twin in which each convention is the right one, as a message names it
RIGHT_IN: dict[Convention, str] = {"pytorch": "PyTorch", "keras": "TensorFlow"}


def other(convention: Convention) -> Convention:
    """The convention a learner of the other twin was taught: the one a check recognises by name."""
    return "keras" if convention == "pytorch" else "pytorch"


@dataclass(frozen=True)
class Idiom:
    """How one framework does what the exercises touch, one convention per field.

    * ``momentum``: the velocity v ← μv + g, stepped by −ηv ("pytorch"), or v ← μv − ηg, stepped
      by +v ("keras"); the two agree only at a constant learning rate.
    * ``adam_epsilon``: ε added after Adam's bias correction ("pytorch") or before it ("keras").
    * ``warmup``: a linear warm-up at (t + 1)/W from step 0, as ``LambdaLR`` is usually written
      ("pytorch"), or at t/W, from 0, as Keras' ``CosineDecay`` ("keras").
    * ``batch_norm_momentum``: BatchNorm's momentum is the new batch's weight in the running
      averages, 0.1 by default ("pytorch"), or the old average's, 0.99 ("keras").
    * ``training_mode``: dropout and BatchNorm learn their mode from the model ("model":
      ``model.eval()``) or from each call ("call": ``training=True``).
    * ``engine``: lesson 10's data-parallel engine, "ddp" (the replicas' gradients averaged) or
      "mirrored" (summed); also the topic of the lesson's companion.
    * ``weight_layout``: the layouts its layers hold, and so the layouts a port into this
      framework writes: OIHW kernels and (out, in) dense weights ("pytorch"), or HWIO and
      (in, out) ("keras"); a port's source is the other (lessons 06, 08 and 11).
    * ``channels_last``: images NHWC, else NCHW.
    * ``one_graph``: how a function becomes one compiled graph, "capture" or "trace"; lesson 09's
      clipping exercise checks each its own way.
    """

    framework: str  # "PyTorch"
    companions: str  # the prefix of its companion modules: "diptych.adapters.pytorch"
    momentum: Convention
    adam_epsilon: Convention
    warmup: Convention
    batch_norm_momentum: Convention
    training_mode: TrainingMode
    engine: Engine
    weight_layout: Convention
    channels_last: bool  # images NHWC (else NCHW)
    one_graph: OneGraph
    # --- entry points a check switches off, and builders for test inputs ---
    autograd: Callable[[], list[Target]]
    convolution: Callable[[], list[Target]]
    log_softmax: Callable[[], list[Target]]
    dropout: Callable[[], list[Target]]
    batch_norm: Callable[[], list[Target]]
    tensor_type: Callable[[], type]  # the tensor class, whose slicing a check counts
    reduce_sum: Callable[..., Any]  # (x) or (x, axis): a sum autograd follows
    sin: Callable[[Any], Any]  # the sine autograd follows
    mlp: Callable[[list[int]], Any]  # a fresh ReLU MLP of these sizes, the framework's own init
    dense_layers: Callable[[Any], list[Any]]  # the model's dense layers, in order
    predict: Callable[[Any, np.ndarray], np.ndarray]  # the model's output, as NumPy
    sgd: Callable[[Any, float], Any]  # a plain SGD optimizer over the model's parameters

    def companion(self, topic: str) -> ModuleType:
        """This framework's companion for ``topic`` ("cnn": ``diptych.adapters.pytorch_cnn``),
        imported on first use, so that a check imports one framework only."""
        if not topic.isidentifier():
            raise ValueError(f"a companion's topic is a module name's tail, got {topic!r}")
        return importlib.import_module(f"{self.companions}_{topic}")

    @property
    def image_axes(self) -> tuple[str, ...]:
        return (
            ("batch", "height", "width", "channels")
            if self.channels_last
            else ("batch", "channels", "height", "width")
        )
