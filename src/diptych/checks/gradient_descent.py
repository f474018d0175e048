"""Self-checks for lesson 02's exercises (gradient descent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import data
from diptych.adapters.contract import Adapter
from diptych.adapters.idiom import WHOSE, other
from diptych.checks import (
    Mismatch,
    as_numpy,
    as_pair,
    by_hand,
    exercise,
    expect_array,
    expect_unchanged,
    fresh_rng,
    idiom,
    matches,
    snapshot,
)
from diptych.checks.idioms import other_form_message
from diptych.reference import regression

#: relative tolerance on one optimizer step: accepts a learning rate kept in float32 (as Keras
#: keeps its learning rate, in floatx: 0.05 becomes 0.0500000007, a relative 1.5e-8), rejects any
#: wrong formula (those are off by a fraction of the step)
STEP_RTOL = 1e-6


def _problem(name: str, n: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = fresh_rng(name)
    problem = data.regression(
        n=n, w=rng.uniform(-3, 3), b=rng.uniform(-2, 2), seed=int(rng.integers(1000))
    )
    return problem.design, problem.y, rng.normal(size=2)


@exercise("The gradient of the mean squared error")
def mse_gradient(learner: Callable[[Any, Any, Any], Any], adapter: Adapter) -> str:
    """Exercise 1: the analytic gradient of the mean squared error, without autograd.

    First on a line fit (two columns: x and 1), then on a design with three features, so that
    a gradient written as a slope's and an intercept's partial derivative is named.
    """
    X, y, theta = _problem("mse_gradient")
    _mse_gradient_on(learner, adapter, X, y, theta)
    rng = fresh_rng("mse_gradient_features")
    X3 = np.column_stack([rng.normal(size=(15, 2)), np.ones(15)])  # (15, 3): two features and 1
    y3, theta3 = X3 @ rng.normal(size=3) + 0.3 * rng.normal(size=15), rng.normal(size=3)
    _mse_gradient_on(learner, adapter, X3, y3, theta3)
    return "matches the reference on a line fit and on a design with 3 features, by hand"


def _mse_gradient_on(
    learner: Callable[[Any, Any, Any], Any],
    adapter: Adapter,
    X: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
) -> None:
    """Run exercise 1's function on one problem; name its mistakes."""
    inputs = [adapter.from_numpy(a) for a in (theta, X, y)]
    before = snapshot(*inputs)
    got = by_hand(
        lambda: learner(*inputs), idiom(adapter).autograd(), reason="write the gradient by hand"
    )
    got_array = as_numpy(got, "mse_gradient")
    expect_unchanged(before, inputs, ["theta", "X", "y"])
    d = X.shape[1]
    if d > 2 and got_array.shape != (d,):
        raise Mismatch(
            f"for X with {d} columns and θ of shape ({d},) your gradient has shape "
            f"{got_array.shape}: it needs one partial derivative per column of X, whatever the "
            "number of columns, not a slope's and an intercept's written out one by one"
        )
    expected = regression.mse_grad(theta, X, y)
    if matches(got_array, -expected):
        raise Mismatch(
            "your gradient has its sign flipped: it points downhill, and a gradient points "
            "uphill, the way the loss grows"
        )
    if matches(got_array, expected / 2):
        raise Mismatch(
            "your gradient is exactly half the right one: the derivative of a square brings a "
            "factor 2"
        )
    if matches(got_array, expected * len(y), atol=1e-8):
        raise Mismatch("your gradient is n times too large: the loss is a mean, not a sum")
    expect_array(
        got,
        expected,
        what=f"mse_gradient(θ, X, y) for X of shape {X.shape}",
        atol=1e-10,
        dtype=np.float64,
    )


