"""Tokenized shards on disk: the format, writing one shard, and reading them without loading them.

A data folder written by `minibert prepare-data` (see `train/data/prepare.py`) holds

    manifest.json          written last: tokenizer fingerprint, settings, inputs, shards, counts
    shard-00000/           one folder per piece of input text, swapped in whole (atomic_dir)
        ids.npy            every token id of the piece's non-blank lines, end to end
                           (uint16 when the vocabulary has at most 65,536 ids, else uint32)
        word_starts.npy    uint8, 1 where a token begins a word (what whole-word masking needs)
        lines.npy          int64 (n_lines + 1,): line k is ids[lines[k]:lines[k + 1]]
        doc_starts.npy     int64: the lines that begin a document (after a blank line, or
                           at the start of a file), as `train/data/datasets.read_documents`
        meta.json          the piece it came from, its counts and each file's sha256

A line is a line of the text file without its ending (Python's `str.splitlines`), tokenized
without special tokens; blank lines are not stored, they only end documents. Word starts
replace the tokenizer's word_ids: word k of a line is the k-th run that starts with a 1.

`Shards.open(folder)` checks the manifest (format, tokenizer fingerprint when a tokenizer is
given) and every file's sha256, then reads the arrays a slice at a time (`FileArray`, pread):
the corpus stays on disk and in the page cache, never in the process's memory.
`Shards.in_memory(source, pieces)` holds the same arrays as numpy arrays instead: how the
small text files of `pretrain --train` are read (`train/data/datasets.text_shards`), so they
reach the same datasets and loader as a prepared folder.
Left out on purpose: compression, remote storage, appending to a finished folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tokenizer.atomic import atomic_dir, atomic_write

FORMAT = "minibert-shards/1"
MANIFEST = "manifest.json"
ARRAYS = ("ids", "word_starts", "lines", "doc_starts")
TOKENIZER_FILES = ("vocab.txt", "vocab.json", "merges.txt", "tokenizer_config.json",
                   "special_tokens_map.json")


class ShardError(ValueError):
    """A data folder that is incomplete, corrupt, or was made for another tokenizer."""


def id_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits in 16 bits (half the disk and page cache), else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def tokenizer_fingerprint(directory) -> str:
    """sha256 over the tokenizer folder's files (names and bytes): equal iff the same tokenizer."""
    directory = Path(directory)
    h = hashlib.sha256()
    found = [name for name in TOKENIZER_FILES if (directory / name).is_file()]
    if not found:
        raise ShardError(f"{directory}: no tokenizer files ({', '.join(TOKENIZER_FILES)})")
    for name in found:
        h.update(name.encode() + b"\0" + (directory / name).read_bytes() + b"\0")
    return h.hexdigest()


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def write_shard(folder: Path, arrays: dict[str, np.ndarray], meta: dict) -> dict:
    """Write one shard folder atomically: a reader sees all of it or none of it. Returns meta
    with the files' sha256 and counts added (also stored as the folder's meta.json)."""
    def fill(tmp: Path) -> None:
        sums = {}
        for name in ARRAYS:
            np.save(tmp / f"{name}.npy", arrays[name])
            sums[name] = sha256_file(tmp / f"{name}.npy")
        meta.update(sha256=sums, n_tokens=int(arrays["ids"].size),
                    n_lines=int(arrays["lines"].size - 1), n_docs=int(arrays["doc_starts"].size))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    atomic_dir(folder, fill)
    return meta


def read_meta(folder: Path) -> dict | None:
    """A finished shard's meta.json, or None when the shard is not there."""
    path = folder / "meta.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_manifest(out: Path, manifest: dict) -> None:
    atomic_write(out / MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1),
                                                            encoding="utf-8"))


def read_manifest(out: Path) -> dict:
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise ShardError(f"{out}: no {MANIFEST}; prepare it first with `minibert prepare-data "
                         f"--tokenizer TOK --out {out} FILES...` (an interrupted prepare resumes)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ShardError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: "
                         f"{e.msg})") from None
    except UnicodeDecodeError:
        raise ShardError(f"{path}: not UTF-8 text; not a manifest minibert wrote") from None
    check_manifest(manifest, path)
    return manifest


