"""`diptych site`: the pages it writes, and the built site read in a real browser.

The site is built once per session from the committed notebooks (never executing one) and read
in headless Chromium through Playwright, driving the system's browser (`scripts/chromium.py`
finds it; `make test` installs Debian's where it can). Every page is loaded with every request
that is not a `file://` one recorded and refused; a lesson page must show each section in two
columns on a wide screen and as synced tabs on a phone, with highlighted code, loaded plots,
rendered math and the parity table. Screenshots of one lesson page at desktop and phone widths
are written to build/site-screenshots/ for a reviewer.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from diptych.command import registry, site, site_pages, site_parity
from diptych.command.execution import Execution
from diptych.command.report import LessonReport, compare_values, to_json

from helpers import REPO, load_script

SCREENSHOTS = REPO / "build" / "site-screenshots"
LESSONS = registry.lessons(REPO)
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _chromium_module():
    return load_script(REPO / "scripts" / "chromium.py")


# ---- the pages, without a browser ----


def test_sections_pair_by_heading_with_the_framework_names_aside():
    sections = site_pages.pair_sections(
        {
            "pytorch": ["Setup", "PyTorch in practice", "Only here", "Parity"],
            "tensorflow": ["Setup", "Keras in practice", "Parity", "Extra"],
        }
    )
    assert [s.positions for s in sections] == [
        {"pytorch": 0, "tensorflow": 0},  # the introduction, above the first heading
        {"pytorch": 1, "tensorflow": 1},
        {"pytorch": 2, "tensorflow": 2},
        {"pytorch": 3, "tensorflow": None},
        {"pytorch": 4, "tensorflow": 3},
        {"pytorch": None, "tensorflow": 4},
    ]
    assert sections[2].title == "PyTorch in practice / Keras in practice"
    assert sections[4].title == "Parity"


def _cells(*sources: str) -> list[dict]:
    """Cells from sources: a source starting with ``>`` is code (the ``>`` removed)."""
    return [
        {"cell_type": "code", "source": text[1:]}
        if text.startswith(">")
        else {"cell_type": "markdown", "source": text}
        for text in sources
    ]


def test_what_the_twins_say_alike_is_one_block_and_their_code_differs_line_by_line():
    from diptych.command.site_twins import Block, blocks

    found = blocks(
        {
            "pytorch": _cells(
                "## Setup\nSame words.",
                ">import torch\nx = torch.ones(2)\nprint(x)",
                "Read back from Keras.",
                "Only in this twin.",
                "Said alike.",
            ),
            "tensorflow": _cells(
                "## Setup\nSame words.",
                ">import tensorflow as tf\nx = tf.ones(2)\nprint(x)",
                "Read back from PyTorch.",
                "Said alike.",
            ),
        },
        {"pytorch": 10, "tensorflow": 20},
    )
    assert found == [
        Block(True, {"pytorch": (10, 11), "tensorflow": (20, 21)}),
        # a cell that differs by a framework's name is each twin's own, side by side
        Block(
            False,
            {"pytorch": (11, 14), "tensorflow": (21, 23)},
            {"pytorch": {11: [1, 2]}, "tensorflow": {21: [1, 2]}},  # print(x) is the same
        ),
        Block(True, {"pytorch": (14, 15), "tensorflow": (23, 24)}),
    ]


def test_a_lesson_page_shows_a_shared_cell_once_and_the_rest_in_tabs():
    lesson = LESSONS[0]
    notebooks = {fw: nbformat.read(path, as_version=4) for fw, path in lesson.notebooks.items()}
    sections = site_pages.pair_sections(
        {fw: site_pages.h2_headings(nb) for fw, nb in notebooks.items()}
    )
    table = site_parity.ParityTable(["value"], [["`x`"]], "the note")
    page = site_pages.lesson_page(lesson, "Title", sections, table, None)
    shared = [line for line in page.splitlines() if line == ":shared:"]
    assert shared, "no cell of lesson 01 is shown once, though its twins share some"
    stems = [path.stem for path in lesson.notebooks.values()]
    # a shared block is the first twin's cells, outside any tab
    for block in page.split(":shared:")[:-1]:
        assert block.rsplit("```{diptych-section} ", 1)[1].startswith(stems[0])


def test_a_lesson_page_has_a_heading_per_section_and_the_parity_table_in_parity(tmp_path):
    lesson = LESSONS[0]
    notebooks = {fw: nbformat.read(path, as_version=4) for fw, path in lesson.notebooks.items()}
    headings = {fw: site_pages.h2_headings(nb) for fw, nb in notebooks.items()}
    sections = site_pages.pair_sections(headings)
    table = site_parity.ParityTable(["value", "headroom"], [["`x`", "∞"]], "the note")
    page = site_pages.lesson_page(lesson, "Title", sections, table, None)
    assert page.count("\n## ") == len(headings["pytorch"]) + 1  # and the introduction
    assert page.count("::::::{tab-set}") >= len(headings["pytorch"])  # what differs, in tabs
    parity = page.index("## Parity")
    assert parity < page.index(":::{list-table}") < page.index("::::::{tab-set}", parity)
    assert "html_theme.sidebar_secondary.remove: true" in page


@pytest.mark.parametrize(
    "text",
    [
        "Title\n=====\n\nintro\n\nA\n-\n\nin a\n\nB\n-\n\nin b\n",
        "intro\n\nA\n-\n\nin a\n\nB\n-\n\nin b\n",  # no title: the sections are on top
    ],
)
def test_a_section_is_copied_from_the_notebook_page_without_its_heading(text):
    from docutils.core import publish_doctree

    from diptych.command.site_sphinx import section_content

    doctree = publish_doctree(text, settings_overrides={"doctitle_xform": False})
    found = [[node.astext() for node in section_content(doctree, i)] for i in range(4)]
    assert found == [["intro"], ["in a"], ["in b"], []]


def test_a_cell_range_keeps_the_nodes_myst_nb_rendered_from_those_cells():
    from docutils import nodes

    from diptych.command.site_sphinx import of_cells

    def line(node, cell):  # myst-nb's pseudo line numbers: cell k's lines from 10000 (k + 1)
        node.line = 10000 * (cell + 1) + 2
        return node

    code = nodes.container(cell_index=3)
    target = nodes.target()  # no line: it goes with the node before it
    subsection = nodes.section(
        "",
        line(nodes.title(text="Sub"), 5),
        line(nodes.paragraph(text="five"), 5),
        line(nodes.paragraph(text="six"), 6),
    )
    content = [
        line(nodes.paragraph(text="two"), 2),
        code,
        target,
        line(nodes.paragraph(text="four"), 4),
        subsection,
    ]
    assert of_cells(content, 3, 5) == [code, target, content[3]]
    assert [n.astext() for n in of_cells(content, 6, 7)] == ["six"]  # its heading's cell is out
    (kept,) = of_cells([subsection.deepcopy()], 5, 7)
    assert kept.astext().split() == ["Sub", "five", "six"]


@pytest.mark.parametrize(
    ("source", "alt"),
    [
        ('plot.curves(d, title="Loss", ylabel="x")', "Plot: Loss, from the PyTorch notebook"),
        ('ax.set_title("A")\nfig.suptitle("B")', "Plot: A; B, from the PyTorch notebook"),
        ('plot.grid(x, title=f"The {n} digits")', "Plot: The … digits, from the PyTorch notebook"),
        ("%matplotlib inline\nplt.plot(x)", "Plot drawn by the code cell above (PyTorch)"),
    ],
)
def test_plot_alt_text_is_the_title_the_cell_gives_its_plot(source, alt):
    assert site_pages.plot_alt_text(source, "PyTorch") == alt


def _lesson_with_outputs(folder: Path, lines: dict[str, str]) -> registry.Lesson:
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    notebooks = {}
    for framework, text in lines.items():
        cell = new_code_cell("check()", outputs=[new_output("stream", name="stdout", text=text)])
        path = folder / f"demo_{framework}.ipynb"
        nbformat.write(new_notebook(cells=[cell]), path)
        notebooks[framework] = path
    return registry.Lesson("01", "demo", folder, notebooks)


def test_without_a_run_the_table_shows_what_each_notebook_printed(tmp_path):
    both = "✓ acc reaches the bar (at least 0.95)\n"
    lesson = _lesson_with_outputs(
        tmp_path,
        {
            "pytorch": "✓ grad matches (shape (2, 3), atol=1e-05, rtol=1e-09)\n" + both,
            "tensorflow": "noise ✓ grad matches\n" + both,
        },
    )
    table = site_parity.from_outputs(lesson)
    assert table.headers == ["value", "shape", "tolerance", "PyTorch", "TensorFlow", "headroom"]
    assert table.rows == [
        ["`grad`", "(2, 3)", "atol=1e-05, rtol=1e-09", "✓ matches NumPy", "not checked", "—"],
        ["`acc`", "—", "each ≥ 0.95", "✓ reaches the bar", "✓ reaches the bar", "—"],
    ]
    assert "diptych site --results" in table.note


def _run_document(
    values: dict[str, tuple], configuration: str = "default", lesson: str = "01_demo"
) -> dict:
    """What `diptych run --json` writes for one lesson whose twins recorded ``values``
    (name -> (PyTorch value, TensorFlow value, atol[, at_least])), compared by report."""
    from diptych.configurations import CONFIGURATIONS

    runs = {}
    for i, framework in enumerate(("pytorch", "tensorflow")):
        recorded = {}
        for name, (*pair, atol, at_least) in values.items():
            recorded[name] = {"value": pair[i], "atol": atol, "rtol": 0.0}
            if at_least is not None:
                recorded[name]["at_least"] = at_least
        runs[framework] = Execution(Path(f"demo_{framework}.ipynb"), ok=True, values=recorded)
    report = LessonReport(lesson, runs, compare_values(runs), configuration)
    return to_json([report], CONFIGURATIONS[configuration])


def test_a_run_fills_in_values_differences_and_headroom(tmp_path):
    document = _run_document(
        {
            "same": (0.5, 0.5, 1e-6, None),
            "close": (1.0, 1.0 + 1e-8, 1e-6, None),
            "curve": ([1.0, 2.0], [1.0, 2.0 + 2e-7], 1e-6, None),
            "accuracy": (0.97, 0.98, 0.0, 0.95),
        }
    )
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    table = site_parity.from_results(site_parity.read_results(path), "01_demo", "`results.json`")
    assert table.headers[:3] == ["value", "PyTorch", "TensorFlow"]
    rows = {row[0]: row for row in table.rows}
    assert rows["`same`"][1:] == ["0.5", "0.5", "0.00e+00", "1e-06", "∞", "yes"]
    assert rows["`close`"][3:] == ["1.00e-08", "1e-06", "100×", "yes"]
    assert rows["`curve`"][1:] == ["array (2,)", "array (2,)", "2.00e-07", "1e-06", "5×", "thin"]
    assert rows["`accuracy`"][4:] == ["each ≥ 0.95", "—", "yes"]
    assert "configuration default" in table.note
    assert site_parity.from_results(site_parity.read_results(path), "02_other", "x") is None


def test_a_matrix_run_shows_the_least_headroom_and_the_worst_verdict(tmp_path):
    wide = _run_document({"close": (1.0, 1.0 + 1e-9, 1e-6, None)})
    narrow = _run_document({"close": (1.0, 1.0 + 2e-7, 1e-6, None)}, "avx2-1thread")
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps({"matrix": [wide, narrow]}))
    table = site_parity.from_results(site_parity.read_results(path), "01_demo", "m")
    assert table.rows[0][-2:] == ["5×", "thin"]
    assert "default, avx2-1thread" in table.note


def test_a_run_says_when_it_ran_and_with_which_versions():
    from datetime import datetime, timezone
    from importlib import metadata

    document = _run_document({"x": (1.0, 1.0, 1e-6, None)})
    ran = datetime.fromisoformat(document["date"])
    assert abs((datetime.now(timezone.utc) - ran).total_seconds()) < 60
    assert document["versions"]["python"] == platform.python_version()
    assert document["versions"]["pytorch"] == metadata.version("torch").split("+")[0]
    # TensorFlow's wheel is tensorflow-cpu on x86-64 Linux and Windows: found by its module
    installed = []
    for name in ("tensorflow", "tensorflow-cpu"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            installed.append(metadata.version(name))
    assert [document["versions"]["tensorflow"]] == installed


def test_a_lesson_page_says_when_and_with_what_the_run_verified_it(tmp_path):
    document = _run_document({"x": (1.0, 1.0, 1e-6, None)})
    document["versions"] = {"python": "3.12.1", "pytorch": "2.9.0", "tensorflow": "2.20.0"}
    document["date"] = "2026-03-04T05:06:07+00:00"
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"matrix": [document]}))
    runs = site_parity.read_results(path)
    assert site_parity.verified(runs, "01_demo") == (
        "Verified on 2026-03-04 with PyTorch 2.9.0 and TensorFlow 2.20.0 (`diptych run`, "
        "configuration default, Python 3.12.1)."
    )
    assert site_parity.verified(runs, "02_other") is None
    # values another machine recorded (--baseline) were not verified by this run
    document["lessons"][0]["notebooks"]["tensorflow"]["recorded_elsewhere"] = True
    assert "TensorFlow" not in site_parity.verified([document], "01_demo")
    document["lessons"][0]["ok"] = False
    assert site_parity.verified([document], "01_demo").startswith("Run, and not passed, on")
    # a file written before runs recorded their date and versions: its table, and no line
    del document["date"], document["versions"]
    path.write_text(json.dumps(document))
    runs = site_parity.read_results(path)
    assert site_parity.from_results(runs, "01_demo", "r") is not None
    assert site_parity.verified(runs, "01_demo") is None
    page = site_pages.lesson_page(
        LESSONS[0], "T", [], site_parity.from_outputs(LESSONS[0]), None, "V."
    )
    assert ":::{container} diptych-verified\nV.\n:::" in page


@pytest.mark.parametrize("text", ["not json", "[]", '{"lessons": [{"lesson": 1}]}', "{}"])
def test_a_file_that_is_not_a_run_is_refused_in_one_line(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="not a result written by 'diptych run --json'"):
        site_parity.read_results(path)


def test_a_missing_site_extra_is_named_with_its_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "myst_nb" else real(name)
    )
    with pytest.raises(
        site.SiteError, match=r"myst-nb not installed\): pip install -e '\.\[site\]'"
    ):
        site.require_extra()


def _diptych(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diptych.command.cli", "site", *arguments],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DIPTYCH_ROOT": str(REPO)},
    )


def test_a_folder_holding_other_files_is_never_replaced(tmp_path):
    (tmp_path / "mine.txt").write_text("a learner's notes")
    done = _diptych("--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a site built by diptych" in done.stderr
    assert (tmp_path / "mine.txt").read_text() == "a learner's notes"


def test_a_site_diptych_built_may_be_replaced_and_nothing_else(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / site.MARKER).write_text("")
    (tmp_path / "old" / "index.html").write_text("")
    site.check_target(tmp_path / "old")  # a previous build
    site.check_target(tmp_path / "new")  # nothing there yet
    (tmp_path / "old" / site.MARKER).unlink()
    with pytest.raises(site.SiteError, match="not a site built by diptych"):
        site.check_target(tmp_path / "old")


def test_results_that_are_not_a_run_stop_the_build_before_it_starts(tmp_path):
    (tmp_path / "r.json").write_text("{}")
    done = _diptych("--out", str(tmp_path / "site"), "--results", str(tmp_path / "r.json"))
    assert done.returncode == 2 and "not a result written by" in done.stderr
    assert not (tmp_path / "site").exists()


# ---- the built site, read as files and in a browser (slow: `make unit` leaves them to `make test`) ----


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The whole site, built once by the command as a reader would run it, with a run's results
    for the first lesson (`--results`, written by `report.to_json`): its parity table and its
    "verified" line come from them, the other lessons' from their committed outputs."""
    folder = tmp_path_factory.mktemp("site")
    results = folder / "results.json"
    results.write_text(
        json.dumps(_run_document({"x": (1.0, 1.0, 1e-6, None)}, lesson=LESSONS[0].name))
    )
    out = folder / "site"
    done = _diptych("--out", str(out), "--no-progress", "--results", str(results))
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", f"the build warned:\n{done.stderr}"
    return out


