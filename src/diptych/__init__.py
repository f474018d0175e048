"""diptych: deep learning taught twice, side by side, in PyTorch and TensorFlow/Keras.

Importing this package is cheap and has no side effects: it imports neither framework, nor
matplotlib, nor the notebook machinery. Each lesson imports what it needs from the submodules:

    from diptych import data, initial, parity, plot, reference
    from diptych.adapters import pytorch as adapter      # or: tensorflow as adapter
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
