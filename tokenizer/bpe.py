"""Byte-level BPE: the tokenizer of GPT-2 and RoBERTa (and the KantaiBERT chapter).

Encoding one text goes:

    text --(special tokens cut out first)--> segments
         --(GPT-2 pattern, bytelevel.py)----> words          "Hello world" -> "Hello", " world"
         --(UTF-8 bytes as characters)------> byte strings   " world" -> "Ġworld"
         --(merges by rank, bpe_word)-------> tokens -> ids
         --(base.py)------------------------> truncate, <s> A </s></s> B </s>, pad

BPE on one word (Sennrich et al. 2016; GPT-2's encoder.py), `bpe_word`: start from single
bytes, and repeatedly merge every occurrence of the adjacent pair whose merge was learned
earliest (lowest rank), until no adjacent pair is a learned merge. `encode_word` adds the ids
and each token's character span. The one speed layer on top: words repeat, so `_remember`
keeps each word's result in a bounded dict, as encoder.py does; on running text most words
cost one dict look-up. A test checks it against `cache_size=0` (no cache). Besides, the loop
appends a word of one token (most words) without building lists. What each of these buys is
measured in bench/RESULTS.md.

Special tokens (`<s>`, `</s>`, `<mask>`, `<|endoftext|>`...) written in the text are matched
before pre-tokenization, so `<mask>` is one token. RoBERTa's `<mask>` also swallows the
whitespace before it ("lstrip"), so "Paris is the <mask>." predicts a token that carries its
own leading space ("Ġcapital"), as in pretraining. Offsets follow Hugging Face `tokenizers`:
with RoBERTa post-processing they are "trimmed" (a token's leading `Ġ` is not part of its
span), and a space added by `add_prefix_space` has zero width.

What lives here is `BPETokenizer`, all of the above over a vocabulary and merges already in
memory. Its files (from_files / from_pretrained, save, save_model) and training in place are
`ByteLevelBPETokenizer`'s, in byte_level_bpe.py: the class the package exports.

Follows: openai/gpt-2 encoder.py, Hugging Face `tokenizers` (ByteLevel, BPE, RobertaProcessing,
AddedToken lstrip). Left out: BPE dropout, user-added tokens, rstrip.
"""

from __future__ import annotations

from itertools import pairwise
from typing import NamedTuple

import regex

from .base import Tokenizer
from .bpe_files import check_merges
from .bpe_reference import merge_word
from .bytelevel import GPT2_SPLIT, from_byte_chars, to_byte_chars, unicode_to_bytes
from .processors import layout_name
from .truncation import Pieces

ROBERTA_SPECIALS = {"cls": "<s>", "pad": "<pad>", "sep": "</s>", "unk": "<unk>", "mask": "<mask>"}
GPT2_SPECIALS = {"cls": "<|endoftext|>", "sep": "<|endoftext|>", "unk": "<|endoftext|>"}
# The word cache is cleared when it grows past this many words (HF keeps 10,000).
CACHE_SIZE = 200_000


def default_special_tokens(vocab: dict[str, int]) -> dict[str, str]:
    """RoBERTa's specials if the vocabulary has them, else GPT-2's `<|endoftext|>`, else none."""
    roberta = {role: t for role, t in ROBERTA_SPECIALS.items() if t in vocab}
    if roberta:
        return roberta
    return {role: t for role, t in GPT2_SPECIALS.items() if t in vocab}


