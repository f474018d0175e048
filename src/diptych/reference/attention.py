"""Lesson 11's reference: attention, multi-head attention, LayerNorm, GELU, a pre-norm
transformer block and a tiny GPT, forward and backward, in NumPy.

Shapes follow the lesson: a batch of sequences is (B, T, E) (batch, time, embedding); one head's
queries, keys and values are (..., T, d). A mask is boolean with **True where a query may
attend** (``F.scaled_dot_product_attention``'s and Keras' polarity; ``nn.MultiheadAttention``'s
``attn_mask`` is the opposite). A query whose row of the mask is all False attends to nothing:
its weights and its output are 0, as PyTorch's fused attention returns them (a plain softmax over
a row of −∞ gives NaN).

Weights are in diptych's neutral layout: dense kernels (in, out); a multi-head-attention layer is
``porting.ATTENTION``'s ``{"Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo"}``, head h owning the
columns h·d ... (h + 1)·d − 1 of the query, key and value kernels' outputs. The GPT is one flat
dict of arrays (``gpt_names``): ``tokens`` (V, E), ``positions`` (context, E), per block
``blocks.{i}.norm1.gamma``/``beta``, ``blocks.{i}.attention.Wq`` ... ``bo``,
``blocks.{i}.norm2.gamma``/``beta``, ``blocks.{i}.fc.W`` (E, 4E)/``b``, ``blocks.{i}.proj.W``
(4E, E)/``b``, then ``norm.gamma``/``beta`` and ``head.W`` (E, V)/``b``. Arithmetic happens in the
inputs' dtype (float64 for the trajectories). Every backward pass is tested against finite
differences (tests/test_reference_attention.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: a multi-head-attention layer's arrays (the same names as ``porting.ATTENTION``)
ATTENTION = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
#: what a target of this value means "no loss here" (PyTorch's ``ignore_index`` default)
IGNORE = -100

Weights = dict[str, np.ndarray]


# --------------------------------------------------------------------------- attention


def causal_mask(T: int) -> np.ndarray:
    """(T, T) boolean, True on and below the diagonal: query t may attend to keys 0 ... t."""
    if T < 1:
        raise ValueError(f"a sequence has at least one position, got T={T}")
    return np.tril(np.ones((T, T), dtype=bool))


def softmax(scores: np.ndarray, *, mask: np.ndarray | None = None) -> np.ndarray:
    """Softmax over the last axis, with masked entries (``mask`` False) at weight 0.

    Stable (the row's largest allowed score is subtracted first); a row with nothing allowed is
    all zeros rather than NaN.
    """
    scores = np.asarray(scores)
    if mask is None:
        mask = np.ones(scores.shape, dtype=bool)
    mask = np.broadcast_to(mask, scores.shape)
    allowed = np.where(mask, scores, -np.inf)
    top = allowed.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    exps = np.where(mask, np.exp(allowed - top), 0.0)
    total = exps.sum(axis=-1, keepdims=True)
    return exps / np.where(total > 0, total, 1.0)


def attention(
    Q: np.ndarray,
    K: np.ndarray,
    V: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled dot-product attention: softmax(Q Kᵀ · scale) V, and the weights.

    Q (..., Tq, d), K (..., Tk, d), V (..., Tk, dv); ``mask`` broadcastable to (..., Tq, Tk),
    True where a query may attend; ``scale`` 1/√d unless given. Returns the output (..., Tq, dv)
    and the weights (..., Tq, Tk), each allowed row summing to 1.
    """
    scale = 1 / math.sqrt(Q.shape[-1]) if scale is None else scale
    scores = Q @ np.swapaxes(K, -1, -2) * scale  # (..., Tq, Tk)
    weights = softmax(scores, mask=mask)
    return weights @ V, weights


def attention_backward(
    Q: np.ndarray,
    K: np.ndarray,
    V: np.ndarray,
    d_out: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dQ, dK, dV) of Σ d_out · attention(Q, K, V) with respect to Q, K and V.

    With P the weights and S the scaled scores: dV = Pᵀ d_out; dP = d_out Vᵀ; softmax's
    Jacobian gives dS = P ⊙ (dP − rowsum(dP ⊙ P)); then dQ = dS K · scale, dK = dSᵀ Q · scale.
    Masked entries have P = 0, so no gradient flows through them.
    """
    scale = 1 / math.sqrt(Q.shape[-1]) if scale is None else scale
    _, P = attention(Q, K, V, mask=mask, scale=scale)
    dV = np.swapaxes(P, -1, -2) @ d_out
    dP = d_out @ np.swapaxes(V, -1, -2)
    dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))
    return dS @ K * scale, np.swapaxes(dS, -1, -2) @ Q * scale, dV


# --------------------------------------------------------------------------- heads


def split_heads(X: np.ndarray, heads: int) -> np.ndarray:
    """(B, T, E) -> (B, heads, T, E / heads): head h gets the columns h·d ... (h + 1)·d − 1.

    A reshape to (B, T, heads, d) and a transpose of the time and head axes; a reshape straight
    to (B, heads, T, d) would keep the numbers in place and mix tokens into each head.
    """
    B, T, E = X.shape
    if heads < 1 or E % heads:
        raise ValueError(f"the embedding ({E}) must split evenly into {heads} heads")
    return X.reshape(B, T, heads, E // heads).transpose(0, 2, 1, 3)


def merge_heads(X: np.ndarray) -> np.ndarray:
    """(B, heads, T, d) -> (B, T, heads · d), the inverse of ``split_heads``."""
    B, heads, T, d = X.shape
    return X.transpose(0, 2, 1, 3).reshape(B, T, heads * d)


def multi_head_attention(
    X: np.ndarray,
    layer: Mapping[str, np.ndarray],
    *,
    heads: int,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head self-attention of X (B, T, E) with a neutral ``layer`` (``ATTENTION``).

    Each head attends in its own d = E / heads columns of the projected queries, keys and values,
    scaled by 1/√d; the heads' outputs are put side by side and projected by Wo. ``mask``
    broadcastable to (B, heads, T, T). Returns the output (B, T, E) and the weights
    (B, heads, T, T).
    """
    Q, K, V = (
        split_heads(X @ layer[f"W{n}"] + layer[f"b{n}"], heads) for n in "qkv"
    )  # (B, h, T, d) each
    out, weights = attention(Q, K, V, mask=mask)
    return merge_heads(out) @ layer["Wo"] + layer["bo"], weights


def multi_head_attention_backward(
    X: np.ndarray,
    layer: Mapping[str, np.ndarray],
    d_out: np.ndarray,
    *,
    heads: int,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, Weights]:
    """dX (B, T, E) and the gradient of every array of ``layer``, for Σ d_out · output."""
    projected = {n: X @ layer[f"W{n}"] + layer[f"b{n}"] for n in "qkv"}  # (B, T, E) each
    Q, K, V = (split_heads(projected[n], heads) for n in "qkv")
    out, _ = attention(Q, K, V, mask=mask)
    merged = merge_heads(out)  # (B, T, E)
    grads: Weights = {
        "Wo": _flat(merged).T @ _flat(d_out),
        "bo": _flat(d_out).sum(axis=0),
    }
    d_merged = d_out @ layer["Wo"].T
    dQ, dK, dV = attention_backward(Q, K, V, split_heads(d_merged, heads), mask=mask)
    dX = np.zeros_like(X)
    for n, d_head in zip("qkv", (dQ, dK, dV), strict=True):
        d_projected = merge_heads(d_head)  # (B, T, E)
        grads[f"W{n}"] = _flat(X).T @ _flat(d_projected)
        grads[f"b{n}"] = _flat(d_projected).sum(axis=0)
        dX += d_projected @ layer[f"W{n}"].T
    return dX, {name: grads[name] for name in ATTENTION}


def _flat(X: np.ndarray) -> np.ndarray:
    """(..., n) -> (rows, n): every position of every sequence as one row."""
    return X.reshape(-1, X.shape[-1])


# --------------------------------------------------------------------------- LayerNorm, GELU


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *, eps: float) -> np.ndarray:
    """γ (x − μ) / √(σ² + ε) + β over the last axis, with the biased variance σ² (divide by n)."""
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(variance + eps) + beta


