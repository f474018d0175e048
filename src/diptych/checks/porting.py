"""Self-checks for lesson 08's exercises (porting a model between frameworks).

Each twin ports *into* its own framework, from the other one: the PyTorch twin receives Keras'
arrays, the TensorFlow twin PyTorch's. A port moves numbers without computing anything, so the
checks ask for every number in its place, exactly, and name the ways a port goes wrong while
every shape still fits: a reshape for a transpose, rows in the other framework's flatten order, a
kernel transposed in space, BatchNorm's arrays swapped, ε left at the default, momentum copied.
Exercise 5 debugs a port layer by layer: its framework code (the lesson's CNN built from neutral
layers, every layer's activations) lives in the adapters' companions ``pytorch_porting`` and
``tensorflow_porting``, picked by ``idiom(adapter).companion``. Which way a twin ports is its
adapter's ``IDIOM.weight_layout``: the layouts a port into its framework writes.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from diptych import layouts, porting
from diptych.adapters.contract import Adapter
from diptych.checks import (
    Mismatch,
    as_numpy,
    exercise,
    expect_array,
    expect_unchanged,
    fresh_rng,
    idiom,
    snapshot,
)

#: the lesson's CNN: conv 1 -> 8, BN, conv 8 -> 16, BN, dense 64 -> 10, on 8×8 digits
FEATURE_MAP = (16, 2, 2)
CONVS, BATCH_NORMS = ("conv1", "conv2"), ("bn1", "bn2")
#: BatchNorm's arrays in the neutral layout, in PyTorch's state_dict and in Keras' weights
BN_NEUTRAL, BN_TORCH, BN_KERAS = porting.NAMES["batch_norm"]
#: each framework's BatchNorm defaults, for naming an ε that was left at the target's default
DEFAULT_EPS = {"torch": 1e-5, "keras": 1e-3}


def _into_keras(adapter: Adapter) -> bool:
    """True in the TensorFlow twin, whose exercises port from PyTorch into Keras' layouts."""
    return idiom(adapter).weight_layout == "keras"


def _source_target(adapter: Adapter) -> tuple[str, str]:
    """Who the arrays come from and go to, possessive, as layers are named: "PyTorch's", "Keras'"."""
    return ("PyTorch's", "Keras'") if _into_keras(adapter) else ("Keras'", "PyTorch's")


# --------------------------------------------------------------------------- exercise 1


@exercise("Porting a dense layer")
def dense_layer(learner: Callable[[Any, Any], Any], adapter: Adapter) -> str:
    """Exercise 1: a dense layer's kernel and bias, from the other framework into this one."""
    rng = fresh_rng("dense layer")
    W = rng.normal(size=(5, 3)).astype(np.float32)  # neutral (in, out): every axis differs
    b = rng.normal(size=3).astype(np.float32)
    into_keras = _into_keras(adapter)
    given = [layouts.dense_to_out_in(W), b.copy()] if into_keras else [W.copy(), b.copy()]
    before = snapshot(*given)
    result = learner(*given)
    expect_unchanged(before, given, ["weight" if into_keras else "kernel", "bias"])
    if into_keras:
        kernel, bias = _pair_of_arrays(result, "[kernel, bias], the list Dense.set_weights takes")
        expected, axes = W, ("in features", "out features")
    else:
        kernel, bias = _named(result, ("weight", "bias"), "nn.Linear's load_state_dict")
        expected, axes = layouts.dense_to_out_in(W), ("out features", "in features")
    _not_a_reshape(kernel, expected, given[0])
    expect_array(kernel, expected, what="the ported kernel", atol=0, axes=axes)
    expect_array(bias, b, what="the ported bias", atol=0)
    return (
        f"a {given[0].shape} {'weight' if into_keras else 'kernel'} becomes {expected.shape} with "
        "every number in its place, the bias as it was"
    )


