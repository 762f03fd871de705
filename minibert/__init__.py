"""minibert: BERT and RoBERTa in pure PyTorch, loading and saving Hugging Face checkpoints.

Start reading at embeddings.py, then attention.py, layers.py, heads.py, modeling_bert.py,
modeling_roberta.py; modeling_utils.py holds initialisation, tying and `from_pretrained` /
`save_pretrained` (over checkpoint.py, which reads and writes model folders, and hub.py, which
finds one by name), config.py the configuration, outputs.py what the models return,
generation.py and kv_cache.py generation and its key/value cache, auto.py the classes a
checkpoint's model_type names, tokenization.py transformers' tokenizer classes over the
hand-written tokenizers of `tokenizer/` (tokenization_utils_base.py: text to model inputs).
Code written for transformers runs with `from transformers import X` changed to
`from minibert import X` for models, configs, tokenizers and Auto classes (README: "Use it
from Python").
Every part is a plain PyTorch module (nn.Linear, nn.Dropout, nn.LayerNorm,
scaled_dot_product_attention): speed comes from PyTorch's own mechanisms, autocast
(train/device.py) and, on request, torch.compile, which the training loops apply.
"""

from .auto import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    model_class,
    tokenizer_class,
)
from .config import BertConfig, ConfigError, RobertaConfig, preset
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
from .tokenization import BertTokenizer, PreTrainedTokenizer, RobertaTokenizer
from .tokenization_utils_base import BatchEncoding

__all__ = [
    "AutoConfig",
    "AutoModel",
    "AutoModelForCausalLM",
    "AutoModelForMaskedLM",
    "AutoModelForPreTraining",
    "AutoModelForQuestionAnswering",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "AutoTokenizer",
    "BatchEncoding",
    "BertConfig",
    "BertForMaskedLM",
    "BertForNextSentencePrediction",
    "BertForPreTraining",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "BertTokenizer",
    "ConfigError",
    "KVCache",
    "PreTrainedModel",
    "PreTrainedTokenizer",
    "RobertaConfig",
    "RobertaForCausalLM",
    "RobertaForMaskedLM",
    "RobertaForSequenceClassification",
    "RobertaModel",
    "RobertaTokenizer",
    "model_class",
    "preset",
    "tokenizer_class",
]
