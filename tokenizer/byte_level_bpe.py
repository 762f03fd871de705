"""`ByteLevelBPETokenizer`: byte-level BPE (bpe.py) with its files and its training, built the
way Hugging Face `tokenizers` builds it.

`BPETokenizer` (bpe.py) encodes and decodes with a vocabulary and merges already in memory;
what this class adds is where they come from and where they go:

    tok = ByteLevelBPETokenizer.from_pretrained("roberta-folder")   # vocab.json + merges.txt,
                                                                    # or tokenizer.json
    tok = ByteLevelBPETokenizer("vocab.json", "merges.txt")          # as `tokenizers` takes them
    tok = ByteLevelBPETokenizer()                                    # empty, then trained:
    tok.train(files=["corpus.txt"], vocab_size=52_000, min_frequency=2, special_tokens=[...])
    tok.save_model("out")             # out/vocab.json, out/merges.txt (as `tokenizers`)
    tok.save_pretrained("out")        # ... and tokenizer_config.json (as transformers)

The file formats are bpe_files.py's, the training is `BPETrainer`'s (bpe_trainer.py), and a
folder's special tokens and length limit are read by tokenizer_config.py.
Follows: Hugging Face `tokenizers` (ByteLevelBPETokenizer: constructor, train,
train_from_iterator, save_model) and transformers' folder layout (GPT2Tokenizer /
RobertaTokenizer). Left out: writing `tokenizer.json` (it is read, not written).
"""

from __future__ import annotations

from pathlib import Path

from .bpe import BPETokenizer
from .bpe_files import (
    load_merges_txt,
    load_tokenizer_json,
    load_vocab_json,
    save_merges_txt,
    save_vocab_json,
)
from .tokenizer_config import SPECIAL_TOKEN_KEYS, read_tokenizer_config, save_tokenizer_config


