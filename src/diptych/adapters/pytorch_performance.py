"""PyTorch's side of lesson 09: a learner's function captured whole by
``torch.compile(fullgraph=True)`` (for ``checks.performance``), and the training step that
``diptych.benchmark`` times (``benchmark_steps``).

Capture only: the backend is ``"eager"``, which runs the captured graph with PyTorch's own
kernels, so a check costs TorchDynamo's tracing (a fraction of a second) and never a C++
compilation. The checks judge; this module only runs PyTorch and hands back plain values. The
benchmark passes in its constants (the MLP's widths, the learning rate, the batches), so the arrow
points one way: the benchmark imports this module, never the reverse.

A framework companion of ``adapters.pytorch``; importing it imports PyTorch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from diptych import initial
from diptych.adapters import pytorch as adapter
from diptych.optional import require

torch = require("torch")


#: lesson 09's profiler table as this framework names it (``checks.performance``, exercise 4):
#: the whole step's row, the two matrix products, an operator the first one calls, three others
PROFILE_NAMES = (
    "ProfilerStep*",
    ("aten::addmm", "aten::mm"),
    "aten::copy_",
    ("Optimizer.step#SGD.step", "aten::_log_softmax", "aten::t"),
)


def capture_whole(
    function: Callable[..., Any], cases: Sequence[tuple[Any, ...]]
) -> tuple[list[np.ndarray] | None, str | None]:
    """Compile ``function`` with ``fullgraph=True`` and call it on each case (NumPy arrays become
    float32 tensors, other values are passed as they are).

    Returns (one result per case as NumPy, None), or (None, the first line of what TorchDynamo
    said) when it could not capture the function in one graph. Dynamo's caches are reset first,
    so that earlier compilations in the learner's notebook neither help nor count against it.
    """
    import torch._dynamo

    torch._dynamo.reset()
    compiled = torch.compile(function, fullgraph=True, backend="eager", dynamic=False)
    results = []
    for case in cases:
        args = [
            torch.from_numpy(a.astype(np.float32)) if isinstance(a, np.ndarray) else a for a in case
        ]
        try:
            result = compiled(*args)
        except (torch._dynamo.exc.Unsupported, torch._dynamo.exc.UserError) as error:
            return None, (str(error).strip().splitlines() or [type(error).__name__])[0]
        results.append(np.asarray(result.detach().cpu().numpy(), dtype=np.float64))
    return results, None


def benchmark_steps(
    settings: Any,
    batches: Mapping[int, tuple[np.ndarray, np.ndarray]],
    *,
    sizes: Sequence[int],
    learning_rate: float,
) -> tuple[dict[str, Callable[[], Any]], Any, list[str]]:
    """(``"variant size"`` -> one training step, sync, notes) for ``diptych.benchmark``: one
    model per variant (``settings.variants``: eager, compiled) of the ``sizes`` ReLU MLP from
    the shared initial weights, plain SGD at ``learning_rate``, stepped on each of ``batches``
    (batch size -> NumPy ``(X, y)``). ``compiled`` is ``torch.compile`` of the whole step
    (forward, loss, backward, update), with ``settings.compile_backend`` (Inductor, its default,
    unless told otherwise)."""
    target, notes = adapter.device(), []
    data = {
        size: tuple(adapter.from_numpy(a, on=target) for a in batch)
        for size, batch in batches.items()
    }
    steps: dict[str, Callable[[], Any]] = {}
    for variant in settings.variants:
        inductor = variant == "compiled" and settings.compile_backend == "inductor"
        if inductor and adapter.cxx_compiler() is None:
            notes.append("torch.compile skipped: Inductor finds no C++ compiler here")
            continue
        model = torch.nn.Sequential(
            torch.nn.Linear(sizes[0], sizes[1]),
            torch.nn.ReLU(),
            torch.nn.Linear(sizes[1], sizes[2]),
        ).to(target)
        weights = initial.mlp(list(sizes), seed=0)
        adapter.load_dense(model[0], weights[0])
        adapter.load_dense(model[2], weights[1])
        optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

        def step(X: Any, y: Any, model: Any = model, optimizer: Any = optimizer) -> Any:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X), y)
            loss.backward()
            optimizer.step()
            return loss

        if variant == "compiled":
            step = torch.compile(step, backend=settings.compile_backend)
        for size, (X, y) in data.items():
            steps[f"{variant} {size}"] = functools.partial(step, X, y)
    sync = (lambda _: torch.cuda.synchronize()) if target.type == "cuda" else None
    return steps, sync, notes