@pytest.fixture(scope="module")
def browser():
    found = _chromium_module().find()
    if found is None:
        pytest.skip(_chromium_module().why_missing())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=found)
        yield chromium
        chromium.close()


class Reader:
    """One browser context reading the site: every request that is not file:// is recorded and
    refused, and so are console errors, uncaught exceptions and files that fail to load."""

    def __init__(self, browser, viewport):
        self.context = browser.new_context(viewport=viewport)
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context.route(lambda url: not url.startswith("file:"), self._refuse)
        self.page = self.context.new_page()
        self.page.on("request", self._request)
        self.page.on("requestfailed", lambda r: self.errors.append(f"{r.url}: {r.failure}"))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}")
        )

    def _request(self, request):
        if not request.url.startswith(("file:", "data:", "blob:")):
            self.outside.append(request.url)

    def _refuse(self, route):
        self.outside.append(route.request.url)
        route.abort()

    def read(self, path: Path, query: str = ""):
        """Open a page and wait until its math is typeset and its fonts are in."""
        self.page.goto(path.as_uri() + query)
        self.page.wait_for_load_state("load")
        self.page.evaluate(
            "async () => { if (window.MathJax?.startup?.promise) await MathJax.startup.promise;"
            " await document.fonts.ready; }"
        )
        return self.page

    def assert_clean(self, what: str):
        assert not self.outside, f"{what}: requests left the machine: {self.outside}"
        assert not self.errors, f"{what}: {self.errors}"


