"""What the models return: small dataclasses with Hugging Face's field names.

Every field a model does not produce stays None, so `out.loss` is None without labels and
`out.attentions` is None unless `output_attentions=True` was asked for. Field names follow
transformers (`last_hidden_state`, `pooler_output`, `logits`, ...) so code written against
either library reads the same.

`hidden_states` is a tuple of num_hidden_layers + 1 tensors of shape (B, T, H): the
embedding output first, then the output of every layer. `attentions` is a tuple of
num_hidden_layers tensors of shape (B, nh, T, T): softmax probabilities before dropout.

Left out on purpose: transformers' ModelOutput dict/tuple hybrid behaviour (indexing by
position or by key). Attribute access is the one way in; `to_dict()` gives the set fields.
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
