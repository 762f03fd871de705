"""transformers' tokenizer classes, `BertTokenizer` and `RobertaTokenizer` (auto.py's
`AutoTokenizer` picks one), as a thin layer over the hand-written tokenizers of `tokenizer/`.

transformers' tokenizers sit over the Rust ones of `tokenizers`; these sit over ours:
`tok.backend_tokenizer` is the WordPiece or byte-level BPE `tokenizer.Tokenizer` that cuts the
text, truncates, adds the special tokens and pads. What lives here is only transformers'
calling convention:

    tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        -> {"input_ids", "token_type_ids" (BERT only), "attention_mask"}, each (B, T)
    tok.encode(text) -> [101, ..., 102]          tok.decode(ids), tok.batch_decode(rows)
    tok.tokenize(text), convert_tokens_to_ids / convert_ids_to_tokens / convert_tokens_to_string
    tok.encode_plus(text, ...), tok.batch_encode_plus(texts, ...)   (gone from transformers 5)
    tok.pad(examples), tok.save_pretrained(dir), len(tok), tok.mask_token, tok.pad_token_id

The dict's keys are the tokenizer's `model_input_names`, which every model's forward takes, so
`model(**tok(texts, padding=True, return_tensors="pt"))` works for every model. As in
transformers, RoBERTa gets no token_type_ids: its single token type makes them all 0 anyway.

Follows transformers' PreTrainedTokenizerBase as the books call it (v4): padding=True means
"to the longest", pad_to_max_length=True is the old padding="max_length", and truncation left
unset is switched on by a max_length given without padding.
Different on purpose: `from_pretrained(dir, max_length=512)` sets model_max_length (the limit
truncation=True cuts to), where transformers stores max_length and ignores it; and
RobertaTokenizer's `<mask>` takes the space before it even from a folder of bare vocab.json +
merges.txt, as in transformers 4 (transformers 5 keeps that space as a token of its own there).
Left out on purpose: overflowing tokens and stride, left padding or truncation,
is_split_into_words, added tokens, return_length, "tf"/"np" tensors, constructing from a vocab
file (`from_pretrained` a folder instead).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from tokenizer import ByteLevelBPETokenizer, Encoding, Tokenizer, WordPieceTokenizer
from tokenizer.truncation import PADDING_STRATEGIES, TRUNCATION_STRATEGIES, resolve_strategy

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

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        return list(self.encodings[batch_index].word_ids)


class _SpecialToken:
    """A read-only attribute such as `pad_token` or `pad_token_id`: the backend's special token
    of the role the class's `special_roles` gives that name (None if it has none)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key, self.want_id = name.removesuffix("_id"), name.endswith("_id")

    def __get__(self, tok, owner: type | None = None):
        role = type(tok).special_roles.get(self.key)
        token = tok.backend_tokenizer.special_tokens.get(role) if role else None
        return tok.backend_tokenizer.token_to_id(token) if self.want_id and token else token


def _as_ids(ids) -> list[int]:
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


