"""Multi-head self-attention, written out step by step, and the same computation fused.

    Q, K, V = x Wq, x Wk, x Wv              project, then split H into nh heads of hs
    A = softmax(Q K^T / sqrt(hs) + bias)    bias: 0 where a key may be seen, very negative if not
    out = LayerNorm(x + dropout(merge_heads(dropout(A) V) Wo))

Follows Vaswani et al. 2017 section 3.2 and the BERT layout (Devlin et al. 2018), where the
output projection, dropout, residual and LayerNorm live in `attention.output`. Attribute names
are the checkpoint keys: `attention.self.query/key/value`, `attention.output.dense/LayerNorm`.

Two paths compute the same thing (tests check they agree within 1e-5 in fp32):
  * reference: the formula above in plain tensor ops; it runs when the probabilities A are
    asked for (output_attentions=True), for teaching and attention plots;
  * fused (otherwise): torch.nn.functional.scaled_dot_product_attention, which does the scale,
    mask, softmax, dropout and the product with V in one call and, where it can, never stores
    the (B, nh, T, T) matrix. Its fused kernels have no second derivative: for double
    backward (a gradient penalty), run under torch.nn.attention.sdpa_kernel(SDPBackend.MATH),
    PyTorch's own composite path, as tests/test_model_training_parity.py does.

The mask is built once per forward pass, in build_attention_bias, padding and causal parts
together; every layer adds the same tensor. It uses torch.finfo(dtype).min rather than -inf or
a hard-coded -1e9: -1e9 does not fit in fp16 (max 65504) and -inf turns a row with every key
masked (a fully padded sequence) into 0/0 = NaN. The finite minimum gives such a row a
harmless uniform softmax. Building it reads no tensor values, so torch.compile sees no host
sync and the graph does not break.

Shapes: B batch, T sequence length, H hidden size, nh heads, hs head size (H = nh * hs).

Left out on purpose: cross-attention, relative position scores.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import BertConfig
from .kv_cache import LayerCache


def scores_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype attention scores will have: autocast's (bf16/fp16) when it is on, else x's."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


def build_attention_bias(attention_mask: torch.Tensor | None, seq_len: int,
                         dtype: torch.dtype, causal: bool, past_length: int = 0,
                         device: torch.device | str | None = None) -> torch.Tensor | None:
    """The additive bias every layer shares, or None when there is nothing to mask.

    attention_mask: (B, P + T) with 1 for real tokens, 0 for padding, where P = past_length
    tokens are already in a key/value cache (minibert/kv_cache.py) and T = seq_len are new.
    Returns (B, 1, 1, P + T) for padding alone (broadcast over heads and queries),
    (B or 1, 1, T, P + T) once the causal part is in it: query i sits at position P + i and
    may see keys 0 .. P + i. None only without a mask in a bidirectional model.
    """
    if attention_mask is not None and (attention_mask.dim() != 2
                                       or attention_mask.shape[-1] != past_length + seq_len):
        raise ValueError(f"attention_mask must be (batch, {past_length + seq_len}) of 0/1, "
                         f"got shape {tuple(attention_mask.shape)}")
    if attention_mask is None and not causal:
        return None
    if attention_mask is not None:
        device = attention_mask.device
        allowed = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, P + T)
    else:
        allowed = torch.ones(1, 1, 1, past_length + seq_len, dtype=torch.bool, device=device)
    if causal:
        tri = torch.ones(seq_len, past_length + seq_len, dtype=torch.bool,
                         device=device).tril(past_length)  # (T, P + T)
        allowed = allowed & tri  # (B or 1, 1, T, P + T)
    bias = torch.zeros(allowed.shape, dtype=dtype, device=device)
    # masked_fill, not a sum of two biases: min + min would overflow to -inf.
    return bias.masked_fill(~allowed, torch.finfo(dtype).min)


class SelfAttention(nn.Module):
    """`attention.self`: projections, scores, softmax and the weighted sum of values."""

    def __init__(self, config: BertConfig):
        super().__init__()
        H = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_size = H // self.num_heads
        self.query = nn.Linear(H, H)
        self.key = nn.Linear(H, H)
        self.value = nn.Linear(H, H)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_size).transpose(1, 2)  # (B, nh, T, hs)

    def reference(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                  bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention as in the paper; returns (context (B, nh, T, hs), probs (B, nh, T, T))."""
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size)  # (B, nh, T, P + T)
        if bias is not None:
            scores = scores + bias
        probs = scores.softmax(dim=-1)
        return self.dropout(probs) @ v, probs

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None,
                output_attentions: bool = False, cache: LayerCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, H) -> context (B, T, H), probabilities (B, nh, T, P + T) or None.

        bias comes from build_attention_bias (padding and causal masking). With a cache, x
        holds only the new tokens: their keys and values are appended and the queries
        attend over every cached position (the bias must cover them all).
        """
        B, T, H = x.shape
        q, k, v = (self.split_heads(lin(x)) for lin in (self.query, self.key, self.value))
        if cache is not None:
            k, v = cache.append(k, v)  # (B, nh, P + T, hs)
        probs = None
        if output_attentions:
            context, probs = self.reference(q, k, v, bias)
        else:
            p = self.dropout.p if self.training else 0.0
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                                     dropout_p=p)  # (B, nh, T, hs)
        context = context.transpose(1, 2).reshape(B, T, H)  # merge heads: (B, T, H)
        return context, probs


class SublayerOutput(nn.Module):
    """How both sublayers of a BERT layer end (Vaswani's "Add & Norm" after a projection):
    dense in_size -> H, dropout, add the residual, LayerNorm. `attention.output` takes the
    merged heads (in_size H); the feed-forward `output` (minibert/layers.py) takes ffn."""

    def __init__(self, config: BertConfig, in_size: int):
        super().__init__()
        self.dense = nn.Linear(in_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(x)))  # (B, T, H)


class Attention(nn.Module):
    """`attention`: the sublayer of a BERT layer (post-LN: the norm comes after the add)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = SelfAttention(config)
        self.output = SublayerOutput(config, config.hidden_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None,
                output_attentions: bool = False, cache: LayerCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, probs = self.self(x, bias, output_attentions, cache)
        return self.output(context, x), probs
