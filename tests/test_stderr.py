"""What a live run writes to stderr is kept, cell by cell, so that it can be held to nothing.

Committed outputs leave stderr out (``runner.save_executed``), so a warning a learner sees in
red in Jupyter (a library's UserWarning, a deprecation) never shows in the repository. ``diptych
run`` keeps what each cell wrote to stderr (``Execution.stderr``, the JSON's ``"stderr"``), and
this file shows that the record catches what it must. A live run's record (a warning and a print
to stderr, by cell, in ``--json``) is asserted in ``tests/test_cli.py``, on the one run that its
tests of ``--cpu`` and ``--plots`` read too (``imitated_run``: two kernels for the three). The
test suite holds every lesson and solution cell to none as it executes them
(``tests/notebook_runs.py``, proven in ``tests/test_notebook_runs.py``).
"""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

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
