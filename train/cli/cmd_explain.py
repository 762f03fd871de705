"""`minibert explain MODEL "sentence" [--pair "second"] --out page.html`: the attention explorer.

Writes one self-contained HTML page (train/explain_page.py) with the tokens, the attention of
every layer and head, and what the model's head says: for a masked LM the top guesses at any
position you click (computed ahead: one extra forward pass per token, batched), for a causal
LM the next token, for a fine-tuned classifier the label and its probabilities. MODEL is a
folder with config.json, the weights and a tokenizer, or a name the hub resolves (e.g.
all-MiniLM-L6-v2). Open the page in any browser; it needs no server and no network.
Left out on purpose: serving the page, several sentences in one page.
"""

from __future__ import annotations

from train.cli import flags


def add_arguments(p) -> None:
    p.add_argument("model", help="a model folder (config.json, weights, tokenizer) or hub name")
    p.add_argument("text", help="the sentence to look at")
    p.add_argument("--pair", help="a second sentence (segment B), as in NSP or pair tasks")
    p.add_argument("--out", default="explain.html",
                   help="where to write the page (an existing file only with --overwrite)")
    p.add_argument("--top-k", type=flags.whole(1), default=5, help="guesses kept per position")
    p.add_argument("--max-length", type=flags.whole(3), default=None,
                   help="tokens kept (default 64, or the model's limit if smaller; the page "
                        "grows with layers x heads x tokens^2)")
    flags.add_device_flags(p, precision_default="fp32")


def validate(args) -> None:
    from train.cli import errors

    args.model = errors.model_folder(args.model, "`minibert pretrain` or `minibert finetune`, "
                                                 "or a Hugging Face BERT or RoBERTa folder")
    args.max_length = errors.fit_max_length(args.max_length, args.model, default=64)


def input_paths(args) -> list[tuple[str, str]]:
    return [(args.model, "MODEL")]


def output_files(args) -> list[tuple[str, str]]:
    return [(args.out, "--out")]


def run(args) -> int:
    from minibert.auto import load_backend_tokenizer
    from train.cli.errors import check_vocab
    from train.device import autocast, pick_device
    from train.explain import explain, load_for_explain
    from train.explain_page import write_page

    folder = args.model  # resolved by validate
    model, tokenizer = load_for_explain(folder), load_backend_tokenizer(folder)
    check_vocab(tokenizer, model.config, folder)
    device = pick_device(args.device)
    with autocast(device, args.precision):
        data = explain(model.to(device), tokenizer, args.text, args.pair, top_k=args.top_k,
                       max_length=args.max_length)
    out = write_page(data, args.out)
    layers, heads = len(data["attentions"]), len(data["attentions"][0])
    print(f"wrote {out} ({out.stat().st_size:,} bytes): {len(data['tokens'])} tokens, "
          f"{layers} layers x {heads} heads, {data['kind']}")
    return 0
