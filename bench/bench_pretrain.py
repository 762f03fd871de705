"""Training-step throughput: minibert vs transformers, same model, same batch, same optimizer.

One step = forward with labels (masked LM loss, or causal LM loss), backward, AdamW step.
Both models start from the same weights (ours are copied into transformers' model: the
state-dict keys are the same), so the first losses must agree; that is checked and printed.
Tokens/s counts non-padding tokens. Runs on CPU by default; `--device cuda` on a GPU.

    python bench/bench_pretrain.py                 # small + kantaibert-size roberta MLM
    python bench/bench_pretrain.py --sizes small --objective causal
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minibert.config import preset
from train import objectives

SIZES = {
    # name: (config overrides of the kantaibert preset, batch, seq)
    "small": (
        {
            "vocab_size": 8000,
            "hidden_size": 256,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "intermediate_size": 1024,
        },
        16,
        128,
    ),
    "kantaibert": ({}, 8, 128),
}
HF_CLASSES = {"roberta": "RobertaForMaskedLM", "causal": "RobertaForCausalLM"}


def make_batch(config, batch: int, seq: int, objective: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, config.vocab_size, (batch, seq), generator=g)  # (B, T)
    lengths = torch.randint(seq // 2, seq + 1, (batch,), generator=g)
    mask = (torch.arange(seq)[None] < lengths[:, None]).long()
    ids = ids.masked_fill(mask == 0, config.pad_token_id)
    if objective == "causal":
        labels = ids.masked_fill(mask == 0, -100)
    else:
        chosen = (torch.rand(batch, seq, generator=g) < 0.15) & (mask == 1)
        labels = ids.masked_fill(~chosen, -100)
        ids = ids.masked_fill(chosen, 4)
    return ids, mask, labels


def one_step(model, opt, batch) -> tuple[float, float]:
    ids, mask, labels = batch
    t0 = time.perf_counter()
    loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0, loss.item()


def timed_pair(models, batch, steps: int, warmup: int):
    """Steps of each model taken in turn, so a burst of load on a shared machine hits both."""
    opts = [torch.optim.AdamW(m.parameters(), lr=1e-4) for m in models]
    times, first = [[] for _ in models], [None] * len(models)
    for m in models:
        m.train()
    for i in range(warmup + steps):
        for k, (m, o) in enumerate(zip(models, opts)):
            dt, loss = one_step(m, o, batch)
            if i == 0:
                first[k] = loss
            if i >= warmup:
                times[k].append(dt)
    return times, first


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--objective", choices=list(HF_CLASSES), default="roberta")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{platform.machine()}, {args.threads} threads, device {args.device}")
    for name in args.sizes:
        overrides, batch, seq = SIZES[name]
        config = preset("kantaibert", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        is_decoder=args.objective == "causal", **overrides)
        torch.manual_seed(0)
        ours = objectives.trained_class(args.objective)(config).to(args.device)
        hf_config = transformers.RobertaConfig(**{
            k: v for k, v in config.to_dict().items() if k not in ("model_type",)})
        hf_config._attn_implementation = "sdpa"
        theirs = getattr(transformers, HF_CLASSES[args.objective])(hf_config).to(args.device)
        missing, _unexpected = theirs.load_state_dict(ours.state_dict(), strict=False)
        assert not [k for k in missing if "position_ids" not in k], missing
        data = tuple(t.to(args.device) for t in make_batch(config, batch, seq, args.objective))
        tokens = int(data[1].sum())
        (t_ours, t_hf), (l_ours, l_hf) = timed_pair([ours, theirs], data, args.steps, args.warmup)
        n = sum(p.numel() for p in ours.parameters())
        tps_ours = tokens / statistics.median(t_ours)
        tps_hf = tokens / statistics.median(t_hf)
        print(f"{name:>10} {args.objective} ({n:,} params, batch {batch}x{seq}, {tokens} tokens): "
              f"minibert {tps_ours:,.0f} tok/s, transformers {tps_hf:,.0f} tok/s, "
              f"ratio {tps_ours / tps_hf:.2f}; first loss {l_ours:.4f} vs {l_hf:.4f}")


if __name__ == "__main__":
    main()
