"""Masked-language-model corruption: choose ~15% of the tokens, hide them, keep their labels.

Follows BERT (Devlin et al., 2019, section 3.1 and appendix A.1) as Hugging Face's
`DataCollatorForLanguageModeling` implements it: every position that is neither a special token
nor padding is selected independently with probability `mlm_probability` (a Bernoulli draw per
position, so the count varies around 15% rather than being exactly round(0.15 * n) as in the
original `create_pretraining_data.py`); of the selected positions 80% become the mask token,
10% a random token and 10% stay as they were. Labels hold the original id at selected positions
and -100 (the loss's ignore index) everywhere else.

Whole-word masking (the later BERT release): words are selected, not pieces, and every piece of
a selected word is selected. A word is selected with probability `mlm_probability`; since all of
its pieces follow it, the expected number of selected tokens is mlm_probability * (number of
maskable tokens), the same rate as token-level masking (a longer word is not more likely to be
picked, as in the original, which shuffles words and takes them until the budget is full; HF's
whole_word_mask draws the same per-word probability on each word's first piece). Word
boundaries come from the tokenizer's `word_ids` (None / -1 on special tokens): a piece continues
the previous piece's word when both carry the same word id, so `##`-WordPiece and `Ġ`-BPE are
treated alike. The 80/10/10 choice is then made per token, as the original and HF do.

Which positions can never be selected: those with special_tokens_mask == 1 (the tokenizer marks
padding as special, too), those whose id is in `special_ids`, and those with attention_mask == 0
when an attention mask is given. Random replacements are drawn uniformly from the ids in
[0, vocab_size) that are not in `special_ids`, so a replacement is never a special token
(HF draws from the whole vocabulary).

Randomness comes only from the `generator` argument. All draws are made up front, in fixed
shapes (see `_draws`), and `mask_tokens` (vectorised) and `mask_tokens_reference` (a per-example
loop that reads like the paper) read the same draws, so for the same generator state they give
identical outputs; a test holds them to that. By default the draws have the batch's shape;
with `table=(R, L)` they are drawn for an R x L table and the batch reads its rows first_row,
first_row + 1, ... and its first T columns: how the pretraining loader gives every token of
a global batch the same draw whichever rank builds its row and however wide that rank's
batch is padded (`train/data/loader.py`).

Shapes: B = batch size, T = sequence length.
Left out on purpose: the original's cap `max_predictions_per_seq` (the loss ignores -100, so no
fixed-size prediction list is needed) and n-gram / span masking (SpanBERT).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from minibert.modeling_bert import IGNORE_INDEX  # the label of an unscored position (-100)

MASK_FRACTION = 0.8  # of the selected positions: become the mask token
RANDOM_FRACTION = 0.1  # of the selected positions: become a random non-special token


def replacement_ids(vocab_size: int, special_ids: Sequence[int], device=None) -> torch.Tensor:
    """The ids a random replacement may take: every id below vocab_size that is not special."""
    assert vocab_size > 0, f"vocab_size must be positive, got {vocab_size}"
    ids = torch.arange(vocab_size, device=device)
    special = torch.as_tensor(list(special_ids), dtype=torch.long, device=device)
    allowed = ids[~torch.isin(ids, special)]
    if allowed.numel() == 0:
        raise ValueError(
            f"every id below vocab_size={vocab_size} is special; nothing to draw random tokens from"
        )
    return allowed


def context_free_loss(freq: Sequence[float], n_random: int) -> float:
    """The lowest loss (nats per scored token) a model can reach from the token at each scored
    position alone, never reading its neighbours: the line below which a masked LM uses context.

    `freq`: how often each token occurs, summing to 1 (the answers are drawn from it);
    `n_random`: how many ids a random replacement is drawn from, evenly. A scored position shows
    the mask token (MASK_FRACTION: only the frequencies help there, loss = their entropy H), a
    random token (RANDOM_FRACTION) or its own token (the rest, `kept`), and the last two look
    alike. Shown x, by Bayes the answer is x with probability p(x)(kept + r) / (kept p(x) + r)
    and any other y with p(y) r / (kept p(x) + r), where r = RANDOM_FRACTION / n_random. Random
    draws are mostly rare tokens, so a common token shown was likely kept: that is all such a
    model can use, and it lands a little under the 0.9 H + 0.2 ln 2 of staking half on every
    shown token.
    """
    kept, r = 1 - MASK_FRACTION - RANDOM_FRACTION, RANDOM_FRACTION / n_random
    assert 0 < len(freq) <= n_random and abs(sum(freq) - 1) < 1e-6, (
        f"freq must be at most n_random={n_random} frequencies summing to 1, got {len(freq)} "
        f"summing to {sum(freq)}"
    )
    entropy = -sum(p * math.log(p) for p in freq if p > 0)
    shown_kept = -sum(p * math.log(p * (kept + r) / (kept * p + r)) for p in freq if p > 0)
    # a random draw x: -log p(y) + log(1 + KEPT p(x) / r), averaged over y ~ freq and x drawn
    # evenly (ids never seen add 0); a draw that hits the answer itself (1 in n_random) gets
    # the larger probability instead, the last term
    shown_random = (entropy + sum(math.log1p(kept * p / r) for p in freq) / n_random
                    + math.log(r / (kept + r)) / n_random)
    return MASK_FRACTION * entropy + kept * shown_kept + RANDOM_FRACTION * shown_random


def maskable(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor | None,
    special_ids: Sequence[int],
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bool (B, T): True where a position may be selected (not special, not padding)."""
    special = torch.as_tensor(list(special_ids), dtype=input_ids.dtype, device=input_ids.device)
    ok = ~torch.isin(input_ids, special)
    if special_tokens_mask is not None:
        ok &= special_tokens_mask == 0
    if attention_mask is not None:
        ok &= attention_mask != 0
    return ok


