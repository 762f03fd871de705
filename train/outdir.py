"""Claiming an output folder: minibert writes only where it may, only its own kind of files,
one run at a time, and deletes only what it recorded creating.

Every command that writes a folder (`--out`) claims it before any model loads. The claim
refuses, with one line naming both paths:
  * an --out that is, contains or lies inside one of the command's inputs (the model, the
    tokenizer, a data file or folder), --overwrite or not: a run never rewrites its input;
  * a folder holding files minibert did not write (it has no marker and is not empty);
  * a folder another command wrote, or one holding another kind of output (a BERT classifier
    where a RoBERTa one would go, WordPiece files where BPE ones would).
--overwrite lets the command write into the last two: files with the names it writes are
replaced, every other file is kept as it was, and the marker names this command from then on.
Nothing is deleted.

Then the claim
  * creates the folder (following the umask) and proves it writable with a test file, so a
    read-only folder, or a path under a file, fails at once and not after an epoch;
  * takes the lock file `LOCK_FILE` holding the process id, so a second run on the same folder
    fails at once, naming the other process; a lock whose process is gone is taken over;
  * writes the marker `OWNER_FILE` and makes this run's scratch folder for temporaries
    (`tokenizer/atomic.py`), recording its name in the marker before creating it.

The marker is JSON:

    {"written_by": "minibert", "command": "finetune", "kind": "BertForSequenceClassification",
     "temporaries": {".minibert-tmp-3f9a0c1b2d4e": "finetune"}}

`temporaries` maps each scratch folder a run made to the command that made it. A run removes
its own folder when it ends; one that a killed run left is removed by the next claim of the
same command, found by its recorded name alone (a direct child of the folder); entries whose
folder is gone are dropped then too. Nothing is ever deleted because its name matches a
pattern, and nothing outside the folder.

A command that writes one file (`predict --out`, `explain --out`) calls `check_output_file`:
not an input nor inside an input folder, and neither an existing file nor inside another
command's folder unless --overwrite.

Left out on purpose: locks across machines on a shared filesystem (the process id is checked
on this host only) and advisory `fcntl` locks (not on Windows; a pid file is simple to read
and to explain).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizer.atomic import TMP_PREFIX, atomic_write, drop_scratch, use_scratch

OWNER_FILE = ".minibert"  # marks a folder minibert created or was allowed to write into
LOCK_FILE = ".minibert.lock"

# (path, flag) of each input of a command: what its --out must keep clear of
Inputs = Iterable[tuple["str | os.PathLike | None", str]]

# folders this process holds: resolved path -> [number of claims, the run's scratch folder]
_HELD: dict[Path, list] = {}


class OutputDirError(OSError):
    """An output folder minibert may not, or cannot, write into; the message names it."""


def claim_output_dir(path: str | os.PathLike, flag: str = "--out", overwrite: bool = False,
                     command: str = "", kind: str = "", inputs: Inputs = ()) -> Path:
    """Check and take `path` for writing (see the module docstring); returns the folder.
    A second claim by the process that holds it only counts, so a command and the library
    function it calls may both claim."""
    out = Path(path)
    refuse_inputs(out, flag, inputs)
    key = out.resolve()
    if key in _HELD:
        _HELD[key][0] += 1
        return out
    _create(out, flag)
    marker = read_marker(out)
    if not overwrite:
        _refuse_foreign(out, flag, marker, command, kind)
    _lock(out, flag)
    try:
        scratch = _start_record(out, marker, command, kind)
    except BaseException:
        _unlock(out)
        raise
    use_scratch(out, scratch)
    _HELD[key] = [1, scratch]
    return out


def release_output_dir(path: str | os.PathLike) -> None:
    """End a claim: the last one removes this run's scratch folder and our lock."""
    out = Path(path)
    held = _HELD.get(out.resolve())
    if held is not None:
        held[0] -= 1
        if held[0] > 0:
            return
        del _HELD[out.resolve()]
        drop_scratch(out)
        _remove(held[1])
    _unlock(out)


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, flag: str = "--out", overwrite: bool = False,
               command: str = "", kind: str = "", inputs: Inputs = ()) -> Iterator[Path]:
    """`claim_output_dir` for the length of a `with` block."""
    out = claim_output_dir(path, flag, overwrite, command, kind, inputs)
    try:
        yield out
    finally:
        release_output_dir(out)


def check_output_file(path: str | os.PathLike, flag: str = "--out", overwrite: bool = False,
                      inputs: Inputs = ()) -> Path:
    """For a command that writes one file: not an input, its folder writable, and an existing
    file (minibert cannot tell whether it wrote it) or another command's folder only with
    --overwrite."""
    out = Path(path)
    refuse_inputs(out, flag, inputs)
    if out.is_dir():
        raise OutputDirError(f"{flag} {out}: is a folder; give a file name")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputDirError(f"{flag} {out}: has a parent {parent} that is a file, not a "
                                 f"folder")
    if out.exists() and not overwrite:
        raise OutputDirError(f"{flag} {out}: the file exists; pass {_overwrite(flag)} to replace "
                             f"it, or choose another name")
    folder = out.parent
    marker = read_marker(folder) if folder.is_dir() else None
    if marker is not None and not overwrite:
        raise OutputDirError(f"{flag} {out}: {folder} holds the output of "
                             f"{_what(marker.get('command'), marker.get('kind'))}; choose a "
                             f"file outside it, or pass {_overwrite(flag)} to write there")
    _create(folder, flag)
    return out