class ByteLevelBPETokenizer(BPETokenizer):
    """GPT-2 / RoBERTa tokenizer: `BPETokenizer` with `tokenizers`' constructor (the two file
    paths, or nothing and then `train`), `from_files` / `from_pretrained`, `save_pretrained`
    and `save_model`. Settings (add_prefix_space, post_processor, ...) are BPETokenizer's."""

    def __init__(self, vocab: dict[str, int] | str | Path | None = None, merges=None,
                 **settings):
        if isinstance(vocab, (str, Path)):  # the two file paths, as `tokenizers` takes them
            if not isinstance(merges, (str, Path)):
                raise TypeError(f"vocab is a path ({vocab}), so merges must be the path of "
                                f"merges.txt, got {type(merges).__name__}")
            vocab, settings["source"] = load_vocab_json(vocab), str(merges)
            merges = load_merges_txt(merges)
        vocab = {} if vocab is None else vocab  # empty: to be trained in place
        super().__init__(vocab, merges, **settings)

    @classmethod
    def from_files(cls, vocab_json, merges_txt, add_prefix_space: bool = False,
                   post_processor: str | None = "auto", **kwargs):
        vocab = load_vocab_json(vocab_json)
        merges = load_merges_txt(merges_txt)
        return cls(vocab, merges, add_prefix_space=add_prefix_space, post_processor=post_processor,
                   source=str(merges_txt), **kwargs)

    @classmethod
    def from_pretrained(cls, directory, **overrides):
        """Load a folder with vocab.json, merges.txt and (optional) tokenizer_config.json;
        or, failing those two, HF's tokenizer.json (what transformers 5 saves)."""
        directory = Path(directory)
        from_json = None
        for name in ("vocab.json", "merges.txt"):
            if not (directory / name).is_file():
                if not (directory / "tokenizer.json").is_file():
                    raise FileNotFoundError(f"{directory}: no {name} (nor tokenizer.json) in "
                                            f"this folder")
                from_json = load_tokenizer_json(directory / "tokenizer.json")
        config, shared = read_tokenizer_config(directory)
        settings: dict = {} if from_json is None else dict(from_json[2])
        settings.update(shared)
        if config is not None:
            settings["add_prefix_space"] = bool(config.get("add_prefix_space", False))
            tokenizer_class = str(config.get("tokenizer_class", ""))
            if tokenizer_class.startswith("Roberta"):
                settings["post_processor"] = "roberta"
            elif tokenizer_class.startswith("GPT2"):
                settings["post_processor"] = None
        settings.update(overrides)
        if from_json is not None:
            return cls(from_json[0], from_json[1], source=str(directory / "tokenizer.json"),
                       **settings)
        return cls.from_files(directory / "vocab.json", directory / "merges.txt", **settings)

    # --- saving -----------------------------------------------------------------------------

    def save(self, directory) -> Path:
        """Write vocab.json, merges.txt and tokenizer_config.json (Hugging Face layout)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_vocab_json(directory / "vocab.json", self._vocab)
        save_merges_txt(directory / "merges.txt", self.merges)
        config = {
            "tokenizer_class": ("RobertaTokenizer" if self.post_processor == "roberta"
                                else "GPT2Tokenizer"),
            "add_prefix_space": self.add_prefix_space,
            "trim_offsets": self.trim_offsets,
        }
        for role, key in SPECIAL_TOKEN_KEYS:  # cls as bos_token and cls_token, sep likewise
            if role in self.special_tokens:
                config[key] = self.special_tokens[role]
        # transformers reads which special tokens take the space before them from here (a
        # folder without it: transformers 5 keeps that space as a token before <mask>).
        lstrip = {str(self._vocab[t]): {"content": t, "lstrip": True, "normalized": False,
                                        "rstrip": False, "single_word": False, "special": True}
                  for t in sorted(self.lstrip_tokens)}
        if lstrip:
            config["added_tokens_decoder"] = lstrip
        save_tokenizer_config(directory, config, self.model_max_length)
        return directory

    save_pretrained = save

    # --- training in place and saving the two files, as `tokenizers` does ------------------

    def train(self, files, vocab_size: int = 30000, min_frequency: int = 2,
              show_progress: bool = True, special_tokens=()) -> None:
        """Learn a vocabulary and merges from `files` (a path or a list of paths) with
        BPETrainer and make them this tokenizer's, as `tokenizers` does it:
        `tok = ByteLevelBPETokenizer(); tok.train(files=paths, vocab_size=52_000, ...)`.
        special_tokens get the first ids, in the order given."""
        from .bpe_trainer import BPETrainer  # imported here: the trainer imports this module

        trainer = BPETrainer(vocab_size, min_frequency, special_tokens, show_progress,
                             add_prefix_space=self.add_prefix_space)
        self._take_model(trainer.train(files))

    def train_from_iterator(self, iterator, vocab_size: int = 30000, min_frequency: int = 2,
                            show_progress: bool = True, special_tokens=()) -> None:
        """As `train`, from texts (any iterable of str) instead of files."""
        self.train(iter(iterator), vocab_size, min_frequency, show_progress, special_tokens)

    def _take_model(self, trained: ByteLevelBPETokenizer) -> None:
        """Become `trained`, keeping this tokenizer's settings: prefix space, length limit,
        truncation and the special-token layout. The special tokens take no space before
        them (no lstrip), as `tokenizers`' trainer adds them; a folder saved and loaded with
        from_pretrained gets RoBERTa's `<mask>` lstrip back."""
        truncation, layout = self.truncation, self.post_processor
        ByteLevelBPETokenizer.__init__(self, trained.get_vocab(), trained.merges,
                                       add_prefix_space=self.add_prefix_space,
                                       lstrip_tokens=(), model_max_length=self.model_max_length,
                                       source="trained merges")
        self.truncation, self.post_processor = truncation, layout

    def save_model(self, directory, prefix: str | None = None) -> list[str]:
        """Write only vocab.json and merges.txt (PREFIX-vocab.json, ... with a prefix) into an
        existing folder, as `tokenizers` does; returns their paths. `save` also writes the
        tokenizer_config.json that transformers reads."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory}: no such folder (save_model writes into an "
                                    f"existing one, as tokenizers does)")
        stem = f"{prefix}-" if prefix else ""
        return [str(save_vocab_json(directory / f"{stem}vocab.json", self._vocab)),
                str(save_merges_txt(directory / f"{stem}merges.txt", self.merges))]