def layer_norm_backward(
    x: np.ndarray, gamma: np.ndarray, d_out: np.ndarray, *, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dγ, dβ) for Σ d_out · layer_norm(x). With x̂ the normalised x and g = d_out · γ:
    dx = (g − mean(g) − x̂ · mean(g ⊙ x̂)) / √(σ² + ε), the means over the last axis."""
    mean = x.mean(axis=-1, keepdims=True)
    inv_std = 1 / np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + eps)
    normed = (x - mean) * inv_std
    g = d_out * gamma
    dx = inv_std * (
        g - g.mean(axis=-1, keepdims=True) - normed * (g * normed).mean(axis=-1, keepdims=True)
    )
    return dx, _flat(d_out * normed).sum(axis=0), _flat(d_out).sum(axis=0)


_erf = np.vectorize(math.erf, otypes=[float])


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU, x · Φ(x) = x/2 · (1 + erf(x/√2)): ``nn.GELU()``, ``keras.activations.gelu``."""
    return (0.5 * x * (1 + _erf(np.asarray(x, dtype=np.float64) / math.sqrt(2)))).astype(
        np.result_type(x, np.float32)
    )


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU's tanh approximation, x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³))):
    ``nn.GELU(approximate="tanh")``, and ``keras.ops.gelu``'s default."""
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_backward(x: np.ndarray, d_out: np.ndarray) -> np.ndarray:
    """d_out · GELU'(x), with GELU'(x) = Φ(x) + x φ(x)."""
    x64 = np.asarray(x, dtype=np.float64)
    cdf = 0.5 * (1 + _erf(x64 / math.sqrt(2)))
    pdf = np.exp(-(x64**2) / 2) / math.sqrt(2 * math.pi)
    return (d_out * (cdf + x64 * pdf)).astype(np.result_type(x, d_out))


