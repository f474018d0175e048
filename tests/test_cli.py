"""The diptych command: every subcommand's success and failure paths, and its exit codes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diptych import registry
from diptych.cli import main

REPO = Path(__file__).resolve().parents[1]


def diptych(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "diptych.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.ipynb"))
    }


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """`diptych run` of every lesson, twice, with the notebooks' hashes before and after."""
    folder = tmp_path_factory.mktemp("runs")
    before = digest(REPO / "notebooks")
    results = [diptych("run", "--json", str(folder / f"run{i}.json")) for i in (1, 2)]
    return results, [json.loads((folder / f"run{i}.json").read_text()) for i in (1, 2)], before


@pytest.mark.slow
def test_run_executes_every_lesson_and_every_value_agrees(two_runs, repo):
    (first, _), (report, _), _ = two_runs
    assert first.returncode == 0, first.stdout + first.stderr
    lessons = {entry["lesson"]: entry for entry in report["lessons"]}
    assert set(lessons) == {lesson.name for lesson in registry.lessons(repo)}
    assert (
        f"{len(lessons)} of {len(lessons)} lessons ok" in first.stdout and "gd_path" in first.stdout
    )
    for entry in lessons.values():
        assert len(entry["values"]) >= 4
        for name, value in entry["values"].items():
            assert value["ok"], name
            assert value["max_abs_diff"] <= value["tolerance"] + value["rtol"] * max(
                map(abs, np.ravel(value["tensorflow"]))
            ), name
        for run in entry["notebooks"].values():
            assert run["ok"] and run["error"] is None and run["seconds"] > 0
    gradient = lessons["01_tensors"]["values"]["gradient"]
    assert gradient["tolerance"] == 1e-10 and len(gradient["pytorch"]) == 5


@pytest.mark.slow
def test_run_twice_records_bit_identical_values(two_runs):
    _, (first, second), _ = two_runs
    values = [
        {
            e["lesson"]: {k: (v["pytorch"], v["tensorflow"]) for k, v in e["values"].items()}
            for e in report["lessons"]
        }
        for report in (first, second)
    ]
    assert values[0] == values[1]


@pytest.mark.slow
def test_run_leaves_the_source_notebooks_byte_identical(two_runs):
    *_, before = two_runs
    assert digest(REPO / "notebooks") == before


def test_list_shows_every_lesson_with_its_run_time(capsys):
    assert main(["list"]) == 0
    output = capsys.readouterr().out
    assert "01_tensors" in output and "Gradient descent" in output and "~10 s" in output


def test_doctor_reports_versions_and_passes_here(capsys):
    assert main(["doctor"]) == 0
    output = capsys.readouterr().out
    assert "PyTorch" in output and "TensorFlow" in output and "can run the curriculum" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "99"], "unknown lesson '99'"),
        (["run", "transformers"], "known lessons: 01_tensors"),
    ],
)
def test_unknown_lesson_is_a_usage_error_without_traceback(args, message):
    result = diptych(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unknown_framework_is_a_usage_error():
    result = diptych("run", "01", "--framework", "jax")
    assert result.returncode == 2 and "invalid choice: 'jax'" in result.stderr


def test_bad_timeout_and_jobs_are_usage_errors():
    assert diptych("run", "--timeout", "-3").returncode == 2
    assert diptych("run", "--jobs", "0").returncode == 2


def test_no_curriculum_found_is_a_usage_error(tmp_path):
    result = diptych("list", cwd=tmp_path, env={"PATH": "", "DIPTYCH_ROOT": str(tmp_path)})
    assert result.returncode == 2 and "no notebooks/ folder" in result.stderr


def test_missing_twin_is_a_usage_error(make_curriculum, capsys):
    make_curriculum({"01_demo": {"pytorch": ["1"]}})
    assert main(["run", "01"]) == 2
    assert "has no tensorflow notebook" in capsys.readouterr().err


def test_truncated_notebook_is_a_usage_error(make_curriculum, capsys):
    root = make_curriculum({"01_demo": {"pytorch": ["1"], "tensorflow": ["1"]}})
    path = root / "notebooks/01_demo/demo_tensorflow.ipynb"
    path.write_text(path.read_text()[:40])
    assert main(["run", "01"]) == 2
    assert "not a valid notebook" in capsys.readouterr().err


RECORD = "from diptych import parity\nparity.record('loss', {value}, atol=1e-6)"


@pytest.mark.slow
def test_failing_cell_is_reported_with_cell_number_and_error(make_curriculum, capsys, tmp_path):
    make_curriculum(
        {
            "01_demo": {
                "pytorch": [RECORD.format(value=1.0)],
                "tensorflow": ["x = 1", "raise ValueError('learning rate too high')"],
            }
        }
    )
    assert main(["run", "01", "--json", str(tmp_path / "out.json")]) == 1
    output = capsys.readouterr().out
    assert (
        "cell 3 (\"raise ValueError('learning rate too high')\") raised ValueError: learning rate too high"
        in output
    )


@pytest.mark.slow
def test_values_that_disagree_fail_the_run_and_the_json_says_why(make_curriculum, capsys, tmp_path):
    make_curriculum(
        {
            "01_demo": {
                "pytorch": [RECORD.format(value=1.0)],
                "tensorflow": [RECORD.format(value=1.1)],
            }
        }
    )
    assert main(["run", "demo", "--json", str(tmp_path / "r.json")]) == 1
    assert "NO" in capsys.readouterr().out
    loss = json.loads((tmp_path / "r.json").read_text())["lessons"][0]["values"]["loss"]
    assert loss["pytorch"] == 1.0 and loss["tensorflow"] == 1.1 and loss["ok"] is False
    assert loss["max_abs_diff"] == pytest.approx(0.1)


@pytest.mark.slow
def test_one_framework_only_runs_one_notebook(make_curriculum, capsys, tmp_path):
    make_curriculum({"01_demo": {"pytorch": [RECORD.format(value=1.0)], "tensorflow": ["1/0"]}})
    assert main(["run", "01", "--framework", "pytorch", "--json", str(tmp_path / "r.json")]) == 0
    notebooks = json.loads((tmp_path / "r.json").read_text())["lessons"][0]["notebooks"]
    assert list(notebooks) == ["pytorch"]


@pytest.mark.slow
def test_a_cell_past_the_timeout_is_reported(make_curriculum, capsys):
    make_curriculum({"01_demo": {"pytorch": ["import time\ntime.sleep(30)"]}})
    assert main(["run", "01", "--framework", "pytorch", "--timeout", "2"]) == 1
    assert "ran longer than the per-cell timeout of 2 s" in capsys.readouterr().out


@pytest.mark.slow
def test_plots_draw_recorded_curves_of_both_frameworks(make_curriculum, capsys, tmp_path):
    curve = "from diptych import parity\nparity.record('loss_curve', [3.0, 2.0, 1.5, 1.2], atol=1e-6)\nparity.record('grad', [1.0, 2.0], atol=1e-6)"
    make_curriculum({"01_demo": {"pytorch": [curve], "tensorflow": [curve]}})
    assert main(["run", "01", "--plots", str(tmp_path / "plots"), "--jobs", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["01_demo-loss_curve.png"]
    assert "1 overlay plot(s)" in capsys.readouterr().out
