"""docs/workshop.md, the plan for a workshop, kept in step with the lessons: its learner minutes
are the ones ``diptych list`` computes (and the notebooks' headers state, rounded), its plans add
up to the times and totals they print, and every lesson, command, file and link it names exists.

No notebook is executed: the minutes are counted from the committed notebooks' cells."""

from __future__ import annotations

import json
import math
import re

import pytest

from diptych.command import registry
from diptych.command.cli import build_parser
from diptych.command.registry import FRAMEWORK_NAMES
from diptych.frameworks import KEYS

from helpers import REPO

WORKSHOP = REPO / "docs" / "workshop.md"
TEXT = WORKSHOP.read_text(encoding="utf-8")
LESSONS = registry.lessons(REPO)
SOLUTIONS = {lesson.name: lesson for lesson in registry.lessons(REPO, "solutions")}
TWINS = [(lesson, framework) for lesson in LESSONS for framework in lesson.notebooks]

#: the ``##`` heading of the table of every lesson's minutes, and those of the plans
MINUTES = "Learner minutes per lesson"
ONE_DAY = "The one-day plan"
PLANS = (ONE_DAY, "A shorter path: half a day", "A longer path: two days")
#: a plan's blocks that are not teaching time
BREAKS = ("break", "lunch")
#: "about six hours of teaching", as the page says of the one-day plan
DAY = (330, 390)
#: a block of a plan that is part of a lesson: "03 core path", "03 exercises"
LESSON_BLOCK = re.compile(r"(\d\d) (core path|exercises)")
#: the header's *Time* line (``sections.time_line``)
TIME_LINE = re.compile(
    r"about (\d+) minutes to read and run the core path and about (\d+) for its exercises"
)

Row = dict[str, str]


def cells(line: str) -> list[str]:
    """The cells of one row of a Markdown table."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def tables(text: str) -> dict[str, list[Row]]:
    """The first table under each ``##`` heading, its rows keyed by the header's cells."""
    found: dict[str, list[Row]] = {}
    heading = ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line.startswith("|") and heading not in found:
            rest = lines[i:]
            block = rest[: next((j for j, row in enumerate(rest) if not row.startswith("|")), None)]
            header = cells(block[0])  # block[1] is the |---| line
            found[heading] = [dict(zip(header, cells(row), strict=True)) for row in block[2:]]
    return found


TABLES = tables(TEXT)


def table(heading: str) -> list[Row]:
    """The table under ``## heading``, or a failure that says it is missing."""
    if heading not in TABLES:
        pytest.fail(f"{WORKSHOP.name}: no table under '## {heading}' (this test reads it)")
    return TABLES[heading]


def columns(framework: str) -> tuple[str, str]:
    """The minutes table's columns for one framework: core path and exercises."""
    name = FRAMEWORK_NAMES[framework]
    return f"{name} core", f"{name} exercises"


def listed(lesson: registry.Lesson) -> Row:
    """The minutes ``diptych list`` prints for a lesson (whole minutes), by the page's columns."""
    figures = {}
    for framework, minutes in lesson.minutes(SOLUTIONS.get(lesson.name)).items():
        core, exercises = columns(framework)
        figures[core] = f"{minutes.core:.0f}"
        figures[exercises] = f"{minutes.exercises:.0f}" if minutes.exercises else "none"
    return figures


def clock(time: str) -> int:
    """Minutes since midnight of "09:15"."""
    hours, minutes = time.split(":")
    return 60 * int(hours) + int(minutes)


def hhmm(minutes: int) -> str:
    """The clock time of some minutes since midnight: "09:15" for 555."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def room(minutes: list[int]) -> int:
    """How long the room gives a block: the slower track's minutes, rounded up to 5."""
    return 5 * math.ceil(max(minutes) / 5)


def test_the_minutes_table_lists_every_lesson_once_in_order() -> None:
    """A new lesson folder, or a renamed one, needs its row."""
    names = [row["lesson"] for row in table(MINUTES)]
    assert names == [lesson.name for lesson in LESSONS], (
        f"{WORKSHOP.name}: '## {MINUTES}' should have one row per lesson, in order"
    )


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_the_minutes_are_the_ones_diptych_list_prints(lesson: registry.Lesson) -> None:
    """A lesson or its exercises changed: the page says the row to paste."""
    rows = {row["lesson"]: row for row in table(MINUTES)}
    expected = listed(lesson)
    stated = {column: rows.get(lesson.name, {}).get(column) for column in expected}
    row = " | ".join([lesson.name, *expected.values()])
    assert stated == expected, (
        f"{WORKSHOP.name}: the lesson's minutes changed; its row should read | {row} | "
        "(then update the plans that use it)"
    )


@pytest.mark.parametrize("case", TWINS, ids=lambda case: f"{case[0].name}-{case[1]}")
def test_the_minutes_agree_with_the_notebooks_headers(case: tuple[registry.Lesson, str]) -> None:
    """The headers round to 5 minutes what the page states to the minute."""
    lesson, framework = case
    notebook = json.loads(lesson.notebooks[framework].read_text(encoding="utf-8"))
    header = "".join(notebook["cells"][0]["source"])
    found = TIME_LINE.search(header)
    assert found, f"{lesson.notebooks[framework].name}: no *Time* line in its header"
    row = {row["lesson"]: row for row in table(MINUTES)}.get(lesson.name)
    assert row, f"{WORKSHOP.name}: '## {MINUTES}' has no row for {lesson.name}"
    for column, said in zip(columns(framework), found.groups(), strict=True):
        # the header rounds to 5 minutes (up to 2.5 off), the page to the minute (0.5)
        assert abs(int(row[column]) - int(said)) <= 3, (
            f"{WORKSHOP.name}: {lesson.name}'s {column} is {row[column]} minutes, but the "
            f"notebook's header says about {said}"
        )


