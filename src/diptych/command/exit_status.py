"""The ``diptych`` command's exit statuses, in one place for every subcommand.

0 success; 1 the work ran and found a failure (a notebook failed, values disagree, an exercise is
not passed, exercises out of sync); 2 bad usage or unusable input; 128 + the signal's number when
a signal stopped it (130 Ctrl-C, 143 SIGTERM), as a shell reports it.

``UsageError`` lives here, beside the status it ends with, so that every subcommand's module can
raise it without importing ``cli``, which imports them.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Input the command cannot use; reported in one line with exit status 2 (EXIT_USAGE)."""


def after_signal(signum: int) -> int:
    """What a shell reports for a command ended by signal ``signum``."""
    return 128 + int(signum)


def of(failed: bool) -> int:
    """EXIT_FAILED if the work found a failure, else EXIT_OK."""
    return EXIT_FAILED if failed else EXIT_OK
