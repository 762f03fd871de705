"""The pretraining loop: masked LM (+NSP) or causal LM from scratch, resumable, on 1..N devices.

One optimizer step = `grad_accum` micro-batches of `batch_size` examples each (the global
batch, split across DDP ranks). Every dataset is fed by one loader (`train/data/loader.py`):
the order of epoch e is a permutation drawn from `seed` and e, each rank reads and collates
only its rows (in `num_workers` DataLoader processes), and micro-batch m is masked from a
generator seeded by `seed` and m. So the position in the data is a single number
(micro-batches consumed), and a run restarted from a checkpoint (model, optimizer, scheduler,
GradScaler, the global RNGs, that number) replays the same batches with the same masks: its
losses equal an uninterrupted run's exactly on CPU. The checkpoint also records the run's
settings and the data's (`loader.data_settings`); resuming with others is refused. Losses
are sums over targets divided by the step's global target count (see `train/objectives.py`),
so accumulation and DDP change nothing numerically.

Recipe: AdamW with no decay on biases / LayerNorm (`train/optim.py`), linear warmup then
linear decay, gradient clipping, bf16 autocast where the hardware has it (fp16 + GradScaler on
request), an optional `torch.compile` with dynamic shapes. Follows the BERT/RoBERTa papers
and the KantaiBERT chapter's Trainer settings; written as a plain loop over named steps so
every line can be read.

Safety: a NaN/inf loss or gradient norm stops the run before the optimizer step, naming the
step; Ctrl-C (or SIGTERM) finishes the step, writes a checkpoint and exits (twice: quit at
once, unsaved). Checkpoints are written atomically every `save_every` steps and at the end;
the newest `keep` are kept.

Left out on purpose: evaluation during training, early stopping, EMA weights.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from minibert.checkpoint import save_model_and_tokenizer
from train import ddp, objectives, spelling
from train.data.loader import RankBatches, data_settings, rank_stream
from train.device import autocast, pick_device, resolve_precision
from train.interrupts import Interrupts
from train.optim import (  # noqa: F401  (NonFiniteLossError: raised here, caught by callers)
    NonFiniteLossError,
    Optimization,
    check_finite,
    check_weights,
    optimizer_step,
    set_up_optimization,
)
from train.resume import (
    ResumeError,
    capture_rng,
    latest_checkpoint,
    load_checkpoint,
    model_config,
    restore_model,
    restore_rng,
    save_checkpoint,
)
from train.training_log import MetricsLog


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
    sparse_prediction: bool = True  # masked LM: the output layer only at scored positions
    device: str = "auto"
    seed: int = 0
    shuffle: bool = True
    save_every: int = 0  # 0: only at the end (and on Ctrl-C)
    keep: int = 2
    log_every: int = 1
    resume: bool = False  # continue from the newest checkpoint in out_dir/checkpoints
    progress: bool = True
    plot: bool = True
    num_workers: int = 0  # DataLoader processes that build batches (0: this process)
    front_end: str = "python"  # how refusals name settings: cli | python | trainer (spelling.py)


@dataclass
class PretrainResult:
    losses: list[float] = field(default_factory=list)  # one per optimizer step, from step 1
    steps: int = 0
    tokens_per_second: float = 0.0
    out_dir: Path | None = None


def _diverged(args: PretrainArgs) -> str:
    """What to try when the loss or the weights stop being finite, in the caller's words."""
    return spelling.advice(args.front_end, ("a lower {}", "lr"),
                           ("fp32/bf16 instead of fp16", "precision"), ("{}", "max_grad_norm"))

# Run settings a checkpoint must agree with, or the resumed batches would differ (or, for the
# last three, the optimizer and schedule loaded from it would silently override the new ones);
# the data's own (`loader.data_settings`: examples, block size, corpus, masking) join them.
_MUST_MATCH = ("objective", "batch_size", "grad_accum", "seed", "shuffle", "epochs", "max_steps",
               "lr", "warmup_steps", "weight_decay")


@dataclass
class _Run:
    """Everything one pretraining run carries from step to step; the step functions below
    read and update it. `step` counts optimizer steps, `consumed` micro-batches."""
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


