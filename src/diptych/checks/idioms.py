"""Each framework's idioms that a check must know: layouts, optimizer forms, forbidden shortcuts.

The one table of framework differences the checks use, keyed by the adapters' ``NAME``; an
adapter for another framework brings its own ``Idiom`` as ``adapter.IDIOM`` and the checks use it
unchanged (tested with a NumPy adapter). A twin's exercises are asked in its own framework's idiom: the PyTorch twin in PyTorch's forms
(velocity v ← μv + g; ε after Adam's bias correction; warm-up counting from step 1), the
TensorFlow twin in Keras' forms (velocity v ← μv − ηg; ε before the bias correction; warm-up
from 0, as ``keras.optimizers.schedules.CosineDecay``). A check recognises the other form and
names it as the other framework's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from diptych.checks.core import Mismatch
from diptych.frameworks import PYTORCH, TENSORFLOW

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


def _torch() -> Any:
    import torch

    return torch


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _torch_autograd() -> list[Target]:
    torch = _torch()
    return [
        (torch.Tensor, "backward", "Tensor.backward"),
        (torch.autograd, "backward", "torch.autograd.backward"),
        (torch.autograd, "grad", "torch.autograd.grad"),
        (torch.autograd.functional, "jacobian", "torch.autograd.functional.jacobian"),
        (torch.autograd.functional, "vjp", "torch.autograd.functional.vjp"),
        (torch.func, "grad", "torch.func.grad"),
        (torch.func, "vjp", "torch.func.vjp"),
        (torch.func, "jacrev", "torch.func.jacrev"),
    ]


def _tf_autograd() -> list[Target]:
    tf = _tf()
    return [
        (tf, "GradientTape", "tf.GradientTape"),
        (tf.autodiff, "GradientTape", "tf.autodiff.GradientTape"),
        (tf, "gradients", "tf.gradients"),
    ]


def _torch_convolution() -> list[Target]:
    torch = _torch()
    functional = torch.nn.functional
    return [
        (functional, "conv2d", "torch.nn.functional.conv2d (or nn.Conv2d)"),
        (torch, "conv2d", "torch.conv2d"),
        (torch, "convolution", "torch.convolution"),
    ]


def _tf_convolution() -> list[Target]:
    tf = _tf()
    return [
        (tf.nn, "conv2d", "tf.nn.conv2d"),
        (tf.nn, "convolution", "tf.nn.convolution (or keras.layers.Conv2D)"),
    ]


def _torch_log_softmax() -> list[Target]:
    torch = _torch()
    return [
        (torch, "log_softmax", "torch.log_softmax"),
        (torch.nn.functional, "log_softmax", "torch.nn.functional.log_softmax"),
        (torch.Tensor, "log_softmax", "Tensor.log_softmax"),
        (torch.special, "log_softmax", "torch.special.log_softmax"),
        (torch, "logsumexp", "torch.logsumexp"),
        (torch.Tensor, "logsumexp", "Tensor.logsumexp"),
        (torch.special, "logsumexp", "torch.special.logsumexp"),
    ]


def _tf_log_softmax() -> list[Target]:
    tf = _tf()
    return [
        (tf.nn, "log_softmax", "tf.nn.log_softmax"),
        (tf.math, "log_softmax", "tf.math.log_softmax"),
        (tf.math, "reduce_logsumexp", "tf.math.reduce_logsumexp"),
        (tf, "reduce_logsumexp", "tf.reduce_logsumexp"),
    ]


def _torch_dropout() -> list[Target]:
    torch = _torch()
    return [
        (torch.nn.functional, "dropout", "torch.nn.functional.dropout (or nn.Dropout)"),
        (torch, "dropout", "torch.dropout"),
    ]


def _tf_dropout() -> list[Target]:
    tf = _tf()
    return [
        (tf.nn, "dropout", "tf.nn.dropout"),
        (tf.nn.experimental, "stateless_dropout", "keras.layers.Dropout"),
    ]


def _torch_mlp(sizes: list[int]) -> Any:
    torch = _torch()
    modules: list[Any] = []
    for i in range(len(sizes) - 1):
        modules.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def _keras_mlp(sizes: list[int]) -> Any:
    import keras

    hidden = [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
    return keras.Sequential([keras.Input((sizes[0],)), *hidden, keras.layers.Dense(sizes[-1])])


def _torch_predict(model: Any, X: np.ndarray) -> np.ndarray:
    torch = _torch()
    with torch.no_grad():
        return model(torch.from_numpy(X)).detach().numpy().copy()


_IDIOMS = {
    PYTORCH.name: Idiom(
        PYTORCH.name,
        TENSORFLOW.name,
        "pytorch",
        False,
        _torch,
        _torch_autograd,
        _torch_convolution,
        _torch_log_softmax,
        _torch_dropout,
        _torch_mlp,
        lambda model: [m for m in model if hasattr(m, "weight")],
        _torch_predict,
        lambda model, lr: _torch().optim.SGD(model.parameters(), lr=lr),
    ),
    TENSORFLOW.name: Idiom(
        TENSORFLOW.name,
        PYTORCH.name,
        "keras",
        True,
        _tf,
        _tf_autograd,
        _tf_convolution,
        _tf_log_softmax,
        _tf_dropout,
        _keras_mlp,
        lambda model: list(model.layers),
        lambda model, X: np.asarray(model(X)),
        lambda model, lr: __import__("keras").optimizers.SGD(learning_rate=lr),
    ),
}


def idiom(adapter: Any) -> Idiom:
    """The idioms of the framework behind ``adapter``: its own ``IDIOM`` if it brings one (a
    framework beyond the two built in), else the built-in entry for its ``NAME``."""
    own = getattr(adapter, "IDIOM", None)
    return own if isinstance(own, Idiom) else _IDIOMS[adapter.NAME]


def framework_ops(adapter: Any) -> Any:
    """The framework module behind ``adapter`` (torch or tensorflow), for building test inputs."""
    return idiom(adapter).module()


class ForbiddenShortcut(Exception):
    """Raised inside the learner's code when it calls what the exercise asks to do by hand."""


@contextmanager
def switched_off(targets: list[Target], *, reason: str) -> Iterator[list[str]]:
    """Replace each target by a function that raises ForbiddenShortcut; restore them after.

    Yields the list of shortcuts the learner's code called, so that a call the learner's own
    ``try``/``except`` swallowed is still caught. ``reason`` says what the exercise asks for.
    """
    used: list[str] = []
    saved = [(owner, name, vars(owner).get(name)) for owner, name, _ in targets]

    def refuse(shown: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            used.append(shown)
            raise ForbiddenShortcut(f"{shown} is switched off while this check runs: {reason}")

        return refused

    try:
        for owner, name, shown in targets:
            setattr(owner, name, refuse(shown))
        yield used
    finally:
        for owner, name, original in saved:  # an inherited method is un-shadowed, not copied
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def by_hand(call: Callable[[], Any], targets: list[Target], *, reason: str) -> Any:
    """``call()`` with ``targets`` switched off; Mismatch naming the shortcut if it used one."""
    with switched_off(targets, reason=reason) as used:
        try:
            result = call()
        except ForbiddenShortcut:
            result = None
    if used:
        raise Mismatch(
            f"your code calls {used[0]}, which this exercise asks you to do without: {reason}"
        )
    return result
