"""Learn a WordPiece vocabulary from text, the way Hugging Face `tokenizers` does.

Which algorithm: Google's original WordPiece (Schuster & Nakajima 2012; used for BERT) adds,
at each step, the piece that most raises the corpus likelihood under a unigram model; its code
was never released. Hugging Face's `WordPieceTrainer` instead runs BPE (Sennrich et al. 2016)
over `##`-prefixed continuation pieces: start from single characters, repeatedly merge the most
frequent adjacent pair. We follow Hugging Face, because the aim is a vocabulary we can check
token for token against a reference that anyone can run; the encoder (greedy longest match,
`wordpiece.py`) is the same whichever way the vocabulary was found.

Steps (each matches `tokenizers`' BpeTrainer with continuing_subword_prefix="##"):
1. one streaming pass: basic-tokenize every line (BERT cleaning, lowercasing, punctuation
   split, as the encoder does) and count words; the corpus is never held in memory;
2. alphabet: every character of the counted words; with `limit_alphabet`, only the most
   frequent ones are kept (ties: the lower code point is kept); the rest are DROPPED from words;
3. vocabulary: special tokens first with fixed ids ([PAD]=0, [UNK], [CLS], [SEP], [MASK]), then
   the alphabet in code-point order, then `##x` for each character x met inside a word (in
   order of first appearance in the corpus - Hugging Face uses hash-map order there);
4. merges: take the pair (a, b) with the highest count, ties broken by the smaller id of a, then
   of b (the same rule as Hugging Face); the new piece is a + b without b's `##`; stop at
   `vocab_size` or when the best count falls below `min_frequency`.
Progress bars (stderr) show on stages longer than 2 s; the report (`trainer.report`, printed to
stderr when show_progress) gives the vocabulary size reached, the characters limit_alphabet
dropped and the share of corpus words encoded without [UNK].
Deterministic: the same corpus in the same order and the same settings give the same vocabulary.
Left out on purpose: `end_of_word_suffix`, Google's likelihood criterion, parallel counting.
"""

from __future__ import annotations

import heapq
import itertools
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .basic import BasicTokenizer
from .wordpiece import WordPieceTokenizer