@pytest.fixture
def desktop(browser):
    reader = Reader(browser, DESKTOP)
    yield reader
    reader.context.close()


@pytest.fixture
def phone(browser):
    reader = Reader(browser, PHONE)
    yield reader
    reader.context.close()


def _images_in(path: Path) -> int:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
    )


HEADINGS_IN_ORDER = """() => {
  const levels = [...document.querySelectorAll('article h1, article h2, article h3, article h4,'
                                               + ' article h5, article h6')]
                 .map(h => Number(h.tagName[1]));
  return levels[0] === 1 && levels.filter(l => l === 1).length === 1
         && levels.every((l, i) => i === 0 || l <= levels[i - 1] + 1);
}"""


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_a_lesson_page_shows_both_frameworks_side_by_side(built, desktop, lesson):
    page = desktop.read(built / "notebooks" / lesson.name / "index.html")
    folded = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('article section')]
              .filter(s => s.querySelector(':scope > h2'))
              .map(s => {
                const box = s.querySelector(':scope > details.diptych-folded');
                return [s.querySelector('h2').textContent, box ? (box.open ? 'open' : 'folded')
                                                               : 'shown'];
              }))"""
    )
    for heading, state in folded.items():  # as JupyterLab opens the notebooks
        deeper = heading.startswith(("Going deeper", "Parity"))
        assert state == ("folded" if deeper else "shown"), (heading, state)
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    sections = page.evaluate(
        """() => [...document.querySelectorAll('article section')]
              .filter(s => s.querySelector(':scope > h2'))
              .map(s => {
                const body = s.querySelector(':scope > details > .sd-summary-content') || s;
                const pairs = [...body.querySelectorAll(':scope > .diptych-pair')];
                return {
                  heading: s.querySelector('h2').textContent,
                  shared: body.querySelectorAll(':scope > .diptych-shared').length,
                  pairs: pairs.map(pair => {
                    const columns = [...pair.querySelectorAll(':scope > .sd-tab-content')];
                    const boxes = columns.map(c => c.getBoundingClientRect());
                    return {
                      labels: [...pair.querySelectorAll(':scope > label')].map(
                        l => l.textContent.trim()),
                      side_by_side: boxes.length === 2 && boxes[0].width > 0
                                    && boxes[1].width > 0 && boxes[0].right <= boxes[1].left
                                    && boxes[0].top === boxes[1].top,
                      filled: columns.every(c => c.textContent.trim().length > 0),
                    };
                  }),
                };
              })"""
    )
    assert len(sections) >= 6, sections
    for section in sections:
        assert section["pairs"] or section["shared"], section
        for pair in section["pairs"]:
            assert pair["labels"] == ["PyTorch", "TensorFlow"], (section["heading"], pair)
            assert pair["side_by_side"] and pair["filled"], (section["heading"], pair)
    code = page.evaluate(
        """() => [...document.querySelectorAll('.diptych-pair > .sd-tab-content')].map(
              c => c.querySelectorAll('div.highlight pre span.k, div.highlight pre span.kn').length)"""
    )
    assert sum(code[0::2]) > 0 and sum(code[1::2]) > 0, "no highlighted code in a column"
    images = page.evaluate(
        "() => [...document.querySelectorAll('article img')].map("
        "i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt}))"
    )
    assert len(images) == sum(_images_in(path) for path in lesson.notebooks.values())
    assert all(image["ok"] and image["alt"].startswith("Plot") for image in images), images
    math = page.evaluate(
        """() => ({
          typeset: document.querySelectorAll('mjx-container').length,
          raw: [...document.querySelectorAll('.math')].filter(
                 m => !m.querySelector('mjx-container')).length,
          dollars: document.querySelector('article').innerText.includes('$$'),
        })"""
    )
    assert math["typeset"] > 0 and math["raw"] == 0 and not math["dollars"], math
    parity = page.evaluate(
        "() => [...document.querySelectorAll('table.diptych-parity thead th')]"
        ".map(th => th.textContent.trim())"
    )
    assert "headroom" in parity and "PyTorch" in parity and "TensorFlow" in parity
    assert page.evaluate(HEADINGS_IN_ORDER), "headings skip a level"
    desktop.assert_clean(lesson.name)


#: element -> the attribute that names what the browser fetches for it
FETCHED = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "video": "src",
    "audio": "src",
    "embed": "src",
    "object": "data",
}


class _Resources(HTMLParser):
    """What a page makes the browser fetch by itself: scripts, styles, images, frames, media
    (a link a reader may follow is not fetched)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "link" and "stylesheet" in (attributes.get("rel") or "").split():
            self.urls.append(attributes.get("href") or "")
        elif tag in FETCHED and attributes.get(FETCHED[tag]):
            self.urls.append(attributes[FETCHED[tag]])