# What a manifest must hold: key -> type (shards' entries are checked one by one below).
_MANIFEST_KEYS = {"format": str, "tokenizer": dict, "dtype": str, "shards": list,
                  "n_tokens": int, "n_lines": int, "n_docs": int, "bytes": int}
_SHARD_NAME = re.compile(r"shard-\d{5,}")


def check_manifest(manifest, path: Path) -> None:
    """Refuse a manifest that is not one `minibert prepare-data` wrote, naming the file and
    key: a missing or mistyped key, or a shard name that is not a plain `shard-NNNNN` folder
    name (`../x` or `/etc` would read files outside the data folder)."""
    if not isinstance(manifest, dict):
        raise ShardError(f"{path}: expected a JSON object, found {type(manifest).__name__}")
    if manifest.get("format") != FORMAT:
        raise ShardError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    for key, kind in _MANIFEST_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            found = "missing" if key not in manifest else type(manifest[key]).__name__
            raise ShardError(f"{path}: key {key!r} is {found}, expected {kind.__name__}; "
                             f"prepare the data again")
    if not isinstance(manifest["tokenizer"].get("fingerprint"), str):
        raise ShardError(f"{path}: key 'tokenizer' has no 'fingerprint'; prepare the data again")
    for k, entry in enumerate(manifest["shards"]):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _SHARD_NAME.fullmatch(name):
            raise ShardError(f"{path}: shards[{k}] name {name!r} is not a shard folder name "
                             f"(shard-NNNNN, inside the data folder)")
        sums = entry.get("sha256")
        if not isinstance(sums, dict) or not all(isinstance(sums.get(a), str) for a in ARRAYS):
            raise ShardError(f"{path}: shards[{k}] ({name}) lacks the sha256 of "
                             f"{', '.join(ARRAYS)}")


