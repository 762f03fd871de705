"""`Trainer` and `TrainingArguments`: transformers' training front door, over our own loops.

    args = TrainingArguments(output_dir="./KantaiBERT", overwrite_output_dir=True,
                             num_train_epochs=1, per_device_train_batch_size=64,
                             save_steps=10_000, save_total_limit=2)
    trainer = Trainer(model=model, args=args, data_collator=collator, train_dataset=dataset)
    trainer.train()                    # TrainOutput(global_step, training_loss, metrics)
    trainer.save_model("./KantaiBERT")

Nothing here trains. The Trainer picks the loop by the model's class and translates the
arguments to it:
- a masked LM, BertForPreTraining or a causal LM goes to `train/pretrain.py`'s `pretrain`
  (objectives "roberta", the masked-LM loss; "bert"; "causal"): a checkpoint every save_steps
  under output_dir/checkpoints (the newest save_total_limit kept), metrics.jsonl lines every
  logging_steps, train(resume_from_checkpoint=True) to continue, the model in output_dir at
  the end;
- a sequence classifier goes to `train/finetune.py`'s `set_up` and `train_epoch`, fed by a
  DataLoader over the dataset (shuffled from seed, batched by data_collator, by default
  torch's default_collate); no checkpoints on the way, as `minibert finetune` writes none.
output_dir is claimed as the CLI claims --out (`train/outdir.py`): a folder holding files
minibert did not write is refused unless overwrite_output_dir=True, and one run at a time.
Warmup counts as our loops count it (`train/optim.py`): the first step already learns.
Precision means what it means in transformers: fp16 or bf16 when asked, otherwise fp32 (not
the loops' "auto", which may pick bf16), so a chapter's run computes what it computed there.

Left out on purpose: evaluation during training (eval_strategy), callbacks, compute_metrics,
custom optimizers, several processes, warmup given as a ratio.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, default_collate

from minibert.auto import MODEL_CLASSES
from train import finetune
from train.device import pick_device
from train.outdir import output_dir as claimed
from train.pretrain import PretrainArgs, pretrain

# the model's task in minibert's registry -> the pretraining objective (None: fine-tuning)
OBJECTIVE_OF_TASK = {"mlm": "roberta", "pretraining": "bert", "causal": "causal", "cls": None}


@dataclass(init=False)
class TrainingArguments:
    """transformers' TrainingArguments, limited to the fields our loops honour (its defaults)."""

    output_dir: str = "trainer_output"
    overwrite_output_dir: bool = False
    num_train_epochs: float = 3.0
    max_steps: int = -1  # > 0: the number of optimizer steps, whatever num_train_epochs says
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    logging_steps: int = 500
    save_steps: int = 500
    save_total_limit: int | None = None  # None: keep every checkpoint
    seed: int = 42
    dataloader_num_workers: int = 0  # processes that build batches (0: this one)
    fp16: bool = False
    bf16: bool = False
    use_cpu: bool = False
    disable_tqdm: bool = False
    prediction_loss_only: bool = False  # accepted: losses are all our loops report anyway

    def __init__(self, output_dir: str | None = None, **kwargs):
        names = [f.name for f in fields(self)]
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(f"TrainingArguments: {', '.join(unknown)} not supported; minibert's "
                            f"Trainer takes {', '.join(names)}")
        for f in fields(self):
            setattr(self, f.name, kwargs.get(f.name, f.default))
        if output_dir is not None:
            self.output_dir = str(output_dir)
        self._check()

    def _check(self) -> None:
        whole = {"per_device_train_batch_size": 1, "per_device_eval_batch_size": 1,
                 "gradient_accumulation_steps": 1, "logging_steps": 1, "save_steps": 0,
                 "warmup_steps": 0, "dataloader_num_workers": 0}
        for name, low in whole.items():
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"TrainingArguments: {name}={value!r}, expected a whole "
                                 f"number >= {low}")
        if self.max_steps <= 0 and (self.num_train_epochs < 1
                                    or self.num_train_epochs != int(self.num_train_epochs)):
            raise ValueError(f"TrainingArguments: num_train_epochs={self.num_train_epochs!r}, "
                             f"expected a whole number >= 1 (for part of an epoch set max_steps)")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ValueError(f"TrainingArguments: save_total_limit={self.save_total_limit!r}, "
                             f"expected None (keep all) or a number >= 1")
        if self.fp16 and self.bf16:
            raise ValueError("TrainingArguments: fp16 and bf16 are both set; choose one")

    @property
    def precision(self) -> str:
        return "fp16" if self.fp16 else "bf16" if self.bf16 else "fp32"


