"""Ctrl-C and SIGTERM, honoured: every running kernel is stopped at once, the command cleans up
and says "interrupted" once, and exits with 128 + the signal's number (130, 143).

jupyter_client starts each kernel in a session of its own, so a terminal's Ctrl-C reaches only
diptych. The first signal kills every kernel's process group and raises ``Interrupted`` in the
main thread; the executions, whose kernels are now dead, notice within a second, remove their
scratch folders and connection files, and end with ``Interrupted`` too. Any later signal is
ignored: the first one is already being honoured, and a second Ctrl-C must not turn a clean stop
into a traceback.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from subprocess import Popen
from typing import Any

from diptych.command.exit_status import after_signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The person stopped the command (Ctrl-C, SIGTERM); raised once every kernel is stopped.

    A KeyboardInterrupt, so that code which lets Ctrl-C through lets this through as well.
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_status(self) -> int:
        """What a shell reports for a command ended by this signal: 130 for Ctrl-C, 143 for TERM."""
        return after_signal(self.signum)


class Kernels:
    """The kernel processes running now, so that one signal can stop them all.

    Threads register and drop kernels while the signal handler, in the main thread, may read the
    set at any moment; no lock is taken (a handler that waited for one could wait forever), and
    single set operations are atomic in CPython. The order of operations closes the race between
    a kernel being started and a stop: ``started`` adds, then reads the flag; ``stop`` sets the
    flag, then reads the set. A kernel is killed by one of the two, whichever comes second.
    """

    def __init__(self) -> None:
        self.processes: set[Popen[Any]] = set()
        self.signum: int | None = None

    def started(self, process: Popen[Any]) -> None:
        self.processes.add(process)
        if self.signum is not None:
            kill(process)

    def ended(self, process: Popen[Any]) -> None:
        self.processes.discard(process)

    def stop(self, signum: int) -> None:
        """Kill every registered kernel now; kernels registered later are killed as they start."""
        if self.signum is None:
            self.signum = signum
        for process in list(self.processes):
            kill(process)

    @property
    def stopping(self) -> bool:
        return self.signum is not None

    def raise_if_stopping(self) -> None:
        """Raise Interrupted if a stop was asked for (before starting more work)."""
        if self.signum is not None:
            raise Interrupted(self.signum)


#: every kernel this process runs; the signal handler reaches them through this
RUNNING = Kernels()


@contextmanager
def honoured() -> Iterator[None]:
    """Within this block, SIGINT and SIGTERM stop every kernel and raise Interrupted, once.

    Signal handlers belong to the main thread; elsewhere the block changes nothing. After a
    signal, both stay ignored until the process ends: the command is ending anyway, and a key
    pressed twice must not print a traceback on the way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        signalled = RUNNING.stopping
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if signalled else handler or signal.SIG_DFL)
        RUNNING.signum = None


def _on_signal(signum: int, frame: Any) -> None:
    if RUNNING.stopping:
        return  # already stopping: a second Ctrl-C changes nothing
    RUNNING.stop(signum)
    raise Interrupted(signum)


def kill(process: Popen[Any]) -> None:
    """Kill a kernel and everything it started (its process group); quietly if it is gone."""
    if process.poll() is not None:
        return  # already ended and reaped: its number may belong to another process by now
    try:
        if hasattr(os, "killpg") and os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)  # the kernel leads its own session and group
        else:
            process.kill()
    except OSError:
        pass  # it ended meanwhile
