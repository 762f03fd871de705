"""Pretraining examples read from shards on disk: packed blocks, lines, NSP pairs.

The same examples as the in-memory datasets, built on demand from `train/data/shards.py`
instead of from Python lists made at start-up, so a corpus of any size costs no memory:

- `PackedBlocks`: `group_texts` (`train/data/datasets.GroupedTextDataset`): the corpus's
  tokens end to end, cut every block_size - 2 tokens, each block wrapped as [CLS] .. [SEP]
  (<s> .. </s>). Every block is full except the last one of the corpus.
- `LineBlocks`: `LineByLineTextDataset`: one example per non-blank line, [CLS] line [SEP],
  cut to block_size tokens.
- `NSPPairs`: BERT's sentence pairs (`train/data/nsp.py`, same rule, same polarity: 0 = B
  follows A, 1 = B is random, with probability 1/2; always 1 for a one-sentence chunk).
  Built on the fly: at opening, every document is cut into chunks of about max_seq_length - 3
  tokens (a chunk starts at the sentence where the running count crosses a multiple of it);
  example i draws its pair from chunk i with `nsp.pairs_from_document`, which sees the chunk
  as its document and may take "random" B segments from every other document, with a
  `random.Random` seeded by (seed, epoch, i). So the pairs change from epoch to epoch and
  need no pass over the corpus. Unlike `create_nsp_examples`, each chunk gives one pair per
  epoch: sentences the original would put back for the next pair start a new chunk here
  instead. Memory: one int32 per non-empty line (the sentence index), 40 MB per 10 M lines.

Examples are the dicts `train/data/collator.py` pads and masks (input_ids, token_type_ids,
special_tokens_mask, word_ids, next_sentence_label for NSP). `example(i, epoch)` is what the
loader calls; `dataset[i]` is example i of epoch 0.
Left out on purpose: sentence splitting inside lines, the original's dupe_factor (epochs
draw new pairs instead).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from train.data import nsp
from train.data.shards import Shards, word_ids


class ShardDataset(torch.utils.data.Dataset):
    """What every dataset on shards offers the loader (`train/data/shard_loader.py`)."""

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return self.example(i, 0)

    def example(self, i: int, epoch: int) -> dict:
        raise NotImplementedError


def _wrapped(ids: np.ndarray, starts: np.ndarray, cls_id: int, sep_id: int) -> dict:
    """[CLS] ids [SEP] as an example dict, word numbers from the word starts."""
    n = int(ids.size)
    return {"input_ids": [cls_id, *ids.tolist(), sep_id], "token_type_ids": [0] * (n + 2),
            "special_tokens_mask": [1] + [0] * n + [1],
            "word_ids": [None, *word_ids(starts).tolist(), None]}


def _special_ids(tokenizer) -> tuple[int, int]:
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise ValueError("examples on shards need the tokenizer's cls/bos and sep/eos tokens")
    return tokenizer.cls_token_id, tokenizer.sep_token_id


class PackedBlocks(ShardDataset):
    """Full blocks of block_size tokens, specials included; the last block may be shorter."""

    def __init__(self, shards: Shards, tokenizer, block_size: int = 128, drop_last: bool = False):
        if block_size <= 2:
            raise ValueError(f"block_size={block_size} leaves no room for text beside 2 specials")
        self.shards, self.step = shards, block_size - 2
        self.cls_id, self.sep_id = _special_ids(tokenizer)
        total = shards.n_tokens
        self.n = total // self.step if drop_last else -(-total // self.step)
        if self.n == 0:
            raise ValueError(f"{shards.folder}: {total} tokens, not one block of {block_size}")

    def example(self, i: int, epoch: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(f"block {i} of {self.n}")
        start = i * self.step
        ids, starts = self.shards.tokens(start, min(start + self.step, self.shards.n_tokens))
        return _wrapped(ids, starts, self.cls_id, self.sep_id)

    def padded_batch(self, rows, pad_id: int) -> dict[str, torch.Tensor]:
        """`collator.pad_batch([self[i] for i in rows], pad_id)`, built with array operations:
        blocks are full but for the last, so a batch is nearly one (B, T) gather."""
        first = np.asarray(rows, dtype=np.int64) * self.step  # (B,) first token of each block
        lengths = np.minimum(self.step, self.shards.n_tokens - first)  # (B,)
        B, T = len(first), int(lengths.max()) + 2
        ids = np.full((B, T), pad_id, dtype=np.int64)
        starts = np.zeros((B, T), dtype=np.int64)
        for r, (a, n) in enumerate(zip(first.tolist(), lengths.tolist())):
            ids[r, 1:n + 1], starts[r, 1:n + 1] = self.shards.tokens(a, a + n)
        n = lengths[:, None]  # (B, 1) text tokens per row
        position = np.arange(T)[None, :]  # (1, T)
        text = (position >= 1) & (position <= n)
        ids[:, 0] = self.cls_id
        ids[np.arange(B), n[:, 0] + 1] = self.sep_id
        starts[:, 1] = 1  # a block may begin inside a word: that partial word is word 0
        words = np.where(text, np.cumsum(starts, axis=1) - 1, -1)
        batch = {"input_ids": ids, "attention_mask": (position <= n + 1).astype(np.int64),
                 "token_type_ids": np.zeros((B, T), dtype=np.int64),
                 "special_tokens_mask": (~text).astype(np.int64), "word_ids": words}
        return {k: torch.from_numpy(v) for k, v in batch.items()}


class LineBlocks(ShardDataset):
    """One example per non-blank line, [CLS] line [SEP], at most block_size tokens."""

    def __init__(self, shards: Shards, tokenizer, block_size: int = 128):
        if block_size < 3:
            raise ValueError(f"block_size={block_size} leaves no room for text beside 2 specials")
        self.shards, self.block_size, self.n = shards, block_size, shards.n_lines
        self.cls_id, self.sep_id = _special_ids(tokenizer)
        if self.n == 0:
            raise ValueError(f"{shards.folder}: no non-blank lines to make examples from")

    def example(self, i: int, epoch: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(f"line {i} of {self.n}")
        ids, starts = self.shards.line(i)
        keep = self.block_size - 2
        return _wrapped(ids[:keep], starts[:keep], self.cls_id, self.sep_id)


class _Sentences:
    """Some sentences (non-empty lines) of the corpus, read only when asked for, as the
    (ids, word_ids) pairs `train/data/nsp.py` works on."""

    def __init__(self, shards: Shards, lines: np.ndarray):
        self.shards, self.lines = shards, lines

    def __len__(self) -> int:
        return int(self.lines.size)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return _Sentences(self.shards, self.lines[k])
        ids, starts = self.shards.line(int(self.lines[k]))
        return ids.tolist(), word_ids(starts).tolist()

    def __iter__(self):
        return (self[k] for k in range(len(self)))


class _DocumentsWithChunk:
    """The documents as `nsp.pairs_from_document` sees them: document `doc` is replaced by
    the chunk being drawn from, every other document is whole."""

    def __init__(self, pairs: NSPPairs, doc: int, chunk: _Sentences):
        self.pairs, self.doc, self.chunk = pairs, doc, chunk

    def __len__(self) -> int:
        return len(self.pairs.doc_bounds) - 1

    def __getitem__(self, d: int) -> _Sentences:
        if d == self.doc:
            return self.chunk
        a, b = self.pairs.doc_bounds[d], self.pairs.doc_bounds[d + 1]
        return _Sentences(self.pairs.shards, self.pairs.sentences[a:b])


class NSPPairs(ShardDataset):
    """[CLS] A [SEP] B [SEP] pairs with next_sentence_label, one per chunk per epoch."""

    def __init__(self, shards: Shards, tokenizer, max_seq_length: int = 128, seed: int = 0,
                 short_seq_prob: float = 0.1, nsp_probability: float = 0.5):
        if max_seq_length < 5:
            raise ValueError(f"max_seq_length={max_seq_length} leaves no room for two segments "
                             f"and 3 special tokens")
        self.shards, self.max_seq_length, self.seed = shards, max_seq_length, seed
        self.short_seq_prob, self.nsp_probability = short_seq_prob, nsp_probability
        self.cls_id, self.sep_id = _special_ids(tokenizer)
        lengths = shards.line_lengths()
        opens_doc = np.zeros(lengths.size, dtype=np.int64)
        opens_doc[shards.doc_starts()] = 1
        doc_of_line = np.cumsum(opens_doc) - 1
        # (S,) line numbers of the non-empty lines: the one array here as long as the corpus
        self.sentences = np.flatnonzero(lengths > 0).astype(np.int32 if lengths.size < 2**31
                                                            else np.int64)
        doc = doc_of_line[self.sentences]
        first = np.ones(doc.size, dtype=bool)
        first[1:] = doc[1:] != doc[:-1]  # sentences that open a (non-empty) document
        self.doc_bounds = np.append(np.flatnonzero(first), doc.size)  # (D + 1,)
        if len(self.doc_bounds) - 1 < 2:
            raise ValueError(f"{shards.folder}: NSP needs at least 2 non-empty documents "
                             f"(separated by blank lines), found {len(self.doc_bounds) - 1}")
        self.chunk_starts = self._chunk_starts(lengths[self.sentences], first)
        self.n = int(self.chunk_starts.size)

    def _chunk_starts(self, lengths: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Sentences that open a chunk: document starts, and where a document's running token
        count crosses a multiple of max_seq_length - 3."""
        before = np.cumsum(lengths) - lengths  # tokens before each sentence, corpus-wide
        doc_base = np.maximum.accumulate(np.where(first, before, 0))
        crossed = (before - doc_base) // (self.max_seq_length - 3)
        opens = first.copy()
        opens[1:] |= crossed[1:] != crossed[:-1]
        return np.flatnonzero(opens)

    def example(self, i: int, epoch: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(f"chunk {i} of {self.n}")
        a = int(self.chunk_starts[i])
        b = int(self.chunk_starts[i + 1]) if i + 1 < self.n else self.sentences.size
        doc = int(np.searchsorted(self.doc_bounds, a, side="right")) - 1  # chunks never
        # cross documents, so the chunk's sentences a..b-1 all belong to `doc`
        chunk = _Sentences(self.shards, self.sentences[a:b])
        seed = np.random.SeedSequence([self.seed, epoch, i]).generate_state(2)
        rng = random.Random(int(seed[0]) << 32 | int(seed[1]))
        docs = _DocumentsWithChunk(self, doc, chunk)
        return nsp.pairs_from_document(docs, doc, self.max_seq_length, self.short_seq_prob,
                                       self.nsp_probability, rng, self.cls_id, self.sep_id)[0]


def open_dataset(kind: str, folder, tokenizer, tokenizer_dir, *, block_size: int = 128,
                 seed: int = 0) -> ShardDataset:
    """The dataset of `kind` ("grouped" | "lines" | "nsp") over the shards in `folder`,
    refused when they were made by another tokenizer than `tokenizer_dir`'s."""
    shards = Shards.open(folder, tokenizer_dir=tokenizer_dir)
    if kind == "grouped":
        return PackedBlocks(shards, tokenizer, block_size)
    if kind == "lines":
        return LineBlocks(shards, tokenizer, block_size)
    if kind == "nsp":
        return NSPPairs(shards, tokenizer, block_size, seed=seed)
    raise ValueError(f"unknown dataset kind {kind!r}; expected grouped, lines or nsp")