def bpe_word(chars: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """Apply merges to one byte-level word: lowest rank first, all its occurrences left to right."""
    parts = list(chars)
    while len(parts) > 1:
        best_rank, best = None, None
        for pair in pairwise(parts):
            rank = ranks.get(pair)
            if rank is not None and (best_rank is None or rank < best_rank):
                best_rank, best = rank, pair
        if best is None:
            break
        left, right = best
        parts = merge_word(parts, left, right, left + right)
    return parts


class WordTokens(NamedTuple):
    """What byte-level BPE makes of one pre-tokenized word.

    spans: each token's character span within the word (trimmed when the tokenizer trims
    offsets). first_with_space: the first token's span with its one leading space kept, which
    HF gives the text's first token when add_prefix_space put that space there; None when it
    does not apply.
    """

    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    first_with_space: tuple[int, int] | None


def _trim(token: str, start: int, end: int, leading: bool = True) -> tuple[int, int]:
    """Drop leading (unless `leading=False`) and trailing `Ġ` (spaces) from a token's span,
    as HF's trim_offsets does."""
    lead = len(token) - len(token.lstrip("Ġ"))
    trail = len(token) - len(token.rstrip("Ġ"))
    if lead and leading:
        start = min(start + lead, end)
    if trail and end >= trail:
        end = max(end - trail, start)
    return start, end


class BPETokenizer(Tokenizer):
    """Byte-level BPE over a vocabulary (token -> id) and merges (pairs, best first): text to
    tokens, ids and offsets, and back. Built with `ByteLevelBPETokenizer` (byte_level_bpe.py),
    which adds the files and training.

    post_processor (settable, see `tokenizer/processors.py`): "roberta" (`<s> A </s>` /
    `<s> A </s></s> B </s>`, type ids all 0, trimmed offsets), "bert" (`<s> A </s>` /
    `<s> A </s> B </s>`, B's type ids 1) or None (no specials added; type ids 0 for A, 1 for B,
    as GPT-2, and as `tokenizers` builds its ByteLevelBPETokenizer). "auto" (what loading files
    defaults to): "roberta" when the vocabulary has `<s>` and `</s>`.
    """

    def __init__(self, vocab: dict[str, int], merges, *, add_prefix_space: bool = False,
                 post_processor: str | None = None, special_tokens: dict[str, str] | None = None,
                 lstrip_tokens=("<mask>",), model_max_length: int | None = None,
                 cache_size: int = CACHE_SIZE, source: str = "merges"):
        merges = [tuple(m) for m in merges or []]
        check_merges(vocab, merges, source)
        if special_tokens is None:
            special_tokens = default_special_tokens(vocab)
        super().__init__(vocab, special_tokens, model_max_length)
        if post_processor == "auto":
            roberta = {"cls", "sep"} <= set(special_tokens) and "<s>" in vocab
            post_processor = "roberta" if roberta else None
        self.add_prefix_space = bool(add_prefix_space)
        self.merges = merges
        self._ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.cache_size = cache_size
        self._cache: dict[str, WordTokens] = {}  # word -> its tokens, see _remember
        self._cache_prefixed: dict[str, WordTokens] = {}  # first words given a synthetic space
        self.post_processor = post_processor  # the property below: checks, sets the templates
        specials = sorted(self._special_set, key=lambda t: (-len(t), t))  # longest match wins
        self.lstrip_tokens = frozenset(t for t in lstrip_tokens if t in self._special_set)
        alternatives = [(r"\s*" if t in self.lstrip_tokens else "") + f"({regex.escape(t)})"
                        for t in specials]
        self._special_tokens_in_order = specials
        self._special_re = regex.compile("|".join(alternatives)) if specials else None

    @property
    def post_processor(self) -> str | None:
        """The special-token layout: "roberta", "bert" or None (see the class docstring)."""
        return self._post_processor

    @post_processor.setter
    def post_processor(self, value) -> None:
        """Accepts a layout name or tokenizer.processors' RobertaProcessing / BertProcessing."""
        self._post_processor = layout_name(value, self)
        self._templates = self._make_templates()
        self.trim_offsets = self._post_processor == "roberta"
        self._cache.clear()  # cached spans were trimmed, or not, for the old layout
        self._cache_prefixed.clear()

    # --- one word ---------------------------------------------------------------------------

    def encode_word(self, word: str, synthetic_space: bool = False) -> WordTokens:
        """One pre-tokenized word -> its tokens, ids and character spans (see `WordTokens`).

        With `synthetic_space` the word's first character is the space that add_prefix_space
        put there: it has zero width, and the real characters start at 0.
        """
        tokens = bpe_word(to_byte_chars(word), self._ranks)
        # Character span of every UTF-8 byte of the word.
        byte_start, byte_end = [], []
        for ci, ch in enumerate(word):
            if synthetic_space and ci == 0:
                byte_start.append(0)
                byte_end.append(0)
                continue
            c = ci - 1 if synthetic_space else ci
            n = len(ch.encode("utf-8"))
            byte_start += [c] * n
            byte_end += [c + 1] * n
        raw, b = [], 0
        for t in tokens:
            raw.append((byte_start[b], byte_end[b + len(t) - 1]))
            b += len(t)
        spans = tuple(_trim(t, s, e) for t, (s, e) in zip(tokens, raw)) if self.trim_offsets \
            else tuple(raw)
        # HF keeps the one leading space of the text's first token when add_prefix_space put
        # it there: that token's span trimmed at the end only.
        lead = len(tokens[0]) - len(tokens[0].lstrip("Ġ"))
        first_with_space = _trim(tokens[0], *raw[0], leading=False) \
            if self.trim_offsets and lead == 1 else None
        ids, tokens = self._ids(word, tokens)
        return WordTokens(ids, tokens, spans, first_with_space)

    def _remember(self, word: str, synthetic_space: bool = False) -> WordTokens:
        """`encode_word`, kept in a bounded dict (cleared when full; cache_size=0: never).
        Words that start with a synthetic space have their own dict: their spans differ."""
        entry = self.encode_word(word, synthetic_space)
        cache = self._cache_prefixed if synthetic_space else self._cache
        if len(cache) >= self.cache_size:
            cache.clear()
        if self.cache_size:
            cache[word] = entry
        return entry

    def _ids(self, word: str, tokens: list[str]) -> tuple[tuple, tuple]:
        """(ids, tokens) of a word's byte-level tokens. A byte symbol the vocabulary lacks
        becomes the unk token, one per byte, as in HF `tokenizers`; without an unk token it
        is an error (HF drops such bytes silently)."""
        vocab = self._vocab
        try:
            return tuple(vocab[t] for t in tokens), tuple(tokens)
        except KeyError:
            pass
        unk = self.special_tokens.get("unk")
        if unk is None:
            missing = next(t for t in tokens if t not in vocab)
            raise ValueError(
                f"byte-level symbol {missing!r} (byte 0x{unicode_to_bytes()[missing]:02x}, in "
                f"{word!r}) is not in the vocabulary, and the tokenizer has no unk token to "
                f"stand for it; a byte-level vocabulary should hold all 256 byte symbols")
        tokens = tuple(t if t in vocab else unk for t in tokens)
        return tuple(vocab[t] for t in tokens), tokens

    # --- one text ---------------------------------------------------------------------------

    def _encode_segment(self, text: str, base: int, out: Pieces, word_index: int) -> int:
        """Append the tokens of a special-free piece of text starting at `base`; return the
        next word id."""
        if not text:  # nothing to encode, and no prefix space for nothing (as HF)
            return word_index
        tokens, ids, offsets, word_ids = out
        first_of_text = not ids
        synthetic = self.add_prefix_space and not text.startswith(" ")
        words = GPT2_SPLIT.findall(" " + text if synthetic else text)
        at = base  # where the current word starts in the full text
        if self.add_prefix_space:
            # The first word may start with a synthetic space (zero width, its own cache), and
            # HF keeps the one leading space of the text's very first token when it added it.
            word, words = words[0], words[1:]
            if synthetic:
                entry = self._cache_prefixed.get(word) or self._remember(word, True)
            else:
                entry = self._cache.get(word) or self._remember(word)
            spans = entry.spans
            if first_of_text and entry.first_with_space is not None:
                spans = (entry.first_with_space,) + spans[1:]
            ids += entry.ids
            tokens += entry.tokens
            word_ids += [word_index] * len(entry.ids)
            offsets += [(at + s, at + e) for s, e in spans]
            word_index += 1
            at += len(word) - synthetic
        cache = self._cache
        for word in words:
            entry = cache.get(word) or self._remember(word)  # without the cache: encode_word
            if len(entry.ids) == 1:  # one token: most words, kept short
                (s, e), = entry.spans
                ids += entry.ids
                tokens += entry.tokens
                word_ids.append(word_index)
                offsets.append((at + s, at + e))
            else:
                ids += entry.ids
                tokens += entry.tokens
                word_ids += [word_index] * len(entry.ids)
                offsets += [(at + s, at + e) for s, e in entry.spans]
            word_index += 1
            at += len(word)
        return word_index

    def _encode_pieces(self, text: str) -> Pieces:
        out: Pieces = ([], [], [], [])
        special_re = self._special_re
        match = special_re.search(text) if special_re is not None else None
        if match is None:
            self._encode_segment(text, 0, out, 0)
            return out
        tokens, ids, offsets, word_ids = out
        word_index, pos = 0, 0
        while match is not None:
            if match.start() > pos:
                word_index = self._encode_segment(text[pos:match.start()], pos, out, word_index)
            group = match.lastindex
            token = self._special_tokens_in_order[group - 1]
            tokens.append(token)
            ids.append(self._vocab[token])
            # An lstrip token's span holds the whitespace it took, unless offsets are trimmed.
            start = match.start(group) if self.trim_offsets else match.start()
            offsets.append((start, match.end(group)))
            word_ids.append(word_index)
            word_index += 1
            pos = match.end()
            match = special_re.search(text, pos)
        if pos < len(text):
            self._encode_segment(text[pos:], pos, out, word_index)
        return out

    def _template(self, pair: bool) -> list[tuple[str, int]]:
        return self._templates[pair]

    def _make_templates(self) -> dict[bool, list[tuple[str, int]]]:
        if self.post_processor is None:  # GPT-2: nothing added; B gets type id 1
            return {False: [("A", 0)], True: [("A", 0), ("B", 1)]}
        cls, sep = self.special_tokens["cls"], self.special_tokens["sep"]
        if self.post_processor == "bert":
            return {False: [(cls, 0), ("A", 0), (sep, 0)],
                    True: [(cls, 0), ("A", 0), (sep, 0), ("B", 1), (sep, 1)]}
        return {False: [(cls, 0), ("A", 0), (sep, 0)],
                True: [(cls, 0), ("A", 0), (sep, 0), (sep, 0), ("B", 0), (sep, 0)]}

    def tokenize(self, text: str) -> list[str]:
        """The tokens of `text` (byte-level strings), without special tokens added."""
        return self._encode_pieces(text)[0]

    # --- back to text -----------------------------------------------------------------------

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """Ids -> text. Lossless for the tokens of any text (bytes are put back exactly);
        an id sequence that cuts a character in half decodes with U+FFFD there. Special tokens
        are decoded on their own, so one never joins the bytes of the tokens around it."""
        out, run = [], []
        inv, specials = self._inv, self._special_set
        for i in ids:
            token = inv.get(int(i))
            if token is None:
                raise ValueError(f"id {int(i)} is not in the vocabulary (size {len(inv)})")
            if token in specials:
                if skip_special_tokens:
                    continue
                out += [self.decode_tokens(run), token]
                run = []
            else:
                run.append(token)
        out.append(self.decode_tokens(run))
        return "".join(out)

    @staticmethod
    def decode_tokens(tokens: list[str]) -> str:
        """Byte-level tokens -> text: each character back to the byte it spells, then the bytes
        read as UTF-8 (U+FFFD where a character is cut), as Hugging Face's ByteLevel decoder.
        A character outside the 256-byte table (a token typed by hand, not from the
        vocabulary) stands for itself (`bytelevel.from_byte_chars`)."""
        return from_byte_chars("".join(tokens))
