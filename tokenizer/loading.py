"""Loading a saved tokenizer folder without knowing its kind: WordPiece or byte-level BPE.

A folder written by `save_pretrained` (ours or Hugging Face's) says what it holds by its files:
`vocab.txt` is a WordPiece vocabulary, `vocab.json` + `merges.txt` a byte-level BPE. This is
what transformers' AutoTokenizer does when a folder has no tokenizer.json to read. The
tokenizer of a model folder, and transformers' `AutoTokenizer`, are chosen in
`minibert/auto.py`, which asks `saved_tokenizer_class` here.
"""

from __future__ import annotations

from pathlib import Path


def saved_tokenizer_class(directory: str | Path) -> type | None:
    """WordPieceTokenizer if `directory` holds vocab.txt, ByteLevelBPETokenizer if it holds
    vocab.json and merges.txt, None if neither."""
    directory = Path(directory)
    if (directory / "vocab.txt").is_file():
        from tokenizer.wordpiece import WordPieceTokenizer

        return WordPieceTokenizer
    if (directory / "vocab.json").is_file() and (directory / "merges.txt").is_file():
        from tokenizer.byte_level_bpe import ByteLevelBPETokenizer

        return ByteLevelBPETokenizer
    return None


def load_tokenizer(directory: str | Path):
    """The tokenizer saved in `directory`: WordPiece if it holds vocab.txt, byte-level BPE if
    it holds vocab.json and merges.txt."""
    cls = saved_tokenizer_class(directory)
    if cls is None:
        raise FileNotFoundError(f"{directory}: no tokenizer here (expected vocab.txt for "
                                f"WordPiece, or vocab.json + merges.txt for byte-level BPE)")
    return cls.from_pretrained(Path(directory))
