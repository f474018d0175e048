"""Lesson 11's self-checks: idiomatic right answers pass in each twin (tensor operations, einsum,
the framework's fused attention where the exercise allows it), and each typical wrong answer fails
with its named hint, in both frameworks. Answers are written out here with plain framework code,
never with ``diptych.reference`` (which the checks use for their expected values)."""

import math

import numpy as np
import pytest

from diptych import checks
from diptych.checks import attention as attention_checks

from helpers import case_id, verdict

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
tf = tensorflow.tf
keras = pytest.importorskip("keras")


# --------------------------------------------------------------------------- exercise 1


def attention_torch(q, k, v, *, scale=None, dim=-1):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=dim) @ v


def attention_einsum(q, k, v):
    scores = torch.einsum("bqd,bkd->bqk", q, k) / q.shape[-1] ** 0.5
    return torch.einsum("bqk,bkv->bqv", scores.softmax(dim=-1), v)


def attention_tf(q, k, v, *, scale=None, axis=-1):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return tf.nn.softmax(tf.matmul(q, k, transpose_b=True) * scale, axis=axis) @ v


def attention_keras_ops(q, k, v):
    scores = keras.ops.einsum("bqd,bkd->bqk", q, k) / math.sqrt(q.shape[-1])
    return keras.ops.einsum("bqk,bkv->bqv", keras.ops.softmax(scores, axis=-1), v)


def attention_fused(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def attention_naive_softmax(q, k, v):
    scores = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))
    return scores / scores.sum(dim=-1, keepdim=True) @ v


def attention_weights(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)


def attention_with_weights(q, k, v):  # the lesson's function: (output, weights)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


def attention_tf_with_weights(q, k, v):
    weights = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / math.sqrt(q.shape[-1]))
    return weights @ v, weights


def attention_in_place(q, k, v):
    q /= math.sqrt(q.shape[-1])  # changes the caller's q
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


# --------------------------------------------------------------------------- exercise 2


def causal_torch(q, k, v, real):
    T = q.shape[1]
    mask = torch.ones(T, T, dtype=torch.bool).tril() & real[:, None, :]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # zeros where a row is empty


def causal_torch_by_hand(q, k, v, real, *, fill=float("-inf"), after=False, diagonal=0, keys=True):
    T = q.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool).tril(diagonal)
    mask = causal & (real[:, None, :] if keys else real[:, :, None])
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if after:
        return (torch.softmax(scores, dim=-1) * mask) @ v
    weights = torch.softmax(scores.masked_fill(~mask, fill), dim=-1)
    return torch.nan_to_num(weights) @ v if fill == float("-inf") else weights @ v


def causal_nan(q, k, v, real):
    T = q.shape[1]
    mask = torch.ones(T, T, dtype=torch.bool).tril() & real[:, None, :]
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def causal_inverted(q, k, v, real):
    T = q.shape[1]
    blocked = ~(torch.ones(T, T, dtype=torch.bool).tril() & real[:, None, :])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=blocked)  # nn.MultiheadAttention's way


def causal_future(q, k, v, real):
    T = q.shape[1]
    mask = ~torch.ones(T, T, dtype=torch.bool).tril() & real[:, None, :]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def causal_padding_ignored(q, k, v, real):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def causal_tf(q, k, v, real):
    T = q.shape[1]
    mask = (tf.linalg.band_part(tf.ones((T, T)), -1, 0) > 0) & real[:, None, :]
    scores = tf.where(mask, tf.matmul(q, k, transpose_b=True) / math.sqrt(q.shape[-1]), -np.inf)
    weights = tf.where(tf.reduce_any(mask, axis=-1, keepdims=True), tf.nn.softmax(scores), 0.0)
    return weights @ v


def causal_keras_fused(q, k, v, real, *, zero_empty=True):
    T = q.shape[1]
    mask = (tf.linalg.band_part(tf.ones((T, T)), -1, 0) > 0) & real[:, None, :]  # (B, T, T)
    out = keras.ops.dot_product_attention(
        q[:, :, None], k[:, :, None], v[:, :, None], mask=mask[:, None]
    )
    out = out[:, :, 0]
    if zero_empty:
        out = out * tf.cast(tf.reduce_any(mask, axis=-1, keepdims=True), out.dtype)
    return out


