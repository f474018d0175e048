"""Self-checks for lesson 05's exercises (training practice)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych.checks import (
    Mismatch,
    as_numpy,
    as_pair,
    by_hand,
    exercise,
    expect_array,
    expect_unchanged,
    idiom,
    matches,
    snapshot,
)
from diptych.checks.compare import fresh_rng
from diptych.reference import training

#: curves that tell the usual mistakes apart; each comment says which one it catches
CURVES = [
    ([1.0, 0.8, 0.6, 0.5, 0.4], 2),  # always improving: never stop
    ([1.0, 0.7, 0.75, 0.8, 0.9, 0.6], 3),  # patience runs out before a late dip
    ([1.0, 0.5, 0.5, 0.5, 0.4], 2),  # a tie is not an improvement
    ([0.9, 1.0, 1.1], 1),  # patience of 1
    ([1.0, 1.1, 0.5, 0.4], 2),  # the epoch that would exhaust patience improves
    ([2.0, 1.0], 1),  # improving at the very end
    ([1.0], 3),  # a single epoch
]


def _ties_improve(losses: list[float], patience: int) -> tuple[int, int | None]:
    best = 0
    for epoch, loss in enumerate(losses):
        if loss <= losses[best]:
            best = epoch
        if epoch - best >= patience:
            return best, epoch
    return best, None


def _patience_first(losses: list[float], patience: int) -> tuple[int, int | None]:
    best = 0
    for epoch, loss in enumerate(losses):
        if epoch - best >= patience:
            return best, epoch
        if loss < losses[best]:
            best = epoch
    return best, None


def _one_late(losses: list[float], patience: int) -> tuple[int, int | None]:
    return training.early_stopping(losses, patience + 1)


def _looks_ahead(losses: list[float], patience: int) -> tuple[int, int | None]:
    _, stop = training.early_stopping(losses, patience)
    return int(np.argmin(losses)), stop


EARLY_STOPPING_MISTAKES = [
    (
        _patience_first,
        "patience is tested before the epoch's own loss is looked at: an epoch "
        "that improves must count as an improvement even when patience was about to run out",
    ),
    (
        _ties_improve,
        "a loss equal to the best counts as an improvement in your code; only a "
        "strictly lower loss is one",
    ),
    (
        _one_late,
        "you stop one epoch late: training stops at the first epoch that is `patience` "
        "epochs after the best",
    ),
    (
        _looks_ahead,
        "your best epoch can lie after the stop: early stopping cannot see the future "
        "losses, only those up to the stop",
    ),
]


@exercise("Early stopping")
def early_stopping(learner: Callable[[list[float], int], Any], adapter: Any) -> str:
    """Exercise 1: the best epoch, and the epoch at which patience runs out."""
    answers = []
    for losses, patience in CURVES:
        given = list(losses)
        got = learner(given, patience)
        if given != losses:
            raise Mismatch("your function changed the list of losses it was given")
        if not isinstance(got, tuple) or len(got) != 2:
            raise Mismatch("return a pair (best epoch, stop epoch or None)")
        answers.append(tuple(got))
    for mistake, message in EARLY_STOPPING_MISTAKES:
        theirs = [mistake(list(losses), patience) for losses, patience in CURVES]
        if answers == theirs and theirs != [training.early_stopping(*c) for c in CURVES]:
            raise Mismatch(message)
    for (losses, patience), got in zip(CURVES, answers, strict=True):
        expected = training.early_stopping(losses, patience)
        if got != expected:
            raise Mismatch(
                f"for losses {losses} with patience {patience} you return {got}, expected "
                f"{expected}; epochs count from 0"
            )
    return f"right on {len(CURVES)} curves: ties, an improvement just in time and a late dip"


@exercise("Coupled and decoupled weight decay")
def weight_decay_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 2: momentum-SGD steps with coupled or decoupled decay, in this framework's form."""
    fw = idiom(adapter)
    rng = fresh_rng("decay")
    theta, velocity = rng.normal(size=(2, 4))
    grads = rng.normal(size=(2, 4))
    hyper = {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}
    for decoupled in (False, True):
        kind = "decoupled" if decoupled else "coupled"
        tensors = [adapter.from_numpy(a) for a in (theta, velocity)]
        before = snapshot(*tensors)
        state, current = (theta, velocity), tensors
        for step, grad in enumerate(grads):
            result = learner(
                current[0], adapter.from_numpy(grad), current[1], **hyper, decoupled=decoupled
            )
            pair = as_pair(result, "weight_decay_step", "(new θ, new velocity)")
            got = [
                np.array(as_numpy(v, w), copy=True)
                for v, w in zip(pair, ("θ", "velocity"), strict=True)
            ]
            _recognise_decay_mistakes(got, state, grad, hyper, decoupled, fw)
            expected = training.weight_decay_step(
                state[0], grad, state[1], **hyper, decoupled=decoupled, form=fw.form
            )
            expect_array(
                got[1],
                expected[1],
                what=f"the {kind} velocity after step {step + 1}",
                atol=1e-12,
                rtol=1e-9,
                dtype=np.float64,
            )
            expect_array(
                got[0],
                expected[0],
                what=f"the {kind} θ after step {step + 1}",
                atol=1e-12,
                rtol=1e-9,
                dtype=np.float64,
            )
            state, current = expected, list(pair)
        expect_unchanged(before, tensors, ["theta", "velocity"])
    return f"coupled and decoupled steps both right, two in a row, in {fw.form_name} form"


