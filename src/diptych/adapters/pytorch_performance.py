"""PyTorch's side of lesson 09's checks (``checks.performance``): a learner's function captured
whole by ``torch.compile(fullgraph=True)``.

Capture only: the backend is ``"eager"``, which runs the captured graph with PyTorch's own
kernels, so a check costs TorchDynamo's tracing (a fraction of a second) and never a C++
compilation. The checks judge; this module only runs PyTorch and hands back plain values.

A framework companion of ``adapters.pytorch``; importing it imports PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from diptych.optional import require

torch = require("torch")


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
