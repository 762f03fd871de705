"""Counting parameters, tensor by tensor: `minibert params NAME_OR_DIR`.

The KantaiBERT chapter (step 9) lists every parameter tensor of its RobertaForMaskedLM and adds
them up to 83,504,416. This prints the same table for any model: a preset name (built on the
meta device, so bert-large costs no memory), or a Hugging Face folder / model name (its
config.json is read; the weights are not needed to count).

A tied weight (the MLM decoder sharing the word-embedding matrix) is one tensor and is counted
once, as `model.parameters()` does.

Left out on purpose: memory estimates (they depend on dtype, optimizer and activations).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from minibert.auto import model_class
from minibert.config import PRESETS, BertConfig, preset
from minibert.hub import resolve_model_dir


def parameter_table(model: nn.Module) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, shape, count) for each distinct tensor, in module order."""
    return [(name, tuple(p.shape), p.numel()) for name, p in model.named_parameters()]


def load_config(name_or_path: str) -> BertConfig:
    if name_or_path in PRESETS:
        return preset(name_or_path)
    return BertConfig.from_pretrained(resolve_model_dir(name_or_path))


def build(config: BertConfig, head: str) -> nn.Module:
    """The model with its shapes only (meta device): nothing is allocated or loaded."""
    try:
        cls = model_class(config.model_type, head)
    except ValueError as e:
        raise ValueError(f"--head {head!r}: {e}") from None
    with torch.device("meta"):
        return cls(config)


def format_table(model: nn.Module) -> str:
    rows = parameter_table(model)
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'name':<{width}}  {'shape':<14} {'count':>12}"]
    lines += [f"{name:<{width}}  {list(shape)!s:<14} {n:>12,}" for name, shape, n in rows]
    lines.append(f"{len(rows)} tensors, {model.num_parameters():,} parameters")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="NAME_OR_DIR",
                        help=f"a preset ({', '.join(PRESETS)}), a model folder or a Hub name")
    parser.add_argument("--head", default=None,
                        help="which model to build: base, pretraining, mlm, nsp, cls, token, qa, "
                             "causal (default: mlm for roberta, pretraining for bert)")


def run(args: argparse.Namespace) -> int:
    # bad input (a missing model, a broken config, an unknown --head) goes to `main`: one line
    config = load_config(args.model)
    head = args.head or ("mlm" if config.model_type == "roberta" else "pretraining")
    model = build(config, head)
    print(f"{type(model).__name__} ({args.model})")
    print(format_table(model))
    return 0
