"""The one table of the frameworks diptych teaches: what each is called, where it lives, how it
is installed and drawn.

Everything that names a framework (file names and ``--framework``, install hints, the report's
columns, plot colours, ``diptych doctor``, the adapters' ``NAME``) reads this table, so a third
framework is one row here, one adapter module and its twin notebooks. Nothing is imported: the
table holds names only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    """One framework's names and colour."""

    key: str  # file names (``slug_<key>.ipynb``), ``--framework``, and the pip extra
    name: str  # for a person: "PyTorch"
    module: str  # the Python module it imports: "torch"
    adapter: str  # diptych's adapter module: "diptych.adapters.pytorch"
    color: str  # its colour in every figure

    @property
    def extra(self) -> str:
        """The ``pip install -e '.[extra]'`` that installs this framework's track."""
        return self.key


PYTORCH = Framework("pytorch", "PyTorch", "torch", "diptych.adapters.pytorch", "#ee4c2c")
TENSORFLOW = Framework(
    "tensorflow", "TensorFlow", "tensorflow", "diptych.adapters.tensorflow", "#ff8f00"
)
#: in the order the report's columns and the runner's twins go
FRAMEWORKS = (PYTORCH, TENSORFLOW)
BY_KEY = {framework.key: framework for framework in FRAMEWORKS}
KEYS = tuple(BY_KEY)


def others(framework: Framework) -> tuple[Framework, ...]:
    """Every framework but ``framework``: the tracks still open when it is missing."""
    return tuple(f for f in FRAMEWORKS if f != framework)
