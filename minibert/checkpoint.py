"""Reading and writing Hugging Face model folders: the checkpoint layer under
`PreTrainedModel.from_pretrained` / `save_pretrained`.

A Hugging Face model folder holds `config.json` and the weights, as `model.safetensors`
(preferred: a flat table of tensors, nothing executed on load) or `pytorch_model.bin` (a
pickle, which we open only with `torch.load(weights_only=True)`). Because minibert's module
attribute paths are Hugging Face's state-dict keys, loading is mostly matching names. The few
differences real checkpoints have are handled here, each in one small function:

  * the encoder prefix: `BertForX` keeps its encoder under `bert.`, `BertModel` is the encoder
    itself, so a key may need the prefix added or removed;
  * TensorFlow-era names: bert-base-uncased still stores `LayerNorm.gamma` / `LayerNorm.beta`
    for what PyTorch calls `LayerNorm.weight` / `LayerNorm.bias`;
  * buffers that are not weights (`embeddings.position_ids`), skipped;
  * wrapper prefixes: a state dict taken from a DistributedDataParallel model has every key
    under `module.`, one from a `torch.compile`d model under `_orig_mod.`; dropped;
  * the tied MLM decoder: its weight is the word-embedding matrix, so a file may omit it.

Values are checked too: integer tensors where the model has float weights (a quantized file)
and NaN or infinite values (a run that diverged) are refused, naming the file and key.

Name resolution (`resolve_model_dir`) lives in `minibert/hub.py`.

Tensors are cast to the dtype the model already has (float32 as built; `from_pretrained`'s
`dtype=` casts the loaded model afterwards).
Left out on purpose: sharded `.bin` files, TF/Flax checkpoints.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from tokenizer.atomic import atomic_write

from .hub import resolve_model_dir  # noqa: F401  (re-exported: part of this layer's API)

SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
TORCH_WEIGHTS = "pytorch_model.bin"

# Buffers some checkpoints carry that are recomputed, not learned.
_SKIPPED_SUFFIXES = ("embeddings.position_ids", "embeddings.token_type_ids")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded into the model, with the file and key named."""


# ---- reading ----------------------------------------------------------------------------------


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as e:  # noqa: BLE001  (safetensors raises its own error types)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a valid safetensors file ({first})") from None


def read_state_dict(model_dir: str | os.PathLike) -> tuple[dict[str, torch.Tensor], Path]:
    """The tensors of a model folder and the file they came from."""
    model_dir = Path(model_dir)
    safe, index, pt = model_dir / SAFE_WEIGHTS, model_dir / SAFE_INDEX, model_dir / TORCH_WEIGHTS
    if safe.is_file():
        return _read_safetensors(safe), safe
    if index.is_file():
        try:
            shards = sorted(
                set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            )
        except (json.JSONDecodeError, KeyError, AttributeError) as e:
            raise CheckpointError(f"{index}: not a safetensors index ({e})") from None
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(_read_safetensors(model_dir / shard))
        return state, index
    if pt.is_file():
        try:
            state = torch.load(pt, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001  (unpickling errors vary by torch version)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"{pt}: cannot be read as a weights-only PyTorch file ({first})"
                                  ) from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{pt}: expected a dict of tensors, got {type(state).__name__}")
        for key, value in state.items():
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{pt}: key '{key}' holds a {type(value).__name__}, "
                                      "not a tensor (is this a training checkpoint, not a model?)")
        return state, pt
    raise CheckpointError(
        f"{model_dir}: no weights found (looked for {SAFE_WEIGHTS}, {SAFE_INDEX}, {TORCH_WEIGHTS})")


