"""Reading a training corpus for byte-level BPE: files or strings -> counts of GPT-2 words.

BPE training never needs the corpus twice: it only needs how often each pre-tokenized word
occurs. So we stream the input once, a line at a time, and keep a Counter of words; a
multi-gigabyte corpus costs memory in proportion to its distinct words, not its size.

Choices, each the same as Hugging Face `tokenizers` unless said otherwise:
- Files are read line by line, each line keeping its `\\n` (and a `\\r` before it), and each line
  is pre-tokenized on its own. (Whole-file pre-tokenization would differ at line ends, e.g. a
  line ending in spaces.) An iterator of strings: each string is one unit.
- Invalid UTF-8 (policy): `errors="strict"` (default) stops with an error naming the file, the
  line and the byte offset; `errors="replace"` reads the bad bytes as U+FFFD and goes on.
  HF `tokenizers` stops with an error that names neither.
- A UTF-8 byte-order mark at the start of a file is kept as the character U+FEFF, as HF does
  (so that both learn the same merges: over many BOM-headed files "ï»¿" gets merged);
  `strip_bom=True` drops it.

Left out: normalizers (lower-casing, NFKC), parallel counting.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from tqdm.auto import tqdm

from .bytelevel import GPT2_SPLIT

BOM = b"\xef\xbb\xbf"


def _decode_line(raw: bytes, path: Path, number: int, offset: int, errors: str) -> str:
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path}: invalid UTF-8 at byte offset {offset + e.start} (line {number}): "
            f"{raw[max(0, e.start - 10) : e.end + 10]!r}; pass errors='replace' to read such "
            f"bytes as U+FFFD"
        ) from None


def _lines_and_sizes(path, errors: str, strip_bom: bool):
    """Yield (line with its ending, its size in bytes) for each line of a UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: corpus file not found")
    offset = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            start = 3 if strip_bom and number == 1 and raw.startswith(BOM) else 0
            yield _decode_line(raw[start:], path, number, offset + start, errors), len(raw)
            offset += len(raw)


def iter_file_lines(path, errors: str = "strict", strip_bom: bool = False):
    """Yield the lines of a UTF-8 file with their line endings."""
    for line, _ in _lines_and_sizes(path, errors, strip_bom):
        yield line


def _is_file(name: str) -> bool:
    try:
        return "\n" not in name and Path(name).is_file()
    except (OSError, ValueError):  # too long for a path, or holds NUL
        return False


def _is_file_list(source) -> bool:
    """A path, or a list of paths (str entries count as paths only if they all exist)."""
    if isinstance(source, (str, os.PathLike)):
        return True
    if not isinstance(source, (list, tuple)) or not source:
        return False
    if any(isinstance(s, os.PathLike) for s in source):
        return True
    if not all(isinstance(s, str) for s in source):
        return False
    exists = [_is_file(s) for s in source]
    if any(exists) and not all(exists):
        missing = [s for s in source if not Path(s).is_file()]
        raise FileNotFoundError(f"corpus file(s) not found: {missing[:3]}")
    return bool(exists) and all(exists) and len(exists) == len(source)


def count_words(source, errors: str = "strict", strip_bom: bool = False,
                show_progress: bool = False) -> Counter:
    """Count GPT-2 words (raw text, not byte-mapped) in files or in an iterator of strings.

    `source`: a path, a list of paths, or any iterable of str. A list of str is read as
    paths if every entry is an existing file, else as texts. `show_progress`: a bar over the
    bytes of the files (or the count of texts).
    """
    if errors not in ("strict", "replace"):
        raise ValueError(f"errors={errors!r}; expected 'strict' or 'replace'")
    counts: Counter = Counter()
    findall = GPT2_SPLIT.findall
    if _is_file_list(source):
        paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        total = sum(Path(p).stat().st_size for p in paths if Path(p).is_file())
        with tqdm(total=total, unit="B", unit_scale=True, desc="counting words",
                  disable=not show_progress, mininterval=0.5) as bar:
            for path in paths:
                done = 0
                for number, (line, size) in enumerate(_lines_and_sizes(path, errors, strip_bom)):
                    counts.update(findall(line))
                    done += size
                    if number % 4096 == 4095:
                        bar.update(done)
                        done = 0
                bar.update(done)
        where = ", ".join(str(p) for p in paths)
    else:
        with tqdm(
            unit=" texts", desc="counting words", disable=not show_progress, mininterval=0.5
        ) as bar:
            for i, text in enumerate(source):
                if not isinstance(text, str):
                    raise TypeError(
                        f"item {i} of the training iterator is {type(text).__name__}, expected str"
                    )
                counts.update(findall(text))
                bar.update(1)
        where = "the given iterator"
    if not counts:
        raise ValueError(f"empty corpus: no text to train on in {where}")
    return counts
