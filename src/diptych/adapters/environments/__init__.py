"""The environment each framework asks for, one module per framework beside its adapter.

A framework reads some settings from environment variables, once, when it starts: TensorFlow's
log level and oneDNN switch, its thread pools, the instruction set PyTorch's ATen kernels use.
Each adapter's are declared in ``adapters.environments.<framework>``, a module that imports no
framework, so that ``optional.require``, ``configurations``, ``benchmark`` and the command read
them without starting any framework; this package sits in the base layer of docs/design.md's
*Layers*, below everything that reads it. A package that adds a framework (its row registered in
``frameworks``) registers its environment module the same way, in the entry point group
``diptych.environments``, named by the framework's key (``jax = "diptych_jax.environment"``); a
framework that reads nothing from the environment registers none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, cast

from diptych.adapters.environments import pytorch as pytorch_environment
from diptych.adapters.environments import tensorflow as tensorflow_environment
from diptych.frameworks import Framework, registered


class Environment(Protocol):
    """What one adapter's environment module declares."""

    FRAMEWORK: Framework
    BEFORE_IMPORT: dict[str, str]  # set before the framework's import, where not set already

    def thread_limits(self, threads: int) -> dict[str, str]:
        """The variables that cap the framework's own thread pools at ``threads``."""
        ...

    def imitating(self, cpu: str) -> dict[str, str]:
        """The variables that restrict the framework's own kernels to an older CPU's
        instruction set (``configurations``' names: "avx2", "sse41")."""
        ...


#: the entry point group in which a package registers its framework's environment module
ENTRY_POINTS = "diptych.environments"


def _registered() -> tuple[Environment, ...]:
    """The environment modules packages register, by key, each its framework's (``FRAMEWORK``)."""
    found = registered(
        ENTRY_POINTS,
        "environment of the framework",
        lambda module: getattr(getattr(module, "FRAMEWORK", None), "key", None),
    )
    return tuple(cast(Environment, module) for _, module in found)


#: every framework's that declares one, in ``frameworks.FRAMEWORKS``' order (tested): the
#: built-in ones, then those packages register
ENVIRONMENTS: tuple[Environment, ...] = (
    pytorch_environment,
    tensorflow_environment,
    *_registered(),
)


def _merged(parts: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """One environment from the frameworks' parts; two frameworks that disagree on a variable are
    a mistake in their declarations, not a choice to make here."""
    merged: dict[str, str] = {}
    for part in parts:
        for name, value in part.items():
            if merged.setdefault(name, value) != value:
                raise ValueError(
                    f"two frameworks set {name} differently: {merged[name]!r} and {value!r}"
                )
    return merged


def _each(ask: Callable[[Environment], Mapping[str, str]]) -> dict[str, str]:
    return _merged(ask(environment) for environment in ENVIRONMENTS)


def before_import() -> dict[str, str]:
    """What every framework asks for before its import: a kernel may import any of them."""
    return _each(lambda environment: environment.BEFORE_IMPORT)


def before_importing(module: str) -> dict[str, str]:
    """What the framework that ``module`` belongs to ("tensorflow", "torch.nn") asks for before
    its import; nothing for a module of no framework."""
    top = module.split(".")[0]
    return _each(lambda e: e.BEFORE_IMPORT if e.FRAMEWORK.module == top else {})


def thread_limits(threads: int) -> dict[str, str]:
    """Every framework's own thread pools capped at ``threads``."""
    return _each(lambda environment: environment.thread_limits(threads))


def imitating(cpu: str) -> dict[str, str]:
    """Every framework's own kernels restricted to ``cpu``'s instruction set."""
    return _each(lambda environment: environment.imitating(cpu))
