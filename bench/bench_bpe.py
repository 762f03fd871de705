"""Byte-level BPE: minibert vs Hugging Face, side by side in one run.

    python bench/bench_bpe.py [--repeats 3] [--quick] [--encoding-only]

1. Training (52,000 / min_frequency 2, and 8,000) on kant.txt and on kant + philosophy/*.txt:
   our pure-Python `BPETrainer` vs `tokenizers.ByteLevelBPETokenizer.train` (Rust, all cores),
   both from the same files; also checks that the merge lists are identical.
2. Encoding with the GPT-2 vocabulary (data/gpt2_bpe): per sentence over CoLA's training
   sentences (one call per sentence, as a data loader does), and kant.txt as one text.
   Compared with `transformers.GPT2TokenizerFast` (`tok(text)`, the usual call), and for
   reference with the bare Rust `tokenizers.Tokenizer.encode` it wraps; and what our speed
   layer buys: the same with `cache_size=0` (the plain path alone), and with add_prefix_space
   with and without the cache of first words given a synthetic space.

Training and kant.txt times are wall-clock, the best of `--repeats` runs of each side,
interleaved, so that other jobs on a shared machine disturb both alike (the Rust trainer may use
every core; ours uses one). Per-sentence rows are the median of `--repeats` passes taken in
turns (the order rotating each round), wall clock and CPU time of this process, and each ratio
is the median of the per-round ratios. Ratio = HF time / our time: > 1 means minibert is faster.
Data: $MINIBERT_DATA or ../shared/data.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# the paired timing loop is bench_wordpiece's (this folder is on sys.path when run as a script)
from bench_wordpiece import timed_interleaved as paired  # noqa: E402

from tokenizer.bpe_trainer import BPETrainer  # noqa: E402 (after the sys.path line above)
from tokenizer.byte_level_bpe import ByteLevelBPETokenizer  # noqa: E402

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def data_dir() -> Path:
    env = os.environ.get("MINIBERT_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def best_of(repeats: int, fn, *args) -> tuple[float, object]:
    """Best wall time of `repeats` calls of fn(*args), and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def hf_train(files, vocab_size):
    from tokenizers import ByteLevelBPETokenizer as HFByteLevel
    tok = HFByteLevel()
    tok.train([str(f) for f in files], vocab_size=vocab_size, min_frequency=2,
              special_tokens=SPECIALS, show_progress=False)
    with tempfile.TemporaryDirectory() as d:
        tok.save_model(d)
        lines = Path(d, "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(line.split(" ")) for line in lines if line]


def our_train(files, vocab_size):
    trainer = BPETrainer(vocab_size, 2, special_tokens=SPECIALS, show_progress=False)
    return trainer.train(files).merges


def bench_training(data: Path, repeats: int, quick: bool) -> None:
    kant = [data / "kant" / "kant.txt"]
    corpora = {"kant.txt": kant}
    if not quick:
        corpora["kant + philosophy"] = kant + sorted((data / "philosophy").glob("*.txt"))
    print("== training (min_frequency 2) ==")
    print(
        f"{'corpus':<20}{'vocab':>7}{'MB':>6}{'tokenizers s':>14}{'minibert s':>12}{'ratio':>8}  "
        f"merges identical"
    )
    for name, files in corpora.items():
        mb = sum(f.stat().st_size for f in files) / 1e6
        for vocab_size in (52_000, 8_000):
            t_hf, hf_merges = best_of(repeats, hf_train, files, vocab_size)
            t_ours, merges = best_of(repeats, our_train, files, vocab_size)
            same = sum(a == b for a, b in zip(merges, hf_merges))
            print(
                f"{name:<20}{vocab_size:>7}{mb:>6.1f}{t_hf:>14.3f}{t_ours:>12.3f}"
                f"{t_hf / t_ours:>8.2f}  "
                f"{same}/{len(hf_merges)} in order (ours {len(merges)})"
            )


class _Forgetful(dict):
    """A cache that never keeps anything: one cache of the tokenizer switched off."""

    def __setitem__(self, key, value) -> None:
        pass


def bench_encoding(data: Path, repeats: int) -> None:
    from transformers import GPT2TokenizerFast
    vocab, merges = data / "gpt2_bpe" / "encoder.json", data / "gpt2_bpe" / "vocab.bpe"
    ours = ByteLevelBPETokenizer.from_files(vocab, merges)
    plain = ByteLevelBPETokenizer.from_files(vocab, merges, cache_size=0)
    prefixed = ByteLevelBPETokenizer.from_files(vocab, merges, add_prefix_space=True)
    prefixed_no_memo = ByteLevelBPETokenizer.from_files(vocab, merges, add_prefix_space=True)
    prefixed_no_memo._cache_prefixed = _Forgetful()
    hf = GPT2TokenizerFast(str(vocab), str(merges))
    hf_prefixed = GPT2TokenizerFast(str(vocab), str(merges), add_prefix_space=True)
    rust = hf._tokenizer
    with open(data / "cola" / "in_domain_train.tsv", encoding="utf-8", newline="") as f:
        sentences = [row[3] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]

    def each(encode):
        return lambda: [encode(s) for s in sentences]

    # First pass over CoLA with an empty word cache (ours) -- HF's cache is warm after its own run.
    t_cold, _ = best_of(1, each(ours.encode))
    assert [e.ids for e in each(ours.encode)()] == [r["input_ids"] for r in each(hf)()], \
        "ids differ from HF"
    rows = {
        "minibert encode": each(ours.encode),
        "transformers tok(text)": each(hf),
        "tokenizers .encode": each(rust.encode),
        "minibert, cache_size=0": each(plain.encode),
        "minibert, add_prefix_space": each(prefixed.encode),
        "transformers, add_prefix_space": each(hf_prefixed),
        "minibert, add_prefix_space, no 1st-word cache": each(prefixed_no_memo.encode),
    }
    for warm_up in rows.values():
        warm_up()
    times = paired(rows, repeats)
    n = len(sentences)
    print(f"\n== encoding, GPT-2 vocabulary: {n} CoLA sentences, one call each; median of "
          f"{repeats} passes taken in turns (first pass of ours, empty cache: "
          f"{t_cold / n * 1e6:.1f} us) ==")
    print(f"{'':48s}{'us/sent':>8s}{'CPU us':>8s}  ratio to the row it is compared with, "
          f"median of per-round ratios (wall / CPU)")
    against = {"transformers tok(text)": "minibert encode", "tokenizers .encode": "minibert encode",
               "minibert, cache_size=0": "minibert encode",
               "transformers, add_prefix_space": "minibert, add_prefix_space",
               "minibert, add_prefix_space, no 1st-word cache": "minibert, add_prefix_space"}
    for name, passes in times.items():
        wall = statistics.median(p[0] for p in passes) / n * 1e6
        cpu = statistics.median(p[1] for p in passes) / n * 1e6
        line = f"{name:48s}{wall:8.1f}{cpu:8.1f}"
        if name in against:
            ref = times[against[name]]
            ratios = [statistics.median(a[k] / b[k] for a, b in zip(passes, ref)) for k in (0, 1)]
            line += f"  {ratios[0]:.2f} / {ratios[1]:.2f} vs {against[name]!r}"
        print(line)

    bench_one_text(ours, hf, data, repeats)


def bench_one_text(ours, hf, data: Path, repeats: int) -> None:
    """kant.txt encoded as one text: ours, transformers and the bare Rust tokenizer."""
    kant = (data / "kant" / "kant.txt").read_text(encoding="utf-8")
    rust = hf._tokenizer
    t_ours, enc = best_of(repeats, ours.encode, kant)
    t_hf, ref = best_of(repeats, hf, kant)
    t_rust, _ = best_of(repeats, rust.encode, kant)
    assert enc.ids == ref["input_ids"], "ids differ from HF on kant.txt"
    mb = len(kant.encode("utf-8")) / 1e6
    print(f"\n== encoding kant.txt as one text ({mb:.2f} MB, {len(enc)} tokens), seconds ==")
    print(f"minibert encode          {t_ours:8.3f}   {mb / t_ours:.2f} MB/s")
    print(f"transformers tok(text)   {t_hf:8.3f}   ratio {t_hf / t_ours:.2f}")
    print(f"tokenizers .encode       {t_rust:8.3f}   ratio {t_rust / t_ours:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="kant.txt only for training")
    parser.add_argument("--encoding-only", action="store_true", help="skip training")
    args = parser.parse_args()
    data = data_dir()
    import tokenizers
    import transformers
    print(
        f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    if not args.encoding_only:
        bench_training(data, args.repeats, args.quick)
    bench_encoding(data, args.repeats)


if __name__ == "__main__":
    main()
