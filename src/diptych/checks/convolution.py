"""Self-checks for lesson 06's exercises (convolution).

Exercise 2 switches off the framework's own gathering of windows as well as its convolution;
those entry points come from the adapters' companions for the convolution lessons
(``adapters.pytorch_cnn``, ``adapters.tensorflow_cnn``, picked by ``idiom(adapter).companion``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from diptych import initial, layouts
from diptych.adapters.contract import Adapter
from diptych.adapters.idiom import RIGHT_IN, Idiom, other
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
from diptych.checks.idioms import counting
from diptych.reference import conv

#: the topic of the companion with the convolution lessons' framework code (06 and 07)
COMPANION = "cnn"


def _patch_extraction(adapter: Adapter) -> list[Any]:
    """The framework's own im2col (``F.unfold``, ``tf.image.extract_patches``), from its companion."""
    return list(idiom(adapter).companion(COMPANION).patch_extraction())


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
def output_size(learner: Callable[..., Any], adapter: Adapter) -> str:
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


def _to_framework_images(adapter: Adapter, images_nchw: np.ndarray) -> Any:
    channels_last = idiom(adapter).channels_last
    return adapter.from_numpy(images_nchw.transpose(0, 2, 3, 1) if channels_last else images_nchw)


def _in_framework_layout(adapter: Adapter, nchw: np.ndarray) -> np.ndarray:
    return nchw.transpose(0, 2, 3, 1) if idiom(adapter).channels_last else nchw


def _kernel_in_framework_layout(fw: Idiom, oihw: np.ndarray) -> np.ndarray:
    """A neutral OIHW kernel as the framework's conv layer holds it (Keras: HWIO)."""
    return layouts.conv_to_hwio(oihw) if fw.weight_layout == "keras" else oihw


def _batch_name(adapter: Adapter, nchw_shape: tuple[int, ...]) -> str:
    """An NCHW shape as the learner was given it: "2×3×7×6 (NCHW)" or "2×7×6×3 (NHWC)"."""
    if idiom(adapter).channels_last:
        n, c, h, w = nchw_shape
        return f"{n}×{h}×{w}×{c} (NHWC)"
    return f"{'×'.join(map(str, nchw_shape))} (NCHW)"


