"""A lesson's sections: the core path within its budget, then the folded going-deeper and Parity
sections, and a header that states the learner minutes the notebook really takes."""

from __future__ import annotations

import json

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from diptych.command import registry, sections
from diptych.command.sections import COLLAPSED, CORE_BUDGET_MINUTES

from helpers import REPO

LESSONS = registry.lessons(REPO)
SOLUTIONS = {lesson.name: lesson for lesson in registry.lessons(REPO, "solutions")}
NOTEBOOKS = [(lesson, fw) for lesson in LESSONS for fw in lesson.notebooks]


def ids(case: tuple[registry.Lesson, str]) -> str:
    return f"{case[0].name}-{case[1]}"


def tiny() -> dict:
    return new_notebook(
        cells=[
            new_markdown_cell("# Title\n\nFour words of prose."),  # 6 words, core
            new_code_cell("x = 1  # one line\n\n# a comment\ny = 2"),  # 2 lines, core
            new_markdown_cell("## Going deeper: why\n\nThe $\\sqrt{x}$ derivation"),  # 7 words
            new_code_cell("z = 3"),  # deeper
            new_markdown_cell("## Parity\n\nChecked."),  # 3 words, the hashes too
            new_code_cell("check()"),
        ]
    )


def test_sections_are_told_apart_by_their_headings():
    assert sections.kind_of("Going deeper: how accurate is a finite difference?") == "deeper"
    assert sections.kind_of("Parity") == "parity"
    assert sections.kind_of("Parity of the twins") == "core"  # only the section named Parity
    assert sections.kind_of("The math") == "core"
    assert sections.folds("Going deeper: x") and sections.folds("Parity")
    assert not sections.folds("Summary")


def test_reading_counts_words_and_code_lines_per_kind():
    notebook = tiny()
    assert sections.reading(notebook, "core") == sections.Reading(words=6, code_lines=2)
    assert sections.reading(notebook, "deeper") == sections.Reading(words=7, code_lines=1)
    assert sections.reading(notebook, "parity") == sections.Reading(words=3, code_lines=1)
    assert sections.Reading(words=240, code_lines=16).minutes == 2 + 2


def test_exercise_minutes_count_prose_solution_lines_and_a_fixed_cost_per_exercise():
    solution = new_notebook(
        cells=[
            new_markdown_cell("# Exercises\n\nIntro words are not an exercise."),
            new_markdown_cell("## Exercise 1: add\n\n" + "word " * 116),  # 120 words: 1 min
            new_code_cell(
                "def f(x):\n    ### BEGIN SOLUTION\n    y = x\n    return y\n    ### END SOLUTION"
            ),  # two solution lines: 4 min
            new_code_cell("checks.add(f, adapter)"),
            new_markdown_cell("## What next\n\nMore words."),
        ]
    )
    assert sections.exercise_minutes(solution) == pytest.approx(5 + 1 + 4)


def test_the_time_line_rounds_to_five_minutes_as_a_person_says_it():
    assert sections.rounded(2) == 5 and sections.rounded(32.4) == 30 and sections.rounded(33) == 35
    line = sections.time_line(31.0, 52.6, 11.0, 15)
    assert line == (
        "*Time:* about 30 minutes to read and run the core path and about 55 for its exercises "
        "(the folded going-deeper and Parity sections add about 10); the notebook executes in "
        "about 15 seconds on a laptop CPU."
    )


@pytest.mark.parametrize("case", NOTEBOOKS, ids=ids)
def test_every_core_path_fits_one_sitting(case):
    lesson, framework = case
    minutes = lesson.minutes()[framework].core
    assert minutes <= CORE_BUDGET_MINUTES, (
        f"{lesson.notebooks[framework].name}: the core path takes {minutes:.1f} learner minutes, "
        f"over the budget of {CORE_BUDGET_MINUTES}: move derivations, parity and detours into "
        "'Going deeper: ...' sections, or split the lesson"
    )


@pytest.mark.parametrize("case", NOTEBOOKS, ids=ids)
def test_going_deeper_and_parity_come_after_the_core_path_and_open_folded(case):
    lesson, framework = case
    notebook = json.loads(lesson.notebooks[framework].read_text(encoding="utf-8"))
    headings = [(sections.h2(cell), cell) for cell in notebook["cells"] if sections.h2(cell)]
    folded = [sections.folds(heading) for heading, _ in headings]
    assert any(folded), f"{lesson.name} {framework}: no Parity or going-deeper section"
    first = folded.index(True)
    assert all(folded[first:]), (
        f"{lesson.name} {framework}: a core section follows a folded one: "
        f"{[h for (h, _), f in zip(headings, folded, strict=True) if not f][-1]!r}"
    )
    for (heading, cell), folds in zip(headings, folded, strict=True):
        assert cell.get("metadata", {}).get(COLLAPSED, False) is folds, (
            f"{lesson.name} {framework}: '## {heading}' should "
            f"{'carry' if folds else 'not carry'} {COLLAPSED}"
        )


@pytest.mark.parametrize("case", NOTEBOOKS, ids=ids)
def test_the_header_states_the_learner_minutes_the_notebook_takes(case):
    lesson, framework = case
    minutes = lesson.minutes(SOLUTIONS.get(lesson.name))[framework]
    seconds = lesson.metadata(framework).get("expected_seconds")
    expected = sections.time_line(minutes.core, minutes.exercises, minutes.deeper, seconds)
    notebook = json.loads(lesson.notebooks[framework].read_text(encoding="utf-8"))
    header = "".join(notebook["cells"][0]["source"])
    assert expected in header, (
        f"{lesson.notebooks[framework].name}: its header should say\n{expected}"
    )


def test_diptych_list_shows_each_twins_learner_minutes(make_curriculum, capsys):
    from diptych.command.cli import main

    prose = "## Notes\n\n" + "word " * 238  # 240 words with the heading: 2 minutes
    make_curriculum(
        {"01_demo": {"pytorch": [prose, "x = 1"] * 3, "tensorflow": [prose, "x = 1"] * 6}}
    )
    assert main(["list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "01_demo" in line)
    # make_curriculum opens each notebook with a two-word "## Parity" cell, folded
    pytorch, tensorflow = 3 * (2 + 1 / 8), 6 * (2 + 1 / 8)
    assert f"{pytorch:.0f} / {tensorflow:.0f}" in row, row


def test_diptych_list_shows_a_lesson_whose_solutions_are_missing_or_partial(
    make_curriculum, capsys
):
    from diptych.command.cli import main

    root = make_curriculum({"01_demo": {"pytorch": ["x = 1"], "tensorflow": ["x = 1"]}})
    (root / "solutions" / "01_demo").mkdir(parents=True)  # a folder, no notebook yet
    assert main(["list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "01_demo" in line)
    assert row.rstrip().endswith("none"), row
