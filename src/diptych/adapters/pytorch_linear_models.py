"""PyTorch's side of lesson 03's exercises 4 and 5 (binary cross-entropy, training softmax
regression).

What ``checks.linear_models`` needs PyTorch to do:

* **Watch a training run** (``watching``): while the learner's function trains, note the mistakes
  that leave no trace in the trained model, or only a vague one: probabilities handed to
  ``F.cross_entropy`` (which applies softmax itself), anything but log-probabilities handed to
  ``F.nll_loss``, and a ``backward()`` into parameters whose ``.grad`` still holds the last step's
  gradient (PyTorch adds gradients up until something clears them).
* **Run the learner's model** (``predict``) on the check's images, without autograd, on the
  model's own device.
* **Train on one thread** (``training_threads``): softmax regression's products are far too small to
  share between threads, and PyTorch's OpenMP threads wait for work by spinning. On a machine
  whose cores are busy, two spinning threads made the lesson's recipe take 8 to 28 s instead of
  0.4 to 1 s on one thread (a 2-core machine at load 5 to 9; ``OMP_WAIT_POLICY=PASSIVE`` gave
  0.6 to 0.8 s, so the spinning is the cost). With one thread a verdict also no longer depends
  on how many cores the learner's machine has.
* **Name exercise 4's shortcuts** (``binary_cross_entropies``): PyTorch's own binary
  cross-entropies, which that exercise switches off while the learner's function runs.

The check judges; this module only runs PyTorch and notes what it saw, as the names of the mistakes
(``PROBABILITIES_AS_LOGITS``, ...) added to ``watch.mistakes``, each worded in ``MISTAKES``. A
framework companion of ``adapters.pytorch``; importing it imports PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from diptych.adapters.idiom import Target
from diptych.optional import require

torch = require("torch")

#: a loss that applies softmax itself was handed probabilities: softmax twice
PROBABILITIES_AS_LOGITS = "probabilities_as_logits"
#: ``F.nll_loss`` was handed something that is not log-probabilities
NOT_LOG_PROBABILITIES = "not_log_probabilities"
#: a backward pass added its gradients to the last step's, never cleared
STALE_GRADIENTS = "stale_gradients"

#: what each mistake means, in the learner's terms: the check's message when it was noted
MISTAKES = {
    PROBABILITIES_AS_LOGITS: "your loss was handed probabilities (rows in [0, 1] that sum to 1), "
    "but F.cross_entropy applies softmax itself and expects logits: the softmax ran twice, the "
    "logits trap of the lesson",
    NOT_LOG_PROBABILITIES: "F.nll_loss was handed rows that are not log-probabilities (their "
    "exponentials do not sum to 1): it takes the log-softmax of the logits, not the logits or "
    "probabilities",
    STALE_GRADIENTS: "a backward() ran while the parameters' .grad still held the last step's "
    "gradient: PyTorch adds gradients up until they are cleared, so each step followed the sum "
    "of all the gradients so far",
}

#: how far a row's sum may be from 1 (float32 softmax rows sum to 1 within about 1e-6)
ROW_SUM_TOLERANCE = 1e-3


@contextmanager
def watching(watch: Any) -> Iterator[Any]:
    """Inside, ``F.cross_entropy``, ``F.nll_loss`` (and so their ``nn`` modules) and every
    backward pass note the mistakes they see in ``watch.mistakes`` (a set), then do their work
    unchanged. Restored on the way out, whatever happens."""
    functional, autograd = torch.nn.functional, torch.autograd
    cross_entropy, nll_loss, backward = (
        functional.cross_entropy,
        functional.nll_loss,
        autograd.backward,
    )

    def watched_cross_entropy(*args: Any, **kwargs: Any) -> Any:
        if _is_probabilities(_first(args, kwargs, "input")):
            watch.mistakes.add(PROBABILITIES_AS_LOGITS)
        return cross_entropy(*args, **kwargs)

    def watched_nll_loss(*args: Any, **kwargs: Any) -> Any:
        if not _is_log_probabilities(_first(args, kwargs, "input")):
            watch.mistakes.add(NOT_LOG_PROBABILITIES)
        return nll_loss(*args, **kwargs)

    def watched_backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        if _into_stale_gradients(tensors):
            watch.mistakes.add(STALE_GRADIENTS)
        return backward(tensors, *args, **kwargs)

    functional.cross_entropy, functional.nll_loss = watched_cross_entropy, watched_nll_loss
    autograd.backward = watched_backward  # Tensor.backward calls torch.autograd.backward
    try:
        yield watch
    finally:
        functional.cross_entropy, functional.nll_loss = cross_entropy, nll_loss
        autograd.backward = backward


@contextmanager
def training_threads() -> Iterator[int]:
    """Inside, PyTorch's operations run on one intra-op thread; the thread count it had before
    is restored on the way out, whatever happens. Yields that earlier count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield before
    finally:
        torch.set_num_threads(before)


def binary_cross_entropies() -> list[Target]:
    """PyTorch's binary cross-entropies, on logits and on probabilities (``nn.BCEWithLogitsLoss``
    and ``nn.BCELoss`` call the functional forms): what exercise 4 asks the learner to derive."""
    functional = torch.nn.functional
    return [
        (
            functional,
            "binary_cross_entropy_with_logits",
            "torch.nn.functional.binary_cross_entropy_with_logits (or nn.BCEWithLogitsLoss)",
        ),
        (torch, "binary_cross_entropy_with_logits", "torch.binary_cross_entropy_with_logits"),
        (
            functional,
            "binary_cross_entropy",
            "torch.nn.functional.binary_cross_entropy (or nn.BCELoss)",
        ),
    ]


def predict(model: Any, X: Any) -> np.ndarray:
    """The model's outputs for ``X`` (n, 64) as a NumPy copy (n, k), computed without autograd
    on the device of the model's parameters."""
    parameters = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
    device = parameters[0].device if parameters else X.device
    with torch.no_grad():
        outputs = model(X.to(device))
    return np.array(outputs.detach().cpu().numpy(), copy=True)


def _first(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    return args[0] if args else kwargs.get(name)


def _rows(values: Any) -> Any:
    """A loss's input as a detached 2-D float tensor, or None when it is something else."""
    if not isinstance(values, torch.Tensor) or values.dim() != 2 or not values.is_floating_point():
        return None
    return values.detach()


def _is_probabilities(values: Any) -> bool:
    rows = _rows(values)
    if rows is None:
        return False
    in_range = bool(((rows >= 0) & (rows <= 1)).all())
    return in_range and bool(((rows.sum(dim=1) - 1).abs() < ROW_SUM_TOLERANCE).all())


def _is_log_probabilities(values: Any) -> bool:
    rows = _rows(values)
    if rows is None:
        return True  # not a batch of rows: nothing this check can judge
    return bool((rows <= ROW_SUM_TOLERANCE).all()) and _is_probabilities(rows.exp())


def _into_stale_gradients(tensors: Any) -> bool:
    """Would this backward pass add to a parameter's ``.grad`` that still holds a non-zero
    gradient? Walks the graph from the loss to its leaves (``AccumulateGrad`` nodes)."""
    roots = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)
    pending = [root.grad_fn for root in roots if getattr(root, "grad_fn", None) is not None]
    seen: list[Any] = []
    while pending:
        node = pending.pop()
        if node is None or any(node is other for other in seen):
            continue
        seen.append(node)
        leaf = getattr(node, "variable", None)
        if leaf is not None and leaf.grad is not None and bool(leaf.grad.detach().abs().sum() > 0):
            return True
        pending += [child for child, _ in node.next_functions]
    return False
