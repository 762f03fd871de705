"""Optimizer and learning-rate schedule shared by pretraining and fine-tuning.

Follows BERT's recipe (Devlin et al. 2018, and google-research/bert `optimization.py`):
AdamW with weight decay on the weight matrices only, linear warmup then linear decay to 0.
`get_linear_schedule_with_warmup` is the same schedule under transformers' name and step count.
Weight decay goes to the matrices only: a parameter named `weight` with two or more dimensions
outside a LayerNorm; biases and LayerNorm weights are left undecayed.

Both loops, pretraining and fine-tuning, set up with `set_up_optimization` (AdamW, the schedule,
and fp16's GradScaler, disabled and a no-op at other precisions) and end every step with
`optimizer_step`: unscale, clip (`clip_gradients`, which is also where a run that diverged, a
NaN or infinite gradient norm, is stopped before the optimizer writes it into the weights),
step the optimizer and the schedule, clear the gradients.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import nn


def parameter_groups(model: nn.Module, weight_decay: float, layer_decay: float = 1.0
                     ) -> list[dict]:
    """AdamW groups: decayed, every parameter named `weight` with two or more dimensions
    outside a LayerNorm (the Linear and Embedding matrices); undecayed, everything else
    (biases, LayerNorm weights). A shared (tied) parameter is listed once.

    layer_decay < 1 is layer-wise learning-rate decay (Clark et al. 2020, ELECTRA; Sun et al.
    2019): the head keeps the full rate, layer i of L gets layer_decay ** (L - i) of it and the
    embeddings layer_decay ** (L + 1), so the layers nearest the input, which hold the most
    general features, move least. Each group's `lr_scale` multiplies the optimizer's lr."""
    depth_of = _depths(model)
    top = max(depth_of.values(), default=0)
    # depth -> (decayed, undecayed); with layer_decay 1 everything sits at one depth
    groups: dict[int, tuple[list, list]] = {top: ([], [])}
    seen = set()
    for module_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            is_norm = isinstance(module, (nn.LayerNorm,))
            decayed = name == "weight" and not is_norm and p.dim() >= 2
            depth = depth_of.get(module_name, top) if layer_decay != 1.0 else top
            groups.setdefault(depth, ([], []))[0 if decayed else 1].append(p)
    scale = {d: layer_decay ** (top - d) for d in groups}
    return [g for d in sorted(groups) for g in (
        {"params": groups[d][0], "weight_decay": weight_decay, "lr_scale": scale[d]},
        {"params": groups[d][1], "weight_decay": 0.0, "lr_scale": scale[d]})]


def _depths(model: nn.Module) -> dict[str, int]:
    """Module name -> depth: embeddings 0, encoder layer i at i + 1, the rest (pooler, heads)
    one above the last layer."""
    layer = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)(?:\.|$)")
    depths, top = {}, 0
    for name, _ in model.named_modules():
        if m := layer.search(name):
            depths[name] = int(m.group(1)) + 1
            top = max(top, depths[name])
        elif name.endswith("embeddings") or ".embeddings." in name:
            depths[name] = 0
    for name, _ in model.named_modules():
        depths.setdefault(name, top + 1)
    return depths


def build_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.01,
                    eps: float = 1e-8, betas: tuple[float, float] = (0.9, 0.999),
                    layer_decay: float = 1.0) -> torch.optim.AdamW:
    """AdamW over `parameter_groups`, with torch's fused kernel where the device has one.

    Left to itself torch picks the one-tensor-at-a-time loop on CPU, several times slower per
    step for MiniLM (bench/RESULTS.md, "Fine-tuning on CoLA"). Same update rule, so the plain
    loop stays as the fallback (and as the reading reference in torch's docs).
    """
    groups = parameter_groups(model, weight_decay, layer_decay)
    for g in groups:
        g["lr"] = lr * g.pop("lr_scale")
    try:
        return torch.optim.AdamW(groups, lr=lr, eps=eps, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=lr, eps=eps, betas=betas)


def linear_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                    first_step_lr_zero: bool = False, last_epoch: int = -1
                    ) -> torch.optim.lr_scheduler.LambdaLR:
    """lr rises linearly over `warmup_steps`, then falls linearly to 0 at `total_steps`.

    Step s of the warmup runs at (s + 1) / warmup_steps of the lr, so no step is spent without
    learning. first_step_lr_zero=True counts as Hugging Face and Google's BERT do: step s runs
    at s / warmup_steps, the first at lr 0 (`get_linear_schedule_with_warmup`)."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be in [0, {total_steps}], got {warmup_steps}")
    offset = 0 if first_step_lr_zero else 1

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + offset) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch)


