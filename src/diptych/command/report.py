"""Compare the values a lesson's twin notebooks recorded (one per framework in the table, however
many), and present them as tables or JSON."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diptych.command.execution import Execution
from diptych.command.registry import FRAMEWORK_NAMES
from diptych.configurations import DEFAULT, Configuration
from diptych.parity import MIN_HEADROOM, compare


@dataclass(frozen=True)
class ValueRow:
    """One recorded value, as each framework's notebook recorded it, and whether they agree.

    A comparison row agrees when the difference is within tolerance with at least
    ``MIN_HEADROOM`` to spare; a bar row (``at_least`` set) when every framework reaches the bar.
    """

    name: str
    values: dict[str, Any]  # framework -> nested list or number (missing when not recorded)
    max_abs_diff: float | None
    atol: float
    rtol: float
    ok: bool
    headroom: float | None = None  # tolerance / difference at the tightest element
    at_least: float | None = None
    #: framework -> headroom of the notebook's own check against the NumPy reference
    reference_headroom: dict[str, float | None] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """One word for the table: yes, thin (within tolerance, too little to spare) or NO."""
        if self.ok:
            return "yes"
        within = self.headroom is not None and self.headroom >= 1.0
        return "thin" if within else "NO"


@dataclass
class LessonReport:
    """Everything ``diptych run`` learned about one lesson."""

    lesson: str
    runs: dict[str, Execution] = field(default_factory=dict)
    rows: list[ValueRow] = field(default_factory=list)
    configuration: str = "default"
    from_baseline: set[str] = field(default_factory=set)  # frameworks read from a JSON file

    @property
    def ok(self) -> bool:
        return all(run.ok for run in self.runs.values()) and all(row.ok for row in self.rows)


def compare_values(runs: dict[str, Execution]) -> list[ValueRow]:
    """Rows for every name recorded by any notebook; with two notebooks or more, every pair of
    them compared (see ``_row``)."""
    names = sorted({name for run in runs.values() for name in run.values}, key=_order(runs))
    return [_row(name, runs) for name in names]


def _row(name: str, runs: dict[str, Execution]) -> ValueRow:
    """One value across the frameworks: a bar each must reach on its own, or a comparison of
    every pair of frameworks (N frameworks, N(N-1)/2 pairs), which shows the largest difference
    of any pair and the least headroom of any pair or of any notebook's own check against the
    reference, and agrees only when every pair does."""
    entries = {fw: run.values[name] for fw, run in runs.items() if name in run.values}
    atol = max(entry["atol"] for entry in entries.values())
    rtol = max(entry["rtol"] for entry in entries.values())
    values = {fw: entry["value"] for fw, entry in entries.items()}
    against_reference = {
        fw: entry["reference_headroom"]
        for fw, entry in entries.items()
        if "reference_headroom" in entry
    }
    bars = [entry["at_least"] for entry in entries.values() if "at_least" in entry]
    if bars:  # each framework against the bar, on its own
        bar = max(bars)
        ok = len(bars) == len(entries) and all(float(v) >= bar for v in values.values())
        return ValueRow(name, values, None, atol, rtol, ok, at_least=bar)
    # the least headroom of every comparison this value took part in: each notebook's own check
    # against the NumPy reference, and every pair of frameworks against each other
    margins = [h if h is not None else math.inf for h in against_reference.values()]
    if len(runs) < 2:  # one framework only: its checks against the reference
        least = min(margins, default=None)
        ok = least is None or least >= MIN_HEADROOM
        return ValueRow(
            name, values, None, atol, rtol, ok, least, reference_headroom=against_reference
        )
    if len(entries) < len(runs):
        return ValueRow(name, values, None, atol, rtol, False)
    arrays = [np.asarray(v, dtype=np.float64) for v in values.values()]
    results = [
        compare(name, first, second, atol=atol, rtol=rtol)
        for first, second in itertools.combinations(arrays, 2)
    ]
    least = min([*(result.headroom for result in results), *margins])
    ok = all(result.ok for result in results) and least >= MIN_HEADROOM
    return ValueRow(
        name,
        values,
        max(result.max_abs_diff for result in results),
        atol,
        rtol,
        ok,
        least,
        reference_headroom=against_reference,
    )


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


def table(report: LessonReport) -> str:
    """The lesson's values side by side, then each notebook's status and seconds."""
    from tabulate import tabulate

    frameworks = tuple(report.runs)
    headers = [
        "value",
        *(FRAMEWORK_NAMES[fw] for fw in frameworks),
        "max |Δ|",
        "tolerance",
        "headroom",
        "agree",
    ]
    body = [
        [
            row.name,
            *(summary(row.values.get(fw)) for fw in frameworks),
            "—" if row.max_abs_diff is None else f"{row.max_abs_diff:.2e}",
            _tolerance(row),
            headroom_text(row.headroom),
            row.status,
        ]
        for row in report.rows
    ]
    lines = [f"{report.lesson}: {'ok' if report.ok else 'FAILED'}"]
    lines.append(
        tabulate(body, headers=headers, disable_numparse=True) if body else "  (no values recorded)"
    )
    for fw, run in report.runs.items():
        if fw in report.from_baseline:
            lines.append(
                f"  {FRAMEWORK_NAMES[fw]:<10} values recorded elsewhere, read from {run.path}"
            )
            continue
        status = "ran" if run.ok else f"FAILED: {run.error}"
        lines.append(f"  {FRAMEWORK_NAMES[fw]:<10} {run.seconds:6.1f} s  {run.path.name}  {status}")
    return "\n".join(lines)


def _tolerance(row: ValueRow) -> str:
    if row.at_least is not None:
        return f"each ≥ {row.at_least:g}"
    text = f"{row.atol:g}"
    return f"{text} + {row.rtol:g}·|x|" if row.rtol else text


def headroom_text(headroom: float | None) -> str:
    """Tolerance / difference for a table: "∞" when the values are identical."""
    if headroom is None:
        return "—"
    if math.isinf(headroom):
        return "∞"
    return f"{headroom:.3g}×" if headroom < 1e4 else f"{headroom:.1e}×"


def versions() -> dict[str, str]:
    """The version of each framework of the table installed here (by its module's
    distribution, read from the package metadata without importing it), and Python's: what a
    run was verified with, for the site's "verified on DATE with PyTorch X" line."""
    import platform
    from importlib import metadata

    from diptych.frameworks import FRAMEWORKS

    distributions = metadata.packages_distributions()
    found = {"python": platform.python_version()}
    for framework in FRAMEWORKS:
        for distribution in distributions.get(framework.module, []):
            found[framework.key] = metadata.version(distribution).split("+")[0]
            break
    return found


