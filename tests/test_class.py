"""`diptych class`: a class's exercise notebooks in one table, without leaking a thing.

The learners' notebooks are tiny and purpose-made: lesson 01's real checks of exercises 2 and 5,
which need nothing of an adapter but ``from_numpy``, given a NumPy stand-in, so that a kernel
imports no framework. Three learners' notebooks run once, in three layouts (module fixture, two
at a time); everything else (finding notebooks, pseudonyms, mistakes' short names, broken and
foreign notebooks, bad input) starts no kernel.
"""

from __future__ import annotations

import csv
import io
import types
from pathlib import Path

import numpy as np
import pytest

from diptych.checks import compare, tensors
from diptych.command import classroom, mistakes, roster
from diptych.command.cli import main
from diptych.command.exit_status import UsageError
from diptych.outcomes import Status

import numpy_adapter
from helpers import REPO, ROWS_CHECK, ROWS_RIGHT, diptych, write_notebook

#: a string planted in a learner's answer, where a check's message quotes it
MARKER = "zq-marker-7781"
SETUP = (
    "import types\nimport numpy as np\nfrom diptych.checks import tensors as checks\n"
    "adapter = types.SimpleNamespace(NAME='NumPy', from_numpy=lambda a: np.array(a, copy=True))"
)
OUTER_RIGHT = "def outer_sum(a, b):\n    return a[:, None] + b[None, :]"
OUTER_SWAPPED = f"def outer_sum(a, b):\n    # {MARKER}\n    return b[:, None] + a[None, :]"
ROWS_CRASH = f"def standardise_rows(X):\n    raise ValueError('{MARKER}')"
STUB = "    raise NotImplementedError('Replace this line with your code')"
OUTER_CHECK = ("checks.outer_sum(outer_sum, adapter)", ["exercise-check"])
#: the first cell of the two notebooks that must run at once: each marks its start, then waits
#: (at most a minute) for the other's mark; one at a time, the first would wait in vain
MEET = (
    "import pathlib, time\n"
    "here = pathlib.Path({folder!r})\n"
    "(here / {me!r}).touch()\n"
    "deadline = time.monotonic() + 60\n"
    "while not (here / {other!r}).exists() and time.monotonic() < deadline:\n"
    "    time.sleep(0.1)\n"
    "if not (here / {other!r}).exists():\n"
    "    del adapter  # ran alone: every check of this notebook fails"
)
#: an exercise notebook's name, of no framework's: its adapter is NumPy
EXERCISE = "exercises_tensors_numpy.ipynb"


def exercise_notebook(path: Path, *cells: str | tuple[str, list[str]]) -> Path:
    return write_notebook(path, SETUP, *cells, markdown="# Exercises: tensors")


