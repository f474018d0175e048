"""PyTorch's side of lesson 07 (a convolutional network): what ``checks.cnn`` runs in PyTorch.

* **A small trained CNN** (``trained_cnn``) for exercise 2 to evaluate: the lesson's shape with 8
  and 16 channels, trained once for two epochs on the digits and kept as arrays, so that every
  call hands out a fresh model with the same weights, in training mode as a training loop
  leaves it.
* **The shortcut lesson 06's im2col exercise switches off** (``patch_extraction``): PyTorch's own
  gathering of windows, which the lesson shows and the exercise asks to do by hand.
* **What the checks look at**: BatchNorm's running statistics, the training mode, whether
  autograd recorded a forward pass, a model's outputs in either mode without changing it, its
  trainable parameters' shapes; and a short training run (``train``) that exercise 3's model
  must learn from.

Images come in and go out as NumPy in the neutral NCHW layout; the checks judge, this module
only runs PyTorch and hands back plain values. A framework companion of ``adapters.pytorch``;
importing it imports PyTorch.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import data
from diptych.adapters.idiom import Target
from diptych.optional import require

torch = require("torch")
F = torch.nn.functional
Module: Any = torch.nn.Module  # typed Any: PyTorch comes in through ``require``

#: how exercise 3 asks for the model, as the lesson builds its own
OWN_MODEL = "an nn.Module subclass"

#: the channels of the small CNN's two blocks
CHANNELS = (8, 16)
BATCH_SIZE = 32
LEARNING_RATE = 1e-2


class SmallCNN(Module):
    """conv(3×3, no bias)-BatchNorm-ReLU-maxpool twice, then a dense layer: (n, 1, 8, 8) -> (n, 10)."""

    def __init__(self) -> None:
        super().__init__()
        first, second = CHANNELS
        self.conv1 = torch.nn.Conv2d(1, first, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(first)
        self.conv2 = torch.nn.Conv2d(first, second, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(second)
        self.fc = torch.nn.Linear(second * 2 * 2, 10)

    def forward(self, x: Any) -> Any:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # (n, 8, 4, 4)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)  # (n, 16, 2, 2)
        return self.fc(x.flatten(1))  # (n, 10)


def seed(value: int) -> None:
    """Seed PyTorch's generator, so that a model built next starts from the same weights."""
    torch.manual_seed(value)


def is_model(value: Any) -> bool:
    return isinstance(value, torch.nn.Module)


def is_sequential(model: Any) -> bool:
    """Is this a plain ``nn.Sequential`` rather than a model class of the learner's own?"""
    return isinstance(model, torch.nn.Sequential)


def device_of(model: Any = None) -> Any:
    """Where a model's parameters are (the CPU, where a check builds its models and a learner's
    new tensors are made, unless the model was moved): the device for the tensors it is given."""
    parameter = next(iter(model.parameters()), None) if model is not None else None
    return parameter.device if parameter is not None else torch.device("cpu")


def _images(images: np.ndarray, model: Any = None) -> Any:
    tensor = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    return tensor.to(device_of(model))


def train(
    model: Any, images: np.ndarray, labels: np.ndarray, *, epochs: int, seed: int = 0
) -> None:
    """``epochs`` of Adam (learning rate 1e-2) over shuffled batches of 32, in training mode;
    leaves the model in evaluation mode."""
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(
            _images(images, model), torch.from_numpy(labels).to(device_of(model))
        ),
        batch_size=BATCH_SIZE,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    model.train()
    for _ in range(epochs):
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(X_batch), y_batch).backward()
            optimizer.step()
    model.eval()


@functools.lru_cache(maxsize=1)
def _trained_state() -> dict[str, Any]:
    """The small CNN after two epochs on the training digits (computed once per process)."""
    digits = data.digits()
    seed(0)
    model = SmallCNN()
    train(model, digits.X_train.reshape(-1, 1, 8, 8), digits.y_train, epochs=2)
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def trained_cnn() -> Any:
    """A fresh trained small CNN, in training mode (as a training loop leaves it)."""
    model = SmallCNN()
    model.load_state_dict(_trained_state())
    return model.train()


def batch_norm_statistics(model: Any) -> list[np.ndarray]:
    """Copies of every buffer (BatchNorm's running mean and variance, and its step count)."""
    return [buffer.detach().cpu().numpy().copy() for buffer in model.buffers()]


def training_mode(model: Any) -> bool | None:
    """``model.training``: True in training mode, False in evaluation mode."""
    return bool(model.training)


def set_training_mode(model: Any, training: bool) -> None:
    model.train(training)


def accuracy(model: Any, images: np.ndarray, labels: np.ndarray) -> float:
    """The share of ``images`` the model classifies as ``labels``, in evaluation mode; the model
    is left as it was."""
    logits = outputs(model, images, training=False)
    return float(np.mean(logits.argmax(axis=1) == labels))


def outputs(model: Any, images: np.ndarray, *, training: bool) -> np.ndarray:
    """The model's outputs in training or evaluation mode, computed on a copy: the model's
    statistics and mode stay as they were."""
    twin = copy.deepcopy(model).train(training)
    with torch.no_grad():
        return twin(_images(images, twin)).detach().cpu().numpy().copy()


def records_gradients(model: Any, call: Callable[[], Any]) -> tuple[Any, bool]:
    """``call()``'s result, and whether autograd was recording while the model ran forward."""
    seen: list[bool] = []
    handle = model.register_forward_hook(lambda *_: seen.append(torch.is_grad_enabled()))
    try:
        result = call()
    finally:
        handle.remove()
    return result, any(seen)


def batch_norm_momenta(model: Any) -> list[float]:
    """The ``momentum`` of every BatchNorm module: the weight PyTorch gives the new batch's
    statistics in the running averages (0.1 by default)."""
    norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
    return [float(m.momentum) for m in model.modules() if isinstance(m, norms) and m.momentum]


def trainable_shapes(model: Any) -> list[tuple[int, ...]]:
    """The shapes of the model's trainable parameters, in PyTorch's layouts."""
    return [tuple(p.shape) for p in model.parameters() if p.requires_grad]


def has_gradients(model: Any) -> bool:
    """Did something leave gradients in the model's parameters (a ``backward``)?"""
    return any(p.grad is not None for p in model.parameters())


def patch_extraction() -> list[Target]:
    """PyTorch's own im2col, switched off where lesson 06's exercise 2 asks for it by hand."""
    functional = torch.nn.functional
    return [(functional, "unfold", "torch.nn.functional.unfold (or nn.Unfold)")]
