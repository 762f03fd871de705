"""minibert: BERT and RoBERTa in pure PyTorch, loading and saving Hugging Face checkpoints.

Start reading at embeddings.py, then attention.py, layers.py, heads.py, modeling_bert.py,
modeling_roberta.py; modeling_utils.py holds initialisation, tying and checkpoint I/O.
The CPU training fast paths live in dropout.py and linear.py, generation's cache in
kv_cache.py.
"""

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
                            "preset",
]