def _recognise_decay_mistakes(
    got: list[np.ndarray],
    state: tuple[np.ndarray, np.ndarray],
    grad: np.ndarray,
    hyper: dict[str, float],
    decoupled: bool,
    fw: Any,
) -> None:
    theta, velocity = state
    ours = training.weight_decay_step(
        theta, grad, velocity, **hyper, decoupled=decoupled, form=fw.form
    )
    theirs = training.weight_decay_step(
        theta, grad, velocity, **hyper, decoupled=decoupled, form=fw.other_form
    )
    swapped = training.weight_decay_step(
        theta, grad, velocity, **hyper, decoupled=not decoupled, form=fw.form
    )
    if matches(got[1], theirs[1]) and not matches(got[1], ours[1]):
        raise Mismatch(
            f"that is {fw.other_form_name} form of the velocity, right in {fw.other}; this "
            f"{fw.framework} exercise asks for {fw.form_name} (see the exercise's statement)"
        )
    if matches(got[1], swapped[1]) and not matches(got[1], ours[1]):
        raise Mismatch(
            "decoupled decay must stay out of the velocity: it shrinks θ directly"
            if decoupled
            else "coupled decay is part of the gradient, so it enters the velocity"
        )
    shrunk_after = (1 - hyper["lr"] * hyper["weight_decay"]) * training.weight_decay_step(
        theta, grad, velocity, **{**hyper, "weight_decay": 0.0}, decoupled=True, form=fw.form
    )[0]
    if decoupled and matches(got[0], shrunk_after) and not matches(got[0], ours[0]):
        raise Mismatch("θ is shrunk after the step; decoupled decay shrinks it before")


@exercise("Warm-up, then cosine")
def warmup_cosine(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 3: linear warm-up, then cosine decay to zero, in this framework's convention."""
    fw = idiom(adapter)
    settings = [(100, 0.1, 10, (0, 4, 9, 10, 11, 30, 55, 99)), (40, 0.3, 0, (0, 7, 39))]
    for total, base, warmup, steps in settings:
        got = [_rate(learner, step, total, base, warmup) for step in steps]
        ours = [
            training.warmup_cosine(
                s, total_steps=total, base_lr=base, warmup_steps=warmup, form=fw.form
            )
            for s in steps
        ]
        theirs = [
            training.warmup_cosine(
                s, total_steps=total, base_lr=base, warmup_steps=warmup, form=fw.other_form
            )
            for s in steps
        ]
        if _close(got, theirs, base) and not _close(got, ours, base):
            raise Mismatch(
                f"that is {fw.other_form_name} warm-up, right in {fw.other}; this "
                f"{fw.framework} exercise asks for {fw.form_name} (see the exercise's statement)"
            )
        for step, rate, want in zip(steps, got, ours, strict=True):
            if not _close([rate], [want], base):
                where = "warm-up" if step < warmup else "cosine"
                hint = (
                    ": does the cosine start where the warm-up ends?"
                    if where == "cosine" and warmup
                    else ""
                )
                raise Mismatch(
                    f"with {total} steps, base rate {base} and {warmup} warm-up steps, at step "
                    f"{step} (in the {where} phase) you return {rate:.6g}, expected {want:.6g}{hint}"
                )
    return f"warm-up and cosine phases right in {fw.form_name} convention, with and without warm-up"


def _rate(learner: Callable[..., Any], step: int, total: int, base: float, warmup: int) -> float:
    value = learner(step, total_steps=total, base_lr=base, warmup_steps=warmup)
    return float(as_numpy(value, "warmup_cosine").reshape(()))


def _close(a: list[float], b: list[float], base: float) -> bool:
    """Equal up to float32 rounding of a rate of order ``base`` (Keras' schedules are float32)."""
    return all(
        math.isclose(x, y, rel_tol=0, abs_tol=1e-6 * base) for x, y in zip(a, b, strict=True)
    )


@exercise("Inverted dropout")
def inverted_dropout(learner: Callable[[Any, float], Any], adapter: Any) -> str:
    """Exercise 4: inverted dropout with the framework's random numbers, by hand."""
    fw = idiom(adapter)
    x = np.ones((400, 500))

    def run(p: float) -> np.ndarray:
        tensor = adapter.from_numpy(x)
        before = snapshot(tensor)
        got = by_hand(
            lambda: learner(tensor, p),
            fw.dropout(),
            reason="write dropout yourself, from random numbers",
        )
        got = np.array(as_numpy(got, f"dropout with p = {p}"), copy=True)
        expect_unchanged(before, [tensor], ["x"])
        return got

    expect_array(run(0.0), x, what="dropout with p = 0", atol=0)
    got = run(0.25)
    if got.shape != x.shape:
        raise Mismatch(f"the output has shape {got.shape}, expected {x.shape}")
    dropped = float(np.mean(got == 0))
    if abs(dropped - 0.75) < 0.01:
        raise Mismatch(
            "75% of the values were zeroed at p = 0.25: p is the probability to drop, not to keep"
        )
    if abs(dropped - 0.25) > 0.01:
        raise Mismatch(
            f"{dropped:.1%} of the values were zeroed; with p = 0.25 about 25% should be"
        )
    survivors = np.unique(got[got != 0])
    if not np.allclose(survivors, 1 / 0.75):
        raise Mismatch(
            f"the kept values are {survivors[:3]}: they must be scaled so that the expected "
            "value of every activation is unchanged"
        )
    if np.array_equal(run(0.25), got):
        raise Mismatch(
            "two calls dropped exactly the same values: draw a fresh random mask each call"
        )
    return "drops about 25% at p = 0.25, scales the rest to keep the mean, a fresh mask each call"
