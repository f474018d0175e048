"""Lesson 08's self-checks: idiomatic right ports pass in each twin, typical wrong ones fail by name.

The PyTorch twin ports from Keras into PyTorch, the TensorFlow twin from PyTorch into Keras.
Right answers are written out here with plain transposes and reshapes (never with
``diptych.porting``, which the checks use to make their expected values).
"""

import numpy as np
import pytest

from conftest import case_id, verdict
from diptych import checks
from diptych.checks import porting as porting_checks

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
tf = tensorflow.tf


# --------------------------------------------------------------------------- exercise 1


def dense_into_torch(kernel, bias):
    return {"weight": torch.from_numpy(kernel).T, "bias": torch.from_numpy(bias)}


def dense_into_keras(weight, bias):
    return [tf.transpose(weight), bias]


# --------------------------------------------------------------------------- exercise 2


def flatten_into_torch(kernel, feature_map):
    channels, height, width = feature_map
    rows = kernel.reshape(height, width, channels, -1).transpose(2, 0, 1, 3)  # (C, H, W, out)
    return rows.reshape(channels * height * width, -1).T


def flatten_into_keras(weight, feature_map):
    channels, height, width = feature_map
    rows = tf.reshape(tf.transpose(weight), (channels, height, width, -1))
    return tf.reshape(tf.transpose(rows, (1, 2, 0, 3)), (channels * height * width, -1))


def flatten_width_first(kernel, feature_map):
    channels, height, width = feature_map
    rows = kernel.reshape(height, width, channels, -1).transpose(2, 1, 0, 3)  # (C, W, H, out)
    return rows.reshape(channels * height * width, -1).T


# --------------------------------------------------------------------------- exercise 3


def batch_norm_into_torch(weights, config):
    gamma, beta, mean, var = weights
    state = {"weight": gamma, "bias": beta, "running_mean": mean, "running_var": var}
    return state, {"eps": config["epsilon"], "momentum": 1 - config["momentum"]}


def batch_norm_into_keras(state, options):
    names = ("weight", "bias", "running_mean", "running_var")
    return [state[name] for name in names], {
        "epsilon": options["eps"],
        "momentum": 1 - options["momentum"],
    }


def batch_norm_momentum_copied(weights, config):
    state, options = batch_norm_into_torch(weights, config)
    return state, {**options, "momentum": config["momentum"]}


def batch_norm_default_eps(weights, config):
    state, options = batch_norm_into_torch(weights, config)
    return state, {"momentum": options["momentum"]}


def batch_norm_statistics_swapped(weights, config):
    state, options = batch_norm_into_torch(weights, config)
    state["running_mean"], state["running_var"] = state["running_var"], state["running_mean"]
    return state, options


def batch_norm_with_step_count(state, options):
    weights, config = batch_norm_into_keras(state, options)
    return [*weights, state["num_batches_tracked"]], config


# --------------------------------------------------------------------------- exercise 4


def cnn_into_torch(weights, *, conv_axes=(3, 2, 0, 1), reorder=True):
    state = {}
    for conv in ("conv1", "conv2"):
        state[f"{conv}.weight"] = weights[f"cnn/{conv}/kernel"].transpose(conv_axes)
        state[f"{conv}.bias"] = weights[f"cnn/{conv}/bias"]
    for bn in ("bn1", "bn2"):
        for keras_name, torch_name in (
            ("gamma", "weight"),
            ("beta", "bias"),
            ("moving_mean", "running_mean"),
            ("moving_variance", "running_var"),
        ):
            state[f"{bn}.{torch_name}"] = weights[f"cnn/{bn}/{keras_name}"]
    kernel = weights["cnn/dense/kernel"]
    if reorder:
        kernel = kernel.reshape(2, 2, 16, 10).transpose(2, 0, 1, 3).reshape(64, 10)
    state["dense.weight"], state["dense.bias"] = kernel.T, weights["cnn/dense/bias"]
    return state


def cnn_into_keras(state, *, conv_axes=(2, 3, 1, 0)):
    weights = []
    for i in (1, 2):
        weights += [np.transpose(state[f"conv{i}.weight"], conv_axes), state[f"conv{i}.bias"]]
        weights += [state[f"bn{i}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")]
    rows = state["dense.weight"].T.reshape(16, 2, 2, 10).transpose(1, 2, 0, 3).reshape(64, 10)
    return [*weights, rows, state["dense.bias"]]


