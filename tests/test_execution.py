"""The executor's file handling and its environment; executing notebooks is tested in the
command's tests (marked slow)."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from diptych.command import execution
from diptych.recording import RECORD_ENV


def write(path, notebook):
    nbformat.write(notebook, path)
    return path


def test_a_valid_notebook_is_read_and_its_code_cells_counted(tmp_path):
    cells = [new_markdown_cell("# a"), new_code_cell("1"), new_code_cell("2")]
    path = write(tmp_path / "a.ipynb", new_notebook(cells=cells))
    assert len(execution.read_notebook(path).cells) == 3
    assert execution.code_cell_count(path) == 2


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such notebook"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{oops", "not JSON"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b'{"cells": 3}', "not a valid notebook"),
    ],
)
def test_an_unusable_file_is_one_notebook_error(tmp_path, content, says):
    path = tmp_path / "bad.ipynb"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(execution.NotebookError, match=says):
        execution.read_notebook(path)
    assert execution.code_cell_count(path) == 0


def test_a_folder_and_another_language_are_refused(tmp_path):
    with pytest.raises(execution.NotebookError, match="a folder"):
        execution.read_notebook(tmp_path)
    notebook = new_notebook(
        metadata={"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}}
    )
    path = tmp_path / "r.ipynb"
    path.write_text(json.dumps(notebook))
    with pytest.raises(execution.NotebookError, match="written in R"):
        execution.read_notebook(path)


def test_the_kernel_environment_is_quiet_and_deterministic_and_records_nothing_itself():
    assert execution.KERNEL_ENV["PYTHONHASHSEED"] == "0"
    assert execution.KERNEL_ENV["TQDM_DISABLE"] == "1"
    assert RECORD_ENV not in execution.KERNEL_ENV  # set per run, to that run's scratch folder


def test_the_executor_imports_no_exercise_logic():
    source = execution.__loader__.get_source(execution.__name__)
    assert "diptych.checks" not in source and "diptych.parity" not in source


def test_a_notebooks_time_limit_counts_from_its_first_cell_and_never_reads_as_none(monkeypatch):
    """Each cell gets what is left; nbclient reads 0 or less as no limit, so never that."""
    now = [100.0]
    monkeypatch.setattr(execution.time, "monotonic", lambda: now[0])
    limit = execution._cell_timeout(None, 10.0)
    now[0] = 103.0  # the kernel took 3 s to start: not counted
    assert limit("first cell") == 10.0
    now[0] = 112.5
    assert limit("second cell") == 0.5
    now[0] = 120.0
    assert limit("third cell") == 0.001
    assert execution._cell_timeout(4.0, 10.0)("a cell") == 4.0  # a per-cell limit still holds
    assert execution._cell_timeout(None, None) is None