class PreTrainedTokenizer:
    """What BertTokenizer and RobertaTokenizer share; subclasses set the class attributes."""

    backend_class: type[Tokenizer] = Tokenizer
    model_input_names: list[str] = ["input_ids", "attention_mask"]
    special_roles: dict[str, str] = {}  # transformers' attribute name -> the backend's role
    from_pretrained_options: dict[str, str] = {}  # transformers' keyword -> the backend's
    backend_settings: dict = {}  # what the class always asks of its backend
    vocab_files: tuple[str, ...] = ()
    padding_side = truncation_side = "right"

    unk_token, unk_token_id = _SpecialToken(), _SpecialToken()
    sep_token, sep_token_id = _SpecialToken(), _SpecialToken()
    pad_token, pad_token_id = _SpecialToken(), _SpecialToken()
    cls_token, cls_token_id = _SpecialToken(), _SpecialToken()
    mask_token, mask_token_id = _SpecialToken(), _SpecialToken()
    bos_token, bos_token_id = _SpecialToken(), _SpecialToken()
    eos_token, eos_token_id = _SpecialToken(), _SpecialToken()

    def __init__(self, backend: Tokenizer, name_or_path: str = ""):
        if not isinstance(backend, self.backend_class):
            raise TypeError(f"{type(self).__name__} wraps a {self.backend_class.__name__}, got "
                            f"{type(backend).__name__}")
        self.backend_tokenizer = backend
        self.name_or_path = name_or_path

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, max_length: int | None = None,
                        model_max_length: int | None = None, **options):
        """Load the tokenizer files of a folder (or of a model name the hub layer resolves).

        max_length / model_max_length: the length `truncation=True` cuts to by default.
        Other options are transformers' names for the backend's settings (BertTokenizer:
        do_lower_case, strip_accents, tokenize_chinese_chars; RobertaTokenizer:
        add_prefix_space); anything else is refused.
        """
        unknown = sorted(set(options) - set(cls.from_pretrained_options))
        if unknown:
            raise TypeError(f"{cls.__name__}.from_pretrained: unknown option(s) {unknown}; "
                            f"supported: max_length, model_max_length, "
                            f"{', '.join(cls.from_pretrained_options)}")
        path = Path(name_or_path).expanduser()
        if not path.is_dir():
            from .hub import resolve_model_dir

            path = resolve_model_dir(name_or_path)
        settings = {cls.from_pretrained_options[k]: v for k, v in options.items()
                    if v is not None}
        settings.update(cls.backend_settings)
        if max_length is not None or model_max_length is not None:
            settings["model_max_length"] = model_max_length or max_length
        return cls(cls.backend_class.from_pretrained(path, **settings), str(name_or_path))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name_or_path={self.name_or_path!r}, "
                f"vocab_size={self.vocab_size}, model_max_length={self.model_max_length})")

    # ---- vocabulary ----------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self.backend_tokenizer.vocab_size

    def __len__(self) -> int:
        return len(self.backend_tokenizer)

    def get_vocab(self) -> dict[str, int]:
        return self.backend_tokenizer.get_vocab()

    vocab = property(get_vocab)

    @property
    def model_max_length(self) -> int:
        limit = self.backend_tokenizer.model_max_length
        return NO_LIMIT if limit is None else limit

    @model_max_length.setter
    def model_max_length(self, value: int) -> None:
        self.backend_tokenizer.model_max_length = None if value >= NO_LIMIT else int(value)

    @property
    def all_special_tokens(self) -> list[str]:
        return self.backend_tokenizer.all_special_tokens

    @property
    def all_special_ids(self) -> list[int]:
        return self.backend_tokenizer.all_special_ids

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False
                 ) -> list[str]:
        """The pieces of `text`; special tokens typed in it ("[CLS]", "<mask>") stay whole."""
        return self.backend_tokenizer.encode(text, pair, add_special_tokens).tokens

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        """Ids of tokens; a token the vocabulary lacks gets the unk id (as transformers)."""
        if isinstance(tokens, str):
            found = self.backend_tokenizer.token_to_id(tokens)
            return self.unk_token_id if found is None else found
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens: bool = False):
        """The token of an id, or the tokens of a list (or tensor) of ids."""
        if isinstance(ids, int) or (isinstance(ids, torch.Tensor) and ids.dim() == 0):
            return self.backend_tokenizer.id_to_token(int(ids))
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self.backend_tokenizer.id_to_token(i) for i in _as_ids(ids) if i not in special]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """Tokens back to text, as `decode` joins them (`##` glued, byte symbols undone)."""
        return self.decode(self.convert_tokens_to_ids(tokens))

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self.backend_tokenizer.num_special_tokens_to_add(pair)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None) -> list[int]:
        pair = None if token_ids_1 is None else _as_ids(token_ids_1)
        return self.backend_tokenizer.with_special_tokens(_as_ids(token_ids_0), pair).ids

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 where a special token is (or would be, once added), 0 on the text's tokens."""
        if already_has_special_tokens:
            special = set(self.all_special_ids)
            return [int(i in special) for i in _as_ids(token_ids_0)]
        pair = None if token_ids_1 is None else _as_ids(token_ids_1)
        enc = self.backend_tokenizer.with_special_tokens(_as_ids(token_ids_0), pair)
        return list(enc.special_tokens_mask)

    # ---- text -> ids ---------------------------------------------------------------------

    def __call__(self, text, text_pair=None, **options) -> BatchEncoding:
        """One text (or pair) -> lists of ids; a list of texts (or of pairs, or with a list
        `text_pair`) -> rows. Options as `batch_encode_plus`."""
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
        return self.encode_plus(text, text_pair, **options)["input_ids"]

    def encode_plus(self, text: str, text_pair: str | None = None, **options) -> BatchEncoding:
        """One text (or pair) -> {"input_ids": [...], ...}; (1, T) tensors with "pt"."""
        if not isinstance(text, str):
            raise TypeError(f"encode_plus takes one str, got {type(text).__name__}; use "
                            "batch_encode_plus (or call the tokenizer) for a list")
        return self._encode([(text, text_pair) if text_pair is not None else text], True,
                            **options)

    def batch_encode_plus(self, batch_text_or_text_pairs, **options) -> BatchEncoding:
        """A list of texts or (text, pair) tuples -> {"input_ids": [[...], ...], ...}.

        Options: add_special_tokens=True, padding=False (True/"longest", "max_length"),
        truncation=None (True/"longest_first", "only_first", "only_second"), max_length,
        pad_to_max_length=False, return_tensors=None ("pt"), return_token_type_ids,
        return_attention_mask, return_special_tokens_mask, return_offsets_mapping."""
        return self._encode(list(batch_text_or_text_pairs), False, **options)

    def _encode(self, items: list, single: bool, *, add_special_tokens: bool = True,
                padding=False, truncation=None, max_length: int | None = None,
                pad_to_max_length: bool = False, return_tensors: str | None = None,
                return_token_type_ids: bool | None = None,
                return_attention_mask: bool | None = None,
                return_special_tokens_mask: bool = False,
                return_offsets_mapping: bool = False) -> BatchEncoding:
        pad, cut, max_length = self._strategies(padding, truncation, max_length,
                                                pad_to_max_length)
        encodings = self.backend_tokenizer.encode_batch(
            items, add_special_tokens=add_special_tokens, max_length=max_length,
            truncation=cut or False, padding=pad or False)
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
        rows = {k: [_as_ids(v) for v in ([vs] if single else vs)]
                for k, vs in encoded_inputs.items() if k == "input_ids" or k in PAD_VALUES}
        ids = rows["input_ids"]
        if self._wanted("attention_mask", return_attention_mask) and "attention_mask" not in rows:
            rows["attention_mask"] = [[1] * len(r) for r in ids]
        strategy = resolve_strategy("padding", padding, PADDING_STRATEGIES)
        length = max(map(len, ids)) if strategy == "longest" else max_length
        if strategy == "max_length" and max_length is None:
            raise ValueError("pad(padding='max_length') needs max_length")
        if strategy is not None and pad_to_multiple_of:
            length = -(-length // pad_to_multiple_of) * pad_to_multiple_of  # round up
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

    # ---- ids -> text ---------------------------------------------------------------------

    def decode(self, token_ids, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str:
        """Ids (a list or a 1-D tensor) back to text."""
        return self._decode(_as_ids(token_ids), skip_special_tokens, clean_up_tokenization_spaces)

    def _decode(self, ids: list[int], skip_special_tokens: bool, clean_up: bool | None) -> str:
        raise NotImplementedError

    def batch_decode(self, sequences, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None) -> list[str]:
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces)
                for s in sequences]

    # ---- saving --------------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """Write the vocabulary files and tokenizer_config.json in transformers' layout, which
        transformers (and `from_pretrained`) load back; returns the files' paths."""
        directory = self.backend_tokenizer.save(save_directory)
        return tuple(str(directory / name) for name in ("tokenizer_config.json",
                                                        *self.vocab_files))


