"""BERT's basic tokenization: clean the text, space out CJK, lowercase, strip accents, split words.

This is the step before WordPiece. It follows Hugging Face `tokenizers` (BertNormalizer then
BertPreTokenizer, the Rust code that `transformers.BertTokenizer` runs), which itself follows
Google's `tokenization.py` (Devlin et al. 2018):

1. special tokens written in the raw text (`[MASK]`) are cut out first and never split;
2. clean: drop NUL, U+FFFD and control, format, private-use and surrogate characters (Cc, Cf,
   Co, Cs; not tab, newline, carriage return); every whitespace character becomes a space;
3. put spaces around CJK ideographs, so each becomes its own word;
4. strip accents (NFD, then drop non-spacing marks, category Mn) - by default only when
   lowercasing, settable on its own (`strip_accents=True/False`) as in Hugging Face;
5. lowercase, one character at a time (no final-sigma rule, as the Rust code);
6. split on whitespace, and isolate every punctuation character (all non-alphanumeric
   printable ASCII, e.g. `$`, `+`, `_`, plus Unicode categories P*).

Every word keeps its (start, end) character span in the ORIGINAL text, so the pieces WordPiece
makes can point back into what the user wrote. Each normalized character remembers which
original character it came from; a word spans from its first to its last such character.

Two paths give the same words. `split_reference` walks the text one character at a time, as
the steps above read. `split` first tries a fast path for plain ASCII text (no controls), where
cleaning, accents and CJK are no-ops and lowercasing keeps positions, so one regex does it all;
anything else falls back to the reference path. A test checks that the two agree.
`cuts_at_whitespace(text)` says when a text may be cut at whitespace before any of this (then
WordPiece can remember the encoding of each whitespace-separated chunk whole).
Left out on purpose: Unicode-version differences between Python's `unicodedata` and the Rust
crates for characters newer than either table.
"""

from __future__ import annotations

import re
import unicodedata

# A word: (text, start, end, is_special, origin). start/end are in original-text characters;
# origin is None when the word's characters map one-to-one onto text[start:end], else the
# original index of each of its normalized characters.
Word = tuple[str, int, int, bool, "list[int] | None"]

_KEEP_WHITESPACE = "\t\n\r"
# The Unicode White_Space property, minus the C* characters cleaning removes anyway.
_WHITESPACE = frozenset(
    " \t\n\r\u00a0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
)

# CJK Unified Ideographs and their extensions, as in Google's BERT. Korean and Japanese kana
# are not in here on purpose: they are written with spaces and split like other scripts.
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


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


# The fast path: plain ASCII without control characters (only tab/newline/CR allowed).
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_A_CUT = re.compile(r"[\x0b\x0c\x1c-\x1f\x85]")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9 \t\n\r]")


class BasicTokenizer:
    """Split raw text into normalized words with their spans in the original text."""

    def __init__(
        self,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        clean_text: bool = True,
        handle_chinese_chars: bool = True,
        never_split=(),
    ):
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars
        self.never_split = tuple(never_split)
        # Longest first, so that of two specials where one starts the other the longer wins.
        specials = sorted(set(self.never_split), key=len, reverse=True)
        self._special_re = re.compile("|".join(map(re.escape, specials))) if specials else None
        self._special_starts = "".join(sorted({s[0] for s in specials if s}))
        self._do_strip = lowercase if strip_accents is None else strip_accents
        self._char_cache: dict[str, str] = {}  # normalize_char is pure, so remember its answers

    # --- the reference path, one character at a time -----------------------------------------

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
            ch = "".join(
                c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c) != "Mn"
            )
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
            origin.extend([i] * len(new))
        return "".join(out), origin

    def _split_plain_reference(self, text: str, base: int) -> list[Word]:
        """Words of a text holding no special tokens; spans are shifted by `base`."""
        norm, origin = self.normalize(text)
        words: list[Word] = []

        def add(i: int, j: int) -> None:  # the word norm[i:j]
            where = [base + k for k in origin[i:j]]
            identity = where[-1] - where[0] == j - i - 1 and len(set(where)) == j - i
            words.append((norm[i:j], where[0], where[-1] + 1, False, None if identity else where))

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

    def _split_specials(self, text: str, split_plain) -> list[Word]:
        """Cut special tokens out of the raw text, split the rest with `split_plain`."""
        if self._special_re is None or not any(c in text for c in self._special_starts):
            return split_plain(text, 0)
        words: list[Word] = []
        pos = 0
        for m in self._special_re.finditer(text):
            if m.start() > pos:
                words += split_plain(text[pos:m.start()], pos)
            words.append((m.group(), m.start(), m.end(), True, None))
            pos = m.end()
        if pos < len(text):
            words += split_plain(text[pos:], pos)
        return words

    def split_reference(self, text: str) -> list[Word]:
        """The words of `text`, one character at a time (the readable path)."""
        return self._split_specials(text, self._split_plain_reference)

    # --- the fast path ------------------------------------------------------------------------

    def _split_plain(self, text: str, base: int) -> list[Word]:
        if not text.isascii() or _ASCII_CONTROL.search(text) is not None:
            return self._split_plain_reference(text, base)
        if self.lowercase:
            text = text.lower()  # ASCII lowercasing keeps every position
        return [
            (m.group(), base + m.start(), base + m.end(), False, None)
            for m in _ASCII_WORD.finditer(text)
        ]

    def cuts_at_whitespace(self, text: str) -> bool:
        """True when splitting `text` at Python's whitespace (`str.split()`) first, then
        basic-tokenizing each chunk, gives the same words as basic-tokenizing it whole: there is
        no special token to find, and no character that Python calls whitespace but BERT's
        cleaning deletes (\x0b \x0c \x1c-\x1f \x85: deleting joins the letters around them).
        Everything else is decided one character at a time, so chunks are independent."""
        return _NOT_A_CUT.search(text) is None and not any(c in text for c in self._special_starts)

    def split(self, text: str) -> list[Word]:
        """The words of `text` as (word, start, end, is_special, origin); see `Word`."""
        return self._split_specials(text, self._split_plain)
