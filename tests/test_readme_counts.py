"""The README's reading path states true line counts: the sentence 'the whole encoder is N
lines: a.py n1, b.py n2, ...' must match `wc -l` of minibert/a.py, ... and N their sum."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_readme_line_counts_are_true():
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    found = re.search(r"the whole encoder is (\d+) lines: ((?:\w+\.py \d+(?:, |;))+)", text)
    assert found, "README: the sentence 'the whole encoder is N lines: file.py n, ...' is missing"
    stated = {name: int(n) for name, n in re.findall(r"(\w+\.py) (\d+)", found.group(2))}
    assert len(stated) >= 4, stated
    actual = {name: len((REPO / "minibert" / name).read_text(encoding="utf-8").splitlines())
              for name in stated}
    assert stated == actual, f"README line counts {stated} != wc -l {actual}; update README.md"
    assert int(found.group(1)) == sum(actual.values()), \
        f"README total {found.group(1)} != {sum(actual.values())}; update README.md"