def refuse_inputs(out: Path, flag: str, inputs: Inputs) -> None:
    """An output that is, contains or lies inside an input is refused, with both paths."""
    mine = Path(out).resolve()
    for path, input_flag in inputs:
        if path is None or str(path) == "":
            continue
        theirs = Path(path).resolve()
        if mine == theirs:
            how = "is"
        elif mine.is_relative_to(theirs):
            how = "lies inside"
        elif theirs.is_relative_to(mine):
            how = "contains"
        else:
            continue
        raise OutputDirError(f"{flag} {out} {how} the input {input_flag} {path}; a command "
                             f"never writes into its inputs ({_overwrite(flag)} does not change "
                             f"that): choose an {flag} apart from them")


def read_marker(folder: str | os.PathLike) -> dict | None:
    """The folder's marker as a dict, or None when it has none (or one minibert did not
    write)."""
    try:
        marker = json.loads((Path(folder) / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(marker, dict) and marker.get("written_by") == "minibert"
    return marker if ok else None


# ---- the steps ------------------------------------------------------------------------------

def _create(out: Path, flag: str) -> None:
    """Make the folder and prove we can write into it, with a message naming the cause."""
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            where = "is a file" if parent == out else f"has a parent {parent} that is a file"
            raise OutputDirError(f"{flag} {out}: {where}, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX, suffix="-write-test", dir=out)
        os.close(fd)
        os.unlink(probe)  # the very file made on the line above
    except OSError as e:
        raise OutputDirError(f"{flag} {out}: cannot write there ({e.strerror or e}); choose "
                             f"a folder you can write to") from None


def _overwrite(flag: str) -> str:
    """How the caller says "write there anyway": a command's --overwrite, or Trainer's
    overwrite_output_dir=True when the folder came from a Python argument (no "--")."""
    return "--overwrite" if flag.startswith("--") else "overwrite_output_dir=True"


def _what(command: str | None, kind: str | None) -> str:
    return f"'{command or 'minibert'}'" + (f" ({kind})" if kind else "")


def _refuse_foreign(out: Path, flag: str, marker: dict | None, command: str, kind: str) -> None:
    """Without --overwrite: a folder with files but no marker, or another command's or
    another kind's marker, is not this run's to write into."""
    if marker is None:
        foreign = sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE)
        if not foreign:
            return
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5
                                          else "")
        raise OutputDirError(f"{flag} {out}: the folder holds files minibert did not write "
                             f"({shown}); choose a new or empty folder, or pass "
                             f"{_overwrite(flag)} to write beside them (files with the names "
                             f"minibert writes, such as config.json, are then replaced; nothing "
                             f"is deleted)")
    old_command, old_kind = marker.get("command") or "", marker.get("kind") or ""
    if (command and old_command and command != old_command) or (
            kind and old_kind and kind != old_kind):
        raise OutputDirError(f"{flag} {out}: holds the output of {_what(old_command, old_kind)}; "
                             f"{_what(command, kind)} would mix its files into it; choose "
                             f"another folder, or pass {_overwrite(flag)} to write there (files "
                             f"with the names it writes are replaced; nothing is deleted)")


def _start_record(out: Path, marker: dict | None, command: str, kind: str) -> Path:
    """Remove the scratch folders earlier runs of this command recorded, record this run's
    in the marker (naming this command and kind), then create it; returns it."""
    record = dict(marker or {"written_by": "minibert"})
    recorded = record.get("temporaries")
    kept = {}
    for name, who in (recorded.items() if isinstance(recorded, dict) else []):
        path = out / str(name)
        if not _is_temporary_name(name) or not (path.exists() or path.is_symlink()):
            continue  # gone already (or not a name we would have made): only the entry goes
        if who == command:
            _remove(path)
        else:
            kept[name] = who  # another command's: not ours to delete
    name = TMP_PREFIX + secrets.token_hex(6)
    while (out / name).exists() or name in kept:
        name = TMP_PREFIX + secrets.token_hex(6)
    if kind or record.get("command") != command:
        record["kind"] = kind
    record.update(command=command, temporaries={**kept, name: command})
    text = json.dumps(record) + "\n"
    atomic_write(out / OWNER_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    (out / name).mkdir()
    return out / name


def _is_temporary_name(name) -> bool:
    """A recorded entry names a direct child made by `_start_record`, nothing else."""
    return (isinstance(name, str) and name.startswith(TMP_PREFIX)
            and "/" not in name and "\\" not in name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _unlock(out: Path) -> None:
    """Remove our lock (only if this process holds it)."""
    lock = out / LOCK_FILE
    if _read_lock(lock).get("pid") == os.getpid():
        lock.unlink(missing_ok=True)


def _lock(out: Path, flag: str) -> None:
    lock = out / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            other = _read_lock(lock)
            if other.get("pid") == os.getpid():
                # a second claim in this process never gets here (`_HELD`): this is a
                # killed run's lock whose pid this process now has (pids repeat in containers)
                return
            if _alive(other):
                raise OutputDirError(
                    f"{flag} {out}: in use by process {other.get('pid')} on "
                    f"{other.get('host', 'this host')} (lock file {lock}); wait for it to "
                    f"finish or choose another folder") from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(me, f)
        return
    raise OutputDirError(f"{flag} {out}: could not take the lock file {lock}; another run "
                         f"took it at the same moment")


def _read_lock(lock: Path) -> dict:
    try:
        value = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _alive(owner: dict) -> bool:
    """Is the lock's process still running? An unreadable lock (a writer between creating
    and filling it) counts as alive; a lock from another host too, as we cannot check it."""
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return True
    if owner.get("host") not in (None, socket.gethostname()):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
