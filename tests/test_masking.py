"""MLM masking (train/data/masking.py): known answers, hypothesis properties, binomial rates,
whole-word masking, vectorised == reference."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from train.data.masking import (
    IGNORE_INDEX,
    context_free_loss,
    mask_tokens,
    mask_tokens_reference,
    replacement_ids,
    word_groups,
)

MASK = 4
SPECIAL = [0, 1, 2, 3, 4]  # pad, unk, cls, sep, mask


def make_batch(B: int, T: int, vocab: int, seed: int, max_word: int = 4):
    """Random rows: [CLS] pieces [SEP] then padding; word ids group 1..max_word pieces."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (B, T), generator=g)
    special = torch.zeros(B, T, dtype=torch.long)
    attention = torch.ones(B, T, dtype=torch.long)
    words = torch.full((B, T), -1, dtype=torch.long)
    lengths = torch.randint(min(2, T), T + 1, (B,), generator=g).tolist()
    for b, n in enumerate(lengths):
        ids[b, n:] = 0
        special[b, n:] = 1
        attention[b, n:] = 0
        ids[b, 0], special[b, 0] = 2, 1
        if n >= 2:
            ids[b, n - 1], special[b, n - 1] = 3, 1
        t, w = 1, 0
        while t < n - 1:
            size = int(torch.randint(1, max_word + 1, (1,), generator=g))
            words[b, t:min(t + size, n - 1)] = w
            t, w = t + size, w + 1
    return ids, special, attention, words


def run(
    fn, ids, special, *, seed, p=0.15, vocab=1000, words=None, whole_word=False, attention=None
):
    g = torch.Generator().manual_seed(seed)
    return fn(
        ids,
        special,
        mask_token_id=MASK,
        vocab_size=vocab,
        special_ids=SPECIAL,
        mlm_probability=p,
        generator=g,
        word_ids=words,
        whole_word=whole_word,
        attention_mask=attention,
    )


# --- known answers ----------------------------------------------------------------------------

def test_probability_one_selects_every_ordinary_token_and_nothing_else():
    ids, special, _attention, _ = make_batch(13, 7, 1000, seed=1)
    masked, labels = run(mask_tokens, ids, special, seed=0, p=1.0)
    ordinary = special == 0
    assert torch.equal(labels[ordinary], ids[ordinary])
    assert (labels[~ordinary] == IGNORE_INDEX).all()
    assert torch.equal(masked[~ordinary], ids[~ordinary])


def test_probability_zero_changes_nothing():
    ids, special, _, _ = make_batch(4, 9, 1000, seed=2)
    masked, labels = run(mask_tokens, ids, special, seed=0, p=0.0)
    assert torch.equal(masked, ids) and (labels == IGNORE_INDEX).all()


def test_replacement_ids_exclude_specials():
    allowed = replacement_ids(10, [0, 3, 9])
    assert allowed.tolist() == [1, 2, 4, 5, 6, 7, 8]


def test_word_groups_split_on_word_change_and_specials():
    w = torch.tensor([[-1, 0, 0, 1, 2, 2, -1, 0, 0, -1, -1]])  # [CLS] A [SEP] B [SEP] pad
    assert word_groups(w).tolist() == [[0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7]]


def test_clear_errors():
    ids, special, _, _ = make_batch(2, 6, 100, seed=3)
    with pytest.raises(ValueError, match="Generator"):
        mask_tokens(
            ids, special, mask_token_id=MASK, vocab_size=100, special_ids=SPECIAL, generator=None
        )
    with pytest.raises(ValueError, match="mask_token_id"):
        mask_tokens(ids, special, mask_token_id=None, vocab_size=100, special_ids=SPECIAL,
                    generator=torch.Generator())
    with pytest.raises(ValueError, match="word_ids"):
        run(mask_tokens, ids, special, seed=0, whole_word=True)
    with pytest.raises(ValueError, match="mlm_probability"):
        run(mask_tokens, ids, special, seed=0, p=1.5)


# --- properties -------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(B=st.integers(1, 6), T=st.integers(1, 40), seed=st.integers(0, 2**31), p=st.floats(0.0, 1.0),
       vocab=st.integers(6, 300), whole_word=st.booleans(), use_attention=st.booleans())
