"""`minibert fill-mask DIR "Human thinking involves human <mask>."`: the model's top guesses.

Prints what Hugging Face's FillMaskPipeline returns, a list of dicts
`{'score', 'token', 'token_str', 'sequence'}`, best first. The mask may be written as the
tokenizer's own mask token or as either `<mask>` or `[MASK]`. As in RoBERTa's tokenizer the
mask absorbs the space before it, so a byte-level BPE model predicts " reason" (with its
leading space, as `Ġreason`) and the filled sentence reads naturally.

A causal LM (`pretrain --objective causal`) is refused, as `generate` refuses a masked LM,
unless --allow-untrained-head.

Left out on purpose: several masks in one text, `targets=` (scoring given candidates).
"""

from __future__ import annotations

import argparse
import json
import pprint
from pathlib import Path

import torch

from minibert.auto import AutoModel, load_backend_tokenizer
from train.cli import flags

MASK_SPELLINGS = ("<mask>", "[MASK]")


def load_masked_lm(directory: str | Path, allow_untrained_head: bool = False,
                   how_to_allow: str | None = None,
                   how_to_use: str = "use `minibert generate`"):
    """BertForMaskedLM or RobertaForMaskedLM, by the saved config's model_type. A checkpoint
    from BertForPreTraining loads too (its NSP head is simply not used). A causal LM or an
    untrained head is refused; the causal refusal ends "HOW_TO_USE, or HOW_TO_ALLOW to fill
    the mask anyway" (the command's ways by default; a Python caller passes its own, as
    cmd_generate.load_causal_lm)."""
    from minibert.config import BertConfig
    from train.cli.errors import ALLOW_UNTRAINED_FLAG, UsageError, refuse_untrained_head

    how_to_allow = how_to_allow or ALLOW_UNTRAINED_FLAG
    if BertConfig.from_pretrained(directory).is_decoder and not allow_untrained_head:
        # a causal LM never saw the right of a token: its guess for a gap ignores half the text
        raise UsageError(f"{directory}: is a causal LM (config.json has is_decoder true), "
                         f"trained left to right, not to fill a mask; {how_to_use}, or "
                         f"{how_to_allow} to fill the mask anyway")
    model = AutoModel.from_pretrained(directory, "mlm", verbose=False)
    refuse_untrained_head(model, directory, allow_untrained_head, how_to_allow)
    return model


def _mask_ids(tokenizer, text: str) -> tuple[list[int], int]:
    """Token ids of `text` with exactly one mask; returns (ids, position of the mask)."""
    mask_id = tokenizer.mask_token_id
    if mask_id is None:
        raise ValueError(
            "this tokenizer has no mask token; fill-mask needs a masked LM's tokenizer"
        )
    spellings = {tokenizer.id_to_token(mask_id), *MASK_SPELLINGS}
    found = [s for s in spellings if s in text]
    if sum(text.count(s) for s in found) != 1:
        raise ValueError(f"{text!r}: put exactly one mask in the text, written as "
                         f"{tokenizer.id_to_token(mask_id)}")
    left, right = text.split(found[0])
    pieces = [tokenizer.encode(part, add_special_tokens=False).ids if part else []
              for part in (left.rstrip(" "), right)]
    start = [tokenizer.cls_token_id] if tokenizer.cls_token_id is not None else []
    end = [tokenizer.sep_token_id] if tokenizer.sep_token_id is not None else []
    ids = start + pieces[0] + [mask_id] + pieces[1] + end
    return ids, len(start) + len(pieces[0])


@torch.no_grad()
def fill_mask(model, tokenizer, text: str, top_k: int = 5, precision: str = "fp32") -> list[dict]:
    """The `top_k` most likely tokens for the mask in `text`, as FillMaskPipeline lists them;
    on the model's device, precision as train/device.py reads it."""
    from train.device import autocast

    ids, where = _mask_ids(tokenizer, text)
    model.eval()
    device = next(model.parameters()).device
    with autocast(device, precision):
        logits = model(torch.tensor([ids], device=device)).logits[0, where].float()  # (V,)
    # a model may have more rows than its tokenizer has tokens (KantaiBERT: 52,000 rows)
    logits[tokenizer.vocab_size:] = float("-inf")
    probs = logits.softmax(-1)
    scores, tokens = probs.topk(min(top_k, tokenizer.vocab_size))
    results = []
    for score, token in zip(scores.tolist(), tokens.tolist()):
        filled = ids[:where] + [token] + ids[where + 1:]
        results.append({"score": score, "token": token,
                        "token_str": tokenizer.decode([token]),
                        "sequence": tokenizer.decode(filled, skip_special_tokens=True)})
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", help="directory with config.json, model.safetensors and a tokenizer, or hub name"
    )
    parser.add_argument(
        "text", help='text with one mask, e.g. "Human thinking involves human <mask>."'
    )
    parser.add_argument("--top-k", type=flags.whole(1), default=5, help="guesses shown")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Python's repr")
    parser.add_argument("--allow-untrained-head", action="store_true",
                        help="run even if the checkpoint has no trained MLM head, or is a "
                             "causal LM")
    flags.add_device_flags(parser, precision_default="fp32")


def validate(args: argparse.Namespace) -> None:
    from train.cli import errors

    args.model = errors.model_folder(args.model, "`minibert pretrain`, or a Hugging Face "
                                                 "masked-LM folder")


def run(args: argparse.Namespace) -> int:
    from train.cli.errors import check_vocab
    from train.device import pick_device

    model = load_masked_lm(args.model, args.allow_untrained_head)
    tokenizer = load_backend_tokenizer(args.model)
    check_vocab(tokenizer, model.config, args.model)
    model.to(pick_device(args.device))
    results = fill_mask(model, tokenizer, args.text, args.top_k, args.precision)
    print(json.dumps(results, indent=2) if args.json else pprint.pformat(results, sort_dicts=False))
    return 0
