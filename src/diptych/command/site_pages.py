"""The source of ``diptych site``: the notebooks as they are, and the pages written around them.

The site's source folder mirrors the repository (``notebooks/``, ``exercises/``, ``solutions/``),
so the links the notebooks already hold (to the twin, to the exercises, to the lesson) work on the
site unchanged. Copies of the notebooks get two additions that exist only on the site: alt text
for every plot (from the title the plotting call gives it), and a banner on every worked solution
saying that it is the instructors' copy. Each lesson gets a side-by-side page (``index.md`` in its
folder), built section by section by matching the twins' ``##`` headings by
``sections.pairing_key`` (as ``tests/test_pairing.py`` does), each section as blocks of cells
(``site_twins``: what every twin says alike once, the rest side by side); ``site_sphinx``
fills in the sections.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from diptych.command import sections as kinds
from diptych.command import site_twins as twins
from diptych.command.registry import FRAMEWORK_NAMES, Lesson
from diptych.command.site_parity import ParityTable, markdown
from diptych.frameworks import FRAMEWORKS, KEYS, listed

#: the sphinx-design sync group of every lesson's tabs (``?framework=tensorflow`` picks one)
SYNC_GROUP = "framework"
PARITY_HEADING = "Parity"


@dataclass(frozen=True)
class Section:
    """One row of a lesson page: each framework's heading and its position in that notebook
    (1 for the first ``##`` section, 0 for the introduction above it), None where it has none."""

    headings: dict[str, str | None]
    positions: dict[str, int | None]

    @property
    def title(self) -> str:
        names = list(dict.fromkeys(h for h in self.headings.values() if h))
        return " / ".join(names)

    @property
    def key(self) -> str:
        return next(kinds.pairing_key(h) for h in self.headings.values() if h)


def h2_headings(notebook: nbformat.NotebookNode) -> list[str]:
    """The text of every ``##`` heading of a notebook's markdown cells, in order."""
    return [
        line[3:].strip()
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]


def pair_sections(headings: dict[str, list[str]]) -> list[Section]:
    """Match the twins' sections by heading (framework names aside), in the first twin's order;
    a section only one twin has keeps its place with the other's column empty."""
    frameworks = list(headings)
    keys = {fw: [kinds.pairing_key(h) for h in found] for fw, found in headings.items()}
    sections = [Section({fw: "Introduction" for fw in frameworks}, dict.fromkeys(frameworks, 0))]
    used: dict[str, set[int]] = {fw: set() for fw in frameworks}
    order = [(fw, i) for fw in frameworks for i in range(len(headings[fw]))]
    for framework, index in order:
        if index in used[framework]:
            continue
        section_headings: dict[str, str | None] = {}
        positions: dict[str, int | None] = {}
        for other in frameworks:
            match = next(
                (
                    j
                    for j, key in enumerate(keys[other])
                    if key == keys[framework][index] and j not in used[other]
                ),
                None,
            )
            if match is not None:
                used[other].add(match)
            section_headings[other] = None if match is None else headings[other][match]
            positions[other] = None if match is None else match + 1
        sections.append(Section(section_headings, positions))
    return sections


def lesson_page(
    lesson: Lesson,
    title: str,
    sections: list[Section],
    parity: ParityTable,
    exercises: Lesson | None,
    verified: str | None = None,
) -> str:
    """The side-by-side page of one lesson, as MyST Markdown; ``verified`` is the line saying
    when and with which versions a run measured it (``site_parity.verified``)."""
    frameworks = [fw for fw in KEYS if fw in lesson.notebooks]
    stems = {fw: lesson.notebooks[fw].stem for fw in frameworks}
    names = listed([FRAMEWORK_NAMES[fw] for fw in frameworks])
    lines = [
        "---",
        "html_theme.sidebar_secondary.remove: true",
        "---",
        "",
        f"# {lesson.number} · {title}",
        "",
        *([":::{container} diptych-verified", verified, ":::", ""] if verified else []),
        ":::{toctree}",
        ":hidden:",
        "",
        *(stems[fw] for fw in frameworks),
        *(
            f"../../exercises/{lesson.name}/{path.stem}"
            for fw, path in (exercises.notebooks.items() if exercises else [])
        ),
        ":::",
        "",
        f"{names}, section by section: one column each on a wide screen, in that order from "
        "left to right, tabs on a narrow one (the tab you pick holds for every section and "
        f"every lesson). {_every(len(frameworks)).capitalize()} start from the same data, the "
        "same initial weights and the same minibatch order; the "
        f"[parity table](#{_anchor(lesson)}) shows how closely their numbers agree.",
        "",
        _links_table(lesson, frameworks, exercises),
        "",
        f"Run {_every(len(frameworks))} and compare their numbers on your machine: `diptych run "
        f"{lesson.name}`.",
        "",
    ]
    notebooks = {fw: _notebook(lesson.notebooks[fw]) for fw in frameworks}
    parity_done = False
    for section in sections:
        is_parity = section.key == PARITY_HEADING and not parity_done
        if is_parity:
            lines += [f"({_anchor(lesson)})=", ""]
        lines += [f"## {section.title}", ""]
        if is_parity:
            lines.append(markdown(parity, f"Parity of {lesson.name}"))
            parity_done = True
        pair = _pair(lesson, frameworks, section, notebooks)
        lines.append(_folded(pair) if kinds.folds(section.key) else pair)
    if not parity_done:
        lines += [f"({_anchor(lesson)})=", "", f"## {PARITY_HEADING}", "", markdown(parity, "")]
    return "\n".join(lines) + "\n"


def _every(count: int) -> str:
    """A lesson's notebooks in a sentence: "the notebook", "both notebooks", "all 3 notebooks"."""
    if count < 2:
        return "the notebook"
    return "both notebooks" if count == 2 else f"all {count} notebooks"


def _folded(pair: str) -> str:
    """A going-deeper or Parity section as the notebooks show it: folded, one click to open."""
    return "\n".join(
        [
            ":::::::{dropdown} Beyond the core path: open this section",
            ":class-container: diptych-folded",
            "",
            pair,
            ":::::::",
            "",
        ]
    )


def _anchor(lesson: Lesson) -> str:
    return f"parity-{lesson.number}-{lesson.slug.replace('_', '-')}"


def _links_table(lesson: Lesson, frameworks: list[str], exercises: Lesson | None) -> str:
    header = "| | " + " | ".join(FRAMEWORK_NAMES[fw] for fw in frameworks) + " |"
    rows = [header, "|---|" + "---|" * len(frameworks)]
    rows.append(
        "| lesson notebook | "
        + " | ".join(_read_and_download(lesson.notebooks[fw].name) for fw in frameworks)
        + " |"
    )
    if exercises:
        cells = [
            _read_and_download(f"../../exercises/{lesson.name}/{exercises.notebooks[fw].name}")
            if fw in exercises.notebooks
            else "—"
            for fw in frameworks
        ]
        rows.append("| exercises | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _read_and_download(path: str) -> str:
    return f"[read]({path}) · {{download}}`download .ipynb <{path}>`"


def _pair(
    lesson: Lesson,
    frameworks: list[str],
    section: Section,
    notebooks: dict[str, nbformat.NotebookNode],
) -> str:
    """A section as blocks: what every twin says alike once, the rest side by side (a tab set,
    one tab per framework); a section some twin lacks is one tab set of the whole sections."""
    if len(frameworks) < 2 or any(section.positions.get(fw) is None for fw in frameworks):
        return _tabs(
            [
                (fw, _placeholder(lesson, fw, section.positions.get(fw), None, {}))
                for fw in frameworks
            ]
        )
    indices = {
        fw: twins.section_cells(notebooks[fw], section.positions[fw] or 0) for fw in frameworks
    }
    found = twins.blocks(
        {fw: [notebooks[fw].cells[i] for i in indices[fw]] for fw in frameworks},
        {fw: indices[fw][0] if indices[fw] else 0 for fw in frameworks},
    )
    parts = []
    for block in found:
        if block.shared:
            base = frameworks[0]
            parts.append(
                _placeholder(lesson, base, section.positions[base], block.cells[base], {}, True)
            )
            parts.append("")
        else:
            parts.append(
                _tabs(
                    [
                        (
                            fw,
                            _placeholder(
                                lesson,
                                fw,
                                section.positions[fw],
                                block.cells[fw],
                                block.marks.get(fw, {}),
                            ),
                        )
                        for fw in frameworks
                    ]
                )
            )
    return "\n".join(parts)


def _tabs(columns: list[tuple[str, str]]) -> str:
    """One tab per framework (a column on a wide screen), in the sync group of every lesson."""
    lines = [
        "::::::{tab-set}",
        f":sync-group: {SYNC_GROUP}",
        ":class: diptych-pair",
        "",
    ]
    for framework, content in columns:
        lines += [f":::::{{tab-item}} {FRAMEWORK_NAMES[framework]}", f":sync: {framework}", ""]
        lines += [content, ":::::", ""]
    lines += ["::::::", ""]
    return "\n".join(lines)


def _placeholder(
    lesson: Lesson,
    framework: str,
    position: int | None,
    cells: tuple[int, int] | None,
    marks: dict[int, list[int]],
    shared: bool = False,
) -> str:
    """The ``diptych-section`` directive that ``site_sphinx`` fills with a twin's cells."""
    if position is None:
        return f"*The {FRAMEWORK_NAMES[framework]} notebook has no section with this heading.*"
    if cells is not None and cells[0] == cells[1]:
        return f"*The {FRAMEWORK_NAMES[framework]} notebook has nothing here.*"
    lines = [f"```{{diptych-section}} {lesson.notebooks[framework].stem} {position}"]
    if cells is not None:
        lines.append(f":cells: {cells[0]}-{cells[1]}")
    if marks:
        lines.append(
            ":marks: "
            + " ".join(f"{cell}={','.join(map(str, found))}" for cell, found in marks.items())
        )
    if shared:
        lines.append(":shared:")
    lines.append("```")
    return "\n".join(lines)


def _notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def index_page(rows: list[tuple[Lesson, str, Lesson | None]], parity_source: str) -> str:
    """The home page: what diptych is, the lesson table, and how to run it all locally."""
    table = [
        "| # | lesson | notebooks | exercises | run time |",
        "|---|---|---|---|---|",
    ]
    for lesson, title, exercises in rows:
        notebooks = " · ".join(
            f"[{FRAMEWORK_NAMES[fw]}](notebooks/{lesson.name}/{path.name})"
            for fw, path in lesson.notebooks.items()
        )
        practice = (
            " · ".join(
                f"[{FRAMEWORK_NAMES[fw]}](exercises/{lesson.name}/{path.name})"
                for fw, path in exercises.notebooks.items()
            )
            if exercises
            else "—"
        )
        seconds = _expected_seconds(lesson)
        table.append(
            f"| {lesson.number} | [{title}](notebooks/{lesson.name}/index.md) | {notebooks} | "
            f"{practice} | {seconds} |"
        )
    lessons = [f"notebooks/{lesson.name}/index" for lesson, _, _ in rows]
    return "\n".join(
        [
            "# diptych: deep learning, taught twice",
            "",
            "Every lesson is a set of Jupyter notebooks, one per framework ("
            + listed([framework.name for framework in FRAMEWORKS])
            + "), that build the same idea from the same data, the same initial weights and the "
            "same minibatch order, so that they can be read side by side and compared number by "
            "number. Each lesson page shows the notebooks section by section and ends with a "
            "parity table: every value the frameworks computed, checked against a plain NumPy "
            "reference.",
            "",
            "## Lessons",
            "",
            *table,
            "",
            f"Parity tables: {parity_source}",
            "",
            "## Run it on your machine",
            "",
            "You need Python 3.10 to 3.13, `make` and `git`. In a clone of the repository, two "
            "commands do everything, including the one-time set-up of a virtual environment "
            "`.venv` from the pinned lock file (on Windows: `py scripts\\make.py run` and "
            "`py scripts\\make.py test`):",
            "",
            "```bash",
            "make run     # execute every lesson in every framework and print the parity tables",
            "make test    # the whole test suite: unit tests, every notebook, the command",
            "```",
            "",
            "Then start Jupyter at the repository's root, so that the links between a lesson, "
            "its twin and its exercises work, and open `notebooks/NN_slug/`:",
            "",
            "```bash",
            ".venv/bin/jupyter lab",
            "```",
            "",
            "This site is built from the committed notebooks, without running them, by "
            "`diptych site` (`diptych site --open` opens it in a browser; nothing in it is "
            "fetched from the network).",
            "",
            ":::{toctree}",
            ":caption: Lessons",
            ":hidden:",
            "",
            *lessons,
            ":::",
            "",
            ":::{toctree}",
            ":caption: For instructors",
            ":hidden:",
            "",
            "instructors",
            ":::",
            "",
        ]
    )


def instructors_page(solutions: list[Lesson]) -> str:
    """The instructors' section: the worked solutions, clearly apart from the lessons."""
    entries = [
        f"solutions/{lesson.name}/{path.stem}"
        for lesson in solutions
        for path in lesson.notebooks.values()
    ]
    return "\n".join(
        [
            "# For instructors: worked solutions",
            "",
            f":::{{admonition}} {SOLUTION_TITLE}",
            ":class: warning",
            "",
            SOLUTION_BANNER,
            ":::",
            "",
            "Each solution notebook is also an nbgrader source notebook (exercise cells are "
            "autograded answers, check cells autograder tests worth one point); the exercises "
            "the learners see are generated from them by `diptych exercises build`.",
            "",
            ":::{toctree}",
            ":maxdepth: 1",
            "",
            *entries,
            ":::",
            "",
        ]
    )


SOLUTION_TITLE = "For instructors: the answers"
SOLUTION_BANNER = (
    "This is a worked solution: it holds the answers to the exercises. Learners work in the "
    "exercise notebooks, which say what to write without giving it away."
)


def _expected_seconds(lesson: Lesson) -> str:
    seconds = [lesson.metadata(fw).get("expected_seconds") for fw in lesson.notebooks]
    known = [s for s in seconds if isinstance(s, (int, float))]
    return f"~{max(known):g} s each" if known else "?"


def copy_lesson_notebook(source: Path, target: Path, framework: str) -> None:
    """Copy a lesson notebook for the site, with alt text on every plot."""
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and any(
            "image/png" in output.get("data", {}) for output in cell.get("outputs", [])
        ):
            alt = plot_alt_text(cell.source, FRAMEWORK_NAMES.get(framework, framework))
            cell.metadata.setdefault("mystnb", {})["image"] = {"alt": alt}
    _write(notebook, target)


def copy_solution_notebook(source: Path, target: Path) -> None:
    """Copy a worked solution for the site: titled as a solution, the instructors' banner first."""
    notebook = nbformat.read(source, as_version=4)
    cells = notebook.cells
    if cells and cells[0].cell_type == "markdown":
        cells[0].source = re.sub(r"^# Exercises:", "# Worked solutions:", cells[0].source)
    banner = nbformat.v4.new_markdown_cell(
        f":::{{admonition}} {SOLUTION_TITLE}\n:class: warning\n\n{SOLUTION_BANNER}\n:::"
    )
    # after the title cell, so the page keeps the notebook's title as its heading
    notebook.cells = [*cells[:1], banner, *cells[1:]]
    _write(notebook, target)


def _write(notebook: nbformat.NotebookNode, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def plot_alt_text(source: str, framework: str) -> str:
    """Alt text for the plot a code cell draws: the title its plotting call gives
    (``title="..."``, ``set_title("...")``, ``suptitle``), else a plain description."""
    titles = _titles(source)
    if titles:
        return f"Plot: {'; '.join(titles)}, from the {framework} notebook"
    return f"Plot drawn by the code cell above ({framework})"


def _titles(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics) in a cell
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        arguments = [k.value for k in node.keywords if k.arg == "title"]
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name in ("set_title", "title", "suptitle") and node.args:
            arguments.append(node.args[0])
        found += [text for text in map(_text, arguments) if text]
    return found


def _text(node: ast.expr) -> str | None:
    """A string literal's text; an f-string's with each placeholder as '…'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "…" for part in node.values
        )
    return None
