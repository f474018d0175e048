"""Self-checks for lesson 03's exercises (linear models)."""

from __future__ import annotations

import traceback
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
    fresh_rng,
    idiom,
    matches,
    snapshot,
)
from diptych.reference import classification

OVERFLOW_HINT = (
    "exponentials of large logits overflow (e^1000 is inf even in float64); log-softmax does "
    "not change when one number is added to a whole row"
)


def _logits(name: str, n: int = 6, k: int = 5, scale: float = 3.0) -> np.ndarray:
    return (fresh_rng(name).normal(size=(n, k)) * scale).astype(np.float64)


def _extreme_logits() -> np.ndarray:
    """Logits where only a stable log-softmax survives: exponentials overflow or all underflow."""
    Z = _logits("log_softmax")
    Z[0] = [1000.0, 999.0, 998.0, -1000.0, 0.0]  # exp(1000) overflows
    Z[1] = [-1000.0, -1001.0, -999.0, -1002.0, -1000.5]  # every exp underflows to 0
    return Z


@exercise("A stable log-softmax")
def log_softmax(learner: Callable[[Any], Any], adapter: Any) -> str:
    """Exercise 1: a numerically stable log-softmax along the last axis, by hand."""
    Z = _extreme_logits()
    tensor = adapter.from_numpy(Z)
    before = snapshot(tensor)
    got = by_hand(
        lambda: learner(tensor),
        idiom(adapter).log_softmax(),
        reason="write log-softmax yourself, from exponentials and logs",
    )
    got_array = as_numpy(got, "log_softmax")
    expect_unchanged(before, [tensor], ["Z"])
    if matches(got_array, classification.log_softmax(Z.T).T):
        raise Mismatch(
            "you normalised along the wrong axis: each row is one example, and its probabilities "
            "must sum to 1"
        )
    expect_array(
        got_array,
        classification.log_softmax(Z),
        what="log_softmax(Z)",
        atol=1e-10,
        dtype=np.float64,
        hint=OVERFLOW_HINT,
    )
    return "right on 6 rows, including logits of ±1000 and rows whose every exponential underflows"


@exercise("Cross-entropy from logits")
def cross_entropy(
    learner: Callable[[Any, Any], Any], adapter: Any, uses: Callable[[Any], Any] | None = None
) -> str:
    """Exercise 2: mean cross-entropy from logits and integer labels.

    ``uses`` is the learner's ``log_softmax`` from exercise 1: when the cross-entropy is wrong
    and so is what it builds on, the message says to fix exercise 1 first.
    """
    Z, labels = _logits("cross_entropy"), fresh_rng("labels").integers(0, 5, size=6)
    Z[1] = [
        500.0,
        -500.0,
        0.0,
        3.0,
        -2.0,
    ]  # the label's probability rounds to 0: log(softmax) = −inf
    Z[2] = [1000.0, 998.0, 999.0, -1000.0, 0.0]  # exp(1000) overflows in a naive log-softmax
    labels[1:3] = 1, 0
    expected = classification.cross_entropy(Z, labels)
    try:
        got = as_numpy(learner(adapter.from_numpy(Z), adapter.from_numpy(labels)), "cross_entropy")
        _compare_cross_entropy(got, expected, Z, labels)
    except NotImplementedError as error:
        if uses is not None and _raised_in(error, uses):
            raise Mismatch(
                "your cross_entropy calls log_softmax from exercise 1, which is not done yet"
            ) from error
        raise
    except Mismatch as mismatch:
        if _builds_on(learner, uses) and not _right_log_softmax(uses, adapter):
            raise Mismatch(
                "your cross_entropy builds on the log_softmax of exercise 1, which is not right "
                "yet (its check says how): fix exercise 1 first"
            ) from mismatch
        raise
    return "the mean negative log-likelihood, on logits, finite where a probability rounds to 0"


