"""Writing files so that a crash never leaves a half-written one behind.

Write to a temporary file on the same filesystem, flush it to disk, then rename over the
target: `os.replace` is atomic on POSIX and Windows, so a reader sees the old file or the new
one, never a mix. A directory is filled the same way (a temporary folder, renamed into place
if it is new); if it already exists, each new entry is moved over the entry of the same name,
one atomic rename per file, and everything else in the folder is left alone: a save never
deletes what it did not write (the user's notes in an output folder, earlier runs).

Where the temporaries go:
  * inside a folder a command has claimed (`train/outdir.py`), into that run's scratch folder
    `.minibert-tmp-XXXXXXXXXXXX/`, which the claim recorded in the folder's marker before
    creating it. A killed run's scratch folder is found again from that record, never by
    its name, and removed by the next run of the same command;
  * anywhere else (a library call, `predict --out file.csv`), beside the target as
    `.minibert-tmp-XXXXXXXX-NAME`, removed when the write ends. Nothing ever looks for such
    names later: a kill at that moment leaves the file for the user to see.
Every temporary name starts with `TMP_PREFIX`, which no user file is expected to carry.

It lives in `tokenizer/`, the package that imports no other of ours, so that the tokenizers,
the model package and the training code can all write through it without an upward import.
This is the one home of atomic writing in the project: model weights, config.json, tokenizer
files, figures, metrics.json, shards with their plan and manifest, CoLA's and the course's
downloads, `predict --out`, the explorer page, an output folder's marker and training
checkpoints all go through it. Three writes do not, on purpose: metrics.jsonl grows by one
appended line per logged step (`train/training_log.py`: a crash leaves every earlier line
readable; its rewrite on resume does go through here), an output folder's lock file is
created with O_EXCL (the create is the claim, `train/outdir.py`), and the claim's write test
makes and deletes one empty file.
The temporary file gets the permissions an ordinary `open()` would give (the user's umask),
not mkstemp's 0600; a temporary folder gets an ordinary `mkdir`'s, not mkdtemp's 0700.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

TMP_PREFIX = ".minibert-tmp-"

# claimed output folder (resolved) -> its run's scratch folder; set by train/outdir.py
_SCRATCH: dict[Path, Path] = {}


def use_scratch(folder: str | os.PathLike, scratch: str | os.PathLike) -> None:
    """Put the temporaries of writes under `folder` into `scratch` (an empty folder of ours)."""
    _SCRATCH[Path(folder).resolve()] = Path(scratch).resolve()


def drop_scratch(folder: str | os.PathLike) -> None:
    _SCRATCH.pop(Path(folder).resolve(), None)


def scratch_dirs() -> dict[Path, Path]:
    """The folders in use now, for handing on to worker processes (`use_scratch` there)."""
    return dict(_SCRATCH)


def _temp_home(target: Path) -> tuple[Path, str]:
    """(folder, name prefix) for a temporary that will be renamed to `target`: the scratch
    folder of a claimed folder holding `target` when it is on the same filesystem (a rename
    cannot cross one), else beside `target`."""
    parent = target.parent.resolve()
    for folder, scratch in _SCRATCH.items():
        if parent.is_relative_to(folder) and scratch.is_dir() \
                and os.stat(parent).st_dev == os.stat(scratch).st_dev:
            return scratch, ""
    return target.parent, TMP_PREFIX


def _umask_mode(base: int) -> int:
    """`base` (0o666 for files, 0o777 for folders) less the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` and move the result to `path` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    where, prefix = _temp_home(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=f"-{path.name}", dir=where)
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
    where, prefix = _temp_home(path)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=f"-{path.name}", dir=where))
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
