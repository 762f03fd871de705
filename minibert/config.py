"""The model configuration: one dataclass that every model in minibert is built from.

Field names are Hugging Face's, so a real `config.json` from the Hub reads straight in and
the one we write reads straight back into transformers. Defaults are bert-base-uncased.

Follows: Devlin et al. 2018 (BERT) table of sizes; Liu et al. 2019 (RoBERTa); the
KantaiBERT chapter of Rothman, *Transformers for NLP* (RobertaConfig(vocab_size=52_000,
max_position_embeddings=514, num_attention_heads=12, num_hidden_layers=6, type_vocab_size=1)).

Left out on purpose: relative position embeddings, gradient checkpointing flags, cross
attention. Fields we do not use (e.g. `architectures`, `transformers_version`) are ignored on
read, except the ones a round trip through transformers should keep (`extra`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

from tokenizer.atomic import atomic_write

CONFIG_NAME = "config.json"

# Bookkeeping written by transformers that says nothing about the network itself.
_IGNORED_KEYS = {
    "_name_or_path", "architectures", "transformers_version", "torch_dtype", "dtype",
    "gradient_checkpointing", "use_cache", "output_past", "_attn_implementation_autoset",
}


class ConfigError(ValueError):
    """A config.json that cannot describe a model (wrong type, impossible sizes)."""


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    # "bert" or "roberta": RoBERTa differs in position ids (they start at pad_token_id + 1),
    # checkpoint prefix (`roberta.`) and heads, not in the encoder itself.
    model_type: str = "bert"
    position_embedding_type: str = "absolute"
    is_decoder: bool = False
    # Return every layer's attention probabilities / hidden states without being asked per call.
    output_attentions: bool = False
    output_hidden_states: bool = False
    # Classification heads.
    num_labels: int = 2
    id2label: dict | None = None
    label2id: dict | None = None
    problem_type: str | None = None
    classifier_dropout: float | None = None
    # What BertForSequenceClassification classifies: "cls" = the pooled [CLS] vector (BERT's
    # recipe), "mean" = the mean of the last hidden states over real tokens (how sentence-
    # embedding checkpoints such as all-MiniLM-L6-v2 were trained). The name is ModernBERT's
    # config key; transformers' BertForSequenceClassification keeps the key but ignores it
    # (it always classifies the pooler output), so a "mean" checkpoint gives other logits there.
    classifier_pooling: str = "cls"
    # Unknown keys from a config.json, written back out so nothing is lost in a round trip.
    extra: dict = field(default_factory=dict, repr=False)
    # Where the values came from, for error messages (a config.json's path); not a field.
    source: InitVar[str] = "BertConfig"

    def __post_init__(self, source: str) -> None:
        self.validate(source)
        try:
            if self.id2label is not None:
                self.id2label = {int(k): str(v) for k, v in self.id2label.items()}
                self.num_labels = len(self.id2label)
            if self.label2id is not None:
                self.label2id = {str(k): int(v) for k, v in self.label2id.items()}
        except ValueError as e:
            raise ConfigError(f"{source}: id2label/label2id: {e}") from None

    def validate(self, source: str = "BertConfig") -> None:
        """Check types and sizes, naming the offending field."""
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            expected = _expected_type(f.name)
            if value is None and _optional(f.name):
                continue
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                setattr(self, f.name, float(value))
                continue
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(
                    f"{source}: key '{f.name}' must be {expected.__name__}, "
                    f"got {type(value).__name__} {value!r}"
                )
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{source}: key '{name}' must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ConfigError(
                f"{source}: hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.model_type not in ("bert", "roberta"):
            raise ConfigError(
                f"{source}: key 'model_type' must be 'bert' or 'roberta', got {self.model_type!r}"
            )
        if self.classifier_pooling not in ("cls", "mean"):
            raise ConfigError(f"{source}: key 'classifier_pooling' must be 'cls' or 'mean', "
                              f"got {self.classifier_pooling!r}")
        if self.classifier_pooling == "mean" and self.model_type != "bert":
            raise ConfigError(f"{source}: classifier_pooling 'mean' is implemented for "
                              f"model_type 'bert' only, got {self.model_type!r}")
        self._validate_ranges(source)

    def _validate_ranges(self, source: str) -> None:
        """Probabilities in [0, 1), positive scales, ids that index their tables."""
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ConfigError(f"{source}: key '{name}' must be in [0, 1), got {value}")
        for name in ("layer_norm_eps", "initializer_range"):
            if not getattr(self, name) > 0:  # also catches NaN
                raise ConfigError(f"{source}: key '{name}' must be > 0, got {getattr(self, name)}")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < self.vocab_size:
                raise ConfigError(f"{source}: key '{name}' must be in [0, vocab_size "
                                  f"{self.vocab_size}), got {value}")
        if self.num_labels < 1:
            raise ConfigError(f"{source}: key 'num_labels' must be >= 1, got {self.num_labels}")

    # ---- dict / json -------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict, source: str = "config", **overrides: Any) -> BertConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(d).__name__}")
        values = {**d, **overrides}
        old_names = d.get("id2label")
        if ("num_labels" in overrides and "id2label" not in overrides
                and isinstance(old_names, dict) and len(old_names) != overrides["num_labels"]):
            # A new head with its own label count: the file's label names were the old head's.
            values.pop("id2label")
            values.pop("label2id", None)
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs = {k: v for k, v in values.items() if k in known}
        extra = {k: v for k, v in values.items() if k not in known and k not in _IGNORED_KEYS}
        return cls(**kwargs, extra=extra, source=source)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        d.update(self.extra)
        if self.id2label is None:
            d["id2label"] = {str(i): f"LABEL_{i}" for i in range(self.num_labels)}
            d["label2id"] = {f"LABEL_{i}": i for i in range(self.num_labels)}
        else:
            d["id2label"] = {str(k): v for k, v in self.id2label.items()}
        d.pop("num_labels")  # transformers derives it from id2label
        for k in ("bos_token_id", "eos_token_id", "problem_type", "classifier_dropout"):
            if d[k] is None:
                d.pop(k)
        if d["classifier_pooling"] == "cls":  # the default: keep BERT's config.json unchanged
            d.pop("classifier_pooling")
        for k in ("output_attentions", "output_hidden_states"):
            if not d[k]:
                d.pop(k)
        return d

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, **overrides: Any) -> BertConfig:
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
        return cls.from_dict(d, source=str(path), **overrides)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **overrides: Any) -> BertConfig:
        path = Path(path)
        return cls.from_json_file(path / CONFIG_NAME if path.is_dir() else path, **overrides)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        text = self.to_json_string()
        return atomic_write(Path(directory) / CONFIG_NAME,
                            lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def replace(self, **changes: Any) -> BertConfig:
        return dataclasses.replace(self, **changes)


@dataclass
class RobertaConfig(BertConfig):
    """BertConfig with the defaults of transformers' RobertaConfig: model_type "roberta", a
    50,265-token vocabulary and RoBERTa's special-token ids (<s>=0, <pad>=1, </s>=2, which a
    byte-level BPE trained with special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    also gets). The other defaults are BERT's, as there: roberta-base's own config.json sets
    514 positions, one token type and layer_norm_eps 1e-5 (see the "roberta-base" preset)."""

    vocab_size: int = 50265
    pad_token_id: int = 1
    bos_token_id: int | None = 0
    eos_token_id: int | None = 2
    model_type: str = "roberta"
    source: InitVar[str] = "RobertaConfig"


_OPTIONAL = {"bos_token_id", "eos_token_id", "id2label", "label2id", "problem_type",
             "classifier_dropout"}
_TYPES = {
    "hidden_act": str,
    "classifier_pooling": str,
    "model_type": str,
    "position_embedding_type": str,
    "is_decoder": bool,
    "output_attentions": bool,
    "output_hidden_states": bool,
    "id2label": dict,
    "label2id": dict,
    "problem_type": str,
    "hidden_dropout_prob": float,
    "attention_probs_dropout_prob": float,
    "initializer_range": float,
    "layer_norm_eps": float,
    "classifier_dropout": float,
}


def _optional(name: str) -> bool:
    return name in _OPTIONAL


def _expected_type(name: str) -> type:
    return _TYPES.get(name, int)


# ---- presets ------------------------------------------------------------------------------

PRESETS: dict[str, dict] = {
    "bert-base-uncased": {},
    "bert-large-uncased": {
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 4096,
    },
    "roberta-base": {
        "model_type": "roberta",
        "vocab_size": 50265,
        "max_position_embeddings": 514,
        "type_vocab_size": 1,
        "layer_norm_eps": 1e-5,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
    },
    # The KantaiBERT chapter's RobertaConfig. Its tokenizer puts <s>=0, <pad>=1, </s>=2.
    "kantaibert": {
        "model_type": "roberta",
        "vocab_size": 52000,
        "max_position_embeddings": 514,
        "num_attention_heads": 12,
        "num_hidden_layers": 6,
        "type_vocab_size": 1,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
    },
}


def preset(name: str, **overrides: Any) -> BertConfig:
    """A named configuration: bert-base-uncased, bert-large-uncased, roberta-base, kantaibert."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return BertConfig(**{**PRESETS[name], **overrides})
