"""`minibert prepare-data`: tokenize text files once into shards on disk for pretraining.

    minibert prepare-data --tokenizer KantaiBERT --out data/kant kant.txt
    minibert prepare-data --tokenizer TOK --out data/wiki --workers 8 'wiki/**/*.txt'
    minibert pretrain --data data/wiki --tokenizer TOK ...

Inputs are files, folders (every file under them) or glob patterns. The work is done by
`train/data/prepare.py` (see there: pieces, workers, resuming, the manifest); the format is
described in `train/data/shards.py`. Running it again on the same inputs with the same
tokenizer does nothing; Ctrl-C (or a crash) leaves a folder that the same command resumes.
Left out on purpose: options that change the text (cleaning, lowercasing beyond the tokenizer).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from train.cli import flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="FILES",
                        help="UTF-8 text files, folders or glob patterns")
    parser.add_argument("--tokenizer", required=True, help="directory written by train-tokenizer")
    parser.add_argument("--out", required=True, help="the data folder to write")
    parser.add_argument("--workers", type=flags.whole(1, 1024), default=os.cpu_count() or 1,
                        help="tokenizing processes (default: the CPU count)")
    parser.add_argument("--piece-mb", type=flags.whole(1, 4096), default=32,
                        help="text per shard in MB (memory is about 4x this per worker)")
    parser.add_argument("--no-progress", action="store_true")


def validate(args: argparse.Namespace) -> None:
    """The tokenizer folder must hold a tokenizer: refused before --out is claimed."""
    from tokenizer import load_tokenizer

    load_tokenizer(args.tokenizer)


def input_paths(args: argparse.Namespace) -> list[tuple[str, str]]:
    """What --out must keep clear of: the tokenizer, every input file and named folder."""
    from train.data.prepare import input_files, inputs_of

    return inputs_of(args.tokenizer, args.inputs, input_files(args.inputs))


def output_dirs(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    from train.data.prepare import KIND

    return [(args.out, "--out", KIND)]


def run(args: argparse.Namespace) -> int:
    from train.data.prepare import prepare

    t0 = time.perf_counter()
    try:  # bad input (ShardError, a missing file, bad UTF-8) goes to `main`: one line, exit 2
        manifest = prepare(args.tokenizer, args.inputs, args.out, workers=args.workers,
                           piece_bytes=args.piece_mb << 20, progress=not args.no_progress,
                           overwrite=args.overwrite)
    except KeyboardInterrupt:
        print(f"\nminibert: interrupted; run the same command again to resume into {args.out}",
              file=sys.stderr)
        return 130
    seconds = time.perf_counter() - t0
    print(f"{args.out}: {manifest['n_tokens']:,} tokens, {manifest['n_lines']:,} lines, "
          f"{manifest['n_docs']:,} documents in {len(manifest['shards'])} shards "
          f"({manifest['dtype']}); {manifest['bytes'] / 2**20:,.1f} MB of text, {seconds:.1f} s")
    return 0
