"""Import a framework only when it is used, with a message that says how to install it.

A learner may install one framework's track only (``pip install -e '.[pytorch]'``); touching
another framework's helpers must then say which extra is missing instead of a bare ImportError.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterable
from types import ModuleType

from diptych import frameworks
from diptych.adapters import environments
from diptych.adapters.environments import tensorflow as tensorflow_environment

#: Python module name -> (what a person calls it, the command that installs it)
INSTALL_HINTS = {
    **{f.module: (f.name, f.install_command) for f in frameworks.FRAMEWORKS},
    "nbgrader": ("nbgrader (used by the exercise builder)", "pip install -e '.[dev]'"),
}


#: the variables TensorFlow's adapter sets before TensorFlow's import, by name: lesson 01's
#: TensorFlow notebook prints them, and ``benchmark`` passes them on (an alias of the adapter's
#: ``adapters.environments.tensorflow.BEFORE_IMPORT``, where they are declared)
QUIET_TENSORFLOW = tensorflow_environment.BEFORE_IMPORT


class MissingFrameworkError(ImportError):
    """A framework the learner asked for is not installed."""


def require(module: str) -> ModuleType:
    """Import ``module`` ("torch", "tensorflow", "nbgrader.preprocessors") or raise a clear
    MissingFrameworkError.

    A framework's module gets, first, the environment its adapter asks for before the import
    (``adapters.environments``: TensorFlow's quiet, exact start), each variable where not set
    already, so that a caller's choice (``benchmark``'s oneDNN) stands.
    """
    for name, value in environments.before_importing(module).items():
        os.environ.setdefault(name, value)
    try:
        return importlib.import_module(module)
    except ImportError as error:
        name, command = INSTALL_HINTS.get(module.split(".")[0], (module, "pip install -e '.[all]'"))
        raise MissingFrameworkError(
            f"{name} is not installed, and this part of diptych needs it. "
            f"Install the {name} track with:  {command}  "
            f"(or everything with '.[all]'). Original error: {error}"
        ) from error


def is_installed(module: str) -> bool:
    """True when ``module`` can be found; nothing is imported (a framework takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module without a spec
        return False


#: diptych's framework names (file names, ``--framework``) -> the module each one imports
TRACKS = {f.key: f.module for f in frameworks.FRAMEWORKS}


def require_tracks(keys: Iterable[str], *, chosen: bool) -> None:
    """Raise MissingFrameworkError, naming the extra to install, unless the framework of every
    track in ``keys`` ("pytorch", ...) is installed; ``chosen`` (named with ``--framework``)
    changes the hint only."""
    missing = [fw for fw in keys if not is_installed(TRACKS[fw])]
    if not missing:
        return
    names = frameworks.listed([INSTALL_HINTS[TRACKS[fw]][0] for fw in missing])
    verb = "is" if len(missing) == 1 else "are"
    message = f"{names} {verb} not installed here: {_install_commands(missing)}"
    present = [fw for fw in TRACKS if fw not in missing]
    if not chosen and present:
        names = frameworks.listed([INSTALL_HINTS[TRACKS[fw]][0] for fw in present])
        options = " ".join(f"--framework {fw}" for fw in present)
        tracks = "track" if len(present) == 1 else "tracks"
        message += f", or run the {names} {tracks} alone with {options}"
    raise MissingFrameworkError(message)


def _install_commands(keys: list[str]) -> str:
    """What installs the tracks ``keys``: diptych's extras in one pip command
    (``pip install -e '.[pytorch,tensorflow]'``), then each package's own."""
    rows = [frameworks.BY_KEY[key] for key in keys]
    extras = [row.extra for row in rows if not row.install]
    commands = [f"pip install -e '.[{','.join(extras)}]'"] if extras else []
    return "; ".join(commands + [row.install for row in rows if row.install])