def _pages(built: Path) -> list[Path]:
    return sorted(p for p in built.rglob("*.html") if "_static" not in p.relative_to(built).parts)


@pytest.mark.slow
def test_no_page_asks_for_anything_outside_the_site(built):
    pages = _pages(built)
    assert len(pages) >= 3 + 7 * len(LESSONS)  # lesson, twins, exercises, solutions
    for path in pages:
        parser = _Resources()
        parser.feed(path.read_text(encoding="utf-8"))
        assert parser.urls, f"{path}: no scripts or styles found: is the parser right?"
        outside = [url for url in parser.urls if urlsplit(url).scheme or url.startswith("//")]
        assert not outside, f"{path.relative_to(built)} loads {outside}"
        missing = [
            url for url in parser.urls if not (path.parent / urlsplit(url).path).resolve().is_file()
        ]
        assert not missing, f"{path.relative_to(built)} loads files the site lacks: {missing}"


@pytest.mark.slow
def test_every_kind_of_page_reads_cleanly_in_a_browser(built, desktop):
    """One page of each kind besides the lesson pages (all read above): the home page, the
    instructors' page, search, each twin, an exercise and a worked solution."""
    lesson = LESSONS[-1]
    kinds = [
        built / "index.html",
        built / "instructors.html",
        built / "search.html",
        *(built / "notebooks" / lesson.name / f"{p.stem}.html" for p in lesson.notebooks.values()),
        *sorted((built / "exercises" / lesson.name).glob("*.html"))[:1],
        *sorted((built / "solutions" / lesson.name).glob("*.html"))[:1],
    ]
    assert all(path.is_file() for path in kinds), kinds
    for path in kinds:
        page = desktop.read(path)
        broken = page.evaluate(
            "() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
            ".map(i => i.src)"
        )
        assert not broken, f"{path}: {broken}"
        if path.name != "search.html":
            assert page.evaluate(HEADINGS_IN_ORDER), f"{path}: headings skip a level"
        desktop.assert_clean(str(path.relative_to(built)))
    solution = kinds[-1]
    page = desktop.read(solution)
    assert "For instructors" in page.locator("article").inner_text()


