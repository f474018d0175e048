"""diptych.porting at the NumPy level: flatten order, BatchNorm, whole models, files.

The frameworks are stood in for by what they hand over: PyTorch's ``state_dict`` and Keras'
``{variable.path: value}`` are mappings of arrays with the names and layouts each framework uses
(written out here by hand, so a test does not check the module against itself).
"""

import numpy as np
import pytest

from diptych import initial, layouts, porting
from diptych.reference import conv
from diptych.reference.porting import cnn_logits

FEATURE_MAP = (3, 2, 4)  # channels, height, width: every size different, so no swap hides


def feature_maps(n=5, seed=0):
    """(n, C, H, W) feature maps: what Flatten meets."""
    return np.random.default_rng(seed).normal(size=(n, *FEATURE_MAP))


# --------------------------------------------------------------------------- flatten order


def test_reordered_rows_meet_the_same_features_in_keras_flatten_order():
    maps = feature_maps()
    W = initial.dense(24, 5, seed=1, dtype=np.float64)["W"]  # rows in PyTorch's (C, H, W) order
    torch_flat = maps.reshape(5, -1)  # nn.Flatten of NCHW
    keras_flat = maps.transpose(0, 2, 3, 1).reshape(5, -1)  # Flatten of NHWC
    keras_W = porting.rows_chw_to_hwc(W, FEATURE_MAP)
    np.testing.assert_allclose(keras_flat @ keras_W, torch_flat @ W, rtol=1e-12)
    assert not np.allclose(keras_flat @ W, torch_flat @ W)  # the trap: rows merely kept


def test_row_orders_are_inverse_permutations_and_copies():
    W = initial.dense(24, 5, seed=2)["W"]
    there = porting.rows_chw_to_hwc(W, FEATURE_MAP)
    assert sorted(there.ravel()) == sorted(W.ravel()) and not np.array_equal(there, W)
    back = porting.rows_hwc_to_chw(there, FEATURE_MAP)
    np.testing.assert_array_equal(back, W)
    assert back.flags["C_CONTIGUOUS"] and not np.shares_memory(there, W)


def test_a_single_pixel_feature_map_needs_no_reordering():
    W = initial.dense(6, 2, seed=3)["W"]
    np.testing.assert_array_equal(porting.rows_chw_to_hwc(W, (6, 1, 1)), W)


def test_row_count_must_fit_the_feature_map():
    with pytest.raises(ValueError, match=r"24 rows, got shape \(25, 5\)"):
        porting.rows_chw_to_hwc(np.zeros((25, 5)), FEATURE_MAP)


# --------------------------------------------------------------------------- batch norm


def test_momentum_means_opposite_things_and_epsilon_comes_as_it_is():
    assert porting.batch_norm_options_to_keras(eps=1e-5, momentum=0.1) == {
        "epsilon": 1e-5,
        "momentum": pytest.approx(0.9),
    }
    assert porting.batch_norm_options_to_torch(epsilon=1e-3, momentum=0.99) == {
        "eps": 1e-3,
        "momentum": pytest.approx(0.01),
    }
    with pytest.raises(ValueError, match="cumulative average"):
        porting.batch_norm_options_to_keras(eps=1e-5, momentum=None)


def test_the_running_variance_is_what_inference_divides_by():
    """Both frameworks store the running variance that inference uses, as it is: a port copies
    it; PyTorch's unbiased update only matters while training."""
    x = np.random.default_rng(4).normal(size=(2, 3, 4, 4))
    stats = initial.batch_norm(3, seed=5, dtype=np.float64)
    keras_weights = porting.to_keras([stats])
    ported = porting.from_keras(
        dict(
            zip(
                ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"],
                keras_weights,
                strict=True,
            )
        )
    )[0]
    args = [stats[k] for k in ("gamma", "beta", "mean", "var")]
    ported_args = [ported[k] for k in ("gamma", "beta", "mean", "var")]
    np.testing.assert_array_equal(
        conv.batch_norm_inference(x, *ported_args, eps=1e-3),
        conv.batch_norm_inference(x, *args, eps=1e-3),
    )