RIGHT = [
    (porting_checks.dense_layer, dense_into_torch, pytorch),
    (porting_checks.dense_layer, lambda kernel, bias: {"weight": kernel.T, "bias": bias}, pytorch),
    (porting_checks.dense_layer, dense_into_keras, tensorflow),
    (porting_checks.flatten_order, flatten_into_torch, pytorch),
    (porting_checks.flatten_order, flatten_into_keras, tensorflow),
    (porting_checks.batch_norm, batch_norm_into_torch, pytorch),
    (porting_checks.batch_norm, batch_norm_into_keras, tensorflow),
    (porting_checks.whole_model, cnn_into_torch, pytorch),
    (porting_checks.whole_model, cnn_into_keras, tensorflow),
]

WRONG = [
    (
        porting_checks.dense_layer,
        lambda kernel, bias: {"weight": kernel.reshape(3, 5), "bias": bias},
        pytorch,
        "a reshape keeps them in their order",
    ),
    (
        porting_checks.dense_layer,
        lambda kernel, bias: {"weight": kernel, "bias": bias},
        pytorch,
        "out features and in features swapped",
    ),
    (porting_checks.dense_layer, lambda w, b: (w, b), pytorch, "return a dict"),
    (porting_checks.dense_layer, lambda w, b: {"weight": w.T}, pytorch, "lacks 'bias'"),
    (porting_checks.dense_layer, lambda w, b: [w, b], tensorflow, "in features and out features"),
    (porting_checks.flatten_order, lambda k, fm: k.T, pytorch, "the flatten trap"),
    (porting_checks.flatten_order, lambda w, fm: tf.transpose(w), tensorflow, "the flatten trap"),
    (porting_checks.flatten_order, flatten_width_first, pytorch, "flatten order (C, W, H)"),
    (porting_checks.batch_norm, batch_norm_momentum_copied, pytorch, "momentum copied"),
    (porting_checks.batch_norm, batch_norm_default_eps, pytorch, "ε was left at PyTorch's default"),
    (porting_checks.batch_norm, batch_norm_statistics_swapped, pytorch, "mean and variance are"),
    (porting_checks.batch_norm, batch_norm_with_step_count, tensorflow, "step count"),
    (
        porting_checks.batch_norm,
        lambda s, o: batch_norm_into_keras(s, {"eps": 1e-3, "momentum": o["momentum"]}),
        tensorflow,
        "ε was left at Keras' default",
    ),
    (
        porting_checks.whole_model,
        lambda w: cnn_into_torch(w, conv_axes=(3, 2, 1, 0)),  # the exercise's broken port: .T
        pytorch,
        "height and width swapped",
    ),
    (
        porting_checks.whole_model,
        lambda w: cnn_into_torch(w, reorder=False),
        pytorch,
        "flatten trap",
    ),
    (
        porting_checks.whole_model,
        lambda s: cnn_into_keras(s, conv_axes=(3, 2, 1, 0)),
        tensorflow,
        "height and width swapped",
    ),
]


@pytest.mark.parametrize("check, learner, adapter", RIGHT, ids=[case_id(c) for c in RIGHT])
def test_an_idiomatic_right_port_passes(check, learner, adapter, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize("check, learner, adapter, named", WRONG, ids=[case_id(c) for c in WRONG])
def test_a_typical_wrong_port_fails_with_its_named_hint(check, learner, adapter, named, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.FAILED
    assert named in outcome.message, outcome.message


def test_every_exercise_has_a_right_port_per_framework_and_a_wrong_one():
    for item in checks.exercises_of("porting"):
        right = {a.NAME for c, _, a in RIGHT if c.__name__ == item.check}
        assert right == {"PyTorch", "TensorFlow"}, item
        assert any(c.__name__ == item.check for c, *_ in WRONG), item


def test_the_exercises_are_registered_in_order():
    items = checks.exercises_of("porting")
    assert [item.number for item in items] == [1, 2, 3, 4]
    assert items[0].heading == "Exercise 1: Porting a dense layer"


def test_a_stub_is_not_done_yet_and_says_so_on_stderr(outcomes, capsys):
    def stub(*args):
        raise NotImplementedError("Exercise not done yet")

    porting_checks.whole_model(stub, tensorflow)
    assert outcomes()[0].status == checks.NOT_DONE
    assert capsys.readouterr().err.startswith("… Exercise 4: Finding the bug in a port — not done")


def test_a_port_that_changes_its_input_in_place_is_caught(outcomes):
    def in_place(weights):
        weights["cnn/conv1/bias"] *= 2
        return cnn_into_torch(weights)

    assert (
        "changed its input `cnn/conv1/bias`"
        in verdict(porting_checks.whole_model, in_place, pytorch, outcomes).message
    )


def test_hints_never_give_the_conversion_away(outcomes):
    for check, learner, adapter, _ in WRONG:
        check(learner, adapter)
    text = " ".join(outcome.message for outcome in outcomes())
    for answer in ("(3, 2, 0, 1)", "(2, 3, 1, 0)", "1 - m", "1 − m", "transpose(", "(1, 2, 0"):
        assert answer not in text
