"""The parity table on each lesson page of ``diptych site``: from a run, or from the committed outputs.

A built site executes nothing, so its numbers come from one of two honest sources, and the table
says which:

* ``diptych run --json FILE`` (``diptych site --results FILE``): each framework's value, their
  largest difference, the tolerance, the headroom and the verdict, as that run measured them
  (the least headroom over configurations for a ``--matrix`` run);
* otherwise the committed outputs, which come from a real run of the committed code
  (``diptych run --save-outputs``) and which nbval compares with a fresh run: the line each
  notebook printed for each value it checked against the NumPy reference, or for the lesson's
  bar. Those lines carry no measured number on purpose (they must read the same on every
  machine), so the headroom column then says how to measure it rather than inventing it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diptych.command.registry import FRAMEWORK_NAMES, Lesson
from diptych.command.report import headroom_text, summary
from diptych.frameworks import KEYS, listed
from diptych.parity import MIN_HEADROOM

#: the line ``parity.matches_reference`` or ``parity.reaches`` prints when a check passes
CHECK_LINE = re.compile(
    r"^✓ (?P<name>.+?) (?:matches \(shape (?P<shape>\(.*?\)), (?P<tolerance>.*)\)"
    r"|reaches the bar \(at least (?P<bar>.*)\))$"
)
#: worst first: the verdict of a row over several configurations is its worst one
_VERDICTS = ("NO", "thin", "yes")


@dataclass(frozen=True)
class ParityTable:
    """A table for a lesson page: a header row, body rows (Markdown cells) and a note that says
    where the numbers come from."""

    headers: list[str]
    rows: list[list[str]]
    note: str


def from_outputs(lesson: Lesson) -> ParityTable:
    """The checks each twin printed in its committed outputs, value by value."""
    checks: dict[str, dict[str, dict[str, str]]] = {}
    for framework, path in lesson.notebooks.items():
        for line in _stdout_lines(path):
            found = CHECK_LINE.match(line)
            if found:
                checks.setdefault(found["name"], {})[framework] = {
                    key: value for key, value in found.groupdict().items() if value
                }
    frameworks = [fw for fw in KEYS if fw in lesson.notebooks]
    rows = []
    for name, by_framework in checks.items():
        first = next(iter(by_framework.values()))
        bar = "bar" in first
        rows.append(
            [
                f"`{name}`",
                "—" if bar else first["shape"],
                f"each ≥ {first['bar']}" if bar else first["tolerance"],
                *(
                    ("✓ reaches the bar" if bar else "✓ matches NumPy")
                    if fw in by_framework
                    else "not checked"
                    for fw in frameworks
                ),
                "—",
            ]
        )
    headers = [
        "value",
        "shape",
        "tolerance",
        *(FRAMEWORK_NAMES[fw] for fw in frameworks),
        "headroom",
    ]
    note = (
        "What each notebook printed in its committed run (the outputs on this site): ✓ means its "
        "value matched the NumPy reference within the tolerance, or reached the lesson's bar. "
        "The committed lines hold no measured number, so that they read the same on every "
        "machine; the values themselves, the frameworks' difference and the headroom "
        f"(tolerance ÷ difference, at least {MIN_HEADROOM:g}× required) are measured by a run: "
        "`diptych run --json results.json`, then `diptych site --results results.json`."
    )
    return ParityTable(headers, rows, note)


def read_results(path: Path) -> list[dict[str, Any]]:
    """The configurations of a ``diptych run --json`` file (one, or several for ``--matrix``).

    Raises ValueError, in one sentence, for anything else."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        runs = document.get("matrix", [document])
        for run in runs:
            for lesson in run["lessons"]:
                if not isinstance(lesson["lesson"], str) or not isinstance(lesson["values"], dict):
                    raise TypeError("a lesson without a name or values")
            run["configuration"]["name"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        reason = error.strerror if isinstance(error, OSError) else error
        raise ValueError(
            f"{path}: not a result written by 'diptych run --json' ({reason})"
        ) from None
    return runs


def from_results(runs: list[dict[str, Any]], lesson: str, source: str) -> ParityTable | None:
    """The lesson's values as the run(s) in ``runs`` measured them; None if it is not there."""
    found = [
        (run["configuration"]["name"], entry)
        for run in runs
        for entry in run["lessons"]
        if entry["lesson"] == lesson
    ]
    if not found:
        return None
    configurations = [name for name, _ in found]
    first = found[0][1]
    frameworks = [fw for fw in KEYS if fw in first.get("notebooks", {})]
    rows = []
    for name, value in first["values"].items():
        measured = [entry["values"].get(name) for _, entry in found]
        rows.append(
            [
                f"`{name}`",
                *(summary(value.get(fw)) for fw in frameworks),
                "—" if value.get("max_abs_diff") is None else f"{value['max_abs_diff']:.2e}",
                _tolerance(value),
                headroom_text(_least_headroom(measured)),
                _worst_verdict(measured),
            ]
        )
    headers = [
        "value",
        *(FRAMEWORK_NAMES[fw] for fw in frameworks),
        "max |Δ|",
        "tolerance",
        "headroom",
        "agree",
    ]
    where = (
        f"configuration {configurations[0]}"
        if len(configurations) == 1
        else f"the least over configurations {', '.join(configurations)}"
    )
    failed = [fw for fw, run in first.get("notebooks", {}).items() if not run.get("ok", True)]
    note = (
        f"Measured by `diptych run` ({where}), read from {source}: each framework's value, the "
        "largest difference between them, the tolerance, and the headroom: tolerance ÷ "
        "difference at the tightest element, counting each notebook's own check against NumPy "
        f"too; a value agrees with at least {MIN_HEADROOM:g}× to spare."
        + (
            f" In that run the {', '.join(FRAMEWORK_NAMES[fw] for fw in failed)} notebook failed."
            if failed
            else ""
        )
    )
    return ParityTable(headers, rows, note)


def verified(runs: list[dict[str, Any]], lesson: str) -> str | None:
    """ "Verified on DATE with PyTorch X and TensorFlow Y": when the run that measured the lesson
    was made, and the version of each framework it ran (``diptych run --json`` records them
    since they were added; None for an older file, or a lesson the run does not hold). A
    framework whose values came from another machine (``--baseline``) is not named: this run
    did not run it."""
    for run in runs:
        entry = next((e for e in run["lessons"] if e["lesson"] == lesson), None)
        date, found = run.get("date"), run.get("versions")
        if entry is None or not isinstance(date, str) or not isinstance(found, dict):
            continue
        ran = [
            f"{FRAMEWORK_NAMES[fw]} {found[fw]}"
            for fw in KEYS
            if fw in entry.get("notebooks", {})
            and not entry["notebooks"][fw].get("recorded_elsewhere")
            and fw in found
        ]
        if not ran:
            return None
        how = "Verified" if entry.get("ok") else "Run, and not passed,"
        python = f", Python {found['python']}" if "python" in found else ""
        return (
            f"{how} on {date[:10]} with {listed(ran)} (`diptych run`, configuration "
            f"{run['configuration']['name']}{python})."
        )
    return None


def markdown(table: ParityTable, caption: str) -> str:
    """The table as a MyST list-table, its note below it (a sentence when it has no rows)."""
    if not table.rows:
        return "*No parity values yet: no notebook recorded or checked a value.*\n"
    lines = [
        f":::{{list-table}} {caption}",
        ":header-rows: 1",
        ":class: diptych-parity",
        "",
    ]
    for row in [table.headers, *table.rows]:
        lines += [f"{'*' if i == 0 else ' '} - {cell}" for i, cell in enumerate(row)]
    lines += [":::", "", table.note, ""]
    return "\n".join(lines)


def _stdout_lines(path: Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    lines: list[str] = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                text = output.get("text", "")
                lines += ("".join(text) if isinstance(text, list) else text).splitlines()
    return lines


def _tolerance(value: dict[str, Any]) -> str:
    if value.get("at_least") is not None:
        return f"each ≥ {value['at_least']:g}"
    text = f"{value['atol']:g}"
    return f"{text} + {value['rtol']:g}·|x|" if value.get("rtol") else text


def _least_headroom(measured: list[dict[str, Any] | None]) -> float | None:
    """The least headroom over configurations. JSON has no infinity: a null headroom with a
    zero difference is an exact match (∞); with no difference at all it is a bar (—)."""
    margins = []
    for value in measured:
        if value is None:
            continue
        if value.get("headroom") is not None:
            margins.append(float(value["headroom"]))
        elif value.get("max_abs_diff") == 0:
            margins.append(math.inf)
    return min(margins, default=None)


def _worst_verdict(measured: list[dict[str, Any] | None]) -> str:
    verdicts = [value.get("status", "NO") if value else "not run" for value in measured]
    return min(verdicts, key=lambda v: _VERDICTS.index(v) if v in _VERDICTS else -1)
