"""Training checkpoints: everything needed to stop a run and resume it as if it never stopped.
(A model folder, config and weights only, is read and written by `minibert/checkpoint.py`.)

A checkpoint is a directory `checkpoints/step-00000123/` holding one `training_state.pt`:
the model's and optimizer's state dicts, the scheduler's, the GradScaler's (fp16 only), the
global random number generators the run draws from (Python's, torch's per rank, CUDA's; the
data order and the masks are seeded by micro-batch, `train/data/loader.py`), the data
position (micro-batches consumed), the step, the loss history, and the settings a resuming
run must share (the loop's, and the data's: `loader.data_settings`). Everything is stored as
tensors or plain Python values so that `torch.load(weights_only=True)` can read it: nothing
is unpickled that could run code. `restore_model` refuses a checkpoint whose model config
differs from the resuming run's (another --hidden-size would not fit its weights).

The directory is written with `tokenizer.atomic.atomic_dir` (fill a temporary directory, then
rename), so a crash or a kill while writing leaves the previous checkpoint as it was and never
a half-written one under a real name. After a save only the newest `keep` checkpoints stay.

Left out on purpose: sharded (per-rank) model states, safetensors for the optimizer (its
state dict is nested; torch.save with weights_only loading is safe enough here).
"""

from __future__ import annotations

import pickle
import random
import re
import shutil
from pathlib import Path

import torch

from tokenizer.atomic import atomic_dir
from train import spelling

STATE_FILE = "training_state.pt"
_STEP_DIR = re.compile(r"^step-(\d+)$")


class ResumeError(RuntimeError):
    """A training checkpoint that is missing, unreadable, or does not match the run resuming
    from it (or, starting afresh, checkpoints of another run already there)."""


# ---- random number generators ---------------------------------------------------------

def capture_rng(torch_states: torch.Tensor | None = None) -> dict:
    """The state of every RNG the run uses, as tensors and plain values.

    torch_states: the global torch RNG state of every rank stacked as (world, S); when None,
    this process's state alone (one row)."""
    version, internal, gauss = random.getstate()
    state = {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "torch": torch_states if torch_states is not None else torch.get_rng_state()[None],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, rank: int = 0) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    torch_states = state["torch"]
    if rank >= torch_states.shape[0]:
        raise ResumeError(f"checkpoint holds RNG states for {torch_states.shape[0]} "
                          f"process(es); cannot resume rank {rank}")
    torch.set_rng_state(torch_states[rank].clone())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---- finding, writing, reading ----------------------------------------------------------

def step_dir(root: str | Path, step: int) -> Path:
    return Path(root) / f"step-{step:08d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first. Temporary directories left by a
    killed write start with a dot and are never listed."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if (m := _STEP_DIR.match(p.name)) and (p / STATE_FILE).is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(root: str | Path) -> Path | None:
    found = list_checkpoints(root)
    return found[-1] if found else None


def save_checkpoint(root: str | Path, state: dict, keep: int | None = None) -> Path:
    """Write `state` (must contain an int "step") atomically, then prune to the newest `keep`."""
    if not isinstance(state.get("step"), int):
        raise TypeError("checkpoint state needs an integer 'step'")
    target = step_dir(root, state["step"])
    atomic_dir(target, lambda tmp: torch.save(state, tmp / STATE_FILE))
    if keep is not None and keep > 0:
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old)
    return target


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint directory (or its state file) with weights_only=True."""
    path = Path(path)
    file = path / STATE_FILE if path.is_dir() else path
    if not file.is_file():
        raise ResumeError(f"{file}: no training checkpoint here")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as e:  # truncated/foreign
        raise ResumeError(f"{file}: cannot read the checkpoint ({e})") from None
    for key in ("step", "model", "optimizer", "scheduler", "rng", "position"):
        if key not in state:
            raise ResumeError(
                f"{file}: missing key {key!r}; not a minibert training checkpoint"
            )
    return state


# ---- the model in a checkpoint ----------------------------------------------------------

def model_config(model: torch.nn.Module) -> dict | None:
    """The model's config as a plain dict (saved beside its weights), None if it has none."""
    config = getattr(model, "config", None)
    return config.to_dict() if config is not None else None


def restore_model(model: torch.nn.Module, state: dict, path: Path,
                  front_end: str = "python") -> None:
    """The checkpoint's weights into `model`, refused in one line when the model it was
    written from is built differently (another --hidden-size, more layers, ...); the advice
    names the model's settings as `front_end` sets them (`train/spelling.py`)."""
    same = spelling.name(front_end, "config")
    saved, mine = state.get("config"), model_config(model)
    if saved is not None and mine is not None:
        for k in sorted(set(saved) | set(mine)):
            if saved.get(k) != mine.get(k):
                raise ResumeError(f"{path}: was written from a model with {k}="
                                  f"{saved.get(k)!r}, this run builds {k}={mine.get(k)!r}; "
                                  f"resume with the same {same}")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:  # a checkpoint without its config: the shapes tell
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise ResumeError(f"{path}: its weights do not fit this run's model "
                          f"({lines[min(1, len(lines) - 1)]}); resume with the same "
                          f"{same}") from None
