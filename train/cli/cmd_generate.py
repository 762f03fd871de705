"""`minibert generate DIR "prompt"`: continue a prompt with a causal RoBERTa.

The model trained by `minibert pretrain --objective causal` saw every line as `<s> text </s>`,
so the prompt starts with `<s>` and generation stops at `</s>`. Sampling is seeded (--seed):
the same command prints the same text. --temperature 0 means greedy decoding; a negative one
is an error. A checkpoint not trained as a causal LM is refused unless --allow-untrained-head.

Left out on purpose: beam search, repetition penalties, streaming output.
"""

from __future__ import annotations

import argparse

import torch

from minibert.auto import AutoModelForCausalLM, load_backend_tokenizer
from minibert.embeddings import usable_positions
from train.cli import flags


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    """What generation continues: `<s>` (when the tokenizer has one), then the prompt."""
    start = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return start + tokenizer.encode(prompt, add_special_tokens=False).ids


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int = 50,
                  temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, seed: int = 0, precision: str = "fp32") -> str:
    """The prompt and its continuation, decoded without special tokens; on the model's
    device, precision as train/device.py reads it."""
    from train.device import autocast

    ids = prompt_ids(tokenizer, prompt)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    model.eval()
    with torch.no_grad(), autocast(device, precision):
        out = model.generate(torch.tensor([ids], device=device), max_new_tokens=max_new_tokens,
                             do_sample=temperature > 0, temperature=temperature or 1.0,
                             top_k=top_k, top_p=top_p, generator=generator,
                             eos_token_id=tokenizer.eos_token_id)
    new = [t for t in out[0].tolist() if t < tokenizer.vocab_size]
    return tokenizer.decode(new, skip_special_tokens=True)


def fit_new_tokens(config, tokenizer, prompt: str, max_new_tokens: int | None) -> int:
    """--max-new-tokens checked against the positions the prompt leaves free in the model's
    table; when not given, 50 or what fits if that is fewer."""
    from train.cli.errors import UsageError

    usable = usable_positions(config)
    used = len(prompt_ids(tokenizer, prompt))
    if used >= usable:
        raise UsageError(f"the prompt takes {used} tokens and the model has {usable} "
                         f"positions, so no new token fits; shorten the prompt")
    if max_new_tokens is None:
        return min(50, usable - used)
    if used + max_new_tokens > usable:
        raise UsageError(f"--max-new-tokens {max_new_tokens}: the prompt takes {used} of the "
                         f"model's {usable} positions, so at most {usable - used} new tokens fit")
    return max_new_tokens


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="directory written by `minibert pretrain --objective "
                        "causal`, or hub name")
    parser.add_argument("prompt")
    parser.add_argument("--max-new-tokens", type=flags.whole(1), default=None,
                        help="tokens to add at most (default 50, or what fits in the model's "
                             "positions after the prompt)")
    parser.add_argument("--temperature", type=flags.real(0, 100, note="0 = greedy"),
                        default=1.0, help="divides the logits before sampling")
    parser.add_argument("--top-k", type=flags.whole(1), default=None,
                        help="sample from the k likeliest tokens only")
    parser.add_argument("--top-p", type=flags.real(0, 1, low_open=True), default=None,
                        help="sample from the smallest set of tokens this likely")
    parser.add_argument("--seed", type=flags.seed, default=0, help="seed of the sampling")
    parser.add_argument("--allow-untrained-head", action="store_true",
                        help="run even if the checkpoint was not trained as a causal LM")
    flags.add_device_flags(parser, precision_default="fp32")


def validate(args: argparse.Namespace) -> None:
    from train.cli import errors

    args.model = errors.model_folder(args.model, "`minibert pretrain --objective causal`")


def load_causal_lm(directory, allow_untrained_head: bool = False,
                   how_to_allow: str | None = None,
                   how_to_train: str = "train one with `minibert pretrain --objective causal`"):
    """The causal LM (RobertaForCausalLM) saved in `directory`, refused if it was not trained
    as one; the refusal ends "HOW_TO_TRAIN, or HOW_TO_ALLOW to generate anyway" (the
    command's ways by default; a Python caller passes its own, as refuse_untrained_head)."""
    from minibert.config import BertConfig
    from train.cli.errors import ALLOW_UNTRAINED_FLAG, UsageError, refuse_untrained_head

    how_to_allow = how_to_allow or ALLOW_UNTRAINED_FLAG

    if not BertConfig.from_pretrained(directory).is_decoder and not allow_untrained_head:
        # a masked LM saw both sides of every token; left to right it predicts nonsense
        raise UsageError(f"{directory}: was not trained as a causal LM (config.json has "
                         f"is_decoder false); {how_to_train}, or {how_to_allow} to generate "
                         "anyway")
    try:
        model = AutoModelForCausalLM.from_pretrained(directory, verbose=False)
    except ValueError as e:  # a model type without a causal LM class
        raise UsageError(f"{directory}: {e}") from None
    refuse_untrained_head(model, directory, allow_untrained_head, how_to_allow)
    return model


def run(args: argparse.Namespace) -> int:
    from train.cli.errors import check_vocab

    model = load_causal_lm(args.model, args.allow_untrained_head)
    tokenizer = load_backend_tokenizer(args.model)
    check_vocab(tokenizer, model.config, args.model)
    from train.device import pick_device

    new_tokens = fit_new_tokens(model.config, tokenizer, args.prompt, args.max_new_tokens)
    model.to(pick_device(args.device))
    print(generate_text(model, tokenizer, args.prompt, new_tokens,
                        args.temperature, args.top_k, args.top_p, args.seed, args.precision))
    return 0
