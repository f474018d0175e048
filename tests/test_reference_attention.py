"""Lesson 11's NumPy reference: every backward pass against finite differences, every forward
pass against values written out by hand or computed another way."""

import math

import numpy as np
import pytest

from diptych import porting
from diptych.reference import attention as ref

H = 1e-6  # central differences in float64: truncation ~H², rounding ~1e-16/H


def numeric_gradient(function, x):
    """∂function/∂x by central differences, one element at a time (x is changed and restored)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        kept = x[index]
        x[index] = kept + H
        up = function()
        x[index] = kept - H
        down = function()
        x[index] = kept
        grad[index] = (up - down) / (2 * H)
    return grad


def test_the_causal_mask_lets_each_query_see_itself_and_the_past():
    assert ref.causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]
    with pytest.raises(ValueError, match="at least one position"):
        ref.causal_mask(0)


def test_attention_is_a_weighted_average_with_the_one_over_root_d_scale():
    Q = np.array([[1.0, 0.0]])  # d = 2
    K = np.array([[2.0, 0.0], [0.0, 2.0]])
    V = np.array([[1.0, 10.0], [3.0, 30.0]])
    out, weights = ref.attention(Q, K, V)
    a = math.exp(2 / math.sqrt(2))  # scores 2/√2 and 0
    expected = np.array([[a / (a + 1), 1 / (a + 1)]])
    np.testing.assert_allclose(weights, expected, rtol=1e-14)
    np.testing.assert_allclose(out, expected @ V, rtol=1e-14)


def test_a_fully_masked_row_attends_to_nothing_and_the_others_renormalise():
    rng = np.random.default_rng(0)
    Q, K, V = (rng.normal(size=(3, 4)) for _ in range(3))
    mask = np.array([[True, True, False], [False, False, False], [True, True, True]])
    out, weights = ref.attention(Q, K, V, mask=mask)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(weights[1], 0)
    np.testing.assert_array_equal(out[1], 0)
    assert weights[0, 2] == 0
    np.testing.assert_allclose(weights[[0, 2]].sum(axis=-1), 1, rtol=1e-15)
    alone, _ = ref.attention(Q[:1], K[:2], V[:2])
    np.testing.assert_allclose(out[0], alone[0], rtol=1e-14)


def test_softmax_is_stable_for_huge_scores():
    weights = ref.softmax(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(weights, [[1.0, 0.0, 0.0]], atol=1e-300)


@pytest.mark.parametrize("masked", [False, True])
def test_attention_backward_matches_finite_differences(masked):
    rng = np.random.default_rng(1)
    Q = rng.normal(size=(2, 3, 4))  # Tq = 3, d = 4
    K = rng.normal(size=(2, 5, 4))  # Tk = 5
    V = rng.normal(size=(2, 5, 6))  # dv = 6
    d_out = rng.normal(size=(2, 3, 6))
    mask = rng.uniform(size=(2, 3, 5)) > 0.4 if masked else None
    if masked:
        mask[0, 1] = False  # a fully masked row: no gradient from it
    dQ, dK, dV = ref.attention_backward(Q, K, V, d_out, mask=mask)
    for x, analytic in ((Q, dQ), (K, dK), (V, dV)):
        numeric = numeric_gradient(lambda: np.sum(ref.attention(Q, K, V, mask=mask)[0] * d_out), x)
        np.testing.assert_allclose(analytic, numeric, atol=1e-8)


def test_split_heads_gives_each_head_its_own_columns_and_merge_undoes_it():
    X = np.arange(2 * 3 * 4).reshape(2, 3, 4).astype(float)  # B = 2, T = 3, E = 4
    heads = ref.split_heads(X, 2)
    assert heads.shape == (2, 2, 3, 2)
    np.testing.assert_array_equal(heads[1, 0], X[1, :, :2])  # head 0: columns 0, 1 of every token
    np.testing.assert_array_equal(heads[1, 1], X[1, :, 2:])
    np.testing.assert_array_equal(ref.merge_heads(heads), X)
    wrong = X.reshape(2, 2, 3, 2)  # without the transpose: head 0 holds tokens 0 and 1
    assert not np.array_equal(wrong, heads)
    with pytest.raises(ValueError, match="split evenly"):
        ref.split_heads(X, 3)


def test_multi_head_attention_is_each_head_on_its_slice_then_the_output_projection():
    rng = np.random.default_rng(2)
    E, heads = 6, 3
    layer = {n: rng.normal(size=(E, E) if n.startswith("W") else E) for n in ref.ATTENTION}
    X = rng.normal(size=(2, 4, E))
    mask = ref.causal_mask(4)
    out, weights = ref.multi_head_attention(X, layer, heads=heads, mask=mask)
    d = E // heads
    pieces = []
    for h in range(heads):
        cols = slice(h * d, (h + 1) * d)
        q, k, v = (X @ layer[f"W{n}"][:, cols] + layer[f"b{n}"][cols] for n in "qkv")
        pieces.append(ref.attention(q, k, v, mask=mask)[0])
    np.testing.assert_allclose(
        out, np.concatenate(pieces, axis=-1) @ layer["Wo"] + layer["bo"], rtol=1e-12
    )
    assert weights.shape == (2, heads, 4, 4)
    assert np.all(weights[..., 0, 1:] == 0)  # causal


def test_multi_head_attention_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    E, heads = 4, 2
    layer = {n: rng.normal(size=(E, E) if n.startswith("W") else E) for n in ref.ATTENTION}
    X = rng.normal(size=(2, 3, E))
    d_out = rng.normal(size=(2, 3, E))
    mask = ref.causal_mask(3)

    def loss():
        return np.sum(ref.multi_head_attention(X, layer, heads=heads, mask=mask)[0] * d_out)

    dX, grads = ref.multi_head_attention_backward(X, layer, d_out, heads=heads, mask=mask)
    np.testing.assert_allclose(dX, numeric_gradient(loss, X), atol=1e-8)
    for name in ref.ATTENTION:
        np.testing.assert_allclose(
            grads[name], numeric_gradient(loss, layer[name]), atol=1e-8, err_msg=name
        )


def test_the_neutral_attention_layer_is_porting_s():
    assert ref.ATTENTION == porting.ATTENTION


def test_layer_norm_uses_the_biased_variance_and_eps_inside_the_root():
    x = np.array([[1.0, 2.0, 3.0, 6.0]])
    mean, variance = 3.0, (4 + 1 + 0 + 9) / 4  # biased: divide by n = 4
    out = ref.layer_norm(x, np.ones(4), np.zeros(4), eps=0.5)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(variance + 0.5), rtol=1e-15)
    gamma, beta = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 0.0, -0.5, 1.0])
    np.testing.assert_allclose(
        ref.layer_norm(x, gamma, beta, eps=0.5), gamma * out + beta, rtol=1e-15
    )


def test_layer_norm_backward_matches_finite_differences():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 5)) * 0.1  # small variance: ε matters
    gamma, beta = rng.normal(size=5), rng.normal(size=5)
    d_out = rng.normal(size=(2, 3, 5))

    def loss():
        return np.sum(ref.layer_norm(x, gamma, beta, eps=1e-3) * d_out)

    dx, d_gamma, d_beta = ref.layer_norm_backward(x, gamma, d_out, eps=1e-3)
    np.testing.assert_allclose(dx, numeric_gradient(loss, x), atol=1e-7)
    np.testing.assert_allclose(d_gamma, numeric_gradient(loss, gamma), atol=1e-8)
    np.testing.assert_allclose(d_beta, numeric_gradient(loss, beta), atol=1e-8)


def test_gelu_exact_and_tanh_forms_and_the_derivative():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    phi = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    np.testing.assert_allclose(ref.gelu(x), x * phi, rtol=1e-15)
    assert 1e-4 < np.abs(ref.gelu(x) - ref.gelu_tanh(x)).max() < 1e-3  # close, not equal
    numeric = numeric_gradient(lambda: np.sum(ref.gelu(x)), x)
    np.testing.assert_allclose(ref.gelu_backward(x, np.ones_like(x)), numeric, atol=1e-8)
    assert ref.gelu(x.astype(np.float32)).dtype == np.float32


CONFIG = {"vocab": 5, "context": 4, "embed": 4, "heads": 2, "layers": 2}


def small_gpt(seed=0):
    weights = ref.gpt_weights(**CONFIG, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 10)
    tokens = rng.integers(0, CONFIG["vocab"], size=(2, 4))
    targets = rng.integers(0, CONFIG["vocab"], size=(2, 4))
    targets[:, :2] = ref.IGNORE  # the prompt: no loss there
    return weights, tokens, targets


def test_gpt_weights_have_the_names_shapes_and_count_of_the_model():
    weights = ref.gpt_weights(**CONFIG)
    assert list(weights) == ref.gpt_names(2)
    assert weights["blocks.1.attention.Wq"].shape == (4, 4)
    assert weights["blocks.0.fc.W"].shape == (4, 16)
    assert weights["head.W"].shape == (4, 5)
    assert all(w.dtype == np.float32 for w in weights.values())
    count = sum(w.size for w in weights.values())
    assert count == ref.parameter_count(vocab=5, context=4, embed=4, layers=2)
    assert ref.parameter_count(vocab=9, context=12, embed=32, layers=1) == 13737  # the lesson's
    np.testing.assert_array_equal(
        ref.gpt_weights(**CONFIG, seed=3)["tokens"], ref.gpt_weights(**CONFIG, seed=3)["tokens"]
    )


def test_gpt_gradients_of_every_array_match_finite_differences():
    weights, tokens, targets = small_gpt()
    loss, grads = ref.gpt_gradients(tokens, targets, weights, heads=2)
    assert loss == pytest.approx(ref.gpt_loss(tokens, targets, weights, heads=2), rel=1e-15)
    assert list(grads) == ref.gpt_names(2)
    for name, value in weights.items():
        numeric = numeric_gradient(lambda: ref.gpt_loss(tokens, targets, weights, heads=2), value)
        np.testing.assert_allclose(grads[name], numeric, atol=1e-8, err_msg=name)


def test_the_gpt_is_causal_and_ignored_targets_cost_nothing():
    weights, tokens, targets = small_gpt()
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % CONFIG["vocab"]
    before = ref.gpt_logits(tokens, weights, heads=2)
    after = ref.gpt_logits(changed, weights, heads=2)
    np.testing.assert_array_equal(before[:, :-1], after[:, :-1])  # the past never sees the future
    assert not np.allclose(before[:, -1], after[:, -1])
    moved = targets.copy()
    moved[:, :2] = 0  # what an ignored target says does not matter
    loss = ref.gpt_loss(
        tokens, np.where(targets == ref.IGNORE, ref.IGNORE, moved), weights, heads=2
    )
    assert loss == pytest.approx(ref.gpt_loss(tokens, targets, weights, heads=2))
    with pytest.raises(ValueError, match="every target is ignored"):
        ref.cross_entropy(before, np.full(targets.shape, ref.IGNORE))
    with pytest.raises(ValueError, match="positions for 4"):
        ref.gpt_logits(np.zeros((1, 5), dtype=int), weights, heads=2)


def test_the_block_is_the_gpt_s_inner_step():
    weights, tokens, _ = small_gpt()
    x = weights["tokens"][tokens] + weights["positions"][:4]
    one = {k.removeprefix("blocks.0."): v for k, v in weights.items() if k.startswith("blocks.0.")}
    y = ref.block(x, one, heads=2)
    h1 = ref.layer_norm(x, one["norm1.gamma"], one["norm1.beta"], eps=1e-5)
    attention = {
        k.removeprefix("attention."): v for k, v in one.items() if k.startswith("attention.")
    }
    x1 = x + ref.multi_head_attention(h1, attention, heads=2, mask=ref.causal_mask(4))[0]
    h2 = ref.layer_norm(x1, one["norm2.gamma"], one["norm2.beta"], eps=1e-5)
    expected = x1 + ref.gelu(h2 @ one["fc.W"] + one["fc.b"]) @ one["proj.W"] + one["proj.b"]
    np.testing.assert_allclose(y, expected, rtol=1e-14)


def test_sgd_takes_the_reference_gradient_steps_and_reports_the_loss_before_each():
    weights, tokens, targets = small_gpt()
    batches = [(tokens, targets), (tokens[::-1], targets[::-1])]
    losses, final = ref.sgd(weights, batches, lr=0.1, heads=2)
    first_loss, grads = ref.gpt_gradients(tokens, targets, weights, heads=2)
    after_one = {k: v - 0.1 * grads[k] for k, v in weights.items()}
    second_loss, grads = ref.gpt_gradients(tokens[::-1], targets[::-1], after_one, heads=2)
    np.testing.assert_allclose(losses, [first_loss, second_loss], rtol=1e-15)
    np.testing.assert_allclose(
        ref.flat(final), ref.flat({k: v - 0.1 * grads[k] for k, v in after_one.items()}), rtol=1e-15
    )
    assert second_loss < first_loss  # a small step downhill
    assert ref.flat(weights).shape == (sum(w.size for w in weights.values()),)


def test_the_lesson_s_strings_are_distinct_and_reversed_after_the_separator():
    from diptych import data

    strings = data.reversals(500, length=4, letters=5, seed=3)
    assert strings.shape == (500, 9) and strings.dtype == np.int64
    assert len({tuple(s) for s in strings[:, :4]}) == 500  # distinct: a split holds out new strings
    np.testing.assert_array_equal(strings[:, 4], 5)  # "=" is the token after the letters
    np.testing.assert_array_equal(strings[:, 5:], strings[:, 3::-1])
    assert strings[:, :4].min() == 0 and strings[:, :4].max() == 4
    np.testing.assert_array_equal(data.reversals(500, length=4, letters=5, seed=3), strings)
    assert len(data.reversals(5**4, length=4, letters=5)) == 625  # every string once
    with pytest.raises(ValueError, match="between 1 and 5\\^4"):
        data.reversals(626, length=4, letters=5)
