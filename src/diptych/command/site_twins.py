"""What the twins of a lesson share, cell by cell: the blocks of a section on a lesson page.

A reader of a lesson page should read a paragraph once when both twins say the same thing, and
see at a glance where the frameworks part ways. So each section's cells are aligned across the
twins with ``difflib`` (the same longest-matching-block alignment ``diff`` uses), cell by cell,
each cell keyed by its text with the framework words masked (``sections.pairing_key``, by which
twins' headings pair), so that cells which differ only in the framework they name still line up.
A markdown cell that every twin has word for word is *shared*: the page shows it once across the
columns. A cell that differs only in a framework's name is not: "read back from Keras" in the
PyTorch notebook is not what the TensorFlow notebook says, and a reader of either column must
read their own twin's words. What lies between shared cells sits side by side, and in each pair of
code cells there the lines that differ between the twins are marked.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from diptych.command import sections as kinds


@dataclass(frozen=True)
class Block:
    """Consecutive cells of a section: ``cells`` maps each framework to its notebook's cell
    indices (``[start, stop)``); a shared block is shown once, from the first framework's cells.
    ``marks`` maps a framework to its code cells' differing lines (cell index -> 1-based lines)."""

    shared: bool
    cells: dict[str, tuple[int, int]]
    marks: dict[str, dict[int, list[int]]] = field(default_factory=dict)


def section_cells(notebook: Any, position: int) -> list[int]:
    """The indices of the cells of section ``position`` (0: the introduction above the first
    ``##`` heading, k: the kth ``##`` section, its heading cell first)."""
    found: list[list[int]] = [[]]
    for index, cell in enumerate(notebook["cells"]):
        if kinds.h2(cell) is not None:
            found.append([])
        found[-1].append(index)
    return found[position] if position < len(found) else []


def _key(cell: Any) -> tuple[str, str]:
    return cell["cell_type"], kinds.pairing_key(kinds.cell_source(cell).strip())


def blocks(cells: dict[str, list[Any]], first: dict[str, int]) -> list[Block]:
    """The blocks of one section that every framework has: ``cells[fw]``, the section's cells
    in that framework's notebook, from cell index ``first[fw]`` on. Shared markdown cells, and
    between them the cells that differ."""
    frameworks = list(cells)
    base = frameworks[0]
    keys = {fw: [_key(cell) for cell in cells[fw]] for fw in frameworks}
    matched: dict[str, dict[int, int]] = {}
    for other in frameworks[1:]:
        matcher = difflib.SequenceMatcher(None, keys[base], keys[other], autojunk=False)
        matched[other] = {
            a + k: b + k
            for a, b, size in matcher.get_matching_blocks()
            for k in range(size)
            if keys[base][a + k][0] == "markdown"
            and keys[base][a + k][1]
            and kinds.cell_source(cells[base][a + k]).strip()
            == kinds.cell_source(cells[other][b + k]).strip()
        }
    anchors = [
        {base: i, **{fw: matched[fw][i] for fw in frameworks[1:]}}
        for i in range(len(cells[base]))
        if all(i in matched[fw] for fw in frameworks[1:])
    ]
    found: list[Block] = []
    start = dict.fromkeys(frameworks, 0)
    for anchor in anchors:
        if any(anchor[fw] > start[fw] for fw in frameworks):
            found.append(_side_by_side(cells, first, start, anchor))
        found.append(
            Block(True, {fw: (first[fw] + i, first[fw] + i + 1) for fw, i in anchor.items()})
        )
        start = {fw: anchor[fw] + 1 for fw in frameworks}
    end = {fw: len(cells[fw]) for fw in frameworks}
    if any(end[fw] > start[fw] for fw in frameworks):
        found.append(_side_by_side(cells, first, start, end))
    return _merged(found)


def _side_by_side(
    cells: dict[str, list[Any]],
    first: dict[str, int],
    start: dict[str, int],
    stop: dict[str, int],
) -> Block:
    """The cells between two shared ones, each framework's own, its code's differences marked."""
    code = {
        fw: [
            (first[fw] + i, kinds.cell_source(cells[fw][i]))
            for i in range(start[fw], stop[fw])
            if cells[fw][i]["cell_type"] == "code"
        ]
        for fw in cells
    }
    span = {fw: (first[fw] + start[fw], first[fw] + stop[fw]) for fw in cells}
    return Block(False, span, differing_lines(code))


def differing_lines(code: dict[str, list[tuple[int, str]]]) -> dict[str, dict[int, list[int]]]:
    """Each framework's code lines (1-based, per cell index) that its twin's cell lacks: the
    first framework's kth code cell is compared with each other's kth, line by line."""
    frameworks = list(code)
    base = frameworks[0]
    marks: dict[str, dict[int, set[int]]] = {fw: {} for fw in frameworks}
    for other in frameworks[1:]:
        # a code cell one twin has more stands alone in its column: nothing to mark it against
        for (i, mine), (j, theirs) in zip(code[base], code[other], strict=False):
            ours, their = mine.splitlines(), theirs.splitlines()
            matcher = difflib.SequenceMatcher(None, ours, their, autojunk=False)
            for tag, a0, a1, b0, b1 in matcher.get_opcodes():
                if tag != "equal":
                    marks[base].setdefault(i, set()).update(range(a0 + 1, a1 + 1))
                    marks[other].setdefault(j, set()).update(range(b0 + 1, b1 + 1))
    return {
        fw: {cell: sorted(lines) for cell, lines in by_cell.items() if lines}
        for fw, by_cell in marks.items()
        if any(by_cell.values())
    }


def _merged(found: list[Block]) -> list[Block]:
    """Consecutive shared cells as one block."""
    merged: list[Block] = []
    for block in found:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.shared
            and block.shared
            and all(last.cells[fw][1] == block.cells[fw][0] for fw in block.cells)
        ):
            merged[-1] = Block(
                True, {fw: (last.cells[fw][0], block.cells[fw][1]) for fw in block.cells}
            )
        else:
            merged.append(block)
    return merged
