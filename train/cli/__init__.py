"""The `minibert` command line: one subcommand per task, each living in its own module.

Each module listed in COMMANDS defines `add_arguments(parser)` and `run(args) -> int`; it is
imported only when its subcommand runs, so `minibert params` never pays for matplotlib.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS = {
    "params": ("train.cli.cmd_params", "print a model's per-tensor parameter table and total"),
    "train-tokenizer": ("train.cli.cmd_tokenizer", "train a WordPiece or byte-level BPE tokenizer"),
    "pretrain": ("train.cli.cmd_pretrain", "pretrain a BERT/RoBERTa (MLM, MLM+NSP, or causal LM)"),
    "fill-mask": ("train.cli.cmd_fill_mask", "top-k predictions for a masked token"),
    "generate": ("train.cli.cmd_generate", "sample text from a causal RoBERTa"),
    "finetune": ("train.cli.cmd_finetune", "fine-tune a pretrained model on CoLA or your own CSV"),
    "predict": ("train.cli.cmd_predict", "classify sentences with a fine-tuned model"),
    "explain": ("train.cli.cmd_explain", "write an HTML page exploring attention and predictions"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minibert", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints help or the "invalid choice" error and exits
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"minibert {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    return int(module.run(args) or 0)


