"""The diptych command: every subcommand's success and failure paths, and its exit codes."""

from __future__ import annotations

import contextlib
import io
import json
import types

import pytest

from diptych.command.cli import main
from diptych.frameworks import KEYS

from helpers import REPO, diptych, write_notebook


def exit_status_of(args: list[str]) -> int | str | None:
    """``main(args)``'s exit status, argparse's refusals (SystemExit) included: the command's
    checks of its input, run in this process, as no kernel starts before they pass."""
    try:
        return main(args)
    except SystemExit as exit:
        return exit.code


def test_list_shows_every_lesson_with_its_run_time(capsys):
    assert main(["list"]) == 0
    output = capsys.readouterr().out
    assert "01_tensors" in output and "Gradient descent" in output and "~10 s" in output
    # each twin's own run time, PyTorch's then TensorFlow's, as the minutes columns
    from diptych.command.registry import lessons

    (tensors,) = [lesson for lesson in lessons(REPO) if lesson.name == "01_tensors"]
    seconds = [tensors.metadata(fw)["expected_seconds"] for fw in ("pytorch", "tensorflow")]
    assert f"~{seconds[0]} s / ~{seconds[1]} s" in output


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
def test_unknown_lesson_is_a_usage_error_without_traceback(args, message, capsys):
    """In this process (an exception main() let through would fail the test with its traceback):
    a fresh process's exit status is the unknown-framework test's subject, next."""
    assert exit_status_of(args) == 2
    stderr = capsys.readouterr().err
    assert message in stderr and "Traceback" not in stderr


def test_an_unknown_framework_is_a_usage_error_that_names_the_known_ones():
    result = diptych("run", "01", "--framework", "no-such-framework")
    assert result.returncode == 2 and "invalid choice: 'no-such-framework'" in result.stderr
    assert all(f"'{key}'" in result.stderr for key in KEYS), result.stderr


def test_bad_timeout_and_jobs_are_usage_errors():
    assert exit_status_of(["run", "--timeout", "-3"]) == 2
    assert exit_status_of(["run", "--jobs", "0"]) == 2


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
    """One kernel: the failing twin alone (its PyTorch twin, which passes, adds nothing here)."""
    make_curriculum(
        {
            "01_demo": {
                "pytorch": [RECORD.format(value=1.0)],
                "tensorflow": ["x = 1", "raise ValueError('learning rate too high')"],
            }
        }
    )
    args = ["run", "01", "--framework", "tensorflow", "--json", str(tmp_path / "out.json")]
    assert main(args) == 1
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


CURVE = (
    "from diptych import parity\n"
    "parity.record('loss_curve', [3.0, 2.0, 1.5, 1.2], atol=1e-6)\n"
    "parity.record('grad', [1.0, 2.0], atol=1e-6)"
)
ISA = (
    "import os\nfrom diptych import parity\n"
    "parity.record('isa', float(os.environ.get('ONEDNN_MAX_CPU_ISA') == 'AVX2'), atol=0)\n"
    "parity.record('threads', float(os.environ.get('OMP_NUM_THREADS', '0')), atol=0)"
)


@pytest.fixture(scope="module")
def imitated_run(tmp_path_factory) -> types.SimpleNamespace:
    """One run of a lesson whose twins both pass, under an imitated CPU and with every output
    asked for: ``diptych run 01 --cpu avx2-1thread --jobs 2 --no-progress --json --plots``. Both
    twins write to stderr (kept in the JSON, cell by cell), record what their kernel's environment
    says of the configuration, and record curves (drawn as overlay plots). The tests of the
    configuration, the plots and the stderr record read this one run: two kernels, not six."""
    root = tmp_path_factory.mktemp("imitated-run")
    lesson = root / "notebooks" / "01_demo"
    write_notebook(
        lesson / "demo_pytorch.ipynb",
        "import warnings\nwarnings.warn('a learner would see this in red')",
        ISA,
        CURVE,
    )
    write_notebook(
        lesson / "demo_tensorflow.ipynb",
        "print('all is well')",
        "import sys\nprint('oops', file=sys.stderr)",
        ISA,
        CURVE,
    )
    options = ["--cpu", "avx2-1thread", "--jobs", "2", "--no-progress"]
    outputs = ["--json", str(root / "r.json"), "--plots", str(root / "plots")]
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()) as out:
        patch.setenv("DIPTYCH_ROOT", str(root))
        code = main(["run", "01", *options, *outputs])
    return types.SimpleNamespace(
        code=code,
        stdout=out.getvalue(),
        json=json.loads((root / "r.json").read_text()),
        plots=root / "plots",
    )


@pytest.mark.slow
def test_plots_draw_recorded_curves_of_both_frameworks(imitated_run):
    assert imitated_run.code == 0, imitated_run.stdout
    # an imitated configuration's plots are named after it (a plain run's: below)
    assert sorted(p.name for p in imitated_run.plots.iterdir()) == [
        "01_demo-loss_curve-avx2-1thread.png"
    ]
    assert "1 overlay plot(s)" in imitated_run.stdout


