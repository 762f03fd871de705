"""`BertWordPieceTokenizer`: BERT's WordPiece tokenizer, built the way Hugging Face `tokenizers`
builds it.

`tokenizers.BertWordPieceTokenizer` is a recipe around its WordPiece model: BERT's cleaning,
lowercasing and punctuation split, `[CLS] A [SEP]` post-processing, and `train` / `save_model`.
Ours is the same recipe around `WordPieceTokenizer` (wordpiece.py), trained by
`WordPieceTrainer` (wordpiece_trainer.py); only the constructor, training in place and
`save_model` are new here. Everything else (`encode(...).tokens`, `token_to_id`,
`enable_truncation`, `decode`) is WordPieceTokenizer's own.

    tok = BertWordPieceTokenizer()                              # empty
    tok.train(files=["corpus.txt"], vocab_size=30_000)          # or train_from_iterator(texts)
    tok.save_model("out")                                       # writes out/vocab.txt
    tok = BertWordPieceTokenizer("out/vocab.txt", lowercase=True)

Different from `tokenizers`, on purpose: an empty tokenizer already holds its five special
tokens (there it holds nothing), so before training it encodes every word as [UNK].
Left out: AddedToken objects as special tokens (plain strings only).
"""

from __future__ import annotations

from pathlib import Path

from .processors import layout_name
from .wordpiece import SPECIAL_DEFAULTS, WordPieceTokenizer, load_vocab, save_vocab
from .wordpiece_trainer import DEFAULT_SPECIALS, WordPieceTrainer


class BertWordPieceTokenizer(WordPieceTokenizer):
    """`BertWordPieceTokenizer(vocab=None | "vocab.txt" | {token: id}, lowercase=True, ...)`
    with `tokenizers`' argument names; `train`, `train_from_iterator`, `save_model`."""

    def __init__(self, vocab: str | Path | dict[str, int] | None = None,
                 unk_token: str = "[UNK]", sep_token: str = "[SEP]", cls_token: str = "[CLS]",
                 pad_token: str = "[PAD]", mask_token: str = "[MASK]", clean_text: bool = True,
                 handle_chinese_chars: bool = True, strip_accents: bool | None = None,
                 lowercase: bool = True, wordpieces_prefix: str = "##", **kwargs):
        """`kwargs` are WordPieceTokenizer's own (special_tokens, model_max_length, ...), which
        its `from_file` / `from_pretrained` pass on."""
        special = {"pad": pad_token, "unk": unk_token, "cls": cls_token, "sep": sep_token,
                   "mask": mask_token}
        if isinstance(vocab, (str, Path)):
            kwargs.setdefault("source", str(vocab))
            vocab = load_vocab(vocab)
        elif vocab is None:  # empty: only the special tokens, ids in BERT's order
            vocab = {token: i for i, token in enumerate(special.values())}
        kwargs.setdefault("special_tokens", special)
        super().__init__(vocab, lowercase=lowercase, strip_accents=strip_accents,
                         continuing_subword_prefix=wordpieces_prefix, clean_text=clean_text,
                         handle_chinese_chars=handle_chinese_chars, **kwargs)

    @property
    def post_processor(self) -> str:
        """Always "bert": [CLS] A [SEP] (B [SEP]) with B's type ids 1."""
        return "bert"

    @post_processor.setter
    def post_processor(self, value) -> None:
        """Accepts only what it already does (a BertProcessing of its own [CLS] and [SEP]), so
        code that sets it, as `tokenizers` tutorials do, runs; anything else is refused."""
        if layout_name(value, self) != "bert":
            raise ValueError(f"BertWordPieceTokenizer's layout is fixed to 'bert', got {value!r}")

    def train(self, files, vocab_size: int = 30000, min_frequency: int = 2,
              limit_alphabet: int | None = 1000, initial_alphabet=(),
              special_tokens=tuple(DEFAULT_SPECIALS), show_progress: bool = True,
              wordpieces_prefix: str = "##") -> None:
        """Learn a vocabulary from `files` (a path or a list of paths) with WordPieceTrainer
        and make it this tokenizer's (defaults as `tokenizers`' train)."""
        trainer = WordPieceTrainer(vocab_size, min_frequency, list(special_tokens),
                                   limit_alphabet, initial_alphabet, lowercase=self.lowercase,
                                   strip_accents=self.strip_accents,
                                   continuing_subword_prefix=wordpieces_prefix,
                                   show_progress=show_progress)
        trained = trainer.train(files)
        truncation = self.truncation
        WordPieceTokenizer.__init__(self, trained.get_vocab(), lowercase=self.lowercase,
                                    strip_accents=self.strip_accents,
                                    special_tokens=self._trained_specials(special_tokens),
                                    continuing_subword_prefix=wordpieces_prefix,
                                    clean_text=self.basic.clean_text,
                                    handle_chinese_chars=self.basic.handle_chinese_chars,
                                    model_max_length=self.model_max_length,
                                    source="trained vocabulary")
        self.truncation = truncation

    def train_from_iterator(self, iterator, vocab_size: int = 30000, min_frequency: int = 2,
                            limit_alphabet: int | None = 1000, initial_alphabet=(),
                            special_tokens=tuple(DEFAULT_SPECIALS), show_progress: bool = True,
                            wordpieces_prefix: str = "##") -> None:
        """As `train`, from texts (any iterable of str) instead of files."""
        self.train(iter(iterator), vocab_size, min_frequency, limit_alphabet, initial_alphabet,
                   special_tokens, show_progress, wordpieces_prefix)

    def _trained_specials(self, special_tokens) -> dict[str, str]:
        """The roles after training: this tokenizer's tokens where the trainer kept them,
        BERT's defaults otherwise."""
        kept = set(special_tokens)
        return {role: token if token in kept else SPECIAL_DEFAULTS[role]
                for role, token in self.special_tokens.items()}

    def save_model(self, directory, prefix: str | None = None) -> list[str]:
        """Write only vocab.txt (PREFIX-vocab.txt with a prefix) into an existing folder, as
        `tokenizers` does; returns its path. `save` also writes tokenizer_config.json."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory}: no such folder (save_model writes into an "
                                    f"existing one, as tokenizers does)")
        stem = f"{prefix}-" if prefix else ""
        return [str(save_vocab(directory / f"{stem}vocab.txt", self._vocab))]
