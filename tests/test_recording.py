"""The record channel: what a notebook appends is what the command reads back."""

import pytest

from diptych import recording
from diptych.outcomes import Outcome, Status


def test_nothing_is_recorded_outside_the_command(monkeypatch, tmp_path):
    monkeypatch.delenv(recording.RECORD_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    recording.append_value({"name": "x", "value": 1})
    recording.append_outcome(Outcome("Exercise 1: X", Status.PASSED, "right"))
    assert recording.record_folder() is None
    assert list(tmp_path.iterdir()) == []


def test_values_and_outcomes_round_trip(monkeypatch, tmp_path):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    recording.append_value({"name": "loss", "value": 1.0})
    recording.append_value({"name": "loss", "value": 2.0})
    first = Outcome("Exercise 1: X", Status.NOT_DONE, "not yet", "tensors.x")
    second = Outcome("Exercise 2: Y", Status.FAILED, "wrong shape", "tensors.y")
    recording.append_outcome(first)
    recording.append_outcome(second)
    assert recording.read_values(tmp_path) == {"loss": {"name": "loss", "value": 2.0}}
    assert recording.read_outcomes(tmp_path) == [first, second]
    assert isinstance(recording.read_outcomes(tmp_path)[0].status, Status)


def test_an_empty_folder_reads_as_nothing_recorded(tmp_path):
    assert recording.read_values(tmp_path) == {}
    assert recording.read_outcomes(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "error"),
    [("{oops\n", ValueError), ("[1, 2]\n", TypeError), ('{"exercise": "x"}\n', KeyError)],
)
def test_a_scribbled_file_raises_what_the_executor_reports(tmp_path, text, error):
    (tmp_path / recording.OUTCOMES_FILE).write_text(text)
    with pytest.raises(error):
        recording.read_outcomes(tmp_path)


def test_an_unknown_status_is_refused(tmp_path):
    line = '{"exercise": "x", "status": "great", "message": "", "check": ""}\n'
    (tmp_path / recording.OUTCOMES_FILE).write_text(line)
    with pytest.raises(ValueError):
        recording.read_outcomes(tmp_path)
