"""Self-checks for lesson 06's exercises (convolutional networks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import params
from diptych.checks import Mismatch, as_numpy, exercise, expect_array, fresh_rng
from diptych.reference import conv


def _channels_last(adapter: Any) -> bool:
    return adapter.NAME != "PyTorch"


def _to_framework_images(adapter: Any, images_nchw: np.ndarray) -> Any:
    return adapter.from_numpy(
        images_nchw.transpose(0, 2, 3, 1) if _channels_last(adapter) else images_nchw
    )


def _to_nchw(adapter: Any, array: np.ndarray) -> np.ndarray:
    return array.transpose(0, 3, 1, 2) if _channels_last(adapter) and array.ndim == 4 else array


def _expected_output_size(n: int, kernel: int, stride: int, padding: int | str) -> int:
    if padding == "same":
        return -(-n // stride)
    return conv.output_size(
        n, kernel=kernel, stride=stride, padding=0 if padding == "valid" else padding
    )


@exercise("Exercise 1 (output sizes)")
def output_size(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 1: output length for integer padding, 'valid' and TensorFlow's 'same'."""
    cases = [
        (8, 3, 1, 0),
        (8, 3, 1, 1),
        (8, 3, 2, 1),
        (28, 5, 2, 2),
        (7, 2, 2, 0),
        (8, 3, 2, "same"),
        (7, 3, 2, "same"),
        (9, 4, 3, "valid"),
        (32, 3, 1, "same"),
    ]
    for n, kernel, stride, padding in cases:
        got = learner(n, kernel=kernel, stride=stride, padding=padding)
        want = _expected_output_size(n, kernel, stride, padding)
        if got != want:
            hint = (
                " — 'same' aims for ⌈n/s⌉ outputs whatever the kernel"
                if padding == "same"
                else " — remember the floor in ⌊(n + 2p − k)/s⌋ + 1"
            )
            raise Mismatch(
                f"for n={n}, kernel={kernel}, stride={stride}, padding={padding!r} you return "
                f"{got}, expected {want}{hint}"
            )
    return "right for 9 settings, 'same' and 'valid' included"


@exercise("Exercise 2 (convolution by im2col)")
def conv2d_im2col(learner: Callable[[Any, Any, Any], Any], adapter: Any) -> str:
    """Exercise 2: convolution (stride 1, no padding) as im2col and one matrix product."""
    rng = fresh_rng("im2col")
    x = rng.normal(size=(2, 3, 7, 6))
    layer = params.conv2d(3, 5, 3, seed=4, dtype=np.float64)
    layer["b"] = rng.normal(size=5)
    kernel = params.conv_to_keras(layer["W"]) if _channels_last(adapter) else layer["W"]
    got = as_numpy(
        learner(
            _to_framework_images(adapter, x),
            adapter.from_numpy(kernel),
            adapter.from_numpy(layer["b"]),
        ),
        "conv2d",
    )
    layout = "(n, h, w, c)" if _channels_last(adapter) else "(n, c, h, w)"
    expected = conv.conv2d(x, layer["W"], layer["b"])
    expected_framework = expected.transpose(0, 2, 3, 1) if _channels_last(adapter) else expected
    if got.shape != expected_framework.shape:
        raise Mismatch(
            f"the output has shape {got.shape}; for a (2, 3, 7, 6) input in NCHW terms and 5 filters of "
            f"3×3 it should be {expected_framework.shape} in this framework's layout {layout}"
        )
    expect_array(
        got,
        expected_framework,
        what="the convolution",
        atol=1e-10,
        hint="check the order of the window's entries against the flattened kernel's",
    )
    return "matches the reference on a 2×3×7×6 batch with 5 filters"


@exercise("Exercise 3 (max-pool backward)")
def max_pool_backward(learner: Callable[[Any, Any], Any], adapter: Any) -> str:
    """Exercise 3: route each upstream gradient to the maximum of its 2×2 window."""
    rng = fresh_rng("pool")
    x = rng.normal(size=(2, 3, 6, 4))
    upstream = rng.normal(size=(2, 3, 3, 2))
    windows = x.reshape(2, 3, 3, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 2, 4)
    winner = windows.argmax(axis=-1)
    grad = np.zeros((2, 3, 3, 2, 4))
    np.put_along_axis(grad, winner[..., None], upstream[..., None], axis=-1)
    expected = grad.reshape(2, 3, 3, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 6, 4)
    got = as_numpy(
        learner(_to_framework_images(adapter, x), _to_framework_images(adapter, upstream)),
        "max_pool_backward",
    )
    got = _to_nchw(adapter, got)
    if got.shape != x.shape:
        raise Mismatch(
            f"the gradient must have the input's shape, got {got.shape} in NCHW terms vs {x.shape}"
        )
    if np.allclose(got, np.repeat(np.repeat(upstream, 2, axis=2), 2, axis=3) / 4):
        raise Mismatch(
            "that spreads the gradient evenly, as average pooling would; max-pooling sends all of it to the maximum"
        )
    expect_array(
        got,
        expected,
        what="the input gradient (in NCHW terms)",
        atol=1e-12,
        hint="only the largest entry of each window receives the window's upstream gradient",
    )
    return "each window's gradient lands on its maximum"


@exercise("Exercise 4 (porting a conv kernel)")
def convert_kernel(learner: Callable[[np.ndarray], Any], adapter: Any) -> str:
    """Exercise 4: port a kernel from the other framework's layout into this one's."""
    oihw = (
        fresh_rng("kernel").normal(size=(6, 3, 5, 4)).astype(np.float32)
    )  # not square: layouts show
    source = oihw if _channels_last(adapter) else params.conv_to_keras(oihw)
    expected = params.conv_to_keras(oihw) if _channels_last(adapter) else oihw
    got = as_numpy(learner(source), "the converted kernel")
    if (
        got.shape == expected.shape
        and not np.array_equal(got, expected)
        and np.array_equal(np.sort(got, axis=None), np.sort(expected, axis=None))
    ):
        raise Mismatch(
            f"the shape {got.shape} is right but the entries are shuffled: a reshape reorders nothing; "
            "transpose the axes instead"
        )
    expect_array(
        got,
        expected,
        what="the converted kernel",
        atol=0,
        hint="OIHW is (out, in, height, width); HWIO is (height, width, in, out)",
    )
    return f"{source.shape} becomes {expected.shape} with every weight in its place"
