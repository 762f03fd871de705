"""Nothing of the user's is lost: every command that writes, against every kind of --out.

The test is generated: each writing command (finetune, pretrain, prepare-data,
train-tokenizer, predict --out, explain --out, and a lesson's output folder) meets each kind
of --out a user might give it:

  new; empty; its own earlier run; another command's folder; a folder holding the user's
  files (dotfiles with `.tmp` names among them: `.thesis.20240101.tmp`, `.results.a1b2c3d4.tmp`,
  which look like another program's mkstemp files); the command's own input; a file; a new
  folder whose parent holds the user's dotfiles (named like --out's own temporaries).

Each cell snapshots every file around --out (its parent folder, which holds --out) and the
shared inputs, runs the command in-process through `train.cli.main`, and checks the exit
code, the error line, and that every file that was there before and does not carry one of the
names the command writes (learnt from a run into a new folder) is byte-identical afterwards,
inside and beside --out. A refusal must leave no trace at all; a success leaves no temporary
and no lock. A refusal that --overwrite lifts is run again with --overwrite, under the same
checks: it replaces files with the command's own names and nothing else.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from tiny_models import save_tiny

from tokenizer.atomic import TMP_PREFIX
from train.cli import main
from train.outdir import LOCK_FILE, OWNER_FILE, read_marker

REPO = Path(__file__).resolve().parents[1]
SENTENCES = ["the cat sat on the mat .", "a dog ran on the street .", "the animal was tired .",
             "it didn't cross the street .", "the cat ran because it was tired .",
             "a dog sat on a mat .", "the street was too tired .", "it sat ."]
USER_FILES = {"notes.txt": b"mine\n", "sub/data.txt": b"also mine\n", "config.json": b"{}\n",
              ".thesis.20240101.tmp": b"chapter 3\n", ".results.a1b2c3d4.tmp": b"0.93\n",
              ".model.safetensors.k2j4x9a1.tmp": b"not minibert's\n",
              "sub/.x.12345678.tmp": b"x\n"}


@dataclass
class Command:
    """One writing command: its argv for an --out, what it reads, and how it reruns."""
    argv: object  # (world, out) -> argv list
    input: object  # world -> its main input, as the "input" kind's --out
    other: str  # a command whose output folder it must not silently write into
    again: list[str] = field(default_factory=list)  # flags for a rerun on its own folder
    single_file: bool = False


def _lesson(w, out) -> list[str]:
    return ["lesson", "05_nsp", "--out", out]


COMMANDS = {
    "finetune": Command(
        lambda w, o: ["finetune", "csv", "--model", w["mlm"], "--train", w["train.csv"],
                      "--out", o, "--epochs", "1", "--batch-size", "8", "--threads", "1",
                      "--no-progress"],
        lambda w: w["mlm"], other="train-tokenizer"),
    "pretrain": Command(
        lambda w, o: ["pretrain", "--tokenizer", w["tok"], "--train", w["text.txt"], "--out", o,
                      "--objective", "roberta", "--config", "kantaibert", "--hidden-size", "16",
                      "--num-hidden-layers", "1", "--num-attention-heads", "2",
                      "--intermediate-size", "24", "--vocab-size", "tokenizer",
                      "--block-size", "32", "--batch-size", "8", "--max-examples", "8",
                      "--no-progress"],
        lambda w: w["tok"], other="finetune", again=["--resume"]),
    "prepare-data": Command(
        lambda w, o: ["prepare-data", "--tokenizer", w["tok"], "--out", o, "--workers", "1",
                      "--no-progress", w["text.txt"]],
        lambda w: w["tok"], other="train-tokenizer"),
    "train-tokenizer": Command(
        lambda w, o: ["train-tokenizer", "--type", "wordpiece", "--vocab-size", "60",
                      "--min-frequency", "1", w["text.txt"], "--out", o],
        lambda w: w["text.txt"], other="finetune"),
    "lesson": Command(_lesson, lambda w: w["data"], other="pretrain"),
    "predict": Command(
        lambda w, o: ["predict", w["cls"], "--csv", w["predict.csv"], "--out", o],
        lambda w: w["predict.csv"], other="finetune", single_file=True),
    "explain": Command(
        lambda w, o: ["explain", w["cls"], "the cat sat on the mat .", "--out", o],
        lambda w: str(Path(w["cls"]) / "page.html"), other="finetune", single_file=True),
}

# kind -> (exit code, text the error line holds, exit code with --overwrite or None)
FOLDER_KINDS = {
    "new": (0, None, None),
    "empty": (0, None, None),
    "own-run": (0, None, None),
    "other-command": (2, "holds the output of", 0),
    "user-files": (2, "did not write", 0),
    "input": (2, "the input", 2),
    "file": (2, "is a file", 2),
    "parent-dotfiles": (0, None, None),
}
FILE_KINDS = {
    "new": (0, None, None),
    "empty": (2, "is a folder", 2),
    "own-run": (2, "the file exists", 0),
    "other-command": (2, "holds the output of", 0),
    "user-files": (2, "the file exists", 0),
    "input": (2, "the input", 2),
    "file": (2, "that is a file", 2),
    "parent-dotfiles": (0, None, None),
}
CELLS = [(c, k) for c, cmd in COMMANDS.items()
         for k in (FILE_KINDS if cmd.single_file else FOLDER_KINDS)]


def run(argv: list[str]) -> int:
    """`minibert ...` in-process; a lesson's output folder as `python examples/05_... --out`
    sets it up: `_course.out_dir` claims it, the lesson writes a figure, the claim ends."""
    if argv[0] != "lesson":
        return main(argv)
    sys.path.insert(0, str(REPO / "examples"))
    old_argv = sys.argv
    try:
        import _course

        from train.outdir import release_output_dir
        from train.plots import save_figure

        sys.argv = [f"{argv[1]}.py", *argv[2:]]
        try:
            out = _course.out_dir(argv[1])
        except SystemExit as e:
            print(e.code, file=sys.stderr)
            return 2
        import matplotlib.pyplot as plt

        save_figure(plt.figure(figsize=(1, 1)), out / "nsp_lengths.png")
        release_output_dir(out)
        return 0
    finally:
        sys.argv = old_argv
        sys.path.remove(str(REPO / "examples"))


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry under `root`: relative path -> the file's bytes (None for a folder)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The shared inputs, and one reference run of each command into a new folder: the
    names it writes there are its own names; the folders stand in for another command's."""
    threads = torch.get_num_threads()  # finetune --threads 1 and the lessons set it
    root = tmp_path_factory.mktemp("inputs")
    w = {"mlm": str(save_tiny(root / "mlm", "mlm")),
         "cls": str(save_tiny(root / "cls", "classifier")), "data": str(root / "data")}
    (root / "data").mkdir()
    (root / "data" / "kant.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    rows = [f"{s},{i % 2}" for i, s in enumerate(SENTENCES * 2)]
    for name, text in {"train.csv": "text,label\n" + "\n".join(rows) + "\n",
                       "predict.csv": "id,text\n" + "\n".join(
                           f"{i},{s}" for i, s in enumerate(SENTENCES)) + "\n",
                       "text.txt": "\n".join(SENTENCES) + "\n"}.items():
        (root / name).write_text(text, encoding="utf-8")
        w[name] = str(root / name)
    w["tok"] = str(root / "tok")
    assert main(COMMANDS["train-tokenizer"].argv(w, w["tok"])) == 0
    refs = tmp_path_factory.mktemp("references")
    own = {}
    for name, cmd in COMMANDS.items():
        out = refs / name / ("out.html" if cmd.single_file else "out")
        (refs / name).mkdir()
        assert run(cmd.argv(w, str(out))) == 0, name
        own[name] = ({out.name} if cmd.single_file else set(snapshot(out)))
        w[f"ref:{name}"] = str(out)
    yield {"w": w, "root": root, "own": own}
    torch.set_num_threads(threads)


def make_out(kind: str, name: str, cmd: Command, w: dict, root: Path, inputs: Path) -> Path:
    """Build the situation of `kind` under `root`; return the --out to give."""
    out = root / ("out.csv" if cmd.single_file else "out")
    if kind == "empty":
        out.mkdir()
    elif kind == "own-run":
        assert run(cmd.argv(w, str(out))) == 0
    elif kind == "other-command":
        shutil.copytree(w[f"ref:{cmd.other}"], root / "theirs")
        out = root / "theirs" / out.name if cmd.single_file else root / "theirs"
    elif kind == "user-files":
        for rel, data in USER_FILES.items():
            (root / "mine" / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / "mine" / rel).write_bytes(data)
        out = root / "mine" / "notes.txt" if cmd.single_file else root / "mine"
    elif kind == "input":
        out = Path(cmd.input(w))
    elif kind == "file":
        (root / "a_file").write_bytes(b"a user's file\n")
        out = root / "a_file" / out.name if cmd.single_file else root / "a_file"
    elif kind == "parent-dotfiles":
        for dot in (f".{out.name}.a1b2c3d4.tmp", f".{out.name}.20240101.tmp",
                    ".thesis.20240101.tmp", f"{TMP_PREFIX}mine"):
            (root / dot).write_bytes(b"the user's\n")
    return out


def check_kept(before: dict, after: dict, out_rel: str | None, own: set[str]) -> None:
    """Every file there before is there byte for byte, unless it carries one of the names the
    command writes inside --out (`own`)."""
    for rel, data in before.items():
        inside = out_rel is not None and (rel == out_rel or rel.startswith(out_rel + "/"))
        mine = inside and Path(rel).relative_to(out_rel).as_posix() in own
        if not mine:
            assert after.get(rel, "missing") == data, f"{rel} was changed or removed"


@pytest.mark.parametrize("name, kind", CELLS, ids=[f"{c}-{k}" for c, k in CELLS])
def test_no_user_file_is_lost(world, name, kind, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINIBERT_DATA", world["w"]["data"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cmd, w = COMMANDS[name], world["w"]
    own = world["own"][name] if not cmd.single_file else {"."}
    code, text, code_overwrite = (FILE_KINDS if cmd.single_file else FOLDER_KINDS)[kind]
    out = make_out(kind, name, cmd, w, tmp_path, world["root"])
    argv = cmd.argv(w, str(out)) + (cmd.again if kind == "own-run" else [])
    capsys.readouterr()
    for attempt, expected in [([], code), (["--overwrite"], code_overwrite)]:
        if expected is None:
            break
        before, inputs = snapshot(tmp_path), snapshot(world["root"])
        rc = run(argv + attempt)
        err = capsys.readouterr().err
        after = snapshot(tmp_path)
        assert rc == expected, f"{name} {kind} {attempt}: exit {rc}\n{err}"
        assert snapshot(world["root"]) == inputs, "an input changed"
        rel = str(out.relative_to(tmp_path)) if out.is_relative_to(tmp_path) else None
        if rc == 0:
            check_kept(before, after, rel, own)
            assert out.is_file() if cmd.single_file else \
                read_marker(out)["command"] == ("lesson 05_nsp" if name == "lesson" else name)
        else:
            assert after == before, f"a refusal left a trace: {set(after) ^ set(before)}"
            line = err.strip().splitlines()[-1]
            assert line.startswith("minibert: error:") and text in line, err
            assert str(out) in line, line
            if kind == "input":
                assert cmd.input(w).split("/page.html")[0] in line.split(" the input ")[1]
        leftovers = [p for p in [*tmp_path.rglob("*"), *world["root"].rglob("*")]
                     if p.name.startswith(TMP_PREFIX) or p.name == LOCK_FILE]
        assert not [p for p in leftovers if p.name != f"{TMP_PREFIX}mine"], leftovers


def test_the_matrix_covers_every_writing_command():
    """A new command that writes must join the matrix: every cmd_*.py that claims an output
    folder or checks an output file is listed, with all eight kinds."""
    import importlib

    from train.cli import COMMANDS as CLI

    writing = {n for n, (module, _) in CLI.items()
               if any(hasattr(importlib.import_module(module), f)
                      for f in ("output_dirs", "output_files"))}
    assert writing == set(COMMANDS) - {"lesson"}
    assert len(CELLS) == 8 * len(COMMANDS)
    assert OWNER_FILE not in USER_FILES