# --------------------------------------------------------------------------- a block


def _part(weights: Mapping[str, np.ndarray], prefix: str) -> Weights:
    """The arrays whose names start with ``prefix``, without it."""
    return {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}


def block(
    x: np.ndarray, weights: Mapping[str, np.ndarray], *, heads: int, eps: float = 1e-5
) -> np.ndarray:
    """A pre-norm transformer block on x (B, T, E), causal: x + attention(LN₁(x)), then
    + proj(GELU(fc(LN₂(·)))). ``weights`` holds one block's arrays under the names that follow
    ``blocks.{i}.`` in ``gpt_names`` (``norm1.gamma``, ``attention.Wq``, ``fc.W``, ...)."""
    return _block(x, weights, heads=heads, eps=eps)[0]


def _block(
    x: np.ndarray, w: Mapping[str, np.ndarray], *, heads: int, eps: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    mask = causal_mask(x.shape[1])
    h1 = layer_norm(x, w["norm1.gamma"], w["norm1.beta"], eps=eps)
    x1 = x + multi_head_attention(h1, _part(w, "attention."), heads=heads, mask=mask)[0]
    h2 = layer_norm(x1, w["norm2.gamma"], w["norm2.beta"], eps=eps)
    a = h2 @ w["fc.W"] + w["fc.b"]  # (B, T, 4E)
    f = gelu(a)
    return x1 + f @ w["proj.W"] + w["proj.b"], {
        "x": x,
        "h1": h1,
        "x1": x1,
        "h2": h2,
        "a": a,
        "f": f,
    }


def _block_backward(
    w: Mapping[str, np.ndarray],
    cache: Mapping[str, np.ndarray],
    d_y: np.ndarray,
    *,
    heads: int,
    eps: float,
) -> tuple[np.ndarray, Weights]:
    grads: Weights = {
        "proj.W": _flat(cache["f"]).T @ _flat(d_y),
        "proj.b": _flat(d_y).sum(axis=0),
    }
    d_a = gelu_backward(cache["a"], d_y @ w["proj.W"].T)
    grads["fc.W"] = _flat(cache["h2"]).T @ _flat(d_a)
    grads["fc.b"] = _flat(d_a).sum(axis=0)
    d_x1, grads["norm2.gamma"], grads["norm2.beta"] = layer_norm_backward(
        cache["x1"], w["norm2.gamma"], d_a @ w["fc.W"].T, eps=eps
    )
    d_x1 = d_x1 + d_y  # the residual
    mask = causal_mask(cache["x"].shape[1])
    d_h1, attention_grads = multi_head_attention_backward(
        cache["h1"], _part(w, "attention."), d_x1, heads=heads, mask=mask
    )
    grads |= {f"attention.{k}": v for k, v in attention_grads.items()}
    d_x, grads["norm1.gamma"], grads["norm1.beta"] = layer_norm_backward(
        cache["x"], w["norm1.gamma"], d_h1, eps=eps
    )
    return d_x + d_x1, grads


# --------------------------------------------------------------------------- a tiny GPT


def gpt_names(layers: int) -> list[str]:
    """The neutral GPT's array names, in the order both frameworks create them."""
    names = ["tokens", "positions"]
    for i in range(layers):
        p = f"blocks.{i}."
        names += [p + "norm1.gamma", p + "norm1.beta"]
        names += [p + f"attention.{n}" for n in ATTENTION]
        names += [
            p + "norm2.gamma",
            p + "norm2.beta",
            p + "fc.W",
            p + "fc.b",
            p + "proj.W",
            p + "proj.b",
        ]
    return [*names, "norm.gamma", "norm.beta", "head.W", "head.b"]


def layers_of(weights: Mapping[str, Any]) -> int:
    """How many blocks a neutral GPT has."""
    return len({name.split(".")[1] for name in weights if name.startswith("blocks.")})


def parameter_count(*, vocab: int, context: int, embed: int, layers: int) -> int:
    """The GPT's number of parameters: (V + context) E for the embeddings, 12E² + 13E per block
    (4E² + 4E attention, 8E² + 5E MLP, 4E two LayerNorms), 2E final LayerNorm, EV + V head."""
    return (
        (vocab + context) * embed
        + layers * (12 * embed**2 + 13 * embed)
        + 2 * embed
        + (embed + 1) * vocab
    )


def gpt_weights(
    *,
    vocab: int,
    context: int,
    embed: int,
    heads: int,
    layers: int,
    seed: int = 0,
    dtype: type = np.float32,
) -> Weights:
    """Shared initial weights of the GPT, drawn in NumPy (both frameworks load them).

    Dense kernels uniform in ±√(6 / (in + out)) (Glorot), embeddings N(0, 1) as PyTorch's
    ``nn.Embedding``; LayerNorm's γ near 1 and every β and bias small but not zero, so that a
    gradient or a port that drops one of them shows.
    """
    if embed % heads:
        raise ValueError(f"the embedding ({embed}) must split evenly into {heads} heads")
    rng = np.random.default_rng(seed)

    def kernel(n_in: int, n_out: int) -> np.ndarray:
        limit = math.sqrt(6 / (n_in + n_out))
        return rng.uniform(-limit, limit, size=(n_in, n_out))

    shapes_in_out = {"fc": (embed, 4 * embed), "proj": (4 * embed, embed), "head": (embed, vocab)}
    weights: Weights = {}
    for name in gpt_names(layers):
        part, array = name.rsplit(".", 1) if "." in name else (name, "")
        kind = part.rsplit(".", 1)[-1]
        if name == "tokens":
            value = rng.standard_normal((vocab, embed))
        elif name == "positions":
            value = rng.standard_normal((context, embed))
        elif array == "gamma":
            value = 1 + 0.1 * rng.standard_normal(embed)
        elif array == "beta":
            value = 0.1 * rng.standard_normal(embed)
        elif kind == "attention":
            value = (
                kernel(embed, embed) if array.startswith("W") else 0.1 * rng.standard_normal(embed)
            )
        elif array == "W":
            value = kernel(*shapes_in_out[kind])
        else:  # a dense layer's bias
            value = 0.1 * rng.standard_normal(shapes_in_out[kind][1])
        weights[name] = value.astype(dtype)
    return weights


def gpt_logits(
    tokens: np.ndarray, weights: Mapping[str, np.ndarray], *, heads: int, eps: float = 1e-5
) -> np.ndarray:
    """Next-token logits (B, T, V) of the GPT for ``tokens`` (B, T) ints: token and position
    embeddings, the blocks (causal), a last LayerNorm and the head."""
    return _gpt(tokens, weights, heads=heads, eps=eps)[0]


def _gpt(
    tokens: np.ndarray, w: Mapping[str, np.ndarray], *, heads: int, eps: float
) -> tuple[np.ndarray, list[Any]]:
    tokens = np.asarray(tokens)
    T = tokens.shape[1]
    if len(w["positions"]) < T:
        raise ValueError(f"{T} tokens, but the model has positions for {len(w['positions'])}")
    x = w["tokens"][tokens] + w["positions"][:T]  # (B, T, E)
    caches = []
    for i in range(layers_of(w)):
        x, cache = _block(x, _part(w, f"blocks.{i}."), heads=heads, eps=eps)
        caches.append(cache)
    h = layer_norm(x, w["norm.gamma"], w["norm.beta"], eps=eps)
    caches.append({"x": x, "h": h})
    return h @ w["head.W"] + w["head.b"], caches


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of ``logits`` (..., V) against ``targets`` (...) ints, over the
    positions whose target is not ``IGNORE`` (PyTorch's ``ignore_index``, Keras'
    ``ignore_class``)."""
    keep = np.asarray(targets) != IGNORE
    if not keep.any():
        raise ValueError("every target is ignored: the mean cross-entropy is undefined")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, np.where(keep, targets, 0)[..., None], axis=-1)[..., 0]
    return float(-(picked * keep).sum() / keep.sum())


def gpt_loss(
    tokens: np.ndarray,
    targets: np.ndarray,
    weights: Mapping[str, np.ndarray],
    *,
    heads: int,
    eps: float = 1e-5,
) -> float:
    """The GPT's mean cross-entropy on ``targets`` (B, T) (``IGNORE`` where there is none)."""
    return cross_entropy(gpt_logits(tokens, weights, heads=heads, eps=eps), targets)


def gpt_gradients(
    tokens: np.ndarray,
    targets: np.ndarray,
    weights: Mapping[str, np.ndarray],
    *,
    heads: int,
    eps: float = 1e-5,
) -> tuple[float, Weights]:
    """The mean cross-entropy and its gradient for every array of the GPT (``gpt_names``)."""
    logits, caches = _gpt(tokens, weights, heads=heads, eps=eps)
    keep = np.asarray(targets) != IGNORE
    probs = softmax(logits)
    d_logits = probs.copy()
    rows = np.nonzero(keep)
    index = (*rows, np.asarray(targets)[rows])  # each kept position and its target token
    d_logits[index] -= 1
    d_logits = d_logits * keep[..., None] / keep.sum()  # (B, T, V)
    last = caches[-1]
    grads: Weights = {
        "head.W": _flat(last["h"]).T @ _flat(d_logits),
        "head.b": _flat(d_logits).sum(axis=0),
    }
    d_x, grads["norm.gamma"], grads["norm.beta"] = layer_norm_backward(
        last["x"], weights["norm.gamma"], d_logits @ weights["head.W"].T, eps=eps
    )
    for i in reversed(range(len(caches) - 1)):
        p = f"blocks.{i}."
        d_x, block_grads = _block_backward(_part(weights, p), caches[i], d_x, heads=heads, eps=eps)
        grads |= {p + k: v for k, v in block_grads.items()}
    d_tokens = np.zeros_like(weights["tokens"])
    np.add.at(d_tokens, np.asarray(tokens), d_x)  # each token's rows add up
    d_positions = np.zeros_like(weights["positions"])
    d_positions[: d_x.shape[1]] = d_x.sum(axis=0)
    grads |= {"tokens": d_tokens, "positions": d_positions}
    loss = cross_entropy(logits, targets)
    return loss, {name: grads[name] for name in gpt_names(layers_of(weights))}


def sgd(
    weights: Mapping[str, np.ndarray],
    batches: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    lr: float,
    heads: int,
    eps: float = 1e-5,
) -> tuple[np.ndarray, Weights]:
    """Plain SGD, w ← w − lr ∇L, over ``batches`` of (tokens, targets), from ``weights``.

    Returns the loss before each step (steps,) and the weights after the last step."""
    current = {name: np.array(value, copy=True) for name, value in weights.items()}
    losses = []
    for tokens, targets in batches:
        loss, grads = gpt_gradients(tokens, targets, current, heads=heads, eps=eps)
        losses.append(loss)
        current = {name: value - lr * grads[name] for name, value in current.items()}
    return np.array(losses), current


def flat(weights: Mapping[str, np.ndarray]) -> np.ndarray:
    """Every array of a neutral GPT in ``gpt_names`` order, as one vector (for comparisons)."""
    return np.concatenate([np.ravel(weights[name]) for name in gpt_names(layers_of(weights))])
