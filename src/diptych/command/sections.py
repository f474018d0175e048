"""A lesson's sections, and the learner minutes they take.

Every lesson reads in two parts (LESSONS.md, docs/design.md): a **core path** that a learner
finishes in one sitting, then "Going deeper: ..." sections and the **Parity** section, whose
heading cells carry JupyterLab's collapsed-heading flag so that they open folded. The core path
has a budget, counted the same way everywhere (the README's lesson table, ``diptych list``, the
headers' "Time" line, the tests): prose words / 120 + code lines / 8, over every cell outside the
going-deeper and Parity sections. Inline math counts as one word; a code line is a line that is
neither blank nor a comment.

Exercise minutes are an estimate, calibrated once against the fresh readers' timings of lessons
01-06 (45-90 minutes for five exercises): per exercise section, its prose words / 120, plus two
minutes per line of the worked solution (a learner writes, runs and fixes each), plus five
minutes to run it, read the check's answer and try again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from diptych.frameworks import FRAMEWORKS

#: JupyterLab folds a heading cell with this metadata flag when it opens the notebook
COLLAPSED = "jp-MarkdownHeadingCollapsed"
DEEPER_PREFIX = "Going deeper"
PARITY = "Parity"
#: a core path must fit one sitting: prose words / 120 + code lines / 8, in minutes
CORE_BUDGET_MINUTES = 35
WORDS_PER_MINUTE = 120
CODE_LINES_PER_MINUTE = 8
SOLUTION_MINUTES_PER_LINE = 2
MINUTES_PER_EXERCISE = 5

#: the words that differ between twins' headings ("PyTorch's idioms" / "Keras' idioms"): each
#: framework's name and the other names its notebooks call it by, from the table, longest first
FRAMEWORK_WORDS = re.compile(
    "|".join(
        re.escape(word)
        for word in sorted(
            {word for f in FRAMEWORKS for word in (f.name, *f.aliases)}, key=len, reverse=True
        )
    )
)

Kind = Literal["core", "deeper", "parity"]
_INLINE_MATH = re.compile(r"\$[^$]*\$")
_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)


def pairing_key(heading: str) -> str:
    """``heading`` with the framework's words masked: twins' sections pair when their keys are
    equal ("A model trained in PyTorch" with "A model trained in Keras"), in the pairing test and
    on the site's lesson pages alike."""
    return FRAMEWORK_WORDS.sub("*", heading)


def kind_of(heading: str) -> Kind:
    """What a ``##`` heading's text (without the hashes) opens: the core path, a going-deeper
    section or the Parity section."""
    text = heading.strip()
    if text.startswith(DEEPER_PREFIX):
        return "deeper"
    if text == PARITY or text.startswith(f"{PARITY}:"):
        return "parity"
    return "core"


def folds(heading: str) -> bool:
    """True for the sections that open collapsed: going deeper and Parity."""
    return kind_of(heading) != "core"


@dataclass(frozen=True)
class Reading:
    """Prose words and code lines of some cells, and the minutes they take to read."""

    words: int = 0
    code_lines: int = 0

    @property
    def minutes(self) -> float:
        return self.words / WORDS_PER_MINUTE + self.code_lines / CODE_LINES_PER_MINUTE

    def __add__(self, other: Reading) -> Reading:
        return Reading(self.words + other.words, self.code_lines + other.code_lines)


def cell_reading(cell: Any) -> Reading:
    """A markdown cell's words (inline math as one word) or a code cell's non-comment lines."""
    source = cell_source(cell)
    if cell["cell_type"] == "markdown":
        return Reading(words=len(_INLINE_MATH.sub(" x ", source).split()))
    if cell["cell_type"] == "code":
        return Reading(code_lines=sum(1 for line in source.splitlines() if _is_code(line)))
    return Reading()


def _is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def cell_source(cell: Any) -> str:
    """A cell's text, whether nbformat holds it as one string or as a list of lines."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def h2(cell: Any) -> str | None:
    """The text of the ``##`` heading a markdown cell opens with, if it does."""
    if cell.get("cell_type") != "markdown":
        return None
    first = cell_source(cell).lstrip("\n").split("\n", 1)[0]
    return first[3:].strip() if first.startswith("## ") else None


def kinds(cells: Iterable[Any]) -> list[tuple[Any, Kind]]:
    """Every cell with the kind of section it sits in (cells before the first ``##``: core)."""
    current: Kind = "core"
    found = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in cell_source(cell).splitlines():
                if line.startswith("## "):  # a heading cell belongs to the section it opens
                    current = kind_of(line[3:])
        found.append((cell, current))
    return found


def reading(notebook: Any, kind: Kind = "core") -> Reading:
    """What a learner reads in the sections of one kind (the core path by default)."""
    total = Reading()
    for cell, found in kinds(notebook["cells"]):
        if found == kind:
            total = total + cell_reading(cell)
    return total


def exercise_minutes(solution: Any) -> float:
    """The estimated minutes a learner spends on a worked-solution notebook's exercises."""
    minutes = 0.0
    inside = False
    for cell in solution["cells"]:
        source = cell_source(cell)
        if cell["cell_type"] == "markdown":
            for line in source.splitlines():
                if line.startswith("## "):
                    inside = line.startswith("## Exercise")
                    minutes += MINUTES_PER_EXERCISE if inside else 0
            if inside:
                minutes += cell_reading(cell).words / WORDS_PER_MINUTE
        elif inside and cell["cell_type"] == "code":
            for answer in _SOLUTION.findall(source):
                lines = sum(1 for line in answer.splitlines() if _is_code(line))
                minutes += SOLUTION_MINUTES_PER_LINE * lines
    return minutes


def rounded(minutes: float, step: int = 5) -> int:
    """Minutes as a person states them: to the nearest ``step``, at least ``step``."""
    return max(step, int(step * round(minutes / step)))


def time_line(core: float, exercises: float | None, deeper: float, seconds: float | None) -> str:
    """The header's "Time" line: the measured core-path minutes, the estimated exercise
    minutes, the folded sections' minutes and the expected run time, as a person states them."""
    line = f"*Time:* about {rounded(core)} minutes to read and run the core path"
    if exercises is not None:
        line += f" and about {rounded(exercises)} for its exercises"
    if deeper:
        line += f" (the folded going-deeper and Parity sections add about {rounded(deeper)})"
    if seconds is not None:
        line += f"; the notebook executes in about {seconds:g} seconds on a laptop CPU"
    return line + "."
