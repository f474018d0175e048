"""One seed for every random number generator a lesson touches.

Called by each adapter's ``setup``; it seeds Python, NumPy and the framework of every adapter
already imported (each adapter's ``seed_framework``), so a notebook that imports only PyTorch
never pays for importing TensorFlow, and a third framework's adapter brings its own seeding.
"""

from __future__ import annotations

import os
import random
import sys

import numpy as np

from diptych import frameworks


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator, and imported frameworks."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses this notebook starts
    random.seed(seed)
    np.random.seed(seed)
    for framework in frameworks.FRAMEWORKS:
        adapter = sys.modules.get(framework.adapter)
        if adapter is not None:
            adapter.seed_framework(seed)
