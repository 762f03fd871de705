"""What every minibert tokenizer shares: the `Encoding` record and the `Tokenizer` base class.

A tokenizer turns text into ids in two stages. The model-specific stage (WordPiece for BERT,
byte-level BPE for RoBERTa) cuts ONE text into pieces. Everything after that is the same for
both and lives here, in the order Hugging Face `tokenizers` applies it:

    pieces of A (and B)  ->  truncate  ->  add specials (post-processing)  ->  pad

What a subclass MUST provide:
    _encode_pieces(text) -> (tokens, ids, offsets, word_ids)
        the pieces of one text, without special tokens; offsets are (start, end) character
        spans into `text`, word_ids number the words of `text` from 0.
    _template(pair) -> list[tuple[str, int]]
        the post-processing layout: "A", "B" or a special token string, each with its type id.
        BERT: [CLS] A [SEP] (B [SEP]) with type ids 0 / 1; RoBERTa: <s> A </s> (</s> B </s>)
        with type ids all 0; no post-processor: just A (B).
    decode(ids, skip_special_tokens=False) -> str
    decode_tokens(tokens) -> str
        tokens (not ids) back to text by the tokenizer's own rule; decode's last step, and
        what transformers' `convert_tokens_to_string` runs (minibert/tokenization.py).
    save(directory) -> Path
and must call `Tokenizer.__init__(vocab, special_tokens)` with the vocabulary (token -> id)
and the special tokens by role: "pad", "unk", "cls" (= bos), "sep" (= eos), "mask".
A role may be absent (GPT-2's vocabulary has no [MASK]); its id property is then None.

Truncation (`tokenizer/truncation.py`) follows Hugging Face `tokenizers`: max_length counts
the special tokens the post-processor will add; each call may ask for it, or
`enable_truncation(max_length=...)` sets it for every call that does not. A saved folder's
special tokens are read by `tokenizer/tokenizer_config.py`. Padding is on the right, with
pad_token_id, type id 0, attention 0, special-tokens-mask 1 (as HF).
The names `tokenizers` users call (`token_to_id`, `get_vocab_size`, `enable_truncation`,
`decode_batch`, `_tokenizer`) are here too, so its code runs with only the import changed;
transformers' calling convention is a layer above, in minibert/tokenization.py and
minibert/tokenization_utils_base.py.
Left out on purpose: overflowing tokens / stride, left padding and left truncation,
enable_padding, added (user) tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .truncation import (
    PADDING_STRATEGIES,
    TRUNCATION_STRATEGIES,
    Pieces,
    padded_length,
    resolve_strategy,
    truncate_pair,
)


@dataclass
class Encoding:
    """One encoded text (or text pair); every list has one entry per token."""

    ids: list[int]
    tokens: list[str]
    type_ids: list[int] = field(default_factory=list)
    attention_mask: list[int] = field(default_factory=list)
    special_tokens_mask: list[int] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)
    word_ids: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


class Tokenizer:
    """Base class: vocabulary look-ups, special tokens, truncation, post-processing, padding."""

    def __init__(self, vocab: dict[str, int], special_tokens: dict[str, str],
                 model_max_length: int | None = None):
        self._vocab = dict(vocab)
        self._inv = {i: t for t, i in self._vocab.items()}
        assert len(self._inv) == len(self._vocab), "vocab maps two tokens to the same id"
        roles = {"pad", "unk", "cls", "sep", "mask"}
        unknown_roles = set(special_tokens) - roles
        if unknown_roles:
            raise ValueError(f"unknown special-token roles {sorted(unknown_roles)}; expected "
                             f"some of {sorted(roles)}")
        missing = [t for t in special_tokens.values() if t not in self._vocab]
        if missing:
            raise ValueError(f"special tokens {missing} are not in the vocabulary")
        self.special_tokens = dict(special_tokens)
        self.model_max_length = model_max_length
        # Truncation applied when a call asks for none, set by enable_truncation (as tokenizers).
        self.truncation: dict | None = None
        self._special_set = frozenset(self.special_tokens.values())
        self._special_id_set = frozenset(self._vocab[t] for t in self._special_set)

    # --- to be provided by subclasses -------------------------------------------------------

    def _encode_pieces(self, text: str) -> Pieces:
        raise NotImplementedError

    def _template(self, pair: bool) -> list[tuple[str, int]]:
        raise NotImplementedError

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        raise NotImplementedError

    def decode_tokens(self, tokens: list[str]) -> str:
        raise NotImplementedError

    def save(self, directory) -> Path:
        raise NotImplementedError

    # --- vocabulary -------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self._vocab)

    def get_vocab_size(self) -> int:
        return len(self._vocab)

    def token_to_id(self, token: str) -> int | None:
        """The id of `token`, or None when it is not in the vocabulary (as `tokenizers`)."""
        return self._vocab.get(token)

    def id_to_token(self, index: int) -> str | None:
        """The token of `index`, or None when no token has that id (as `tokenizers`)."""
        return self._inv.get(int(index))

    def _role_id(self, role: str) -> int | None:
        token = self.special_tokens.get(role)
        return None if token is None else self._vocab[token]

    @property
    def pad_token_id(self) -> int | None:
        return self._role_id("pad")

    @property
    def unk_token_id(self) -> int | None:
        return self._role_id("unk")

    @property
    def cls_token_id(self) -> int | None:
        return self._role_id("cls")

    @property
    def sep_token_id(self) -> int | None:
        return self._role_id("sep")

    @property
    def mask_token_id(self) -> int | None:
        return self._role_id("mask")

    @property
    def bos_token_id(self) -> int | None:
        return self._role_id("cls")

    @property
    def eos_token_id(self) -> int | None:
        return self._role_id("sep")

    @property
    def all_special_tokens(self) -> list[str]:
        return list(dict.fromkeys(self.special_tokens.values()))

    @property
    def all_special_ids(self) -> list[int]:
        return [self._vocab[t] for t in self.all_special_tokens]

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return sum(1 for piece, _ in self._template(pair) if piece not in ("A", "B"))

    # --- the `tokenizers` calling convention ------------------------------------------------

    @property
    def _tokenizer(self) -> Tokenizer:
        """`tokenizers`' Python classes wrap a Rust tokenizer kept at `._tokenizer`, and code
        written for them reaches through it (`tok._tokenizer.post_processor = ...`). Here there
        is one object, so `_tokenizer` is the tokenizer itself."""
        return self

    def enable_truncation(self, max_length: int, stride: int = 0,
                          strategy: str = "longest_first", direction: str = "right") -> None:
        """Truncate every later `encode` / `encode_batch` that asks for no truncation of its
        own to `max_length` tokens, special tokens included (as `tokenizers`)."""
        if stride != 0 or direction != "right":
            raise ValueError(f"enable_truncation: stride={stride}, direction={direction!r}; "
                             "only stride=0 and direction='right' are supported")
        resolve_strategy("strategy", strategy, TRUNCATION_STRATEGIES)
        if not isinstance(max_length, int) or max_length < 0:
            raise ValueError(f"max_length must be a non-negative int, got {max_length!r}")
        self.truncation = {"max_length": max_length, "stride": 0, "strategy": strategy,
                           "direction": "right"}

    def no_truncation(self) -> None:
        self.truncation = None

    def decode_batch(self, sequences, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(ids, skip_special_tokens=skip_special_tokens) for ids in sequences]

    # --- post-processing and padding --------------------------------------------------------

    def _post_process(self, a: Pieces, b: Pieces | None, add_special_tokens: bool) -> Encoding:
        """Lay out A (and B) with the subclass's template: specials, type ids, masks."""
        tokens, ids, type_ids, special, offsets, word_ids = [], [], [], [], [], []
        for piece, type_id in self._template(b is not None):
            if piece == "A" or piece == "B":
                p_tokens, p_ids, p_offsets, p_word_ids = a if piece == "A" else b
                n = len(p_ids)
                tokens += p_tokens
                ids += p_ids
                offsets += p_offsets
                word_ids += p_word_ids
                special += [0] * n
                type_ids += [type_id] * n
            elif add_special_tokens:
                tokens.append(piece)
                ids.append(self._vocab[piece])
                offsets.append((0, 0))
                word_ids.append(None)
                special.append(1)
                type_ids.append(type_id)
        return Encoding(ids, tokens, type_ids, [1] * len(ids), special, offsets, word_ids)

    def with_special_tokens(self, ids: list[int], pair: list[int] | None = None) -> Encoding:
        """Lay out ids that are already pieces (A, and B) with this tokenizer's special tokens,
        as `encode` does after cutting text into pieces."""
        def pieces(part: list[int]):
            tokens = [self.id_to_token(i) for i in part]
            if None in tokens:
                raise ValueError(f"id {part[tokens.index(None)]} is not in the vocabulary")
            return tokens, [int(i) for i in part], [(0, 0)] * len(part), [None] * len(part)

        return self._post_process(pieces(ids), None if pair is None else pieces(pair), True)

    def _pad(self, enc: Encoding, length: int) -> None:
        """Pad one Encoding on the right, in place, up to `length` tokens."""
        n = length - len(enc.ids)
        if n <= 0:
            return
        if self.pad_token_id is None:
            raise ValueError("padding was asked for, but this tokenizer has no pad token")
        pad = self.special_tokens["pad"]
        enc.ids += [self.pad_token_id] * n
        enc.tokens += [pad] * n
        enc.type_ids += [0] * n
        enc.attention_mask += [0] * n
        enc.special_tokens_mask += [1] * n
        enc.offsets += [(0, 0)] * n
        enc.word_ids += [None] * n

    # --- encoding ---------------------------------------------------------------------------

    def _encode_one(self, text: str, pair: str | None, add_special_tokens: bool,
                    max_length: int | None, strategy: str | None) -> Encoding:
        if not isinstance(text, str) or (pair is not None and not isinstance(pair, str)):
            got = type(text).__name__ + ("" if pair is None else f" and {type(pair).__name__}")
            raise TypeError(f"encode expects str (and an optional str pair), got {got}")
        a = self._encode_pieces(text)
        b = None if pair is None else self._encode_pieces(pair)
        if strategy is not None:
            reserved = self.num_special_tokens_to_add(b is not None) if add_special_tokens else 0
            if max_length < reserved:
                raise ValueError(f"max_length={max_length} is smaller than the {reserved} "
                                 f"special tokens added")
            a, b = truncate_pair(a, b, max_length - reserved, strategy)
        return self._post_process(a, b, add_special_tokens)

    def _resolve(self, max_length, truncation, padding):
        if self.truncation is not None and max_length is None and truncation is False:
            max_length, truncation = self.truncation["max_length"], self.truncation["strategy"]
        if max_length is None and truncation is False and padding is False:
            return None, None, None  # the plain call, answered without any checks
        cut = resolve_strategy("truncation", truncation, TRUNCATION_STRATEGIES)
        pad = resolve_strategy("padding", padding, PADDING_STRATEGIES)
        if max_length is None and (cut is not None or pad == "max_length"):
            max_length = self.model_max_length
            if max_length is None:
                raise ValueError("truncation / padding='max_length' need max_length (this "
                                 "tokenizer has no model_max_length)")
        if max_length is not None and (not isinstance(max_length, int) or max_length < 0):
            raise ValueError(f"max_length must be a non-negative int, got {max_length!r}")
        return max_length, cut, pad

    def encode(self, text: str, pair: str | None = None, add_special_tokens: bool = True,
               max_length: int | None = None, truncation=False, padding=False,
               pad_to_multiple_of: int | None = None) -> Encoding:
        """Encode one text (or a pair), padded as `encode_batch` pads a batch of one."""
        max_length, strategy, pad = self._resolve(max_length, truncation, padding)
        enc = self._encode_one(text, pair, add_special_tokens, max_length, strategy)
        if pad is not None:
            self._pad(enc, padded_length(max_length if pad == "max_length" else len(enc),
                                         pad_to_multiple_of))
        return enc

    def encode_batch(self, texts_or_pairs, add_special_tokens: bool = True,
                     max_length: int | None = None, truncation=False,
                     padding=False, pad_to_multiple_of: int | None = None) -> list[Encoding]:
        """Encode a list of texts or (text, pair) tuples; padding applies across the batch,
        to its longest row (padding="longest") or to max_length ("max_length"), either rounded
        up to a multiple of `pad_to_multiple_of` when given."""
        if isinstance(texts_or_pairs, str):
            raise TypeError("encode_batch expects a list of texts or (text, pair) tuples, not "
                            "one str; use encode")
        max_length, strategy, pad = self._resolve(max_length, truncation, padding)
        out = []
        for item in texts_or_pairs:
            if isinstance(item, (tuple, list)):
                if len(item) != 2:
                    raise ValueError(f"a pair must have 2 texts, got {len(item)}")
                text, pair = item
            else:
                text, pair = item, None
            out.append(self._encode_one(text, pair, add_special_tokens, max_length, strategy))
        if pad is not None and out:
            length = padded_length(max_length if pad == "max_length"
                                   else max(len(e) for e in out), pad_to_multiple_of)
            for enc in out:
                self._pad(enc, length)
        return out

    def to_tensors(self, encodings: list[Encoding], return_special_tokens_mask: bool = False
                   ) -> dict[str, torch.Tensor]:
        """Stack Encodings into LongTensors (B, T), padded on the right to the longest: the
        inputs every model takes (`model(**tok.to_tensors(encodings))`), and with
        return_special_tokens_mask=True also the mask that masking needs (models refuse it)."""
        assert len(encodings) > 0, "to_tensors needs at least one Encoding"
        pad_id = self.pad_token_id
        if pad_id is None:
            raise ValueError("to_tensors pads with pad_token_id, but this tokenizer has no "
                             "pad token")
        T = max(len(e) for e in encodings)
        B = len(encodings)
        input_ids = torch.full((B, T), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((B, T), dtype=torch.long)
        token_type_ids = torch.zeros((B, T), dtype=torch.long)
        special_tokens_mask = torch.ones((B, T), dtype=torch.long)
        for row, e in enumerate(encodings):
            n = len(e)
            input_ids[row, :n] = torch.tensor(e.ids, dtype=torch.long)
            attention_mask[row, :n] = torch.tensor(e.attention_mask, dtype=torch.long)
            token_type_ids[row, :n] = torch.tensor(e.type_ids, dtype=torch.long)
            special_tokens_mask[row, :n] = torch.tensor(e.special_tokens_mask, dtype=torch.long)
        out = {"input_ids": input_ids, "attention_mask": attention_mask,
               "token_type_ids": token_type_ids}
        if return_special_tokens_mask:
            out["special_tokens_mask"] = special_tokens_mask
        return out
