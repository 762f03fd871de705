"""Corpus preparation: `minibert prepare-data` beside Hugging Face `datasets` + a fast tokenizer.

The corpus: the paragraphs (blocks between blank lines) of kant.txt and the four philosophy
books in ../shared/data, shuffled and repeated (a new shuffle each pass, seed 0) until it holds
--mb megabytes; written once to --work (default /tmp/minibert-bench) and deleted at the end
unless --keep. The same tokenizer on both sides: GPT-2's byte-level BPE (or, with --tokenizer
wordpiece, bert-base-uncased), hand-written in minibert, Rust `tokenizers` in the peer.

- minibert: `python -m train.cli prepare-data --workers W` (shards: ids, word starts, line and
  document boundaries, manifest with sha256).
- peer: what a user of Hugging Face would write (run_mlm.py, line by line): `load_dataset("text")`
  then `.map(tokenize, batched=True, num_proc=W)` with the fast tokenizer, blank lines dropped,
  return_special_tokens_mask=True, writing the Arrow cache. Its load step (text -> Arrow) is
  timed too, as the user waits for it.

Each side runs in a fresh process; its peak memory is the highest sum of RSS over the process
and all its children, sampled every 50 ms from /proc. Prints MB/s, seconds and peak RSS of
both, and the ratios (MB/s > 1: minibert faster). --sizes runs minibert alone at several
corpus sizes, to show that its peak memory does not grow with the corpus.

    python bench/bench_prepare.py [--mb 1024] [--workers 2] [--tokenizer bpe|wordpiece]
    python bench/bench_prepare.py --sizes 100,1024 --workers 2   # memory vs corpus size
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MINIBERT_DATA", REPO.parent / "shared" / "data"))
BOOKS = ["kant/kant.txt", "philosophy/all_too_human.txt", "philosophy/meditations.txt",
         "philosophy/nietzsche.txt", "philosophy/walden.txt"]


def build_corpus(path: Path, megabytes: int) -> Path:
    """Paragraphs of the books, shuffled and repeated up to `megabytes` (kept if present)."""
    if path.is_file() and path.stat().st_size >= megabytes << 20:
        return path
    paragraphs = []
    for book in BOOKS:
        text = (DATA / book).read_text(encoding="utf-8-sig")
        paragraphs += [p.strip("\n") for p in text.split("\n\n") if p.strip()]
    rng, size = random.Random(0), 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        while size < megabytes << 20:
            rng.shuffle(paragraphs)
            for p in paragraphs:
                size += f.write(p + "\n\n")
                if size >= megabytes << 20:
                    break
    return path


def _tree_rss(pid: int) -> tuple[int, int]:
    """(RSS, anonymous RSS) in bytes of `pid` and every descendant, from /proc. Anonymous
    memory is the processes' own; the rest is mostly file pages mapped (memory-mapped shards,
    libraries) that the kernel can drop and reread."""
    children: dict[int, list[int]] = {}
    rss: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rfind(")") + 2:].split()[1])
            fields = dict(line.split(":", 1) for line in
                          (entry / "status").read_text().splitlines() if ":" in line)
            total, anon = (int(fields[k].split()[0]) << 10 for k in ("VmRSS", "RssAnon"))
        except (OSError, ValueError, IndexError, KeyError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = (total, anon)
    total = anon = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        t, a = rss.get(p, (0, 0))
        total, anon = total + t, anon + a
        todo += children.get(p, [])
    return total, anon


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, tuple[int, int], str]:
    """(seconds, peak (RSS, anonymous RSS) of the process tree in bytes, stdout) of a command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env, cwd=REPO)
    peak, peak_anon = 0, 0
    while proc.poll() is None:
        total, anon = _tree_rss(proc.pid)
        peak, peak_anon = max(peak, total), max(peak_anon, anon)
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    out = proc.stdout.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}")
    return seconds, (peak, peak_anon), out


def tokenizer_folder(kind: str, work: Path) -> Path:
    """Our tokenizer's folder: GPT-2's BPE saved by minibert, or bert-base-uncased's vocab."""
    folder = work / f"tok-{kind}"
    if kind == "bpe":
        from tokenizer.byte_level_bpe import ByteLevelBPETokenizer

        ByteLevelBPETokenizer.from_files(DATA / "gpt2_bpe" / "encoder.json",
                                         DATA / "gpt2_bpe" / "vocab.bpe").save(folder)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "bert_vocab" / "bert-base-uncased-vocab.txt", folder / "vocab.txt")
    return folder


