"""Lesson 08's reference: the curriculum's CNN at inference, from neutral-layout layers.

The CNN of lessons 07 and 08: blocks of (convolution with 'same' padding, batch norm, ReLU, 2×2
max-pooling), then the feature map flattened in (C, H, W) order, then dense layers with ReLU
between them. Layers are ``diptych.porting``'s neutral dicts; images are NCHW.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from diptych.initial import Layer
from diptych.reference.conv import batch_norm_inference, conv2d, max_pool2d


def cnn_logits(layers: Sequence[Layer], images: np.ndarray, *, eps: float) -> np.ndarray:
    """Logits (n, classes) of images (n, c, h, w); each batch norm uses its running statistics and
    ``eps``. Computed in float64, whatever the layers' dtype."""
    arrays = [{k: np.asarray(v, dtype=np.float64) for k, v in layer.items()} for layer in layers]
    h = np.asarray(images, dtype=np.float64)
    for i, layer in enumerate(arrays):
        if "gamma" in layer:  # batch norm: the conv before it already ran
            h = batch_norm_inference(
                h, layer["gamma"], layer["beta"], layer["mean"], layer["var"], eps=eps
            )
        elif layer["W"].ndim == 4:  # conv, stride 1, 'same' padding (odd kernels)
            h = conv2d(h, layer["W"], layer["b"], padding=layer["W"].shape[2] // 2)
        else:  # dense; the first one flattens in (C, H, W) order, the neutral one
            h = h.reshape(len(h), -1) @ layer["W"] + layer["b"]
        following = arrays[i + 1] if i + 1 < len(arrays) else None
        if h.ndim == 4 and (following is None or "gamma" not in following):
            h = max_pool2d(np.maximum(h, 0))  # the block ends: ReLU, then 2×2 max-pooling
        elif h.ndim == 2 and following is not None:
            h = np.maximum(h, 0)  # between dense layers
    return h
