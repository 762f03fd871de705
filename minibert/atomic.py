"""Writing files so that a crash never leaves a half-written one behind.

Write to a temporary file in the same directory, flush it to disk, then rename over the
target: `os.replace` is atomic on POSIX and Windows, so a reader sees the old file or the new
one, never a mix. A directory is filled the same way (write `.dir.XXXX.tmp`), then renamed into
place if it is new; if it already exists, each new entry is moved over the entry of the same
name, one atomic rename per file, and everything else in the folder is left alone: a save
never deletes what it did not write (the user's notes in an output folder, earlier runs).

This is the one home of atomic writing in the project: model weights, config.json, tokenizer
files, figures, metrics logs and training checkpoints all go through it. The temporary file
gets the permissions an ordinary `open()` would give (the user's umask), not mkstemp's 0600;
a temporary folder gets an ordinary `mkdir`'s, not mkdtemp's 0700. Temporary names match
`TMP_NAME`, so a later run can find and remove what a killed one left (`train/outdir.py`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

# `.{name}.{8 random characters}.tmp`: what mkstemp/mkdtemp make with our prefix and suffix.
TMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def _umask_mode(base: int) -> int:
    """`base` (0o666 for files, 0o777 for folders) less the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` and move the result to `path` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        write(tmp)
        os.chmod(tmp, _umask_mode(0o666))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_dir(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_dir)` to fill a fresh directory, then move it in as `path`. An existing
    `path` keeps every entry `write` did not produce; the ones it did replace theirs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # inside an existing folder, so a killed run's leftover is found there (train/outdir.py)
    where = path if path.is_dir() else path.parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=where))
    try:
        os.chmod(tmp, _umask_mode(0o777))
        write(tmp)
        if path.exists():
            _move_entries(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path


def _move_entries(src: Path, dst: Path) -> None:
    """Move every entry of `src` into the existing folder `dst`, each by one rename; a folder
    that exists on both sides is merged the same way, so nothing else in `dst` is touched."""
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir():
            _move_entries(entry, target)
        else:
            os.replace(entry, target)
