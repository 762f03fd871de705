"""The pretraining loop: masked LM (+NSP) or causal LM from scratch, resumable, on 1..N devices.

One optimizer step = `grad_accum` micro-batches of `batch_size` examples each (the global
batch, split across DDP ranks). The data order of epoch e is a permutation drawn from
`seed` and e, and the position in the data is a single number (micro-batches consumed), so a
run restarted from a checkpoint (model, optimizer, scheduler, GradScaler, every RNG, that
number) replays the same batches with the same masks: its losses equal an uninterrupted
run's exactly on CPU. Losses are sums over targets divided by the step's global target count
(see `train/objectives.py`), so accumulation and DDP change nothing numerically.

Recipe: AdamW with no decay on biases / LayerNorm (`train/optim.py`), linear warmup then
linear decay, gradient clipping, bf16 autocast where the hardware has it (fp16 + GradScaler on
request), an optional `torch.compile` with dynamic shapes. Follows the BERT/RoBERTa papers and the KantaiBERT chapter's
Trainer settings; written as a plain loop so every line can be read.

Safety: a NaN/inf loss stops the run before the optimizer step (the weights stay finite) with
the step number; Ctrl-C finishes the current step, writes a checkpoint and exits (press twice
to quit at once, without saving). Checkpoints are written atomically every `save_every`
steps and at the end; the newest `keep` are kept.

Datasets on shards (`train/data/shard_datasets.py`) take another road to the same
properties: each rank reads only its rows and DataLoader workers collate them, with masks
seeded by the micro-batch number (`train/data/shard_loader.py`). In-memory datasets are
collated here, in the main process, so the collator's RNG can be checkpointed.

Left out on purpose: evaluation during training, early stopping, EMA weights.
"""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from train import ddp, objectives
from train.checkpointing import (
    CheckpointError,
    capture_rng,
    latest_checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from train.data.shard_datasets import ShardDataset
from train.data.shard_loader import RankBatches, rank_stream
from train.device import autocast, pick_device, resolve_precision
from train.optim import build_optimizer, linear_schedule
from train.training_log import MetricsLog


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the run stopped before corrupting the weights."""


@dataclass
class PretrainArgs:
    objective: str = "roberta"
    out_dir: str | None = None
    epochs: int = 1
    max_steps: int | None = None  # caps the number of optimizer steps (and the schedule)
    batch_size: int = 64  # examples per micro-batch, over all ranks together
    grad_accum: int = 1
    lr: float = 5e-5
    warmup_steps: int = 0
    weight_decay: float = 0.01
    max_grad_norm: float | None = 1.0
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    compile: bool = False
    device: str = "auto"
    seed: int = 0
    shuffle: bool = True
    save_every: int = 0  # 0: only at the end (and on Ctrl-C)
    keep: int = 2
    log_every: int = 1
    resume: bool = False  # continue from the newest checkpoint in out_dir/checkpoints
    progress: bool = True
    plot: bool = True
    num_workers: int = 2  # DataLoader processes that build batches, for datasets on shards


@dataclass
class PretrainResult:
    losses: list[float] = field(default_factory=list)  # one per optimizer step, from step 1
    steps: int = 0
    tokens_per_second: float = 0.0
    out_dir: Path | None = None


# Run settings a checkpoint must agree with, or the resumed batches would differ.
_MUST_MATCH = ("objective", "batch_size", "grad_accum", "seed", "shuffle", "epochs", "max_steps")


class _Interrupts:
    """First Ctrl-C: ask the loop to stop after the current step. Second: stop now."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to quit now)")

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _epoch_order(n: int, epoch: int, seed: int, shuffle: bool) -> torch.Tensor:
    if not shuffle:
        return torch.arange(n)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def _collator_generators(collate) -> dict[str, torch.Generator]:
    g = getattr(collate, "generator", None)
    return {"collator": g} if isinstance(g, torch.Generator) else {}


