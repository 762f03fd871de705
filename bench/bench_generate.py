"""Time RobertaForCausalLM.generate: minibert with and without its key/value cache, and
transformers' generate (which caches), on the same weights, side by side in one run.

Greedy decoding, no early stop, so every run makes the same number of tokens; the script
checks that minibert gives the same ids with and without the cache. Prints new tokens per
second and the ratio to transformers (> 1: minibert is faster).

transformers' ids differ from ours, and from its own forward pass: in transformers 5.24 its
generate() numbers positions from 0 (the attention mask's cumulative sum minus one) where
RobertaModel itself counts from padding_idx + 1. Forward on the same positions gives the
same logits in both libraries (tests/test_model_parity.py), so the work timed is the same.

    python bench/bench_generate.py                         # KantaiBERT-size decoder
    python bench/bench_generate.py --layers 2 --new 16     # quick look
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

    kw = {"vocab_size": 52_000, "max_position_embeddings": 514, "num_attention_heads": 12,
          "num_hidden_layers": args.layers, "type_vocab_size": 1, "pad_token_id": 1,
          "bos_token_id": 0, "eos_token_id": 2, "is_decoder": True}
    torch.manual_seed(args.seed)
    hf = transformers.RobertaForCausalLM(transformers.RobertaConfig(**kw)).eval()
    ours = minibert.RobertaForCausalLM(minibert.BertConfig(model_type="roberta", **kw)).eval()
    missing, unexpected = ours.load_state_dict(hf.state_dict(), strict=False)
    assert not missing and all(
        k.endswith(("position_ids", "token_type_ids")) for k in unexpected
    ), (missing, unexpected)
    return ours, hf


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--layers", type=int, default=6, help="decoder layers (6 = KantaiBERT)")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    p.add_argument("--prompt", type=int, default=16, help="prompt tokens")
    p.add_argument("--new", type=int, default=64, help="tokens to generate")
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ours, hf = make_models(args)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, RobertaForCausalLM "
          f"hidden 768, {args.layers} layers, prompt {args.prompt}, {args.new} new tokens, greedy, "
          f"{args.iters} timed runs (median)")
    print(f"{'batch':>5} {'model':>24} {'new tok/s':>10} {'ratio':>6}")
    for batch in args.batch:
        g = torch.Generator().manual_seed(args.seed)
        prompt = torch.randint(3, 52_000, (batch, args.prompt), generator=g)
        prompt[:, 0] = 0
        runs = {
            "minibert, cache": lambda p=prompt: ours.generate(p, args.new, eos_token_id=-1),
            "minibert, no cache": lambda p=prompt: ours.generate(p, args.new, eos_token_id=-1,
                                                                 use_cache=False),
            "transformers": lambda p=prompt: hf.generate(
                p, attention_mask=torch.ones_like(p), max_new_tokens=args.new,
                min_new_tokens=args.new, do_sample=False, use_cache=True, pad_token_id=1),
        }
        times = {name: [] for name in runs}
        outputs = {}
        with torch.no_grad():
            for i in range(args.iters + 1):  # the first round warms up
                for name, run in runs.items():
                    t0 = time.perf_counter()
                    outputs[name] = run()
                    if i:
                        times[name].append(time.perf_counter() - t0)
        assert torch.equal(outputs["minibert, cache"], outputs["minibert, no cache"]), \
            "the cache changed the generated ids"
        ref = statistics.median(times["transformers"])
        for name, t in times.items():
            med = statistics.median(t)
            print(f"{batch:>5} {name:>24} {batch * args.new / med:>10,.1f} {ref / med:>6.2f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