def broken(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"cells": [', encoding="utf-8")
    return path


def foreign(path: Path) -> Path:
    return write_notebook(path, "print('my own notes')")


def files_as_they_are(folder: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def table_rows(stdout: str) -> dict[str, str]:
    """The first line of each row of the printed table, by its first cell (the learner)."""
    rows = [line for line in stdout.splitlines() if line.startswith("|")]
    return {line.split("|")[1].strip(): line for line in rows if line.split("|")[1].strip()}


# --- finding the learners' notebooks -------------------------------------------------------------


def test_nbgrader_submissions_are_found_from_the_course_or_the_submitted_folder(tmp_path):
    course = tmp_path / "course"
    foreign(course / "submitted" / "bob" / "01_tensors" / "renamed.ipynb")
    foreign(course / "submitted" / "alice" / "01_tensors" / EXERCISE)
    foreign(course / "submitted" / "alice" / "01_tensors" / ".ipynb_checkpoints" / EXERCISE)
    foreign(course / "source" / "01_tensors" / EXERCISE)  # the instructor's, not a learner's
    for path in (course, course / "submitted"):
        found = roster.discover([path])
        assert [(s.learner, s.notebook) for s in found] == [
            ("alice", EXERCISE),
            ("bob", "renamed.ipynb"),  # every notebook of a submission counts
        ]


def test_home_folders_give_their_exercise_notebooks_only(tmp_path):
    homes = tmp_path / "home"
    clone = homes / "carol" / "diptych"
    foreign(clone / "exercises" / "01_tensors" / EXERCISE)
    foreign(clone / "notebooks" / "01_tensors" / "tensors_pytorch.ipynb")  # a lesson
    foreign(clone / "solutions" / "01_tensors" / EXERCISE)  # worked solutions
    foreign(clone / "exercises" / "backups" / "01_tensors" / "exercises_tensors_pytorch-1.ipynb")
    foreign(clone / "exercises" / "01_tensors" / ".ipynb_checkpoints" / EXERCISE)
    (homes / "dan").mkdir()  # a learner with nothing yet has no row
    (homes / "eve").symlink_to(homes / "carol")  # a link to a folder is not followed
    found = roster.discover([homes])
    assert [(s.learner, s.path) for s in found] == [
        ("carol", clone / "exercises" / "01_tensors" / EXERCISE)
    ]


def test_plain_files_are_each_their_own_learner(tmp_path):
    folder = tmp_path / "collected"
    foreign(folder / "Zoe.ipynb")
    foreign(folder / "adam.ipynb")
    given = foreign(tmp_path / "elsewhere" / "ben.ipynb")
    found = roster.discover([folder, given, given])  # a file given twice is one row
    assert [(s.learner, s.notebook) for s in found] == [
        ("adam", "adam.ipynb"),
        ("ben", "ben.ipynb"),
        ("Zoe", "Zoe.ipynb"),
    ]


def test_a_missing_path_or_no_notebook_at_all_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file or folder"):
        roster.discover([tmp_path / "nope"])
    (tmp_path / "empty" / "amy").mkdir(parents=True)
    with pytest.raises(UsageError, match="no learners' notebooks found"):
        roster.discover([tmp_path / "empty"])


def test_pseudonyms_follow_the_sorted_names_and_sort_as_numbers():
    names = [f"learner-{n}" for n in range(12)] + ["Ann", "bob", "ann"]
    made = roster.pseudonyms(names * 2)
    assert made["Ann"] == "learner 01" and made["ann"] == "learner 02"
    assert made["bob"] == "learner 03" and sorted(made.values())[-1] == "learner 15"
    assert made == roster.pseudonyms(reversed(names))


# --- mistakes' short names -----------------------------------------------------------------------


def failure(check, learner, outcomes) -> str:
    check(learner, numpy_adapter)
    return outcomes()[-1].message


def test_the_shared_comparisons_messages_get_fixed_names():
    def named(value, expected, **kwargs):
        with pytest.raises(compare.Mismatch) as raised:
            compare.expect_array(value, expected, what="f(x) for x = 3", atol=1e-9, **kwargs)
        return mistakes.short_name(str(raised.value))

    square = np.arange(6.0).reshape(2, 3)
    assert named(square.T, square) == "axes swapped"
    assert named(square[:, :2], square) == "wrong shape"
    assert named(square.astype(np.float32), square, dtype=np.float64) == "wrong dtype"
    assert named(np.where(square > 2, np.inf, square), square) == "inf or nan"
    assert named(np.arange(9.0).reshape(3, 3).T, np.arange(9.0).reshape(3, 3)) == "axes swapped"
    assert named(square + 1, square) == "wrong values"
    assert named(square * (1 + 1e-7), square) == "float32 rounding"


def test_a_named_mistake_is_its_first_clause_without_numbers_code_or_strange_words(outcomes):
    swapped = failure(tensors.outer_sum, lambda a, b: b[:, None] + a[None, :], outcomes)
    assert mistakes.short_name(swapped) == "axes swapped"
    ddof = failure(
        tensors.standardise_rows,
        lambda X: (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, ddof=1, keepdims=True),
        outcomes,
    )
    assert "`std`" in ddof  # the message quotes code; its label never does
    assert mistakes.short_name(ddof) == "your standard deviation divides by m − #"

    class Zq7781Error(Exception):  # a learner's own exception, message and line
        pass

    def crash(X):
        raise Zq7781Error(MARKER)

    crashed = failure(tensors.standardise_rows, crash, outcomes)
    assert MARKER in crashed and "Zq7781Error" in crashed
    assert mistakes.short_name(crashed) == "your code raised …"
    assert mistakes.short_name(f"your code raised ValueError: {MARKER}") == (
        "your code raised ValueError"
    )
    long = "every row is centred, but not scaled to a standard deviation of 1"
    assert mistakes.short_name(long) == "every row is centred, but not scaled to…"
    quoted = "for f = Σ x³ you return 0.25 where 'zq' is `x + 1`; the rest"
    assert mistakes.short_name(quoted) == "for f = Σ x³ you return # where … is …"


# --- no kernel: rows for notebooks that cannot run, bad input ------------------------------------


def test_broken_and_foreign_notebooks_are_rows_and_anonymised_outputs_name_no_one(tmp_path, capsys):
    course, homes, loose = tmp_path / "course", tmp_path / "homes", tmp_path / "loose"
    broken(course / "submitted" / "alice_smith" / "01_tensors" / EXERCISE)
    foreign(homes / "bob_jones" / "diptych" / "exercises" / "week1" / "exercises_notes.ipynb")
    r_notebook = write_notebook(loose / "carol_white.ipynb", "1")
    text = r_notebook.read_text(encoding="utf-8").replace('"language": "python"', '"language": "R"')
    r_notebook.write_text(text, encoding="utf-8")
    out_csv, out_html = tmp_path / "out" / "class.csv", tmp_path / "out" / "class.html"
    options = ["--anonymise", "--no-progress", "--csv", str(out_csv), "--html", str(out_html)]
    status = main(["class", str(course), str(homes), str(loose), *options])
    printed = capsys.readouterr()
    assert status == 1 and printed.err == ""
    outputs = {"stdout": printed.out, "csv": out_csv.read_text(), "html": out_html.read_text()}
    for name, text in outputs.items():
        for person in ("alice", "smith", "bob", "jones", "carol", "white", str(tmp_path)):
            assert person not in text.lower(), f"{name} names {person}"
    with out_csv.open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["learner"], r["notebook"], r["note"]) for r in table] == [
        ("learner 1", EXERCISE, "error: not a valid notebook"),
        ("learner 2", "exercises_notes.ipynb", "error: not an exercise notebook"),
        ("learner 3", "–", "error: not a Python notebook"),
    ]
    assert "<script" not in outputs["html"] and "learner 3" in outputs["html"]


def test_without_anonymise_the_folders_names_are_the_learners(tmp_path, capsys):
    broken(tmp_path / "class" / "alice" / EXERCISE)
    foreign(tmp_path / "class" / "bob.ipynb")
    assert main(["class", str(tmp_path / "class"), "--no-progress"]) == 1
    rows = table_rows(capsys.readouterr().out)
    assert EXERCISE in rows["alice"] and "error: not a valid notebook" in rows["alice"]
    assert "bob.ipynb" in rows["bob"] and "error: not an exercise notebook" in rows["bob"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nope"], "no such file or folder"),
        (["{tmp}/empty"], "no learners' notebooks found"),
        (["{tmp}/class", "--csv", "{tmp}/a-file/x.csv"], "is a file, not a folder"),
        (["{tmp}/class", "--html", "{tmp}"], "that is a folder"),
        (["{tmp}/class", "--timeout", "0"], "--timeout"),
        (["{tmp}/class", "--anon"], "unrecognized arguments: --anon"),
    ],
    ids=["missing", "empty", "csv-under-a-file", "html-a-folder", "timeout", "abbreviated"],
)
def test_bad_input_is_one_line_and_exit_2_before_anything_runs(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("")
    foreign(tmp_path / "class" / "amy.ipynb")
    try:
        status = main(["class", *(arg.format(tmp=tmp_path) for arg in args), "--no-progress"])
    except SystemExit as exit:  # argparse's errors
        status = exit.code
    printed = capsys.readouterr()
    assert status == 2 and printed.out == ""
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], printed.err


