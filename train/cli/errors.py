"""Bad input in, one line out: the CLI's error type, its argument checks, and the formatter.

A user who mistypes a flag or points at a broken file should read one line that says what is
wrong, where (the file and line, the config key or the flag) and what was expected, never a
Python traceback. So:

  * `UsageError` is raised by the `validate(args)` of each `cmd_*.py`, which runs before any
    model loads or data is read; the helpers below (`at_least`, `in_range`, ...) name the flag;
  * `one_line(exc)` turns an expected error (the project's error classes, `OSError`, bad
    data) into `minibert: error: ...`, and returns None for anything else: an unexpected
    exception is a bug in minibert, and its traceback is what a bug report needs;
  * `refuse_untrained_head` stops `predict`/`fill-mask`/`generate` from printing confident
    output from a head that was never trained, using the load report of `from_pretrained`.

Left out on purpose: localisation, colour, error codes other than 2.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path


class UsageError(ValueError):
    """A flag value that cannot work; the message names the flag."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """The exception classes that mean bad input (or a bad environment), not a bug."""
    from minibert.checkpoint import CheckpointError as ModelCheckpointError
    from minibert.config import ConfigError
    from minibert.hub import ModelNotFoundError
    from tokenizer.bpe_files import BPEFileError
    from tokenizer.wordpiece import VocabError
    from train.checkpointing import CheckpointError
    from train.data.cola import DataError
    from train.data.download import ChecksumError

    return (UsageError, DataError, ConfigError, VocabError, BPEFileError, CheckpointError,
            ModelCheckpointError, ModelNotFoundError, ChecksumError, OSError, csv.Error,
            UnicodeError, ValueError)


def one_line(exc: BaseException) -> str | None:
    """`minibert: error: ...` for an expected error; None for a bug."""
    if not isinstance(exc, expected_errors()):
        return None
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        # e.g. open() of a missing file: "No such file or directory: 'x.csv'"
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return "minibert: error: " + " ".join(text.split("\n")[0].split())


# ---- argument checks (each names its flag) ----------------------------------------------------

def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def at_least(args, names: str, low: int = 1) -> None:
    """Every named integer flag that is set is >= low."""
    for name in names.split():
        value = getattr(args, name, None)
        if value is not None and value < low:
            raise UsageError(f"{_flag(name)} {value}: must be at least {low}")


def in_range(args, name: str, low: float, high: float, *, low_open: bool = False,
             high_open: bool = False) -> None:
    """A float flag (if set) is finite and within [low, high] (open ends as asked)."""
    value = getattr(args, name, None)
    if value is None:
        return
    bad = (not math.isfinite(value) or value < low or value > high
           or (low_open and value == low) or (high_open and value == high))
    if bad:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise UsageError(f"{_flag(name)} {value}: must be in {lo}{low}, {high}{hi}")


def positive(args, names: str) -> None:
    """Every named float flag that is set is finite and > 0 (learning rates, epsilons)."""
    for name in names.split():
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{_flag(name)} {value}: must be a finite number above 0")


def non_negative(args, names: str) -> None:
    for name in names.split():
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{_flag(name)} {value}: must be a finite number, 0 or more")


SEED_MAX = 2**63 - 1  # torch.manual_seed takes a 64-bit value


def seed_ok(value: int, flag: str = "--seed") -> int:
    if not 0 <= value <= SEED_MAX:
        raise UsageError(f"{flag} {value}: a seed must be in [0, 2**63 - 1]")
    return value


def files_exist(paths, flag: str) -> None:
    for p in paths:
        if not Path(p).is_file():
            raise UsageError(f"{flag} {p}: no such file")


def fit_max_length(max_length: int | None, model_dir: str | Path, default: int = 128,
                   flag: str = "--max-length") -> int:
    """--max-length checked against the model's position table (read from config.json only);
    when not given, `default` or the model's limit if that is smaller."""
    from minibert.config import BertConfig

    config = BertConfig.from_pretrained(model_dir)
    # RoBERTa's positions start after the padding id, so those rows never hold text
    usable = config.max_position_embeddings - (config.pad_token_id + 1
                                               if config.model_type == "roberta" else 0)
    if max_length is None:
        return min(default, usable)
    if max_length < 1 or max_length > usable:
        raise UsageError(f"{flag} {max_length}: the model at {model_dir} has "
                         f"max_position_embeddings {config.max_position_embeddings}, so it "
                         f"takes 1 to {usable} tokens")
    return max_length


# ---- untrained heads --------------------------------------------------------------------------

def refuse_untrained_head(model, model_dir, allow: bool) -> None:
    """Stop (or, with --allow-untrained-head, warn loudly) when the load report says part of
    the model's head was never trained: its output would be random but look confident."""
    import sys

    report = getattr(model, "load_report", None)
    new = report.newly_initialized if report is not None else []
    if not new:
        return
    shown = ", ".join(new[:3]) + (f" and {len(new) - 3} more" if len(new) > 3 else "")
    text = (f"{model_dir}: {type(model).__name__}'s head is newly initialised (random, never "
            f"trained): {shown}; its output would mean nothing")
    if not allow:
        raise UsageError(text + "; use a checkpoint trained for this task, or pass "
                                "--allow-untrained-head to see the output anyway")
    print(f"minibert: warning: {text}", file=sys.stderr)
