"""Self-checks for lesson 07's exercises (a convolutional network).

The framework code these checks run (a small trained CNN, outputs in either mode, a short
training run) lives in the adapters' companions for this lesson, ``adapters.pytorch_cnn`` and
``adapters.tensorflow_cnn``; a check picks its companion by ``idiom(adapter).companion``.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from diptych import data
from diptych.adapters.contract import Adapter
from diptych.adapters.idiom import Convention
from diptych.checks import (
    Mismatch,
    as_numpy,
    by_hand,
    exercise,
    expect_array,
    expect_unchanged,
    fresh_rng,
    idiom,
    matches,
    snapshot,
)
from diptych.checks.convolution import (
    COMPANION,
    _batch_name,
    _in_framework_layout,
    _to_framework_images,
)
from diptych.reference import conv


def companion(adapter: Adapter) -> ModuleType:
    """The companion of ``adapter`` holding this lesson's framework code
    (``adapters.<framework>_cnn``); imported on first use, so a check imports one framework."""
    return idiom(adapter).companion(COMPANION)


# --------------------------------------------------------------------------- exercise 1


@exercise("BatchNorm in training mode")
def batch_norm(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 1: BatchNorm's training-mode output. Each channel is standardised by its own mean
    and (biased) variance over the batch and both image axes, then scaled by γ and shifted by β."""
    fw = idiom(adapter)
    rng = fresh_rng("batch_norm")
    scales, offsets = np.array([0.5, 2.0, 4.0]), np.array([-3.0, 0.0, 5.0])
    x = rng.normal(size=(4, 3, 5, 6)) * _per_channel(scales) + _per_channel(offsets)  # NCHW
    gamma, beta, eps = rng.uniform(0.5, 2.0, size=3), rng.normal(size=3), 1e-3
    tensors = [
        _to_framework_images(adapter, x),
        adapter.from_numpy(gamma),
        adapter.from_numpy(beta),
    ]
    before = snapshot(*tensors)
    got = by_hand(
        lambda: learner(*tensors, eps), fw.batch_norm(), reason="use the lesson's formula"
    )
    got = as_numpy(got, "batch_norm")
    expect_unchanged(before, tensors, ["x", "gamma", "beta"])
    for wrong, message in _batch_norm_mistakes(x, gamma, beta, eps):
        if matches(got, _in_framework_layout(adapter, wrong)):
            raise Mismatch(message)
    expected = conv.batch_norm_train(x, gamma, beta, eps=eps)[0]
    expect_array(
        got,
        _in_framework_layout(adapter, expected),
        what=f"the output for a {_batch_name(adapter, x.shape)} batch",
        atol=1e-10,
        dtype=np.float64,
        axes=fw.image_axes,
    )
    return "each of 3 channels standardised over batch, height and width, then scaled and shifted"


def _per_channel(values: np.ndarray) -> np.ndarray:
    """(c,) values broadcast over an NCHW batch."""
    return values[None, :, None, None]


def _batch_norm_mistakes(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> list[tuple[np.ndarray, str]]:
    """NCHW outputs of typical mistakes, each with what it got wrong."""

    def normalised(axes: tuple[int, ...], *, ddof: int = 0, eps_inside: bool = True) -> np.ndarray:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True, ddof=ddof)
        spread = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
        return (x - mean) / spread

    def affine(values: np.ndarray) -> np.ndarray:
        return _per_channel(gamma) * values + _per_channel(beta)

    every = (0, 2, 3)
    return [
        (
            affine(normalised(every, ddof=1)),
            "that divides the variance by n − 1: BatchNorm normalises with the biased variance "
            "(divide by n); only PyTorch's running estimate uses n − 1",
        ),
        (
            affine(normalised((2, 3))),
            "those are each image's own statistics: BatchNorm takes a channel's mean and "
            "variance over the whole batch as well as over height and width",
        ),
        (
            affine(normalised((0,))),
            "those statistics are per pixel position, over the batch only: a convolution's "
            "channel shares one mean and variance across every position",
        ),
        (
            affine(normalised((0, 1, 2, 3))),
            "one mean and variance for all channels: each channel has its own",
        ),
        (
            affine(normalised(every, eps_inside=False)),
            "ε belongs inside the square root: x̂ = (x − μ) / √(σ² + ε)",
        ),
        (normalised(every), "the values are standardised, but γ and β are not applied"),
    ]