# ---- matching names -----------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What happened to every tensor, in words a learner can act on. `source` is the full path
    of the file read; the printed report names only its folder and file."""

    source: str = ""
    loaded: list[str] = field(default_factory=list)
    newly_initialized: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    wrapper_prefix: str = ""

    def __str__(self) -> str:
        # The folder's name and the file, not `source` in full: the full path differs from one
        # machine to the next, and a log or a lesson's pasted output should read the same on all.
        where = Path(self.source)
        lines = [f"Loaded {len(self.loaded)} tensors from {Path(where.parent.name, where.name)}."]
        if self.wrapper_prefix:
            lines.append(f"  Dropped '{self.wrapper_prefix}' from every key: the weights were "
                         "saved from a wrapped model (DistributedDataParallel adds 'module.', "
                         "torch.compile '_orig_mod.').")
        if self.renamed:
            old, new = self.renamed[0]
            lines.append(f"  Renamed {len(self.renamed)} old-style names (e.g. {old} -> {new}); "
                         "TensorFlow-era BERT files call LayerNorm's weight/bias gamma/beta.")
        if self.newly_initialized:
            lines.append(f"  Newly initialised (random, needs training): "
                         f"{_short(self.newly_initialized)} - expected when you put a new head "
                         "on a pretrained encoder.")
        if self.mismatched:
            parts = [
                f"{k} {tuple(a)} in file vs {tuple(b)} in model" for k, a, b in self.mismatched
            ]
            lines.append("  Re-initialised because the shape differs: " + "; ".join(parts))
        if self.unused:
            lines.append(f"  Unused from the checkpoint: {_short(self.unused)} - weights this "
                         "model has no place for (a head it lacks, such as the pretraining "
                         "heads, or layers above its num_hidden_layers).")
        return "\n".join(lines)


def _short(names: list[str], n: int = 6) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def _rename_legacy(key: str) -> str:
    if key.endswith("LayerNorm.gamma"):
        return key[: -len("gamma")] + "weight"
    if key.endswith("LayerNorm.beta"):
        return key[: -len("beta")] + "bias"
    return key


# What torch's wrappers put in front of every key: DistributedDataParallel, torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def _wrapper_prefix(keys: list[str]) -> str:
    """The wrapper prefixes every key carries, outermost first ("" if none).

    Only a prefix on every key counts: a model's own keys never start with these names.
    """
    prefix = ""
    while True:
        for w in _WRAPPER_PREFIXES:
            if keys and all(k.startswith(prefix + w) for k in keys):
                prefix += w
                break
        else:
            return prefix


def _align_prefix(keys: set[str], model_keys: set[str], prefix: str) -> dict[str, str]:
    """Map checkpoint key -> model key, adding or removing the encoder prefix as needed."""
    mapping = {}
    p = prefix + "."
    for k in keys:
        if k in model_keys:
            mapping[k] = k
        elif prefix and p + k in model_keys:
            mapping[k] = p + k
        elif prefix and k.startswith(p) and k[len(p):] in model_keys:
            mapping[k] = k[len(p):]
        else:
            mapping[k] = k
    return mapping


def _is_encoder_key(key: str, prefix: str) -> bool:
    """Encoder weights must come from the checkpoint; heads may be new."""
    bare = key[len(prefix) + 1:] if prefix and key.startswith(prefix + ".") else key
    return bare.startswith(("embeddings.", "encoder."))


def _tied_names(model: nn.Module) -> set[str]:
    """State-dict names that share storage with another name (tied decoder weight/bias)."""
    first_name: dict[int, str] = {}
    tied = set()
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in first_name:
            tied.add(name)
        else:
            first_name[id(t)] = name
    return tied


@torch.no_grad()
def load_into(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str | os.PathLike,
              *, ignore_mismatched_sizes: bool = False) -> LoadReport:
    """Copy `state_dict` into `model`, fixing names, and report what happened: the three
    steps below (names, copies, what is left missing)."""
    report = LoadReport(source=str(source))
    prefix = getattr(model, "base_model_prefix", "")
    targets = model.state_dict(keep_vars=True)
    renamed = _checkpoint_names(state_dict, report)
    mapping = _align_prefix(set(renamed), set(targets), prefix)
    filled = _copy_tensors(renamed, mapping, targets, report, source, prefix,
                           ignore_mismatched_sizes)
    skipped = {name for name, _ in model.named_buffers()} | {k for k, _, _ in report.mismatched}
    missing = [k for k in targets if k not in filled and k not in skipped]
    encoder_missing = [k for k in missing if _is_encoder_key(k, prefix)]
    if encoder_missing:
        more = f" (and {len(encoder_missing) - 1} more)" if len(encoder_missing) > 1 else ""
        # Nothing matched at all: most likely a checkpoint of another architecture.
        example = min(renamed, key=lambda k: ("embeddings" not in k, k), default="")
        hint = (f"; none of its {len(renamed)} keys fit this {type(model).__name__} (the file "
                f"has e.g. '{example}') - is it another model type?"
                if not report.loaded and renamed else "")
        raise CheckpointError(f"{source}: encoder weight '{encoder_missing[0]}' is missing"
                              f"{more}{hint}")
    report.newly_initialized = missing
    return report


def _checkpoint_names(state_dict: dict[str, torch.Tensor], report: LoadReport
                      ) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors under today's names: a wrapper prefix (DDP's `module.`, ...)
    taken off, old-style names (gamma/beta) renamed, bookkeeping keys skipped."""
    renamed: dict[str, torch.Tensor] = {}
    wrapped = report.wrapper_prefix = _wrapper_prefix(list(state_dict))
    for key, tensor in state_dict.items():
        if key.endswith(_SKIPPED_SUFFIXES):
            continue
        unwrapped = key[len(wrapped):]
        new = _rename_legacy(unwrapped)
        if new != unwrapped:
            report.renamed.append((key, new))
        renamed[new] = tensor
    return renamed