def word_groups(word_ids: torch.Tensor) -> torch.Tensor:
    """Number the words of each row 0, 1, 2, ... from per-token word ids (-1 = no word).

    A token starts a new group unless it has the same (non-negative) word id as the token before
    it; specials and padding (-1) are groups of their own. The result indexes a (B, T) table of
    per-word draws, since a row of T tokens has at most T groups.
    """
    assert word_ids.dim() == 2, f"word_ids must be (B, T), got shape {tuple(word_ids.shape)}"
    same_as_prev = torch.zeros_like(word_ids, dtype=torch.bool)
    same_as_prev[:, 1:] = (word_ids[:, 1:] == word_ids[:, :-1]) & (word_ids[:, 1:] >= 0)
    return torch.cumsum((~same_as_prev).long(), dim=1) - 1  # (B, T), first group is 0


def _draws(shape, n_allowed: int, generator: torch.Generator, device,
           table: tuple[int, int] | None = None, first_row: int = 0):
    """Every random number one call needs, drawn in a fixed order and fixed shapes: the
    batch's (B, T), or a (R, L) table whose rows first_row.. and first T columns are returned.

    select: uniform per position (or per word group, indexed by group number) -> selected when
            below mlm_probability;
    kind:   uniform per position -> mask token below 0.8, random token below 0.9, else kept;
    pick:   index into the replacement ids, per position.
    """
    B, T = shape
    R, L = shape if table is None else table
    assert 0 <= first_row and first_row + B <= R and T <= L, (
        f"a ({B}, {T}) batch from row {first_row} does not fit a ({R}, {L}) table of draws")
    select = torch.rand((R, L), generator=generator, device=device)
    kind = torch.rand((R, L), generator=generator, device=device)
    pick = torch.randint(0, n_allowed, (R, L), generator=generator, device=device)
    rows = slice(first_row, first_row + B)
    return select[rows, :T], kind[rows, :T], pick[rows, :T]  # each (B, T)


def _check(
    input_ids, special_tokens_mask, word_ids, whole_word, mlm_probability, generator, mask_token_id
):
    assert input_ids.dim() == 2, f"input_ids must be (B, T), got shape {tuple(input_ids.shape)}"
    if special_tokens_mask is not None:
        assert special_tokens_mask.shape == input_ids.shape, (
            f"special_tokens_mask shape {tuple(special_tokens_mask.shape)} != input_ids shape "
            f"{tuple(input_ids.shape)}"
        )
    if not 0.0 <= mlm_probability <= 1.0:
        raise ValueError(f"mlm_probability must be in [0, 1], got {mlm_probability}")
    if mask_token_id is None:
        raise ValueError(
            "masking needs a mask token, but mask_token_id is None (does the tokenizer have one?)"
        )
    if generator is None:
        raise ValueError("mask_tokens needs an explicit torch.Generator (no global random state)")
    if generator.device.type != input_ids.device.type:
        raise ValueError(
            f"generator is on {generator.device}, input_ids on {input_ids.device}; they must match"
        )
    if whole_word:
        if word_ids is None:
            raise ValueError(
                "whole_word=True needs word_ids (from the tokenizer's Encoding.word_ids)"
            )
        assert word_ids.shape == input_ids.shape, (
            f"word_ids shape {tuple(word_ids.shape)} != input_ids shape {tuple(input_ids.shape)}")


