"""Benchmark: minibert's WordPiece tokenizer and trainer next to Hugging Face, in one run.

Encoding: every sentence of CoLA (3 files) and every tweet (train + test), with the
bert-base-uncased vocabulary, timed
  - one text per call: `ours.encode(t)` vs `transformers.BertTokenizer(t)` (and, for scale,
    the bare Rust `tokenizers.Tokenizer.encode(t)` underneath it);
  - what the speed layer buys: ours with `cache_size=0` (the plain path alone), and a first
    pass with the per-character normalization memo switched off;
  - batched: `ours.encode_batch(chunk)` vs `hf(chunk)` in chunks of 256.
Passes are taken in turns, the order rotating each round, so that load from other jobs on a
shared machine falls on all rows alike; each row gives its median pass (wall clock and CPU
time of this process) and each ratio is the median of the per-round ratios. "cold" is the
first pass of a fresh tokenizer (caches empty). Ratios > 1 mean minibert is faster.
Training: kant.txt (first 90% of lines), vocab_size 8000, min_frequency 2, both trainers; then
vocabulary overlap and the token count each gives on the held-out last 10%.

    python bench/bench_wordpiece.py [--data ../shared/data] [--repeats 5]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tokenizers
import transformers

from tokenizer import WordPieceTokenizer, WordPieceTrainer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_texts(data: Path) -> list[str]:
    texts = []
    for name in ("in_domain_train", "in_domain_dev", "out_of_domain_dev"):
        with open(data / "cola" / f"{name}.tsv", newline="", encoding="utf-8") as f:
            texts += [row[3] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    for name in ("train", "test"):
        with open(data / "disaster_tweets" / f"{name}.csv", newline="", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    return texts


def timed_interleaved(fns: dict, repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of every pass per entry; passes alternate between the entries, the
    order rotating each round, so that load from other jobs on a shared machine falls on all of
    them alike. CPU time (this process only) is the steadier of the two under load."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            wall, cpu = time.perf_counter(), time.process_time()
            fns[name]()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def median_ratio(slow: list[tuple[float, float]], fast: list[tuple[float, float]], k: int) -> float:
    """Median over rounds of slow / fast, on wall (k=0) or CPU (k=1) time."""
    return statistics.median(a[k] / b[k] for a, b in zip(slow, fast))


class _Forgetful(dict):
    """A cache that never keeps anything: the per-character memo switched off."""

    def __setitem__(self, key, value) -> None:
        pass


def bench_encode(data: Path, repeats: int) -> None:
    vocab = data / "bert_vocab" / "bert-base-uncased-vocab.txt"
    texts = read_texts(data)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    n = len(texts)
    print(f"encode: {n} texts (CoLA + tweets), {mb:.2f} MB UTF-8")
    ours = WordPieceTokenizer.from_file(vocab)
    plain = WordPieceTokenizer.from_file(vocab, cache_size=0)
    hf = transformers.BertTokenizer(str(vocab))
    rust = tokenizers.Tokenizer.from_str(hf.backend_tokenizer.to_str())
    chunks = [texts[i:i + 256] for i in range(0, n, 256)]
    ours_batched = WordPieceTokenizer.from_file(vocab)

    def cold(memo: bool):
        fresh = WordPieceTokenizer.from_file(vocab)
        if not memo:
            fresh.basic._char_cache = _Forgetful()
        return lambda: [fresh.encode(t) for t in texts]

    per_call = {
        "per call, ours": lambda: [ours.encode(t) for t in texts],
        "per call, HF BertTokenizer": lambda: [hf(t) for t in texts],
        "per call, bare tokenizers": lambda: [rust.encode(t) for t in texts],
        "per call, ours without the cache": lambda: [plain.encode(t) for t in texts],
        "batched 256, ours": lambda: [ours_batched.encode_batch(c) for c in chunks],
        "batched 256, HF BertTokenizer": lambda: [hf(c) for c in chunks],
    }
    for warm_up in per_call.values():  # fills our caches; HF's first call loads its own
        warm_up()
    colds = {"cold, ours": True, "cold, ours without the memo": False}
    rows = timed_interleaved(per_call, repeats)
    # a fresh tokenizer for every cold pass, made outside the timing
    made = {name: [cold(memo) for _ in range(repeats)] for name, memo in colds.items()}
    cold_rows = timed_interleaved({name: (lambda fs=fs: fs.pop()()) for name, fs in made.items()},
                                  repeats)
    rows.update(cold_rows)
    print(f"{'median pass':40s} {'MB/s':>7s} {'sent/s':>9s} {'us/sent':>8s} {'CPU us/sent':>12s}")
    for name, passes in rows.items():
        wall = statistics.median(p[0] for p in passes)
        cpu = statistics.median(p[1] for p in passes)
        print(f"{name:40s} {mb / wall:7.2f} {n / wall:9.0f} {wall / n * 1e6:8.1f} "
              f"{cpu / n * 1e6:12.1f}")
    pairs = [("HF BertTokenizer / ours, per call", "per call, HF BertTokenizer", "per call, ours"),
             ("bare tokenizers / ours, per call", "per call, bare tokenizers", "per call, ours"),
             ("HF / ours, batched 256", "batched 256, HF BertTokenizer", "batched 256, ours"),
             ("the cache buys (plain / cached)", "per call, ours without the cache",
              "per call, ours"),
             ("the memo buys, cold (without / with)", "cold, ours without the memo", "cold, ours")]
    for label, slow, fast in pairs:
        print(f"{label:40s} median ratio: wall {median_ratio(rows[slow], rows[fast], 0):.2f}, "
              f"CPU {median_ratio(rows[slow], rows[fast], 1):.2f}")


def hf_trainer(lines, vocab_size):
    tok = tokenizers.Tokenizer(tokenizers.models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    trainer = tokenizers.trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=2,
                                                   special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(lines, trainer)
    return tok


def bench_train(data: Path, vocab_size: int, repeats: int) -> None:
    lines = (data / "kant" / "kant.txt").read_text(encoding="utf-8-sig").split("\n")
    cut = int(0.9 * len(lines))
    train, held_out = lines[:cut], [line for line in lines[cut:] if line.strip()]
    print(f"\ntrain: kant.txt first {cut} lines, vocab_size {vocab_size}, min_frequency 2")
    made = {}
    rows = timed_interleaved(
        {
            "ours": lambda: made.__setitem__(
                "ours",
                WordPieceTrainer(
                    vocab_size=vocab_size, min_frequency=2, show_progress=False
                ).train_from_iterator(train),
            ),
            "tokenizers": lambda: made.__setitem__("tokenizers", hf_trainer(train, vocab_size)),
        },
        repeats,
    )
    ours, theirs = made["ours"], made["tokenizers"]
    t_ours = min(p[0] for p in rows["ours"])
    t_hf = min(p[0] for p in rows["tokenizers"])
    a, b = set(ours.get_vocab()), set(theirs.get_vocab())
    n_ours = sum(len(e) for e in ours.encode_batch(held_out, add_special_tokens=False))
    n_hf = sum(len(e.ids) for e in theirs.encode_batch(held_out, add_special_tokens=False))
    print(
        f"time (best of {repeats}): ours {t_ours:.2f} s, tokenizers {t_hf:.2f} s, ratio (HF / "
        f"ours) {t_hf / t_ours:.2f}"
    )
    print(f"vocab: ours {len(a)}, tokenizers {len(b)}, shared {len(a & b)} "
          f"({100 * len(a & b) / max(len(a), len(b)):.2f}%)")
    print(f"held-out tokens ({len(held_out)} lines): ours {n_ours}, tokenizers {n_hf} "
          f"({100 * (n_ours - n_hf) / n_hf:+.3f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get(
        "MINIBERT_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    print(
        f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
        f"{os.cpu_count()} CPUs, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}"
    )
    bench_encode(args.data, args.repeats)
    bench_train(args.data, args.vocab_size, min(args.repeats, 3))


if __name__ == "__main__":
    main()
