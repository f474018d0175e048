"""The whole curriculum through ``diptych run`` under an imitated other CPU (AVX2 without AVX-512,
one thread): every lesson, both frameworks, every recorded value agrees with at least 10x headroom,
and no lesson writes to stderr.

Lessons whose values cannot come near the bar on another CPU are left out (``NOT_IMITATED``, each
with its reason). This machine as it is is covered by nbval, which executes every notebook once more under pytest
(each notebook's own checks against the reference and its bars, and its checked outputs against
the committed ones), and by ``make run``. One configuration here, not two, keeps ``make test``
within CI's ten minutes on two cores with nine lessons; the imitated CPU is the harder case (the
committed outputs come from this machine). ``diptych run --matrix`` runs all of them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from diptych.command import registry
from diptych.command.configurations import IMITATIONS
from diptych.parity import MIN_HEADROOM

REPO = Path(__file__).resolve().parents[1]
CONFIGURATIONS = (IMITATIONS[0].name,)
#: lessons left out of the imitated run, each with why: their recorded values are float64 runs
#: whose least headroom on the machine that built them is over 1,000x (another CPU's rounding
#: would have to be 100 times worse to reach the 10x bar), and the imitation costs CI minutes.
#: A new lesson runs here unless it is added to this list with its reason.
NOT_IMITATED = {
    "01_tensors": "float64 gradients; least headroom 4.1e3x",
    "02_gradient_descent": "float64 trajectories; least headroom 8.0e3x",
    "09_performance": "float64 parity runs (least headroom 1.2e6x); its notebooks time things",
}


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.ipynb"))
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """configuration -> (the finished command, its JSON); and the notebooks' hashes before."""
    folder = tmp_path_factory.mktemp("runs")
    before = digest(REPO / "notebooks")
    results = {}
    for name in CONFIGURATIONS:
        machine = [] if name == "default" else ["--cpu", name]
        path = folder / f"{name}.json"
        chosen = [
            lesson.name for lesson in registry.lessons(REPO) if lesson.name not in NOT_IMITATED
        ]
        command = ["run", *chosen, *machine, "--json", str(path)]
        finished = subprocess.run(
            [sys.executable, "-m", "diptych.command.cli", *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        document = json.loads(path.read_text()) if path.exists() else None
        results[name] = (finished, document)
    return results, before


@pytest.mark.slow
@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_every_lesson_runs_and_every_value_agrees_with_headroom(runs, configuration, repo):
    finished, document = runs[0][configuration]
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert document["configuration"]["name"] == configuration
    lessons = {entry["lesson"]: entry for entry in document["lessons"]}
    every = {lesson.name for lesson in registry.lessons(repo)}
    assert set(NOT_IMITATED) <= every  # a reason for a lesson that is gone is stale
    assert set(lessons) == every - set(NOT_IMITATED)
    for lesson, entry in lessons.items():
        assert len(entry["values"]) >= 4, lesson
        for name, row in entry["values"].items():
            where = f"{lesson} {name} under {configuration}"
            assert row["ok"] and row["status"] == "yes", where
            assert set(row) >= {"pytorch", "tensorflow"}, where
            if row["at_least"] is not None:  # a bar: each framework on its own
                assert row["pytorch"] >= row["at_least"] <= row["tensorflow"], where
                continue
            # None: the two values (or a value and the reference) are identical
            assert row["headroom"] is None or row["headroom"] >= MIN_HEADROOM, where
            margins = [h for h in row["reference_headroom"].values() if h is not None]
            assert all(h >= MIN_HEADROOM for h in margins), where
        for run in entry["notebooks"].values():
            assert run["ok"] and run["error"] is None and run["seconds"] > 0
    assert f"{len(lessons)} of {len(lessons)} lessons ok" in finished.stdout
    assert "headroom" in finished.stdout


@pytest.mark.slow
@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_no_lesson_writes_to_stderr_in_a_live_run(runs, configuration):
    """A warning is fixed at its cause: committed outputs strip stderr, so only a run shows it
    (how the run records it: tests/test_stderr.py)."""
    _, document = runs[0][configuration]
    written = [
        f"{entry['lesson']} {framework} cell {stream['cell']}: {stream['text'].strip()[:300]}"
        for entry in document["lessons"]
        for framework, run in entry["notebooks"].items()
        for stream in run["stderr"]
    ]
    assert written == []


@pytest.mark.slow
def test_step_by_step_trajectories_are_float64_tight(runs):
    """The rule for trajectories: float64, to a relative 1e-9 (lesson 07's CNN run included)."""
    _, document = runs[0][CONFIGURATIONS[0]]
    lessons = {entry["lesson"]: entry["values"] for entry in document["lessons"]}
    curve = lessons["07_cnn"]["parity_loss_curve"]
    assert curve["rtol"] == 1e-9 and curve["atol"] == 0 and len(curve["pytorch"]) >= 100


@pytest.mark.slow
def test_run_leaves_the_source_notebooks_byte_identical(runs):
    _, before = runs
    assert digest(REPO / "notebooks") == before
