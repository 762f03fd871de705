"""The linear layer, y = x W^T + b, with its matrix products done by oneDNN on the CPU.

At bert-base size nine tenths of a training step on the CPU is matrix products: each
Linear's forward (x W^T), its input gradient (g W) and its weight gradient (g^T x). In
stock PyTorch all three go to MKL's sgemm. oneDNN, the other CPU library every x86 build of
PyTorch carries, was 6-15% faster on our 2-core AMD EPYC machine for the forward
and input-gradient products at BERT's shapes, and mostly slower for the weight gradient
(bench/RESULTS.md has the table). So:

    forward          y  = x W^T + b   oneDNN   (torch.ops.mkldnn._linear_pointwise)
    input gradient   gx = g W         oneDNN   (the same op, with W^T as a strided view)
    weight gradient  gW = g^T x       MKL      (torch.mm, as nn.Linear)
    bias gradient    gb = sum of g over tokens

The arithmetic is fp32 in both libraries; only the order of the additions inside a product
differs, which moves results by about 1e-7 relative (a test checks against F.linear).

The fast path is for training only: when autograd records (a gradient will be taken).
Inference keeps MKL, so that under torch.no_grad() minibert's outputs are bit for bit those
of transformers, which also calls MKL (on the real all-MiniLM-L6-v2 weights the two differ
by 0.0; with oneDNN's order of additions they differ by about 1e-4 after six layers).
The oneDNN op is internal to PyTorch (TorchInductor uses it), so it is used only where it
exists and fits: an x86-64 CPU (where it was measured), float32, contiguous input, no
autocast. Everywhere else, and when ONEDNN_ENABLED is False, this is exactly
torch.nn.functional.linear, the reference path. On another CPU MKL may be the faster
library: `python bench/bench_model.py --ablate` times minibert with this path off too.

Left out on purpose: double backward (second derivatives go through F.linear only).
"""

from __future__ import annotations

import platform

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

# Read on every call, so a benchmark or a test can switch the fast path off and on.
ONEDNN_ENABLED = True


def _onednn_op():
    # Measured on x86-64 only; elsewhere (ARM builds link other BLAS libraries) F.linear stays.
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    ops = getattr(torch.ops, "mkldnn", None)
    if ops is None or not torch.backends.mkldnn.is_available():
        return None
    try:
        return ops._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


_LINEAR = _onednn_op()


def _onednn(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """x (N, in) @ w (out, in)^T + b, by oneDNN; w may be a strided view."""
    return _LINEAR(x, w, b, "none", [], "")


class _OneDNNLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        x, weight = ctx.saved_tensors  # x: (N, in), N = all leading dims
        g = g.contiguous()  # (N, out)
        need_x, need_w, need_b = ctx.needs_input_grad
        # (N, out) @ (out, in): oneDNN takes W^T as a view, no copy of the weight.
        gx = _onednn(g, weight.t(), None) if need_x else None
        gw = g.t() @ x if need_w else None  # (out, in)
        gb = g.sum(0) if (need_b and ctx.has_bias) else None
        return gx, gw, gb


def _records_grad(*tensors: torch.Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _fast_path(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    return (ONEDNN_ENABLED and _LINEAR is not None and _records_grad(x, weight, bias)
            and x.device.type == "cpu"
            and x.dtype == weight.dtype == torch.float32
            and (bias is None or bias.dtype == torch.float32)
            and x.dim() >= 2 and x.is_contiguous() and weight.is_contiguous()
            and weight.dim() == 2
            and not torch.is_autocast_enabled("cpu"))


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear's contract: x (..., in), weight (out, in), bias (out,) -> (..., out)."""
    if _fast_path(x, weight, bias):
        # The Function sees 2-D tensors; the view back to (..., out) is made out here, where
        # autograd can follow it (a view made inside may not be modified in place later).
        y = _OneDNNLinear.apply(x.reshape(-1, x.size(-1)), weight, bias)  # (N, out)
        return y.view(*x.shape[:-1], weight.size(0))  # (..., out)
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """nn.Linear with the product above: same parameters, same state-dict keys."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
