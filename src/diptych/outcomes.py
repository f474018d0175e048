"""What an exercise's check can conclude, in one type shared by the checks, ``diptych check``
and the report it prints.

A status is an Enum, not a loose string, so that a misspelt status is an error where it is
written rather than a silent mismatch where it is compared. Its value is the words a learner
reads ("not done yet"), which is also what is recorded in ``checks.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Status(str, Enum):
    """An exercise's status; the first three come from a check, the last two from a missing one."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_DONE = "not done yet"
    NOT_RUN = "not run"  # ``diptych check``: the notebook stopped before the check cell
    NOT_CHECKED = "not checked"  # ``diptych check``: the check cell is missing or empty

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def symbol(self) -> str:
        """One character for a terminal line: ✓, ✗, … or ?."""
        return _SYMBOLS[self]


_SYMBOLS = {
    Status.PASSED: "✓",
    Status.FAILED: "✗",
    Status.NOT_DONE: "…",
    Status.NOT_RUN: "?",
    Status.NOT_CHECKED: "✗",
}


@dataclass(frozen=True)
class Outcome:
    """One exercise's result as its check found it."""

    exercise: str  # the exercise's heading, e.g. "Exercise 1: The derivative of softplus"
    status: Status
    message: str
    check: str = ""  # "module.function" of the check that ran, to match verdicts by exercise

    def line(self) -> str:
        return f"{self.status.symbol} {self.exercise} — {self.status}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {
            "exercise": self.exercise,
            "status": self.status.value,
            "message": self.message,
            "check": self.check,
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Outcome:
        """The outcome a ``to_json`` entry describes; KeyError or ValueError if it is not one."""
        return cls(
            str(entry["exercise"]),
            Status(entry["status"]),
            str(entry["message"]),
            str(entry.get("check", "")),
        )
