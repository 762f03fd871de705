"""`minibert finetune cola|csv`: fine-tune a pretrained checkpoint and score it.

    minibert finetune cola --model all-MiniLM-L6-v2              # the main job (CPU, minutes)
    minibert finetune cola --model bert-base-uncased --recipe tutorial   # the tutorial's run
    minibert finetune csv --model DIR --train train.csv --text-col text --label-col target
    minibert finetune cola --seeds 1,2,3,4,5                      # mean ± std of MCC

Hyperparameters come from a recipe, and any flag you give overrides it:
  * tutorial: McCormick's (lr 2e-5, 4 epochs, batch 32, no warmup), right for bert-base;
  * small: lr 1e-4 with 10% warmup, 5 epochs, batch 32, for small checkpoints such as
    all-MiniLM-L6-v2 (hidden 384), which barely move at 2e-5 (the runs behind it are in
    bench/RESULTS.md, "Fine-tuning on CoLA");
  * auto (default): small when the checkpoint's hidden size is below 768, else tutorial.
(`--recipe seed` is an old name of tutorial, still accepted for one release with a note.)
The model and tokenizer classes come from the folder's config.json (`model_type` bert or
roberta, `minibert/auto.py`), so a KantaiBERT from `minibert pretrain` or a RoBERTa folder in
Hugging Face layout fine-tunes like BERT does.
--pooling mean (BERT only) classifies the mean of the last hidden states over real tokens
instead of the pooled [CLS] vector, the way sentence-embedding checkpoints such as
all-MiniLM-L6-v2 were trained. It is saved as config.json's `classifier_pooling` (ModernBERT's
key), so minibert reloads it; transformers' BertForSequenceClassification keeps the key but
does not act on it (it always classifies the pooler output), so it would give other logits.
--layer-decay D trains layer i of L at lr * D ** (L - i) (the head at lr).
What it writes to --out: the best checkpoint by validation MCC (model, tokenizer and label map
in Hugging Face layout, loadable by `minibert predict` and by transformers), loss_curve.png,
confusion_<set>.png and metrics.json. Ctrl-C (or SIGTERM) stops with one line naming the best
epoch so far (already saved) and writes metrics.json for the finished epochs; a run that
diverges (NaN loss, e.g. from too high an --lr) stops the same way, naming the step, with exit
code 2. Each numeric flag's range is in --help; --clip 0 turns clipping off.
Left out on purpose: hyperparameter search.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path

import torch

from minibert.hub import resolve_model_dir
from train.cli import errors, flags
from train.finetune import (
    FinetuneConfig,
    FinetuneResult,
    config_dict,
    encode,
    finetune,
    save_curves,
    split_train_val,
    stats_table,
)
from train.optim import NonFiniteLossError

RECIPES = {
    "tutorial": {"lr": 2e-5, "epochs": 4, "batch_size": 32, "warmup": 0.0, "layer_decay": 1.0},
    "small": {"lr": 1e-4, "epochs": 5, "batch_size": 32, "warmup": 0.1, "layer_decay": 1.0},
}
COLA_LABELS = ["unacceptable", "acceptable"]
# Old recipe names -> current ones, accepted for one release with a note on stderr.
DEPRECATED_RECIPES = {"seed": "tutorial"}


def recipe_name(value: str) -> str:
    """--recipe's value, an old name replaced by its current one (and a note saying so)."""
    if value in DEPRECATED_RECIPES:
        print(f"minibert: note: --recipe {value} is deprecated; use --recipe "
              f"{DEPRECATED_RECIPES[value]}", file=sys.stderr)
        return DEPRECATED_RECIPES[value]
    return value


