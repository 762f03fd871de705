"""transformers' tokenizer classes, `BertTokenizer` and `RobertaTokenizer` (auto.py's
`AutoTokenizer` picks one), as a thin layer over the hand-written tokenizers of `tokenizer/`.

transformers' tokenizers sit over the Rust ones of `tokenizers`; these sit over ours:
`tok.backend_tokenizer` is the WordPiece or byte-level BPE `tokenizer.Tokenizer` that cuts the
text, truncates, adds the special tokens and pads. What lives here is the tokenizer itself in
transformers' terms: loading it, its vocabulary and special tokens, ids back to text, saving:

    BertTokenizer.from_pretrained(dir), tok.save_pretrained(dir), len(tok), tok.vocab_size
    tok.mask_token, tok.pad_token_id, tok.all_special_ids, tok.special_tokens_map,
    tok.model_max_length
    tok.tokenize(text), convert_tokens_to_ids / convert_ids_to_tokens / convert_tokens_to_string
    tok.decode(ids), tok.batch_decode(rows)

Text to model inputs (`tok(texts, padding=True, return_tensors="pt")`, encode, encode_plus,
batch_encode_plus, pad) is the base class's, in tokenization_utils_base.py. As in
transformers, RoBERTa gets no token_type_ids: its single token type makes them all 0 anyway.

Follows transformers' PreTrainedTokenizer as the books call it (v4).
Different on purpose: `from_pretrained(dir, max_length=512)` sets model_max_length (the limit
truncation=True cuts to), where transformers stores max_length and ignores it; and
RobertaTokenizer's `<mask>` takes the space before it even from a folder of bare vocab.json +
merges.txt, as in transformers 4 (transformers 5 keeps that space as a token of its own there).
Left out on purpose: added tokens, constructing from a vocab file (`from_pretrained` a folder
instead).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from tokenizer import ByteLevelBPETokenizer, Tokenizer, WordPieceTokenizer

from .tokenization_utils_base import NO_LIMIT, PreTrainedTokenizerBase, as_ids


class _SpecialToken:
    """A read-only attribute such as `pad_token` or `pad_token_id`: the backend's special token
    of the role the class's `special_roles` gives that name (None if it has none)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key, self.want_id = name.removesuffix("_id"), name.endswith("_id")

    def __get__(self, tok, owner: type | None = None):
        role = type(tok).special_roles.get(self.key)
        token = tok.backend_tokenizer.special_tokens.get(role) if role else None
        return tok.backend_tokenizer.token_to_id(token) if self.want_id and token else token


class PreTrainedTokenizer(PreTrainedTokenizerBase):
    """What BertTokenizer and RobertaTokenizer share; subclasses set the class attributes."""

    backend_class: type[Tokenizer] = Tokenizer
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

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """{"cls_token": "[CLS]", ...}: each special-token attribute that is set."""
        return {name: getattr(self, name) for name in self.special_roles
                if getattr(self, name) is not None}

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
        return [self.backend_tokenizer.id_to_token(i) for i in as_ids(ids) if i not in special]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """Tokens back to text by the backend's own rule (`##` glued, byte symbols undone), on
        the tokens themselves: one the vocabulary lacks comes back as written, not as unk."""
        return self.backend_tokenizer.decode_tokens(list(tokens))

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self.backend_tokenizer.num_special_tokens_to_add(pair)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None) -> list[int]:
        pair = None if token_ids_1 is None else as_ids(token_ids_1)
        return self.backend_tokenizer.with_special_tokens(as_ids(token_ids_0), pair).ids

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 where a special token is (or would be, once added), 0 on the text's tokens."""
        if already_has_special_tokens:
            special = set(self.all_special_ids)
            return [int(i in special) for i in as_ids(token_ids_0)]
        pair = None if token_ids_1 is None else as_ids(token_ids_1)
        enc = self.backend_tokenizer.with_special_tokens(as_ids(token_ids_0), pair)
        return list(enc.special_tokens_mask)

    # ---- ids -> text ---------------------------------------------------------------------

    def decode(self, token_ids, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str:
        """Ids (a list or a 1-D tensor) back to text."""
        return self._decode(as_ids(token_ids), skip_special_tokens, clean_up_tokenization_spaces)

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

    @property
    def do_lower_case(self) -> bool:
        """Whether text is lowercased before it is cut (True for an uncased vocabulary)."""
        return self.backend_tokenizer.lowercase

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