# --------------------------------------------------------------------------- exercise 2

#: exercise 2's calls: how many test digits, the batch size passed (None: the default, 64), and
#: whether the model comes in training mode (where a framework has modes)
EVALUATIONS = ((450, None, True), (300, 128, False))


def batchwise_accuracy(
    engine: ModuleType, model: Any, images: np.ndarray, labels: np.ndarray, *, batch_size: int
) -> float:
    """The mean of the accuracies of consecutive batches (the last one may be short), in
    evaluation mode: what an evaluation that averages batch means reports, through a
    framework's companion (``engine.outputs``)."""
    scores = []
    for start in range(0, len(labels), batch_size):
        logits = engine.outputs(model, images[start : start + batch_size], training=False)
        scores.append(float(np.mean(logits.argmax(axis=1) == labels[start : start + batch_size])))
    return float(np.mean(scores))


@exercise("Evaluating a model with BatchNorm")
def evaluation(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 2 (find the bug): the test accuracy of a trained CNN with BatchNorm, computed
    batch by batch, with BatchNorm in inference mode, the model's mode and statistics left as
    they were, and every digit counted once."""
    fw = idiom(adapter)
    engine = companion(adapter)
    digits = data.digits()
    for count, batch_size, training in EVALUATIONS:
        images = digits.X_test[:count].reshape(-1, 1, 8, 8)
        labels = digits.y_test[:count]
        model = engine.trained_cnn()
        engine.set_training_mode(model, training)
        mode = engine.training_mode(model)
        statistics = engine.batch_norm_statistics(model)
        expected = engine.accuracy(model, images, labels)
        size = 64 if batch_size is None else batch_size
        averaged = batchwise_accuracy(engine, model, images, labels, batch_size=size)
        on = engine.device_of(model)  # the model's device: the CPU, where it was made
        inputs = [
            adapter.from_numpy(_in_framework_layout(adapter, images), on=on),
            adapter.from_numpy(labels, on=on),
        ]
        before = snapshot(*inputs)
        keywords = {} if batch_size is None else {"batch_size": batch_size}
        result, recorded = engine.records_gradients(
            model, functools.partial(learner, model, *inputs, **keywords)
        )
        expect_unchanged(before, inputs, ["images", "labels"])
        changed = [
            not np.array_equal(now, then, equal_nan=True)
            for now, then in zip(engine.batch_norm_statistics(model), statistics, strict=True)
        ]
        if any(changed):
            raise Mismatch(
                "BatchNorm's running statistics changed while your function ran: the model "
                "ran in training mode, so each batch was normalised with its own statistics "
                "(and the averages kept for inference were updated); evaluate in inference "
                "mode"
            )
        now = engine.training_mode(model)
        if mode is not None and now != mode:
            state = "training" if mode else "evaluation"
            raise Mismatch(
                f"the model came in {state} mode and your function left it in "
                f"{'training' if now else 'evaluation'} mode: leave it in the mode you found it "
                "in (model.training says which), so that the code around it runs as before"
            )
        if engine.has_gradients(model):
            raise Mismatch(
                "your function left gradients in the model's parameters: evaluating needs no "
                "backward pass"
            )
        if recorded:
            raise Mismatch(
                "autograd recorded the forward pass, building a graph for gradients nobody "
                "asks for: evaluate under torch.no_grad()"
            )
        answer = as_numpy(result, "accuracy")
        if answer.size != 1:
            raise Mismatch(
                f"accuracy returned {answer.size} numbers; return one, the fraction of digits "
                "read correctly"
            )
        got = float(answer.reshape(()))
        where = f"on {count} test digits in batches of {size}"
        if np.isclose(got, 100 * expected) and expected > 0:
            raise Mismatch(f"{where} you return {got:g}, a percentage: return a fraction")
        if np.isclose(got, round(expected * count)) and count > 1:
            raise Mismatch(
                f"{where} you return {got:g}, the number of digits read correctly: return the "
                "fraction"
            )
        if np.isclose(got, averaged, rtol=0, atol=1e-9) and not np.isclose(
            averaged, expected, rtol=0, atol=1e-9
        ):
            raise Mismatch(
                f"{where} you return {got:.6f}, the mean of the batches' accuracies: the last "
                f"batch holds only {count % size} digits and counts as much as a full one; "
                "count the digits read correctly over all batches, then divide once"
            )
        if not np.isclose(got, expected, rtol=0, atol=1e-6):
            raise Mismatch(
                f"{where} you return {got:.6f}, but the model reads {expected:.6f} of them "
                "correctly in inference mode"
            )
    on_the_model = fw.training_mode == "model"  # a mode the learner's code could leave changed
    checked = "statistics and mode unchanged" if on_the_model else "statistics unchanged"
    return f"the right accuracy on 450 and 300 test digits, in uneven batches, {checked}"


# --------------------------------------------------------------------------- exercise 3

#: exercise 3's network: (trainable shapes, NCHW/OIHW/(out, in) layouts), from the input on
CNN_SHAPES = [(8, 1, 3, 3), (8,), (8,), (16, 8, 3, 3), (16,), (16,), (10, 64), (10,)]
#: validation digits exercise 3's model must classify after the lesson's training
TRAIN_EPOCHS, AT_LEAST = 5, 0.90


def _framework_shapes(adapter: Adapter) -> list[tuple[int, ...]]:
    """CNN_SHAPES in the framework's own layouts (Keras: HWIO kernels, dense (in, out))."""
    if idiom(adapter).weight_layout != "keras":
        return list(CNN_SHAPES)
    keras_shape = {4: lambda s: (s[2], s[3], s[1], s[0]), 2: lambda s: (s[1], s[0])}
    return [keras_shape.get(len(s), lambda s: s)(s) for s in CNN_SHAPES]


@exercise("A CNN as practitioners write it")
def cnn_model(learner: Callable[[], Any], adapter: Adapter) -> str:
    """Exercise 3: the described network, built as the lesson builds its own (an nn.Module
    subclass; a functional keras.Model), and trained by the lesson's recipe."""
    fw = idiom(adapter)
    engine = companion(adapter)
    own = engine.OWN_MODEL
    engine.seed(0)
    model = learner()
    if model is None:
        raise Mismatch("it returned None: did you forget the `return`?")
    if not engine.is_model(model):
        raise Mismatch(f"that gives a {type(model).__name__}; build {own}, as the lesson does")
    if engine.is_sequential(model):
        raise Mismatch(
            f"that is a Sequential model; write {own}, as the lesson does (a Sequential "
            "cannot branch, and the lesson's form is the one every larger model uses)"
        )
    digits = data.digits()
    X_fit, y_fit, X_val, y_val = data.holdout(digits.X_train, digits.y_train, seed=0)
    batch = X_fit[:32].reshape(-1, 1, 8, 8)
    evaluated = engine.outputs(model, batch, training=False)
    if evaluated.shape != (32, 10):
        raise Mismatch(
            f"its output for a {_batch_name(adapter, batch.shape)} batch has the shape "
            f"{evaluated.shape}, expected (32, 10): ten logits, one per class, for every image"
        )
    _expect_described_layers(engine.trainable_shapes(model), _framework_shapes(adapter))
    if np.allclose(evaluated.sum(axis=1), 1) and (evaluated >= 0).all():
        raise Mismatch(
            "its outputs are probabilities (each row sums to 1): the network ends in a softmax; "
            "end it with the dense layer's logits, which the loss turns into probabilities "
            "itself"
        )
    if np.allclose(engine.outputs(model, batch, training=True), evaluated, atol=1e-6):
        raise Mismatch(
            "its outputs are the same in training and in inference mode, so BatchNorm never "
            "acts: is it called in the forward pass, after each convolution?"
        )
    _expect_momentum(engine.batch_norm_momenta(model), fw.batch_norm_momentum)
    engine.train(model, X_fit.reshape(-1, 1, 8, 8), y_fit, epochs=TRAIN_EPOCHS)
    accuracy = engine.accuracy(model, X_val.reshape(-1, 1, 8, 8), y_val)
    if accuracy < AT_LEAST:
        raise Mismatch(
            f"after {TRAIN_EPOCHS} epochs of the lesson's training it reads {accuracy:.1%} of "
            f"{len(y_val)} validation digits, below {AT_LEAST:.0%}: compare it with the "
            "description, the order of its layers (convolution, BatchNorm, ReLU, pooling, "
            "twice) and a flatten that keeps each image's features to itself"
        )
    return (
        f"{sum(int(np.prod(s)) for s in CNN_SHAPES):,} trainable parameters, logits, BatchNorm "
        f"active; after {TRAIN_EPOCHS} epochs it reads at least {AT_LEAST:.0%} of {len(y_val)} "
        "validation digits"
    )


def _expect_described_layers(got: list[tuple[int, ...]], expected: list[tuple[int, ...]]) -> None:
    """Mismatch naming what differs between the trainable shapes and the described network's."""
    have, want = Counter(got), Counter(expected)
    if have == want:
        return
    count = sum(int(np.prod(s)) for s in got)
    described = sum(int(np.prod(s)) for s in expected)
    vectors = [s for s in expected if len(s) == 1]  # BatchNorm's γ and β, and the dense bias
    extra, missing = have - want, want - have
    if missing and set(missing) <= set(vectors) and not extra:
        raise Mismatch(
            f"it has {count:,} trainable parameters, {described:,} described: BatchNorm layers "
            "are missing (each holds a γ and a β per channel)"
        )
    if extra and all(len(s) == 1 for s in extra) and not missing:
        raise Mismatch(
            f"it has {count:,} trainable parameters, {described:,} described: the convolutions "
            "keep their bias; BatchNorm subtracts each channel's mean right after, bias "
            "included, so leave the bias out (BatchNorm's β plays its part)"
        )
    dense = [s for s in got if len(s) == 2]
    if len(dense) == 1 and dense[0] not in want:
        raise Mismatch(
            f"its dense layer's weights have the shape {dense[0]}: after two 2×2 poolings the "
            "last block hands it 16 channels of 2×2, flattened"
        )
    raise Mismatch(
        f"it has trainable weights of shapes {sorted(got)}, the described network "
        f"{sorted(expected)}: compare its layers with the description"
    )


def _expect_momentum(momenta: list[float], form: Convention) -> None:
    """Mismatch when a BatchNorm keeps its running averages too long for a small dataset:
    Keras' default momentum (0.99), or Keras' 0.9 given to PyTorch."""
    if form == "keras" and any(m > 0.95 for m in momenta):
        raise Mismatch(
            "a BatchNormalization keeps Keras' default momentum 0.99: each step changes its "
            "moving averages by 1%, so after this short training they still hold much of their "
            "start (mean 0, variance 1) and inference mode reads the digits with the wrong "
            "statistics; give it the momentum the exercise asks for"
        )
    if form == "pytorch" and any(m > 0.5 for m in momenta):
        raise Mismatch(
            "a BatchNorm has a momentum above 0.5: PyTorch's momentum is the weight of the new "
            "batch (Keras' is the weight of the old average), so its running averages barely "
            "move; keep PyTorch's default"
        )