def _copy_tensors(renamed: dict[str, torch.Tensor], mapping: dict[str, str],
                  targets: dict[str, torch.Tensor], report: LoadReport,
                  source: str | os.PathLike, prefix: str, ignore_mismatched_sizes: bool
                  ) -> set[str]:
    """Copy each tensor into the model's; returns every model name filled (all names of a
    tied tensor count as filled when one is)."""
    order = {name: i for i, name in enumerate(targets)}
    filled, filled_ids = set(), set()
    # Model order, so of a tied pair the word embeddings come first and win over a decoder
    # copy, as when transformers re-ties after loading.
    for ckpt_key in sorted(renamed, key=lambda k: (order.get(mapping[k], len(order)), k)):
        key = mapping[ckpt_key]
        if key not in targets:
            report.unused.append(ckpt_key)
            continue
        if id(targets[key]) in filled_ids:
            filled.add(key)
            report.loaded.append(key)
            continue
        src, dst = renamed[ckpt_key], targets[key]
        if src.shape != dst.shape:
            if ignore_mismatched_sizes and not _is_encoder_key(key, prefix):
                report.mismatched.append((key, tuple(src.shape), tuple(dst.shape)))
                continue
            hint = ("" if _is_encoder_key(key, prefix) else " (a head of another size: pass "
                    "ignore_mismatched_sizes=True to re-initialise it)")
            raise CheckpointError(f"{source}: key '{ckpt_key}' has shape {tuple(src.shape)} but "
                                  f"the model expects {tuple(dst.shape)}{hint}")
        _check_values(ckpt_key, src, dst, source)
        dst.copy_(src.to(dst.dtype))
        filled.add(key)
        filled_ids.add(id(dst))
        report.loaded.append(key)
    by_id: dict[int, list[str]] = {}
    for name, t in targets.items():
        by_id.setdefault(id(t), []).append(name)
    return {n for names in by_id.values() if any(n in filled for n in names) for n in names}


def _check_values(key: str, src: torch.Tensor, dst: torch.Tensor, source) -> None:
    """Refuse values that would load as something they are not: integers or booleans where
    the model has floating-point weights (quantized int8 weights cast to float, without their
    scales, compute nonsense with full confidence), and NaN or infinity (the run that wrote
    them diverged)."""
    if dst.is_floating_point() and not src.is_floating_point():
        raise CheckpointError(f"{source}: key '{key}' holds {src.dtype} values where the model "
                              f"has {dst.dtype} weights; quantized checkpoints are not "
                              f"supported (save it with floating-point weights)")
    if src.is_floating_point() and not torch.isfinite(src).all():
        bad = int((~torch.isfinite(src)).sum())
        raise CheckpointError(f"{source}: key '{key}' holds {bad:,} NaN or infinite values; "
                              f"the training run that wrote it diverged, so the model's output "
                              f"would mean nothing")


# ---- writing ------------------------------------------------------------------------------------


def save_model(model: nn.Module, directory: str | os.PathLike) -> Path:
    """config.json + model.safetensors in Hugging Face layout, each written atomically.

    safetensors refuses two names for one storage, so of each tied group only the first name
    is written (the word embeddings); loading re-ties, as transformers does too.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(directory)
    tied = _tied_names(model)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
               if k not in tied and not k.endswith(_SKIPPED_SUFFIXES)}
    atomic_write(directory / SAFE_WEIGHTS,
                 lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"}))
    return directory


def save_model_and_tokenizer(model: nn.Module, tokenizer, directory: str | os.PathLike) -> Path:
    """A model folder with its tokenizer (a `tokenizer.Tokenizer`), as training writes it.

    The tokenizer's model_max_length is capped at what the model's positions hold
    (`usable_positions`), so `tok(texts, truncation=True)` on the folder, in minibert or in
    transformers, cuts to a length the model takes; a tokenizer trained alone has no limit.
    """
    from .embeddings import usable_positions

    limit = usable_positions(model.config)
    if tokenizer.model_max_length is None or tokenizer.model_max_length > limit:
        tokenizer.model_max_length = limit
    save_model(model, directory)
    tokenizer.save(directory)
    return Path(directory)
