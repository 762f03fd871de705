"""`minibert predict DIR ...`: classify sentences with a model saved by `minibert finetune`.

    minibert predict runs/finetune-cola-all-MiniLM-L6-v2 "The book was written by John."
    minibert predict DIR                       # one sentence per line from standard input
    minibert predict DIR --csv test.csv --text-col text --out submission.csv   # id,target

Each sentence gets its label name (from the id2label saved in config.json) and the softmax
probability of every label; this is the tutorial's interactive "type a sentence" box. With
--csv the whole file is scored in batches and written as `id,target` (the Kaggle submission
format of the disaster-tweets notebook; the column name is settable).
A checkpoint whose classifier was never trained (a plain pretrained encoder) is refused unless
--allow-untrained-head, and an existing --out file is replaced only with --overwrite.
Left out on purpose: thresholds other than argmax, top-k output.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import torch

from train.cli import flags


def add_arguments(p) -> None:
    p.add_argument("model_dir", help="a folder written by `minibert finetune`, or hub name")
    p.add_argument("sentences", nargs="*", help="sentences to classify (default: read stdin)")
    p.add_argument("--pair", help="second sentence, for models fine-tuned on pairs")
    p.add_argument("--csv", help="score every row of this CSV/TSV file")
    p.add_argument("--text-col", default="text", help="--csv: text column(s), comma-separated")
    p.add_argument("--pair-col", help="--csv: second-sentence column")
    p.add_argument("--id-col", help="--csv: id column (default: `id` if the file has one, "
                                     "else row numbers from 0)")
    p.add_argument("--target-col", default="target", help="--csv: name of the output column")
    p.add_argument("--out", help="--csv: where to write id,target (default: standard output)")
    p.add_argument("--max-length", type=flags.whole(3), default=None,
                   help="tokens per text (default 128, or the model's limit if smaller)")
    p.add_argument("--batch-size", type=flags.whole(1), default=64,
                   help="sentences scored at once")
    flags.add_device_flags(p, precision_default="fp32")
    p.add_argument("--allow-untrained-head", action="store_true",
                   help="run even if the classifier head was never trained")


def validate(args) -> None:
    from train.cli import errors

    args.model_dir = errors.model_folder(args.model_dir, "`minibert finetune`")
    args.max_length = errors.fit_max_length(args.max_length, args.model_dir)
    empty = next((i for i, s in enumerate(args.sentences, 1) if not s.strip()), None)
    if empty is not None:
        raise errors.UsageError(f"sentence {empty} is empty; there is nothing to classify")
    if (args.id_col or "id") == args.target_col:
        raise errors.UsageError(f"--target-col {args.target_col} is also the id column; the "
                                f"output's two columns need two names")
    if args.csv:
        from train.data.csv_file import distinct_columns

        errors.files_exist([args.csv], "--csv")
        distinct_columns({"--text-col": args.text_col, "--pair-col": args.pair_col})
        if args.pair is not None:
            raise errors.UsageError("--pair gives one second sentence for the sentences on the "
                                    "command line or standard input; with --csv name the "
                                    "second-sentence column with --pair-col")
        if args.sentences:
            raise errors.UsageError(f"give sentences or --csv FILE, not both (got "
                                    f"{args.sentences[0]!r} and --csv {args.csv})")
    if args.out:
        if not args.csv:
            raise errors.UsageError("--out writes the predictions of --csv; give --csv FILE")


def input_paths(args) -> list[tuple[str, str]]:
    return [(args.model_dir, "MODEL_DIR"), (args.csv, "--csv")]


def output_files(args) -> list[tuple[str, str]]:
    """--out is one file, refused if it exists unless --overwrite (train/outdir.py)."""
    return [(args.out, "--out")] if args.out else []


def load(model_dir):
    """The sequence classifier and tokenizer saved in `model_dir`: BERT or RoBERTa by
    config.json's model_type, the tokenizer by its files (minibert/auto.py)."""
    from minibert.auto import AutoModelForSequenceClassification, load_backend_tokenizer

    model_dir = Path(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, verbose=False)
    return model, load_backend_tokenizer(model_dir)


def label_names(model) -> list[str]:
    id2label = model.config.id2label or {}
    return [str(id2label.get(i, i)) for i in range(model.config.num_labels)]


def classify(model, tokenizer, texts: list[str], pairs: list[str] | None, device,
             max_length: int = 128, batch_size: int = 64, source: str | None = None,
             precision: str = "fp32") -> torch.Tensor:
    """Softmax probabilities (N, K) for each text (or text pair); precision as in
    train/device.py (fp32 gives the same probabilities on every CPU). With `source` (the file
    the texts came from), warn when many of their tokens are unknown to the tokenizer."""
    from train.cli.errors import warn_unknown_rate
    from train.evaluate import predict_logits
    from train.finetune import encode

    encodings = encode(tokenizer, texts, pairs, max_length)
    if source is not None:
        warn_unknown_rate(tokenizer, encodings, source, model.config)
    return predict_logits(model.to(device), tokenizer, encodings, batch_size, device,
                          precision).softmax(-1)


def _print_one(text: str, probs: torch.Tensor, names: list[str]) -> None:
    best = int(probs.argmax())
    shown = "  ".join(f"{n} {p:.4f}" for n, p in zip(names, probs.tolist()))
    print(f"{names[best]}\t{shown}\t{text}", flush=True)


def run(args) -> int:
    from train.cli.errors import check_vocab, refuse_untrained_head
    from train.device import pick_device

    device = pick_device(args.device)
    model, tokenizer = load(args.model_dir)
    refuse_untrained_head(model, args.model_dir, args.allow_untrained_head)
    check_vocab(tokenizer, model.config, args.model_dir)
    names = label_names(model)
    if args.csv:
        return _run_csv(args, model, tokenizer, device, names)
    if args.sentences:
        pairs = [args.pair] * len(args.sentences) if args.pair is not None else None
        probs = classify(model, tokenizer, args.sentences, pairs, device, args.max_length,
                         args.batch_size, precision=args.precision)
        for text, p in zip(args.sentences, probs):
            _print_one(text, p, names)
        return 0
    if sys.stdin.isatty():
        print("type a sentence and press Enter (Ctrl-D to stop)", file=sys.stderr)
    pair = [args.pair] if args.pair is not None else None  # the same second sentence for each
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        if text.strip():
            probs = classify(model, tokenizer, [text], pair, device, args.max_length,
                             precision=args.precision)
            _print_one(text, probs[0], names)
    return 0


def _run_csv(args, model, tokenizer, device, names) -> int:
    from train.data.csv_file import read_text_dataset

    ds = read_text_dataset(args.csv, args.text_col, label_col=None, pair_col=args.pair_col,
                           id_col=args.id_col or "id", require_labels=False,
                           require_id=args.id_col is not None)
    probs = classify(model, tokenizer, ds.texts, ds.pairs, device, args.max_length,
                     args.batch_size, source=args.csv, precision=args.precision)
    predicted = [names[i] for i in probs.argmax(-1).tolist()]

    def write(f) -> None:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([args.id_col or "id", args.target_col])
        w.writerows(zip(ds.ids, predicted))

    if args.out:
        from tokenizer.atomic import atomic_write

        def write_file(tmp: Path) -> None:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                write(f)

        atomic_write(args.out, write_file)
        print(f"wrote {len(predicted)} predictions to {args.out}", file=sys.stderr)
    else:
        write(sys.stdout)
    return 0
