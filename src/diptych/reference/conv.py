"""Lessons 06 and 07's reference: 2-D convolution forward and backward, padding, max-pooling and
its gradient (06), batch norm in training and inference mode (07).

Layouts are PyTorch's: images NCHW (n, c, h, w), kernels OIHW (out, in, kh, kw). Like both
frameworks, "convolution" here is cross-correlation: the kernel is not flipped.
"""

from __future__ import annotations

import numpy as np


def output_size(n: int, *, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling along one axis: ⌊(n + 2p − k)/s⌋ + 1."""
    if kernel < 1 or stride < 1 or padding < 0:
        raise ValueError(
            f"need kernel ≥ 1, stride ≥ 1, padding ≥ 0; got {kernel}, {stride}, {padding}"
        )
    if n + 2 * padding < kernel:
        raise ValueError(f"a kernel of {kernel} does not fit an input of {n} padded by {padding}")
    return (n + 2 * padding - kernel) // stride + 1


def same_output_size(n: int, *, stride: int) -> int:
    """Output length under TensorFlow's 'same' padding: ⌈n/s⌉, whatever the kernel."""
    return -(-n // stride)


def padded_output_size(n: int, *, kernel: int, stride: int, padding: int | str) -> int:
    """Output length for a padding given as a number, 'valid' (none) or TensorFlow's 'same'."""
    if padding == "same":
        return same_output_size(n, stride=stride)
    if padding == "valid":
        return output_size(n, kernel=kernel, stride=stride)
    if isinstance(padding, str):
        raise ValueError(f"padding is a number, 'valid' or 'same'; got {padding!r}")
    return output_size(n, kernel=kernel, stride=stride, padding=padding)


def same_padding(n: int, *, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after) along one axis: output ⌈n/s⌉, and when the
    total padding is odd the extra row or column goes *after* (bottom/right)."""
    out = same_output_size(n, stride=stride)
    total = max((out - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


def _windows(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """(n, c, oh, ow, kh, kw) view of every kernel-sized window of x (n, c, h, w)."""
    view = np.lib.stride_tricks.sliding_window_view(x, (kernel, kernel), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def conv2d(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, *, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """y[n, o, i, j] = b[o] + Σ_c,p,q x[n, c, s·i + p, s·j + q] · W[o, c, p, q]  (x zero-padded)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    return (
        np.einsum("ncijpq,ocpq->noij", _windows(x, W.shape[2], stride), W) + b[None, :, None, None]
    )


def conv2d_backward(
    x: np.ndarray, W: np.ndarray, grad_out: np.ndarray, *, stride: int = 1, padding: int = 0
) -> dict[str, np.ndarray]:
    """Gradients of Σ(grad_out · conv2d(x, W, b)) with respect to x, W and b."""
    k = W.shape[2]
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    grad_W = np.einsum("ncijpq,noij->ocpq", _windows(padded, k, stride), grad_out)
    grad_padded = np.zeros_like(padded)
    oh, ow = grad_out.shape[2:]
    for p in range(k):  # each kernel offset scatters back into the input positions it read
        for q in range(k):
            contribution = np.einsum("noij,oc->ncij", grad_out, W[:, :, p, q])
            grad_padded[:, :, p : p + stride * oh : stride, q : q + stride * ow : stride] += (
                contribution
            )
    h, w = x.shape[2:]
    return {
        "x": grad_padded[:, :, padding : padding + h, padding : padding + w],
        "W": grad_W,
        "b": grad_out.sum(axis=(0, 2, 3)),
    }


def max_pool2d(x: np.ndarray, *, size: int = 2) -> np.ndarray:
    """Non-overlapping max-pooling of x (n, c, h, w) with a size × size window and stride."""
    return _windows(x, size, size).max(axis=(-2, -1))


def batch_norm_train(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training-mode batch norm over (n, h, w) per channel of x (n, c, h, w).

    Returns (output, batch mean, batch variance); the output uses the biased variance, in
    both frameworks.
    """
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    normal = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + eps)
    return gamma[None, :, None, None] * normal + beta[None, :, None, None], mean, var


def batch_norm_inference(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    *,
    eps: float,
) -> np.ndarray:
    """Inference-mode batch norm with running statistics ``mean``, ``var`` (c,)."""
    scale = gamma / np.sqrt(var + eps)
    return scale[None, :, None, None] * (x - mean[None, :, None, None]) + beta[None, :, None, None]


def max_pool2d_backward(x: np.ndarray, grad_out: np.ndarray, *, size: int = 2) -> np.ndarray:
    """Gradient of ``max_pool2d`` with respect to x (n, c, h, w): each window's upstream gradient
    goes to its maximum (the first one, in row-major order, if there is a tie)."""
    n, c, h, w = x.shape
    oh, ow = h // size, w // size
    windows = (
        x[:, :, : oh * size, : ow * size]
        .reshape(n, c, oh, size, ow, size)
        .transpose(0, 1, 2, 4, 3, 5)
        .reshape(n, c, oh, ow, size * size)
    )
    grad = np.zeros_like(windows)
    np.put_along_axis(grad, windows.argmax(axis=-1)[..., None], grad_out[..., None], axis=-1)
    grad = grad.reshape(n, c, oh, ow, size, size).transpose(0, 1, 2, 4, 3, 5)
    full = np.zeros_like(x)
    full[:, :, : oh * size, : ow * size] = grad.reshape(n, c, oh * size, ow * size)
    return full
