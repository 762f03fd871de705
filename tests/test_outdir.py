"""Output folders: atomic saves keep what they did not write, claims refuse foreign folders,
one run at a time holds a folder, and a killed run's leftovers are cleaned up.
The end-to-end checks (every writing command leaves the user's files alone, two commands on
one --out) are in tests/test_cli_errors.py, beside the tiny model they need."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from minibert.atomic import atomic_dir, atomic_write
from train.outdir import (
    LOCK_FILE,
    OWNER_FILE,
    OutputDirError,
    check_output_file,
    claim_output_dir,
    output_dir,
    release_output_dir,
)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _user_files(folder):
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine\n")
    (folder / "sub" / "data.txt").write_text("also mine\n")


def _assert_user_files(folder):
    assert (folder / "notes.txt").read_text() == "mine\n"
    assert (folder / "sub" / "data.txt").read_text() == "also mine\n"


def test_atomic_dir_keeps_what_it_did_not_write(tmp_path):
    target = tmp_path / "model"
    _user_files(target)
    (target / "config.json").write_text("old")

    def write(tmp):
        (tmp / "config.json").write_text("new")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "weights.bin").write_text("w")

    for _ in range(2):  # the second save replaces the first one's files, and only those
        atomic_dir(target, write)
        _assert_user_files(target)
        assert (target / "config.json").read_text() == "new"
        assert (target / "sub" / "weights.bin").read_text() == "w"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "no temporaries left"


def test_atomic_dir_new_folder_and_files_follow_the_umask(tmp_path, umask_022):
    target = tmp_path / "fresh"
    atomic_dir(target, lambda tmp: (tmp / "a.txt").write_text("a"))
    atomic_write(target / "b.txt", lambda tmp: tmp.write_text("b"))
    assert _mode(target) == 0o755
    assert _mode(target / "b.txt") == 0o644


def test_atomic_dir_failure_leaves_the_folder_as_it_was(tmp_path):
    target = tmp_path / "model"
    _user_files(target)

    def broken(tmp):
        (tmp / "notes.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_dir(target, broken)
    _assert_user_files(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_claim_refuses_a_foreign_folder_unless_overwrite(tmp_path):
    out = tmp_path / "keep"
    _user_files(out)
    with pytest.raises(OutputDirError, match=r"keep: the folder holds files minibert did not "
                                             r"write \(notes.txt, sub\).*--overwrite"):
        claim_output_dir(out)
    assert not (out / OWNER_FILE).exists() and not (out / LOCK_FILE).exists()
    with output_dir(out, overwrite=True):
        assert (out / LOCK_FILE).is_file()
    _assert_user_files(out)
    assert not (out / LOCK_FILE).exists()
    with output_dir(out):  # now marked as ours: no flag needed to run again
        pass


def test_claim_creates_the_folder_and_marks_it(tmp_path, umask_022):
    out = tmp_path / "a" / "b"
    with output_dir(out, command="finetune"):
        assert out.is_dir() and (out / OWNER_FILE).is_file()
    assert _mode(out) == 0o755 and _mode(out / OWNER_FILE) == 0o644


def test_a_live_lock_refuses_and_a_dead_ones_is_taken_over(tmp_path):
    """The lock names a live process (a `sleep` standing in for another run): refused, with
    its pid. Once that process is killed, as kill -9 would, the stale lock is taken over."""
    import json
    import socket

    out = tmp_path / "run"
    with output_dir(out):
        pass
    other = subprocess.Popen(["sleep", "60"])
    try:
        (out / LOCK_FILE).write_text(json.dumps({"pid": other.pid,
                                                 "host": socket.gethostname()}))
        with pytest.raises(OutputDirError, match=f"run: in use by process {other.pid} "):
            claim_output_dir(out)
    finally:
        other.kill()
        other.wait()
    claim_output_dir(out)
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == os.getpid()
    release_output_dir(out)
    assert not (out / LOCK_FILE).exists()


def test_leftover_temporaries_are_removed_from_our_folder_only(tmp_path):
    out = tmp_path / "run"
    with output_dir(out):
        (out / "checkpoints" / ".step-00000005.k2j4_x9a.tmp").mkdir(parents=True)
        (out / ".model.safetensors.ab12cd34.tmp").write_bytes(b"half")
        (out / ".my.tmp").write_text("a user's file with a similar name")
        (tmp_path / ".run.x1_y2z3w.tmp").mkdir()  # a save made before the folder existed
        (tmp_path / ".other.x1_y2z3w.tmp").mkdir()  # not this folder's
    with output_dir(out):
        names = {p.name for p in out.rglob("*")}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.x1_y2z3w.tmp", "run"]
    assert ".my.tmp" in names and "checkpoints" in names
    assert not any(n.endswith(".tmp") and n != ".my.tmp" for n in names), names
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / ".x.ab12cd34.tmp").write_text("not ours to clean")
    with pytest.raises(OutputDirError):
        claim_output_dir(foreign)
    assert (foreign / ".x.ab12cd34.tmp").exists()


def test_output_file_is_replaced_only_with_overwrite(tmp_path):
    path = tmp_path / "sub.csv"
    check_output_file(path)  # new: fine
    path.write_text("user's")
    with pytest.raises(OutputDirError, match="sub.csv: the file exists; pass --overwrite"):
        check_output_file(path)
    check_output_file(path, overwrite=True)
    with pytest.raises(OutputDirError, match="is a folder"):
        check_output_file(tmp_path)