def pretrain(model: torch.nn.Module, dataset: Sequence, collate: Callable, args: PretrainArgs,
             *, tokenizer=None,
             on_step: Callable[[int, float], None] | None = None) -> PretrainResult:
    """Train `model` on `dataset` (a dataset of `train/data/datasets.py`, or any sequence of
    examples: Encodings, dicts with input_ids, lists of ids) batched by `collate` (see
    `train/data/loader.py`). Refused before the first step: a collator that makes the other
    objective's targets, examples longer than the model takes, and on resume a checkpoint
    written with other settings or data.

    on_step(step, loss) runs after each optimizer step; raising KeyboardInterrupt there acts
    like Ctrl-C (checkpoint, then re-raise)."""
    objectives.check_collator(args.objective, collate, model)
    run = set_up(model, len(dataset), args, data_settings(dataset, collate))
    batches = RankBatches(dataset, collate, batch_size=args.batch_size, per_epoch=run.per_epoch,
                          seed=args.seed, shuffle=args.shuffle, info=run.info)
    check_fits(model, batches.width)
    if args.resume:
        resume(run)
    else:
        start_fresh(run)
    # after resume: the stream starts at run.consumed
    run.stream = rank_stream(batches, run.consumed, run.total_micro, args.num_workers)
    bar = _progress_bar(run)
    at_boundary = True  # between optimizer steps: a checkpoint written now is exact
    try:
        with Interrupts() as interrupts:
            while run.step < run.total_steps:
                if ddp.any_rank(interrupts.requested, run.device, run.info):
                    raise KeyboardInterrupt  # every rank stops at the same step boundary
                at_boundary, t0 = False, time.perf_counter()
                batches, counts = build_batch(run)
                loss, lr = train_step(run, batches, counts)
                at_boundary = True
                log_step(run, bar, loss, lr, counts[-1].item(), time.perf_counter() - t0)
                if on_step is not None:
                    on_step(run.step, loss)
                if args.save_every and run.step % args.save_every == 0 \
                        and run.step < run.total_steps:
                    save(run)
    except KeyboardInterrupt:
        bar.close()
        save_on_interrupt(run, at_boundary)
        raise
    bar.close()
    save(run)
    if run.out and run.info.is_main:
        _write_outputs(model, tokenizer, run.out, run.losses, args)
    speed = run.tokens_seen / run.time_spent if run.time_spent else 0.0
    return PretrainResult(run.losses, run.step, speed, run.out)


# ---- the steps, in the order the loop takes them -----------------------------------------

def set_up(model: torch.nn.Module, n: int, args: PretrainArgs, data: dict) -> _Run:
    """Device and processes, seeds, the step budget, optimizer, schedule and output paths;
    `data`: what the batches depend on (`loader.data_settings`), checked on resume."""
    objectives.check_objective(args.objective)
    if args.objective == "causal" and not getattr(model.config, "is_decoder", True):
        raise ValueError("objective 'causal' needs a model built with config.is_decoder=True")
    device = pick_device(args.device)
    info = ddp.init_from_env(device)
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
    # Dropout draws from torch's global RNG: seeded here, per rank, and checkpointed.
    torch.manual_seed(args.seed + info.rank)
    random.seed(args.seed)
    per_epoch, total_micro, total_steps = _budget(n, args, drop_last=info.enabled)
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
    return _Run(
        # dynamic shapes: batches of different lengths share one compiled graph
        args=args, model=model, net=net,
        forward=torch.compile(net, dynamic=True) if args.compile else net,
        opt=opt, precision=precision, device=device, info=info,
        settings={k: getattr(args, k) for k in _MUST_MATCH} | data,
        n=n, per_epoch=per_epoch, total_micro=total_micro, total_steps=total_steps,
        out=out, ckpt_root=out / "checkpoints" if out else None,
        metrics=MetricsLog(out / "metrics.jsonl") if out and info.is_main else None)


def _budget(n: int, args: PretrainArgs, drop_last: bool) -> tuple[int, int, int]:
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


def start_fresh(run: _Run) -> None:
    """Refuse to overwrite an earlier run's checkpoints; start an empty metrics log."""
    if run.ckpt_root and latest_checkpoint(run.ckpt_root):
        again = spelling.assign(run.args.front_end, "resume", True)
        raise ResumeError(f"{run.ckpt_root} already holds checkpoints; pass {again} to "
                          f"continue that run, or choose another output folder")
    if run.metrics:
        run.metrics.truncate_after(0)


def resume(run: _Run) -> None:
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
            same = spelling.name(run.args.front_end, k) if k in _MUST_MATCH else None
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


def build_batch(run: _Run) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor]:
    """This rank's share of the step's micro-batches, on the device, and the counts
    (targets per loss part, then non-padding tokens) summed over the step and all ranks."""
    args = run.args
    batches, counts = [], torch.zeros(3 if args.objective == "bert" else 2)
    for _ in range(run.consumed, min(run.consumed + args.grad_accum, run.total_micro)):
        mine = next(run.stream)
        counts += torch.tensor([*objectives.target_counts(args.objective, mine).values(),
                                int(mine["attention_mask"].sum())], dtype=torch.float)
        batches.append({k: v.to(run.device, non_blocking=True) for k, v in mine.items()})
    return batches, ddp.all_reduce_sum(counts.to(run.device), run.info)


