"""One registry from a checkpoint's `model_type` to its classes, as transformers' Auto
classes read it from config.json.

    model_class("roberta", "cls")               -> RobertaForSequenceClassification
    AutoModel.from_pretrained(DIR)              -> the base model (BertModel, RobertaModel)
    AutoModelForSequenceClassification.from_pretrained(DIR, num_labels=2)
                                                -> the class config.json's model_type names
    AutoTokenizer.from_pretrained(DIR)          -> minibert.BertTokenizer / RobertaTokenizer
    tokenizer_class("bert")                     -> tokenizer.WordPieceTokenizer (the backend)

Tasks (the short names `minibert params --head` takes): base, pretraining, mlm, nsp, cls,
token, qa, causal. Every place that turns a name into a class (the pretraining objectives,
`minibert params`, `finetune`, `predict`, `fill-mask`, `generate`, the Auto classes) asks here.

The tokenizer class follows the model type as transformers' AutoTokenizer falls back to it;
a folder without config.json (a tokenizer trained on its own) is told by its files, as
`tokenizer.load_tokenizer` does: vocab.txt is WordPiece, vocab.json + merges.txt byte-level BPE.

Left out on purpose: registering new model types at run time (the two are all minibert has).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import modeling_bert, modeling_roberta
from .config import BertConfig, RobertaConfig
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

# The hand-written tokenizers (the backends) in the `tokenizer` package, by model type.
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


class AutoConfig:
    """`AutoConfig.from_pretrained(DIR)`: a RobertaConfig or BertConfig, by model_type."""

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, **overrides: Any) -> BertConfig:
        from .hub import resolve_model_dir

        model_dir = resolve_model_dir(name_or_path)
        config = BertConfig.from_pretrained(model_dir)
        cls = RobertaConfig if config.model_type == "roberta" else BertConfig
        return cls.from_pretrained(model_dir, **overrides)


class _AutoModelFor:
    """`from_pretrained(DIR, **kwargs)`: read config.json's model_type, build the class of
    `task` for it and load the weights (`PreTrainedModel.from_pretrained`'s keywords, such as
    num_labels=2, pass through); `from_config(config)`: the same class, freshly initialised."""

    task = "base"
    task_by_type: dict[str, str] = {}  # a model type whose class for this task has another name

    @classmethod
    def _class(cls, model_type: str, task: str | None = None) -> type[PreTrainedModel]:
        return model_class(model_type, task or cls.task_by_type.get(model_type, cls.task))

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> PreTrainedModel:
        return cls._load(name_or_path, None, kwargs)

    @classmethod
    def _load(cls, name_or_path, task: str | None, kwargs: dict) -> PreTrainedModel:
        from .hub import resolve_model_dir

        model_dir = resolve_model_dir(name_or_path)
        model_type = BertConfig.from_pretrained(model_dir).model_type
        return cls._class(model_type, task).from_pretrained(model_dir, **kwargs)

    @classmethod
    def from_config(cls, config: BertConfig) -> PreTrainedModel:
        return cls._class(config.model_type)(config)


class AutoModel(_AutoModelFor):
    """The base model (BertModel, RobertaModel), or with `task` ("cls", "mlm", ...: the short
    names above) the model of that task."""

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, task: str | None = None,
                        **kwargs: Any) -> PreTrainedModel:
        return cls._load(name_or_path, task, kwargs)


class AutoModelForPreTraining(_AutoModelFor):
    task = "pretraining"
    task_by_type = {"roberta": "mlm"}  # RoBERTa pretrains with the masked LM alone


class AutoModelForMaskedLM(_AutoModelFor):
    task = "mlm"


class AutoModelForCausalLM(_AutoModelFor):
    task = "causal"


class AutoModelForSequenceClassification(_AutoModelFor):
    task = "cls"


class AutoModelForTokenClassification(_AutoModelFor):
    task = "token"


class AutoModelForQuestionAnswering(_AutoModelFor):
    task = "qa"


# transformers-style tokenizer classes (minibert/tokenization.py) by model type.
AUTO_TOKENIZERS = {"bert": "BertTokenizer", "roberta": "RobertaTokenizer"}


class AutoTokenizer:
    """`AutoTokenizer.from_pretrained(DIR)`: BertTokenizer or RobertaTokenizer, by config.json's
    model_type, or by the tokenizer files when the folder has no config.json."""

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, use_fast: bool = True, **kwargs: Any):
        """use_fast is accepted for transformers' code and changes nothing: there is one
        implementation of each tokenizer. Other keywords go to the class's from_pretrained."""
        from . import tokenization
        from .hub import resolve_model_dir

        folder = Path(name_or_path).expanduser()
        if not folder.is_dir():
            folder = resolve_model_dir(name_or_path)
        if (folder / "config.json").is_file():
            model_type = BertConfig.from_pretrained(folder).model_type
        else:
            model_type = "bert" if (folder / "vocab.txt").is_file() else "roberta"
        cls = getattr(tokenization, AUTO_TOKENIZERS[model_type])
        return cls.from_pretrained(folder, **kwargs)
