"""Self-checks for lesson 05's exercises (training practice)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych.checks import Mismatch, as_numpy, exercise, expect_array, fresh_rng


def _reference_early_stop(losses: list[float], patience: int) -> tuple[int, int | None]:
    best = 0
    for epoch, loss in enumerate(losses):
        if loss < losses[best]:
            best = epoch
        if epoch - best >= patience:
            return best, epoch
    return best, None


@exercise("Exercise 1 (early stopping)")
def early_stopping(learner: Callable[[list[float], int], Any], adapter: Any) -> str:
    """Exercise 1: the best epoch, and the epoch at which patience runs out."""
    cases = [
        ([1.0, 0.8, 0.6, 0.5, 0.4], 2),  # always improving: never stop
        ([1.0, 0.7, 0.75, 0.8, 0.9, 0.6], 3),  # patience runs out before the late dip
        ([1.0, 0.5, 0.5, 0.5, 0.4], 2),  # a tie is not an improvement
        ([0.9, 1.0, 1.1], 1),
    ]
    for losses, patience in cases:
        got = learner(list(losses), patience)
        expected = _reference_early_stop(losses, patience)
        if not isinstance(got, tuple) or len(got) != 2:
            raise Mismatch("return a pair (best epoch, stop epoch or None)")
        if tuple(got) != expected:
            hint = (
                " (a loss equal to the best is not an improvement)" if losses == cases[2][0] else ""
            )
            raise Mismatch(
                f"for losses {losses} with patience {patience} you return {tuple(got)}, "
                f"expected {expected}{hint}; epochs count from 0"
            )
    return "right on 4 curves, ties and a late dip included"


@exercise("Exercise 2 (coupled and decoupled weight decay)")
def weight_decay_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 2: one momentum-SGD step with coupled or decoupled weight decay."""
    rng = fresh_rng("decay")
    theta, grad, velocity = rng.normal(size=(3, 4))
    lr, momentum, decay = 0.1, 0.9, 0.05
    for decoupled in (False, True):
        result = learner(
            *(adapter.from_numpy(a) for a in (theta, grad, velocity)),
            lr=lr,
            momentum=momentum,
            weight_decay=decay,
            decoupled=decoupled,
        )
        if not isinstance(result, tuple) or len(result) != 2:
            raise Mismatch("return a pair (new θ, new velocity)")
        if decoupled:
            shrunk = theta - lr * decay * theta
            new_velocity = momentum * velocity + grad
            expected = (shrunk - lr * new_velocity, new_velocity)
        else:
            new_velocity = momentum * velocity + grad + decay * theta
            expected = (theta - lr * new_velocity, new_velocity)
        kind = "decoupled" if decoupled else "coupled"
        got_velocity = as_numpy(result[1], "the new velocity")
        if not decoupled and np.allclose(got_velocity, momentum * velocity + grad):
            raise Mismatch("coupled decay: λθ belongs in the gradient, so it enters the velocity")
        if decoupled and np.allclose(got_velocity, momentum * velocity + grad + decay * theta):
            raise Mismatch("decoupled decay must stay out of the velocity: shrink θ directly")
        expect_array(
            result[1], expected[1], what=f"the {kind} velocity", atol=1e-12, dtype=np.float64
        )
        expect_array(result[0], expected[0], what=f"the {kind} θ", atol=1e-12, dtype=np.float64)
    return "coupled and decoupled steps both right"


def _warmup_cosine_rate(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


@exercise("Exercise 3 (warm-up and cosine schedule)")
def warmup_cosine(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 3: linear warm-up, then cosine decay to zero."""
    total, base, warmup = 100, 0.1, 10
    for step in (0, 4, 9, 10, 30, 55, 99):
        got = float(
            as_numpy(
                learner(step, total_steps=total, base_lr=base, warmup_steps=warmup),
                "warmup_cosine",
            )
        )
        want = _warmup_cosine_rate(step, total, base, warmup)
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            where = "warm-up" if step < warmup else "cosine"
            raise Mismatch(
                f"at step {step} (in the {where} phase) you return {got:.6g}, expected {want:.6g}"
            )
    return "warm-up and cosine phases right, at 7 steps"


@exercise("Exercise 4 (inverted dropout)")
def inverted_dropout(learner: Callable[[Any, float], Any], adapter: Any) -> str:
    """Exercise 4: inverted dropout with the framework's random numbers."""
    x = np.ones(200_000)
    unchanged = as_numpy(learner(adapter.from_numpy(x), 0.0), "dropout with p = 0")
    expect_array(unchanged, x, what="dropout with p = 0", atol=0)
    got = as_numpy(learner(adapter.from_numpy(x), 0.25), "dropout")
    if got.shape != x.shape:
        raise Mismatch(f"the output has shape {got.shape}, expected {x.shape}")
    dropped = float(np.mean(got == 0))
    if abs(dropped - 0.25) > 0.01:
        raise Mismatch(
            f"{dropped:.1%} of the values were zeroed; with p = 0.25 about 25% should be"
        )
    survivors = np.unique(got[got != 0])
    if not np.allclose(survivors, 1 / 0.75):
        raise Mismatch(
            f"the kept values are {survivors[:3]}; scale them by 1/(1 − p) = {1 / 0.75:.4f} so that "
            "the expected activation is unchanged"
        )
    again = as_numpy(learner(adapter.from_numpy(x), 0.25), "dropout")
    if np.array_equal(again, got):
        raise Mismatch(
            "two calls dropped exactly the same values: draw a fresh random mask each call"
        )
    return "drops about 25% at p = 0.25, scales the rest by 4/3, and draws a fresh mask each call"
