"""Each framework's idioms that a check must know: layouts, conventions, forbidden shortcuts.

The framework differences themselves live in the adapters (``adapter.IDIOM``, a
``diptych.adapters.idiom.Idiom``, one field per convention); this module reads them and switches
shortcuts off. A twin's exercises are asked in its own framework's idiom: the PyTorch twin in
PyTorch's forms (velocity v ← μv + g; ε after Adam's bias correction; warm-up counting from step
1), the TensorFlow twin in Keras' forms (velocity v ← μv − ηg; ε before the bias correction;
warm-up from 0, as ``keras.optimizers.schedules.CosineDecay``). A check recognises the other
form and names it as the other framework's (``adapters.idiom.WHOSE``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from diptych.adapters.contract import Adapter
from diptych.adapters.idiom import RIGHT_IN, WHOSE, Convention, Idiom, Target, other
from diptych.checks.core import Mismatch


def idiom(adapter: Adapter) -> Idiom:
    """The idioms of the framework behind ``adapter``: every adapter brings its ``IDIOM``; a
    notebook may pass anything, so what is not an adapter is refused by name."""
    own = getattr(adapter, "IDIOM", None)
    if not isinstance(own, Idiom):
        raise TypeError(f"{getattr(adapter, '__name__', adapter)!r} has no IDIOM: not an adapter")
    return own


def other_form_message(form: Convention, framework: str) -> str:
    """What a check says to a velocity in the other twin's form (lessons 02 and 05), where this
    ``framework``'s exercise asks for ``form``."""
    theirs = other(form)
    return (
        f"that is {WHOSE[theirs]} form of the velocity, right in {RIGHT_IN[theirs]}; this "
        f"{framework} exercise asks for {WHOSE[form]} (see the exercise's statement)"
    )


class ForbiddenShortcut(Exception):
    """Raised inside the learner's code when it calls what the exercise asks to do by hand."""


@contextmanager
def switched_off(targets: list[Target], *, reason: str) -> Iterator[list[str]]:
    """Replace each target by a function that raises ForbiddenShortcut; restore them after.

    Yields the list of shortcuts the learner's code called, so that a call the learner's own
    ``try``/``except`` swallowed is still caught. ``reason`` says what the exercise asks for.
    """
    used: list[str] = []
    saved = [(owner, name, vars(owner).get(name)) for owner, name, _ in targets]

    def refuse(shown: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            used.append(shown)
            raise ForbiddenShortcut(f"{shown} is switched off while this check runs: {reason}")

        return refused

    try:
        for owner, name, shown in targets:
            setattr(owner, name, refuse(shown))
        yield used
    finally:
        for owner, name, original in saved:  # an inherited method is un-shadowed, not copied
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


@contextmanager
def counting(owner: Any, name: str) -> Iterator[list[int]]:
    """Count the calls of ``owner.name`` while the block runs (``count[0]``), then restore it as
    ``switched_off`` does: an exercise's rule on how often a learner's code calls something (lesson
    06's exercise 2 counts ``Tensor.__getitem__``, to tell a loop over output positions)."""
    count = [0]
    saved, wrapped = vars(owner).get(name), getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return wrapped(*args, **kwargs)

    setattr(owner, name, counted)
    try:
        yield count
    finally:
        if saved is None:  # an inherited method is un-shadowed, not copied
            delattr(owner, name)
        else:
            setattr(owner, name, saved)


def by_hand(call: Callable[[], Any], targets: list[Target], *, reason: str) -> Any:
    """``call()`` with ``targets`` switched off; Mismatch naming the shortcut if it used one."""
    with switched_off(targets, reason=reason) as used:
        try:
            result = call()
        except ForbiddenShortcut:
            result = None
    if used:
        raise Mismatch(
            f"your code calls {used[0]}, which this exercise asks you to do without: {reason}"
        )
    return result
