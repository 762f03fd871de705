"""RoBERTa: BERT's encoder with other position ids, no NSP, and its own heads.

    RobertaModel                       BertModel with positions counted from pad_token_id + 1
    RobertaForMaskedLM                 + lm_head (dense, GELU, layer_norm, tied decoder)
    RobertaForSequenceClassification   + classifier (dense + tanh on <s>, out_proj)
    RobertaForCausalLM                 causal mask + lm_head, shifted LM loss, generate()

Follows Liu et al. 2019 and transformers' modeling_roberta for names (`roberta.`,
`lm_head.*`, `classifier.out_proj`). The task models have no pooler, as in Hugging Face's
checkpoints. RobertaForCausalLM is the KantaiBERT chapter's decoder variant: the same
network with a causal mask, trained to predict token t+1 from tokens <= t.

Shapes: B batch, T sequence length, H hidden size, V vocabulary size.

Left out on purpose: token classification / QA / multiple choice for RoBERTa, cross-attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import BertConfig, RobertaConfig
from .generation import generate as _generate
from .heads import RobertaClassificationHead, RobertaLMHead
from .kv_cache import KVCache
from .modeling_bert import (
    IGNORE_INDEX,
    BertModel,
    masked_lm_output,
    sequence_classifier_output,
    token_loss,
)
from .modeling_utils import PreTrainedModel
from .outputs import CausalLMOutput, MaskedLMOutput, SequenceClassifierOutput


def shift_labels(labels: torch.Tensor) -> torch.Tensor:
    """Causal LM targets, (B, T) -> (B, T): position t predicts token t+1, so it is scored
    against label t+1; the last position has no next token and is ignored. The one home of the
    shift: RobertaForCausalLM's loss and the pretraining loop (`train/objectives.py`) use it."""
    return F.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)


class RobertaModel(BertModel):
    config_class = RobertaConfig  # from_pretrained fills keys a config.json lacks with these
    base_model_prefix = "roberta"
    roberta_positions = True


class RobertaForMaskedLM(PreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.lm_head = RobertaLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, output_attentions=False, output_hidden_states=False,
                sparse_prediction=False) -> MaskedLMOutput:
        """sparse_prediction: logits (N, V) only where labels are scored (`scored_positions`)."""
        out = self.roberta(input_ids, attention_mask, token_type_ids, position_ids,
                           output_attentions, output_hidden_states)
        return masked_lm_output(out, self.lm_head, labels, sparse_prediction)


class RobertaForSequenceClassification(PreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.classifier = RobertaClassificationHead(config)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, output_attentions=False,
                output_hidden_states=False) -> SequenceClassifierOutput:
        out = self.roberta(input_ids, attention_mask, token_type_ids, position_ids,
                           output_attentions, output_hidden_states)
        logits = self.classifier(out.last_hidden_state)  # (B, num_labels)
        return sequence_classifier_output(out, logits, labels, self.config)


class RobertaForCausalLM(PreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"

    def __init__(self, config: BertConfig):
        # The config says so too, so a saved checkpoint loads as a decoder in transformers.
        config = config.replace(is_decoder=True)
        super().__init__(config)
        self.roberta = RobertaModel(config, add_pooling_layer=False, causal=True)
        self.lm_head = RobertaLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, output_attentions=False, output_hidden_states=False,
                past_key_values: KVCache | None = None) -> CausalLMOutput:
        """labels are the input ids themselves (-100 where not scored); shifting is done here.

        past_key_values: a KVCache (see minibert/kv_cache.py); input_ids are then only the
        tokens after those it holds, and it is returned holding these too.
        """
        out = self.roberta(input_ids, attention_mask, token_type_ids, position_ids,
                           output_attentions, output_hidden_states, past_key_values)
        logits = self.lm_head(out.last_hidden_state)  # (B, T, V)
        loss = None
        if labels is not None:
            loss = token_loss(logits.float(), shift_labels(labels))
        return CausalLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                              attentions=out.attentions, past_key_values=past_key_values)

    def generate(self, input_ids: torch.Tensor, max_new_tokens: int = 20, do_sample: bool = False,
                 temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: torch.Generator | None = None,
                 eos_token_id: int | None = None, use_cache: bool = True) -> torch.Tensor:
        """Greedy (default) or sampled continuation; see minibert.generation.generate.

        Stops at eos_token_id (default: config.eos_token_id) or when the sequence fills the
        position table.
        """
        c = self.config
        eos = c.eos_token_id if eos_token_id is None else eos_token_id
        return _generate(self, input_ids, max_new_tokens, do_sample, temperature, top_k, top_p,
                         generator, eos, pad_token_id=c.pad_token_id,
                         max_length=self.roberta.embeddings.max_length,
                         use_cache=use_cache)
