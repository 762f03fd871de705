"""Reading and writing a byte-level BPE model: `vocab.json` and `merges.txt`.

The two files are the format OpenAI released GPT-2 in (`encoder.json`, `vocab.bpe`) and the
one Hugging Face uses for GPT-2 and RoBERTa:

    vocab.json   {"!": 0, "\\"": 1, ..., "Ġthe": 262, ...}   token -> id, a JSON object
    merges.txt   #version: 0.2                             header line
                 Ġ t                                       one merge per line, best first:
                 Ġ a                                       "left right", one space between

A merge's rank is its line order. Both parts and their concatenation must be tokens of the
vocabulary; we check that on load and name the offending line, because a mismatched pair of
files otherwise surfaces much later as a KeyError deep inside encoding.

Follows: openai/gpt-2 encoder.py (file layout), Hugging Face `tokenizers` BPE::save (header
`#version: 0.2`, vocab ordered by id). Left out: the `tokenizer.json` single-file format.
"""

from __future__ import annotations

import json
from pathlib import Path

from train.atomic import atomic_write

MERGES_HEADER = "#version: 0.2"


class BPEFileError(ValueError):
    """A vocab.json or merges.txt that cannot be used; the message names the file and line."""


def load_vocab_json(path) -> dict[str, int]:
    """Read vocab.json: a JSON object mapping each token to a distinct non-negative int id."""
    path = Path(path)
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise BPEFileError(f"{path}: not UTF-8 text ({e})") from e
    except json.JSONDecodeError as e:
        raise BPEFileError(f"{path}: not valid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    if not isinstance(vocab, dict):
        raise BPEFileError(f"{path}: expected a JSON object token -> id, got {type(vocab).__name__}")
    seen: dict[int, str] = {}
    for token, index in vocab.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise BPEFileError(f"{path}: token {token!r} has id {index!r}; expected a non-negative int")
        if index in seen:
            raise BPEFileError(f"{path}: tokens {seen[index]!r} and {token!r} both have id {index}")
        seen[index] = token
    return vocab


def parse_merges(lines, source: str = "merges.txt") -> list[tuple[str, str]]:
    """Parse the lines of merges.txt (header first); errors name `source` and the line number."""
    if not lines:
        raise BPEFileError(f"{source}: empty file; expected the header {MERGES_HEADER!r}")
    merges = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if number == 1:
            if not line.startswith("#version"):
                raise BPEFileError(
                    f"{source}:1: expected the header {MERGES_HEADER!r}, got {line[:60]!r} "
                    f"(is this a merges.txt / vocab.bpe file?)")
            continue
        if not line and all(not rest.strip("\r\n") for rest in lines[number:]):
            break  # trailing blank lines at the end of the file
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise BPEFileError(f"{source}:{number}: expected two tokens separated by one space, got {line!r}")
        merges.append((parts[0], parts[1]))
    return merges


def load_merges_txt(path) -> list[tuple[str, str]]:
    """Read merges.txt (or GPT-2's vocab.bpe) into a list of (left, right), best first."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BPEFileError(f"{path}: not UTF-8 text ({e})") from e
    return parse_merges(text.split("\n") if text else [], source=str(path))


def check_merges(vocab: dict[str, int], merges, source: str = "merges.txt") -> None:
    """Every merge's two parts and its result must be in the vocabulary; duplicates are errors.

    Line numbers in the messages count the header, so they match the file.
    """
    seen = set()
    for rank, (left, right) in enumerate(merges):
        where = f"{source}:{rank + 2}"
        for part in (left, right):
            if part not in vocab:
                raise BPEFileError(f"{where}: merge {left!r} {right!r}: part {part!r} is not in the vocabulary")
        if left + right not in vocab:
            raise BPEFileError(f"{where}: merge {left!r} {right!r}: result {left + right!r} is not in the vocabulary")
        if (left, right) in seen:
            raise BPEFileError(f"{where}: merge {left!r} {right!r} appears twice")
        seen.add((left, right))


def save_vocab_json(path, vocab: dict[str, int]) -> Path:
    """Write vocab.json ordered by id, compact and UTF-8 (as Hugging Face writes it)."""
    ordered = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    text = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_merges_txt(path, merges) -> Path:
    """Write merges.txt: the `#version: 0.2` header, then one "left right" line per merge."""
    for left, right in merges:
        assert " " not in left and " " not in right and "\n" not in left + right, (
            f"merge {left!r} {right!r} holds a space or newline; merges.txt cannot store it")
    body = "".join(f"{left} {right}\n" for left, right in merges)
    return atomic_write(path, lambda tmp: tmp.write_text(MERGES_HEADER + "\n" + body, encoding="utf-8"))
