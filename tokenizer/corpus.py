"""Reading text files: the one reader, and the one policy, for every corpus minibert reads.

The tokenizer trainers (bpe_trainer.py, wordpiece_trainer.py), the pretraining datasets
(train/data/datasets.py), the shard writer's workers (train/data/prepare.py, one byte range of
a file each: `read_span`) and the CSV readers (train/data/csv_file.py, cola.py: `check_utf8`
when Python's decoder gives up) all read text through here, so a file gives the same text, and
a broken one the same error, wherever it goes. It lives in `tokenizer/` because that is the
lowest package that reads text, and imports no other package of ours.

The policy:
- UTF-8, streamed a line at a time: a corpus of many gigabytes costs memory only for what the
  caller keeps (the trainers keep word counts). Each line keeps its ending (`\\n`, or `\\r\\n`),
  so the lines joined give back the file exactly.
- A byte-order mark (EF BB BF) at the start of a file is dropped: it says how the file is
  encoded, it is not text. (Hugging Face `tokenizers`' trainers keep it as U+FEFF. WordPiece
  cleaning deletes that character anyway; byte-level BPE would otherwise learn "ï»¿" as a token
  from a corpus of BOM-headed files.) A BOM inside a file, or in a string, is left alone.
- Invalid UTF-8: `errors="strict"` (the default) stops with a `CorpusError` naming the file,
  the line and the byte offset in the file (Python's own error gives a position in the chunk
  it was decoding, which names neither); `errors="replace"` reads each bad byte as U+FFFD.
  Lines are counted at `\\n`, so a CRLF file gets the line numbers an editor shows.
- A missing file is a `FileNotFoundError` naming it.

A training source is a path, a list of paths, or any iterable of str (each str one piece of
text). A list of str counts as paths when every entry is an existing file, as texts when none
is; a mix is an error naming the missing files.
Left out: other encodings (convert with `iconv` first), compressed files, parallel reading.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tqdm.auto import tqdm

BOM = b"\xef\xbb\xbf"
ERRORS = ("strict", "replace")
# Progress bars appear only when counting runs longer than this, so short runs stay quiet.
BAR_DELAY_S = 2.0


class CorpusError(ValueError):
    """A text file that cannot be read as asked; the message names the file, line and byte."""


def check_errors(errors: str) -> str:
    if errors not in ERRORS:
        raise ValueError(f"errors={errors!r}; expected 'strict' (stop at invalid UTF-8) or "
                         f"'replace' (read such bytes as U+FFFD)")
    return errors


def _decode(raw: bytes, path: Path, number: int, offset: int, errors: str) -> str:
    """One line's bytes -> str; `offset` is where they start in the file."""
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        context = raw[max(0, e.start - 10):e.end + 10]
        raise CorpusError(
            f"{path}: line {number} (byte {offset + e.start}) is not valid UTF-8: {e.reason} "
            f"in {context!r}; convert the file to UTF-8") from None


def _decode_lines(f, path: Path, first: int, offset: int,
                  errors: str) -> Iterator[tuple[str, int]]:
    """Decode the lines of the binary stream `f`, which starts at line `first`, byte
    `offset` of the file `path` (the BOM is dropped only at byte 0)."""
    for number, raw in enumerate(f, start=first):
        start = len(BOM) if offset == 0 and raw.startswith(BOM) else 0
        yield _decode(raw[start:], path, number, offset + start, errors), len(raw)
        offset += len(raw)


