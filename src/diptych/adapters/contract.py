"""What an adapter is: the ``Adapter`` protocol every adapter module satisfies, checked by mypy.

An adapter is a module (``from diptych.adapters import pytorch as adapter``), and a module
satisfies a ``Protocol`` whose members it defines, so the contract is written once, here, and mypy
holds each adapter to it (``adapters.loading``, where both are assigned to ``Adapter``). The
notebooks, the checks, ``benchmark``, ``seeding`` and ``diptych doctor`` use nothing of an adapter
that is not named below (tests/test_adapter_contract.py reads their sources).

A framework's own objects (tensors, devices, layers) are typed ``Any``: each framework comes in
through ``optional.require``, and the contract must not import any.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from diptych import initial
from diptych.adapters.idiom import Idiom

#: a framework's tensor, device or layer
Native = Any


@dataclass(frozen=True)
class Installation:
    """What a framework says about itself and this machine, for ``diptych doctor``."""

    version: str  # as the framework reports it, build tag included: "2.13.0+cpu"
    devices: tuple[str, ...]  # what it can compute on: "cpu", "cuda:0 (NVIDIA H100)", "mps"
    built_for_cuda: bool  # a CUDA build (else a CPU or another accelerator's build)
    sees_gpu: bool  # a GPU it would use: CUDA or Apple's MPS


class Adapter(Protocol):
    """One framework behind the names every twin notebook and the library use."""

    NAME: str  # "PyTorch": the framework's name, ``frameworks``' ``name``
    IDIOM: Idiom  # what the exercise checks need to know (``adapters.idiom``)

    def setup(self, seed: int = 0) -> str:
        """Seed everything, deterministic kernels, TF32 off; one line describing the setup."""
        ...

    def seed_framework(self, seed: int) -> None:
        """Seed the framework's own generators (``seeding.seed_everything`` calls it)."""
        ...

    def float64(self) -> AbstractContextManager[None]:
        """Inside, new layers, losses and optimizers compute in float64."""
        ...

    def device(self, *, float64: bool = False) -> Native:
        """The device the lessons compute on: a GPU where there is one, else the CPU."""
        ...

    def from_numpy(self, array: np.ndarray, *, dtype: Any = None, on: Any = None) -> Native:
        """A tensor holding a copy of ``array``."""
        ...

    def to_numpy(self, tensor: Native) -> np.ndarray:
        """A NumPy copy of ``tensor``."""
        ...

    def load_dense(self, layer: Native, weights: initial.Layer) -> None:
        """Neutral dense weights ``{"W": (in, out), "b": (out,)}`` into the framework's layer."""
        ...

    def load_conv(self, layer: Native, weights: initial.Layer) -> None:
        """Neutral conv weights ``{"W": OIHW, "b": (out,)}`` into the framework's layer."""
        ...

    def set_threads(self, threads: int) -> int:
        """Size the framework's thread pools before its first operation; the count in force."""
        ...

    def version(self) -> str:
        """The framework's version without its build tag: "2.13.0"."""
        ...

    def installation(self) -> Installation:
        """What the framework is and sees here, for ``diptych doctor``."""
        ...
