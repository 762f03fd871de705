"""BERT's basic tokenization: clean the text, space out CJK, lowercase, strip accents, split words.

This is the step before WordPiece. It follows Hugging Face `tokenizers` (BertNormalizer then
BertPreTokenizer, the Rust code that `transformers.BertTokenizer` runs), which itself follows
Google's `tokenization.py` (Devlin et al. 2018):

1. special tokens written in the raw text (`[MASK]`) are cut out first and never split;
2. the rest is cut at whitespace into chunks (Google's `whitespace_tokenize`);
3. each chunk is normalized one character at a time: clean (drop NUL, U+FFFD and control,
   format, private-use and surrogate characters, categories Cc Cf Co Cs, but not tab, newline,
   carriage return), put spaces around CJK ideographs so each becomes its own word, strip
   accents (NFD, then drop non-spacing marks, category Mn; by default only when lowercasing,
   settable on its own as in Hugging Face), lowercase (no final-sigma rule, as the Rust code);
4. the normalized chunk is split at whitespace and around every punctuation character (all
   non-alphanumeric printable ASCII, e.g. `$`, `+`, `_`, plus Unicode categories P*).

Google cleans the whole text before cutting it at whitespace; cutting first gives the same
words, because every step is decided one character at a time and a whitespace character is
never deleted. (Python's `str.split` would not do: it also cuts at \\x0b \\x0c \\x1c-\\x1f
\\x85, which cleaning deletes, joining the letters around them.)

Every word keeps the index in the ORIGINAL text of each of its characters (`Word.origin`), so
the pieces WordPiece makes can point back into what the user wrote: a word spans from its
first to its last such character. `normalize_char` is pure, so its answers are remembered per
character; that only pays on text not seen before (WordPiece caches whole chunks).
Unicode versions: character classes come from Python's `unicodedata`, newer than the tables of
Hugging Face's Rust crates; the policy and the characters that differ (e.g. U+2E53) are in
the package docstring, tokenizer/__init__.py.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

_KEEP_WHITESPACE = "\t\n\r"
# The Unicode White_Space property, minus the C* characters cleaning removes anyway.
_WHITESPACE = frozenset(" \t\n\r\u00a0\u1680\u2028\u2029\u202f\u205f\u3000"
                        + "".join(map(chr, range(0x2000, 0x200B))))
# A run of characters that are not whitespace: one chunk (step 2).
_CHUNK = re.compile("[^" + "".join(re.escape(c) for c in sorted(_WHITESPACE)) + "]+")

# CJK Unified Ideographs and their extensions, as in Google's BERT. Korean and Japanese kana
# are not in here on purpose: they are written with spaces and split like other scripts.
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


class Word(NamedTuple):
    """One word: its normalized text, its span in the original text, and where each of its
    characters came from (one original character may give several, e.g. Hangul under NFD)."""

    text: str
    start: int
    end: int
    special: bool
    origin: tuple[int, ...]


# A chunk: (text, start, is_special), a piece of raw text between whitespace or one special
# token, and where it starts. A plain tuple, not a NamedTuple: one is made for every chunk of
# every text, and a NamedTuple's constructor would be the slowest step (bench/RESULTS.md).
Chunk = tuple[str, int, bool]


def is_whitespace(ch: str) -> bool:
    return ch in _WHITESPACE


def is_control(ch: str) -> bool:
    """Characters cleaning drops: categories Cc, Cf, Co, Cs, except tab/newline/CR.

    Unassigned code points (Cn) are kept, as the Rust code does: it cannot list them, and a
    character too new for one Unicode table is unassigned there but a real letter or emoji.
    """
    if ch in _KEEP_WHITESPACE:
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def is_punctuation(ch: str) -> bool:
    """All non-alphanumeric printable ASCII, plus Unicode punctuation (P*)."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


class BasicTokenizer:
    """Split raw text into normalized words with their spans in the original text."""

    def __init__(self, lowercase: bool = True, strip_accents: bool | None = None,
                 clean_text: bool = True, handle_chinese_chars: bool = True, never_split=()):
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars
        self.never_split = tuple(never_split)
        # Longest first, so that of two specials where one starts the other the longer wins.
        specials = sorted(set(self.never_split), key=len, reverse=True)
        self._special_re = re.compile("|".join(map(re.escape, specials))) if specials else None
        self._do_strip = lowercase if strip_accents is None else strip_accents
        self._char_cache: dict[str, str] = {}  # normalize_char is pure, so remember its answers

    def normalize_char(self, ch: str) -> str:
        """What one original character becomes: "" (dropped), " ", or one or more characters."""
        if self.clean_text:
            if ch == "\x00" or ch == "\ufffd" or is_control(ch):
                return ""
            if is_whitespace(ch):
                return " "
        if self.handle_chinese_chars and is_cjk(ch):
            return " " + ch + " "
        if self._do_strip:
            ch = "".join(c for c in unicodedata.normalize("NFD", ch)
                         if unicodedata.category(c) != "Mn")
        if self.lowercase:
            ch = ch.lower()
        return ch

    def normalize(self, text: str) -> tuple[str, list[int]]:
        """The normalized text and, per normalized character, its index in `text`."""
        out, origin = [], []
        cache = self._char_cache
        for i, ch in enumerate(text):
            new = cache.get(ch)
            if new is None:
                new = cache[ch] = self.normalize_char(ch)
            out.append(new)
            origin += [i] * len(new)
        return "".join(out), origin

    def chunks(self, text: str) -> list[Chunk]:
        """Steps 1-2: special tokens cut out, the text between them cut at whitespace."""
        out: list[Chunk] = []
        pos = 0
        if self._special_re is not None:
            for m in self._special_re.finditer(text):
                between = _CHUNK.finditer(text, pos, m.start())
                out += [(c.group(), c.start(), False) for c in between]
                out.append((m.group(), m.start(), True))
                pos = m.end()
        out += [(c.group(), c.start(), False) for c in _CHUNK.finditer(text, pos)]
        return out

    def words(self, chunk: str) -> list[Word]:
        """Steps 3-4 on one chunk; spans and origins are within the chunk."""
        norm, origin = self.normalize(chunk)
        words: list[Word] = []

        def add(i: int, j: int) -> None:  # the word norm[i:j]
            words.append(Word(norm[i:j], origin[i], origin[j - 1] + 1, False,
                              tuple(origin[i:j])))

        start = None
        for j, ch in enumerate(norm):
            if is_whitespace(ch) or is_punctuation(ch):
                if start is not None:
                    add(start, j)
                    start = None
                if not is_whitespace(ch):
                    add(j, j + 1)
            elif start is None:
                start = j
        if start is not None:
            add(start, len(norm))
        return words

    def split(self, text: str) -> list[Word]:
        """The words of `text`, spans and origins in `text`; a special token is one word,
        marked `special`."""
        words: list[Word] = []
        for chunk, start, special in self.chunks(text):
            if special:
                end = start + len(chunk)
                words.append(Word(chunk, start, end, True, tuple(range(start, end))))
                continue
            for w in self.words(chunk):
                words.append(Word(w.text, start + w.start, start + w.end, False,
                                  tuple(start + k for k in w.origin)))
        return words
