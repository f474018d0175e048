"""PyTorch's side of lesson 08 (porting a model): what ``checks.porting`` runs in PyTorch.

The lesson's CNN as ``nn.Sequential`` with a name per layer (``LAYERS``), loaded from neutral
layers (``cnn``), and every layer's activations at inference, taken with forward hooks
(``activations``): exercise 5 hands the learner a port broken in a known place and the original's
activations, and these tell the check what the right answer is and which mistake a wrong one
made. Images come in as NumPy in the neutral NCHW layout (``inputs``); activations go out as
NumPy in PyTorch's layout. A framework companion of ``adapters.pytorch``; importing it imports
PyTorch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from diptych import porting
from diptych.initial import Layer
from diptych.optional import require

torch = require("torch")

#: the lesson's CNN, layer by layer, as its nn.Sequential names them
LAYERS = (
    "conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "flatten", "dense",
)  # fmt: skip


def cnn(layers: Sequence[Layer], *, eps: float) -> Any:
    """The lesson's CNN (8×8 digits, 8 and 16 channels, 10 classes) with the weights of neutral
    ``layers`` (conv, BN, conv, BN, dense) and BatchNorm's ``eps``, in training mode, as a freshly
    built and loaded module is."""
    model = torch.nn.Sequential(
        OrderedDict(
            conv1=torch.nn.Conv2d(1, 8, 3, padding=1),
            bn1=torch.nn.BatchNorm2d(8, eps=eps),
            relu1=torch.nn.ReLU(),
            pool1=torch.nn.MaxPool2d(2),
            conv2=torch.nn.Conv2d(8, 16, 3, padding=1),
            bn2=torch.nn.BatchNorm2d(16, eps=eps),
            relu2=torch.nn.ReLU(),
            pool2=torch.nn.MaxPool2d(2),
            flatten=torch.nn.Flatten(),
            dense=torch.nn.Linear(64, 10),
        )
    )
    state = porting.to_torch(layers, like=model.state_dict())
    model.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    return model


def inputs(images: np.ndarray) -> Any:
    """Neutral NCHW images as the float32 tensor the model takes."""
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))


def activations(model: Any, images: np.ndarray, *, training: bool = False) -> dict[str, Any]:
    """Every layer's output on ``images`` (NCHW NumPy), by name, as float64 NumPy in PyTorch's
    layout; at inference unless ``training``. The model's mode and hooks are left as they were."""
    kept: dict[str, np.ndarray] = {}
    handles = [
        module.register_forward_hook(
            lambda module, args, output, name=name: kept.__setitem__(
                name, output.detach().numpy().astype(np.float64)
            )
        )
        for name, module in model.named_children()
    ]
    was_training = model.training
    try:
        model.train(training)
        with torch.no_grad():
            model(inputs(images))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return kept


def hooks_left(model: Any) -> int:
    """How many forward hooks are still registered on the model's modules."""
    return sum(len(module._forward_hooks) for module in model.modules())
