"""An adapter loaded by its framework's row in ``frameworks``, typed as the ``Adapter`` contract.

A notebook imports its adapter by name; the library and the command, which serve every framework,
load it from the table instead (``diptych doctor`` asks each one what it sees). Outside
``adapters/``, a module that needs an adapter by a name known only at run time calls ``load``
rather than importing that name itself (tested): what ``load`` imports is an adapter, which
imports its framework, so that no module outside ``adapters/`` imports a framework itself.

Under ``TYPE_CHECKING`` each adapter module is assigned to ``Adapter``, so mypy holds each to the
contract; at run time nothing is imported until ``load`` is called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from diptych.adapters.contract import Adapter
from diptych.frameworks import Framework

if TYPE_CHECKING:
    from diptych.adapters import pytorch, tensorflow

    # each adapter module assigned to the contract, one by one, so that mypy names the member
    # that does not fit; a built-in framework's adapter joins here (a package's adapter, registered
    # through ``frameworks``' entry point, is checked by the same assignment in its own package)
    _PYTORCH: Adapter = pytorch
    _TENSORFLOW: Adapter = tensorflow


def load(framework: Framework) -> Adapter:
    """``framework``'s adapter, imported with its framework on first use: MissingFrameworkError
    (an ImportError) when the framework is not installed, whatever a broken install raises when it
    is."""
    return cast(Adapter, importlib.import_module(framework.adapter))
