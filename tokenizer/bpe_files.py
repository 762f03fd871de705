"""Reading and writing a byte-level BPE model: `vocab.json` and `merges.txt`.

The two files are the format OpenAI released GPT-2 in (`encoder.json`, `vocab.bpe`) and the
one Hugging Face uses for GPT-2 and RoBERTa:

    vocab.json   {"!": 0, "\\"": 1, ..., "Ġthe": 262, ...}   token -> id, a JSON object
    merges.txt   #version: 0.2                             header line
                 Ġ t                                       one merge per line, best first:
                 Ġ a                                       "left right", one space between

Hugging Face's single-file `tokenizer.json` (what transformers 5 `save_pretrained` writes) can
be read too, when it holds a byte-level BPE: `load_tokenizer_json`.

A merge's rank is its line order. Both parts and their concatenation must be tokens of the
vocabulary; we check that on load and name the offending line, because a mismatched pair of
files otherwise surfaces much later as a KeyError deep inside encoding.

Follows: openai/gpt-2 encoder.py (file layout), Hugging Face `tokenizers` BPE::save (header
`#version: 0.2`, vocab ordered by id). Left out: writing `tokenizer.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .atomic import atomic_write

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
        raise BPEFileError(f"{path}: not valid JSON at line {e.lineno} column {e.colno}: "
                           f"{e.msg}") from e
    if not isinstance(vocab, dict):
        raise BPEFileError(f"{path}: expected a JSON object token -> id, "
                           f"got {type(vocab).__name__}")
    seen: dict[int, str] = {}
    for token, index in vocab.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise BPEFileError(f"{path}: token {token!r} has id {index!r}; expected a "
                               f"non-negative int")
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
            raise BPEFileError(f"{source}:{number}: expected two tokens separated by one space, "
                               f"got {line!r}")
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
                raise BPEFileError(f"{where}: merge {left!r} {right!r}: part {part!r} is not in "
                                   f"the vocabulary")
        if left + right not in vocab:
            raise BPEFileError(f"{where}: merge {left!r} {right!r}: result {left + right!r} is "
                               f"not in the vocabulary")
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
    text = MERGES_HEADER + "\n" + body
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load_tokenizer_json(path) -> tuple[dict[str, int], list[tuple[str, str]], dict]:
    """Read a byte-level BPE from HF's tokenizer.json -> (vocab, merges, settings).

    settings: add_prefix_space, post_processor ("roberta" or None) and lstrip_tokens, as
    ByteLevelBPETokenizer takes them. Anything that is not a plain byte-level BPE (another
    model type, a normalizer, BPE options we leave out) is refused with the reason.
    """
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BPEFileError(f"{path}: not valid JSON ({e})") from e
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise BPEFileError(f"{path}: model type {model.get('type')!r}; expected 'BPE'")
    pre = spec.get("pre_tokenizer") or {}
    if pre.get("type") != "ByteLevel" or spec.get("normalizer") is not None:
        normalizer = (spec.get("normalizer") or {}).get("type")
        raise BPEFileError(f"{path}: pre_tokenizer {pre.get('type')!r} with normalizer "
                           f"{normalizer!r}; expected ByteLevel and none")
    for option in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(option):
            raise BPEFileError(f"{path}: BPE option {option}={model[option]!r} is not supported")
    if model.get("ignore_merges"):
        raise BPEFileError(f"{path}: BPE option ignore_merges=true is not supported")
    vocab = dict(model["vocab"])
    merges = []
    for number, merge in enumerate(model.get("merges", [])):
        parts = merge.split(" ") if isinstance(merge, str) else list(merge)
        if len(parts) != 2:
            raise BPEFileError(f"{path}: model.merges[{number}] = {merge!r}; expected two tokens")
        merges.append((parts[0], parts[1]))
    lstrip = []
    for added in spec.get("added_tokens", []):
        vocab.setdefault(added["content"], added["id"])
        if added.get("lstrip"):
            lstrip.append(added["content"])
    post = (spec.get("post_processor") or {}).get("type")
    settings = {"add_prefix_space": bool(pre.get("add_prefix_space", False)),
                "post_processor": "roberta" if post == "RobertaProcessing" else None,
                "lstrip_tokens": tuple(lstrip)}
    return vocab, merges, settings
