import json

import numpy as np
import pytest

from diptych import parity, recording


def test_compare_reports_worst_position_and_both_differences():
    result = parity.compare("w", [1.0, 2.0, 3.5], [1.0, 2.0, 3.0], atol=0.1)
    assert not result.ok
    assert result.worst_index == (2,)
    assert result.max_abs_diff == pytest.approx(0.5)
    assert result.max_rel_diff == pytest.approx(0.5 / 3)
    assert "w differs beyond atol=0.1" in result.message() and "(2,)" in result.message()


def test_compare_relative_tolerance_and_scalars():
    assert parity.compare("big", 1e6 + 1, 1e6, atol=0, rtol=1e-5).ok
    assert not parity.compare("big", 1e6 + 100, 1e6, atol=0, rtol=1e-5).ok


def test_nan_never_agrees_and_shapes_must_match():
    assert not parity.compare("n", [np.nan], [np.nan], atol=1).ok
    result = parity.compare("s", np.zeros((2, 3)), np.zeros((3, 2)), atol=1)
    assert not result.ok and "shapes differ" in result.message()


def test_check_raises_a_clear_error_and_prints_one_line_on_success(capsys):
    with pytest.raises(parity.ParityError, match="loss differs"):
        parity.matches_reference("loss", 1.0, 2.0, atol=1e-3, record=False)
    parity.matches_reference("loss", 1.0, 1.0 + 1e-9, atol=1e-6, record=False)
    assert capsys.readouterr().out == "✓ loss matches (shape (), atol=1e-06)\n"


def test_none_gets_an_explanation_not_a_numpy_error():
    with pytest.raises(parity.ParityError, match="gradient is None"):
        parity.matches_reference("g", None, [1.0], atol=1)


def test_negative_tolerance_is_refused():
    with pytest.raises(ValueError, match="non-negative"):
        parity.compare("x", 1, 1, atol=-1)


def test_record_is_a_no_op_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(recording.RECORD_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    parity.record("x", [1.0], atol=0)
    assert list(tmp_path.iterdir()) == []


def test_record_round_trips_exact_floats_and_later_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    value = np.array([0.1, 1 / 3, np.float32(0.05)], dtype=np.float64)
    parity.record("x", value, atol=1e-10, rtol=1e-4)
    parity.record("y", 1.0, atol=0)
    parity.record("y", 2.0, atol=0)
    recorded = recording.read_values(tmp_path)
    assert recorded["x"]["value"] == value.tolist()  # bit-exact through JSON
    assert recorded["x"]["atol"] == 1e-10 and recorded["x"]["rtol"] == 1e-4
    assert recorded["y"]["value"] == 2.0
    lines = (tmp_path / recording.VALUES_FILE).read_text().splitlines()
    assert json.loads(lines[0])["shape"] == [3]


def test_record_needs_a_name(monkeypatch, tmp_path):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="name"):
        parity.record("", 1.0, atol=0)


def test_read_values_of_an_empty_folder_is_empty(tmp_path):
    assert recording.read_values(tmp_path) == {}


def test_headroom_is_tolerance_over_difference_at_the_tightest_element():
    result = parity.compare("h", [1.0, 2.0 + 1e-7], [1.0 + 1e-9, 2.0], atol=1e-6)
    assert result.headroom == pytest.approx(10.0, rel=1e-6)  # 1e-6 / 1e-7 at the second element
    assert parity.compare("same", [1.0], [1.0], atol=0).headroom == float("inf")
    assert parity.compare("s", [1.0, 2.0], [1.0], atol=1).headroom == 0.0


def test_headroom_counts_the_relative_part_of_the_tolerance():
    result = parity.compare("r", [100.0 + 1e-3], [100.0], atol=0, rtol=1e-4)
    assert result.ok and result.headroom == pytest.approx(10.0, rel=1e-6)


def test_reaches_prints_the_bar_not_the_value_and_records_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    parity.reaches("test_accuracy", 0.9911, at_least=0.985)
    assert capsys.readouterr().out == "✓ test_accuracy reaches the bar (at least 0.985)\n"
    entry = recording.read_values(tmp_path)["test_accuracy"]
    assert entry["value"] == 0.9911 and entry["at_least"] == 0.985


@pytest.mark.parametrize("value", [0.98, float("nan")])
def test_reaches_fails_below_the_bar_and_on_nan(value):
    with pytest.raises(parity.ParityError, match=r"below the lesson's bar of 0\.985"):
        parity.reaches("test_accuracy", value, at_least=0.985)


def test_check_records_its_headroom_against_the_reference(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(recording.RECORD_ENV, str(tmp_path))
    parity.matches_reference("x", [1.0 + 1e-8], [1.0], atol=1e-6)
    parity.matches_reference("y", [1.0], [1.0], atol=1e-6)
    recorded = recording.read_values(tmp_path)
    assert recorded["x"]["reference_headroom"] == pytest.approx(100.0, rel=1e-6)
    assert recorded["y"]["reference_headroom"] is None  # identical: no finite headroom
