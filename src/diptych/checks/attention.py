"""Self-checks for lesson 11's exercises (attention and a tiny transformer).

Each check feeds the learner's function fresh float32 tensors of the twin's framework, in shapes
where a swapped axis cannot hide (Tq ≠ Tk, d ≠ dv, E ≠ T), compares with NumPy's float64
reference (``reference.attention``), and recognises the typical wrong answers by computing them
too: the missing 1/√d (or 1/d, or the values' width), a softmax over the queries, a mask inverted
or applied after the softmax, NaN (or an average of every value) where a query has nothing to
attend to, heads split or merged without the transpose, LayerNorm's unbiased variance and ε
outside the root, and a port's reshape without a transpose or projections in the wrong order.
Exercises 1 and 4 ask for work by hand: the framework's fused attention and LayerNorm are
switched off while the learner's code runs; their list is in the lesson's companions
``adapters.pytorch_attention`` and ``adapters.tensorflow_attention``, picked by
``idiom(adapter).companion``, with each framework's LayerNorm defaults. Exercise 5 moves NumPy
arrays between the frameworks' layouts and needs no framework.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from diptych import porting
from diptych.adapters.contract import Adapter
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
from diptych.reference import attention as ref

#: float32 results against float64 answers, in units of the answer's largest value
TOLERANCE = 1e-5


def _companion(adapter: Adapter) -> ModuleType:
    """The companion of ``adapter`` with this lesson's framework code
    (``adapters.<framework>_attention``); imported on first use."""
    return idiom(adapter).companion("attention")


def _tensors(adapter: Adapter, *arrays: np.ndarray) -> list[Any]:
    """float32 (or bool) tensors of the twin's framework, holding ``arrays``."""
    return [adapter.from_numpy(a if a.dtype == bool else a.astype(np.float32)) for a in arrays]


