"""Text in, batches out: the encoding half of transformers' tokenizer API, shared by
`BertTokenizer` and `RobertaTokenizer` (tokenization.py).

What lives here is `PreTrainedTokenizerBase`, the calls that turn texts into model inputs, and
`BatchEncoding`, the dict they return:

    tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        -> {"input_ids", "token_type_ids" (BERT only), "attention_mask"}, each (B, T)
    tok.encode(text) -> [101, ..., 102]
    tok.encode_plus(text, ...), tok.batch_encode_plus(texts, ...)   (gone from transformers 5)
    tok.pad(examples)

The work itself (cutting, truncating, adding the special tokens, padding) is the backend's,
`tok.backend_tokenizer.encode_batch` (tokenizer/base.py); this layer reads transformers'
arguments, picks the keys and builds the tensors. The dict's keys are the tokenizer's
`model_input_names`, which every model's forward takes, so
`model(**tok(texts, padding=True, return_tensors="pt"))` works for every model.
A subclass provides `backend_tokenizer`, `model_input_names`, `model_max_length` and
`pad_token_id`.

Follows transformers' PreTrainedTokenizerBase as the books call it (v4): padding=True means
"to the longest", pad_to_max_length=True is the old padding="max_length", and truncation left
unset is switched on by a max_length given without padding.
Left out on purpose: overflowing tokens and stride, left padding or truncation,
is_split_into_words, return_length, "tf"/"np" tensors.
"""

from __future__ import annotations

import inspect

import torch

from tokenizer import Encoding
from tokenizer.truncation import (
    PADDING_STRATEGIES,
    TRUNCATION_STRATEGIES,
    padded_length,
    resolve_strategy,
)

# transformers' model_max_length when a tokenizer has no limit (its VERY_LARGE_INTEGER).
NO_LIMIT = int(1e30)
# The value each padded key gets in `pad`; other keys are left as they are.
PAD_VALUES = {"token_type_ids": 0, "attention_mask": 0, "special_tokens_mask": 1}


