"""Byte-level BPE training: `BPETrainer(...).train(files) -> ByteLevelBPETokenizer`.

Three steps, each in its own module:
1. count the corpus' GPT-2 words (corpus.py reads the files; bytelevel.py's pattern splits);
2. spell each word as its UTF-8 bytes' characters (bpe_reference.py `words_as_ids`);
3. learn merges with the engine both trainers share (merge_engine.py; its plain, slow twin is
   bpe_reference.py, which a test checks it against).

Ids are those of HF's BpeTrainer: specials, then the 256 byte characters by code point, then
merges in order; equal counts go to the smaller id pair. Merges whose result is a string
already in the vocabulary reuse its id (as HF). If that lets a pair form again after it was
merged, it is merged again; the merge list keeps its last position (`dedupe_merges`), which is
also what HF's BPE model does with a repeated pair. Stopping: the vocabulary reached
`vocab_size`, or the best pair occurs fewer than `min_frequency` times, or no pair is left.
`trainer.report` says which.

Follows: Sennrich et al. 2016; HF `tokenizers` src/models/bpe/trainer.rs (ids, tie-break).
Left out: limit_alphabet, continuing_subword_prefix / end_of_word_suffix, max_token_length,
parallelism.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from tqdm.auto import tqdm

from .bpe_reference import initial_vocab, words_as_ids
from .byte_level_bpe import ByteLevelBPETokenizer
from .bytelevel import GPT2_SPLIT
from .corpus import check_errors, count_words
from .merge_engine import learn_merges

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


class BPETrainer:
    """Byte-level BPE trainer: `BPETrainer(52_000, 2).train(["kant.txt"])` -> the tokenizer.

    special_tokens get the first ids in the order given (KantaiBERT: `<s>`=0, `<pad>`=1,
    `</s>`=2, `<unk>`=3, `<mask>`=4); then the 256 byte characters; then the merges.
    errors: what to do with invalid UTF-8 in corpus files ("strict" or "replace"); files are
    read by corpus.py's policy (a byte-order mark at the start of a file is dropped).
    """

    def __init__(self, vocab_size: int = 52_000, min_frequency: int = 2,
                 special_tokens=KANTAIBERT_SPECIALS, show_progress: bool = True,
                 errors: str = "strict", add_prefix_space: bool = False):
        if not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive int, got {vocab_size!r}")
        if not isinstance(min_frequency, int) or min_frequency < 0:
            raise ValueError(f"min_frequency must be a non-negative int, got {min_frequency!r}")
        self.special_tokens = list(special_tokens)
        floor = len(initial_vocab(self.special_tokens))  # the specials and the 256 bytes
        if vocab_size < floor:
            raise ValueError(f"vocab_size={vocab_size} is below the {floor} tokens every "
                             f"byte-level BPE starts with ({len(self.special_tokens)} special "
                             f"tokens and 256 bytes)")
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.show_progress = show_progress
        self.errors = check_errors(errors)
        self.add_prefix_space = add_prefix_space
        self.report: TrainReport | None = None

    def train_from_counts(self, word_counts: dict[str, int]
                          ) -> tuple[dict[str, int], list[tuple[str, str]]]:
        """Word counts (raw words, e.g. from `count_words`) -> (vocab, merges)."""
        if not word_counts:
            raise ValueError("empty corpus: no words to train on")
        start = time.perf_counter()
        vocab = initial_vocab(self.special_tokens)
        words, counts = words_as_ids(word_counts, vocab)
        todo = max(0, self.vocab_size - len(vocab))
        with tqdm(total=todo, desc="BPE merges", disable=not self.show_progress,
                  mininterval=0.5) as bar:
            merges, stopped = learn_merges(words, counts, vocab, self.vocab_size,
                                           self.min_frequency, progress=bar)
        self.report = TrainReport(len(merges), len(vocab), len(word_counts), sum(counts), stopped,
                                  time.perf_counter() - start)
        return vocab, dedupe_merges(merges)

    def train(self, files_or_iterator) -> ByteLevelBPETokenizer:
        """Train on a file, a list of files, or an iterator of strings; returns the tokenizer."""
        start = time.perf_counter()
        word_counts = count_words(files_or_iterator, GPT2_SPLIT.findall, errors=self.errors,
                                  show_progress=self.show_progress)
        vocab, merges = self.train_from_counts(word_counts)
        self.report.seconds = time.perf_counter() - start
        if self.show_progress:
            print(self.report, file=sys.stderr)
        return ByteLevelBPETokenizer(vocab, merges, add_prefix_space=self.add_prefix_space,
                                     post_processor="auto", special_tokens=None,
                                     source="trained merges")
