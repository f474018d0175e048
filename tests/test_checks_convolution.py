"""Lesson 06's self-checks: idiomatic right answers pass in each twin, typical wrong ones fail by name.

The PyTorch twin works in NCHW/OIHW and ports a Keras layer; the TensorFlow twin works in
NHWC/HWIO and ports a PyTorch layer. Right answers are written out here with plain transposes,
pads and reshapes (never with ``diptych.layouts``, which exercise 4 switches off).
"""

import numpy as np
import pytest

from diptych import checks, layouts
from diptych.checks import convolution
from diptych.reference import conv

from helpers import case_id, verdict

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
keras = pytest.importorskip("keras")
tf = tensorflow.tf
F = torch.nn.functional


# --------------------------------------------------------------------------- exercise 1


def size_right(n, kernel, stride, padding):
    if padding == "same":
        return -(-n // stride)
    padding = 0 if padding == "valid" else padding
    return (n + 2 * padding - kernel) // stride + 1


def size_symmetric_same(n, kernel, stride, padding):
    """TF's 'same' taken as (k − 1)//2 on each side (quoted from a real try)."""
    padding = {"same": (kernel - 1) // 2, "valid": 0}.get(padding, padding)
    return (n + 2 * padding - kernel) // stride + 1


def size_rounding_up(n, kernel, stride, padding):
    padding = {"same": (kernel - 1) // 2, "valid": 0}.get(padding, padding)
    return -(-(n + 2 * padding - kernel) // stride) + 1


# --------------------------------------------------------------------------- exercise 2


def im2col_torch(x, kernel, bias):
    o, c, k, _ = kernel.shape
    n, _, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    windows = torch.stack(
        [torch.stack([x[:, :, p : p + oh, q : q + ow] for q in range(k)], dim=2) for p in range(k)],
        dim=2,
    )
    out = kernel.reshape(o, -1) @ windows.reshape(n, c * k * k, oh * ow)
    return out.reshape(n, o, oh, ow) + bias.reshape(1, o, 1, 1)


def im2col_unfold(x, kernel, bias):
    o, _, k, _ = kernel.shape
    n, _, h, w = x.shape
    out = kernel.reshape(o, -1) @ F.unfold(x, k)
    return out.reshape(n, o, h - k + 1, w - k + 1) + bias.reshape(1, o, 1, 1)


def im2col_patches(x, kernel, bias):
    k, _, c, o = kernel.shape
    patches = tf.image.extract_patches(x, [1, k, k, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
    return patches @ tf.reshape(kernel, (k * k * c, o)) + bias


def im2col_slices_tf(x, kernel, bias):
    k, _, c, o = kernel.shape
    n, h, w, _ = x.shape
    oh, ow = h - k + 1, w - k + 1
    windows = tf.stack(
        [tf.stack([x[:, p : p + oh, q : q + ow, :] for q in range(k)], axis=3) for p in range(k)],
        axis=3,
    )
    return tf.reshape(windows, (n, oh, ow, k * k * c)) @ tf.reshape(kernel, (k * k * c, o)) + bias


def im2col_position_loop_torch(x, kernel, bias):
    """Gathers each window with its own slice (one per output position), then one product."""
    o, _, k, _ = kernel.shape
    n, _, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    rows = [x[:, :, i : i + k, j : j + k].reshape(n, -1) for i in range(oh) for j in range(ow)]
    out = torch.stack(rows, dim=2)  # (n, c·k·k, oh·ow)
    return (kernel.reshape(o, -1) @ out).reshape(n, o, oh, ow) + bias.reshape(1, o, 1, 1)


def im2col_position_loop_tf(x, kernel, bias):
    k, _, c, o = kernel.shape
    n, h, w, _ = x.shape
    oh, ow = h - k + 1, w - k + 1
    rows = [
        tf.reshape(x[:, i : i + k, j : j + k, :], (n, -1)) for i in range(oh) for j in range(ow)
    ]
    patches = tf.reshape(tf.stack(rows, axis=1), (n, oh, ow, k * k * c))
    return patches @ tf.reshape(kernel, (k * k * c, o)) + bias


def im2col_swapped(x, kernel, bias):
    return tf.transpose(im2col_slices_tf(x, kernel, bias), (0, 2, 1, 3))


def im2col_flipped(x, kernel, bias):
    return im2col_torch(x, torch.flip(kernel, dims=(2, 3)), bias)


# --------------------------------------------------------------------------- exercise 3


def pool_backward_torch(x, grad_out):
    n, c, h, w = x.shape
    windows = (
        x.reshape(n, c, h // 2, 2, w // 2, 2)
        .permute(0, 1, 2, 4, 3, 5)
        .reshape(n, c, h // 2, w // 2, 4)
    )
    grad = F.one_hot(windows.argmax(dim=-1), 4).to(x.dtype) * grad_out[..., None]
    return grad.reshape(n, c, h // 2, w // 2, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def pool_backward_tf(x, grad_out):
    n, h, w, c = x.shape
    windows = tf.reshape(
        tf.transpose(tf.reshape(x, (n, h // 2, 2, w // 2, 2, c)), (0, 1, 3, 5, 2, 4)),
        (n, h // 2, w // 2, c, 4),
    )
    grad = tf.one_hot(tf.argmax(windows, axis=-1), 4, dtype=x.dtype) * grad_out[..., None]
    grad = tf.transpose(tf.reshape(grad, (n, h // 2, w // 2, c, 2, 2)), (0, 1, 4, 2, 5, 3))
    return tf.reshape(grad, (n, h, w, c))


def pool_backward_by_autograd(x, grad_out):
    x = x.clone().requires_grad_(True)
    F.max_pool2d(x, 2).backward(grad_out)
    return x.grad


def pool_backward_by_tape(x, grad_out):
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled = tf.nn.max_pool2d(x, 2, 2, "VALID")
    return tape.gradient(pooled, x, output_gradients=grad_out)


def pool_backward_average(x, grad_out):
    return torch.repeat_interleave(torch.repeat_interleave(grad_out, 2, dim=2), 2, dim=3) / 4


# --------------------------------------------------------------------------- exercise 4


def kernel_by_diptych(kernel):
    return layouts.conv_from_hwio(kernel)


def kernel_in_place(kernel):
    kernel *= 1.0
    kernel[0, 0, 0, 0] += 1.0
    return np.transpose(kernel, (3, 2, 0, 1))


# --------------------------------------------------------------------------- exercise 5


def port_into_torch(kernel, bias):
    """Keras' Conv2D(strides=2, padding="same") as PyTorch: pad after, then convolve."""
    weight = torch.from_numpy(np.transpose(kernel, (3, 2, 0, 1)).copy())
    return lambda x: F.conv2d(F.pad(x, (0, 1, 0, 1)), weight, torch.from_numpy(bias), stride=2)


def port_into_torch_module(kernel, bias):
    layer = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], 3, stride=2)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.transpose(kernel, (3, 2, 0, 1))))
        layer.bias.copy_(torch.from_numpy(bias))
    return torch.nn.Sequential(torch.nn.ZeroPad2d((0, 1, 0, 1)), layer)


def port_into_keras(weight, bias):
    """PyTorch's Conv2d(stride=2, padding=1) as Keras: pad one on each side, then 'valid'."""
    layer = keras.layers.Conv2D(weight.shape[0], 3, strides=2)
    model = keras.Sequential([keras.layers.ZeroPadding2D(1), layer])
    model.build((None, 8, 10, weight.shape[1]))
    layer.kernel.assign(np.transpose(weight, (2, 3, 1, 0)))
    layer.bias.assign(bias)
    return model


def port_into_tf_function(weight, bias):
    kernel = np.transpose(weight, (2, 3, 1, 0))
    return lambda x: (
        tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), kernel, 2, "VALID") + bias
    )


def torch_port(*, pad=(0, 1, 0, 1), axes=(3, 2, 0, 1), stride=2, bias_on=True, reshape=False):
    def port(kernel, bias):
        if reshape:
            weight = np.reshape(kernel, (kernel.shape[3], kernel.shape[2], 3, 3))
        else:
            weight = np.transpose(kernel, axes)
        weight = torch.from_numpy(np.ascontiguousarray(weight))
        b = torch.from_numpy(bias) if bias_on else None
        return lambda x: F.conv2d(F.pad(x, pad), weight, b, stride=stride)

    return port


def keras_port_same(weight, bias):
    kernel = np.transpose(weight, (2, 3, 1, 0))
    return lambda x: tf.nn.conv2d(x, kernel, 2, "SAME") + bias


def keras_port_flipped(weight, bias):
    kernel = np.transpose(weight[:, :, ::-1, ::-1], (2, 3, 1, 0))
    return lambda x: (
        tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), kernel, 2, "VALID") + bias
    )


def port_changing_the_kernel(kernel, bias):
    kernel *= 2.0
    kernel /= 2.0
    kernel[0, 0, 0, 0] = 0.0
    return port_into_torch(kernel, bias)


# --------------------------------------------------------------------------- the table

RIGHT = [
    (convolution.output_size, size_right, pytorch),
    (convolution.output_size, size_right, tensorflow),
    (convolution.conv2d_im2col, im2col_torch, pytorch),
    (convolution.conv2d_im2col, im2col_slices_tf, tensorflow),
    (convolution.max_pool_backward, pool_backward_torch, pytorch),
    (convolution.max_pool_backward, pool_backward_tf, tensorflow),
    (convolution.convert_kernel, lambda k: np.transpose(k, (3, 2, 0, 1)), pytorch),
    (convolution.convert_kernel, lambda k: torch.from_numpy(k).permute(3, 2, 0, 1), pytorch),
    (convolution.convert_kernel, lambda k: tf.transpose(k, (3, 2, 0, 1)), tensorflow),
    (convolution.convert_kernel, lambda k: np.transpose(k, (3, 2, 0, 1)), tensorflow),
    (convolution.port_strided_conv, port_into_torch, pytorch),
    (convolution.port_strided_conv, port_into_torch_module, pytorch),
    (convolution.port_strided_conv, port_into_keras, tensorflow),
    (convolution.port_strided_conv, port_into_tf_function, tensorflow),
]

WRONG = [
    (convolution.output_size, size_symmetric_same, tensorflow, "even kernel"),
    (convolution.output_size, size_rounding_up, pytorch, "does not fit at the end"),
    (
        convolution.output_size,
        lambda n, kernel, stride, padding: (n - kernel) // stride + 1,
        pytorch,
        "expected",
    ),
    (
        convolution.conv2d_im2col,
        lambda x, k, b: F.conv2d(x, k, b),
        pytorch,
        "calls torch.nn.functional.conv2d",
    ),
    (
        convolution.conv2d_im2col,
        lambda x, k, b: torch.nn.Conv2d(1, 1, 1)(x),
        pytorch,
        "calls torch.nn.functional.conv2d",
    ),
    (
        convolution.conv2d_im2col,
        lambda x, k, b: tf.nn.conv2d(x, k, 1, "VALID") + b,
        tensorflow,
        "calls tf.nn.conv2d",
    ),
    (convolution.conv2d_im2col, im2col_swapped, tensorflow, "height and width swapped"),
    (convolution.conv2d_im2col, im2col_unfold, pytorch, "calls torch.nn.functional.unfold"),
    (convolution.conv2d_im2col, im2col_patches, tensorflow, "calls tf.image.extract_patches"),
    (convolution.conv2d_im2col, im2col_flipped, pytorch, "flipped the kernel"),
    (convolution.conv2d_im2col, im2col_position_loop_torch, pytorch, "loop over output positions"),
    (convolution.conv2d_im2col, im2col_position_loop_tf, tensorflow, "loop over output positions"),
    (
        convolution.conv2d_im2col,
        lambda x, k, b: im2col_torch(x, k, 0 * b),
        pytorch,
        "bias is missing",
    ),
    (convolution.max_pool_backward, pool_backward_by_autograd, pytorch, "calls Tensor.backward"),
    (convolution.max_pool_backward, pool_backward_by_tape, tensorflow, "calls tf.GradientTape"),
    (convolution.max_pool_backward, pool_backward_average, pytorch, "as average pooling would"),
    (
        convolution.convert_kernel,
        lambda k: np.reshape(k, (6, 3, 5, 4)),
        tensorflow,
        "a reshape keeps the numbers",
    ),
    (
        convolution.convert_kernel,
        lambda k: np.reshape(k, (6, 3, 5, 4)),
        pytorch,
        "a reshape keeps the numbers",
    ),
    (
        convolution.convert_kernel,
        lambda k: np.transpose(k, (3, 2, 1, 0)),
        tensorflow,
        "height and width are swapped",
    ),
    (
        convolution.convert_kernel,
        lambda k: np.transpose(k, (2, 3, 0, 1)),
        pytorch,
        "in and out channels are swapped",
    ),
    (convolution.convert_kernel, lambda k: np.transpose(k, (2, 3, 1, 0)), tensorflow, "inverse"),
    (convolution.convert_kernel, lambda k: tf.transpose(k, (2, 3, 1, 0)), tensorflow, "inverse"),
    (convolution.convert_kernel, lambda k: np.transpose(k, (2, 3, 1, 0)), pytorch, "inverse"),
    (
        convolution.convert_kernel,
        lambda k: np.reshape(k, (5, 4, 3, 6)),
        tensorflow,
        "expected",
    ),
    (convolution.convert_kernel, kernel_by_diptych, tensorflow, "diptych.layouts.conv_from_hwio"),
    (convolution.convert_kernel, kernel_in_place, tensorflow, "changed the kernel"),
    (convolution.port_strided_conv, torch_port(pad=(1, 1, 1, 1)), pytorch, "padding=1"),
    (convolution.port_strided_conv, torch_port(pad=(1, 0, 1, 0)), pytorch, "up and left"),
    (convolution.port_strided_conv, torch_port(pad=(0, 0, 0, 0)), pytorch, "a row and a column"),
    (
        convolution.port_strided_conv,
        torch_port(pad=(1, 1, 1, 1), stride=1),
        pytorch,
        "two pixels at a time",
    ),
    (convolution.port_strided_conv, torch_port(reshape=True), pytorch, "reshaped, not transposed"),
    (
        convolution.port_strided_conv,
        torch_port(axes=(3, 2, 1, 0)),
        pytorch,
        "height and width are swapped",
    ),
    (convolution.port_strided_conv, torch_port(bias_on=False), pytorch, "bias is missing"),
    (convolution.port_strided_conv, keras_port_same, tensorflow, "Keras' 'same'"),
    (convolution.port_strided_conv, keras_port_flipped, tensorflow, "flipped"),
    (
        convolution.port_strided_conv,
        lambda w, b: port_into_tf_function(w, b)(tf.zeros((1, 8, 10, 3))),
        tensorflow,
        "something to call on images",
    ),
    (convolution.port_strided_conv, port_changing_the_kernel, pytorch, "changed the kernel"),
    (
        convolution.port_strided_conv,
        lambda k, b: lambda x: port_into_torch(k, b)(x).permute(0, 2, 3, 1),
        pytorch,
        "axes are permuted",
    ),
]


@pytest.mark.parametrize("check, learner, adapter", RIGHT, ids=[case_id(c) for c in RIGHT])
def test_an_idiomatic_right_answer_passes(check, learner, adapter, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize("check, learner, adapter, named", WRONG, ids=[case_id(c) for c in WRONG])
def test_a_typical_wrong_answer_fails_with_its_named_hint(check, learner, adapter, named, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.FAILED
    assert named in outcome.message


def test_every_exercise_has_a_right_answer_per_framework_and_a_wrong_one():
    for item in checks.exercises_of("convolution"):
        right = {a.NAME for c, _, a in RIGHT if c.__name__ == item.check}
        assert right == {"PyTorch", "TensorFlow"}, item
        assert [c for c, *_ in WRONG if c.__name__ == item.check], item


def test_the_lesson_registers_its_exercises_in_order():
    """Numbers come from the checks' order in their module (titles: see test_pairing)."""
    items = checks.exercises_of("convolution")
    assert [item.check for item in items] == [
        "output_size",
        "conv2d_im2col",
        "max_pool_backward",
        "convert_kernel",
        "port_strided_conv",
    ]
    assert items[0].heading == "Exercise 1: Output sizes"
    assert [item.number for item in items] == [1, 2, 3, 4, 5]


def test_hints_never_give_the_answer_away(outcomes):
    for check, learner, adapter, _ in WRONG:
        verdict(check, learner, adapter, outcomes)
    text = " ".join(outcome.message for outcome in outcomes())
    for answer in ("(3, 2, 0, 1)", "(2, 3, 1, 0)", "(0, 1, 0, 1)", "ZeroPadding2D", "F.pad"):
        assert answer not in text


def test_diptych_layouts_works_again_after_the_check(outcomes):
    convolution.convert_kernel(kernel_by_diptych, tensorflow)
    assert layouts.conv_from_hwio(np.zeros((3, 3, 1, 2))).shape == (2, 1, 3, 3)


def test_the_colleagues_layers_are_what_the_frameworks_compute():
    """Exercise 5's expected outputs are each framework's own stride-2 layer."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, 3, 8, 10)).astype(np.float32)
    W = rng.normal(size=(5, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    keras_layer = keras.layers.Conv2D(5, 3, strides=2, padding="same")
    keras_layer.build((None, 8, 10, 3))
    keras_layer.kernel.assign(np.transpose(W, (2, 3, 1, 0)))
    keras_layer.bias.assign(b)
    keras_out = keras_layer(np.transpose(x, (0, 2, 3, 1))).numpy().transpose(0, 3, 1, 2)
    np.testing.assert_allclose(
        convolution._colleague_output(x, W, b, keras_same=True), keras_out, atol=1e-5
    )
    torch_out = F.conv2d(torch.from_numpy(x), torch.from_numpy(W), torch.from_numpy(b), 2, 1)
    np.testing.assert_allclose(
        convolution._colleague_output(x, W, b, keras_same=False), torch_out.numpy(), atol=1e-5
    )


def test_the_max_pool_backward_reference_is_what_autograd_computes():
    rng = np.random.default_rng(0)
    x, upstream = rng.normal(size=(2, 3, 6, 4)), rng.normal(size=(2, 3, 3, 2))
    tensor = torch.tensor(x, requires_grad=True)
    F.max_pool2d(tensor, 2).backward(torch.tensor(upstream))
    np.testing.assert_array_equal(conv.max_pool2d_backward(x, upstream), tensor.grad.numpy())


def test_the_position_loop_is_right_but_for_the_loop():
    """The two loop answers compute the right numbers: only the loop itself fails them."""
    rng = np.random.default_rng(1)
    x, W, b = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(5, 3, 3, 3)), rng.normal(size=5)
    expected = conv.conv2d(x, W, b)
    got = im2col_position_loop_torch(torch.from_numpy(x), torch.from_numpy(W), torch.from_numpy(b))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)
    got = im2col_position_loop_tf(
        tf.constant(x.transpose(0, 2, 3, 1)), tf.constant(W.transpose(2, 3, 1, 0)), tf.constant(b)
    )
    np.testing.assert_allclose(got.numpy().transpose(0, 3, 1, 2), expected, atol=1e-10)


def test_slicing_works_again_after_the_check(outcomes):
    verdict(convolution.conv2d_im2col, im2col_position_loop_torch, pytorch, outcomes)
    verdict(convolution.conv2d_im2col, im2col_position_loop_tf, tensorflow, outcomes)
    assert torch.Tensor.__getitem__.__name__ == "__getitem__"
    assert tf.Tensor.__getitem__.__name__ != "counted"
