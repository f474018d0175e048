"""Move a trained model between PyTorch and Keras: its weights, through diptych's neutral layout.

``diptych.layouts`` converts one dense or conv kernel; this module handles what a whole model adds
(lesson 08): the order in which ``Flatten`` lays out a feature map, BatchNorm's running statistics
and its hyper-parameters, the grouping of a framework's named arrays into layers, and a
multi-head-attention layer's projections (PyTorch packs them, Keras splits them by head).

The neutral form of a model is a list of layers, each a dict of NumPy arrays (``initial.Layer``):

* dense: ``{"W": (in, out), "b": (out,)}``; a dense layer right after the convolutions takes its
  inputs in PyTorch's flatten order (C, H, W), since the neutral images are NCHW;
* conv: ``{"W": (out, in, kh, kw) OIHW, "b": (out,)}``;
* batch norm: ``{"gamma", "beta", "mean", "var"}``, each (channels,): scale, shift and the
  running statistics that inference uses;
* multi-head attention (``ATTENTION``): ``{"Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo"}``,
  four dense kernels (in, out) and their biases (``attention_to_torch``, ``attention_to_keras``
  and back); kept apart from the whole-model functions, which port CNNs and MLPs.

BatchNorm's ε and momentum are constructor arguments, not arrays; they travel apart
(``batch_norm_options_to_keras``, ``batch_norm_options_to_torch``). Nothing here imports a
framework: PyTorch's ``state_dict`` and Keras' ``{variable.path: value}`` come in as mappings of
arrays (or tensors), and go out as NumPy arrays the framework loads itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from diptych import layouts
from diptych.initial import Layer
from diptych.optional import is_installed
from diptych.parity import as_array

#: (channels, height, width) of the feature map a Flatten layer turns into a vector
FeatureMap = tuple[int, int, int]

#: each kind of layer's arrays, in its neutral, PyTorch and Keras names (the same order)
NAMES = {
    "dense": (("W", "b"), ("weight", "bias"), ("kernel", "bias")),
    "conv": (("W", "b"), ("weight", "bias"), ("kernel", "bias")),
    "batch_norm": (
        ("gamma", "beta", "mean", "var"),
        ("weight", "bias", "running_mean", "running_var"),
        ("gamma", "beta", "moving_mean", "moving_variance"),
    ),
}
#: PyTorch's BatchNorm also counts its training steps; it only matters for ``momentum=None``
TORCH_STEP_COUNT = "num_batches_tracked"

#: the tools lesson 08 uses beyond the frameworks (the ``porting`` extra): module -> its part
TOOLS = {
    "safetensors": "the neutral weights file",
    "onnx": "ONNX models",
    "onnxscript": "PyTorch's ONNX exporter",
    "onnxruntime": "running ONNX models",
    "tf2onnx": "Keras' ONNX exporter",
}


def missing(*modules: str) -> str:
    """'' when every module is installed; else one sentence naming the missing ones and the fix,
    for a lesson section to print before it skips itself. Nothing is imported."""
    absent = [module for module in modules if not is_installed(module)]
    if not absent:
        return ""
    verb = "is" if len(absent) == 1 else "are"
    return (
        f"{', '.join(absent)} {verb} not installed, so this part is skipped: "
        "pip install -e '.[porting]' installs lesson 08's tools"
    )


# --------------------------------------------------------------------------- flatten order


def rows_chw_to_hwc(W: np.ndarray, feature_map: FeatureMap) -> np.ndarray:
    """Dense kernel (C·H·W, out) whose rows follow PyTorch's flatten order (C, H, W) -> rows in
    Keras' order (H, W, C), for a Dense after ``Flatten`` of an NHWC feature map.

    Flattening is a reshape, so the same feature lands at a different index in each framework:
    row ``c·H·W + h·W + w`` in PyTorch is row ``h·W·C + w·C + c`` in Keras.
    """
    channels, height, width = _check_rows(W, feature_map)
    out = W.shape[1]
    reordered = W.reshape(channels, height, width, out).transpose(1, 2, 0, 3)
    return np.ascontiguousarray(reordered.reshape(-1, out))


def rows_hwc_to_chw(W: np.ndarray, feature_map: FeatureMap) -> np.ndarray:
    """Dense kernel (H·W·C, out) with rows in Keras' flatten order -> PyTorch's (C, H, W) order.

    ``feature_map`` is (channels, height, width), as for ``rows_chw_to_hwc``.
    """
    channels, height, width = _check_rows(W, feature_map)
    out = W.shape[1]
    reordered = W.reshape(height, width, channels, out).transpose(2, 0, 1, 3)
    return np.ascontiguousarray(reordered.reshape(-1, out))


def _check_rows(W: np.ndarray, feature_map: FeatureMap) -> FeatureMap:
    W = np.asarray(W)
    channels, height, width = (int(n) for n in feature_map)
    if W.ndim != 2 or W.shape[0] != channels * height * width:
        raise ValueError(
            f"a dense kernel after flattening a (C, H, W) = {tuple(feature_map)} feature map has "
            f"{channels * height * width} rows, got shape {W.shape}"
        )
    return channels, height, width


# --------------------------------------------------------------------------- batch norm


def batch_norm_options_to_keras(*, eps: float, momentum: float | None) -> dict[str, float]:
    """PyTorch's ``BatchNorm2d(eps=, momentum=)`` as Keras' ``BatchNormalization`` arguments.

    PyTorch's momentum is the weight of the *new* batch (running ← (1 − m)·running + m·batch),
    Keras' the weight of the *old* value (running ← m·running + (1 − m)·batch): 0.1 is 0.9.
    Both frameworks use ε inside the square root at inference, so ε must come across as it is
    (their defaults differ: 1e-5 and 1e-3).
    """
    if momentum is None:
        raise ValueError(
            "momentum=None (PyTorch's cumulative average of every batch) has no Keras "
            "counterpart; it only changes training, so pick the momentum to train on with"
        )
    return {"epsilon": float(eps), "momentum": 1.0 - float(momentum)}


def batch_norm_options_to_torch(*, epsilon: float, momentum: float) -> dict[str, float]:
    """Keras' ``BatchNormalization(epsilon=, momentum=)`` as PyTorch's ``BatchNorm2d`` arguments
    (see ``batch_norm_options_to_keras`` for the two meanings of momentum)."""
    return {"eps": float(epsilon), "momentum": 1.0 - float(momentum)}


# --------------------------------------------------------------------------- whole models


def kind(layer: Mapping[str, Any]) -> str:
    """Which kind of layer a neutral one is, "dense", "conv" or "batch_norm", from its keys and
    its kernel's rank."""
    keys = set(layer)
    if keys == set(NAMES["batch_norm"][0]):
        return "batch_norm"
    if keys == {"W", "b"} and np.ndim(layer["W"]) in (2, 4):
        return "dense" if np.ndim(layer["W"]) == 2 else "conv"
    raise ValueError(f"not a neutral dense, conv or batch-norm layer: keys {sorted(keys)}")


