"""The main job over seeds, with every epoch's logits kept: what choosing another epoch or
another decision threshold would have scored, without training again.

`finetune()` runs exactly as `minibert finetune cola` runs it (same recipe, seeds, split,
batches); a log hook takes, after each epoch, the logits of the held-out validation rows and
of both dev sets. From those this prints, per variant, out_of_domain_dev and in_domain_dev
MCC over the seeds (mean ± std):

  * best-by-validation epoch, argmax: what the CLI reports today;
  * each fixed epoch k (the weights after epoch k of the same 5-epoch schedule);
  * best epoch, with the decision threshold on logit(acceptable) - logit(unacceptable)
    chosen to maximise validation MCC (the dev sets are never looked at to choose it).

    python bench/finetune_probe.py [--seeds 1,2,3,4,5] [--threads 2] [--json out.json]
        [--reinit-pooler] [--layers K] [--freeze-word-embeddings] [--dropout P]
        [-- extra finetune flags such as --pooling mean]

Runs in fp32 unless `-- --precision bf16` is given, so its tables compare across machines
(`auto` would pick bf16 on CPUs with AVX512-BF16 or AMX).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minibert import BertForSequenceClassification  # noqa: E402
from minibert.hub import resolve_model_dir  # noqa: E402
from tokenizer import WordPieceTokenizer  # noqa: E402
from train.cli.cmd_finetune import add_arguments, build_config  # noqa: E402
from train.data.cola import cola_split  # noqa: E402
from train.data.download import cola_dir  # noqa: E402
from train.evaluate import predict_logits  # noqa: E402
from train.finetune import FinetuneResult, encode, finetune, split_train_val  # noqa: E402
from train.metrics import matthews_corrcoef  # noqa: E402

SETS = ("validation", "out_of_domain_dev", "in_domain_dev")


def margins(model, tok, enc, cfg) -> list[float]:
    logits = predict_logits(model, tok, enc, 64, torch.device("cpu"), cfg.precision)  # (N, 2)
    return (logits[:, 1] - logits[:, 0]).tolist()


def mcc_at(margin: list[float], labels: list[int], threshold: float = 0.0) -> float:
    return matthews_corrcoef(labels, [int(m > threshold) for m in margin])


def best_threshold(margin: list[float], labels: list[int]) -> float:
    """The cut between two sorted validation margins that maximises validation MCC."""
    cuts = sorted(set(margin))
    candidates = [(a + b) / 2 for a, b in zip(cuts, cuts[1:])] + [0.0]
    return max(candidates, key=lambda t: (mcc_at(margin, labels, t), -abs(t)))


def run_seed(seed: int, args, model_dir, tok, data) -> dict:
    cfg, _ = build_config(args, 384, seed)
    enc, labels = data["train"]
    train_idx, val_idx = split_train_val(len(enc), cfg.val_fraction, cfg.split_seed)
    sets = {"validation": ([enc[i] for i in val_idx], [labels[i] for i in val_idx]),
            "out_of_domain_dev": data["out_of_domain_dev"],
            "in_domain_dev": data["in_domain_dev"]}
    torch.manual_seed(seed)
    overrides = {"classifier_pooling": args.pooling} if args.pooling else {}
    if args.layers:  # the checkpoint's lower layers only; the ones above are not loaded
        overrides["num_hidden_layers"] = args.layers
    if args.dropout is not None:
        overrides.update(hidden_dropout_prob=args.dropout,
                         attention_probs_dropout_prob=args.dropout)
    model = BertForSequenceClassification.from_pretrained(model_dir, verbose=False, num_labels=2,
                                                          **overrides)
    if args.reinit_pooler:  # Zhang et al. 2021: the pooler afresh
        model._init_weights(model.bert.pooler.dense, torch.Generator().manual_seed(seed))
    if args.freeze_word_embeddings:
        # words seen in training would move while words met only in the dev sets stay put
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    per_epoch = []

    def log(line: str) -> None:
        print(line, flush=True)
        if line.startswith("epoch "):
            per_epoch.append({k: margins(model, tok, sets[k][0], cfg) for k in SETS})
            model.train()

    result = FinetuneResult()
    finetune(model, tok, [enc[i] for i in train_idx], [labels[i] for i in train_idx],
             sets["validation"][0], sets["validation"][1], cfg, torch.device("cpu"), log=log,
             result=result)
    return {"seed": seed, "best_epoch": result.best_epoch, "margins": per_epoch,
            "labels": {k: sets[k][1] for k in SETS}, "seconds": result.total_time}


def variants(runs: list[dict]) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}

    def add(name, split, value):
        out.setdefault(name, {}).setdefault(split, []).append(value)

    for r in runs:
        best = r["margins"][r["best_epoch"] - 1]
        t = best_threshold(best["validation"], r["labels"]["validation"])
        for split in SETS[1:]:
            y = r["labels"][split]
            add("best epoch by validation MCC, argmax (the CLI)", split, mcc_at(best[split], y))
            add("best epoch, threshold tuned on validation", split, mcc_at(best[split], y, t))
            for k, m in enumerate(r["margins"], 1):
                add(f"fixed epoch {k}, argmax", split, mcc_at(m[split], y))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="write every epoch's margins and the table here")
    p.add_argument("--reinit-pooler", action="store_true",
                   help="draw the pooler's weights afresh (seeded) instead of the checkpoint's")
    p.add_argument("--layers", type=int,
                   help="keep only the checkpoint's first LAYERS encoder layers")
    p.add_argument("--freeze-word-embeddings", action="store_true",
                   help="train everything but the word-embedding table")
    p.add_argument("--dropout", type=float,
                   help="hidden, attention and classifier dropout (config: 0.1)")
    own, rest = p.parse_known_args()
    fp = argparse.ArgumentParser()
    add_arguments(fp)
    args = fp.parse_args(["cola", "--seeds", "1,2,3,4,5", "--precision", "fp32",
                          *[a for a in rest if a != "--"]])
    if args.threads:
        torch.set_num_threads(args.threads)
    args.max_length = args.max_length or 128
    vars(args).update(vars(own))  # the probe's own flags ride along with finetune's
    args.progress = False
    args.no_progress = True
    model_dir = resolve_model_dir(args.model)
    tok = WordPieceTokenizer.from_pretrained(model_dir)
    root = cola_dir(args.data)
    data = {}
    for split in ("in_domain_train", "out_of_domain_dev", "in_domain_dev"):
        rows = cola_split(root, split)
        data["train" if split == "in_domain_train" else split] = (
            encode(tok, [r.sentence for r in rows], None, args.max_length),
            [r.label for r in rows])
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    for seed in seeds:
        print(f"== seed {seed}", flush=True)
        runs.append(run_seed(seed, args, model_dir, tok, data))
        if own.json:
            with open(own.json, "w") as f:
                json.dump({"argv": sys.argv[1:], "runs": runs}, f)
    table = variants(runs)
    given = [f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
             for k, v in vars(own).items() if k != "json" and v is not None and v is not False]
    flags = " ".join([*(a for a in rest if a != "--"), *given])
    print(f"\n| variant ({flags or 'defaults'}; seeds {seeds}) "
          "| out_of_domain_dev MCC | in_domain_dev MCC |\n|---|---|---|")
    for name, by_split in table.items():
        cells = [f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else 0:.3f}"
                 for v in (by_split["out_of_domain_dev"], by_split["in_domain_dev"])]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    if own.json:
        with open(own.json, "w") as f:
            json.dump({"argv": sys.argv[1:], "runs": runs, "table": table}, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