def test_masking_properties(B, T, seed, p, vocab, whole_word, use_attention):
    ids, special, attention, words = make_batch(B, T, vocab, seed)
    if use_attention:  # padding marked only by the attention mask, not by special_tokens_mask
        special = special * attention
    attn = attention if use_attention else None
    masked, labels = run(mask_tokens, ids, special, seed=seed + 1, p=p, vocab=vocab, words=words,
                         whole_word=whole_word, attention=attn)
    selected = labels != IGNORE_INDEX
    # specials and padding are never selected
    assert not selected[special.bool() | (attention == 0)].any()
    # labels hold the original id exactly where selected
    assert torch.equal(labels[selected], ids[selected])
    # unselected positions are untouched; selected ones are mask, original, or a non-special id
    assert torch.equal(masked[~selected], ids[~selected])
    changed = selected & (masked != ids) & (masked != MASK)
    assert not torch.isin(masked[changed], torch.tensor(SPECIAL)).any()
    assert (masked[changed] < vocab).all()
    if whole_word:
        for b in range(B):
            for w in words[b][words[b] >= 0].unique().tolist():
                in_word = selected[b][words[b] == w]
                assert in_word.all() or not in_word.any(), f"word {w} of row {b} partly selected"
    # the readable reference gives the identical result from the same generator state
    ref_masked, ref_labels = run(
        mask_tokens_reference,
        ids,
        special,
        seed=seed + 1,
        p=p,
        vocab=vocab,
        words=words,
        whole_word=whole_word,
        attention=attn,
    )
    assert torch.equal(masked, ref_masked) and torch.equal(labels, ref_labels)


def test_same_seed_same_mask_different_seed_different():
    ids, special, _, words = make_batch(8, 64, 1000, seed=4)
    for whole_word in (False, True):
        a = run(mask_tokens, ids, special, seed=7, words=words, whole_word=whole_word)
        b = run(mask_tokens, ids, special, seed=7, words=words, whole_word=whole_word)
        c = run(mask_tokens, ids, special, seed=8, words=words, whole_word=whole_word)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert not torch.equal(a[1], c[1])


def test_inputs_are_not_modified():
    ids, special, _, _ = make_batch(3, 20, 1000, seed=5)
    before = ids.clone()
    run(mask_tokens, ids, special, seed=0, p=0.9)
    assert torch.equal(ids, before)


# --- rates within binomial bounds -------------------------------------------------------------

