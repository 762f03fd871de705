"""BERT: the encoder (`BertModel`) and its task models, with Hugging Face names.

    BertModel                       embeddings -> encoder -> pooler
    BertForPreTraining              + cls.predictions (masked LM) + cls.seq_relationship (NSP)
    BertForMaskedLM                 + cls.predictions
    BertForNextSentencePrediction   + cls.seq_relationship on the pooled vector
    BertForSequenceClassification   + dropout + classifier on the pooled vector
    BertForTokenClassification      + dropout + classifier on every token
    BertForQuestionAnswering        + qa_outputs: a start and an end score per token

Follows Devlin et al. 2018 (sections 3.1-3.2, figure 4) and transformers' modeling_bert for
names, losses and label conventions: label -100 is ignored; NSP label 0 means "B follows A",
1 means "B is random"; the QA loss is the mean of the start and end cross-entropies with
positions outside the sequence clamped to it and ignored.

Shapes: B batch, T sequence length, H hidden size, V vocabulary size.

Left out on purpose: multiple choice, cross-attention (encoder-decoder), inputs_embeds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import build_attention_bias, scores_dtype
from .config import BertConfig
from .embeddings import Embeddings, roberta_position_ids
from .heads import OnlyMLMHead, OnlyNSPHead, PreTrainingHeads
from .kv_cache import KVCache
from .layers import Encoder, Pooler
from .modeling_utils import PreTrainedModel
from .outputs import (
    BaseModelOutputWithPooling,
    BertForPreTrainingOutput,
    MaskedLMOutput,
    NextSentencePredictorOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

OptionalTensor = torch.Tensor | None

# ---- losses and output steps shared with RoBERTa -------------------------------------------

# The label of a position that is not scored (padding, unmasked tokens): transformers' value,
# which is also F.cross_entropy's default ignore_index.
IGNORE_INDEX = -100


def token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every position whose label is not IGNORE_INDEX."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                           ignore_index=IGNORE_INDEX)


def scored_positions(hidden: torch.Tensor, labels: torch.Tensor | None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse prediction: keep only the positions the MLM loss scores, (B, T, H) -> (N, H)
    and (B, T) -> (N,). The output layer costs T x V multiply-adds per row of H, more than a
    small encoder, and 85% of its scores are thrown away by IGNORE_INDEX; skipping those rows
    gives the same loss and gradients (ModernBERT's `sparse_prediction` does the same)."""
    if labels is None:
        raise ValueError("sparse_prediction=True needs labels: they say which positions to score")
    keep = labels != IGNORE_INDEX  # (B, T)
    return hidden[keep], labels[keep]  # (N, H), (N,)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor,
                        config: BertConfig) -> torch.Tensor:
    """Regression (MSE) for one label, cross-entropy for class ids, BCE for multi-hot labels."""
    problem = config.problem_type
    if problem is None:
        if config.num_labels == 1:
            problem = "regression"
        elif labels.dtype in (torch.long, torch.int):
            problem = "single_label_classification"
        else:
            problem = "multi_label_classification"
    if problem == "regression":
        if config.num_labels == 1:
            return F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if problem == "single_label_classification":
        return F.cross_entropy(logits.view(-1, config.num_labels), labels.view(-1))
    if problem == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    raise ValueError(f"config.problem_type {problem!r} is not one of regression, "
                     "single_label_classification, multi_label_classification")


def masked_lm_output(out: BaseModelOutputWithPooling, head: nn.Module,
                     labels: OptionalTensor, sparse_prediction: bool) -> MaskedLMOutput:
    """The masked-LM step of BertForMaskedLM and RobertaForMaskedLM: the encoder's output
    through `head` (cls or lm_head) to vocabulary logits, scored against labels if given.
    sparse_prediction: logits (N, V) only where labels are scored (`scored_positions`)."""
    hidden = out.last_hidden_state  # (B, T, H)
    if sparse_prediction:
        hidden, labels = scored_positions(hidden, labels)
    logits = head(hidden)  # (B, T, V), or (N, V)
    loss = token_loss(logits, labels) if labels is not None else None
    return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                          attentions=out.attentions)


