"""One adapter per framework, with the same function names, so twin notebooks read alike.

    from diptych.adapters import pytorch as adapter      # in the PyTorch notebook
    from diptych.adapters import tensorflow as adapter   # in the TensorFlow notebook

Each offers ``setup``, ``device``, ``from_numpy``, ``to_numpy``, ``load_dense`` and
``load_conv``. Importing an adapter imports its framework (and only that one).
"""

__all__ = ["pytorch", "tensorflow"]