def get_linear_schedule_with_warmup(optimizer: torch.optim.Optimizer, num_warmup_steps: int,
                                    num_training_steps: int, last_epoch: int = -1
                                    ) -> torch.optim.lr_scheduler.LambdaLR:
    """transformers' name and call for `linear_schedule`, with its count (the first step at
    lr 0), so the tutorials' loops step through the same learning rates."""
    return linear_schedule(optimizer, num_warmup_steps, num_training_steps,
                           first_step_lr_zero=True, last_epoch=last_epoch)


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient norm became NaN or infinite: the run diverged, and it stopped
    before the optimizer step could spread the non-finite values into the weights."""


def check_finite(value: float, what: str, step: int, hint: str) -> None:
    """Raise NonFiniteLossError naming the step when `value` is NaN or infinite."""
    if not math.isfinite(value):
        raise NonFiniteLossError(f"step {step}: {what} is {value}; stopping before the "
                                 f"optimizer step ({hint})")


def check_weights(model: nn.Module, step: int, hint: str) -> None:
    """Raise NonFiniteLossError naming the step when a weight holds a NaN or an infinity, so
    that such a model is never kept, checkpointed or saved."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise NonFiniteLossError(f"step {step}: weight {name} holds NaN or infinite "
                                     f"values; it is not saved ({hint})")


def clip_gradients(parameters, max_norm: float | None, step: int, hint: str,
                   check: bool = True) -> float:
    """Scale the gradients so their global L2 norm is at most `max_norm` (0 or None: leave
    them) and return the norm before clipping. With `check`, a NaN or infinite norm raises
    NonFiniteLossError naming the step; fp16 runs pass check=False, since their GradScaler
    expects overflowing steps and skips them itself."""
    norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm or math.inf).item()
    if check:
        check_finite(norm, "gradient norm", step, hint)
    return norm


@dataclass
class Optimization:
    """What an optimizer step needs: AdamW, its learning-rate schedule, and the loss scaler."""
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    # fp16's narrow range needs loss scaling; at bf16 and fp32 the scaler is disabled, and
    # its scale / unscale_ / step / update then pass through unchanged.
    scaler: torch.amp.GradScaler

    def state_dict(self) -> dict:
        """The optimizer's, the schedule's and (fp16 only) the scaler's state, for a checkpoint."""
        state = {"optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict()}
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` saved (other keys of `state` are ignored)."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler.is_enabled() and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])


def set_up_optimization(model: nn.Module, *, lr: float, weight_decay: float, total_steps: int,
                        warmup_steps: int, precision: str, device: torch.device,
                        eps: float = 1e-8, layer_decay: float = 1.0) -> Optimization:
    """AdamW (`build_optimizer`) over the model's parameters, already on `device`; the warmup
    then linear decay over `total_steps` (`linear_schedule`); a GradScaler enabled for fp16
    (`precision` is resolved: fp32, bf16 or fp16)."""
    optimizer = build_optimizer(model, lr, weight_decay, eps, layer_decay=layer_decay)
    scheduler = linear_schedule(optimizer, warmup_steps, total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    return Optimization(optimizer, scheduler, scaler)


def optimizer_step(opt: Optimization, parameters, max_norm: float | None, step: int,
                   hint: str) -> float:
    """After the backward pass (of `opt.scaler.scale(loss)`): unscale the gradients, clip them to
    `max_norm`, step the optimizer and the schedule, clear the gradients. Returns the gradient
    norm before clipping. A NaN or infinite norm raises NonFiniteLossError naming `step`, unless
    fp16's scaler is on: it expects overflowing steps, and skips them itself."""
    opt.scaler.unscale_(opt.optimizer)  # clip the true gradients, not the scaled ones
    norm = clip_gradients(parameters, max_norm, step, hint, check=not opt.scaler.is_enabled())
    opt.scaler.step(opt.optimizer)
    opt.scaler.update()
    opt.scheduler.step()
    opt.optimizer.zero_grad(set_to_none=True)
    return norm
