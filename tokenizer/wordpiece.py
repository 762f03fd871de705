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

Speed: words repeat, so word -> pieces is remembered in a bounded dict (cleared when full);
text is cut at whitespace first (when that cannot change the words, see
`BasicTokenizer.cuts_at_whitespace`) and each chunk's whole encoding is remembered too.
`wordpiece_reference` and `_encode_words` are the plain paths; tests check that the cached ones
give the same.
Left out on purpose: added (user) tokens, cased/uncased auto-detection, the slow Python
tokenizer's quirks where it differs from the Rust one.
"""

from __future__ import annotations

import json
from pathlib import Path

from .atomic import atomic_write
from .base import Tokenizer
from .basic import BasicTokenizer
from .tokenizer_config import CONFIG_FILE, read_tokenizer_config

SPECIAL_DEFAULTS = {"unk": "[UNK]", "sep": "[SEP]", "pad": "[PAD]", "cls": "[CLS]",
                    "mask": "[MASK]"}
VOCAB_FILE = "vocab.txt"


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
        self._cache: dict[str, tuple] = {}  # word -> (tokens, ids, spans)
        # whitespace chunk -> its encoding, see _encode_chunks
        self._chunk_cache: dict[str, tuple] = {}
        self._unk = special["unk"]
        cls, sep = special["cls"], special["sep"]
        self._single_template = [(cls, 0), ("A", 0), (sep, 0)]
        self._pair_template = [(cls, 0), ("A", 0), (sep, 0), ("B", 1), (sep, 1)]
        # No piece is longer than this, so the longest-match search can start there.
        self._longest = max(len(t) for t in self._vocab)

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

    def wordpiece_reference(self, word: str) -> list[tuple[str, int, int]]:
        """Greedy longest-match-first: (piece, start, end) within `word`; the readable path."""
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

    def _word_pieces(self, word: str) -> tuple:
        """(tokens, ids, spans) of one word, remembered; the same pieces as the reference."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        vocab, prefix, n = self._vocab, self.prefix, len(word)
        tokens, spans = [], []
        if n > self.max_input_chars_per_word:
            tokens, spans = [self._unk], [(0, n)]
        else:
            start = 0
            while start < n:
                end = min(n, start + self._longest)
                while end > start:
                    candidate = word[start:end] if start == 0 else prefix + word[start:end]
                    if candidate in vocab:
                        break
                    end -= 1
                if end == start:
                    tokens, spans = [self._unk], [(0, n)]
                    break
                tokens.append(candidate)
                spans.append((start, end))
                start = end
        # Tuples of str/int only: the garbage collector stops tracking them, so a big cache
        # does not slow every collection down (lists would stay tracked forever).
        hit = (tuple(tokens), tuple(vocab[t] for t in tokens), tuple(spans))
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[word] = hit
        return hit

    # --- what base.Tokenizer needs ------------------------------------------------------------

    def _encode_pieces(self, text: str):
        if self.basic.cuts_at_whitespace(text):
            return self._encode_chunks(text)
        return self._encode_words(text)

    def _encode_words(self, text: str):
        """Basic-tokenize, then WordPiece each word (the general path)."""
        tokens, ids, offsets, word_ids = [], [], [], []
        vocab, cache = self._vocab, self._cache
        for w, (word, start, end, special, origin) in enumerate(self.basic.split(text)):
            if special:
                tokens.append(word)
                ids.append(vocab[word])
                offsets.append((start, end))
                word_ids.append(w)
                continue
            hit = cache.get(word)
            toks, pids, spans = hit if hit is not None else self._word_pieces(word)
            if len(pids) == 1 and origin is None:  # the common case, kept short
                tokens.append(toks[0])
                ids.append(pids[0])
                offsets.append((start, end))
                word_ids.append(w)
                continue
            tokens += toks
            ids += pids
            if origin is None:
                offsets += [(start + a, start + b) for a, b in spans]
            else:
                offsets += [(origin[a], origin[b - 1] + 1) for a, b in spans]
            word_ids += [w] * len(pids)
        return tokens, ids, offsets, word_ids

    def _encode_chunks(self, text: str):
        """Words never cross whitespace here (see `cuts_at_whitespace`), so each chunk
        ("dog's", "#earthquake", "café") is encoded once by `_encode_words`, remembered whole."""
        tokens, ids, offsets, word_ids = [], [], [], []
        cache = self._chunk_cache
        pos = w = 0
        for chunk in text.split():
            start = text.find(chunk, pos)
            pos = start + len(chunk)
            hit = cache.get(chunk)
            if hit is None:
                hit = self._remember_chunk(chunk)
            toks, pids, spans, words, n_words, whole = hit
            if whole:  # one piece spanning the whole chunk: the common case
                tokens.append(toks[0])
                ids.append(pids[0])
                offsets.append((start, pos))
                word_ids.append(w)
            else:
                tokens += toks
                ids += pids
                offsets += [(start + a, start + b) for a, b in spans]
                word_ids += [w + k for k in words]
            w += n_words
        return tokens, ids, offsets, word_ids

    def _remember_chunk(self, chunk: str) -> tuple:
        if chunk.isascii() and chunk.isalnum():  # ASCII letters and digits: one word as it is
            toks, pids, spans = self._word_pieces(chunk.lower() if self.lowercase else chunk)
            words, n_words = (0,) * len(pids), 1
        else:  # a chunk made only of deleted characters (U+200B) has no word at all
            toks, pids, spans, words = self._encode_words(chunk)
            n_words = words[-1] + 1 if words else 0
        whole = len(spans) == 1 and spans[0] == (0, len(chunk))
        hit = (tuple(toks), tuple(pids), tuple(spans), tuple(words), n_words, whole)
        if len(self._chunk_cache) >= self.cache_size:
            self._chunk_cache.clear()
        self._chunk_cache[chunk] = hit
        return hit

    def _template(self, pair: bool) -> list[tuple[str, int]]:
        return self._pair_template if pair else self._single_template

    def tokenize(self, text: str) -> list[str]:
        """The pieces of `text`, without special tokens."""
        return self._encode_pieces(text)[0]

    def decode(self, ids, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool = True) -> str:
        """Join pieces: `##` glues to the piece before; other pieces are separated by a space.

        As Hugging Face's WordPiece decoder, spaces before . ? ! , and English clitics
        ('s n't 're 've 'm) are removed unless clean_up_tokenization_spaces=False.
        """
        out = []
        for i in ids:
            i = int(i)
            token = self._inv.get(i)
            if token is None:
                raise ValueError(f"decode: id {i} is not in the vocabulary "
                                 f"(size {self.vocab_size})")
            if skip_special_tokens and i in self._special_id_set:
                continue
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
        if self.model_max_length is not None:
            config["model_max_length"] = self.model_max_length
        text = json.dumps(config, indent=2) + "\n"
        atomic_write(directory / CONFIG_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return directory

    save_pretrained = save


# Hugging Face's decoder cleanup, applied to each piece after its joining space is added.
_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))