@pytest.mark.slow
def test_tabs_on_a_phone_switch_together_and_the_choice_holds_across_pages(built, phone):
    lesson, other = LESSONS[-1], LESSONS[0]
    page = phone.read(built / "notebooks" / lesson.name / "index.html")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{lesson.name}-phone.png")
    shown = """() => [...document.querySelectorAll('.diptych-pair')]
               .filter(pair => !pair.closest('details:not([open])')).map(pair =>
                 [...pair.querySelectorAll(':scope > .sd-tab-content')].map(
                   c => c.getBoundingClientRect().height > 0))"""
    assert all(visible == [True, False] for visible in page.evaluate(shown))
    page.locator(".diptych-pair > label", has_text="TensorFlow").nth(2).click()
    assert all(visible == [False, True] for visible in page.evaluate(shown))
    fits = "() => document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(fits), "the page scrolls sideways on a phone"
    assert page.evaluate(
        "() => getComputedStyle(document.querySelector('div.highlight pre')).whiteSpace"
    ) in ("pre-wrap", "break-spaces")
    assert (
        page.evaluate(
            "() => parseFloat(getComputedStyle(document.querySelector('article p')).fontSize)"
        )
        >= 16
    )
    page.evaluate("window.scrollTo(0, 0)")
    page.locator(".diptych-pair").nth(2).scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"{lesson.name}-phone-tensorflow.png")
    page = phone.read(built / "notebooks" / other.name / "index.html")
    assert all(visible == [False, True] for visible in page.evaluate(shown))
    page = phone.read(built / "notebooks" / other.name / "index.html", "?framework=pytorch")
    assert all(visible == [True, False] for visible in page.evaluate(shown))
    phone.assert_clean("tabs")