def pretrain(model: torch.nn.Module, dataset: Sequence, collate: Callable, args: PretrainArgs,
             *, tokenizer=None, generators: dict[str, torch.Generator] | None = None,
             on_step: Callable[[int, float], None] | None = None) -> PretrainResult:
    """Train `model` on `dataset` (a sequence of examples `collate` turns into a batch dict).

    generators: RNGs the data pipeline draws from, saved in checkpoints (default: the
    collator's `.generator`). on_step(step, loss) runs after each optimizer step; raising
    KeyboardInterrupt there acts like Ctrl-C (checkpoint, then re-raise)."""
    objectives.check_objective(args.objective)
    if args.objective == "causal" and not getattr(model.config, "is_decoder", True):
        raise ValueError("objective 'causal' needs a model built with config.is_decoder=True")
    device = pick_device(args.device)
    info = ddp.init_from_env(device)
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
    generators = _collator_generators(collate) if generators is None else generators
    # Dropout draws from torch's global RNG: seeded here, per rank, and checkpointed.
    torch.manual_seed(args.seed + info.rank)
    random.seed(args.seed)

    n = len(dataset)
    drop_last = info.enabled  # every rank needs rows in every batch
    per_epoch = n // args.batch_size if drop_last else math.ceil(n / args.batch_size)
    if per_epoch < 1:
        raise ValueError(f"the dataset has {n} examples, fewer than --batch-size "
                         f"{args.batch_size}; lower the batch size or add data")
    total_micro = args.epochs * per_epoch
    total_steps = math.ceil(total_micro / args.grad_accum)
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    model.to(device).train()
    optimizer = build_optimizer(model, args.lr, args.weight_decay)
    scheduler = linear_schedule(optimizer, min(args.warmup_steps, total_steps), total_steps)
    precision, why = resolve_precision(args.precision, device)
    if info.is_main:
        print(f"precision {precision} ({why}){'; torch.compile' if args.compile else ''}")
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    out = Path(args.out_dir) if args.out_dir else None
    ckpt_root = out / "checkpoints" if out else None
    metrics = MetricsLog(out / "metrics.jsonl") if out and info.is_main else None
    settings = {k: getattr(args, k) for k in _MUST_MATCH} | {"n_examples": n}

    step, consumed, losses = 0, 0, []
    if not args.resume and ckpt_root and latest_checkpoint(ckpt_root):
        raise CheckpointError(f"{ckpt_root} already holds checkpoints; pass --resume to continue "
                              f"that run, or choose another --out")
    if not args.resume and metrics:
        metrics.truncate_after(0)  # a fresh run starts a fresh log
    if args.resume:
        found = latest_checkpoint(ckpt_root) if ckpt_root else None
        if found is None:
            raise CheckpointError(f"--resume: no checkpoint under {ckpt_root}")
        state = load_checkpoint(found)
        for k, v in settings.items():
            if state["settings"].get(k) != v:
                raise CheckpointError(f"{found}: was written with {k}={state['settings'].get(k)!r}, "
                                      f"this run has {k}={v!r}; resume with the same settings")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        restore_rng(state["rng"], generators, rank=info.rank)
        step, consumed, losses = state["step"], state["position"], list(state["losses"])
        if metrics:
            metrics.truncate_after(step)
        if info.is_main:
            print(f"resumed from {found} (step {step}/{total_steps})")

    net = DistributedDataParallel(model) if info.enabled else model
    # dynamic shapes: batches of different lengths share one compiled graph
    forward = torch.compile(net, dynamic=True) if args.compile else net
    stream = None  # datasets on shards: this rank's rows only, built ahead by loader workers
    if isinstance(dataset, ShardDataset):
        stream = rank_stream(RankBatches(dataset, collate, batch_size=args.batch_size,
                                         per_epoch=per_epoch, seed=args.seed,
                                         shuffle=args.shuffle, info=info),
                             consumed, total_micro, args.num_workers)

    def save() -> None:
        if ckpt_root is None:
            return
        rng_now = torch.get_rng_state().to(device)  # nccl gathers only GPU tensors
        if info.enabled:  # every rank's dropout RNG, stacked (world, S)
            gathered = [torch.empty_like(rng_now) for _ in range(info.world_size)]
            torch.distributed.all_gather(gathered, rng_now)
            rng_now = torch.stack(gathered).cpu()
        else:
            rng_now = rng_now[None].cpu()
        if info.is_main:
            state = {"step": step, "position": consumed, "losses": list(losses),
                     "settings": settings, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "rng": capture_rng(generators, rng_now), "args": _plain_args(args)}
            if scaler is not None:
                state["scaler"] = scaler.state_dict()
            save_checkpoint(ckpt_root, state, keep=args.keep)
        ddp.barrier(info)

    def next_micro_batches() -> tuple[list[dict[str, torch.Tensor]], torch.Tensor]:
        """This rank's share of the step's micro-batches, on the device, and the counts
        (targets per loss part, then non-padding tokens) summed over the step and all ranks."""
        batches, counts = [], torch.zeros(3 if args.objective == "bert" else 2)
        for m in range(consumed, min(consumed + args.grad_accum, total_micro)):
            if stream is not None:
                mine = next(stream)
            else:
                epoch, index = divmod(m, per_epoch)
                order = _epoch_order(n, epoch, args.seed, args.shuffle)
                rows = order[index * args.batch_size:(index + 1) * args.batch_size].tolist()
                batch = collate([dataset[i] for i in rows])  # the global batch, on every rank
                mine = {k: v[ddp.shard_rows(len(rows), info)] for k, v in batch.items()}
            counts += torch.tensor([*objectives.target_counts(args.objective, mine).values(),
                                    int(mine["attention_mask"].sum())], dtype=torch.float)
            batches.append({k: v.to(device, non_blocking=True) for k, v in mine.items()})
        return batches, ddp.all_reduce_sum(counts.to(device), info)

    from tqdm.auto import tqdm

    bar = tqdm(total=total_steps, initial=step, disable=not (args.progress and info.is_main),
               desc=f"pretrain {args.objective}", dynamic_ncols=True)
    tokens_seen, time_spent, at_boundary = 0, 0.0, True
    try:
        with _Interrupts() as interrupts:
            while step < total_steps:
                stop = torch.tensor(float(interrupts.requested), device=device)
                if ddp.all_reduce_sum(stop, info).item() > 0:
                    raise KeyboardInterrupt
                at_boundary, t0 = False, time.perf_counter()
                batches, counts = next_micro_batches()
                targets, tokens = counts[:-1].clamp(min=1), counts[-1].item()
                loss_value = torch.zeros((), device=device)
                for i, b in enumerate(batches):
                    sync = i == len(batches) - 1 or not info.enabled
                    with nullcontext() if sync else net.no_sync():
                        with autocast(device, precision):
                            out_ = forward(**objectives.forward_inputs(args.objective, b))
                            sums = objectives.loss_sums(args.objective, out_, b)
                        loss = sum(s / c for s, c in zip(sums.values(), targets))
                        # DDP averages gradients over ranks; undo that so they add up.
                        scaled = loss * info.world_size
                        (scaler.scale(scaled) if scaler else scaled).backward()
                    loss_value += loss.detach()
                loss_value = ddp.all_reduce_sum(loss_value, info).item()
                if not math.isfinite(loss_value):
                    raise NonFiniteLossError(
                        f"step {step + 1}: loss is {loss_value}; stopping before the optimizer "
                        f"step (try a lower --lr, fp32/bf16 instead of fp16, or --max-grad-norm)")
                if scaler:
                    scaler.unscale_(optimizer)
                if args.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                lr = optimizer.param_groups[0]["lr"]
                if scaler:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step, consumed = step + 1, consumed + len(batches)
                losses.append(loss_value)
                at_boundary = True
                dt = time.perf_counter() - t0
                tokens_seen, time_spent = tokens_seen + tokens, time_spent + dt
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}", tok_s=f"{tokens / dt:,.0f}")
                if metrics and (step % args.log_every == 0 or step == total_steps):
                    metrics.append({"step": step, "loss": loss_value, "lr": lr,
                                    "tokens_per_second": tokens / dt,
                                    "epoch": consumed / per_epoch})
                if on_step is not None:
                    on_step(step, loss_value)
                if args.save_every and step % args.save_every == 0 and step < total_steps:
                    save()
    except KeyboardInterrupt:
        bar.close()
        if at_boundary:
            save()
            if info.is_main and ckpt_root:
                print(f"interrupted: checkpoint written at step {step} under {ckpt_root}; "
                      f"run again with --resume to continue")
        raise
    bar.close()
    save()
    result = PretrainResult(losses, step, tokens_seen / time_spent if time_spent else 0.0, out)
    if out and info.is_main:
        _write_outputs(model, tokenizer, out, losses, args)
    return result


def _plain_args(args: PretrainArgs) -> dict:
    return {k: v for k, v in asdict(args).items() if v is not None}


def _write_outputs(model, tokenizer, out: Path, losses: list[float], args: PretrainArgs) -> None:
    """The finished model in Hugging Face layout, its tokenizer, and the loss curve."""
    model.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save(out)
    if args.plot and losses:
        from train.plots import save_loss_curve

        steps = list(range(1, len(losses) + 1))
        save_loss_curve(out / "loss_curve.png", {f"{args.objective} train": (steps, losses)},
                        title=f"pretraining ({args.objective})")