# --------------------------------------------------------------------------- whole models


def cnn():
    """The curriculum's CNN shape, small: conv-BN twice, then dense, neutral layout."""
    return [
        initial.conv2d(1, 3, 3, seed=0),
        initial.batch_norm(3, seed=1),
        initial.conv2d(3, 4, 3, seed=2),
        initial.batch_norm(4, seed=3),
        initial.dense(16, 5, seed=4),  # 4 channels of 2×2 after two poolings of 8×8
    ]


def torch_state(layers):
    """What nn.Sequential(conv, bn, relu, pool, conv, bn, relu, pool, flatten, linear) holds."""
    c1, b1, c2, b2, d = layers
    state = {"0.weight": c1["W"], "0.bias": c1["b"]}
    for index, bn in (("1", b1), ("5", b2)):
        state |= {
            f"{index}.weight": bn["gamma"],
            f"{index}.bias": bn["beta"],
            f"{index}.running_mean": bn["mean"],
            f"{index}.running_var": bn["var"],
            f"{index}.num_batches_tracked": np.array(7),
        }
        if index == "1":
            state |= {"4.weight": c2["W"], "4.bias": c2["b"]}
    state |= {"9.weight": d["W"].T, "9.bias": d["b"]}
    return state


def keras_weights(layers):
    """What a Keras Sequential of Conv2D, BatchNormalization, ..., Flatten, Dense holds, by path."""
    c1, b1, c2, b2, d = layers
    hwc_rows = d["W"].reshape(4, 2, 2, 5).transpose(1, 2, 0, 3).reshape(16, 5)
    weights = {}
    for name, layer in (("conv2d", c1), ("conv2d_1", c2)):
        weights |= {
            f"sequential/{name}/kernel": layer["W"].transpose(2, 3, 1, 0),
            f"sequential/{name}/bias": layer["b"],
        }
        bn = b1 if name == "conv2d" else b2
        suffix = "" if name == "conv2d" else "_1"
        for neutral, keras_name in zip(
            ("gamma", "beta", "mean", "var"),
            ("gamma", "beta", "moving_mean", "moving_variance"),
            strict=True,
        ):
            weights[f"sequential/batch_normalization{suffix}/{keras_name}"] = bn[neutral]
    weights |= {"sequential/dense/kernel": hwc_rows, "sequential/dense/bias": d["b"]}
    return weights


def assert_same_layers(got, expected):
    assert [sorted(layer) for layer in got] == [sorted(layer) for layer in expected]
    for a, b in zip(got, expected, strict=True):
        for name in b:
            np.testing.assert_array_equal(a[name], b[name])


def test_from_torch_and_from_keras_give_the_neutral_layers():
    layers = cnn()
    assert_same_layers(porting.from_torch(torch_state(layers)), layers)
    assert_same_layers(porting.from_keras(keras_weights(layers), feature_map=(4, 2, 2)), layers)


