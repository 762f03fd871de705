"""`minibert train-tokenizer`: learn a WordPiece (BERT) or byte-level BPE (RoBERTa) vocabulary.

    minibert train-tokenizer --type bpe --vocab-size 52000 --min-frequency 2 --out tok kant.txt

writes the tokenizer's files into --out (vocab.txt for WordPiece; vocab.json + merges.txt for
BPE), which `minibert pretrain --tokenizer DIR` reads back with `tokenizer.load_tokenizer`.
The default special tokens are BERT's ([PAD] [UNK] [CLS] [SEP] [MASK]) or RoBERTa's (<s> <pad>
</s> <unk> <mask>, the KantaiBERT chapter's order, so <s>=0, <pad>=1, </s>=2).

Left out on purpose: sentencepiece / unigram models, normalisation options beyond lowercasing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from train.cli import flags

SPECIALS = {
    "wordpiece": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    "bpe": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
}


def make_trainer(kind: str, vocab_size: int, min_frequency: int,
                 special_tokens: list[str] | None = None, lowercase: bool = True):
    """The trainer of `kind` ("wordpiece" | "bpe"); it refuses settings it cannot meet (a
    vocab_size below what the special tokens, or BPE's 256 bytes, already take)."""
    specials = special_tokens or SPECIALS[kind]
    if kind == "wordpiece":
        from tokenizer.wordpiece_trainer import WordPieceTrainer

        return WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                special_tokens=specials, lowercase=lowercase)
    if kind == "bpe":
        from tokenizer.bpe_trainer import BPETrainer

        return BPETrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                          special_tokens=specials)
    raise ValueError(f"--type {kind!r}: expected 'wordpiece' or 'bpe'")


def train_tokenizer(kind: str, files: list[str], vocab_size: int, min_frequency: int,
                    special_tokens: list[str] | None = None, lowercase: bool = True):
    """Train and return a tokenizer of `kind` ("wordpiece" | "bpe") on text files."""
    for f in files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"{f}: training file not found")
    trainer = make_trainer(kind, vocab_size, min_frequency, special_tokens, lowercase)
    return trainer.train([str(f) for f in files])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="UTF-8 text files to learn from")
    parser.add_argument("--type", choices=sorted(SPECIALS), default="bpe",
                        help="wordpiece (BERT) or byte-level bpe (RoBERTa); default bpe")
    parser.add_argument("--vocab-size", type=flags.whole(1, 2**24), default=52_000,
                        help="tokens wanted, special tokens included (bpe: at least the 256 "
                             "bytes and the specials)")
    parser.add_argument("--min-frequency", type=flags.whole(1), default=2,
                        help="a merge / piece must occur at least this often")
    parser.add_argument("--special-tokens", nargs="+", default=None,
                        help="default: BERT's or RoBERTa's five, by --type")
    parser.add_argument("--cased", action="store_true", help="WordPiece only: keep case")
    parser.add_argument("--out", required=True, help="directory to write the tokenizer into")


def validate(args: argparse.Namespace) -> None:
    from train.cli import errors

    errors.files_exist(args.files, "FILE")
    specials = args.special_tokens or []
    if any(not t.strip() for t in specials) or len(set(specials)) < len(specials):
        raise errors.UsageError(f"--special-tokens {' '.join(map(repr, specials))}: each must "
                                f"be a different, non-blank token")
    try:  # the trainer's own checks, before --out is claimed
        make_trainer(args.type, args.vocab_size, args.min_frequency, args.special_tokens)
    except ValueError as e:
        raise errors.UsageError(f"--type {args.type}: {e}") from None


def input_paths(args: argparse.Namespace) -> list[tuple[str, str]]:
    return [(path, "FILE") for path in args.files]


def output_dirs(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """--out holds one kind of tokenizer: WordPiece and BPE files never share a folder."""
    return [(args.out, "--out", f"{args.type} tokenizer")]


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    tok = train_tokenizer(args.type, args.files, args.vocab_size, args.min_frequency,
                          args.special_tokens, lowercase=not args.cased)
    out = tok.save(args.out)
    print(f"trained a {args.type} tokenizer with {tok.vocab_size:,} tokens in "
          f"{time.perf_counter() - t0:.1f}s -> {out}")
    return 0
