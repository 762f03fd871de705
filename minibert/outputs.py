"""What the models return: small dataclasses with Hugging Face's field names.

Every field a model does not produce stays None, so `out.loss` is None without labels and
`out.attentions` is None unless `output_attentions=True` was asked for. Field names follow
transformers (`last_hidden_state`, `pooler_output`, `logits`, ...) so code written against
either library reads the same.

`hidden_states` is a tuple of num_hidden_layers + 1 tensors of shape (B, T, H): the
embedding output first, then the output of every layer. `attentions` is a tuple of
num_hidden_layers tensors of shape (B, nh, T, T): softmax probabilities before dropout.

Read them as transformers' ModelOutput reads: by attribute (`out.logits`), by key
(`out["logits"]`) or by position (`out[0]`), where positions count only the fields that are
set: `out[0]` is the loss when labels were given and the logits otherwise. `to_tuple()` gives
those fields in order, `keys()` / `items()` their names, and iterating gives the names, as a
dict does (so `loss, logits = out` does NOT give tensors; `out.to_tuple()` or
`model(..., return_dict=False)` does). A field that is None is absent: `out["loss"]` without
labels is a KeyError.

Left out on purpose: writing into an output (`out["loss"] = ...`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .kv_cache import KVCache

Tensor = torch.Tensor
Tensors = tuple[torch.Tensor, ...] | None


@dataclass
class ModelOutput:
    def to_dict(self) -> dict:
        """The fields that are set (not None), by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    def to_tuple(self) -> tuple:
        """The fields that are set, in declaration order: what `out[i]` indexes."""
        return tuple(self.to_dict().values())

    def keys(self):
        return self.to_dict().keys()

    def values(self):
        return self.to_dict().values()

    def items(self):
        return self.to_dict().items()

    def __getitem__(self, key):
        """out["logits"] by name, out[0] / out[:2] by position among the set fields."""
        if isinstance(key, str):
            return self.to_dict()[key]
        return self.to_tuple()[key]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __contains__(self, key) -> bool:
        return key in self.to_dict()


@dataclass
class BaseModelOutputWithPooling(ModelOutput):
    last_hidden_state: Tensor | None = None  # (B, T, H)
    pooler_output: Tensor | None = None  # (B, H), None when the model has no pooler
    hidden_states: Tensors = None
    attentions: Tensors = None
    past_key_values: KVCache | None = None  # the cache passed in, now holding these tokens too


@dataclass
class BertForPreTrainingOutput(ModelOutput):
    loss: Tensor | None = None
    prediction_logits: Tensor | None = None  # (B, T, V)
    seq_relationship_logits: Tensor | None = None  # (B, 2)
    hidden_states: Tensors = None
    attentions: Tensors = None


@dataclass
class MaskedLMOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, T, V)
    hidden_states: Tensors = None
    attentions: Tensors = None


@dataclass
class CausalLMOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, T, V)
    hidden_states: Tensors = None
    attentions: Tensors = None
    past_key_values: KVCache | None = None


@dataclass
class NextSentencePredictorOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, 2)
    hidden_states: Tensors = None
    attentions: Tensors = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, num_labels)
    hidden_states: Tensors = None
    attentions: Tensors = None


@dataclass
class TokenClassifierOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, T, num_labels)
    hidden_states: Tensors = None
    attentions: Tensors = None


@dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    loss: Tensor | None = None
    start_logits: Tensor | None = None  # (B, T)
    end_logits: Tensor | None = None  # (B, T)
    hidden_states: Tensors = None
    attentions: Tensors = None
