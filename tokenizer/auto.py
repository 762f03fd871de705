"""Opening a tokenizer folder without knowing its kind: WordPiece or byte-level BPE.

A folder written by `save_pretrained` (ours or Hugging Face's) says what it holds by its files:
`vocab.txt` is a WordPiece vocabulary, `vocab.json` + `merges.txt` a byte-level BPE. This is
what transformers' AutoTokenizer does when a folder has no tokenizer.json to read.
"""

from __future__ import annotations

from pathlib import Path


def load_tokenizer(directory: str | Path):
    """The tokenizer saved in `directory`: WordPiece if it holds vocab.txt, byte-level BPE if
    it holds vocab.json and merges.txt."""
    directory = Path(directory)
    if (directory / "vocab.txt").is_file():
        from tokenizer.wordpiece import WordPieceTokenizer

        return WordPieceTokenizer.from_pretrained(directory)
    if (directory / "vocab.json").is_file() and (directory / "merges.txt").is_file():
        from tokenizer.bpe import ByteLevelBPETokenizer

        return ByteLevelBPETokenizer.from_pretrained(directory)
    raise FileNotFoundError(f"{directory}: no tokenizer here (expected vocab.txt for WordPiece, "
                            f"or vocab.json + merges.txt for byte-level BPE)")
