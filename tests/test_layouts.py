import numpy as np
import pytest

from diptych import initial, layouts


def test_layout_conversions_round_trip():
    W = initial.dense(3, 2)["W"]
    assert layouts.dense_to_out_in(W).shape == (2, 3)
    np.testing.assert_array_equal(layouts.dense_from_out_in(layouts.dense_to_out_in(W)), W)
    K = initial.conv2d(3, 8, 5)["W"]
    assert K.shape == (8, 3, 5, 5) and layouts.conv_to_hwio(K).shape == (5, 5, 3, 8)
    np.testing.assert_array_equal(layouts.conv_from_hwio(layouts.conv_to_hwio(K)), K)
    with pytest.raises(ValueError, match="4 dimensions"):
        layouts.conv_to_hwio(W)


def test_conversions_return_contiguous_copies():
    W = initial.dense(3, 2)["W"]
    torch_layout = layouts.dense_to_out_in(W)
    assert torch_layout.flags["C_CONTIGUOUS"] and not np.shares_memory(torch_layout, W)
