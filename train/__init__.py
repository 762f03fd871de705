"""train: masking, NSP, the pretraining and fine-tuning loops, metrics, checkpoints, the CLI.

What transformers users import from `transformers` for training lives here under the same
names, each beside the idea it wraps, so `from transformers import X` becomes
`from train import X`:

    LineByLineTextDataset            train/data/datasets.py
    DataCollatorForLanguageModeling  train/data/collator.py (over masking.py)
    get_linear_schedule_with_warmup  train/optim.py
    TrainingArguments, Trainer       train/trainer.py (over pretrain.py and finetune.py)
    pipeline                         train/pipelines.py (over the fill-mask, predict and
                                     generate commands)

They are imported on first use, so `import train.cli` pays for none of them.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "LineByLineTextDataset": "train.data.datasets",
    "DataCollatorForLanguageModeling": "train.data.collator",
    "get_linear_schedule_with_warmup": "train.optim",
    "TrainingArguments": "train.trainer",
    "Trainer": "train.trainer",
    "pipeline": "train.pipelines",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'train' has no attribute {name!r}")