def add_arguments(p) -> None:
    p.add_argument("task", choices=["cola", "csv"], help="CoLA, or your own CSV/TSV file")
    p.add_argument("--model", default="all-MiniLM-L6-v2",
                   help="a model folder (Hugging Face layout) or a known name")
    p.add_argument("--data", help="folder with cola/*.tsv (default $MINIBERT_DATA, else "
                   "../shared/data beside a checkout, else download)")
    p.add_argument("--out", help="output folder (default runs/finetune-TASK-MODEL)")
    p.add_argument("--train", help="csv: the training file")
    p.add_argument("--eval", nargs="*", default=[], help="csv: labelled files to score at the end")
    p.add_argument("--text-col", default="text", help="csv: text column(s), comma-separated")
    p.add_argument("--label-col", default="label", help="csv: label column")
    p.add_argument("--pair-col", help="csv: second-sentence column for pair tasks")
    p.add_argument("--recipe", type=recipe_name, choices=["auto", "tutorial", "small"],
                   default="auto", help="hyperparameters: tutorial (bert-base), small (hidden "
                   "size below 768), auto picks one by the checkpoint's hidden size")
    p.add_argument("--epochs", type=flags.whole(1))
    p.add_argument("--lr", type=flags.real(0, 1, low_open=True), help="peak learning rate")
    p.add_argument("--batch-size", type=flags.whole(1))
    p.add_argument("--warmup", type=flags.real(0, 1, high_open=True),
                   help="fraction of steps spent warming up, e.g. 0.1")
    p.add_argument("--pooling", choices=["cls", "mean"],
                   help="classify the pooled [CLS] vector or the mean of the last hidden states")
    p.add_argument("--layer-decay", type=flags.real(0, 1, low_open=True),
                   help="layer-wise lr decay: layer i of L trains at lr * decay ** (L - i)")
    p.add_argument("--weight-decay", type=flags.real(0, 1), default=0.01,
                   help="AdamW's decoupled weight decay")
    p.add_argument("--eps", type=flags.real(0, 1, low_open=True), default=1e-8,
                   help="AdamW's epsilon")
    p.add_argument("--clip", type=flags.real(0, note="0 turns clipping off"), default=1.0,
                   help="clip the gradients' global norm to this")
    p.add_argument("--max-length", type=flags.whole(3), default=None,
                   help="tokens per text (default 128, or the model's limit if smaller)")
    p.add_argument("--val-fraction", type=flags.real(0, 1, high_open=True), default=0.1,
                   help="share of --train held out to choose the best epoch")
    p.add_argument("--split-seed", type=flags.seed, default=42,
                   help="seed of the train/validation split")
    p.add_argument("--seeds", default="42",
                   help="comma-separated, all different; several give mean ± std")
    p.add_argument("--bucket-batches", type=flags.whole(0), default=50,
                   help="batches per length-sorted window; 0 turns bucketing off")
    flags.add_device_flags(p, precision_default="auto")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the training step (dynamic shapes; pays on GPUs)")
    p.add_argument("--threads", type=flags.whole(1, 1024),
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true")


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in (s.strip() for s in text.split(",")):
        if not part:
            continue
        try:
            seeds.append(flags.seed(part))
        except argparse.ArgumentTypeError as e:
            raise errors.UsageError(f"--seeds {text}: {e}") from None
    if not seeds:
        raise errors.UsageError("--seeds: give at least one seed")
    if len(set(seeds)) < len(seeds):
        twice = sorted({s for s in seeds if seeds.count(s) > 1})
        raise errors.UsageError(f"--seeds {text}: seed {twice[0]} is given twice; each seed "
                                f"trains one run into OUT/seed-N, so give different seeds")
    return seeds


def validate(args) -> None:
    """Every flag, before the model or the data is read (see train/cli/errors.py); the
    numbers' ranges were checked as they were parsed (train/cli/flags.py)."""
    from train.data.csv_file import distinct_columns

    parse_seeds(args.seeds)
    if args.task == "cola":
        given = [f for f, v in (("--train", args.train), ("--eval", args.eval),
                                ("--pair-col", args.pair_col)) if v]
        if given:
            raise errors.UsageError(f"finetune cola trains and scores on CoLA's own files; "
                                    f"{given[0]} is for `finetune csv`")
    if args.task == "csv":
        if not args.train:
            raise errors.UsageError("finetune csv: --train FILE is required")
        errors.files_exist([args.train], "--train")
        distinct_columns({"--text-col": args.text_col, "--label-col": args.label_col,
                          "--pair-col": args.pair_col})
    errors.files_exist(args.eval, "--eval")
    eval_names(args.eval)
    # folder, HF cache, bundled MiniLM, or the Hub: found once, here (--model keeps its
    # spelling for the names of the run's folder and plots)
    args.model_dir = resolve_model_dir(args.model)
    args.max_length = errors.fit_max_length(args.max_length, args.model_dir)
    args.out = args.out or f"runs/finetune-{args.task}-{Path(args.model).name}"


def eval_names(paths: list[str]) -> list[str]:
    """Each --eval file's name in the report, metrics.json and confusion_NAME.png: its stem,
    which must differ between files, or one file's results would replace another's."""
    seen: dict[str, str] = {}
    for path in paths:
        name = Path(path).stem
        if name in seen:
            raise errors.UsageError(f"--eval {seen[name]} and {path}: both would be reported "
                                    f"as {name!r} (confusion_{name}.png); give files with "
                                    f"different names")
        seen[name] = path
    return list(seen)


def input_paths(args) -> list[tuple[str, str]]:
    """What --out must keep clear of: the model, the data files, the CoLA folder."""
    from train.data.download import data_root

    found = [(args.model_dir, "--model"), (args.train, "--train")]
    found += [(path, "--eval") for path in args.eval]
    if args.task == "cola":
        found.append((data_root(args.data), "--data" if args.data else "the data folder"))
    return found


def output_dirs(args) -> list[tuple[str, str, str]]:
    """--out holds a sequence classifier of the input model's type (BERT or RoBERTa)."""
    from minibert import BertConfig
    from minibert.auto import model_class

    model_type = BertConfig.from_pretrained(args.model_dir).model_type
    return [(args.out, "--out", model_class(model_type, "cls").__name__)]


def load_task(args):
    """(train texts, pairs, labels, label names, {eval name: (texts, pairs, labels)})."""
    if args.task == "cola":
        from train.data.cola import cola_split
        from train.data.download import cola_dir

        root = cola_dir(args.data)
        train = cola_split(root, "in_domain_train")
        evals = {}
        for split in ("out_of_domain_dev", "in_domain_dev"):
            rows = cola_split(root, split)
            evals[split] = ([r.sentence for r in rows], None, [r.label for r in rows])
        return [r.sentence for r in train], None, [r.label for r in train], COLA_LABELS, evals
    from train.data.csv_file import check_classes, read_text_dataset

    ds = read_text_dataset(args.train, args.text_col, args.label_col, args.pair_col)
    check_classes(ds, args.train, args.label_col)
    names = [ds.id2label[i] for i in range(len(ds.label2id))]
    evals = {}
    for name, path in zip(eval_names(args.eval), args.eval):
        e = read_text_dataset(path, args.text_col, args.label_col, args.pair_col,
                              label2id=ds.label2id)
        evals[name] = (e.texts, e.pairs, e.labels)
    return ds.texts, ds.pairs, ds.labels, names, evals


def build_config(args, hidden_size: int, seed: int) -> tuple[FinetuneConfig, str]:
    recipe = args.recipe if args.recipe != "auto" else (
        "small" if hidden_size < 768 else "tutorial")
    chosen = dict(RECIPES[recipe])
    for key in ("epochs", "lr", "batch_size", "warmup", "layer_decay"):
        if getattr(args, key) is not None:
            chosen[key] = getattr(args, key)
    cfg = FinetuneConfig(weight_decay=args.weight_decay, eps=args.eps, clip=args.clip,
                         max_length=args.max_length, val_fraction=args.val_fraction,
                         split_seed=args.split_seed, seed=seed, bucket_batches=args.bucket_batches,
                         precision=args.precision, compile=args.compile,
                         progress=not args.no_progress, front_end="cli", **chosen)
    return cfg, recipe


def run(args) -> int:
    from minibert import BertConfig
    from minibert.auto import load_backend_tokenizer, model_class
    from train.device import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    model_dir = args.model_dir  # resolved by validate
    out = Path(args.out)
    texts, pairs, labels, names, evals = load_task(args)
    # BERT or RoBERTa: the class follows config.json's model_type, as transformers' Auto
    # classes choose it; the tokenizer follows the folder's files
    model_config = BertConfig.from_pretrained(model_dir)
    model_cls = model_class(model_config.model_type, "cls")
    tokenizer = load_backend_tokenizer(model_dir)
    errors.check_vocab(tokenizer, model_config, model_dir)
    encodings = encode(tokenizer, texts, pairs, args.max_length)
    errors.warn_unknown_rate(tokenizer, encodings, args.train or "the training set", model_config)
    eval_enc = {k: (encode(tokenizer, t, p, args.max_length), y) for k, (t, p, y) in evals.items()}
    hidden = model_config.hidden_size
    seeds = parse_seeds(args.seeds)
    summary: dict[str, list[float]] = {k: [] for k in evals}
    for n, seed in enumerate(seeds):
        cfg, recipe = build_config(args, hidden, seed)
        train_idx, val_idx = split_train_val(len(encodings), cfg.val_fraction, cfg.split_seed)
        if not train_idx:
            raise errors.UsageError(f"--val-fraction {cfg.val_fraction} holds out all "
                                    f"{len(encodings)} rows; lower it so some are left to train on")
        run_dir = out if len(seeds) == 1 else out / f"seed-{seed}"
        print(f"fine-tuning {model_dir} on {args.task} (recipe {recipe}: lr {cfg.lr}, "
              f"{cfg.epochs} epochs, batch {cfg.batch_size}, warmup {cfg.warmup:.0%}; seed {seed}; "
              f"{len(train_idx)} train / {len(val_idx)} validation; {device}, "
              f"{torch.get_num_threads()} threads)")
        # dropout and the new head's initial weights draw from torch's global generator, so
        # seed it from this run's explicit seed; nothing else here uses global randomness
        torch.manual_seed(seed)
        pooling = {"classifier_pooling": args.pooling} if args.pooling else {}
        model = model_cls.from_pretrained(
            model_dir, verbose=n == 0, num_labels=len(names), **pooling,
            id2label=dict(enumerate(names)), label2id={x: i for i, x in enumerate(names)})
        result = FinetuneResult()
        try:
            finetune(model, tokenizer, [encodings[i] for i in train_idx],
                     [labels[i] for i in train_idx], [encodings[i] for i in val_idx],
                     [labels[i] for i in val_idx], cfg, device, save_dir=run_dir, result=result)
        except KeyboardInterrupt:
            return interrupted(result, run_dir, cfg, recipe, model_dir)
        except NonFiniteLossError as e:  # the run diverged: stop, keeping the best epoch
            return interrupted(result, run_dir, cfg, recipe, model_dir, diverged=str(e))
        print(stats_table(result))
        save_curves(result, run_dir / "loss_curve.png",
                    title=f"{args.task}, {Path(args.model).name}, seed {seed}")
        for name, mcc in score(model, tokenizer, eval_enc, names, device, cfg, recipe,
                               model_dir, result, run_dir).items():
            summary[name].append(mcc)
        print(f"saved the best checkpoint (epoch {result.best_epoch}) to {run_dir}{os.sep}")
    print_summary(summary, seeds)
    return 0


def score(model, tokenizer, eval_enc: dict, names: list[str], device, cfg, recipe: str,
          model_dir, result, run_dir: Path) -> dict[str, float]:
    """Report, confusion PNG and MCC for each evaluation set; metrics.json beside the model."""
    from train.evaluate import evaluate, format_report, save_confusion_png

    metrics = {"config": config_dict(cfg), "recipe": recipe, "model": str(model_dir),
               "best_epoch": result.best_epoch, "train_seconds": result.total_time,
               "epochs": [vars(s) for s in result.epochs], "eval": {}}
    for name, (enc, y) in eval_enc.items():
        report = evaluate(model, tokenizer, name, enc, y, names, device, precision=cfg.precision)
        print(format_report(report))
        save_confusion_png(report, run_dir / f"confusion_{name}.png")
        metrics["eval"][name] = {"mcc": report.mcc, "mcc_sklearn": report.mcc_sklearn,
                                 "accuracy": report.accuracy, "confusion": report.matrix}
    write_metrics(run_dir, metrics)
    return {name: m["mcc"] for name, m in metrics["eval"].items()}


def print_summary(summary: dict[str, list[float]], seeds: list[int]) -> None:
    """MCC per evaluation set: mean ± std over the seeds when there are several."""
    for name, mccs in summary.items():
        if len(mccs) > 1:
            print(f"{name}: MCC {statistics.mean(mccs):.4f} ± {statistics.stdev(mccs):.4f} "
                  f"over seeds {seeds} ({', '.join(f'{m:.3f}' for m in mccs)})")
        elif mccs and not math.isnan(mccs[0]):
            print(f"{name}: MCC {mccs[0]:.4f}")


def write_metrics(run_dir: Path, metrics: dict) -> None:
    from tokenizer.atomic import atomic_write

    text = json.dumps(metrics, indent=2) + "\n"
    atomic_write(run_dir / "metrics.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))


def interrupted(result: FinetuneResult, run_dir: Path, cfg: FinetuneConfig, recipe: str,
                model_dir, diverged: str = "") -> int:
    """After Ctrl-C (exit code 130), or when the run diverged (`diverged` says how; exit code
    2): metrics.json for the finished epochs, and one line saying what is where."""
    epoch, step = len(result.epochs) + 1, len(result.batch_losses)
    metrics = {"config": config_dict(cfg), "recipe": recipe, "model": str(model_dir),
               "best_epoch": result.best_epoch, "interrupted": {"epoch": epoch, "step": step},
               "epochs": [vars(s) for s in result.epochs]}
    if diverged:
        metrics["diverged"] = diverged
    write_metrics(run_dir, metrics)
    if result.best_epoch:
        best = result.epochs[result.best_epoch - 1]
        kept = (f"best model so far (epoch {best.epoch}, val MCC {best.val_mcc:.2f}) "
                f"is in {run_dir}")
    else:
        kept = f"no epoch finished, so no model was saved; metrics.json is in {run_dir}"
    if diverged:
        print(f"minibert: error: epoch {epoch}, {diverged}; {kept}", file=sys.stderr)
        return 2
    print(f"minibert: interrupted at epoch {epoch} step {step}; {kept}", file=sys.stderr)
    return 130