def sequence_classifier_output(out: BaseModelOutputWithPooling, logits: torch.Tensor,
                               labels: OptionalTensor, config: BertConfig
                               ) -> SequenceClassifierOutput:
    """The output of BertForSequenceClassification and RobertaForSequenceClassification:
    their logits (B, num_labels), the loss `classification_loss` chooses if labels are given,
    and the encoder's hidden states and attentions."""
    loss = classification_loss(logits, labels, config) if labels is not None else None
    return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                    attentions=out.attentions)


def span_loss(start_logits: torch.Tensor, end_logits: torch.Tensor,
              start_positions: torch.Tensor, end_positions: torch.Tensor) -> torch.Tensor:
    """Extractive QA: mean of start and end cross-entropies; out-of-range answers are ignored."""
    ignored = start_logits.size(1)
    start = start_positions.reshape(-1).clamp(0, ignored)
    end = end_positions.reshape(-1).clamp(0, ignored)
    return (F.cross_entropy(start_logits, start, ignore_index=ignored)
            + F.cross_entropy(end_logits, end, ignore_index=ignored)) / 2


# ---- the encoder --------------------------------------------------------------------------


class BertModel(PreTrainedModel):
    base_model_prefix = "bert"
    roberta_positions = False  # RobertaModel counts positions from pad_token_id + 1

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True, causal: bool = False):
        super().__init__(config)
        self.embeddings = Embeddings(config, roberta_positions=self.roberta_positions)
        self.encoder = Encoder(config)
        self.pooler = Pooler(config) if add_pooling_layer else None
        # A decoder (RobertaForCausalLM) lets each token see only itself and the past.
        self.causal = causal or config.is_decoder
        self.post_init()

    def forward(self, input_ids: torch.Tensor, attention_mask: OptionalTensor = None,
                token_type_ids: OptionalTensor = None, position_ids: OptionalTensor = None,
                output_attentions: bool = False, output_hidden_states: bool = False,
                past_key_values: KVCache | None = None) -> BaseModelOutputWithPooling:
        """past_key_values: a KVCache (decoders only) holding P earlier tokens; input_ids are
        then the T new ones and attention_mask, if given, covers all P + T."""
        # A config built with output_attentions=True (e.g. from_pretrained(..., that)) asks
        # for them on every call, as in transformers; every task model reads them from here.
        output_attentions = output_attentions or self.config.output_attentions
        output_hidden_states = output_hidden_states or self.config.output_hidden_states
        B, T = input_ids.shape
        past = 0
        if past_key_values is not None:
            if not self.causal:
                raise ValueError("past_key_values needs a causal model (is_decoder=True): in a "
                                 "bidirectional encoder earlier tokens see the new ones too")
            past = past_key_values.length
            if position_ids is None:
                position_ids = self._cached_positions(attention_mask, past, T, input_ids.device)
        if attention_mask is not None and attention_mask.shape != (B, past + T):
            raise ValueError(f"attention_mask shape {tuple(attention_mask.shape)} != "
                             f"{(B, past + T)} (input_ids {tuple(input_ids.shape)}"
                             f"{f' after {past} cached tokens' if past else ''})")
        x = self.embeddings(input_ids, token_type_ids, position_ids)  # (B, T, H)
        bias = build_attention_bias(attention_mask, T, scores_dtype(x), self.causal, past,
                                    x.device)
        x, hidden_states, attentions = self.encoder(x, bias, output_attentions,
                                                    output_hidden_states, past_key_values)
        pooled = self.pooler(x) if self.pooler is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=x, pooler_output=pooled,
                                          hidden_states=hidden_states, attentions=attentions,
                                          past_key_values=past_key_values)

    def _cached_positions(self, attention_mask: OptionalTensor, past: int, T: int,
                          device: torch.device) -> torch.Tensor:
        """Position ids of the T new tokens after `past` cached ones, as a full run counts them."""
        if not self.roberta_positions:
            return torch.arange(past, past + T, device=device).unsqueeze(0)  # (1, T)
        pad = self.config.pad_token_id
        if attention_mask is None:
            return torch.arange(past, past + T, device=device).unsqueeze(0) + pad + 1  # (1, T)
        # RoBERTa counts real tokens only, the cached ones included: (B, P + T), keep the new.
        return roberta_position_ids(None, pad, real=attention_mask)[:, past:]  # (B, T)