def causal_tf_after(q, k, v, real):
    T = q.shape[1]
    mask = (tf.linalg.band_part(tf.ones((T, T)), -1, 0) > 0) & real[:, None, :]
    weights = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / math.sqrt(q.shape[-1]))
    return (weights * tf.cast(mask, weights.dtype)) @ v


def causal_tf_by_hand(q, k, v, real, *, invert=False, zero_empty=True, strict=False):
    T = q.shape[1]
    mask = (tf.linalg.band_part(tf.ones((T, T)), -1, 0) > 0) & real[:, None, :]
    if strict:  # the diagonal left out: the mask off by one
        mask = mask & ~tf.eye(T, dtype=tf.bool)
    allowed = ~mask if invert else mask
    weights = tf.nn.softmax(
        tf.where(allowed, tf.matmul(q, k, transpose_b=True) / math.sqrt(q.shape[-1]), -np.inf)
    )
    if zero_empty:
        weights = tf.where(tf.reduce_any(allowed, axis=-1, keepdims=True), weights, 0.0)
    return weights @ v


def causal_tf_unscaled(q, k, v, real):
    T = q.shape[1]
    mask = (tf.linalg.band_part(tf.ones((T, T)), -1, 0) > 0) & real[:, None, :]
    weights = tf.nn.softmax(tf.where(mask, tf.matmul(q, k, transpose_b=True), -np.inf))
    return tf.where(tf.reduce_any(mask, axis=-1, keepdims=True), weights, 0.0) @ v


# --------------------------------------------------------------------------- exercise 3