@exercise("Convolution by im2col")
def conv2d_im2col(learner: Callable[[Any, Any, Any], Any], adapter: Adapter) -> str:
    """Exercise 2: convolution (stride 1, no padding) as im2col and one matrix product, by hand."""
    fw = idiom(adapter)
    rng = fresh_rng("im2col")
    for shape, filters, k in (((2, 3, 7, 6), 5, 3), ((1, 2, 5, 8), 3, 2)):
        x = rng.normal(size=shape)
        layer = initial.conv2d(shape[1], filters, k, seed=4, dtype=np.float64)
        layer["b"] = rng.normal(size=filters)
        kernel = _kernel_in_framework_layout(fw, layer["W"])
        tensors = [
            _to_framework_images(adapter, x),
            adapter.from_numpy(kernel),
            adapter.from_numpy(layer["b"]),
        ]
        before = snapshot(*tensors)
        got = by_hand(
            functools.partial(learner, *tensors),
            fw.convolution() + _patch_extraction(adapter),
            reason="gather the windows with slices and do one matrix product yourself",
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
    _no_loop_over_positions(learner, adapter)
    return (
        "matches the reference on 7×6 images with 3×3 filters and 5×8 images with 2×2 filters, "
        "without a loop over output positions"
    )


#: exercise 2's probe for a loop over output positions: a 24×24 image and a 3×3 kernel have
#: 22·22 = 484 output positions and 9 kernel offsets; gathering by offsets takes a few slices
#: per offset, a loop over positions at least one per position (or per row: 22)
LOOP_PROBE = ((1, 2, 24, 24), 3, 3)
#: the most slices of x an answer without such a loop takes on the probe
MOST_SLICES = 100


def _no_loop_over_positions(learner: Callable[[Any, Any, Any], Any], adapter: Adapter) -> None:
    """Exercise 2's rule "no loop over output positions", checked by counting slices."""
    fw = idiom(adapter)
    shape, filters, k = LOOP_PROBE
    rng = fresh_rng("im2col loop")
    layer = initial.conv2d(shape[1], filters, k, seed=5, dtype=np.float64)
    kernel = _kernel_in_framework_layout(fw, layer["W"])
    tensors = [
        _to_framework_images(adapter, rng.normal(size=shape)),
        adapter.from_numpy(kernel),
        adapter.from_numpy(layer["b"]),
    ]
    with counting(fw.tensor_type(), "__getitem__") as count:
        by_hand(
            functools.partial(learner, *tensors),
            fw.convolution() + _patch_extraction(adapter),
            reason="gather the windows with slices and do one matrix product yourself",
        )
    positions = (shape[2] - k + 1) * (shape[3] - k + 1)
    if count[0] > MOST_SLICES:
        raise Mismatch(
            f"on a 24×24 image with a 3×3 kernel ({positions} output positions) your function "
            f"took {count[0]} slices of its input: that is a loop over output positions, which "
            "im2col exists to avoid; gather with one slice per kernel offset instead"
        )


@exercise("The backward pass of max-pooling")
def max_pool_backward(learner: Callable[[Any, Any], Any], adapter: Adapter) -> str:
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


def _layouts_switched_off() -> list[tuple[Any, str, str]]:
    """diptych's own kernel conversions, which exercise 4 asks to do without."""
    return [
        (layouts, "conv_to_hwio", "diptych.layouts.conv_to_hwio"),
        (layouts, "conv_from_hwio", "diptych.layouts.conv_from_hwio"),
    ]


#: exercise 4's typical wrong permutations of an HWIO kernel, each with what it got wrong
KERNEL_MISTAKES = (
    (
        (2, 3, 1, 0),
        "you applied the lesson's transpose, the one that takes OIHW to HWIO, to an HWIO "
        "kernel: going back needs the inverse permutation, read from where each axis must end up",
    ),
    ((2, 3, 0, 1), "the in and out channels are swapped"),
    ((3, 2, 1, 0), "height and width are swapped"),
)


@exercise("Porting a kernel")
def convert_kernel(learner: Callable[[np.ndarray], Any], adapter: Adapter) -> str:
    """Exercise 4: a Keras kernel (HWIO) into PyTorch's layout (OIHW), by hand, in both twins: the
    PyTorch learner ports a colleague's Keras kernel in, the Keras learner exports one for a
    PyTorch colleague, and both invert the transpose the lesson shows."""
    hwio = fresh_rng("kernel").normal(size=(5, 4, 3, 6)).astype(np.float32)  # every axis differs
    expected = np.ascontiguousarray(hwio.transpose(3, 2, 0, 1))
    given = hwio.copy()
    got = by_hand(
        lambda: learner(given),
        _layouts_switched_off(),
        reason="move the axes yourself, with a transpose",
    )
    got = as_numpy(got, "the converted kernel")
    if given.shape != hwio.shape or not np.array_equal(given, hwio):
        raise Mismatch("your function changed the kernel it was given")
    if (
        got.shape == expected.shape
        and not np.array_equal(got, expected)
        and np.array_equal(got.reshape(-1), hwio.reshape(-1))
    ):
        raise Mismatch(
            f"the shape {got.shape} is right but the weights are shuffled: a reshape keeps the "
            "numbers in their order; the axes themselves must move"
        )
    for axes, what in KERNEL_MISTAKES:
        if got.shape == hwio.transpose(axes).shape and np.array_equal(got, hwio.transpose(axes)):
            raise Mismatch(f"{what}; the result must be OIHW, {expected.shape} here")
    expect_array(
        got,
        expected,
        what="the converted kernel",
        atol=0,
        axes=("out channels", "in channels", "height", "width"),
    )
    return f"{hwio.shape} becomes {expected.shape} with every weight in its place"


#: exercise 5's inputs: a batch (NCHW shapes, even heights and widths) per call
STRIDED_SHAPES = ((2, 3, 8, 10), (1, 3, 6, 6))
STRIDED_FILTERS = 5


def _colleague_output(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, *, keras_same: bool
) -> np.ndarray:
    """The colleague's stride-2 3×3 layer, NCHW: Keras' 'same' or PyTorch's padding=1."""
    if not keras_same:
        return conv.conv2d(x, W, b, stride=2, padding=1)
    (top, bottom), (left, right) = (conv.same_padding(n, kernel=3, stride=2) for n in x.shape[2:])
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    return conv.conv2d(padded, W, b, stride=2)


def _strided_mistakes(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, *, keras_same: bool, given: np.ndarray
) -> list[tuple[np.ndarray, str]]:
    """NCHW outputs of typical mistakes in porting the colleague's layer, with what each got
    wrong. ``given`` is the kernel as the learner received it (the other framework's layout)."""
    if keras_same:
        other_padding = (
            conv.conv2d(x, W, b, stride=2, padding=1),
            "every window of yours sits one pixel up and left of the colleague's: your layer "
            "pads the top and left, as PyTorch's padding=1 does, but Keras' 'same' with stride 2 "
            "pads only as much as its output length needs (the lesson's *Padding and stride* shows "
            "where)",
        )
        extra = [other_padding]  # padding (1, 0) reads the same windows at stride 2
    else:
        extra = [
            (
                _colleague_output(x, W, b, keras_same=True),
                "your layer pads as Keras' 'same' does, which puts the odd pixel after the "
                "image (for stride 2 and a 3×3 kernel on an even size: 0 before, 1 after); the "
                "colleague's padding=1 pads one pixel on every side",
            )
        ]
    reshaped = np.reshape(given, W.shape)
    return [
        *extra,
        (
            _colleague_output(x, reshaped, b, keras_same=keras_same),
            "the kernel was reshaped, not transposed: a reshape keeps the numbers in their "
            "order, so the weights land in the wrong places; the axes themselves must move",
        ),
        (
            _colleague_output(x, W.transpose(0, 1, 3, 2), b, keras_same=keras_same),
            "the kernel's height and width are swapped",
        ),
        (
            _colleague_output(x, W[:, :, ::-1, ::-1], b, keras_same=keras_same),
            "the kernel is flipped (the textbook convolution); both frameworks use it as it is",
        ),
        (_colleague_output(x, W, 0 * b, keras_same=keras_same), "the bias is missing"),
    ]


@exercise("Porting a strided convolution")
def port_strided_conv(learner: Callable[[np.ndarray, np.ndarray], Any], adapter: Adapter) -> str:
    """Exercise 5: rebuild the other framework's stride-2 3×3 convolution in this framework,
    from its exported weights: the kernel's layout and the padding both differ. The images go
    to the learner's layer on the CPU, where tensors made from NumPy arrays are (on a GPU
    machine too)."""
    fw = idiom(adapter)
    rng = fresh_rng("strided")
    keras_same = other(fw.weight_layout) == "keras"  # the layer's source: the other framework
    W = rng.normal(size=(STRIDED_FILTERS, STRIDED_SHAPES[0][1], 3, 3)).astype(np.float32)
    b = rng.normal(size=STRIDED_FILTERS).astype(np.float32)
    exported = layouts.conv_to_hwio(W) if keras_same else W.copy()
    given_kernel, given_bias = exported.copy(), b.copy()
    layer = learner(given_kernel, given_bias)
    if layer is None:
        raise Mismatch("port_layer returned None: did you forget the `return`?")
    if not callable(layer):
        raise Mismatch(
            f"port_layer returned a {type(layer).__name__}; return something to call on images: "
            "a layer, a model or a function"
        )
    if not (np.array_equal(given_kernel, exported) and np.array_equal(given_bias, b)):
        raise Mismatch("your function changed the kernel or the bias it was given")
    for shape in STRIDED_SHAPES:
        x = rng.uniform(0, 1, size=shape).astype(np.float32)
        images = x.transpose(0, 2, 3, 1) if fw.channels_last else x
        got = as_numpy(layer(adapter.from_numpy(images, on="cpu")), "your ported layer")
        expected = _colleague_output(x, W, b, keras_same=keras_same)
        n, _, h, w = shape
        unpadded = conv.output_size(h, kernel=3, stride=2) * conv.output_size(w, kernel=3, stride=2)
        if got.ndim == 4 and got.size == n * STRIDED_FILTERS * unpadded:
            raise Mismatch(
                f"on a {_batch_name(adapter, shape)} batch your layer's output is a row and a "
                "column short of the colleague's: the colleague's layer pads the image"
            )
        if got.ndim == 4 and got.size == n * STRIDED_FILTERS * h * w:
            raise Mismatch(
                f"on a {_batch_name(adapter, shape)} batch your layer's output is as large as "
                "its input: the colleague's layer moves its window two pixels at a time"
            )
        for wrong, message in _strided_mistakes(x, W, b, keras_same=keras_same, given=exported):
            if matches(got, _in_framework_layout(adapter, wrong), atol=1e-4) and not matches(
                got, _in_framework_layout(adapter, expected), atol=1e-4
            ):
                raise Mismatch(message)
        expect_array(
            got,
            _in_framework_layout(adapter, expected),
            what=f"your layer's output on a {_batch_name(adapter, shape)} batch",
            atol=1e-5,
            rtol=1e-5,
            axes=fw.image_axes,
        )
    return (
        f"gives the colleague's {RIGHT_IN[other(fw.weight_layout)]} layer's outputs on 8×10 and "
        "6×6 images, "
        "to float32 rounding"
    )
