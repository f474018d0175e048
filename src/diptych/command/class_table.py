"""``diptych class``'s table, three ways: text for the terminal, CSV and a static HTML page.

A table holds only what ``diptych.command.classroom`` put in it: learners' names (or
pseudonyms), notebooks' file names, and per exercise a fixed word or a mistake's short name
(``diptych.command.mistakes``), never a check's message. The HTML page needs nothing but itself:
no script, no file or request beside it, so that it can be opened from anywhere or mailed.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field

#: the words of a cell besides a mistake's short name, and of a row that could not be checked
PASSED, NOT_ATTEMPTED, NOT_RUN, NOT_CHECKED = "passed", "not attempted", "not run", "not checked"
#: a spreadsheet reads a cell starting with one of these as a formula (CSV injection)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One exercise: ``key`` heads its column ("tensors 1"), ``heading`` names it in full."""

    key: str
    heading: str


@dataclass(frozen=True)
class Cell:
    """What a row says of one exercise, and its kind (a CSS class: passed, failed, not-done,
    not-run, not-checked)."""

    label: str
    kind: str


@dataclass(frozen=True)
class Row:
    """One learner's notebook; ``problem`` says why it could not be checked (or stopped)."""

    learner: str
    notebook: str
    cells: dict[str, Cell] = field(default_factory=dict)
    passed: int = 0
    total: int = 0
    problem: str = ""

    @property
    def score(self) -> str:
        return f"{self.passed}/{self.total}" if self.total else ""

    @property
    def note(self) -> str:
        return f"error: {self.problem}" if self.problem else ""


@dataclass(frozen=True)
class Table:
    columns: list[Column]
    rows: list[Row]
    summary: str


def _header(table: Table) -> list[str]:
    return ["learner", "notebook", *(c.key for c in table.columns), "passed", "note"]


def _cells(table: Table, row: Row) -> list[str]:
    marks = [row.cells[c.key].label if c.key in row.cells else "" for c in table.columns]
    return [row.learner, row.notebook, *marks, row.score, row.note]


def text(table: Table, *, wrap: int | None = None) -> str:
    """The table for a terminal, the exercises' full names, the summary; with ``wrap``, labels
    longer than that are wrapped onto more lines (a terminal), else kept whole (a pipe, a file)."""
    from tabulate import tabulate

    widths = [None, None, *([wrap] * len(table.columns)), None, None]
    rows = [_cells(table, row) for row in table.rows]
    grid = tabulate(rows, headers=_header(table), tablefmt="grid", maxcolwidths=widths)
    legend = "\n".join(f"{c.key}: {c.heading}" for c in table.columns)
    return "\n\n".join(part for part in (grid, legend, table.summary) if part)


def csv_text(table: Table) -> str:
    """The table as CSV, one row per notebook; a value a spreadsheet would read as a formula is
    written with a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_header(table))
    writer.writerows([_inert(value) for value in _cells(table, row)] for row in table.rows)
    return buffer.getvalue()


def _inert(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA) else value


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a1a1a; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: #eee; position: sticky; top: 0; }
td.passed { background: #c8e6c9; }
td.failed { background: #ffcdd2; }
td.not-done { background: #f0f0f0; color: #555; }
td.not-run, td.not-checked { background: #ffe0b2; }
td.error { background: #e57373; color: #000; font-weight: bold; }
dt { font-weight: bold; }
"""


def html_page(table: Table, *, title: str, written: str) -> str:
    """The table as a static HTML page: colours by kind, the exercises' names, the summary."""
    e = html.escape
    head = "".join(
        f'<th title="{e(c.heading)}">{e(c.key)}</th>' if c.heading else f"<th>{e(c.key)}</th>"
        for c in [Column("learner", ""), Column("notebook", ""), *table.columns]
    )
    head += "<th>passed</th><th>note</th>"
    body = []
    for row in table.rows:
        cells = [f"<th>{e(row.learner)}</th>", f"<td>{e(row.notebook)}</td>"]
        for column in table.columns:
            cell = row.cells.get(column.key)
            cells.append(f'<td class="{cell.kind}">{e(cell.label)}</td>' if cell else "<td></td>")
        cells.append(f"<td>{e(row.score)}</td>")
        cells.append(f'<td class="error">{e(row.note)}</td>' if row.note else "<td></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    legend = "".join(f"<dt>{e(c.key)}</dt><dd>{e(c.heading)}</dd>" for c in table.columns)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{e(title)}</h1>
<p>{e(table.summary)}</p>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody>
</table>
<h2>Exercises</h2>
<dl>{legend}</dl>
<p>A cell says <em>passed</em>, the short name of the mistake the exercise's check named,
<em>not attempted</em> (the exercise is still the stub it was handed out as), <em>not checked</em>
(its check cell is missing or empty) or <em>not run</em> (the notebook stopped before it).
Checks' messages and learners' code are never shown here: run <code>diptych check</code> on a
notebook for the whole message.</p>
<p><small>{e(written)}</small></p>
</body>
</html>
"""
