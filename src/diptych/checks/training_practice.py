"""Self-checks for lesson 05's exercises (training practice).

Each twin asks in its own framework's terms: a ``DataLoader`` or a ``tf.data`` pipeline; the
forgotten mode as PyTorch's missing ``model.eval()`` before predicting, or Keras' missing
``training=True`` in a hand-written training step; a checkpoint as two ``state_dict``s in one file,
or a ``.keras`` archive. The framework code these checks run lives in the adapters' companions for
this lesson (``adapters.pytorch_training_practice``, ``adapters.tensorflow_training_practice``,
picked by ``companion``); this module holds what the checks compare and the mistakes they name.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from diptych.adapters.contract import Adapter
from diptych.adapters.idiom import WHOSE, Idiom, other
from diptych.checks import (
    Mismatch,
    as_numpy,
    as_pair,
    exercise,
    expect_array,
    expect_unchanged,
    idiom,
    matches,
    snapshot,
)
from diptych.checks.compare import fresh_rng
from diptych.checks.idioms import other_form_message
from diptych.reference import training


def companion(adapter: Adapter) -> ModuleType:
    """The companion of ``adapter`` that holds this lesson's framework code
    (``adapters.<framework>_training_practice``); imported on first use, so that a check imports
    one framework only."""
    return idiom(adapter).companion("training_practice")


# --------------------------------------------------------------------------- exercise 1

#: rows, batch size and epochs of the pipeline check: 103 rows leave a short last batch of 3
ROWS, BATCH, EPOCHS = 103, 10, 3


def _marked_rows() -> tuple[np.ndarray, np.ndarray]:
    """(X (103, 3) float32, y (103,) int64): column 0 of each row is its index, so that every
    example can be followed through the pipeline, and its label is a function of the index."""
    index = np.arange(ROWS)
    X = np.stack([index, 0.5 * index + 1, (index % 7) / 7], axis=1).astype(np.float32)
    return X, ((7 * index + 3) % 10).astype(np.int64)


def _epochs(pipeline: Any, X: np.ndarray, y: np.ndarray) -> list[list[np.ndarray]]:
    """The row indices of every batch, epoch by epoch; Mismatch for batches that are not pairs of
    the given rows and their own labels, in the given dtypes."""
    epochs = []
    for epoch in range(EPOCHS):
        batches = []
        for batch in pipeline:
            rows, labels = as_pair(batch, "each batch of your pipeline", "(rows, labels)")
            rows, labels = as_numpy(rows, "a batch's rows"), as_numpy(labels, "a batch's labels")
            if rows.dtype != np.float32 or labels.dtype != np.int64:
                raise Mismatch(
                    f"a batch holds rows of dtype {rows.dtype} and labels of dtype {labels.dtype}: "
                    "keep the dtypes given (float32 rows, int64 labels)"
                )
            if rows.ndim != 2 or rows.shape[1:] != X.shape[1:] or labels.shape != rows.shape[:1]:
                raise Mismatch(
                    f"a batch holds rows of shape {rows.shape} and labels of shape {labels.shape}: "
                    f"expected (batch, {X.shape[1]}) and (batch,)"
                )
            index = rows[:, 0].astype(np.int64)
            if not np.array_equal(rows, X[index]):
                raise Mismatch("a batch holds rows that are not rows of X: serve the rows as given")
            if not np.array_equal(labels, y[index]):
                raise Mismatch(
                    "a batch's labels do not belong to its rows: rows and labels must be shuffled "
                    "together, as pairs"
                )
            batches.append(index)
        if not batches:
            raise Mismatch(
                f"pass {epoch + 1} over your pipeline yields no batch: return a loader or dataset, "
                "which can be iterated once per epoch, not a generator, which runs out after one"
            )
        epochs.append(batches)
    return epochs


def _orders(pipeline: Any) -> list[int]:
    """The row indices of one epoch, in the order served."""
    order: list[int] = []
    for batch in pipeline:
        rows, _ = as_pair(batch, "each batch of your pipeline", "(rows, labels)")
        order += as_numpy(rows, "a batch's rows")[:, 0].astype(int).tolist()
    return order


@exercise("A data pipeline")
def data_pipeline(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 1: a shuffled, batched, reproducible pipeline that drops the short last batch."""
    X, y = _marked_rows()
    given = snapshot(X, y)
    pipeline = learner(X, y, batch_size=BATCH, seed=5)
    expect_unchanged(given, [X, y], ["X", "y"])
    epochs = _epochs(pipeline, X, y)
    full = ROWS // BATCH
    for batches in epochs:
        sizes = [len(batch) for batch in batches]
        if sizes[-1] == ROWS % BATCH and all(size == BATCH for size in sizes[:-1]):
            raise Mismatch(
                f"each epoch ends with a short batch of {ROWS % BATCH} examples: the exercise "
                "asks for full batches only"
            )
        if any(size != BATCH for size in sizes):
            raise Mismatch(f"an epoch's batch sizes are {sizes}; every batch should hold {BATCH}")
        served = np.concatenate(batches)
        if len(np.unique(served)) < len(served):
            raise Mismatch(
                "an example appears twice in one epoch: each example must be served at most "
                "once per epoch (is it drawn with replacement, or the data repeated?)"
            )
        if len(batches) != full:
            raise Mismatch(
                f"an epoch has {len(batches)} batches; {ROWS} rows make {full} full ones"
            )
    orders = [np.concatenate(batches) for batches in epochs]
    if all(np.array_equal(order, np.sort(order)) for order in orders):
        raise Mismatch("the batches come in the data's own order: nothing shuffles")
    if all(np.ptp(batch) == BATCH - 1 for batches in epochs for batch in batches):
        raise Mismatch(
            "every batch holds neighbouring rows: whole batches were shuffled, not examples "
            "(the order of the steps matters)"
        )
    if max(int(batches[0].max()) for batches in epochs) < ROWS // 2:
        raise Mismatch(
            "the first batch of every epoch holds only rows from the first half of the data: "
            "the shuffle draws from a buffer smaller than the data, which mixes only locally"
        )
    if all(np.array_equal(order, orders[0]) for order in orders[1:]):
        raise Mismatch(
            "every epoch serves the examples in the same order: a new order is drawn every epoch"
        )
    again = _orders(learner(X, y, batch_size=BATCH, seed=5))
    if again != orders[0].tolist():
        raise Mismatch(
            "two pipelines made with the same seed serve different orders: the shuffle must "
            "follow `seed`, so that a run can be repeated"
        )
    if _orders(learner(X, y, batch_size=BATCH, seed=6)) == again:
        raise Mismatch("seeds 5 and 6 give the same order: the shuffle ignores `seed`")
    ahead = _prepares_ahead(companion(adapter).stages(pipeline))
    return (
        f"{full} full batches of {BATCH} per epoch, a new order every epoch, the same orders "
        f"for the same seed, rows and labels together{ahead}"
    )


