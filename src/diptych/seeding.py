"""One seed for every random number generator a lesson touches.

Called by each adapter's ``setup``; it seeds Python, NumPy and whichever frameworks are already
imported, so a notebook that imports only PyTorch never pays for importing TensorFlow.
"""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator, and imported frameworks."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses this notebook starts
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)  # seeds CPU and every CUDA device
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        from keras import utils  # seeds Python, NumPy and the TensorFlow backend together

        utils.set_random_seed(seed)
