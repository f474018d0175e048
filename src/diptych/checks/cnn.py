"""Self-checks for lesson 06's exercises (convolutional networks)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import initial, layouts
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
from diptych.reference import conv

#: (n, kernel, stride, padding) settings: odd and even kernels, strides 1 to 3, every padding
SIZE_CASES: list[tuple[int, int, int, int | str]] = [
    (8, 3, 1, 0),
    (8, 3, 1, 1),
    (8, 3, 2, 1),
    (28, 5, 2, 2),
    (7, 2, 2, 0),
    (7, 2, 1, 1),
    (8, 3, 2, "same"),
    (7, 3, 2, "same"),
    (8, 4, 1, "same"),
    (9, 2, 1, "same"),
    (10, 4, 3, "same"),
    (9, 4, 3, "valid"),
    (32, 3, 1, "same"),
]


def _symmetric_same(n: int, kernel: int, stride: int) -> int:
    """'same' taken as (k − 1)//2 on each side: right for odd kernels, one short for even ones."""
    return conv.output_size(n, kernel=kernel, stride=stride, padding=(kernel - 1) // 2)


@exercise("Output sizes")
def output_size(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 1: output length for integer padding, 'valid' and TensorFlow's 'same'."""
    for n, kernel, stride, padding in SIZE_CASES:
        got = learner(n, kernel=kernel, stride=stride, padding=padding)
        want = conv.padded_output_size(n, kernel=kernel, stride=stride, padding=padding)
        if got == want:
            continue
        setting = f"n={n}, kernel={kernel}, stride={stride}, padding={padding!r}"
        if padding == "same" and kernel % 2 == 0 and got == _symmetric_same(n, kernel, stride):
            raise Mismatch(
                f"for {setting} you return {got}, expected {want}: you padded 'same' by the same "
                "amount on both sides, which cannot work for an even kernel; 'same' pads as much "
                "as its output length needs, the odd pixel on one side"
            )
        hint = (
            "'same' is defined by its output length, whatever the kernel"
            if padding == "same"
            else "a window that does not fit at the end is not counted"
        )
        raise Mismatch(f"for {setting} you return {got}, expected {want} — {hint}")
    return f"right for {len(SIZE_CASES)} settings, even kernels with 'same' included"


def _to_framework_images(adapter: Any, images_nchw: np.ndarray) -> Any:
    channels_last = idiom(adapter).channels_last
    return adapter.from_numpy(images_nchw.transpose(0, 2, 3, 1) if channels_last else images_nchw)


def _in_framework_layout(adapter: Any, nchw: np.ndarray) -> np.ndarray:
    return nchw.transpose(0, 2, 3, 1) if idiom(adapter).channels_last else nchw


def _batch_name(adapter: Any, nchw_shape: tuple[int, ...]) -> str:
    """An NCHW shape as the learner was given it: "2×3×7×6 (NCHW)" or "2×7×6×3 (NHWC)"."""
    if idiom(adapter).channels_last:
        n, c, h, w = nchw_shape
        return f"{n}×{h}×{w}×{c} (NHWC)"
    return f"{'×'.join(map(str, nchw_shape))} (NCHW)"


@exercise("Convolution by im2col")
def conv2d_im2col(learner: Callable[[Any, Any, Any], Any], adapter: Any) -> str:
    """Exercise 2: convolution (stride 1, no padding) as im2col and one matrix product, by hand."""
    fw = idiom(adapter)
    rng = fresh_rng("im2col")
    for shape, filters, k in (((2, 3, 7, 6), 5, 3), ((1, 2, 5, 8), 3, 2)):
        x = rng.normal(size=shape)
        layer = initial.conv2d(shape[1], filters, k, seed=4, dtype=np.float64)
        layer["b"] = rng.normal(size=filters)
        kernel = layouts.conv_to_keras(layer["W"]) if fw.channels_last else layer["W"]
        tensors = [
            _to_framework_images(adapter, x),
            adapter.from_numpy(kernel),
            adapter.from_numpy(layer["b"]),
        ]
        before = snapshot(*tensors)
        got = by_hand(
            functools.partial(learner, *tensors),
            fw.convolution(),
            reason="gather the windows and do one matrix product yourself",
        )
        got = as_numpy(got, "conv2d")
        expect_unchanged(before, tensors, ["x", "kernel", "bias"])
        expected = _in_framework_layout(adapter, conv.conv2d(x, layer["W"], layer["b"]))
        flipped = _in_framework_layout(
            adapter, conv.conv2d(x, layer["W"][:, :, ::-1, ::-1], layer["b"])
        )
        unbiased = _in_framework_layout(adapter, conv.conv2d(x, layer["W"], 0 * layer["b"]))
        if matches(got, flipped) and not matches(got, expected):
            raise Mismatch(
                "you flipped the kernel (the textbook convolution); deep-learning frameworks "
                "compute cross-correlation, the kernel as it is"
            )
        if matches(got, unbiased):
            raise Mismatch("the bias is missing")
        expect_array(
            got,
            expected,
            what=f"the convolution of a {_batch_name(adapter, shape)} batch with {filters} {k}×{k} "
            "filters",
            atol=1e-10,
            axes=fw.image_axes,
            hint="does the order of each window's entries match the order of the flattened kernel's?",
        )
    return "matches the reference on 7×6 images with 3×3 filters and 5×8 images with 2×2 filters"


@exercise("The backward pass of max-pooling")
def max_pool_backward(learner: Callable[[Any, Any], Any], adapter: Any) -> str:
    """Exercise 3: route each upstream gradient to the maximum of its 2×2 window, by hand."""
    fw = idiom(adapter)
    rng = fresh_rng("pool")
    for shape in ((2, 3, 6, 4), (1, 2, 2, 8)):
        x = rng.normal(size=shape)
        upstream = rng.normal(size=(shape[0], shape[1], shape[2] // 2, shape[3] // 2))
        tensors = [_to_framework_images(adapter, x), _to_framework_images(adapter, upstream)]
        before = snapshot(*tensors)
        got = by_hand(
            functools.partial(learner, *tensors),
            fw.autograd(),
            reason="route the gradient yourself",
        )
        got = as_numpy(got, "max_pool_backward")
        expect_unchanged(before, tensors, ["x", "grad_out"])
        average = np.repeat(np.repeat(upstream, 2, axis=2), 2, axis=3) / 4
        if matches(got, _in_framework_layout(adapter, average)):
            raise Mismatch(
                "that spreads the gradient evenly, as average pooling would; max-pooling passed "
                "on only one entry of each window"
            )
        expect_array(
            got,
            _in_framework_layout(adapter, conv.max_pool2d_backward(x, upstream)),
            what=f"the input gradient for a {_batch_name(adapter, shape)} input",
            atol=1e-12,
            axes=fw.image_axes,
            hint="which entry of each window did the forward pass let through?",
        )
    return "each window's gradient lands on its maximum, on 6×4 and 2×8 inputs"


@exercise("Porting a kernel")
def convert_kernel(learner: Callable[[np.ndarray], Any], adapter: Any) -> str:
    """Exercise 4: port a kernel from the other framework's layout into this one's."""
    fw = idiom(adapter)
    oihw = fresh_rng("kernel").normal(size=(6, 3, 5, 4)).astype(np.float32)  # every axis differs
    source = oihw if fw.channels_last else layouts.conv_to_keras(oihw)
    expected = layouts.conv_to_keras(oihw) if fw.channels_last else oihw
    given = source.copy()
    got = as_numpy(learner(given), "the converted kernel")
    if given.shape != source.shape or not np.array_equal(given, source):
        raise Mismatch("your function changed the kernel it was given")
    axes = (
        ("height", "width", "in channels", "out channels")
        if fw.channels_last
        else ("out channels", "in channels", "height", "width")
    )
    if (
        got.shape == expected.shape
        and not np.array_equal(got, expected)
        and np.array_equal(np.sort(got, axis=None), np.sort(expected, axis=None))
        and np.array_equal(got.reshape(-1), source.reshape(-1))
    ):
        raise Mismatch(
            f"the shape {got.shape} is right but the weights are shuffled: a reshape keeps the "
            "numbers in their order; the axes themselves must move"
        )
    expect_array(got, expected, what="the converted kernel", atol=0, axes=axes)
    return f"{source.shape} becomes {expected.shape} with every weight in its place"


@exercise("BatchNorm in training mode")
def batch_norm(learner: Callable[..., Any], adapter: Any) -> str:
    """Exercise 5: BatchNorm's training-mode output. Each channel is standardised by its own mean
    and (biased) variance over the batch and both image axes, then scaled by γ and shifted by β."""
    fw = idiom(adapter)
    rng = fresh_rng("batch_norm")
    scales, offsets = np.array([0.5, 2.0, 4.0]), np.array([-3.0, 0.0, 5.0])
    x = rng.normal(size=(4, 3, 5, 6)) * _per_channel(scales) + _per_channel(offsets)  # NCHW
    gamma, beta, eps = rng.uniform(0.5, 2.0, size=3), rng.normal(size=3), 1e-3
    tensors = [
        _to_framework_images(adapter, x),
        adapter.from_numpy(gamma),
        adapter.from_numpy(beta),
    ]
    before = snapshot(*tensors)
    got = by_hand(
        lambda: learner(*tensors, eps), fw.batch_norm(), reason="use the lesson's formula"
    )
    got = as_numpy(got, "batch_norm")
    expect_unchanged(before, tensors, ["x", "gamma", "beta"])
    for wrong, message in _batch_norm_mistakes(x, gamma, beta, eps):
        if matches(got, _in_framework_layout(adapter, wrong)):
            raise Mismatch(message)
    expected = conv.batch_norm_train(x, gamma, beta, eps=eps)[0]
    expect_array(
        got,
        _in_framework_layout(adapter, expected),
        what=f"the output for a {_batch_name(adapter, x.shape)} batch",
        atol=1e-10,
        dtype=np.float64,
        axes=fw.image_axes,
    )
    return "each of 3 channels standardised over batch, height and width, then scaled and shifted"


def _per_channel(values: np.ndarray) -> np.ndarray:
    """(c,) values broadcast over an NCHW batch."""
    return values[None, :, None, None]


def _batch_norm_mistakes(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> list[tuple[np.ndarray, str]]:
    """NCHW outputs of typical mistakes, each with what it got wrong."""

    def normalised(axes: tuple[int, ...], *, ddof: int = 0, eps_inside: bool = True) -> np.ndarray:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True, ddof=ddof)
        spread = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
        return (x - mean) / spread

    def affine(values: np.ndarray) -> np.ndarray:
        return _per_channel(gamma) * values + _per_channel(beta)

    every = (0, 2, 3)
    return [
        (
            affine(normalised(every, ddof=1)),
            "that divides the variance by n − 1: BatchNorm normalises with the biased variance "
            "(divide by n); only PyTorch's running estimate uses n − 1",
        ),
        (
            affine(normalised((2, 3))),
            "those are each image's own statistics: BatchNorm takes a channel's mean and "
            "variance over the whole batch as well as over height and width",
        ),
        (
            affine(normalised((0,))),
            "those statistics are per pixel position, over the batch only: a convolution's "
            "channel shares one mean and variance across every position",
        ),
        (
            affine(normalised((0, 1, 2, 3))),
            "one mean and variance for all channels: each channel has its own",
        ),
        (
            affine(normalised(every, eps_inside=False)),
            "ε belongs inside the square root: x̂ = (x − μ) / √(σ² + ε)",
        ),
        (normalised(every), "the values are standardised, but γ and β are not applied"),
    ]