def _compare_cross_entropy(
    got: np.ndarray, expected: float, Z: np.ndarray, labels: np.ndarray
) -> None:
    if got.shape != ():
        raise Mismatch(
            f"return one number (the mean over the batch), not an array of shape {got.shape}"
        )
    if np.isinf(got):
        raise Mismatch(
            f"your loss is {float(got)} where the right one is finite ({expected:.4g}): one "
            "example's logit at its label is 1000 below the largest, so its probability rounds to "
            "0 and its log is −inf. Take the log-probability from the logits, not the log of a "
            "probability"
        )
    if np.isclose(got, expected * len(labels)):
        raise Mismatch("that is the sum over the batch: the loss is a mean")
    if np.isclose(got, -expected):
        raise Mismatch("the sign is flipped: cross-entropy is the *negative* log-likelihood")
    every_label = -classification.log_softmax(Z)[:, labels].mean()
    if np.isclose(got, every_label):
        raise Mismatch(
            "you picked every label's entry in every row: each row's entry at its own label only"
        )
    expect_array(got, expected, what="cross_entropy(Z, y)", atol=1e-10)


def _raised_in(error: BaseException, function: Callable[..., Any]) -> bool:
    code = getattr(function, "__code__", None)
    return any(frame.f_code is code for frame, _ in traceback.walk_tb(error.__traceback__))


def _builds_on(learner: Callable[..., Any], uses: Callable[..., Any] | None) -> bool:
    """Does the learner's function refer to ``uses`` by name (as a notebook global)?"""
    names = getattr(getattr(learner, "__code__", None), "co_names", ())
    return uses is not None and getattr(uses, "__name__", "") in names


def _right_log_softmax(uses: Callable[[Any], Any] | None, adapter: Any) -> bool:
    if uses is None:
        return False
    Z = _extreme_logits()
    try:
        return matches(
            as_numpy(uses(adapter.from_numpy(Z)), "log_softmax"), classification.log_softmax(Z)
        )
    except Exception:  # not done, or crashing: either way exercise 1 is not right
        return False