class FileArray:
    """A 1-D array in an .npy file, read a slice at a time with `os.pread`.

    Why not a memory map: a loader reads blocks of a few hundred bytes all over the corpus,
    and each page fault on a mapped file also maps the pages around it (the kernel's
    fault-around, 64 kB, which `madvise(MADV_RANDOM)` does not turn off), so a loader's RSS
    grows towards the size of the shards (bench/RESULTS.md, "Memory does not grow with the
    corpus"). A read copies only the block asked for; the page cache still serves it, and the
    process holds no pages of the corpus."""

    def __init__(self, file: Path):
        self.file = Path(file)
        with open(self.file, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran_order, self.dtype = read_header(f)
            self.offset = f.tell()
        if len(shape) != 1 or fortran_order:
            raise ShardError(f"{self.file}: expected a 1-D array, found shape {shape}")
        self.size = shape[0]
        self._f = None

    def __len__(self) -> int:
        return self.size

    def __getstate__(self) -> dict:  # a DataLoader worker started by spawn opens its own
        return {**self.__dict__, "_f": None}

    def __getitem__(self, index):
        """A slice (step 1) as a read-only ndarray, or one element as a Python int."""
        if isinstance(index, slice):
            start, stop, step = index.indices(self.size)
            assert step == 1, "FileArray reads contiguous slices only"
        else:
            start = index + self.size if index < 0 else index
            if not 0 <= start < self.size:
                raise IndexError(f"{self.file}: index {index} of {self.size}")
            stop = start + 1
        if self._f is None:
            self._f = open(self.file, "rb", buffering=0)
        n, width = max(0, stop - start), self.dtype.itemsize
        data = os.pread(self._f.fileno(), n * width, self.offset + start * width)
        out = np.frombuffer(data, dtype=self.dtype)
        return out if isinstance(index, slice) else out[0].item()


@dataclass
class Shard:
    """One shard's arrays: `FileArray`s on disk, or numpy arrays in memory (both slice alike)."""
    ids: FileArray | np.ndarray  # (n_tokens,) uint16 / uint32
    word_starts: FileArray | np.ndarray  # (n_tokens,) uint8
    lines: FileArray | np.ndarray  # (n_lines + 1,) int64
    doc_starts: FileArray | np.ndarray  # (n_docs,) int64


class Shards:
    """Every shard of a corpus with global token / line numbering; `source` (a data folder or
    the text files) names it in messages."""

    def __init__(self, source, manifest: dict, shards: list[Shard]):
        self.source, self.manifest, self.shards = source, manifest, shards
        tokens = [s.ids.size for s in shards]
        lines = [s.lines.size - 1 for s in shards]
        self.token_starts = np.concatenate([[0], np.cumsum(tokens)]).astype(np.int64)
        self.line_starts = np.concatenate([[0], np.cumsum(lines)]).astype(np.int64)

    @classmethod
    def open(cls, folder, tokenizer_dir=None, verify: bool = True) -> Shards:
        """Open a prepared folder; with `tokenizer_dir`, refuse shards made by another
        tokenizer; with `verify`, check every file's sha256 against the manifest."""
        folder = Path(folder)
        manifest = read_manifest(folder)
        if tokenizer_dir is not None:
            mine = tokenizer_fingerprint(tokenizer_dir)
            made_with = manifest["tokenizer"]
            if mine != made_with["fingerprint"]:
                raise ShardError(
                    f"{folder} was tokenized with {made_with.get('path')} (fingerprint "
                    f"{made_with['fingerprint'][:12]}), but --tokenizer "
                    f"{tokenizer_dir} has fingerprint {mine[:12]}; prepare the data again "
                    f"with this tokenizer into another folder")
        shards = []
        for entry in manifest["shards"]:
            path = folder / entry["name"]
            arrays = {}
            for name in ARRAYS:
                file = path / f"{name}.npy"
                if not file.is_file():
                    raise ShardError(f"{file}: missing; the data folder is incomplete")
                if verify and sha256_file(file) != entry["sha256"][name]:
                    raise ShardError(f"{file}: sha256 differs from {folder / MANIFEST}; the "
                                     f"file is corrupt or was changed; prepare the data again")
                arrays[name] = FileArray(file)
            shards.append(Shard(**arrays))
        return cls(folder, manifest, shards)

    @classmethod
    def in_memory(cls, source: str, pieces: list[dict[str, np.ndarray]]) -> Shards:
        """Shards held in memory, one per piece of text (the arrays `write_shard` would write)."""
        shards = [Shard(**{name: arrays[name] for name in ARRAYS}) for arrays in pieces]
        counts = {"n_tokens": sum(int(s.ids.size) for s in shards),
                  "n_lines": sum(int(s.lines.size) - 1 for s in shards),
                  "n_docs": sum(int(s.doc_starts.size) for s in shards)}
        return cls(source, {"format": FORMAT, **counts}, shards)

    @property
    def n_tokens(self) -> int:
        return int(self.token_starts[-1])

    @property
    def n_lines(self) -> int:
        return int(self.line_starts[-1])

    def tokens(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, word_starts) of global tokens [start, stop), read across shard ends."""
        first = int(np.searchsorted(self.token_starts, start, side="right")) - 1
        ids, starts = [], []
        while start < stop:
            shard, base = self.shards[first], int(self.token_starts[first])
            end = min(stop, int(self.token_starts[first + 1]))
            ids.append(shard.ids[start - base:end - base])
            starts.append(shard.word_starts[start - base:end - base])
            start, first = end, first + 1
        if len(ids) == 1:
            return ids[0], starts[0]
        return np.concatenate(ids), np.concatenate(starts)

    def line(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, word_starts) of global line k."""
        s = int(np.searchsorted(self.line_starts, k, side="right")) - 1
        shard, local = self.shards[s], k - int(self.line_starts[s])
        a, b = shard.lines[local:local + 2].tolist()
        return shard.ids[a:b], shard.word_starts[a:b]

    def line_lengths(self) -> np.ndarray:
        """(n_lines,) int64: tokens per line, over all shards (read once, small)."""
        return np.concatenate([np.diff(s.lines[:]) for s in self.shards])

    def doc_starts(self) -> np.ndarray:
        """(n_docs,) int64: global line numbers that begin a document."""
        return np.concatenate([s.doc_starts[:] + self.line_starts[i]
                               for i, s in enumerate(self.shards)]).astype(np.int64)


def word_ids(word_starts: np.ndarray) -> np.ndarray:
    """Word numbers from word starts (1 opens a word), counted from 0 at the first token."""
    w = np.cumsum(word_starts, dtype=np.int64)
    return w - w[0] if w.size else w  # a block may begin inside a word: that word is 0