def _pair_of_arrays(result: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(result, (list, tuple)) or len(result) != 2:
        raise Mismatch(f"return {what}")
    return as_numpy(result[0], "the kernel"), as_numpy(result[1], "the bias")


def _named(result: Any, names: Sequence[str], what: str) -> tuple[np.ndarray, ...]:
    """The arrays of a state_dict-like dict, in the order of ``names``."""
    if not isinstance(result, Mapping):
        raise Mismatch(
            f"return a dict with the keys {', '.join(map(repr, names))}, what {what} takes; "
            f"got a {type(result).__name__}"
        )
    missing = [name for name in names if name not in result]
    if missing:
        raise Mismatch(
            f"the dict lacks {', '.join(map(repr, missing))}: {what} looks arrays up by these "
            f"names (yours are {', '.join(map(repr, result))})"
        )
    return tuple(as_numpy(result[name], repr(name)) for name in names)


def _not_a_reshape(got: np.ndarray, expected: np.ndarray, source: np.ndarray) -> None:
    if (
        got.shape == expected.shape
        and not np.array_equal(got, expected)
        and np.array_equal(got.reshape(-1), np.asarray(source).reshape(-1))
    ):
        raise Mismatch(
            f"the shape {got.shape} is right but the numbers are shuffled: a reshape keeps them in "
            "their order, and the axes themselves must move"
        )


# --------------------------------------------------------------------------- exercise 2

#: the feature maps (C, H, W) the flatten check uses, and each one's number of outputs
FLATTEN_CASES = (((3, 2, 4), 5), ((5, 3, 2), 4))


@exercise("Fixing the flatten order")
def flatten_order(learner: Callable[[Any, Any], Any], adapter: Adapter) -> str:
    """Exercise 2: the first dense layer after Flatten, with its rows in this framework's order."""
    into_keras = _into_keras(adapter)
    source, target = _source_target(adapter)
    rng = fresh_rng("flatten order")
    for feature_map, outputs in FLATTEN_CASES:
        channels, height, width = feature_map
        W = rng.normal(size=(channels * height * width, outputs)).astype(
            np.float32
        )  # (C, H, W) rows
        if into_keras:
            given = layouts.dense_to_out_in(W)
            expected = porting.rows_chw_to_hwc(W, feature_map)
        else:
            given = porting.rows_chw_to_hwc(W, feature_map)
            expected = layouts.dense_to_out_in(W)
        kept = given.copy()
        got = as_numpy(learner(given, feature_map), "the ported kernel")
        expect_unchanged(snapshot(kept), [given], ["the kernel"])
        if got.shape == expected.shape and not np.array_equal(got, expected):
            _name_the_order(got, W, feature_map, into_keras, source, target)
        expect_array(
            got,
            expected,
            what=f"the kernel after flattening a (C, H, W) = {feature_map} feature map",
            atol=0,
            hint=f"which feature does row i meet after {target} Flatten?",
        )
    return "every weight meets its own feature, on 3×2×4 and 5×3×2 feature maps"


def _name_the_order(
    got: np.ndarray,
    W: np.ndarray,
    feature_map: tuple[int, int, int],
    into_keras: bool,
    source: str,
    target: str,
) -> None:
    """Mismatch naming the flatten order ``got``'s weights follow, if they follow one."""
    names = ("C", "H", "W")
    wanted = (1, 2, 0) if into_keras else (0, 1, 2)
    came = (0, 1, 2) if into_keras else (1, 2, 0)
    outputs = W.shape[1]
    for order in itertools.permutations(range(3)):
        rows = W.reshape(*feature_map, outputs).transpose(*order, 3).reshape(-1, outputs)
        candidate = rows if into_keras else layouts.dense_to_out_in(rows)
        if order == wanted or not np.array_equal(got, candidate):
            continue
        shown = ", ".join(names[i] for i in order)
        if order == came:
            raise Mismatch(
                f"the flatten trap: the kernel has {target} shape, but its rows are still in "
                f"{source} flatten order ({shown}), so each weight meets another feature"
            )
        raise Mismatch(
            f"your rows follow the flatten order ({shown}); {target} Flatten goes in the order "
            f"({', '.join(names[i] for i in wanted)})"
        )


# --------------------------------------------------------------------------- exercise 3

#: (ε, momentum) in the source framework's terms; neither is a default, so none can be guessed
BATCH_NORM_CASES = {"torch": ((3e-5, 0.05), (1e-4, 0.2)), "keras": ((2e-3, 0.95), (1e-4, 0.8))}


@exercise("Carrying BatchNorm across")
def batch_norm(learner: Callable[[Any, Any], Any], adapter: Adapter) -> str:
    """Exercise 3: BatchNorm's arrays and its ε and momentum, into this framework's terms."""
    into_keras = _into_keras(adapter)
    source, target = _source_target(adapter)
    rng = fresh_rng("batch norm")
    for eps, momentum in BATCH_NORM_CASES["torch" if into_keras else "keras"]:
        neutral = {
            "gamma": rng.uniform(0.5, 1.5, 6),
            "beta": rng.normal(0, 0.5, 6),
            "mean": rng.normal(0, 0.5, 6),
            "var": rng.uniform(0.2, 2.0, 6),
        }
        neutral = {name: value.astype(np.float32) for name, value in neutral.items()}
        if into_keras:
            given_arrays: Any = dict(zip(BN_TORCH, neutral.values(), strict=True))
            given_arrays["num_batches_tracked"] = np.array(100)
            given_options = {"eps": eps, "momentum": momentum}
        else:
            given_arrays = [neutral[name].copy() for name in BN_NEUTRAL]
            given_options = {"epsilon": eps, "momentum": momentum}
        arrays = list(given_arrays.values()) if into_keras else given_arrays
        before = snapshot(*arrays)
        result = learner(given_arrays, dict(given_options))
        expect_unchanged(before, arrays, ["an array of the layer"] * len(arrays))
        if not isinstance(result, (list, tuple)) or len(result) != 2:
            raise Mismatch(
                "return two things: the arrays for the layer, and the arguments to build it with"
            )
        got = _batch_norm_arrays(result[0], into_keras)
        _batch_norm_values(got, neutral)
        _batch_norm_options(result[1], eps, momentum, into_keras, source, target)
    return (
        "γ, β and the running statistics in their places, ε carried over and momentum turned "
        "around, for two layers"
    )


def _batch_norm_arrays(arrays: Any, into_keras: bool) -> dict[str, np.ndarray]:
    """The learner's BatchNorm arrays under their neutral names."""
    if into_keras:
        if not isinstance(arrays, (list, tuple)):
            raise Mismatch(
                "the arrays for Keras are a list, in the order BatchNormalization.set_weights "
                "takes them"
            )
        if len(arrays) == 5:
            raise Mismatch(
                "Keras' BatchNormalization holds four arrays; PyTorch's step count "
                "(num_batches_tracked) has no place among them"
            )
        if len(arrays) != 4:
            raise Mismatch(f"Keras' BatchNormalization holds four arrays, you return {len(arrays)}")
        return {
            name: as_numpy(value, f"array {i}")
            for i, (name, value) in enumerate(zip(BN_NEUTRAL, arrays, strict=True))
        }
    values = _named(arrays, BN_TORCH, "nn.BatchNorm2d's load_state_dict")
    return dict(zip(BN_NEUTRAL, values, strict=True))


def _batch_norm_values(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    swaps = (("gamma", "beta", "γ and β"), ("mean", "var", "the running mean and variance"))
    for first, second, words in swaps:
        if _equal(got[first], expected[second]) and _equal(got[second], expected[first]):
            raise Mismatch(f"{words} are swapped")
    if _equal(got["var"], np.sqrt(expected["var"])):
        raise Mismatch("the variance went across as a standard deviation: both frameworks keep σ²")
    for name, value in expected.items():
        found = [other for other, array in expected.items() if _equal(got[name], array)]
        if found and found[0] != name:
            raise Mismatch(f"where {_said(name)} belongs, you put {_said(found[0])}")
        expect_array(got[name], value, what=_said(name), atol=0)


def _said(name: str) -> str:
    return {"gamma": "γ", "beta": "β", "mean": "the running mean", "var": "the running variance"}[
        name
    ]


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _batch_norm_options(
    options: Any, eps: float, momentum: float, into_keras: bool, source: str, target: str
) -> None:
    names = ("epsilon", "momentum") if into_keras else ("eps", "momentum")
    layer = "keras.layers.BatchNormalization" if into_keras else "torch.nn.BatchNorm2d"
    if not isinstance(options, Mapping):
        raise Mismatch(f"the arguments are a dict of {layer}'s keyword arguments")
    strange = [key for key in options if key not in names]
    if strange:
        raise Mismatch(
            f"{layer} has no argument {strange[0]!r}; it takes {names[0]!r} and 'momentum'"
        )
    default = DEFAULT_EPS["keras" if into_keras else "torch"]
    got_eps = options.get(names[0])
    if got_eps is None or (float(got_eps) == default and eps != default):
        raise Mismatch(
            f"ε was left at {target} default ({default:g}): it is an argument of the layer, not "
            f"one of its arrays, and the model was trained with {eps:g}"
        )
    if not np.isclose(float(got_eps), eps, rtol=1e-12, atol=0):
        raise Mismatch(
            f"ε is {got_eps}, the layer was trained with {eps:g}: it comes across as it is"
        )
    got_momentum = options.get("momentum")
    if got_momentum is None:
        raise Mismatch("momentum is missing: the ported layer would train on with the default")
    if np.isclose(float(got_momentum), momentum, rtol=1e-12, atol=0):
        raise Mismatch(
            f"momentum copied as it is: {source} and {target} BatchNorm weigh the running average "
            "from opposite sides"
        )
    if not np.isclose(float(got_momentum), 1 - momentum, rtol=1e-9, atol=1e-12):
        raise Mismatch(f"momentum {got_momentum} does not say what {source} {momentum:g} says")


# --------------------------------------------------------------------------- exercise 4


def _cnn(rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """The lesson's CNN with random weights, kernels that are not symmetric in space."""

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, size=shape).astype(np.float32)

    layers = []
    for c_in, c_out in ((1, 8), (8, 16)):
        layers.append({"W": normal(c_out, c_in, 3, 3), "b": normal(c_out)})
        layers.append(
            {
                "gamma": rng.uniform(0.5, 1.5, c_out).astype(np.float32),
                "beta": normal(c_out),
                "mean": normal(c_out),
                "var": rng.uniform(0.2, 2.0, c_out).astype(np.float32),
            }
        )
    layers.append({"W": normal(64, 10), "b": normal(10)})
    return layers


@exercise("Finding the bug in a port")
def whole_model(learner: Callable[[Any], Any], adapter: Adapter) -> str:
    """Exercise 4: the lesson's whole CNN, from the other framework's arrays into this one's."""
    into_keras = _into_keras(adapter)
    layers = _cnn(fresh_rng("whole model"))
    keras_weights = porting.to_keras(layers, feature_map=FEATURE_MAP)
    torch_state = porting.to_torch(layers, like=_torch_like(layers))
    given = (
        dict(torch_state) if into_keras else dict(zip(_keras_paths(), keras_weights, strict=True))
    )
    before = snapshot(*given.values())
    result = learner(given)
    expect_unchanged(before, list(given.values()), list(given))
    if into_keras:
        got = _list_of_arrays(result, 14, "the list model.set_weights takes, in layer order")
        names = _keras_paths()
        expected = keras_weights
    else:
        names = [name for name in torch_state if not name.endswith(porting.TORCH_STEP_COUNT)]
        got = list(_named(result, names, "the CNN's load_state_dict"))
        expected = [torch_state[name] for name in names]
    for name, mine, want in zip(names, got, expected, strict=True):
        _compare_ported_array(name, mine, want, into_keras)
    return "every array in its place, exactly: the ported CNN computes what the original computes"


def _list_of_arrays(result: Any, count: int, what: str) -> list[np.ndarray]:
    if not isinstance(result, (list, tuple)) or len(result) != count:
        found = (
            f"{len(result)} values" if isinstance(result, (list, tuple)) else type(result).__name__
        )
        raise Mismatch(f"return {what}: {count} arrays, got {found}")
    return [as_numpy(value, f"array {i}") for i, value in enumerate(result)]


def _torch_like(layers: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """A stand-in for the PyTorch CNN's state_dict(): its names, shapes and step counters."""
    conv1, bn1, conv2, bn2, dense = layers
    like: dict[str, np.ndarray] = {}
    for conv, bn, conv_layer, bn_layer in (
        ("conv1", "bn1", conv1, bn1),
        ("conv2", "bn2", conv2, bn2),
    ):
        like |= {f"{conv}.weight": conv_layer["W"], f"{conv}.bias": conv_layer["b"]}
        like |= {f"{bn}.{t}": bn_layer[n] for n, t in zip(BN_NEUTRAL, BN_TORCH, strict=True)}
        like[f"{bn}.{porting.TORCH_STEP_COUNT}"] = np.array(0)
    return like | {"dense.weight": dense["W"].T, "dense.bias": dense["b"]}


def _keras_paths() -> list[str]:
    """Keras' variable paths for the lesson's CNN, in layer order."""
    paths = []
    for conv, bn in zip(CONVS, BATCH_NORMS, strict=True):
        paths += [f"cnn/{conv}/kernel", f"cnn/{conv}/bias", *(f"cnn/{bn}/{n}" for n in BN_KERAS)]
    return [*paths, "cnn/dense/kernel", "cnn/dense/bias"]


def _compare_ported_array(name: str, got: np.ndarray, want: np.ndarray, into_keras: bool) -> None:
    """Mismatch naming what is wrong with one ported array (both in this framework's layout)."""
    source, target = ("PyTorch's", "Keras'") if into_keras else ("Keras'", "PyTorch's")
    if _equal(got, want):
        return
    if want.ndim == 4:
        spatial = want.transpose(1, 0, 2, 3) if into_keras else want.transpose(0, 1, 3, 2)
        if _equal(got, spatial):
            raise Mismatch(
                f"{name} has its height and width swapped: a 3×3 kernel fits either way round, "
                "so nothing complains (what does .T do to an array of four axes?)"
            )
    if want.ndim == 2:
        kernel = want if into_keras else want.T  # (in, out), rows in the target's flatten order
        if into_keras:
            trapped = porting.rows_hwc_to_chw(kernel, FEATURE_MAP)
        else:
            trapped = porting.rows_chw_to_hwc(kernel, FEATURE_MAP).T
        if _equal(got, trapped):
            raise Mismatch(
                f"the flatten trap: {name} has {target} shape, but its rows are in {source} "
                "flatten order, so each weight meets another feature"
            )
    axes = None
    if want.ndim == 4:
        axes = ("height", "width", "in", "out") if into_keras else ("out", "in", "height", "width")
    expect_array(got, want, what=name, atol=0, axes=axes)


# --------------------------------------------------------------------------- exercise 5

#: how far a port's activations may stray, relative to the layer's largest activation (the
#: lesson's tolerance), and how far another framework's float32 rounding moves them
TOLERANCE, ROUNDING = 1e-5, 1e-7
#: a channel of bn2 that ReLU always zeroes (a large negative shift): where an error can hide
DEAD_CHANNEL = 3


def _companion(adapter: Adapter) -> ModuleType:
    """The companion of ``adapter`` with this lesson's framework code, the lesson's CNN and its
    activations (``adapters.<framework>_porting``); imported on first use."""
    return idiom(adapter).companion("porting")


@dataclass(frozen=True)
class _Port:
    """One port for exercise 5: how it is broken, and the first layer that differs because of it."""

    broken: Callable[[list[dict[str, np.ndarray]], bool], None]  # changes the layers in place
    first: str | None
    eps: float = 1e-5
    scale: float = 1.0  # of the images: 1000 makes every activation large
    rounding: bool = True  # the original's activations come from the other framework
    tolerance: float = TOLERANCE


def _flatten_trap(layers: list[dict[str, np.ndarray]], into_keras: bool) -> None:
    """The dense kernel's rows left in the other framework's flatten order."""
    reorder = porting.rows_hwc_to_chw if into_keras else porting.rows_chw_to_hwc
    layers[4]["W"] = reorder(layers[4]["W"], FEATURE_MAP)


def _conv2_spatial(layers: list[dict[str, np.ndarray]], into_keras: bool) -> None:
    layers[2]["W"] = np.ascontiguousarray(layers[2]["W"].transpose(0, 1, 3, 2))


def _hidden_shift(layers: list[dict[str, np.ndarray]], into_keras: bool) -> None:
    """bn2's shift wrong in the channel that ReLU zeroes anyway: nothing after bn2 shows it."""
    layers[3]["beta"] = layers[3]["beta"].copy()
    layers[3]["beta"][DEAD_CHANNEL] -= 1.0


def _bn2_scale(layers: list[dict[str, np.ndarray]], into_keras: bool) -> None:
    layers[3]["gamma"] = layers[3]["gamma"] * np.float32(1.01)


def _nothing(layers: list[dict[str, np.ndarray]], into_keras: bool) -> None:
    """A right port."""


PORTS = (
    _Port(_flatten_trap, "dense"),
    _Port(_conv2_spatial, "conv2"),
    _Port(_flatten_trap, "bn1", eps=1e-3),  # two places: BatchNorm's ε and the flatten order
    _Port(_hidden_shift, "bn2"),
    _Port(_nothing, None),
    _Port(_nothing, None, scale=1000.0),
    _Port(_bn2_scale, "bn2", rounding=False, tolerance=0.0),
)


@exercise("Finding the first layer that differs")
def first_wrong_layer(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 5: the first layer of a port whose activations part from the original's."""
    into_keras = _into_keras(adapter)
    companion = _companion(adapter)
    rng = fresh_rng("first wrong layer")
    original = _cnn(rng)
    original[3]["beta"][DEAD_CHANNEL], original[3]["gamma"][DEAD_CHANNEL] = -50.0, 0.5
    images = rng.uniform(0, 1, size=(12, 1, 8, 8)).astype(np.float32)
    for port in PORTS:
        layers = copy.deepcopy(original)
        port.broken(layers, into_keras)
        model = companion.cnn(layers, eps=port.eps)
        shown = images * np.float32(port.scale)
        expected = companion.activations(companion.cnn(original, eps=1e-5), shown)
        if port.rounding:
            expected = {name: _rounded(value, rng) for name, value in expected.items()}
        given = {name: value.copy() for name, value in expected.items()}
        before = snapshot(*given.values())
        got = _called(learner, model, companion.inputs(shown), given, port.tolerance)
        expect_unchanged(before, list(given.values()), [f"expected['{n}']" for n in given])
        if getattr(companion, "hooks_left", None) and companion.hooks_left(model):
            raise Mismatch(
                "your forward hooks are still on the model: remove each one (the handle that "
                "registering it returned) once its activations are kept, or every later call "
                "runs it again"
            )
        _expect_layer_name(got, companion.LAYERS)
        if got != port.first:
            _name_the_mistake(got, port, model, shown, expected, companion)
    return (
        "the first layer that differs, in ports broken in one place, in two, behind a ReLU "
        "that hides it, and in none, at any scale and at tolerance 0"
    )


#: the words of Keras 3's AttributeError on ``model.input`` of a Sequential built from a list
NO_DEFINED_INPUT = "has never been called and thus has no defined input"


def _called(learner: Callable[..., Any], *args: Any) -> Any:
    """The learner's answer; Keras 3's error on ``model.input`` becomes a named mistake."""
    try:
        return learner(*args)
    except AttributeError as error:
        if NO_DEFINED_INPUT not in str(error):
            raise
        raise Mismatch(
            "Keras raised AttributeError on `model.input`: a Keras 3 Sequential has no single "
            "`model.input` (it says it has never been called, even after a call); take "
            "`model.inputs`, the list of its input tensors"
        ) from error


def _rounded(value: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``value`` as another framework computes it: moved by float32-sized rounding, relative to
    the layer's scale, wherever it is not exactly 0 (a ReLU's zeros stay zeros in both)."""
    scale = np.abs(value).max()
    return value + ROUNDING * scale * rng.normal(size=value.shape) * (value != 0)


def _expect_layer_name(got: Any, layers: Sequence[str]) -> None:
    if got is None or (isinstance(got, str) and got in layers):
        return
    if isinstance(got, (int, np.integer)):
        raise Mismatch(f"return the layer's name (one of {', '.join(layers)}), not its position")
    raise Mismatch(f"return a layer's name (one of {', '.join(layers)}) or None, got {got!r}")


def _relative(mine: np.ndarray, theirs: np.ndarray) -> float:
    """Largest difference in units of the original's largest activation."""
    return float(np.abs(mine - theirs).max() / np.abs(theirs).max())


def _name_the_mistake(
    got: str | None,
    port: _Port,
    model: Any,
    images: np.ndarray,
    expected: Mapping[str, np.ndarray],
    companion: ModuleType,
) -> None:
    """Mismatch naming why ``got`` is not ``port.first`` (never naming ``port.first``)."""
    names = list(companion.LAYERS)
    mine = companion.activations(model, images)
    differences = {name: _relative(mine[name], expected[name]) for name in names}
    beyond = [name for name in names if differences[name] > port.tolerance]
    if got is None:
        hidden = port.first is not None and names[-1] not in beyond
        raise Mismatch(
            "you found no layer, but one differs by more than the tolerance"
            + (
                ", although the model's output agrees: a ReLU after it zeroes the difference, "
                "so compare every layer, not only the output"
                if hidden
                else ""
            )
        )
    if port.first is None or names.index(got) < names.index(port.first):
        training = companion.activations(model, images, training=True)
        if (
            next((n for n in names if _relative(training[n], expected[n]) > port.tolerance), None)
            == got
        ):
            raise Mismatch(
                f"{got} differs only because BatchNorm normalised with the batch's own statistics: "
                "the activations were taken in training mode, and a port is compared at inference"
            )
        absolute = float(np.abs(mine[got] - expected[got]).max())
        if port.tolerance == 0 and absolute == 0:
            raise Mismatch(
                f"at tolerance 0, {got}'s activations equal the original's exactly: a difference "
                "of exactly the tolerance is not more than the tolerance"
            )
        scale = float(np.abs(expected[got]).max())
        if absolute > port.tolerance:
            raise Mismatch(
                f"{got} differs by {absolute:.1e} where its activations reach {scale:.1e}: a "
                f"rounding ({absolute / scale:.0e} of its scale); the tolerance is relative to the "
                "layer's largest activation, not an absolute difference"
            )
        nonzero = expected[got] != 0
        elementwise = float(
            (np.abs(mine[got] - expected[got])[nonzero] / np.abs(expected[got][nonzero])).max()
        )
        if elementwise > port.tolerance:
            raise Mismatch(
                f"{got} differs by {differences[got]:.0e} of its largest activation, a rounding; "
                "measured element by element, activations near 0 make a rounding look large: "
                "the tolerance is relative to the layer's largest activation"
            )
        raise Mismatch(
            f"{got}'s activations agree with the original's to {differences[got]:.0e} of their "
            "largest value, within the tolerance"
        )
    largest = max(names, key=differences.__getitem__)
    if got == largest:
        raise Mismatch(
            f"{got} has the largest difference, but a layer before it already differs by more "
            "than the tolerance: an error spreads to every layer after it and often grows"
        )
    if beyond and got == beyond[-1]:
        raise Mismatch(
            f"{got} is the last layer that differs; an error spreads to every layer after the "
            "one that made it, so the first one is where to look"
        )
    raise Mismatch(f"a layer before {got} already differs by more than the tolerance")
