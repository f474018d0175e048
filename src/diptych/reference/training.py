"""Lesson 05's reference: early stopping, weight decay (coupled and decoupled), warm-up + cosine.

Where the frameworks' conventions differ, both are here, named by framework: PyTorch's momentum
velocity v ← μv + g (the step is −lr·v) and Keras' v ← μv − lr·g (the step is +v); PyTorch's
usual ``LambdaLR`` warm-up (t + 1)/W, which already moves at step 0, and Keras' ``CosineDecay``
warm-up t/W, which starts from 0.
"""

from __future__ import annotations

import math

import numpy as np

FORMS = ("pytorch", "keras")


def early_stopping(losses: list[float], patience: int) -> tuple[int, int | None]:
    """(best epoch so far, the epoch at which patience runs out or None).

    Each epoch's loss is looked at first (a strict improvement moves the best epoch), then
    patience is tested: training stops at the first epoch ``patience`` epochs after the best.
    """
    best = 0
    for epoch, loss in enumerate(losses):
        if loss < losses[best]:
            best = epoch
        if epoch - best >= patience:
            return best, epoch
    return best, None


def weight_decay_step(
    theta: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray,
    *,
    lr: float,
    momentum: float,
    weight_decay: float,
    decoupled: bool,
    form: str = "pytorch",
) -> tuple[np.ndarray, np.ndarray]:
    """One momentum-SGD step with weight decay λ; returns (θ, velocity).

    Coupled: λθ is added to the gradient (an L2 term in the loss), so it enters the velocity.
    Decoupled: θ shrinks by lr·λ·θ first, and the velocity never sees λ.
    """
    _check_form(form)
    if decoupled:
        theta = theta - lr * weight_decay * theta
    else:
        grad = grad + weight_decay * theta
    if form == "pytorch":
        velocity = momentum * velocity + grad
        return theta - lr * velocity, velocity
    velocity = momentum * velocity - lr * grad
    return theta + velocity, velocity


def warmup_cosine(
    step: int, *, total_steps: int, base_lr: float, warmup_steps: int, form: str = "pytorch"
) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""
    _check_form(form)
    if step < warmup_steps:
        return base_lr * (step + 1 if form == "pytorch" else step) / warmup_steps
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return base_lr * 0.5 * (1 + math.cos(math.pi * progress))


def _check_form(form: str) -> None:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
