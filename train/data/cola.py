"""Reading CoLA, the Corpus of Linguistic Acceptability (Warstadt, Singh & Bowman 2018).

The raw v1.1 release is three tab-separated files with no header and four columns:
source code, label (1 = acceptable, 0 = not), the original author's annotation (`*`, `?*`,
... or empty) and the sentence. Sentences contain quotes that are text, not CSV quoting, so
the files are read with `QUOTE_NONE` (as the McCormick tutorial does with pandas). Anything
else (a wrong field count, a label other than 0/1) is an error naming the file and line,
because a silently skipped row changes every score computed on the dev sets; so is a file
that is not UTF-8 (the line and byte of the first bad one, as `tokenizer/corpus.py` words it).
A byte-order mark at the start is dropped, as everywhere text is read.
Left out on purpose: the NLTK-tokenized copies of the corpus and the GLUE test set (no labels).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from tokenizer.corpus import check_utf8

SPLITS = ("in_domain_train", "in_domain_dev", "out_of_domain_dev")
LABELS = ("unacceptable", "acceptable")  # index = label id, as in GLUE


class DataError(ValueError):
    """A data file is not in the expected format; the message names the file and line."""


@dataclass(frozen=True)
class ColaExample:
    source: str
    label: int
    annotation: str
    sentence: str


def read_cola_tsv(path: str | os.PathLike) -> list[ColaExample]:
    """All rows of one raw CoLA file, in file order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CoLA file not found: {path}")
    try:
        examples = _read_rows(path)
    except UnicodeDecodeError:
        check_utf8(path)  # the one reader's CorpusError, naming the line and byte
        raise
    if not examples:
        raise DataError(f"{path}: no rows")
    return examples


def _read_rows(path: Path) -> list[ColaExample]:
    examples = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            line = reader.line_num
            if not row or row == [""]:
                continue  # a blank line (e.g. a trailing one) carries no example
            if len(row) != 4:
                raise DataError(f"{path}:{line}: expected 4 tab-separated fields "
                                f"(source, label, annotation, sentence), got {len(row)}: {row!r}")
            source, label, annotation, sentence = row
            if label not in ("0", "1"):
                raise DataError(f"{path}:{line}: label must be 0 or 1, got {label!r}")
            examples.append(ColaExample(source, int(label), annotation, sentence))
    return examples


def cola_split(root: str | os.PathLike, split: str) -> list[ColaExample]:
    """Read `split` (one of SPLITS) from `root`, which holds the three `.tsv` files either
    directly or in a `cola/` or `raw/` subfolder (the layouts of our data folder and of the
    official zip)."""
    if split not in SPLITS:
        raise ValueError(f"unknown CoLA split {split!r}; expected one of {SPLITS}")
    return read_cola_tsv(find_cola_dir(root) / f"{split}.tsv")


def find_cola_dir(root: str | os.PathLike) -> Path:
    root = Path(root)
    for candidate in (root, root / "cola", root / "raw", root / "cola_public" / "raw"):
        if (candidate / "in_domain_train.tsv").is_file():
            return candidate
    raise FileNotFoundError(f"no CoLA files (in_domain_train.tsv) under {root}, {root}/cola "
                            f"or {root}/raw")