def test_port_to_keras_gives_what_keras_holds_in_its_order():
    layers = cnn()
    ported = porting.port(torch_state(layers), to="tensorflow", feature_map=(4, 2, 2))
    expected = list(keras_weights(layers).values())
    assert [w.shape for w in ported] == [w.shape for w in expected]
    for got, want in zip(ported, expected, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.flags["C_CONTIGUOUS"]


def test_port_to_torch_fills_the_targets_state_dict_exactly():
    layers = cnn()
    target = {name: np.zeros_like(value) for name, value in torch_state(cnn()).items()}
    ported = porting.port(keras_weights(layers), to="pytorch", feature_map=(4, 2, 2), like=target)
    expected = torch_state(layers)
    assert list(ported) == list(target)
    for name, value in expected.items():
        if name.endswith("num_batches_tracked"):  # Keras keeps no count: the target's stays
            assert ported[name] == 0
        else:
            np.testing.assert_array_equal(ported[name], value)


def test_a_port_computes_the_same_logits_as_the_original():
    layers = cnn()
    images = np.random.default_rng(6).uniform(size=(4, 1, 8, 8))
    there = porting.port(torch_state(layers), to="tensorflow", feature_map=(4, 2, 2))
    names = list(keras_weights(layers))
    back = porting.from_keras(dict(zip(names, there, strict=True)), feature_map=(4, 2, 2))
    np.testing.assert_array_equal(
        cnn_logits(back, images, eps=1e-5), cnn_logits(layers, images, eps=1e-5)
    )


def test_the_port_does_not_share_memory_with_the_source():
    state = torch_state(cnn())
    for array in porting.from_torch(state)[0].values():
        assert not any(np.shares_memory(array, value) for value in state.values())


def test_a_dense_layer_after_convolutions_needs_the_feature_map():
    with pytest.raises(ValueError, match="flatten a feature map in different orders"):
        porting.port(torch_state(cnn()), to="tensorflow")
    with pytest.raises(ValueError, match="has 5 channels, but the last conv layer makes 4"):
        porting.to_keras(cnn(), feature_map=(5, 2, 2))


def test_an_mlp_ports_without_a_feature_map():
    mlp = initial.mlp([6, 4, 3], seed=7)
    state = {"0.weight": mlp[0]["W"].T, "0.bias": mlp[0]["b"]}
    state |= {"2.weight": mlp[1]["W"].T, "2.bias": mlp[1]["b"]}
    ported = porting.port(state, to="tensorflow")
    for got, want in zip(ported, [mlp[0]["W"], mlp[0]["b"], mlp[1]["W"], mlp[1]["b"]], strict=True):
        np.testing.assert_array_equal(got, want)


def test_shape_and_structure_mistakes_are_refused_in_words():
    layers = cnn()
    target = torch_state(cnn())
    with pytest.raises(ValueError, match="the target has 5 layers with weights, got 4"):
        porting.to_torch(layers[:4], like=target)
    swapped = [layers[0], layers[1], layers[2], layers[3], initial.dense(16, 6, seed=0)]
    with pytest.raises(ValueError, match=r"9.weight: the port has shape \(6, 16\)"):
        porting.to_torch(swapped, like=target)
    with pytest.raises(ValueError, match="not a dense, conv"):
        porting.from_torch({"0.weight": np.ones((2, 2))})  # a Linear without a bias
    with pytest.raises(ValueError, match="port to 'pytorch' or 'tensorflow'"):
        porting.port({}, to="jax")
    with pytest.raises(ValueError, match="needs like="):
        porting.port(keras_weights(layers), to="pytorch", feature_map=(4, 2, 2))


def test_kind_names_each_layer():
    assert [porting.kind(layer) for layer in cnn()] == [
        "conv",
        "batch_norm",
        "conv",
        "batch_norm",
        "dense",
    ]
    with pytest.raises(ValueError, match="not a neutral"):
        porting.kind({"W": np.ones(3), "b": np.ones(3)})


# --------------------------------------------------------------------------- files


def test_tensors_flatten_and_restore_layers_in_index_order():
    layers = cnn() * 3  # 15 layers: "10.W" sorts before "2.W" as text
    tensors = porting.to_tensors(layers)
    assert "10.W" in tensors and tensors["1.gamma"].flags["C_CONTIGUOUS"]
    shuffled = dict(sorted(tensors.items()))
    assert_same_layers(porting.from_tensors(shuffled), layers)
    with pytest.raises(ValueError, match="not a neutral tensor name"):
        porting.from_tensors({"conv.W": np.ones(2)})
    with pytest.raises(ValueError, match="not 0, 1, 2"):
        porting.from_tensors({"0.W": np.ones(2), "2.W": np.ones(2)})


def test_a_safetensors_round_trip_keeps_every_bit(tmp_path):
    numpy_io = pytest.importorskip("safetensors.numpy")
    layers = cnn()
    path = tmp_path / "cnn.safetensors"
    numpy_io.save_file(porting.to_tensors(layers), path, metadata={"eps": "1e-05"})
    assert_same_layers(porting.from_tensors(numpy_io.load_file(path)), layers)


def test_missing_tools_are_named_with_the_extra_that_installs_them():
    assert porting.missing("numpy") == ""
    message = porting.missing("surely_not_a_module", "numpy")
    assert "surely_not_a_module" in message and "numpy" not in message
    assert "pip install -e '.[porting]'" in message


# --------------------------------------------------------------------------- the reference


def test_the_reference_cnn_is_the_layers_one_by_one():
    layers = cnn()
    images = np.random.default_rng(8).uniform(size=(3, 1, 8, 8))
    c1, b1, c2, b2, d = layers
    h = images
    for c, b in ((c1, b1), (c2, b2)):
        h = conv.conv2d(h, c["W"].astype(np.float64), c["b"].astype(np.float64), padding=1)
        h = conv.batch_norm_inference(h, b["gamma"], b["beta"], b["mean"], b["var"], eps=1e-3)
        h = conv.max_pool2d(np.maximum(h, 0))
    expected = h.reshape(3, -1) @ d["W"] + d["b"]
    np.testing.assert_allclose(cnn_logits(layers, images, eps=1e-3), expected, rtol=1e-6)
    assert cnn_logits(layers, images, eps=1e-3).dtype == np.float64


def test_batch_norm_arrays_look_trained_and_are_reproducible():
    stats = initial.batch_norm(8, seed=1)
    assert set(stats) == {"gamma", "beta", "mean", "var"} and stats["var"].min() > 0
    assert not np.allclose(stats["gamma"], 1) and not np.allclose(stats["mean"], 0)
    np.testing.assert_array_equal(stats["var"], initial.batch_norm(8, seed=1)["var"])
    with pytest.raises(ValueError, match="positive"):
        initial.batch_norm(0)


def test_layouts_stay_the_one_place_for_kernels():
    """porting delegates dense and conv kernels to diptych.layouts (one place only)."""
    W = initial.conv2d(2, 3, 3, seed=9)["W"]
    weights = porting.to_keras([{"W": W, "b": np.zeros(3, np.float32)}])
    np.testing.assert_array_equal(weights[0], layouts.conv_to_hwio(W))


# --------------------------------------------------------------------------- attention


def packed_attention(embed=4, seed=0, bias=True):
    """An nn.MultiheadAttention state_dict written out by hand: in_proj (3E, E) rows q, k, v."""
    rng = np.random.default_rng(seed)
    state = {"in_proj_weight": rng.normal(size=(3 * embed, embed))}
    if bias:
        state["in_proj_bias"] = rng.normal(size=3 * embed)
    state["out_proj.weight"] = rng.normal(size=(embed, embed))
    if bias:
        state["out_proj.bias"] = rng.normal(size=embed)
    return state


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


def torch_attention(state, x, heads):
    """PyTorch's computation from the packed arrays: y = x Wᵀ + b, heads as column blocks."""
    n, t, embed = x.shape
    d = embed // heads
    q, k, v = np.split(x @ state["in_proj_weight"].T + state["in_proj_bias"], 3, axis=-1)
    q, k, v = (a.reshape(n, t, heads, d).transpose(0, 2, 1, 3) for a in (q, k, v))  # (n, h, t, d)
    mixed = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)) @ v
    joined = mixed.transpose(0, 2, 1, 3).reshape(n, t, embed)
    return joined @ state["out_proj.weight"].T + state["out_proj.bias"]


