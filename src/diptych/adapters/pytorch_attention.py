"""PyTorch's side of lesson 11 (attention): the lesson's GPT, its weights in the neutral layout,
and the shortcuts ``checks.attention`` switches off.

``GPT`` is the model the PyTorch twin builds in the open (token and position embeddings, pre-norm
blocks of ``nn.MultiheadAttention`` and a GELU MLP, a last LayerNorm and a head), here so that the
TensorFlow twin can port its trained Keras model into it. ``to_neutral`` and ``load_neutral``
move its weights to and from ``reference.attention``'s neutral GPT (dense kernels (in, out), the
attention layer through ``porting.attention_from_torch``/``attention_to_torch``). A framework
companion of ``adapters.pytorch``; importing it imports PyTorch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diptych import porting
from diptych.adapters.idiom import Target
from diptych.optional import require
from diptych.reference.attention import gpt_names, layers_of

torch = require("torch")
nn = torch.nn
Module: Any = torch.nn.Module  # typed Any: PyTorch comes in through ``require``

#: neutral name -> PyTorch name, for the arrays of one block (after ``blocks.{i}.``) and outside
BLOCK_NAMES = {
    "norm1.gamma": "norm1.weight",
    "norm1.beta": "norm1.bias",
    "norm2.gamma": "norm2.weight",
    "norm2.beta": "norm2.bias",
    "fc.W": "mlp.0.weight",
    "fc.b": "mlp.0.bias",
    "proj.W": "mlp.2.weight",
    "proj.b": "mlp.2.bias",
}
OUTER_NAMES = {
    "tokens": "token_embedding.weight",
    "positions": "position_embedding.weight",
    "norm.gamma": "norm.weight",
    "norm.beta": "norm.bias",
    "head.W": "head.weight",
    "head.b": "head.bias",
}
#: dense kernels: (in, out) in the neutral layout, (out, in) in nn.Linear
TRANSPOSED = {"fc.W", "proj.W", "head.W"}


class Block(Module):
    """A pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x)).

    ``eps`` is LayerNorm's and ``approximate`` GELU's (``"none"``, exact, or ``"tanh"``): PyTorch's
    defaults; the TensorFlow twin changes them to show what Keras' defaults would make of a port.
    """

    def __init__(self, embed: int, heads: int, eps: float = 1e-5, approximate: str = "none"):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed, eps=eps)
        self.attention = nn.MultiheadAttention(embed, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(embed, eps=eps)
        self.mlp = nn.Sequential(
            nn.Linear(embed, 4 * embed),
            nn.GELU(approximate=approximate),
            nn.Linear(4 * embed, embed),
        )

    def forward(self, x: Any, blocked: Any) -> Any:  # (B, T, E), (T, T) True = may NOT attend
        h = self.norm1(x)
        x = x + self.attention(h, h, h, attn_mask=blocked, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class GPT(Module):
    """Token ids (B, T) -> next-token logits (B, T, vocab), causal (``eps``, ``approximate``: see
    ``Block``)."""

    def __init__(
        self,
        vocab: int,
        context: int,
        embed: int = 32,
        heads: int = 2,
        layers: int = 1,
        eps: float = 1e-5,
        approximate: str = "none",
    ) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, embed)
        self.position_embedding = nn.Embedding(context, embed)
        self.blocks = nn.ModuleList([Block(embed, heads, eps, approximate) for _ in range(layers)])
        self.norm = nn.LayerNorm(embed, eps=eps)
        self.head = nn.Linear(embed, vocab)
        blocked = ~torch.ones(context, context, dtype=torch.bool).tril()  # True above the diagonal
        self.register_buffer("blocked", blocked, persistent=False)

    def forward(self, tokens: Any) -> Any:
        T = tokens.shape[1]
        positions = torch.arange(T, device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)  # (B, T, E)
        for block in self.blocks:
            x = block(x, self.blocked[:T, :T])
        return self.head(self.norm(x))


def to_neutral(model: Any) -> dict[str, np.ndarray]:
    """A ``GPT``'s weights (its ``state_dict``) in the neutral layout, ``gpt_names`` order."""
    state = {
        name: tensor.detach().cpu().numpy().copy() for name, tensor in model.state_dict().items()
    }
    neutral = {}
    for name, torch_name in OUTER_NAMES.items():
        neutral[name] = state[torch_name].T.copy() if name in TRANSPOSED else state[torch_name]
    for i in range(len(model.blocks)):
        p = f"blocks.{i}."
        for name, torch_name in BLOCK_NAMES.items():
            value = state[p + torch_name]
            neutral[p + name] = value.T.copy() if name in TRANSPOSED else value
        attention = {
            k.removeprefix(p + "attention."): v
            for k, v in state.items()
            if k.startswith(p + "attention.")
        }
        neutral |= {
            f"{p}attention.{k}": v for k, v in porting.attention_from_torch(attention).items()
        }
    return {name: neutral[name] for name in gpt_names(len(model.blocks))}


def state_dict(weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A neutral GPT's weights under ``GPT``'s ``state_dict`` names and layouts."""
    state = {}
    for name, torch_name in OUTER_NAMES.items():
        state[torch_name] = weights[name].T if name in TRANSPOSED else weights[name]
    for i in range(layers_of(weights)):
        p = f"blocks.{i}."
        for name, torch_name in BLOCK_NAMES.items():
            state[p + torch_name] = weights[p + name].T if name in TRANSPOSED else weights[p + name]
        attention = {
            k.removeprefix(p + "attention."): v
            for k, v in weights.items()
            if k.startswith(p + "attention.")
        }
        state |= {f"{p}attention.{k}": v for k, v in porting.attention_to_torch(attention).items()}
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def load_neutral(model: Any, weights: Mapping[str, np.ndarray]) -> None:
    """Load a neutral GPT's weights into ``model`` (a ``GPT`` of the same sizes), in its dtype."""
    dtype = next(model.parameters()).dtype
    model.load_state_dict(
        {name: torch.as_tensor(value, dtype=dtype) for name, value in state_dict(weights).items()},
        strict=True,
    )


# --- LayerNorm's defaults, which exercise 4's check names when a learner falls back on them ---

#: the ε a LayerNorm layer uses when none is given
LAYER_NORM_EPSILON = 1e-5
#: where an unbiased variance comes from unasked, as a hint's aside (nothing in Keras)
UNBIASED_BY_DEFAULT = ", torch.var's and Tensor.var's default"


# --- what checks.attention switches off where an exercise says "by hand" ---------------------


def fused_attention() -> list[Target]:
    """PyTorch's fused attention (exercise 1 asks for attention in tensor operations)."""
    functional = torch.nn.functional
    return [
        (
            functional,
            "scaled_dot_product_attention",
            "torch.nn.functional.scaled_dot_product_attention",
        ),
        (torch.nn.MultiheadAttention, "forward", "nn.MultiheadAttention"),
    ]


def layer_norm() -> list[Target]:
    """PyTorch's LayerNorm (exercise 4 asks for it by hand); ``nn.LayerNorm`` calls
    ``F.layer_norm``, so switching that off covers the module too."""
    return [
        (torch.nn.functional, "layer_norm", "torch.nn.functional.layer_norm (or nn.LayerNorm)"),
        (torch, "layer_norm", "torch.layer_norm"),
        (torch.nn.functional, "group_norm", "torch.nn.functional.group_norm"),
    ]
