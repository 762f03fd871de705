"""A fast byte-level BPE trainer in pure Python: `BPETrainer(...).train(files) -> tokenizer`.

It learns the same merges as the plain algorithm in bpe_reference.py (read that first), but
never recounts the corpus. The trick (as in Hugging Face `tokenizers`' BpeTrainer) is that a
merge of (a, b) -> c only changes pairs next to an occurrence of "a b":

    ... x a b y ...   becomes   ... x c y ...
    count(x, a) -= n   count(x, c) += n   count(b, y) -= n   count(c, y) += n

where n is the word's count. So we keep
- `pair_counts`: pair -> weighted count, updated with exactly those deltas;
- `where`: pair -> the words that (may) contain it, so a merge visits only those words;
- a heap of (-count, pair) with lazy invalidation: counts only go down after a pair is
  created, so an entry whose count is stale is re-pushed with its true count when popped;
  an entry that is popped and matches its true count is the best pair.
Pairs are packed into one int, left * 2**20 + right, so dict keys hash fast and the heap's
tuple order (-count, key) is exactly "highest count, then smallest (left id, right id)".

Tie-break and ids are those of bpe_reference.py and of HF's BpeTrainer: specials, then the 256
byte characters by code point, then merges in order; equal counts go to the smaller id pair.
Merges whose result is a string already in the vocabulary reuse its id (as HF). If that lets a
pair form again after it was merged, it is merged again; the merge list keeps its last
position (`dedupe_merges`), which is also what HF's BPE model does with a repeated pair.
Stopping: the vocabulary reached `vocab_size`, or the best pair occurs fewer than
`min_frequency` times, or no pair is left. `trainer.report` says which.

Follows: Sennrich et al. 2016; HF `tokenizers` src/models/bpe/trainer.rs (structure, ids,
tie-break). Left out: limit_alphabet, continuing_subword_prefix / end_of_word_suffix,
max_token_length, parallelism.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from tqdm.auto import tqdm

from .bpe import ByteLevelBPETokenizer
from .bpe_corpus import count_words
from .bpe_reference import initial_vocab, words_as_ids

SHIFT = 1 << 20  # pair key = left * SHIFT + right; ids must stay below SHIFT
KANTAIBERT_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


@dataclass
class TrainReport:
    """What a training run did; `str(report)` is the end-of-training summary."""

    merges: int
    vocab_size: int
    unique_words: int
    total_words: int
    stopped: str
    seconds: float

    def __str__(self) -> str:
        return (f"BPE training: {self.merges} merges, vocabulary {self.vocab_size} tokens, "
                f"from {self.unique_words} distinct words ({self.total_words} in all), "
                f"{self.seconds:.2f} s; stopped because {self.stopped}")


def dedupe_merges(merges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A pair merged twice (possible when two merge paths build the same string) keeps its
    last position, as HF's BPE model does when it reads its merge list into a map."""
    last = {pair: i for i, pair in enumerate(merges)}
    return [pair for i, pair in enumerate(merges) if last[pair] == i]


