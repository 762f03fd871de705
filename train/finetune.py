"""Fine-tuning a pretrained encoder for sentence classification (CoLA, or your own CSV).

Follows the recipe of Devlin et al. (2018, section 4) as taught by Chris McCormick's CoLA
tutorial: a fresh linear head on the pooled [CLS] vector, AdamW without weight decay on biases
and LayerNorm (`train/optim.py`), a linear learning-rate schedule, gradient clipping at 1.0,
10% of the training file held out for validation, and a table of per-epoch statistics.

Two changes make it fast without changing the maths of a batch:
  * dynamic padding: each batch is padded to its own longest sentence, not to a fixed 64;
    CoLA sentences average ~11 tokens, so a 64-wide batch is ~80% padding;
  * length bucketing: within windows of `bucket_batches` batches, sentences are sorted by
    length before batching, so a batch's members are similar in length (less padding still);
    the window contents and the batch order are shuffled from the run's seed every epoch.
Mixed precision (`precision`: bf16 autocast where the hardware computes it, `train/device.py`),
`compile` (torch.compile with dynamic shapes, so bucketed batches of many lengths share one
graph) and SDPA attention (the model's default) do the rest.

A run that diverges (a NaN or infinite loss, gradient norm or weight) stops at that step with
NonFiniteLossError (`train/optim.py`); nothing non-finite is ever kept or saved as the best.

Legend for shape comments: B = batch size, T = longest sequence in the batch, K = labels.
Left out on purpose: gradient accumulation, early stopping, multi-GPU (see train/ddp.py).
"""

from __future__ import annotations

import copy
import math
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from minibert.checkpoint import save_model_and_tokenizer
from tokenizer.atomic import atomic_dir
from train import spelling
from train.device import autocast, resolve_precision
from train.evaluate import predict_logits
from train.metrics import accuracy, matthews_corrcoef
from train.optim import (
    Optimization,
    check_finite,
    check_weights,
    optimizer_step,
    set_up_optimization,
)


@dataclass
class FinetuneConfig:
    lr: float = 2e-5
    epochs: int = 4
    batch_size: int = 32
    warmup: float = 0.0          # fraction of all steps spent warming up (0.1 = 10%)
    weight_decay: float = 0.01
    layer_decay: float = 1.0     # < 1: layer-wise lr decay (train/optim.py)
    eps: float = 1e-8
    clip: float = 1.0            # max gradient norm; 0 = no clipping
    max_length: int = 128        # truncation only; batches are padded to their own longest
    val_fraction: float = 0.1
    split_seed: int = 42         # the held-out 10% stay the same when --seeds vary
    seed: int = 42
    bucket_batches: int = 50     # 0 = no bucketing (plain shuffled batches)
    precision: str = "auto"      # auto | fp32 | bf16 | fp16 (train/device.py)
    compile: bool = False        # torch.compile the training forward pass (dynamic shapes)
    eval_batch_size: int = 64
    progress: bool = True
    front_end: str = "python"    # how refusals name settings: cli | python | trainer (spelling.py)


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    val_mcc: float
    train_time: float
    val_time: float


@dataclass
class FinetuneResult:
    epochs: list[EpochStats] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    best_epoch: int = 0
    total_time: float = 0.0


# ---- data -------------------------------------------------------------------------------

def encode(tokenizer, texts: list[str], pairs: list[str] | None, max_length: int) -> list:
    """Token ids without padding (padding happens per batch)."""
    items = list(zip(texts, pairs)) if pairs is not None else list(texts)
    return tokenizer.encode_batch(items, truncation=True, max_length=max_length)


