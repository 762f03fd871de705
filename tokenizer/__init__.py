"""minibert's tokenizers: BERT's WordPiece and RoBERTa's byte-level BPE, written by hand.

`base.py` holds what they share (the `Encoding` record, truncation, padding, special tokens,
`to_tensors`); each tokenizer and each trainer lives in its own file.
"""

from .auto import load_tokenizer
from .base import Encoding, Tokenizer
from .basic import BasicTokenizer
from .bpe import ByteLevelBPETokenizer
from .bpe_files import BPEFileError
from .bpe_trainer import BPETrainer
from .wordpiece import VocabError, WordPieceTokenizer
from .wordpiece_trainer import WordPieceTrainer

__all__ = [
    "BPEFileError",
    "BPETrainer",
    "BasicTokenizer",
    "ByteLevelBPETokenizer",
    "Encoding",
    "Tokenizer",
    "VocabError",
    "WordPieceTokenizer",
    "WordPieceTrainer",
    "load_tokenizer",
]