def to_json(reports: list[LessonReport], configuration: Configuration = DEFAULT) -> dict[str, Any]:
    """The machine-readable form of ``diptych run``'s result under one configuration. ``date``
    (UTC, when the document was made, at the run's end) and ``versions`` (``versions()``) came
    later than the rest: a reader of older files finds them missing."""
    from datetime import datetime, timezone

    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "configuration": {"name": configuration.name, "env": configuration.env},
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
                        "stderr": run.stderr,
                        "recorded_elsewhere": fw in report.from_baseline,
                    }
                    for fw, run in report.runs.items()
                },
                "values": {
                    row.name: {
                        **row.values,
                        "max_abs_diff": _finite(row.max_abs_diff),
                        "atol": row.atol,
                        "rtol": row.rtol,
                        "at_least": row.at_least,
                        "headroom": _finite(row.headroom),  # null: identical, a bar, or alone
                        "reference_headroom": row.reference_headroom,  # null: identical
                        "status": row.status,
                        "ok": row.ok,
                    }
                    for row in report.rows
                },
            }
            for report in reports
        ],
    }


def read_baseline(path: Path) -> dict[str, dict[str, Execution]]:
    """Values another machine recorded (``diptych run --json``), as lesson -> framework -> a
    stand-in Execution, so a framework that cannot run here can still be compared against.

    A framework this table does not have (a package's, installed there and not here) is left out:
    there is nothing here to name it by, and nothing run here to compare it with."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        lessons = (document.get("matrix") or [document])[0]["lessons"]
        baseline: dict[str, dict[str, Execution]] = {}
        for lesson in lessons:
            for fw in (key for key in lesson["notebooks"] if key in FRAMEWORK_NAMES):
                entries = {
                    name: {
                        "value": row[fw],
                        "atol": row["atol"],
                        "rtol": row["rtol"],
                        **(
                            {"at_least": row["at_least"]} if row.get("at_least") is not None else {}
                        ),
                    }
                    for name, row in lesson["values"].items()
                    if fw in row
                }
                run = Execution(path=Path(path), ok=True, values=entries)
                baseline.setdefault(lesson["lesson"], {})[fw] = run
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise ValueError(
            f"{path}: not a result written by 'diptych run --json' ({error})"
        ) from error
    return baseline


def _finite(number: float | None) -> float | None:
    return None if number is None or not math.isfinite(number) else number


def write_json(document: dict[str, Any], path: Path) -> None:
    """Write a ``to_json`` document (or ``{"matrix": [...]}`` of them) to ``path``, whole or not
    at all (a results file is read by other tools, and by ``--against``)."""
    from diptych.command.files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(document, indent=1) + "\n")


def matrix_table(results: list[tuple[Configuration, list[LessonReport]]]) -> str:
    """Lessons down, configurations across: ok or FAILED, with the smallest headroom of each."""
    from tabulate import tabulate

    lessons = [report.lesson for report in results[0][1]]
    body = []
    for index, lesson in enumerate(lessons):
        cells = []
        for _, reports in results:
            report = reports[index]
            finite = [r.headroom for r in report.rows if r.headroom is not None]
            least = min(finite) if finite else None
            cells.append(
                f"{'ok' if report.ok else 'FAILED'}, least headroom {headroom_text(least)}"
            )
        body.append([lesson, *cells])
    headers = ["lesson", *(config.name for config, _ in results)]
    return tabulate(body, headers=headers, disable_numparse=True)


def write_plots(reports: list[LessonReport], folder: Path) -> list[Path]:
    """For every recorded value named ``*_curve`` (a loss curve, a schedule), a PNG of every
    framework's values overlaid, with their largest absolute difference beneath."""
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
            where = "" if report.configuration == "default" else f"-{report.configuration}"
            path = folder / f"{report.lesson}-{row.name}{where}.png"
            figure.savefig(path, dpi=100)
            written.append(path)
    return written
