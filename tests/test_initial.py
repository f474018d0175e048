import numpy as np
import pytest

from diptych import initial


def test_dense_is_deterministic_glorot_bounded_with_zero_bias():
    layer = initial.dense(64, 10, seed=1)
    assert layer["W"].shape == (64, 10) and layer["W"].dtype == np.float32
    np.testing.assert_array_equal(layer["W"], initial.dense(64, 10, seed=1)["W"])
    assert np.abs(layer["W"]).max() <= np.sqrt(6 / 74)
    np.testing.assert_array_equal(layer["b"], np.zeros(10))


@pytest.mark.parametrize("scheme", initial.SCHEMES)
def test_every_scheme_draws_the_right_shape(scheme):
    assert initial.dense(5, 3, scheme=scheme)["W"].shape == (5, 3)


def test_kaiming_uniform_matches_pytorch_default_bound_and_he_normal_variance():
    W = initial.dense(400, 300, scheme="kaiming_uniform", dtype=np.float64)["W"]
    assert np.abs(W).max() <= 1 / np.sqrt(400)
    He = initial.dense(400, 300, scheme="he_normal", dtype=np.float64)["W"]
    assert He.var() == pytest.approx(2 / 400, rel=0.05)


def test_unknown_scheme_and_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="unknown initialisation scheme"):
        initial.dense(2, 2, scheme="orthogonal")
    with pytest.raises(ValueError, match="positive"):
        initial.dense(0, 2)
    with pytest.raises(ValueError, match="at least"):
        initial.mlp([4])


def test_mlp_layers_chain_and_differ():
    layers = initial.mlp([64, 32, 10], seed=0)
    assert [layer["W"].shape for layer in layers] == [(64, 32), (32, 10)]
