"""NumPy dressed as a framework: an adapter module with the ``Adapter`` contract's names, its row
of the framework table (``FRAMEWORK``), and what it reads from the environment (an
``adapters.environments.Environment``: a variable of its own, so that a test sees it arrive).

The tests' one stand-in for a further framework. A check that needs an adapter takes this
module (``import numpy_adapter``: tests/ is on pytest's path), and tests/test_third_framework.py
registers ``FRAMEWORK`` through the ``diptych.frameworks`` entry point group and this module through
``diptych.environments``, as a package adding a framework would, to run a lesson in three
frameworks. Nothing here is computed by a framework:
a tensor is a NumPy array, a layer a dict of arrays.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from diptych import initial
from diptych.adapters.contract import Installation
from diptych.adapters.idiom import Idiom
from diptych.frameworks import Framework

#: this framework's row: ``slug_numpy.ipynb``, ``--framework numpy``, the reference's blue
FRAMEWORK = Framework("numpy", "NumPy", "numpy", "numpy_adapter", "#4c72b0")
NAME = FRAMEWORK.name
#: what a kernel gets before any framework's import, as TensorFlow's quiet start is declared
BEFORE_IMPORT = {"DIPTYCH_NUMPY_FRAMEWORK": "declared"}
_NOTHING: list = []  # NumPy has no autograd, convolution, ... for a check to switch off


def setup(seed: int = 0) -> str:
    seed_framework(seed)
    return f"NumPy {np.__version__}, seed {seed}"


def seed_framework(seed: int) -> None:
    np.random.seed(seed)


@contextmanager
def float64() -> Iterator[None]:
    yield  # NumPy's arrays are float64 unless asked otherwise


def device(*, float64: bool = False) -> str:
    return "cpu"


def from_numpy(array: np.ndarray, *, dtype: Any = None, on: Any = None) -> np.ndarray:
    return np.array(array, dtype=dtype, copy=True)


def to_numpy(tensor: Any) -> np.ndarray:
    return np.array(tensor, copy=True)


def load_dense(layer: Any, weights: initial.Layer) -> None:
    layer.update({"W": np.array(weights["W"]), "b": np.array(weights["b"])})


def load_conv(layer: Any, weights: initial.Layer) -> None:
    layer.update({"W": np.array(weights["W"]), "b": np.array(weights["b"])})


def set_threads(threads: int) -> int:
    return threads


def thread_limits(threads: int) -> dict[str, str]:
    return {}  # NumPy's BLAS threads are capped by ``configurations`` already


def imitating(cpu: str) -> dict[str, str]:
    return {}


def version() -> str:
    return np.__version__


def installation() -> Installation:
    return Installation(np.__version__, (f"cpu ({platform.machine()})",), False, False)


IDIOM = Idiom(
    framework=NAME,
    companions="numpy_adapter",
    momentum="pytorch",
    adam_epsilon="pytorch",
    warmup="pytorch",
    batch_norm_momentum="pytorch",
    training_mode="model",
    engine="ddp",
    weight_layout="pytorch",
    channels_last=False,
    one_graph="trace",
    autograd=lambda: _NOTHING,
    convolution=lambda: _NOTHING,
    log_softmax=lambda: _NOTHING,
    dropout=lambda: _NOTHING,
    batch_norm=lambda: _NOTHING,
    tensor_type=lambda: np.ndarray,
    reduce_sum=np.sum,
    sin=np.sin,
    mlp=lambda sizes: None,
    dense_layers=lambda model: [],
    predict=lambda model, X: X,
    sgd=lambda model, lr: None,
)
