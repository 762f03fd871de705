"""A BERT layer, the stack of them, and the pooler.

    a = LayerNorm(x + Dropout(SelfAttention(x) Wo))          `attention`
    y = LayerNorm(a + Dropout(GELU(a W1) W2))                `intermediate`, `output`

This is the post-LN Transformer encoder layer of Vaswani et al. 2017 as BERT uses it
(Devlin et al. 2018): the LayerNorm comes after each residual add. The feed-forward network
is split over two modules, `intermediate.dense` (H -> ffn, then GELU) and `output.dense`
(ffn -> H, then dropout, add, `output.LayerNorm`), because those are the checkpoint keys.
The pooler turns the first token's final vector into a sentence vector: tanh(h[CLS] Wp).

Shapes: B batch, T sequence length, H hidden size.

Left out on purpose: pre-LN, gradient checkpointing, cross-attention.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .attention import Attention, SublayerOutput
from .config import BertConfig
from .kv_cache import KVCache, LayerCache

# Hugging Face's names for activations. "gelu" is the exact erf form BERT was trained with.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
}


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(
            f"hidden_act {name!r} is not supported; choose one of {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


class Intermediate(nn.Module):
    """`intermediate`: the first half of the feed-forward network, H -> ffn, then GELU."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(x))  # (B, T, ffn)


class Layer(nn.Module):
    """`encoder.layer.{i}`: attention sublayer, then feed-forward sublayer."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        # `output`: ffn -> H, dropout, add the residual, LayerNorm, as attention.output ends.
        self.output = SublayerOutput(config, config.intermediate_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None,
                output_attentions: bool = False, cache: LayerCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, probs = self.attention(x, bias, output_attentions, cache)
        return self.output(self.intermediate(a), a), probs


class Encoder(nn.Module):
    """`encoder`: num_hidden_layers layers applied in turn."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False,
                cache: KVCache | None = None):
        """Returns (last hidden state, all hidden states or None, all attentions or None)."""
        hidden_states = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        for i, layer in enumerate(self.layer):
            x, probs = layer(x, bias, output_attentions,
                             cache[i] if cache is not None else None)
            if output_hidden_states:
                hidden_states.append(x)
            if output_attentions:
                attentions.append(probs)
        return (x, tuple(hidden_states) if hidden_states is not None else None,
                tuple(attentions) if attentions is not None else None)


class Pooler(nn.Module):
    """`pooler`: a sentence vector from the first token ([CLS] / <s>): tanh(h_0 Wp + b)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (B, H)
