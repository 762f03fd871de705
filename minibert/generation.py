"""Choosing the next token from a causal LM's logits: greedy, temperature, top-k, top-p.

    greedy       argmax
    temperature  logits / t before the softmax: t < 1 sharpens, t > 1 flattens
    top-k        keep the k most likely tokens (Fan et al. 2018)
    top-p        keep the smallest set whose probability reaches p (Holtzman et al. 2019)

Sampling draws from an explicit torch.Generator, so a seed reproduces a generation exactly.
`generate` runs the prompt once and then feeds only the newest token, with the keys and
values of the earlier ones kept in a KVCache (minibert/kv_cache.py). `use_cache=False` is the
reference path: it re-runs the whole sequence for every new token; a test checks both give
the same tokens and logits.

Shapes: B batch, T sequence length, V vocabulary size.

Left out on purpose: beam search, repetition penalties.
"""

from __future__ import annotations

import torch

from .kv_cache import KVCache


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Set all but the k largest logits of each row to -inf."""
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the most likely tokens until their probabilities sum to p (always at least one)."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    # Drop a token when the tokens before it already reach p; the first is always kept.
    drop_sorted = (cum - sorted_logits.softmax(dim=-1)) >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def next_token(logits: torch.Tensor, do_sample: bool = False, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, V) logits of the last position -> (B,) chosen token ids."""
    if not do_sample:
        return logits.argmax(dim=-1)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    logits = logits.float() / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


@torch.no_grad()
def generate(model, input_ids: torch.Tensor, max_new_tokens: int = 20, do_sample: bool = False,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None, eos_token_id: int | None = None,
             pad_token_id: int | None = None, max_length: int | None = None,
             use_cache: bool = True) -> torch.Tensor:
    """Extend each row of input_ids (B, T) by up to max_new_tokens tokens.

    A row stops at eos_token_id (kept in the output) and is padded with pad_token_id while
    other rows go on; all stop at max_length tokens. Prompts may be left-padded with
    pad_token_id: padding is masked out, and RoBERTa positions skip it.
    """
    if input_ids.dim() != 2 or input_ids.size(1) == 0:
        raise ValueError(
            f"input_ids must be (batch, prompt_len >= 1), got {tuple(input_ids.shape)}"
        )
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    was_training = model.training
    model.eval()
    ids = input_ids
    cache = KVCache(model.config.num_hidden_layers) if use_cache else None
    fresh = ids  # what the model has not seen yet: the prompt, then one token at a time
    finished = torch.zeros(ids.size(0), dtype=torch.bool, device=ids.device)
    for _ in range(max_new_tokens):
        if max_length is not None and ids.size(1) >= max_length:
            break
        mask = ids.ne(pad_token_id).long() if pad_token_id is not None else None
        if cache is None:
            logits = model(ids, attention_mask=mask).logits[:, -1, :]  # (B, V)
        else:
            logits = model(fresh, attention_mask=mask, past_key_values=cache).logits[:, -1, :]
        new = next_token(logits, do_sample, temperature, top_k, top_p, generator)  # (B,)
        if pad_token_id is not None:
            new = new.masked_fill(finished, pad_token_id)
        ids = torch.cat([ids, new[:, None]], dim=1)  # (B, T + 1)
        fresh = new[:, None]  # (B, 1)
        if eos_token_id is not None:
            finished |= new.eq(eos_token_id)
            if bool(finished.all()):
                break
    model.train(was_training)
    return ids
