"""Pretraining examples from token shards: packed blocks and lines, whatever the corpus size.

Every corpus reaches the loop the same way:
1. tokens: `text_shards(tokenizer, files)` tokenizes small text files (`pretrain --train`)
   into shards held in memory; `minibert prepare-data` (`train/data/prepare.py`) tokenizes a
   corpus of any size once into shards on disk. Both build the arrays of
   `train/data/shards.py` with the same function (`prepare.tokenize_text`): every non-blank
   line tokenized without special tokens, lines and documents (blocks of lines between blank
   lines) marked.
2. examples, built on demand from the shards by the datasets here (and
   `train/data/nsp.NSPPairs` for BERT's sentence pairs):
   - `PackedBlocks`: "group_texts" of HF's run_mlm.py: the corpus's tokens end to end, cut
     every block_size - 2 tokens, each block wrapped as [CLS] .. [SEP] (<s> .. </s> for
     RoBERTa). Every block is full but the last of the corpus, so no compute goes to padding.
   - `LineBlocks`: the KantaiBERT chapter's examples: one per non-blank line,
     [CLS] line [SEP], cut to block_size tokens (short lines are padded per batch).
   - `LineByLineTextDataset`: transformers' (former) class of that name: LineBlocks of text
     files whose `dataset[i]` is `{"input_ids": LongTensor}`, as in transformers.
3. batches: `train/data/loader.py`, one epoch order and one loader for all of them.

Examples are dicts with input_ids, token_type_ids, special_tokens_mask and word_ids (words
numbered from 0 in each example), what `train/data/collator.py` pads and masks. `example(i,
epoch)` is what the loader calls; `dataset[i]` is example i of epoch 0; `settings()` is what
a checkpoint records of the dataset, so a resume on other data is refused. Text is read by
`tokenizer.corpus.read_text` (UTF-8, a leading byte-order mark dropped, bad bytes named by
file, line and byte). Also here: `read_documents` (documents as lists of sentences, for
`nsp.create_nsp_examples`).
Left out on purpose: streaming text without preparing it, sentence splitting inside lines.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from tokenizer.corpus import read_text
from train.data.prepare import tokenize_text
from train.data.shards import Shards, word_ids


def backend(tokenizer):
    """The tokenizers-style tokenizer (`encode_batch` giving `Encoding`s) behind a
    transformers-style one, which keeps it as `backend_tokenizer` as transformers' fast
    tokenizers do; a tokenizers-style tokenizer is its own."""
    return getattr(tokenizer, "backend_tokenizer", tokenizer)


def _paths(paths) -> list:
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def text_shards(tokenizer, paths) -> Shards:
    """Text files tokenized into shards in memory, one shard per file: the tokens, lines and
    documents `minibert prepare-data` would write for the same files."""
    paths, tokenizer = _paths(paths), backend(tokenizer)
    pieces = [tokenize_text(tokenizer, read_text(p), first_starts_doc=True) for p in paths]
    return Shards.in_memory(", ".join(map(str, paths)), pieces)


class ShardDataset(torch.utils.data.Dataset):
    """What every dataset over shards offers the loader (`train/data/loader.py`):
    `example(i, epoch)`, `max_length`, the longest example it can give, and `settings()`,
    what a checkpoint records of it."""

    n: int
    max_length: int

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return self.example(i, 0)

    def example(self, i: int, epoch: int) -> dict:
        raise NotImplementedError

    def settings(self) -> dict:
        """What the examples depend on besides their number: the kind, the block size and the
        corpus (its size), so that a run resumed on other data is refused
        (`train/data/loader.data_settings`)."""
        shards = self.shards
        return {"dataset": type(self).__name__, "block_size": self.max_length,
                "corpus": f"{shards.n_tokens:,} tokens in {shards.n_lines:,} lines"}

    def head(self, k: int) -> ShardDataset:
        """The same dataset cut to its first k examples (`pretrain --max-examples`)."""
        first = copy.copy(self)
        first.n = min(self.n, k)
        return first


def _wrapped(ids: np.ndarray, starts: np.ndarray, cls_id: int, sep_id: int) -> dict:
    """[CLS] ids [SEP] as an example dict, word numbers from the word starts."""
    n = int(ids.size)
    return {"input_ids": [cls_id, *ids.tolist(), sep_id], "token_type_ids": [0] * (n + 2),
            "special_tokens_mask": [1] + [0] * n + [1],
            "word_ids": [None, *word_ids(starts).tolist(), None]}


def cls_sep_ids(tokenizer) -> tuple[int, int]:
    """(cls / bos, sep / eos): the special tokens every example is wrapped in."""
    tokenizer = backend(tokenizer)
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise ValueError("pretraining examples need the tokenizer's cls/bos and sep/eos tokens")
    return tokenizer.cls_token_id, tokenizer.sep_token_id


class PackedBlocks(ShardDataset):
    """Full blocks of block_size tokens, specials included; the last block may be shorter."""

    def __init__(self, shards: Shards, tokenizer, block_size: int = 128, drop_last: bool = False):
        if block_size <= 2:
            raise ValueError(f"block_size={block_size} leaves no room for text beside 2 specials")
        self.shards, self.step, self.max_length = shards, block_size - 2, block_size
        self.cls_id, self.sep_id = cls_sep_ids(tokenizer)
        total = shards.n_tokens
        self.n = total // self.step if drop_last else -(-total // self.step)
        if self.n == 0:
            raise ValueError(f"{shards.source}: {total} tokens, not one block of {block_size}")

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
        self.shards, self.max_length, self.n = shards, block_size, shards.n_lines
        self.cls_id, self.sep_id = cls_sep_ids(tokenizer)
        if self.n == 0:
            raise ValueError(f"{shards.source}: no non-blank lines to make examples from")

    def example(self, i: int, epoch: int) -> dict:
        if not 0 <= i < self.n:
            raise IndexError(f"line {i} of {self.n}")
        ids, starts = self.shards.line(i)
        keep = self.max_length - 2
        return _wrapped(ids[:keep], starts[:keep], self.cls_id, self.sep_id)


class LineByLineTextDataset(LineBlocks):
    """transformers' LineByLineTextDataset: every non-blank line of `file_path` (one file or
    several) one example, with special tokens, at most block_size tokens. `dataset[i]` is
    `{"input_ids": LongTensor}`; `.examples` holds the full records `example` gives."""

    def __init__(self, tokenizer, file_path, block_size: int = 128):
        super().__init__(text_shards(tokenizer, file_path), tokenizer, block_size)

    @property
    def examples(self) -> list[dict]:
        return [self.example(i, 0) for i in range(self.n)]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": torch.tensor(self.example(i, 0)["input_ids"], dtype=torch.long)}


def split_documents(text: str) -> list[list[str]]:
    """Blocks of non-blank lines separated by blank lines; each block is one document."""
    docs, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            docs.append(current)
            current = []
    if current:
        docs.append(current)
    return docs


def read_documents(paths) -> list[list[str]]:
    """Documents for NSP from one or more files (each file split at blank lines)."""
    return [doc for p in _paths(paths) for doc in split_documents(read_text(p))]
