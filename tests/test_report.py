"""Rows of ``diptych run``'s table: agreement with headroom, bars, and values read from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diptych.command.execution import Execution
from diptych.command.report import (
    LessonReport,
    compare_values,
    headroom_text,
    read_baseline,
    table,
    to_json,
)
from diptych.configurations import DEFAULT


def run(**values: dict) -> Execution:
    return Execution(path=Path("x.ipynb"), ok=True, seconds=1.0, values=values)


def entry(value, *, atol=1e-6, rtol=0.0, **extra) -> dict:
    return {"value": value, "atol": atol, "rtol": rtol, **extra}


def test_a_difference_within_tolerance_but_without_tenfold_headroom_is_thin():
    rows = compare_values(
        {"pytorch": run(loss=entry(1.0)), "tensorflow": run(loss=entry(1.0 + 5e-7))}
    )
    (row,) = rows
    assert not row.ok and row.status == "thin" and row.headroom == pytest.approx(2.0, rel=1e-6)


def test_tenfold_headroom_agrees_and_a_difference_beyond_tolerance_is_no():
    agree = compare_values(
        {"pytorch": run(loss=entry(1.0)), "tensorflow": run(loss=entry(1.0 + 5e-8))}
    )[0]
    disagree = compare_values(
        {"pytorch": run(loss=entry(1.0)), "tensorflow": run(loss=entry(1.1))}
    )[0]
    assert agree.ok and agree.status == "yes"
    assert not disagree.ok and disagree.status == "NO"


def test_three_frameworks_are_compared_pair_by_pair():
    """The widest pair is the second and the third (2e-7 apart; each is nearer the first): the row
    shows its difference and headroom. A third framework beyond the tolerance fails the row
    however well the first two agree."""
    three = {
        "first": run(loss=entry([1.0, 2.0])),
        "second": run(loss=entry([1.0 + 1.5e-7, 2.0])),
        "third": run(loss=entry([1.0 - 5e-8, 2.0])),
    }
    (row,) = compare_values(three)
    assert row.max_abs_diff == pytest.approx(2e-7, rel=1e-6)
    assert row.headroom == pytest.approx(1e-6 / 2e-7, rel=1e-6)
    assert not row.ok and row.status == "thin"
    three["second"] = run(loss=entry([1.0, 2.0]))
    assert compare_values(three)[0].ok
    three["third"] = run(loss=entry([1.0, 2.1]))
    assert compare_values(three)[0].status == "NO"


def test_a_value_one_of_three_frameworks_did_not_record_fails_its_row():
    three = {"first": run(loss=entry(1.0)), "second": run(loss=entry(1.0)), "third": run()}
    assert compare_values(three)[0].status == "NO"


def test_a_thin_check_against_the_reference_makes_the_row_thin():
    rows = compare_values(
        {
            "pytorch": run(g=entry([1.0], reference_headroom=3.0)),
            "tensorflow": run(g=entry([1.0], reference_headroom=None)),
        }
    )
    assert rows[0].status == "thin" and rows[0].headroom == 3.0


def test_a_bar_holds_each_framework_on_its_own():
    bar = {"atol": 0.0, "rtol": 0.0, "at_least": 0.985}
    passing = compare_values(
        {
            "pytorch": run(acc={"value": 0.989, **bar}),
            "tensorflow": run(acc={"value": 0.991, **bar}),
        }
    )[0]
    failing = compare_values(
        {"pytorch": run(acc={"value": 0.98, **bar}), "tensorflow": run(acc={"value": 0.991, **bar})}
    )[0]
    assert passing.ok and passing.at_least == 0.985 and passing.headroom is None
    assert not failing.ok and failing.status == "NO"


def test_the_table_and_json_show_headroom_and_bars():
    runs = {
        "pytorch": run(loss=entry(1.0), acc={"value": 0.99, "atol": 0, "rtol": 0, "at_least": 0.9}),
        "tensorflow": run(
            loss=entry(1.0 + 1e-8), acc={"value": 0.95, "atol": 0, "rtol": 0, "at_least": 0.9}
        ),
    }
    report = LessonReport("01_demo", runs, compare_values(runs))
    text = table(report)
    assert "headroom" in text and "100×" in text and "each ≥ 0.9" in text
    values = to_json([report], DEFAULT)["lessons"][0]["values"]
    assert values["loss"]["headroom"] == pytest.approx(100.0, rel=1e-6)
    assert values["acc"]["at_least"] == 0.9 and values["acc"]["status"] == "yes"


@pytest.mark.parametrize(
    ("headroom", "text"), [(None, "—"), (float("inf"), "∞"), (12.345, "12.3×"), (2.5e5, "2.5e+05×")]
)
def test_headroom_text(headroom, text):
    assert headroom_text(headroom) == text


def test_a_baseline_stands_in_for_the_framework_not_run_here(tmp_path):
    runs = {"pytorch": run(loss=entry(1.0)), "tensorflow": run(loss=entry(1.0))}
    report = LessonReport("01_demo", runs, compare_values(runs))
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps(to_json([report], DEFAULT)))
    baseline = read_baseline(path)
    assert baseline["01_demo"]["tensorflow"].values["loss"]["value"] == 1.0
    rows = compare_values({"pytorch": run(loss=entry(1.0 + 1e-8)), **baseline["01_demo"]})
    assert rows[0].ok and rows[0].values["tensorflow"] == 1.0


def test_a_baseline_leaves_out_a_framework_this_table_does_not_have(tmp_path):
    """A run on a machine with a package's framework (here "jax", in no row of this table)."""
    runs = {"pytorch": run(loss=entry(1.0)), "jax": run(loss=entry(1.0))}
    path = tmp_path / "elsewhere.json"
    path.write_text(json.dumps(to_json([LessonReport("01_demo", runs, compare_values(runs))])))
    assert list(read_baseline(path)["01_demo"]) == ["pytorch"]


@pytest.mark.parametrize("text", ["", "{}", '{"lessons": [{"notebooks": 3}]}', "not json"])
def test_a_baseline_that_is_not_a_result_is_refused_in_words(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="not a result written by 'diptych run --json'"):
        read_baseline(path)
