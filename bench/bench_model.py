"""Time minibert's BertModel against transformers' on the same weights, side by side.

For each sequence length: forward tokens/s (eval mode, no grad) and forward+backward
tokens/s (train mode, dropout on, gradients of a scalar loss on the last hidden state), and
the memory autograd keeps for backward (activations and weights, each storage once),
minibert and transformers alternating iteration by iteration so that load from other
processes on a shared machine hits both alike. Prints medians and the ratio
minibert / transformers (> 1: minibert is faster), both as a ratio of the medians and as
the median of the per-iteration ratios ("paired").

    python bench/bench_model.py                      # bert-base, batch 32, seq 64 and 128
    python bench/bench_model.py --layers 2 --iters 2 --batch 8 --seqs 64   # quick look
    python bench/bench_model.py --pad 0.25           # a quarter of each row is padding
    python bench/bench_model.py --precision bf16     # both models under bf16 autocast
    python bench/bench_model.py --compile            # both models torch.compile'd (dynamic)

--precision bf16 runs both models under torch.autocast (bf16 products, fp32 softmax and
LayerNorm), as `--precision bf16` does in training; --compile wraps both in
torch.compile(dynamic=True) and warms each up before timing (the warm-up time is printed).
Ratios always compare minibert with transformers under the same settings; to compare a
setting with fp32 eager, compare the tok/s columns of two runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import minibert


def make_models(args):
    import transformers

    kw = {"num_hidden_layers": args.layers}
    hf_config = transformers.BertConfig(**kw)
    torch.manual_seed(args.seed)
    hf = transformers.BertModel(hf_config)
    ours = minibert.BertModel(minibert.preset("bert-base-uncased", **kw))
    missing, unexpected = ours.load_state_dict(hf.state_dict(), strict=False)
    assert not missing and all(
        k.endswith(("position_ids", "token_type_ids")) for k in unexpected
    ), (missing, unexpected)
    impl = getattr(hf.config, "_attn_implementation", "?")
    return ours, hf, impl


def make_batch(args, seq: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(1000, 30000, (args.batch, seq), generator=g)
    mask = torch.ones(args.batch, seq, dtype=torch.long)
    n_pad = int(seq * args.pad)
    if n_pad:
        mask[:, seq - n_pad:] = 0
        ids[:, seq - n_pad:] = 0
    types = torch.zeros_like(ids)
    types[:, seq // 2:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def step(model, batch, backward: bool, precision: str) -> None:
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    if backward:
        with autocast:
            out = model(**batch).last_hidden_state
        out.float().square().mean().backward()
        model.zero_grad(set_to_none=True)
    else:
        with torch.no_grad(), autocast:
            model(**batch)


def saved_megabytes(model, batch) -> float:
    """Memory autograd keeps for backward after one training forward: every distinct storage
    saved by any op (weights included), in MB. Deterministic, unlike peak RSS."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    model.train()
    torch.manual_seed(0)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(**batch).last_hidden_state
    del out
    return sum(seen.values()) / 2**20


def bench(models: dict, batch, backward: bool, iters: int, warmup: int,
          precision: str) -> dict[str, float]:
    """Median seconds per step for each model (name -> (module, callable)), alternating
    models every iteration."""
    for m, _ in models.values():
        m.train(backward)
    times = {name: [] for name in models}
    for i in range(warmup + iters):
        for name, (_, fn) in models.items():
            t0 = time.perf_counter()
            step(fn, batch, backward, precision)
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    # Per-iteration ratios of back-to-back runs: robust to load that drifts during the run.
    for name in models:
        med["paired_" + name] = statistics.median(
            b / a for a, b in zip(times[name], times["transformers"]))
    return med


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seqs", type=int, nargs="+", default=[64, 128])
    p.add_argument("--layers", type=int, default=12, help="encoder layers (12 = bert-base)")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pad", type=float, default=0.0, help="fraction of each row that is padding")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modes", nargs="+", default=["forward", "forward+backward"],
                   choices=["forward", "forward+backward"])
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: both models under bf16 autocast")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile both models (dynamic=True) before timing")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ours, hf, impl = make_models(args)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, bert-base hidden 768, "
          f"{args.layers} layers, batch {args.batch}, pad {args.pad:.0%}, {args.precision}"
          f"{', compiled' if args.compile else ''}, transformers attention: {impl}, "
          f"{args.iters} timed iterations (median)")
    models = {"minibert": (ours, ours), "transformers": (hf, hf)}
    if args.compile:
        models = {name: (m, torch.compile(m, dynamic=True)) for name, (m, _) in models.items()}
        for name, (m, fn) in models.items():
            t0 = time.perf_counter()
            for seq in args.seqs:
                for mode in args.modes:
                    m.train(mode == "forward+backward")
                    step(fn, make_batch(args, seq), mode == "forward+backward", args.precision)
            print(f"{name}: compile warm-up {time.perf_counter() - t0:.0f}s", flush=True)
    print(f"{'seq':>5} {'mode':>17} {'model':>19} {'tok/s':>7} {'ratio':>6} {'paired':>7}")
    for seq in args.seqs:
        batch = make_batch(args, seq)
        for mode in args.modes:
            t = bench(models, batch, mode == "forward+backward", args.iters, args.warmup,
                      args.precision)
            tokens = args.batch * seq
            for name in models:
                rate, ratio = tokens / t[name], t["transformers"] / t[name]
                print(f"{seq:>5} {mode:>17} {name:>19} {rate:>7,.0f} {ratio:>6.2f} "
                      f"{t['paired_' + name]:>7.2f}", flush=True)
        if "forward+backward" in args.modes and not args.compile:
            mb = {name: saved_megabytes(m, batch) for name, (m, _) in models.items()}
            print(f"{seq:>5} saved for backward: " + ", ".join(
                f"{name} {v:,.0f} MB" for name, v in mb.items())
                + f" (minibert / transformers {mb['minibert'] / mb['transformers']:.2f})",
                flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
