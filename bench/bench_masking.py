"""Masking-collator throughput: minibert's MLMCollator beside transformers'
DataCollatorForLanguageModeling.

Both collate the same examples, kant.txt tokenised line by line (block 128, as the KantaiBERT
chapter) with the bert-base-uncased vocabulary, in batches of 64, and both get the same fields
(input_ids, token_type_ids, attention_mask, special_tokens_mask), so neither has to recompute
the special-tokens mask. Two settings: token-level masking, and whole-word masking (ours reads
word_ids; transformers 5 has no DataCollatorForWholeWordMask any more and instead takes
whole_word_mask=True with offset_mapping). Prints examples/s, tokens/s (non-padding tokens)
and the ratio ours / theirs (> 1: minibert is faster).

    python bench/bench_masking.py [--data DIR] [--passes 3] [--batch-size 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenizer.wordpiece import WordPieceTokenizer
from train.data.collator import MLMCollator
from train.data.datasets import LineByLineTextDataset

FIELDS = ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask")


def batches(examples, size):
    return [examples[i:i + size] for i in range(0, len(examples), size)]


def pad_offsets(batch):
    """tokenizer.pad does not pad offset_mapping, so HF's whole-word batches get it padded here
    (to the batch's longest, outside the timed loop; the other fields are padded by the
    collator)."""
    longest = max(len(e["input_ids"]) for e in batch)
    return [
        e
        | {"offset_mapping": e["offset_mapping"] + [[0, 0]] * (longest - len(e["offset_mapping"]))}
        for e in batch
    ]


def throughput(collate, batch_list, passes: int) -> tuple[float, float, float]:
    """(examples/s, tokens/s, fraction of tokens selected) over `passes` runs after one warm-up."""
    collate(batch_list[0])
    n_examples = n_tokens = n_selected = 0
    start = time.perf_counter()
    for _ in range(passes):
        for b in batch_list:
            out = collate(b)
            n_examples += out["input_ids"].shape[0]
            n_tokens += int(out["attention_mask"].sum())
            n_selected += int((out["labels"] != -100).sum())
    seconds = time.perf_counter() - start
    return n_examples / seconds, n_tokens / seconds, n_selected / n_tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(
            os.environ.get("MINIBERT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
        ),
    )
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import transformers

    vocab = args.data / "bert_vocab" / "bert-base-uncased-vocab.txt"
    ours_tok = WordPieceTokenizer.from_file(vocab)
    hf_tok = transformers.BertTokenizer(str(vocab), do_lower_case=True)
    t0 = time.perf_counter()
    ds = LineByLineTextDataset(ours_tok, args.data / "kant" / "kant.txt", block_size=128).examples
    print(
        f"kant.txt: {len(ds)} lines tokenised in {time.perf_counter() - t0:.1f} s; "
        f"{sum(len(e['input_ids']) for e in ds)} tokens; batch {args.batch_size}; {args.passes} "
        f"passes; "
        f"torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} "
        f"thread(s)"
    )

    plain = [
        {k: e[k] if k != "attention_mask" else [1] * len(e["input_ids"]) for k in FIELDS}
        for e in ds
    ]
    ours_wwm = [p | {"word_ids": e["word_ids"]} for p, e in zip(plain, ds)]
    # HF's whole-word mode finds words from character offsets: same text, so re-encode for them
    texts = [
        line
        for line in (args.data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").splitlines()
        if line.strip()
    ]
    hf_enc = hf_tok(texts, truncation=True, max_length=128, return_special_tokens_mask=True,
                    return_offsets_mapping=True)
    assert hf_enc["input_ids"] == [e["input_ids"] for e in ds], "our and HF's tokenisation differ"
    hf_wwm = [
        p | {"offset_mapping": [list(o) for o in off]}
        for p, off in zip(plain, hf_enc["offset_mapping"])
    ]
    hf_wwm_batches = [pad_offsets(b) for b in batches(hf_wwm, args.batch_size)]

    settings = {
        "token-level": (
            MLMCollator(ours_tok, seed=0),
            batches(plain, args.batch_size),
            transformers.DataCollatorForLanguageModeling(hf_tok, mlm_probability=0.15, seed=0),
            batches(plain, args.batch_size),
        ),
        "whole-word": (
            MLMCollator(ours_tok, seed=0, whole_word=True),
            batches(ours_wwm, args.batch_size),
            transformers.DataCollatorForLanguageModeling(
                hf_tok, mlm_probability=0.15, seed=0, whole_word_mask=True
            ),
            hf_wwm_batches,
        ),
    }
    print(f"{'setting':12} {'impl':12} {'examples/s':>11} {'tokens/s':>11} {'selected':>9}")
    for name, (ours, ours_batches, theirs, their_batches) in settings.items():
        o = throughput(ours, ours_batches, args.passes)
        t = throughput(theirs, their_batches, args.passes)
        for impl, r in (("minibert", o), ("transformers", t)):
            print(f"{name:12} {impl:12} {r[0]:11.0f} {r[1]:11.0f} {r[2]:9.3f}")
        print(f"{name:12} {'ratio':12} {o[0] / t[0]:11.2f}x (minibert / transformers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