def test_plots_of_a_plain_run_are_named_after_the_lesson_and_value_only(tmp_path):
    """Which values ``--plots`` draws and what it names the files, without a kernel: a curve
    (``*_curve``, one-dimensional) only, as ``<lesson>-<value>.png`` under this machine's
    configuration."""
    from diptych.command.report import LessonReport, ValueRow, write_plots

    def row(name: str, value: object) -> ValueRow:
        return ValueRow(name, {"pytorch": value, "tensorflow": value}, 0.0, 1e-6, 0.0, True)

    curves = [row("loss_curve", [3.0, 2.0, 1.5]), row("grad", [1.0, 2.0]), row("loss", 1.0)]
    written = write_plots([LessonReport("01_demo", rows=curves)], tmp_path / "plots")
    assert [p.name for p in written] == ["01_demo-loss_curve.png"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["01_demo-loss_curve.png"]


@pytest.mark.slow
def test_a_run_records_warnings_and_prints_to_stderr_in_its_json(imitated_run):
    """What a live run writes to stderr is kept, by cell (tests/test_stderr.py says why)."""
    assert imitated_run.code == 0, imitated_run.stdout
    notebooks = imitated_run.json["lessons"][0]["notebooks"]
    (warning,) = notebooks["pytorch"]["stderr"]
    assert (
        warning["cell"] == 2 and "UserWarning: a learner would see this in red" in warning["text"]
    )
    assert notebooks["tensorflow"]["stderr"] == [{"cell": 3, "text": "oops\n"}]


@pytest.mark.slow
def test_cpu_runs_every_kernel_under_the_imitated_configuration(imitated_run):
    assert imitated_run.code == 0, imitated_run.stdout
    document = imitated_run.json
    assert document["configuration"]["name"] == "avx2-1thread"
    values = document["lessons"][0]["values"]
    assert values["isa"]["pytorch"] == values["isa"]["tensorflow"] == 1.0
    assert values["threads"]["pytorch"] == 1.0
    assert "== configuration avx2-1thread" in imitated_run.stdout


@pytest.mark.slow
def test_matrix_runs_every_configuration_and_summarises(
    make_curriculum, capsys, tmp_path, monkeypatch
):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)  # "default" is this shell as it is
    make_curriculum({"01_demo": {"pytorch": [ISA], "tensorflow": [ISA]}})
    assert main(["run", "01", "--matrix", "--json", str(tmp_path / "m.json")]) == 0
    documents = json.loads((tmp_path / "m.json").read_text())["matrix"]
    assert [d["configuration"]["name"] for d in documents] == [
        "default",
        "avx2-1thread",
        "sse41-1thread",
    ]
    assert [d["lessons"][0]["values"]["isa"]["pytorch"] for d in documents] == [0.0, 1.0, 0.0]
    output = capsys.readouterr().out
    header, _, row = output.splitlines()[-5:-2]  # the lesson × configuration summary
    assert header.split() == ["lesson", "default", "avx2-1thread", "sse41-1thread"]
    assert row.startswith("01_demo") and row.count("ok, least headroom ∞") == 3
    assert "3 of 3 lessons ok" in output


@pytest.mark.slow
def test_against_compares_one_framework_with_values_recorded_elsewhere(
    make_curriculum, capsys, tmp_path
):
    make_curriculum({"01_demo": {"pytorch": [RECORD.format(value=1.0)], "tensorflow": ["1/0"]}})
    baseline = tmp_path / "cpu.json"
    baseline.write_text(
        json.dumps(
            {
                "lessons": [
                    {
                        "lesson": "01_demo",
                        "notebooks": {"tensorflow": {}},
                        "values": {"loss": {"tensorflow": 1.5, "atol": 1e-6, "rtol": 0}},
                    }
                ]
            }
        )
    )
    code = main(["run", "01", "--framework", "pytorch", "--against", str(baseline)])
    output = capsys.readouterr().out
    assert code == 1 and "NO" in output and "values recorded elsewhere" in output


def test_against_a_file_that_is_not_a_result_is_a_usage_error(make_curriculum, capsys, tmp_path):
    make_curriculum({"01_demo": {"pytorch": ["1"], "tensorflow": ["1"]}})
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main(["run", "01", "--against", str(tmp_path / "bad.json")]) == 2
    assert "not a result written by 'diptych run --json'" in capsys.readouterr().err


def test_matrix_and_cpu_exclude_each_other_and_save_outputs(capsys):
    assert exit_status_of(["run", "--matrix", "--cpu", "avx2-1thread"]) == 2
    capsys.readouterr()
    code = exit_status_of(["run", "01", "--cpu", "avx2-1thread", "--save-outputs"])
    assert code == 2 and "--save-outputs saves a plain run" in capsys.readouterr().err