def split_train_val(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Shuffle 0..n-1 with `seed`; the first `val_fraction` of them are held out."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_val = round(n * val_fraction)
    return sorted(order[n_val:]), sorted(order[:n_val])


def bucketed_batches(lengths: list[int], batch_size: int, bucket_batches: int,
                     rng: random.Random) -> list[list[int]]:
    """Index batches covering every example once. With bucket_batches > 0, each window of
    batch_size*bucket_batches shuffled examples is sorted by length before it is cut, so
    batches hold similar lengths; the batch order is shuffled so lengths are not curriculum."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if bucket_batches <= 0:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    window = batch_size * bucket_batches
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(tokenizer, encodings: list, labels: list[int] | None, index: list[int],
            device: torch.device) -> dict[str, torch.Tensor]:
    """Tensors for one batch, padded to its longest member."""
    batch = tokenizer.to_tensors([encodings[i] for i in index])  # each (B, T)
    out = {k: batch[k].to(device) for k in ("input_ids", "attention_mask", "token_type_ids")}
    if labels is not None:
        out["labels"] = torch.tensor([labels[i] for i in index], dtype=torch.long, device=device)
    return out


# ---- training ---------------------------------------------------------------------------

def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr,
                dynamic_ncols=True, mininterval=1.0)


def validate(model, tokenizer, encodings, labels, cfg: FinetuneConfig, device):
    """(mean loss, accuracy, MCC) on a labelled set, model in eval mode; NaNs for an empty
    set."""
    if not encodings:
        return math.nan, math.nan, math.nan
    logits = predict_logits(model, tokenizer, encodings, cfg.eval_batch_size, device,
                            cfg.precision)  # (N, K)
    target = torch.tensor(labels, dtype=torch.long)
    loss = torch.nn.functional.cross_entropy(logits, target).item()
    preds = logits.argmax(-1).tolist()
    return loss, accuracy(labels, preds), matthews_corrcoef(labels, preds)


def finetune(model, tokenizer, train_enc: list, train_labels: list[int], val_enc: list,
             val_labels: list[int], cfg: FinetuneConfig, device: torch.device,
             save_dir: str | Path | None = None, log=print,
             result: FinetuneResult | None = None) -> FinetuneResult:
    """Train `model` in place; afterwards it holds the weights of the best epoch by
    validation MCC, which are also saved (model, tokenizer) to `save_dir` when given.
    Pass your own `result` to still see the finished epochs if Ctrl-C stops the run, or if
    it diverges (a NaN or infinite loss, gradient norm or weight: NonFiniteLossError, raised
    before anything non-finite is kept)."""
    assert len(train_enc) == len(train_labels) > 0, "need labelled training examples"
    assert len(val_enc) == len(val_labels), "validation texts and labels differ in number"
    state = set_up(model, len(train_enc), cfg, device, log)
    rng = random.Random(cfg.seed)
    lengths = [len(e) for e in train_enc]
    result = result if result is not None else FinetuneResult()
    best_score, best_state = -math.inf, None
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        batches = bucketed_batches(lengths, cfg.batch_size, cfg.bucket_batches, rng)
        tensors = (collate(tokenizer, train_enc, train_labels, index, device) for index in batches)
        train_loss = train_epoch(model, tensors, len(batches), state, cfg,
                                 f"epoch {epoch}/{cfg.epochs}", result.batch_losses)
        # a model with a NaN or infinite weight is never validated, kept or saved as the best
        check_weights(model, len(result.batch_losses), _diverged(cfg))
        train_time, t1 = time.perf_counter() - t0, time.perf_counter()
        val_loss, val_acc, val_mcc = validate(model, tokenizer, val_enc, val_labels, cfg, device)
        stats = EpochStats(epoch, train_loss, val_loss, val_acc, val_mcc,
                           train_time, time.perf_counter() - t1)
        log_epoch(stats, log)
        result.epochs.append(stats)
        # without a validation set the last epoch counts as best
        score = val_mcc if val_enc else float(epoch)
        if score > best_score:
            best_score, result.best_epoch = score, epoch
            best_state = keep_best(model, tokenizer, save_dir)
    model.load_state_dict(best_state)
    model.eval()
    result.total_time = time.perf_counter() - start
    return result


@dataclass
class TrainState:
    """What a training step needs besides the model and the batch."""
    opt: Optimization              # AdamW, its schedule, fp16's GradScaler (train/optim.py)
    precision: str                 # fp32 | bf16 | fp16, resolved from cfg.precision
    forward: torch.nn.Module       # the model, or its torch.compile wrapper


def set_up(model, n_train: int, cfg: FinetuneConfig, device: torch.device,
           log=print, total_steps: int | None = None,
           warmup_steps: int | None = None) -> TrainState:
    """Move the model to the device; AdamW and the warmup-then-linear-decay schedule over
    every step of every epoch (or `total_steps`, warming up over `warmup_steps` instead of
    cfg.warmup's fraction); the precision (printed with the reason) and compilation."""
    model.to(device)
    if total_steps is None:
        total_steps = math.ceil(n_train / cfg.batch_size) * cfg.epochs
    if warmup_steps is None:
        warmup_steps = int(cfg.warmup * total_steps)
    precision, why = resolve_precision(cfg.precision, device)
    log(f"precision {precision} ({why}){'; torch.compile, dynamic shapes' if cfg.compile else ''}")
    opt = set_up_optimization(model, lr=cfg.lr, weight_decay=cfg.weight_decay,
                              total_steps=total_steps, warmup_steps=warmup_steps,
                              precision=precision, device=device, eps=cfg.eps,
                              layer_decay=cfg.layer_decay)
    forward = torch.compile(model, dynamic=True) if cfg.compile else model
    return TrainState(opt, precision, forward)


def train_epoch(model, batches: Iterable[dict[str, torch.Tensor]], n_batches: int,
                state: TrainState, cfg: FinetuneConfig, desc: str,
                losses: list[float]) -> float:
    """One pass over `batches` (dicts of tensors on the model's device, with labels; any
    iterable, e.g. a DataLoader); each batch's loss is appended to `losses` as it comes (so an
    interrupted run keeps them); returns the epoch's mean loss."""
    model.train()
    first = len(losses)
    bar = _progress(batches, n_batches, desc, cfg.progress)
    for batch in bar:
        losses.append(train_step(model, batch, state, cfg, step=len(losses) + 1))
        if cfg.progress:
            bar.set_postfix(loss=f"{sum(losses[first:]) / (len(losses) - first):.4f}")
    return sum(losses[first:]) / max(1, len(losses) - first)


def _diverged(cfg: FinetuneConfig) -> str:
    """What to try when the loss or the weights stop being finite, in the caller's words."""
    return spelling.advice(cfg.front_end, ("a lower {}", "lr"), ("{} nearer 1", "layer_decay"))


def train_step(model, batch: dict[str, torch.Tensor], state: TrainState,
               cfg: FinetuneConfig, step: int = 0) -> float:
    """Forward with labels (the model computes the loss), backward, clip, one step. A NaN or
    infinite loss or gradient norm raises NonFiniteLossError naming `step`, before the
    optimizer could write it into the weights."""
    with autocast(batch["input_ids"].device, state.precision):
        loss = state.forward(**batch).loss
    value = loss.item()
    check_finite(value, "loss", step, _diverged(cfg))
    state.opt.scaler.scale(loss).backward()
    optimizer_step(state.opt, model.parameters(), cfg.clip, step, _diverged(cfg))
    return value


def log_epoch(stats: EpochStats, log=print) -> None:
    log(f"epoch {stats.epoch}: train loss {stats.train_loss:.4f}  val loss {stats.val_loss:.4f}"
        f"  val acc {stats.val_accuracy:.3f}  val MCC {stats.val_mcc:.3f}  "
        f"({stats.train_time:.0f}s)")


def keep_best(model, tokenizer, save_dir: str | Path | None) -> dict:
    """A copy of the weights of the best epoch so far, also saved to `save_dir` if given.
    `finetune` checks them first (`check_weights`)."""
    if save_dir is not None:
        save_finetuned(model, tokenizer, save_dir)
    return copy.deepcopy(model.state_dict())


def save_finetuned(model, tokenizer, directory: str | Path, extra: dict | None = None) -> Path:
    """Model (config.json with id2label/label2id, model.safetensors) and tokenizer in one
    Hugging Face-layout folder, swapped in atomically."""
    import json

    def write(tmp: Path) -> None:
        save_model_and_tokenizer(model, tokenizer, tmp)
        if extra:
            (tmp / "finetune.json").write_text(json.dumps(extra, indent=2) + "\n", encoding="utf-8")

    return atomic_dir(directory, write)


# ---- reporting --------------------------------------------------------------------------

def stats_table(result: FinetuneResult) -> str:
    """The tutorial's training-statistics table, plus validation MCC."""
    head = (f"{'epoch':>5} | {'train loss':>10} | {'valid loss':>10} | {'valid acc':>9} | "
            f"{'valid MCC':>9} | {'train time':>10} | {'valid time':>10}")
    rows = [head, "-" * len(head)]
    for s in result.epochs:
        mark = " *" if s.epoch == result.best_epoch else ""
        rows.append(f"{s.epoch:>5} | {s.train_loss:>10.4f} | {s.val_loss:>10.4f} | "
                    f"{s.val_accuracy:>9.3f} | {s.val_mcc:>9.3f} | {_clock(s.train_time):>10} | "
                    f"{_clock(s.val_time):>10}{mark}")
    rows.append(f"* best epoch by validation MCC (kept); total {_clock(result.total_time)}")
    return "\n".join(rows)


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def save_curves(result: FinetuneResult, path: str | Path, title: str = "") -> Path:
    """Loss per batch, its per-epoch mean and the validation loss, on one step axis."""
    from train.plots import save_loss_curve

    steps = list(range(1, len(result.batch_losses) + 1))
    per_epoch = len(result.batch_losses) // max(1, len(result.epochs))
    ends = [per_epoch * s.epoch for s in result.epochs]
    curves = {"train loss per batch": (steps, result.batch_losses),
              "train loss per epoch": (ends, [s.train_loss for s in result.epochs])}
    if result.epochs and not math.isnan(result.epochs[0].val_loss):
        curves["validation loss per epoch"] = (ends, [s.val_loss for s in result.epochs])
    return save_loss_curve(path, curves, xlabel="training step (batch)", ylabel="loss",
                           title=title)


def config_dict(cfg: FinetuneConfig) -> dict:
    """The recipe's settings, as finetune.json records them (not how messages spell them)."""
    return {k: v for k, v in asdict(cfg).items() if k != "front_end"}