@pytest.mark.slow
def test_screenshots_of_a_lesson_on_a_desktop(built, desktop):
    lesson = LESSONS[-1]
    page = desktop.read(built / "notebooks" / lesson.name / "index.html")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{lesson.name}-desktop.png")
    page.locator("article img").first.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"{lesson.name}-desktop-plot.png")
    page.locator("table.diptych-parity").scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"{lesson.name}-desktop-parity.png")
    desktop.assert_clean("screenshots")


def _shared_sentence(lesson: registry.Lesson) -> str | None:
    """Words of a markdown cell both twins hold word for word (not a heading): a paragraph the
    lesson page should show once."""
    sources = [
        [
            c.source.strip()
            for c in nbformat.read(path, as_version=4).cells
            if c.cell_type == "markdown"
        ]
        for path in lesson.notebooks.values()
    ]
    for source in sources[0]:
        found = re.search(r"(?:[A-Za-z,]{2,} ){7}[A-Za-z]{2,}", source)
        if source in sources[1] and not source.startswith("#") and found:
            return found.group(0)
    return None


@pytest.mark.slow
def test_a_paragraph_both_twins_hold_is_shown_once_and_differing_code_lines_are_marked(
    built, desktop
):
    lesson = next(lesson for lesson in LESSONS if _shared_sentence(lesson))
    sentence = _shared_sentence(lesson)
    page = desktop.read(built / "notebooks" / lesson.name / "index.html")
    found = page.evaluate(
        """sentence => {
          const norm = t => t.replace(/\\s+/g, ' ');
          const all = norm(document.querySelector('article').textContent);
          const shared = [...document.querySelectorAll('.diptych-shared')]
                         .filter(s => norm(s.textContent).includes(sentence));
          const box = shared.length ? shared[0].getBoundingClientRect() : null;
          const pair = document.querySelector('.diptych-pair').getBoundingClientRect();
          return {count: all.split(sentence).length - 1, shared: shared.length,
                  inside_tab: shared.length > 0 && shared[0].closest('.sd-tab-content') !== null,
                  across: box !== null && box.width > 0.9 * pair.width};
        }""",
        sentence,
    )
    assert found == {"count": 1, "shared": 1, "inside_tab": False, "across": True}, sentence
    marked = page.evaluate(
        """() => [...document.querySelectorAll('.diptych-pair .diptych-differs span.hll')]
              .map(l => getComputedStyle(l).backgroundColor)"""
    )
    assert marked, "no differing line is marked"
    assert all(color not in ("rgba(0, 0, 0, 0)", "transparent") for color in marked)
    desktop.assert_clean(lesson.name)