def keras_attention(weights, x):
    """Keras' computation from its per-head kernels (einsums as in MultiHeadAttention)."""
    qk, qb, kk, kb, vk, vb, ok, ob = weights
    q = np.einsum("nte,ehd->nhtd", x, qk) + qb[None, :, None, :]
    k = np.einsum("nte,ehd->nhtd", x, kk) + kb[None, :, None, :]
    v = np.einsum("nte,ehd->nhtd", x, vk) + vb[None, :, None, :]
    mixed = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(qk.shape[-1])) @ v
    return np.einsum("nhtd,hde->nte", mixed, ok) + ob


def test_attention_to_keras_splits_each_projection_by_head():
    state = packed_attention()
    query_kernel, query_bias, key_kernel, *_, output_kernel, output_bias = (
        porting.attention_to_keras(porting.attention_from_torch(state), num_heads=2)
    )
    Wq, Wk = state["in_proj_weight"][:4], state["in_proj_weight"][4:8]
    assert query_kernel.shape == (4, 2, 2) and output_kernel.shape == (2, 2, 4)
    assert query_kernel[3, 1, 0] == Wq[2, 3]  # input 3, head 1, dim 0 = output row 1·2 + 0
    assert key_kernel[0, 0, 1] == Wk[1, 0]
    assert query_bias[1, 1] == state["in_proj_bias"][3]
    assert output_kernel[1, 0, 2] == state["out_proj.weight"][2, 2]  # head 1, dim 0 -> column 2
    np.testing.assert_array_equal(output_bias, state["out_proj.bias"])