class BatchEncoding(dict):
    """What a tokenizer call returns: a dict of lists (or of tensors, with return_tensors="pt"),
    also readable as attributes (`batch.input_ids`); `encodings` keeps the `Encoding`s."""

    def __init__(self, data: dict, encodings: list[Encoding] | None = None):
        super().__init__(data)
        self.encodings = encodings

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to(self, device) -> BatchEncoding:
        """Move every tensor to `device`, in place (as transformers); returns self."""
        for key, value in self.items():
            if isinstance(value, torch.Tensor):
                self[key] = value.to(device)
        return self

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The tokens of row `batch_index`, special tokens and padding included."""
        return list(self._encoding(batch_index).tokens)

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """The word each token of row `batch_index` comes from (None: a special token)."""
        return list(self._encoding(batch_index).word_ids)

    def _encoding(self, batch_index: int) -> Encoding:
        if self.encodings is None:
            raise ValueError("this BatchEncoding keeps no encodings (tokens, word ids): only a "
                             "tokenizer call on text makes them, not pad()")
        return self.encodings[batch_index]


def as_ids(ids) -> list[int]:
    """A list, tuple or 1-D tensor of ids -> list of int."""
    if isinstance(ids, torch.Tensor):
        ids = ids.tolist()
    if isinstance(ids, int):
        return [ids]
    return [int(i) for i in ids]


def _tensors(data: dict) -> dict:
    """Lists of equal-length rows -> LongTensors (B, T); unequal rows are refused as HF does."""
    out = {}
    for key, rows in data.items():
        if len({len(r) for r in rows}) > 1:
            raise ValueError(f"cannot make one tensor of '{key}': its rows have lengths "
                             f"{sorted({len(r) for r in rows})}; pass padding=True (and "
                             "truncation=True) to have batched tensors of one length")
        out[key] = torch.tensor(rows, dtype=torch.long)
    return out


class PreTrainedTokenizerBase:
    """transformers' encoding calls over a `tokenizer.Tokenizer` backend."""

    model_input_names: list[str] = ["input_ids", "attention_mask"]

    def __call__(self, text, text_pair=None, **options) -> BatchEncoding:
        """One text (or pair) -> lists of ids; a list of texts (or of pairs, or with a list
        `text_pair`) -> rows. Options as `batch_encode_plus`."""
        self._check_options("__call__", options)
        if isinstance(text, str):
            if text_pair is not None and not isinstance(text_pair, str):
                raise TypeError("text is one str, so text_pair must be one str too, got "
                                f"{type(text_pair).__name__}")
            return self.encode_plus(text, text_pair, **options)
        if not isinstance(text, (list, tuple)):
            raise TypeError(f"text must be a str or a list of str, got {type(text).__name__}")
        if text_pair is None:
            return self.batch_encode_plus(text, **options)
        if isinstance(text_pair, str) or len(text_pair) != len(text):
            raise ValueError("text_pair must be a list as long as text (one second text each)")
        return self.batch_encode_plus(list(zip(text, text_pair)), **options)

    def encode(self, text: str, text_pair: str | None = None, **options):
        """The ids of one text (or pair): a list, or a (1, T) tensor with return_tensors="pt"."""
        self._check_options("encode", options)
        return self.encode_plus(text, text_pair, **options)["input_ids"]

    def encode_plus(self, text: str, text_pair: str | None = None, **options) -> BatchEncoding:
        """One text (or pair) -> {"input_ids": [...], ...}; (1, T) tensors with "pt"."""
        if not isinstance(text, str):
            raise TypeError(f"encode_plus takes one str, got {type(text).__name__}; use "
                            "batch_encode_plus (or call the tokenizer) for a list")
        self._check_options("encode_plus", options)
        return self._encode([(text, text_pair) if text_pair is not None else text], True,
                            **options)

    def batch_encode_plus(self, batch_text_or_text_pairs, **options) -> BatchEncoding:
        """A list of texts or (text, pair) tuples -> {"input_ids": [[...], ...], ...}.

        Options: add_special_tokens=True, padding=False (True/"longest", "max_length"),
        truncation=None (True/"longest_first", "only_first", "only_second"), max_length,
        pad_to_max_length=False, pad_to_multiple_of=None (padding rounded up to a multiple of
        it), return_tensors=None ("pt"), return_token_type_ids, return_attention_mask,
        return_special_tokens_mask, return_offsets_mapping."""
        self._check_options("batch_encode_plus", options)
        return self._encode(list(batch_text_or_text_pairs), False, **options)

    def _encode(self, items: list, single: bool, *, add_special_tokens: bool = True,
                padding=False, truncation=None, max_length: int | None = None,
                pad_to_max_length: bool = False, pad_to_multiple_of: int | None = None,
                return_tensors: str | None = None,
                return_token_type_ids: bool | None = None,
                return_attention_mask: bool | None = None,
                return_special_tokens_mask: bool = False,
                return_offsets_mapping: bool = False) -> BatchEncoding:
        pad, cut, max_length = self._strategies(padding, truncation, max_length,
                                                pad_to_max_length)
        if pad and cut and padded_length(max_length, pad_to_multiple_of) != max_length:
            raise ValueError(f"truncation to max_length={max_length} and padding to a multiple "
                             f"of {pad_to_multiple_of} cannot both hold: make max_length a "
                             "multiple of pad_to_multiple_of (as transformers asks)")
        encodings = self.backend_tokenizer.encode_batch(
            items, add_special_tokens=add_special_tokens, max_length=max_length,
            truncation=cut or False, padding=pad or False, pad_to_multiple_of=pad_to_multiple_of)
        fields = {"input_ids": "ids"}
        if self._wanted("token_type_ids", return_token_type_ids):
            fields["token_type_ids"] = "type_ids"
        if self._wanted("attention_mask", return_attention_mask):
            fields["attention_mask"] = "attention_mask"
        if return_special_tokens_mask:
            fields["special_tokens_mask"] = "special_tokens_mask"
        data = {key: [list(getattr(e, attr)) for e in encodings] for key, attr in fields.items()}
        if return_tensors is not None:
            self._check_tensor_type(return_tensors)
            data = _tensors(data)
        elif single:
            data = {key: rows[0] for key, rows in data.items()}
        if return_offsets_mapping:
            offsets = [list(e.offsets) for e in encodings]
            data["offset_mapping"] = (torch.tensor(offsets, dtype=torch.long).view(
                len(offsets), -1, 2) if return_tensors else offsets[0] if single else offsets)
        return BatchEncoding(data, encodings)

    def _check_options(self, method: str, options: dict) -> None:
        """Refuse a keyword the encoding calls do not take, naming it and the public call."""
        for name in options:
            if name not in ENCODE_OPTIONS:
                raise TypeError(f"{type(self).__name__}.{method}() got an unexpected keyword "
                                f"argument {name!r}; it takes {', '.join(ENCODE_OPTIONS)}")

    def _wanted(self, key: str, asked: bool | None) -> bool:
        return key in self.model_input_names if asked is None else asked

    @staticmethod
    def _check_tensor_type(return_tensors) -> None:
        if return_tensors != "pt":
            raise ValueError(f"return_tensors={return_tensors!r}; only 'pt' (PyTorch) is "
                             "supported")

    def _strategies(self, padding, truncation, max_length, pad_to_max_length):
        """transformers' reading of padding= / truncation= / max_length= -> (padding strategy,
        truncation strategy, max_length), each None when off."""
        if truncation is None:  # unset: on when max_length is given without padding
            truncation = max_length is not None and padding is False
        if padding is False and pad_to_max_length:
            padding = "max_length"
        if padding == "do_not_pad":
            padding = False
        if truncation == "do_not_truncate":
            truncation = False
        pad = resolve_strategy("padding", padding, PADDING_STRATEGIES)
        cut = resolve_strategy("truncation", truncation, TRUNCATION_STRATEGIES)
        if max_length is None and (cut is not None or pad == "max_length"):
            if self.model_max_length >= NO_LIMIT:
                if pad == "max_length":
                    raise ValueError("padding='max_length' needs max_length: this tokenizer "
                                     "has no model_max_length")
                cut = None  # transformers: truncation to no limit at all cuts nothing
            else:
                max_length = self.model_max_length
        return pad, cut, max_length

    def pad(self, encoded_inputs, padding=True, max_length: int | None = None,
            pad_to_multiple_of: int | None = None, return_attention_mask: bool | None = None,
            return_tensors: str | None = None) -> BatchEncoding:
        """Pad examples already encoded (a list of dicts, or a dict of rows) on the right:
        input_ids with pad_token_id, token_type_ids 0, attention_mask 0 (made if missing),
        special_tokens_mask 1; other keys are passed through as they are."""
        if isinstance(encoded_inputs, (list, tuple)):
            encoded_inputs = {k: [ex[k] for ex in encoded_inputs] for k in encoded_inputs[0]}
        single = len(encoded_inputs["input_ids"]) > 0 and not isinstance(
            encoded_inputs["input_ids"][0], (list, tuple, torch.Tensor))
        rows = {k: [as_ids(v) for v in ([vs] if single else vs)]
                for k, vs in encoded_inputs.items() if k == "input_ids" or k in PAD_VALUES}
        ids = rows["input_ids"]
        if self._wanted("attention_mask", return_attention_mask) and "attention_mask" not in rows:
            rows["attention_mask"] = [[1] * len(r) for r in ids]
        strategy = resolve_strategy("padding", padding, PADDING_STRATEGIES)
        length = max(map(len, ids)) if strategy == "longest" else max_length
        if strategy == "max_length" and max_length is None:
            raise ValueError("pad(padding='max_length') needs max_length")
        if strategy is not None:
            length = padded_length(length, pad_to_multiple_of)
        values = {"input_ids": self.pad_token_id, **PAD_VALUES}
        if strategy is not None:
            if self.pad_token_id is None:
                raise ValueError("pad: this tokenizer has no pad token")
            rows = {k: [r + [values[k]] * (length - len(r)) for r in rs] for k, rs in rows.items()}
        others = {k: v for k, v in encoded_inputs.items() if k not in rows}
        if return_tensors is not None:
            self._check_tensor_type(return_tensors)
            others = {k: torch.stack(list(v)) if isinstance(v[0], torch.Tensor)
                      else torch.tensor(v) for k, v in others.items()}
            return BatchEncoding({**_tensors(rows), **others})
        return BatchEncoding({**{k: r[0] if single else r for k, r in rows.items()}, **others})


# The options every encoding call takes: `_encode`'s keyword-only parameters, read once here
# rather than on every call (each call checks its keywords against them).
ENCODE_OPTIONS = tuple(name for name, p in
                       inspect.signature(PreTrainedTokenizerBase._encode).parameters.items()
                       if p.kind is p.KEYWORD_ONLY)
