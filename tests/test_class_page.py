"""`diptych class --html`: the class's page, opened in a real browser.

The page is made as `diptych class` makes it (`classroom.prepare`, `build_table`,
`class_table.html_page`) for a small class holding every kind of row and cell: a notebook as
handed out (not attempted, never run), a broken file, a notebook that is not an exercise
notebook, and a worked one whose verdicts (passed, a named mistake, not checked, not run) are
given rather than run, so that no kernel starts. It is read in headless Chromium as
`tests/test_site.py` reads the site: no console error, no uncaught exception, no request, and
every cell's words readable on its colour.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import test_site
from test_class import broken, foreign
from test_site import CONTRAST, Reader

from diptych.command import class_table, classroom
from diptych.command.roster import Submission
from diptych.command.verdicts import Verdict
from diptych.outcomes import Status

from helpers import REPO

#: the site tests' Chromium (the system's, through Playwright), launched once for this module
browser = test_site.browser
HANDED_OUT = REPO / "exercises" / "01_tensors" / "exercises_tensors_pytorch.ipynb"


def _class(folder: Path) -> class_table.Table:
    """Four learners, one notebook each, every kind of row; the worked one's verdicts given."""
    untouched = folder / "ada" / HANDED_OUT.name
    untouched.parent.mkdir(parents=True)
    shutil.copyfile(HANDED_OUT, untouched)
    worked = folder / "grace" / HANDED_OUT.name
    worked.parent.mkdir(parents=True)
    worked.write_bytes(HANDED_OUT.read_bytes().replace(b"NotImplementedError", b"ValueError"))
    submissions = [
        Submission("ada", untouched),
        Submission("grace", worked),
        Submission("linus", broken(folder / "linus" / HANDED_OUT.name)),
        Submission("ken", foreign(folder / "ken" / "notes.ipynb")),
    ]
    stubs = classroom.handed_out()
    checked = [classroom.prepare(submission, stubs) for submission in submissions]
    assert checked[1].notebook is not None, "the worked notebook would not be run"
    statuses = [Status.PASSED, Status.FAILED, Status.NOT_CHECKED, Status.NOT_RUN]
    messages = ["", "the sum is transposed: got shape (3, 2), expected (2, 3)", "", ""]
    checked[1].verdicts = [
        Verdict(exercise.heading, status, message)
        for exercise, status, message in zip(checked[1].expected, statuses, messages, strict=False)
    ]
    checked[1].notebook = None
    names = {submission.learner: submission.learner for submission in submissions}
    return classroom.build_table(checked, names=names, anonymise=False)


@pytest.mark.slow
def test_the_class_page_opens_cleanly_and_every_cell_reads_on_its_colour(tmp_path, browser):
    table = _class(tmp_path / "class")
    kinds = {cell.kind for row in table.rows for cell in row.cells.values()}
    assert kinds == {"passed", "failed", "not-done", "not-checked", "not-run"}, kinds
    assert sum(bool(row.problem) for row in table.rows) == 2  # the broken and the foreign one
    page_file = tmp_path / "class.html"
    written = "Written by diptych (test)"
    page_file.write_text(
        class_table.html_page(table, title="Class progress", written=written), encoding="utf-8"
    )
    reader = Reader(browser, {"width": 1280, "height": 800})
    try:
        page = reader.read(page_file)
        assert page.locator("h1").inner_text() == "Class progress"
        assert page.locator("tbody tr").count() == len(table.rows) == 4
        for selector in ("tbody td[class]", "thead th", "tbody th"):
            cells = page.locator(selector)
            assert cells.count(), selector
            for index in range(cells.count()):
                contrast = cells.nth(index).evaluate(CONTRAST)
                assert contrast["ratio"] >= 4.5, (cells.nth(index).inner_text(), contrast)
        reader.assert_clean("the class page")
    finally:
        reader.context.close()
