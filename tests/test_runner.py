"""The runner's own pieces: how kernels share the CPUs, and how an executed notebook is saved."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from diptych.command import runner


def test_one_job_keeps_the_frameworks_defaults():
    assert runner.thread_share(1) == {}


def test_several_jobs_split_the_cpus_and_reach_numpys_blas(monkeypatch):
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 8)
    share = runner.thread_share(3)
    assert share["OMP_NUM_THREADS"] == share["OPENBLAS_NUM_THREADS"] == "2"
    assert share["TF_NUM_INTEROP_THREADS"] == "1"
    monkeypatch.setattr(runner.os, "cpu_count", lambda: None)  # unknown: one thread each
    assert runner.thread_share(4)["MKL_NUM_THREADS"] == "1"


def test_an_executed_notebook_is_saved_without_stderr_or_timing(tmp_path):
    cell = new_code_cell("print(1)", metadata={"execution": {"iopub.status.busy": "now"}})
    cell.outputs = [
        new_output("stream", name="stdout", text="1\n"),
        new_output("stream", name="stderr", text="a TensorFlow log line\n"),
    ]
    path = tmp_path / "lesson.ipynb"
    runner.save_executed(new_notebook(cells=[cell]), path)
    saved = nbformat.read(path, as_version=4).cells[0]
    assert [out["name"] for out in saved.outputs] == ["stdout"]
    assert "execution" not in saved.metadata
