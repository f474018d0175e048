"""The one channel from a running notebook back to the ``diptych`` command.

``diptych run`` and ``diptych check`` execute a notebook with ``$DIPTYCH_RECORD_DIR`` naming a
scratch folder; while it runs, ``diptych.parity`` appends named values to ``values.jsonl`` and
the exercise checks append their outcomes to ``checks.jsonl``, one JSON object a line. After the
run the command reads both back. Outside the command (a learner in Jupyter) the variable is unset
and recording does nothing. Keeping the variable, the file names and both directions here means
the executor reads results without importing the code that wrote them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from diptych.outcomes import Outcome

RECORD_ENV = "DIPTYCH_RECORD_DIR"
VALUES_FILE = "values.jsonl"
OUTCOMES_FILE = "checks.jsonl"


def record_folder() -> Path | None:
    """The folder this process records into, or None when nothing is recorded."""
    folder = os.environ.get(RECORD_ENV)
    return Path(folder) if folder else None


def append_value(entry: dict[str, Any]) -> None:
    """Append one named value (a dict with at least ``name``); a no-op outside the command."""
    _append(VALUES_FILE, entry)


def append_outcome(outcome: Outcome) -> None:
    """Append one exercise check's outcome; a no-op outside the command."""
    _append(OUTCOMES_FILE, outcome.to_json())


def read_values(folder: Path) -> dict[str, dict[str, Any]]:
    """The values recorded into ``folder``, by name (a later record of a name wins)."""
    return {entry["name"]: entry for entry in _read(Path(folder) / VALUES_FILE)}


def read_outcomes(folder: Path) -> list[Outcome]:
    """The outcomes recorded into ``folder``, in the order the checks ran."""
    return [Outcome.from_json(entry) for entry in _read(Path(folder) / OUTCOMES_FILE)]


def _append(filename: str, entry: dict[str, Any]) -> None:
    folder = record_folder()
    if folder is not None:
        with open(folder / filename, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


def _read(path: Path) -> list[dict[str, Any]]:
    """Every entry of a JSON-lines file; [] when nothing was recorded. Raises ValueError (bad
    JSON) or TypeError (a line that is not an object) for a file something scribbled over."""
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for entry in entries:
        if not isinstance(entry, dict):
            raise TypeError(
                f"{path.name}: a line holds a JSON {type(entry).__name__}, not an object"
            )
    return entries
