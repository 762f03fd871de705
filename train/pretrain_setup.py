"""What a pretraining run settles before its first step: the `Run` record the loop carries,
and the steps that fill it in order: `set_up` (device, processes, seeds, the step budget,
optimizer, output paths), `check_fits` (examples no longer than the model takes), then either
`start_fresh` (refusing to overwrite an earlier run) or `resume` (the newest checkpoint, after
checking it was written with the same settings and data).

Follows `train/pretrain.py`'s module docstring for the recipe and the meaning of a step; the
loop itself, the checkpoint writing and the outputs stay there.

Left out: anything that runs once training has started.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.nn.parallel import DistributedDataParallel

from train import ddp, objectives, spelling
from train.device import pick_device, resolve_precision
from train.optim import Optimization, set_up_optimization
from train.resume import ResumeError, latest_checkpoint, load_checkpoint, restore_model, restore_rng
from train.training_log import MetricsLog

if TYPE_CHECKING:
    from train.pretrain import PretrainArgs

# Run settings a checkpoint must agree with, or the resumed batches would differ (or, for the
# last three, the optimizer and schedule loaded from it would silently override the new ones);
# the data's own (`loader.data_settings`: examples, block size, corpus, masking) join them.
MUST_MATCH = ("objective", "batch_size", "grad_accum", "seed", "shuffle", "epochs", "max_steps",
              "lr", "warmup_steps", "weight_decay")


@dataclass
class Run:
    """Everything one pretraining run carries from step to step; the step functions here
    and in `train/pretrain.py` read and update it. `step` counts optimizer steps, `consumed`
    micro-batches."""
    args: PretrainArgs
    model: torch.nn.Module
    net: torch.nn.Module  # the model, DDP-wrapped when there are several processes
    forward: Callable  # `net`, compiled on request
    opt: Optimization  # AdamW, its schedule, fp16's GradScaler (train/optim.py)
    device: torch.device
    info: ddp.DistInfo
    settings: dict
    n: int  # examples in the dataset
    per_epoch: int  # micro-batches per epoch
    total_micro: int
    total_steps: int
    out: Path | None
    ckpt_root: Path | None
    metrics: MetricsLog | None
    precision: str  # fp32 | bf16 | fp16, resolved from args.precision
    stream: Iterator[dict[str, torch.Tensor]] | None = None  # this rank's micro-batches
    step: int = 0
    consumed: int = 0
    losses: list[float] = field(default_factory=list)
    tokens_seen: int = 0
    time_spent: float = 0.0


def set_up(model: torch.nn.Module, n: int, args: PretrainArgs, data: dict) -> Run:
    """Device and processes, seeds, the step budget, optimizer, schedule and output paths;
    `data`: what the batches depend on (`loader.data_settings`), checked on resume."""
    objectives.check_objective(args.objective)
    if args.objective == "causal" and not getattr(model.config, "is_decoder", True):
        raise ValueError("objective 'causal' needs a model built with config.is_decoder=True")
    device = pick_device(args.device, spelling.name(args.front_end, "device"))
    info = ddp.init_from_env(device)
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
    # Dropout draws from torch's global RNG: seeded here, per rank, and checkpointed.
    torch.manual_seed(args.seed + info.rank)
    random.seed(args.seed)
    per_epoch, total_micro, total_steps = budget(n, args, drop_last=info.enabled)
    model.to(device).train()
    precision, why = resolve_precision(args.precision, device)
    opt = set_up_optimization(model, lr=args.lr, weight_decay=args.weight_decay,
                              total_steps=total_steps,
                              warmup_steps=min(args.warmup_steps, total_steps),
                              precision=precision, device=device)
    net = DistributedDataParallel(model) if info.enabled else model
    if info.is_main:
        print(f"precision {precision} ({why}){'; torch.compile' if args.compile else ''}")
    out = Path(args.out_dir) if args.out_dir else None
    return Run(
        # dynamic shapes: batches of different lengths share one compiled graph
        args=args, model=model, net=net,
        forward=torch.compile(net, dynamic=True) if args.compile else net,
        opt=opt, precision=precision, device=device, info=info,
        settings={k: getattr(args, k) for k in MUST_MATCH} | data,
        n=n, per_epoch=per_epoch, total_micro=total_micro, total_steps=total_steps,
        out=out, ckpt_root=out / "checkpoints" if out else None,
        metrics=MetricsLog(out / "metrics.jsonl") if out and info.is_main else None)


def budget(n: int, args: PretrainArgs, drop_last: bool) -> tuple[int, int, int]:
    """(micro-batches per epoch, micro-batches in all, optimizer steps). Under DDP every rank
    needs rows in every batch, so a last partial batch is dropped."""
    per_epoch = n // args.batch_size if drop_last else math.ceil(n / args.batch_size)
    if per_epoch < 1:
        batch = spelling.assign(args.front_end, "batch_size", args.batch_size)
        raise ValueError(f"the dataset has {n} examples, fewer than {batch}; lower the batch "
                         f"size or add data")
    total_micro = args.epochs * per_epoch
    total_steps = math.ceil(total_micro / args.grad_accum)
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    return per_epoch, total_micro, total_steps


def check_fits(model: torch.nn.Module, width: int | None) -> None:
    """Refuse examples longer than the model's position table before the first step, rather
    than at the step whose batch first holds one (on a GPU, as a device-side assert).
    width: the longest example (`RankBatches.width`); None when the loader did not measure it."""
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    embeddings = getattr(base, "embeddings", None)
    if width is None or embeddings is None or width <= embeddings.max_length:
        return
    P = model.config.max_position_embeddings
    raise ValueError(f"the dataset has examples of up to {width} tokens, but "
                     f"{type(model).__name__} takes at most {embeddings.max_length} "
                     f"(max_position_embeddings={P}); cut the examples shorter (block_size) "
                     f"or build the model with max_position_embeddings >= "
                     f"{P + width - embeddings.max_length}")


def start_fresh(run: Run) -> None:
    """Refuse to overwrite an earlier run's checkpoints; start an empty metrics log."""
    if run.ckpt_root and latest_checkpoint(run.ckpt_root):
        again = spelling.assign(run.args.front_end, "resume", True)
        raise ResumeError(f"{run.ckpt_root} already holds checkpoints; pass {again} to "
                          f"continue that run, or choose another output folder")
    if run.metrics:
        run.metrics.truncate_after(0)


