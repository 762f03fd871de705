"""A saved tokenizer folder's settings: tokenizer_config.json and special_tokens_map.json.

Both minibert tokenizers (WordPiece and byte-level BPE) and Hugging Face's write these
files. This is the one reader of them, and `save_tokenizer_config` the one writer of ours.
The reader takes the special token of each role (pad, unk, cls, sep, mask) and
`model_max_length`. The model-specific settings (a vocabulary's `do_lower_case`, BPE's
`add_prefix_space`) are read by each tokenizer from the raw config returned here.

Follows the layout `transformers` saves (`PreTrainedTokenizerBase.save_pretrained`), old and
new: special tokens as plain strings or as AddedToken dicts with a "content" key.
Left out on purpose: added (user) tokens, chat templates, `tokenizer.json` (the fast
tokenizers' single file; our vocab files are the ones `vocab.txt` / `vocab.json` +
`merges.txt` name).
"""

from __future__ import annotations

import json
from pathlib import Path

from .atomic import atomic_write

CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
# Hugging Face's key for each special-token role, read in this order, so that a later key wins:
# bos/eos are RoBERTa's and GPT-2's names for the cls/sep roles, cls_token/sep_token override.
# A byte-level BPE folder is saved with every key of each of its roles.
SPECIAL_TOKEN_KEYS = (("cls", "bos_token"), ("sep", "eos_token"), ("cls", "cls_token"),
                      ("sep", "sep_token"), ("unk", "unk_token"), ("pad", "pad_token"),
                      ("mask", "mask_token"))


class TokenizerConfigError(ValueError):
    """A tokenizer_config.json or special_tokens_map.json that cannot be read; names the file."""


def _read_json_object(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TokenizerConfigError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(value, dict):
        raise TokenizerConfigError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def read_tokenizer_config(directory) -> tuple[dict | None, dict]:
    """A saved tokenizer folder's settings (ours or Hugging Face's) -> (the raw
    tokenizer_config.json, or None when absent; the settings every tokenizer takes).

    The shared settings are `special_tokens` (role -> token, from special_tokens_map.json and
    tokenizer_config.json, the config winning; older HF files store AddedToken dicts, whose
    "content" is the token) and `model_max_length` (left out when HF's "no limit" 1e30)."""
    directory = Path(directory)
    config = _read_json_object(directory / CONFIG_FILE)
    special: dict[str, str] = {}
    for source in (_read_json_object(directory / SPECIAL_TOKENS_FILE), config):
        for role, key in SPECIAL_TOKEN_KEYS:
            value = (source or {}).get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if value is not None:
                special[role] = value
    settings: dict = {"special_tokens": special} if special else {}
    max_len = (config or {}).get("model_max_length")
    if isinstance(max_len, int) and max_len < 10**9:
        settings["model_max_length"] = max_len
    return config, settings


def save_tokenizer_config(directory: Path, config: dict, model_max_length: int | None) -> Path:
    """Write `config` (plus `model_max_length` when set) as the folder's tokenizer_config.json,
    atomically; each tokenizer fills `config` with its own settings and special tokens."""
    if model_max_length is not None:
        config = {**config, "model_max_length": model_max_length}
    text = json.dumps(config, indent=2) + "\n"
    return atomic_write(directory / CONFIG_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