def test_attention_ported_to_keras_computes_what_pytorch_computes():
    state = packed_attention(embed=6, seed=1)
    x = np.random.default_rng(2).normal(size=(2, 5, 6))
    weights = porting.attention_to_keras(porting.attention_from_torch(state), num_heads=3)
    np.testing.assert_allclose(
        keras_attention(weights, x), torch_attention(state, x, 3), rtol=1e-12
    )


def test_attention_round_trips_both_ways_exactly():
    state = packed_attention(embed=6, seed=3)
    layer = porting.attention_from_torch(state)
    assert list(layer) == list(porting.ATTENTION)
    back = porting.attention_to_torch(
        porting.attention_from_keras(porting.attention_to_keras(layer, num_heads=2))
    )
    assert list(back) == list(state)
    for name, value in state.items():
        np.testing.assert_array_equal(back[name], value)
        assert back[name].flags["C_CONTIGUOUS"] and not np.shares_memory(back[name], value)


def test_attention_without_biases_ports_its_kernels_alone():
    state = packed_attention(bias=False)
    layer = porting.attention_from_torch(state)
    assert set(layer) == {"Wq", "Wk", "Wv", "Wo"}
    weights = porting.attention_to_keras(layer, num_heads=4)
    assert [w.shape for w in weights] == [(4, 4, 1)] * 3 + [(4, 1, 4)]
    assert list(porting.attention_to_torch(porting.attention_from_keras(weights))) == list(state)


def test_attention_refuses_what_it_cannot_port_in_words():
    with pytest.raises(ValueError, match="do not split an embedding of 4"):
        porting.attention_to_keras(porting.attention_from_torch(packed_attention()), num_heads=3)
    with pytest.raises(ValueError, match="q_proj_weight"):
        porting.attention_from_torch({"q_proj_weight": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="bias_k and bias_v"):
        porting.attention_from_torch({**packed_attention(), "bias_k": np.zeros((1, 1, 4))})
    with pytest.raises(ValueError, match="8 arrays"):
        porting.attention_from_keras([np.zeros((4, 2, 2))] * 3)
    with pytest.raises(ValueError, match="or the kernels alone"):
        porting.attention_to_torch({"Wq": np.zeros((4, 4))})


def test_attention_matches_both_frameworks_layers():
    torch = pytest.importorskip("torch")
    pytest.importorskip("diptych.adapters.tensorflow")
    keras = pytest.importorskip("keras")
    torch.manual_seed(0)
    layer = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    x = np.random.default_rng(4).normal(size=(3, 5, 8)).astype(np.float32)
    with torch.no_grad():
        expected = layer(*[torch.from_numpy(x)] * 3, need_weights=False)[0].numpy()
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    keras_layer(x, x)
    neutral = porting.attention_from_torch(layer.state_dict())
    keras_layer.set_weights(porting.attention_to_keras(neutral, num_heads=2))
    np.testing.assert_allclose(keras_layer(x, x).numpy(), expected, atol=1e-6)
    back = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    state = porting.attention_to_torch(porting.attention_from_keras(keras_layer.get_weights()))
    back.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    with torch.no_grad():
        again = back(*[torch.from_numpy(x)] * 3, need_weights=False)[0].numpy()
    np.testing.assert_array_equal(again, expected)