def resume(run: Run) -> None:
    """Load the newest checkpoint: weights, optimizer, schedule, scaler, every RNG and the
    position in the data, after checking it was written with the same run settings."""
    found = latest_checkpoint(run.ckpt_root) if run.ckpt_root else None
    if found is None:
        asked = spelling.assign(run.args.front_end, "resume", True)
        raise ResumeError(f"{asked}: no checkpoint under {run.ckpt_root}")
    state = load_checkpoint(found)
    for k, v in run.settings.items():
        if state["settings"].get(k, v) != v:  # (a key older checkpoints lack is not checked)
            # a loop setting is named as the caller sets it; the data's keys stay as recorded
            same = spelling.name(run.args.front_end, k) if k in MUST_MATCH else None
            raise ResumeError(f"{found}: was written with {k}={state['settings'].get(k)!r}, "
                              f"this run has {k}={v!r}; resume with the same "
                              f"{same or 'settings'}")
    restore_model(run.model, state, found, run.args.front_end)
    run.opt.load_state_dict(state)
    restore_rng(state["rng"], rank=run.info.rank)
    run.step, run.consumed, run.losses = state["step"], state["position"], list(state["losses"])
    if run.metrics:
        run.metrics.truncate_after(run.step)
    if run.info.is_main:
        done = "; the run had finished, nothing is left to train" \
            if run.step >= run.total_steps else ""
        print(f"resumed from {found} (step {run.step}/{run.total_steps}){done}")