def from_torch(state_dict: Mapping[str, Any]) -> list[Layer]:
    """A PyTorch ``state_dict`` (tensors or arrays, in module order) -> neutral layers.

    Linear weights are transposed to (in, out); conv kernels are OIHW in both; BatchNorm's
    running statistics come with its scale and shift (its step count is dropped).
    """
    layers = []
    for prefix, arrays in _group(state_dict, "."):
        arrays.pop(TORCH_STEP_COUNT, None)
        layer_kind = _kind_of(arrays, 1, prefix)
        layer = _rename(arrays, layer_kind, source=1)
        if layer_kind == "dense":
            layer["W"] = layouts.dense_from_out_in(layer["W"])
        layers.append(layer)
    return layers


def to_torch(layers: Sequence[Layer], *, like: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Neutral layers -> a ``state_dict`` for the model whose own ``state_dict()`` is ``like``
    (its names and shapes are taken from it, and checked), ready for ``load_state_dict``.

    A BatchNorm's step count, which Keras does not keep, is taken from ``like`` as it is.
    """
    groups = _group(like, ".")
    if len(groups) != len(layers):
        raise ValueError(f"the target has {len(groups)} layers with weights, got {len(layers)}")
    state: dict[str, np.ndarray] = {}
    for (prefix, target), layer in zip(groups, layers, strict=True):
        layer_kind = kind(layer)
        arrays = {name: np.asarray(value) for name, value in layer.items()}
        if layer_kind == "dense":
            arrays["W"] = layouts.dense_to_out_in(arrays["W"])
        for name, value in _rename(arrays, layer_kind, source=0, target=1).items():
            state[f"{prefix}.{name}"] = _fit(value, target.get(name), f"{prefix}.{name}")
        if TORCH_STEP_COUNT in target:
            state[f"{prefix}.{TORCH_STEP_COUNT}"] = np.array(as_array(target[TORCH_STEP_COUNT]))
    missing = set(like) - set(state)
    if missing:
        raise ValueError(f"the target's {sorted(missing)} have no counterpart in the layers")
    return state


def from_keras(weights: Mapping[str, Any], *, feature_map: FeatureMap | None = None) -> list[Layer]:
    """Keras weights ``{variable.path: value}`` (in layer order) -> neutral layers.

    Conv kernels go HWIO -> OIHW. The first dense layer after a conv layer reads a feature map
    flattened in Keras' (H, W, C) order; its rows are put in the neutral (C, H, W) order, which
    needs the ``feature_map``'s (channels, height, width).
    """
    layers = []
    for prefix, arrays in _group(weights, "/"):
        layer_kind = _kind_of(arrays, 2, prefix)
        layer = _rename(arrays, layer_kind, source=2)
        if layer_kind == "conv":
            layer["W"] = layouts.conv_from_hwio(layer["W"])
        layers.append(layer)
    for index in _dense_after_conv(layers):
        shape = _feature_map_for(layers, index, feature_map)
        layers[index] = {**layers[index], "W": rows_hwc_to_chw(layers[index]["W"], shape)}
    return layers


def to_keras(layers: Sequence[Layer], *, feature_map: FeatureMap | None = None) -> list[np.ndarray]:
    """Neutral layers -> the list ``model.set_weights`` takes, in layer order.

    Conv kernels go OIHW -> HWIO; the first dense layer after a conv layer gets its rows in
    Keras' flatten order (H, W, C), which needs the ``feature_map``'s (channels, height, width).
    """
    converted = [{name: np.asarray(value) for name, value in layer.items()} for layer in layers]
    for index in _dense_after_conv(converted):
        shape = _feature_map_for(converted, index, feature_map)
        converted[index]["W"] = rows_chw_to_hwc(converted[index]["W"], shape)
    weights = []
    for layer in converted:
        layer_kind = kind(layer)
        if layer_kind == "conv":
            layer["W"] = layouts.conv_to_hwio(layer["W"])
        weights += [np.ascontiguousarray(v) for v in _rename(layer, layer_kind, 0, 2).values()]
    return weights


def port(
    weights: Mapping[str, Any],
    *,
    to: str,
    feature_map: FeatureMap | None = None,
    like: Mapping[str, Any] | None = None,
) -> Any:
    """Port a model's weights to the framework ``to`` ("pytorch" or "tensorflow").

    * ``to="tensorflow"``: ``weights`` is a PyTorch ``state_dict``; returns the list for Keras'
      ``model.set_weights``.
    * ``to="pytorch"``: ``weights`` is Keras' ``{variable.path: value}``; returns a ``state_dict``
      for the PyTorch model whose own ``state_dict()`` is ``like``.

    ``feature_map`` is the (channels, height, width) that ``Flatten`` meets, for a model with a
    dense layer after its convolutions. BatchNorm's ε and momentum are arguments of the target's
    layers, not weights: see ``batch_norm_options_to_keras`` and ``batch_norm_options_to_torch``.
    """
    if to == "tensorflow":
        return to_keras(from_torch(weights), feature_map=feature_map)
    if to == "pytorch":
        if like is None:
            raise ValueError("porting to PyTorch needs like=model.state_dict() of the target")
        return to_torch(from_keras(weights, feature_map=feature_map), like=like)
    raise ValueError(f"port to 'pytorch' or 'tensorflow', got {to!r}")


# --------------------------------------------------------------------------- files


def to_tensors(layers: Sequence[Layer]) -> dict[str, np.ndarray]:
    """Neutral layers as one flat ``{"0.W": ..., "1.gamma": ...}`` dict, the shape of a
    safetensors file (which holds named arrays, not lists of layers); contiguous copies."""
    return {
        f"{index}.{name}": np.ascontiguousarray(value)
        for index, layer in enumerate(layers)
        for name, value in layer.items()
    }


def from_tensors(tensors: Mapping[str, Any]) -> list[Layer]:
    """The inverse of ``to_tensors``: layers in the order of their index, whatever the order of
    the file's names (safetensors stores them sorted)."""
    layers: dict[int, Layer] = {}
    for key, value in tensors.items():
        index, _, name = key.partition(".")
        if not index.isdecimal() or not name:
            raise ValueError(f"{key!r} is not a neutral tensor name like '0.W'")
        layers.setdefault(int(index), {})[name] = np.asarray(value)
    if sorted(layers) != list(range(len(layers))):
        raise ValueError(f"layer indices {sorted(layers)} are not 0, 1, 2, ...")
    return [layers[index] for index in range(len(layers))]


# --------------------------------------------------------------------------- helpers


def _group(named: Mapping[str, Any], separator: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    """``{"0.weight": w, "0.bias": b, "1.weight": ...}`` -> [("0", {"weight": w, ...}), ...],
    in the order the names first appear (a model's own order)."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, value in named.items():
        prefix, _, name = key.rpartition(separator)
        groups.setdefault(prefix, {})[name] = np.array(as_array(value), copy=True)  # not a view
    return list(groups.items())


def _kind_of(arrays: Mapping[str, np.ndarray], source: int, prefix: str) -> str:
    """Which kind of layer a framework's group of arrays is (``source``: 1 PyTorch, 2 Keras)."""
    for layer_kind, names in NAMES.items():
        if set(arrays) == set(names[source]):
            rank = np.ndim(arrays[names[source][0]])
            if layer_kind == "batch_norm" or rank == {"dense": 2, "conv": 4}[layer_kind]:
                return layer_kind
    raise ValueError(
        f"layer {prefix!r} holds {sorted(arrays)}: not a dense, conv (with a bias) or batch-norm "
        "layer, the shapes this module ports"
    )


def _rename(
    arrays: Mapping[str, np.ndarray], layer_kind: str, source: int, target: int = 0
) -> dict[str, np.ndarray]:
    """The arrays under the ``target`` convention's names (0 neutral, 1 PyTorch, 2 Keras)."""
    names = NAMES[layer_kind]
    return {new: arrays[old] for old, new in zip(names[source], names[target], strict=True)}


def _fit(value: np.ndarray, target: Any, name: str) -> np.ndarray:
    if target is None or tuple(np.shape(value)) != tuple(target.shape):
        wanted = "nothing" if target is None else tuple(target.shape)
        raise ValueError(f"{name}: the port has shape {np.shape(value)}, the target {wanted}")
    return np.ascontiguousarray(value)


def _dense_after_conv(layers: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indices of dense layers that directly follow the convolutional part (the flatten)."""
    kinds = [kind(layer) for layer in layers]
    return [
        i
        for i, k in enumerate(kinds)
        if k == "dense" and i > 0 and kinds[i - 1] != "dense" and "conv" in kinds[:i]
    ]


def _feature_map_for(
    layers: Sequence[Mapping[str, Any]], index: int, feature_map: FeatureMap | None
) -> FeatureMap:
    if feature_map is None:
        raise ValueError(
            "a dense layer follows the convolutions, and PyTorch and Keras flatten a feature map "
            "in different orders (C, H, W) and (H, W, C): pass feature_map=(channels, height, "
            "width) of what Flatten meets, so that its rows can be reordered"
        )
    convs = [layer for layer in layers[:index] if kind(layer) == "conv"]
    channels = np.shape(convs[-1]["W"])[0]
    if int(feature_map[0]) != channels:
        raise ValueError(
            f"feature_map has {feature_map[0]} channels, but the last conv layer makes {channels}"
        )
    return feature_map


# --------------------------------------------------------------------------- attention

#: a multi-head-attention layer's arrays in the neutral layout: the query, key, value and output
#: projections, each a dense kernel (in, out) with its bias; head h owns the columns
#: h·head_dim ... (h + 1)·head_dim − 1 of the query, key and value kernels' outputs, and the
#: same rows of the output kernel (both frameworks split the embedding that way)
ATTENTION = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


def attention_from_torch(state_dict: Mapping[str, Any]) -> Layer:
    """``nn.MultiheadAttention``'s ``state_dict`` -> the neutral attention layer (``ATTENTION``).

    PyTorch packs the three input projections into one ``in_proj_weight`` (3E, E): the rows of
    the query, then the key, then the value, each (out, in) as ``nn.Linear`` keeps it, with
    ``in_proj_bias`` (3E,); ``out_proj`` is an ``nn.Linear`` (E, E). A layer built with
    ``bias=False`` has no biases, and neither has its neutral form.
    """
    arrays = {key: np.array(as_array(value), copy=True) for key, value in state_dict.items()}
    if "q_proj_weight" in arrays:
        raise ValueError(
            "this layer keeps separate q_proj_weight, k_proj_weight and v_proj_weight (built "
            "with kdim or vdim unlike embed_dim): port each as a dense kernel; only the packed "
            "in_proj_weight is handled here"
        )
    extra = sorted(
        set(arrays) - {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}
    )
    if extra or "in_proj_weight" not in arrays or "out_proj.weight" not in arrays:
        raise ValueError(
            f"not the state_dict of an nn.MultiheadAttention with packed projections: keys "
            f"{sorted(arrays)} (add_bias_kv's bias_k and bias_v have no Keras counterpart)"
        )
    packed = arrays["in_proj_weight"]
    embed = packed.shape[1]
    if packed.shape != (3 * embed, embed):
        raise ValueError(f"in_proj_weight is (3E, E) = {(3 * embed, embed)}, got {packed.shape}")
    layer: Layer = {}
    for name, weight in zip("qkv", np.split(packed, 3), strict=True):
        layer[f"W{name}"] = layouts.dense_from_out_in(weight)
    layer["Wo"] = layouts.dense_from_out_in(arrays["out_proj.weight"])
    if "in_proj_bias" in arrays:
        for name, bias in zip("qkv", np.split(arrays["in_proj_bias"], 3), strict=True):
            layer[f"b{name}"] = np.ascontiguousarray(bias)
        layer["bo"] = arrays["out_proj.bias"]
    return {name: layer[name] for name in ATTENTION if name in layer}


def attention_to_torch(layer: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The neutral attention layer -> the ``state_dict`` of ``nn.MultiheadAttention(E, heads)``
    (``bias=False`` when the layer has no biases): the three input kernels transposed and
    stacked into ``in_proj_weight`` (3E, E), the output kernel transposed into ``out_proj``."""
    arrays = _attention_arrays(layer)
    state = {
        "in_proj_weight": np.concatenate(
            [layouts.dense_to_out_in(arrays[f"W{name}"]) for name in "qkv"]
        )
    }
    if "bq" in arrays:
        state["in_proj_bias"] = np.concatenate([arrays[f"b{name}"] for name in "qkv"])
    state["out_proj.weight"] = layouts.dense_to_out_in(arrays["Wo"])
    if "bo" in arrays:
        state["out_proj.bias"] = np.ascontiguousarray(arrays["bo"])
    return state


def attention_to_keras(layer: Mapping[str, Any], *, num_heads: int) -> list[np.ndarray]:
    """The neutral attention layer -> the list that ``keras.layers.MultiHeadAttention(num_heads,
    key_dim=E // num_heads)``'s ``set_weights`` takes, in its order: query, key and value kernels
    (E, heads, head_dim) with biases (heads, head_dim), then the output kernel (heads, head_dim,
    E) with its bias (E,); without biases (``use_bias=False``) the four kernels alone.

    The kernels are the dense kernels (in, out) with the out axis split into (heads, head_dim):
    a reshape, since both frameworks give head h the consecutive columns of its slice.

    Build the Keras layer with ``key_dim = E // num_heads`` (and ``value_dim`` left to default
    to it): Keras scales the scores by 1/sqrt(key_dim), as PyTorch does by 1/sqrt(E / heads).
    A Keras layer with another ``key_dim`` has no ``nn.MultiheadAttention`` counterpart, and
    ``set_weights`` refuses these arrays in words about shapes, not about heads.
    """
    arrays = _attention_arrays(layer)
    embed = arrays["Wq"].shape[0]
    head_dim = _head_dim(embed, num_heads)
    weights: list[np.ndarray] = []
    for name in "qkv":
        weights.append(arrays[f"W{name}"].reshape(embed, num_heads, head_dim))
        if "bq" in arrays:
            weights.append(arrays[f"b{name}"].reshape(num_heads, head_dim))
    weights.append(arrays["Wo"].reshape(num_heads, head_dim, arrays["Wo"].shape[1]))
    if "bo" in arrays:
        weights.append(arrays["bo"])
    return [np.ascontiguousarray(weight) for weight in weights]


def attention_from_keras(weights: Sequence[Any]) -> Layer:
    """``keras.layers.MultiHeadAttention``'s ``get_weights()`` (8 arrays, or 4 kernels without
    biases) -> the neutral attention layer; the number of heads is read from the kernels' shapes."""
    arrays = [np.array(as_array(value), copy=True) for value in weights]
    if len(arrays) not in (4, 8) or np.ndim(arrays[0]) != 3:
        raise ValueError(
            "expected MultiHeadAttention's get_weights(): query, key, value and output kernels "
            f"(with their biases: 8 arrays, without: 4), got {len(arrays)} arrays"
        )
    with_bias = len(arrays) == 8
    kernels = arrays[0::2] if with_bias else arrays
    layer: Layer = {}
    for index, name in enumerate("qkvo"):
        kernel = kernels[index]
        if name == "o":
            layer["Wo"] = np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1]))
        else:
            layer[f"W{name}"] = np.ascontiguousarray(kernel.reshape(kernel.shape[0], -1))
        if with_bias:
            layer[f"b{name}"] = np.ascontiguousarray(arrays[2 * index + 1].reshape(-1))
    return {name: layer[name] for name in ATTENTION if name in layer}


def _attention_arrays(layer: Mapping[str, Any]) -> dict[str, np.ndarray]:
    arrays = {name: np.asarray(value) for name, value in layer.items()}
    kernels, biases = set(ATTENTION[0::2]), set(ATTENTION[1::2])
    if set(arrays) not in (kernels, kernels | biases):
        raise ValueError(
            f"a neutral attention layer holds {', '.join(ATTENTION)} (or the kernels alone), "
            f"got {sorted(arrays)}"
        )
    return arrays


def _head_dim(embed: int, num_heads: int) -> int:
    if num_heads < 1 or embed % num_heads:
        raise ValueError(f"{num_heads} heads do not split an embedding of {embed}")
    return embed // num_heads