@exercise("The softmax-regression gradient")
def softmax_regression_gradient(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 3: the analytic gradient of softmax regression, (dW, db), without autograd."""
    rng = fresh_rng("gradient")
    X, W, b = rng.random((8, 6)), rng.normal(size=(6, 4)), rng.normal(size=4)
    labels = rng.integers(0, 4, size=8)
    tensors = [adapter.from_numpy(a) for a in (X, W, b, labels)]
    before = snapshot(*tensors)
    result = by_hand(
        lambda: learner(*tensors), idiom(adapter).autograd(), reason="use the formula you derived"
    )
    dW, db = as_pair(result, "softmax_regression_gradient", "(dW, db)")
    expect_unchanged(before, tensors, ["X", "W", "b", "y"])
    expected = classification.linear_grads(X, W, b, labels)
    dW_array, db_array = as_numpy(dW, "dW"), as_numpy(db, "db")
    if matches(dW_array, -expected["W"]):
        raise Mismatch("dW has its sign flipped: it points downhill, and a gradient points uphill")
    if matches(dW_array, expected["W"] * len(labels)):
        raise Mismatch("dW is n times too large: the loss is a mean over the batch")
    axes = ("features (rows of W)", "classes (columns of W)")
    expect_array(dW_array, expected["W"], what="dW", atol=1e-10, dtype=np.float64, axes=axes)
    if matches(db_array, expected["b"] * len(labels)):
        raise Mismatch("db is n times too large: the loss is a mean over the batch")
    expect_array(db_array, expected["b"], what="db", atol=1e-10, dtype=np.float64)
    return "dW and db both match the reference, by hand"


@exercise("The Adam update")
def adam_step(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 4: two Adam updates in a row, in this framework's placement of ε."""
    fw = idiom(adapter)
    rng = fresh_rng("adam")
    param, grad, m = rng.normal(size=(3, 5))
    v = rng.random(5) * 1e-3
    grad[0], m[0], v[0] = 1e-7, 1e-7, 1e-15  # a tiny gradient: where ε's placement shows
    hyper = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    tensors = [adapter.from_numpy(a) for a in (param, grad, m, v)]
    before = snapshot(*tensors)
    state: tuple[np.ndarray, ...] = (param, m, v)
    current = [tensors[0], tensors[2], tensors[3]]
    for step in (3, 4):
        result = learner(current[0], tensors[1], current[1], current[2], step=step, **hyper)
        got = [
            np.array(as_numpy(r, w), copy=True)
            for r, w in zip(
                as_pair(result, "adam_step", "(new param, new m, new v)"),
                ("the new param", "the new m", "the new v"),
                strict=True,
            )
        ]
        expected = classification.adam_step(
            state[0], grad, state[1], state[2], step=step, epsilon_style=fw.form, **hyper
        )
        theirs = classification.adam_step(
            state[0], grad, state[1], state[2], step=step, epsilon_style=fw.other_form, **hyper
        )
        expect_array(got[1], expected[1], what=f"m after step {step}", atol=1e-12, dtype=np.float64)
        expect_array(
            got[2],
            expected[2],
            what=f"v after step {step}",
            atol=1e-15,
            rtol=1e-9,
            dtype=np.float64,
        )
        if matches(got[0], theirs[0], atol=1e-12) and not matches(got[0], expected[0], atol=1e-12):
            raise Mismatch(
                f"that is {fw.other_form_name} placement of ε, right in {fw.other}; this "
                f"{fw.framework} exercise asks for {fw.form_name} (see the exercise's statement)"
            )
        for shifted in (step - 1, step + 1):
            off = classification.adam_step(
                state[0], grad, state[1], state[2], step=shifted, epsilon_style=fw.form, **hyper
            )
            if matches(got[0], off[0], atol=1e-12):
                raise Mismatch(
                    f"at step {step} your bias correction uses the step counter {shifted}: "
                    "the counter starts at 1 for the first update"
                )
        expect_array(
            got[0],
            expected[0],
            what=f"the param after step {step}",
            atol=1e-12,
            dtype=np.float64,
            hint="are both moments corrected for their bias before the update?",
        )
        state, current = tuple(expected), list(as_pair(result, "adam_step", "(param, m, v)"))
    expect_unchanged(before, tensors, ["param", "grad", "m", "v"])
    return f"param, m and v all match at steps 3 and 4, with {fw.form_name} placement of ε"


@exercise("Binary cross-entropy from a logit")
def binary_cross_entropy(learner: Callable[[Any, Any], Any], adapter: Any) -> str:
    """Exercise 5: mean binary cross-entropy from logits, finite where σ(z) rounds to 0 or 1."""
    z = np.array([-800.0, -40.0, -3.0, -0.5, 0.0, 0.7, 40.0, 800.0])
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    order = fresh_rng("binary").permutation(len(z))
    z, t = z[order], t[order]
    tensors = [adapter.from_numpy(z), adapter.from_numpy(t)]
    before = snapshot(*tensors)
    got = as_numpy(learner(*tensors), "binary_cross_entropy")
    expect_unchanged(before, tensors, ["z", "t"])
    expected = classification.binary_cross_entropy(z, t)
    if got.shape != ():
        raise Mismatch(
            f"return one number (the mean over the batch), not an array of shape {got.shape}"
        )
    if np.isfinite(got):
        if np.isclose(got, expected * len(z)):
            raise Mismatch("that is the sum over the batch: the loss is a mean")
        if np.isclose(got, -expected):
            raise Mismatch("the sign is flipped: the loss is the *negative* log-likelihood")
        if np.isclose(got, classification.binary_cross_entropy(z, 1 - t)):
            raise Mismatch(
                "t and 1 − t swapped roles: the loss must be small where σ(z) is close to t"
            )
    else:
        raise Mismatch(
            f"your loss is {float(got)} where the right one is finite ({expected:.6g}): at a "
            "logit of ±40 or ±800, σ(z) rounds to exactly 0 or 1, and the log of 0 is −∞. "
            "Rewrite both logs so that no probability is ever computed"
        )
    expect_array(got, expected, what="binary_cross_entropy(z, t)", atol=1e-10)
    return "the mean over logits from −800 to 800, finite where σ(z) rounds to 0 or 1"