# --- kernels: three learners in three layouts, two at a time --------------------------------------


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """alice (nbgrader) solved both exercises; bob (a home folder) swapped the axes and crashed
    on a marker; carol (a plain file) left a stub and deleted a check. alice and bob must run at
    once (--jobs 2) to get past their first cell. Their files, before and after, and the run."""
    root = tmp_path_factory.mktemp("class")
    meet = root / "meet"
    meet.mkdir()
    exercise_notebook(
        root / "course" / "submitted" / "alice" / "01_tensors" / EXERCISE,
        MEET.format(folder=str(meet), me="alice", other="bob"),
        OUTER_RIGHT,
        OUTER_CHECK,
        ROWS_RIGHT,
        ROWS_CHECK,
    )
    exercise_notebook(
        root / "homes" / "bob" / "diptych" / "exercises" / "01_tensors" / EXERCISE,
        MEET.format(folder=str(meet), me="bob", other="alice"),
        OUTER_SWAPPED,
        OUTER_CHECK,
        ROWS_CRASH,
        ROWS_CHECK,
    )
    exercise_notebook(
        root / "loose" / "carol.ipynb",
        f"def outer_sum(a, b):\n{STUB}",
        OUTER_CHECK,
        f"def standardise_rows(X):\n{STUB}",  # its check cell deleted
    )
    broken(root / "loose" / "dave.ipynb")
    learners = [root / "course", root / "homes", root / "loose"]
    before = {path: files_as_they_are(path) for path in learners}
    out = root / "out"
    result = diptych(
        "class",
        *map(str, learners),
        "--jobs",
        "2",
        "--csv",
        str(out / "class.csv"),
        "--html",
        str(out / "class.html"),
        timeout=300,
    )
    after = {path: files_as_they_are(path) for path in learners}
    return types.SimpleNamespace(
        result=result,
        rows=table_rows(result.stdout),
        csv=(out / "class.csv").read_text(encoding="utf-8"),
        html=(out / "class.html").read_text(encoding="utf-8"),
        before=before,
        after=after,
    )


