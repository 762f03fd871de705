"""`minibert pretrain`: build a model from a preset (or config.json), read text, and pretrain.

    minibert pretrain --objective roberta --tokenizer KantaiBERT --config kantaibert \\
        --train kant.txt --block-size 128 --batch-size 64 --epochs 1 --out KantaiBERT

The objective picks the model and the data: `roberta` (RobertaForMaskedLM, lines of text,
dynamic masking; the KantaiBERT chapter), `bert` (BertForPreTraining, NSP pairs from
documents separated by blank lines, masking), `causal` (RobertaForCausalLM, lines of text,
no masking). --out ends up holding the model (config.json + model.safetensors, Hugging Face
layout), the tokenizer, metrics.jsonl, loss_curve.png and checkpoints/, so `minibert
fill-mask OUT ...` / `minibert generate OUT ...` need nothing else. Under `torchrun
--nproc_per_node N -m train.cli pretrain ...` it trains with DistributedDataParallel.

With `--data DATA_DIR` (from `minibert prepare-data`) the tokens are read from shards on
disk instead of tokenized from --train at start-up, for corpora larger than memory; either
way the same datasets cut them into examples (`train/data/datasets.py`: packed blocks or
lines; `train/data/nsp.py`: NSP pairs for `bert`) and the same loader orders, batches and
masks them, so the same seed and text give the same run.

Left out on purpose: evaluation splits and perplexity reporting.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from minibert.config import PRESETS, BertConfig, preset
from minibert.embeddings import usable_positions
from tokenizer import load_tokenizer
from train import ddp, objectives
from train.cli import errors, flags
from train.pretrain import PretrainArgs, pretrain

# --flag -> BertConfig field, for changing a preset's size from the command line, with the
# values each may take (the upper ends are far above any model that fits in memory today).
SIZE_FLAGS = {"hidden_size": flags.whole(1, 2**14), "num_hidden_layers": flags.whole(1, 256),
              "num_attention_heads": flags.whole(1, 256),
              "intermediate_size": flags.whole(1, 2**16),
              "max_position_embeddings": flags.whole(1, 2**17),
              "hidden_dropout_prob": flags.real(0, 1, high_open=True),
              "attention_probs_dropout_prob": flags.real(0, 1, high_open=True)}
VOCAB_MAX = 2**24
MLM_PROBABILITY = 0.15  # BERT's and RoBERTa's share of masked tokens
# flags an objective has no use for, and why (`check_objective_flags`)
UNUSED = {"bert": (("dataset",), "it makes sentence pairs from the documents between blank "
                                 "lines"),
          "causal": (("mlm_probability", "whole_word"), "it predicts every next token and "
                                                        "masks nothing")}


def build_config(args: argparse.Namespace, tokenizer) -> BertConfig:
    """The preset / config file, resized by flags, made consistent with objective and tokenizer."""
    if args.config in PRESETS:
        config = preset(args.config)
    elif Path(args.config).exists():
        config = BertConfig.from_pretrained(args.config)
    else:
        raise FileNotFoundError(f"--config {args.config!r}: neither a preset "
                                f"({', '.join(sorted(PRESETS))}) nor a config.json / directory")
    changes = {k: getattr(args, k) for k in SIZE_FLAGS if getattr(args, k) is not None}
    if args.vocab_size == "tokenizer":
        changes["vocab_size"] = tokenizer.vocab_size
    elif args.vocab_size is not None:
        changes["vocab_size"] = int(args.vocab_size)
    changes["model_type"] = "bert" if args.objective == "bert" else "roberta"
    changes["is_decoder"] = args.objective == "causal"
    if args.objective == "bert":
        changes["type_vocab_size"] = max(2, config.type_vocab_size)
    changes["pad_token_id"] = tokenizer.pad_token_id
    changes["bos_token_id"] = tokenizer.bos_token_id
    changes["eos_token_id"] = tokenizer.eos_token_id
    config = BertConfig.from_dict({**config.to_dict(), **changes}, source=f"--config {args.config}")
    if config.vocab_size < tokenizer.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size:,} tokens but the model's "
                         f"vocab_size is {config.vocab_size:,}; pass --vocab-size tokenizer")
    skipped = config.max_position_embeddings - usable_positions(config)
    if args.block_size + skipped > config.max_position_embeddings:
        raise ValueError(
            f"--block-size {args.block_size} needs max_position_embeddings >= "
            f"{args.block_size + skipped}, the config has {config.max_position_embeddings}"
        )
    return config


def build_model(objective: str, config: BertConfig) -> torch.nn.Module:
    """The model to train, or one line saying it does not fit in memory: counted first on
    the meta device (no memory), so an oversized one is refused before it is allocated."""
    cls = objectives.trained_class(objective)
    with torch.device("meta"):
        n = cls(config).num_parameters()
    too_big = errors.UsageError(
        f"the model has {n:,} parameters ({n * 4 / 2**30:,.1f} GiB in fp32, and training needs "
        f"about 4 times that) and does not fit in this machine's memory; choose a smaller "
        f"--config or size flags")
    free = available_memory()
    if free is not None and n * 4 > free:
        raise too_big
    try:
        return cls(config)
    except (torch.OutOfMemoryError, RuntimeError) as e:
        if "alloc" not in str(e).lower():
            raise
        raise too_big from None


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux's MemAvailable); None elsewhere."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def build_dataset(args: argparse.Namespace, tokenizer):
    """The examples of the objective, cut from --train's text or --data's shards."""
    from train.data.datasets import LineBlocks, PackedBlocks, text_shards
    from train.data.nsp import NSPPairs
    from train.data.shards import Shards

    if (args.data is None) == (args.train is None):
        raise ValueError("give either --train FILE... (read into memory) or --data DATA_DIR "
                         "(shards written by `minibert prepare-data`)")
    if args.data is not None:
        shards = Shards.open(args.data, tokenizer_dir=args.tokenizer)
    else:
        shards = text_shards(tokenizer, args.train)
    if args.objective == "bert":
        dataset = NSPPairs(shards, tokenizer, args.block_size, seed=args.seed)
    elif args.dataset == "grouped":
        dataset = PackedBlocks(shards, tokenizer, args.block_size)
    else:
        dataset = LineBlocks(shards, tokenizer, args.block_size)
    return dataset.head(args.max_examples) if args.max_examples else dataset


def build_collator(args: argparse.Namespace, tokenizer):
    from train.data.collator import CausalLMCollator, MLMCollator

    if args.objective == "causal":
        return CausalLMCollator(tokenizer)
    rate = MLM_PROBABILITY if args.mlm_probability is None else args.mlm_probability
    return MLMCollator(tokenizer, mlm_probability=rate, whole_word=args.whole_word,
                       seed=args.seed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--objective", choices=sorted(objectives.OBJECTIVES), default="roberta")
    parser.add_argument("--tokenizer", required=True, help="directory written by train-tokenizer")
    parser.add_argument("--config", default="kantaibert",
                        help=f"a preset ({', '.join(sorted(PRESETS))}) or a config.json path")
    for name, kind in SIZE_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=None,
                            help="override the preset's value")
    parser.add_argument("--vocab-size", default=None,
                        help=f"a whole number in [1, {VOCAB_MAX}], or 'tokenizer' for the "
                             f"tokenizer's size (default: the preset's)")
    parser.add_argument("--train", nargs="+", metavar="FILE", help="UTF-8 text files")
    parser.add_argument("--data", metavar="DATA_DIR",
                        help="instead of --train: shards written by `minibert prepare-data`")
    parser.add_argument("--num-workers", type=flags.whole(0), default=2,
                        help="processes that build and mask batches (0: the training process)")
    parser.add_argument("--dataset", choices=["lines", "grouped"], default=None,
                        help="roberta/causal: one example per line (the chapter; the default) or "
                             "packed blocks")
    parser.add_argument("--max-examples", type=flags.whole(1), default=None,
                        help="use only the first N")
    parser.add_argument("--block-size", type=flags.whole(3), default=128,
                        help="tokens per example, special tokens included")
    parser.add_argument("--mlm-probability", type=flags.real(0, 1, low_open=True), default=None,
                        help=f"share of tokens masked and predicted (default {MLM_PROBABILITY})")
    parser.add_argument("--whole-word", action="store_true", help="whole-word masking")
    parser.add_argument("--batch-size", type=flags.whole(1), default=64,
                        help="examples per micro-batch (all ranks)")
    parser.add_argument("--grad-accum", type=flags.whole(1), default=1,
                        help="micro-batches per optimizer step")
    parser.add_argument("--epochs", type=flags.whole(1), default=1)
    parser.add_argument("--max-steps", type=flags.whole(1), default=None,
                        help="stop after this many optimizer steps")
    parser.add_argument("--lr", type=flags.real(0, 1, low_open=True), default=5e-5,
                        help="peak learning rate")
    parser.add_argument("--warmup-steps", type=flags.whole(0), default=0)
    parser.add_argument("--weight-decay", type=flags.real(0, 1), default=0.01,
                        help="AdamW's decoupled weight decay")
    parser.add_argument("--max-grad-norm", type=flags.real(0, note="0 turns clipping off"),
                        default=1.0, help="clip the gradients' global norm to this")
    flags.add_device_flags(parser, precision_default="auto")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (dynamic shapes; pays on GPUs)")
    parser.add_argument("--sparse-prediction", action=argparse.BooleanOptionalAction,
                        default=True, help="masked LM: run the output layer only at the "
                        "scored positions (same loss, less work)")
    parser.add_argument("--seed", type=flags.seed, default=0)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--save-every", type=flags.whole(0, note="0: only at the end"), default=0,
                        help="checkpoint every N steps")
    parser.add_argument("--keep", type=flags.whole(0, note="0 keeps them all"), default=2,
                        help="checkpoints to keep")
    parser.add_argument(
        "--resume", action="store_true", help="continue from --out's newest checkpoint"
    )
    parser.add_argument("--log-every", type=flags.whole(1), default=1,
                        help="write metrics.jsonl every N steps")
    parser.add_argument("--no-progress", action="store_true")


def check_objective_flags(args: argparse.Namespace) -> None:
    """Flags that fit the objective: bert's pairs need room for two segments, and a flag the
    objective has no use for is refused rather than silently ignored."""
    from train.data.nsp import MIN_LENGTH

    if args.objective == "bert" and args.block_size < MIN_LENGTH:
        raise errors.UsageError(f"--block-size {args.block_size}: the bert objective needs at "
                                f"least {MIN_LENGTH} ([CLS] A [SEP] B [SEP], a token in each "
                                f"segment)")
    names, why = UNUSED.get(args.objective, ((), ""))
    for name in names:
        if getattr(args, name) not in (None, False):
            raise errors.UsageError(f"--{name.replace('_', '-')}: the {args.objective} "
                                    f"objective does not use it: {why}")


def validate(args: argparse.Namespace) -> None:
    """Every flag, and that the text files read as UTF-8 and hold enough text, before --out
    is claimed and anything is built."""
    if args.vocab_size not in (None, "tokenizer") and (
            not args.vocab_size.isdigit() or not 1 <= int(args.vocab_size) <= VOCAB_MAX):
        raise errors.UsageError(f"--vocab-size {args.vocab_size}: expected 'tokenizer' or a "
                                f"whole number in [1, {VOCAB_MAX}]")
    if args.config not in PRESETS and not Path(args.config).exists():
        raise errors.UsageError(f"--config {args.config}: neither a preset "
                                f"({', '.join(sorted(PRESETS))}) nor a config.json / folder")
    if not Path(args.tokenizer).is_dir():
        raise errors.UsageError(f"--tokenizer {args.tokenizer}: no such folder; make one with "
                                f"`minibert train-tokenizer`")
    check_objective_flags(args)
    if (args.data is None) == (args.train is None):
        raise errors.UsageError("give either --train FILE... (read into memory) or --data "
                                "DATA_DIR (shards written by `minibert prepare-data`)")
    if args.data is not None:
        from train.data.shards import read_manifest

        if not (Path(args.data) / "manifest.json").is_file():
            raise errors.UsageError(f"--data {args.data}: no manifest.json there; write the "
                                    f"shards with `minibert prepare-data`")
        manifest = read_manifest(args.data)  # a broken or foreign one: refused before work
        check_enough_text(args, manifest["n_lines"], manifest["n_docs"], f"--data {args.data}")
        return
    errors.files_exist(args.train, "--train")
    from train.data.datasets import read_documents

    docs = read_documents(args.train)  # bad UTF-8: the reader's error (file, line, byte)
    check_enough_text(args, sum(map(len, docs)), len(docs), f"--train {' '.join(args.train)}")


def check_enough_text(args: argparse.Namespace, n_lines: int, n_docs: int, source: str) -> None:
    """Text for at least one example (bert: two documents), counted on the text or read from
    the manifest before --out is claimed; the datasets check again on the tokens."""
    if n_lines == 0:
        raise errors.UsageError(f"{source}: no text (only blank lines, or none) to make "
                                f"examples from")
    if args.objective == "bert" and n_docs < 2:
        raise errors.UsageError(f"{source}: the bert objective pairs sentences across "
                                f"documents and needs at least 2 (blocks of lines separated by "
                                f"a blank line); found {n_docs}")


def input_paths(args: argparse.Namespace) -> list[tuple[str, str]]:
    """What --out must keep clear of: the tokenizer, the text or shards, a config file."""
    found = [(args.tokenizer, "--tokenizer"), (args.data, "--data")]
    found += [(path, "--train") for path in args.train or []]
    if args.config not in PRESETS:
        found.append((args.config, "--config"))
    return found


def output_dirs(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """--out holds the model class the objective trains (RobertaForMaskedLM, ...)."""
    return [(args.out, "--out", objectives.trained_class(args.objective).__name__)]


def run(args: argparse.Namespace) -> int:
    tokenizer = load_tokenizer(args.tokenizer)
    config = build_config(args, tokenizer)
    examples = build_dataset(args, tokenizer)  # data it cannot use: refused before the model
    torch.manual_seed(args.seed)  # the initial weights come from --seed too
    model = build_model(args.objective, config)
    n_params = model.num_parameters()
    main_process = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 talks
    if main_process:
        print(f"{type(model).__name__}: {n_params:,} parameters; {len(examples):,} examples")
    train_args = PretrainArgs(
        objective=args.objective, out_dir=args.out, epochs=args.epochs, max_steps=args.max_steps,
        batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
        warmup_steps=args.warmup_steps, weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm, precision=args.precision, compile=args.compile,
        sparse_prediction=args.sparse_prediction, device=args.device, seed=args.seed,
        save_every=args.save_every, keep=args.keep,
        log_every=args.log_every, resume=args.resume, progress=not args.no_progress,
        num_workers=args.num_workers, front_end="cli")
    try:
        result = pretrain(model, examples, build_collator(args, tokenizer), train_args,
                          tokenizer=tokenizer)
    except KeyboardInterrupt:  # pretrain has said what it saved
        return 130
    finally:
        ddp.shutdown()  # a NonFiniteLossError goes on to `main`: one line, exit code 2
    if result.losses and main_process:
        speed = f", {result.tokens_per_second:,.0f} tokens/s" if result.tokens_per_second else ""
        print(f"{result.steps} steps: loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f}"
              f"{speed}; saved to {args.out}")
    return 0
