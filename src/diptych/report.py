"""Compare the values two twin notebooks recorded, and present them as tables or JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diptych.execution import Execution
from diptych.parity import compare
from diptych.registry import FRAMEWORK_NAMES


@dataclass(frozen=True)
class ValueRow:
    """One recorded value, as each framework's notebook recorded it, and whether they agree."""

    name: str
    values: dict[str, Any]  # framework -> nested list or number (missing when not recorded)
    max_abs_diff: float | None
    atol: float
    rtol: float
    ok: bool


@dataclass
class LessonReport:
    """Everything ``diptych run`` learned about one lesson."""

    lesson: str
    runs: dict[str, Execution] = field(default_factory=dict)
    rows: list[ValueRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(run.ok for run in self.runs.values()) and all(row.ok for row in self.rows)


def compare_values(runs: dict[str, Execution]) -> list[ValueRow]:
    """Rows for every name recorded by any notebook; with two notebooks, compare them."""
    names = sorted({name for run in runs.values() for name in run.values}, key=_order(runs))
    rows = []
    for name in names:
        entries = {fw: run.values[name] for fw, run in runs.items() if name in run.values}
        atol = max(entry["atol"] for entry in entries.values())
        rtol = max(entry["rtol"] for entry in entries.values())
        values = {fw: entry["value"] for fw, entry in entries.items()}
        if len(runs) < 2:  # one framework only: nothing to compare against
            rows.append(ValueRow(name, values, None, atol, rtol, True))
            continue
        if len(entries) < len(runs):
            rows.append(ValueRow(name, values, None, atol, rtol, False))
            continue
        first, second = (np.asarray(v, dtype=np.float64) for v in values.values())
        result = compare(name, first, second, atol=atol, rtol=rtol)
        rows.append(ValueRow(name, values, result.max_abs_diff, atol, rtol, result.ok))
    return rows


def _order(runs: dict[str, Execution]) -> Any:
    """Sort names in the order the first notebook recorded them (the lesson's order)."""
    order: list[str] = []
    for run in runs.values():
        order += [name for name in run.values if name not in order]
    return order.index


def summary(value: Any) -> str:
    """A short text for a table cell: a number to 10 significant digits, or an array's shape."""
    if value is None:
        return "—"
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return f"{float(array):.10g}"
    return f"array {tuple(array.shape)}"


def table(report: LessonReport, frameworks: tuple[str, ...]) -> str:
    """The lesson's values side by side, then each notebook's status and seconds."""
    from tabulate import tabulate

    headers = [
        "value",
        *(FRAMEWORK_NAMES[fw] for fw in frameworks),
        "max |Δ|",
        "tolerance",
        "agree",
    ]
    body = [
        [
            row.name,
            *(summary(row.values.get(fw)) for fw in frameworks),
            "—" if row.max_abs_diff is None else f"{row.max_abs_diff:.2e}",
            _tolerance(row),
            "yes" if row.ok else "NO",
        ]
        for row in report.rows
    ]
    lines = [f"{report.lesson}: {'ok' if report.ok else 'FAILED'}"]
    lines.append(
        tabulate(body, headers=headers, disable_numparse=True) if body else "  (no values recorded)"
    )
    for fw, run in report.runs.items():
        status = "ran" if run.ok else f"FAILED: {run.error}"
        lines.append(f"  {FRAMEWORK_NAMES[fw]:<10} {run.seconds:6.1f} s  {run.path.name}  {status}")
    return "\n".join(lines)


def _tolerance(row: ValueRow) -> str:
    text = f"{row.atol:g}"
    return f"{text} + {row.rtol:g}·|x|" if row.rtol else text


def to_json(reports: list[LessonReport]) -> dict[str, Any]:
    """The machine-readable form of ``diptych run``'s result."""
    return {
        "lessons": [
            {
                "lesson": report.lesson,
                "ok": report.ok,
                "notebooks": {
                    fw: {
                        "path": str(run.path),
                        "ok": run.ok,
                        "seconds": round(run.seconds, 3),
                        "error": run.error,
                    }
                    for fw, run in report.runs.items()
                },
                "values": {
                    row.name: {
                        **row.values,
                        "max_abs_diff": _finite(row.max_abs_diff),
                        "tolerance": row.atol,
                        "rtol": row.rtol,
                        "ok": row.ok,
                    }
                    for row in report.rows
                },
            }
            for report in reports
        ]
    }


def _finite(number: float | None) -> float | None:
    return None if number is None or not math.isfinite(number) else number


def write_json(reports: list[LessonReport], path: Path) -> None:
    """Write ``to_json(reports)`` to ``path`` (folders created as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(reports), indent=1) + "\n", encoding="utf-8")


def write_plots(reports: list[LessonReport], folder: Path) -> list[Path]:
    """For every recorded value named ``*_curve`` (a loss curve, a schedule), a PNG of both
    frameworks' values overlaid, with their absolute difference beneath."""
    from diptych.plot import framework_overlay

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for report in reports:
        for row in report.rows:
            arrays = {fw: np.asarray(v, dtype=float) for fw, v in row.values.items()}
            if not row.name.endswith("_curve") or any(a.ndim != 1 for a in arrays.values()):
                continue
            figure = framework_overlay(
                row.name, {FRAMEWORK_NAMES[fw]: a for fw, a in arrays.items()}
            )
            path = folder / f"{report.lesson}-{row.name}.png"
            figure.savefig(path, dpi=100)
            written.append(path)
    return written
