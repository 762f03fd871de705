"""The merge algorithm in its plainest form: recount every pair after every merge.

Both trainers learn by merging pairs: byte-level BPE (bpe_trainer.py) and WordPiece
(wordpiece_trainer.py, which runs BPE over `##` pieces as Hugging Face's WordPieceTrainer
does). This is the version to read first, and the oracle the fast engine (merge_engine.py) is
tested against. It is slow on purpose, O(merges x corpus), because it keeps nothing between
steps that could go stale:

    vocabulary = special tokens + the base symbols (the 256 byte characters for BPE)
    every word = its sequence of base symbols, with its count
    repeat until the vocabulary is full:
        count every adjacent pair in every word (weighted by the word's count)
        take the most frequent pair; stop if it occurs fewer than min_frequency times
        add join(left, right) to the vocabulary and merge the pair in every word, left to right

`join` is the one thing the two representations change: BPE glues two byte strings
("Ġ" + "the"); WordPiece drops the right piece's `##` ("th" + "##e" -> "the").

Tie-break (shared with the fast engine and with Hugging Face `tokenizers`' trainers): among
pairs with the same count, the pair with the smaller (left id, right id) wins. Ids are given
in a fixed order: special tokens first, then the base symbols, then each merge's result in
the order merges are made. If a merge's result is a string that is already in the vocabulary
(two merge paths to the same string), it keeps its first id.

`merge_word` is the one "merge a pair left to right" step; the engine, the trainers' reference
and the BPE encoder (bpe.py `bpe_word`) all call it.

Follows: Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units",
Algorithm 1; the byte-level alphabet of GPT-2. Left out: everything that makes it fast.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import pairwise

from .bytelevel import alphabet, bytes_to_unicode


def merge_word(word: list, left, right, new) -> list:
    """Replace each (left, right) in `word` by `new`, scanning left to right without overlaps
    ("a a a" with (a, a) -> "aa a"), as `str.replace` does. Works on ids or on strings."""
    occurrences, n = word.count(left), len(word)
    if occurrences <= 1:  # the common case, done in C loops: at most one pair to merge
        i = word.index(left) if occurrences else n
        if i + 1 < n and word[i + 1] == right:
            out = word[:i]
            out.append(new)
            out += word[i + 2:]
            return out
        return list(word)
    out, i = [], 0
    while i < n:
        if i + 1 < n and word[i] == left and word[i + 1] == right:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def concat(left: str, right: str) -> str:
    """BPE's join: the merged token is the two strings glued together."""
    return left + right


def learn_merges_reference(words: list[list[int]], counts: list[int], vocab: dict[str, int],
                           vocab_size: int, min_frequency: int,
                           join: Callable[[str, str], str] = concat) -> list[tuple[str, str]]:
    """The merge loop, recounting every step. Mutates `vocab` (token -> id, ids 0..n-1);
    returns the merges as (left, right) strings in the order they were made."""
    id_to_token = {i: t for t, i in vocab.items()}
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
        token = join(left, right)
        if token not in vocab:
            vocab[token] = len(vocab)
            id_to_token[vocab[token]] = token
        merges.append((left, right))
        words = [merge_word(w, best[0], best[1], vocab[token]) for w in words]
    return merges


# --- byte-level BPE's representation ------------------------------------------------------------


def initial_vocab(special_tokens) -> dict[str, int]:
    """Special tokens first (ids 0, 1, ...), then the 256 byte characters by code point."""
    vocab: dict[str, int] = {}
    for token in list(special_tokens) + alphabet():
        if token not in vocab:
            vocab[token] = len(vocab)
    return vocab


def words_as_ids(word_counts: dict[str, int],
                 vocab: dict[str, int]) -> tuple[list[list[int]], list[int]]:
    """Each raw word -> the ids of its UTF-8 bytes' characters; and the word counts."""
    byte_ids = [vocab[bytes_to_unicode()[b]] for b in range(256)]
    words, counts = [], []
    for word, count in word_counts.items():
        words.append([byte_ids[b] for b in word.encode("utf-8")])
        counts.append(count)
    return words, counts


def train_reference(word_counts: dict[str, int], vocab_size: int, min_frequency: int = 2,
                    special_tokens=()) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE from word counts; returns (vocab token -> id, merges as (left, right))."""
    vocab = initial_vocab(special_tokens)
    words, counts = words_as_ids(word_counts, vocab)
    merges = learn_merges_reference(words, counts, vocab, vocab_size, min_frequency)
    return vocab, merges
