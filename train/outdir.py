"""Claiming an output folder: minibert writes only where it may, and one run at a time.

Every command that writes a folder (`--out`) claims it first, before any model loads:

  * the folder is created (following the umask) and a test file is written and removed, so a
    read-only folder, or a path whose parent is a file, fails at once and not after an epoch;
  * a folder that holds files minibert did not write is refused, unless `--overwrite` says to
    write beside them (files of the names minibert writes are then replaced; nothing else is
    touched). An empty folder, or one with our marker file `OWNER_FILE`, is ours;
  * a lock file `LOCK_FILE` holding the process id makes a second run on the same folder fail
    at once, naming the other process; a lock whose process is gone (a killed run) is taken
    over;
  * temporary files and folders a killed run left behind (`.NAME.XXXXXXXX.tmp`, see
    `minibert/atomic.py`) are removed, but only inside a folder that is ours.

The lock is removed when the claim ends. Left out on purpose: locks across machines on a
shared filesystem (the process id is checked on this host only) and advisory `fcntl` locks
(not on Windows; a pid file is simple to read and to explain).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from minibert.atomic import TMP_NAME, atomic_write

OWNER_FILE = ".minibert"  # marks a folder minibert created or was allowed to write into
LOCK_FILE = ".minibert.lock"
_PROBE = ".minibert.write-test"


class OutputDirError(OSError):
    """An output folder minibert may not, or cannot, write into; the message names it."""


def claim_output_dir(path: str | os.PathLike, flag: str = "--out", overwrite: bool = False,
                     command: str = "") -> Path:
    """Check and take `path` for writing (see the module docstring); returns the folder."""
    out = Path(path)
    _create(out, flag)
    foreign = _foreign_entries(out)
    if foreign and not overwrite:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5
                                          else "")
        raise OutputDirError(f"{flag} {out}: the folder holds files minibert did not write "
                             f"({shown}); choose a new or empty folder, or pass --overwrite to "
                             f"write beside them (files with the names minibert writes, such "
                             f"as config.json, are then replaced; nothing is deleted)")
    _lock(out, flag)
    if not (out / OWNER_FILE).is_file():
        record = {"written_by": "minibert", "command": command}
        atomic_write(out / OWNER_FILE,
                     lambda tmp: tmp.write_text(json.dumps(record) + "\n", encoding="utf-8"))
    remove_stale_temporaries(out)
    return out


def release_output_dir(path: str | os.PathLike) -> None:
    """Remove our lock (only if this process holds it)."""
    lock = Path(path) / LOCK_FILE
    if _read_lock(lock).get("pid") == os.getpid():
        lock.unlink(missing_ok=True)


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, flag: str = "--out", overwrite: bool = False,
               command: str = "") -> Iterator[Path]:
    """`claim_output_dir` for the length of a `with` block."""
    out = claim_output_dir(path, flag, overwrite, command)
    try:
        yield out
    finally:
        release_output_dir(out)


def check_output_file(path: str | os.PathLike, flag: str = "--out",
                      overwrite: bool = False) -> Path:
    """For a command that writes one file: its folder is writable, and an existing file is
    replaced only with --overwrite (minibert cannot tell whether it wrote it)."""
    out = Path(path)
    if out.is_dir():
        raise OutputDirError(f"{flag} {out}: is a folder; give a file name")
    if out.exists() and not overwrite:
        raise OutputDirError(f"{flag} {out}: the file exists; pass --overwrite to replace it, "
                             f"or choose another name")
    _create(out.parent if str(out.parent) else Path("."), flag)
    return out


# ---- the steps ------------------------------------------------------------------------------

def _create(out: Path, flag: str) -> None:
    """Make the folder and prove we can write into it, with a message naming the cause."""
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            where = "is a file" if parent == out else f"has a parent {parent} that is a file"
            raise OutputDirError(f"{flag} {out}: {where}, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / _PROBE
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OutputDirError(f"{flag} {out}: cannot write there ({e.strerror or e}); choose "
                             f"a folder you can write to") from None


def _foreign_entries(out: Path) -> list[str]:
    """Names in `out` that say the folder is not ours: none if it is empty or has our marker."""
    if (out / OWNER_FILE).is_file():
        return []
    ours = {LOCK_FILE, _PROBE}
    return sorted(p.name for p in out.iterdir() if p.name not in ours)


def _lock(out: Path, flag: str) -> None:
    lock = out / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            other = _read_lock(lock)
            if other.get("pid") == os.getpid():
                return  # already ours (e.g. a command that claims twice)
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


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Delete `.NAME.XXXXXXXX.tmp` files and folders under `out` (a killed run's leftovers),
    and `out`'s own (`.OUT.XXXXXXXX.tmp` beside it, from a save made before `out` existed)."""
    out = out.resolve()
    own = re.compile(re.escape(f".{out.name}.") + r"[a-z0-9_]{8}\.tmp$")
    found = [p for p in out.parent.iterdir() if own.match(p.name)]
    for folder, dirs, files in os.walk(out):
        found += [Path(folder) / name for name in [*dirs, *files] if TMP_NAME.match(name)]
        dirs[:] = [d for d in dirs if not TMP_NAME.match(d)]
    for p in found:
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    return found
