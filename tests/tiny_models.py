"""Tiny saved models for the explorer tests: a WordPiece vocabulary of a few words and
randomly initialised BERTs (masked LM, classifier), written as Hugging Face folders."""

from __future__ import annotations

from pathlib import Path

import torch

from minibert import BertConfig, BertForMaskedLM, BertForSequenceClassification
from tokenizer import WordPieceTokenizer

WORDS = ["the", "animal", "didn", "'", "t", "cross", "street", "because", "it", "was", "too",
         "tired", ".", "cat", "sat", "on", "mat", "a", "dog", "ran", "##s", "##ed"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_config(vocab_size: int, **overrides) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2,
                      num_attention_heads=4, intermediate_size=64,
                      max_position_embeddings=64, **overrides)


def save_tiny(folder: Path, kind: str = "mlm") -> Path:
    """A tiny BertForMaskedLM ("mlm") or 2-label BertForSequenceClassification ("classifier")
    with its tokenizer, saved in `folder`."""
    vocab = {t: i for i, t in enumerate(SPECIALS + sorted(set(WORDS)))}
    tok = WordPieceTokenizer(vocab)
    torch.manual_seed(0)
    if kind == "mlm":
        model = BertForMaskedLM(tiny_config(len(vocab)))
    else:
        model = BertForSequenceClassification(tiny_config(
            len(vocab), id2label={0: "unacceptable", 1: "acceptable"}))
    model.init_weights(torch.Generator().manual_seed(0))
    model.save_pretrained(folder)
    tok.save(folder)
    return folder
