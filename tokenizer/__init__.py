"""minibert's tokenizers: BERT's WordPiece and RoBERTa's byte-level BPE, written by hand.

`base.py` holds what they share (the `Encoding` record, post-processing, padding, special
tokens, `to_tensors`), with `truncation.py` and `tokenizer_config.py` (reading a saved folder's
special tokens) beside it; each tokenizer and each trainer lives in its own file; `corpus.py`
is the one reader of text files (the trainers', and the training code's too),
`merge_engine.py` the merge loop both trainers run, `loading.py` opens a saved tokenizer
folder of either kind (`load_tokenizer`). `atomic.py` writes files atomically for the whole
project; it sits here because this package imports no other of ours.

Code written for Hugging Face `tokenizers` runs with `from tokenizers import ...` changed to
`from tokenizer import ...`: `ByteLevelBPETokenizer()` created empty and trained in place
(byte_level_bpe.py, over bpe.py's encoder), `BertWordPieceTokenizer` (bert_wordpiece.py),
`save_model`, `enable_truncation`, and
`tokenizer.processors`' BertProcessing / RobertaProcessing.

Unicode versions, the one policy: both tokenizers classify characters with Python's own
tables -- WordPiece's basic tokenizer (basic.py) with `unicodedata` (punctuation P*, the
control and format characters C* that cleaning drops), byte-level BPE's pre-tokenizer
(bytelevel.py) with the `regex` module (letters `\\p{L}`, numbers `\\p{N}`, White_Space). We do
not freeze an older table to imitate Hugging Face `tokenizers`, whose Rust crates carry
their own, older ones. So for every character whose class changed, or that was assigned,
after those tables, we follow the newer Unicode and differ from `tokenizers`:
- WordPiece: ~375 characters, e.g. U+2E53 MEDIEVAL EXCLAMATION MARK (Unicode 14, Po) is
  split off as punctuation here, kept inside the word there; U+0890 ARABIC POUND MARK ABOVE
  (Unicode 14, Cf) is cleaned away here, kept there.
- byte-level BPE: ~4,600 letters and digits newer than Python 3.11's Unicode 14 database but
  known to `regex` (Unicode 17), e.g. U+088F ARABIC LETTER NOON WITH RING ABOVE, are letters
  here and symbols there. Every character assigned in Unicode 14 splits as in `tokenizers`.
The counts are for Python 3.11; each Python release brings its own `unicodedata` tables.
tests/test_unicode_policy.py pins one such case per tokenizer against `tokenizers`; the
parity tests use text without such characters. Text in common scripts is never affected.
"""

from .base import Encoding, Tokenizer
from .basic import BasicTokenizer
from .bert_wordpiece import BertWordPieceTokenizer
from .bpe_files import BPEFileError
from .bpe_trainer import BPETrainer
from .byte_level_bpe import ByteLevelBPETokenizer
from .loading import load_tokenizer
from .wordpiece import VocabError, WordPieceTokenizer
from .wordpiece_trainer import WordPieceTrainer

__all__ = [
    "BPEFileError",
    "BPETrainer",
    "BasicTokenizer",
    "BertWordPieceTokenizer",
    "ByteLevelBPETokenizer",
    "Encoding",
    "Tokenizer",
    "VocabError",
    "WordPieceTokenizer",
    "WordPieceTrainer",
    "load_tokenizer",
]
