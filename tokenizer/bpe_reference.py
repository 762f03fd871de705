"""The BPE training algorithm in its plainest form: recount every pair after every merge.

This is the version to read first, and the oracle the fast trainer (bpe_trainer.py) is
tested against. It is slow on purpose, O(merges x corpus), because it keeps nothing between
steps that could go stale:

    vocabulary = special tokens + the 256 byte characters
    every word = its sequence of byte characters, with its count
    repeat until the vocabulary is full:
        count every adjacent pair in every word (weighted by the word's count)
        take the most frequent pair; stop if it occurs fewer than min_frequency times
        add "left+right" to the vocabulary and merge the pair in every word, left to right

Tie-break (shared with the fast trainer and with Hugging Face `tokenizers`' BpeTrainer): among
pairs with the same count, the pair with the smaller (left id, right id) wins. Ids are given
in a fixed order: special tokens first, then the 256 byte characters sorted by code point,
then each merge's result in the order merges are made. If a merge's result is a string that
is already in the vocabulary (two merge paths to the same string), it keeps its first id.

Follows: Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units",
Algorithm 1; the byte-level alphabet of GPT-2. Left out: everything that makes it fast.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from .bytelevel import alphabet, bytes_to_unicode


def initial_vocab(special_tokens) -> dict[str, int]:
    """Special tokens first (ids 0, 1, ...), then the 256 byte characters by code point."""
    vocab: dict[str, int] = {}
    for token in list(special_tokens) + alphabet():
        if token not in vocab:
            vocab[token] = len(vocab)
    return vocab


def words_as_ids(
    word_counts: dict[str, int], vocab: dict[str, int]
) -> tuple[list[list[int]], list[int]]:
    """Each raw word -> the ids of its UTF-8 bytes' characters; and the word counts."""
    byte_ids = [vocab[bytes_to_unicode()[b]] for b in range(256)]
    words, counts = [], []
    for word, count in word_counts.items():
        words.append([byte_ids[b] for b in word.encode("utf-8")])
        counts.append(count)
    return words, counts


def merge_word(word: list[int], left: int, right: int, new: int) -> list[int]:
    """Replace each (left, right) in `word`, scanning left to right without overlaps."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == left and word[i + 1] == right:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def train_reference(word_counts: dict[str, int], vocab_size: int, min_frequency: int = 2,
                    special_tokens=()) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Learn merges from word counts; returns (vocab token -> id, merges as (left, right))."""
    vocab = initial_vocab(special_tokens)
    id_to_token = {i: t for t, i in vocab.items()}
    words, counts = words_as_ids(word_counts, vocab)
    merges: list[tuple[str, str]] = []
    while len(vocab) < vocab_size:
        pair_counts: Counter = Counter()
        for word, count in zip(words, counts):
            for pair in pairwise(word):
                pair_counts[pair] += count
        if not pair_counts:
            break
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p))
        if pair_counts[best] < min_frequency:
            break
        left, right = id_to_token[best[0]], id_to_token[best[1]]
        token = left + right
        if token not in vocab:
            vocab[token] = len(vocab)
            id_to_token[vocab[token]] = token
        merges.append((left, right))
        words = [merge_word(w, best[0], best[1], vocab[token]) for w in words]
    return vocab, merges
