"""TensorFlow's side of lesson 11 (attention): the lesson's GPT in Keras, its weights in the
neutral layout, and the shortcuts ``checks.attention`` switches off.

``gpt`` builds the functional Keras model the TensorFlow twin builds in the open (token and
position embeddings, pre-norm blocks of ``MultiHeadAttention`` and a GELU MLP, a last
LayerNormalization and a head), here so that the PyTorch twin can port its trained model into it;
its ``epsilon`` and ``activation`` let a lesson show the two defaults that differ from PyTorch's.
``to_neutral`` and ``load_neutral`` move its weights to and from ``reference.attention``'s
neutral GPT (the attention layer through ``porting.attention_from_keras``/``attention_to_keras``).
A framework companion of ``adapters.tensorflow``; importing it imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diptych import porting
from diptych.adapters import tensorflow as adapter
from diptych.adapters.idiom import Target
from diptych.optional import require
from diptych.reference.attention import gpt_names, layers_of

keras = require("keras")
tf = adapter.tf
Layer: Any = keras.layers.Layer  # typed Any: Keras comes in through ``require``


class PositionEmbedding(Layer):
    """Adds a learned vector per position: (B, T, E) -> (B, T, E), for T up to ``context``."""

    def __init__(self, context: int, embed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context, self.embed = context, embed

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight(
            shape=(self.context, self.embed), initializer="uniform", name="embeddings"
        )

    def call(self, x: Any) -> Any:
        return x + self.embeddings[: keras.ops.shape(x)[1]]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "context": self.context, "embed": self.embed}


def gpt(
    *,
    vocab: int,
    context: int,
    embed: int = 32,
    heads: int = 2,
    layers: int = 1,
    epsilon: float = 1e-5,
    activation: Any = "gelu",
) -> Any:
    """Token ids (B, T) -> next-token logits (B, T, vocab), causal, as a functional Keras model.

    ``epsilon`` is LayerNormalization's (Keras' default is 1e-3, PyTorch's 1e-5) and
    ``activation`` the MLP's (``"gelu"`` is the exact GELU; ``keras.ops.gelu`` is the tanh form).
    """
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab, embed, name="token_embedding")(tokens)
    x = PositionEmbedding(context, embed, name="position_embedding")(x)
    for i in range(layers):
        h = keras.layers.LayerNormalization(epsilon=epsilon, name=f"block{i}_norm1")(x)
        attention = keras.layers.MultiHeadAttention(
            heads, embed // heads, name=f"block{i}_attention"
        )
        x = x + attention(h, h, use_causal_mask=True)
        h = keras.layers.LayerNormalization(epsilon=epsilon, name=f"block{i}_norm2")(x)
        h = keras.layers.Dense(4 * embed, activation=activation, name=f"block{i}_fc")(h)
        x = x + keras.layers.Dense(embed, name=f"block{i}_proj")(h)
    x = keras.layers.LayerNormalization(epsilon=epsilon, name="norm")(x)
    return keras.Model(tokens, keras.layers.Dense(vocab, name="head")(x), name="gpt")


def _blocks(model: Any) -> int:
    return sum(layer.name.endswith("_attention") for layer in model.layers)


def to_neutral(model: Any) -> dict[str, np.ndarray]:
    """A ``gpt`` model's weights in the neutral layout, ``gpt_names`` order (Keras' dense kernels
    are (in, out) already; the attention layer goes through ``porting.attention_from_keras``)."""

    def arrays(name: str) -> list[np.ndarray]:
        return [np.array(w, copy=True) for w in model.get_layer(name).get_weights()]

    neutral = {"tokens": arrays("token_embedding")[0], "positions": arrays("position_embedding")[0]}
    for i in range(_blocks(model)):
        p = f"blocks.{i}."
        for part in ("norm1", "norm2"):
            neutral[p + f"{part}.gamma"], neutral[p + f"{part}.beta"] = arrays(f"block{i}_{part}")
        attention = porting.attention_from_keras(arrays(f"block{i}_attention"))
        neutral |= {f"{p}attention.{k}": v for k, v in attention.items()}
        for part in ("fc", "proj"):
            neutral[p + f"{part}.W"], neutral[p + f"{part}.b"] = arrays(f"block{i}_{part}")
    neutral["norm.gamma"], neutral["norm.beta"] = arrays("norm")
    neutral["head.W"], neutral["head.b"] = arrays("head")
    return {name: neutral[name] for name in gpt_names(_blocks(model))}


def load_neutral(model: Any, weights: Mapping[str, np.ndarray]) -> None:
    """Load a neutral GPT's weights into a ``gpt`` model of the same sizes, in its dtype."""
    if layers_of(weights) != _blocks(model):
        raise ValueError(f"{layers_of(weights)} blocks of weights for a model of {_blocks(model)}")

    def put(name: str, values: list[np.ndarray]) -> None:
        layer = model.get_layer(name)
        layer.set_weights(
            [np.asarray(v, dtype=w.dtype) for v, w in zip(values, layer.weights, strict=True)]
        )

    put("token_embedding", [weights["tokens"]])
    put("position_embedding", [weights["positions"]])
    for i in range(_blocks(model)):
        p = f"blocks.{i}."
        for part in ("norm1", "norm2"):
            put(f"block{i}_{part}", [weights[p + f"{part}.gamma"], weights[p + f"{part}.beta"]])
        attention = {
            k.removeprefix(p + "attention."): v
            for k, v in weights.items()
            if k.startswith(p + "attention.")
        }
        heads = model.get_layer(f"block{i}_attention").num_heads
        put(f"block{i}_attention", porting.attention_to_keras(attention, num_heads=heads))
        for part in ("fc", "proj"):
            put(f"block{i}_{part}", [weights[p + f"{part}.W"], weights[p + f"{part}.b"]])
    put("norm", [weights["norm.gamma"], weights["norm.beta"]])
    put("head", [weights["head.W"], weights["head.b"]])


# --- LayerNorm's defaults, which exercise 4's check names when a learner falls back on them ---

#: the ε a LayerNorm layer uses when none is given
LAYER_NORM_EPSILON = 1e-3
#: where an unbiased variance comes from unasked, as a hint's aside (nothing in Keras)
UNBIASED_BY_DEFAULT = ""


# --- what checks.attention switches off where an exercise says "by hand" ---------------------


def fused_attention() -> list[Target]:
    """Keras' fused attention and its attention layers (exercise 1 asks for tensor operations)."""
    import keras.src.ops as internal_ops

    return [
        (keras.ops, "dot_product_attention", "keras.ops.dot_product_attention"),
        (internal_ops, "dot_product_attention", "keras.ops.dot_product_attention"),
        (keras.layers.MultiHeadAttention, "call", "keras.layers.MultiHeadAttention"),
        (keras.layers.Attention, "call", "keras.layers.Attention"),
    ]


def layer_norm() -> list[Target]:
    """Keras' and TensorFlow's normalisation functions (exercise 4 asks for LayerNorm by hand)."""
    import keras.src.ops as internal_ops

    return [
        (keras.ops, "layer_normalization", "keras.ops.layer_normalization"),
        (
            internal_ops,
            "layer_normalization",
            "keras.ops.layer_normalization (or LayerNormalization)",
        ),
        (keras.layers.LayerNormalization, "call", "keras.layers.LayerNormalization"),
        (tf.nn, "batch_normalization", "tf.nn.batch_normalization"),
    ]
