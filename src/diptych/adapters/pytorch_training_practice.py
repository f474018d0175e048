"""PyTorch's side of lesson 05's exercise checks (training practice).

* **A model in training mode with dropout** (``dropout_mlp``), as a training loop leaves it, and
  its predictions in evaluation mode (``inference_labels``), for the forgotten-mode exercise.
* **Nothing to inspect in a pipeline** (``stages``): TensorFlow's companion lists its steps.
* **A model and its optimizer part-way through training** (``training_pair``, ``train_steps``),
  their predictions (``logits``) and parameters (``parameters``), for the checkpoint exercise.

Everything here lives on the CPU, whatever device the lessons use, so that a check's model and
its inputs always sit together. The checks judge; this module only runs PyTorch and hands back
plain values. A framework companion of ``adapters.pytorch``; importing it imports PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from diptych import initial
from diptych.adapters import pytorch as adapter
from diptych.optional import require

torch = require("torch")

#: the file name ending a checkpoint of this framework gets in the checks
CHECKPOINT_SUFFIX = ".pt"
#: how the exercise saves: the model's and the optimizer's ``state_dict`` in one file
CHECKPOINT = "state_dicts"


def stages(pipeline: Any) -> None:
    """None: a ``DataLoader`` has no steps to list, and PyTorch's pipeline exercise asks for no
    batch prepared ahead (TensorFlow's companion lists a ``tf.data`` pipeline's)."""
    del pipeline


def tensor(array: np.ndarray) -> Any:
    """A CPU tensor holding a copy of ``array`` (its dtype kept)."""
    return torch.from_numpy(np.array(array, copy=True))


def _mlp(sizes: Sequence[int], *, seed: int, dropout: float | None) -> Any:
    """A ReLU ``nn.Sequential`` of these sizes holding ``initial.mlp``'s weights for ``seed``;
    with ``dropout``, a ``Dropout`` of that rate after each hidden layer."""
    layers: list[Any] = []
    weights = initial.mlp(list(sizes), seed=seed)
    for i, layer_weights in enumerate(weights):
        linear = torch.nn.Linear(sizes[i], sizes[i + 1])
        adapter.load_dense(linear, layer_weights)
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
            if dropout is not None:
                layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers)


# --------------------------------------------------------------------------- the forgotten mode


def dropout_mlp(sizes: Sequence[int], *, dropout: float, seed: int) -> Any:
    """An MLP with dropout, in training mode, as a training loop leaves it."""
    return _mlp(sizes, seed=seed, dropout=dropout).train()


def inference_labels(model: Any, X: Any) -> np.ndarray:
    """The model's predicted labels in evaluation mode, its mode left as it was: (n,)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        labels = model(X).argmax(dim=1)
    model.train(was_training)
    return labels.numpy().copy()


def in_training_mode(model: Any) -> bool:
    """Is any submodule of ``model`` in training mode (dropout active)?"""
    return any(module.training for module in model.modules())


def dropout_rates(model: Any) -> list[float]:
    """The rate of every ``Dropout`` in ``model``, in order."""
    return [float(m.p) for m in model.modules() if isinstance(m, torch.nn.Dropout)]


# --------------------------------------------------------------------------- checkpoints


def training_pair(sizes: Sequence[int], *, seed: int) -> tuple[Any, Any]:
    """A fresh MLP (no dropout) from ``seed``'s weights and its SGD optimizer with momentum."""
    model = _mlp(sizes, seed=seed, dropout=None)
    return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def train_steps(model: Any, optimizer: Any, X: np.ndarray, y: np.ndarray, *, steps: int) -> None:
    """``steps`` steps of the lesson's four-line loop on one batch (X (n, in), y (n,))."""
    inputs, labels = tensor(X), tensor(y)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), labels).backward()
        optimizer.step()


def logits(model: Any, X: np.ndarray) -> np.ndarray:
    """The model's logits for X in evaluation mode, as NumPy: (n, out)."""
    model.eval()
    with torch.no_grad():
        return model(tensor(X)).numpy().copy()


def parameters(model: Any) -> list[np.ndarray]:
    """A NumPy copy of every parameter, in order."""
    return [p.detach().numpy().copy() for p in model.parameters()]


def refused_as_a_pickle(error: BaseException) -> bool:
    """Did ``torch.load`` refuse a file holding a pickled object (a whole model, say)?"""
    return "Weights only load failed" in str(error) or type(error).__name__ == "UnpicklingError"
