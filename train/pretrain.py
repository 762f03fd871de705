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
every line can be read. The steps taken before the first (set-up, checks, resume) live in
`train/pretrain_setup.py`; the ones inside the loop and after it live here.

Safety: a NaN/inf loss or gradient norm stops the run before the optimizer step, naming the
step; Ctrl-C (or SIGTERM) finishes the step, writes a checkpoint and exits (twice: quit at
once, unsaved). Checkpoints are written atomically every `save_every` steps and at the end;
the newest `keep` are kept.

Left out on purpose: evaluation during training, early stopping, EMA weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from minibert.checkpoint import save_model_and_tokenizer
from train import ddp, objectives, spelling
from train.data.loader import RankBatches, data_settings, rank_stream
from train.device import autocast
from train.interrupts import Interrupts
from train.optim import (  # noqa: F401  (NonFiniteLossError: raised here, caught by callers)
    NonFiniteLossError,
    check_finite,
    check_weights,
    optimizer_step,
)
from train.pretrain_setup import Run, check_fits, resume, set_up, start_fresh
from train.resume import capture_rng, latest_checkpoint, model_config, save_checkpoint


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


# ---- the steps, in the order the loop takes them (the ones before the first step are in ---
# ---- train/pretrain_setup.py: set_up, check_fits, start_fresh or resume) -----------------

def build_batch(run: Run) -> tuple[list[dict[str, torch.Tensor]], torch.Tensor]:
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


def train_step(run: Run, batches: list[dict[str, torch.Tensor]], counts: torch.Tensor
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


def log_step(run: Run, bar, loss: float, lr: float, tokens: float, seconds: float) -> None:
    """Progress bar, tokens per second, and a metrics.jsonl line every `log_every` steps."""
    run.tokens_seen, run.time_spent = run.tokens_seen + tokens, run.time_spent + seconds
    bar.update(1)
    bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", tok_s=f"{tokens / seconds:,.0f}")
    if run.metrics and (run.step % run.args.log_every == 0 or run.step == run.total_steps):
        run.metrics.append({"step": run.step, "loss": loss, "lr": lr,
                            "tokens_per_second": tokens / seconds,
                            "epoch": run.consumed / run.per_epoch})


def save(run: Run) -> None:
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


def save_on_interrupt(run: Run, at_boundary: bool) -> None:
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


def _progress_bar(run: Run):
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
