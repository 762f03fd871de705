"""How a refusal names a training setting: in the spelling of the front end that started the run.

The loops (`train/pretrain.py`, `train/finetune.py`) know their settings by the field names of
`PretrainArgs` and `FinetuneConfig` (batch_size, lr, ...). A person reaches them through one of
three front ends, each with its own words for the same setting:

    setting       "cli"               "python"       "trainer" (TrainingArguments)
    batch_size    --batch-size 8      batch_size=8   per_device_train_batch_size=8
    lr            --lr                lr             learning_rate

The front end says which it is in the args' `front_end` field ("python" unless the CLI or the
Trainer set it), and every message the loops raise names settings through `name` and `assign`
here, so "fewer than --batch-size 64" reaches a shell user and "fewer than
per_device_train_batch_size=64" a Trainer user. A setting a front end does not offer (the
Trainer has no layer_decay) spells as None, and the message leaves that advice out.

Left out: the data-preparation flags (`--tokenizer`, `--data`), which only the CLI sets.
"""

from __future__ import annotations

FRONT_ENDS = ("cli", "python", "trainer")

# the CLI's flag where it is not "--" + the setting with dashes
_CLI = {"out_dir": "--out", "config": "--config and size flags"}

# TrainingArguments' field for each loop setting it sets (train/trainer.py); None: it has none
_TRAINER = {
    "batch_size": "per_device_train_batch_size", "grad_accum": "gradient_accumulation_steps",
    "lr": "learning_rate", "epochs": "num_train_epochs", "max_steps": "max_steps",
    "warmup_steps": "warmup_steps", "weight_decay": "weight_decay",
    "max_grad_norm": "max_grad_norm", "clip": "max_grad_norm", "seed": "seed",
    "out_dir": "output_dir", "resume": "resume_from_checkpoint", "keep": "save_total_limit",
    "save_every": "save_steps", "log_every": "logging_steps", "objective": "the model's class",
    "config": "the model's config", "layer_decay": None, "shuffle": None,
}

# spelled as the Python dataclass field, except the model, which Python callers build
_PYTHON = {"config": "the model's config"}


def _check(front_end: str) -> None:
    assert front_end in FRONT_ENDS, f"front_end {front_end!r}: expected one of {FRONT_ENDS}"


def name(front_end: str, setting: str) -> str | None:
    """The setting as the front end spells it: `--batch-size`, `batch_size`,
    `per_device_train_batch_size`; None when the front end has no such setting."""
    _check(front_end)
    if front_end == "cli":
        return _CLI.get(setting, "--" + setting.replace("_", "-"))
    if front_end == "trainer":
        return _TRAINER.get(setting, setting)
    return _PYTHON.get(setting, setting)


def assign(front_end: str, setting: str, value) -> str:
    """The setting given `value`, as written there: `--batch-size 8`, `batch_size=8`,
    `per_device_train_batch_size=8` (`--resume` for a CLI switch that is on)."""
    spelled = name(front_end, setting) or setting
    if front_end == "cli":
        return spelled if value is True else f"{spelled} {value}"
    return f"{spelled}={value!r}"


def advice(front_end: str, *parts: tuple[str, str]) -> str:
    """Comma-joined advice, each part (template with {}, setting) filled with the setting's
    name; parts for settings the front end lacks are left out: `advice(f, ("a lower {}",
    "lr"), ("{} nearer 1", "layer_decay"))`."""
    said = [template.format(spelled) for template, setting in parts
            if (spelled := name(front_end, setting)) is not None]
    if len(said) > 1:  # "a, b, or c"; "a or b"
        said = [", ".join(said[:-1]) + ("," if len(said) > 2 else "") + " or " + said[-1]]
    return "try " + said[0] if said else ""
