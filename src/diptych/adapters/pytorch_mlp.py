"""PyTorch's side of lesson 04 (MLPs): what ``checks.mlp`` needs to know about a learner's model.

Exercise 1 asks for a model of the learner's own making for any layer sizes: an ``nn.Module``
subclass (or an ``nn.Sequential``). The check finds its ``nn.Linear`` layers wherever they are
registered, loads known weights into them and runs the model; this module does the PyTorch part
and hands back plain values (the check judges them), so that ``checks.mlp`` imports no framework.

Devices: ``adapter.from_numpy`` puts a tensor on ``adapter.device()`` (CUDA, or Apple's MPS unless
the tensor is float64), while a model a check builds, and any tensor a learner's code makes without
naming a device, is on the CPU. So every tensor a check hands a learner goes where the model is
(``device_of``), the CPU when there is no model, and every model runs on its own device
(``predict``): a right answer never meets two devices, whatever machine runs the check.

A framework companion of ``adapters.pytorch``; importing it imports PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diptych.optional import require

torch = require("torch")


def not_a_model(model: Any) -> str | None:
    """None for an ``nn.Module``, else what ``model`` is instead (for the check's message)."""
    return None if isinstance(model, torch.nn.Module) else type(model).__name__


def prepare(model: Any, n_in: int) -> None:
    """Nothing to do: an ``nn.Linear`` holds its parameters from the moment it is made."""
    del model, n_in


def dense_layers(model: Any) -> list[tuple[Any, tuple[int, int], bool]]:
    """Every registered ``nn.Linear`` of ``model`` in registration order, each as
    (layer, (in, out), has a bias). Layers kept in a plain Python list are not registered and
    so are not found, as ``model.parameters()`` does not find them."""
    return [
        (module, (module.in_features, module.out_features), module.bias is not None)
        for module in model.modules()
        if isinstance(module, torch.nn.Linear)
    ]


def parameter_count(model: Any) -> int:
    """How many numbers ``model.parameters()`` holds: what an optimizer would train."""
    return int(sum(parameter.numel() for parameter in model.parameters()))


def device_of(model: Any = None) -> Any:
    """Where a check puts the tensors it gives the learner: on ``model``'s device (that of its
    first parameter), else on the CPU, where the learner's own new tensors are made."""
    parameter = next(model.parameters(), None) if model is not None else None
    return parameter.device if parameter is not None else torch.device("cpu")


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """``model``'s output for ``X`` (n, in) as NumPy, in evaluation mode, recording no graph, on
    the model's own device; the model's mode is put back afterwards."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = model(torch.from_numpy(X).to(device_of(model)))
            return np.array(outputs.detach().cpu().numpy(), copy=True)
    finally:
        model.train(training)