def _prepares_ahead(stages: list[str] | None) -> str:
    """TensorFlow's pipeline exercise also asks for the next batch to be prepared while the
    current one is used: a prefetch step after the batching. Returns the success message's tail."""
    if stages is None:  # not a tf.data pipeline: the batches above were checked all the same
        return ""
    batched = next(
        (i for i, stage in enumerate(stages) if "batch" in stage and stage != "unbatch"),
        len(stages),
    )
    if "prefetch" not in stages[:batched]:
        if "prefetch" in stages:
            raise Mismatch(
                "your pipeline prepares examples ahead before they are batched, so each batch "
                "is still stacked while the model waits: the exercise asks for the next *batch* "
                "to be prepared while the current one is used"
            )
        raise Mismatch(
            "nothing in your pipeline prepares the next batch while the current one is used "
            "(the last property the exercise asks for)"
        )
    return ", the next batch prepared ahead"


# --------------------------------------------------------------------------- exercise 2

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
def early_stopping(learner: Callable[[list[float], int], Any], adapter: Adapter) -> str:
    """Exercise 2: the best epoch, and the epoch at which patience runs out."""
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


# --------------------------------------------------------------------------- exercise 3


@exercise("Coupled and decoupled weight decay")
def weight_decay_step(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 3: momentum-SGD steps with coupled or decoupled decay, in this framework's form."""
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
                state[0], grad, state[1], **hyper, decoupled=decoupled, form=fw.momentum
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
    return f"coupled and decoupled steps both right, two in a row, in {WHOSE[fw.momentum]} form"


def _recognise_decay_mistakes(
    got: list[np.ndarray],
    state: tuple[np.ndarray, np.ndarray],
    grad: np.ndarray,
    hyper: dict[str, float],
    decoupled: bool,
    fw: Idiom,
) -> None:
    theta, velocity = state
    form = fw.momentum
    ours = training.weight_decay_step(
        theta, grad, velocity, **hyper, decoupled=decoupled, form=form
    )
    theirs = training.weight_decay_step(
        theta, grad, velocity, **hyper, decoupled=decoupled, form=other(form)
    )
    swapped = training.weight_decay_step(
        theta, grad, velocity, **hyper, decoupled=not decoupled, form=form
    )
    if matches(got[1], theirs[1]) and not matches(got[1], ours[1]):
        raise Mismatch(other_form_message(form, fw.framework))
    if matches(got[1], swapped[1]) and not matches(got[1], ours[1]):
        raise Mismatch(
            "decoupled decay must stay out of the velocity: it shrinks θ directly"
            if decoupled
            else "coupled decay is part of the gradient, so it enters the velocity"
        )
    shrunk_after = (1 - hyper["lr"] * hyper["weight_decay"]) * training.weight_decay_step(
        theta, grad, velocity, **{**hyper, "weight_decay": 0.0}, decoupled=True, form=form
    )[0]
    if decoupled and matches(got[0], shrunk_after) and not matches(got[0], ours[0]):
        raise Mismatch("θ is shrunk after the step; decoupled decay shrinks it before")


# --------------------------------------------------------------------------- exercise 4

#: the network of the forgotten-mode exercise, and its dropout rate
MODE_SIZES, MODE_DROPOUT = [8, 32, 32, 4], 0.5


@exercise("Find the bug: a forgotten mode")
def forgotten_mode(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 4: PyTorch's prediction without ``model.eval()``, or Keras' training step without
    ``training=True``, found and fixed."""
    if idiom(adapter).training_mode == "model":  # PyTorch: the model forgot model.eval()
        return _predict_in_evaluation_mode(learner, companion(adapter))
    return _train_with_dropout_on(learner, companion(adapter))  # Keras: training=True forgotten


def _predict_in_evaluation_mode(predict: Callable[[Any, Any], Any], pt: ModuleType) -> str:
    rng = fresh_rng("forgotten mode")
    model = pt.dropout_mlp(MODE_SIZES, dropout=MODE_DROPOUT, seed=3)  # in training mode
    X = pt.tensor(rng.normal(size=(40, MODE_SIZES[0])).astype(np.float32))
    expected = pt.inference_labels(model, X)
    weights = pt.parameters(model)
    got = [np.array(as_numpy(predict(model, X), "predict"), copy=True) for _ in range(2)]
    if not all(np.array_equal(a, b) for a, b in zip(weights, pt.parameters(model), strict=True)):
        raise Mismatch("your function changed the model's parameters: predicting must not")
    if pt.dropout_rates(model) != [MODE_DROPOUT] * 2:
        raise Mismatch(
            "your function changed the model's dropout rates: a trained model keeps its "
            "dropout; what changes between training and predicting is the model's mode"
        )
    for labels in got:
        if labels.shape == (len(expected), MODE_SIZES[-1]):
            raise Mismatch("predict returns the logits: return the predicted label of each row")
        if labels.shape != expected.shape:
            raise Mismatch(f"predict returns shape {labels.shape}, expected {expected.shape}")
    if not np.array_equal(got[0], got[1]):
        raise Mismatch(
            "two calls on the same rows give different predictions: dropout is still on while "
            "your function predicts, because the model is still in training mode"
        )
    if not np.array_equal(got[0], expected):
        if pt.in_training_mode(model):
            raise Mismatch(
                "the same predictions twice, but not the model's: the model is still in training "
                "mode, and dropout drew the same masks twice (a fixed seed repeats them)"
            )
        raise Mismatch(
            f"{int(np.sum(got[0] != expected))} of {len(expected)} predictions differ from the "
            "model's own, made in evaluation mode"
        )
    return "the same predictions on every call, the model's own, with dropout off"


def _train_with_dropout_on(train_step: Callable[..., Any], tfc: ModuleType) -> str:
    rng = fresh_rng("forgotten mode")
    theirs, dropout_on, dropout_off = tfc.dropout_mlps(
        MODE_SIZES, dropout=MODE_DROPOUT, seed=3, count=3
    )
    optimizers = [tfc.sgd(0.1) for _ in range(3)]
    for step in range(2):
        X = rng.normal(size=(16, MODE_SIZES[0])).astype(np.float32)
        y = rng.integers(0, MODE_SIZES[-1], size=16).astype(np.int64)
        loss = train_step(theirs, optimizers[0], tfc.tensor(X), tfc.tensor(y))
        expected = tfc.reference_step(dropout_on, optimizers[1], X, y, training=True)
        tfc.reference_step(dropout_off, optimizers[2], X, y, training=False)
        got, on, off = (tfc.trainable(m) for m in (theirs, dropout_on, dropout_off))
        if all(matches(a, b, atol=1e-6, rtol=1e-5) for a, b in zip(got, off, strict=True)):
            raise Mismatch(
                "your step trains with dropout off: the model was called in inference mode, "
                "so every unit took part in every step"
            )
        if not all(matches(a, b, atol=1e-6, rtol=1e-5) for a, b in zip(got, on, strict=True)):
            raise Mismatch(
                f"after step {step + 1} the weights are not those of one SGD step on the batch's "
                "mean cross-entropy with dropout on (one forward pass per step: each call draws "
                "new masks)"
            )
        expect_array(
            loss, expected, what=f"the loss your step returns (step {step + 1})", atol=1e-6
        )
    if tfc.dropout_rates(theirs) != [MODE_DROPOUT] * 2:
        raise Mismatch("your step changed the model's dropout rates")
    return "two steps with dropout on, the same weights as Keras' own training step"


# --------------------------------------------------------------------------- exercise 5

#: the network of the checkpoint exercise, and one of another architecture
CHECKPOINT_SIZES, OTHER_SIZES = [8, 16, 4], [8, 16, 4, 4]


@exercise("Save and restore")
def save_and_restore(save: Callable[..., Any], load: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 5: a checkpoint that restores predictions bit for bit and resumes training."""
    rng = fresh_rng("save and restore")
    X, probe, more = (rng.normal(size=(12, 8)).astype(np.float32) for _ in range(3))
    y = rng.integers(0, 4, size=12).astype(np.int64)
    with tempfile.TemporaryDirectory() as folder:
        framework = companion(adapter)
        path = os.path.join(folder, "checkpoint" + framework.CHECKPOINT_SUFFIX)
        saved_as = {"state_dicts": _state_dicts, "archive": _keras_archive}[framework.CHECKPOINT]
        return saved_as(save, load, framework, path, X, y, probe, more)


@contextmanager
def _quiet_keras_archive() -> Iterator[None]:
    """Keras 3.15 writes and reads a ``.keras`` archive through ``np.array`` of TensorFlow values
    whose ``__array__`` predates NumPy 2's ``copy`` keyword, and NumPy warns: not the learner's
    doing, so that one message is silenced around the learner's save and load."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"__array__ implementation doesn't accept a copy keyword"
        )
        yield


def _written(path: str) -> None:
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise Mismatch(f"after save_checkpoint there is no file at the path given ({path})")


def _bit_identical(restored: np.ndarray, saved: np.ndarray) -> None:
    if not np.array_equal(restored, saved):
        gap = float(np.max(np.abs(restored.astype(np.float64) - saved)))
        raise Mismatch(
            f"the restored model's logits differ from the saved model's by up to {gap:.1e}: a "
            "checkpoint must restore every bit"
        )


def _resumed(after_saved: list[np.ndarray], after_restored: list[np.ndarray]) -> None:
    if not all(np.array_equal(a, b) for a, b in zip(after_saved, after_restored, strict=True)):
        raise Mismatch(
            "one more training step from the saved model and from the restored one gives "
            "different weights: the optimizer's state (its momentum) was not restored"
        )


def _state_dicts(
    save: Callable[..., Any],
    load: Callable[..., Any],
    pt: ModuleType,
    path: str,
    X: np.ndarray,
    y: np.ndarray,
    probe: np.ndarray,
    more: np.ndarray,
) -> str:
    model, optimizer = pt.training_pair(CHECKPOINT_SIZES, seed=4)
    pt.train_steps(model, optimizer, X, y, steps=3)  # the momentum is not zero
    saved, weights = pt.logits(model, probe), pt.parameters(model)
    save(model, optimizer, path)
    _written(path)
    if not all(np.array_equal(a, b) for a, b in zip(weights, pt.parameters(model), strict=True)):
        raise Mismatch("saving changed the model's parameters")
    fresh, fresh_optimizer = pt.training_pair(CHECKPOINT_SIZES, seed=5)
    before = pt.logits(fresh, probe)
    try:
        load(path, fresh, fresh_optimizer)
    except Exception as error:
        if pt.refused_as_a_pickle(error):
            raise Mismatch(
                "torch.load refused your file: it holds a pickled Python object (a whole model "
                "or optimizer?) rather than tensors; a checkpoint holds state_dicts"
            ) from None
        raise
    restored = pt.logits(fresh, probe)
    if np.array_equal(restored, before):
        raise Mismatch(
            "the model you loaded into predicts as it did before loading: its weights were not "
            "restored (were they saved, and copied into that model?)"
        )
    _bit_identical(restored, saved)
    pt.train_steps(model, optimizer, more, y, steps=1)
    pt.train_steps(fresh, fresh_optimizer, more, y, steps=1)
    _resumed(pt.parameters(model), pt.parameters(fresh))
    other, other_optimizer = pt.training_pair(OTHER_SIZES, seed=6)
    try:
        load(path, other, other_optimizer)
    except Exception:
        pass
    else:
        raise Mismatch(
            "loading the checkpoint into a model of another architecture (one more layer) "
            "raised no error: a mismatch must fail loudly, not load part of the weights"
        )
    return (
        "bit-identical logits after loading, training resumes exactly, and another "
        "architecture is refused"
    )


def _keras_archive(
    save: Callable[..., Any],
    load: Callable[..., Any],
    tfc: ModuleType,
    path: str,
    X: np.ndarray,
    y: np.ndarray,
    probe: np.ndarray,
    more: np.ndarray,
) -> str:
    model = tfc.trained_model(CHECKPOINT_SIZES, seed=4, X=X, y=y, steps=3)
    saved, weights = tfc.logits(model, probe), tfc.trainable(model)
    with _quiet_keras_archive():
        save(model, path)
    _written(path)
    if not all(np.array_equal(a, b) for a, b in zip(weights, tfc.trainable(model), strict=True)):
        raise Mismatch("saving changed the model's weights")
    with _quiet_keras_archive():
        restored = load(path)
    if restored is model:
        raise Mismatch(
            "load_checkpoint returned the model you saved: return a new model, read from the file"
        )
    if not tfc.is_model(restored):
        raise Mismatch(f"load_checkpoint returned a {type(restored).__name__}, not a Keras model")
    _bit_identical(tfc.logits(restored, probe), saved)
    if not tfc.has_optimizer(restored):
        raise Mismatch(
            "the restored model is not compiled, so training cannot go on from it: it was "
            "loaded without its optimizer"
        )
    tfc.resume(model, more, y)
    tfc.resume(restored, more, y)
    _resumed(tfc.trainable(model), tfc.trainable(restored))
    return "bit-identical logits after loading, and training resumes exactly"