@pytest.mark.parametrize("plan", PLANS)
def test_a_plan_takes_the_lessons_minutes_and_adds_up(plan: str) -> None:
    """Each lesson block takes the lesson's minutes in each track; the room takes the slower
    track's, rounded up to 5; the start times follow the room; the totals leave breaks out."""
    figures = {lesson.number: listed(lesson) for lesson in LESSONS}
    rows = table(plan)
    *blocks, end, teaching = rows
    assert (end["block"], teaching["block"]) == ("end", "teaching"), (
        f"'## {plan}': the last two rows are 'end' (its time) and 'teaching' (the totals)"
    )
    now = clock(blocks[0]["start"])
    totals = dict.fromkeys(("PyTorch", "TensorFlow", "room"), 0)
    for block in blocks:
        name = block["block"]
        assert clock(block["start"]) == now, f"'## {plan}': {name} starts at {hhmm(now)}"
        minutes = {column: int(block[column]) for column in totals}
        part = LESSON_BLOCK.fullmatch(name)
        if part:
            number, kind = part.groups()
            assert number in figures, f"'## {plan}': {name}: there is no lesson {number}"
            for framework in KEYS:
                column = columns(framework)[0 if kind == "core path" else 1]
                track = FRAMEWORK_NAMES[framework]
                assert str(minutes[track]) == figures[number][column], (
                    f"'## {plan}': {name} takes {figures[number][column]} minutes in the "
                    f"{track} track (diptych list), not {minutes[track]}"
                )
            tracks = [minutes[FRAMEWORK_NAMES[fw]] for fw in KEYS]
            assert minutes["room"] == room(tracks), (
                f"'## {plan}': the room gives {name} {room(tracks)} minutes (the slower track, "
                "rounded up to 5)"
            )
        else:
            assert len(set(minutes.values())) == 1, (
                f"'## {plan}': {name} is the same for every track and the room"
            )
        now += minutes["room"]
        if name not in BREAKS:
            totals = {column: totals[column] + minutes[column] for column in totals}
    assert clock(end["start"]) == now, f"'## {plan}': it ends at {hhmm(now)}"
    stated = {column: int(teaching[column]) for column in totals}
    assert stated == totals, f"'## {plan}': the teaching time, breaks left out, is {totals}"
    if plan == ONE_DAY:
        assert DAY[0] <= totals["room"] <= DAY[1], (
            f"the one-day plan teaches {totals['room']} minutes, not about six hours"
        )


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_every_lesson_has_its_instructor_notes(lesson: registry.Lesson) -> None:
    """A section per lesson, with what to demo, where learners stumble, what to discuss."""
    section = re.search(rf"^### {lesson.number} .*?(?=^##)", TEXT, re.MULTILINE | re.DOTALL)
    assert section, f"{WORKSHOP.name}: no '### {lesson.number} ...' section for {lesson.name}"
    for part in ("**Demo.**", "**Stumbles.**", "**Discuss.**"):
        assert part in section.group(), f"{WORKSHOP.name}: {lesson.name}'s notes lack {part}"


def code_spans(text: str) -> list[str]:
    """Every inline code span of a Markdown text, line breaks inside one read as spaces."""
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", text)]


def test_every_diptych_command_it_names_exists(capsys: pytest.CaptureFixture[str]) -> None:
    """Every `diptych COMMAND --option` in the page is in that command's --help."""
    commands = [span.split()[1:] for span in code_spans(TEXT) if span.startswith("diptych ")]
    assert commands, "the page names no diptych command"
    for command, *arguments in commands:
        with pytest.raises(SystemExit) as raised:
            build_parser().parse_args([command, "--help"])
        assert raised.value.code == 0, f"`diptych {command}` is not a command"
        usage = capsys.readouterr().out
        for option in (arg.split("=")[0] for arg in arguments if arg.startswith("--")):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", usage), (
                f"`diptych {command}` has no option {option}"
            )


def test_every_make_target_file_and_link_it_names_exists() -> None:
    """`make X` and `scripts/make.py X` are Makefile targets; named files and links exist."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    spans = code_spans(TEXT)
    for target in re.findall(r"(?:^|[\s/\\])(?:make|make\.py) ([a-z-]+)", " ; ".join(spans)):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"no make target {target!r}"
    for span in spans:
        for path in re.findall(r"(?:requirements|scripts|solutions|tests)[/\\][\w./\\-]*", span):
            assert (REPO / path.replace("\\", "/")).exists(), f"`{span}` names a missing {path}"
    for link in re.findall(r"\]\(([^)]+)\)", TEXT):
        if not re.match(r"[a-z]+:|#", link):
            target = (WORKSHOP.parent / link.split("#")[0]).resolve()
            assert target.exists(), f"{WORKSHOP.name} links to {link}, which does not exist"