# ---- task models ---------------------------------------------------------------------------


def mean_pool(hidden: torch.Tensor, attention_mask: OptionalTensor) -> torch.Tensor:
    """(B, T, H) -> (B, H): the mean over real tokens (padding, mask 0, left out), as
    sentence-transformers pools all-MiniLM-L6-v2 and its kin."""
    if attention_mask is None:
        return hidden.mean(1)
    m = attention_mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def _head_dropout(config: BertConfig) -> nn.Dropout:
    p = config.classifier_dropout
    return nn.Dropout(config.hidden_dropout_prob if p is None else p)


class BertForPreTraining(PreTrainedModel):
    base_model_prefix = "bert"

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = PreTrainingHeads(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, next_sentence_label=None, output_attentions=False,
                output_hidden_states=False, sparse_prediction=False) -> BertForPreTrainingOutput:
        """sparse_prediction: MLM logits only where labels are scored, (N, V) instead of
        (B, T, V); the same loss for less work (see `scored_positions`)."""
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states)
        hidden = out.last_hidden_state  # (B, T, H)
        if sparse_prediction:
            hidden, labels = scored_positions(hidden, labels)
        mlm_logits, nsp_logits = self.cls(hidden, out.pooler_output)
        loss = None
        # Either loss alone is useful (MLM-only pretraining); both given gives their sum.
        if labels is not None:
            loss = token_loss(mlm_logits, labels)
        if next_sentence_label is not None:
            nsp = F.cross_entropy(nsp_logits.view(-1, 2), next_sentence_label.view(-1))
            loss = nsp if loss is None else loss + nsp
        return BertForPreTrainingOutput(loss=loss, prediction_logits=mlm_logits,
                                        seq_relationship_logits=nsp_logits,
                                        hidden_states=out.hidden_states, attentions=out.attentions)


class BertForMaskedLM(PreTrainedModel):
    base_model_prefix = "bert"

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = OnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, output_attentions=False, output_hidden_states=False,
                sparse_prediction=False) -> MaskedLMOutput:
        """sparse_prediction: logits (N, V) only where labels are scored (`scored_positions`)."""
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states)
        return masked_lm_output(out, self.cls, labels, sparse_prediction)


class BertForNextSentencePrediction(PreTrainedModel):
    base_model_prefix = "bert"

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = OnlyNSPHead(config)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, next_sentence_label=None, output_attentions=False,
                output_hidden_states=False) -> NextSentencePredictorOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states)
        logits = self.cls(out.pooler_output)  # (B, 2)
        target = labels if labels is not None else next_sentence_label
        loss = F.cross_entropy(logits.view(-1, 2), target.view(-1)) if target is not None else None
        return NextSentencePredictorOutput(
            loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions
        )


class BertForSequenceClassification(PreTrainedModel):
    base_model_prefix = "bert"

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = _head_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, output_attentions=False,
                output_hidden_states=False) -> SequenceClassifierOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states)
        if self.config.classifier_pooling == "mean":
            sentence = mean_pool(out.last_hidden_state, attention_mask)  # (B, H)
        else:
            sentence = out.pooler_output  # (B, H)
        logits = self.classifier(self.dropout(sentence))  # (B, num_labels)
        return sequence_classifier_output(out, logits, labels, self.config)


class BertForTokenClassification(PreTrainedModel):
    base_model_prefix = "bert"

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = _head_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, output_attentions=False,
                output_hidden_states=False) -> TokenClassifierOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states)
        logits = self.classifier(self.dropout(out.last_hidden_state))  # (B, T, num_labels)
        loss = token_loss(logits, labels) if labels is not None else None
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                     attentions=out.attentions)


class BertForQuestionAnswering(PreTrainedModel):
    base_model_prefix = "bert"

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                start_positions=None, end_positions=None, output_attentions=False,
                output_hidden_states=False) -> QuestionAnsweringModelOutput:
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids,
                        output_attentions, output_hidden_states)
        scores = self.qa_outputs(out.last_hidden_state)  # (B, T, 2)
        start_logits, end_logits = (s.squeeze(-1).contiguous() for s in scores.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits,
                                            end_logits=end_logits,
                                            hidden_states=out.hidden_states,
                                            attentions=out.attentions)