# Fixed ids, as BERT's own vocabularies order them among themselves: [PAD]=0, [UNK]=1, ...
DEFAULT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Bars appear only when a stage runs longer than this, so short runs stay quiet.
_BAR_DELAY_S = 2.0


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
            raise ValueError(
                f"special_tokens must include {missing}; BERT needs {DEFAULT_SPECIALS}"
            )
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise ValueError(f"special_tokens has duplicates: {self.special_tokens}")
        if vocab_size <= len(self.special_tokens):
            raise ValueError(
                f"vocab_size={vocab_size} leaves no room beyond {len(self.special_tokens)} "
                f"special tokens"
            )
        if limit_alphabet is not None and limit_alphabet < 1:
            raise ValueError(f"limit_alphabet must be a positive int or None, got {limit_alphabet}")
        if errors not in ("strict", "replace"):
            raise ValueError(
                f"errors={errors!r}; expected 'strict' (fail on bad UTF-8) or 'replace'"
            )
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.limit_alphabet = limit_alphabet
        self.initial_alphabet = set(initial_alphabet)
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.prefix = continuing_subword_prefix
        self.show_progress = show_progress
        self.errors = errors  # "replace" turns bad bytes into U+FFFD, which cleaning then drops
        self.report = TrainingReport(target_vocab_size=vocab_size)

    # --- 1. counting words --------------------------------------------------------------------

    def _lines(self, files_or_texts):
        """A path or a list/tuple of paths is read as files; any other iterable yields texts."""
        if isinstance(files_or_texts, (str, Path)):
            files_or_texts = [files_or_texts]
        if isinstance(files_or_texts, (list, tuple)):
            for item in files_or_texts:
                if not isinstance(item, (str, Path)):
                    raise TypeError(f"train expects file paths, got {type(item).__name__}")
                yield from self._file_lines(Path(item))
            return
        for text in files_or_texts:
            if not isinstance(text, str):
                raise TypeError(f"train_from_iterator expects strings, got {type(text).__name__}")
            yield text

    def _file_lines(self, path: Path):
        try:
            with open(path, encoding="utf-8-sig", errors=self.errors) as f:
                yield from f
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not valid UTF-8 at byte {e.start} ({e.reason}); "
                             f"pass errors='replace' to drop bad bytes") from e
        except OSError as e:
            raise ValueError(f"{path}: cannot read corpus file ({e.strerror or e})") from e

    def count_words(self, files_or_texts) -> Counter:
        """Basic-tokenize every line and count the words, in order of first appearance."""
        basic = BasicTokenizer(self.lowercase, self.strip_accents)
        counts: Counter = Counter()
        # Lines that may be cut at whitespace are counted chunk by chunk, each distinct chunk
        # being basic-tokenized once; the first sight of a chunk books its words' places.
        words_of: dict[str, list[str]] = {}
        lines = self._lines(files_or_texts)
        for line in tqdm(
            lines,
            desc="counting words",
            unit=" lines",
            disable=not self.show_progress,
            delay=_BAR_DELAY_S,
        ):
            if not basic.cuts_at_whitespace(line):
                counts.update(w[0] for w in basic.split(line))
                continue
            for chunk in line.split():
                words = words_of.get(chunk)
                if words is None:
                    words = words_of[chunk] = [w[0] for w in basic.split(chunk)]
                for word in words:
                    counts[word] += 1
        return counts

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
        counts = self.count_words(files_or_texts)
        if not counts:
            raise ValueError(
                "the corpus holds no words (empty files or only whitespace); nothing to learn"
            )
        self.report.distinct_words = len(counts)
        self.report.corpus_words = sum(counts.values())
        vocab = self._learn(counts)
        tok = WordPieceTokenizer(vocab, lowercase=self.lowercase, strip_accents=self.strip_accents,
                                 continuing_subword_prefix=self.prefix, source="trained vocabulary")
        self.report.vocab_size = tok.vocab_size
        known = sum(n for w, n in counts.items() if tok._word_pieces(w)[0] != (tok._unk,))
        self.report.words_without_unk = known / self.report.corpus_words
        if self.show_progress:
            print(self.report, file=sys.stderr)
        return tok

    def _learn(self, counts: Counter) -> dict[str, int]:
        """BPE over ## pieces; returns token -> id."""
        id_to_token = list(self.special_tokens)
        token_to_id = {t: i for i, t in enumerate(id_to_token)}

        def add(token: str) -> int:
            if token not in token_to_id:
                token_to_id[token] = len(id_to_token)
                id_to_token.append(token)
            return token_to_id[token]

        alphabet = self._alphabet(counts)
        self.report.alphabet_size = len(alphabet)
        for ch in alphabet:
            add(ch)
        allowed = set(alphabet)
        words: list[list[int]] = []
        freqs: list[int] = []
        for word, n in counts.items():
            symbols = []
            for ch in word:
                if ch in allowed:  # characters dropped by limit_alphabet vanish from the word
                    symbols.append(add(ch) if not symbols else add(self.prefix + ch))
            words.append(symbols)
            freqs.append(n)

        pair_counts: Counter = Counter()
        where: dict[tuple[int, int], set[int]] = {}
        for wi, symbols in enumerate(words):
            for pair in itertools.pairwise(symbols):
                pair_counts[pair] += freqs[wi]
                where.setdefault(pair, set()).add(wi)
        heap = [(-c, a, b) for (a, b), c in pair_counts.items() if c > 0]
        heapq.heapify(heap)

        bar = tqdm(total=max(0, self.vocab_size - len(id_to_token)), desc="merging", unit=" tokens",
                   disable=not self.show_progress, delay=_BAR_DELAY_S)
        merges = 0
        while len(id_to_token) < self.vocab_size and heap:
            neg, a, b = heapq.heappop(heap)
            count = pair_counts.get((a, b), 0)
            if -neg != count:  # stale: the pair lost occurrences to earlier merges
                if count > 0:
                    heapq.heappush(heap, (-count, a, b))
                continue
            if count < 1 or count < self.min_frequency:
                break
            right = id_to_token[b]
            before = len(id_to_token)
            new = add(id_to_token[a] + right.removeprefix(self.prefix))
            bar.update(len(id_to_token) - before)
            merges += 1
            grown: set[tuple[int, int]] = set()
            for wi in sorted(where.pop((a, b))):
                grown.update(_merge_word(words, wi, a, b, new, freqs[wi], pair_counts, where))
            del pair_counts[(a, b)]
            for pair in grown:
                heapq.heappush(heap, (-pair_counts[pair], *pair))
        bar.close()
        self.report.merges = merges
        return token_to_id


def _merge_word(words, wi, a, b, new, freq, pair_counts, where) -> list:
    """Replace each (a, b) in words[wi], left to right, by `new`; keep pair counts in step.

    Returns the pairs holding `new` (their counts grew). Like Hugging Face, words that lose a
    pair stay listed under it in `where`; merging such a word again changes nothing."""
    old = words[wi]
    if a not in old:
        return []
    out: list[int] = []
    i, n = 0, len(old)
    while i < n:
        if i + 1 < n and old[i] == a and old[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(old[i])
            i += 1
    if len(out) == n:
        return []
    for pair in itertools.pairwise(old):
        pair_counts[pair] -= freq
    grown = []
    for pair in itertools.pairwise(out):
        pair_counts[pair] = pair_counts.get(pair, 0) + freq
        where.setdefault(pair, set()).add(wi)
        if new in pair:
            grown.append(pair)
    words[wi] = out
    return grown
