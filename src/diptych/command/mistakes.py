"""The short name of a named mistake: what ``diptych class`` shows for an exercise that failed.

A check names a mistake in a sentence (``Mismatch``'s message, see ``diptych.checks.core``), and
the sentence may quote what the learner's code returned, a line of that code ("in your line:
`...`") and the expected value at a test input. A class table shows none of it. Its label is:

* for the shared comparison's messages (``diptych.checks.compare``), which open with the test case
  ("outer_sum(a, b) for a of length 4 ... has shape ..."), a fixed name: ``wrong shape``,
  ``axes swapped``, ``wrong dtype``, ``inf or nan``, ``wrong values``, ``float32 rounding``;
* for every other message, its first clause (up to the first ``:``, ``;``, `` — ``, `` (``, or
  the end of a sentence) with every number replaced by ``#``, every span in backticks or quotes
  by ``…``, and every word that diptych's checks never write (a name the learner chose, a type of
  theirs) by ``…``, cut to eight words: "your code raised ZeroDivisionError", "that is softplus
  itself", "every row is centred, but not scaled to…".

So a label holds only words diptych's own check code holds, and no number: no answer and none of
the learner's code can reach it. It is stable: the same mistake gets the same label for every
learner and every run of one diptych version; it changes only when a check's wording does.
"""

from __future__ import annotations

import builtins
import functools
import re
from pathlib import Path

#: the shared comparison's messages (``checks.compare.expect_array``), first match wins
KNOWN = (
    (re.compile(r" has shape .*(?:permuted|swapped|transposed)"), "axes swapped"),
    (re.compile(r" has shape \(.*\), expected \("), "wrong shape"),
    (re.compile(r" has dtype \S+, expected "), "wrong dtype"),
    (re.compile(r", where the answer is finite"), "inf or nan"),
    (re.compile(r" has the right values in the wrong places"), "axes swapped"),
    (re.compile(r" values are off; .*float32 rounding"), "float32 rounding"),
    (re.compile(r" has the right shape and dtype, but .* values are off"), "wrong values"),
)
#: the most words a label keeps
WORDS = 8
GAP = "…"
_CODE = re.compile(r"`[^`]*`|(?<!\w)'[^'\n]*'(?!\w)|\"[^\"\n]*\"")
_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:[.,]\d+)*(?:[eE][-+−]?\d+)?(?!\w)")
_CLAUSE_END = re.compile(r":\s|;\s|\s—\s|\s\(|[.?!](?:\s|$)")
_WORD = re.compile(r"\w+")
_GAPS = re.compile(rf"{GAP}(?:[\s{GAP}]*{GAP})?")


def short_name(message: str) -> str:
    """The label of the mistake ``message`` names (see the module's docstring)."""
    for pattern, name in KNOWN:
        if pattern.search(message):
            return name
    text = _NUMBER.sub("#", _CODE.sub(GAP, message.strip()))
    clause = _CLAUSE_END.split(text, maxsplit=1)[0]
    words = vocabulary()
    clause = _WORD.sub(lambda m: m.group() if m.group().casefold() in words else GAP, clause)
    clause = _GAPS.sub(GAP, clause).strip(" ,")
    ends = [word.end() for word in _WORD.finditer(clause)]
    if len(ends) > WORDS:
        clause = clause[: ends[WORDS - 1]] + GAP
    return clause or "failed"


@functools.cache
def vocabulary() -> frozenset[str]:
    """Every word of the source of diptych's checks and of ``diptych check``'s verdicts, and
    Python's built-in names (the exceptions a learner's code raises), case-folded."""
    import diptych.checks
    from diptych.command import verdicts

    sources = [*Path(diptych.checks.__file__).parent.glob("*.py"), Path(verdicts.__file__)]
    words = {
        word.casefold()
        for source in sources
        for word in _WORD.findall(source.read_text(encoding="utf-8"))
        if not word.isdigit()
    }
    return frozenset(words | {name.casefold() for name in dir(builtins)})