def heads_torch(x, Wq, Wk, Wv, Wo, heads, *, split="right", merge="right", scale=None):
    B, T, E = x.shape

    def split_(t):
        if split == "reshape":
            return t.reshape(B, heads, T, E // heads)
        if split == "strided":  # head h takes every heads-th column
            return t.view(B, T, E // heads, heads).permute(0, 3, 1, 2)
        return t.view(B, T, heads, E // heads).transpose(1, 2)

    q, k, v = (split_(x @ W) for W in (Wq, Wk, Wv))
    out = F.scaled_dot_product_attention(q, k, v, scale=scale)  # (B, heads, T, d)
    if merge == "strided":
        return out.permute(0, 2, 3, 1).reshape(B, T, E) @ Wo
    out = out.reshape(B, T, E) if merge == "reshape" else out.transpose(1, 2).reshape(B, T, E)
    return out @ Wo


def heads_einsum(x, Wq, Wk, Wv, Wo, heads):
    E = x.shape[-1]
    q, k, v = (
        torch.unflatten(x @ W, -1, (heads, E // heads)) for W in (Wq, Wk, Wv)
    )  # (B, T, h, d)
    weights = torch.einsum("bqhd,bkhd->bhqk", q, k).div((E // heads) ** 0.5).softmax(dim=-1)
    return torch.einsum("bhqk,bkhd->bqhd", weights, v).flatten(2) @ Wo


def heads_without_projection(x, Wq, Wk, Wv, Wo, heads):
    return heads_torch(x, Wq, Wk, Wv, torch.eye(x.shape[-1]), heads)


def heads_tf(
    x,
    Wq,
    Wk,
    Wv,
    Wo,
    heads,
    *,
    transposed=False,
    scale_by=None,
    reshape_only=False,
    merge="right",
    strided=False,
    project=True,
):
    B, T, E = x.shape
    d = E // heads

    def split(t):
        if reshape_only:
            return tf.reshape(t, (B, heads, T, d))
        if strided:  # head h takes every heads-th column
            return tf.transpose(tf.reshape(t, (B, T, d, heads)), (0, 3, 1, 2))
        return tf.transpose(tf.reshape(t, (B, T, heads, d)), (0, 2, 1, 3))

    kernels = [tf.transpose(W) if transposed else W for W in (Wq, Wk, Wv, Wo)]
    q, k, v = (split(x @ W) for W in kernels[:3])
    scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(scale_by or d)
    out = tf.nn.softmax(scores) @ v
    if strided:
        out = tf.reshape(tf.transpose(out, (0, 2, 3, 1)), (B, T, E))
    elif merge == "reshape":
        out = tf.reshape(out, (B, T, E))
    else:
        out = tf.reshape(tf.transpose(out, (0, 2, 1, 3)), (B, T, E))
    return out @ kernels[3] if project else out


def heads_keras_fused(x, Wq, Wk, Wv, Wo, heads):
    B, T, E = x.shape
    q, k, v = (tf.reshape(x @ W, (B, T, heads, E // heads)) for W in (Wq, Wk, Wv))  # its layout
    return tf.reshape(keras.ops.dot_product_attention(q, k, v), (B, T, E)) @ Wo


def heads_tf_one_head(x, Wq, Wk, Wv, Wo, heads):
    return heads_tf(x, Wq, Wk, Wv, Wo, 1)


def heads_tf_still_split(x, Wq, Wk, Wv, Wo, heads):
    B, T, E = x.shape
    q, k, v = (
        tf.transpose(tf.reshape(x @ W, (B, T, heads, E // heads)), (0, 2, 1, 3))
        for W in (Wq, Wk, Wv)
    )
    return tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / math.sqrt(E // heads)) @ v


# --------------------------------------------------------------------------- exercise 4


def layer_norm_torch(x, gamma, beta, eps, *, correction=0, outside=False, dim=-1):
    mean = x.mean(dim=dim, keepdim=True)
    variance = x.var(dim=dim, keepdim=True, correction=correction)
    spread = torch.sqrt(variance) + eps if outside else torch.sqrt(variance + eps)
    return gamma * (x - mean) / spread + beta


def layer_norm_torch_rsqrt(x, gamma, beta, eps):
    centred = x - x.mean(-1, keepdim=True)
    return centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + eps) * gamma + beta


def layer_norm_torch_default_var(x, gamma, beta, eps):
    return gamma * (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) + beta


def layer_norm_module(x, gamma, beta, eps):
    norm = torch.nn.LayerNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(gamma), norm.bias.copy_(beta)
    return norm(x)


def layer_norm_tf(x, gamma, beta, eps, *, axis=-1, swap=False):
    mean, variance = tf.nn.moments(x, axes=[axis], keepdims=True)
    normed = (x - mean) / tf.sqrt(variance + eps)
    return beta * normed + gamma if swap else gamma * normed + beta


def layer_norm_tf_unbiased(x, gamma, beta, eps):
    E = x.shape[-1]
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    variance = tf.reduce_sum((x - mean) ** 2, axis=-1, keepdims=True) / (E - 1)
    return gamma * (x - mean) / tf.sqrt(variance + eps) + beta


def layer_norm_tf_outside(x, gamma, beta, eps):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return gamma * (x - mean) / (tf.sqrt(variance) + eps) + beta


def layer_norm_tf_default_eps(x, gamma, beta, eps):
    return layer_norm_tf(x, gamma, beta, 1e-3)


def layer_norm_tf_no_eps(x, gamma, beta, eps):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return gamma * (x - mean) / tf.sqrt(variance) + beta


def layer_norm_keras_layer(x, gamma, beta, eps):
    norm = keras.layers.LayerNormalization(epsilon=eps)
    norm.build(x.shape)
    norm.set_weights([gamma.numpy(), beta.numpy()])
    return norm(x)


# --------------------------------------------------------------------------- exercise 5


def port_into_torch(weights, heads, *, order="qkv", transpose=True, transpose_out=True):
    kernels = dict(zip("qkv", weights[0:6:2], strict=True))
    biases = dict(zip("qkv", weights[1:6:2], strict=True))
    E = kernels["q"].shape[0]
    packed = [kernels[n].reshape(E, E).T if transpose else kernels[n].reshape(E, E) for n in order]
    out = weights[6].reshape(E, E)
    return {
        "in_proj_weight": torch.from_numpy(np.concatenate(packed)),
        "in_proj_bias": torch.from_numpy(np.concatenate([biases[n].reshape(E) for n in order])),
        "out_proj.weight": torch.from_numpy(out.T.copy() if transpose_out else out),
        "out_proj.bias": torch.from_numpy(weights[7]),
    }


def port_into_keras(state, heads, *, transpose=True, transpose_out=True, order="qkv"):
    E = state["in_proj_weight"].shape[1]
    d = E // heads
    blocks = dict(zip("qkv", np.split(state["in_proj_weight"], 3), strict=True))
    biases = dict(zip("qkv", np.split(state["in_proj_bias"], 3), strict=True))
    weights = []
    for n in order:
        weights += [
            (blocks[n].T if transpose else blocks[n]).reshape(E, heads, d),
            biases[n].reshape(heads, d),
        ]
    out = state["out_proj.weight"]
    return [
        *weights,
        (out.T if transpose_out else out).reshape(heads, d, E),
        state["out_proj.bias"],
    ]


def port_into_keras_grouped(state, heads):
    weights = port_into_keras(state, heads)
    return weights[0:8:2] + weights[1:8:2]


# --------------------------------------------------------------------------- the cases

A = attention_checks
RIGHT = [
    (A.scaled_dot_product_attention, attention_torch, pytorch),
    (A.scaled_dot_product_attention, attention_einsum, pytorch),
    (A.scaled_dot_product_attention, attention_tf, tensorflow),
    (A.scaled_dot_product_attention, attention_keras_ops, tensorflow),
    (A.causal_mask, causal_torch, pytorch),
    (A.causal_mask, causal_torch_by_hand, pytorch),
    (A.causal_mask, causal_tf, tensorflow),
    (A.causal_mask, causal_keras_fused, tensorflow),
    (A.multi_head, heads_torch, pytorch),
    (A.multi_head, heads_einsum, pytorch),
    (A.multi_head, heads_tf, tensorflow),
    (A.multi_head, heads_keras_fused, tensorflow),
    (A.layer_norm, layer_norm_torch, pytorch),
    (A.layer_norm, layer_norm_torch_rsqrt, pytorch),
    (A.layer_norm, layer_norm_tf, tensorflow),
    (A.port_attention, port_into_torch, pytorch),
    (A.port_attention, port_into_keras, tensorflow),
]

WRONG = [
    (A.scaled_dot_product_attention, lambda q, k, v: attention_torch(q, k, v, scale=1.0), pytorch, "not divided by √d"),
    (A.scaled_dot_product_attention, lambda q, k, v: attention_tf(q, k, v, scale=1.0), tensorflow, "not divided by √d"),
    (A.scaled_dot_product_attention, lambda q, k, v: attention_torch(q, k, v, scale=1 / 4), pytorch, "divided by d, not by its square root"),
    (A.scaled_dot_product_attention, lambda q, k, v: attention_tf(q, k, v, scale=1 / math.sqrt(v.shape[-1])), tensorflow, "the values' width"),
    (A.scaled_dot_product_attention, lambda q, k, v: attention_torch(q, k, v, dim=-2), pytorch, "over the queries"),
    (A.scaled_dot_product_attention, lambda q, k, v: attention_tf(q, k, v, axis=-2), tensorflow, "over the queries"),
    (A.scaled_dot_product_attention, attention_fused, pytorch, "asks you to do without"),
    (A.scaled_dot_product_attention, lambda q, k, v: keras.ops.dot_product_attention(q[:, :, None], k[:, :, None], v[:, :, None])[:, :, 0], tensorflow, "asks you to do without"),
    (A.scaled_dot_product_attention, attention_naive_softmax, pytorch, "softmax overflows"),
    (A.scaled_dot_product_attention, attention_weights, pytorch, "shape of the attention weights"),
    (A.scaled_dot_product_attention, attention_in_place, pytorch, "changed its input `q`"),
    (A.scaled_dot_product_attention, attention_with_weights, pytorch, "also returns the weights"),
    (A.scaled_dot_product_attention, attention_tf_with_weights, tensorflow, "also returns the weights"),
    (A.causal_mask, lambda q, k, v, r: causal_tf_by_hand(q, k, v, r, strict=True), tensorflow, "attend to itself"),
    (A.causal_mask, causal_nan, pytorch, "NaN where a query has nothing to attend to"),
    (A.causal_mask, lambda q, k, v, r: causal_torch_by_hand(q, k, v, r, fill=-1e9), pytorch, "the average of all the values"),
    (A.causal_mask, lambda q, k, v, r: causal_keras_fused(q, k, v, r, zero_empty=False), tensorflow, "the average of all the values"),
    (A.causal_mask, lambda q, k, v, r: causal_torch_by_hand(q, k, v, r, after=True), pytorch, "after the softmax"),
    (A.causal_mask, causal_tf_after, tensorflow, "after the softmax"),
    (A.causal_mask, causal_inverted, pytorch, "True read as blocked"),
    (A.causal_mask, causal_future, pytorch, "the future"),
    (A.causal_mask, lambda q, k, v, r: causal_torch_by_hand(q, k, v, r, diagonal=-1), pytorch, "attend to itself"),
    (A.causal_mask, causal_padding_ignored, pytorch, "attend to the padding"),
    (A.causal_mask, lambda q, k, v, r: causal_torch_by_hand(q, k, v, r, keys=False), pytorch, "hides queries"),
    (A.causal_mask, causal_tf_unscaled, tensorflow, "not divided by √d"),
    (A.causal_mask, lambda q, k, v, r: causal_tf_by_hand(q, k, v, r, invert=True), tensorflow, "True read as blocked"),
    (A.causal_mask, lambda q, k, v, r: causal_tf_by_hand(q, k, v, r, zero_empty=False), tensorflow, "NaN where a query has nothing to attend to"),
    (A.multi_head, lambda *a: heads_torch(*a, split="reshape", merge="reshape"), pytorch, "split without the transpose"),
    (A.multi_head, lambda *a: heads_torch(*a, split="reshape"), pytorch, "split without the transpose"),
    (A.multi_head, lambda *a: heads_torch(*a, merge="reshape"), pytorch, "merged without the transpose"),
    (A.multi_head, lambda x, *a: heads_torch(x, *a, scale=1 / math.sqrt(x.shape[-1])), pytorch, "√E"),
    (A.multi_head, heads_without_projection, pytorch, "not projected by Wo"),
    (A.multi_head, lambda *a: heads_torch(*a, split="strided", merge="strided"), pytorch, "every heads-th column"),
    (A.multi_head, lambda *a: heads_tf(*a, strided=True), tensorflow, "every heads-th column"),
    (A.multi_head, lambda *a: heads_tf(*a, merge="reshape"), tensorflow, "merged without the transpose"),
    (A.multi_head, lambda *a: heads_tf(*a, project=False), tensorflow, "not projected by Wo"),
    (A.multi_head, lambda *a: heads_tf(*a, transposed=True), tensorflow, "kernels are transposed"),
    (A.multi_head, lambda x, *a: heads_tf(x, *a, scale_by=x.shape[-1]), tensorflow, "√E"),
    (A.multi_head, heads_tf_one_head, tensorflow, "one head"),
    (A.multi_head, lambda *a: heads_tf(*a, reshape_only=True), tensorflow, "split without the transpose"),
    (A.multi_head, heads_tf_still_split, tensorflow, "still split into heads"),
    (A.layer_norm, layer_norm_torch_default_var, pytorch, "divides by E − 1"),
    (A.layer_norm, lambda *a: layer_norm_torch(*a, outside=True), pytorch, "outside the square root"),
    (A.layer_norm, lambda *a: layer_norm_torch(*a, dim=-2), pytorch, "over the tokens"),
    (A.layer_norm, layer_norm_module, pytorch, "asks you to do without"),
    (A.layer_norm, lambda *a: layer_norm_tf(*a, axis=0), tensorflow, "over the batch"),
    (A.layer_norm, lambda *a: layer_norm_tf(*a, swap=True), tensorflow, "γ and β are swapped"),
    (A.layer_norm, layer_norm_tf_default_eps, tensorflow, "the framework's default"),
    (A.layer_norm, layer_norm_tf_unbiased, tensorflow, "divides by E − 1"),
    (A.layer_norm, layer_norm_tf_outside, tensorflow, "outside the square root"),
    (A.layer_norm, layer_norm_tf_no_eps, tensorflow, "ε is what keeps the division finite"),
    (A.layer_norm, layer_norm_keras_layer, tensorflow, "asks you to do without"),
    (A.port_attention, lambda w, h: port_into_torch(w, h, transpose=False), pytorch, "not transposed"),
    (A.port_attention, lambda w, h: port_into_torch(w, h, order="qvk"), pytorch, "query, value, key"),
    (A.port_attention, lambda w, h: port_into_torch(w, h, transpose_out=False), pytorch, "out_proj.weight is not transposed"),
    (A.port_attention, lambda w, h: port_into_keras(w, h, transpose=False), tensorflow, "without the transpose"),
    (A.port_attention, lambda w, h: port_into_keras(w, h, transpose_out=False), tensorflow, "output kernel is out_proj.weight reshaped"),
    (A.port_attention, lambda w, h: port_into_keras(w, h, order="qvk"), tensorflow, "another projection's weights"),
    (A.port_attention, port_into_keras_grouped, tensorflow, "each kernel followed by its bias"),
]  # fmt: skip


@pytest.mark.parametrize("check, learner, adapter", RIGHT, ids=[case_id(c) for c in RIGHT])
def test_an_idiomatic_right_answer_passes(check, learner, adapter, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize(
    "check, learner, adapter, named", WRONG, ids=[f"{case_id(c)}-{i}" for i, c in enumerate(WRONG)]
)
def test_a_typical_wrong_answer_fails_with_its_named_hint(check, learner, adapter, named, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.FAILED
    assert named in outcome.message, outcome.message


#: issue 25's typical mistakes, each of which must fail by name in both twins
NAMED_IN_BOTH = (
    "not divided by √d",
    "over the queries",
    "True read as blocked",
    "after the softmax",
    "NaN where a query has nothing to attend to",
    "divides by E − 1",
    "outside the square root",
    "split without the transpose",
)


@pytest.mark.parametrize("named", NAMED_IN_BOTH)
def test_each_typical_mistake_is_named_in_both_twins(named):
    assert {a.NAME for _, _, a, n in WRONG if n == named} == {"PyTorch", "TensorFlow"}


def test_every_exercise_has_a_right_answer_per_framework_and_wrong_ones_in_both():
    for item in checks.exercises_of("attention"):
        right = {a.NAME for c, _, a in RIGHT if c.__name__ == item.check}
        assert right == {"PyTorch", "TensorFlow"}, item
        wrong = {a.NAME for c, _, a, _ in WRONG if c.__name__ == item.check}
        assert wrong == {"PyTorch", "TensorFlow"}, item


def test_the_exercises_are_registered_in_order():
    items = checks.exercises_of("attention")
    assert [item.heading for item in items] == [
        "Exercise 1: Scaled dot-product attention",
        "Exercise 2: The causal mask",
        "Exercise 3: Splitting and merging heads",
        "Exercise 4: LayerNorm by hand",
        "Exercise 5: Porting an attention layer",
    ]


def test_a_stub_is_not_done_yet_and_says_so_on_stderr(outcomes, capsys):
    def stub(*args):
        raise NotImplementedError("Exercise not done yet")

    attention_checks.causal_mask(stub, tensorflow)
    assert outcomes()[0].status == checks.NOT_DONE
    assert capsys.readouterr().err.startswith("… Exercise 2: The causal mask — not done")


def test_the_shortcuts_are_back_after_a_check():
    attention_checks.scaled_dot_product_attention(attention_fused, pytorch)
    attention_checks.layer_norm(layer_norm_keras_layer, tensorflow)
    q = torch.ones(1, 2, 3)
    assert F.scaled_dot_product_attention(q, q, q).shape == (1, 2, 3)
    assert keras.layers.LayerNormalization()(np.ones((1, 3), np.float32)).shape == (1, 3)


def test_hints_never_give_the_answer_away(outcomes):
    for check, learner, adapter, _ in WRONG:
        check(learner, adapter)
    text = " ".join(outcome.message for outcome in outcomes())
    for answer in (
        "transpose(1, 2)",
        "(0, 2, 1, 3)",
        "tril(",
        "masked_fill",
        "nan_to_num",
        "correction=0",
        ".T",
        "sqrt(variance + ",
    ):
        assert answer not in text
