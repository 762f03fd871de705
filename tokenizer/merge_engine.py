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
- `pair_counts`: pair -> weighted count, updated word by word: a merged word takes back the
  pairs it had and adds the pairs it has (the pairs away from the merge cancel out);
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
    longer hold (a, b) (an earlier merge took it) come back unchanged and are skipped."""
    grown: set[int] = set()
    for wi in word_ids:
        old = words[wi]
        new = merge_word(old, a, b, c)
        if len(new) == len(old):
            continue
        weight = counts[wi]
        for left, right in pairwise(old):
            pair_counts[left * SHIFT + right] -= weight
        for left, right in pairwise(new):
            key = left * SHIFT + right
            pair_counts[key] += weight
            if left == c or right == c:
                where[key].add(wi)
                grown.add(key)
        words[wi] = new
    return grown


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
        for grown in merge_everywhere(words, counts, where.pop(key), a, b, c, pair_counts, where):
            heapq.heappush(heap, (-pair_counts[grown], grown))
    return merges, f"the vocabulary reached vocab_size={vocab_size}"
