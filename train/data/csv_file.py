"""Reading your own text-classification data from a CSV or TSV file with a header row.

You name the text column (or several, joined with a space, e.g. `keyword,text`), optionally a
second-sentence column for pair tasks, and the label column. Labels may be any strings
("spam"/"ham", "0"/"1"); they are mapped to ids 0..K-1 in sorted order (numbers numerically),
and the map travels with the model as `id2label`/`label2id` in its config.json, so
`predict` prints the names you used. A file without the label column (a Kaggle `test.csv`)
reads fine for prediction. The parser is Python's `csv` with `newline=""`, which handles CRLF,
quoted fields with embedded newlines and commas, and a UTF-8 byte-order mark; the disaster
tweets file has all of these. Text is kept exactly as written (its mojibake included): fixing
encodings is a preprocessing choice we leave to the user.

Ambiguity is refused, not resolved: a header that names a column we read twice (which one
would be used?), and one column named for two roles (`--text-col target --label-col target`
would put the answer into the text).
Labels that would silently give a wrong model are refused with the file and line: a blank
label, a `NaN` or infinite number. Numeric labels are normalised, so `1`, `1.0` and `01` are
one class named "1", not three. `check_classes` refuses training data with a single class.
A file that is not UTF-8 (the line and byte, as `tokenizer/corpus.py` words it), or a field
over the csv module's limit (usually an unclosed quote that swallowed the rest of the file), is
an error naming the line.
Left out on purpose: multi-label targets, regression, pandas.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from tokenizer.corpus import check_utf8
from train.data.cola import DataError


@dataclass
class TextDataset:
    texts: list[str]
    labels: list[int] | None = None       # None for files without the label column
    pairs: list[str] | None = None        # second sentences, when a pair column is named
    ids: list[str] = field(default_factory=list)  # the id column, else row numbers from 0
    label2id: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def id2label(self) -> dict[int, str]:
        return {i: name for name, i in self.label2id.items()}


def _columns(spec: str | list[str] | None) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, str):
        return [c.strip() for c in spec.split(",") if c.strip()]
    return list(spec)


def distinct_columns(roles: dict[str, str | list[str] | None]) -> None:
    """Refuse one column named for two roles, e.g. {"--text-col": "target", "--label-col":
    "target"}: the label would be read as text too. Keys name the roles in the message."""
    owner: dict[str, str] = {}
    for role, spec in roles.items():
        for col in _columns(spec):
            if col in owner and owner[col] != role:
                raise ValueError(f"{owner[col]} and {role} both name column {col!r}; a column "
                                 f"can play one part only")
            owner[col] = role


def _label_sort_key(name: str):
    # "2" < "10" as numbers; non-numeric names sort after numbers, alphabetically
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def normalise_label(value: str) -> str:
    """One spelling per number ("1.0" and "01" -> "1", "2.50" -> "2.5"); text unchanged.
    Raises ValueError for NaN and infinities, which are not classes."""
    try:
        number = float(value)
    except ValueError:
        return value
    if not math.isfinite(number):
        raise ValueError(f"label {value!r} is not a class (not a finite number)")
    return str(int(number)) if number.is_integer() else repr(number)


def check_classes(ds: TextDataset, path, label_col: str) -> None:
    """Training needs at least two classes; one would train to a constant answer."""
    if len(ds.label2id) < 2:
        only = next(iter(ds.label2id), None)
        raise DataError(f"{path}: every label in column {label_col!r} is {only!r}; training "
                        f"needs at least two classes")


def make_label2id(names) -> dict[str, int]:
    return {name: i for i, name in enumerate(sorted(set(names), key=_label_sort_key))}


def read_text_dataset(path: str | os.PathLike, text_col: str | list[str] = "text",
                      label_col: str | None = "label", pair_col: str | None = None,
                      id_col: str | None = "id", label2id: dict[str, int] | None = None,
                      delimiter: str | None = None, require_labels: bool = True,
                      require_id: bool = False) -> TextDataset:
    """Read `path`. The delimiter is a tab for `.tsv`/`.tab` files and a comma otherwise,
    unless given. With `label2id` (from a trained model) every label must already be in it.
    With `require_labels=False` a missing label column gives `labels=None` (prediction); with
    `require_id=False` a missing id column gives row numbers."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    text_cols = _columns(text_col)
    if not text_cols:
        raise ValueError(f"text column {text_col!r}: name at least one text column")
    distinct_columns({"the text column": text_cols, "the label column": label_col,
                      "the pair column": pair_col})
    try:
        return _read(path, delimiter, text_cols, label_col, pair_col, id_col, label2id,
                     require_labels, require_id)
    except UnicodeDecodeError:
        check_utf8(path)  # the one reader's CorpusError, naming the line and byte
        raise


