"""Import a framework only when it is used, with a message that says how to install it.

A learner may install one framework's track only (``pip install -e '.[pytorch]'``); touching the
other framework's helpers must then say which extra is missing instead of a bare ImportError.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterable
from types import ModuleType

from diptych import frameworks

#: Python module name -> (what a person calls it, the diptych extra that installs it)
INSTALL_HINTS = {
    **{f.module: (f.name, f.extra) for f in frameworks.FRAMEWORKS},
    "nbgrader": ("nbgrader (used by the exercise builder)", "dev"),
}


#: TensorFlow's C++ log lines off, and oneDNN's sum-reordering CPU kernels off (see below)
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


class MissingFrameworkError(ImportError):
    """A framework the learner asked for is not installed."""


def quiet_tensorflow_environment() -> None:
    """Silence TensorFlow's C++ log lines and oneDNN's reordering; both must precede its import.

    oneDNN's fused kernels reorder float sums, which moves results by an ulp or two between runs
    of different shapes; the curriculum promises identical numbers, so it is switched off.
    """
    for name, value in QUIET_TENSORFLOW.items():
        os.environ.setdefault(name, value)


def require(module: str) -> ModuleType:
    """Import ``module`` (``"torch"`` or ``"tensorflow"``) or raise a clear MissingFrameworkError."""
    if module == "tensorflow":
        quiet_tensorflow_environment()
    try:
        return importlib.import_module(module)
    except ImportError as error:
        name, extra = INSTALL_HINTS.get(module.split(".")[0], (module, "all"))
        raise MissingFrameworkError(
            f"{name} is not installed, and this part of diptych needs it. "
            f"Install the {name} track with:  pip install -e '.[{extra}]'  "
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
    names = " and ".join(INSTALL_HINTS[TRACKS[fw]][0] for fw in missing)
    verb = "is" if len(missing) == 1 else "are"
    message = f"{names} {verb} not installed here: pip install -e '.[{','.join(missing)}]'"
    present = [fw for fw in TRACKS if fw not in missing]
    if not chosen and present:
        track = present[0]
        message += (
            f", or run the {INSTALL_HINTS[TRACKS[track]][0]} track alone with --framework {track}"
        )
    raise MissingFrameworkError(message)
