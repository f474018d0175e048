"""The one table of the frameworks diptych teaches: what each is called, where it lives, how it
is installed and drawn.

Everything that names a framework (file names and ``--framework``, install hints, the report's
columns, plot colours, ``diptych doctor``, ``diptych bench``, the site's columns, the adapters'
``NAME``) reads this table, so a further framework is one row, one adapter module and its twin
notebooks. The two built-in rows are written here; a package adds its own row through the entry
point group ``diptych.frameworks`` (``[project.entry-points."diptych.frameworks"]`` in its
``pyproject.toml``: ``jax = "diptych_jax.row:FRAMEWORK"``), so that adding one changes no line of
diptych. Nothing is imported but the rows: a row holds names only.

The table is read on first use (``FRAMEWORKS``, ``BY_KEY`` and ``KEYS`` are computed then), so
that a registered row's module may itself import this one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any


@dataclass(frozen=True)
class Framework:
    """One framework's names and colour."""

    key: str  # file names (``slug_<key>.ipynb``), ``--framework``, and the pip extra
    name: str  # for a person: "PyTorch"
    module: str  # the Python module it imports: "torch"
    adapter: str  # diptych's adapter module: "diptych.adapters.pytorch"
    color: str  # its colour in every figure and on the site
    #: other names its notebooks call it by, masked like ``name`` when twins' headings are
    #: paired (TensorFlow's lessons say "Keras")
    aliases: tuple[str, ...] = ()
    #: how a person installs its track where that is not diptych's extra of its key: a package's
    #: own row names its package ("pip install diptych-jax")
    install: str = ""
    #: ``diptych bench``'s variants of lesson 09's step, each with how it is written in this
    #: framework (none: the framework is not benchmarked)
    variants: tuple[tuple[str, str], ...] = ()

    @property
    def extra(self) -> str:
        """The ``pip install -e '.[extra]'`` that installs this framework's track."""
        return self.key

    @property
    def install_command(self) -> str:
        """What a message tells a person to run to install this framework's track."""
        return self.install or f"pip install -e '.[{self.extra}]'"


PYTORCH = Framework(
    "pytorch",
    "PyTorch",
    "torch",
    "diptych.adapters.pytorch",
    "#ee4c2c",
    variants=(("eager", "eager"), ("compiled", "torch.compile")),
)
TENSORFLOW = Framework(
    "tensorflow",
    "TensorFlow",
    "tensorflow",
    "diptych.adapters.tensorflow",
    "#ff8f00",
    aliases=("Keras",),
    variants=(
        ("eager", "eager (GradientTape)"),
        ("function", "tf.function"),
        ("xla", "tf.function(jit_compile=True)"),
    ),
)
#: the entry point group in which a package registers a further framework's ``Framework`` row
ENTRY_POINTS = "diptych.frameworks"

#: every framework, in the order the report's columns and the runner's twins go: the built-in
#: rows, then the registered ones by key
FRAMEWORKS: tuple[Framework, ...]
BY_KEY: dict[str, Framework]
KEYS: tuple[str, ...]


def registered(group: str, what: str, key_of: Callable[[Any], object]) -> list[tuple[str, Any]]:
    """What packages register in the entry point group ``group``, by name: each entry's value
    ("diptych_jax.row:FRAMEWORK") and what it loads, which must belong to the framework its name
    is the key of (``key_of`` reads that key; ``what`` names the thing in the error)."""
    found = []
    for entry in sorted(entry_points(group=group), key=lambda registered: registered.name):
        loaded = entry.load()
        if key_of(loaded) != entry.name:
            raise TypeError(
                f"entry point {entry.name} = {entry.value} in {group} is not the {what} of key "
                f"{entry.name!r}"
            )
        found.append((entry.value, loaded))
    return found


def _key_of_row(row: object) -> object:
    return row.key if isinstance(row, Framework) else None


@functools.cache
def table() -> tuple[Framework, ...]:
    """The built-in rows, then each row registered in ``ENTRY_POINTS``, its name its key."""
    rows = [PYTORCH, TENSORFLOW]
    for value, row in registered(ENTRY_POINTS, "Framework row", _key_of_row):
        if row.key in {known.key for known in rows}:
            raise ValueError(f"two framework rows have the key {row.key!r} ({value})")
        rows.append(row)
    return tuple(rows)


def __getattr__(name: str) -> Any:
    """``FRAMEWORKS``, ``BY_KEY`` and ``KEYS``, computed from ``table()`` on first use."""
    views: dict[str, Callable[[], object]] = {
        "FRAMEWORKS": table,
        "BY_KEY": lambda: {framework.key: framework for framework in table()},
        "KEYS": lambda: tuple(framework.key for framework in table()),
    }
    if name not in views:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = views[name]()
    globals()[name] = value
    return value


def others(framework: Framework) -> tuple[Framework, ...]:
    """Every framework but ``framework``: the tracks still open when it is missing."""
    return tuple(f for f in table() if f != framework)


def listed(names: list[str]) -> str:
    """Frameworks' names in a sentence, however many: "PyTorch and TensorFlow", "PyTorch,
    TensorFlow and JAX"."""
    return " and ".join(names) if len(names) <= 2 else f"{', '.join(names[:-1])} and {names[-1]}"
