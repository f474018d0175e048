"""What a live run writes to stderr is kept, cell by cell, so that it can be held to nothing.

Committed outputs leave stderr out (``runner.save_executed``), so a warning a learner sees in
red in Jupyter (a library's UserWarning, a deprecation) never shows in the repository. ``diptych
run`` keeps what each cell wrote to stderr (``Execution.stderr``, the JSON's ``"stderr"``), and
this file shows that the record catches what it must. The test suite holds every lesson and
solution cell to none as it executes them (``tests/notebook_runs.py``, proven in
``tests/test_notebook_runs.py``).
"""

from __future__ import annotations

import json

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from diptych.command.cli import main
from diptych.command.execution import stderr_of


def test_stderr_of_keeps_each_stderr_stream_with_its_cell_number_and_nothing_else():
    printed = new_code_cell("x", outputs=[new_output("stream", name="stdout", text="fine\n")])
    warned = new_code_cell(
        "y",
        outputs=[
            new_output("stream", name="stderr", text="UserWarning: shuffle=True ignored\n"),
            new_output("execute_result", data={"text/plain": "1"}, execution_count=1),
            new_output("stream", name="stderr", text="second line\n"),
        ],
    )
    notebook = new_notebook(cells=[new_markdown_cell("## a"), printed, warned])
    assert stderr_of(notebook) == [
        {"cell": 3, "text": "UserWarning: shuffle=True ignored\n"},
        {"cell": 3, "text": "second line\n"},
    ]
    assert stderr_of(new_notebook(cells=[new_markdown_cell("## a"), printed])) == []


@pytest.mark.slow
def test_a_run_records_warnings_and_prints_to_stderr_in_its_json(make_curriculum, tmp_path):
    make_curriculum(
        {
            "01_demo": {
                "pytorch": ["import warnings\nwarnings.warn('a learner would see this in red')"],
                "tensorflow": [
                    "print('all is well')",
                    "import sys\nprint('oops', file=sys.stderr)",
                ],
            }
        }
    )
    assert main(["run", "01", "--no-progress", "--json", str(tmp_path / "run.json")]) == 0
    notebooks = json.loads((tmp_path / "run.json").read_text())["lessons"][0]["notebooks"]
    (warning,) = notebooks["pytorch"]["stderr"]
    assert (
        warning["cell"] == 2 and "UserWarning: a learner would see this in red" in warning["text"]
    )
    assert notebooks["tensorflow"]["stderr"] == [{"cell": 3, "text": "oops\n"}]
