"""Bad input in, one line out: the CLI's error type, its argument checks, and the formatter.

A user who mistypes a flag or points at a broken file should read one line that says what is
wrong, where (the file and line, the config key or the flag) and what was expected, never a
Python traceback. So:

  * a number out of range is refused while the command line is parsed (`train/cli/flags.py`);
  * `UsageError` is raised by the `validate(args)` of each `cmd_*.py`, which runs before any
    model loads or data is read, and names the flag;
  * `one_line(exc)` turns an expected error (the project's error classes, `OSError`, bad
    data) into `minibert: error: ...`, and returns None for anything else: an unexpected
    exception is a bug in minibert, and its traceback is what a bug report needs;
  * `refuse_untrained_head` stops `predict`/`fill-mask`/`generate` from printing confident
    output from a head that was never trained, using the load report of `from_pretrained`;
  * `check_vocab` refuses a tokenizer whose ids run past the model's embedding table, and
    `warn_unknown_rate` says loudly when much of the text became the unknown token (a
    vocab.txt that does not belong to the model: every word [UNK], and no error).

Left out on purpose: localisation, colour, error codes other than 2.
"""

from __future__ import annotations

import csv
from pathlib import Path


class UsageError(ValueError):
    """A flag value that cannot work; the message names the flag."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """The exception classes that mean bad input (or a bad environment), not a bug."""
    from minibert.checkpoint import CheckpointError
    from minibert.config import ConfigError
    from minibert.hub import ModelNotFoundError
    from tokenizer.bpe_files import BPEFileError
    from tokenizer.wordpiece import VocabError
    from train.data.cola import DataError
    from train.data.download import ChecksumError
    from train.optim import NonFiniteLossError
    from train.resume import ResumeError

    return (UsageError, DataError, ConfigError, VocabError, BPEFileError, CheckpointError,
            ResumeError, ModelNotFoundError, ChecksumError, NonFiniteLossError,
            OSError, csv.Error, UnicodeError, ValueError)


def end_progress_bars() -> None:
    """Close the progress bars an error left open, so that the error's line starts a line of
    its own instead of continuing the bar's."""
    import sys

    if "tqdm" in sys.modules:
        from tqdm.std import tqdm

        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()


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


# ---- argument checks (numeric ranges are declared with the flags: train/cli/flags.py) ----

def files_exist(paths, flag: str) -> None:
    for p in paths:
        if not Path(p).is_file():
            raise UsageError(f"{flag} {p}: no such file")


def model_folder(name_or_path: str, written_by: str) -> str:
    """A command's model argument as a folder: a folder, or a name the hub layer resolves
    (the HF cache, the bundled all-MiniLM-L6-v2, a download), as every command takes it.
    written_by: what makes such a folder, said when there is none."""
    from minibert.hub import ModelNotFoundError, resolve_model_dir

    try:
        return str(resolve_model_dir(name_or_path))
    except ModelNotFoundError as e:
        raise UsageError(f"{str(e).rstrip('.')}; point at a folder written by "
                         f"{written_by}") from None


def fit_max_length(max_length: int | None, model_dir: str | Path, default: int = 128,
                   flag: str = "--max-length") -> int:
    """--max-length checked against the model's position table (read from config.json only);
    when not given, `default` or the model's limit if that is smaller."""
    from minibert.config import BertConfig
    from minibert.embeddings import usable_positions

    config = BertConfig.from_pretrained(model_dir)
    usable = usable_positions(config)
    if max_length is None:
        return min(default, usable)
    if max_length < 1 or max_length > usable:
        raise UsageError(f"{flag} {max_length}: the model at {model_dir} has "
                         f"max_position_embeddings {config.max_position_embeddings}, so it "
                         f"takes 1 to {usable} tokens")
    return max_length


# ---- untrained heads --------------------------------------------------------------------------

# How a command's user sees an untrained head's output anyway; Python callers pass their own.
ALLOW_UNTRAINED_FLAG = "pass --allow-untrained-head"


def refuse_untrained_head(model, model_dir, allow: bool,
                          how_to_allow: str = ALLOW_UNTRAINED_FLAG) -> None:
    """Stop (or, with --allow-untrained-head, warn loudly) when the load report says part of
    the model's head was never trained: its output would be random but look confident.
    `how_to_allow` completes "... or HOW to see the output anyway" in the refusal."""
    import sys

    report = getattr(model, "load_report", None)
    new = report.newly_initialized if report is not None else []
    if not new:
        return
    shown = ", ".join(new[:3]) + (f" and {len(new) - 3} more" if len(new) > 3 else "")
    text = (f"{model_dir}: {type(model).__name__}'s head is newly initialised (random, never "
            f"trained): {shown}; its output would mean nothing")
    if not allow:
        raise UsageError(f"{text}; use a checkpoint trained for this task, or {how_to_allow} "
                         "to see the output anyway")
    print(f"minibert: warning: {text}", file=sys.stderr)


# ---- tokenizer against model ------------------------------------------------------------------

UNKNOWN_WARN_RATE = 0.05  # above this share of [UNK] tokens the text has mostly been lost


def check_vocab(tokenizer, config, model_dir) -> None:
    """Refuse a tokenizer with more tokens than the model has embedding rows: its higher ids
    would index past the table. Fewer tokens than rows is normal (KantaiBERT: 52,000 rows)."""
    if tokenizer.vocab_size > config.vocab_size:
        raise UsageError(f"{model_dir}: the tokenizer has {tokenizer.vocab_size:,} tokens but "
                         f"the model has {config.vocab_size:,} embedding rows (config.json "
                         f"vocab_size); the tokenizer files belong to another model")


def warn_unknown_rate(tokenizer, encodings, source, config=None) -> float:
    """Print a warning when more than UNKNOWN_WARN_RATE of the text's tokens (specials
    aside) are the unknown token; returns the rate."""
    import sys

    unk = tokenizer.unk_token_id
    specials = set(tokenizer.all_special_ids) - {unk}
    ids = [i for e in encodings for i in e.ids if i not in specials]
    rate = sum(i == unk for i in ids) / len(ids) if ids and unk is not None else 0.0
    if rate > UNKNOWN_WARN_RATE:
        rows = (f", for a model with {config.vocab_size:,} embedding rows"
                if config is not None and config.vocab_size != tokenizer.vocab_size else "")
        print(f"minibert: warning: {rate:.0%} of the tokens of {source} are "
              f"{tokenizer.id_to_token(unk)} (the tokenizer has {tokenizer.vocab_size:,} "
              f"tokens{rows}); the model cannot read those words - is this the "
              f"model's own vocabulary?", file=sys.stderr)
    return rate
