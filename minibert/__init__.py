"""minibert: BERT and RoBERTa in pure PyTorch, loading and saving Hugging Face checkpoints.

Start reading at embeddings.py, then attention.py, layers.py, heads.py, modeling_bert.py,
modeling_roberta.py; modeling_utils.py holds initialisation, tying and checkpoint I/O.
"""

from .config import BertConfig, ConfigError, preset
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
                            "PreTrainedModel",
                            "RobertaForCausalLM",
                            "RobertaForMaskedLM",
                            "RobertaForSequenceClassification",
                            "RobertaModel",
                            "preset",
]
