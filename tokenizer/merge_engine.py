"""The merge engine both trainers run: word counts -> merges, without recounting the corpus.

Byte-level BPE (bpe_trainer.py) and WordPiece (wordpiece_trainer.py) learn the same way: the
words, as lists of symbol ids with their counts, go through the loop of bpe_reference.py
(read that first) -- count adjacent pairs, take the most frequent, merge it everywhere,
repeat. The two trainers differ only in their representation: which base symbols a word
starts from (bytes, or characters and `##` characters) and how a merged symbol is named
(`join`). This engine learns the same merges as the reference, but never recounts.

The trick (as in Hugging Face `tokenizers`' trainers) is that a merge of (a, b) -> c only
changes the pairs of the words that hold "a b":

    ... x a b y ...   becomes   ... x c y ...
    count(x, a) -= n   count(x, c) += n   count(b, y) -= n   count(c, y) += n

where n is the word's count. So we keep
- `pair_counts`: pair -> weighted count, updated with exactly those deltas, found around
  each c of the merged word (or, if c was in the word already, by recounting the word);
- `where`: pair -> the words that (may) hold it, so a merge visits only those words;
- a heap of (-count, pair) with lazy invalidation: a pair's count only grows when it is
  created (and then it is pushed), so an entry whose count is stale is re-pushed with its
  true count when popped; an entry that is popped and matches its true count is the best pair.
Pairs are packed into one int, left * 2**20 + right, so dict keys hash fast and the heap's
tuple order (-count, key) is exactly "highest count, then smallest (left id, right id)".

Merges whose result is a string already in the vocabulary reuse its id (as HF). Stopping: the
vocabulary reached `vocab_size`, or the best pair occurs fewer than `min_frequency` times, or
no pair is left; the reason is returned.

Follows: Sennrich et al. 2016; HF `tokenizers` src/models/bpe/trainer.rs (structure, ids,
tie-break). Left out: parallelism, max_token_length.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from itertools import pairwise

from .bpe_reference import concat, merge_word

SHIFT = 1 << 20  # pair key = left * SHIFT + right; ids must stay below SHIFT


def count_pairs(words: list[list[int]], counts: list[int]) -> tuple[dict, dict]:
    """The weighted count of every adjacent pair, and the words each pair occurs in."""
    pair_counts: dict[int, int] = defaultdict(int)
    where: dict[int, set[int]] = defaultdict(set)
    for wi, word in enumerate(words):
        count = counts[wi]
        for left, right in pairwise(word):
            key = left * SHIFT + right
            pair_counts[key] += count
            where[key].add(wi)
    return pair_counts, where


def pop_best(heap: list, pair_counts: dict) -> int | None:
    """The pair with the highest count (ties: smallest ids), or None when no pair is left.
    Stale heap entries met on the way are pushed back with their true counts."""
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        neg, key = heappop(heap)
        count = pair_counts[key]
        if -neg == count:
            return key
        if count > 0:
            heappush(heap, (-count, key))
    return None


def merge_everywhere(words: list[list[int]], counts: list[int], word_ids, a: int, b: int,
                     c: int, pair_counts: dict, where: dict) -> set[int]:
    """Merge (a, b) -> c in the words `word_ids`, keeping pair counts and `where` in step.

    Returns the pairs that hold c: they are the only ones whose counts grew. Words that no
    longer hold (a, b) (an earlier merge took it) are skipped. The count of (a, b) itself is
    left to the caller (it is 0 now)."""
    grown: set[int] = set()
    for wi in word_ids:
        old = words[wi]
        if a not in old:
            continue
        new = merge_word(old, a, b, c)
        n = len(new)
        if n == len(old):
            continue
        words[wi] = new
        weight = counts[wi]
        if c in old:  # c was a token of this word already: recount the word's pairs
            for key in _recount(old, new, c, weight, pair_counts):
                where[key].add(wi)
                grown.add(key)
            continue
        # Each c is one merged "a b" (there are len(old) - n): x a b y -> x c y takes (x, a)
        # and (b, y) away and adds (x, c) and (c, y); a b a b -> c c turns (b, a) into (c, c).
        j = -1
        for _ in range(len(old) - n):
            j = new.index(c, j + 1)
            if j:
                x = new[j - 1]
                pair_counts[(b if x == c else x) * SHIFT + a] -= weight
                key = x * SHIFT + c
                pair_counts[key] += weight
                where[key].add(wi)
                grown.add(key)
            if j + 1 < n and new[j + 1] != c:
                y = new[j + 1]
                pair_counts[b * SHIFT + y] -= weight
                key = c * SHIFT + y
                pair_counts[key] += weight
                where[key].add(wi)
                grown.add(key)
    return grown


def _recount(old: list[int], new: list[int], c: int, weight: int,
             pair_counts: dict) -> list[int]:
    """Take back every pair of `old` and add every pair of `new` (the pairs away from the
    merges cancel out). Returns the pairs of `new` that hold c."""
    for left, right in pairwise(old):
        pair_counts[left * SHIFT + right] -= weight
    added = []
    for left, right in pairwise(new):
        key = left * SHIFT + right
        pair_counts[key] += weight
        if left == c or right == c:
            added.append(key)
    return added


def learn_merges(words: list[list[int]], counts: list[int], vocab: dict[str, int],
                 vocab_size: int, min_frequency: int, join: Callable[[str, str], str] = concat,
                 progress=None) -> tuple[list[tuple[str, str]], str]:
    """Merge until `vocab_size`. Mutates `words` and `vocab` (token -> id, ids 0..n-1);
    returns (the merges as (left, right) strings in order, why it stopped). `progress`: a
    tqdm bar, moved by the number of tokens added."""
    if max(len(vocab), vocab_size) > SHIFT:
        raise ValueError(f"vocabularies of more than {SHIFT} tokens are not supported")
    id_to_token = sorted(vocab, key=vocab.__getitem__)
    assert [vocab[t] for t in id_to_token] == list(range(len(vocab))), "ids must be 0..n-1"
    pair_counts, where = count_pairs(words, counts)
    heap = [(-count, key) for key, count in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    while len(vocab) < vocab_size:
        key = pop_best(heap, pair_counts)
        if key is None:
            return merges, "no pair of tokens is left to merge"
        count = pair_counts[key]
        if count < min_frequency:
            return merges, (f"the most frequent pair occurs {count} times, "
                            f"below min_frequency={min_frequency}")
        a, b = divmod(key, SHIFT)
        left, right = id_to_token[a], id_to_token[b]
        token = join(left, right)
        c = vocab.get(token)
        if c is None:
            c = vocab[token] = len(id_to_token)
            id_to_token.append(token)
            if progress is not None:
                progress.update(1)
        merges.append((left, right))
        grown = merge_everywhere(words, counts, where.pop(key), a, b, c, pair_counts, where)
        pair_counts[key] = 0  # no word holds (a, b) any more
        for k in grown:
            heapq.heappush(heap, (-pair_counts[k], k))
    return merges, f"the vocabulary reached vocab_size={vocab_size}"
