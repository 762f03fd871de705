"""One registry from a checkpoint's `model_type` to its classes, as transformers' Auto
classes read it from config.json.

    model_class("roberta", "cls")               -> RobertaForSequenceClassification
    AutoModel.from_pretrained(DIR)              -> the base model (BertModel, RobertaModel)
    AutoModelForSequenceClassification.from_pretrained(DIR, num_labels=2)
                                                -> the class config.json's model_type names
    saved_task(DIR)                             -> "cls", "mlm", "causal" or "base": the head
                                                   the folder's weights hold
    task_of(model)                              -> the task of a model's class
    AutoTokenizer.from_pretrained(DIR)          -> minibert.BertTokenizer / RobertaTokenizer
    load_backend_tokenizer(DIR)                 -> the hand-written tokenizer.WordPieceTokenizer
                                                   / ByteLevelBPETokenizer under it
    tokenizer_class("bert")                     -> tokenizer.WordPieceTokenizer (the backend)

Tasks (the short names `minibert params --head` takes): base, pretraining, mlm, nsp, cls,
token, qa, causal. The commands that load or build a model (the pretraining objectives,
`minibert params`, `finetune`, `predict`, `fill-mask`, `generate`, `explain`) and the Auto
classes get its class here, and the tokenizer of a model folder too.

A folder's tokenizer is told by its files first, as `tokenizer.load_tokenizer` tells them:
vocab.txt is WordPiece, vocab.json + merges.txt byte-level BPE, whatever model was trained on
it; a folder with neither (a tokenizer.json alone) goes by config.json's model_type, as
transformers' AutoTokenizer falls back to it. A tokenizer folder on its own, with no model
(`pretrain --tokenizer`, `prepare-data --tokenizer`), is opened by `tokenizer.load_tokenizer`
directly: the same rule by files, from the package below this one.

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


def task_of(model: PreTrainedModel) -> str:
    """The task ("cls", "mlm", ...) whose class `model` is an instance of (the nearest class
    in its ancestry, so a subclass keeps its parent's task)."""
    for klass in type(model).__mro__:
        for tasks in MODEL_CLASSES.values():
            for task, cls in tasks.items():
                if cls is klass:
                    return task
    raise ValueError(f"{type(model).__name__} is not one of minibert's model classes")


def saved_task(model_dir: str | os.PathLike) -> str:
    """The task whose head a model folder's weights hold: "cls" (a classifier's weights),
    "causal" (an LM head with config.json's is_decoder, where the model type has a causal LM),
    "mlm" (an LM head; BERT's pretraining checkpoints load as the masked LM), else "base".
    A token classifier's weights look like a sentence classifier's and are read as "cls": the
    folder does not say which (transformers reads config.json's `architectures`, we keep none)."""
    from .checkpoint import read_state_dict

    config = BertConfig.from_pretrained(model_dir)
    keys = set(read_state_dict(model_dir)[0])
    if any(k.endswith(("classifier.weight", "classifier.out_proj.weight")) for k in keys):
        return "cls"
    if any(k.startswith(("lm_head.", "cls.predictions.")) for k in keys):
        causal = config.is_decoder and "causal" in MODEL_CLASSES.get(config.model_type, {})
        return "causal" if causal else "mlm"
    return "base"


def tokenizer_class(model_type: str) -> type:
    """The tokenizer class a model type's checkpoints are saved with."""
    if model_type not in TOKENIZER_CLASSES:
        raise ValueError(f"model_type {model_type!r} is not one of {sorted(TOKENIZER_CLASSES)}")
    import tokenizer

    return getattr(tokenizer, TOKENIZER_CLASSES[model_type])


def _tokenizer_type(folder: Path) -> str:
    """The model type ("bert", "roberta") whose tokenizer `folder` holds: by its files, else
    by config.json's model_type."""
    from tokenizer.loading import saved_tokenizer_class

    backend = saved_tokenizer_class(folder)
    if backend is not None:
        return next(t for t, name in TOKENIZER_CLASSES.items() if name == backend.__name__)
    if (folder / "config.json").is_file():
        model_type = BertConfig.from_pretrained(folder).model_type
        tokenizer_class(model_type)  # a model type without a tokenizer of ours is refused here
        return model_type
    raise FileNotFoundError(f"{folder}: no tokenizer here (expected vocab.txt for WordPiece, "
                            f"vocab.json + merges.txt for byte-level BPE, or a config.json "
                            f"naming the model type)")


def _folder(name_or_path: str | os.PathLike) -> Path:
    from .hub import resolve_model_dir

    folder = Path(name_or_path).expanduser()
    return folder if folder.is_dir() else resolve_model_dir(name_or_path)


def load_backend_tokenizer(name_or_path: str | os.PathLike):
    """The hand-written tokenizer (`tokenizer.WordPieceTokenizer` or `ByteLevelBPETokenizer`)
    saved in a model or tokenizer folder, or under a model name the hub layer resolves."""
    folder = _folder(name_or_path)
    return tokenizer_class(_tokenizer_type(folder)).from_pretrained(folder)


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
        if task is not None:  # AutoModel.from_pretrained(dir, task)
            return model_class(model_type, task)
        task = cls.task_by_type.get(model_type, cls.task)
        have = MODEL_CLASSES.get(model_type, {})
        if have and task not in have:  # in class names: the Auto class's task is implied
            raise ValueError(f"{cls.__name__}: minibert has no such {model_type} model; the "
                             f"{model_type} classes are "
                             f"{', '.join(c.__name__ for c in have.values())}")
        return model_class(model_type, task)

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
    """`AutoTokenizer.from_pretrained(DIR)`: BertTokenizer over WordPiece or RobertaTokenizer over
    byte-level BPE, by the folder's tokenizer files, else by config.json's model_type."""

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, use_fast: bool = True, **kwargs: Any):
        """use_fast is accepted for transformers' code and changes nothing: there is one
        implementation of each tokenizer. Other keywords go to the class's from_pretrained."""
        from . import tokenization

        folder = _folder(name_or_path)
        cls = getattr(tokenization, AUTO_TOKENIZERS[_tokenizer_type(folder)])
        return cls.from_pretrained(folder, **kwargs)
