"""Multi-head self-attention, written out step by step, plus the fast path.

    Q, K, V = x Wq, x Wk, x Wv              project, then split H into nh heads of hs
    A = softmax(Q K^T / sqrt(hs) + bias)    bias: 0 where a key may be seen, very negative if not
    out = LayerNorm(x + dropout(merge_heads(dropout(A) V) Wo))

Follows Vaswani et al. 2017 section 3.2 and the BERT layout (Devlin et al. 2018), where the
output projection, dropout, residual and LayerNorm live in `attention.output`. Attribute names
are the checkpoint keys: `attention.self.query/key/value`, `attention.output.dense/LayerNorm`.

Three paths compute the same thing (tests check each against the first within 1e-5 in fp32):
  * reference: the formula above in plain tensor ops; returns the probabilities A, for
    teaching and attention plots;
  * fast (default when probabilities are not asked for): Q, K and V (from one matmul
    against the stacked weights when a gradient will be taken), then
    torch.nn.functional.scaled_dot_product_attention, which fuses scale, mask, softmax,
    dropout and the product with V and, where it can, never stores the (B, nh, T, T) matrix;
  * CPU training (dropout on, on the CPU): there SDPA cannot fuse anything, it falls back
    to the reference steps and draws its dropout mask the slow way. This path writes the
    steps out itself and saves three passes over the activations: 1/sqrt(hs) is folded
    into Wq and bq, dropout's 1/(1-p) into Wv and bv (both scale weights, not the
    (B, nh, T, hs) activations), and the dropout mask is minibert.dropout's cheap one.

The mask bias uses torch.finfo(dtype).min rather than -inf or a hard-coded -1e9: -1e9 does
not fit in fp16 (max 65504) and -inf turns a row with every key masked (a fully padded
sequence) into 0/0 = NaN. The finite minimum gives such a row a harmless uniform softmax.

Shapes: B batch, T sequence length, H hidden size, nh heads, hs head size (H = nh * hs).

Left out on purpose: cross-attention, relative position scores.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import BertConfig
from .dropout import dropout_add, keep_mask, keep_scale
from .kv_cache import LayerCache
from .linear import Linear, linear


def build_attention_bias(attention_mask: torch.Tensor | None, seq_len: int,
                         dtype: torch.dtype, causal: bool, past_length: int = 0,
                         device: torch.device | str | None = None) -> torch.Tensor | None:
    """The additive bias every layer shares, or None when there is nothing to mask.

    attention_mask: (B, P + T) with 1 for real tokens, 0 for padding, where P = past_length
    tokens are already in a key/value cache (minibert/kv_cache.py) and T = seq_len are new.
    Returns (B, 1, 1, P + T) for padding alone (broadcast over heads and queries),
    (B or 1, 1, T, P + T) once causal masking is in it. With causal=True, no padding and no
    past it returns None; the layers then mask causally themselves (SDPA's is_causal flag
    needs no tensor at all). With a past, the causal part is always in the tensor, since
    is_causal would line the queries up with the first keys instead of the last.
    """
    padded = attention_mask is not None and not bool(attention_mask.all())
    if attention_mask is not None and (attention_mask.dim() != 2
                                       or attention_mask.shape[-1] != past_length + seq_len):
        raise ValueError(f"attention_mask must be (batch, {past_length + seq_len}) of 0/1, "
                         f"got shape {tuple(attention_mask.shape)}")
    need_causal = causal and past_length > 0 and seq_len > 1
    if not padded and not need_causal:
        return None
    if attention_mask is not None:
        device = attention_mask.device
    allowed = torch.ones(1, 1, 1, past_length + seq_len, dtype=torch.bool, device=device)
    if padded:
        allowed = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, P + T)
    if causal:
        # Query i sits at position P + i and may see keys 0 .. P + i.
        tri = torch.ones(seq_len, past_length + seq_len, dtype=torch.bool,
                         device=device).tril(past_length)
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
        self.query = Linear(H, H)
        self.key = Linear(H, H)
        self.value = Linear(H, H)
        self.dropout_p = config.attention_probs_dropout_prob
        self.dropout = nn.Dropout(self.dropout_p)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_size).transpose(1, 2)  # (B, nh, T, hs)

    def reference(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                  bias: torch.Tensor | None, causal: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention as in the paper; returns (context (B, nh, T, hs), probs (B, nh, T, T))."""
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size)  # (B, nh, T, T)
        if bias is not None:
            scores = scores + bias
        elif causal:
            T = q.size(-2)
            future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
            scores = scores.masked_fill(future, torch.finfo(scores.dtype).min)
        probs = scores.softmax(dim=-1)
        return self.dropout(probs) @ v, probs

    def project_separately(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Q, K, V from the three projections, each split into heads: 3 x (B, nh, T, hs)."""
        return tuple(self.split_heads(lin(x)) for lin in (self.query, self.key, self.value))

    def project_qkv(self, x: torch.Tensor, q_scale: float = 1.0,
                    v_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K, V in one matmul against the three weights stacked (3H, H).

        Same numbers as three separate projections (a test checks). It pays in training:
        the backward pass computes one input gradient instead of three and adds none
        (bench/RESULTS.md); in inference, where stacking the weights is a copy of them for
        nothing, forward uses project_separately instead. The weights stay three Parameters, so
        checkpoint keys do not change. q_scale and v_scale multiply Q and V, by scaling
        their (H, H) weights rather than their (B, T, H) outputs.
        """
        B, T, _ = x.shape
        wq, bq, wv, bv = self.query.weight, self.query.bias, self.value.weight, self.value.bias
        if q_scale != 1.0:
            wq, bq = wq * q_scale, bq * q_scale
        if v_scale != 1.0:
            wv, bv = wv * v_scale, bv * v_scale
        w = torch.cat([wq, self.key.weight, wv])  # (3H, H)
        b = torch.cat([bq, self.key.bias, bv])  # (3H,)
        qkv = linear(x, w, b).view(B, T, 3, self.num_heads, self.head_size)  # (B, T, 3, nh, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, nh, T, hs)
        return q, k, v

    def cpu_training(self, x: torch.Tensor, bias: torch.Tensor | None,
                     causal: bool) -> torch.Tensor:
        """The CPU training path: the reference steps with both scales folded into weights."""
        p = self.dropout_p
        q, k, v = self.project_qkv(x, q_scale=1.0 / math.sqrt(self.head_size),
                                   v_scale=keep_scale(p))  # 3 x (B, nh, T, hs)
        scores = q @ k.transpose(-1, -2)  # (B, nh, T, T), already divided by sqrt(hs)
        # In place is safe: a matmul does not need its own output for backward.
        if bias is not None:
            scores += bias
        elif causal:
            T = q.size(-2)
            future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
            scores.masked_fill_(future, torch.finfo(scores.dtype).min)
        probs = scores.softmax(dim=-1)
        # Dropout without its 1/(1-p): that factor is already in v.
        return (probs * keep_mask(probs.shape, p, probs.device)) @ v  # (B, nh, T, hs)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None, causal: bool = False,
                output_attentions: bool = False, cache: LayerCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, H) -> context (B, T, H), probabilities (B, nh, T, T) or None.

        With a cache, x holds only the new tokens: their keys and values are appended and
        the queries attend over every cached position (the bias must cover them all).
        """
        B, T, H = x.shape
        probs = None
        device = x.device.type
        scores_dtype = (torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device)
                        else x.dtype)
        if bias is not None and bias.dtype != scores_dtype:
            # Under autocast the bias is fp32 but the scores are bf16/fp16, where fp32's
            # minimum would round to -inf: clamp to the smaller type's own minimum first.
            bias = bias.clamp(min=torch.finfo(scores_dtype).min).to(scores_dtype)
        if output_attentions:
            q, k, v = self.project_separately(x)
            if cache is not None:
                k, v = cache.append(k, v)  # (B, nh, P + T, hs)
            context, probs = self.reference(q, k, v, bias, causal)
        elif (self.training and 0.0 < self.dropout_p < 1.0 and device == "cpu"
              and cache is None):
            context = self.cpu_training(x, bias, causal)
        else:
            # Stacking the weights costs a copy of them per call; it pays back only in backward.
            q, k, v = (self.project_qkv(x) if torch.is_grad_enabled()
                       else self.project_separately(x))
            if cache is not None:
                k, v = cache.append(k, v)  # (B, nh, P + T, hs)
            context = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, dropout_p=self.dropout_p if self.training else 0.0,
                is_causal=causal and bias is None)  # (B, nh, T, hs)
        context = context.transpose(1, 2).reshape(B, T, H)  # merge heads: (B, T, H)
        return context, probs


class AttentionOutput(nn.Module):
    """`attention.output`: project the merged heads, dropout, add the residual, LayerNorm."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, context: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        h = dropout_add(self.dense(context), residual, self.dropout.p, self.training)
        return self.LayerNorm(h)


class Attention(nn.Module):
    """`attention`: the sublayer of a BERT layer (post-LN: the norm comes after the add)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = SelfAttention(config)
        self.output = AttentionOutput(config)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None, causal: bool = False,
                output_attentions: bool = False, cache: LayerCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, probs = self.self(x, bias, causal, output_attentions, cache)
        return self.output(context, x), probs