#: WCAG's contrast ratio of an element's text with what lies behind it: its colour over the
#: backgrounds of it and its ancestors, composited from the page down (alpha included)
CONTRAST = """element => {
  const rgba = text => { const v = text.match(/[\\d.]+/g).map(Number);
                         return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
  const over = (top, under) => top.slice(0, 3).map((c, i) => c * top[3] + under[i] * (1 - top[3]));
  const layers = [];
  for (let e = element; e; e = e.parentElement) layers.unshift(rgba(getComputedStyle(e).backgroundColor));
  let background = [255, 255, 255];
  for (const layer of layers) background = over(layer, background);
  const text = over(rgba(getComputedStyle(element).color), background);
  const luminance = rgb => { const [r, g, b] = rgb.map(c => { c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const [light, dark] = [luminance(text), luminance(background)].sort((a, b) => b - a);
  return {ratio: (light + 0.05) / (dark + 0.05), background: luminance(background)};
}"""
#: what must stay readable in both modes: prose, code, a marked line, the columns' headings
#: and the parity table
READABLE = {
    "prose": "article .diptych-shared p",
    "code": ".diptych-pair div.highlight pre",
    "marked line": ".diptych-pair .diptych-differs span.hll",
    "column heading": ".diptych-pair > label",
    "parity header": "table.diptych-parity th",
    "parity cell": "table.diptych-parity td",
}


def _switch_theme(page, mode: str) -> None:
    """Pick a mode in the theme's own switcher (its dropdown in the header), as a reader does."""
    page.locator(".theme-switch-button:visible").first.click()
    page.locator(f".theme-change-button[data-mode='{mode}']:visible").first.click()
    page.keyboard.press("Escape")  # close the dropdown
    # the theme fades colours in over 0.25 s: read them once they have settled
    page.evaluate(
        "() => Promise.all(document.getAnimations().map(a => a.finished.catch(() => null)))"
    )


