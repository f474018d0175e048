"""The Sphinx extension behind ``diptych site``'s side-by-side lesson pages.

myst-nb renders each twin notebook as its own page (code, outputs, plots, math). A lesson page
does not render the notebooks a second time: it holds, per ``##`` section, a sphinx-design tab set
with one ``diptych-section`` placeholder per framework, and after every document has been read
this extension replaces each placeholder with a copy of that section of the twin's rendered
page. Markdown cells cannot be wrapped in a directive one by one (myst-nb parses each cell on its
own), so the pairing works on the rendered document trees instead.

The copy is made before references are resolved and before myst-nb picks an output's MIME type
for the builder, so links, images and outputs in the copy are resolved for the lesson page as if
they were written there (the lesson page sits in the twins' folder, so relative links agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from diptych.frameworks import FRAMEWORKS


class diptych_section(nodes.General, nodes.Element):  # docutils names its node classes so
    """Placeholder for one section of a twin notebook; replaced after reading."""


class SectionDirective(SphinxDirective):
    """``{diptych-section} NOTEBOOK INDEX``: the INDEXth ``##`` section of NOTEBOOK (a document
    name relative to this page, without suffix); 0 is the introduction before the first one.

    ``:cells: START-STOP`` keeps only what the notebook's cells START to STOP - 1 rendered,
    ``:marks: CELL=LINE,LINE ...`` marks those lines of those code cells (the lines that differ
    from the twin's), and ``:shared:`` says the cells stand for every twin's."""

    required_arguments = 2
    option_spec = {  # noqa: RUF012 (docutils reads it from the class)
        "cells": directives.unchanged,
        "marks": directives.unchanged,
        "shared": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        target = self.arguments[0]
        folder = self.env.docname.rpartition("/")[0]
        docname = f"{folder}/{target}" if folder else target
        start, _, stop = self.options.get("cells", "").partition("-")
        marks = {
            int(cell): [int(line) for line in lines.split(",")]
            for cell, _, lines in (
                item.partition("=") for item in self.options.get("marks", "").split()
            )
        }
        placeholder = diptych_section(
            docname=docname,
            index=int(self.arguments[1]),
            cells=(int(start), int(stop)) if stop else None,
            marks=marks,
            shared="shared" in self.options,
        )
        self.set_source_info(placeholder)
        return [placeholder]


class FillSections(SphinxPostTransform):
    """Replace every placeholder with a copy of the section it names."""

    # before myst-nb's SelectMimeType (4) and Sphinx's reference resolution (10), so both
    # also work on the copied nodes; after that nothing distinguishes a copy from the original
    default_priority = 3

    def run(self, **kwargs: Any) -> None:
        doctrees: dict[str, nodes.document] = {}  # a page copies ~20 sections from each twin
        for placeholder in list(self.document.findall(diptych_section)):
            docname, index = placeholder["docname"], placeholder["index"]
            if docname not in self.env.all_docs:
                content = _missing(f"{docname} was not built")
            else:
                if docname not in doctrees:  # read from disk and unpickled at every call
                    doctrees[docname] = self.env.get_doctree(docname)
                content = section_content(doctrees[docname], index)
                if placeholder["cells"] is not None:
                    content = of_cells(content, *placeholder["cells"])
                prefix = docname.rpartition("/")[2]
                content = [_renamed(node, prefix) for node in content]
                if not content and placeholder["cells"] is None:
                    # (cells may render nothing here: a cell holding only the section's heading)
                    content = _missing(f"{docname} has no section {index}")
                _mark(content, placeholder["marks"])
            if placeholder["shared"]:
                content = [nodes.container("", *content, classes=["diptych-shared"])]
            placeholder.replace_self(content)


def section_content(doctree: nodes.document, index: int) -> list[nodes.Node]:
    """Copies of the body of section ``index`` of a notebook's page: 0 is what stands between
    the title and the first ``##`` heading, k the kth ``##`` section (its heading left out).
    A notebook without a ``#`` title has its ``##`` sections at the top of the document."""
    top: nodes.Element = doctree
    tops = [child for child in doctree.children if isinstance(child, nodes.section)]
    if len(tops) == 1:
        top = tops[0]
    subsections = [child for child in top.children if isinstance(child, nodes.section)]
    if index == 0:
        body = [
            child for child in top.children if not isinstance(child, (nodes.title, nodes.section))
        ]
    elif index <= len(subsections):
        body = [
            child for child in subsections[index - 1].children if not isinstance(child, nodes.title)
        ]
    else:
        return []
    return [child.deepcopy() for child in body]


#: myst-nb numbers the lines of a notebook's cell k from 10000 * (k + 1) (its pseudo source
#: lines for a notebook without a source map), so a node's line says which cell it came from
CELL_LINES = 10000


def cell_of(node: nodes.Node) -> int | None:
    """The notebook cell a rendered node came from: a code cell's container names it, a markdown
    cell's nodes carry myst-nb's pseudo line numbers; None for a node that says neither."""
    if isinstance(node, nodes.Element) and node.get("cell_index") is not None:
        return int(node["cell_index"])
    line = getattr(node, "line", None)
    return line // CELL_LINES - 1 if line else None


def of_cells(content: list[nodes.Node], start: int, stop: int) -> list[nodes.Node]:
    """What cells ``start`` to ``stop - 1`` rendered, of a section's copied nodes. A subsection
    (``###``) is kept whole when its heading's cell is in range, else its own nodes are filtered
    in its place; a node that names no cell belongs to the cell of the node before it."""
    kept: list[nodes.Node] = []
    current: int | None = None
    for node in content:
        if isinstance(node, nodes.section):
            title = next(iter(node.findall(nodes.title)), None)
            heading = cell_of(title) if title is not None else None
            children = [c for c in node.children if not isinstance(c, nodes.title)]
            inside = of_cells(children, start, stop)
            if heading is not None and start <= heading < stop:
                node.children = [title, *inside] if title is not None else inside
                kept.append(node)
            else:
                kept += inside
            current = heading if heading is not None else current
            continue
        found = cell_of(node)
        current = found if found is not None else current
        if current is not None and start <= current < stop:
            kept.append(node)
    return kept


def _mark(content: list[nodes.Node], marks: dict[int, list[int]]) -> None:
    """Mark the differing lines of code cells: Pygments wraps each line Sphinx's ``hl_lines``
    names in a ``span.hll``; the cell's container gets the class the stylesheet colours them by."""
    for node in content:
        for container in node.findall(nodes.container):
            lines = marks.get(container.get("cell_index", -1))
            source = next(iter(container.findall(nodes.literal_block)), None)
            if lines and source is not None:
                source["highlight_args"] = {**source.get("highlight_args", {}), "hl_lines": lines}
                container["classes"].append("diptych-differs")


def _renamed(node: nodes.Node, prefix: str) -> nodes.Node:
    """The copy with its ids (and the references to them) prefixed: every twin's sections stand on
    one page, and an id must name one element there."""
    for element in node.findall(nodes.Element):
        element["ids"] = [f"{prefix}-{name}" for name in element.get("ids", [])]
        if "refid" in element:
            element["refid"] = f"{prefix}-{element['refid']}"
    return node


def _missing(why: str) -> list[nodes.Node]:
    return [nodes.paragraph(text=f"(not available: {why})", classes=["diptych-missing"])]


#: the stylesheet of the frameworks' colours, written for every build from the table
FRAMEWORK_CSS = "diptych-frameworks.css"


def framework_css() -> str:
    """Each framework's colour on its tab (and, on a wide screen, its column's heading), keyed by
    the tab's sync id, its ``frameworks`` key: a framework added to the table is drawn in its own
    colour without a line of CSS written for it."""
    return "".join(
        f'.sd-tab-set.diptych-pair > label[data-sync-id="{framework.key}"] '
        f"{{ --diptych-framework: {framework.color}; }}\n"
        for framework in FRAMEWORKS
    )


def _write_framework_css(app: Sphinx) -> None:
    """Put ``framework_css`` in a static folder of this build's own (beside its doctrees), where
    Sphinx copies it from like the stylesheet in ``site_assets``."""
    folder = Path(app.doctreedir) / "diptych-static"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FRAMEWORK_CSS).write_text(framework_css(), encoding="utf-8")
    app.config.html_static_path = [*app.config.html_static_path, str(folder)]
    app.add_css_file(FRAMEWORK_CSS)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _write_framework_css)
    app.add_node(diptych_section)
    app.add_directive("diptych-section", SectionDirective)
    app.add_post_transform(FillSections)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
