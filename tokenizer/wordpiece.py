"""BERT's WordPiece tokenizer: basic tokenization, then greedy longest-match-first pieces.

Follows Google's BERT `tokenization.py` (Devlin et al. 2018) and, id for id, Hugging Face
`tokenizers` (what `transformers.BertTokenizer` runs since transformers 5):
- each word from `BasicTokenizer` is cut left to right, always taking the longest piece the
  vocabulary holds; pieces after the first carry the `##` continuation prefix
  ("unaffable" -> un ##aff ##able);
- if some position has no piece at all, the WHOLE word becomes [UNK] (not just the rest);
- a word longer than 100 characters is [UNK] without trying (Hugging Face's limit);
- a text (pair) is laid out as [CLS] A [SEP] (B [SEP]) with type ids 0 (1) - see `base.py`
  for truncation and padding, which both tokenizers share.

`vocab.txt` is one token per line, the line number (from 0) being the id. `save(dir)` writes
it with `tokenizer_config.json` in Hugging Face's layout, which is also where our settings
(lowercase, strip_accents, special tokens) live, so `transformers.BertTokenizer` loads the
folder and so does `from_pretrained`.

What runs for a text: `BasicTokenizer.chunks` cuts it at whitespace (special tokens cut out
first); for each chunk, `encode_chunk` basic-tokenizes it into words and `wordpiece` cuts each
word. The one speed layer on top: chunks repeat ("the", "dog's"), so `_remember` keeps each
chunk's pieces in a bounded dict (GPT-2's encoder.py keeps its words the same way); skip it
and the same code runs (`cache_size=0`). A test checks that cached and uncached encodings
agree. Besides, the loop appends a chunk of one piece (most chunks) without building lists.
What each of these buys is measured in bench/RESULTS.md.
Left out on purpose: added (user) tokens, cased/uncased auto-detection, the slow Python
tokenizer's quirks where it differs from the Rust one.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from .atomic import atomic_write
from .base import Tokenizer
from .basic import BasicTokenizer
from .tokenizer_config import read_tokenizer_config, save_tokenizer_config

SPECIAL_DEFAULTS = {"unk": "[UNK]", "sep": "[SEP]", "pad": "[PAD]", "cls": "[CLS]",
                    "mask": "[MASK]"}
VOCAB_FILE = "vocab.txt"


class ChunkPieces(NamedTuple):
    """The WordPiece encoding of one chunk; offsets are within the chunk, word_ids count its
    words from 0 (a chunk may hold no word at all: U+200B alone is cleaned away)."""

    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    word_ids: tuple[int, ...]
    n_words: int


class VocabError(ValueError):
    """A vocab.txt that cannot be used: unreadable, duplicate lines, missing special tokens."""


def load_vocab(path) -> dict[str, int]:
    """Read vocab.txt: token on line n (from 0) gets id n. Duplicates are an error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise VocabError(f"{path}: cannot read vocabulary file ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise VocabError(f"{path}: not UTF-8 (byte {e.start}: {e.reason})") from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    vocab: dict[str, int] = {}
    first_line: dict[str, int] = {}
    duplicates: list[str] = []
    for n, line in enumerate(lines):
        token = line.rstrip("\r")
        if token == "":
            raise VocabError(f"{path}, line {n + 1}: empty line; every line must hold one token")
        if token in vocab:
            duplicates.append(f"{token!r} on lines {first_line[token]} and {n + 1}")
            continue
        vocab[token] = n
        first_line[token] = n + 1
    if duplicates:
        shown = "; ".join(duplicates[:10])
        if len(duplicates) > 10:
            shown += f"; ... ({len(duplicates)} in all)"
        raise VocabError(f"{path}: duplicate tokens (line numbers from 1): {shown}")
    if not vocab:
        raise VocabError(f"{path}: the vocabulary is empty")
    return vocab


def save_vocab(path, vocab: dict[str, int]) -> Path:
    """Write vocab.txt: the token of id n on line n (from 0); ids must be 0..n-1."""
    ordered = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in ordered] != list(range(len(ordered))):
        raise ValueError("vocab ids are not 0..n-1 without gaps; vocab.txt cannot hold them")
    text = "".join(t + "\n" for t, _ in ordered)
    return atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