def _existing(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found (expected a UTF-8 text file)")
    return path


def lines_and_sizes(path, errors: str = "strict") -> Iterator[tuple[str, int]]:
    """(line with its ending, its size in bytes) for each line of a UTF-8 file."""
    check_errors(errors)
    path = _existing(path)
    with open(path, "rb") as f:
        yield from _decode_lines(f, path, 1, 0, errors)


def read_lines(path, errors: str = "strict") -> Iterator[str]:
    """The lines of a UTF-8 file with their endings, streamed; see the policy above."""
    for line, _ in lines_and_sizes(path, errors):
        yield line


def read_text(path, errors: str = "strict") -> str:
    """A whole UTF-8 file as one str, read by the same policy as `read_lines`."""
    return "".join(read_lines(path, errors))


def check_utf8(path) -> None:
    """Read a whole file by the policy above and keep nothing: a `CorpusError` names the first
    line that is not UTF-8. For a command that refuses a bad file before it starts work, and
    for readers that parse a file their own way (csv) and need the place of a decode error."""
    for _ in lines_and_sizes(path):
        pass


def _line_number(path: Path, offset: int, chunk: int = 1 << 20) -> int:
    """The number of the line that byte `offset` of the file is on (counting from 1)."""
    newlines = 0
    with open(path, "rb") as f:
        while offset > 0:
            data = f.read(min(chunk, offset))
            newlines += data.count(b"\n")
            offset -= len(data)
    return newlines + 1


def read_span(path, start: int, end: int, errors: str = "strict") -> str:
    """Bytes `start` to `end` of a UTF-8 file as one str, by the policy above: one piece of a
    large file, decoded on its own by a worker. `start` must begin a line (0, or just after a
    newline), so an error names the line as the whole file counts it."""
    check_errors(errors)
    path = _existing(path)
    with open(path, "rb") as f:
        f.seek(start)
        raw = f.read(end - start)
    skip = len(BOM) if start == 0 and raw.startswith(BOM) else 0
    try:
        return raw[skip:].decode("utf-8", errors=errors)
    except UnicodeDecodeError:  # decoding it again a line at a time names the line and byte
        for _ in _decode_lines(io.BytesIO(raw), path, _line_number(path, start), start, errors):
            pass
        raise


def _is_file(name: str) -> bool:
    try:
        return "\n" not in name and Path(name).is_file()
    except (OSError, ValueError):  # too long for a path, or holds NUL
        return False


def is_file_list(source) -> bool:
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
        missing = [s for s, ok in zip(source, exists) if not ok]
        raise FileNotFoundError(f"corpus file(s) not found: {missing[:3]}")
    return all(exists)


def _count_files(paths: list, split, counts: Counter, errors: str, show_progress: bool) -> None:
    total = sum(Path(p).stat().st_size for p in paths if Path(p).is_file())
    with tqdm(total=total, unit="B", unit_scale=True, desc="counting words",
              disable=not show_progress, delay=BAR_DELAY_S) as bar:
        for path in paths:
            done = 0
            for number, (line, size) in enumerate(lines_and_sizes(path, errors)):
                counts.update(split(line))
                done += size
                if number % 4096 == 4095:
                    bar.update(done)
                    done = 0
            bar.update(done)


def _count_texts(texts: Iterable, split, counts: Counter, show_progress: bool) -> None:
    with tqdm(unit=" texts", desc="counting words", disable=not show_progress,
              delay=BAR_DELAY_S) as bar:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"item {i} of the training texts is {type(text).__name__}, "
                                f"expected str")
            counts.update(split(text))
            bar.update(1)


def count_words(source, split: Callable[[str], list[str]], errors: str = "strict",
                show_progress: bool = False) -> Counter:
    """How often each word occurs, words in order of first appearance; `split` cuts one line
    (or one text) into words: the trainer's pre-tokenizer.

    `source`: a path, a list of paths, or any iterable of str (see the module docstring).
    `show_progress`: a bar over the bytes of the files (or the count of texts).
    """
    check_errors(errors)
    counts: Counter = Counter()
    if is_file_list(source):
        paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        _count_files(paths, split, counts, errors, show_progress)
        where = ", ".join(str(p) for p in paths)
    else:
        _count_texts(source, split, counts, show_progress)
        where = "the given texts"
    if not counts:
        raise CorpusError(f"empty corpus: no words to train on in {where} "
                          f"(empty, or only whitespace)")
    return counts
