"""One registry from a checkpoint's `model_type` to its classes, as transformers' Auto
classes read it from config.json.

    model_class("roberta", "cls")        -> RobertaForSequenceClassification
    AutoModel.from_pretrained(DIR, "cls") -> the class config.json's model_type names, loaded
    tokenizer_class("bert")              -> tokenizer.WordPieceTokenizer

Tasks (the short names `minibert params --head` takes): base, pretraining, mlm, nsp, cls,
token, qa, causal. Every place that turns a name into a class (the pretraining objectives,
`minibert params`, `finetune`, `predict`, `fill-mask`, `generate`) asks here.

The tokenizer class follows the model type as transformers' AutoTokenizer falls back to it;
`tokenizer.load_tokenizer` instead tells the kind by the files a folder holds, which is what
a tokenizer trained on its own (no config.json beside it) needs.

Left out on purpose: registering new model types at run time (the two are all minibert has).
"""

from __future__ import annotations

import os
from typing import Any

from . import modeling_bert, modeling_roberta
from .config import BertConfig
from .modeling_utils import PreTrainedModel

MODEL_CLASSES: dict[str, dict[str, type[PreTrainedModel]]] = {
    "bert": {
        "base": modeling_bert.BertModel,
        "pretraining": modeling_bert.BertForPreTraining,
        "mlm": modeling_bert.BertForMaskedLM,
        "nsp": modeling_bert.BertForNextSentencePrediction,
        "cls": modeling_bert.BertForSequenceClassification,
        "token": modeling_bert.BertForTokenClassification,
        "qa": modeling_bert.BertForQuestionAnswering,
    },
    "roberta": {
        "base": modeling_roberta.RobertaModel,
        "mlm": modeling_roberta.RobertaForMaskedLM,
        "cls": modeling_roberta.RobertaForSequenceClassification,
        "causal": modeling_roberta.RobertaForCausalLM,
    },
}

# Class names in the `tokenizer` package, imported when asked for (minibert does not need it).
TOKENIZER_CLASSES = {"bert": "WordPieceTokenizer", "roberta": "ByteLevelBPETokenizer"}


def model_class(model_type: str, task: str) -> type[PreTrainedModel]:
    """The class for `task` ("cls", "mlm", ...) of a model type ("bert" or "roberta")."""
    if model_type not in MODEL_CLASSES:
        raise ValueError(f"model_type {model_type!r} is not one of {sorted(MODEL_CLASSES)}")
    tasks = MODEL_CLASSES[model_type]
    if task not in tasks:
        raise ValueError(f"task {task!r} does not exist for model_type {model_type!r}; "
                         f"choose one of {sorted(tasks)}")
    return tasks[task]


def tokenizer_class(model_type: str) -> type:
    """The tokenizer class a model type's checkpoints are saved with."""
    if model_type not in TOKENIZER_CLASSES:
        raise ValueError(f"model_type {model_type!r} is not one of {sorted(TOKENIZER_CLASSES)}")
    import tokenizer

    return getattr(tokenizer, TOKENIZER_CLASSES[model_type])


class AutoModel:
    """`AutoModel.from_pretrained(DIR, task)`: read config.json's model_type, build that
    class and load the weights (`PreTrainedModel.from_pretrained`'s keywords pass through)."""

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, task: str, **kwargs: Any
                        ) -> PreTrainedModel:
        from .hub import resolve_model_dir

        model_dir = resolve_model_dir(name_or_path)
        model_type = BertConfig.from_pretrained(model_dir).model_type
        return model_class(model_type, task).from_pretrained(model_dir, **kwargs)


class AutoTokenizer:
    """`AutoTokenizer.from_pretrained(DIR)`: the tokenizer class of config.json's model_type."""

    @staticmethod
    def from_pretrained(directory: str | os.PathLike):
        return tokenizer_class(BertConfig.from_pretrained(directory).model_type
                               ).from_pretrained(directory)