def within(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


@pytest.mark.parametrize("p", [0.15, 0.4])
def test_selection_rate_and_80_10_10_split(p):
    vocab = 200
    ids, special, _, _ = make_batch(512, 512, vocab, seed=6)
    masked, labels = run(mask_tokens, ids, special, seed=9, p=p, vocab=vocab)
    ordinary = special == 0
    selected = labels != IGNORE_INDEX
    n, k = int(ordinary.sum()), int(selected.sum())
    assert within(k, n, p), (k, n * p)
    to_mask = int((masked[selected] == MASK).sum())
    assert within(to_mask, k, 0.8), (to_mask, 0.8 * k)
    # a random token equals the original with probability 1 / (number of non-special ids)
    n_allowed = vocab - len(SPECIAL)
    changed = int(((masked != ids) & (masked != MASK))[selected].sum())
    assert within(changed, k, 0.1 * (1 - 1 / n_allowed)), (changed, 0.1 * k)
    kept = int((masked[selected] == ids[selected]).sum())
    assert within(kept, k, 0.1 + 0.1 / n_allowed), (kept, 0.1 * k)


def test_context_free_loss_known_answer_uniform_tokens():
    # n equally common tokens: shown x, the answer is x with probability (1 + 1/n) / 2 and each
    # other token with 1 / (2n); shown the mask, 1/n each
    n = 4
    hit, miss = (1 + 1 / n) / 2, 1 / (2 * n)
    want = (0.8 * math.log(n) + 0.1 * -math.log(hit)
            + 0.1 * ((n - 1) / n * -math.log(miss) + 1 / n * -math.log(hit)))
    assert context_free_loss([1 / n] * n, n) == pytest.approx(want, rel=1e-12)


def test_context_free_loss_is_the_conditional_entropy_of_the_masking():
    # The best any model that sees only the scored position can do is H(answer | token shown);
    # measure it on real masking of skewed tokens (ids 5..12, one unseen) and compare.
    vocab, seen = 14, torch.tensor([0.4, 0.2, 0.15, 0.1, 0.07, 0.05, 0.02, 0.01])
    g = torch.Generator().manual_seed(3)
    ids = 5 + torch.multinomial(seen, 2_000_000, replacement=True, generator=g).view(2000, 1000)
    masked, labels = run(mask_tokens, ids, torch.zeros_like(ids), seed=4, p=1.0, vocab=vocab)
    pairs = torch.bincount(masked.flatten() * vocab + labels.flatten(), minlength=vocab * vocab)
    joint = pairs.view(vocab, vocab).double() / pairs.sum()  # (shown, answer)
    shown = joint.sum(1, keepdim=True)
    nz = joint > 0
    measured = -(joint[nz] * (joint / shown.expand_as(joint))[nz].log()).sum().item()
    n_random = vocab - len(SPECIAL)
    want = context_free_loss(seen.tolist(), n_random)
    assert abs(measured - want) < 0.005, (measured, want)  # 2M samples: noise ~0.001
    entropy = -(seen * seen.log()).sum().item()
    assert 0.9 * entropy < want < 0.9 * entropy + 0.2 * math.log(2)


def test_random_replacements_are_uniform_over_non_special_ids():
    vocab = 12
    ids = torch.full((512, 256), 7, dtype=torch.long)
    masked, _labels = run(mask_tokens, ids, torch.zeros_like(ids), seed=10, p=1.0, vocab=vocab)
    randoms = masked[(masked != MASK) & (masked != 7)]
    counts = torch.bincount(randoms, minlength=vocab)
    assert counts[:5].sum() == 0
    n_allowed = vocab - len(SPECIAL)
    total = int(randoms.numel()) * n_allowed / (n_allowed - 1)  # id 7 draws are hidden as "kept"
    for token in range(5, vocab):
        if token != 7:
            assert within(int(counts[token]), round(total), 1 / n_allowed), (token, counts.tolist())


def test_whole_word_rate_matches_token_rate():
    ids, special, _, words = make_batch(256, 128, 1000, seed=11)
    _masked, labels = run(mask_tokens, ids, special, seed=12, p=0.15, words=words, whole_word=True)
    selected = labels != IGNORE_INDEX
    groups = word_groups(words)
    n_words = k_words = 0
    sum_sq_lengths = 0
    for b in range(ids.shape[0]):
        real = words[b] >= 0
        _, lengths = groups[b][real].unique(return_counts=True)
        n_words += lengths.numel()
        sum_sq_lengths += int((lengths**2).sum())
        k_words += groups[b][real & selected[b]].unique().numel()
    assert within(k_words, n_words, 0.15), (k_words, n_words)
    # per token the expected rate is p as well (a word is picked regardless of its length); the
    # count of selected tokens, a sum of word lengths, has variance p(1-p) * sum(length^2)
    n, k = int((special == 0).sum()), int(selected.sum())
    assert abs(k - 0.15 * n) <= 5 * math.sqrt(0.15 * 0.85 * sum_sq_lengths), (k, 0.15 * n)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_vectorised_equals_reference_on_cuda():
    ids, special, attention, words = make_batch(5, 33, 1000, seed=13)
    ids, special, attention, words = (t.cuda() for t in (ids, special, attention, words))
    for whole_word in (False, True):
        outs = []
        for fn in (mask_tokens, mask_tokens_reference):
            g = torch.Generator(device="cuda").manual_seed(3)
            outs.append(fn(ids, special, mask_token_id=MASK, vocab_size=1000, special_ids=SPECIAL,
                           mlm_probability=0.5, generator=g, word_ids=words, whole_word=whole_word,
                           attention_mask=attention))
        assert outs[0][0].device.type == "cuda"
        assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
