"""The pretraining data side on shards: masked batches of 64 x 128 tokens per second, and its
peak memory at two corpus sizes.

What is timed is what `train/pretrain.py` pulls per micro-batch from shards: RoBERTa packed
blocks of 128 tokens (`PackedBlocks`) read from disk (pread) in a seeded shuffled order, padded
and masked (`MLMCollator`, 15%, dynamic) by `RankBatches` in --workers DataLoader processes
(`rank_stream`), one process per core; the main process only receives the batches, as the
training step would. Tokens/s counts non-padding tokens of the batches received, after a
warm-up of 20 batches. Tokens per CPU-second (all batches, over the CPU time of the workers
and the main process) is what the same work costs without other jobs on the machine: times
the core count, it estimates tokens/s on a quiet machine. Target: 1 M tokens/s on 2 cores
(a bert-base step on one H100 at 50% MFU consumes about 0.75 M tokens/s).

Memory: the same measurement runs in a fresh process per corpus size, and its peak memory is
the highest sum of RSS over the process and its workers (bench_prepare.run_measured). The
corpus: bench_prepare's shuffled books at --mb (default 100 MB), prepared (bert-base-uncased
WordPiece, which has a [MASK]; GPT-2 has none) with `minibert
prepare-data`; the larger size is the same shards listed --replicate times (hard links: the
same tokens, 10x the blocks, no extra disk or tokenizing time), which is all the loader's
memory can depend on. The shards are read with pread, not mapped, so no page of the corpus
counts in RSS (a map's fault-around made RSS grow towards the shards' size); anonymous RSS
beside it is the processes' own memory. The loop reads a fixed number of batches at every
size.

    python bench/bench_loader.py [--mb 100] [--replicate 10] [--batches 400] [--workers 2]
    python bench/bench_loader.py --data DATA_DIR --tokenizer TOK   # your own shards
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_prepare import build_corpus, run_measured, tokenizer_folder  # noqa: E402


def measure(data: str, tok_dir: str, batches: int, workers: int, whole_word: bool) -> dict:
    """Tokens/s of masked 64 x 128 batches from shards (runs in its own process)."""
    import torch

    from tokenizer import load_tokenizer
    from train import ddp
    from train.data.collator import MLMCollator
    from train.data.datasets import PackedBlocks
    from train.data.loader import RankBatches, rank_stream
    from train.data.shards import Shards

    torch.set_num_threads(1)
    tok = load_tokenizer(tok_dir)
    blocks = PackedBlocks(Shards.open(data, tokenizer_dir=tok_dir), tok, block_size=128)
    per_epoch = -(-len(blocks) // 64)
    source = RankBatches(blocks, MLMCollator(tok, whole_word=whole_word), batch_size=64,
                         per_epoch=per_epoch, seed=0, shuffle=True, info=ddp.DistInfo())
    stream = rank_stream(source, 0, batches + 20, num_workers=workers)
    warm_up = sum(int(next(stream)["attention_mask"].sum()) for _ in range(20))
    tokens, start, cpu = 0, time.perf_counter(), time.process_time()
    for batch in stream:
        tokens += int(batch["attention_mask"].sum())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    del stream  # joins the workers, so their CPU time is counted below
    gc.collect()
    workers_cpu = sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), f)
                      for f in ("ru_utime", "ru_stime"))
    return {"blocks": len(blocks), "tokens_per_s": tokens / seconds, "seconds": seconds,
            "tokens_per_cpu_s": (tokens + warm_up) / (workers_cpu + cpu)}


def replicate(src: Path, dst: Path, times: int) -> Path:
    """A data folder listing src's shards `times` over (hard links, new names, same sha256)."""
    from train.data.shards import read_manifest, shard_name, write_manifest

    manifest = read_manifest(src)
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    shards = []
    for _ in range(times):
        for entry in manifest["shards"]:
            name = shard_name(len(shards))
            (dst / name).mkdir()
            for f in (src / entry["name"]).iterdir():
                os.link(f, dst / name / f.name)
            shards.append(entry | {"name": name})
    total = {key: manifest[key] * times for key in ("n_tokens", "n_lines", "n_docs", "bytes")}
    write_manifest(dst, manifest | total | {"shards": shards})
    return dst


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="a prepared data folder (default: build one)")
    p.add_argument("--tokenizer", default=None, help="its tokenizer folder (with --data)")
    p.add_argument("--mb", type=int, default=100)
    p.add_argument("--replicate", type=int, default=10)
    p.add_argument("--batches", type=int, default=400)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--whole-word", action="store_true")
    p.add_argument("--work", default="/tmp/minibert-bench-loader")
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(args.data, args.tokenizer, args.batches, args.workers,
                                 args.whole_word)))
        return 0
    work = Path(args.work)
    try:
        if args.data:
            folders, tok = {"given": Path(args.data)}, Path(args.tokenizer)
        else:
            from train.data.prepare import prepare

            tok = tokenizer_folder("wordpiece", work)  # GPT-2 has no [MASK]
            corpus = build_corpus(work / f"corpus-{args.mb}MB.txt", args.mb)
            small = work / "shards"
            prepare(tok, [corpus], small, workers=args.workers)
            folders = {f"{args.mb} MB": small,
                       f"{args.mb * args.replicate} MB": replicate(small, work / "big",
                                                                   args.replicate)}
        print(f"batches of 64 x 128, masked, {args.workers} loader workers, {args.batches} "
              f"batches timed{', whole-word' if args.whole_word else ''}")
        print("| corpus | blocks | tokens/s | tokens per CPU-second | peak RSS MB | "
              "anonymous MB |\n|---|---|---|---|---|---|")
        rows = []
        for label, folder in folders.items():
            cmd = [sys.executable, __file__, "--measure", "--data", str(folder), "--tokenizer",
                   str(tok), "--batches", str(args.batches), "--workers", str(args.workers)]
            _, (peak, anon), out = run_measured(cmd + (["--whole-word"] if args.whole_word else []),
                                        env=os.environ | {"PYTHONPATH": str(REPO)})
            r = json.loads(out.strip().splitlines()[-1])
            rows.append((peak, anon))
            print(f"| {label} | {r['blocks']:,} | {r['tokens_per_s']:,.0f} | "
                  f"{r['tokens_per_cpu_s']:,.0f} | {peak / 2**20:.0f} | "
                  f"{anon / 2**20:.0f} |", flush=True)
        if len(rows) == 2:
            print(f"larger / smaller corpus: peak RSS {rows[1][0] / rows[0][0]:.3f}, "
                  f"anonymous {rows[1][1] / rows[0][1]:.3f}")
    finally:
        if not args.data:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
