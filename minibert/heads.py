"""Task heads that sit on the encoder output, with their checkpoint names.

BERT (Devlin et al. 2018, appendix A.1/A.2), under `cls.`:
    predictions.transform   dense H -> H, GELU, LayerNorm      (shared by all vocab logits)
    predictions.decoder     H -> V, weight TIED to the word embeddings, own bias
    seq_relationship        H -> 2 on the pooled [CLS] vector  (next-sentence prediction)
RoBERTa (Liu et al. 2019, fairseq's RobertaLMHead / RobertaClassificationHead):
    lm_head                 dense, GELU, layer_norm, decoder (tied), bias
    classifier              dense + tanh on <s>, then out_proj (no pooler involved)

The decoder bias is one Parameter reachable under two names (`cls.predictions.bias` and
`cls.predictions.decoder.bias`, or `lm_head.bias` and `lm_head.decoder.bias`), as in
Hugging Face checkpoints, which store both keys.

Shapes: B batch, T sequence length, H hidden size, V vocabulary size.

Left out on purpose: multiple-choice heads.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import BertConfig
from .layers import activation


class PredictionHeadTransform(nn.Module):
    """`cls.predictions.transform`: dense, activation, LayerNorm before the vocab projection."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(x)))


class LMPredictionHead(nn.Module):
    """`cls.predictions`: hidden states -> vocabulary logits (B, T, V)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = PredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(x))  # (B, T, V), or (N, V) from (N, H)


class OnlyMLMHead(nn.Module):
    """`cls` of BertForMaskedLM."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = LMPredictionHead(config)

    def forward(self, sequence_output: torch.Tensor) -> torch.Tensor:
        return self.predictions(sequence_output)


class OnlyNSPHead(nn.Module):
    """`cls` of BertForNextSentencePrediction."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        return self.seq_relationship(pooled_output)  # (B, 2)


class PreTrainingHeads(nn.Module):
    """`cls` of BertForPreTraining: masked-LM logits and next-sentence logits."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = LMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, sequence_output: torch.Tensor, pooled_output: torch.Tensor):
        return self.predictions(sequence_output), self.seq_relationship(pooled_output)


class RobertaLMHead(nn.Module):
    """`lm_head`: dense, GELU, layer_norm, decoder (tied), bias."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = activation(config.hidden_act)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(self.act(self.dense(x))))  # (B, T, V)


class RobertaClassificationHead(nn.Module):
    """`classifier`: <s> vector -> dropout, dense, tanh, dropout, out_proj -> (B, num_labels)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        p = config.classifier_dropout
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob if p is None else p)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, sequence_output: torch.Tensor) -> torch.Tensor:
        x = self.dropout(sequence_output[:, 0])  # (B, H) the <s> token
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out_proj(x)
