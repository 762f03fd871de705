"""The code's prose speaks of the code, not of how it was built.

No file of the packages (`minibert/`, `tokenizer/`, `train/`), the course (`examples/`), the
scripts or the README names an issue ("issue 12", "Issue #12", "issue 11's", "see #12",
"(#12)", "PR #7", "gh-12"), and none carries a date (YYYY-MM-DD): measurements, with their
machine and date, live in bench/RESULTS.md, which the prose links to. The detectors are
checked on planted strings first, so that a clean tree means something.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ["minibert", "tokenizer", "train", "examples", "scripts"]
FILES = ["README.md"]
TEXT_SUFFIXES = {".py", ".md", ".sh", ".txt", ".toml", ".json", ".cfg", ".ini"}

# "issue 12", "issues 3 and 4", "issue #12", "Issue 11's"; "bug 7", "ticket 7", "PR 7"
_NAMED = r"\b(?:issues?|bugs?|tickets?|prs?|pull requests?)\s*#?\s*\d+"
# "#12" after a word that introduces a reference, or in parentheses: "see #12", "(#12)"
_HASH = (r"(?:\(\s*|\b(?:see|in|from|per|for|after|since|cf\.?|fix(?:es|ed)?|close[sd]?"
         r"|resolve[sd]?|ref(?:s|erences?)?)\s+)#\d+\b")
# "#12" opening a comment or a line ("# #12: ..."), or in brackets: "[#12]"
_BARE = r"(?:^[ \t]*(?:#+[ \t]*)?|\[)#\d+\b"
ISSUE = re.compile(rf"{_NAMED}|{_HASH}|{_BARE}|\bgh-\d+\b", re.IGNORECASE | re.MULTILINE)
DATE = re.compile(r"\b(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b")


def issue_mentions(text: str) -> list[str]:
    return [m.group(0) for m in ISSUE.finditer(text)]


def dates(text: str) -> list[str]:
    return [m.group(0) for m in DATE.finditer(text)]


def _files() -> list[Path]:
    found = [REPO / name for name in FILES]
    for folder in FOLDERS:
        found += [p for p in sorted((REPO / folder).rglob("*"))
                  if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts]
    return found


def _hits(pattern: re.Pattern) -> list[str]:
    """file:line: match, for every match of `pattern` in the scanned files (a match may span
    a line break, as prose wrapped at 100 columns does)."""
    hits = []
    for path in _files():
        text = path.read_text(encoding="utf-8")
        hits += [f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: "
                 f"{m.group(0)!r}" for m in pattern.finditer(text)]
    return hits


@pytest.mark.parametrize("text", [
    "# see issue 12", "Issue #12 asked for it", "as issues 3 and 4 found", "(issue 11's study)",
    "ISSUE12", "fixed in #31", "a faster path (#7)", "see #4", "PR #9", "bug 3", "gh-120",
    "Follows issue\n12", "wrapped issue\n# 12", "# #12: the fast path", "#3 asked", "[#5]"])
def test_the_detector_finds_issue_numbers(text):
    assert issue_mentions(text), text


@pytest.mark.parametrize("text", [
    "# random head #0: P(acceptable) = 0.491", "sampled #1 : Forest fire", "color: #222;",
    "background: #3b7dd8", "the issue is padding", "file an issue", "cls A sep B sep",
    "layer 12", "a bug in minibert", "step 12 of 40"])
def test_the_detector_leaves_other_numbers_alone(text):
    assert not issue_mentions(text), text


def test_the_date_detector():
    assert dates("measured 2026-12-02 on two cores") == ["2026-12-02"]
    assert not dates("seeds 1-5, 2026 tokens, v2.13.0, 12-02, sha 2026-13-45")


def test_every_scanned_folder_is_there():
    files = _files()
    for folder in FOLDERS:
        assert any(p.is_relative_to(REPO / folder) for p in files), folder
    assert len(files) > 50


def test_no_file_names_an_issue():
    assert _hits(ISSUE) == [], "build history belongs in the tracker, not the code"


def test_no_file_carries_a_date():
    assert _hits(DATE) == [], "measurements with their dates go to bench/RESULTS.md"
