"""Learn a WordPiece vocabulary from text, the way Hugging Face `tokenizers` does.

Which algorithm: Google's original WordPiece (Schuster & Nakajima 2012; used for BERT) adds,
at each step, the piece that most raises the corpus likelihood under a unigram model; its code
was never released. Hugging Face's `WordPieceTrainer` instead runs BPE (Sennrich et al. 2016)
over `##`-prefixed continuation pieces: start from single characters, repeatedly merge the most
frequent adjacent pair. We follow Hugging Face, because the aim is a vocabulary we can check
token for token against a reference that anyone can run; the encoder (greedy longest match,
`wordpiece.py`) is the same whichever way the vocabulary was found.

Steps (each matches `tokenizers`' BpeTrainer with continuing_subword_prefix="##"):
1. one streaming pass (corpus.py reads the files, with its byte-order-mark and UTF-8 policy):
   basic-tokenize every line (BERT cleaning, lowercasing, punctuation split, as the encoder
   does) and count words; the corpus is never held in memory;
2. alphabet: every character of the counted words; with `limit_alphabet`, only the most
   frequent ones are kept (ties: the lower code point is kept); the rest are DROPPED from words;
3. vocabulary: special tokens first with fixed ids ([PAD]=0, [UNK], [CLS], [SEP], [MASK]), then
   the alphabet in code-point order, then `##x` for each character x met inside a word (in
   order of first appearance in the corpus - Hugging Face uses hash-map order there);
4. merges, with the engine byte-level BPE uses too (merge_engine.py; the `##` pieces are only
   a representation on top of it): take the pair (a, b) with the highest count, ties broken by
   the smaller id of a, then of b (the same rule as Hugging Face); the new piece is a + b
   without b's `##`; stop at `vocab_size` or when the best count falls below `min_frequency`.
Progress bars (stderr) show on stages longer than 2 s; the report (`trainer.report`, printed to
stderr when show_progress) gives the vocabulary size reached, the characters limit_alphabet
dropped and the share of corpus words encoded without [UNK].
Deterministic: the same corpus in the same order and the same settings give the same vocabulary.
Left out on purpose: `end_of_word_suffix`, Google's likelihood criterion, parallel counting.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from .basic import BasicTokenizer
from .corpus import BAR_DELAY_S, check_errors, count_words
from .merge_engine import learn_merges
from .wordpiece import WordPieceTokenizer

# Fixed ids, as BERT's own vocabularies order them among themselves: [PAD]=0, [UNK]=1, ...
DEFAULT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass
class TrainingReport:
    vocab_size: int = 0
    target_vocab_size: int = 0
    merges: int = 0
    distinct_words: int = 0
    corpus_words: int = 0
    alphabet_size: int = 0
    dropped_chars: list[str] = field(default_factory=list)
    dropped_occurrences: int = 0
    words_without_unk: float = 0.0

    def __str__(self) -> str:
        return (f"WordPiece vocabulary: {self.vocab_size} of {self.target_vocab_size} tokens after "
                f"{self.merges} merges\n"
                f"corpus: {self.corpus_words} words, {self.distinct_words} distinct; alphabet "
                f"{self.alphabet_size} characters\n"
                f"limit_alphabet dropped {len(self.dropped_chars)} characters "
                f"({self.dropped_occurrences} occurrences)\n"
                f"corpus words encoded without [UNK]: {100 * self.words_without_unk:.2f}%")


class WordPieceTrainer:
    """`WordPieceTrainer(vocab_size=30522).train(files_or_texts) -> WordPieceTokenizer`."""

    def __init__(self, vocab_size: int = 30000, min_frequency: int = 0, special_tokens=None,
                 limit_alphabet: int | None = None, initial_alphabet=(), lowercase: bool = True,
                 strip_accents: bool | None = None, continuing_subword_prefix: str = "##",
                 show_progress: bool = True, errors: str = "strict"):
        self.special_tokens = list(DEFAULT_SPECIALS if special_tokens is None else special_tokens)
        missing = [t for t in DEFAULT_SPECIALS if t not in self.special_tokens]
        if missing:
            raise ValueError(f"special_tokens must include {missing}; "
                             f"BERT needs {DEFAULT_SPECIALS}")
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise ValueError(f"special_tokens has duplicates: {self.special_tokens}")
        if vocab_size <= len(self.special_tokens):
            raise ValueError(f"vocab_size={vocab_size} leaves no room beyond "
                             f"{len(self.special_tokens)} special tokens")
        if limit_alphabet is not None and limit_alphabet < 1:
            raise ValueError(f"limit_alphabet must be a positive int or None, got {limit_alphabet}")
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.limit_alphabet = limit_alphabet
        self.initial_alphabet = set(initial_alphabet)
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.prefix = continuing_subword_prefix
        self.show_progress = show_progress
        self.errors = check_errors(errors)  # "replace": bad bytes become U+FFFD, cleaning drops it
        self.report = TrainingReport(target_vocab_size=vocab_size)

    # --- 1. counting words --------------------------------------------------------------------

    def _splitter(self):
        """line -> its words, basic-tokenized. Each distinct chunk between whitespace (see
        `BasicTokenizer.chunks`) is basic-tokenized once and remembered: lines repeat words."""
        basic = BasicTokenizer(self.lowercase, self.strip_accents)
        words_of: dict[str, list[str]] = {}

        def split(line: str) -> list[str]:
            out: list[str] = []
            for chunk, _, _ in basic.chunks(line):
                words = words_of.get(chunk)
                if words is None:
                    words = words_of[chunk] = [w.text for w in basic.words(chunk)]
                out += words
            return out

        return split

    # --- 2-4. alphabet and merges -------------------------------------------------------------

    def _alphabet(self, counts: Counter) -> list[str]:
        chars: Counter = Counter()
        for word, n in counts.items():
            for ch in word:
                chars[ch] += n
        keep = set(chars)
        if self.limit_alphabet is not None and len(chars) > self.limit_alphabet:
            ranked = sorted(chars, key=lambda c: (-chars[c], ord(c)))
            keep = set(ranked[: self.limit_alphabet])
        keep |= self.initial_alphabet
        dropped = sorted(set(chars) - keep)
        self.report.dropped_chars = dropped
        self.report.dropped_occurrences = sum(chars[c] for c in dropped)
        return sorted(keep)

    def train_from_iterator(self, texts) -> WordPieceTokenizer:
        return self.train(iter(texts))

    def train(self, files_or_texts) -> WordPieceTokenizer:
        """Learn from a file path, a list of paths, or an iterator of strings (one pass)."""
        counts = count_words(files_or_texts, self._splitter(), self.errors, self.show_progress)
        self.report.distinct_words = len(counts)
        self.report.corpus_words = sum(counts.values())
        vocab = self._learn(counts)
        tok = WordPieceTokenizer(vocab, lowercase=self.lowercase, strip_accents=self.strip_accents,
                                 continuing_subword_prefix=self.prefix, source="trained vocabulary")
        self.report.vocab_size = tok.vocab_size
        known = sum(n for w, n in counts.items() if tok.wordpiece(w) != [(tok._unk, 0, len(w))])
        self.report.words_without_unk = known / self.report.corpus_words
        if self.show_progress:
            print(self.report, file=sys.stderr)
        return tok

    def _pieces(self, counts: Counter) -> tuple[dict[str, int], list[list[int]], list[int]]:
        """Steps 2-3: the starting vocabulary, and every word as the ids of its pieces
        (first character as is, the others as `##` pieces), with the word counts."""
        vocab = {t: i for i, t in enumerate(self.special_tokens)}
        alphabet = self._alphabet(counts)
        self.report.alphabet_size = len(alphabet)
        for ch in alphabet:
            vocab.setdefault(ch, len(vocab))
        allowed = set(alphabet)
        words: list[list[int]] = []
        for word in counts:
            symbols = []
            for ch in word:
                if ch in allowed:  # characters dropped by limit_alphabet vanish from the word
                    piece = ch if not symbols else self.prefix + ch
                    symbols.append(vocab.setdefault(piece, len(vocab)))
            words.append(symbols)
        return vocab, words, list(counts.values())

    def _join(self, left: str, right: str) -> str:
        """WordPiece's merged piece: the right piece loses its `##` ("th" + "##e" -> "the")."""
        return left + right.removeprefix(self.prefix)

    def _learn(self, counts: Counter) -> dict[str, int]:
        """Step 4, BPE over ## pieces with the shared engine; returns token -> id."""
        vocab, words, freqs = self._pieces(counts)
        bar = tqdm(total=max(0, self.vocab_size - len(vocab)), desc="merging", unit=" tokens",
                   disable=not self.show_progress, delay=BAR_DELAY_S)
        merges, _ = learn_merges(words, freqs, vocab, self.vocab_size, self.min_frequency,
                                 join=self._join, progress=bar)
        bar.close()
        self.report.merges = len(merges)
        return vocab