def train_step(run: _Run, batches: list[dict[str, torch.Tensor]], counts: torch.Tensor
               ) -> tuple[float, float]:
    """Forward and backward over the micro-batches, then one clipped optimizer step.
    Returns (the step's loss, the learning rate it used)."""
    args, info = run.args, run.info
    targets = counts[:-1].clamp(min=1)
    loss_value = torch.zeros((), device=run.device)
    for i, b in enumerate(batches):
        sync = i == len(batches) - 1 or not info.enabled
        with nullcontext() if sync else run.net.no_sync():
            with autocast(run.device, run.precision):
                out = run.forward(**objectives.forward_inputs(args.objective, b,
                                                              args.sparse_prediction))
                sums = objectives.loss_sums(args.objective, out, b)
            loss = sum(s / c for s, c in zip(sums.values(), targets))
            # DDP averages gradients over ranks; undo that so they add up.
            scaled = loss * info.world_size
            run.opt.scaler.scale(scaled).backward()
        loss_value += loss.detach()
    loss_value = ddp.all_reduce_sum(loss_value, info).item()
    check_finite(loss_value, "loss", run.step + 1, _diverged(args))
    lr = run.opt.optimizer.param_groups[0]["lr"]
    optimizer_step(run.opt, run.model.parameters(), args.max_grad_norm, run.step + 1,
                   _diverged(args))
    run.step, run.consumed = run.step + 1, run.consumed + len(batches)
    run.losses.append(loss_value)
    return loss_value, lr


def log_step(run: _Run, bar, loss: float, lr: float, tokens: float, seconds: float) -> None:
    """Progress bar, tokens per second, and a metrics.jsonl line every `log_every` steps."""
    run.tokens_seen, run.time_spent = run.tokens_seen + tokens, run.time_spent + seconds
    bar.update(1)
    bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", tok_s=f"{tokens / seconds:,.0f}")
    if run.metrics and (run.step % run.args.log_every == 0 or run.step == run.total_steps):
        run.metrics.append({"step": run.step, "loss": loss, "lr": lr,
                            "tokens_per_second": tokens / seconds,
                            "epoch": run.consumed / run.per_epoch})


def save(run: _Run) -> None:
    """An atomic checkpoint of everything `resume` needs; under DDP every rank's dropout RNG
    is gathered to the main process, which writes it."""
    if run.ckpt_root is None:
        return
    check_weights(run.model, run.step, _diverged(run.args))
    info = run.info
    rng_now = ddp.all_gather_stack(torch.get_rng_state().to(run.device), info).cpu()  # (W, S)
    if info.is_main:
        state = {"step": run.step, "position": run.consumed, "losses": list(run.losses),
                 "settings": run.settings, "model": run.model.state_dict(),
                 "config": model_config(run.model), **run.opt.state_dict(),
                 "rng": capture_rng(torch_states=rng_now),
                 "args": {k: v for k, v in asdict(run.args).items()
                          if v is not None and k != "front_end"}}
        save_checkpoint(run.ckpt_root, state, keep=run.args.keep)
    ddp.barrier(info)


def save_on_interrupt(run: _Run, at_boundary: bool) -> None:
    """After Ctrl-C: a checkpoint if the run stopped between steps, and a line saying what is
    on disk. A second Ctrl-C while the checkpoint is written stops the write; the write is
    atomic, so the checkpoints already there are untouched."""
    if at_boundary:
        try:
            save(run)
            if run.info.is_main and run.ckpt_root:
                print(f"interrupted: checkpoint written at step {run.step} under "
                      f"{run.ckpt_root}; run again with "
                      f"{spelling.assign(run.args.front_end, 'resume', True)} to continue")
            return
        except KeyboardInterrupt:
            pass
    if run.info.is_main and run.ckpt_root:
        newest = latest_checkpoint(run.ckpt_root)
        kept = f"the newest checkpoint is {newest}" if newest else "no checkpoint was written"
        print(f"interrupted before step {run.step + 1} finished or was saved; {kept}")


def _progress_bar(run: _Run):
    from tqdm.auto import tqdm

    return tqdm(total=run.total_steps, initial=run.step,
                disable=not (run.args.progress and run.info.is_main),
                desc=f"pretrain {run.args.objective}", dynamic_ncols=True)


def _write_outputs(model, tokenizer, out: Path, losses: list[float], args: PretrainArgs) -> None:
    """The finished model in Hugging Face layout, its tokenizer, and the loss curve."""
    if tokenizer is None:
        model.save_pretrained(out)
    else:
        save_model_and_tokenizer(model, tokenizer, out)
    if args.plot and losses:
        from train.plots import save_loss_curve

        steps = list(range(1, len(losses) + 1))
        save_loss_curve(out / "loss_curve.png", {f"{args.objective} train": (steps, losses)},
                        title=f"pretraining ({args.objective})")