@pytest.mark.slow
def test_dark_mode_keeps_text_code_plots_and_parity_tables_readable(built, desktop):
    lesson = LESSONS[1]
    page = desktop.read(built / "notebooks" / lesson.name / "index.html")
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    for mode in ("light", "dark"):
        _switch_theme(page, mode)
        assert page.evaluate("document.documentElement.dataset.theme") == mode
        for what, selector in READABLE.items():
            element = page.locator(selector).first
            assert element.count(), f"{mode}: no {what} ({selector})"
            contrast = element.evaluate(CONTRAST)
            assert contrast["ratio"] >= 4.5, f"{mode}: {what} has contrast {contrast}"
        # plots are drawn for a white page: in dark mode they sit on a light card
        cards = page.evaluate(
            "() => [...document.querySelectorAll('article .cell_output img')].map("
            "i => getComputedStyle(i).backgroundColor)"
        )
        assert cards, "no plot on the page"
        if mode == "dark":
            for card in cards:
                red, green, blue = (float(c) for c in re.findall(r"[\d.]+", card)[:3])
                assert min(red, green, blue) >= 200, f"a plot on a dark background: {card}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("article img").first.scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / f"{lesson.name}-desktop-{mode}.png")
    desktop.assert_clean(f"{lesson.name} in dark mode")


@pytest.mark.slow
def test_a_lesson_a_run_measured_says_when_and_with_which_versions(built, desktop):
    from diptych.command.report import versions

    found = versions()
    page = desktop.read(built / "notebooks" / LESSONS[0].name / "index.html")
    line = page.locator(".diptych-verified").inner_text()
    assert line.startswith("Verified on ")
    assert f"with PyTorch {found['pytorch']} and TensorFlow {found['tensorflow']}" in line
    heading = page.locator("article h1").bounding_box()
    assert page.locator(".diptych-verified").bounding_box()["y"] > heading["y"]  # under the title
    assert "agree" in page.locator("table.diptych-parity thead").inner_text()  # the run's table
    page = desktop.read(built / "notebooks" / LESSONS[1].name / "index.html")
    assert page.locator(".diptych-verified").count() == 0  # its table is the committed outputs'
    desktop.assert_clean("verified")


#: per tab set shown on paper: whether each framework's column is laid out, and whether any tab
#: label is (a folded section does not print)
PRINTED = """() => [...document.querySelectorAll('.diptych-pair')]
  .filter(pair => !pair.closest('details:not([open])')).map(pair => ({
    columns: [...pair.querySelectorAll(':scope > .sd-tab-content')].map(
               c => c.getBoundingClientRect().height > 0),
    labels: [...pair.querySelectorAll(':scope > label')].some(
               l => l.getBoundingClientRect().height > 0),
  }))"""
#: the code of every column laid out on paper
PRINTED_CODE = """() => [...document.querySelectorAll('.diptych-pair div.highlight pre')]
  .filter(pre => pre.getBoundingClientRect().height > 0).map(pre => pre.textContent)"""


@pytest.mark.slow
@pytest.mark.parametrize(("framework", "mine", "theirs"), [("tensorflow", "tf.", "torch")])
def test_a_lesson_prints_one_frameworks_track(built, desktop, framework, mine, theirs):
    """`?framework=` picks the track; on paper only its columns stand, however wide the window."""
    lesson = LESSONS[1]
    page = desktop.read(built / "notebooks" / lesson.name / "index.html", f"?framework={framework}")
    page.emulate_media(media="print")
    wanted = [key == framework for key in lesson.notebooks]
    printed = page.evaluate(PRINTED)
    assert printed and all(p == {"columns": wanted, "labels": False} for p in printed), printed
    code = page.evaluate(PRINTED_CODE)
    assert any(mine in text for text in code), f"no {framework} code on paper"
    assert not any(theirs in text for text in code), "the other framework's code on paper"
    # Chromium's own print to PDF (Playwright's page.pdf, headless only), for a reviewer to read
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(path=SCREENSHOTS / f"{lesson.name}-{framework}.pdf", format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    page.emulate_media(media="screen")  # and on screen, both columns again
    assert all(p["columns"] == [True, True] for p in page.evaluate(PRINTED))
    desktop.assert_clean(f"{lesson.name} printed")