def learn_merges(words: list[list[int]], counts: list[int], vocab: dict[str, int], vocab_size: int,
                 min_frequency: int, progress=None) -> tuple[list[tuple[str, str]], str]:
    """The merge loop. Mutates `words` and `vocab`; returns (merges as strings, why it stopped)."""
    assert vocab_size < SHIFT, f"vocab_size must be below {SHIFT}"
    id_to_token = [None] * len(vocab)
    for token, i in vocab.items():
        id_to_token[i] = token

    pair_counts: dict[int, int] = defaultdict(int)
    where: dict[int, set] = defaultdict(set)
    for wi, word in enumerate(words):
        count = counts[wi]
        for k in range(len(word) - 1):
            key = word[k] * SHIFT + word[k + 1]
            pair_counts[key] += count
            where[key].add(wi)
    heap = [(-c, key) for key, c in pair_counts.items() if c > 0]
    heapq.heapify(heap)

    merges: list[tuple[str, str]] = []
    stopped = "no pair of tokens is left to merge"
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        if len(vocab) >= vocab_size:
            stopped = f"the vocabulary reached vocab_size={vocab_size}"
            break
        neg, key = heappop(heap)
        count = pair_counts[key]
        if -neg != count:  # stale: counts only drop, so push back the true one
            if count > 0:
                heappush(heap, (-count, key))
            continue
        if count < min_frequency:
            stopped = (
                f"the most frequent pair occurs {count} times, below min_frequency={min_frequency}"
            )
            break
        a, b = divmod(key, SHIFT)
        left, right = id_to_token[a], id_to_token[b]
        token = left + right
        c = vocab.get(token)
        if c is None:
            c = vocab[token] = len(id_to_token)
            id_to_token.append(token)
        merges.append((left, right))
        pair_counts[key] = 0

        touched = set()
        b_shift, c_shift = b * SHIFT, c * SHIFT
        for wi in where.pop(key):
            word = words[wi]
            occurrences = word.count(a)
            if occurrences == 0:
                continue  # stale position: an earlier merge already took this pair away
            n = len(word)
            n1 = n - 1
            weight = counts[wi]
            if occurrences == 1:  # the common case: one "a", so at most one "a b"; splice it
                i = word.index(a)
                if i == n1 or word[i + 1] != b:
                    continue
                if i:
                    p = word[i - 1] * SHIFT
                    pair_counts[p + a] -= weight
                    k = p + c
                    pair_counts[k] += weight
                    where[k].add(wi)
                    touched.add(k)
                if i + 2 < n:
                    y = word[i + 2]
                    pair_counts[b_shift + y] -= weight
                    k = c_shift + y
                    pair_counts[k] += weight
                    where[k].add(wi)
                    touched.add(k)
                word[i:i + 2] = [c]
                continue
            out = []
            i = 0
            while i < n:
                x = word[i]
                if x == a and i < n1 and word[i + 1] == b:
                    if out:
                        p = out[-1] * SHIFT
                        pair_counts[p + a] -= weight
                        k = p + c
                        pair_counts[k] += weight
                        where[k].add(wi)
                        touched.add(k)
                    out.append(c)
                    i += 2
                    if i < n:
                        y = word[i]
                        pair_counts[b_shift + y] -= weight
                        k = c_shift + y
                        pair_counts[k] += weight
                        where[k].add(wi)
                        touched.add(k)
                else:
                    out.append(x)
                    i += 1
            words[wi] = out
        pair_counts[key] = 0  # an (a, a) run may have touched its own key above
        for k in touched:
            count = pair_counts[k]
            if count > 0:
                heappush(heap, (-count, k))
        if progress is not None:
            progress.update(1)
    return merges, stopped


class BPETrainer:
    """Byte-level BPE trainer: `BPETrainer(52_000, 2).train(["kant.txt"])` -> ByteLevelBPETokenizer.

    special_tokens get the first ids in the order given (KantaiBERT: `<s>`=0, `<pad>`=1,
    `</s>`=2, `<unk>`=3, `<mask>`=4); then the 256 byte characters; then the merges.
    errors: what to do with invalid UTF-8 in corpus files ("strict" or "replace"); strip_bom:
    drop a byte-order mark at the start of a file (HF keeps it); see bpe_corpus.py.
    """

    def __init__(self, vocab_size: int = 52_000, min_frequency: int = 2,
                 special_tokens=KANTAIBERT_SPECIALS, show_progress: bool = True,
                 errors: str = "strict", strip_bom: bool = False, add_prefix_space: bool = False):
        if not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive int, got {vocab_size!r}")
        if not isinstance(min_frequency, int) or min_frequency < 0:
            raise ValueError(f"min_frequency must be a non-negative int, got {min_frequency!r}")
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.special_tokens = list(special_tokens)
        self.show_progress = show_progress
        self.errors = errors
        self.strip_bom = strip_bom
        self.add_prefix_space = add_prefix_space
        self.report: TrainReport | None = None

    def train_from_counts(
        self, word_counts: dict[str, int]
    ) -> tuple[dict[str, int], list[tuple[str, str]]]:
        """Word counts (raw words, e.g. from `count_words`) -> (vocab, merges)."""
        if not word_counts:
            raise ValueError("empty corpus: no words to train on")
        start = time.perf_counter()
        vocab = initial_vocab(self.special_tokens)
        words, counts = words_as_ids(word_counts, vocab)
        todo = max(0, self.vocab_size - len(vocab))
        with tqdm(
            total=todo, desc="BPE merges", disable=not self.show_progress, mininterval=0.5
        ) as bar:
            merges, stopped = learn_merges(
                words, counts, vocab, self.vocab_size, self.min_frequency, bar
            )
        self.report = TrainReport(len(merges), len(vocab), len(word_counts), sum(counts), stopped,
                                  time.perf_counter() - start)
        return vocab, dedupe_merges(merges)

    def train(self, files_or_iterator) -> ByteLevelBPETokenizer:
        """Train on a file, a list of files, or an iterator of strings; returns the tokenizer."""
        start = time.perf_counter()
        word_counts = count_words(files_or_iterator, errors=self.errors, strip_bom=self.strip_bom,
                                  show_progress=self.show_progress)
        vocab, merges = self.train_from_counts(word_counts)
        self.report.seconds = time.perf_counter() - start
        if self.show_progress:
            print(self.report, file=sys.stderr)
        return ByteLevelBPETokenizer(vocab, merges, add_prefix_space=self.add_prefix_space,
                                     special_tokens=None, source="trained merges")
