"""``diptych site``: the curriculum as a static website, the frameworks side by side.

Built from the committed notebooks with Sphinx, myst-nb and sphinx-design (the ``site`` extra),
never executing one; read from ``file://`` or any static host, with nothing fetched at reading
time. The lessons are discovered (``registry``), so a new lesson folder is a new page.

The site is built in a scratch folder beside the target and then put in its place, so a failed
build leaves the previous site whole; a target folder that holds anything but a site diptych
built is never replaced.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diptych.command.registry import Lesson, lessons

if TYPE_CHECKING:
    from diptych.command.site_parity import ParityTable

#: Python module -> its package, for the message when the ``site`` extra is missing
SITE_PACKAGES = {
    "sphinx": "sphinx",
    "myst_nb": "myst-nb",
    "sphinx_design": "sphinx-design",
    "sphinx_book_theme": "sphinx-book-theme",
}
#: conf.py, the stylesheet and the vendored MathJax
ASSETS = Path(__file__).resolve().parents[1] / "site_assets"
#: a file in every site diptych builds: only a folder holding it is ever replaced
MARKER = ".diptych-site"


class SiteError(Exception):
    """The site cannot be built as asked; one line for a person."""


@dataclass(frozen=True)
class Built:
    """What a build made: the home page, the number of pages, Sphinx's warnings, seconds."""

    index: Path
    pages: int
    warnings: list[str]
    seconds: float


def require_extra() -> None:
    """Raise SiteError naming the extra when a package of the site is missing (nothing imported)."""
    missing = [
        package
        for module, package in SITE_PACKAGES.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise SiteError(
            f"'diptych site' needs the site extra ({', '.join(missing)} not installed): "
            "pip install -e '.[site]'"
        )


def check_target(out: Path) -> None:
    """Refuse a target that is not a folder of a site diptych built (or empty, or absent)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SiteError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(
            f"--out {out}: the folder holds files that are not a site built by diptych; "
            "choose an empty or new folder"
        )


def build(root: Path, out: Path, *, results: Path | None = None, progress: bool = True) -> Built:
    """Build the site of the curriculum at ``root`` into ``out``."""
    from diptych.command import site_parity

    require_extra()
    check_target(out)
    runs = None
    if results is not None:
        try:
            runs = site_parity.read_results(results)
        except ValueError as error:
            raise SiteError(str(error)) from None
    found = lessons(root)
    if not found:
        raise SiteError(f"no lessons in {root / 'notebooks'}")
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".diptych-site-", dir=out.parent))
    try:
        source = scratch / "source"
        _write_sources(root, source, found, runs, results)
        html = scratch / "html"
        pages, warnings = _run_sphinx(source, html, scratch / "doctrees", progress)
        # name the repository's files, not their copies in the scratch folder; a section copied
        # into a lesson page repeats its twin's warning
        warnings = list(dict.fromkeys(w.replace(str(source), str(root)) for w in warnings))
        (html / MARKER).write_text("built by 'diptych site'; replaced by the next build\n")
        _replace(out, html, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Built(out / "index.html", pages, warnings, time.monotonic() - started)


def _write_sources(
    root: Path,
    source: Path,
    found: list[Lesson],
    runs: list[dict[str, Any]] | None,
    results: Path | None,
) -> None:
    from diptych.command import site_pages, site_parity

    exercises = {lesson.name: lesson for lesson in lessons(root, "exercises")}
    solutions = lessons(root, "solutions")
    rows = []
    measured = []
    for lesson in found:
        folder = source / "notebooks" / lesson.name
        for framework, path in lesson.notebooks.items():
            site_pages.copy_lesson_notebook(path, folder / path.name, framework)
        headings = {
            fw: site_pages.h2_headings(_read(lesson.notebooks[fw])) for fw in lesson.notebooks
        }
        table: ParityTable | None = None
        if runs is not None:
            table = site_parity.from_results(runs, lesson.name, f"`{results.name}`")  # type: ignore[union-attr]
            if table is not None:
                measured.append(lesson.number)
        title = _title(lesson)
        practice = exercises.get(lesson.name)
        page = site_pages.lesson_page(
            lesson,
            title,
            site_pages.pair_sections(headings),
            table or site_parity.from_outputs(lesson),
            practice if practice and practice.notebooks else None,
            site_parity.verified(runs, lesson.name) if runs is not None else None,
        )
        (folder / "index.md").write_text(page, encoding="utf-8")
        rows.append((lesson, title, practice if practice and practice.notebooks else None))
    for practice in exercises.values():
        for path in practice.notebooks.values():
            target = source / "exercises" / practice.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    for solved in solutions:
        for path in solved.notebooks.values():
            target = source / "solutions" / solved.name / path.name
            site_pages.copy_solution_notebook(path, target)
    committed = (
        "what each notebook printed in its committed run (the headroom is measured by "
        "`diptych run`, and shown when the site is built with `--results`)"
    )
    if not measured:
        parity_source = f"{committed}."
    elif len(measured) == len(found):
        parity_source = f"measured by `diptych run`, read from `{results.name}`."  # type: ignore[union-attr]
    else:
        parity_source = (
            f"measured by `diptych run` for lessons {', '.join(measured)}, read from "
            f"`{results.name}`; for the others, {committed}."  # type: ignore[union-attr]
        )
    (source / "index.md").write_text(site_pages.index_page(rows, parity_source), encoding="utf-8")
    (source / "instructors.md").write_text(
        site_pages.instructors_page([s for s in solutions if s.notebooks]), encoding="utf-8"
    )


def _read(path: Path) -> Any:
    import nbformat

    return nbformat.read(path, as_version=4)


def _title(lesson: Lesson) -> str:
    for framework in lesson.notebooks:
        title = lesson.metadata(framework).get("title")
        if isinstance(title, str) and title:
            return title
    return lesson.slug.replace("_", " ")


def _run_sphinx(source: Path, html: Path, doctrees: Path, progress: bool) -> tuple[int, list[str]]:
    """Sphinx, silent but for a progress bar (reading, then writing, every page) and warnings."""
    from sphinx.application import Sphinx
    from sphinx.errors import SphinxError
    from sphinx.util.console import nocolor
    from tqdm import tqdm

    nocolor()
    warnings = io.StringIO()
    with tqdm(desc="diptych site", unit="page", disable=not progress, file=sys.stderr) as bar:
        try:
            app = Sphinx(
                str(source),
                str(ASSETS),
                str(html),
                str(doctrees),
                "html",
                status=None,
                warning=warnings,
                freshenv=True,
            )
            app.connect("env-before-read-docs", lambda _app, _env, names: bar.reset(2 * len(names)))
            app.connect("doctree-read", lambda _app, _doctree: bar.update())
            app.connect("doctree-resolved", lambda _app, _doctree, _name: bar.update())
            app.build()
        except SphinxError as error:
            raise SiteError(f"the site could not be built: {error}") from None
    pages = len(app.env.all_docs)
    return pages, [line for line in warnings.getvalue().splitlines() if line.strip()]


def _replace(out: Path, html: Path, scratch: Path) -> None:
    """Put the new site in place of the old one: rename the old aside, the new in, then delete."""
    old = scratch / "previous"
    if out.exists():
        out.rename(old)
    html.rename(out)