@pytest.mark.slow
def test_each_learner_gets_a_row_and_each_exercise_a_word(class_run):
    result = class_run.result
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    table = list(csv.DictReader(io.StringIO(class_run.csv)))
    got = {row["learner"]: (row["tensors 2"], row["tensors 5"], row["passed"]) for row in table}
    assert got == {
        "alice": ("passed", "passed", "2/5"),
        "bob": ("axes swapped", "your code raised ValueError", "0/5"),
        "carol": ("not attempted", "not checked", "0/5"),
        "dave": ("", "", ""),
    }
    others = {row[key] for row in table for key in ("tensors 1", "tensors 3", "tensors 4")}
    assert others == {"not checked", ""}  # no check cell in these notebooks, dave's none
    assert {row["learner"]: row["note"] for row in table}["dave"] == "error: not a valid notebook"
    assert "axes swapped" in class_run.rows["bob"] and "2/5" in class_run.rows["alice"]
    assert "tensors 2: Exercise 2: An outer sum by broadcasting" in result.stdout
    assert "4 learner(s), 4 notebook(s): 2 of 15 exercises passed" in result.stdout
    assert 'title="Exercise 2: An outer sum by broadcasting"' in class_run.html
    assert '<td class="failed">axes swapped</td>' in class_run.html


@pytest.mark.slow
def test_no_output_holds_an_answer_or_the_learners_code(class_run):
    outputs = {"stdout": class_run.result.stdout, "csv": class_run.csv, "html": class_run.html}
    for name, text in outputs.items():
        assert MARKER not in text, f"{name} quotes a learner's code"
        for code in ("a[:, None]", "keepdims", "NotImplementedError", "the expected value is"):
            assert code not in text, f"{name} holds {code!r}"


@pytest.mark.slow
def test_the_learners_files_are_never_changed(class_run):
    assert class_run.after == class_run.before  # bytes and modification times, every file


@pytest.mark.slow
def test_a_notebook_past_its_time_limit_is_a_row_that_says_so(tmp_path):
    sleeper = exercise_notebook(
        tmp_path / "amy.ipynb",
        "import time\ntime.sleep(600)",
        OUTER_RIGHT,
        OUTER_CHECK,
    )
    result = diptych("class", str(sleeper), "--timeout", "2", "--csv", str(tmp_path / "c.csv"))
    assert result.returncode == 1, result.stdout + result.stderr
    (row,) = csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text(encoding="utf-8")))
    assert (row["tensors 2"], row["note"]) == ("not run", "error: timed out")


def test_a_notebook_as_handed_out_is_not_attempted_without_a_run(tmp_path):
    # on a hub every learner holds every lesson's exercises (diptych.command.handout): one still
    # as the curriculum hands it out says "not attempted" of each exercise, and starts no kernel
    stub = REPO / "exercises" / "01_tensors" / "exercises_tensors_pytorch.ipynb"
    given = tmp_path / "ada" / stub.name
    given.parent.mkdir()
    given.write_bytes(stub.read_bytes().replace(b"\n", b"\r\n"))  # saved on Windows
    stubs = classroom.handed_out()

    untouched = classroom.prepare(roster.Submission("ada", given), stubs)

    assert untouched.notebook is None and not untouched.problem
    assert untouched.expected
    assert [v.status for v in untouched.verdicts] == [Status.NOT_DONE] * len(untouched.expected)
    given.write_bytes(stub.read_bytes().replace(b"NotImplementedError", b"NotImplementedErrors"))
    edited = classroom.prepare(roster.Submission("ada", given), stubs)
    assert edited.notebook is not None and edited.verdicts == []