def mask_tokens(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor | None,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    mlm_probability: float = 0.15,
    generator: torch.Generator,
    word_ids: torch.Tensor | None = None,
    whole_word: bool = False,
    attention_mask: torch.Tensor | None = None,
    allowed_ids: torch.Tensor | None = None,
    table: tuple[int, int] | None = None,
    first_row: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a batch for MLM; returns (masked_input_ids, labels), both (B, T), inputs untouched.

    word_ids: (B, T) long, -1 where a token belongs to no word; needed when whole_word=True.
    allowed_ids: the replacement-id table from `replacement_ids` (pass it to skip rebuilding it).
    table, first_row: draw for a larger table and read this batch's part (module docstring).
    """
    _check(
        input_ids,
        special_tokens_mask,
        word_ids,
        whole_word,
        mlm_probability,
        generator,
        mask_token_id,
    )
    device = input_ids.device
    if allowed_ids is None:
        allowed_ids = replacement_ids(vocab_size, special_ids, device)
    can = maskable(input_ids, special_tokens_mask, special_ids, attention_mask)
    select, kind, pick = _draws(input_ids.shape, allowed_ids.numel(), generator, device, table,
                                first_row)
    if whole_word:
        select = select.gather(1, word_groups(word_ids))  # each token reads its word's draw
    selected = (select < mlm_probability) & can
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    to_mask = selected & (kind < MASK_FRACTION)
    to_random = selected & (kind >= MASK_FRACTION) & (kind < MASK_FRACTION + RANDOM_FRACTION)
    masked = input_ids.masked_fill(to_mask, mask_token_id)
    masked = torch.where(to_random, allowed_ids[pick].to(input_ids.dtype), masked)
    return masked, labels


def mask_tokens_reference(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor | None,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    mlm_probability: float = 0.15,
    generator: torch.Generator,
    word_ids: torch.Tensor | None = None,
    whole_word: bool = False,
    attention_mask: torch.Tensor | None = None,
    allowed_ids: torch.Tensor | None = None,
    table: tuple[int, int] | None = None,
    first_row: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same rule as `mask_tokens`, one example and one token at a time (slow, for reading)."""
    _check(
        input_ids,
        special_tokens_mask,
        word_ids,
        whole_word,
        mlm_probability,
        generator,
        mask_token_id,
    )
    if allowed_ids is None:
        allowed_ids = replacement_ids(vocab_size, special_ids, input_ids.device)
    select, kind, pick = _draws(input_ids.shape, allowed_ids.numel(), generator, input_ids.device,
                                table, first_row)
    special = {int(i) for i in special_ids}
    masked = input_ids.clone()
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    B, T = input_ids.shape
    for b in range(B):
        word = -1  # the group number of the current word; its draw decides all its pieces
        for t in range(T):
            token = int(input_ids[b, t])
            wid = int(word_ids[b, t]) if whole_word else -1
            continues_word = whole_word and t > 0 and wid >= 0 and wid == int(word_ids[b, t - 1])
            if not continues_word:
                word += 1
            draw = select[b, word] if whole_word else select[b, t]  # 0-d tensors: compared in
            # their own dtype, exactly as the vectorised comparison is
            is_special = token in special
            if special_tokens_mask is not None and int(special_tokens_mask[b, t]) != 0:
                is_special = True
            if attention_mask is not None and int(attention_mask[b, t]) == 0:
                is_special = True
            if is_special or not bool(draw < mlm_probability):
                continue
            labels[b, t] = token
            u = kind[b, t]
            if bool(u < MASK_FRACTION):
                masked[b, t] = mask_token_id
            elif bool(u < MASK_FRACTION + RANDOM_FRACTION):
                masked[b, t] = int(allowed_ids[int(pick[b, t])])
    return masked, labels
