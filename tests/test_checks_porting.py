"""Lesson 08's self-checks: idiomatic right ports pass in each twin, typical wrong ones fail by name.

The PyTorch twin ports from Keras into PyTorch, the TensorFlow twin from PyTorch into Keras.
Right answers are written out here with plain transposes and reshapes (never with
``diptych.porting``, which the checks use to make their expected values).
"""

import numpy as np
import pytest

from diptych import checks
from diptych.checks import porting as porting_checks

from helpers import case_id, verdict

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
tf = tensorflow.tf
keras = pytest.importorskip("keras")


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


def flatten_width_first_into_keras(weight, feature_map):
    channels, height, width = feature_map
    rows = weight.T.reshape(channels, height, width, -1).transpose(2, 1, 0, 3)  # (W, H, C, out)
    return rows.reshape(channels * height * width, -1)


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


def into_keras_as(wrong_into_torch):
    """A wrong BatchNorm port into PyTorch, made into Keras: the same arrays in the same wrong
    places, the momentum as wrong."""

    def port(state, options):
        names = ("weight", "bias", "running_mean", "running_var")
        weights = [state[name] for name in names]
        wrong_state, wrong_options = wrong_into_torch(
            weights, {"epsilon": options["eps"], "momentum": 1 - options["momentum"]}
        )
        turned = np.isclose(wrong_options["momentum"], options["momentum"])  # PyTorch's again
        return [wrong_state[name] for name in names], {
            "epsilon": wrong_options["eps"],
            "momentum": 1 - options["momentum"] if turned else options["momentum"],
        }

    port.__name__ = wrong_into_torch.__name__
    return port


def batch_norm_scale_and_shift_swapped(weights, config):
    state, options = batch_norm_into_torch(weights, config)
    state["weight"], state["bias"] = state["bias"], state["weight"]
    return state, options


def batch_norm_standard_deviation(weights, config):
    state, options = batch_norm_into_torch(weights, config)
    return {**state, "running_var": np.sqrt(state["running_var"])}, options


def batch_norm_rotated(weights, config):
    """γ's place gets β, β's the mean, the mean's γ: no pair is swapped."""
    state, options = batch_norm_into_torch(weights, config)
    gamma, beta, mean = state["weight"], state["bias"], state["running_mean"]
    return {**state, "weight": beta, "bias": mean, "running_mean": gamma}, options


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


def cnn_into_keras(state, *, conv_axes=(2, 3, 1, 0), reorder=True):
    weights = []
    for i in (1, 2):
        weights += [np.transpose(state[f"conv{i}.weight"], conv_axes), state[f"conv{i}.bias"]]
        weights += [state[f"bn{i}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")]
    rows = state["dense.weight"].T
    if reorder:
        rows = rows.reshape(16, 2, 2, 10).transpose(1, 2, 0, 3).reshape(64, 10)
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

#: the typical wrong answers of exercises 1-4 made in both frameworks, each with its hint's words
WRONG_IN_BOTH = [
    (
        porting_checks.dense_layer,
        {
            pytorch: lambda kernel, bias: {"weight": kernel.reshape(3, 5), "bias": bias},
            tensorflow: lambda weight, bias: [tf.reshape(weight, weight.shape[::-1]), bias],
        },
        "a reshape keeps them in their order",
    ),
    (
        porting_checks.flatten_order,
        {pytorch: flatten_width_first, tensorflow: flatten_width_first_into_keras},
        "your rows follow the flatten order",
    ),
    (porting_checks.batch_norm, batch_norm_momentum_copied, "momentum copied as it is"),
    (
        porting_checks.batch_norm,
        batch_norm_statistics_swapped,
        "the running mean and variance are swapped",
    ),
    (porting_checks.batch_norm, batch_norm_scale_and_shift_swapped, "γ and β are swapped"),
    (porting_checks.batch_norm, batch_norm_standard_deviation, "as a standard deviation"),
    (porting_checks.batch_norm, batch_norm_rotated, "where γ belongs, you put β"),
    (
        porting_checks.whole_model,
        {
            pytorch: lambda w: cnn_into_torch(w, reorder=False),
            tensorflow: lambda s: cnn_into_keras(s, reorder=False),
        },
        "the flatten trap",
    ),
    (
        porting_checks.whole_model,
        {
            pytorch: lambda w: cnn_into_torch(w, conv_axes=(3, 2, 1, 0)),  # the broken port: .T
            tensorflow: lambda s: cnn_into_keras(s, conv_axes=(3, 2, 1, 0)),
        },
        "height and width swapped",
    ),
]