class BertTokenizer(PreTrainedTokenizer):
    """BERT's WordPiece tokenizer: [CLS] A [SEP] (B [SEP]), token type ids 0 (1 for B)."""

    backend_class = WordPieceTokenizer
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    special_roles = {"unk_token": "unk", "sep_token": "sep", "pad_token": "pad",
                     "cls_token": "cls", "mask_token": "mask"}
    from_pretrained_options = {"do_lower_case": "lowercase", "strip_accents": "strip_accents",
                               "tokenize_chinese_chars": "handle_chinese_chars"}
    vocab_files = ("vocab.txt",)

    def _decode(self, ids: list[int], skip_special_tokens: bool, clean_up: bool | None) -> str:
        # BERT's decoder removes the space before punctuation unless told not to.
        return self.backend_tokenizer.decode(ids, skip_special_tokens,
                                             clean_up_tokenization_spaces=clean_up is not False)


class RobertaTokenizer(PreTrainedTokenizer):
    """RoBERTa's byte-level BPE: <s> A </s> (</s> B </s>); no token type ids."""

    backend_class = ByteLevelBPETokenizer
    model_input_names = ["input_ids", "attention_mask"]
    special_roles = {"unk_token": "unk", "sep_token": "sep", "pad_token": "pad",
                     "cls_token": "cls", "mask_token": "mask", "bos_token": "cls",
                     "eos_token": "sep"}
    from_pretrained_options = {"add_prefix_space": "add_prefix_space"}
    backend_settings = {"post_processor": "roberta"}
    vocab_files = ("vocab.json", "merges.txt")

    def _decode(self, ids: list[int], skip_special_tokens: bool, clean_up: bool | None) -> str:
        if clean_up:
            raise ValueError("clean_up_tokenization_spaces=True is not supported by "
                             "RobertaTokenizer: byte-level decoding gives the text back exactly")
        return self.backend_tokenizer.decode(ids, skip_special_tokens)
