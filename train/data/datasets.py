"""Text files to pretraining examples: line by line, packed blocks, and documents for NSP.

- `read_text(path)`: the whole file as str, read by `tokenizer.corpus`, the one text reader:
  UTF-8, a byte-order mark at the start dropped (kant.txt starts with one), invalid UTF-8 an
  error that names the file, the line and the byte offset.
- `LineByLineTextDataset`: the KantaiBERT chapter's dataset (HF's former class of that name):
  every non-blank line is one example, tokenised with special tokens and truncated to
  block_size (128 in the chapter). Lines are independent, so short lines give short examples
  (the collator pads them per batch). As in transformers, `dataset[i]` is
  `{"input_ids": LongTensor}`; the full records below are its `.examples`.
- `GroupedTextDataset`: "group_texts" of HF's run_mlm.py, with special tokens per block: all lines
  are tokenised without specials, concatenated, cut into blocks of block_size - 2 tokens, and
  each block is wrapped as [CLS] block [SEP] (<s> block </s> for RoBERTa). Every example is full,
  so no compute goes to padding; the last, shorter block is kept unless drop_last=True.
- `read_documents(paths)`: documents for `train.data.nsp`: every file is split at blank lines, each
  block of lines is one document, each line one sentence.

Examples are dicts with input_ids, token_type_ids, special_tokens_mask and word_ids (word
numbers stay distinct across the lines joined into one block), ready for `train.data.collator`.
The tokenizer may be either flavour: a transformers-style one (minibert.RobertaTokenizer) is
read through the tokenizers-style tokenizer it wraps (`backend`).
Left out on purpose: streaming (files are read whole, as the chapter's 10.7 MB corpus allows).
Corpora larger than memory: `minibert prepare-data` tokenizes them once into shards on disk,
and `train/data/shard_datasets.py` builds these same examples from them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tokenizer.corpus import read_text


def backend(tokenizer):
    """The tokenizers-style tokenizer (`encode_batch` giving `Encoding`s) behind a
    transformers-style one, which keeps it as `backend_tokenizer` as transformers' fast
    tokenizers do; a tokenizers-style tokenizer is its own."""
    return getattr(tokenizer, "backend_tokenizer", tokenizer)


def _lines(paths) -> list[str]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    lines = []
    for p in paths:
        lines += [line for line in read_text(p).splitlines() if line.strip()]
    return lines


def _as_example(enc) -> dict:
    return {"input_ids": list(enc.ids), "token_type_ids": list(enc.type_ids),
            "special_tokens_mask": list(enc.special_tokens_mask), "word_ids": list(enc.word_ids)}


class LineByLineTextDataset(torch.utils.data.Dataset):
    """One example per non-blank line, with special tokens, at most block_size tokens long."""

    def __init__(self, tokenizer, file_path, block_size: int = 128):
        if block_size < 3:
            raise ValueError(f"block_size={block_size} leaves no room for text beside the "
                             f"special tokens")
        self.block_size = block_size
        lines = _lines(file_path)
        if not lines:
            raise ValueError(f"{file_path}: no non-blank lines to make examples from")
        encodings = backend(tokenizer).encode_batch(lines, max_length=block_size,
                                                    truncation=True)
        self.examples = [_as_example(e) for e in encodings]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": torch.tensor(self.examples[i]["input_ids"], dtype=torch.long)}


class GroupedTextDataset(torch.utils.data.Dataset):
    """All lines concatenated and cut into blocks of block_size tokens, specials included."""

    def __init__(self, tokenizer, file_path, block_size: int = 128, add_special_tokens: bool = True,
                 drop_last: bool = False):
        tokenizer = backend(tokenizer)
        n_special = 2 if add_special_tokens else 0
        if block_size <= n_special:
            raise ValueError(f"block_size={block_size} leaves no room for text beside "
                             f"{n_special} special tokens")
        if add_special_tokens and (tokenizer.cls_token_id is None
                                   or tokenizer.sep_token_id is None):
            raise ValueError("add_special_tokens=True needs the tokenizer's cls/bos and "
                             "sep/eos tokens")
        self.block_size = block_size
        ids, words, base = [], [], 0
        for enc in tokenizer.encode_batch(_lines(file_path), add_special_tokens=False):
            ids += enc.ids
            words += [None if w is None else base + w for w in enc.word_ids]
            base += 1 + max((w for w in enc.word_ids if w is not None), default=-1)
        if not ids:
            raise ValueError(f"{file_path}: no tokens to make blocks from")
        step = block_size - n_special
        stop = len(ids) - len(ids) % step if drop_last else len(ids)
        self.examples = [self._block(tokenizer, ids[s:s + step], words[s:s + step],
                                     add_special_tokens)
                         for s in range(0, stop, step)]

    @staticmethod
    def _block(tokenizer, ids, words, add_special_tokens: bool) -> dict:
        if add_special_tokens:
            ids = [tokenizer.cls_token_id] + ids + [tokenizer.sep_token_id]
            words = [None] + words + [None]
            special = [1] + [0] * (len(ids) - 2) + [1]
        else:
            special = [0] * len(ids)
        return {"input_ids": ids, "token_type_ids": [0] * len(ids), "special_tokens_mask": special,
                "word_ids": words}

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict:
        return self.examples[i]


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
    if isinstance(paths, (str, Path)):
        paths = [paths]
    docs = []
    for p in paths:
        docs += split_documents(read_text(p))
    return docs
