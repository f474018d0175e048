"""One adapter per framework, with the same function names, so twin notebooks read alike.

    from diptych.adapters import pytorch as adapter      # in the PyTorch notebook
    from diptych.adapters import tensorflow as adapter   # in the TensorFlow notebook

Each offers ``setup``, ``seed_framework``, ``device``, ``from_numpy``, ``to_numpy``,
``load_dense``, ``load_conv``, ``float64`` and ``IDIOM`` (what the exercise checks need to know
about the framework; see ``idiom``). Every framework difference the library needs lives here: no
other module imports a framework. Importing an adapter imports its framework (and only that one).
"""

__all__ = ["pytorch", "tensorflow"]