@exercise("One minibatch SGD step")
def sgd_step(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 2: one minibatch SGD step, called three times in a row as a training loop would."""
    X, y, theta = _problem("sgd_step")
    batches = [np.array([0, 3, 5, 8]), np.array([1, 2, 9, 11]), np.array([4, 6, 7, 10])]
    lr = 0.05
    path = regression.sgd(theta, X, y, lr=lr, batches=batches)
    current = adapter.from_numpy(theta)
    first_input, before = current, snapshot(current)
    for step, batch in enumerate(batches):
        X_batch, y_batch = adapter.from_numpy(X[batch]), adapter.from_numpy(y[batch])
        got = _one_sgd_step(learner, adapter, current, X_batch, y_batch, lr)
        got_array = np.array(as_numpy(got, "sgd_step"), copy=True)
        change = path[step + 1] - path[step]
        if matches(got_array, path[step] - change, atol=1e-9):
            raise Mismatch("you stepped uphill: the loss grows along the gradient")
        if matches(got_array, path[step] + len(batch) * change, atol=_step_atol(change)):
            raise Mismatch(
                f"your step is b = {len(batch)} times too large: the batch loss is a mean over "
                "the batch, not a sum"
            )
        if step > 0 and not matches(got_array, path[step + 1], atol=_step_atol(change)):
            raise Mismatch(
                f"step 1 is right, but step {step + 1} of a loop that feeds each result back is "
                "not: does something from the previous call linger (a gradient that adds up in "
                "`.grad`, a tensor changed in place)?"
            )
        expect_array(
            got_array,
            path[step + 1],
            what=f"θ after step {step + 1}",
            atol=_step_atol(change),
            dtype=np.float64,
        )
        current = got
    expect_unchanged(before, [first_input], ["theta"])
    return "three steps in a loop land where the reference does, and θ is left as it was"


def _one_sgd_step(
    learner: Callable[..., Any], adapter: Adapter, theta: Any, X: Any, y: Any, lr: float
) -> Any:
    """Call exercise 2's function once; name a gradient that autograd never computed (None)."""
    try:
        got = learner(theta, X, y, lr=lr)
    except (TypeError, ValueError) as error:
        if "NoneType" not in str(error) and "No gradients" not in str(error):
            raise
        raise Mismatch(_no_gradient(adapter)) from error
    if got is None:
        raise Mismatch("your function returns None: return the new θ")
    return got


def _no_gradient(adapter: Adapter) -> str:
    """Exercise 2's commonest mistake, a gradient that is None, in the framework's own words (its
    ``gradient_descent`` companion's); a framework without one gets the plain fact."""
    own = idiom(adapter)
    try:
        words: str = own.companion("gradient_descent").NO_GRADIENT
    except ModuleNotFoundError:
        return f"{own.framework} gave no gradient (None)"
    return words


def _step_atol(change: np.ndarray) -> float:
    return STEP_RTOL * float(np.abs(change).max()) + 1e-13


@exercise("A momentum step")
def momentum_step(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 3: heavy-ball momentum in this framework's form, three steps in a row."""
    form = idiom(adapter).momentum
    rng = fresh_rng("momentum")
    theta, velocity = rng.normal(size=(2, 2))
    gradients = rng.normal(size=(3, 2))
    lr, mu = 0.1, 0.9
    tensors = [adapter.from_numpy(a) for a in (theta, velocity)]
    before = snapshot(*tensors)
    current = tensors
    expected = (theta, velocity)
    for step, gradient in enumerate(gradients):
        result = learner(*current, adapter.from_numpy(gradient), lr=lr, momentum=mu)
        new_theta, new_velocity = as_pair(result, "momentum_step", "(new θ, new velocity)")
        got_theta = np.array(as_numpy(new_theta, "the new θ"), copy=True)
        got_velocity = np.array(as_numpy(new_velocity, "the new velocity"), copy=True)
        expected = regression.momentum_step(*expected, gradient, lr=lr, momentum=mu, form=form)
        theirs = regression.momentum_step(
            theta, velocity, gradient, lr=lr, momentum=mu, form=other(form)
        )
        if step == 0 and matches(got_velocity, theirs[1]):
            raise Mismatch(other_form_message(form, idiom(adapter).framework))
        expect_array(
            got_velocity,
            expected[1],
            what=f"the velocity after step {step + 1}",
            atol=1e-12,
            rtol=STEP_RTOL,
            dtype=np.float64,
        )
        expect_array(
            got_theta,
            expected[0],
            what=f"θ after step {step + 1}",
            atol=1e-12,
            rtol=STEP_RTOL,
            dtype=np.float64,
            hint="which velocity moves θ: the one before this step's update, or after?",
        )
        current = [new_theta, new_velocity]
    expect_unchanged(before, tensors, ["theta", "velocity"])
    return f"three steps in {WHOSE[form]} form: velocity and θ both right"


@exercise("The largest stable learning rate")
def largest_stable_learning_rate(learner: Callable[[Any], Any], adapter: Adapter) -> str:
    """Exercise 4: 2 / λ_max of the MSE's Hessian."""
    X, _, _ = _problem("stable", n=30)
    tensor = adapter.from_numpy(X)
    before = snapshot(tensor)
    got = as_numpy(learner(tensor), "largest_stable_learning_rate")
    expect_unchanged(before, [tensor], ["X"])
    if got.size != 1:
        raise Mismatch(f"return one number, not an array of shape {got.shape}")
    eigenvalues = np.linalg.eigvalsh(2 / len(X) * X.T @ X)
    expected = 2 / eigenvalues.max()
    value = float(got.reshape(()))
    mistakes = {
        1 / eigenvalues.max(): "that is half the limit: a quadratic is stable up to twice that",
        2 / eigenvalues.min(): "that uses the smallest eigenvalue: the steepest direction is the "
        "one that diverges first",
        expected * 2 / len(X): "off by the factor that turns XᵀX into the Hessian of a mean",
        expected * len(X) / 2: "off by the factor that turns XᵀX into the Hessian of a mean",
    }
    for wrong, message in mistakes.items():
        if np.isclose(value, wrong, rtol=1e-9) and not np.isclose(value, expected, rtol=1e-9):
            raise Mismatch(message)
    expect_array(value, expected, what="the learning rate", atol=1e-10)
    return f"{expected:.6f} for a fresh design matrix"


@exercise("The fastest learning rate")
def fastest_learning_rate(learner: Callable[[Any], Any], adapter: Adapter) -> str:
    """Exercise 5: η* = argmin_η max_i |1 − ηλᵢ| and that smallest rate, for the MSE's Hessian.

    Checked on a line fit (2 parameters) and on a design with 3 features, where "the other
    eigenvalue" is no longer the smallest or the largest.
    """
    X_line, _, _ = _problem("fastest", n=30)
    X_wide = fresh_rng("fastest-wide").normal(size=(40, 3)) + np.array([1.0, 0.0, 2.0])
    for X in (X_line, X_wide):
        tensor = adapter.from_numpy(X)
        before = snapshot(tensor)
        lr, rate = (
            _one_number(value, what)
            for value, what in zip(
                as_pair(learner(tensor), "fastest_learning_rate", "(lr, rate)"),
                ("the learning rate", "the rate"),
                strict=True,
            )
        )
        expect_unchanged(before, [tensor], ["X"])
        eigenvalues = np.linalg.eigvalsh(2 / len(X) * X.T @ X)
        low, high = float(eigenvalues.min()), float(eigenvalues.max())
        _fastest_mistakes(lr, rate, low, high, len(X))
        second = 2 / (eigenvalues[0] + eigenvalues[1])  # right only when λ₁ is λ_max, for d = 2
        if len(eigenvalues) > 2 and np.isclose(lr, second, rtol=1e-9):
            raise Mismatch(
                f"that uses the second eigenvalue as λ_max: with {len(eigenvalues)} features the "
                "largest is the last of `eigvalsh`'s ascending ones, not index 1"
            )
        expect_array(lr, 2 / (low + high), what="the learning rate", atol=0, rtol=1e-9)
        expect_array(rate, (high - low) / (high + low), what="the rate", atol=0, rtol=1e-9)
    best = np.linalg.eigvalsh(2 / len(X_line) * X_line.T @ X_line)
    return (
        f"η* = {2 / best.sum():.4f} with rate {np.ptp(best) / best.sum():.4f} for a fresh line fit, "
        "and right for 3 features too"
    )


def _one_number(value: Any, what: str) -> float:
    array = as_numpy(value, what)
    if array.size != 1:
        raise Mismatch(f"{what} must be one number, not an array of shape {array.shape}")
    return float(array.reshape(()))


def _fastest_mistakes(lr: float, rate: float, low: float, high: float, n: int) -> None:
    """Name the usual wrong answers of exercise 5."""
    best = 2 / (low + high)
    lr_mistakes = {
        2 / high: "that is the edge of divergence: there the steepest direction's factor is −1, "
        "and its error never shrinks",
        1 / high: "that settles the steepest direction in one step, but leaves the flattest "
        "shrinking slowly: a slightly larger rate helps it more than it hurts the steepest",
        1 / low: "that settles the flattest direction, but the steepest one diverges there",
        best * 2 / n: "off by the factor that turns XᵀX into the Hessian of a mean",
        best * n / 2: "off by the factor that turns XᵀX into the Hessian of a mean",
    }
    for wrong, message in lr_mistakes.items():
        if np.isclose(lr, wrong, rtol=1e-9) and not np.isclose(lr, best, rtol=1e-9):
            raise Mismatch(message)
    rate_mistakes = {
        high / low: "that is the condition number κ; the rate is the factor by which the error "
        "shrinks per step, at most 1",
        -(high - low) / (high + low): "the rate is the size of the factor, without its sign",
        ((high - low) / (high + low)) ** 2: "that is how fast the loss shrinks; the rate asked "
        "for is the error's, whose square the loss follows",
    }
    for wrong, message in rate_mistakes.items():
        if np.isclose(rate, wrong, rtol=1e-9):
            raise Mismatch(message)