def peer(corpus: str, cache: str, workers: int, kind: str) -> None:
    """The Hugging Face pipeline (runs in its own process, see main)."""
    from datasets import load_dataset
    from transformers import BertTokenizerFast, GPT2TokenizerFast

    if kind == "bpe":
        tok = GPT2TokenizerFast(str(DATA / "gpt2_bpe" / "encoder.json"),
                                str(DATA / "gpt2_bpe" / "vocab.bpe"))
    else:
        tok = BertTokenizerFast(str(DATA / "bert_vocab" / "bert-base-uncased-vocab.txt"))

    def tokenize(batch):
        lines = [line for line in batch["text"] if len(line) > 0 and not line.isspace()]
        return tok(lines, return_special_tokens_mask=True)

    raw = load_dataset("text", data_files=corpus, cache_dir=cache, split="train")
    out = raw.map(tokenize, batched=True, num_proc=workers, remove_columns=["text"])
    print(sum(len(x) for x in out["input_ids"][:1000]) > 0, len(out))


def measure_ours(corpus: Path, tok: Path, out: Path, workers: int,
                 piece_mb: int) -> tuple[float, tuple[int, int]]:
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak, _ = run_measured([sys.executable, "-m", "train.cli", "prepare-data",
                                     "--tokenizer", str(tok), "--out", str(out), "--workers",
                                     str(workers), "--piece-mb", str(piece_mb), "--no-progress",
                                     str(corpus)],
                                    env=os.environ | {"PYTHONPATH": str(REPO)})
    return seconds, peak


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=1024, help="corpus size in MB")
    p.add_argument("--sizes", default=None, help="e.g. 100,1024: minibert's memory at each size")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tokenizer", choices=["bpe", "wordpiece"], default="bpe")
    p.add_argument("--piece-mb", type=int, default=32, help="prepare-data's --piece-mb")
    p.add_argument("--work", default="/tmp/minibert-bench")
    p.add_argument("--keep", action="store_true", help="keep the corpus and outputs")
    p.add_argument("--peer", nargs=2, metavar=("CORPUS", "CACHE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.peer:
        peer(args.peer[0], args.peer[1], args.workers, args.tokenizer)
        return 0
    work = Path(args.work)
    tok = tokenizer_folder(args.tokenizer, work)
    try:
        if args.sizes:
            print("| corpus MB | minibert MB/s | seconds | peak RSS MB | anonymous MB |\n"
                  "|---|---|---|---|---|")
            for mb in map(int, args.sizes.split(",")):
                corpus = build_corpus(work / f"corpus-{mb}MB.txt", mb)
                s, (rss, anon) = measure_ours(corpus, tok, work / "shards", args.workers,
                                              args.piece_mb)
                print(f"| {mb} | {corpus.stat().st_size / 2**20 / s:.2f} | {s:.0f} | "
                      f"{rss / 2**20:.0f} | {anon / 2**20:.0f} |", flush=True)
            return 0
        corpus = build_corpus(work / f"corpus-{args.mb}MB.txt", args.mb)
        mb = corpus.stat().st_size / 2**20
        s_ours, (rss_ours, _) = measure_ours(corpus, tok, work / "shards", args.workers,
                                             args.piece_mb)
        cache = work / "hf-cache"
        shutil.rmtree(cache, ignore_errors=True)
        s_peer, (rss_peer, _), _ = run_measured([sys.executable, __file__, "--peer", str(corpus),
                                            str(cache), "--workers", str(args.workers),
                                            "--tokenizer", args.tokenizer])
        print(f"corpus {mb:,.0f} MB ({corpus}), {args.workers} workers, {args.tokenizer}")
        print("| | MB/s | seconds | peak RSS MB |\n|---|---|---|---|")
        print(f"| minibert prepare-data | {mb / s_ours:.2f} | {s_ours:.0f} | "
              f"{rss_ours / 2**20:.0f} |")
        print(f"| datasets .map + tokenizers | {mb / s_peer:.2f} | {s_peer:.0f} | "
              f"{rss_peer / 2**20:.0f} |")
        print(f"ratio minibert / peer: MB/s {s_peer / s_ours:.2f}x, peak RSS "
              f"{rss_ours / rss_peer:.2f}x")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