def _read(path: Path, delimiter: str, text_cols: list[str], label_col, pair_col, id_col,
          label2id, require_labels, require_id) -> TextDataset:
    if label2id is not None:  # a model's map: its numeric names are normalised as rows are
        label2id = {normalise_label(k): v for k, v in label2id.items()}
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: the file is empty; expected a header row")
        header = [h.strip() for h in header]
        where = {name: i for i, name in enumerate(header)}
        for col in text_cols + _columns(pair_col) + _columns(label_col) + _columns(id_col):
            if header.count(col) > 1:
                raise DataError(f"{path}:1: the header names column {col!r} "
                                f"{header.count(col)} times; rename the copies so it is clear "
                                f"which one to read")
        for col in text_cols + _columns(pair_col):
            if col not in where:
                raise DataError(f"{path}:1: no column {col!r}; the header has {header}")
        has_labels = label_col is not None and label_col in where
        if label_col is not None and not has_labels and require_labels:
            raise DataError(f"{path}:1: no label column {label_col!r}; the header has {header}")
        use_ids = id_col is not None and id_col in where
        if require_id and not use_ids:
            raise DataError(f"{path}:1: no id column {id_col!r}; the header has {header}")
        texts, pairs, raw_labels, ids = [], [], [], []
        start = reader.line_num + 1
        rows = iter(reader)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error as e:
                raise _csv_error(path, start, e) from None
            if row == []:
                start = reader.line_num + 1
                continue  # a blank line between records
            if len(row) != len(header):
                raise DataError(f"{path}:{start}: expected {len(header)} fields {header}, "
                                f"got {len(row)}: {row!r}")
            texts.append(" ".join(row[where[c]] for c in text_cols if row[where[c]]))
            if pair_col is not None:
                pairs.append(row[where[pair_col]])
            if has_labels:
                value = row[where[label_col]].strip()
                if not value:
                    raise DataError(f"{path}:{start}: empty label in column {label_col!r}")
                try:
                    value = normalise_label(value)
                except ValueError as e:
                    raise DataError(f"{path}:{start}: {e} in column {label_col!r}") from None
                if label2id is not None and value not in label2id:
                    raise DataError(f"{path}:{start}: label {value!r} is not one the model "
                                    f"knows ({sorted(label2id)})")
                raw_labels.append(value)
            ids.append(row[where[id_col]] if use_ids else str(len(ids)))
            start = reader.line_num + 1
    if not texts:
        raise DataError(f"{path}: no data rows after the header")
    if has_labels and label2id is None:
        label2id = make_label2id(raw_labels)
    labels = [label2id[v] for v in raw_labels] if has_labels else None
    return TextDataset(texts=texts, labels=labels, pairs=pairs if pair_col else None,
                       ids=ids, label2id=dict(label2id or {}))


def _csv_error(path: Path, line: int, error: csv.Error) -> DataError:
    """The csv module's error, with the line its record starts on and a likely cause."""
    hint = ("; often a quote (\") that is never closed, so the rest of the file became one "
            "field") if "field larger" in str(error) else ""
    return DataError(f"{path}:{line}: {error}{hint}")