def _in_both(learners):
    """A wrong BatchNorm port written once, into PyTorch, and made into Keras too."""
    if isinstance(learners, dict):
        return learners
    return {pytorch: learners, tensorflow: into_keras_as(learners)}


WRONG = [
    *(
        (check, learner, adapter, named)
        for check, learners, named in WRONG_IN_BOTH
        for adapter, learner in _in_both(learners).items()
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
    (porting_checks.flatten_order, flatten_width_first, pytorch, "flatten order (C, W, H)"),
    (
        porting_checks.flatten_order,
        flatten_width_first_into_keras,
        tensorflow,
        "flatten order (W, H, C); Keras' Flatten goes in the order (H, W, C)",
    ),
    (porting_checks.flatten_order, lambda k, fm: k.T, pytorch, "the flatten trap"),
    (porting_checks.flatten_order, lambda w, fm: tf.transpose(w), tensorflow, "the flatten trap"),
    (porting_checks.batch_norm, batch_norm_default_eps, pytorch, "ε was left at PyTorch's default"),
    (porting_checks.batch_norm, batch_norm_with_step_count, tensorflow, "step count"),
    (
        porting_checks.batch_norm,
        lambda s, o: batch_norm_into_keras(s, {"eps": 1e-3, "momentum": o["momentum"]}),
        tensorflow,
        "ε was left at Keras' default",
    ),
]


def test_every_wrong_answer_of_exercises_1_to_4_is_tested_in_both_frameworks():
    """Each typical mistake made in both frameworks; only the shape of the answer differs (a dict
    for PyTorch's load_state_dict, a list for Keras' set_weights, a step count Keras has no place
    for), and each framework's ε default and axis names are its own."""
    by_hint = {}
    for check, _, adapter, named in WRONG:
        by_hint.setdefault((check.__name__, named), set()).add(adapter.NAME)
    one_framework = {
        ("dense_layer", "return a dict"): {"PyTorch"},
        ("dense_layer", "lacks 'bias'"): {"PyTorch"},
        ("dense_layer", "out features and in features swapped"): {"PyTorch"},
        ("dense_layer", "in features and out features"): {"TensorFlow"},
        ("flatten_order", "flatten order (C, W, H)"): {"PyTorch"},
        ("flatten_order", "flatten order (W, H, C); Keras' Flatten goes in the order (H, W, C)"): {
            "TensorFlow"
        },
        ("flatten_order", "the flatten trap"): {"PyTorch", "TensorFlow"},
        ("batch_norm", "ε was left at PyTorch's default"): {"PyTorch"},
        ("batch_norm", "ε was left at Keras' default"): {"TensorFlow"},
        ("batch_norm", "step count"): {"TensorFlow"},
    }
    for key, frameworks in one_framework.items():
        assert by_hint.pop(key) == frameworks, key
    assert all(frameworks == {"PyTorch", "TensorFlow"} for frameworks in by_hint.values()), by_hint


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
        right = {a.NAME for c, _, a in RIGHT + FIRST_RIGHT if c.__name__ == item.check}
        assert right == {"PyTorch", "TensorFlow"}, item
        assert any(c.__name__ == item.check for c, *_ in WRONG + FIRST_WRONG), item


def test_the_exercises_are_registered_in_order():
    items = checks.exercises_of("porting")
    assert [item.number for item in items] == [1, 2, 3, 4, 5]
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


def dense_changing_its_bias(kernel, bias):
    bias += 1  # in place: the caller's array changes
    return {"weight": kernel.T, "bias": bias - 1}


def batch_norm_with_its_step_count(weights, config):
    state, options = batch_norm_into_torch(weights, config)
    return {**state, "num_batches_tracked": np.array(0)}, options


def cnn_with_step_counters(weights):
    return cnn_into_torch(weights) | {f"bn{i}.num_batches_tracked": np.array(0) for i in (1, 2)}


@pytest.mark.parametrize(
    "check, learner",
    [
        (porting_checks.batch_norm, batch_norm_with_its_step_count),
        (porting_checks.whole_model, cnn_with_step_counters),
    ],
    ids=["batch_norm", "whole_model"],
)
def test_what_may_be_left_out_may_also_be_kept(check, learner, outcomes):
    """The PyTorch exercises say the step counters "may be left out": kept, they pass too."""
    outcome = verdict(check, learner, pytorch, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


def test_a_dense_port_that_changes_its_input_is_caught(outcomes):
    outcome = verdict(porting_checks.dense_layer, dense_changing_its_bias, pytorch, outcomes)
    assert "changed its input `bias`" in outcome.message, outcome.message


def test_hints_never_give_the_conversion_away(outcomes):
    for check, learner, adapter, _ in WRONG:
        check(learner, adapter)
    text = " ".join(outcome.message for outcome in outcomes())
    for answer in ("(3, 2, 0, 1)", "(2, 3, 1, 0)", "1 - m", "1 − m", "transpose(", "(1, 2, 0"):
        assert answer not in text


# --------------------------------------------------------------------------- exercise 5


def torch_activations(model, images):
    kept, handles = {}, []
    for name, module in model.named_children():
        hook = lambda module, args, output, name=name: kept.__setitem__(name, output.numpy())  # noqa: E731
        handles.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(images)
    for handle in handles:
        handle.remove()
    return kept


def torch_in_training_mode(model, images):
    """Hooks as they should be, but no model.eval(): BatchNorm uses the batch's statistics."""
    kept, handles = {}, []
    for name, module in model.named_children():
        hook = lambda module, args, output, name=name: kept.__setitem__(name, output.numpy())  # noqa: E731
        handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(images)
    for handle in handles:
        handle.remove()
    return kept


def keras_activations(model, images, **call):
    probe = keras.Model(model.inputs, [layer.output for layer in model.layers])
    outputs = probe([images], **call)
    return {layer.name: output.numpy() for layer, output in zip(model.layers, outputs, strict=True)}


def keras_in_training_mode(model, images):
    """training=True: BatchNorm uses the batch's statistics, and moves its moving ones too."""
    return keras_activations(model, images, training=True)


def keras_single_input(model, images):
    """``model.input``, as most Keras tutorials print it: a Keras 3 Sequential raises."""
    probe = keras.Model(model.input, [layer.output for layer in model.layers])
    outputs = probe(images)
    return {layer.name: output.numpy() for layer, output in zip(model.layers, outputs, strict=True)}


def keras_predicted(model, images):
    """Through predict, which runs the probe as a compiled tf.function, batch by batch."""
    probe = keras.Model(model.inputs, [layer.output for layer in model.layers])
    outputs = probe.predict(images, verbose=0)
    return dict(zip((layer.name for layer in model.layers), outputs, strict=True))


#: each framework's right way to take every layer's activations, and a wrong one
TAKE = {pytorch: torch_activations, tensorflow: keras_activations}
TRAINING_MODE = {pytorch: torch_in_training_mode, tensorflow: keras_in_training_mode}


def relative(a, e):
    return np.abs(a - e).max() / np.abs(e).max()


def more_than(a, e, tolerance):
    return relative(a, e) > tolerance


def first_of(activations, expected, tolerance, differs=more_than):
    for name, value in expected.items():
        if differs(activations[name], value, tolerance):
            return name
    return None


def learner(name, answer):
    """``answer(activations, expected, tolerance)`` as a learner's function, named for test ids."""

    def first_wrong_layer(model, images, expected, tolerance, *, take):
        return answer(take(model, images), expected, tolerance)

    def bind(take):
        bound = lambda model, images, expected, tolerance: first_wrong_layer(  # noqa: E731
            model, images, expected, tolerance, take=take
        )
        bound.__name__ = name
        return bound

    return bind


def by_rule(differs):
    return lambda mine, expected, tolerance: first_of(mine, expected, tolerance, differs)


def largest_difference(mine, expected, tolerance):
    differences = {name: relative(mine[name], value) for name, value in expected.items()}
    name = max(differences, key=differences.get)
    return name if differences[name] > tolerance else None


def last_difference(mine, expected, tolerance):
    beyond = [name for name, value in expected.items() if relative(mine[name], value) > tolerance]
    return beyond[-1] if beyond else None


def output_only(mine, expected, tolerance):
    return "dense" if relative(mine["dense"], expected["dense"]) > tolerance else None


def where_the_rest_differs(mine, expected, tolerance):
    """The first layer from which every layer differs: blind to an error a ReLU hides."""
    found = None
    for name in reversed(list(expected)):
        if relative(mine[name], expected[name]) <= tolerance:
            break
        found = name
    return found


def position(mine, expected, tolerance):
    name = first_of(mine, expected, tolerance)
    return None if name is None else list(expected).index(name)


RIGHT_ANSWER = learner("first_wrong", first_of)
#: the same rule written as "not within": <= tolerance passes
NOT_WITHIN = learner(
    "not_within", by_rule(lambda a, e, t: not np.abs(a - e).max() <= t * np.abs(e).max())
)

FIRST_RIGHT = [
    (porting_checks.first_wrong_layer, RIGHT_ANSWER(torch_activations), pytorch),
    (porting_checks.first_wrong_layer, RIGHT_ANSWER(keras_activations), tensorflow),
    (porting_checks.first_wrong_layer, NOT_WITHIN(torch_activations), pytorch),
    (porting_checks.first_wrong_layer, NOT_WITHIN(keras_activations), tensorflow),
    (porting_checks.first_wrong_layer, RIGHT_ANSWER(keras_predicted), tensorflow),
]


def without_eval(model, images, expected, tolerance):
    """Hooks left on the model's modules, and no eval(): named for the training mode first."""
    kept = {}
    for name, module in model.named_children():
        module.register_forward_hook(lambda m, a, o, name=name: kept.__setitem__(name, o))
    with torch.no_grad():
        model(images)
    for module in model.children():
        module._forward_hooks.clear()
    return first_of({k: v.numpy() for k, v in kept.items()}, expected, tolerance)


def hooks_kept(model, images, expected, tolerance):
    kept = {}
    for name, module in model.named_children():
        module.register_forward_hook(lambda m, a, o, name=name: kept.__setitem__(name, o))
    model.eval()
    with torch.no_grad():
        model(images)
    return first_of({k: v.numpy() for k, v in kept.items()}, expected, tolerance)


#: each wrong rule of exercise 5, and the words its hint must contain (in both frameworks)
WRONG_RULES = [
    (learner("largest_difference", largest_difference), "the largest difference"),
    (learner("last_difference", last_difference), "the last layer that differs"),
    (learner("output_only", output_only), "the last layer that differs"),
    (learner("where_the_rest_differs", where_the_rest_differs), "compare every layer"),
    (
        learner("absolute", by_rule(lambda a, e, t: np.abs(a - e).max() > t)),
        "not an absolute difference",
    ),
    (
        learner("element_wise", by_rule(lambda a, e, t: not np.allclose(a, e, rtol=t))),
        "element by element",
    ),
    (
        learner("at_least", by_rule(lambda a, e, t: np.abs(a - e).max() >= t * np.abs(e).max())),
        "not more than the tolerance",
    ),
    (learner("position", position), "not its position"),
]

FIRST_WRONG = [
    (porting_checks.first_wrong_layer, without_eval, pytorch, "training mode"),
    (porting_checks.first_wrong_layer, hooks_kept, pytorch, "hooks are still on the model"),
    (
        porting_checks.first_wrong_layer,
        RIGHT_ANSWER(keras_single_input),
        tensorflow,
        "take `model.inputs`",
    ),
    *(
        (
            porting_checks.first_wrong_layer,
            RIGHT_ANSWER(TRAINING_MODE[adapter]),
            adapter,
            "training mode",
        )
        for adapter in (pytorch, tensorflow)
    ),
    *(
        (porting_checks.first_wrong_layer, wrong(TAKE[adapter]), adapter, named)
        for wrong, named in WRONG_RULES
        for adapter in (pytorch, tensorflow)
    ),
]


def test_every_named_mistake_of_exercise_5_is_tested_in_both_frameworks():
    """Keras has no hooks to leave behind; every other mistake is made in each framework."""
    by_hint = {}
    for _, _, adapter, named in FIRST_WRONG:
        by_hint.setdefault(named, set()).add(adapter.NAME)
    assert by_hint.pop("hooks are still on the model") == {"PyTorch"}
    assert by_hint.pop("take `model.inputs`") == {"TensorFlow"}  # PyTorch has no model.input
    assert all(frameworks == {"PyTorch", "TensorFlow"} for frameworks in by_hint.values()), by_hint


@pytest.mark.parametrize(
    "check, learner, adapter", FIRST_RIGHT, ids=[case_id(c) for c in FIRST_RIGHT]
)
def test_a_right_layer_by_layer_comparison_passes(check, learner, adapter, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize(
    "check, learner, adapter, named", FIRST_WRONG, ids=[case_id(c) for c in FIRST_WRONG]
)
def test_a_typical_wrong_comparison_fails_with_its_named_hint(
    check, learner, adapter, named, outcomes
):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.FAILED
    assert named in outcome.message, outcome.message
    named_layers = {
        name
        for name in ("conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2")
        if name in outcome.message.split(" (one of ")[0]
    }
    assert len(named_layers) <= 1, (
        outcome.message
    )  # at most the learner's own answer, never the right one


def test_every_port_of_exercise_5_breaks_where_it_says():
    """The first layer each port names is where a right comparison finds it, in both frameworks
    (and no earlier layer is near the tolerance, so the answer does not hang on one rounding)."""
    for companion in ("pytorch_porting", "tensorflow_porting"):
        module = pytest.importorskip(f"diptych.adapters.{companion}")
        rng = checks.fresh_rng("first wrong layer")
        original = porting_checks._cnn(rng)
        original[3]["beta"][porting_checks.DEAD_CHANNEL] = -50.0
        original[3]["gamma"][porting_checks.DEAD_CHANNEL] = 0.5
        images = rng.uniform(0, 1, size=(12, 1, 8, 8)).astype(np.float32)
        into_keras = companion.startswith("tensorflow")
        for port in porting_checks.PORTS:
            layers = [dict(layer) for layer in original]
            port.broken(layers, into_keras)
            shown = images * np.float32(port.scale)
            mine = module.activations(module.cnn(layers, eps=port.eps), shown)
            theirs = module.activations(module.cnn(original, eps=1e-5), shown)
            differences = [relative(mine[n], theirs[n]) for n in module.LAYERS]
            first = next(
                (n for n, d in zip(module.LAYERS, differences, strict=True) if d > 0), None
            )
            assert first == port.first, (companion, port)
            if first is not None:
                assert differences[module.LAYERS.index(first)] > 100 * porting_checks.TOLERANCE
