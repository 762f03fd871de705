"""A tiny deterministic tokenizer for the masking / NSP / dataset tests.

Words are split on whitespace and cut into pieces of at most 3 characters (so words have 1..n
pieces, like WordPiece's `##` continuations); a piece's id is a stable hash into the vocabulary.
It returns the shared `tokenizer.base.Encoding`, so tests exercise the same interface the real
WordPiece and BPE tokenizers provide.
"""

from __future__ import annotations

import zlib

from tokenizer.base import Encoding

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4


class FakeTokenizer:
    pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id = PAD, UNK, CLS, SEP, MASK
    all_special_ids = (PAD, UNK, CLS, SEP, MASK)

    def __init__(self, vocab_size: int = 50):
        self.vocab_size = vocab_size

    def _piece_id(self, piece: str) -> int:
        return 5 + zlib.crc32(piece.encode()) % (self.vocab_size - 5)

    def _pieces(self, text: str):
        ids, words = [], []
        for w, word in enumerate(text.split()):
            for s in range(0, len(word), 3):
                ids.append(self._piece_id(word[s:s + 3]))
                words.append(w)
        return ids, words

    def _encode_pieces(self, text: str):
        """(tokens, ids, offsets, word_ids) without special tokens, as the real tokenizers give
        them to `train/data/prepare.tokenize_text` (the shards' tokens)."""
        ids, words = self._pieces(text)
        return [str(i) for i in ids], ids, [(0, 0)] * len(ids), words

    def encode(
        self,
        text,
        pair=None,
        add_special_tokens=True,
        max_length=None,
        truncation=False,
        padding=False,
    ):
        ids, words = self._pieces(text)
        if truncation and max_length is not None:
            keep = max_length - (2 if add_special_tokens else 0)
            ids, words = ids[:keep], words[:keep]
        special = [0] * len(ids)
        if add_special_tokens:
            ids, words, special = [CLS] + ids + [SEP], [None] + words + [None], [1] + special + [1]
        n = len(ids)
        return Encoding(
            ids=ids,
            tokens=[str(i) for i in ids],
            type_ids=[0] * n,
            attention_mask=[1] * n,
            special_tokens_mask=special,
            offsets=[(0, 0)] * n,
            word_ids=words,
        )

    def encode_batch(self, texts, **kwargs):
        return [self.encode(t, **kwargs) for t in texts]