class TrainOutput(NamedTuple):
    global_step: int
    training_loss: float  # the mean loss of all steps
    metrics: dict


def objective_of(model) -> str | None:
    """The pretraining objective that trains `model`, None for a sequence classifier."""
    for tasks in MODEL_CLASSES.values():
        for task, cls in tasks.items():
            if type(model) is cls and task in OBJECTIVE_OF_TASK:
                return OBJECTIVE_OF_TASK[task]
    raise TypeError(f"Trainer trains masked LMs, BertForPreTraining, causal LMs and sequence "
                    f"classifiers; got {type(model).__name__}")


class Trainer:
    """transformers' Trainer over `pretrain` and the fine-tuning steps; see the module
    docstring. processing_class (or the older tokenizer=) is saved beside the model."""

    def __init__(self, model=None, args: TrainingArguments | None = None, data_collator=None,
                 train_dataset=None, eval_dataset=None, processing_class=None, tokenizer=None):
        if model is None:
            raise ValueError("Trainer needs model=")
        self.model, self.args = model, args if args is not None else TrainingArguments()
        self.objective = objective_of(model)
        self.data_collator = data_collator
        self.train_dataset, self.eval_dataset = train_dataset, eval_dataset
        self.processing_class = processing_class if processing_class is not None else tokenizer

    def train(self, resume_from_checkpoint: bool | None = None) -> TrainOutput:
        """Train in place; the trained model (and tokenizer) is left in output_dir."""
        a = self.args
        if self.train_dataset is None or len(self.train_dataset) == 0:
            raise ValueError("Trainer.train: train_dataset is missing or empty")
        if resume_from_checkpoint not in (None, False, True):
            raise ValueError("Trainer.train: resume_from_checkpoint=True continues from the "
                             "newest checkpoint in output_dir; other values are not supported")
        start = time.perf_counter()
        with claimed(a.output_dir, "output_dir", a.overwrite_output_dir, command="Trainer"):
            if self.objective is not None:
                losses = self._pretrain(bool(resume_from_checkpoint))  # saves the model itself
            else:
                if resume_from_checkpoint:
                    raise ValueError("Trainer.train: fine-tuning writes no checkpoints, so "
                                     "there is nothing to resume from")
                losses = self._finetune()
                self.model.save_pretrained(a.output_dir)
            if self.processing_class is not None:
                self.processing_class.save_pretrained(a.output_dir)
        mean = sum(losses) / len(losses) if losses else math.nan
        epoch = len(losses) * a.gradient_accumulation_steps / self._batches_per_epoch()
        return TrainOutput(len(losses), mean, {"train_runtime": time.perf_counter() - start,
                                               "train_loss": mean, "epoch": epoch})

    def save_model(self, output_dir: str | None = None) -> Path:
        """The model (config.json, model.safetensors) and tokenizer, Hugging Face layout."""
        target = str(output_dir) if output_dir is not None else self.args.output_dir
        # the same command as train(): saving into output_dir after training adds nothing
        # foreign to it, so it needs no overwrite_output_dir
        with claimed(target, "save_model", self.args.overwrite_output_dir, command="Trainer"):
            self.model.save_pretrained(target)
            if self.processing_class is not None:
                self.processing_class.save_pretrained(target)
        return Path(target)

    @torch.no_grad()
    def evaluate(self, eval_dataset=None) -> dict[str, float]:
        """{"eval_loss": the model's loss averaged over the examples of eval_dataset}."""
        data = eval_dataset if eval_dataset is not None else self.eval_dataset
        if data is None or len(data) == 0:
            raise ValueError("Trainer.evaluate: no eval_dataset (pass one here or to Trainer)")
        was_training, device = self.model.training, next(self.model.parameters()).device
        self.model.eval()
        total = 0.0
        for batch in DataLoader(data, self.args.per_device_eval_batch_size,
                                collate_fn=self.data_collator or default_collate):
            batch = {k: v.to(device) for k, v in batch.items()}
            total += self.model(**batch).loss.item() * len(batch["input_ids"])
        self.model.train(was_training)
        return {"eval_loss": total / len(data)}

    # ---- the two loops -----------------------------------------------------------------------

    def _batches_per_epoch(self) -> int:
        return math.ceil(len(self.train_dataset) / self.args.per_device_train_batch_size)

    def _epochs(self) -> int:
        a = self.args
        if a.max_steps > 0:  # enough epochs for max_steps, as transformers runs them
            return math.ceil(a.max_steps * a.gradient_accumulation_steps
                             / self._batches_per_epoch())
        return int(a.num_train_epochs)

    def _pretrain(self, resume: bool) -> list[float]:
        a = self.args
        if self.data_collator is None:
            raise ValueError("Trainer: language-model training needs data_collator= (e.g. "
                             "DataCollatorForLanguageModeling(tokenizer, mlm=True))")
        args = PretrainArgs(
            objective=self.objective, out_dir=a.output_dir, epochs=self._epochs(),
            max_steps=a.max_steps if a.max_steps > 0 else None,
            batch_size=a.per_device_train_batch_size, grad_accum=a.gradient_accumulation_steps,
            lr=a.learning_rate, warmup_steps=a.warmup_steps, weight_decay=a.weight_decay,
            max_grad_norm=a.max_grad_norm, precision=a.precision,
            device="cpu" if a.use_cpu else "auto", seed=a.seed, save_every=a.save_steps,
            keep=a.save_total_limit, log_every=a.logging_steps, resume=resume,
            progress=not a.disable_tqdm, plot=False, num_workers=a.dataloader_num_workers,
            front_end="trainer")
        return pretrain(self.model, self.train_dataset, self.data_collator, args).losses

    def _finetune(self) -> list[float]:
        a, data = self.args, self.train_dataset
        if a.gradient_accumulation_steps != 1:
            raise ValueError("Trainer: fine-tuning has no gradient accumulation; set "
                             "gradient_accumulation_steps=1")
        epochs = self._epochs()
        total = a.max_steps if a.max_steps > 0 else self._batches_per_epoch() * epochs
        cfg = finetune.FinetuneConfig(
            lr=a.learning_rate, epochs=epochs, batch_size=a.per_device_train_batch_size,
            weight_decay=a.weight_decay, clip=a.max_grad_norm or math.inf, seed=a.seed,
            precision=a.precision, progress=not a.disable_tqdm, front_end="trainer")
        device = pick_device("cpu" if a.use_cpu else "auto")
        torch.manual_seed(a.seed)  # dropout draws from the global RNG, as in pretraining
        state = finetune.set_up(self.model, len(data), cfg, device, total_steps=total,
                                warmup_steps=a.warmup_steps)
        order, losses = torch.Generator().manual_seed(a.seed), []
        for epoch in range(1, epochs + 1):
            loader = DataLoader(data, cfg.batch_size, shuffle=True, generator=order,
                                collate_fn=self.data_collator or default_collate,
                                num_workers=a.dataloader_num_workers)
            n = min(len(loader), total - len(losses))
            batches = ({k: v.to(device) for k, v in b.items()}
                       for b in itertools.islice(loader, n))
            finetune.train_epoch(self.model, batches, n, state, cfg, f"epoch {epoch}/{epochs}",
                                 losses)
        return losses
