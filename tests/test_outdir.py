"""Output folders: atomic saves keep what they did not write, claims refuse inputs, foreign
folders and other commands' folders, one run at a time holds a folder, and a killed run's
temporaries are found by the marker's record (never by name) and removed by its command.
The end-to-end check, every writing command against every kind of --out, is generated in
tests/test_out_matrix.py."""

from __future__ import annotations

import os
import re
import stat
import subprocess

import pytest

from tokenizer.atomic import TMP_PREFIX, atomic_dir, atomic_write
from train.outdir import (
    LOCK_FILE,
    OWNER_FILE,
    OutputDirError,
    check_output_file,
    claim_output_dir,
    output_dir,
    read_marker,
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


def _killed_mid_write(out, command="finetune", **claim):
    """A forked child claims `out`, starts an atomic write of model.safetensors and dies in
    the middle of it (os._exit: no cleanup runs), as a killed run would."""
    pid = os.fork()
    if pid == 0:  # the child: only file operations, then gone
        code = 1
        try:
            claim_output_dir(out, command=command, **claim)

            def die(tmp):
                tmp.write_bytes(b"half")
                os._exit(0)

            atomic_write(out / "model.safetensors", die)
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0, "the child failed before its write"


USER_DOTFILES = {".thesis.20240101.tmp": b"chapter 3\n", ".results.a1b2c3d4.tmp": b"0.93\n",
                 ".model.safetensors.ab12cd34.tmp": b"not minibert's\n", ".my.tmp": b"x"}


def _dotfiles(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in USER_DOTFILES.items():
        (folder / name).write_bytes(data)


def _dotfiles_intact(folder):
    return all((folder / n).read_bytes() == data for n, data in USER_DOTFILES.items())


def test_a_killed_runs_temporaries_are_found_by_record_and_removed_by_its_command(tmp_path):
    out = tmp_path / "results"
    _dotfiles(tmp_path)  # beside --out: .results.a1b2c3d4.tmp looks like out's own temporary
    with output_dir(out, command="finetune"):
        _dotfiles(out)
    _killed_mid_write(out)
    marker = read_marker(out)
    [scratch] = marker["temporaries"]
    assert scratch.startswith(TMP_PREFIX) and (out / scratch).is_dir()
    assert [p.name for p in (out / scratch).iterdir()][0].endswith("-model.safetensors")
    assert not (out / "model.safetensors").exists()
    # another command (allowed in by --overwrite) leaves finetune's temporaries alone
    with output_dir(out, command="train-tokenizer", overwrite=True):
        assert (out / scratch).is_dir()
    assert (out / scratch).is_dir() and read_marker(out)["temporaries"][scratch] == "finetune"
    with output_dir(out, command="finetune", overwrite=True):
        assert not (out / scratch).exists(), "the killed run's scratch folder is removed"
    # each finished run removed its own; their entries go at the next claim
    assert not any((out / name).exists() for name in read_marker(out)["temporaries"])
    assert _dotfiles_intact(out) and _dotfiles_intact(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*USER_DOTFILES, "results"])
    assert sorted(p.name for p in out.iterdir()) == sorted([*USER_DOTFILES, OWNER_FILE])


def test_writes_inside_a_claim_put_no_temporary_beside_the_users_files(tmp_path):
    out = tmp_path / "run"
    seen = []
    with output_dir(out, command="pretrain"):
        atomic_write(out / "config.json", lambda tmp: seen.append(tmp.parent.name))
        atomic_dir(out / "checkpoints" / "step-1", lambda tmp: seen.append(tmp.parent.name))
        atomic_dir(out / "seed-1", lambda tmp: seen.append(tmp.parent.name))
    scratch = seen[0]
    assert scratch.startswith(TMP_PREFIX) and seen == [scratch] * 3
    assert sorted(p.name for p in out.rglob("*")) == sorted(
        [OWNER_FILE, "config.json", "checkpoints", "step-1", "seed-1"])


def test_a_record_names_only_its_own_scratch_folders(tmp_path):
    """A marker edited to name other files (or paths outside) deletes nothing."""
    import json

    out = tmp_path / "run"
    with output_dir(out, command="finetune"):
        pass
    victim = tmp_path / "victim"
    victim.mkdir()
    (out / "notes.txt").write_text("mine")
    (tmp_path / (TMP_PREFIX + "x")).write_text("also mine")  # beside --out
    names = ["../victim", "notes.txt", str(victim), f"../{TMP_PREFIX}x", "sub/" + TMP_PREFIX]
    marker = {**read_marker(out), "temporaries": {n: "finetune" for n in names}}
    (out / OWNER_FILE).write_text(json.dumps(marker))
    with output_dir(out, command="finetune"):
        pass
    assert victim.is_dir() and (out / "notes.txt").read_text() == "mine"
    assert (tmp_path / (TMP_PREFIX + "x")).read_text() == "also mine"


def test_a_write_outside_any_claim_cleans_up_after_itself_only(tmp_path):
    """No claim (a library call, `predict --out`): the temporary is made beside the target
    under an unmistakable name and removed by the write itself; a killed write's is left
    for the user to see, and no later run deletes it."""
    _dotfiles(tmp_path)
    atomic_write(tmp_path / "page.html", lambda tmp: tmp.write_text("<p>"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*USER_DOTFILES, "page.html"])
    pid = os.fork()
    if pid == 0:
        atomic_write(tmp_path / "page.html", lambda tmp: (tmp.write_text("<"), os._exit(0)))
        os._exit(1)
    assert os.waitpid(pid, 0)[1] == 0
    [left] = [p.name for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]
    assert left.endswith("-page.html")
    with output_dir(tmp_path / "page-run", command="explain"):
        pass
    assert (tmp_path / left).exists() and _dotfiles_intact(tmp_path)


def test_inputs_are_refused_with_both_paths_even_with_overwrite(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    data = tmp_path / "data.csv"
    data.write_text("text,label\n")
    inputs = [(model, "--model"), (data, "--train")]
    for out, how, named in [(model, "is the input --model", model),
                            (model / "run", "lies inside the input --model", model),
                            (tmp_path, "contains the input --model", model),
                            (data, "is the input --train", data)]:
        with pytest.raises(OutputDirError, match=re.escape(f"--out {out} {how} {named}; ")):
            claim_output_dir(out, overwrite=True, inputs=inputs)
    for out, how in [(data, "is the input --train"),
                     (model / "page.html", "lies inside the input --model")]:
        with pytest.raises(OutputDirError, match=how):
            check_output_file(out, overwrite=True, inputs=inputs)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["config.json", "data.csv", "model"]


def test_another_command_or_kind_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "tok"
    with output_dir(out, command="train-tokenizer", kind="wordpiece tokenizer"):
        (out / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(OutputDirError, match=r"tok: holds the output of 'train-tokenizer' "
                                             r"\(wordpiece tokenizer\); 'finetune' "):
        claim_output_dir(out, command="finetune", kind="BertForSequenceClassification")
    with pytest.raises(OutputDirError, match=r"\(wordpiece tokenizer\); 'train-tokenizer' "
                                             r"\(bpe tokenizer\) would mix"):
        claim_output_dir(out, command="train-tokenizer", kind="bpe tokenizer")
    assert not (out / LOCK_FILE).exists()
    with output_dir(out, command="train-tokenizer", kind="bpe tokenizer", overwrite=True):
        pass
    assert read_marker(out)["kind"] == "bpe tokenizer"
    assert (out / "vocab.txt").read_text() == "[PAD]\n"  # kept: nothing is deleted
    with pytest.raises(OutputDirError, match=r"holds the output of 'train-tokenizer' "
                                             r"\(bpe tokenizer\)"):
        check_output_file(out / "preds.csv")
    check_output_file(out / "preds.csv", overwrite=True)


def test_a_second_claim_in_one_process_only_counts(tmp_path):
    out = tmp_path / "d"
    with output_dir(out, command="prepare-data"):
        with output_dir(out, command="prepare-data"):
            pass
        assert (out / LOCK_FILE).is_file(), "the outer claim still holds the folder"
    assert not (out / LOCK_FILE).exists()


def test_output_file_is_replaced_only_with_overwrite(tmp_path):
    path = tmp_path / "sub.csv"
    check_output_file(path)  # new: fine
    path.write_text("user's")
    with pytest.raises(OutputDirError, match="sub.csv: the file exists; pass --overwrite"):
        check_output_file(path)
    check_output_file(path, overwrite=True)
    with pytest.raises(OutputDirError, match="is a folder"):
        check_output_file(tmp_path)
