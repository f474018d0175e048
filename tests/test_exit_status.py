"""One table of exit statuses for every subcommand."""

import signal

from diptych.command import cli, exit_status


def test_statuses_and_signals_read_as_a_shell_reports_them():
    assert (exit_status.EXIT_OK, exit_status.EXIT_FAILED, exit_status.EXIT_USAGE) == (0, 1, 2)
    assert exit_status.after_signal(signal.SIGINT) == 130
    assert exit_status.after_signal(signal.SIGTERM) == 143
    assert exit_status.of(True) == 1 and exit_status.of(False) == 0


def test_the_command_uses_the_one_table():
    assert cli.EXIT_USAGE is exit_status.EXIT_USAGE