class WordPieceTokenizer(Tokenizer):
    """BERT's tokenizer. Build with `from_file(vocab_txt)` or `from_pretrained(dir)`."""

    def __init__(self, vocab: dict[str, int], lowercase: bool = True,
                 strip_accents: bool | None = None, special_tokens: dict[str, str] | None = None,
                 continuing_subword_prefix: str = "##",
                 max_input_chars_per_word: int = 100, clean_text: bool = True,
                 handle_chinese_chars: bool = True, model_max_length: int | None = None,
                 cache_size: int = 100_000, source: str = "vocabulary"):
        special = dict(SPECIAL_DEFAULTS, **(special_tokens or {}))
        missing = [t for t in special.values() if t not in vocab]
        if missing:
            raise VocabError(f"{source}: missing special tokens {missing}; a BERT vocabulary needs "
                             f"{list(special.values())}")
        super().__init__(vocab, special, model_max_length)
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.prefix = continuing_subword_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.basic = BasicTokenizer(lowercase, strip_accents, clean_text, handle_chinese_chars,
                                    never_split=self.all_special_tokens)
        self.cache_size = cache_size
        self._cache: dict[str, ChunkPieces] = {}  # chunk -> its pieces, see _remember
        self._unk = special["unk"]
        cls, sep = special["cls"], special["sep"]
        self._single_template = [(cls, 0), ("A", 0), (sep, 0)]
        self._pair_template = [(cls, 0), ("A", 0), (sep, 0), ("B", 1), (sep, 1)]

    @classmethod
    def from_file(cls, vocab_txt, lowercase: bool = True, strip_accents: bool | None = None,
                  **kwargs):
        return cls(load_vocab(vocab_txt), lowercase=lowercase, strip_accents=strip_accents,
                   source=str(vocab_txt), **kwargs)

    @classmethod
    def from_pretrained(cls, directory, **overrides):
        """Load a folder with vocab.txt (and tokenizer_config.json, ours or Hugging Face's)."""
        directory = Path(directory)
        if not (directory / VOCAB_FILE).is_file():
            raise FileNotFoundError(f"{directory}: no {VOCAB_FILE} in this folder")
        config, settings = read_tokenizer_config(directory)
        if config is not None:
            settings["lowercase"] = bool(config.get("do_lower_case", True))
            settings["strip_accents"] = config.get("strip_accents")
            settings["handle_chinese_chars"] = bool(config.get("tokenize_chinese_chars", True))
        settings.update(overrides)
        return cls.from_file(directory / VOCAB_FILE, **settings)

    # --- WordPiece on one word ----------------------------------------------------------------

    def wordpiece(self, word: str) -> list[tuple[str, int, int]]:
        """Greedy longest-match-first: (piece, start, end) within `word`."""
        if len(word) > self.max_input_chars_per_word:
            return [(self._unk, 0, len(word))]
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            piece = None
            while end > start:
                candidate = word[start:end] if start == 0 else self.prefix + word[start:end]
                if candidate in self._vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                return [(self._unk, 0, len(word))]
            pieces.append((piece, start, end))
            start = end
        return pieces

    # --- one chunk of text between whitespace: basic words, then WordPiece --------------------

    def encode_chunk(self, chunk: str) -> ChunkPieces:
        """The pieces of one chunk (see `BasicTokenizer.chunks`), offsets within the chunk."""
        tokens, ids, offsets, word_ids = [], [], [], []
        words = self.basic.words(chunk)
        for w, word in enumerate(words):
            for piece, start, end in self.wordpiece(word.text):
                tokens.append(piece)
                ids.append(self._vocab[piece])
                offsets.append((word.origin[start], word.origin[end - 1] + 1))
                word_ids.append(w)
        # Tuples of str/int, which the garbage collector stops tracking: a big cache costs each
        # collection one object per entry (lists would stay tracked, four more).
        return ChunkPieces(tuple(tokens), tuple(ids), tuple(offsets), tuple(word_ids),
                           len(words))

    # --- what base.Tokenizer needs ------------------------------------------------------------

    def _encode_pieces(self, text: str):
        """Every chunk's pieces, shifted to where the chunk starts; words numbered on."""
        tokens, ids, offsets, word_ids = [], [], [], []
        n_words = 0
        cache = self._cache
        for chunk, start, special in self.basic.chunks(text):
            if special:
                tokens.append(chunk)
                ids.append(self._vocab[chunk])
                offsets.append((start, start + len(chunk)))
                word_ids.append(n_words)
                n_words += 1
                continue
            pieces = cache.get(chunk) or self._remember(chunk)  # without the cache: encode_chunk
            if len(pieces.ids) == 1:  # one word, one piece: most chunks, kept short
                (a, b), = pieces.offsets
                tokens += pieces.tokens
                ids += pieces.ids
                offsets.append((start + a, start + b))
                word_ids.append(n_words)
            else:
                tokens += pieces.tokens
                ids += pieces.ids
                offsets += [(start + a, start + b) for a, b in pieces.offsets]
                word_ids += [n_words + w for w in pieces.word_ids]
            n_words += pieces.n_words
        return tokens, ids, offsets, word_ids

    def _remember(self, chunk: str) -> ChunkPieces:
        """`encode_chunk`, kept in a bounded dict (cleared when full; cache_size=0: never)."""
        pieces = self.encode_chunk(chunk)
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        if self.cache_size:
            self._cache[chunk] = pieces
        return pieces

    def _template(self, pair: bool) -> list[tuple[str, int]]:
        return self._pair_template if pair else self._single_template

    def tokenize(self, text: str) -> list[str]:
        """The pieces of `text`, without special tokens."""
        return self._encode_pieces(text)[0]

    def decode(self, ids, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool = True) -> str:
        """Ids -> their pieces (special ones left out if asked) -> `decode_tokens`."""
        tokens = []
        for i in ids:
            i = int(i)
            token = self._inv.get(i)
            if token is None:
                raise ValueError(f"decode: id {i} is not in the vocabulary "
                                 f"(size {self.vocab_size})")
            if not (skip_special_tokens and i in self._special_id_set):
                tokens.append(token)
        return self.decode_tokens(tokens, clean_up_tokenization_spaces)

    def decode_tokens(self, tokens: list[str], clean_up_tokenization_spaces: bool = True) -> str:
        """Join pieces: `##` glues to the piece before; other pieces are separated by a space.
        Pieces need not be in the vocabulary (a first piece keeps its `##`).

        As Hugging Face's WordPiece decoder, spaces before . ? ! , and English clitics
        ('s n't 're 've 'm) are removed unless clean_up_tokenization_spaces=False.
        """
        out = []
        for token in tokens:
            if out:
                token = token[len(self.prefix):] if token.startswith(self.prefix) else " " + token
            if clean_up_tokenization_spaces:
                for a, b in _CLEANUP:
                    token = token.replace(a, b)
            out.append(token)
        return "".join(out)

    def save(self, directory) -> Path:
        """Write vocab.txt and tokenizer_config.json (Hugging Face layout) into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_vocab(directory / VOCAB_FILE, self._vocab)
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": self.lowercase,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.basic.handle_chinese_chars,
            "clean_up_tokenization_spaces": True,
            **{f"{role}_token": token for role, token in self.special_tokens.items()},
        }
        save_tokenizer_config(directory, config, self.model_max_length)
        return directory

    save_pretrained = save


# Hugging Face's decoder cleanup, applied to each piece after its joining space is added.
_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))
