"""Dropout with a cheaper random mask, for training on the CPU.

    dropout(x) = x * keep / (1 - p),    keep ~ Bernoulli(1 - p), one draw per element

This is inverted dropout (Srivastava et al. 2014), the same function as torch.nn.Dropout.
Only the way the mask is drawn differs. torch's CPU dropout fills a float tensor with
Bernoulli samples and multiplies twice; on our 2-core test machine that costs about 6 ns
an element, 40 ms for one layer's attention probabilities at batch 32 x seq 128, more than
softmax, GELU and LayerNorm together. Training bert-base spent 6-7% of each step there
(bench/RESULTS.md).

Here the mask comes from raw random integers: one int64 from torch.randint gives four
16-bit integers u, and an element is kept when u >= round(p * 65536). Uniform 16-bit
integers make P(keep) = 1 - round(p * 65536) / 65536, so p is rounded to a multiple of
1/65536 (0.1 becomes 0.1000061). The scale uses that same rounded probability, so
E[dropout(x)] = x still holds exactly. The draw uses torch's generator like every other
torch op: torch.manual_seed, or an explicit `generator`, makes it repeat.

Two entry points serve the model:
  * dropout(x, p, training)                  the embeddings' dropout;
  * dropout_add(h, residual, p, training)    residual + dropout(h) in one torch.addcmul,
                                             before every LayerNorm in a layer.
Both are the reference torch.nn.functional.dropout when not training, when p is 0 or 1,
and on any device but the CPU (CUDA's dropout kernel is already one fused pass).

Left out on purpose: dropout masks that are not elementwise (DropPath, spatial dropout).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# A uint16 threshold compared in int16: shift both sides down by 2**15.
_SHIFT = 1 << 15
_LEVELS = 1 << 16


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must lie in [0, 1], got {p}")


def keep_probability(p: float) -> float:
    """The probability that keep_mask keeps an element: 1 - p rounded to a multiple of 2**-16."""
    _check_p(p)
    return 1.0 - round(p * _LEVELS) / _LEVELS


def keep_scale(p: float) -> float:
    """The factor dropout multiplies kept elements by, 1 / keep_probability(p)."""
    return 1.0 / keep_probability(p)


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu",
              generator: torch.Generator | None = None) -> torch.Tensor:
    """A bool tensor of `shape`, True with probability keep_probability(p), independently."""
    assert 0.0 < p < 1.0, f"keep_mask needs 0 < p < 1, got {p} (dropout handles 0 and 1)"
    n = math.prod(shape)
    words = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64,
                          device=device, generator=generator)
    u = words.view(torch.int16)[:n].view(shape)  # four 16-bit draws per int64
    return u >= round(p * _LEVELS) - _SHIFT


def _fast(x: torch.Tensor, p: float, training: bool) -> bool:
    _check_p(p)
    return training and 0.0 < p < 1.0 and x.device.type == "cpu"


def dropout(x: torch.Tensor, p: float, training: bool,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout; the cheap mask on the CPU, torch's dropout elsewhere."""
    if not _fast(x, p, training):
        return F.dropout(x, p, training)
    keep = keep_mask(x.shape, p, x.device, generator)
    return torch.mul(x, keep).mul_(keep_scale(p))


def dropout_add(h: torch.Tensor, residual: torch.Tensor, p: float, training: bool,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """residual + dropout(h). `h` must be a fresh activation: the slow path adds into it."""
    if not _fast(h, p, training):
        h = F.dropout(h, p, training)
        h += residual  # in place: neither a Linear nor dropout needs its output for backward
        return h
    keep = keep_mask(h.shape, p, h.device, generator)
    # One pass: residual + h * keep * scale. Autograd keeps the bool mask for backward.
    return torch.addcmul(residual, h, keep, value=keep_scale(p))