def _float32(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays as the learner's code sees them (rounded to float32), in float64 for answers."""
    return [a.astype(np.float32).astype(np.float64) for a in arrays]


def _close(got: np.ndarray, candidate: np.ndarray, scale: float) -> bool:
    """Does ``got`` equal a candidate answer, to float32 rounding of the answer's scale?"""
    return matches(got, candidate, atol=10 * TOLERANCE * scale)


def _scaled_softmax(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, *, scale: float, axis: int = -1
) -> np.ndarray:
    """softmax(q kᵀ · scale) v with the softmax along ``axis`` (−2: over the queries)."""
    scores = q @ np.swapaxes(k, -1, -2) * scale
    if axis == -1:
        return ref.softmax(scores) @ v
    return np.swapaxes(ref.softmax(np.swapaxes(scores, -1, -2)), -1, -2) @ v


def _scale_mistakes(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """The usual wrong scales of the scores, each with its message."""
    d, dv = q.shape[-1], v.shape[-1]
    return {
        "the scores are not divided by √d: their spread grows with the width d of the queries "
        "and keys, and the softmax saturates": _scaled_softmax(q, k, v, scale=1.0),
        "the scores are divided by d, not by its square root": _scaled_softmax(
            q, k, v, scale=1 / d
        ),
        "the scores are multiplied by √d instead of divided by it": _scaled_softmax(
            q, k, v, scale=math.sqrt(d)
        ),
        f"the scores are divided by the square root of the values' width ({dv}); d is the width "
        f"of the queries and keys ({d})": _scaled_softmax(q, k, v, scale=1 / math.sqrt(dv)),
    }


def _name_the_mistake(
    got: np.ndarray, expected: np.ndarray, mistakes: Mapping[str, np.ndarray]
) -> None:
    """Mismatch with the message of the first known wrong answer ``got`` equals, if any."""
    if _close(got, expected, float(np.abs(expected).max())):
        return
    for message, candidate in mistakes.items():
        if _close(got, candidate, float(np.abs(candidate).max())):
            raise Mismatch(message)


# --------------------------------------------------------------------------- exercise 1


@exercise("Scaled dot-product attention")
def scaled_dot_product_attention(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 1: softmax(q kᵀ / √d) v by hand, batched, with Tq ≠ Tk and d ≠ dv."""
    rng = fresh_rng("scaled dot-product attention")
    targets = _companion(adapter).fused_attention()
    reason = "this exercise asks for attention in tensor operations"
    for spread, tolerance in ((1.5, TOLERANCE), (100.0, 1e-3)):  # then scores whose exp overflows
        q, k, v = (
            rng.normal(size=(2, 3, 4)) * spread,  # B = 2, Tq = 3, d = 4
            rng.normal(size=(2, 5, 4)),  # Tk = 5
            rng.normal(size=(2, 5, 6)),  # dv = 6
        )
        q, k, v = _float32(q, k, v)
        given = _tensors(adapter, q, k, v)
        before = snapshot(*given)
        result = by_hand(functools.partial(learner, *given), targets, reason=reason)
        expect_unchanged(before, given, ["q", "k", "v"])
        if isinstance(result, (tuple, list)):
            raise Mismatch(
                f"attention(q, k, v) returned a {type(result).__name__} of {len(result)}: return "
                "only the output (the lesson's `attention` also returns the weights)"
            )
        got = as_numpy(result, "attention(q, k, v)")
        expected, weights = ref.attention(q, k, v)
        if got.shape == weights.shape and got.shape != expected.shape:
            raise Mismatch(
                f"your result has the shape of the attention weights {weights.shape}; the output "
                "is an average of the values, one row of width dv per query"
            )
        if got.shape == expected.shape and np.all(np.isfinite(got)):
            _name_the_mistake(
                got,
                expected,
                {
                    **_scale_mistakes(q, k, v),
                    "the softmax normalises over the queries (axis −2): each query's weights "
                    "over the keys must sum to 1": _scaled_softmax(
                        q, k, v, scale=1 / math.sqrt(q.shape[-1]), axis=-2
                    ),
                },
            )
        expect_array(
            got,
            expected,
            what="attention(q, k, v)",
            atol=tolerance * float(np.abs(expected).max()),
            dtype=np.float32,
            hint=(
                "the softmax overflows on large scores (exp of 100 is infinite in float32): the "
                "framework's softmax is stable, a hand-written one must be made so"
                if spread > 10
                else ""
            ),
        )
    return (
        "softmax(q kᵀ/√d) v on a batch with 3 queries and 5 keys, d = 4 and dv = 6, stable for "
        "large scores, inputs untouched"
    )


# --------------------------------------------------------------------------- exercise 2

#: (batch of left-padded strings: each one's number of padding tokens, length T)
CAUSAL_CASES = (((0, 2, 5), 6), ((0, 0), 4))


def _masked(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray, *, after: bool = False
) -> np.ndarray:
    """Attention under ``mask``, or with the weights zeroed after the softmax (``after``)."""
    if after:
        weights = ref.softmax(q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])) * mask
        return weights @ v
    return ref.attention(q, k, v, mask=mask)[0]


@exercise("The causal mask")
def causal_mask(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 2: causal attention over left-padded strings; a query with nothing to attend to
    outputs zeros. The framework's fused attention is allowed."""
    rng = fresh_rng("the causal mask")
    for pads, T in CAUSAL_CASES:
        B = len(pads)
        q, k, v = _float32(
            rng.normal(size=(B, T, 4)), rng.normal(size=(B, T, 4)), rng.normal(size=(B, T, 5))
        )
        real = np.arange(T)[None, :] >= np.array(pads)[:, None]  # (B, T): False on the left
        given = _tensors(adapter, q, k, v, real)
        before = snapshot(*given)
        got = as_numpy(learner(*given), "causal_attention(q, k, v, real)")
        expect_unchanged(before, given, ["q", "k", "v", "real"])
        causal = ref.causal_mask(T)
        mask = causal & real[:, None, :]  # (B, Tq, Tk)
        expected = _masked(q, k, v, mask)
        scale = float(np.abs(expected).max())
        empty = np.logical_not(mask.any(axis=-1))  # (B, T): queries with nothing to attend to
        if got.shape == expected.shape:
            _causal_mistakes(got, expected, q, k, v, real, mask, empty, scale)
        expect_array(
            got,
            expected,
            what=f"causal attention on {B} strings of length {T}",
            atol=TOLERANCE * scale,
            dtype=np.float32,
        )
    return (
        "causal attention that skips padding keys and gives 0 where a query has nothing to "
        "attend to, on strings with 0, 2 and 5 padding tokens and on unpadded ones"
    )


def _causal_mistakes(
    got: np.ndarray,
    expected: np.ndarray,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    real: np.ndarray,
    mask: np.ndarray,
    empty: np.ndarray,
    scale: float,
) -> None:
    """Mismatch naming the typical wrong answer ``got`` is, if it is one."""
    rows_ok = np.isclose(got, expected, atol=10 * TOLERANCE * scale).all(axis=-1)  # (B, T)
    if rows_ok.all():
        return
    if (rows_ok | empty).all():
        if np.isnan(got[empty]).any():
            raise Mismatch(
                "NaN where a query has nothing to attend to (the padding at the start of a "
                "string): a row of −∞ scores gives 0/0 in the softmax, and NaN spreads to every "
                "position of the next layer; such a row's output must be 0"
            )
        average = np.broadcast_to(v.mean(axis=-2, keepdims=True), v.shape)
        if matches(got[empty], average[empty], atol=10 * TOLERANCE * scale):
            raise Mismatch(
                "where a query has nothing to attend to, your output is the average of all the "
                "values: a large negative number in place of −∞ leaves that row's softmax "
                "uniform (keras.ops.dot_product_attention does this); the output must be 0"
            )
        raise Mismatch(
            "every query with something to attend to is right; where a query has nothing to "
            "attend to (the padding at the start of a string) the output must be 0"
        )
    T = q.shape[-2]
    causal = ref.causal_mask(T)
    keys = real[:, None, :]
    with np.errstate(invalid="ignore"):
        mistakes = {
            "the mask is applied after the softmax: the masked weights are zeroed but each "
            "row no longer sums to 1; mask the scores before the softmax": _masked(
                q, k, v, mask, after=True
            ),
            "the mask is inverted: a query attends to the keys after it, the future, instead of "
            "those up to itself": _masked(q, k, v, ~causal & keys),
            "the whole mask is inverted, True read as blocked (nn.MultiheadAttention's "
            "polarity); here True means a query may attend": _masked(q, k, v, ~mask),
            "a token may attend to itself: the diagonal belongs to the causal mask": _masked(
                q, k, v, np.tril(np.ones((T, T), dtype=bool), -1) & keys
            ),
            "later tokens leak into earlier positions: the mask is not causal": _masked(
                q, k, v, np.broadcast_to(keys, mask.shape)
            ),
            "queries attend to the padding tokens: padding must be masked as keys": _masked(
                q, k, v, np.broadcast_to(causal, mask.shape)
            ),
            "the padding mask hides queries (rows), not keys (columns): a real token still "
            "attends to the padding": _masked(q, k, v, causal & real[:, :, None]),
            "the scores are not divided by √d": ref.attention(q, k, v, mask=mask, scale=1.0)[0],
        }
    for message, candidate in mistakes.items():
        finite = np.isfinite(candidate).all(axis=-1) & np.isfinite(got).all(axis=-1)
        if finite.any() and not rows_ok[finite].all():
            same = np.isclose(got, candidate, atol=10 * TOLERANCE * scale).all(axis=-1)
            if same[finite].all():
                raise Mismatch(message)


# --------------------------------------------------------------------------- exercise 3

#: (batch, length, embedding, heads): the head width differs from every other size
HEAD_CASES = ((2, 5, 12, 3), (1, 3, 12, 4))


def _heads(
    x: np.ndarray,
    kernels: Sequence[np.ndarray],
    heads: int,
    *,
    split: str = "right",
    merge: str = "right",
    scale: float | None = None,
    project: bool = True,
    transposed: bool = False,
) -> np.ndarray:
    """Multi-head self-attention without biases, and its usual wrong variants."""
    B, T, E = x.shape
    d = E // heads
    Wq, Wk, Wv, Wo = (W.T if transposed else W for W in kernels)

    def split_(t: np.ndarray) -> np.ndarray:
        if split == "reshape":
            return t.reshape(B, heads, T, d)
        if split == "strided":
            return t.reshape(B, T, d, heads).transpose(0, 3, 1, 2)
        return t.reshape(B, T, heads, d).transpose(0, 2, 1, 3)

    def merge_(t: np.ndarray) -> np.ndarray:
        if merge == "reshape":
            return t.reshape(B, T, E)
        if merge == "strided":
            return t.transpose(0, 2, 3, 1).reshape(B, T, E)
        return t.transpose(0, 2, 1, 3).reshape(B, T, E)

    q, k, v = (split_(x @ W) for W in (Wq, Wk, Wv))
    out = merge_(ref.attention(q, k, v, scale=scale)[0])
    return out @ Wo if project else out


@exercise("Splitting and merging heads")
def multi_head(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 3: a multi-head self-attention layer from four (E, E) kernels (no biases, no
    mask); the framework's fused attention is allowed."""
    rng = fresh_rng("splitting and merging heads")
    for B, T, E, heads in HEAD_CASES:
        x = _float32(rng.normal(size=(B, T, E)))[0]
        kernels = _float32(*(rng.normal(size=(E, E)) / math.sqrt(E) for _ in range(4)))
        given = _tensors(adapter, x, *kernels)
        before = snapshot(*given)
        result = learner(*given, heads)
        expect_unchanged(before, given, ["x", "Wq", "Wk", "Wv", "Wo"])
        got = as_numpy(result, "multi_head_attention(x, Wq, Wk, Wv, Wo, heads)")
        expected = _heads(x, kernels, heads)
        d = E // heads
        if got.shape == (B, heads, T, d) and got.shape != expected.shape:
            raise Mismatch(
                f"your result is still split into heads, {got.shape}: merge them back into "
                f"(B, T, E) = {expected.shape} and project with Wo"
            )
        if got.shape == expected.shape:
            _name_the_mistake(
                got,
                expected,
                {
                    "the heads are split without the transpose: a reshape straight to (B, heads, "
                    "T, d) puts whole rows of the first tokens into head 0": _heads(
                        x, kernels, heads, split="reshape", merge="reshape"
                    ),
                    "the heads are split without the transpose (the merge is right): a reshape "
                    "straight to (B, heads, T, d) mixes tokens into each head": _heads(
                        x, kernels, heads, split="reshape"
                    ),
                    "the heads are split right but merged without the transpose: the head axis "
                    "must move back beside d before the reshape to (B, T, E)": _heads(
                        x, kernels, heads, merge="reshape"
                    ),
                    "each head takes every heads-th column: head h must own the consecutive "
                    "columns h·d … (h + 1)·d − 1, as both frameworks' layers split them": _heads(
                        x, kernels, heads, split="strided", merge="strided"
                    ),
                    f"the scores are divided by √E (E = {E}, the whole embedding's width); "
                    f"each head divides by √d, its own width (d = {d})": _heads(
                        x, kernels, heads, scale=1 / math.sqrt(E)
                    ),
                    "the scores are not divided by √d": _heads(x, kernels, heads, scale=1.0),
                    "the heads' outputs are not projected by Wo": _heads(
                        x, kernels, heads, project=False
                    ),
                    "the kernels are transposed: in this layout a kernel is (in, out), so x @ W "
                    "(nn.Linear's weight would be its transpose)": _heads(
                        x, kernels, heads, transposed=True
                    ),
                    f"your layer attends with one head of width {E}: split E into {heads} "
                    "heads": _heads(x, kernels, 1),
                },
            )
        expect_array(
            got,
            expected,
            what=f"multi-head attention with {heads} heads of width {d}",
            atol=TOLERANCE * float(np.abs(expected).max()),
            dtype=np.float32,
        )
    return "multi-head attention with 3 heads of width 4 and 4 heads of width 3, inputs untouched"


# --------------------------------------------------------------------------- exercise 4

#: the ε each call passes (neither framework's default comes twice, so a default is caught)
LAYER_NORM_EPS = (1e-3, 2e-4)


def _layer_norm(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    *,
    ddof: int = 0,
    outside: bool = False,
    axis: int | tuple[int, ...] = -1,
) -> np.ndarray:
    mean = x.mean(axis=axis, keepdims=True)
    variance = x.var(axis=axis, keepdims=True, ddof=ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        normed = (x - mean) / (np.sqrt(variance) + eps if outside else np.sqrt(variance + eps))
    return gamma * normed + beta


@exercise("LayerNorm by hand")
def layer_norm(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 4: γ (x − μ)/√(σ² + ε) + β over the last axis, biased variance, by hand."""
    rng = fresh_rng("layer norm by hand")
    companion = _companion(adapter)
    targets = companion.layer_norm()
    for eps in LAYER_NORM_EPS:
        x = rng.normal(size=(2, 5, 7)) * 0.03 + rng.normal(
            size=(2, 5, 1)
        )  # small spread: ε matters
        x[1, 2] = 0.25  # one token whose features are all equal: variance 0
        gamma, beta = 1 + 0.5 * rng.normal(size=7), rng.normal(size=7)
        x, gamma, beta = _float32(x, gamma, beta)
        given = _tensors(adapter, x, gamma, beta)
        before = snapshot(*given)
        result = by_hand(
            functools.partial(learner, *given, eps),
            targets,
            reason="this exercise asks for LayerNorm in tensor operations",
        )
        expect_unchanged(before, given, ["x", "gamma", "beta"])
        got = as_numpy(result, "layer_norm(x, gamma, beta, eps)")
        expected = ref.layer_norm(x, gamma, beta, eps=eps)
        if got.shape == expected.shape:
            _layer_norm_mistakes(got, expected, x, gamma, beta, eps, companion)
        expect_array(
            got,
            expected,
            what=f"layer_norm with eps={eps:g}",
            atol=TOLERANCE * float(np.abs(expected).max()),
            dtype=np.float32,
        )
    return (
        "LayerNorm over each token's features with the biased variance and ε inside the root, "
        "for two values of ε, a token of equal features included"
    )


def _layer_norm_mistakes(
    got: np.ndarray,
    expected: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    framework: ModuleType,
) -> None:
    """Name a wrong LayerNorm; ``framework``'s companion knows its LayerNorm's default ε and
    where an unbiased variance comes from in it."""
    if not np.isfinite(got).all():
        raise Mismatch(
            "NaN or infinity where a token's features are all equal: their variance is 0, and "
            "ε is what keeps the division finite"
        )
    ones, zeros = np.ones_like(gamma), np.zeros_like(beta)
    default = framework.LAYER_NORM_EPSILON
    mistakes = {
        "the variance divides by E − 1 (the unbiased estimate"
        + framework.UNBIASED_BY_DEFAULT
        + "): LayerNorm divides by E": _layer_norm(x, gamma, beta, eps, ddof=1),
        "ε is added to the standard deviation, outside the square root: LayerNorm adds it "
        "to the variance, inside": _layer_norm(x, gamma, beta, eps, outside=True),
        "the mean and variance are taken over the tokens (axis −2), not over each token's "
        "features (the last axis)": _layer_norm(x, gamma, beta, eps, axis=-2),
        "the mean and variance are taken over the batch (axis 0), as BatchNorm would, not "
        "over each token's features": _layer_norm(x, gamma, beta, eps, axis=0),
        "the mean and variance are taken over the whole tensor, not over each token's "
        "features": _layer_norm(x, gamma, beta, eps, axis=(0, 1, 2)),
        "γ and β are swapped": _layer_norm(x, beta, gamma, eps),
        "the result is not scaled by γ and shifted by β": _layer_norm(x, ones, zeros, eps),
        f"ε is not the one given ({eps:g}): your code uses {default:g}, the framework's "
        "default": _layer_norm(x, gamma, beta, default),
    }
    _name_the_mistake(got, expected, mistakes)


# --------------------------------------------------------------------------- exercise 5

#: (embedding, heads): the head width differs from the number of heads
PORT_CASES = ((12, 3), (6, 2))
TORCH_NAMES = ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")


def _attention_layer(rng: np.random.Generator, embed: int) -> dict[str, np.ndarray]:
    """A neutral attention layer (``porting.ATTENTION``) with every number distinct."""
    return {
        name: rng.normal(size=(embed, embed) if name.startswith("W") else embed).astype(np.float32)
        for name in porting.ATTENTION
    }


@exercise("Porting an attention layer")
def port_attention(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 5: one multi-head-attention layer's weights into this twin's framework: Keras'
    per-head kernels into nn.MultiheadAttention's packed state_dict (PyTorch twin), or back
    (TensorFlow twin)."""
    into_keras = idiom(adapter).weight_layout == "keras"
    rng = fresh_rng("porting an attention layer")
    for embed, heads in PORT_CASES:
        layer = _attention_layer(rng, embed)
        keras_weights = porting.attention_to_keras(layer, num_heads=heads)
        torch_state = porting.attention_to_torch(layer)
        given: Any = (
            {name: value.copy() for name, value in torch_state.items()}
            if into_keras
            else [w.copy() for w in keras_weights]
        )
        arrays = list(given.values()) if into_keras else given
        before = snapshot(*arrays)
        result = learner(given, heads)
        expect_unchanged(before, arrays, ["an array of the layer"] * len(arrays))
        if into_keras:
            _check_keras_port(result, layer, keras_weights, heads)
        else:
            _check_torch_port(result, layer, torch_state, heads)
    return (
        "every number of the four projections and their biases in its place, exactly, for "
        "3 heads of width 4 and 2 heads of width 3"
    )


def _check_torch_port(
    result: Any, layer: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], heads: int
) -> None:
    if not isinstance(result, Mapping):
        raise Mismatch(
            "return a dict with the keys of nn.MultiheadAttention's state_dict "
            f"({', '.join(TORCH_NAMES)}); got a {type(result).__name__}"
        )
    missing = [name for name in TORCH_NAMES if name not in result]
    if missing:
        raise Mismatch(
            f"the dict lacks {', '.join(map(repr, missing))}: load_state_dict looks the arrays up "
            f"by these names (yours are {', '.join(map(repr, result))})"
        )
    got = {name: as_numpy(result[name], repr(name)) for name in TORCH_NAMES}
    E = layer["Wq"].shape[0]
    d = E // heads
    packed = got["in_proj_weight"]
    if packed.shape == (3 * E, E) and not np.array_equal(packed, expected["in_proj_weight"]):
        blocks = {n: layer[f"W{n}"] for n in "qkv"}
        orders = {
            "qkv": "query, key, value",
            "qvk": "query, value, key",
            "kqv": "key, query, value",
        }
        for order, words in orders.items():
            if order == "qkv":
                continue
            if np.array_equal(packed, np.concatenate([blocks[n].T for n in order])):
                raise Mismatch(
                    f"in_proj_weight stacks the projections as {words}"
                    + (" (the order Keras' layer is called in)" if order == "qvk" else "")
                    + "; nn.MultiheadAttention stacks query, key, value"
                )
        if np.array_equal(packed, np.concatenate([blocks[n] for n in "qkv"])):
            raise Mismatch(
                "in_proj_weight's blocks are not transposed: nn.MultiheadAttention keeps each "
                "projection as (out, in), like nn.Linear; Keras' kernels are (in, heads, d)"
            )
        interleaved = np.concatenate(
            [blocks[n].reshape(E, heads, d).transpose(0, 2, 1).reshape(E, E).T for n in "qkv"]
        )
        if np.array_equal(packed, interleaved):
            raise Mismatch(
                "the heads and each head's width are flattened in the wrong order: head h's "
                "rows must be the consecutive rows h·d … (h + 1)·d − 1"
            )
    if not np.array_equal(got["out_proj.weight"], expected["out_proj.weight"]) and np.array_equal(
        got["out_proj.weight"], layer["Wo"]
    ):
        raise Mismatch(
            "out_proj.weight is not transposed: nn.Linear keeps (out, in), Keras' output "
            "kernel is (heads, d, out)"
        )
    for name in TORCH_NAMES:
        expect_array(got[name], expected[name], what=name, atol=0)


#: Keras' MultiHeadAttention weights, in the order of get_weights()
KERAS_NAMES = (
    "query kernel",
    "query bias",
    "key kernel",
    "key bias",
    "value kernel",
    "value bias",
    "output kernel",
    "output bias",
)


def _check_keras_port(
    result: Any, layer: Mapping[str, np.ndarray], expected: Sequence[np.ndarray], heads: int
) -> None:
    if not isinstance(result, (list, tuple)) or len(result) != len(KERAS_NAMES):
        found = (
            f"{len(result)} arrays" if isinstance(result, (list, tuple)) else type(result).__name__
        )
        raise Mismatch(
            "return the list MultiHeadAttention.set_weights takes: 8 arrays, each kernel followed "
            f"by its bias, for the query, key, value and output; got {found}"
        )
    got = [as_numpy(value, name) for value, name in zip(result, KERAS_NAMES, strict=True)]
    E = layer["Wq"].shape[0]
    d = E // heads
    shapes = [w.shape for w in got]
    if shapes == [w.shape for w in expected[::2]] + [w.shape for w in expected[1::2]]:
        raise Mismatch(
            "the four kernels come first and the four biases after them: set_weights takes each "
            "kernel followed by its bias"
        )
    if shapes == [w.shape for w in expected] and not all(
        np.array_equal(a, b) for a, b in zip(got, expected, strict=True)
    ):
        kernels = {n: layer[f"W{n}"] for n in "qkv"}
        if np.array_equal(got[0], layer["Wq"].T.reshape(E, heads, d)):
            raise Mismatch(
                "the query kernel is in_proj_weight's block reshaped without the transpose: "
                "nn.MultiheadAttention keeps (out, in), Keras (in, heads, d)"
            )
        for position, name in ((2, "k"), (4, "v")):
            others = [n for n in "qkv" if n != name]
            for other in others:
                if np.array_equal(got[position], kernels[other].reshape(E, heads, d)):
                    raise Mismatch(
                        f"the {KERAS_NAMES[position]} holds another projection's weights: "
                        "in_proj_weight stacks query, key, value, and set_weights takes them in "
                        "that order too"
                    )
        if np.array_equal(got[0], kernels["q"].reshape(E, d, heads).transpose(0, 2, 1)):
            raise Mismatch(
                "the heads and each head's width are split in the wrong order: head h must get "
                "the columns h·d … (h + 1)·d − 1"
            )
        if np.array_equal(got[6], layer["Wo"].T.reshape(heads, d, E)):
            raise Mismatch(
                "the output kernel is out_proj.weight reshaped without the transpose: "
                "nn.Linear keeps (out, in), Keras' output kernel is (heads, d, out)"
            )
    for value, want, name in zip(got, expected, KERAS_NAMES, strict=True):
        expect_array(value, want, what=f"the {name}", atol=0)
