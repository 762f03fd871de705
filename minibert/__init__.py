"""minibert: BERT and RoBERTa in pure PyTorch, loading and saving Hugging Face checkpoints.

Start reading at embeddings.py, then attention.py, layers.py, heads.py, modeling_bert.py,
modeling_roberta.py; modeling_utils.py holds initialisation, tying and checkpoint I/O,
kv_cache.py generation's key/value cache, auto.py the classes a checkpoint's model_type names.
Every part is a plain PyTorch module (nn.Linear, nn.Dropout, nn.LayerNorm,
scaled_dot_product_attention): speed comes from autocast and torch.compile, which the training
loops turn on (train/device.py).
"""

from .auto import AutoModel, AutoTokenizer, model_class, tokenizer_class
from .config import BertConfig, ConfigError, preset
from .kv_cache import KVCache
from .modeling_bert import (
    BertForMaskedLM,
    BertForNextSentencePrediction,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from .modeling_roberta import (
    RobertaForCausalLM,
    RobertaForMaskedLM,
    RobertaForSequenceClassification,
    RobertaModel,
)
from .modeling_utils import PreTrainedModel

__all__ = [
    "AutoModel",
    "AutoTokenizer",
    "BertConfig",
    "BertForMaskedLM",
    "BertForNextSentencePrediction",
    "BertForPreTraining",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "ConfigError",
    "KVCache",
    "PreTrainedModel",
    "RobertaForCausalLM",
    "RobertaForMaskedLM",
    "RobertaForSequenceClassification",
    "RobertaModel",
    "model_class",
    "preset",
    "tokenizer_class",
]
